"""Incremental models: each strategy's table after several batches compared row by row with a plain-Python
model of dbt's semantics; failed audits, errors and schema changes leaving the previous table intact."""

from __future__ import annotations

import random

import duckdb
import pytest
from conftest import query

from toolkit.config import load_settings
from toolkit.errors import ToolkitError
from toolkit.project.load import load_project

PYPROJECT = '[tool.toolkit]\nwarehouse = "w.duckdb"\n[tool.toolkit.sources]\nraw = ["events"]\n'


def model(config: str, columns: str = "id, v, batch") -> str:
    return (f"{{{{ config(materialized='incremental', {config}) }}}}\n"
            f"select {columns} from {{{{ source('raw', 'events') }}}}\n"
            "{% if is_incremental() %}where batch > (select max(batch) from {{ this }}){% endif %}\n")


def make(project, config: str, columns: str = "id, v, batch"):
    folder = project({"pyproject.toml": PYPROJECT, "models/ev.sql": model(config, columns)})
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create schema raw; create table raw.events (id integer, v integer, batch integer)")
    con.close()
    return folder


def add(folder, rows: list[tuple]) -> None:
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.executemany("insert into raw.events values (?, ?, ?)", rows)
    con.close()


def table(folder) -> list[tuple]:
    return sorted(query(folder / "w.duckdb", "select id, v, batch from main.ev"))


def oracle(strategy: str, batches: list[list[tuple]]) -> list[tuple]:
    """dbt's strategies in plain Python: the first batch builds the table, each next one is applied to it."""
    rows = list(batches[0])
    for batch in batches[1:]:
        if strategy == "append":
            rows += batch
        elif strategy == "delete+insert":
            keys = {row[0] for row in batch}
            rows = [row for row in rows if row[0] not in keys] + batch
        else:  # merge: one row per key, the newest
            merged = {row[0]: row for row in rows}
            merged.update({row[0]: row for row in batch})
            rows = list(merged.values())
    return sorted(rows)


@pytest.mark.parametrize("strategy", ["append", "delete+insert", "merge"])
def test_each_strategy_matches_a_python_model_of_it(project, toolkit, strategy):
    key = "" if strategy == "append" else ", unique_key='id'"
    folder = make(project, f"incremental_strategy='{strategy}'{key}")
    generator = random.Random(7)
    batches = []
    for number in range(1, 5):
        ids = generator.sample(range(12), 5)  # keys unique within a batch, overlapping earlier ones
        batch = [(i, generator.randrange(1000), number) for i in ids]
        add(folder, batch)
        batches.append(batch)
        result = toolkit(folder, "build")
        assert result.exit_code == 0, result.output
        assert table(folder) == oracle(strategy, batches)


def test_delete_insert_with_a_composite_key(project, toolkit):
    folder = make(project, "unique_key=['id', 'v']")
    add(folder, [(1, 1, 1), (1, 2, 1), (2, 1, 1)])
    toolkit(folder, "build")
    add(folder, [(1, 2, 2), (3, 3, 2)])
    assert toolkit(folder, "build").exit_code == 0
    assert table(folder) == [(1, 1, 1), (1, 2, 2), (2, 1, 1), (3, 3, 2)]


def test_a_failed_audit_or_an_error_leaves_the_previous_table(project, toolkit):
    folder = project({"pyproject.toml": PYPROJECT, "models/ev.sql": model(
        "incremental_strategy='append', assertions=[unique('id')]")})
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create schema raw; create table raw.events as select 1 as id, 10 as v, 1 as batch")
    con.close()
    assert toolkit(folder, "build").exit_code == 0
    before = table(folder)
    add(folder, [(1, 11, 2)])  # a second id 1: unique(id) fails once appended
    assert toolkit(folder, "build").exit_code != 0
    assert table(folder) == before
    # merge with two new rows for one key is DuckDB's error: rolled back as well
    (folder / "models/ev.sql").write_text(model("incremental_strategy='merge', unique_key='id'"))
    add(folder, [(5, 1, 3), (5, 2, 3)])
    result = toolkit(folder, "build")
    assert result.exit_code != 0
    assert table(folder) == before


