"""Walk the DAG: build each selected node in order (write, audit, publish), record a status per node, skip
what sits downstream of a failure, and write the run's results to the warehouse and target/run_results.json."""

from __future__ import annotations

import enum
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

import duckdb
from sqlglot import exp

from toolkit import __version__
from toolkit.checks.evaluate import AssertionResult, evaluate
from toolkit.errors import Location, ToolkitError, WarehouseError
from toolkit.project.load import Project
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.sql.ml_functions import Applied
from toolkit.sql.quoting import parse, parse_relation, relation, render
from toolkit.warehouse.connection import database_path
from toolkit.warehouse.materialize import candidate, existing_kind, set_aside
from toolkit.warehouse.state import published_relations, record_run


class Status(enum.Enum):
    SUCCESS = "success"
    WARN = "warn"  # built (or checked), with warn-severity assertions failing
    FAIL = "fail"  # an error-severity assertion failed: not published, descendants skipped
    ERROR = "error"  # the node could not be built or checked
    SKIPPED = "skipped"

    @property
    def blocks_descendants(self) -> bool:
        return self in (Status.FAIL, Status.ERROR, Status.SKIPPED)


@dataclass(frozen=True)
class NodeResult:
    node: str
    relation: str | None
    status: Status
    rows: int | None
    seconds: float
    message: str | None
    started_at: datetime
    assertions: tuple[AssertionResult, ...] = ()
    models: tuple[tuple[str, int, str], ...] = ()  # (model, version, ML function) its ML.* calls used


@dataclass
class RunResult:
    run_id: str
    command: str
    started_at: datetime
    finished_at: datetime | None = None
    results: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(result.status.blocks_descendants for result in self.results)

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
        path = database_path(con)
        (tables,), = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()"
                                 ).fetchall()
        empty = " (it holds no tables at all: is it the file you meant?)" if tables == 0 else ""
        raise WarehouseError(
            f"source tables missing from the warehouse {path}{empty}: " + "; ".join(lines),
            hint="load them into the warehouse, or set [tool.toolkit].warehouse (or --warehouse) to the database "
                 "that has them",
        )


def check_replaceable(con: duckdb.DuckDBPyConnection, project: Project, selected: Sequence[str]) -> None:
    """No selected node may replace a relation that exists but that no toolkit build published (a table loaded
    by hand, say): that is checked for every node before anything is built."""
    published = published_relations(con)
    clashes: list[tuple[Node, Materialization]] = []
    for name in selected:
        node = project.nodes[name]
        if node.kind is not NodeKind.MODEL or node.qualified_name.casefold() in published:
            continue
        kind = existing_kind(con, node.schema, node.name)
        if kind is not None:
            clashes.append((node, kind))
    _check_orphan_names(con, project, selected)
    if clashes:
        lines = [f"{node.relative_path} would replace the {kind.value} {node.qualified_name}" for node, kind in clashes]
        drops = "; ".join(render(exp.Drop(tables=[relation(node.schema, node.name)], kind=kind.name))
                          for node, kind in clashes)
        raise WarehouseError(
            "; ".join(lines) + ", which the warehouse holds but no toolkit build created",
            hint=f"rename the model file (or give it another schema with config(schema=…)), or, if that data may go, "
            f"drop it first: {drops}",
        )


def orphaned_models(con: duckdb.DuckDBPyConnection, project: Project) -> list[str]:
    """The models of the model store that no CREATE MODEL file of the project trains any more."""
    from toolkit.ml.store.lifecycle import orphaned_models as orphans

    return orphans(con, [node.name for node in project.nodes.values() if node.kind is NodeKind.ML_MODEL])


