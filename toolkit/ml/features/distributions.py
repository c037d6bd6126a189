"""Columns as BigQuery ML's monitoring functions read them, and their distributions computed in DuckDB: what
ML.DESCRIBE_DATA describes, what ML.VALIDATE_DATA_DRIFT compares between two tables, and what training keeps so
that ML.VALIDATE_DATA_SKEW compares serving rows with the training rows the same way (`training_statistics`).

Kinds, as BigQuery's ML.DESCRIBE_DATA page says
(https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-describe-data): integers,
floats and NUMERIC are numerical (read as DOUBLE); STRING, BOOL, BYTES, DATE, DATETIME, TIME and TIMESTAMP are
categorical (read as STRING); a STRUCT's fields are columns of their own (`column.field`); an ARRAY's elements are
read unnested, an ARRAY<STRUCT<INT64, numerical>> (a sparse tensor) on its values.

A distribution (`scan`, one pass over the rows: toolkit.ml.features.value_counts): the number of non-NULL values;
for a numerical column its smallest and largest value and (`bucket_counts`) its counts in equal-width buckets over a
range the caller chooses (numpy.histogram's buckets); for a categorical column the count of each value."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import duckdb
import pyarrow as pa
from sqlglot import exp

from toolkit.errors import ModelError
from toolkit.ml.features.histograms import bucket, counts_in_buckets
from toolkit.ml.features.value_counts import CATEGORICAL, NUMERICAL, histogram, many_distinct, value_counts
from toolkit.sql.dialect import DIALECT

SKEW_BUCKETS = 10  # ML.VALIDATE_DATA_SKEW has no bucket setting: ML.VALIDATE_DATA_DRIFT's default
TOP_VALUES = 10_000  # categorical values kept at training, most frequent first; the rest are counted together
ELEMENT = "__element"
_names = itertools.count(1)


@dataclass(frozen=True)
class Feature:
    """One column read: its output name, how to read it from a row, its kind, and for an array how to read
    each element (`element`, over the unnested value `__element`) and a sparse tensor's index."""

    name: str
    value: exp.Expression  # over the input row
    kind: str  # NUMERICAL or CATEGORICAL (of the elements, for an array)
    is_array: bool = False
    element: exp.Expression | None = None
    index: exp.Expression | None = None
    column: str = ""  # the top-level column it is (part of)


def value_kind(arrow_type: pa.DataType) -> str | None:
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return NUMERICAL
    if (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_boolean(arrow_type)
            or pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type)
            or pa.types.is_dictionary(arrow_type)  # a DuckDB ENUM
            or pa.types.is_temporal(arrow_type)) and not pa.types.is_duration(arrow_type):
        return CATEGORICAL
    return None


def _refuse(function: str, name: str, arrow_type: pa.DataType) -> ModelError:
    return ModelError(f"ML.{function}: column '{name}' is {arrow_type}, which it cannot describe",
                      hint="it reads numbers, STRING, BOOL, BYTES, DATE/DATETIME/TIME/TIMESTAMP, STRUCTs of them, "
                           "ARRAYs of them and ARRAY<STRUCT<INT64, numerical>>; CAST or leave the column out")


def features(schema: pa.Schema, function: str = "DESCRIBE_DATA", *, skip_unsupported: bool = False) -> list[Feature]:
    """The columns to read, in order, STRUCT fields expanded; an unsupported type is refused (left out with
    `skip_unsupported`)."""
    found: list[Feature] = []

    def visit(column: str, name: str, value: exp.Expression, arrow_type: pa.DataType, in_struct: bool) -> None:
        kind = value_kind(arrow_type)
        if kind is not None:
            found.append(Feature(name, value, kind, column=column))
        elif pa.types.is_struct(arrow_type):
            for field in arrow_type:
                visit(column, f"{name}.{field.name}", exp.Dot(this=value.copy(), expression=exp.to_identifier(
                      field.name, quoted=True)), field.type, True)
        elif (pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type)) and not in_struct:
            array = _array_feature(function, column, name, value, arrow_type)
            if array is not None:
                found.append(array)
            elif not skip_unsupported:
                raise _refuse(function, name, arrow_type)
        elif not skip_unsupported:
            raise _refuse(function, name, arrow_type)

    for field in schema:
        visit(field.name, field.name, exp.column(field.name, quoted=True), field.type, False)
    return found


