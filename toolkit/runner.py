"""Walk the DAG: build each selected node in order (write, audit, publish), record a status per node, skip
what sits downstream of a failure, and write the run's results to the warehouse and target/run_results.json."""

from __future__ import annotations

import enum
import json
import threading
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

import duckdb
from sqlglot import exp

from toolkit import __version__
from toolkit.checks.evaluate import AssertionResult, calls_ml, evaluate
from toolkit.errors import Location, ToolkitError, WarehouseError
from toolkit.progress import Step, reporting
from toolkit.project.assertions import Assertion
from toolkit.project.load import Project
from toolkit.project.manifest import resource_type
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.project.schedule import run_in_dag_order
from toolkit.project.unit_run import UnitResult, run_unit_test
from toolkit.sql.ml_functions import Applied
from toolkit.sql.quoting import parse, parse_relation, relation, render
from toolkit.warehouse.connection import database_path, worker_cursors
from toolkit.warehouse.incremental import incremented
from toolkit.warehouse.materialize import candidate, existing_kind, set_aside
from toolkit.warehouse.reuse import NodeStates
from toolkit.warehouse.snapshot import is_history_table, snapshotted
from toolkit.warehouse.state import published_relations, record_run


class Status(enum.Enum):
    SUCCESS = "success"
    WARN = "warn"  # built (or checked), with warn-severity assertions failing
    FAIL = "fail"  # an error-severity assertion failed: not published, descendants skipped
    ERROR = "error"  # the node could not be built or checked
    SKIPPED = "skipped"
    UNCHANGED = "unchanged"  # its fingerprint is the one of its last build: what is published is kept

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
    resource_type: str = "model"  # dbt's: model, seed or test
    thread_id: str = "Thread-1"  # the thread that ran it (--threads)

    def dbt_status(self) -> str:
        """dbt's status word (https://docs.getdbt.com/reference/artifacts/run-results-json): a test passes, a kept
        node succeeded."""
        if self.status is Status.UNCHANGED:
            return "success"
        if self.resource_type == "test" and self.status is Status.SUCCESS:
            return "pass"
        return self.status.value


@dataclass
class RunResult:
    run_id: str
    command: str
    started_at: datetime
    finished_at: datetime | None = None
    results: list[NodeResult] = field(default_factory=list)
    package: str = "toolkit"  # the project folder's name, in dbt's unique ids
    args: dict = field(default_factory=dict)  # how the command was called (dbt's `args`: which, select, …)

    @property
    def failed(self) -> bool:
        return any(result.status.blocks_descendants for result in self.results)

    @property
    def status(self) -> str:
        return "error" if self.failed else "success"

    def to_json(self) -> dict:
        """dbt's run_results.json (https://docs.getdbt.com/reference/artifacts/run-results-json: metadata,
        results with unique_id, status, timing, execution_time, adapter_response, failures; elapsed_time, args),
        with the toolkit's own fields beside dbt's."""
        finished = self.finished_at or self.started_at
        return {
            "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                         "dbt_version": f"toolkit-{__version__}", "generated_at": _iso(finished),
                         "invocation_id": self.run_id, "env": {}},
            "elapsed_time": round((finished - self.started_at).total_seconds(), 4),
            "args": {"which": self.command, **self.args},
            "run_id": self.run_id,
            "command": self.command,
            "toolkit_version": __version__,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "results": [self._result_json(r) for r in self.results],
        }

    def _result_json(self, r: NodeResult) -> dict:
        completed = r.started_at + timedelta(seconds=r.seconds)
        failures = sum(a.failing_rows or 0 for a in r.assertions if a.status in ("fail", "warn", "error"))
        return {
            **asdict(r), "status": r.dbt_status(), "toolkit_status": r.status.value,
            "started_at": r.started_at.isoformat(),
            "unique_id": f"{r.resource_type}.{self.package}.{r.node}",
            "timing": [] if r.status in (Status.SKIPPED, Status.UNCHANGED) else [
                {"name": "execute", "started_at": _iso(r.started_at), "completed_at": _iso(completed)}],
            "execution_time": r.seconds,
            "adapter_response": {} if r.rows is None else {"rows_affected": r.rows},
            "failures": failures if r.assertions else None,
            "relation_name": r.relation,
        }