def _check_orphan_names(con: duckdb.DuckDBPyConnection, project: Project, selected: Sequence[str]) -> None:
    """No selected table or view may take the name of an orphaned model: models and tables share names, as in a
    BigQuery dataset, and ML.* calls naming it would still read the old model."""
    from toolkit.ml.store.lifecycle import drop_hint

    orphans = {name.casefold(): name for name in orphaned_models(con, project)}
    for name in selected:
        node = project.nodes[name]
        model = orphans.get(node.name.casefold())
        if node.kind is NodeKind.MODEL and model is not None:
            raise WarehouseError(
                f"{node.relative_path} would create {node.qualified_name}, but {model} names a model of the model "
                "store whose CREATE MODEL file is gone (an orphaned model); a table cannot take its name",
                hint=f"drop the model first if it may go: {drop_hint(model)}; or rename the model file")


def run(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    selected: Sequence[str],
    reporter: Reporter | None = None,
    command: str = "build",
) -> RunResult:
    """`build`: build the selected nodes in topological order; a failure skips its descendants only.
    `test`: evaluate the selected nodes' assertions against what is published, building nothing."""
    reporter = reporter or SilentReporter()
    outcome = RunResult(run_id=uuid.uuid4().hex, command=command, started_at=_now())
    broken: dict[str, str] = {}  # node → the failed node that makes it unbuildable
    names = [name for name in selected if command == "build" or project.nodes[name].assertions]
    for index, name in enumerate(names, start=1):
        node = project.nodes[name]
        reporter.node_started(node, index, len(names))
        culprit = next((broken[p] for p in project.graph.parents[name] if p in broken), None)
        if culprit is not None:
            result = _result(node, Status.SKIPPED, None, 0.0, f"skipped because upstream node {culprit} failed", _now())
        elif command == "test":
            result = _test(con, node)
        else:
            result = _build(con, project, node, set(selected))
        if result.status.blocks_descendants and command == "build":
            broken[name] = culprit or name
        outcome.results.append(result)
        reporter.node_finished(result, index, len(names))
    outcome.finished_at = _now()
    return outcome


def _build(con: duckdb.DuckDBPyConnection, project: Project, node: Node, selected: set[str]) -> NodeResult:
    started_at, clock = _now(), time.perf_counter()
    seconds = lambda: time.perf_counter() - clock  # noqa: E731
    missing = [
        project.nodes[parent].qualified_name
        for parent in node.depends_on
        if parent not in selected and not _is_built(con, project.nodes[parent])
    ]
    if missing:
        message = (
            f"{node.relative_path}: refs {', '.join(missing)}, which is not built and not selected; "
            f"build it first or select it too (--select +{node.name})"
        )
        return _result(node, Status.ERROR, None, seconds(), message, started_at)
    if node.kind is NodeKind.ASSERTION:
        return _checked(node, None, evaluate(con, node.name, None, node.assertions), seconds(), started_at)
    if node.kind is NodeKind.ML_MODEL:
        return _train(con, node, started_at, clock)
    if node.calls_ml and node.materialized is Materialization.VIEW:
        message = f"{node.relative_path}: a view cannot hold ML.* calls (the model runs in Python); make it a table"
        return _result(node, Status.ERROR, None, seconds(), message, started_at)
    try:  # write, audit, then publish, in one transaction: nobody else sees the candidate
        with _applied(con, node) as applied, candidate(con, node, applied.sql) as built:
            rows = _rows(con, node, built.relation)
            audit = evaluate(con, node.name, built.relation, node.assertions)
            result = _checked(node, rows, audit, seconds(), started_at, tuple(applied.models))
            if not result.status.blocks_descendants:
                built.publish()
        if result.status is Status.ERROR:
            # An assertion could not run, which aborted the transaction and the statements after it: the node is
            # not published, and its audit is redone on a copy set aside, one statement at a time, to tell which.
            with _applied(con, node) as applied, set_aside(con, node, applied.sql) as aside:
                audit = evaluate(con, node.name, aside, node.assertions)
                result = _checked(node, _rows(con, node, aside), audit, seconds(), started_at, tuple(applied.models))
    except (duckdb.Error, ToolkitError) as error:  # rolled back: the previous version stays published
        return _result(node, Status.ERROR, None, seconds(), f"{node.relative_path}: {error}", started_at)
    return result


