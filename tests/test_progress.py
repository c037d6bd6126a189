"""Progress inside a node (toolkit.progress): what training and ML.PREDICT report while a build runs, checked
against the model's own ML.TRAINING_INFO and the rows the prediction table holds; and how the reporters show it."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from conftest import invoke, query
from rich.console import Console

from toolkit import progress
from toolkit.config import load_settings
from toolkit.display.runs import PlainReporter, TerminalReporter
from toolkit.progress import Counter, Step, advance, reporting
from toolkit.project.load import load_project
from toolkit.runner import NodeResult, Status, run
from toolkit.warehouse.connection import open_writer

FILES = {
    "models/descent.sql": (
        "CREATE OR REPLACE MODEL descent OPTIONS (model_type = 'logistic_reg', input_label_cols = ['species'], "
        "data_split_method = 'no_split', max_iterations = 7, early_stop = FALSE, "
        "learn_rate_strategy = 'constant', learn_rate = 0.1)\n"
        "AS SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM {{ ref('iris_features') }}\n"),
    # a DNN trains epoch by epoch, and is not compiled to SQL: ML.PREDICT streams it through scikit-learn
    "models/species_net.sql": (
        "CREATE OR REPLACE MODEL species_net OPTIONS (model_type = 'dnn_classifier', hidden_units = [8], "
        "input_label_cols = ['species'], data_split_method = 'no_split', max_iterations = 4, early_stop = FALSE)\n"
        "AS SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM {{ ref('iris_features') }}\n"),
    "models/assigned.sql": (
        "select * from ML.PREDICT(MODEL {{ ref('species_net') }}, (select * from {{ ref('iris_features') }}))\n"),
}


class Recorder:
    def __init__(self) -> None:
        self.steps: list[tuple[str, Step]] = []

    def node_started(self, node, index: int, total: int) -> None:
        pass

    def node_finished(self, result, index: int, total: int) -> None:
        pass

    def node_progress(self, node, step: Step) -> None:
        self.steps.append((node.name, step))


@pytest.fixture(params=[1, 4], ids=["one thread", "four threads"])  # ML nodes run alone, so --threads hears them
def built(iris_project: Path, request: pytest.FixtureRequest) -> tuple[Path, Recorder]:
    for name, text in FILES.items():
        (iris_project / name).write_text(text, encoding="utf-8")
    settings = load_settings(iris_project)
    project = load_project(settings)
    recorder = Recorder()
    con = open_writer(settings.warehouse, settings.lock_timeout)
    try:
        outcome = run(con, project, project.graph.select(), recorder, threads=request.param)
    finally:
        con.close()
    assert not outcome.failed, [(r.node, r.message) for r in outcome.results]
    return iris_project, recorder


def test_a_build_reports_each_training_iteration_and_prediction_chunk(built: tuple[Path, Recorder]) -> None:
    folder, recorder = built
    for model, total in (("descent", 7), ("species_net", 4)):  # gradient descent; a DNN's epochs
        iterations = [step for node, step in recorder.steps if node == model]
        trained = invoke(folder, "query", f"SELECT iteration FROM ML.TRAINING_INFO(MODEL {model}) ORDER BY iteration",
                         "--format", "csv").output.split()[1:]
        assert [step.done for step in iterations] == [int(i) + 1 for i in trained] and len(trained) == total, model
        assert {(step.unit, step.total) for step in iterations} == {("iterations", total)}
    chunks = [step for node, step in recorder.steps if node == "assigned"]
    rows = query(folder / "warehouse.duckdb", "SELECT count(*) FROM assigned")[0][0]
    assert chunks and [step.done for step in chunks] == list(range(1, len(chunks) + 1))
    assert chunks[-1].rows == rows == 150 and all(step.unit == "chunks" and step.total is None for step in chunks)
    assert {node for node, _ in recorder.steps} <= {"descent", "assigned", "species_net", "iris_model"}


def test_advance_goes_to_the_innermost_listener_and_nowhere_without_one() -> None:
    advance("iterations", 1, 3)  # no listener: nothing happens
    outer: list[Step] = []
    inner: list[Step] = []
    with reporting(outer.append):
        advance("iterations", 1, 3)
        with reporting(inner.append):
            counter = Counter("chunks")
            counter.step(10)
            counter.step(5)
        advance("iterations", 2, 3)
    advance("iterations", 3, 3)
    assert outer == [Step("iterations", 1, 3), Step("iterations", 2, 3)]
    assert inner == [Step("chunks", 1, None, 10), Step("chunks", 2, None, 15)]
    assert inner[-1].describe() == "chunks 2 (15 rows)" and outer[-1].describe() == "iterations 2/3"
    assert not progress._listeners


def test_plain_lines_of_steps_come_at_most_every_few_seconds() -> None:
    stream = io.StringIO()
    now = [100.0]
    reporter = PlainReporter(Console(file=stream, width=100), every=5.0, clock=lambda: now[0])
    node = type("N", (), {"name": "flight_delay"})()
    reporter.node_started(node, 3, 9)
    for second, done in ((1.0, 1), (4.9, 2), (5.2, 3), (9.0, 4), (10.5, 5), (30.0, 6)):
        now[0] = 100.0 + second
        reporter.node_progress(node, Step("iterations", done, 50))
    lines = stream.getvalue().splitlines()
    assert lines == ["3/9 START flight_delay", "3/9 ...   flight_delay: iterations 3/50  [5s]",
                     "3/9 ...   flight_delay: iterations 5/50  [10s]", "3/9 ...   flight_delay: iterations 6/50  [30s]"]


def test_the_terminal_line_of_a_running_node_shows_its_latest_step() -> None:
    stream = io.StringIO()
    console = Console(file=stream, width=100, force_terminal=True, color_system=None)
    node = type("N", (), {"name": "flight_delay"})()
    with TerminalReporter(console) as reporter:
        reporter.node_started(node, 2, 4)
        reporter.node_progress(node, Step("iterations", 12, 50))
        reporter._progress.refresh()
        live = stream.getvalue()
        reporter.node_finished(NodeResult("flight_delay", None, Status.SUCCESS, 10, 2.0, None, datetime.now()), 2, 4)
    assert "2/4 building flight_delay" in live and "iterations 12/50" in live
    task = live.rsplit("2/4 building flight_delay", 1)[1]
    assert "━" in task  # the bar, a quarter full
