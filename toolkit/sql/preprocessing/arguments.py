"""The arguments of a preprocessing call, bound to their names and checked: each function's signature is a tuple of
parameters; an input parameter keeps its expression, a setting must be a constant and is read into a Python value.
Arguments are positional, in BigQuery's order, or named (`top_k => 10`) after the positional ones."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from toolkit.errors import ProjectError, did_you_mean
from toolkit.sql.dialect import DIALECT
from toolkit.sql.literals import NotConstant, constant
from toolkit.sql.ml_nodes import MLPreprocess

BUCKET_FORMATS = ("bucket_names", "bucket_ranges", "bucket_ranges_json")
_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    read: Callable[[exp.Expression], Any] | None = None  # None: an input, kept as an expression
    default: Any = _REQUIRED


class ArgumentError(ValueError):
    """A setting that is not what its parameter takes; the message completes 'ML.F(…): <name> <message>'."""


@dataclass(frozen=True)
class Field:
    """One field of a STRUCT argument: its name and its expression."""

    name: str
    value: exp.Expression


def call_sql(call: exp.Expression) -> str:
    return call.sql(dialect=DIALECT)


def bind(call: MLPreprocess) -> dict[str, Any]:
    """The call's arguments by parameter name, defaults filled in, settings read and checked."""
    name = call.name.upper()
    params = SIGNATURES[name]
    by_name = {p.name: p for p in params}
    given: dict[str, exp.Expression] = {}
    named = False
    for position, argument in enumerate(call.expressions):
        if isinstance(argument, (exp.Kwarg, exp.PropertyEQ)):
            named = True
            key = argument.this.name.lower()
            if key not in by_name:
                raise _error(call, f"has no argument {key!r}{did_you_mean(key, by_name)}",
                             "arguments: " + ", ".join(p.name for p in params))
            if key in given:
                raise _error(call, f"gets {key} twice", "give each argument once")
            given[key] = argument.expression
        elif named:
            raise _error(call, "has a positional argument after a named one", "put the named arguments last")
        elif position >= len(params):
            raise _error(call, f"takes at most {len(params)} arguments, got {len(call.expressions)}",
                         f"ML.{name}({', '.join(p.name for p in params)})")
        else:
            given[params[position].name] = argument
    bound: dict[str, Any] = {}
    for param in params:
        if param.name not in given:
            if param.default is _REQUIRED:
                raise _error(call, f"needs its argument {param.name}",
                             f"ML.{name}({', '.join(p.name for p in params)})")
            bound[param.name] = param.default
        elif param.read is None:
            bound[param.name] = given[param.name]
        else:
            try:
                bound[param.name] = param.read(given[param.name])
            except ArgumentError as error:
                raise _error(call, f"{param.name} {error}", _HINTS.get((name, param.name))) from None
    return bound


def _error(call: exp.Expression, message: str, hint: str | None = None) -> ProjectError:
    return ProjectError(f"{call_sql(call)}: {message}", hint=hint)


# --- readers of constant settings ------------------------------------------------------------------------------
def _constant(node: exp.Expression) -> Any:
    """A literal as Python: numbers, strings, booleans, NULL, arrays; CAST('inf' AS FLOAT64) and the like."""
    try:
        return constant(node)
    except NotConstant as error:
        text = error.node.sql(dialect=DIALECT)
        raise ArgumentError(f"{error.reason}: {text}" if error.reason else f"must be a constant, not {text}") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def integer(low: int, high: int | None = None) -> Callable[[exp.Expression], int]:
    def read(node: exp.Expression) -> int:
        value = _constant(node)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ArgumentError(f"must be an integer, not {node.sql(dialect=DIALECT)}")
        if value < low or (high is not None and value > high):
            allowed = f"at least {low}" if high is None else f"in [{low}, {high}]"
            raise ArgumentError(f"must be {allowed}, not {value}")
        return value

    return read


def boolean(node: exp.Expression) -> bool:
    value = _constant(node)
    if not isinstance(value, bool):
        raise ArgumentError(f"must be TRUE or FALSE, not {node.sql(dialect=DIALECT)}")
    return value


def string(node: exp.Expression) -> str:
    value = _constant(node)
    if not isinstance(value, str):
        raise ArgumentError(f"must be a string, not {node.sql(dialect=DIALECT)}")
    return value


def choice(*allowed: str) -> Callable[[exp.Expression], str]:
    def read(node: exp.Expression) -> str:
        value = _constant(node)
        if not isinstance(value, str) or value.lower() not in allowed:
            near = did_you_mean(value, allowed) if isinstance(value, str) else ""
            raise ArgumentError(f"must be one of {', '.join(repr(a) for a in allowed)}, not "
                                f"{node.sql(dialect=DIALECT)}{near}")
        return value.lower()

    return read


def split_points(node: exp.Expression) -> tuple[float, ...]:
    value = _constant(node)
    if not isinstance(value, list) or not all(_is_number(v) for v in value):
        raise ArgumentError(f"must be an array of numbers, e.g. [1, 2.5, 4], not {node.sql(dialect=DIALECT)}")
    if not all(math.isfinite(v) for v in value):
        raise ArgumentError("must be finite numbers (no -inf, inf or NaN)")
    if any(a >= b for a, b in zip(value, value[1:])):
        raise ArgumentError(f"must be sorted in ascending order without repeats, not {node.sql(dialect=DIALECT)}")
    return tuple(value)


def quantile_range(node: exp.Expression) -> tuple[int, int]:
    value = _constant(node)
    if not (isinstance(value, list) and len(value) == 2 and all(_is_number(v) for v in value)):
        raise ArgumentError(f"must be an array of two numbers, e.g. [25, 75], not {node.sql(dialect=DIALECT)}")
    low, high = value
    if not 0 < low < high < 100:
        raise ArgumentError(f"must be [low, high] with 0 < low < high < 100, not {node.sql(dialect=DIALECT)}")
    return low, high


