"""Terminal output: query and show through DuckDB's box at any width and as DuckDB's own text formats; ls, models
and run summaries that fit 80 columns without cutting a name; progress lines; several selectors after --select."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys

import duckdb
import pytest
from conftest import invoke, write_files
from rich.console import Console
from rich.text import Text

from toolkit.cli import spread_selectors
from toolkit.display.fit import Column, fitted, left, print_rows
from toolkit.display.runs import PlainReporter, TerminalReporter

WIDE_COLUMNS = 30  # a result wider than any terminal: as ML.PREDICT's over a feature table
WIDE_SQL = "select range as id, " + ", ".join(f"'value_{i}_' || range as column_{i:02d}" for i in range(WIDE_COLUMNS))
VALUES_SQL = """select range as id, range % 2 = 0 as even, if(range = 1, null, 'a,"b"' || range) as txt,
    range / 3 as ratio, date '2024-01-01' + range::int as day, [range, range + 1] as pair, {'k': range} as rec,
    1.25::decimal(5,2) as d from range(4)"""
LONG_NAMES = ["staging_flights_with_a_rather_long_name", "features_joining_everything_we_have", "reporting_mart"]
PROJECT = {
    "models/wide.sql": WIDE_SQL + " from range(60)\n",
    f"models/{LONG_NAMES[0]}.sql": "{{ config(tags=['staging', 'nightly']) }}\nselect range as x from range(5)\n",
    f"models/features/{LONG_NAMES[1]}.sql": f"select * from {{{{ ref('{LONG_NAMES[0]}') }}}}, {{{{ ref('wide') }}}}\n",
    f"models/marts/{LONG_NAMES[2]}.sql": f"select count(*) as n from {{{{ ref('{LONG_NAMES[1]}') }}}}\n",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = write_files(tmp_path_factory.mktemp("display"), PROJECT)
    result = invoke(folder, "build")
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def width(monkeypatch):
    def set_width(columns: int | None) -> None:
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", str(columns))
    return set_width


def _box_rows(output: str) -> list[list[str]]:
    """The cells of a DuckDB box's lines between its borders (header, type and value lines)."""
    return [[cell.strip() for cell in line.strip("│").split("│")] for line in output.splitlines()
            if line.startswith("│")]


def _widest(output: str) -> int:
    return max(len(line) for line in output.splitlines())


@pytest.mark.parametrize("columns", [80, 200])
def test_query_table_fits_the_width_eliding_middle_columns(built, width, columns):
    width(columns)
    result = invoke(built, "query", "select * from wide order by id")
    assert result.exit_code == 0, result.output
    assert _widest(result.output) <= columns
    header, _types, *values = _box_rows(result.output)
    shown = [name for name in header if name != "…"]
    all_columns = ["id", *(f"column_{i:02d}" for i in range(WIDE_COLUMNS))]
    assert "…" in header and len(shown) < len(all_columns)
    elided = header.index("…")  # the first columns, then the last ones, as the DuckDB CLI shows them
    assert header[:elided] == all_columns[:elided]
    assert header[elided + 1:] == all_columns[len(all_columns) - len(header) + elided + 1:]
    assert "60 rows (40 shown)" in result.output
    assert f"{WIDE_COLUMNS + 1} columns ({len(shown)} shown)" in result.output
    oracle = duckdb.connect()
    expected = oracle.execute(WIDE_SQL + " from range(60) order by id").fetchall()
    full = [row for row in values if row[0] != "·"]
    assert len(full) == 40
    kept = [all_columns.index(name) for name in shown]
    first = [[str(row[index]) for index in kept] for row in expected[:20]]
    last = [[str(row[index]) for index in kept] for row in expected[-20:]]
    assert [[cell for cell in row if cell != "…"] for row in full] == first + last  # every shown cell whole


def test_query_table_when_piped_is_as_wide_as_the_result(built, width):
    width(None)  # the test runner's stdout is no terminal, as a pipe or a file
    result = invoke(built, "query", "select * from wide order by id", "--max-rows", "4")
    header = _box_rows(result.output)[0]
    assert "…" not in header and len(header) == WIDE_COLUMNS + 1 and _widest(result.output) > 200
    assert "60 rows (4 shown)" in result.output


