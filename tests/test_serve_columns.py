"""The column-wise evaluator (toolkit.serve.evaluate_columns) against DuckDB running the same SQL and against the
row-wise evaluator: expressions of every node it covers (and some it leaves to the row-wise one per node) over
batches mixing NULLs, NaN, ±inf, -0.0, zero divisors, extreme integers and texts, compared row by row, floats bit for
bit. The compiled models' queries are compared in tests/test_serve_evaluate.py."""

from __future__ import annotations

import dataclasses
import math
import random

import duckdb
import pyarrow as pa
import pytest
from test_serve_evaluate import _assert_same, _bits

from toolkit.serve.evaluate import build_program, run_checked, run_json_checked
from toolkit.serve.evaluate_columns import build_column_program, build_evaluation
from toolkit.serve.evaluate_types import Fallback
from toolkit.serve.predictor import INPUT
from toolkit.serve.request import jsonable
from toolkit.sql.quoting import parse
from toolkit.warehouse.farmhash_sql import MACRO_NAME, install

_FLOATS = [None, 0.0, -0.0, 1.5, -2.25, 3.0, math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0.1, 7.0,
           3.5e38, 710.0, -745.5]
_INTS = [None, 0, 1, -1, -7, 3, 12, 2**31 - 1, -(2**31), 2**31, 2**40, -(2**62), 2**63 - 1, -(2**63)]
_NARROW = [None, 0, 1, -1, -7, 3, 12, 46340, -46341, 2**31 - 1, -(2**31) + 1]  # within DuckDB-safe ±2**31
_SMALL = [None, 0, -3, 5, 32767, -32768]
_TEXTS = [None, "", "a", "b_c", "é∑", "a ", "A", "zz"]
_BOOLS = [None, True, False]
SCHEMA = pa.schema([("x", pa.float64()), ("y", pa.float64()), ("i", pa.int64()), ("j", pa.int64()),
                    ("h", pa.int16()), ("k", pa.int32()), ("m", pa.int64()), ("s", pa.string()), ("t", pa.string()),
                    ("b", pa.bool_()), ("c", pa.bool_())])

# Groups of expressions, one query each (a value DuckDB refuses fails only its group's row).
EXPRESSIONS = {
    "double arithmetic": ["x + y", "x - y", "x * y", "x / y", "-x", "x + y * x - y / 7e0", "(x - 1e0) / 0.0e0"],
    "integer arithmetic": ["k + m", "k - m", "k * m", "k / m", "-k", "k * 3 + 1", "m - k", "k % 7", "k % m",
                           "i / j", "i % 7"],
    "wide integers": ["i + j", "i * j", "-i", "i - k"],
    "mixed arithmetic": ["x + i", "i * 0.5e0", "k / x", "x - k"],
    "comparisons": ["x = y", "x <> y", "x < y", "x <= y", "x > y", "x >= y", "i < j", "i = j", "k >= i", "x > i",
                    "s = t", "s < t", "s >= 'a'", "b = c", "b > c", "h < 5", "x = 3.0e0"],
    "logic": ["(x > 0e0) AND (y > 0e0)", "(x > 0e0) OR b", "b AND c", "b OR c", "NOT b", "x IS NULL",
              "s IS NULL", "NOT (b AND (i > j OR c))", "b AND NULL", "c OR NULL"],
    "case": ["CASE WHEN x > y THEN i ELSE y END", "CASE WHEN b THEN s WHEN x < 0e0 THEN 'neg' END",
             "CASE WHEN s = 'a' THEN 1.5e0 WHEN s = 'b_c' THEN -2e0 WHEN s = 'a' THEN 9e0 ELSE 0e0 END",
             "CASE WHEN s = 'a' THEN NULL WHEN s = '' THEN 1e0 END", "CASE WHEN c THEN 1 WHEN b THEN 2 ELSE 3 END",
             "CASE WHEN ISNAN(x) THEN NULL ELSE x END", "CASE WHEN i IS NULL THEN NULL WHEN i < 3 THEN 'lo' ELSE 'hi' END"],
    "coalesce": ["COALESCE(x, y)", "COALESCE(i, j)", "COALESCE(s, t, 'none')", "COALESCE(x, k, 0e0)",
                 "COALESCE(NULL, y)", "COALESCE(CASE WHEN ISNAN(x) THEN NULL ELSE x END, -1e0) - -1e0"],
    "math": ["EXP(x)", "LN(x)", "SQRT(x)", "ISNAN(x)", "EXP(k)", "LN(y) + EXP(-y)", "ISNAN(i)", "EXP(x / 1e3)"],
    "casts": ["CAST(x AS FLOAT)", "CAST(k AS DOUBLE)", "CAST(h AS DOUBLE)", "CAST(b AS DOUBLE)",
              "CAST(i AS VARCHAR)", "CAST(k AS TEXT) || s", "CAST(h AS BIGINT)", "CAST(CAST(i AS INT128) % 7 AS BIGINT)",
              "CAST((CAST(i AS INT128) + CAST('18446744073709551616' AS INT128)) % "
              "CAST('18446744073709551616' AS INT128) % 100 AS BIGINT)", "CAST(1.25 AS DOUBLE) * x"],
    "text": ["s || t", "s || '_' || t", f"{MACRO_NAME}(s)", "FARM_FINGERPRINT(t)",
             "CAST(CAST((CAST(FARM_FINGERPRINT(s) AS INT128) + CAST('18446744073709551616' AS INT128)) % "
             "CAST('18446744073709551616' AS INT128) % 100 AS BIGINT) AS TEXT)"],
    "nested": ["[x, y][2]", "[x, k][1]", "{'a': x, 'b': s}.b", "STRUCT_EXTRACT({'a': i, 'z': t}, 'a')",
               "[{'label': b, 'prob': x}, {'label': c, 'prob': y}]", "{'p': {'q': s}}.p.q",
               "list_sort([{'d': x, 'n': 1}, {'d': y, 'n': 2}])[1].n"],
    "row-wise nodes": ["GREATEST(x, y)", "LEAST(i, j)", "GREATEST(s, t) || '!'", "LEAST(x, k) + 1e0",
                       "list_sort([x, y, 1e0])"],
}


