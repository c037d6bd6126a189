"""ML.DESCRIBE_DATA: descriptive statistics of every column of a table or query, one row per column, with the
output columns of BigQuery ML's reference page
(https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-describe-data).

Input columns, as the page says: integers and NUMERIC are numerical (cast to DOUBLE); BOOL, BYTES, DATE, DATETIME,
TIME, TIMESTAMP are cast to STRING and described as STRING columns; a STRUCT's fields are expanded (one row per
field, named `column.field`); an ARRAY is unnested, its elements described, and its lengths summarised in the
array columns; ARRAY<STRUCT<INT64, numerical>> (a sparse tensor) is described on its values, `dimension` being
MAX(index) + 1. Any other type (MAP, UNION, a nested ARRAY, JSON, …) is refused, naming the column.

Computed in DuckDB, as sqlglot expressions: one aggregate query over the input for every scalar column and every
array's lengths, and one over the unnested elements of each array column. Statistics:
- `quantiles`: DuckDB's exact `quantile_disc(x, [0, 1/n, …, 1])`, the num_quantiles + 1 boundaries BigQuery's
  APPROX_QUANTILES(x, n) returns (minimum, n - 1 inner boundaries, maximum), each a value of the column: the
  inverse of the empirical distribution function at i/n (numpy's 'inverted_cdf'). BigQuery's are approximate
  (within its sketch's rank error), these exact. `array_length_quantiles` likewise over the arrays' lengths.
- `median`: DuckDB's `median` (interpolated between the two middle values on an even count); `stdev`: the sample
  standard deviation (STDDEV_SAMP, BigQuery's STDDEV).
- `unique`: the exact number of distinct values (BigQuery: APPROX_COUNT_DISTINCT); `top_values`: the `top_k` most
  frequent values with their exact counts, most frequent first, ties by value descending (BigQuery:
  APPROX_TOP_COUNT, whose ties are unordered).
- `min` / `max` of a categorical column compare the values cast to STRING, as BigQuery casts before describing.
- `array_length_quantiles` of a non-array column is NULL (the page says 0, which an ARRAY<INT64> cannot be)."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from sqlglot import exp

from toolkit.ml.features.distributions import CATEGORICAL, NUMERICAL, Feature, aggregate, features
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


def _fraction_list(count: int) -> exp.Expression:
    return exp.Array(expressions=[exp.Literal.number(repr(i / count) if 0 < i < count else i // count)
                                  for i in range(count + 1)])


def _func(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _value_stats(x: exp.Expression, kind: str, quantiles: int, top_k: int) -> dict[str, exp.Expression]:
    """Aggregates over the values `x` (NULLs counted, not described): the output columns they give."""
    null = exp.Null()
    if kind == NUMERICAL:
        number = exp.cast(x, exp.DataType.build("DOUBLE"))
        text = exp.DataType.build("VARCHAR")
        return {
            "num_nulls": exp.Sub(this=exp.Count(this=exp.Star()), expression=exp.Count(this=number)),
            "num_zeros": _count_if(exp.EQ(this=number, expression=exp.Literal.number(0))),
            "min": exp.cast(exp.Min(this=number), text), "max": exp.cast(exp.Max(this=number), text),
            # the holistic aggregates read the column as it is (sorting DOUBLE casts costs a third more)
            "mean": exp.Avg(this=number), "stdev": exp.StddevSamp(this=number),
            "median": exp.cast(_func("median", x), exp.DataType.build("DOUBLE")),
            "quantiles": exp.cast(_func("quantile_disc", x, _fraction_list(quantiles)),
                                  exp.DataType.build("DOUBLE[]")),
            "unique": null, "avg_string_length": null, "num_values": exp.Count(this=number), "top_values": null,
        }
    text = exp.cast(x, exp.DataType.build("VARCHAR"))
    return {
        "num_nulls": exp.Sub(this=exp.Count(this=exp.Star()), expression=exp.Count(this=text)),
        "num_zeros": null, "min": exp.Min(this=text), "max": exp.Max(this=text), "mean": null, "stdev": null,
        "median": null, "quantiles": null, "unique": null,  # the histogram's size, below
        "avg_string_length": exp.Avg(this=exp.Length(this=text)), "num_values": exp.Count(this=text),
        "top_values": _func("histogram", text),  # counts of each value: the top k are taken from it afterwards
    }


def _count_if(condition: exp.Expression) -> exp.Expression:
    return exp.Sum(this=exp.If(this=condition, true=exp.Literal.number(1), false=exp.Literal.number(0)))


def _length_stats(value: exp.Expression, quantiles: int) -> dict[str, exp.Expression]:
    length = _func("len", value)
    return {
        "min_array_length": exp.Min(this=length), "max_array_length": exp.Max(this=length),
        "avg_array_length": exp.Avg(this=length), "total_array_length": exp.Sum(this=length),
        "array_length_quantiles": _func("quantile_disc", length, _fraction_list(quantiles)),
    }


def _top(histogram: dict | None, top_k: int) -> list[dict]:
    if not histogram:
        return []
    ranked = sorted(histogram.items(), key=lambda item: (item[1], item[0]), reverse=True)[:top_k]
    return [{"value": value, "count": count} for value, count in ranked]


def describe_data(con: duckdb.DuckDBPyConnection, sql: str, schema: pa.Schema, settings: dict) -> pa.Table:
    """ML.DESCRIBE_DATA over the rows of query `sql` (whose columns are `schema`) with checked settings."""
    quantiles, length_quantiles, top_k = (settings["num_quantiles"], settings["num_array_length_quantiles"],
                                          settings["top_k"])
    described = features(schema)
    source = exp.Subquery(this=exp.maybe_parse(sql, dialect=DIALECT),
                          alias=exp.TableAlias(this=exp.to_identifier("__input")))
    columns: dict[str, exp.Expression] = {"num_rows": exp.Count(this=exp.Star())}
    for position, feature in enumerate(described):
        if feature.is_array:
            for key, expression in _length_stats(feature.value, length_quantiles).items():
                columns[f"{position}:{key}"] = expression
        else:
            for key, expression in _value_stats(feature.value, feature.kind, quantiles, top_k).items():
                columns[f"{position}:{key}"] = expression
    scanned = aggregate(con, source, columns, "DESCRIBE_DATA")
    rows = []
    for position, feature in enumerate(described):
        stats = {key.split(":", 1)[1]: value for key, value in scanned.items() if key.startswith(f"{position}:")}
        if feature.is_array:
            stats.update(_element_stats(con, source, feature, quantiles, top_k))
        rows.append(_row(feature, scanned["num_rows"], stats, top_k))
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)


def _element_stats(con: duckdb.DuckDBPyConnection, source: exp.Expression, feature: Feature, quantiles: int,
                   top_k: int) -> dict[str, object]:
    """The statistics of an array column's elements: one query over them, unnested."""
    unnested = exp.select(exp.alias_(exp.Unnest(expressions=[feature.value.copy()]), "__element", quoted=True))
    elements = exp.Subquery(this=unnested.from_(source.copy()), alias=exp.TableAlias(
        this=exp.to_identifier("__elements")))
    columns = _value_stats(feature.element, feature.kind, quantiles, top_k)
    if feature.index is not None:
        columns["dimension"] = exp.Add(this=exp.Max(this=feature.index), expression=exp.Literal.number(1))
    return aggregate(con, elements, columns, "DESCRIBE_DATA")


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

