"""`toolkit build` end to end on small projects: materialization, atomicity, failures, results, locking."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from conftest import query, run_toolkit, write_files

CHAIN = {
    "models/staging/numbers.sql": "{{ config(materialized='view', tags=['staging']) }}\nselect range as n from range(5)\n",
    "models/doubled.sql": "select n * 2 as m from {{ ref('numbers') }}\n",
    "models/marts/total.sql": "{{ config(schema='marts') }}\nselect sum(m) as total from {{ ref('doubled') }}\n",
}


def test_build_materializes_tables_views_and_schemas(project, toolkit):
    folder = project(CHAIN)
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    warehouse = folder / "warehouse.duckdb"
    kinds = dict(query(warehouse, "select table_schema || '.' || table_name, table_type from information_schema.tables "
                                  "where table_schema <> '_toolkit'"))
    assert kinds == {"main.numbers": "VIEW", "main.doubled": "BASE TABLE", "marts.total": "BASE TABLE"}
    assert query(warehouse, "select total from marts.total") == [(20,)]
    assert "3 succeeded, 0 warned, 0 failed, 0 errored, 0 skipped" in result.output


def test_rebuild_replaces_relations_and_switches_kind(project, toolkit):
    folder = project(CHAIN)
    assert toolkit(folder, "build").exit_code == 0
    (folder / "models/staging/numbers.sql").write_text("select range as n from range(3)\n")  # now a table
    assert toolkit(folder, "build").exit_code == 0
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select table_type from information_schema.tables where table_name = 'numbers'") == [
        ("BASE TABLE",)
    ]
    assert query(warehouse, "select total from marts.total") == [(6,)]


def test_failed_node_keeps_previous_version_and_skips_descendants(project, toolkit):
    folder = project({**CHAIN, "models/independent.sql": "select 42 as answer\n"})
    assert toolkit(folder, "build").exit_code == 0
    (folder / "models/doubled.sql").write_text("select no_such_column from {{ ref('numbers') }}\n")
    (folder / "models/independent.sql").write_text("select 43 as answer\n")
    result = toolkit(folder, "build")
    assert result.exit_code == 1
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select sum(m) from doubled") == [(20,)]  # the previous version, intact
    assert query(warehouse, "select answer from independent") == [(43,)]  # independent branch went on
    statuses = dict(query(warehouse, "select node, status from _toolkit.run_results where run_id = "
                                     "(select run_id from _toolkit.runs order by started_at desc limit 1)"))
    assert statuses == {"numbers": "success", "doubled": "error", "total": "skipped", "independent": "success"}
    assert "no_such_column" in result.output and "models/doubled.sql" in result.output
    assert "0 failed, 1 errored, 1 skipped" in result.output


def test_run_results_json_and_table_agree(project, toolkit):
    folder = project(CHAIN)
    assert toolkit(folder, "build").exit_code == 0
    document = json.loads((folder / "target/run_results.json").read_text())
    assert document["status"] == "success"
    by_node = {r["node"]: r for r in document["results"]}
    assert by_node["doubled"]["rows"] == 5 and by_node["numbers"]["rows"] is None
    assert by_node["total"]["relation"] == "marts.total"
    rows = query(folder / "warehouse.duckdb",
                 f"select node, status, rows from _toolkit.run_results where run_id = '{document['run_id']}'")
    assert sorted(rows) == [("doubled", "success", 5), ("numbers", "success", None), ("total", "success", 1)]


def test_selection_builds_only_selected_nodes(project, toolkit):
    folder = project(CHAIN)
    result = toolkit(folder, "build", "--select", "+doubled", "--exclude", "tag:staging")
    assert result.exit_code == 1  # doubled refs numbers, which is neither built nor selected
    assert "not built and not selected" in result.output and "--select +doubled" in result.output
    assert toolkit(folder, "build", "-s", "numbers+").exit_code == 0
    assert query(folder / "warehouse.duckdb", "select count(*) from information_schema.tables "
                                               "where table_schema in ('main', 'marts')") == [(3,)]


def test_leftovers_of_an_interrupted_build_are_removed(project, toolkit):
    folder = project(CHAIN)
    assert toolkit(folder, "build").exit_code == 0
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute('create table main."__toolkit_tmp__doubled" as select 1 as junk')
    con.close()
    result = toolkit(folder, "build")
    assert result.exit_code == 0
    assert "Removed main.__toolkit_tmp__doubled" in result.output
    assert query(folder / "warehouse.duckdb",
                 "select count(*) from information_schema.tables where table_name like '__toolkit%'") == [(0,)]


def test_missing_source_table_is_reported_before_building(project, toolkit):
    folder = project({
        "pyproject.toml": '[tool.toolkit]\n[tool.toolkit.sources]\nraw = ["events"]\n',
        "models/a.sql": "select * from {{ source('raw', 'events') }}\n",
    })
    result = toolkit(folder, "build")
    assert result.exit_code == 2
    assert "raw.events" in result.output and "models/a.sql" in result.output


def test_source_tables_are_read(project, toolkit):
    folder = project({
        "pyproject.toml": '[tool.toolkit]\n[tool.toolkit.sources]\nraw = { schema = "landing", tables = ["events"] }\n',
        "models/a.sql": "select count(*) as n from {{ source('raw', 'events') }}\n",
    })
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("create schema landing; create table landing.events as select * from range(7)")
    con.close()
    assert toolkit(folder, "build").exit_code == 0
    assert query(folder / "warehouse.duckdb", "select n from a") == [(7,)]


def test_warehouse_that_is_not_duckdb(project, toolkit):
    folder = project({"models/a.sql": "select 1"})
    (folder / "warehouse.duckdb").write_text("not a database\n" * 100)
    result = toolkit(folder, "build")
    assert result.exit_code == 2
    assert "is not a DuckDB database" in result.output
    assert (folder / "warehouse.duckdb").read_text().startswith("not a database")  # left untouched


def test_a_warehouse_cut_short_is_said_to_be_damaged(project, toolkit):
    folder = project({"models/a.sql": "select range as x from range(100000)"})
    assert toolkit(folder, "build").exit_code == 0
    warehouse = folder / "warehouse.duckdb"
    data = warehouse.read_bytes()
    warehouse.write_bytes(data[: len(data) // 2])
    result = toolkit(folder, "build")  # the build reads its state tables, in the part cut off
    assert result.exit_code == 2, result.output
    assert "is damaged (cut short or overwritten)" in result.output and "restore it from a copy" in result.output
    assert "warehouse.duckdb" in result.output and "Traceback" not in result.output


def test_example_warehouse_is_copied_when_missing(project, toolkit):
    folder = project({
        "pyproject.toml": '[tool.toolkit]\n[tool.toolkit.sources]\nraw = ["t"]\n',
        "models/a.sql": "select sum(x) as s from {{ source('raw', 't') }}\n",
    })
    con = duckdb.connect(str(folder / "warehouse.duckdb.example"))
    con.execute("create schema raw; create table raw.t as select range as x from range(4)")
    con.close()
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert "Created warehouse.duckdb from warehouse.duckdb.example" in result.output
    assert query(folder / "warehouse.duckdb", "select s from a") == [(6,)]
    assert query(folder / "warehouse.duckdb.example", "select count(*) from information_schema.tables "
                                                      "where table_schema = 'main'") == [(0,)]


def test_busy_warehouse_names_the_process(project):
    folder = project({"models/a.sql": "select 1 as x\n"})
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
                               "time.sleep(30)", str(folder / "warehouse.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        started = time.monotonic()
        result = run_toolkit(folder, "build")
        assert time.monotonic() - started < 15
        assert result.returncode == 2
        assert f"is in use by process {holder.pid}" in result.stderr
        assert "Traceback" not in result.stderr
        reader = run_toolkit(folder, "query", "select 1")
        assert reader.returncode == 2 and f"process {holder.pid}" in reader.stderr
    finally:
        holder.kill()
        holder.wait()
    assert run_toolkit(folder, "build").returncode == 0


def test_sigkill_in_the_middle_of_a_node_keeps_previous_tables(project):
    slow = "select count(*) as n from range(1000000) a, range(1000000) b\n"  # minutes of work
    folder = project({"models/base.sql": "select range as x from range(10)\n",
                      "models/result.sql": "select sum(x) as s from {{ ref('base') }}\n"})
    assert run_toolkit(folder, "build").returncode == 0
    (folder / "models/result.sql").write_text("{{ ref('base') }}\n".join(["-- depends on ", slow]))
    process = subprocess.Popen([sys.executable, "-m", "toolkit", "build"], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:  # wait until the slow node is the one being built
            if "OK" in line and "base" in line:
                break
        time.sleep(1.0)
        assert process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select s from result") == [(45,)]
    assert query(warehouse, "select count(*) from base") == [(10,)]
    (folder / "models/result.sql").write_text("select max(x) as s from {{ ref('base') }}\n")
    rebuilt = run_toolkit(folder, "build")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert query(warehouse, "select s from result") == [(9,)]
    assert query(warehouse, "select count(*) from information_schema.tables where table_name like '__toolkit%'") == [(0,)]


def test_project_errors_exit_2_without_traceback(tmp_path):
    cases = {
        "unknown ref": ({"models/a.sql": "select * from {{ ref('nope') }}"}, 'ref("nope") names no node'),
        "cycle": ({"models/a.sql": "select * from {{ ref('b') }}", "models/b.sql": "select * from {{ ref('a') }}"},
                  "cycle: a -> b -> a"),
        "duplicate": ({"models/a.sql": "select 1", "models/sub/A.sql": "select 2"}, "two model files define"),
        "jinja syntax": ({"models/a.sql": "select 1\n{% if %}"}, "a.sql, line 2: Jinja syntax error"),
        "undefined": ({"models/a.sql": "select {{ nope }}"}, "undefined Jinja variable"),
        "sql syntax": ({"models/a.sql": "select 1,\nfrom where"}, "a.sql, line 2, column"),
        "not a query": ({"models/a.sql": "delete from t"}, "holds a DELETE statement"),
        "config key": ({"models/a.sql": "{{ config(materialised='view') }}select 1"}, 'did you mean "materialized"'),
        "no settings": ({"pyproject.toml": "[project]\nname = 'x'\n", "models/a.sql": "select 1"},
                        "has no [tool.toolkit] table"),
    }
    for name, (files, expected) in cases.items():
        folder = write_files(tmp_path / name.replace(" ", "_"), files)
        result = run_toolkit(folder, "build")
        assert result.returncode == 2, name
        assert expected in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, name
        assert not (folder / "warehouse.duckdb").exists(), name  # nothing opened, nothing touched


def test_a_model_file_too_large_to_parse_is_refused_up_front(project, toolkit):
    rows = ",\n".join(f"({i}, 'name {i}')" for i in range(60_000))  # ≈1.3 MiB of VALUES
    folder = project({"models/big.sql": f"SELECT * FROM (VALUES {rows}) AS t(id, name)\n",
                      "models/loop.sql": "{% for i in range(90000) %}SELECT {{ i }} AS x UNION ALL\n{% endfor %}"
                                         "SELECT -1 AS x\n"})
    result = toolkit(folder, "build")
    assert result.exit_code == 2, result.output
    assert "models/big.sql" in result.output and "the file is 1." in result.output and "at most 1 MiB" in result.output
    assert "source" in result.output and "Traceback" not in result.output
    (folder / "models/big.sql").unlink()
    result = toolkit(folder, "build")
    assert result.exit_code == 2 and "models/loop.sql" in result.output and "its rendered SQL is" in result.output
    assert not (folder / "warehouse.duckdb").exists()  # refused before the warehouse was opened


def test_includes_outside_the_project_and_byte_order_marks(project, toolkit):
    for target in ("/etc/passwd", "../pyproject.toml", "pyproject.toml"):
        folder = project({"models/a.sql": f"{{% include '{target}' %}}\nSELECT 1 AS x\n"})
        result = toolkit(folder, "build")
        assert result.exit_code == 2, result.output
        assert f"of '{target}': templates may include only the project's own model and macro files" in result.output
        assert "models/a.sql, line 1" in result.output and "root:" not in result.output
    folder = project({"models/a.sql": "SELECT 1 AS x\n"})
    (folder / "models/a.sql").write_bytes(b"\xef\xbb\xbfSELECT 1 AS x\n")  # a UTF-8 byte-order mark
    assert toolkit(folder, "build").exit_code == 0
    assert query(folder / "warehouse.duckdb", "SELECT x FROM a") == [(1,)]


def test_settings_that_name_nothing_and_a_warehouse_without_the_sources(project, toolkit):
    folder = project({"pyproject.toml": '[tool.toolkit]\nschema = ""\n', "models/a.sql": "SELECT 1 AS x\n"})
    result = toolkit(folder, "build")
    assert result.exit_code == 2 and "[tool.toolkit].schema is empty" in result.output, result.output
    folder = project({"pyproject.toml": '[tool.toolkit]\nwarehouse = "no/such/dir/wh.duckdb"\n'
                                        '[tool.toolkit.sources]\nraw = ["flights"]\n',
                      "models/a.sql": "SELECT * FROM {{ source('raw', 'flights') }}\n"})
    result = toolkit(folder, "build")
    assert result.exit_code == 2, result.output
    assert "no/such/dir/wh.duckdb" in result.output.replace("\n", "") and "holds no tables at all" in result.output
    assert "raw.flights (read by models/a.sql)" in result.output


FLIGHTS_PYPROJECT = '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["flights"]\n'


def _warehouse_with(folder, *statements: str) -> None:
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    for statement in statements:
        con.execute(statement)
    con.close()


@pytest.mark.parametrize(("path", "schema"), [("models/x/flights.sql", "raw"), ("models/x/FLIGHTS.sql", "Raw")])
def test_a_model_over_a_declared_source_is_refused(project, toolkit, path, schema):
    folder = project({"pyproject.toml": FLIGHTS_PYPROJECT, path: f"{{{{ config(schema='{schema}') }}}} SELECT 1 AS x\n",
                      "models/counted.sql": "select count(*) as n from {{ source('raw', 'flights') }}\n"})
    _warehouse_with(folder, "create schema raw", "create table raw.flights as select range as id from range(5)")
    result = toolkit(folder, "build")
    assert result.exit_code == 2, result.output
    name = path.rpartition("/")[2].removesuffix(".sql")
    assert f"{path}: model {name} would replace the source raw.flights declared in pyproject.toml" in result.output
    assert "rename the model file" in result.output
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select count(*), sum(id) from raw.flights") == [(5, 10)]  # the source, untouched
    assert query(warehouse, "select count(*) from information_schema.tables where table_name = 'counted'") == [(0,)]


@pytest.mark.parametrize("schema", ["_toolkit", "_TOOLKIT", "_toolkit_audit"])
def test_a_model_in_the_state_schema_is_refused(project, toolkit, schema):
    folder = project(CHAIN)
    assert toolkit(folder, "build").exit_code == 0
    (folder / "models/runs.sql").write_text(f"{{{{ config(schema='{schema}') }}}} SELECT 1 AS x\n")
    result = toolkit(folder, "build")
    assert result.exit_code == 2, result.output
    assert f"models/runs.sql: model runs would be built in the schema {schema}, which holds the toolkit's own tables" \
        in result.output
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select count(*), min(command) from _toolkit.runs") == [(1, "build")]  # still its own


@pytest.mark.parametrize("kind", ["table", "view"])
def test_a_relation_the_toolkit_did_not_build_is_not_replaced(project, toolkit, kind):
    folder = project({"models/events.sql": "select 1 as x\n", "models/other.sql": "select 2 as y\n"})
    _warehouse_with(folder, f"create {kind} events as select range as id from range(7)")
    result = toolkit(folder, "build")
    assert result.exit_code == 2, result.output
    assert f"models/events.sql would replace the {kind} main.events, which the warehouse holds but no toolkit build " \
           "created" in result.output
    assert f'drop it first: DROP {kind.upper()} "main"."events"' in result.output
    assert "rename the model file" in result.output
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select count(*) from events") == [(7,)]
    assert query(warehouse, "select count(*) from information_schema.tables where table_name = 'other'") == [(0,)]
    _warehouse_with(folder, f"drop {kind} events")
    assert toolkit(folder, "build").exit_code == 0
    assert toolkit(folder, "build").exit_code == 0  # what the toolkit built, it replaces
    assert query(warehouse, "select x from events") == [(1,)]


def test_what_a_build_published_stays_replaceable(project, toolkit):
    folder = project(CHAIN)
    assert toolkit(folder, "build").exit_code == 0
    warehouse = folder / "warehouse.duckdb"
    assert sorted(query(warehouse, "select table_schema, table_name, node from _toolkit.relations")) == [
        ("main", "doubled", "doubled"), ("main", "numbers", "numbers"), ("marts", "total", "total")]
    _warehouse_with(folder, "delete from _toolkit.run_results", "delete from _toolkit.runs")  # as after a kill -9
    assert toolkit(folder, "build").exit_code == 0  # noted on publishing
    _warehouse_with(folder, "delete from _toolkit.relations")  # as in a warehouse built before the note existed
    assert toolkit(folder, "build").exit_code == 0  # reported by the earlier build
    _warehouse_with(folder, "delete from _toolkit.relations", "delete from _toolkit.run_results")
    refused = toolkit(folder, "build")
    assert refused.exit_code == 2 and "main.numbers" in refused.output and "marts.total" in refused.output