def _array_feature(function: str, column: str, name: str, value: exp.Expression,
                   arrow_type: pa.DataType) -> Feature | None:
    item = arrow_type.value_type
    element = exp.column(ELEMENT, quoted=True)
    kind = value_kind(item)
    if kind is not None:
        return Feature(name, value, kind, True, element, column=column)
    if pa.types.is_struct(item) and item.num_fields == 2 and pa.types.is_integer(item[0].type) \
            and value_kind(item[1].type) == NUMERICAL:  # a sparse tensor: (index, value) pairs
        field = lambda position: exp.Dot(this=element.copy(),  # noqa: E731
                                         expression=exp.to_identifier(item[position].name, quoted=True))
        return Feature(name, value, NUMERICAL, True, field(1), field(0), column=column)
    return None


def source(sql: str, alias: str = "__input") -> exp.Expression:
    """The rows of query `sql` as a FROM item."""
    return exp.Subquery(this=exp.maybe_parse(sql, dialect=DIALECT), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def elements(rows: exp.Expression, feature: Feature) -> exp.Expression:
    """An array column's elements, one row each (`__element`), as a FROM item."""
    unnested = exp.select(exp.alias_(exp.Unnest(expressions=[feature.value.copy()]), ELEMENT, quoted=True))
    return exp.Subquery(this=unnested.from_(rows.copy()), alias=exp.TableAlias(this=exp.to_identifier("__elements")))


def scan(con: duckdb.DuckDBPyConnection, sql: str, read: list[Feature], function: str,
         hint: str = "check the input query") -> tuple[int, list[dict]]:
    """The rows of query `sql` and, for each feature, {"count", "low", "high", "counted"} (numerical: its
    `Counted` values, for `bucket_counts`) or {"count", "values"} (categorical: value → count), read as DOUBLE or
    as STRING, NULLs, NaN and infinities left out (they have no place among equal-width buckets): one pass over
    the rows, one more over each array column's elements. A numerical column whose values nearly all differ
    (value_counts.many_distinct) is not counted (`counted` None): its range comes from one more aggregate pass, and
    `bucket_counts` buckets it in SQL."""
    rows = source(sql)
    scalars = [k for k, feature in enumerate(read) if not feature.is_array]
    ranged_only = many_distinct(con, rows, {k: read[k].value for k in scalars if read[k].kind == NUMERICAL},
                                function, hint)
    counted_keys = [k for k in scalars if k not in ranged_only]
    num_rows, counted = value_counts(con, rows, [(read[k].value, read[k].kind) for k in counted_keys], function,
                                     hint, finite=True)
    found: dict[int, object] = dict(zip(counted_keys, counted))
    for k, feature in enumerate(read):
        if feature.is_array:
            _, (found[k],) = value_counts(con, elements(rows, feature), [(feature.element, feature.kind)], function,
                                          hint, finite=True)
    ranges = _ranges(con, rows, {k: read[k] for k in ranged_only}, function, hint)
    described = []
    for k, feature in enumerate(read):
        counts = found.get(k)
        if k in ranges:
            described.append(ranges[k])
        elif feature.kind == NUMERICAL:
            low, high = (float(counts.values[0]), float(counts.values[-1])) if counts.count else (None, None)
            described.append({"count": counts.count, "low": low, "high": high, "counted": counts})
        else:
            described.append({"count": counts.count, "values": histogram(counts)})
    return num_rows, described


def _read(feature: Feature) -> exp.Expression:
    """A numerical scalar column as DOUBLE, NaN and the infinities as NULL."""
    number = exp.cast(feature.value.copy(), exp.DataType.build("DOUBLE"))
    return exp.Case(ifs=[exp.If(this=exp.Anonymous(this="isfinite", expressions=[number]), true=number.copy())])


def _aggregate(con: duckdb.DuckDBPyConnection, rows: exp.Expression, columns: list[exp.Expression], function: str,
               hint: str) -> tuple:
    try:
        return con.execute(exp.select(*columns).from_(rows.copy()).sql(dialect=DIALECT)).fetchall()[0]
    except duckdb.Error as error:
        raise ModelError(f"ML.{function}: computing the statistics failed in DuckDB: {error}", hint=hint) from None


def _ranges(con: duckdb.DuckDBPyConnection, rows: exp.Expression, read: dict[int, Feature], function: str,
            hint: str) -> dict[int, dict]:
    """Numerical scalar columns' finite counts and ranges, in one aggregate pass."""
    if not read:
        return {}
    columns = [agg(this=_read(f)) for f in read.values() for agg in (exp.Count, exp.Min, exp.Max)]
    found = _aggregate(con, rows, columns, function, hint)
    return {k: {"count": found[3 * i], "low": found[3 * i + 1], "high": found[3 * i + 2], "counted": None}
            for i, k in enumerate(read)}


def bucket_counts(con: duckdb.DuckDBPyConnection, sql: str, ranged: list[tuple[Feature, dict, float, float]],
                  num_buckets: int, function: str, hint: str = "check the input query") -> list[list[int]]:
    """For each (numerical feature, its `scan`, low, high): its counts in `num_buckets` equal-width buckets over
    [low, high], which holds its values: numpy.histogram's buckets, from its value counts, or for a column `scan`
    did not count, in SQL (histograms.bucket) in one more pass over the rows."""
    uncounted = {i: feature for i, (feature, described, _, _) in enumerate(ranged) if described["counted"] is None}
    columns = [exp.Anonymous(this="histogram", expressions=[bucket(_read(feature), ranged[i][2], ranged[i][3],
                                                                   num_buckets)]) for i, feature in uncounted.items()]
    found = dict(zip(uncounted, _aggregate(con, source(sql), columns, function, hint))) if columns else {}
    out = []
    for i, (_, described, low, high) in enumerate(ranged):
        if i in found:
            out.append([(found[i] or {}).get(b, 0) for b in range(num_buckets)])
        else:
            counted = described["counted"]
            out.append(counts_in_buckets(counted.values, counted.counts, low, high, num_buckets))
    return out


def training_statistics(con: duckdb.DuckDBPyConnection, table: pa.Table, columns: list[str]) -> list[dict]:
    """What ML.VALIDATE_DATA_SKEW compares serving rows with, for `columns` of the training rows `table`: one
    record per feature (a STRUCT's fields and an ARRAY's elements as `features` reads them; other types left out)
    with its top-level column and Arrow type, its kind, its non-NULL count, and for a numerical feature its range
    and its SKEW_BUCKETS bucket counts over that range, for a categorical one the counts of its TOP_VALUES most
    frequent values (ties by value) and of the rest together (`other`)."""
    selected = table.select(columns)
    read = features(selected.schema, "VALIDATE_DATA_SKEW", skip_unsupported=True)
    if not read:
        return []
    name = f"__toolkit_training_rows_{next(_names)}"
    con.register(name, selected)
    try:
        sql = exp.select("*").from_(exp.to_table(name)).sql(dialect=DIALECT)
        rows, described = scan(con, sql, read, "VALIDATE_DATA_SKEW")
        ranged = [(f, d, d["low"], d["high"]) for f, d in zip(read, described) if f.kind == NUMERICAL and d["count"]]
        counts = iter(bucket_counts(con, sql, ranged, SKEW_BUCKETS, "VALIDATE_DATA_SKEW"))
    finally:
        con.unregister(name)
    records = []
    for feature, stats in zip(read, described):
        record = {"input": feature.name, "column": feature.column, "kind": feature.kind, "is_array": feature.is_array,
                  "type": str(selected.schema.field(feature.column).type), "rows": rows, "count": stats["count"]}
        if feature.kind == NUMERICAL:
            record.update(low=stats["low"], high=stats["high"], buckets=next(counts) if stats["count"] else [])
        else:
            ranked = sorted(stats["values"].items(), key=lambda item: (-item[1], item[0]))
            record.update(values=dict(ranked[:TOP_VALUES]), other=sum(c for _, c in ranked[TOP_VALUES:]))
        records.append(record)
    return records
