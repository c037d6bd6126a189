"""Evaluate a node's assertions against a relation in as few scans as possible."""

from __future__ import annotations

import datetime
import decimal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb

from toolkit.project.assertions import UNDER_TEST, Assertion
from toolkit.errors import did_you_mean
from toolkit.sql.quoting import identifier

SAMPLE_ROWS = 5


@dataclass(frozen=True)
class AssertionResult:
    node: str
    assertion: str
    test: str
    dimension: str
    severity: str
    status: str  # pass | warn | fail | error (the assertion itself could not run)
    failing_rows: int | None
    seconds: float
    message: str | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)


def evaluate(
    con: duckdb.DuckDBPyConnection, node: str, relation: str | None, assertions: Sequence[Assertion]
) -> list[AssertionResult]:
    """Every assertion's verdict on `relation` (a quoted name; None for an assertion file's own query): the
    row-by-row and aggregate ones together in one scan, the query ones one query each, and sample rows only
    for those that did not pass."""
    if not assertions:
        return []
    started = time.perf_counter()
    relation = relation or "(SELECT 1)"
    columns = []
    if any(assertion.columns for assertion in assertions):
        columns = [row[0] for row in con.execute(f"DESCRIBE {relation}").fetchall()]
    folded = {column.casefold() for column in columns}
    counts: dict[str, int | str] = {}
    runnable = []
    for assertion in assertions:
        missing = [c for c in assertion.columns if c.casefold() not in folded]
        if missing:
            counts[assertion.name] = (
                f'column "{missing[0]}" does not exist in {node}{did_you_mean(missing[0], columns)}; '
                f"its columns are: {', '.join(columns)}"
            )
        else:
            runnable.append(assertion)
    counts.update(_single_scan(con, relation, [a for a in runnable if a.single_scan]))
    for assertion in runnable:
        if not assertion.single_scan:
            counts[assertion.name] = _count(con, f"SELECT count(*) FROM ({_sql(assertion.failing_rows, relation)})")
    seconds = round((time.perf_counter() - started) / len(assertions), 4)
    return [_result(con, node, relation, assertion, counts[assertion.name], seconds) for assertion in assertions]


def _single_scan(con: duckdb.DuckDBPyConnection, relation: str, assertions: list[Assertion]) -> dict[str, int | str]:
    """All row-by-row and aggregate assertions in one SELECT; on an error, one at a time to tell which failed."""
    if not assertions:
        return {}
    expressions = [_aggregate(assertion) for assertion in assertions]
    select = ", ".join(f"{expression} AS {identifier(str(i))}" for i, expression in enumerate(expressions))
    try:
        row = con.execute(f"SELECT {_sql(select, relation)} FROM {relation}").fetchall()[0]
    except duckdb.Error:
        return {a.name: _count(con, f"SELECT {_sql(e, relation)} FROM {relation}") for a, e in zip(assertions, expressions)}
    return {assertion.name: int(value or 0) for assertion, value in zip(assertions, row)}


def _aggregate(assertion: Assertion) -> str:
    if assertion.failing_when is not None:
        return f"count(*) FILTER (WHERE {assertion.failing_when})"
    return f"({assertion.failing_count})"


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int | str:
    """The count, or DuckDB's message when the query cannot run."""
    try:
        return int(con.execute(sql).fetchall()[0][0] or 0)
    except duckdb.Error as error:
        return str(error)


def _result(
    con: duckdb.DuckDBPyConnection, node: str, relation: str, assertion: Assertion, count: int | str, seconds: float
) -> AssertionResult:
    common = dict(node=node, assertion=assertion.name, test=assertion.test, dimension=assertion.dimension,
                  severity=assertion.severity.value, seconds=seconds)
    if isinstance(count, str):
        return AssertionResult(**common, status="error", failing_rows=None, message=f"{assertion.name}: {count}")
    status = assertion.verdict(count)
    if status == "pass":
        return AssertionResult(**common, status=status, failing_rows=count)
    threshold = assertion.error_if if status == "fail" else assertion.warn_if
    message = f"{assertion.name}: {count:,} failing row(s) ({'error_if' if status == 'fail' else 'warn_if'} {threshold.text})"
    return AssertionResult(**common, status=status, failing_rows=count, message=message,
                           samples=_samples(con, relation, assertion))


def _samples(con: duckdb.DuckDBPyConnection, relation: str, assertion: Assertion) -> list[dict[str, Any]]:
    if assertion.failing_when is not None:
        query = f"SELECT * FROM {relation} WHERE {_sql(assertion.failing_when, relation)}"
    elif assertion.failing_rows is not None:
        query = f"SELECT * FROM ({_sql(assertion.failing_rows, relation)})"
    elif assertion.samples is not None:
        query = f"SELECT * FROM ({_sql(assertion.samples, relation)})"
    else:
        return []
    try:
        cursor = con.execute(f"{query} LIMIT {SAMPLE_ROWS}")
        names = [column[0] for column in cursor.description]
        return [{name: _plain(value) for name, value in zip(names, row)} for row in cursor.fetchall()]
    except duckdb.Error:
        return []


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a DuckDB value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.date, datetime.time, datetime.timedelta, decimal.Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def _sql(text: str, relation: str) -> str:
    return text.replace(UNDER_TEST, relation)
