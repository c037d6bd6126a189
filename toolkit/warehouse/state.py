"""The toolkit's own tables in the warehouse's `_toolkit` schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
from sqlglot import exp

from toolkit.config import STATE_SCHEMA
from toolkit.sql.quoting import literal, relation, render
from toolkit.warehouse.connection import transaction

PUBLISHING = ("success", "warn")  # the statuses of a node a build published

_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA};
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.runs (
    run_id VARCHAR PRIMARY KEY,
    command VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,
    toolkit_version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.run_results (
    run_id VARCHAR NOT NULL,
    node VARCHAR NOT NULL,
    relation VARCHAR,
    status VARCHAR NOT NULL,
    rows BIGINT,
    seconds DOUBLE NOT NULL,
    message VARCHAR,
    started_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.assertion_results (
    run_id VARCHAR NOT NULL,
    node VARCHAR NOT NULL,
    assertion VARCHAR NOT NULL,
    test VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    failing_rows BIGINT,
    seconds DOUBLE NOT NULL,
    message VARCHAR,
    samples JSON
);
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.relations (
    table_schema VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    node VARCHAR NOT NULL,
    published_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.model_usage (
    run_id VARCHAR NOT NULL,
    node VARCHAR NOT NULL,
    model_name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    function VARCHAR NOT NULL
);
"""


def ensure_state_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in filter(str.strip, _DDL.split(";")):
        con.execute(statement)


def record_run(
    con: duckdb.DuckDBPyConnection,
    run: tuple[str, str, datetime, datetime, str, str],
    results: Sequence[tuple],
    assertions: Sequence[tuple] = (),
    model_usage: Sequence[tuple] = (),
) -> None:
    """Write one run, its per-node results, its assertion results and the model versions its nodes applied."""
    ensure_state_tables(con)
    with transaction(con):
        con.execute(f"INSERT INTO {STATE_SCHEMA}.runs VALUES (?, ?, ?, ?, ?, ?)", list(run))
        for table, rows in (("run_results", results), ("assertion_results", assertions), ("model_usage", model_usage)):
            insert_rows(con, relation(STATE_SCHEMA, table), rows)


INSERT_BATCH = 500  # rows per INSERT: one statement for a run's rows, far faster than executemany's one per row


def insert_rows(con: duckdb.DuckDBPyConnection, table: exp.Table, rows: Sequence[tuple]) -> None:
    """Insert `rows` (tuples of the table's columns, in order) with few statements, values as parameters."""
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start:start + INSERT_BATCH]
        values = exp.values([exp.tuple_(*(exp.Placeholder() for _ in row)) for row in batch])
        con.execute(render(exp.insert(values, table.copy())), [value for row in batch for value in row])


def record_published(con: duckdb.DuckDBPyConnection, schema: str, name: str, node: str) -> None:
    """Note that the toolkit published `schema.name`; inside the publishing transaction, so the note and the
    relation appear together (also in a build killed before it records its run)."""
    ledger = relation(STATE_SCHEMA, "relations")
    same = exp.and_(
        exp.func("lower", exp.column("table_schema")).eq(exp.func("lower", literal(schema))),
        exp.func("lower", exp.column("table_name")).eq(exp.func("lower", literal(name))),
    )
    con.execute(render(exp.delete(ledger, where=same)))
    now = exp.AtTimeZone(this=exp.CurrentTimestamp(), zone=literal("UTC"))  # UTC, as the run tables
    row = exp.tuple_(literal(schema), literal(name), literal(node), now)
    con.execute(render(exp.insert(exp.values([row]), ledger)))


def published_relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    """`schema.name` (casefolded) of every relation a toolkit build has published: those noted on publishing, and
    those of nodes that earlier builds report as published (warehouses built before the note existed)."""
    ensure_state_tables(con)
    noted = exp.select(exp.DPipe(this=exp.column("table_schema"), expression=exp.DPipe(
        this=literal("."), expression=exp.column("table_name")))).from_(relation(STATE_SCHEMA, "relations"))
    reported = (
        exp.select(exp.column("relation", table="results"))
        .from_(relation(STATE_SCHEMA, "run_results").as_("results"))
        .join(relation(STATE_SCHEMA, "runs").as_("runs"), on=exp.column("run_id", table="results").eq(
            exp.column("run_id", table="runs")))
        .where(exp.column("command", table="runs").eq(literal("build")))
        .where(exp.column("status", table="results").isin(*map(literal, PUBLISHING)))
        .where(exp.column("relation", table="results").is_(exp.null()).not_())
    )
    rows = con.execute(render(exp.union(noted, reported, distinct=True))).fetchall()
    return {row[0].casefold() for row in rows}