def _rows(con: duckdb.DuckDBPyConnection, node: Node, relation: str) -> int | None:
    """The row count of a table (None for a view)."""
    if node.materialized is not Materialization.TABLE:
        return None
    counted = exp.select(exp.Count(this=exp.Star())).from_(parse_relation(relation))
    return con.execute(render(counted)).fetchall()[0][0]


@contextmanager
def _applied(con: duckdb.DuckDBPyConnection, node: Node) -> Iterator[Applied]:
    """The node's SQL, its ML.* calls (if any) run and replaced by their results."""
    if not node.calls_ml:
        yield Applied(node.sql)
        return
    from toolkit.ml.functions.apply import applied_ml_calls  # scikit-learn loads only when a model is applied

    with applied_ml_calls(con, node.statement) as applied:
        yield applied


@contextmanager
def _applied_query(con: duckdb.DuckDBPyConnection, node: Node) -> Iterator[str]:
    """An ML model node's training query, its ML.* calls (if any) run and replaced by their results."""
    query = node.create_model.query
    if not node.calls_ml:
        yield query
        return
    from toolkit.ml.functions.apply import applied_ml_calls

    with applied_ml_calls(con, parse(query)) as applied:
        yield applied.sql


def _train(con: duckdb.DuckDBPyConnection, node: Node, started_at: datetime, clock: float) -> NodeResult:
    """Train an ML model node and store it as a new version; a failure leaves the previous versions as they are."""
    from toolkit.ml import load_model, model_exists, save_model, train_model  # scikit-learn loads only here
    from toolkit.ml.compile import FALLBACK
    from toolkit.ml.metrics import headline

    create = node.create_model
    seconds = lambda: time.perf_counter() - clock  # noqa: E731
    try:
        clash = existing_kind(con, node.schema, node.name)
        if clash is not None:
            raise ToolkitError(
                f"model {node.name} has the name of the {clash.value} {node.qualified_name}",
                hint="models and tables share one namespace, as in BigQuery: rename the model file or drop the "
                f"{clash.value}",
            )
        if create.if_not_exists and model_exists(con, node.name):
            return _result(node, Status.SUCCESS, None, seconds(), "exists; CREATE MODEL IF NOT EXISTS kept it", started_at)
        warm_start = any(str(k).upper() == "WARM_START" and v is True for k, v in create.options.items())
        previous = load_model(con, node.name) if warm_start and model_exists(con, node.name) else None
        with _applied_query(con, node) as query:  # a model may train on another model's ML.PREDICT
            training = train_model(con, name=node.name, options=create.options, query=query,
                                   transform=create.transform, written=create.query, previous=previous)
        version = save_model(con, training)
    except (ToolkitError, duckdb.Error) as error:
        return _result(node, Status.ERROR, None, seconds(), f"{node.relative_path}: {error}", started_at)
    trained, compiled = training.model, training.compiled
    metrics = headline(trained.metrics)
    message = f"version {version}, {trained.metrics_split} {metrics}" if metrics else f"version {version}"
    message += f"; {compiled.summary()}"  # ML.PREDICT in SQL, or why not; a compiled model that failed its check warns
    if training.trials:  # hyperparameter tuning: how many trials, and which one the version is
        failed = sum(t.status != "SUCCEEDED" for t in training.trials)
        optimal = next(t.trial_id for t in training.trials if t.is_optimal)
        message += f"; {len(training.trials)} trials ({failed} failed), optimal trial {optimal}"
    status = Status.WARN if compiled.status == FALLBACK else Status.SUCCESS
    return _result(node, status, trained.split.get("training_rows"), seconds(), message, started_at)


def _is_built(con: duckdb.DuckDBPyConnection, node: Node) -> bool:
    """Whether what `node` publishes exists: its relation, or a version of its model (assertions publish nothing)."""
    if node.kind is NodeKind.ASSERTION:
        return True
    if node.kind is NodeKind.ML_MODEL:
        from toolkit.ml import model_exists  # the model store's modules load only for a model

        return model_exists(con, node.name)
    return existing_kind(con, node.schema, node.name) is not None


