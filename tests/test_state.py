"""State: a rebuild keeps the nodes whose fingerprint (SQL, config, upstream outputs, input data) is unchanged,
rebuilds exactly the others (checked against tables computed from the sources directly), state:/result:
selectors against the last build's manifest or --state, retry, --full-refresh and dbt's run_results.json."""

from __future__ import annotations

import json
import shutil

import duckdb
from conftest import query

PYPROJECT = '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["left_rows", "right_rows"]\n'
FILES = {
    "pyproject.toml": PYPROJECT,
    "models/l1.sql": "select v, v * 2 as w from {{ source('raw', 'left_rows') }}\n",
    "models/l2.sql": "{{ config(materialized='view') }}\nselect sum(w) as total from {{ ref('l1') }}\n",
    "models/r1.sql": "select v + 1 as v from {{ source('raw', 'right_rows') }}\n",
    "models/joined.sql": "select (select total from {{ ref('l2') }}) + (select sum(v) from {{ ref('r1') }}) as s\n",
    "models/stamp.sql": "select now() as at, s from {{ ref('joined') }}\n",
}


def make(project) -> object:
    folder = project(FILES)
    execute(folder, "create schema raw; create table raw.left_rows as select range as v from range(4); "
                    "create table raw.right_rows as select range as v from range(3)")
    return folder


def execute(folder, sql: str) -> None:
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute(sql)
    con.close()


def statuses(folder) -> dict[str, str]:
    document = json.loads((folder / "target/run_results.json").read_text())
    return {r["node"]: r["toolkit_status"] for r in document["results"]}


def expected_s(folder) -> int:
    """`joined` computed from the sources directly."""
    return query(folder / "warehouse.duckdb", "select (select sum(v * 2) from raw.left_rows) + "
                                              "(select sum(v + 1) from raw.right_rows)")[0][0]


def test_noop_rebuild_keeps_everything_but_volatile_nodes(project, toolkit):
    folder = make(project)
    assert toolkit(folder, "build").exit_code == 0
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert statuses(folder) == {"l1": "unchanged", "l2": "unchanged", "r1": "unchanged", "joined": "unchanged",
                                "stamp": "success"}  # now() differs from run to run
    assert "4 unchanged (kept)" in result.output
    assert query(folder / "warehouse.duckdb", "select s from joined") == [(expected_s(folder),)]
    document = json.loads((folder / "target/run_results.json").read_text())
    kept = next(r for r in document["results"] if r["node"] == "l1")
    assert (kept["status"], kept["timing"]) == ("success", [])  # dbt's word for a node that needs no work


def test_changed_source_rebuilds_its_descendants_only(project, toolkit):
    folder = make(project)
    assert toolkit(folder, "build").exit_code == 0
    execute(folder, "update raw.right_rows set v = v + 10 where v = 2")  # same row count, other values
    assert toolkit(folder, "build").exit_code == 0
    assert statuses(folder) == {"l1": "unchanged", "l2": "unchanged", "r1": "success", "joined": "success",
                                "stamp": "success"}
    assert query(folder / "warehouse.duckdb", "select s from joined") == [(expected_s(folder),)]
    execute(folder, "alter table raw.left_rows alter v type double")  # same rows, another type
    assert toolkit(folder, "build").exit_code == 0
    assert statuses(folder)["l1"] == "success" and statuses(folder)["r1"] == "unchanged"


def test_changed_sql_rebuilds_it_and_downstream(project, toolkit):
    folder = make(project)
    assert toolkit(folder, "build").exit_code == 0
    (folder / "models/l1.sql").write_text("select v, v * 3 as w from {{ source('raw', 'left_rows') }}\n")
    assert toolkit(folder, "build").exit_code == 0
    assert statuses(folder) == {"l1": "success", "l2": "success", "r1": "unchanged", "joined": "success",
                                "stamp": "success"}
    assert query(folder / "warehouse.duckdb", "select s from joined") == [(expected_s(folder) + 6,)]  # 0+1+2+3 more


