"""The other commands: compile, ls, show, query, init, --version."""

from __future__ import annotations

import csv
import io
import json

import duckdb
import pytest
from conftest import run_toolkit

from toolkit import __version__
from toolkit.warehouse.connection import open_reader

PROJECT = {
    "pyproject.toml": '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.vars]\nlimit = 3\n',
    "models/base.sql": "{{ config(materialized='view', tags=['raw']) }}\nselect range as x, 'v' || range as label from range(10);\n",
    "models/sub/top.sql": "select * from {{ ref('base') }} where x < {{ var('limit') }} -- done\n",
}


def test_version(project, toolkit):
    result = toolkit(project({}), "--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_python_dash_m_runs_the_cli(project):
    result = run_toolkit(project(PROJECT), "--help")
    assert result.returncode == 0
    for command in ("build", "compile", "ls", "show", "query", "init"):
        assert command in result.stdout


def test_compile_writes_rendered_sql(project, toolkit):
    folder = project(PROJECT)
    result = toolkit(folder, "compile", "--vars", '{"limit": 7}')
    assert result.exit_code == 0, result.output
    compiled = (folder / "target/compiled/models/sub/top.sql").read_text()
    assert 'from "main"."base" where x < 7' in compiled
    assert not (folder / "warehouse.duckdb").exists()  # compiling needs no warehouse


def test_bad_vars_json(project, toolkit):
    result = toolkit(project(PROJECT), "compile", "--vars", "{limit: 7")
    assert result.exit_code == 2 and "--vars is not valid JSON" in result.output


def test_ls_lists_kind_materialization_and_dependencies(project, toolkit):
    result = toolkit(project(PROJECT), "ls", "--output", "json")
    assert result.exit_code == 0
    nodes = {node["name"]: node for node in json.loads(result.output)}
    assert nodes["base"]["materialized"] == "view" and nodes["base"]["tags"] == ["raw"]
    assert nodes["top"] == {
        "name": "top", "kind": "model", "materialized": "table", "schema": "main", "tags": [],
        "depends_on": ["base"], "sources": [], "path": "models/sub/top.sql",
    }
    table = toolkit(project(PROJECT), "ls", "--select", "path:models/sub")
    assert "top" in table.output and "base" not in table.output.replace("base", "", 1)


def test_show_and_query(project, toolkit):
    folder = project(PROJECT)
    assert toolkit(folder, "build").exit_code == 0
    shown = toolkit(folder, "show", "TOP", "--limit", "2")
    assert shown.exit_code == 0 and "2 rows" in shown.output and "v1" in shown.output

    as_csv = toolkit(folder, "query", "select x, label from top order by x", "--format", "csv")
    assert list(csv.reader(io.StringIO(as_csv.output))) == [["x", "label"], ["0", "v0"], ["1", "v1"], ["2", "v2"]]
    as_json = toolkit(folder, "query", "select count(*) as n from base", "--format", "json")
    assert json.loads(as_json.output) == [{"n": 10}]
    as_table = toolkit(folder, "query", "select 'hello' as greeting")
    assert "greeting" in as_table.output and "hello" in as_table.output


def test_query_is_read_only_and_errors_are_clear(project, toolkit):
    folder = project(PROJECT)
    assert toolkit(folder, "build").exit_code == 0
    write = toolkit(folder, "query", "drop table top")
    assert write.exit_code == 2 and "read-only" in write.output
    bad = toolkit(folder, "query", "select * from nowhere")
    assert bad.exit_code == 2 and "nowhere" in bad.output
    unknown = toolkit(folder, "show", "tpo")
    assert unknown.exit_code == 2 and 'did you mean "top"' in unknown.output


def test_show_before_build(project, toolkit):
    result = toolkit(project(PROJECT), "show", "top")
    assert result.exit_code == 2 and "does not exist" in result.output and "toolkit build" in result.output


def test_init_creates_a_project_that_builds(tmp_path):
    folder = tmp_path / "new"
    created = run_toolkit(tmp_path, "init", "new")
    assert created.returncode == 0, created.stderr
    built = run_toolkit(folder, "build")
    assert built.returncode == 0, built.stdout + built.stderr
    shown = run_toolkit(folder, "query", "select sum(n_times) from numbers", "--format", "csv")
    assert shown.stdout.splitlines() == ["sum(n_times)", str(3 * sum(range(10)))]
    again = run_toolkit(tmp_path, "init", "new")
    assert again.returncode == 2 and "already holds" in again.stderr


def test_query_table_shows_the_first_rows_only(project, toolkit):
    folder = project(PROJECT)
    assert toolkit(folder, "build").exit_code == 0
    table = toolkit(folder, "query", "select range as n from range(150)")
    assert " ".join(table.output.split()[-4:]) == "150 rows (40 shown)"  # DuckDB's box: the first and last 20
    shown = [line.strip("│ ") for line in table.output.splitlines() if line.startswith("│")][2:]
    assert shown == [*map(str, range(20)), *["·"] * 3, *map(str, range(130, 150))]
    as_csv = toolkit(folder, "query", "select range as n from range(150)", "--format", "csv")
    assert len(as_csv.output.splitlines()) == 151


def test_query_refuses_what_is_not_one_read(project, toolkit, tmp_path):
    folder = project(PROJECT)
    assert toolkit(folder, "build").exit_code == 0
    written, attached = tmp_path / "out.csv", tmp_path / "other.duckdb"
    cases = {
        f"COPY (SELECT * FROM top) TO '{written}'": "COPY … TO writes a file",
        f"copy top to '{written}' (format csv)": "COPY … TO writes a file",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{written}'": "COPY … TO writes a file",
        f"SELECT 1; COPY (SELECT 1) TO '{written}'": "this SQL holds 2 statements",
        f"ATTACH '{attached}' AS other": "ATTACH opens another database",
        "INSTALL httpfs": "INSTALL downloads an extension",
        "LOAD httpfs": "LOAD loads an extension",
        "SET threads = 1": "SET changes a setting",
        "CREATE TABLE copied AS SELECT * FROM top": "CREATE TABLE writes to the warehouse",
        "CREATE TEMP TABLE copied AS SELECT * FROM top": "CREATE TABLE writes to the warehouse",
        "WITH t AS (SELECT 1 AS x) INSERT INTO top SELECT * FROM t": "INSERT changes rows",
        "CHECKPOINT": "CHECKPOINT is not a read",
    }
    for sql, reason in cases.items():
        result = toolkit(folder, "query", sql)
        assert result.exit_code == 2, (sql, result.output)
        assert f"toolkit query runs one read-only statement; {reason}" in result.output, (sql, result.output)
        assert "hint: build tables with a model file" in result.output
    assert not written.exists() and not attached.exists()
    assert run_toolkit(folder, "query", "select count(*) from information_schema.tables where table_name = 'copied'",
                       "--format", "csv").stdout.splitlines() == ["count_star()", "0"]


def test_query_runs_every_kind_of_read(project, toolkit):
    folder = project(PROJECT)
    assert toolkit(folder, "build").exit_code == 0
    reads = {
        "WITH t AS (SELECT x FROM top) SELECT sum(x) AS s FROM t": "s\n3",
        "VALUES (1, 'a')": "col0,col1\n1,a",
        "TABLE top": "x,label\n0,v0\n1,v1\n2,v2",
        "FROM top SELECT count(*) AS n": "n\n3",
        "SELECT 1 AS x UNION ALL SELECT 2": "x\n1\n2",
        "DESCRIBE top": "column_name,",
        "SHOW TABLES": "name\nbase\ntop",
        "SUMMARIZE top": "column_name,",
        "EXPLAIN SELECT * FROM top": "explain_key,explain_value",
    }
    for sql, expected in reads.items():
        result = toolkit(folder, "query", sql, "--format", "csv")
        assert result.exit_code == 0, (sql, result.output)
        assert result.output.startswith(expected), (sql, result.output)


def test_query_connection_reaches_nothing_but_the_warehouse(project, toolkit):
    folder = project({**PROJECT, "data.csv": "a\n1\n"})
    assert toolkit(folder, "build").exit_code == 0
    settings = toolkit(folder, "query", "SELECT current_setting('enable_external_access') AS external, "
                                        "current_setting('lock_configuration') AS locked", "--format", "csv")
    assert settings.output.splitlines() == ["external,locked", "false,true"]  # booleans as DuckDB writes them
    read = toolkit(folder, "query", f"SELECT * FROM read_csv('{folder / 'data.csv'}')")
    assert read.exit_code == 2 and "disabled by configuration" in read.output


def test_every_reader_connection_is_locked_down(tmp_path):
    """show, models, compile --model and split-report open the warehouse as query does: nothing outside it."""
    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).close()
    (tmp_path / "rows.csv").write_text("a\n1\n")
    con = open_reader(path, timeout=1)
    try:
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM read_csv('{tmp_path / 'rows.csv'}')").fetchall()
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()