def _test(con: duckdb.DuckDBPyConnection, node: Node) -> NodeResult:
    """Evaluate a node's assertions against its published relation."""
    started_at, clock = _now(), time.perf_counter()
    relation = None
    if node.kind is NodeKind.MODEL:
        if existing_kind(con, node.schema, node.name) is None:
            message = f"{node.qualified_name} is not built; run `toolkit build --select {node.name}` first"
            return _result(node, Status.ERROR, None, time.perf_counter() - clock, message, started_at)
        relation = node.relation
    return _checked(node, None, evaluate(con, node.name, relation, node.assertions), time.perf_counter() - clock, started_at)


def _checked(
    node: Node,
    rows: int | None,
    audit: list[AssertionResult],
    seconds: float,
    started_at: datetime,
    models: tuple[tuple[str, int, str], ...] = (),
) -> NodeResult:
    """The node's status from its assertions' verdicts: any error or fail beats warn, warn beats success."""
    verdicts = {result.status for result in audit}
    status = next(
        (s for verdict, s in (("error", Status.ERROR), ("fail", Status.FAIL), ("warn", Status.WARN)) if verdict in verdicts),
        Status.SUCCESS,
    )
    messages = [r.message for r in audit if r.status in ("error", "fail")]
    message = f"{node.relative_path}: " + "; ".join(messages) if messages else None
    return _result(node, status, rows, seconds, message, started_at, tuple(audit), models)


def _result(
    node: Node,
    status: Status,
    rows: int | None,
    seconds: float,
    message: str | None,
    started_at: datetime,
    assertions: tuple[AssertionResult, ...] = (),
    models: tuple[tuple[str, int, str], ...] = (),
) -> NodeResult:
    relation = node.qualified_name if node.kind is NodeKind.MODEL else None  # assertions and models store no relation
    return NodeResult(node.name, relation, status, rows, round(seconds, 4), message, started_at, assertions, models)


def save_results(con: duckdb.DuckDBPyConnection, outcome: RunResult, target: Path) -> Path:
    """Write the run to the `_toolkit` tables and to target/run_results.json. When that fails (a full disk), the
    error says so and that what the run built stays published."""
    warehouse = Path(database_path(con))  # asked first: a failed write may leave the connection unusable
    try:
        _record(con, outcome)
    except duckdb.Error as error:
        done = "build's relations are published" if outcome.command == "build" else f"{outcome.command} ran"
        raise WarehouseError(f"the {done}, but its run results could not be recorded in the warehouse: {error}",
                             Location(warehouse),
                             hint="free disk space (or fix what the error says); the next run is recorded as usual",
                             ) from None
    path = target / "run_results.json"
    try:
        target.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(json.dumps(outcome.to_json(), indent=2, default=str) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as error:
        raise ToolkitError(f"the run's results are recorded in the warehouse, but {path.name} could not be written: "
                           f"{error.strerror or error}", Location(path),
                           hint="free disk space, or make the target folder writable") from None
    return path


def _record(con: duckdb.DuckDBPyConnection, outcome: RunResult) -> None:
    record_run(
        con,
        (outcome.run_id, outcome.command, outcome.started_at, outcome.finished_at, outcome.status, __version__),
        [
            (outcome.run_id, r.node, r.relation, r.status.value, r.rows, r.seconds, r.message, r.started_at)
            for r in outcome.results
        ],
        [
            (outcome.run_id, a.node, a.assertion, a.test, a.dimension, a.severity, a.status, a.failing_rows,
             a.seconds, a.message, json.dumps(a.samples, default=str))
            for r in outcome.results
            for a in r.assertions
        ],
        [(outcome.run_id, r.node, model, version, function) for r in outcome.results for model, version, function in r.models
         if r.status is not Status.ERROR],
    )


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