def test_dropped_relation_and_no_skip_unchanged_rebuild(project, toolkit):
    folder = make(project)
    assert toolkit(folder, "build").exit_code == 0
    execute(folder, "drop table main.r1")
    assert toolkit(folder, "build").exit_code == 0
    assert statuses(folder)["r1"] == "success" and statuses(folder)["l1"] == "unchanged"
    assert toolkit(folder, "build", "--no-skip-unchanged").exit_code == 0
    assert set(statuses(folder).values()) == {"success"}
    (folder / "pyproject.toml").write_text(PYPROJECT.replace("lock_timeout = 1", "lock_timeout = 1\n"
                                                             "skip_unchanged = false"))
    assert toolkit(folder, "build").exit_code == 0
    assert set(statuses(folder).values()) == {"success"}


def test_failed_audit_is_never_kept(project, toolkit):
    folder = make(project)
    (folder / "models/r1.sql").write_text("{{ config(assertions=[not_null('v')]) }}\n"
                                          "select nullif(v, 3) as v from {{ source('raw', 'right_rows') }}\n")
    assert toolkit(folder, "build").exit_code == 0
    execute(folder, "update raw.right_rows set v = 2 where v = 0")
    execute(folder, "update raw.right_rows set v = 3 where v = 1")  # now a NULL: the audit fails
    assert toolkit(folder, "build").exit_code == 1
    assert statuses(folder)["r1"] == "fail" and statuses(folder)["joined"] == "skipped"
    assert toolkit(folder, "build").exit_code == 1  # the same inputs fail again: not kept
    assert statuses(folder)["r1"] == "fail"


def test_state_modified_against_the_last_build_and_a_saved_state(project, toolkit, tmp_path):
    folder = make(project)
    assert toolkit(folder, "build").exit_code == 0
    saved = tmp_path / "prod-target"
    shutil.copytree(folder / "target", saved)
    (folder / "models/r1.sql").write_text("select v + 2 as v from {{ source('raw', 'right_rows') }}\n")
    (folder / "models/new_one.sql").write_text("select 1 as x\n")
    listed = toolkit(folder, "ls", "--select", "state:modified", "--output", "json")
    assert sorted(n["name"] for n in json.loads(listed.output)) == ["new_one", "r1"]
    listed = toolkit(folder, "ls", "--select", "state:modified+", "--output", "json")
    assert sorted(n["name"] for n in json.loads(listed.output)) == ["joined", "new_one", "r1", "stamp"]
    assert toolkit(folder, "build", "--select", "r1").exit_code == 0
    # the last build's manifest now has r1; new_one, not built, is still new
    listed = toolkit(folder, "ls", "--select", "state:modified", "--output", "json")
    assert [n["name"] for n in json.loads(listed.output)] == ["new_one"]
    listed = toolkit(folder, "ls", "--select", "state:modified", "--state", str(saved), "--output", "json")
    assert sorted(n["name"] for n in json.loads(listed.output)) == ["new_one", "r1"]
    missing = toolkit(folder, "ls", "--select", "state:modified", "--state", str(tmp_path / "nowhere"))
    assert missing.exit_code == 2 and "no manifest.json" in missing.output
    typo = toolkit(folder, "ls", "--select", "state:modifed")
    assert typo.exit_code == 2 and "did you mean" in typo.output and "modified" in typo.output


def test_retry_runs_what_failed_or_was_skipped(project, toolkit):
    folder = make(project)
    (folder / "models/r1.sql").write_text("select no_such_column from {{ source('raw', 'right_rows') }}\n")
    assert toolkit(folder, "build").exit_code == 1
    assert toolkit(folder, "ls", "--select", "result:error", "--output", "json").exit_code == 0
    (folder / "models/r1.sql").write_text(FILES["models/r1.sql"])
    result = toolkit(folder, "retry")
    assert result.exit_code == 0, result.output
    assert statuses(folder) == {"r1": "success", "joined": "success", "stamp": "success"}
    assert query(folder / "warehouse.duckdb", "select s from joined") == [(expected_s(folder),)]
    again = toolkit(folder, "retry")
    assert again.exit_code == 0 and "Nothing to retry" in again.output


