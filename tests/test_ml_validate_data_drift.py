"""ML.VALIDATE_DATA_DRIFT against numpy/scipy, row by row, to 1e-9.
Reference: https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-validate-data-drift"""

from __future__ import annotations

from collections import Counter

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from conftest import query
from scipy.spatial.distance import jensenshannon

from toolkit.config import load_settings
from toolkit.deploy.dialect import DeployBigQuery
from toolkit.errors import ConfigError, ModelError
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.project.load import load_project
from toolkit.sql.dialect import DIALECT, DIALECTS


def _tables(rng: np.random.Generator) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, rows, shift, letters in (("base", 3000, 0.0, "abcd"), ("study", 2000, 0.7, "abcde")):
        x = rng.normal(shift, 1.0 + shift, rows)
        n = rng.integers(0, 20 + int(10 * shift), rows)
        s = rng.choice(list(letters), rows)
        nulls = rng.random(rows) < 0.05
        frame = pa.table({"x": pa.array(x, mask=nulls), "n": pa.array(n, pa.int32()), "s": pa.array(s),
                          "b": pa.array(n % 3 == 0), "st": pa.StructArray.from_arrays([pa.array(x * 2)], ["y"])})
        con.register("frame", frame)
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        con.unregister("frame")
    return con


def _drift(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    statement = sqlglot.parse_one(sql, dialect=DIALECT)
    with applied_ml_calls(con, statement) as applied:
        return con.sql(applied.sql).fetchall()


def _numpy_js(base: np.ndarray, study: np.ndarray, buckets: int) -> float:
    """Jensen–Shannon divergence (log base 2: scipy's distance squared) of equal-width histograms over both
    tables' range."""
    base, study = base[~np.isnan(base)], study[~np.isnan(study)]
    low, high = min(base.min(), study.min()), max(base.max(), study.max())
    p, _ = np.histogram(base, buckets, (low, high))
    q, _ = np.histogram(study, buckets, (low, high))
    return float(jensenshannon(p, q, base=2) ** 2)


def _frequencies(base: list, study: list) -> tuple[np.ndarray, np.ndarray]:
    b, s = Counter(base), Counter(study)
    keys = sorted(set(b) | set(s))
    return (np.array([b[k] / len(base) for k in keys]), np.array([s[k] / len(study) for k in keys]))


@pytest.mark.parametrize(("buckets", "categorical"), [(10, "L_INFTY"), (37, "JENSEN_SHANNON_DIVERGENCE")])
def test_against_numpy_and_scipy(buckets: int, categorical: str) -> None:
    con = _tables(np.random.default_rng(buckets))
    rows = _drift(con, f"SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE base, TABLE study, STRUCT({buckets} AS "
                       f"num_histogram_buckets, '{categorical}' AS categorical_metric_type, "
                       "0.05 AS numerical_default_threshold, [('s', 0.5)] AS thresholds))")
    column = {name: {side: [r[0] for r in con.execute(f'SELECT {name} FROM {side}').fetchall()]
                     for side in ("base", "study")} for name in ("x", "n", "s", "b", "st.y")}
    column["st.y"] = {side: [r[0] for r in con.execute(f"SELECT st.y FROM {side}").fetchall()]
                      for side in ("base", "study")}
    expected = []
    for name in ("x", "n"):
        value = _numpy_js(np.array(column[name]["base"], dtype=float), np.array(column[name]["study"], dtype=float),
                          buckets)
        expected.append((name, "JENSEN_SHANNON_DIVERGENCE", 0.05, value))
    for name in ("s", "b"):
        p, q = _frequencies(column[name]["base"], column[name]["study"])
        value = float(np.max(np.abs(p - q))) if categorical == "L_INFTY" else float(jensenshannon(p, q, base=2) ** 2)
        expected.append((name, categorical, 0.5 if name == "s" else 0.3, value))
    value = _numpy_js(np.array(column["st.y"]["base"]), np.array(column["st.y"]["study"]), buckets)
    expected.append(("st.y", "JENSEN_SHANNON_DIVERGENCE", 0.05, value))
    assert len(rows) == len(expected)
    for row, (name, metric, threshold, value) in zip(rows, expected):
        assert row[:3] == (name, metric, threshold)
        assert abs(row[3] - value) <= 1e-9, name
        assert row[4] == (value > threshold)


def test_defaults_identical_tables_and_is_anomaly() -> None:
    con = _tables(np.random.default_rng(1))
    same = _drift(con, "SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE base, (SELECT * FROM base))")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in same] == [
        ("x", "JENSEN_SHANNON_DIVERGENCE", 0.3, 0.0, False), ("n", "JENSEN_SHANNON_DIVERGENCE", 0.3, 0.0, False),
        ("s", "L_INFTY", 0.3, 0.0, False), ("b", "L_INFTY", 0.3, 0.0, False),
        ("st.y", "JENSEN_SHANNON_DIVERGENCE", 0.3, 0.0, False)]
    apart = _drift(con, "SELECT input, value, is_anomaly FROM ML.VALIDATE_DATA_DRIFT((SELECT 'a' AS s), "
                        "(SELECT 'b' AS s))")
    assert apart == [("s", 1.0, True)]


