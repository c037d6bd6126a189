"""Statistics of the training data: ML.FEATURE_INFO rows, and distributions kept for later skew checks.

Feature info has one row per input column (BigQuery's columns: input, min, max, mean, median, stddev,
category_count, null_count, dimension); TIMESTAMP columns are described by their epoch seconds, sparse vectors
(ARRAY<STRUCT<index, value>>) by their indices. Columns of other types (a TRANSFORM_ONLY model's outputs may have
any type) get their NULL count only. The skew
statistics are histograms: numeric columns over 20 equal-width bins between the training min and max (plus the
NULL count), categorical columns as counts of their most frequent 1,000 values (plus the rest and the NULLs).
`input_feature_info` gives the same ML.FEATURE_INFO rows from one DuckDB aggregate query: with TRANSFORM, those of
the raw columns it reads, which the training never holds as features."""

from __future__ import annotations

import itertools

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from toolkit.ml.features.preprocess import (
    CATEGORICAL,
    MULTI_HOT,
    NUMERIC,
    SPARSE,
    TIMESTAMP,
    column_kind,
    sparse_indices,
    to_float64,
)
from toolkit.sql.quoting import column_ref, identifier, render, substituted, table_ref
from toolkit.warehouse.connection import one_thread

NUMERIC_BINS = 20
TOP_CATEGORIES = 1_000
_names = itertools.count(1)


def _epoch_seconds(values: pa.ChunkedArray) -> np.ndarray:
    unit = values.type.unit
    raw = np.asarray(values.cast(pa.int64()).to_numpy(), np.float64)
    return raw / {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]


def _as_numbers(values: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_timestamp(values.type):
        return _epoch_seconds(values)
    return to_float64(values)


def _decoded(values: pa.ChunkedArray) -> pa.ChunkedArray:
    return values.cast(values.type.value_type) if pa.types.is_dictionary(values.type) else values


def feature_info(table: pa.Table, columns: list[str]) -> list[dict]:
    """ML.FEATURE_INFO of `columns` over the rows of `table`."""
    rows = []
    for column in columns:
        values = _decoded(table.column(column))
        kind = column_kind(values.type)
        row = {"input": column, "min": None, "max": None, "mean": None, "median": None, "stddev": None,
               "category_count": None, "null_count": int(values.null_count), "dimension": None}
        if kind in (NUMERIC, TIMESTAMP):
            x = _as_numbers(values)
            x = x[~np.isnan(x)]
            row["null_count"] = int(len(values) - len(x))
            if len(x):
                row.update(min=float(x.min()), max=float(x.max()), mean=float(x.mean()),
                           median=float(np.median(x)), stddev=float(x.std(ddof=1)) if len(x) > 1 else None)
        elif kind == CATEGORICAL:
            row["category_count"] = int(pc.count_distinct(values, mode="only_valid").as_py())
        elif kind in (MULTI_HOT, SPARSE):
            flat = pc.list_flatten(values) if kind == MULTI_HOT else sparse_indices(values)
            row["category_count"] = int(pc.count_distinct(flat, mode="only_valid").as_py())
            lengths = pc.list_value_length(values).drop_null()
            row["dimension"] = int(pc.max(lengths).as_py() or 0) if len(lengths) else 0
        rows.append(row)
    return rows


def data_stats(table: pa.Table, columns: list[str]) -> dict[str, dict]:
    """Training distributions of `columns`: histograms of numbers, frequencies of categories."""
    out: dict[str, dict] = {}
    for column in columns:
        values = _decoded(table.column(column))
        kind = column_kind(values.type)
        if kind in (NUMERIC, TIMESTAMP):
            x = _as_numbers(values)
            finite = x[~np.isnan(x)]
            low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 0.0)
            counts, edges = np.histogram(finite, bins=NUMERIC_BINS, range=(low, high if high > low else low + 1))
            out[column] = {"kind": "numeric", "edges": edges.tolist(), "counts": counts.tolist(),
                           "null_count": int(len(x) - len(finite))}
        elif kind in (CATEGORICAL, MULTI_HOT, SPARSE):
            flat = {MULTI_HOT: pc.list_flatten, SPARSE: sparse_indices}.get(kind, lambda v: v)(values)
            if not (pa.types.is_string(flat.type) or pa.types.is_large_string(flat.type)):
                flat = flat.cast(pa.string()) if not pa.types.is_binary(flat.type) else flat
            frequencies = pc.value_counts(flat.drop_null())
            pairs = sorted(zip(frequencies.field("values").to_pylist(), frequencies.field("counts").to_pylist()),
                           key=lambda p: (-p[1], str(p[0])))
            top = pairs[:TOP_CATEGORIES]
            out[column] = {"kind": "categorical",
                           "counts": {(v.hex() if isinstance(v, bytes) else str(v)): int(c) for v, c in top},
                           "other_count": int(sum(c for _, c in pairs[TOP_CATEGORIES:])),
                           "null_count": int(flat.null_count)}
    return out