class Reporter(Protocol):
    """What the runner tells the user while it works (the CLI prints; tests may record)."""

    def node_started(self, node: Node, index: int, total: int) -> None: ...

    def node_finished(self, result: NodeResult, index: int, total: int) -> None: ...

    def node_progress(self, node: Node, step: Step) -> None:
        """A step of long work inside the running node: a training iteration, a prediction chunk."""


class SilentReporter:
    def node_started(self, node: Node, index: int, total: int) -> None:
        pass

    def node_progress(self, node: Node, step: Step) -> None:
        pass

    def node_finished(self, result: NodeResult, index: int, total: int) -> None:
        pass


def _progress_of(reporter: Reporter, node: Node) -> Callable[[Step], None]:
    """The listener of `node`'s steps (toolkit.progress); a reporter without `node_progress` hears none."""
    told = getattr(reporter, "node_progress", None)
    return (lambda step: told(node, step)) if told is not None else (lambda step: None)


def check_sources(con: duckdb.DuckDBPyConnection, project: Project, selected: Sequence[str]) -> None:
    """Every source table the selected nodes read must exist before anything is built."""
    missing: dict[tuple[str, str], list[str]] = {}
    present: dict[tuple[str, str], bool] = {}  # each source asked once
    for name in selected:
        node = project.nodes[name]
        for schema, table in node.sources:
            if (schema, table) not in present:
                present[(schema, table)] = existing_kind(con, schema, table) is not None
            if not present[(schema, table)]:
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
        if node.snapshot is not None and is_history_table(con, node):
            continue  # a history table dbt built: the snapshot goes on with it
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
    reuse: bool = True,
    named: Collection[str] = (),
    threads: int = 1,
) -> RunResult:
    """`build`: build the selected nodes in topological order; a failure skips its descendants only; with `reuse`,
    a node whose fingerprint is unchanged since its last build keeps what it published (toolkit/warehouse/reuse.py),
    unless it is one of the `named` nodes (named in --select: asked for by name, so built). With `threads` > 1,
    independent nodes run at once, each on its own cursor and in its own transaction.
    `test`: evaluate the selected nodes' assertions against what is published, building nothing."""
    reporter = reporter or SilentReporter()
    outcome = RunResult(run_id=uuid.uuid4().hex, command=command, started_at=_now(),
                        package=project.settings.package_name)
    states = NodeStates(con, project.nodes, project.graph.parents, outcome.run_id, reuse) if command == "build" else None
    broken: dict[str, str] = {}  # node → the failed node that makes it unbuildable
    names = [name for name in selected if command == "build" or project.nodes[name].assertions]
    chosen = set(selected)
    lock = threading.Lock()  # one thread at a time reports, and reads or writes the run's shared state
    started = iter(range(1, len(names) + 1))

    def step(name: str, cursor: duckdb.DuckDBPyConnection, worker: int = 0) -> NodeResult:
        node = project.nodes[name]
        with lock:
            index = next(started)
            culprit = next((broken[p] for p in project.graph.parents[name] if p in broken), None)
            kept = _kept(node, states, name in named) if culprit is None and states is not None else None
            if kept is None:  # a kept node does no work: its one line is its finish line
                reporter.node_started(node, index, len(names))
        if kept is not None:
            result = kept
        elif culprit is not None:
            result = _result(node, Status.SKIPPED, None, 0.0, f"skipped because upstream node {culprit} failed", _now())
        elif states is None:
            result = _test(cursor, node)
        else:
            # toolkit.progress has one listener per process, so only a node running alone hears its steps: every
            # node of a single-threaded build, and the ML nodes (the ones with steps) of a parallel one
            alone = threads <= 1 or _runs_alone(node)
            with reporting(_progress_of(reporter, node)) if alone else nullcontext():
                result = _build(cursor, project, node, chosen)
            with lock:
                states.finished(node, states.fingerprints.get(name), result.status.value)
        result = replace(result, thread_id=f"Thread-{worker + 1}")
        with lock:
            if states is not None and culprit is not None:
                states.finished(node, None, result.status.value)
            if result.status.blocks_descendants and command == "build":
                broken[name] = culprit or name
            reporter.node_finished(result, index, len(names))
        return result

    if threads <= 1:
        results = {name: step(name, con) for name in names}
    else:
        if command == "build":  # two transactions creating one schema at once conflict: create them all first
            for schema in sorted({project.nodes[name].schema for name in names}, key=str.casefold):
                con.execute(render(exp.Create(this=exp.Table(this=exp.to_identifier(schema)), kind="SCHEMA",
                                              exists=True)))
        with worker_cursors(con, threads) as cursors:
            results = run_in_dag_order(names, project.graph.parents, threads,
                                       lambda name, worker: step(name, cursors[worker], worker),
                                       exclusive=lambda name: _runs_alone(project.nodes[name]),
                                       interrupt=lambda: [cursor.interrupt() for cursor in cursors])
    outcome.results.extend(results[name] for name in names)
    if states is not None:
        states.save()
    outcome.finished_at = _now()
    return outcome


