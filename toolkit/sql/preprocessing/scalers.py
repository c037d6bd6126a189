"""ML.STANDARD_SCALER, ML.MIN_MAX_SCALER, ML.MAX_ABS_SCALER, ML.ROBUST_SCALER (analytic: statistics of the
training rows, inlined) and ML.NORMALIZER (scalar: each array by its own p-norm).

All return DOUBLE; NULL stays NULL. A statistic that would divide by zero (a constant column, or a single row for the
sample standard deviation) divides by 1 instead: the training rows then all map to 0."""

from __future__ import annotations

import math
from typing import Any

from sqlglot import exp

from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing.arguments import bind
from toolkit.sql.preprocessing.build import as_double, number, template


def _divisor(value: Any) -> float:
    value = None if value is None else float(value)
    return value if value is not None and math.isfinite(value) and value != 0 else 1.0


def _null_double() -> exp.Expression:
    return exp.cast(exp.null(), exp.DataType.build("DOUBLE"))


# ML.STANDARD_SCALER(x) OVER (): (x - mean) / sd, with the SAMPLE standard deviation (STDDEV_SAMP):
# [1, 2, 3, 4, 5] gives ±1.2649110640673518 at the ends, as BigQuery documents.
def standard_statistics(x: exp.Expression, _args: dict[str, Any], _type: str) -> list[exp.Expression]:
    return [template("AVG(:x)", x=as_double(x)), template("STDDEV_SAMP(:x)", x=as_double(x))]


def standard_apply(x: exp.Expression, _args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    mean, sd = values
    if mean is None:  # no value in the training rows
        return _null_double()
    return template("(:x - :mean) / :sd", x=as_double(x), mean=number(mean), sd=number(_divisor(sd)))


# ML.MIN_MAX_SCALER(x) OVER (): (x - min) / (max - min), capped to [0, 1] as BigQuery does for values outside the
# training range (GREATEST/LEAST skip NULLs in DuckDB, hence the explicit NULL branch).
def min_max_statistics(x: exp.Expression, _args: dict[str, Any], _type: str) -> list[exp.Expression]:
    return [template("MIN(:x)", x=as_double(x)), template("MAX(:x)", x=as_double(x))]


def min_max_apply(x: exp.Expression, _args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    low, high = values
    if low is None:
        return _null_double()
    scaled = template("(:x - :low) / :range", x=as_double(x), low=number(low), range=number(_divisor(high - low)))
    return template("CASE WHEN :x IS NULL THEN NULL ELSE LEAST(GREATEST(:scaled, :zero), :one) END",
                    x=x, scaled=scaled, zero=number(0.0), one=number(1.0))


# ML.MAX_ABS_SCALER(x) OVER (): x / max(|x|), not capped (a value beyond the training range exceeds 1 in size).
def max_abs_statistics(x: exp.Expression, _args: dict[str, Any], _type: str) -> list[exp.Expression]:
    return [template("MAX(ABS(:x))", x=as_double(x))]


def max_abs_apply(x: exp.Expression, _args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    (largest,) = values
    if largest is None:
        return _null_double()
    return template(":x / :largest", x=as_double(x), largest=number(_divisor(largest)))


# ML.ROBUST_SCALER(x [, [low, high]] [, with_median] [, with_quantile_range]) OVER (): (x - median) / (q_high - q_low)
# with quantiles that are training values (QUANTILE_DISC, not interpolated): [-3, 1, 2, 3, 4, 5] gives median 2,
# q25 = 1, q75 = 4, so (x - 2) / 3, as BigQuery documents.
def robust_statistics(x: exp.Expression, args: dict[str, Any], _type: str) -> list[exp.Expression]:
    low, high = args["quantile_range"]
    fractions = exp.Array(expressions=[number(0.5), number(low / 100), number(high / 100)])
    return [template("QUANTILE_DISC(:x, :fractions)", x=as_double(x), fractions=fractions)]


def robust_apply(x: exp.Expression, args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    (quantiles,) = values
    if quantiles is None:
        return _null_double()
    median, low, high = quantiles
    scaled = as_double(x)
    if args["with_median"]:
        scaled = template(":x - :median", x=scaled, median=number(median))
    if args["with_quantile_range"]:
        scaled = template(":x / :range", x=scaled, range=number(_divisor(high - low)))
    return scaled


# ML.NORMALIZER(array [, p]): each element divided by the array's p-norm; p = 0 counts the non-zero elements,
# p = +inf takes the largest absolute value. A zero vector stays as it is; NULL elements stay NULL and are left out
# of the norm.
NORMS = {
    0.0: "CAST(LIST_COUNT(LIST_FILTER(:a, LAMBDA _tk_v : _tk_v <> 0)) AS DOUBLE)",
    1.0: "LIST_SUM(LIST_TRANSFORM(:a, LAMBDA _tk_v : ABS(CAST(_tk_v AS DOUBLE))))",
    2.0: "SQRT(LIST_SUM(LIST_TRANSFORM(:a, LAMBDA _tk_v : CAST(_tk_v AS DOUBLE) * _tk_v)))",
    math.inf: "LIST_MAX(LIST_TRANSFORM(:a, LAMBDA _tk_v : ABS(CAST(_tk_v AS DOUBLE))))",
}


def normalizer(call: MLPreprocess) -> exp.Expression:
    args = bind(call)
    array, p = args["array_expression"], args["p"]
    if p in NORMS:
        norm = template(NORMS[p], a=array)
    else:
        norm = template("POWER(LIST_SUM(LIST_TRANSFORM(:a, LAMBDA _tk_v : POWER(ABS(CAST(_tk_v AS DOUBLE)), :p))), "
                        ":inverse)", a=array, p=number(p), inverse=number(1 / p))
    return template("LIST_TRANSFORM(:a, LAMBDA _tk_e : CAST(_tk_e AS DOUBLE) / COALESCE(NULLIF(:norm, 0), 1))",
                    a=array, norm=norm)
