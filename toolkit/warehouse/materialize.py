"""Atomic materialization: build under a temporary name, then swap in one explicit transaction.

At every moment either the previous relation or the new one is published, never a half-built one.
A build killed mid-way leaves at most a temporary relation, which `drop_leftovers` removes."""

from __future__ import annotations

from contextlib import contextmanager
from collections.abc import Iterator

import duckdb

from toolkit.project.nodes import Materialization, Node
from toolkit.sql.quoting import identifier, relation

TEMPORARY_PREFIX = "__toolkit_tmp__"


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN … COMMIT, rolled back on any error (DuckDB 2 no longer groups statements sent together)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def existing_kind(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> Materialization | None:
    """Whether `schema.name` is a table, a view, or absent (names compare case-insensitively, as in DuckDB)."""
    rows = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?)",
        [schema, name],
    ).fetchall()
    if not rows:
        return None
    return Materialization.VIEW if rows[0][0] == "VIEW" else Materialization.TABLE


def materialize(con: duckdb.DuckDBPyConnection, node: Node) -> int | None:
    """Build `node` and publish it atomically; the row count for tables, None for views."""
    temporary = TEMPORARY_PREFIX + node.name
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {identifier(node.schema)}")
    _drop(con, node.schema, temporary)
    kind = "VIEW" if node.materialized is Materialization.VIEW else "TABLE"
    # The query starts on the first line so DuckDB's "LINE n" in errors is the model file's line n.
    con.execute(f"CREATE {kind} {relation(node.schema, temporary)} AS ({node.sql}\n)")
    rows = None
    if node.materialized is Materialization.TABLE:
        rows = con.execute(f"SELECT count(*) FROM {relation(node.schema, temporary)}").fetchall()[0][0]
    with transaction(con):
        _drop(con, node.schema, node.name)
        con.execute(f"ALTER {kind} {relation(node.schema, temporary)} RENAME TO {identifier(node.name)}")
    return rows


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
        con.execute(f"DROP {kind.name} {relation(schema, name)}")