def _runs_alone(node: Node) -> bool:
    """Nodes that train or apply ML models run alone: their reproducible statistics pin DuckDB to one thread."""
    return node.kind is NodeKind.ML_MODEL or node.calls_ml


def _kept(node: Node, states: NodeStates, named: bool) -> NodeResult | None:
    """The result of a node kept as its last build published it, or None when it must be built."""
    started_at, clock = _now(), time.perf_counter()
    fingerprint = states.fingerprint(node)
    if named or not states.reusable(node, fingerprint):
        return None
    states.reused(node)
    message = "unchanged: the same SQL, config and inputs as at its last build"
    if node.kind is NodeKind.ML_MODEL:
        message = f"version {states.model_version(node.name)} kept: its query and its inputs are unchanged"
    return _result(node, Status.UNCHANGED, None, time.perf_counter() - clock, message, started_at)


def _failed_unit_test(con: duckdb.DuckDBPyConnection, project: Project, node: Node) -> UnitResult | None:
    """The first of the node's unit tests that does not pass (https://docs.getdbt.com/docs/build/unit-tests)."""
    for test in project.unit_tests:
        if test.model == node.name:
            result = run_unit_test(con, test)
            if result.status != "pass":
                return result
    return None


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
    failed_unit = _failed_unit_test(con, project, node)
    if failed_unit is not None:  # dbt's build runs a model's unit tests before it, and skips it when one fails
        status = Status.ERROR if failed_unit.status == "error" else Status.FAIL
        message = (f"{failed_unit.test.spec.path.name}: unit test {failed_unit.test.name} "
                   f"{'could not run' if status is Status.ERROR else 'failed'}: {failed_unit.message}")
        return _result(node, status, None, seconds(), message, started_at)
    if node.kind is NodeKind.ASSERTION:
        relation = _tested(node)
        with _gated(con, node, relation) as (assertions, history):
            result = _checked(node, None, evaluate(con, node.name, relation, assertions), seconds(), started_at)
        _record_history(con, history)
        return result
    if node.kind is NodeKind.ML_MODEL:
        return _train(con, node, started_at, clock)
    if node.calls_ml and node.materialized is Materialization.VIEW:
        message = f"{node.relative_path}: a view cannot hold ML.* calls (the model runs in Python); make it a table"
        return _result(node, Status.ERROR, None, seconds(), message, started_at)
    if node.snapshot is not None:
        return _build_in_place(con, node, started_at, seconds, snapshotted, lambda history: history.summary)
    if _increments(con, node):
        strategy = node.incremental.strategy if node.incremental else ""
        return _build_in_place(con, node, started_at, seconds, incremented,
                               lambda increment: f"incremental ({strategy}): {increment.added} new row(s)")
    history: list = []
    try:  # write, audit, then publish, in one transaction: nobody else sees the candidate
        with _applied(con, node) as applied, candidate(con, node, applied.sql) as built:
            rows = _rows(con, node, built.relation)
            with _gated(con, node, built.relation) as (assertions, history):
                audit = evaluate(con, node.name, built.relation, assertions)
            result = _checked(node, rows, audit, seconds(), started_at, tuple(applied.models))
            if not result.status.blocks_descendants:
                built.publish()
                history = [*history, *_query_history(node, applied)]
        if result.status is Status.ERROR:
            # An assertion could not run, which aborted the transaction and the statements after it: the node is
            # not published, and its audit is redone on a copy set aside, one statement at a time, to tell which.
            with _applied(con, node) as applied, set_aside(con, node, applied.sql) as aside:
                with _gated(con, node, aside) as (assertions, history):
                    audit = evaluate(con, node.name, aside, assertions)
                result = _checked(node, _rows(con, node, aside), audit, seconds(), started_at, tuple(applied.models))
        _record_history(con, history)  # after the transaction: a gate that stopped the node is kept too
    except (duckdb.Error, ToolkitError) as error:  # rolled back: the previous version stays published
        return _result(node, Status.ERROR, None, seconds(), f"{node.relative_path}: {error}", started_at)
    return result


