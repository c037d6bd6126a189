"""ML.VALIDATE_DATA_SKEW against numpy/scipy, row by row, to 1e-9, from the statistics stored at training.
Reference: https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-validate-data-skew"""

from __future__ import annotations

from collections import Counter

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from scipy.spatial.distance import jensenshannon

from toolkit.deploy.dialect import DeployBigQuery
from toolkit.errors import ConfigError, ModelError
from toolkit.ml import save_model, train_model
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.sql.dialect import DIALECT, DIALECTS

NUMERICAL = ("x", "n")
CATEGORICAL = ("s", "b", "ts", "tags")


def _frame(rng: np.random.Generator, rows: int, shift: float, letters: str) -> pa.Table:
    x = rng.normal(shift, 1.0 + shift, rows)
    n = rng.integers(0, 20 + int(10 * shift), rows)
    nulls = rng.random(rows) < 0.05
    start = np.datetime64("2026-01-01T00:00:00")
    return pa.table({
        "x": pa.array(x, mask=nulls), "n": pa.array(n, pa.int32()), "s": pa.array(rng.choice(list(letters), rows)),
        "b": pa.array(n % 3 == 0), "ts": pa.array(start + rng.integers(0, 6 + int(4 * shift), rows) * 3600),
        "tags": pa.array([list(rng.choice(list(letters), int(k))) for k in rng.integers(0, 3, rows)]),
        "label": pa.array(x * 2 + n + rng.normal(0, 1, rows)),
    })


def _warehouse(seed: int, shift: float = 0.7) -> duckdb.DuckDBPyConnection:
    rng = np.random.default_rng(seed)
    con = duckdb.connect()
    for name, rows, move, letters in (("training", 2000, 0.0, "abcd"), ("serving", 800, shift, "abcde")):
        con.register("frame", _frame(rng, rows, move, letters))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    return con