def p_norm(node: exp.Expression) -> float:
    value = _constant(node)
    if isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "infinity", "+infinity"):
        value = math.inf
    if not _is_number(value) or not (value == 0 or value >= 1):
        raise ArgumentError(f"must be 0, a number >= 1 or CAST('+inf' AS FLOAT64), not {node.sql(dialect=DIALECT)}")
    return float(value)


def ngram_range(node: exp.Expression) -> tuple[int, int]:
    value = _constant(node)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and not isinstance(v, bool)
                                                                 for v in value)):
        raise ArgumentError(f"must be an integer or an array of two integers, not {node.sql(dialect=DIALECT)}")
    low, high = value
    if not 1 <= low <= high:
        raise ArgumentError(f"must be [low, high] with 1 <= low <= high, not {node.sql(dialect=DIALECT)}")
    return low, high


def struct(most: int, least: int) -> Callable[[exp.Expression], tuple[Field, ...]]:
    """A STRUCT(…) written in the call, its fields named (a column's name, or `expression AS name`), distinct."""

    def read(node: exp.Expression) -> tuple[Field, ...]:
        if not isinstance(node, exp.Struct):
            raise ArgumentError(f"must be written as STRUCT(a, b AS name, …), not {node.sql(dialect=DIALECT)}")
        fields = []
        for item in node.expressions:
            if isinstance(item, exp.PropertyEQ):
                fields.append(Field(item.this.name, item.expression))
            elif isinstance(item, exp.Alias):
                fields.append(Field(item.alias, item.this))
            elif isinstance(item, exp.Column):
                fields.append(Field(item.name, item))
            else:
                raise ArgumentError(f"has an unnamed field {item.sql(dialect=DIALECT)}: write `… AS name`")
        names = [f.name.casefold() for f in fields]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ArgumentError(f"names the field {duplicates[0]!r} twice")
        if not least <= len(fields) <= most:
            raise ArgumentError(f"must have {least} to {most} fields, not {len(fields)}")
        return tuple(fields)

    return read


_TOP_K = Param("top_k", integer(1, 999_999), 32_000)
_FREQUENCY = Param("frequency_threshold", integer(0), 5)
_FORMAT = Param("output_format", choice(*BUCKET_FORMATS), "bucket_names")

SIGNATURES: dict[str, tuple[Param, ...]] = {
    "BUCKETIZE": (Param("numerical_expression"), Param("array_split_points", split_points),
                  Param("exclude_boundaries", boolean, False), _FORMAT),
    "QUANTILE_BUCKETIZE": (Param("numerical_expression"), Param("num_buckets", integer(2)), _FORMAT),
    "HASH_BUCKETIZE": (Param("string_expression"), Param("hash_bucket_size", integer(0))),
    "FEATURE_CROSS": (Param("struct_categorical_features", struct(10, 2)), Param("degree", integer(2, 4), 2)),
    "POLYNOMIAL_EXPAND": (Param("struct_numerical_features", struct(10, 1)), Param("degree", integer(1, 4), 2)),
    "NGRAMS": (Param("array_input"), Param("range", ngram_range), Param("separator", string, " ")),
    "NORMALIZER": (Param("array_expression"), Param("p", p_norm, 2.0)),
    "DISTANCE": (Param("vector1"), Param("vector2"), Param("type", choice("euclidean", "manhattan", "cosine"),
                                                           "euclidean")),
    "LP_NORM": (Param("vector"), Param("degree", p_norm)),
    "STANDARD_SCALER": (Param("numerical_expression"),),
    "MIN_MAX_SCALER": (Param("numerical_expression"),),
    "MAX_ABS_SCALER": (Param("numerical_expression"),),
    "ROBUST_SCALER": (Param("numerical_expression"), Param("quantile_range", quantile_range, (25, 75)),
                      Param("with_median", boolean, True), Param("with_quantile_range", boolean, True)),
    "ONE_HOT_ENCODER": (Param("string_expression"), Param("drop", choice("none", "most_frequent"), "none"),
                        _TOP_K, _FREQUENCY),
    "LABEL_ENCODER": (Param("string_expression"), _TOP_K, _FREQUENCY),
    "MULTI_HOT_ENCODER": (Param("array_expression"), _TOP_K, _FREQUENCY),
    "BAG_OF_WORDS": (Param("tokenized_document"), _TOP_K, _FREQUENCY),
    "TF_IDF": (Param("tokenized_document"), _TOP_K, _FREQUENCY),
    "IMPUTER": (Param("expression"), Param("strategy", choice("mean", "median", "most_frequent"))),
}

_HINTS = {
    ("BUCKETIZE", "array_split_points"): "e.g. ML.BUCKETIZE(x, [0, 10, 100])",
    ("QUANTILE_BUCKETIZE", "num_buckets"): "e.g. ML.QUANTILE_BUCKETIZE(x, 4) OVER () for quartiles",
    ("IMPUTER", "strategy"): "e.g. ML.IMPUTER(x, 'median') OVER ()",
    ("FEATURE_CROSS", "struct_categorical_features"): "e.g. ML.FEATURE_CROSS(STRUCT(origin, dest, carrier))",
    ("POLYNOMIAL_EXPAND", "struct_numerical_features"): "e.g. ML.POLYNOMIAL_EXPAND(STRUCT(distance, air_time), 2)",
    ("ONE_HOT_ENCODER", "drop"): "e.g. ML.ONE_HOT_ENCODER(carrier, 'most_frequent') OVER ()",
}