@pytest.mark.parametrize(("arguments", "error", "named"), [
    ("TABLE base, (SELECT x FROM base)", ModelError, "column 'n' is in the base table but not in the study"),
    ("(SELECT x FROM base), (SELECT x, n FROM study)", ModelError, "column 'n' is in the study table"),
    ("(SELECT x FROM base), (SELECT s AS x FROM study)", ModelError, "'x' is numerical in the base table"),
    ("TABLE base, (SELECT * FROM study WHERE false)", ModelError, "the study table has no rows"),
    ("(SELECT NULL::DOUBLE AS x FROM base), (SELECT x FROM study)", ModelError, "'x' is NULL in every row of the base"),
    ("TABLE base, TABLE study, STRUCT(1.0 AS categorical_default_threshold)", ModelError,
     r"categorical_default_threshold = 1.0 is outside \[0, 1\)"),
    ("TABLE base, TABLE study, STRUCT(-0.1 AS numerical_default_threshold)", ModelError, "numerical_default_thr"),
    ("TABLE base, TABLE study, STRUCT([('x', 1.5)] AS thresholds)", ModelError, "threshold of 'x' is 1.5"),
    ("TABLE base, TABLE study, STRUCT([('nope', 0.1)] AS thresholds)", ModelError, "column 'nope'"),
    ("TABLE base, TABLE study, STRUCT(0 AS num_histogram_buckets)", ConfigError, "num_histogram_buckets = 0"),
    ("TABLE base, TABLE study, STRUCT(3 AS num_bucket)", ConfigError, "no setting 'num_bucket'"),
    ("TABLE base, TABLE study, STRUCT('L1' AS categorical_metric_type)", ModelError, "categorical_metric_type 'L1'"),
    ("TABLE base, TABLE study, STRUCT('L_INFTY' AS numerical_metric_type)", ModelError, "numerical_metric_type"),
    ("TABLE base", ModelError, "takes 2 input table"),
    ("(SELECT [1] AS a), (SELECT 2 AS a)", ModelError, "'a' is ARRAY<numerical> in the base table but numerical"),
    ("(SELECT [[1]] AS a), (SELECT [[2]] AS a)", ModelError, "column 'a' is INTEGER\\[\\]\\[\\]|column 'a' is list"),
])
def test_bad_input_is_named(arguments: str, error: type, named: str) -> None:
    con = _tables(np.random.default_rng(2))
    with pytest.raises(error, match=named):
        _drift(con, f"SELECT * FROM ML.VALIDATE_DATA_DRIFT({arguments})")


@pytest.mark.parametrize("dialect", list(DIALECTS.values()))
def test_parses_generates_back_and_deploys_unchanged(dialect) -> None:
    sql = ("SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE previous, TABLE serving, "
           "STRUCT(0.2 AS categorical_default_threshold))")
    statement = sqlglot.parse_one(sql, dialect=dialect)
    assert sqlglot.parse_one(statement.sql(dialect=dialect), dialect=dialect) == statement
    assert statement.sql(dialect=DeployBigQuery) == sql


def test_a_model_file_depends_on_both_tables(project, toolkit) -> None:
    folder = project({"models/base.sql": "SELECT range AS x, 'v' || (range % 3) AS s FROM range(30)\n",
                      "models/study.sql": "SELECT range + 10 AS x, 'v' || (range % 3) AS s FROM range(30)\n",
                      "models/drift.sql": "SELECT input, value FROM ML.VALIDATE_DATA_DRIFT(TABLE {{ ref('base') }}, "
                                          "TABLE {{ ref('study') }}, STRUCT(3 AS num_histogram_buckets))\n"})
    assert {"base", "study"} <= set(load_project(load_settings(folder)).nodes["drift"].depends_on)
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    x = np.arange(30.0)
    expected = float(jensenshannon(np.histogram(x, 3, (0, 39))[0], np.histogram(x + 10, 3, (0, 39))[0],
                                   base=2) ** 2)
    rows = query(folder / "warehouse.duckdb", "SELECT * FROM drift ORDER BY input")
    assert rows[0] == ("s", 0.0) and rows[1][0] == "x" and abs(rows[1][1] - expected) <= 1e-9


def test_deploying_passes_both_functions_through(project, toolkit) -> None:
    # BigQuery runs them itself: the compiled script keeps the calls, TABLE keywords and settings as written.
    folder = project({"models/a.sql": "select 1 as x", "models/b.sql": "select 2 as x",
                      "models/drift.sql": "SELECT * FROM ML.VALIDATE_DATA_DRIFT(TABLE {{ ref('a') }}, "
                                          "TABLE {{ ref('b') }}, STRUCT(0.2 AS categorical_default_threshold))\n",
                      "models/described.sql": "SELECT * FROM ML.DESCRIBE_DATA(TABLE {{ ref('a') }}, "
                                              "STRUCT(5 AS num_quantiles))\n"})
    result = toolkit(folder, "compile", "--target", "bigquery")
    assert result.exit_code == 0, result.output
    script = (folder / "target/bigquery/deploy.sql").read_text()
    assert ("ML.VALIDATE_DATA_DRIFT(TABLE `main`.`a`, TABLE `main`.`b`, "
            "STRUCT(0.2 AS categorical_default_threshold))") in script
    assert "ML.DESCRIBE_DATA(TABLE `main`.`a`, STRUCT(5 AS num_quantiles))" in script