def _train(con: duckdb.DuckDBPyConnection, name: str = "m", query: str = "SELECT * FROM training",
           transform: tuple[str, ...] = ()) -> int:
    training = train_model(con, name=name, options={"model_type": "LINEAR_REG", "input_label_cols": ["label"],
                                                    "data_split_method": "NO_SPLIT"}, query=query, transform=transform)
    return save_model(con, training)


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    with applied_ml_calls(con, sqlglot.parse_one(sql, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).fetchall()


def _values(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list:
    values = [r[0] for r in con.execute(f"SELECT {column} FROM {table}").fetchall()]
    if column in ("tags", "w"):
        return [v for row in values for v in row]
    return [v for v in values if v is not None]


def _numpy_skew(train: np.ndarray, serving: np.ndarray, buckets: int = 10) -> float:
    """Training histogram over its own range, moved onto buckets over both ranges by interpolating its cumulative
    counts linearly (values even within a bucket); serving histogram over both ranges; scipy's JS divergence."""
    low, high = train.min(), train.max()
    counts, edges = np.histogram(train, buckets, (low, high))
    union_low, union_high = min(low, serving.min()), max(high, serving.max())
    union = np.linspace(union_low, union_high, buckets + 1)
    cumulative = np.interp(union, edges, np.concatenate([[0.0], np.cumsum(counts)]))
    p = np.diff(cumulative)
    q, _ = np.histogram(serving, buckets, (union_low, union_high))
    return float(jensenshannon(p, q, base=2) ** 2)


def _l_infinity(train: list, serving: list) -> float:
    a, b = Counter(train), Counter(serving)
    return max(abs(a[k] / len(train) - b[k] / len(serving)) for k in set(a) | set(b))


def test_against_numpy_and_scipy() -> None:
    con = _warehouse(3)
    _train(con)
    rows = _run(con, "SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE serving, STRUCT(0.05 AS "
                     "numerical_default_threshold, [('s', 0.5)] AS thresholds))")
    assert [r[0] for r in rows] == ["x", "n", "s", "b", "ts", "tags"]  # the label is no feature
    for name, metric, threshold, value, is_anomaly in rows:
        train, serving = _values(con, "training", name), _values(con, "serving", name)
        if name in NUMERICAL:
            expected = _numpy_skew(np.array(train, float), np.array(serving, float))
            assert (metric, threshold) == ("JENSEN_SHANNON_DIVERGENCE", 0.05)
        else:
            expected = _l_infinity(train, serving)
            assert (metric, threshold) == ("L_INFTY", 0.5 if name == "s" else 0.3)
        assert abs(value - expected) <= 1e-9, name
        assert is_anomaly == (expected > threshold)
        assert 0 < value <= 1


def test_jensen_shannon_for_categories_too() -> None:
    con = _warehouse(4)
    _train(con)
    rows = _run(con, "SELECT input, metric, value FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE serving, "
                     "STRUCT('JENSEN_SHANNON_DIVERGENCE' AS categorical_metric_type))")
    for name, metric, value in rows:
        if name in CATEGORICAL:
            a, b = Counter(_values(con, "training", name)), Counter(_values(con, "serving", name))
            keys = sorted(set(a) | set(b), key=str)
            expected = jensenshannon([a[k] for k in keys], [b[k] for k in keys], base=2) ** 2
            assert metric == "JENSEN_SHANNON_DIVERGENCE" and abs(value - expected) <= 1e-9, name


def test_same_as_drift_from_the_training_table_when_serving_lies_within_its_range() -> None:
    con = _warehouse(5, shift=0.0)
    _train(con)
    inside = ("SELECT * EXCLUDE (label) FROM serving WHERE x BETWEEN (SELECT min(x) FROM training) AND "
              "(SELECT max(x) FROM training) AND n <= (SELECT max(n) FROM training)")
    skew = _run(con, f"SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, ({inside}))")
    drift = _run(con, f"SELECT * FROM ML.VALIDATE_DATA_DRIFT((SELECT * EXCLUDE (label) FROM training), ({inside}))")
    assert len(skew) == len(drift) == 6
    for a, b in zip(skew, drift):
        assert a[:3] == b[:3] and abs(a[3] - b[3]) <= 1e-12 and a[4] == b[4], a
    same = _run(con, "SELECT input, value FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE training)")
    assert all(value <= 1e-12 for _, value in same), same


def test_transform_models_compare_the_raw_inputs() -> None:
    con = _warehouse(6)
    _train(con, "t", "SELECT x, s, label FROM training",
           transform=("ML.STANDARD_SCALER(x) OVER () AS scaled", "s", "label"))
    rows = _run(con, "SELECT input, value FROM ML.VALIDATE_DATA_SKEW(MODEL t, TABLE serving)")
    assert [r[0] for r in rows] == ["x", "s"]  # before TRANSFORM: not `scaled`
    x = _numpy_skew(np.array(_values(con, "training", "x")), np.array(_values(con, "serving", "x")))
    assert abs(rows[0][1] - x) <= 1e-9
    assert abs(rows[1][1] - _l_infinity(_values(con, "training", "s"), _values(con, "serving", "s"))) <= 1e-9


def test_a_chosen_version_and_a_model_trained_before_statistics_were_kept() -> None:
    con = _warehouse(7)
    _train(con)
    _train(con, query="SELECT * FROM serving")  # version 2 trained on the serving rows: no skew
    latest = _run(con, "SELECT max(value) FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE serving)")[0][0]
    first = _run(con, "SELECT max(value) FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE serving, STRUCT(1 AS version))")
    assert latest <= 1e-12 and first[0][0] > 0.1
    con.execute("DELETE FROM _toolkit.model_data_statistics WHERE version = 1")
    with pytest.raises(ModelError, match="model m version 1 has no training statistics") as raised:
        _run(con, "SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE serving, STRUCT(1 AS version))")
    assert "toolkit build --select m" in raised.value.hint


@pytest.mark.parametrize(("serving", "settings", "error", "named"), [
    ("(SELECT x, s, b, ts, tags FROM serving)", "", ModelError, "no column 'n', an input of the model"),
    ("(SELECT * REPLACE (n::BIGINT AS n) FROM serving)", "", None, None),  # BIGINT for INTEGER: fine
    ("(SELECT * REPLACE (CAST(n AS VARCHAR) AS n) FROM serving)", "", ModelError,
     r"column 'n' is categorical \(string\) in the serving table but was numerical \(int32\) in training"),
    ("(SELECT * REPLACE ('a' AS tags) FROM serving)", "", ModelError, "'tags' is categorical .* was ARRAY<categ"),
    ("(SELECT * FROM serving WHERE false)", "", ModelError, "the serving table has no rows"),
    ("(SELECT * REPLACE (NULL::DOUBLE AS x) FROM serving)", "", ModelError, "'x' is NULL in every row of the serv"),
    ("TABLE serving", "STRUCT(1.0 AS categorical_default_threshold)", ModelError,
     r"categorical_default_threshold = 1.0 is outside \[0, 1\)"),
    ("TABLE serving", "STRUCT(-0.5 AS numerical_default_threshold)", ModelError, "numerical_default_threshold"),
    ("TABLE serving", "STRUCT([('x', 1.5)] AS thresholds)", ModelError, "the threshold of 'x' is 1.5"),
    ("TABLE serving", "STRUCT([('label', 0.1)] AS thresholds)", ModelError, "column 'label'"),
    ("TABLE serving", "STRUCT(10 AS num_histogram_buckets)", ConfigError, "no setting 'num_histogram_buckets'"),
    ("TABLE serving", "STRUCT('L1' AS categorical_metric_type)", ModelError, "categorical_metric_type 'L1'"),
    ("TABLE serving", "STRUCT(TRUE AS enable_visualization_link)", ModelError, "enable_visualization_link"),
])
def test_bad_input_is_named(serving: str, settings: str, error: type | None, named: str | None) -> None:
    con = _warehouse(8)
    _train(con)
    sql = f"SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, {serving}{', ' + settings if settings else ''})"
    if error is None:
        assert len(_run(con, sql)) == 6
        return
    with pytest.raises(error, match=named):
        _run(con, sql)


def test_unknown_model_and_extra_columns() -> None:
    con = _warehouse(9)
    _train(con)
    with pytest.raises(ModelError, match='no model named mm in the model store .did you mean "m"'):
        _run(con, "SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL mm, TABLE serving)")
    extra = _run(con, "SELECT input FROM ML.VALIDATE_DATA_SKEW(MODEL m, (SELECT *, 1 AS id, [[1]] AS odd "
                      "FROM serving))")
    assert [r[0] for r in extra] == ["x", "n", "s", "b", "ts", "tags"]  # left out, as BigQuery does


@pytest.mark.parametrize("dialect", list(DIALECTS.values()))
def test_parses_generates_back_and_deploys_unchanged(dialect) -> None:
    sql = ("SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, TABLE serving, "
           "STRUCT(0.2 AS categorical_default_threshold))")
    statement = sqlglot.parse_one(sql, dialect=dialect)
    assert sqlglot.parse_one(statement.sql(dialect=dialect), dialect=dialect) == statement
    assert statement.sql(dialect=DeployBigQuery) == sql


def test_buckets_are_numpys_even_for_values_on_the_edges() -> None:
    from sqlglot import exp

    from toolkit.ml.features.histograms import bucket, bucket_of

    con = duckdb.connect()
    x = np.concatenate([np.arange(0, 101, dtype=float), np.round(np.linspace(-3.3, 7.7, 1001), 2), [0.1, 0.3, 0.7]])
    con.register("t", pa.table({"x": x}))
    for low, high, n in ((float(x.min()), float(x.max()), 10), (0.0, 100.0, 7), (-3.3, 100.0, 37), (0.1, 0.7, 3)):
        inside = x[(x >= low) & (x <= high)]
        sql = bucket(exp.column("x"), float(low), float(high), n).sql(dialect="duckdb")
        got = dict(con.execute(f"SELECT {sql}, count(*) FROM t WHERE x BETWEEN {low!r} AND {high!r} GROUP BY 1")
                   .fetchall())
        expected, _ = np.histogram(inside, n, (low, high))
        assert [got.get(i, 0) for i in range(n)] == expected.tolist(), (low, high, n)
        assert np.bincount([bucket_of(v, low, high, n) for v in inside], minlength=n).tolist() == expected.tolist()


def test_rebucketed_spreads_counts_evenly() -> None:
    from toolkit.ml.features.histograms import rebucketed

    rng = np.random.default_rng(11)
    for _ in range(20):
        counts = rng.integers(0, 50, 10).tolist()
        low, high = sorted(rng.normal(0, 5, 2))
        new_low, new_high = low - rng.random() * 3, high + rng.random() * 3
        moved = rebucketed(counts, low, high, new_low, new_high)
        cumulative = np.interp(np.linspace(new_low, new_high, 11), np.linspace(low, high, 11),
                               np.concatenate([[0.0], np.cumsum(counts)]))
        assert np.allclose([moved.get(i, 0.0) for i in range(10)], np.diff(cumulative), rtol=0, atol=1e-9)
        assert rebucketed(counts, low, high, low, high) == {i: float(c) for i, c in enumerate(counts) if c}
    assert rebucketed([5, 0, 0], 2.0, 2.0, 0.0, 3.0) == {2: 5.0}  # one value: whole into its bucket


def test_drift_compares_arrays_by_their_elements() -> None:
    con = duckdb.connect()
    rng = np.random.default_rng(12)
    for name, shift in (("base", 0.0), ("study", 1.0)):
        frame = pa.table({"v": [list(rng.normal(shift, 1, int(k))) for k in rng.integers(1, 4, 500)],
                          "w": [list(rng.choice(list("abc" if shift else "ab"), int(k))) for k in rng.integers(0, 3, 500)]})
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    rows = _run(con, "SELECT input, metric, value FROM ML.VALIDATE_DATA_DRIFT(TABLE base, TABLE study)")
    v = {side: np.array([e for r in con.execute(f"SELECT v FROM {side}").fetchall() for e in r[0]])
         for side in ("base", "study")}
    low, high = min(a.min() for a in v.values()), max(a.max() for a in v.values())
    p, q = (np.histogram(v[side], 10, (low, high))[0] for side in ("base", "study"))
    w = {side: _values(con, side, "w") for side in ("base", "study")}
    assert rows[0][:2] == ("v", "JENSEN_SHANNON_DIVERGENCE") and abs(rows[0][2] - jensenshannon(p, q, base=2) ** 2) <= 1e-9
    assert rows[1][:2] == ("w", "L_INFTY") and abs(rows[1][2] - _l_infinity(w["base"], w["study"])) <= 1e-9


def test_sparse_tensors_are_compared_on_their_values() -> None:
    con = duckdb.connect()
    rng = np.random.default_rng(13)
    for name, shift in (("training", 0.0), ("serving", 0.5)):
        vectors = [[{"index": int(i), "value": float(v)} for i, v in zip(rng.choice(5, int(k), replace=False),
                                                                          rng.normal(shift, 1, int(k)))]
                   for k in rng.integers(1, 4, 600)]
        con.register("frame", pa.table({"vec": pa.array(vectors, pa.list_(pa.struct([("index", pa.int32()),
                                                                                      ("value", pa.float64())]))),
                                        "label": pa.array(rng.normal(0, 1, 600))}))
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    _train(con)
    (name, metric, value), = _run(con, "SELECT input, metric, value FROM ML.VALIDATE_DATA_SKEW(MODEL m, "
                                       "TABLE serving)")
    values = {side: np.array([e["value"] for r in con.execute(f"SELECT vec FROM {side}").fetchall() for e in r[0]])
              for side in ("training", "serving")}
    assert (name, metric) == ("vec", "JENSEN_SHANNON_DIVERGENCE")
    assert abs(value - _numpy_skew(values["training"], values["serving"])) <= 1e-9


def test_nan_and_infinities_are_left_out_like_nulls() -> None:
    """A NaN or an infinity has no equal-width bucket: the distributions count the finite values only."""
    con = _warehouse(5)
    for table, every in (("training", 97), ("serving", 89)):
        con.execute(f"UPDATE {table} SET x = CASE WHEN rowid % {every} = 0 THEN 'NaN'::DOUBLE "
                    f"WHEN rowid % {every} = 1 THEN 'inf'::DOUBLE WHEN rowid % {every} = 2 THEN '-inf'::DOUBLE "
                    "ELSE x END")
    finite = {table: np.array([v for v in _values(con, table, "x") if np.isfinite(v)]) for table in ("training",
                                                                                                     "serving")}
    (value,), = _run(con, "SELECT value FROM ML.VALIDATE_DATA_DRIFT(TABLE training, TABLE serving) "
                          "WHERE input = 'x'")
    low = min(finite["training"].min(), finite["serving"].min())
    high = max(finite["training"].max(), finite["serving"].max())
    p, _ = np.histogram(finite["training"], 10, (low, high))
    q, _ = np.histogram(finite["serving"], 10, (low, high))
    assert abs(value - jensenshannon(p, q, base=2) ** 2) <= 1e-9