def test_max_width_and_max_rows(built, width):
    width(200)
    result = invoke(built, "query", "select * from wide", "--max-width", "60", "--max-rows", "6")
    assert _widest(result.output) <= 60 and "60 rows (6 shown)" in result.output
    short = invoke(built, "query", "select 1 as one")
    assert "1 row" in short.output.splitlines()[-1]  # a count even when DuckDB's footer is empty
    narrow = invoke(built, "query", "select * from wide order by id", "--max-width", "30", "--max-rows", "2")
    assert _widest(narrow.output) <= 30  # narrower than any box: one `column = value` a line
    assert narrow.output.splitlines()[:2] == ["       id = 0", "column_00 = value_0_0"]
    assert "column_29 = value_29_1" in narrow.output and narrow.output.endswith("60 rows (2 shown)\n")


def test_show_uses_the_same_box(built, width):
    width(80)
    shown = invoke(built, "show", "wide", "--limit", "3")
    assert shown.exit_code == 0 and _widest(shown.output) <= 80 and "main.wide" in shown.output
    header, _types, *values = _box_rows(shown.output)
    assert header[0] == "id" and "…" in header and [row[0] for row in values] == ["0", "1", "2"]
    assert "3 rows" in shown.output
    as_csv = invoke(built, "show", "wide", "--limit", "2", "--format", "csv")
    assert len(list(csv.reader(io.StringIO(as_csv.output)))) == 3


@pytest.mark.parametrize("output, writer_format", [("csv", "csv"), ("jsonl", "json")])
def test_text_formats_are_what_duckdb_writes(built, tmp_path, output, writer_format):
    """Byte for byte what DuckDB's own COPY … TO writes: booleans true/false, NULL empty, lists, structs, quoting."""
    oracle_file = tmp_path / f"oracle.{output}"
    duckdb.connect().execute(f"COPY ({VALUES_SQL}) TO '{oracle_file}' (FORMAT {writer_format})")
    result = invoke(built, "query", VALUES_SQL, "--format", output)
    assert result.exit_code == 0, result.output
    assert result.output == oracle_file.read_text()


