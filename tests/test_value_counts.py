"""The monitoring statistics computed from value counts (toolkit.ml.features.value_counts) against DuckDB's own
aggregates over the rows (quantile_disc, median, AVG, STDDEV_SAMP, MIN/MAX as text, histogram), against
numpy.histogram and the SQL bucket expression, on NULL, NaN, infinities, values on bucket edges, all-NULL columns
and empty tables."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from scipy.spatial.distance import jensenshannon

import toolkit.ml.features.value_counts as value_counts_module
from toolkit.ml.features.histograms import bucket, counts_in_buckets
from toolkit.ml.features.value_counts import NUMERICAL, disc_positions, fraction_texts, value_counts
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.sql.dialect import DIALECT

ROWS = 301  # odd, and NULL-free columns of an even count below


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    with applied_ml_calls(con, sqlglot.parse_one(sql, dialect=DIALECT)) as applied:
        relation = con.sql(applied.sql)
        return [dict(zip(relation.columns, row)) for row in relation.fetchall()]


@pytest.mark.parametrize("count", [1, 2, 3, 6, 7, 10, 20_000])  # 20,000: fractions like 5e-05, a DOUBLE list
def test_quantile_ranks_are_duckdbs(count: int) -> None:
    fractions = fraction_texts(count)
    largest = 30 if count > 100 else 130
    listed = ", ".join(fractions)
    # rows 0 … n-1 for each n: quantile_disc returns the rank it picks
    found = duckdb.sql(f"SELECT n, quantile_disc(r, [{listed}]) FROM range(1, {largest}) a(n), range(n) b(r) "
                       "GROUP BY n ORDER BY n").fetchall()
    for n, ranks in found:
        assert disc_positions(fractions, n) == ranks, n


def _table(rng: np.random.Generator) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    few = rng.integers(-4, 5, ROWS)
    spread = np.round(rng.normal(0, 1e6, ROWS), 2)
    special = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, 2.5], ROWS)
    nulls = rng.random(ROWS) < 0.1
    frame = pa.table({
        "small": pa.array(few, pa.int16(), mask=nulls), "big": pa.array(few * 2**55, pa.int64()),
        "spread": pa.array(spread, mask=nulls), "even": pa.array(np.where(np.arange(ROWS) < ROWS - 1, few, None),
                                                                 pa.float64()),
        "special": pa.array(special), "nothing": pa.array([None] * ROWS, pa.float64()),
        "stamp": pa.array((few.astype("int64") * 3_600_000_000).astype("datetime64[us]"), mask=nulls),
        "flag": pa.array(few > 0, mask=nulls), "word": pa.array(rng.choice(["ä", "bb", "", "c d"], ROWS)),
        "raw": pa.array([bytes([int(v) % 256]) for v in few], pa.binary()),
    })
    con.register("frame", frame)
    con.execute("CREATE TABLE data AS SELECT * FROM frame")
    con.unregister("frame")
    return con


NUMERICAL_COLUMNS = ["small", "big", "spread", "even", "special", "nothing"]
CATEGORICAL_COLUMNS = ["stamp", "flag", "word", "raw"]


def _same(actual: object, expected: object) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, list):
        return len(actual) == len(expected) and all(_same(a, e) for a, e in zip(actual, expected))
    return actual == expected


# 50: 'spread' has mostly distinct values, so it is sorted; and 4 grouping sets per query, so 3 passes
@pytest.mark.parametrize("probe_rows", [10_000, 50])
@pytest.mark.parametrize(("quantiles", "where"), [(6, ""), (10, "WHERE small > 0"), (3, "WHERE false")])
def test_describe_equals_duckdbs_aggregates_over_the_rows(quantiles: int, where: str, probe_rows: int,
                                                           monkeypatch) -> None:
    monkeypatch.setattr(value_counts_module, "PROBE_ROWS", probe_rows)
    if probe_rows == 50:
        monkeypatch.setattr(value_counts_module, "SETS_PER_QUERY", 4)
    con = _table(np.random.default_rng(quantiles))
    keys = {0: sqlglot.exp.column("spread"), 1: sqlglot.exp.column("small")}
    assert value_counts_module.many_distinct(con, sqlglot.exp.to_table("data"), keys, "TEST") == (
        {0} if probe_rows == 50 else set())
    rows = {r["name"]: r for r in _run(con, f"SELECT * FROM ML.DESCRIBE_DATA((SELECT * FROM data {where}), "
                                            f"STRUCT({quantiles} AS num_quantiles, 2 AS top_k))")}
    fractions = ", ".join(fraction_texts(quantiles))
    for name in NUMERICAL_COLUMNS:
        x = f"CAST({name} AS DOUBLE)"
        expected = con.execute(
            f"SELECT count(*), count(*) - count({x}), sum(CASE WHEN {x} = 0 THEN 1 ELSE 0 END), "
            f"CAST(min({x}) AS VARCHAR), CAST(max({x}) AS VARCHAR), CAST(median({name}) AS DOUBLE), "
            f"CAST(quantile_disc({name}, [{fractions}]) AS DOUBLE[]), count({x}) FROM data {where}").fetchall()[0]
        actual = rows[name]
        got = (actual["num_rows"], actual["num_nulls"], actual["num_zeros"], actual["min"], actual["max"],
               actual["median"], actual["quantiles"], actual["num_values"])
        assert all(_same(a, e) for a, e in zip(got, expected)), (name, got, expected)
        values = [v for (v,) in con.execute(f"SELECT {x} FROM data {where}").fetchall() if v is not None]
        if values:  # DuckDB's STDDEV_SAMP gives NaN on infinities: numpy's float64 sums instead
            with np.errstate(invalid="ignore"):
                mean = float(np.mean(values))
            assert _same(actual["mean"], mean) or actual["mean"] == pytest.approx(mean, rel=1e-12), name
            if len(values) > 1 and np.all(np.isfinite(values)):
                assert actual["stdev"] == pytest.approx(np.std(values, ddof=1), rel=1e-12), name
        else:
            assert (actual["mean"], actual["stdev"], actual["median"]) == (None, None, None)
    for name in CATEGORICAL_COLUMNS:
        x = f"CAST({name} AS VARCHAR)"
        expected = con.execute(f"SELECT count(*) - count({x}), min({x}), max({x}), avg(length({x})), count({x}), "
                               f"histogram({x}) FROM data {where}").fetchall()[0]
        actual = rows[name]
        got = (actual["num_nulls"], actual["min"], actual["max"], actual["avg_string_length"], actual["num_values"])
        assert got[:3] == expected[:3] and got[4] == expected[4], name
        assert got[3] == pytest.approx(expected[3], rel=1e-15) if expected[3] is not None else got[3] is None
        counts = sorted((expected[5] or {}).items(), key=lambda item: (item[1], item[0]), reverse=True)
        assert actual["unique"] == len(counts)
        assert [(t["value"], t["count"]) for t in actual["top_values"]] == counts[:2], name


def _bucketed_in_sql(values: list[float], low: float, high: float, buckets: int) -> list[int]:
    con = duckdb.connect()
    con.execute("CREATE TABLE v AS SELECT unnest(?::DOUBLE[]) AS x", [values])
    index = bucket(sqlglot.exp.column("x"), low, high, buckets).sql(dialect=DIALECT)
    found = dict(con.execute(f"SELECT {index}, count(*) FROM v GROUP BY ALL").fetchall())
    return [found.get(i, 0) for i in range(buckets)]


@pytest.mark.parametrize(("low", "high", "buckets"), [(0.0, 1.0, 10), (-3.0, 7.3, 7), (1e-9, 1e-9 + 3e-15, 3)])
def test_buckets_on_their_edges_are_numpys(low: float, high: float, buckets: int) -> None:
    edges = np.linspace(low, high, buckets + 1)
    values = [*edges.tolist(), *np.nextafter(edges, np.inf).tolist(), *np.nextafter(edges, -np.inf).tolist()]
    values = [v for v in values if low <= v <= high] + [low, high, (low + high) / 2]
    con = duckdb.connect()
    con.execute("CREATE TABLE v AS SELECT unnest(?::DOUBLE[]) AS x UNION ALL SELECT NULL UNION ALL "
                "SELECT 'nan'::DOUBLE UNION ALL SELECT 'inf'::DOUBLE", [values])
    _, (counted,) = value_counts(con, sqlglot.exp.to_table("v"), [(sqlglot.exp.column("x"), NUMERICAL)], "TEST",
                                 finite=True)
    assert counted.count == len(values)
    found = counts_in_buckets(counted.values, counted.counts, low, high, buckets)
    assert found == np.histogram(values, buckets, (low, high))[0].tolist()
    assert found == _bucketed_in_sql(values, low, high, buckets)


def test_drift_on_bucket_edges_with_nan_inf_and_nulls_against_scipy() -> None:
    con = duckdb.connect()
    base = [i / 10 for i in range(11)] * 3 + [0.3, 0.3]
    study = [i / 10 for i in range(0, 11, 2)] + [0.35, 1.0]
    for name, values in (("base", base), ("study", study)):
        con.execute(f"CREATE TABLE {name} AS SELECT unnest(?::DOUBLE[]) AS x UNION ALL SELECT NULL UNION ALL "
                    "SELECT 'nan'::DOUBLE UNION ALL SELECT '-inf'::DOUBLE", [values])
    (row,) = _run(con, "SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE base, TABLE study)")
    p, _ = np.histogram(base, 10, (0.0, 1.0))
    q, _ = np.histogram(study, 10, (0.0, 1.0))
    assert abs(row["value"] - jensenshannon(p, q, base=2) ** 2) <= 1e-12


def test_drift_is_the_same_whether_a_column_is_counted_or_bucketed_in_sql(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    con = duckdb.connect()
    for name, rows, shift in (("base", 3000, 0.0), ("study", 2000, 0.4)):
        x = np.round(rng.normal(shift, 1.0, rows), 1)  # few values, on bucket edges of [min, max]
        x[:5] = [np.nan, np.inf, -np.inf, x.min(), x.max()]
        frame = pa.table({"x": pa.array(x, mask=rng.random(rows) < 0.05), "y": rng.normal(shift, 1.0, rows),
                          "n": rng.integers(0, 20, rows)})
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    sql = "SELECT input, value FROM ML.VALIDATE_DATA_DRIFT(TABLE base, TABLE study, STRUCT(7 AS num_histogram_buckets))"
    counted = _run(con, sql)
    monkeypatch.setattr(value_counts_module, "PROBE_ROWS", 100)  # x and y now nearly all differ in the first rows
    assert value_counts_module.many_distinct(con, sqlglot.exp.to_table("base"), {0: sqlglot.exp.column("y"),
                                             1: sqlglot.exp.column("n")}, "TEST") == {0}
    assert _run(con, sql) == counted
    for row in counted:
        base, study = ([v for (v,) in con.execute(f"SELECT {row['input']} FROM {t}").fetchall()
                        if v is not None and math.isfinite(v)] for t in ("base", "study"))
        low, high = min(base + study), max(base + study)
        p, _ = np.histogram(base, 7, (low, high))
        q, _ = np.histogram(study, 7, (low, high))
        assert abs(row["value"] - jensenshannon(p, q, base=2) ** 2) <= 1e-12, row["input"]
