"""The server's Python evaluation of compiled predictions (toolkit.serve.evaluate) against DuckDB running the same
compiled SQL: every model type's query, on random rows and on edge cases (NULLs, NaN, infinities, huge and tiny
numbers, unseen and empty categories, extreme integers), compared value by value with floats bit for bit."""

from __future__ import annotations

import dataclasses
import math
import random
import struct
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from ml_data import connect
from sqlglot import exp
from test_serve import MODELS, _train

from toolkit.ml.store.versions import load_model, load_prediction
from toolkit.serve.evaluate import Unsupported, build_program, run_checked, run_json_checked
from toolkit.serve.evaluate_columns import build_column_program
from toolkit.serve.evaluate_types import Fallback
from toolkit.serve.predictor import INPUT, Engine
from toolkit.serve.request import jsonable
from toolkit.sql.quoting import parse, render
from toolkit.warehouse.farmhash_sql import MACRO_NAME, install

SHOP = """CREATE TABLE shop AS SELECT 'c' || (i % 40) AS cat, (i % 7)::SMALLINT AS day,
    ((i * 0.37) % 11 - 5)::DOUBLE AS x, 'p' || (i % 13) AS tail, CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END AS a, ((i * 7919) % 100)::BIGINT AS n,
    ((i * 0.37) % 11 - 5) + (i % 40) * 0.1 + CASE WHEN i % 3 = 0 THEN 1 ELSE 0 END > 2 AS high
    FROM range(400) t(i)"""
SHOP_TRANSFORM = ["ML.HASH_BUCKETIZE(tail, 8) AS tail_bucket", "ML.FEATURE_CROSS(STRUCT(a, cat)) AS cross",
                  "ML.BUCKETIZE(x, [-2, 0, 2]) AS x_bucket", "ML.STANDARD_SCALER(n) OVER () AS n_z", "day", "cat",
                  "label"]
# Models with long vocabularies (lookup joins), hash buckets, crosses, buckets and small integers.
SHOP_MODELS = {
    "shop_logistic": ("LOGISTIC_REG", "SELECT high AS label, * EXCLUDE (high) FROM shop", SHOP_TRANSFORM,
                      {"max_iterations": 20}),
    "shop_linear": ("LINEAR_REG", "SELECT x AS label, cat, day, n, a FROM shop", (),
                    {"data_split_method": "NO_SPLIT"}),
    "shop_kmeans": ("KMEANS", "SELECT cat, x, n FROM shop", (), {"num_clusters": 4}),
}
COMPILED = [name for name, spec in MODELS.items() if spec[0] not in ("DNN_CLASSIFIER", "DNN_REGRESSOR",
                                                                     "TRANSFORM_ONLY")]


@pytest.fixture(scope="module")
def store() -> duckdb.DuckDBPyConnection:
    con = connect()
    for name in COMPILED:
        _train(con, name)
    con.execute(SHOP)
    from toolkit.ml.store.versions import save_model
    from toolkit.ml.training.train import train_model
    for name, (model_type, query, transform, options) in SHOP_MODELS.items():
        save_model(con, train_model(con, name=name, options={"model_type": model_type, **options}, query=query,
                                    transform=transform))
    return con


def _source(name: str) -> str:
    if name in SHOP_MODELS:
        return "SELECT * EXCLUDE (high) FROM shop"
    rows = MODELS[name][4]
    return rows.split(" WHERE ")[0].split(" ORDER BY ")[0]


_EDGE_FLOATS = [None, 0.0, -0.0, 1e300, -1e300, 1.7976931348623157e308, 5e-324, -5e-324, math.inf, -math.inf,
                math.nan, 123.456, -2.5]
_EDGE_TEXT = [None, "", "zzz-unseen", "Adelie", "c39", "a_c1", "é∑\u0000x", " c1"]