def test_json_and_markdown_hold_the_same_rows(built):
    lines = invoke(built, "query", VALUES_SQL, "--format", "jsonl").output.splitlines()
    assert json.loads(invoke(built, "query", VALUES_SQL, "--format", "json").output) == [json.loads(x) for x in lines]
    markdown = invoke(built, "query", VALUES_SQL, "--format", "markdown").output.splitlines()
    rows = list(csv.reader(io.StringIO(invoke(built, "query", VALUES_SQL, "--format", "csv").output)))
    assert markdown[1] == "|---:|---|---|---:|---|---|---|---:|"  # numbers right-aligned
    cells = [[cell.strip().replace('\\|', '|') for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
             for line in markdown[:1] + markdown[2:]]
    assert cells == rows


# --- ls, models, run summaries -------------------------------------------------------------------------
def _no_cut_names(output: str, names: list[str]) -> None:
    assert "…" not in output
    for name in names:
        assert name in output, f"{name} not whole in:\n{output}"


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_ls_fits_without_cutting_names(built, width, columns):
    width(columns)
    result = invoke(built, "ls")
    assert result.exit_code == 0 and _widest(result.output) <= columns
    _no_cut_names(result.output, LONG_NAMES + ["wide"])
    if columns == 200:  # a table, the columns that do not fit left out and named
        assert "┃ node" in result.output and "depends on" in result.output
        assert "not shown at 200 columns: relation" in result.output
    else:  # names this long leave no room for a table: one node a line, its details after it
        assert "┃" not in result.output
        assert [line.split()[0] for line in result.output.splitlines() if not line.startswith(" ")] == \
            [node["name"] for node in json.loads(invoke(built, "ls", "--output", "json").output)]


def test_ls_piped_is_full_width(built, width):
    width(None)
    result = invoke(built, "ls")
    assert "models/features/features_joining_everything_we_have.sql" in result.output and "not shown" not in result.output


def test_fitted_table_leaves_out_lowest_first_and_never_ellipsises():
    columns = [left("name"), left("note", wrap=True, drop=2), left("path", drop=1)]
    rows = [("a_rather_long_node_name", "some words that can wrap", "models/a/b/c.sql")]

    def rendered(width: int) -> str:
        console = Console(file=io.StringIO(), width=width, record=True)
        console.print(fitted(columns, rows, width, record=lambda row: [Text(row[0])]))
        return console.export_text()

    wide, middle, narrow = rendered(120), rendered(50), rendered(26)
    assert "models/a/b/c.sql" in wide and "some words that can wrap" in wide
    assert "path" not in middle.splitlines()[1] and "note" in middle  # path is left out first
    assert "a_rather_long_node_name" in middle
    assert narrow.splitlines()[0] == "a_rather_long_node_name"  # too narrow for a table: the record alone
    assert all("…" not in text for text in (wide, middle, narrow))
    assert Column("x").drop is None
    console = Console(file=io.StringIO(), width=30, record=True)
    print_rows(console, ["key", "value"], [(1, "a value of several words that wraps"), (2, None)])
    text = console.export_text()
    assert "…" not in text and "NULL" in text and text.rstrip().endswith("2 row(s)") and _widest(text) <= 30
    cells = [line.strip("│").split("│")[1].strip() for line in text.splitlines() if line.startswith("│")]
    assert cells == ["a value of several", "words that wraps", "NULL"]  # wrapped at its spaces, nothing lost


def test_build_output_fits_80_columns_and_json_matches_the_results_file(project, width):
    width(80)
    folder = project({**{name: text for name, text in PROJECT.items() if name != "models/wide.sql"},
                      "models/wide.sql": "select 1 as x\n"})
    result = invoke(folder, "build")
    assert result.exit_code == 0, result.output
    assert _widest(result.output) <= 80
    _no_cut_names(result.output, LONG_NAMES)
    lines = result.output.splitlines()
    for name in LONG_NAMES:  # a start line before each finish line
        started = next(i for i, line in enumerate(lines) if "START" in line and line.endswith(name))
        finished = next(i for i, line in enumerate(lines) if " OK " in line and name in line)
        assert started < finished
    as_json = invoke(folder, "build", "--output", "json")
    assert as_json.exit_code == 0
    document = json.loads(as_json.stdout)
    assert document == json.loads((folder / "target/run_results.json").read_text())
    assert sorted(r["node"] for r in document["results"]) == sorted(["wide", *LONG_NAMES])
    assert "START" in as_json.stderr  # progress still shows, on stderr


@pytest.mark.parametrize("columns", [80, 200])
def test_models_fit_the_width(iris_project, width, columns):
    width(columns)
    assert invoke(iris_project, "build").exit_code == 0
    result = invoke(iris_project, "models")
    assert result.exit_code == 0 and _widest(result.output) <= columns
    _no_cut_names(result.output, ["iris_model", "LOGISTIC_REG", "accuracy"])
    summary = json.loads(invoke(iris_project, "models", "--output", "json").output)[0]
    headers = ("model", "type", "version", "trained", "rows", "metrics", "ML.PREDICT")
    header_line = next(line for line in result.output.splitlines() if "┃ model" in line)
    if columns == 200:
        assert all(header in header_line for header in headers) and summary["prediction"] in result.output
    else:
        assert "not shown at 80 columns: trained" in result.output and "trained" not in header_line
    predict = "SELECT * FROM ML.PREDICT(MODEL iris_model, (SELECT * FROM iris_features ORDER BY ALL LIMIT 5))"
    table = invoke(iris_project, "query", predict)
    assert table.exit_code == 0 and _widest(table.output) <= columns
    header, _types, *values = _box_rows(table.output)
    expected = list(csv.DictReader(io.StringIO(invoke(iris_project, "query", predict, "--format", "csv").output)))
    starts = [row[0] for row in values if row[0]]  # a wide box may wrap a row's long cells onto more lines
    assert header[0] == "predicted_species" and all(row["predicted_species"] for row in expected)
    assert starts == [row["predicted_species"] for row in expected]
    tested = invoke(iris_project, "test", "--output", "json")  # remarks go to stderr: stdout holds JSON or nothing
    assert tested.stdout == "" and "Nothing to test" in tested.stderr


def test_piped_output_is_not_cut(built):
    """A real pipe with no COLUMNS: as wide as the content, whatever terminal the test runs in."""
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    result = subprocess.run([sys.executable, "-m", "toolkit", "ls"], cwd=built, capture_output=True, text=True,
                            env=env, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "not shown" not in result.stdout and "┃ relation" in result.stdout
    assert "models/features/features_joining_everything_we_have.sql" in result.stdout and _widest(result.stdout) > 200


def test_failed_build_as_json(project):
    folder = project({"models/good.sql": "select 1 as x\n", "models/bad.sql": "select no_such_column from range(1)\n",
                      "models/after.sql": "select * from {{ ref('bad') }}\n"})
    result = invoke(folder, "build", "--output", "json")
    assert result.exit_code == 1
    statuses = {r["node"]: r["status"] for r in json.loads(result.stdout)["results"]}
    assert statuses == {"good": "success", "bad": "error", "after": "skipped"}
    assert "bad failed: " in result.stderr and "no_such_column" in result.stderr


class _Recording(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        self.flushed.append(self.getvalue())


def test_plain_progress_lines_are_flushed_as_they_happen(project):
    from toolkit.runner import NodeResult, Status

    stream = _Recording()
    reporter = PlainReporter(Console(file=stream, width=80))
    node = type("N", (), {"name": "stg_flights"})()
    with reporter:
        reporter.node_started(node, 1, 2)
        assert stream.flushed and stream.flushed[-1].strip() == "1/2 START stg_flights"
        from datetime import datetime
        reporter.node_finished(NodeResult("stg_flights", "main.stg_flights", Status.SUCCESS, 12, 0.25, None,
                                          datetime.now()), 1, 2)
    assert stream.flushed[-1].splitlines()[-1] == "1/2 OK    stg_flights  [12 rows, 0.25s]"


def test_terminal_progress_shows_elapsed_time_per_running_node():
    from datetime import datetime

    from toolkit.runner import NodeResult, Status

    stream = io.StringIO()
    console = Console(file=stream, width=80, force_terminal=True, color_system=None)
    node = type("N", (), {"name": "flight_features"})()
    with TerminalReporter(console) as reporter:
        reporter.node_started(node, 3, 5)
        live = stream.getvalue()
        reporter.node_finished(NodeResult("flight_features", None, Status.SUCCESS, None, 1.5, None, datetime.now()),
                               3, 5)
    assert "3/5 building flight_features" in live and re.search(r"0:00:0\d", live)
    assert "3/5 OK    flight_features  [1.50s]" in stream.getvalue()


# --- --select a b c --------------------------------------------------------------------------------------
def test_spread_selectors():
    assert spread_selectors(["--select", "a", "b", "-s", "c", "--exclude", "d", "e", "--vars", "{}"]) == [
        "--select", "a", "--select", "b", "-s", "c", "--exclude", "d", "--exclude", "e", "--vars", "{}"]
    assert spread_selectors(["--select=a", "b", "--", "c"]) == ["--select=a", "--select", "b", "--", "c"]
    assert spread_selectors(["--select", "a b", "--output", "json"]) == ["--select", "a b", "--output", "json"]


def test_select_takes_several_arguments(built):
    def listed(*args: str) -> list[str]:
        result = invoke(built, "ls", "--output", "json", *args)
        assert result.exit_code == 0, result.output
        return [node["name"] for node in json.loads(result.output)]

    every = listed()
    chosen = [LONG_NAMES[0], "wide"]
    expected = [name for name in every if name in chosen]
    assert listed("--select", *chosen) == listed("--select", " ".join(chosen)) == expected
    assert listed("-s", chosen[0], "-s", chosen[1]) == expected
    assert listed("--select", f"+{LONG_NAMES[2]}", "--exclude", *chosen) == [
        name for name in every if name not in chosen]
