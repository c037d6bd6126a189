"""The toolkit's own tables in the warehouse's `_toolkit` schema."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from toolkit.config import STATE_SCHEMA
from toolkit.warehouse.materialize import transaction

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
        if results:
            con.executemany(f"INSERT INTO {STATE_SCHEMA}.run_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(results))
        if assertions:
            con.executemany(
                f"INSERT INTO {STATE_SCHEMA}.assertion_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(assertions)
            )
        if model_usage:
            con.executemany(f"INSERT INTO {STATE_SCHEMA}.model_usage VALUES (?, ?, ?, ?, ?)", list(model_usage))