def _table(seed: int, count: int = 60) -> pa.Table:
    generator = random.Random(seed)
    pools = {"x": _FLOATS, "y": _FLOATS, "i": _INTS, "j": _INTS, "h": _SMALL, "k": _NARROW, "m": _NARROW, "s": _TEXTS,
             "t": _TEXTS, "b": _BOOLS, "c": _BOOLS}
    rows = [{name: generator.choice(pool) for name, pool in pools.items()} for _ in range(count)]
    for index in range(len(_FLOATS)):  # pairs of equal values: NaN = NaN, -0.0 = 0.0, NULL with NULL, …
        row = {name: pool[index % len(pool)] for name, pool in pools.items()}
        row.update(y=row["x"], j=row["i"], m=row["k"], t=row["s"], c=row["b"])
        rows.append(row)
    rows.append({name: None for name in pools})
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _sql(expressions: list[str]) -> str:
    columns = ", ".join(f"{e} AS e{n}" for n, e in enumerate(expressions))
    return f'SELECT "__input".*, {columns} FROM (SELECT * FROM "{INPUT}") AS "__input"'


@pytest.fixture(scope="module")
def oracle() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET threads = 1")  # the rows in their order
    install(con)  # FARM_FINGERPRINT as the pure-SQL macro: an implementation independent of the evaluator's
    con.execute(f"CREATE TEMP MACRO farm_fingerprint(x) AS {MACRO_NAME}(x)")
    return con


def _duckdb(oracle: duckdb.DuckDBPyConnection, sql: str, rows: pa.Table):
    oracle.register(INPUT, rows)
    try:
        cursor = oracle.execute(sql)
        return [c[0] for c in cursor.description], cursor.fetchall()
    except duckdb.Error:
        return None  # DuckDB refuses a value of these rows
    finally:
        oracle.unregister(INPUT)


def _duckdb_rows(oracle: duckdb.DuckDBPyConnection, sql: str, rows: pa.Table) -> list:
    """DuckDB's row for each row (None where it refuses that row): the rows in halves until each half runs."""
    answer = _duckdb(oracle, sql, rows)
    if answer is not None:
        return [(answer[0], [row]) for row in answer[1]]
    if rows.num_rows == 1:
        return [None]
    half = rows.num_rows // 2
    return _duckdb_rows(oracle, sql, rows.slice(0, half)) + _duckdb_rows(oracle, sql, rows.slice(half))


def _columns(program, rows: pa.Table):
    try:
        return program.run(rows)
    except Fallback:
        return None


