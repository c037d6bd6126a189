"""`toolkit source freshness` (https://docs.getdbt.com/reference/commands/source): the source tables whose YAML
declares `freshness` with a `loaded_at_field`, their newest load time and its age, and target/sources.json in
dbt's shape (https://docs.getdbt.com/reference/artifacts/sources-json). The verdicts are those of the `freshness`
assertions `toolkit test` runs: warn_after warns, error_after errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import duckdb
from sqlglot import exp

from toolkit import __version__
from toolkit.project.nodes import Node
from toolkit.sql.quoting import column_ref, relation, render

SOURCES_SCHEMA = "https://schemas.getdbt.com/dbt/sources/v3.json"
FRESHNESS_TEST = "freshness"
_DBT_STATUS = {"success": "pass", "warn": "warn", "fail": "error", "error": "runtime error", "skipped": "runtime error"}


def freshness_nodes(nodes: Mapping[str, Node]) -> list[str]:
    """The test nodes that check a source table's freshness."""
    return sorted(name for name, node in nodes.items() if node.tested and node.assertions
                  and all(a.test == FRESHNESS_TEST for a in node.assertions))


def newest_load(con: duckdb.DuckDBPyConnection, node: Node) -> datetime | None:
    """max(loaded_at_field) of the source table a freshness node checks."""
    if not node.tested or not node.assertions[0].columns:
        return None
    newest = exp.select(exp.Max(this=column_ref(node.assertions[0].columns[0]))).from_(relation(*node.tested))
    try:
        value = con.execute(render(newest)).fetchall()[0][0]
    except duckdb.Error:
        return None
    if not isinstance(value, datetime):
        return None
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value  # UTC, as the runs


def sources_document(nodes: Sequence[Node], verdicts: Mapping[str, tuple[str, float, str | None]],
                     newest: Mapping[str, datetime | None], package: str, run_id: str) -> dict[str, Any]:
    """sources.json: per source table its newest load, age in seconds, status and criteria."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    results = []
    for node in nodes:
        status, seconds, message = verdicts.get(node.name, ("error", 0.0, "not checked"))
        loaded = newest.get(node.name)
        criteria = {a.severity.value + "_after": a.name for a in node.assertions}
        results.append({
            "unique_id": f"source.{package}.{node.tests_of}", "status": _DBT_STATUS.get(status, status),
            "max_loaded_at": loaded.isoformat() if loaded else None, "snapshotted_at": now.isoformat(),
            "max_loaded_at_time_ago_in_s": (now - loaded).total_seconds() if loaded else None,
            "criteria": criteria, "execution_time": seconds, "message": message, "relation": ".".join(node.tested or ()),
            "toolkit_status": status,
        })
    return {"metadata": {"dbt_schema_version": SOURCES_SCHEMA, "dbt_version": f"toolkit-{__version__}",
                         "generated_at": now.isoformat() + "Z", "invocation_id": run_id},
            "elapsed_time": sum(r["execution_time"] for r in results), "results": results}
