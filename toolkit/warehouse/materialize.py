"""Atomic materialization: a node's new relation is built under a temporary name, audited and swapped in, all in
one explicit transaction (`candidate`).

Other connections and processes read only committed data, so they see the previous relation until the swap
commits, then the new one; never the candidate, complete or not. A build killed mid-way commits nothing: the
candidate vanishes with its transaction. Publishing notes the relation in `_toolkit.relations`, in the same
transaction: what the toolkit built, it may replace. `drop_leftovers` removes temporary relations that warehouses
built by earlier toolkit versions (which committed candidates before swapping them) may still hold."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from sqlglot import exp

from toolkit.config import AUDIT_SCHEMA
from toolkit.project.nodes import Materialization, Node
from toolkit.sql.quoting import identifier, relation, render, table_ref
from toolkit.warehouse.state import ensure_state_tables, record_published

TEMPORARY_PREFIX = "__toolkit_tmp__"


def existing_kind(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> Materialization | None:
    """Whether `schema.name` is a table, a view, or absent (names compare case-insensitively, as in DuckDB)."""
    rows = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE lower(table_schema) = lower(?) "
        "AND lower(table_name) = lower(?) AND table_catalog = current_database()",  # not an attached database's
        [schema, name],
    ).fetchall()
    if not rows:
        return None
    return Materialization.VIEW if rows[0][0] == "VIEW" else Materialization.TABLE


def temporary_relation(node: Node) -> exp.Table:
    return relation(node.schema, TEMPORARY_PREFIX + node.name)


def build_temporary(con: duckdb.DuckDBPyConnection, node: Node, sql: str | None = None, *,
                    into: exp.Table | None = None) -> str:
    """Build `node` (or `sql` in its place) under its temporary name (or as `into`), unpublished; the quoted
    relation."""
    target = into or temporary_relation(node)
    con.execute(render(exp.Create(this=identifier(target.db), kind="SCHEMA", exists=True)))
    _drop(con, target.db, target.name)
    # The model's query is kept as written (a verbatim node) and starts on the statement's first line, so
    # DuckDB's "LINE n" in errors is the model file's line n and its comments and spelling are untouched.
    query = exp.Paren(this=exp.Var(this=f"{sql or node.sql}\n"))
    con.execute(render(exp.Create(this=target, kind=_kind(node), expression=query)))
    return render(target)


@contextmanager
def set_aside(con: duckdb.DuckDBPyConnection, node: Node, sql: str | None = None) -> Iterator[str]:
    """Build `node` committed in the private AUDIT_SCHEMA, which no published schema shows, for an audit that
    must run statement by statement (one failing statement aborts a transaction, and the candidate with it);
    dropped afterwards. Never published."""
    aside = relation(AUDIT_SCHEMA, f"{TEMPORARY_PREFIX}{node.schema}.{node.name}")
    try:
        yield build_temporary(con, node, sql, into=aside)
    finally:
        _drop(con, aside.db, aside.name)


class Candidate:
    """A node's relation built under its temporary name inside an open transaction (see `candidate`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, node: Node, relation: str):
        self.con, self.node, self.relation = con, node, relation
        self.published = False

    def publish(self) -> None:
        """Swap the candidate in for the published relation; it becomes visible when the transaction commits."""
        _drop(self.con, self.node.schema, self.node.name)
        rename = exp.AlterRename(this=table_ref(self.node.name))
        self.con.execute(render(exp.Alter(this=temporary_relation(self.node), kind=_kind(self.node),
                                          actions=[rename])))
        record_published(self.con, self.node.schema, self.node.name, self.node.name)
        self.published = True


@contextmanager
def candidate(con: duckdb.DuckDBPyConnection, node: Node, sql: str | None = None) -> Iterator[Candidate]:
    """Build `node` (or `sql` in its place) as an unpublished candidate, for the block to audit and `publish`:
    committed when published, rolled back otherwise (a failed audit, an error), so nothing but the swap is ever
    seen outside this connection."""
    ensure_state_tables(con)
    con.execute("BEGIN TRANSACTION")
    try:
        built = Candidate(con, node, build_temporary(con, node, sql))
        yield built
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT" if built.published else "ROLLBACK")


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
