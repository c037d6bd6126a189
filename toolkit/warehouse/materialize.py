"""Atomic materialization: build under a temporary name, then swap in one explicit transaction.

At every moment either the previous relation or the new one is published, never a half-built one.
A build killed mid-way leaves at most a temporary relation, which `drop_leftovers` removes. Publishing notes the
relation in `_toolkit.relations`, in the same transaction: what the toolkit built, it may replace."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from toolkit.project.nodes import Materialization, Node
from toolkit.sql.quoting import identifier, relation, render, table_ref
from toolkit.warehouse.connection import transaction
from toolkit.warehouse.state import ensure_state_tables, record_published

TEMPORARY_PREFIX = "__toolkit_tmp__"


def existing_kind(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> Materialization | None:
    """Whether `schema.name` is a table, a view, or absent (names compare case-insensitively, as in DuckDB)."""
    rows = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
        [schema, name],
    ).fetchall()
    if not rows:
        return None
    return Materialization.VIEW if rows[0][0] == "VIEW" else Materialization.TABLE


def temporary_relation(node: Node) -> exp.Table:
    return relation(node.schema, TEMPORARY_PREFIX + node.name)


def build_temporary(con: duckdb.DuckDBPyConnection, node: Node, sql: str | None = None) -> str:
    """Build `node` (or `sql` in its place) under its temporary name, unpublished; the quoted temporary relation."""
    temporary = TEMPORARY_PREFIX + node.name
    con.execute(render(exp.Create(this=identifier(node.schema), kind="SCHEMA", exists=True)))
    _drop(con, node.schema, temporary)
    # The model's query is kept as written (a verbatim node) and starts on the statement's first line, so
    # DuckDB's "LINE n" in errors is the model file's line n and its comments and spelling are untouched.
    query = exp.Paren(this=exp.Var(this=f"{sql or node.sql}\n"))
    con.execute(render(exp.Create(this=temporary_relation(node), kind=_kind(node), expression=query)))
    return render(temporary_relation(node))


def publish(con: duckdb.DuckDBPyConnection, node: Node) -> None:
    """Swap the temporary relation in for the published one and note it as the toolkit's, in one transaction."""
    ensure_state_tables(con)
    with transaction(con):
        _drop(con, node.schema, node.name)
        rename = exp.AlterRename(this=table_ref(node.name))
        con.execute(render(exp.Alter(this=temporary_relation(node), kind=_kind(node), actions=[rename])))
        record_published(con, node.schema, node.name, node.name)


def discard(con: duckdb.DuckDBPyConnection, node: Node) -> None:
    """Drop the temporary relation, leaving the published one as it was."""
    _drop(con, node.schema, TEMPORARY_PREFIX + node.name)


def _kind(node: Node) -> str:
    return "VIEW" if node.materialized is Materialization.VIEW else "TABLE"


def drop_leftovers(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Drop the temporary relations an interrupted build left behind; their names."""
    rows = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE starts_with(table_name, ?)",
        [TEMPORARY_PREFIX],
    ).fetchall()
    for schema, name in rows:
        _drop(con, schema, name)
    return [f"{schema}.{name}" for schema, name in rows]


def _drop(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
    kind = existing_kind(con, schema, name)
    if kind is not None:
        con.execute(render(exp.Drop(tables=[relation(schema, name)], kind=kind.name)))
