"""Evaluate a node's assertions against a relation in as few scans as possible."""

from __future__ import annotations

import datetime
import decimal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from toolkit.errors import did_you_mean
from toolkit.project.assertions import UNDER_TEST_NAME, Assertion
from toolkit.sql.ml_functions import ml_calls
from toolkit.sql.quoting import identifier, parse, parse_relation, render

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
        columns = [row[0] for row in con.execute(render(exp.Describe(this=parse_relation(relation)))).fetchall()]
    folded = {column.casefold() for column in columns}
    counts: dict[str, int | str] = {}
    runnable = []
    for assertion in assertions:
        missing = [c for c in assertion.columns if c.casefold() not in folded]
        if assertion.error is not None:
            counts[assertion.name] = assertion.error
        elif missing:
            counts[assertion.name] = (
                f'column "{missing[0]}" does not exist in {node}{did_you_mean(missing[0], columns)}; '
                f"its columns are: {', '.join(columns)}"
            )
        else:
            runnable.append(assertion)
    counts.update(_single_scan(con, relation, [a for a in runnable if a.single_scan]))
    for assertion in runnable:
        if not assertion.single_scan:
            counts[assertion.name] = _count(con, lambda: _count_of(_sql(assertion.failing_rows, relation)))
    seconds = round((time.perf_counter() - started) / len(assertions), 4)
    return [_result(con, node, relation, assertion, counts[assertion.name], seconds) for assertion in assertions]


def calls_ml(assertion: Assertion) -> bool:
    """Whether the assertion's query calls ML.* functions (a monitoring gate), which must run before it does."""
    text = assertion.failing_rows
    return text is not None and "ML." in text.upper() and bool(ml_calls(parse(text)))


def _single_scan(con: duckdb.DuckDBPyConnection, relation: str, assertions: list[Assertion]) -> dict[str, int | str]:
    """All row-by-row and aggregate assertions in one SELECT; on an error, one at a time to tell which failed."""
    if not assertions:
        return {}
    def scan(*aggregates: exp.Expression) -> str:
        return render(exp.select(*aggregates).from_(parse_relation(relation)))

    try:
        expressions = [_aggregate(assertion, relation) for assertion in assertions]
        named = [exp.alias_(expression, identifier(str(i))) for i, expression in enumerate(expressions)]
        row = con.execute(scan(*named)).fetchall()[0]
    except (duckdb.Error, sqlglot.errors.SqlglotError):
        return {a.name: _count(con, lambda a=a: scan(_aggregate(a, relation))) for a in assertions}
    return {assertion.name: int(value or 0) for assertion, value in zip(assertions, row)}


def _aggregate(assertion: Assertion, relation: str) -> exp.Expression:
    if assertion.failing_when is not None:
        return exp.Filter(this=exp.Count(this=exp.Star()),
                          expression=exp.Where(this=_sql(assertion.failing_when, relation)))
    return exp.Paren(this=_sql(assertion.failing_count, relation))


def _count_of(query: exp.Expression) -> str:
    return render(exp.select(exp.Count(this=exp.Star())).from_(exp.Subquery(this=query)))


def _count(con: duckdb.DuckDBPyConnection, sql: Callable[[], str]) -> int | str:
    """The count, or the message of DuckDB (or of the parser) when the query cannot run."""
    try:
        return int(con.execute(sql()).fetchall()[0][0] or 0)
    except (duckdb.Error, sqlglot.errors.SqlglotError) as error:
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
    try:
        if assertion.failing_when is not None:
            query = exp.select("*").from_(parse_relation(relation)).where(_sql(assertion.failing_when, relation))
        elif assertion.failing_rows is not None or assertion.samples is not None:
            rows = _sql(assertion.failing_rows if assertion.failing_rows is not None else assertion.samples, relation)
            query = exp.select("*").from_(exp.Subquery(this=rows))
        else:
            return []
        cursor = con.execute(render(query.limit(SAMPLE_ROWS)))
        names = [column[0] for column in cursor.description]
        return [{name: _plain(value) for name, value in zip(names, row)} for row in cursor.fetchall()]
    except (duckdb.Error, sqlglot.errors.SqlglotError):
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


def _sql(text: str, relation: str) -> exp.Expression:
    """An assertion's SQL parsed, each table node of the relation under test replaced by `relation`'s."""
    return under_test_replaced(parse(text), parse_relation(relation))


def under_test_replaced(tree: exp.Expression, relation: exp.Expression) -> exp.Expression:
    """`tree` with every reference to the relation under test (a table node) replaced by `relation`, aliases kept."""

    def substitute(node: exp.Expression) -> exp.Expression:
        if not (isinstance(node, exp.Table) and node.name == UNDER_TEST_NAME and not node.db):
            return node
        replacement = relation.copy()
        if node.args.get("alias"):
            replacement.set("alias", node.args["alias"].copy())
        return replacement

    return tree.transform(substitute)
