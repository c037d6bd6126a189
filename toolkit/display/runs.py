"""What `build` and `test` print while they work and when they are done. On a terminal a live line per running node
with its elapsed time and, for long work, its steps (training iterations, prediction chunks) as a bar (rich
progress); otherwise plain lines, a start line when a node begins, a line of its steps every few seconds, and a
finish line with its timing when it ends, each flushed, so a CI log shows what is running while it runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from toolkit.display.fit import Cell, left, print_fitted, right
from toolkit.progress import Step
from toolkit.project.nodes import Node
from toolkit.runner import NodeResult, RunResult, Status

STATUS_STYLE = {
    Status.SUCCESS: ("OK", "green"), Status.WARN: ("WARN", "yellow"), Status.FAIL: ("FAIL", "red"),
    Status.ERROR: ("ERROR", "red"), Status.SKIPPED: ("SKIP", "dim"), Status.UNCHANGED: ("SAME", "dim"),
}
VERDICT_STYLE = {"pass": ("PASS", "green"), "warn": ("WARN", "yellow"), "fail": ("FAIL", "red"), "error": ("ERROR", "red")}
SAMPLES_SHOWN = 2  # sample failing rows printed per failed assertion
KEPT_LISTED = 10  # more unchanged nodes than this are counted in the summary, not listed


def _counter(index: int, total: int) -> str:
    return f"{index:>{len(str(total))}}/{total}"


def finished_line(result: NodeResult, index: int, total: int) -> Text:
    label, style = STATUS_STYLE[result.status]
    line = Text(f"{_counter(index, total)} ") + Text(f"{label:<5}", style=style) + Text(f" {result.node}")
    details = f"{result.rows:,} rows, " if result.rows is not None else ""
    if result.assertions:
        passed = sum(a.status == "pass" for a in result.assertions)
        details += f"{passed}/{len(result.assertions)} assertions passed, "
    kept_model = result.status is Status.UNCHANGED and result.relation is None and result.resource_type == "model"
    if (result.status is Status.SUCCESS or kept_model) and result.message:
        details += f"{result.message}, "  # e.g. a trained model's version and metrics
    if kept_model:
        line += Text(f"  [{details.rstrip(', ')}]", style="dim")
    elif result.status not in (Status.SKIPPED, Status.UNCHANGED):
        line += Text(f"  [{details}{result.seconds:.2f}s]", style="dim")
    return line


class _NodeLines:
    """The finish line of each node, and the assertions that did not pass under it."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> _NodeLines:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        pass

    def node_finished(self, result: NodeResult, index: int, total: int) -> None:
        self.console.print(finished_line(result, index, total))
        for assertion in result.assertions:
            if assertion.status != "pass":
                label, style = VERDICT_STYLE[assertion.status]
                self.console.print(Text("      ") + Text(f"{label:<5}", style=style) + Text(f" {assertion.message}"))


STEP_LINES_EVERY = 5.0  # seconds between two lines of a node's steps in plain output


