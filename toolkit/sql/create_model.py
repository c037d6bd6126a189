"""CREATE [OR REPLACE] MODEL name [TRANSFORM(…)] OPTIONS(…) AS query: the parts a model node needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from toolkit.errors import ProjectError
from toolkit.sql.dialect import DIALECT
from toolkit.sql.literals import NotConstant, constant


@dataclass(frozen=True)
class HparamRange:
    """OPTIONS(<hyperparameter> = HPARAM_RANGE(min, max)): a continuous search space for hyperparameter tuning."""

    low: Any
    high: Any


@dataclass(frozen=True)
class HparamCandidates:
    """OPTIONS(<hyperparameter> = HPARAM_CANDIDATES([…])): a discrete search space for hyperparameter tuning."""

    values: tuple[Any, ...]


@dataclass(frozen=True)
class CreateModel:
    name: str  # the model's own name, as written (unqualified)
    options: dict[str, Any]  # option name (lower case) → plain Python value
    transform: tuple[str, ...]  # TRANSFORM's select list as DuckDB SQL, empty when absent
    query: str  # the AS query as DuckDB SQL
    if_not_exists: bool


def is_create_model(expression: exp.Expression) -> bool:
    return isinstance(expression, exp.Create) and str(expression.args.get("kind", "")).upper() == "MODEL"


def read_create_model(statement: exp.Create) -> CreateModel:
    """The statement's name, options, TRANSFORM list and query."""
    table = statement.this
    query = statement.expression
    properties = statement.args.get("properties")
    items = properties.expressions if properties else []
    if any(isinstance(prop, exp.RemoteWithConnectionModelProperty) for prop in items):
        raise ProjectError("remote models (CREATE MODEL … REMOTE WITH CONNECTION) call Vertex AI or Cloud AI "
                           "endpoints, which a local warehouse cannot reach",
                           hint="train one of the local model types here, and deploy the project to BigQuery "
                                "(toolkit compile --target bigquery) for remote models")
    imported = _imported_model_type(items)
    if imported is not None:
        raise ProjectError(f"imported models (MODEL_TYPE = '{imported}' with MODEL_PATH) are not supported: the "
                           "toolkit trains its models from a query",
                           hint="write CREATE MODEL m OPTIONS(model_type = 'linear_reg', …) AS SELECT …")
    if query is None:
        raise ProjectError("CREATE MODEL needs AS followed by the training query", hint="CREATE MODEL m OPTIONS(…) AS SELECT …")
    if isinstance(query, exp.Subquery):
        query = query.this
    options: dict[str, Any] = {}
    transform: tuple[str, ...] = ()
    for prop in items:
        if isinstance(prop, exp.TransformModelProperty):
            transform = tuple(e.sql(dialect=DIALECT) for e in prop.expressions)
        elif isinstance(prop, exp.Property):
            key = prop.name.lower()
            if key in options:
                raise ProjectError(f"option {key.upper()} is given twice in OPTIONS(…)", hint="keep one of them")
            options[key] = option_value(prop.args["value"], key)
        else:
            raise ProjectError(
                f"CREATE MODEL does not take {prop.sql(dialect=DIALECT)!r}",
                hint="write CREATE [OR REPLACE] MODEL name [TRANSFORM(…)] OPTIONS(…) AS SELECT …",
            )
    return CreateModel(
        name=table.name,
        options=options,
        transform=transform,
        query=query.sql(dialect=DIALECT),
        if_not_exists=bool(statement.args.get("exists")),
    )


# BigQuery ML's imported model types: a model file given by MODEL_PATH instead of trained from a query.
IMPORTED_MODEL_TYPES = ("TENSORFLOW", "TENSORFLOW_LITE", "ONNX", "XGBOOST")


def _imported_model_type(items: list[exp.Expression]) -> str | None:
    keys = {prop.name.lower(): prop.args.get("value") for prop in items if isinstance(prop, exp.Property)}
    model_type = keys.get("model_type")
    name = model_type.name.upper() if isinstance(model_type, (exp.Literal, exp.Var)) else None
    return name if name in IMPORTED_MODEL_TYPES or (name and "model_path" in keys) else None


def option_value(node: exp.Expression, key: str) -> Any:
    """An OPTIONS value as Python: strings, numbers, booleans, NULL, arrays, and STRUCT('a', 0.2) as a tuple."""
    if isinstance(node, (exp.Var, exp.Column)) and not node.args.get("table"):
        raise ProjectError(
            f"OPTIONS({key.upper()} = {node.name}): {node.name} is a name, not a string",
            hint=f"write {key.upper()} = '{node.name}' in single quotes; double quotes are strings only in "
                 "BigQuery's dialect ([tool.toolkit].dialect = \"bigquery\" or {{ config(dialect='bigquery') }})")
    try:
        if isinstance(node, exp.Anonymous) and str(node.this).upper() in SEARCH_SPACES:
            return _search_space(node, key)
        return constant(node)
    except NotConstant:
        raise ProjectError(
            f"OPTIONS({key.upper()} = {node.sql(dialect=DIALECT)}): only literals, arrays and STRUCTs are accepted",
            hint="write strings in quotes, numbers, TRUE/FALSE, ['a', 'b'] or [STRUCT('a', 0.2)]",
        ) from None


SEARCH_SPACES = ("HPARAM_RANGE", "HPARAM_CANDIDATES")


def _search_space(node: exp.Anonymous, key: str) -> HparamRange | HparamCandidates:
    """HPARAM_RANGE(min, max) or HPARAM_CANDIDATES([…]), as written (checked against the option later).
    https://cloud.google.com/bigquery/docs/hp-tuning-overview (Set hyperparameters)."""
    args = [constant(arg) for arg in node.expressions]
    if str(node.this).upper() == "HPARAM_RANGE":
        if len(args) != 2:
            raise ProjectError(f"OPTIONS({key.upper()} = HPARAM_RANGE(…)) takes two numbers, min and max",
                               hint=f"write {key.upper()} = HPARAM_RANGE(0.0, 1.0)")
        return HparamRange(*args)
    if len(args) != 1 or not isinstance(args[0], list) or not args[0]:
        raise ProjectError(f"OPTIONS({key.upper()} = HPARAM_CANDIDATES(…)) takes one non-empty array of candidates",
                           hint=f"write {key.upper()} = HPARAM_CANDIDATES([a, b, …])")
    # HIDDEN_UNITS' candidates are arrays written STRUCT([16, 8]): a one-field STRUCT stands for its value
    return HparamCandidates(tuple(v[0] if isinstance(v, tuple) and len(v) == 1 else v for v in args[0]))
