"""The history of monitoring results: each run of a `no_data_skew` / `no_data_drift` gate appends its
ML.VALIDATE_DATA_SKEW / ML.VALIDATE_DATA_DRIFT rows to `_toolkit.monitoring_history` (which model version, which
table, when, each feature's distance and verdict), so drift can be followed run after run; `toolkit monitor`
reads it back (`latest`, `trend`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb

from toolkit.config import STATE_SCHEMA

S = STATE_SCHEMA
TABLE = f"{S}.monitoring_history"
_DDL = (f"CREATE SCHEMA IF NOT EXISTS {S}",
        f"""CREATE TABLE IF NOT EXISTS {TABLE} (
            recorded_at TIMESTAMP NOT NULL, node VARCHAR NOT NULL, assertion VARCHAR NOT NULL,
            function VARCHAR NOT NULL, model_name VARCHAR, model_version INTEGER, input VARCHAR NOT NULL,
            metric VARCHAR NOT NULL, threshold DOUBLE NOT NULL, value DOUBLE NOT NULL, is_anomaly BOOLEAN NOT NULL)""")
COLUMNS = ("recorded_at", "node", "assertion", "function", "model_name", "model_version", "input", "metric",
           "threshold", "value", "is_anomaly")


@dataclass(frozen=True)
class Result:
    """One feature's distance in one run of a gate."""

    recorded_at: datetime
    node: str  # the table the gate checked
    assertion: str
    function: str  # VALIDATE_DATA_SKEW or VALIDATE_DATA_DRIFT
    model_name: str | None  # skew: the model version compared with
    model_version: int | None
    input: str  # the feature
    metric: str
    threshold: float
    value: float
    is_anomaly: bool


def record(con: duckdb.DuckDBPyConnection, results: Sequence[Result]) -> None:
    """Append `results` (in one statement: all of them or none)."""
    if not results:
        return
    for statement in _DDL:
        con.execute(statement)
    con.executemany(f"INSERT INTO {TABLE} VALUES ({', '.join('?' * len(COLUMNS))})",
                    [[getattr(r, c) for c in COLUMNS] for r in results])


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [S, "monitoring_history"]).fetchall()[0][0] > 0


def history(con: duckdb.DuckDBPyConnection, model: str | None = None) -> list[Result]:
    """Every recorded result, oldest first (of gates on model `model` only, compared ignoring case)."""
    if not _exists(con):
        return []
    where = " WHERE lower(model_name) = lower(?)" if model else ""
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}{where} ORDER BY recorded_at, node, assertion, "
                       "rowid", [model] if model else []).fetchall()
    return [Result(*row) for row in rows]


def latest(results: Iterable[Result]) -> list[Result]:
    """The results of each (table, gate)'s latest run."""
    last: dict[tuple[str, str], datetime] = {}
    results = list(results)
    for r in results:
        last[(r.node, r.assertion)] = max(last.get((r.node, r.assertion), r.recorded_at), r.recorded_at)
    return [r for r in results if r.recorded_at == last[(r.node, r.assertion)]]


def trend(results: Iterable[Result]) -> dict[tuple[str, str, str], list[float]]:
    """Each (table, gate, feature)'s values run after run, oldest first."""
    found: dict[tuple[str, str, str], list[float]] = {}
    for r in results:
        found.setdefault((r.node, r.assertion, r.input), []).append(r.value)
    return found


def report(con: duckdb.DuckDBPyConnection, model: str | None = None) -> dict:
    """`toolkit monitor`'s content: the latest run's result of each (table, gate, feature), with its trend (every
    value recorded for it, oldest first), as JSON-able rows."""
    results = history(con, model)
    trends = trend(results)
    latest_rows = [{"recorded_at": r.recorded_at.isoformat(), "table": r.node, "gate": r.assertion,
                    "function": r.function, "model": r.model_name, "version": r.model_version, "input": r.input,
                    "metric": r.metric, "threshold": r.threshold, "value": r.value, "is_anomaly": r.is_anomaly,
                    "trend": trends[(r.node, r.assertion, r.input)]} for r in latest(results)]
    return {"latest": latest_rows,
            "trend": [{"table": node, "gate": gate, "input": feature, "values": values}
                      for (node, gate, feature), values in trends.items()]}