def test_dbt_shaped_run_results(project, toolkit):
    folder = project({"pyproject.toml": PYPROJECT, "models/m.sql": "select range as id from range(3)\n",
                      "models/small.sql": "{{ config(materialized='assertion') }}\n"
                                          "select * from {{ ref('m') }} where id > 5\n"})
    assert toolkit(folder, "build").exit_code == 0
    document = json.loads((folder / "target/run_results.json").read_text())
    assert document["metadata"]["dbt_schema_version"].endswith("run-results/v6.json")
    assert document["args"]["which"] == "build" and document["elapsed_time"] >= 0
    by_id = {r["unique_id"]: r for r in document["results"]}
    model = by_id["model.project.m"]
    assert (model["status"], model["adapter_response"], model["failures"]) == ("success", {"rows_affected": 3}, None)
    assert [t["name"] for t in model["timing"]] == ["execute"] and model["execution_time"] == model["seconds"]
    test = next(r for r in document["results"] if r["resource_type"] == "test")
    assert (test["status"], test["failures"], test["unique_id"].split(".")[:2]) == ("pass", 0, ["test", "project"])
    manifest = json.loads((folder / "target/manifest.json").read_text())
    assert manifest["nodes"]["model.project.m"]["config"]["materialized"] == "table"
    assert manifest["parent_map"][test["unique_id"]] == ["model.project.m"]


INCREMENTAL = ("{{ config(materialized='incremental') }}\nselect v from {{ source('raw', 'left_rows') }}\n"
               "{% if is_incremental() %}where v > (select max(v) from {{ this }}){% endif %}\n")


def test_incremental_runs_every_time_and_full_refresh_rebuilds_it(project, toolkit):
    folder = make(project)
    (folder / "models/inc.sql").write_text(INCREMENTAL)
    (folder / "models/after_inc.sql").write_text("select count(*) as n from {{ ref('inc') }}\n")
    assert toolkit(folder, "build").exit_code == 0
    assert toolkit(folder, "build").exit_code == 0
    assert statuses(folder)["inc"] == "success"  # its query ran, and added nothing:
    assert statuses(folder)["after_inc"] == "unchanged"  # so what reads it is kept
    execute(folder, "insert into raw.left_rows values (10); delete from main.inc where v = 0")
    assert toolkit(folder, "build").exit_code == 0
    assert statuses(folder)["after_inc"] == "success"
    assert query(folder / "warehouse.duckdb", "select v from inc order by v") == [(1,), (2,), (3,), (10,)]
    assert toolkit(folder, "build", "--full-refresh").exit_code == 0
    assert query(folder / "warehouse.duckdb", "select v from inc order by v") == [(0,), (1,), (2,), (3,), (10,)]
    assert query(folder / "warehouse.duckdb", "select n from after_inc") == [(5,)]


def chains_project(project, name: str) -> object:
    """Four independent chains of three models, one of them broken in the middle."""
    files = {"pyproject.toml": "[tool.toolkit]\nthreads = 3\n"}
    for chain in range(4):
        files[f"models/c{chain}_0.sql"] = f"select range as id, range * {chain + 1} as v from range(50)\n"
        middle = "select no_such_column" if chain == 2 else "select id, v * v as v"
        files[f"models/c{chain}_1.sql"] = f"{middle} from {{{{ ref('c{chain}_0') }}}}\n"
        files[f"models/c{chain}_2.sql"] = f"select sum(v) as total from {{{{ ref('c{chain}_1') }}}}\n"
    folder = project(files)
    return folder.rename(folder.parent / name)