def test_on_schema_change(project, toolkit):
    folder = make(project, "on_schema_change='fail'", "id, batch")
    add(folder, [(1, 5, 1)])
    toolkit(folder, "build")
    add(folder, [(2, 6, 2)])
    (folder / "models/ev.sql").write_text(model("on_schema_change='fail'", "id, v, batch"))
    result = toolkit(folder, "build")
    assert result.exit_code != 0 and "columns changed" in result.output
    assert query(folder / "w.duckdb", "select id, batch from main.ev") == [(1, 1)]
    (folder / "models/ev.sql").write_text(model("on_schema_change='ignore'", "id, v, batch"))
    assert toolkit(folder, "build").exit_code == 0
    assert sorted(query(folder / "w.duckdb", "select * from main.ev")) == [(1, 1), (2, 2)]
    add(folder, [(3, 7, 3)])
    (folder / "models/ev.sql").write_text(model("on_schema_change='append_new_columns'", "id, v, batch"))
    assert toolkit(folder, "build").exit_code == 0
    assert sorted(query(folder / "w.duckdb", "select id, batch, v from main.ev")) == [(1, 1, None), (2, 2, None),
                                                                                    (3, 3, 7)]
    add(folder, [(4, 8, 4)])
    (folder / "models/ev.sql").write_text(model("on_schema_change='sync_all_columns'", "v, batch"))
    assert toolkit(folder, "build").exit_code == 0
    columns = [row[0] for row in query(folder / "w.duckdb", "describe main.ev")]
    assert columns == ["batch", "v"]
    assert sorted(query(folder / "w.duckdb", "select batch, v from main.ev")) == [(1, None), (2, None), (3, 7), (4, 8)]


def test_full_refresh_rebuilds_the_whole_table(project, toolkit):
    folder = make(project, "unique_key='id', full_refresh=true")
    add(folder, [(1, 1, 1)])
    toolkit(folder, "build")
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("update raw.events set v = 9")
    con.close()
    assert toolkit(folder, "build").exit_code == 0
    assert table(folder) == [(1, 9, 1)]


@pytest.mark.parametrize(("config", "words"), [
    ("materialized='table', unique_key='id'", ["unique_key", "incremental models only"]),
    ("materialized='incremental', incremental_strategy='merge'", ["merge", "needs a unique_key"]),
    ("materialized='incremental', incremental_strategy='merj', unique_key='id'", ["merj", "merge"]),
    ("materialized='incremental', on_schema_change='sink'", ["sink", "sync_all_columns"]),
    ("materialized='incremental', unique_key=3", ["unique_key"]),
])
def test_bad_incremental_configs(project, config, words):
    folder = project({"pyproject.toml": PYPROJECT, "models/ev.sql": f"{{{{ config({config}) }}}}select 1 as id"})
    with pytest.raises(ToolkitError) as raised:
        load_project(load_settings(folder))
    for word in words:
        assert word in str(raised.value)


def test_a_unique_key_the_query_lacks_is_an_error_at_build(project, toolkit):
    folder = make(project, "unique_key='key'")
    add(folder, [(1, 1, 1)])
    toolkit(folder, "build")
    add(folder, [(2, 1, 2)])
    result = toolkit(folder, "build")
    assert result.exit_code != 0 and "unique_key key" in result.output
    assert table(folder) == [(1, 1, 1)]


def test_sigkill_in_the_middle_of_an_increment_keeps_the_previous_table(project):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import run_toolkit

    slow = "(select count(*) from range(1000000) a, range(1000000) b)"  # minutes of work
    folder = project({"models/base.sql": "select range as id from range(5)\n", "models/ev.sql": (
        "{{ config(materialized='incremental', unique_key='id') }}\n"
        "select id, 1 as n from {{ ref('base') }}\n"
        f"{{% if is_incremental() %}}where id > {slow}{{% endif %}}\n")})
    assert run_toolkit(folder, "build").returncode == 0
    process = subprocess.Popen([sys.executable, "-m", "toolkit", "build"], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:  # wait until the increment is the one being applied
            if "OK" in line and "base" in line:
                break
        time.sleep(1.0)
        assert process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    warehouse = folder / "warehouse.duckdb"
    assert sorted(query(warehouse, "select id, n from ev")) == [(i, 1) for i in range(5)]
    (folder / "models/ev.sql").write_text("{{ config(materialized='incremental', unique_key='id') }}\n"
                                          "select id, 2 as n from {{ ref('base') }} where id < 2\n")
    rebuilt = run_toolkit(folder, "build")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert sorted(query(warehouse, "select id, n from ev")) == [(0, 2), (1, 2), (2, 1), (3, 1), (4, 1)]
    assert query(warehouse, "select count(*) from information_schema.tables where table_name like '__toolkit%'") == [(0,)]