class PlainReporter(_NodeLines):
    """A start line and a finish line per node, for logs and pipes; between them, for a node that takes a while,
    a line of its latest step every `every` seconds (none for a node done sooner)."""

    def __init__(self, console: Console, every: float = STEP_LINES_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(console)
        self.every, self.clock = every, clock
        self._counter, self._started, self._last = "", 0.0, 0.0

    def node_started(self, node: Node, index: int, total: int) -> None:
        self._counter = _counter(index, total)
        self._started = self._last = self.clock()
        self.console.print(Text(f"{self._counter} ") + Text("START", style="cyan") + Text(f" {node.name}"))

    def node_progress(self, node: Node, step: Step) -> None:
        now = self.clock()
        if now - self._last < self.every:
            return
        self._last = now
        self.console.print(Text(f"{self._counter} ") + Text("...  ", style="cyan") + Text(f" {node.name}: ")
                           + Text(step.describe()) + Text(f"  [{now - self._started:.0f}s]", style="dim"))


class TerminalReporter(_NodeLines):
    """A live line per running node with a spinner and its elapsed time (several with --threads); finished nodes
    print above them."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=20),
                                  TextColumn("{task.fields[step]}"), TimeElapsedColumn(), console=console,
                                  transient=True)
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> TerminalReporter:
        self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._progress.stop()

    def node_started(self, node: Node, index: int, total: int) -> None:
        self._tasks[node.name] = self._progress.add_task(f"{_counter(index, total)} building {node.name}",
                                                         total=None, step="")
        self._progress.refresh()  # the line shows at once, not at the next tick

    def node_progress(self, node: Node, step: Step) -> None:
        task = self._tasks.get(node.name)
        if task is not None:  # a known total fills the bar; an unknown one keeps it pulsing
            self._progress.update(task, total=step.total, completed=step.done if step.total else 0,
                                  step=step.describe())

    def node_finished(self, result: NodeResult, index: int, total: int) -> None:
        task = self._tasks.pop(result.node, None)
        if task is not None:
            self._progress.remove_task(task)
        super().node_finished(result, index, total)


def reporter_for(console: Console) -> PlainReporter | TerminalReporter:
    return TerminalReporter(console) if console.is_terminal else PlainReporter(console)


def print_summary(console: Console, errors: Console, outcome: RunResult) -> None:
    rows: list[Sequence[Cell]] = []
    kept = [result.node for result in outcome.results if result.status is Status.UNCHANGED]
    for result in outcome.results:
        if result.status is Status.UNCHANGED and len(kept) > KEPT_LISTED:
            continue  # many kept nodes: counted below, not listed
        label, style = STATUS_STYLE[result.status]
        rows.append((result.node, Text(label, style=style), "" if result.rows is None else f"{result.rows:,}",
                     f"{result.seconds:.2f}"))
    if rows:
        print_fitted(console, [left("node"), left("status"), right("rows", drop=2), right("seconds", drop=1)], rows,
                     title="Summary", record=_summary_record)
    if len(kept) > KEPT_LISTED:
        console.print(f"{len(kept)} unchanged node(s) kept, not listed (run_results.json lists them).", style="dim")
    _print_assertions(console, outcome)
    print_failures(errors, outcome)
    counts = {status: sum(r.status is status for r in outcome.results) for status in Status}
    seconds = (outcome.finished_at - outcome.started_at).total_seconds() if outcome.finished_at else 0.0
    console.print(
        f"Done in {seconds:.2f}s: {counts[Status.SUCCESS]} succeeded, {counts[Status.WARN]} warned, "
        f"{counts[Status.FAIL]} failed, {counts[Status.ERROR]} errored, {counts[Status.SKIPPED]} skipped"
        + (f", {counts[Status.UNCHANGED]} unchanged (kept)." if counts[Status.UNCHANGED] else ".")
    )


def print_failures(errors: Console, outcome: RunResult) -> None:
    for result in outcome.results:
        if result.status in (Status.ERROR, Status.FAIL):
            errors.print(Text(f"{result.node} failed: ", style="bold red") + Text(result.message or ""), soft_wrap=True)


def _summary_record(row: Sequence[Cell]) -> list[Text]:
    node, status, rows, seconds = row
    return [Text.assemble(status, " ", (str(node), "bold")), Text(f"{rows} rows" if rows else ""),
            Text(f"{seconds}s", style="dim")]


def _assertion_record(row: Sequence[Cell]) -> list[Text]:
    node, assertion, dimension, severity, status, failing = row
    return [Text.assemble(status, " ", (str(node), "bold")), Text(str(assertion)),
            Text(f"{dimension}, {severity}", style="dim"), Text(f"{failing} failing rows" if failing else "")]


def _print_assertions(console: Console, outcome: RunResult) -> None:
    audits = [a for result in outcome.results for a in result.assertions]
    if not audits:
        return
    columns = [left("node"), left("assertion", wrap=True), left("dimension", drop=1), left("severity", drop=2),
               left("status"), right("failing rows", drop=3)]
    rows: list[Sequence[Cell]] = []
    for audit in audits:
        label, style = VERDICT_STYLE[audit.status]
        failing = "" if audit.failing_rows is None else f"{audit.failing_rows:,}"
        rows.append((audit.node, audit.assertion, audit.dimension, audit.severity, Text(label, style=style), failing))
    print_fitted(console, columns, rows, title="Assertions", record=_assertion_record)
    for audit in audits:
        if audit.samples:
            console.print(Text(f"{audit.node} · {audit.assertion}: sample failing rows", style="bold"))
            for sample in audit.samples[:SAMPLES_SHOWN]:  # a preview: run_results.json holds the rows whole
                console.print(Text("  " + json.dumps(sample, default=str), style="dim"), no_wrap=True,
                              overflow="ellipsis")
