"""Walk the DAG: build each selected node in order, record a status per node, skip what sits
downstream of a failure, and write the run's results to the warehouse and target/run_results.json."""

from __future__ import annotations

import enum
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import duckdb

from toolkit import __version__
from toolkit.errors import WarehouseError
from toolkit.project.load import Project
from toolkit.project.nodes import Node
from toolkit.warehouse.materialize import existing_kind, materialize
from toolkit.warehouse.state import record_run


class Status(enum.Enum):
    SUCCESS = "success"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class NodeResult:
    node: str
    relation: str
    status: Status
    rows: int | None
    seconds: float
    message: str | None
    started_at: datetime


@dataclass
class RunResult:
    run_id: str
    command: str
    started_at: datetime
    finished_at: datetime | None = None
    results: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(result.status is not Status.SUCCESS for result in self.results)

    @property
    def status(self) -> str:
        return "error" if self.failed else "success"

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "command": self.command,
            "toolkit_version": __version__,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "results": [
                {**asdict(r), "status": r.status.value, "started_at": r.started_at.isoformat()} for r in self.results
            ],
        }


class Reporter(Protocol):
    """What the runner tells the user while it works (the CLI prints; tests may record)."""

    def node_started(self, node: Node, index: int, total: int) -> None: ...

    def node_finished(self, result: NodeResult, index: int, total: int) -> None: ...


class SilentReporter:
    def node_started(self, node: Node, index: int, total: int) -> None:
        pass

    def node_finished(self, result: NodeResult, index: int, total: int) -> None:
        pass


def check_sources(con: duckdb.DuckDBPyConnection, project: Project, selected: Sequence[str]) -> None:
    """Every source table the selected nodes read must exist before anything is built."""
    missing: dict[tuple[str, str], list[str]] = {}
    for name in selected:
        node = project.nodes[name]
        for schema, table in node.sources:
            if existing_kind(con, schema, table) is None:
                missing.setdefault((schema, table), []).append(str(node.relative_path))
    if missing:
        lines = [f"{schema}.{table} (read by {', '.join(files)})" for (schema, table), files in missing.items()]
        raise WarehouseError(
            "source tables missing from the warehouse: " + "; ".join(lines),
            hint="load them into the warehouse, or point --warehouse at the database that has them",
        )


def run(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    selected: Sequence[str],
    reporter: Reporter = SilentReporter(),
    command: str = "build",
) -> RunResult:
    """Build the selected nodes in topological order. One node's failure skips its descendants only."""
    outcome = RunResult(run_id=uuid.uuid4().hex, command=command, started_at=_now())
    broken: dict[str, str] = {}  # node → the failed node that makes it unbuildable
    for index, name in enumerate(selected, start=1):
        node = project.nodes[name]
        reporter.node_started(node, index, len(selected))
        culprit = next((broken[parent] for parent in node.depends_on if parent in broken), None)
        if culprit is not None:
            result = _result(node, Status.SKIPPED, None, 0.0, f"skipped because upstream node {culprit} failed", _now())
        else:
            result = _build(con, project, node, set(selected))
        if result.status is not Status.SUCCESS:
            broken[name] = culprit or name
        outcome.results.append(result)
        reporter.node_finished(result, index, len(selected))
    outcome.finished_at = _now()
    return outcome


def _build(con: duckdb.DuckDBPyConnection, project: Project, node: Node, selected: set[str]) -> NodeResult:
    started_at, clock = _now(), time.perf_counter()
    missing = [
        project.nodes[parent].relation
        for parent in node.depends_on
        if parent not in selected
        and existing_kind(con, project.nodes[parent].schema, project.nodes[parent].name) is None
    ]
    if missing:
        message = (
            f"{node.relative_path}: refs {', '.join(missing)}, which is not built and not selected; "
            f"build it first or select it too (--select +{node.name})"
        )
        return _result(node, Status.ERROR, None, time.perf_counter() - clock, message, started_at)
    try:
        rows = materialize(con, node)
    except duckdb.Error as error:
        message = f"{node.relative_path}: {error}"
        return _result(node, Status.ERROR, None, time.perf_counter() - clock, message, started_at)
    return _result(node, Status.SUCCESS, rows, time.perf_counter() - clock, None, started_at)


def _result(node: Node, status: Status, rows: int | None, seconds: float, message: str | None, started_at: datetime):
    return NodeResult(node.name, node.qualified_name, status, rows, round(seconds, 4), message, started_at)


def save_results(con: duckdb.DuckDBPyConnection, outcome: RunResult, target: Path) -> Path:
    """Write the run to `_toolkit.runs` / `_toolkit.run_results` and to target/run_results.json."""
    record_run(
        con,
        (outcome.run_id, outcome.command, outcome.started_at, outcome.finished_at, outcome.status, __version__),
        [
            (outcome.run_id, r.node, r.relation, r.status.value, r.rows, r.seconds, r.message, r.started_at)
            for r in outcome.results
        ],
    )
    target.mkdir(parents=True, exist_ok=True)
    path = target / "run_results.json"
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(outcome.to_json(), indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