def _increments(con: duckdb.DuckDBPyConnection, node: Node) -> bool:
    """Whether an incremental model adds to its table (which exists) rather than building it whole."""
    return (node.incremental is not None and not node.incremental.full_refresh
            and existing_kind(con, node.schema, node.name) is Materialization.TABLE)


def _build_in_place(con: duckdb.DuckDBPyConnection, node: Node, started_at: datetime, seconds: Callable[[], float],
                    apply: Callable, describe: Callable[[Any], str]) -> NodeResult:
    """Apply (an increment, a snapshot's changes), audit, then commit, in one transaction: a failure leaves the
    previous table intact."""
    try:
        with apply(con, node) as increment:
            rows = _rows(con, node, increment.relation)
            with _gated(con, node, increment.relation) as (assertions, history):
                audit = evaluate(con, node.name, increment.relation, assertions)
            result = _checked(node, rows, audit, seconds(), started_at)
            if not result.status.blocks_descendants:
                increment.publish()
        _record_history(con, history)  # after the transaction: a gate that stopped the increment is kept too
    except (duckdb.Error, ToolkitError) as error:  # rolled back: the previous version stays published
        return _result(node, Status.ERROR, None, seconds(), f"{node.relative_path}: {error}", started_at)
    return replace(result, message=result.message or describe(increment))


@contextmanager
def _gated(con: duckdb.DuckDBPyConnection, node: Node,
           relation: str | None) -> Iterator[tuple[Sequence[Assertion], list]]:
    """The node's assertions ready to evaluate on `relation`: those calling ML.* functions (the monitoring gates)
    read their results, computed first; and the monitoring results to record (toolkit.ml.monitor.history)."""
    if not any(calls_ml(assertion) for assertion in node.assertions):
        yield node.assertions, []
        return
    from toolkit.ml.monitor.gates import monitored  # scikit-learn loads only for a gate

    with monitored(con, node.name, relation or "(SELECT 1)", node.assertions) as gated:
        yield gated


def _query_history(node: Node, applied: Applied) -> list:
    """The monitoring results of the node's own ML.VALIDATE_DATA_SKEW / _DRIFT calls, once it is published."""
    if not any(function.startswith("VALIDATE_DATA_") for function, _ in applied.results):
        return []
    from toolkit.ml.monitor.gates import results_of

    return results_of(node.name, "model file", applied)


def _record_history(con: duckdb.DuckDBPyConnection, results: list) -> None:
    if results:
        from toolkit.ml.monitor.history import record

        record(con, results)


def _rows(con: duckdb.DuckDBPyConnection, node: Node, relation: str) -> int | None:
    """The row count of a table (None for a view)."""
    if node.materialized not in (Materialization.TABLE, Materialization.SEED, Materialization.INCREMENTAL,
                                 Materialization.SNAPSHOT):
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
        optimal = next(t for t in training.trials if t.is_optimal)
        objective = ", ".join(f"{name} {value:.4g}" for name, value in optimal.evaluation_metrics.items()
                              if value is not None)  # what the trials were chosen by, on the eval split
        message += (f"; {len(training.trials)} trials ({failed} failed), optimal trial {optimal.trial_id}"
                    + (f" (eval {objective})" if objective else ""))
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
    else:
        relation = _tested(node)
    with _gated(con, node, relation) as (assertions, history):
        result = _checked(node, None, evaluate(con, node.name, relation, assertions), time.perf_counter() - clock,
                          started_at)
    _record_history(con, history)
    return result


def _tested(node: Node) -> str | None:
    """The relation a YAML test node checks (None for an assertion file, whose query finds its failing rows)."""
    return render(relation(*node.tested)) if node.tested else None


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
    return NodeResult(node.name, relation, status, rows, round(seconds, 4), message, started_at, assertions, models,
                      resource_type(node))


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


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
