"""Inputs that used to end in a Python traceback: each is now an error that says what went wrong and where, with a
hint, printed by the real CLI (exit code 2, or the node's error and exit code 1)."""

from __future__ import annotations

import pathlib

import duckdb
import pytest
from click.testing import Result
from conftest import query, run_toolkit

TABLE = "select range::DOUBLE AS x, range * 2.0 AS label from range(20)\n"


def linear_model(select: str, model: str = "m", model_type: str = "linear_reg", label: str = "label") -> str:
    return (f"CREATE OR REPLACE MODEL {model} OPTIONS (model_type = '{model_type}', "
            f"input_label_cols = ['{label}'], data_split_method = 'no_split')\nAS {select}\n")


def failed(result: Result, code: int, *expected: str) -> str:
    """The output of a command that failed cleanly with `code`, holding every `expected` text."""
    output = result.output
    assert result.exit_code == code, output
    assert "Traceback" not in output, output
    for text in expected:
        assert text in output, (text, output)
    return output


# --- 1. pyproject.toml ------------------------------------------------------------------------------


def test_pyproject_that_is_not_utf8(project, toolkit):
    folder = project({"models/a.sql": "select 1 as x\n"})
    (folder / "pyproject.toml").write_bytes(b"[tool.toolkit]\nlock_timeout = 1\n# \xff\xfe\n")
    failed(toolkit(folder, "build"), 2, "pyproject.toml: pyproject.toml is not UTF-8 text", "hint:", "UTF-8")


def test_pyproject_that_cannot_be_read(project, toolkit, monkeypatch):
    """A file without read permission (root reads it whatever its mode, so the refusal is simulated)."""
    folder = project({"models/a.sql": "select 1 as x\n"})
    read_text = pathlib.Path.read_text

    def refused(path: pathlib.Path, *args, **kwargs) -> str:
        if path.name == "pyproject.toml":
            raise PermissionError(13, "Permission denied", str(path))
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", refused)
    failed(toolkit(folder, "build"), 2, "pyproject.toml cannot be read", "Permission denied", "hint:", "chmod")


# --- 2. Jinja: huge values and endless macros ---------------------------------------------------------


@pytest.mark.parametrize("expression, expected", [
    ("'a' * 10**12", "Jinja's * would make a string of 1,000,000,000,000 characters (at most 10,000,000"),
    ("10**12 * ['a']", "Jinja's * would make a list of 1,000,000,000,000 items"),
    ("'ab' * 4000000 + 'cd' * 2000000", "Jinja's + would make a string of 12,000,000 characters"),
    ("2 ** 1000000000000", "Jinja's ** would make a number of about 1,000,000,000,000 bits (at most 100,000"),
])
def test_jinja_expression_too_large(project, toolkit, expression, expected):
    folder = project({"models/a.sql": "select 1 as x,\n  '{{ " + expression + " }}' as y\n"})
    failed(toolkit(folder, "build"), 2, "models/a.sql, line 2:", expected, "hint:")


def test_jinja_small_arithmetic_still_works(project, toolkit):
    folder = project({"models/a.sql": "select '{{ 'ab' * 3 }}' as s, {{ 2 ** 10 + 7 * 6 }} as n, "
                                      "'{{ (['x'] * 2) | join }}' as l, {{ 2.5 ** 2 }} as f\n"})
    assert toolkit(folder, "build").exit_code == 0
    assert query(folder / "warehouse.duckdb", "select * from a") == [("ababab", 1066, "xx", 6.25)]


def test_macro_that_calls_itself_forever(project):
    folder = project({"macros/loops.sql": "{% macro forever(n) %}{{ forever(n + 1) }}{% endmacro %}\n",
                      "models/a.sql": "select 1 as x,\n  {{ forever(1) }} as y\n"})
    result = run_toolkit(folder, "build")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "models/a.sql, line 2: macro forever calls itself too deeply" in result.stderr, result.stderr
    assert "hint:" in result.stderr


def test_macro_of_the_model_file_that_calls_itself(project, toolkit):
    folder = project({"models/a.sql": "{% macro again() %}{{ again() }}{% endmacro %}select {{ again() }} as y\n"})
    failed(toolkit(folder, "build"), 2, "models/a.sql, line 1: macro again calls itself too deeply", "hint:")


def test_rendering_out_of_memory(project, toolkit, monkeypatch):
    def exhausted(*args) -> None:  # what a loop joining ever longer strings with ~ ends in
        raise MemoryError

    monkeypatch.setattr("toolkit.project.render.BoundedSandbox.call_binop", exhausted)
    folder = project({"models/a.sql": "select {{ 1 + 1 }} as x\n"})
    failed(toolkit(folder, "build"), 2, "models/a.sql: rendering ran out of memory", "hint:")


# --- 3. SQL that nests too deeply for the parser --------------------------------------------------------


def test_deeply_nested_parentheses(project):
    folder = project({"models/a.sql": "select\n  " + "(" * 40 + "1" + ")" * 40 + " as x\n"})
    result = run_toolkit(folder, "build")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "models/a.sql: the SQL nests too deeply to be parsed" in result.stderr, result.stderr
    assert "hint:" in result.stderr


# --- 4. infinite values in training data ----------------------------------------------------------------


@pytest.mark.parametrize("value", ["'inf'", "'-inf'"])
def test_infinite_feature(project, toolkit, value):
    select = f"SELECT {value}::DOUBLE AS x, 1.0 AS label UNION ALL SELECT 2.0, 2.0 UNION ALL SELECT 3.0, 3.5"
    folder = project({"models/m.sql": linear_model(select)})
    failed(toolkit(folder, "build"), 1, "model m: column 'x' has 1 infinite value(s) (+inf or -inf) in 3 rows",
           "isfinite(x)")


