"""ML.DESCRIBE_DATA: descriptive statistics of every column of a table or query, one row per column, with the
output columns of BigQuery ML's reference page
(https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-describe-data).

Input columns, as the page says: integers and NUMERIC are numerical (cast to DOUBLE); BOOL, BYTES, DATE, DATETIME,
TIME, TIMESTAMP are cast to STRING and described as STRING columns; a STRUCT's fields are expanded (one row per
field, named `column.field`); an ARRAY is unnested, its elements described, and its lengths summarised in the
array columns; ARRAY<STRUCT<INT64, numerical>> (a sparse tensor) is described on its values, `dimension` being
MAX(index) + 1. Any other type (MAP, UNION, a nested ARRAY, JSON, …) is refused, naming the column.

Computed in DuckDB, as sqlglot expressions, in one pass over the input (and one over each array column's
elements): every column's distinct values and their counts, by DuckDB's parallel hash aggregation
(toolkit.ml.features.value_counts), from which every statistic follows exactly as from the rows. A numerical
column whose values nearly all differ in the first 10,000 rows is read by DuckDB's aggregates instead, in one more
pass (AVG, STDDEV_SAMP, and one `quantile_disc` for its quantiles and its median): the same statistics.
- `quantiles`: what DuckDB's exact `quantile_disc(x, [0, 1/n, …, 1])` gives, the num_quantiles + 1 boundaries
  BigQuery's APPROX_QUANTILES(x, n) returns (minimum, n - 1 inner boundaries, maximum), each a value of the column:
  the inverse of the empirical distribution function at i/n (numpy's 'inverted_cdf'). BigQuery's are approximate
  (within its sketch's rank error), these exact. `array_length_quantiles` likewise over the arrays' lengths.
- `median`: DuckDB's `median` of the values as DOUBLE (interpolated between the two middle values on an even
  count; for a FLOAT or DECIMAL column the midpoint in DOUBLE, not rounded to the column's type); `mean` and `stdev` (the sample standard deviation, STDDEV_SAMP, BigQuery's STDDEV) summed in float64
  over the distinct values, weighted by their counts, which equals DuckDB's AVG and STDDEV_SAMP to rounding.
- `unique`: the exact number of distinct values (BigQuery: APPROX_COUNT_DISTINCT); `top_values`: the `top_k` most
  frequent values with their exact counts, most frequent first, ties by value descending (BigQuery:
  APPROX_TOP_COUNT, whose ties are unordered).
- `min` / `max` of a categorical column compare the values cast to STRING, as BigQuery casts before describing.
- `array_length_quantiles` of a non-array column is NULL (the page says 0, which an ARRAY<INT64> cannot be)."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
from sqlglot import exp

from toolkit.errors import ModelError
from toolkit.ml.features.distributions import CATEGORICAL, NUMERICAL, Feature, elements, features, source
from toolkit.ml.features.value_counts import (
    MIDDLE_FRACTIONS,
    Counted,
    disc_quantiles,
    fraction_texts,
    histogram,
    many_distinct,
    mean_and_stdev,
    median,
    middle,
    value_counts,
)
from toolkit.sql.dialect import DIALECT

OUTPUT_SCHEMA = pa.schema([
    ("name", pa.string()), ("num_rows", pa.int64()), ("num_nulls", pa.int64()), ("num_zeros", pa.int64()),
    ("min", pa.string()), ("max", pa.string()), ("mean", pa.float64()), ("stdev", pa.float64()),
    ("median", pa.float64()), ("quantiles", pa.list_(pa.float64())), ("unique", pa.int64()),
    ("avg_string_length", pa.float64()), ("num_values", pa.int64()),
    ("top_values", pa.list_(pa.struct([("value", pa.string()), ("count", pa.int64())]))),
    ("min_array_length", pa.int64()), ("max_array_length", pa.int64()), ("avg_array_length", pa.float64()),
    ("total_array_length", pa.int64()), ("array_length_quantiles", pa.list_(pa.int64())), ("dimension", pa.int64()),
])


def _value_stats(counted: Counted, kind: str, rows: int, fractions: list[str]) -> dict[str, object]:
    """The output columns of `rows` values (NULLs counted, not described) from their counts."""
    n = counted.count
    stats: dict[str, object] = {"num_nulls": rows - n, "num_values": n, "min": counted.low, "max": counted.high}
    if kind == NUMERICAL:
        mean, stdev = mean_and_stdev(counted) if n else (None, None)
        stats.update(num_zeros=int(counted.counts[counted.values == 0].sum()) if rows else None, mean=mean,
                     stdev=stdev, median=median(counted) if n else None,
                     quantiles=disc_quantiles(counted, fractions) if n else None)
    else:
        stats.update(avg_string_length=counted.text_length / n if n else None, top_values=histogram(counted))
    return stats


def _aggregated_stats(con: duckdb.DuckDBPyConnection, rows: exp.Expression, read: dict[int, Feature],
                      fractions: list[str]) -> dict[int, list]:
    """For numerical columns of mostly distinct values: DuckDB's aggregates over the rows (one more pass), the
    same statistics as `_value_stats` gives: the count, zeros, extremes, AVG, STDDEV_SAMP and one `quantile_disc`
    holding the quantiles and the two middle values."""
    if not read:
        return {}
    columns = []
    for feature in read.values():
        number = exp.cast(feature.value.copy(), exp.DataType.build("DOUBLE"))
        listed = exp.Array(expressions=[exp.Literal.number(text) for text in fractions + MIDDLE_FRACTIONS])
        columns += [exp.Count(this=number.copy()),
                    exp.Sum(this=exp.If(this=exp.EQ(this=number.copy(), expression=exp.Literal.number(0)),
                                        true=exp.Literal.number(1), false=exp.Literal.number(0))),
                    exp.cast(exp.Min(this=number.copy()), exp.DataType.build("VARCHAR")),
                    exp.cast(exp.Max(this=number.copy()), exp.DataType.build("VARCHAR")),
                    exp.Avg(this=number.copy()), exp.StddevSamp(this=number.copy()),
                    exp.cast(_func("quantile_disc", feature.value.copy(), listed), exp.DataType.build("DOUBLE[]"))]
    query = exp.select(*columns).from_(rows.copy())
    try:
        found = con.execute(query.sql(dialect=DIALECT)).fetchall()[0]
    except duckdb.Error as error:
        raise ModelError(f"ML.DESCRIBE_DATA: computing the statistics failed in DuckDB: {error}",
                         hint="check the input query") from None
    return {k: list(found[7 * i:7 * i + 7]) for i, k in enumerate(read)}


def _numerical_from_aggregates(found: list, rows: int) -> dict[str, object]:
    n, zeros, low, high, mean, stdev, quantiles = found
    return {"num_nulls": rows - n, "num_values": n, "num_zeros": zeros, "min": low, "max": high, "mean": mean,
            "stdev": stdev, "median": middle(quantiles[-2], quantiles[-1], n) if n else None,
            "quantiles": quantiles[:-2] if n else None}


def _length_stats(lengths: Counted, fractions: list[str]) -> dict[str, object]:
    if not lengths.count:
        return {}
    total = int(np.dot(lengths.values.astype(np.int64), lengths.counts))
    return {"min_array_length": int(lengths.values[0]), "max_array_length": int(lengths.values[-1]),
            "avg_array_length": total / lengths.count, "total_array_length": total,
            "array_length_quantiles": [int(v) for v in disc_quantiles(lengths, fractions)]}


def _top(histogram: dict | None, top_k: int) -> list[dict]:
    if not histogram:
        return []
    ranked = sorted(histogram.items(), key=lambda item: (item[1], item[0]), reverse=True)[:top_k]
    return [{"value": value, "count": count} for value, count in ranked]


def describe_data(con: duckdb.DuckDBPyConnection, sql: str, schema: pa.Schema, settings: dict) -> pa.Table:
    """ML.DESCRIBE_DATA over the rows of query `sql` (whose columns are `schema`) with checked settings."""
    fractions = fraction_texts(settings["num_quantiles"])
    length_fractions = fraction_texts(settings["num_array_length_quantiles"])
    described = features(schema)
    rows = source(sql)
    keys = [(_func("len", f.value.copy()), NUMERICAL) if f.is_array else (f.value, f.kind) for f in described]
    sorted_ones = many_distinct(con, rows, {k: f.value for k, f in enumerate(described)
                                            if f.kind == NUMERICAL and not f.is_array}, "DESCRIBE_DATA")
    counted_keys = [k for k in range(len(keys)) if k not in sorted_ones]
    num_rows, counted = value_counts(con, rows, [keys[k] for k in counted_keys], "DESCRIBE_DATA")
    by_key = dict(zip(counted_keys, counted))
    aggregated = _aggregated_stats(con, rows, {k: described[k] for k in sorted_ones}, fractions)
    out = []
    for k, feature in enumerate(described):
        counts = by_key.get(k)
        if k in aggregated:
            stats = _numerical_from_aggregates(aggregated[k], num_rows)
        elif feature.is_array:
            stats = _length_stats(counts, length_fractions)
            element_keys = [(feature.element, feature.kind)]
            if feature.index is not None:
                element_keys.append((feature.index, NUMERICAL))
            count, (values, *index) = value_counts(con, elements(rows, feature), element_keys, "DESCRIBE_DATA")
            stats.update(_value_stats(values, feature.kind, count, fractions))
            if index and index[0].count:
                stats["dimension"] = int(index[0].values[-1]) + 1
        else:
            stats = _value_stats(counts, feature.kind, num_rows, fractions)
        out.append(_row(feature, num_rows, stats, settings["top_k"]))
    return pa.Table.from_pylist(out, schema=OUTPUT_SCHEMA)


def _func(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _row(feature: Feature, num_rows: int, stats: dict[str, object], top_k: int) -> dict[str, object]:
    row: dict[str, object] = {name: None for name in OUTPUT_SCHEMA.names}
    row.update(stats)
    row["name"], row["num_rows"] = feature.name, num_rows
    if feature.kind == CATEGORICAL:
        row["unique"] = len(stats.get("top_values") or {})
        row["top_values"] = _top(stats.get("top_values"), top_k)
    else:
        row["top_values"] = []
    return row