def _edge_values(field: pa.Field) -> list[Any]:
    kind = field.type
    if pa.types.is_floating(kind):
        return _EDGE_FLOATS
    if pa.types.is_integer(kind):
        info = {8: 127, 16: 32767, 32: 2**31 - 1, 64: 2**63 - 1}[kind.bit_width]
        return [None, 0, -1, 1, info, -info - 1, info // 3]
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _EDGE_TEXT
    return [None]


def _rows(con: duckdb.DuckDBPyConnection, name: str, seed: int) -> pa.Table:
    """Random rows of the model's data, then rows each with one column set to an edge value, and an all-NULL
    row."""
    sample = con.sql(_source(name)).to_arrow_table()
    generator = random.Random(seed)
    base = sample.to_pylist()
    rows = [dict(generator.choice(base)) for _ in range(40)]
    for field in sample.schema:
        for value in _edge_values(field):
            row = dict(generator.choice(base))
            row[field.name] = value
            rows.append(row)
    rows.append({field.name: None for field in sample.schema})
    return pa.Table.from_pylist(rows, schema=sample.schema)


def _bits(value: Any) -> Any:
    """A value with every float as its IEEE bits (any NaN as one marker) and its Python type kept."""
    if isinstance(value, float):
        return ("nan",) if math.isnan(value) else ("double", struct.pack("<d", value))
    if isinstance(value, dict):
        return ("struct", tuple((k, _bits(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(_bits(v) for v in value))
    return (type(value).__name__, value)


def _query(con: duckdb.DuckDBPyConnection, name: str, threshold: float | None):
    trained = load_model(con, name)
    compiled = load_prediction(con, trained)
    assert compiled is not None and compiled.compiled, compiled
    return compiled.query_for(f'SELECT * FROM "{INPUT}"', threshold)


def _duckdb_rows(oracle: duckdb.DuckDBPyConnection, sql: str, rows: pa.Table) -> tuple[list[str], list] | None:
    oracle.register(INPUT, rows)
    try:
        cursor = oracle.execute(sql)
        return [c[0] for c in cursor.description], cursor.fetchall()
    except duckdb.Error:
        return None  # DuckDB refuses the rows
    finally:
        oracle.unregister(INPUT)


def _assert_same(got: tuple[list[str], list], expected: tuple[list[str], list], where: str) -> None:
    assert got[0] == expected[0], where
    assert len(got[1]) == len(expected[1]), where
    for index, (mine, theirs) in enumerate(zip(got[1], expected[1])):
        assert _bits(list(mine)) == _bits(list(theirs)), f"{where}, row {index}: {mine} != {theirs}"


@pytest.mark.parametrize("name", COMPILED + list(SHOP_MODELS))
def test_python_evaluation_is_duckdb_bit_for_bit(store, name):
    thresholds = [None, 0.0, 0.9] if name in ("binary", "shop_logistic") else [None]
    oracle = duckdb.connect()
    install(oracle)  # FARM_FINGERPRINT as the pure-SQL macro: an implementation independent of the evaluator's
    oracle.execute(f"CREATE TEMP MACRO farm_fingerprint(x) AS {MACRO_NAME}(x)")
    table = _rows(store, name, seed=len(name))
    for threshold in thresholds:
        sql = render(_query(store, name, threshold))
        program = build_program(parse(sql), table.schema, INPUT)  # Unsupported here fails the test
        assert program.generated is not None and program.generated_json is not None, "no generated function"
        closures = dataclasses.replace(program, generated=None, generated_json=None)
        random_rows = table.slice(0, 40)
        got = run_checked(program, random_rows)
        assert got is not None, "the evaluator fell back on ordinary rows"
        expected = _duckdb_rows(oracle, sql, random_rows)
        _assert_same(got, expected, "random rows")
        _assert_same(run_checked(closures, random_rows), expected, "random rows, closures")
        as_json = _bits([{k: jsonable(v) for k, v in zip(expected[0], row)} for row in expected[1]])
        assert _bits(run_json_checked(program, random_rows)) == as_json
        assert _bits(run_json_checked(closures, random_rows)) == as_json
        edge = table.slice(40)
        answered = []
        for index in range(edge.num_rows):
            got = run_checked(program, edge.slice(index, 1))
            by_closures = run_checked(closures, edge.slice(index, 1))
            assert (got is None) == (by_closures is None), f"edge row {index}: one falls back, the other not"
            if got is not None:  # else DuckDB answers
                _assert_same(by_closures, got, f"edge row {index}, closures")
                answered.append((index, got))
        kept = edge.take([index for index, _ in answered])
        together = _duckdb_rows(oracle, sql, kept)  # each row's answer is its own: one query for all
        compared = 0
        for position, (index, got) in enumerate(answered):
            expected = ((together[0], [together[1][position]]) if together is not None
                        else _duckdb_rows(oracle, sql, edge.slice(index, 1)))
            assert expected is not None, f"edge row {index}: DuckDB fails, the evaluator answers {got}"
            _assert_same(got, expected, f"edge row {index}")
            assert _bits(run_json_checked(program, edge.slice(index, 1))) == _bits(
                [{k: jsonable(v) for k, v in zip(expected[0], row)} for row in expected[1]]), f"edge row {index}"
            compared += 1
        assert compared >= edge.num_rows // 2, f"{compared} of {edge.num_rows} edge rows evaluated"
        columns = build_column_program(parse(sql), table.schema, INPUT)  # column-wise: the same bits
        _assert_same(columns.run(random_rows), _duckdb_rows(oracle, sql, random_rows), "random rows, column-wise")
        names, expected_rows = _duckdb_rows(oracle, sql, random_rows)
        assert _bits(columns.run_json(random_rows)) == _bits([{k: jsonable(v) for k, v in zip(names, row)}
                                                               for row in expected_rows])
        if together is not None:  # the edge rows the row-wise evaluator answers, in one batch
            try:
                got = columns.run(kept)
            except Fallback:  # a value it leaves to the row-wise evaluator: each row alone, then
                for position, index in enumerate(index for index, _ in answered):
                    try:
                        alone = columns.run(kept.slice(position, 1))
                    except Fallback:
                        continue
                    _assert_same(alone, (together[0], [together[1][position]]), f"edge row {index}, column-wise")
            else:
                _assert_same(got, together, "edge rows, column-wise")


def test_a_query_with_what_the_evaluator_lacks_is_left_to_duckdb():
    schema = pa.schema([("x", pa.float64()), ("d", pa.date32())])
    with pytest.raises(Unsupported, match="date32"):
        build_program(parse(f'SELECT * FROM "{INPUT}"'), schema, INPUT)
    with pytest.raises(Unsupported, match="function"):
        build_program(parse(f'SELECT *, my_udf(x) AS y FROM (SELECT * FROM "{INPUT}")'),
                      pa.schema([("x", pa.float64())]), INPUT)


def test_a_query_nested_too_deeply_for_python_is_left_to_duckdb():
    """A sum of 200 terms is generated code; one of 2,000 is too deep for Python and DuckDB runs it."""
    schema = pa.schema([("x", pa.float64())])
    for depth, generated in ((200, True), (2_000, False)):
        total = exp.column("x", table=INPUT)
        for index in range(depth):
            total = exp.Add(this=total, expression=exp.Literal.number(f"{index}.5e0"))
        query = exp.select("*", exp.alias_(total, "y")).from_(exp.to_table(INPUT))
        program = Engine()._program(("deep", depth), query, schema)
        assert (program is not None) == generated
        if generated:
            assert program.rows.generated is not None
            expected = 1.0
            for index in range(depth):
                expected += index + 0.5
            assert program.run_checked(pa.table({"x": [1.0]}))[1] == [(1.0, expected)]