def test_infinite_feature_in_the_eval_rows(project, toolkit):
    select = ("SELECT CASE WHEN range = 7 THEN 'inf'::DOUBLE ELSE range END AS x, range * 2.0 AS label, "
              "range >= 5 AS is_eval FROM range(10)")
    model = linear_model(select).replace("'no_split'", "'custom', data_split_col = 'is_eval'")
    failed(toolkit(project({"models/m.sql": model}), "build"), 1, "column 'x' has 1 infinite value(s)", "in 10 rows")


@pytest.mark.parametrize("model_type", ["linear_reg", "logistic_reg"])
def test_infinite_label(project, toolkit, model_type):
    select = "SELECT 1.0 AS x, '-inf'::DOUBLE AS label UNION ALL SELECT 2.0, 2.0 UNION ALL SELECT 3.0, 'inf'::DOUBLE"
    folder = project({"models/m.sql": linear_model(select, model_type=model_type)})
    failed(toolkit(folder, "build"), 1, "model m: the label column 'label' has 2 infinite value(s) (+inf or -inf) "
                                        "in 3 rows", "isfinite(label)")


# --- 5. two columns of the same name ----------------------------------------------------------------


def test_create_model_with_a_column_twice(project, toolkit):
    folder = project({"models/t.sql": TABLE, "models/m.sql": linear_model("SELECT x, x, label FROM {{ ref('t') }}")})
    failed(toolkit(folder, "build"), 1, "model m: the query returns column 'x' more than once", "hint:")


def test_ml_function_input_with_a_column_twice(project, toolkit):
    folder = project({"models/t.sql": TABLE, "models/m.sql": linear_model("SELECT x, label FROM {{ ref('t') }}"),
                      "models/e.sql": "SELECT * FROM ML.EVALUATE(MODEL {{ ref('m') }}, "
                                      "(SELECT x, x, label FROM {{ ref('t') }}))\n",
                      "models/p.sql": "SELECT * FROM ML.PREDICT(MODEL {{ ref('m') }}, "
                                      "(SELECT x, label, x FROM {{ ref('t') }}))\n"})
    output = failed(toolkit(folder, "build"), 1,
                    "ML.EVALUATE with model m: the input returns column 'x' more than once",
                    "ML.PREDICT with model m: the input returns column 'x' more than once")
    assert "0 failed, 2 errored" in output


def test_plain_table_with_a_column_twice_keeps_duckdbs_names(project, toolkit):
    folder = project({"models/t.sql": TABLE, "models/d.sql": "select x, x from {{ ref('t') }}\n"})
    assert toolkit(folder, "build").exit_code == 0
    assert query(folder / "warehouse.duckdb", "select column_name from information_schema.columns "
                                              "where table_name = 'd' order by ordinal_position") == [("x",), ("x_1",)]


# --- 6. a NaN or infinite ML.* setting --------------------------------------------------------------


@pytest.mark.parametrize("function, value", [("PREDICT", "'nan'"), ("PREDICT", "'-inf'"), ("EVALUATE", "'nan'")])
def test_non_finite_threshold(project, toolkit, function, value):
    select = "SELECT x, x > 8 AS label FROM {{ ref('t') }}"
    folder = project({"models/t.sql": TABLE, "models/c.sql": linear_model(select, "c", "logistic_reg"),
                      "models/p.sql": f"SELECT * FROM ML.{function}(MODEL {{{{ ref('c') }}}}, (SELECT * FROM "
                                      f"{{{{ ref('t') }}}}), STRUCT(CAST({value} AS DOUBLE) AS threshold))\n"})
    shown = value.strip("'")
    failed(toolkit(folder, "build"), 1, f"models/p.sql: ML.{function} with model c: threshold = {shown} is not a "
                                        "finite number", "hint:")



def test_non_finite_threshold_of_compile(project, toolkit):
    select = "SELECT x, x > 8 AS label FROM {{ ref('t') }}"
    folder = project({"models/t.sql": TABLE, "models/c.sql": linear_model(select, "c", "logistic_reg")})
    assert toolkit(folder, "build").exit_code == 0
    failed(toolkit(folder, "compile", "--model", "c", "--threshold", "nan"), 2,
           "model c: threshold = nan is not a finite number", "hint:")

# --- 7. a full disk while the run's results are recorded -----------------------------------------------


def test_full_disk_while_recording_run_results(project, toolkit, monkeypatch):
    folder = project({"models/a.sql": "select 1 as x\n"})

    def full(*args, **kwargs) -> None:
        raise duckdb.IOException('IO Error: Could not write file "warehouse.duckdb.wal": No space left on device')

    monkeypatch.setattr("toolkit.runner.record_run", full)
    output = failed(toolkit(folder, "build"), 2, "warehouse.duckdb: the build's relations are published, but its run "
                                                 "results could not be recorded in the warehouse",
                    "No space left on device", "hint: free disk space")
    assert "1 succeeded" in output  # the summary of what was built comes first
    assert query(folder / "warehouse.duckdb", "select x from a") == [(1,)]


def test_full_disk_while_writing_run_results_json(project, toolkit, monkeypatch):
    folder = project({"models/a.sql": "select 1 as x\n"})
    write_text = pathlib.Path.write_text

    def full(path: pathlib.Path, *args, **kwargs) -> int:
        if path.name.startswith("run_results"):
            raise OSError(28, "No space left on device", str(path))
        return write_text(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", full)
    failed(toolkit(folder, "build"), 2, "target/run_results.json: the run's results are recorded in the warehouse, but "
                                        "run_results.json could not be written: No space left on device",
           "hint: free disk space")
    assert query(folder / "warehouse.duckdb", "select count(*) from _toolkit.runs") == [(1,)]


