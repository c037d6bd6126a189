"""BigQuery ML's functions in SQL.

- Table functions, `ML.PREDICT(MODEL m, (query) | TABLE t, STRUCT(0.6 AS threshold))` and co: the parser reads
  each call as an `MLFunction` node of its own (`toolkit.sql.ml_nodes`, registered in the dialect's
  FUNCTION_PARSERS); `ml_calls` lists the calls of a statement, innermost first, in the plain terms the ML layer
  needs.
- Preprocessing functions, `ML.BUCKETIZE(x, [1, 2])`, `ML.STANDARD_SCALER(x) OVER ()` and co: each call is an
  `MLPreprocess` node (the analytic ones inside an `exp.Window`), generated back as `ML.NAME(…)`; what they compute
  lives in `toolkit.sql.preprocessing`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from toolkit.errors import ProjectError
from toolkit.sql.literals import NotConstant, constant
from toolkit.sql.ml_nodes import MLFunction


@dataclass(frozen=True)
class MLCall:
    """One ML.* call found in a statement."""

    node: exp.Table  # the FROM item holding the call, to be replaced by its result
    function: str  # e.g. 'PREDICT'
    model: str | None  # the model's name, unqualified; None for a data function (ML.DESCRIBE_DATA)
    input: exp.Expression | None  # the (query) or table
    inputs: tuple[exp.Expression, ...]  # a data function's further inputs: ML.VALIDATE_DATA_DRIFT's study table
    settings: dict[str, Any]


@dataclass(frozen=True)
class ScalarSubquery:
    """A STRUCT setting written as a scalar subquery, e.g. STRUCT((SELECT threshold FROM …) AS threshold): the
    toolkit runs it once, before the call, and passes its one value on (toolkit.ml.functions.apply)."""

    query: exp.Subquery


@dataclass
class Applied:
    """A statement with its ML.* calls replaced by registered relations (toolkit.ml.functions.apply)."""

    sql: str
    models: list[tuple[str, int, str]] = field(default_factory=list)  # (model, version, function) used
    results: list[tuple[str, Any]] = field(default_factory=list)  # (function, its Arrow rows) of each data function


def ml_calls(statement: exp.Expression) -> list[MLCall]:
    """Every ML.* call of the statement, innermost first (an input query may itself hold calls)."""
    calls = []
    for function in statement.find_all(MLFunction):
        holder = function.parent if isinstance(function.parent, exp.Table) else function
        calls.append((function.depth, holder, function))
    calls.sort(key=lambda item: -item[0])
    return [
        MLCall(
            node=holder,
            function=function.name.upper(),
            model=function.args["model"].name if function.args.get("model") else None,
            input=function.args.get("input"),
            inputs=tuple(function.args.get("inputs") or ()),
            settings=_settings(function),
        )
        for _, holder, function in calls
    ]


def model_names(statement: exp.Expression) -> list[str]:
    """The models a statement's ML.* calls name, in order of appearance."""
    return list(dict.fromkeys(function.args["model"].name for function in statement.find_all(MLFunction)
                              if function.args.get("model")))


def data_calls(statement: exp.Expression) -> list[str]:
    """The data functions (ML.DESCRIBE_DATA: no model) a statement calls, in order of appearance."""
    return list(dict.fromkeys(function.name.upper() for function in statement.find_all(MLFunction)
                              if not function.args.get("model")))


def _array_argument(array: exp.Expression, call: str, name: str) -> Any:
    """ML.ROC_CURVE's thresholds given as an array, BigQuery's form; the other functions take none."""
    if name != "ROC_CURVE":
        raise ProjectError(f"{call}: only ML.ROC_CURVE takes an array argument (its thresholds)",
                           hint="give settings as a STRUCT, e.g. STRUCT(0.6 AS threshold)")
    try:
        return constant(array)
    except NotConstant:
        raise ProjectError(f"{call}: its thresholds must be constant, e.g. GENERATE_ARRAY(0.1, 0.9, 0.1) or "
                           f"[0.25, 0.5, 0.75], not {array.sql()}", hint="write the thresholds themselves") from None


def _settings(function: MLFunction) -> dict[str, Any]:
    """The STRUCT(… AS name) settings of a call, as Python constants by lower-cased name (checked against the
    function's own settings later, by the ML layer)."""
    struct, array = function.args.get("settings"), function.args.get("array")
    model = function.args["model"].name if function.args.get("model") else None
    call = f"ML.{function.name.upper()}(MODEL {model}, …)" if model else f"ML.{function.name.upper()}(…)"
    if array is not None:
        return {"thresholds": _array_argument(array, call, function.name.upper())}
    if struct is None:
        return {}
    if not isinstance(struct, exp.Struct):
        raise ProjectError(f"{call}: its settings must be a STRUCT, e.g. STRUCT(0.6 AS threshold)",
                           hint=f"the settings come last: ML.{function.name.upper()}("
                                + (f"MODEL {model}, " if model else "") + "TABLE t, STRUCT(… AS name))")
    settings = {}
    for item in struct.expressions:
        if isinstance(item, (exp.PropertyEQ, exp.Alias)) and (item.alias or item.this):
            key = item.alias if isinstance(item, exp.Alias) else item.this.name
            value = item.this if isinstance(item, exp.Alias) else item.expression
        else:
            raise ProjectError(f"{call}: setting {item.sql()} has no name",
                               hint="name each setting, e.g. STRUCT(0.6 AS threshold)")
        if key.lower() in settings:
            raise ProjectError(f"{call}: setting '{key}' is given twice in its STRUCT",
                               hint=f"keep one '{key}'")
        if isinstance(value, exp.Subquery):
            settings[key.lower()] = ScalarSubquery(value)
            continue
        try:
            settings[key.lower()] = constant(value)
        except NotConstant as error:
            shown = f"{value.sql()} {error.reason}" if error.reason else f"{value.sql()} is not a constant"
            raise ProjectError(f"{call}: setting '{key}' must be a constant value; {shown}",
                               hint=f"write the value itself, e.g. STRUCT(0.3 AS {key}): a number, a quoted "
                                    "string, TRUE/FALSE or an array of them") from None
    return settings
