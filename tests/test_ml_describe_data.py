"""ML.DESCRIBE_DATA against numpy / collections, row by row, and its parsing in both dialects.
Reference: https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-describe-data"""

from __future__ import annotations

import json
import math
from collections import Counter

import duckdb
import numpy as np
import pytest
import sqlglot
from conftest import query
from test_bigquery_dialect import BIGQUERY, _births

from toolkit.config import load_settings
from toolkit.deploy.dialect import DeployBigQuery
from toolkit.errors import ConfigError, ModelError
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.project.load import load_project
from toolkit.sql.dialect import DIALECT, DIALECTS

ROWS = 500


@pytest.fixture(scope="module")
def data() -> tuple[duckdb.DuckDBPyConnection, list[tuple]]:
    rng = np.random.default_rng(7)
    con = duckdb.connect()
    ints = rng.integers(-3, 4, ROWS)
    floats = np.where(rng.random(ROWS) < 0.1, np.nan, rng.normal(2.0, 3.0, ROWS))
    words = rng.choice(["a", "bb", "ccc", "dddd"], ROWS, p=[0.5, 0.3, 0.15, 0.05])
    lengths = rng.integers(0, 4, ROWS)
    con.execute("CREATE TABLE data (i BIGINT, f DOUBLE, w VARCHAR, b BOOLEAN, d DATE, a DOUBLE[], s STRUCT(x INT, y VARCHAR))")
    rows = [(int(ints[k]), None if math.isnan(floats[k]) else float(floats[k]), str(words[k]), bool(ints[k] > 0),
             f"2024-01-{1 + k % 28:02d}", [float(v) for v in rng.normal(size=lengths[k])],
             {"x": int(k % 5), "y": str(words[(k + 1) % ROWS])}) for k in range(ROWS)]
    con.executemany("INSERT INTO data VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    return con, rows


def _describe(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, dict]:
    statement = sqlglot.parse_one(sql, dialect=DIALECT)
    with applied_ml_calls(con, statement) as applied:
        relation = con.sql(applied.sql)
        return {row[0]: dict(zip(relation.columns, row)) for row in relation.fetchall()}


def _discrete_quantiles(values: list[float], count: int) -> list[float]:
    """APPROX_QUANTILES(x, count)'s count + 1 boundaries, exactly: the inverse of the empirical distribution
    function at i / count (numpy's 'inverted_cdf'), each a value of the column."""
    fractions = [i / count for i in range(count + 1)]
    return [type(values[0])(v) for v in np.quantile(np.array(values), fractions, method="inverted_cdf")]


def _numerical(values: list, count: int) -> dict:
    present = [float(v) for v in values if v is not None]
    return {"num_nulls": len(values) - len(present), "num_zeros": sum(v == 0 for v in present),
            "min": str(min(present)), "max": str(max(present)), "mean": float(np.mean(present)),
            "stdev": float(np.std(present, ddof=1)), "median": float(np.median(present)),
            "quantiles": _discrete_quantiles(present, count), "num_values": len(present), "unique": None,
            "avg_string_length": None, "top_values": []}


def _categorical(values: list, top_k: int) -> dict:
    present = [v for v in values if v is not None]
    counts = sorted(Counter(present).items(), key=lambda item: (item[1], item[0]), reverse=True)
    return {"num_nulls": len(values) - len(present), "num_zeros": None, "min": min(present), "max": max(present),
            "mean": None, "median": None, "quantiles": None, "unique": len(counts), "num_values": len(present),
            "avg_string_length": float(np.mean([len(v) for v in present])),
            "top_values": [{"value": v, "count": c} for v, c in counts[:top_k]]}


def _check(actual: dict, expected: dict) -> None:
    for key, value in expected.items():
        if isinstance(value, float):
            assert actual[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
        elif isinstance(value, list) and value and isinstance(value[0], float):
            assert actual[key] == pytest.approx(value, rel=1e-12), key
        else:
            assert actual[key] == value, key


def test_every_column_against_numpy(data) -> None:
    con, rows = data
    # Output columns, their defaults (2 quantiles, 10 array-length quantiles, top 1) and the casts of the page.
    described = _describe(con, "SELECT * FROM ML.DESCRIBE_DATA(TABLE data, STRUCT(4 AS num_quantiles, 3 AS top_k))")
    assert list(described) == ["i", "f", "w", "b", "d", "a", "s.x", "s.y"]
    assert all(row["num_rows"] == ROWS for row in described.values())
    _check(described["i"], _numerical([r[0] for r in rows], 4))
    _check(described["f"], _numerical([r[1] for r in rows], 4))
    _check(described["s.x"], _numerical([r[6]["x"] for r in rows], 4))
    _check(described["w"], _categorical([r[2] for r in rows], 3))
    _check(described["s.y"], _categorical([r[6]["y"] for r in rows], 3))
    _check(described["b"], _categorical([str(r[3]).lower() for r in rows], 3))  # BOOL cast to STRING
    _check(described["d"], _categorical([r[4] for r in rows], 3))  # DATE cast to STRING
    # ARRAY: elements unnested and described; lengths summarised.
    elements = [v for r in rows for v in r[5]]
    _check(described["a"], _numerical(elements, 4))
    lengths = [len(r[5]) for r in rows]
    assert (described["a"]["min_array_length"], described["a"]["max_array_length"],
            described["a"]["total_array_length"]) == (min(lengths), max(lengths), sum(lengths))
    assert described["a"]["avg_array_length"] == pytest.approx(np.mean(lengths), rel=1e-12)
    assert described["a"]["array_length_quantiles"] == _discrete_quantiles(lengths, 10)  # default 10
    assert all(described[name]["min_array_length"] is None for name in ("i", "w", "s.x"))
    assert all(row["dimension"] is None for row in described.values())


def test_defaults_and_a_query_input(data) -> None:
    con, rows = data
    described = _describe(con, "SELECT * FROM ML.DESCRIBE_DATA((SELECT i, w FROM data WHERE i > 0))")
    kept = [r for r in rows if r[0] > 0]
    _check(described["i"], _numerical([r[0] for r in kept], 2))  # num_quantiles defaults to 2: min, median, max
    _check(described["w"], _categorical([r[2] for r in kept], 1))  # top_k defaults to 1


def test_a_sparse_tensor_and_an_all_null_column() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT [{'index': 0, 'value': 1.5}, {'index': r::INT, 'value': r * 1.0}] AS v, "
                "NULL::DOUBLE AS n, NULL::VARCHAR AS s FROM range(1, 6) t(r)")
    described = _describe(con, "SELECT * FROM ML.DESCRIBE_DATA(TABLE t)")
    assert described["v"]["dimension"] == 6  # MAX(index) + 1
    _check(described["v"], _numerical([1.5] * 5 + [1.0, 2.0, 3.0, 4.0, 5.0], 2))
    assert (described["n"]["num_nulls"], described["n"]["num_values"], described["n"]["mean"]) == (5, 0, None)
    assert (described["s"]["num_nulls"], described["s"]["unique"], described["s"]["top_values"]) == (5, 0, [])


def test_an_empty_table_gives_zero_rows_per_column() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t (x DOUBLE, s VARCHAR)")
    described = _describe(con, "SELECT * FROM ML.DESCRIBE_DATA(TABLE t)")
    assert [(r["name"], r["num_rows"], r["num_values"], r["top_values"]) for r in described.values()] == [
        ("x", 0, 0, []), ("s", 0, 0, [])]


@pytest.mark.parametrize(("sql", "error", "named"), [
    ("ML.DESCRIBE_DATA(TABLE t, STRUCT(3 AS num_buckets))", ConfigError, "no setting 'num_buckets'"),
    ("ML.DESCRIBE_DATA(TABLE t, STRUCT(0 AS num_quantiles))", ConfigError, "num_quantiles = 0"),
    ("ML.DESCRIBE_DATA(TABLE t, STRUCT(10001 AS top_k))", ConfigError, "top_k = 10001"),
    ("ML.DESCRIBE_DATA(TABLE t, STRUCT(0 AS num_array_length_quantiles))", ConfigError, "num_array_length_quantiles"),
    ("ML.DESCRIBE_DATA((SELECT MAP {'a': 1} AS m))", ModelError, "column 'm' is map"),
])
def test_bad_input_is_named(sql: str, error: type, named: str) -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    with pytest.raises(error, match=named):
        _describe(con, f"SELECT * FROM {sql}")


def test_a_model_is_refused_by_the_parser() -> None:
    with pytest.raises(sqlglot.errors.ParseError, match="reads a table, not a model"):
        sqlglot.parse_one("SELECT * FROM ML.DESCRIBE_DATA(MODEL m, TABLE t)", dialect=DIALECT)


@pytest.mark.parametrize("dialect", list(DIALECTS.values()))
def test_parses_and_generates_back(dialect: str) -> None:
    sql = "SELECT * FROM ML.DESCRIBE_DATA(TABLE flights, STRUCT(5 AS num_quantiles))"
    statement = sqlglot.parse_one(sql, dialect=dialect)
    again = sqlglot.parse_one(statement.sql(dialect=dialect), dialect=dialect)
    assert again == statement
    # Deployed to BigQuery as the BigQuery function it is, TABLE keyword kept.
    assert statement.sql(dialect=DeployBigQuery) == sql


def test_query_and_model_files_in_both_dialects(project, toolkit) -> None:
    folder = project({"models/base.sql": "SELECT range AS x, 'v' || (range % 3) AS s FROM range(30)\n",
                      "models/described.sql": "SELECT name, num_rows, quantiles FROM ML.DESCRIBE_DATA("
                                              "TABLE {{ ref('base') }}, STRUCT(3 AS num_quantiles))\n"})
    assert "base" in load_project(load_settings(folder)).nodes["described"].depends_on
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert query(folder / "warehouse.duckdb", "SELECT * FROM described ORDER BY name") == [
        ("s", 30, None), ("x", 30, [0.0, 9.0, 19.0, 29.0])]
    shown = toolkit(folder, "query", "--format", "json",
                    "SELECT name, top_values FROM ML.DESCRIBE_DATA(TABLE base, STRUCT(5 AS num_quantiles))")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)[1] == {"name": "s", "top_values": [{"value": "v2", "count": 10}]}


def test_a_bigquery_project_describes_a_dataset_table(project, toolkit) -> None:
    folder = project({"pyproject.toml": BIGQUERY,
                      "models/stg.sql": "SELECT weeks, plurality FROM {{ source('raw', 'births') }}\n",
                      "models/described.sql": "SELECT name, num_rows FROM ML.DESCRIBE_DATA(TABLE `natality.stg`, "
                                              "STRUCT(3 AS top_k))\n"})
    _births(folder)
    assert "stg" in load_project(load_settings(folder)).nodes["described"].depends_on
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert query(folder / "warehouse.duckdb", "SELECT * FROM main.described ORDER BY name") == [
        ("plurality", 60), ("weeks", 60)]
    shown = toolkit(folder, "query", "--format", "json", "SELECT name, quantiles FROM ML.DESCRIBE_DATA("
                    "TABLE `my-project.natality.stg`, STRUCT(1 AS num_quantiles)) WHERE name = \"weeks\"")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output) == [{"name": "weeks", "quantiles": [0.0, 6.0]}]
