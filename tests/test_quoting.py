"""Any identifier or string value quoted by the helpers reads back unchanged in DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.checks.evaluate import evaluate
from toolkit.project.assertions import UNDER_TEST, make_assertion
from toolkit.project.discover import RESERVED_PREFIX
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.sql.quoting import identifier, literal, relation, render
from toolkit.warehouse.materialize import candidate, drop_leftovers, existing_kind

# Quotes, backslashes, whitespace, unicode (no surrogates, no NUL: DuckDB's strings cannot hold NUL).
TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(["'", '"', "\\", "`", " ", "\t", "\n", ";", "-", "*", "/", "$", "é", "名", "🦆"]),
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    ),
    max_size=20,
)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    yield connection
    connection.close()


@settings(max_examples=150, deadline=None)
@given(value=TEXT)
def test_a_literal_selects_its_value(con: duckdb.DuckDBPyConnection, value: str) -> None:
    assert con.execute(f"SELECT {render(literal(value))}").fetchall() == [(value,)]


@settings(max_examples=100, deadline=None)
@given(name=TEXT.filter(lambda text: text.strip() != ""))
def test_a_quoted_identifier_names_its_column_and_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"CREATE OR REPLACE TABLE {render(relation('main', name))} AS SELECT 1 AS {render(identifier(name))}")
    try:
        found = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
        ).fetchall()
        assert found == [(name,)]
        assert con.execute(f"SELECT {render(identifier(name))} FROM {render(relation('main', name))}").fetchall() == [(1,)]
        assert [column[0] for column in con.execute(f"SELECT * FROM {render(identifier(name))}").description] == [name]
    finally:
        con.execute(f"DROP TABLE {render(relation('main', name))}")


NAME = TEXT.filter(lambda text: text.strip() != "")
NODE_NAME = NAME.filter(lambda text: not text.lower().startswith(RESERVED_PREFIX))  # as model file stems may be


def _build(con: duckdb.DuckDBPyConnection, node: Node) -> None:
    """What the runner does with a node: build it under a temporary name, then publish it."""
    with candidate(con, node) as built:
        built.publish()


def node(schema: str, name: str, sql: str, materialized: Materialization) -> Node:
    return Node(name=name, path=Path("/m.sql"), relative_path=Path("m.sql"), kind=NodeKind.MODEL,
                materialized=materialized, schema=schema, tags=(), depends_on=(), sources=(), sql=sql)


@settings(max_examples=40, deadline=None)
@given(schema=NAME, name=NODE_NAME, column=NAME,
       materialized=st.sampled_from([Materialization.TABLE, Materialization.VIEW]))
def test_a_relation_with_any_name_is_materialized_replaced_and_read_back(
    schema: str, name: str, column: str, materialized: Materialization
) -> None:
    con = duckdb.connect()
    try:
        built = node(schema, name, f"SELECT 41 AS {render(identifier(column))}", materialized)
        _build(con, built)
        _build(con, node(schema, name, f"SELECT 42 AS {render(identifier(column))}", materialized))
        assert existing_kind(con, schema, name) is materialized
        assert con.execute(f"SELECT {render(identifier(column))} FROM {built.relation}").fetchall() == [(42,)]
        assert drop_leftovers(con) == []
    finally:
        con.close()


@settings(max_examples=40, deadline=None)
@given(schema=NAME, name=NAME, column=NAME)
def test_assertions_on_a_relation_with_any_name_count_its_failing_rows(schema: str, name: str, column: str) -> None:
    con = duckdb.connect()
    try:
        quoted = render(identifier(column))
        built = node(schema, name, f"SELECT * FROM (VALUES (1), (NULL), (3)) AS t({quoted})", Materialization.TABLE)
        _build(con, built)
        assertions = [
            make_assertion("not_null", columns=[column], failing_when=f"{quoted} IS NULL"),
            make_assertion("big", failing_count=f"count(*) FILTER (WHERE {quoted} > 1)"),
            make_assertion("rows", failing_rows=f"SELECT u.* FROM {UNDER_TEST} AS u WHERE u.{quoted} = 1"),
        ]
        results = evaluate(con, "m", built.relation, assertions)
        assert [(r.status, r.failing_rows) for r in results] == [("fail", 1), ("fail", 1), ("fail", 1)]
        assert results[2].samples == [{column: 1}]
    finally:
        con.close()