# ML.FEATURE_INFO of raw columns in DuckDB, per column kind: (statistic, template over the column `__c__`); the
# number is the column as DOUBLE (a TIMESTAMP's epoch seconds) with NaN as NULL, as `feature_info` treats them.
_NUMBER = "CASE WHEN isnan(CAST(__c__ AS DOUBLE)) THEN NULL ELSE CAST(__c__ AS DOUBLE) END"
_SECONDS = "CAST(epoch_us(__c__) AS DOUBLE) / 1e6"
_NUMBER_STATS = (("min", "min({x})"), ("max", "max({x})"), ("mean", "avg({x})"),
                 ("median", "quantile_cont({x}, 0.5)"), ("stddev", "stddev_samp({x})"),
                 ("null_count", "count(*) - count({x})"))
_STATISTICS: dict[str | None, tuple[tuple[str, str], ...]] = {
    NUMERIC: tuple((name, template.format(x=_NUMBER)) for name, template in _NUMBER_STATS),
    TIMESTAMP: tuple((name, template.format(x=_SECONDS)) for name, template in _NUMBER_STATS),
    CATEGORICAL: (("category_count", "count(DISTINCT __c__)"), ("null_count", "count(*) - count(__c__)")),
    MULTI_HOT: (("category_count", "len(list_distinct(flatten(list(__c__))))"),
                ("dimension", "coalesce(max(len(__c__)), 0)"), ("null_count", "count(*) - count(__c__)")),
    SPARSE: (("category_count", "len(list_distinct(flatten(list(list_transform(__c__, e -> e.index)))))"),
             ("dimension", "coalesce(max(len(__c__)), 0)"), ("null_count", "count(*) - count(__c__)")),
    None: (("null_count", "count(*) - count(__c__)"),),
}
_INTEGERS = ("category_count", "null_count", "dimension")


def input_feature_info(con: duckdb.DuckDBPyConnection, table: pa.Table, columns: list[str]) -> list[dict]:
    """ML.FEATURE_INFO of `columns` over the rows of `table`, computed by DuckDB in one aggregate query (the
    statistics `feature_info` gives; TRANSFORM's raw input columns are described this way)."""
    if not columns:
        return []
    items, wanted = [], []
    for i, column in enumerate(columns):
        for statistic, template in _STATISTICS[column_kind(table.schema.field(column).type)]:
            alias = f"s{i}_{statistic}"
            items.append(exp.alias_(substituted(template, __c__=column_ref(column)), identifier(alias)))
            wanted.append((i, statistic, alias))
    name = f"__toolkit_input_stats_{next(_names)}"
    con.register(name, table.select(columns))
    try:
        with one_thread(con):  # sums in one order: the same bits build after build
            found = con.sql(render(exp.select(*items).from_(table_ref(name)))).fetchall()[0]
    finally:
        con.unregister(name)
    rows = [{"input": column, "min": None, "max": None, "mean": None, "median": None, "stddev": None,
             "category_count": None, "null_count": None, "dimension": None} for column in columns]
    for (i, statistic, _), value in zip(wanted, found):
        rows[i][statistic] = None if value is None else int(value) if statistic in _INTEGERS else float(value)
    return rows