@pytest.mark.parametrize("group", list(EXPRESSIONS))
def test_column_wise_is_duckdb_and_row_wise_row_by_row(oracle, group):
    table = _table(seed=len(group))
    sql = _sql(EXPRESSIONS[group])
    query = parse(sql)
    columns = build_column_program(query, table.schema, INPUT)
    rows = build_program(query, table.schema, INPUT)
    answered = []
    duckdb_rows = _duckdb_rows(oracle, sql, table)
    for index in range(table.num_rows):  # each row alone: the column-wise answer where it gives one
        row = table.slice(index, 1)
        got = _columns(columns, row)
        mine = run_checked(rows, row)
        if got is None:
            continue
        expected = duckdb_rows[index]
        assert expected is not None, f"row {index}: DuckDB refuses it, the column-wise evaluator answers {got[1]}"
        _assert_same(got, expected, f"{group}, row {index} alone")
        if mine is not None:
            assert _bits(list(got[1][0])) == _bits(list(mine[1][0])), f"{group}, row {index}: row-wise differs"
        answered.append(index)
    # Integers: many products at or beyond 2**31 (which the evaluators leave to DuckDB), zero divisors.
    least = table.num_rows // {"wide integers": 6, "integer arithmetic": 3}.get(group, 2)
    assert len(answered) >= least, f"{len(answered)} of {table.num_rows} rows evaluated"
    batch = table.take(answered)  # all those rows in one batch: every node over arrays with NULLs mixed in
    got = _columns(columns, batch)
    assert got is not None, "a batch of rows each answered alone falls back"
    _assert_same(got, _duckdb(oracle, sql, batch), f"{group}, batch of {batch.num_rows}")
    as_json = [{k: jsonable(v) for k, v in zip(got[0], row)} for row in got[1]]  # the server's answer
    assert _bits(columns.run_json(batch)) == _bits(as_json)
    # Row-wise, each row alone: the generated function, the closures and DuckDB give the same bits.
    assert rows.generated is not None, "no generated function"
    closures = dataclasses.replace(rows, generated=None, generated_json=None)
    for index in range(table.num_rows):
        row = table.slice(index, 1)
        mine, theirs = run_checked(rows, row), run_checked(closures, row)
        assert (mine is None) == (theirs is None), f"{group}, row {index}: one evaluator falls back, not the other"
        if mine is None:
            continue
        assert _bits(list(mine[1][0])) == _bits(list(theirs[1][0])), f"{group}, row {index}: the two differ"
        assert duckdb_rows[index] is not None, f"row {index}: DuckDB refuses it, the row-wise evaluator answers"
        _assert_same(mine, duckdb_rows[index], f"{group}, row {index} row-wise")
        assert _bits(run_json_checked(rows, row)) == _bits([{k: jsonable(v) for k, v in zip(mine[0], mine[1][0])}])


def test_values_it_will_not_decide_go_to_the_row_wise_evaluator_then_duckdb():
    table = pa.table({"i": pa.array([1, 2**40], pa.int64()), "x": pa.array([1e300, 1.0])})
    big = parse(_sql(["i * 3"]))
    evaluation = build_evaluation(big, table.schema, INPUT, columns_from=1)
    with pytest.raises(Fallback):  # 2**40 * 3: at or beyond 2**31, which DuckDB might call an overflow
        evaluation.columns.run(table)
    assert evaluation.run_checked(table) is None  # the row-wise evaluator leaves it to DuckDB too
    assert evaluation.run_checked(table.slice(0, 1))[1] == [(1, 1e300, 3)]
    narrow = build_evaluation(parse(_sql(["CAST(x AS FLOAT)"])), table.schema, INPUT, columns_from=1)
    with pytest.raises(Fallback):  # 1e300 has no float32
        narrow.columns.run(table)


def test_small_requests_take_the_row_wise_path():
    table = pa.table({"x": pa.array([1.0, None, 2.5])})
    evaluation = build_evaluation(parse(_sql(["x * 2e0"])), table.schema, INPUT, columns_from=4)

    class Refuses:
        def run(self, rows):
            raise AssertionError("the column-wise evaluator ran on 3 rows")

    object.__setattr__(evaluation, "columns", Refuses())
    assert evaluation.run_checked(table)[1] == [(1.0, 2.0), (None, None), (2.5, 5.0)]
