"""The build's monitoring gates: assertions whose SQL calls ML.* functions (`no_data_skew`, `no_data_drift` in
macros/assertions.sql) get those calls run before the audit, over the relation under test (the candidate about to
be published, or the published table in `toolkit test`), and read their results instead; an input the functions
refuse makes the assertion an error that names it (nothing is published). Their per-feature results are kept to
be appended to the monitoring history once the build's transaction is over (published or not); so are those of a
model file's own ML.VALIDATE_DATA_SKEW / _DRIFT calls (`results_of`)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime, timezone

import duckdb

from toolkit.checks.evaluate import calls_ml, under_test_replaced
from toolkit.errors import ToolkitError
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.monitor.history import Result
from toolkit.project.assertions import Assertion
from toolkit.sql.ml_functions import Applied
from toolkit.sql.quoting import parse, parse_relation

RECORDED = ("VALIDATE_DATA_SKEW", "VALIDATE_DATA_DRIFT")


@contextmanager
def monitored(con: duckdb.DuckDBPyConnection, node: str, relation: str,
              assertions: Sequence[Assertion]) -> Iterator[tuple[list[Assertion], list[Result]]]:
    """The assertions with their ML.* calls run over `relation` (a quoted name) and replaced by their results,
    for the block; and the monitoring results to record."""
    ready: list[Assertion] = []
    results: list[Result] = []
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with ExitStack() as stack:
        for assertion in assertions:
            if not calls_ml(assertion):
                ready.append(assertion)
                continue
            tree = under_test_replaced(parse(assertion.failing_rows), parse_relation(relation))
            try:
                applied = stack.enter_context(applied_ml_calls(con, tree))
            except (ToolkitError, duckdb.Error) as error:
                ready.append(replace(assertion, error=f"{assertion.name}: {error}"))
                continue
            ready.append(replace(assertion, failing_rows=applied.sql))
            results += results_of(node, assertion.name, applied, now)
        yield ready, results


def results_of(node: str, label: str, applied: Applied, now: datetime | None = None) -> list[Result]:
    """The monitoring results among a statement's ML.* calls (ML.VALIDATE_DATA_SKEW / _DRIFT), to record."""
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    models = {function: (model, version) for model, version, function in applied.models}
    results = []
    for function, table in applied.results:
        if function in RECORDED:
            model, version = models.get(function, (None, None))
            results += [Result(now, node, label, function, model, version, row["input"], row["metric"],
                               row["threshold"], row["value"], row["is_anomaly"]) for row in table.to_pylist()]
    return results
