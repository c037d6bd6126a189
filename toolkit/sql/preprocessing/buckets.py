"""ML.BUCKETIZE, ML.QUANTILE_BUCKETIZE, ML.HASH_BUCKETIZE.

Buckets are left-closed: with split points [1, 2, 3], bin_1 = (-inf, 1), bin_2 = [1, 2), bin_3 = [2, 3),
bin_4 = [3, +inf). exclude_boundaries => TRUE drops the first and the last split point ([1, 2, 3, 4] leaves
[2, 3]: three buckets, as BigQuery documents). NULL stays NULL."""

from __future__ import annotations

import json
from typing import Any

from sqlglot import exp

from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing.arguments import bind
from toolkit.sql.preprocessing.build import as_double, format_number, number, string, template, wrap

TWO_TO_64 = 2**64


def bucketize(call: MLPreprocess) -> exp.Expression:
    """ML.BUCKETIZE(x, split_points [, exclude_boundaries] [, output_format])."""
    args = bind(call)
    points = args["array_split_points"]
    if args["exclude_boundaries"]:
        points = points[1:-1]
    return buckets(args["numerical_expression"], points, args["output_format"])


def buckets(x: exp.Expression, points: tuple[float, ...] | list[float], output_format: str) -> exp.Expression:
    """CASE WHEN x IS NULL THEN NULL WHEN x < p1 THEN <bucket 1> … ELSE <last bucket> END."""
    labels = bucket_labels(points, output_format)
    case = exp.Case(ifs=[exp.If(this=exp.Is(this=wrap(x), expression=exp.null()), true=exp.null())])
    for point, label in zip(points, labels):
        case.append("ifs", exp.If(this=exp.LT(this=wrap(x), expression=number(point)), true=string(label)))
    case.set("default", string(labels[-1]))
    return case


def bucket_labels(points: tuple[float, ...] | list[float], output_format: str) -> list[str]:
    """The name of each of the len(points) + 1 buckets in BigQuery's format."""
    if output_format == "bucket_names":
        return [f"bin_{i}" for i in range(1, len(points) + 2)]
    bounds = [None, *points, None]
    pairs = list(zip(bounds, bounds[1:]))
    if output_format == "bucket_ranges":
        return [("(-inf" if low is None else f"[{format_number(low)}") + ", "
                + ("+inf)" if high is None else f"{format_number(high)})") for low, high in pairs]
    return [json.dumps({"start": "-Infinity" if low is None else format_number(low),
                        "end": "Infinity" if high is None else format_number(high)}) for low, high in pairs]


# ML.QUANTILE_BUCKETIZE(x, n [, output_format]) OVER (): the split points are the training values at the quantiles
# 1/n, …, (n-1)/n, not interpolated (QUANTILE_DISC: the smallest value whose cumulative share reaches the quantile),
# repeats removed — [1, 2, 3, 4, 5] into 3 gives split points [2, 4], so bin_1, bin_2, bin_2, bin_3, bin_3.
def quantile_bucketize_statistics(x: exp.Expression, args: dict[str, Any], _type: str) -> list[exp.Expression]:
    n = args["num_buckets"]
    fractions = exp.Array(expressions=[number(i / n) for i in range(1, n)])
    return [template("QUANTILE_DISC(:x, :fractions)", x=as_double(x), fractions=fractions)]


def quantile_bucketize_apply(x: exp.Expression, args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    (quantiles,) = values
    points = sorted({float(q) for q in quantiles or [] if q is not None})
    return buckets(x, points, args["output_format"])


def hash_bucketize(call: MLPreprocess) -> exp.Expression:
    """ML.HASH_BUCKETIZE(s, size): BigQuery's FARM_FINGERPRINT read as an UNSIGNED 64-bit integer, modulo size
    (HUGEINT arithmetic); size 0 returns the fingerprint itself (signed INT64, as FARM_FINGERPRINT)."""
    args = bind(call)
    size = args["hash_bucket_size"]
    if size == 0:
        return template("FARM_FINGERPRINT(:s)", s=args["string_expression"])
    return template(
        "CAST((CAST(FARM_FINGERPRINT(:s) AS HUGEINT) + :two64) % :two64 % :size AS BIGINT)",
        s=args["string_expression"], two64=exp.cast(string(str(TWO_TO_64)), exp.DataType.build("HUGEINT")),
        size=number(size),
    )