def test_threads_build_what_one_thread_builds(project, toolkit):
    threaded = chains_project(project, "threaded")
    result = toolkit(threaded, "build")  # threads = 3 from pyproject.toml
    assert result.exit_code == 1 and "on 3 threads" in result.output
    sequential = chains_project(project, "sequential")
    assert toolkit(sequential, "build", "--threads", "1").exit_code == 1
    assert statuses(threaded) == statuses(sequential)
    assert statuses(threaded)["c2_1"] == "error" and statuses(threaded)["c2_2"] == "skipped"
    order = [[r["node"] for r in json.loads((folder / "target/run_results.json").read_text())["results"]]
             for folder in (threaded, sequential)]
    assert order[0] == order[1]  # in the DAG's order, whichever finished first
    threads = {r["thread_id"] for r in json.loads((threaded / "target/run_results.json").read_text())["results"]}
    assert threads <= {"Thread-1", "Thread-2", "Thread-3"} and len(threads) > 1
    tables = "select table_name from information_schema.tables where table_schema = 'main' order by 1"
    names = [row[0] for row in query(threaded / "warehouse.duckdb", tables)]
    assert names == [row[0] for row in query(sequential / "warehouse.duckdb", tables)] and len(names) == 10
    for name in names:
        sql = f"select * from {name} order by all"
        assert query(threaded / "warehouse.duckdb", sql) == query(sequential / "warehouse.duckdb", sql), name
    lines = result.output.splitlines()
    for name in names:  # each node's start line comes before its finish line
        start = next(i for i, line in enumerate(lines) if line.endswith(f"START {name}"))
        finish = next(i for i, line in enumerate(lines) if f" OK    {name} " in line)
        assert start < finish


def test_defer_reads_unbuilt_parents_from_the_state_build(project, toolkit, tmp_path):
    prod = make(project)
    assert toolkit(prod, "build").exit_code == 0
    dev = tmp_path / "dev"
    shutil.copytree(prod, dev, ignore=shutil.ignore_patterns("warehouse.duckdb", "target"))
    execute(dev, "select 1")  # an empty warehouse: nothing built here
    alone = toolkit(dev, "build", "--select", "joined")
    assert alone.exit_code == 1 and "not built and not selected" in alone.output
    result = toolkit(dev, "build", "--select", "joined", "--defer", "--state", str(prod / "target"))
    assert result.exit_code == 0, result.output
    assert "Deferred to" in result.output and "l2, r1" in result.output
    assert query(dev / "warehouse.duckdb", "select s from joined") == [(expected_s(prod),)]
    tables = query(dev / "warehouse.duckdb", "select table_name from information_schema.tables "
                                            "where table_schema = 'main'")
    assert tables == [("joined",)]
    refused = toolkit(dev, "build", "--defer")
    assert refused.exit_code == 2 and "--state" in refused.output


def test_scheduler_respects_parents_threads_and_exclusive_nodes():
    import random
    import threading
    import time

    from toolkit.project.schedule import run_in_dag_order

    rng = random.Random(7)
    order = [f"n{i:02d}" for i in range(30)]
    parents = {name: rng.sample(order[:i], min(i, rng.randint(0, 2))) for i, name in enumerate(order)}
    exclusive = {"n05", "n17"}
    running: set[str] = set()
    done: set[str] = set()
    violations: list[str] = []
    lock = threading.Lock()

    def work(name: str, worker: int) -> int:
        with lock:
            violations.extend(f"{name} before its parent {p}" for p in parents[name] if p not in done)
            if len(running) >= 3:
                violations.append(f"{name}: more than 3 at once")
            if running & exclusive or (name in exclusive and running):
                violations.append(f"{name} ran beside {sorted(running)}")
            running.add(name)
        time.sleep(rng.random() / 200)
        with lock:
            running.discard(name)
            done.add(name)
        return worker

    workers = run_in_dag_order(order, parents, 3, work, exclusive=lambda name: name in exclusive)
    assert not violations and set(workers) == set(order) and set(workers.values()) <= {0, 1, 2}


def test_model_retrains_only_when_its_input_changed(iris_project, toolkit):
    assert toolkit(iris_project, "build").exit_code == 0
    again = toolkit(iris_project, "build")
    assert again.exit_code == 0 and "version 1 kept" in again.output
    versions = "select version from _toolkit.model_versions where model_name = 'iris_model' order by 1"
    assert query(iris_project / "warehouse.duckdb", versions) == [(1,)]
    execute(iris_project, "update raw.iris set sepal_length = sepal_length + 0.5 where species = 'setosa'")
    assert toolkit(iris_project, "build").exit_code == 0
    assert statuses(iris_project) == {"iris_features": "success", "iris_model": "success"}
    assert query(iris_project / "warehouse.duckdb", versions) == [(1,), (2,)]
    assert toolkit(iris_project, "build", "-s", "iris_model").exit_code == 0  # named: trained again
    assert query(iris_project / "warehouse.duckdb", versions) == [(1,), (2,), (3,)]
