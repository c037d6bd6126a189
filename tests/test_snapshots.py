"""Snapshots: the history table after several runs (rows changed, added, deleted, brought back) compared row by row
with a plain-Python model of dbt's snapshot semantics; a failed audit or an error leaving the history intact;
configuration mistakes named at their file and line."""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import datetime, timedelta

import duckdb
import pytest
from conftest import query

from toolkit.config import load_settings
from toolkit.errors import ToolkitError
from toolkit.project.load import load_project
from toolkit.runner import Status, run

PYPROJECT = '[tool.toolkit]\nwarehouse = "w.duckdb"\n[tool.toolkit.sources]\nraw = ["orders"]\n'
SOURCE_COLUMNS = ("id", "status", "amount", "updated_at")
META = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")
START = datetime(2024, 1, 1)


def block(config: str, name: str = "orders_snapshot") -> str:
    return (f"-- the orders' history\n{{% snapshot {name} %}}\n{{{{ config({config}) }}}}\n"
            "select id, status, amount, updated_at from {{ source('raw', 'orders') }}\n{% endsnapshot %}\n")


def make(project, files: dict[str, str]):
    folder = project({"pyproject.toml": PYPROJECT, "models/.keep": "", **files})
    load(folder, {})
    return folder


def load(folder, rows: dict[int, tuple], con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Replace the source table's rows: id → (status, amount, updated_at)."""
    own = con is None
    con = con or duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create schema if not exists raw; create or replace table raw.orders "
                "(id integer, status varchar, amount integer, updated_at timestamp)")
    if rows:
        con.executemany("insert into raw.orders values (?, ?, ?, ?)", [(key, *row) for key, row in rows.items()])
    if own:
        con.close()


def md5(*parts) -> str:
    """dbt's snapshot_hash_arguments: md5 of the parts cast to text, joined with '|'."""
    return hashlib.md5("|".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def oracle(runs: list[dict[int, tuple]], times: list[datetime], strategy: str, check_cols: tuple[str, ...] | None,
           hard_deletes: str, stamped: bool = False) -> list[tuple]:
    """dbt's snapshot in plain Python (https://docs.getdbt.com/docs/build/snapshots): the rows of the history
    table after each run's source rows, as (source columns…, dbt_scd_id, dbt_updated_at, dbt_valid_from,
    dbt_valid_to[, dbt_is_deleted]); `stamped`: a check snapshot with updated_at, whose versions take that
    column's time rather than the run's."""
    stamped = stamped or strategy == "timestamp"
    history: list[dict] = []
    for source, now in zip(runs, times):
        rows = {key: dict(zip(SOURCE_COLUMNS, (key, *row))) for key, row in source.items()}

        def version(row: dict, deleted: str = "False") -> dict:
            updated = row["updated_at"] if stamped else now
            made = {**row, "dbt_scd_id": md5(row["id"], updated), "dbt_updated_at": updated,
                    "dbt_valid_from": updated, "dbt_valid_to": None}
            return {**made, "dbt_is_deleted": deleted} if hard_deletes == "new_record" else made

        if not history:
            history = [version(row) for row in rows.values()]
            continue
        current = {r["id"]: r for r in history if r["dbt_valid_to"] is None}
        inserts, closes = [], []
        for key, row in rows.items():
            now_row = current.get(key)
            if now_row is None:
                inserts.append(version(row))
                continue
            if strategy == "timestamp":
                changed = now_row["dbt_valid_from"] < row["updated_at"]
            else:
                changed = any(now_row[c] != row[c] for c in (check_cols or SOURCE_COLUMNS))
            changed = changed or now_row.get("dbt_is_deleted") == "True"
            if changed:
                inserts.append(version(row))
                closes.append((now_row["dbt_scd_id"], row["updated_at"] if stamped else now))
        if hard_deletes != "ignore":
            for key, now_row in current.items():
                if key in rows or now_row.get("dbt_is_deleted") == "True":
                    continue
                closes.append((now_row["dbt_scd_id"], now))
                if hard_deletes == "new_record":
                    inserts.append({**now_row, "dbt_scd_id": md5(now_row["dbt_scd_id"], now), "dbt_updated_at": now,
                                    "dbt_valid_from": now, "dbt_valid_to": None, "dbt_is_deleted": "True"})
        for scd_id, valid_to in closes:
            for row in history:
                if row["dbt_scd_id"] == scd_id and row["dbt_valid_to"] is None:
                    row["dbt_valid_to"] = valid_to
        held = {row["dbt_scd_id"] for row in history}
        history += [row for row in inserts if row["dbt_scd_id"] not in held]  # dbt's merge matches on dbt_scd_id
    columns = (*SOURCE_COLUMNS, *META, *(("dbt_is_deleted",) if hard_deletes == "new_record" else ()))
    return sorted((tuple(row[c] for c in columns) for row in history), key=str)


def source_runs(seed: int, count: int = 5) -> list[dict[int, tuple]]:
    """Source tables run after run: rows changed (with and without a newer updated_at), touched (a newer
    updated_at, the same values), added, deleted and brought back (some with their old updated_at)."""
    generator = random.Random(seed)
    statuses = ["placed", "shipped", "returned", None]
    rows = {key: (generator.choice(statuses), generator.randrange(100), START) for key in range(8)}
    gone: dict[int, tuple] = {}
    runs = [dict(rows)]
    for number in range(1, count):
        stamp = START + timedelta(days=number)
        for key in list(rows):
            status, amount, updated = rows[key]
            action = generator.choice(["keep", "keep", "change", "touch", "quiet", "delete"])
            if action == "change":
                rows[key] = (generator.choice(statuses), generator.randrange(100), stamp)
            elif action == "touch":  # a newer updated_at, the same values
                rows[key] = (status, amount, stamp)
            elif action == "quiet":  # new values, the old updated_at
                rows[key] = (generator.choice(statuses), amount + 1, updated)
            elif action == "delete":
                gone[key] = rows.pop(key)
        for key in list(gone):
            if generator.random() < 0.4:  # back: with its old row, or changed
                old = gone.pop(key)
                rows[key] = old if generator.random() < 0.5 else (old[0], old[1] + 7, stamp)
        rows[100 + number] = (generator.choice(statuses), generator.randrange(100), stamp)
        runs.append(dict(rows))
    return runs


def history(folder, name: str = "orders_snapshot", deleted: bool = False) -> list[tuple]:
    columns = ", ".join((*SOURCE_COLUMNS, *META, *(("dbt_is_deleted",) if deleted else ())))
    return sorted(query(folder / "w.duckdb", f"select {columns} from main.{name}"), key=str)


CASES = [
    ("strategy='timestamp', updated_at='updated_at'", "timestamp", None, "ignore"),
    ("strategy='timestamp', updated_at='updated_at', invalidate_hard_deletes=true", "timestamp", None, "invalidate"),
    ("strategy='timestamp', updated_at='updated_at', hard_deletes='new_record'", "timestamp", None, "new_record"),
    ("strategy='check', check_cols=['status', 'amount'], hard_deletes='invalidate'", "check", ("status", "amount"),
     "invalidate"),
    ("strategy='check', check_cols='all', hard_deletes='new_record'", "check", None, "new_record"),
    ("strategy='check', check_cols=['status']", "check", ("status",), "ignore"),
    ("strategy='check', check_cols=['amount'], updated_at='updated_at', hard_deletes='invalidate'", "check",
     ("amount",), "invalidate"),
]


@pytest.mark.parametrize(("config", "strategy", "check_cols", "hard_deletes"), CASES)
def test_history_matches_a_python_model_of_dbt_snapshots(project, monkeypatch, config, strategy, check_cols,
                                                          hard_deletes):
    folder = make(project, {"snapshots/orders.sql": block(f"unique_key='id', {config}")})
    built = load_project(load_settings(folder))
    runs = source_runs(seed=len(config))
    times = [datetime(2024, 3, 1) + timedelta(hours=hour) for hour in range(len(runs))]
    con = duckdb.connect(str(folder / "w.duckdb"))  # the runner itself, on one connection: the test stays fast
    for number, rows in enumerate(runs):
        load(folder, rows, con)
        monkeypatch.setattr("toolkit.warehouse.snapshot.snapshot_time", lambda at=times[number]: at)
        outcome = run(con, built, ["orders_snapshot"])
        assert outcome.results[0].status is Status.SUCCESS, outcome.results[0].message
        expected = oracle(runs[:number + 1], times[:number + 1], strategy, check_cols, hard_deletes,
                          stamped="updated_at=" in config)
        columns = ", ".join((*SOURCE_COLUMNS, *META, *(("dbt_is_deleted",) if hard_deletes == "new_record" else ())))
        got = sorted(con.execute(f"select {columns} from main.orders_snapshot").fetchall(), key=str)
        assert got == expected, f"run {number + 1}"
    con.close()
    assert len(expected) > len(runs[-1])  # the runs made history: closed versions beside the current ones


RENAMED = {"dbt_valid_from": "start_date", "dbt_valid_to": "end_date", "dbt_scd_id": "scd_id",
           "dbt_is_deleted": "is_deleted"}


def test_renamed_history_columns_keep_the_same_history(project, monkeypatch):
    config = (f"unique_key='id', strategy='timestamp', updated_at='updated_at', hard_deletes='new_record', "
              f"snapshot_meta_column_names={RENAMED!r}")
    folder = make(project, {"snapshots/orders.sql": block(config)})
    built = load_project(load_settings(folder))
    runs = source_runs(seed=3, count=3)
    times = [datetime(2024, 3, 1) + timedelta(hours=hour) for hour in range(len(runs))]
    con = duckdb.connect(str(folder / "w.duckdb"))
    for number, rows in enumerate(runs):
        load(folder, rows, con)
        monkeypatch.setattr("toolkit.warehouse.snapshot.snapshot_time", lambda at=times[number]: at)
        outcome = run(con, built, ["orders_snapshot"])
        assert outcome.results[0].status is Status.SUCCESS, outcome.results[0].message
    columns = [RENAMED.get(c, c) for c in (*SOURCE_COLUMNS, *META, "dbt_is_deleted")]
    got = sorted(con.execute(f"select {', '.join(columns)} from main.orders_snapshot").fetchall(), key=str)
    con.close()
    assert got == oracle(runs, times, "timestamp", None, "new_record")


def test_a_composite_key_and_a_date_column_as_updated_at(project, toolkit):
    folder = project({"pyproject.toml": PYPROJECT, "models/.keep": "", "snapshots/lines.sql":
                      "{% snapshot lines %}{{ config(unique_key=['id', 'line'], strategy='timestamp', "
                      "updated_at='day') }}select * from {{ source('raw', 'orders') }}{% endsnapshot %}"})
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create schema raw; create table raw.orders as select * from (values (1, 1, 'a', date '2024-01-01'),"
                " (1, 2, 'b', date '2024-01-01')) t(id, line, v, day)")
    con.close()
    assert toolkit(folder, "snapshot").exit_code == 0
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("update raw.orders set v = 'c', day = date '2024-01-05' where line = 2")
    con.close()
    assert toolkit(folder, "snapshot").exit_code == 0
    rows = query(folder / "w.duckdb", "select id, line, v, dbt_scd_id, dbt_valid_from::varchar, "
                 "dbt_valid_to::varchar from lines order by line, dbt_valid_from")
    assert rows == [(1, 1, "a", md5(1, 1, "2024-01-01"), "2024-01-01", None),
                    (1, 2, "b", md5(1, 2, "2024-01-01"), "2024-01-01", "2024-01-05"),
                    (1, 2, "c", md5(1, 2, "2024-01-05"), "2024-01-05", None)]


YAML_SNAPSHOT = """\
snapshots:
  - name: orders_history
    relation: source('raw', 'orders')
    description: Every version of every order
    config:
      unique_key: id
      strategy: check
      check_cols: [status]
      dbt_valid_to_current: "timestamp '9999-12-31'"
    columns:
      - name: status
        data_tests:
          - not_null
"""


def test_yaml_snapshot_ref_and_dag_order(project, toolkit):
    folder = make(project, {
        "snapshots/orders.yml": YAML_SNAPSHOT,
        "models/current_orders.sql": "select id, status from {{ ref('orders_history') }} "
                                     "where dbt_valid_to = timestamp '9999-12-31'",
        "models/orders_copy.sql": "select * from {{ source('raw', 'orders') }}",
    })
    load(folder, {1: ("placed", 5, START), 2: ("placed", 7, START)})
    first = toolkit(folder, "build")
    assert first.exit_code == 0, first.output
    order = [r["node"] for r in json.loads((folder / "target/run_results.json").read_text())["results"]]
    assert order.index("orders_history") < order.index("current_orders")
    load(folder, {1: ("shipped", 5, START), 2: ("placed", 7, START)})
    assert toolkit(folder, "build").exit_code == 0
    assert sorted(query(folder / "w.duckdb", "select * from current_orders")) == [(1, "shipped"), (2, "placed")]
    closed = query(folder / "w.duckdb", "select id, status from orders_history "
                   "where dbt_valid_to <> timestamp '9999-12-31'")
    assert closed == [(1, "placed")]
    results = json.loads((folder / "target/run_results.json").read_text())["results"]
    by_node = {r["node"]: r for r in results}
    assert by_node["orders_history"]["unique_id"] == f"snapshot.{folder.name}.orders_history"
    assert by_node["orders_history"]["assertions"][0]["test"] == "not_null"
    manifest = json.loads((folder / "target/manifest.json").read_text())
    entry = manifest["nodes"][f"snapshot.{folder.name}.orders_history"]
    assert entry["resource_type"] == "snapshot"
    assert (entry["config"]["unique_key"], entry["config"]["strategy"], entry["config"]["check_cols"]) == (
        "id", "check", ["status"])
    # `toolkit snapshot` runs snapshots only
    only = toolkit(folder, "snapshot", "--output", "json")
    assert only.exit_code == 0, only.output
    assert [r["node"] for r in json.loads(only.stdout)["results"]] == ["orders_history"]


def test_an_unchanged_source_adds_nothing_and_downstream_is_kept(project, toolkit):
    folder = make(project, {"snapshots/orders.sql": block("unique_key='id', strategy='check', check_cols='all'"),
                            "models/latest.sql": "select * from {{ ref('orders_snapshot') }} "
                                                 "where dbt_valid_to is null"})
    load(folder, {1: ("placed", 5, START)})
    assert toolkit(folder, "build").exit_code == 0
    before = history(folder)
    again = toolkit(folder, "build", "--output", "json")
    statuses = {r["node"]: r["toolkit_status"] for r in json.loads(again.stdout)["results"]}
    assert statuses == {"orders_snapshot": "success", "latest": "unchanged"}
    assert history(folder) == before


def test_a_failed_audit_or_an_error_leaves_the_history_intact(project, toolkit):
    files = {"snapshots/orders.sql": block("unique_key='id', strategy='timestamp', updated_at='updated_at'"),
             "snapshots/schema.yml": "snapshots:\n  - name: orders_snapshot\n    columns:\n      - name: status\n"
                                     "        data_tests: [not_null]\n"}
    folder = make(project, files)
    load(folder, {1: ("placed", 5, START), 2: ("placed", 7, START)})
    assert toolkit(folder, "snapshot").exit_code == 0
    before = history(folder)
    later = START + timedelta(days=1)
    load(folder, {1: (None, 5, later), 2: ("shipped", 7, later)})  # status NULL: not_null fails
    failed = toolkit(folder, "snapshot")
    assert failed.exit_code == 1 and "not_null" in failed.output
    assert history(folder) == before
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("insert into raw.orders values (2, 'again', 1, timestamp '2024-01-03')")  # key 2 twice
    con.close()
    twice = toolkit(folder, "snapshot")
    assert twice.exit_code == 1 and "2 rows for the unique_key id = 2" in twice.output
    assert history(folder) == before
    tables = query(folder / "w.duckdb", "select table_name from information_schema.tables "
                   "where table_name like '%toolkit_tmp%'")
    assert tables == []


def test_new_columns_are_added_and_make_new_versions_under_check_all(project, toolkit, monkeypatch):
    folder = make(project, {"snapshots/orders.sql": block("unique_key='id', strategy='check', check_cols='all'")
                            .replace("select id, status, amount, updated_at", "select *")})
    load(folder, {1: ("placed", 5, START)})
    assert toolkit(folder, "snapshot").exit_code == 0
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("alter table raw.orders add column channel varchar; update raw.orders set channel = 'web'")
    con.close()
    assert toolkit(folder, "snapshot").exit_code == 0
    rows = query(folder / "w.duckdb", "select id, channel, dbt_valid_to is null from orders_snapshot "
                 "order by dbt_valid_from")
    assert rows == [(1, None, False), (1, "web", True)]


BAD = [
    (block("strategy='timestamp', updated_at='updated_at'"), ["orders.sql, line 2", "no unique_key"]),
    (block("unique_key='id'"), ["orders.sql, line 2", "no strategy"]),
    (block("unique_key='id', strategy='timestamp'"), ["orders.sql, line 2", "needs updated_at"]),
    (block("unique_key='id', strategy='check'"), ["orders.sql, line 2", "needs check_cols"]),
    (block("unique_key='id', strategy='time'"), ["orders.sql, line 3", "is not one of", 'did you mean "timestamp"']),
    (block("unique_key='id', strategy='check', check_cols='al'"), ["orders.sql, line 3", "check_cols"]),
    (block("unique_key='id', strategy='check', check_cols='all', materialized='table'"),
     ["orders.sql, line 3", "materialized", "not supported"]),
    ("select 1", ["orders.sql", "no {% snapshot name %} block"]),
    (block("unique_key='id', strategy='check', check_cols='all', dbt_valid_to_current='cast('"),
     ["orders.sql, line 2", "not a SQL expression"]),
    (block("unique_key='id', strategy='check', check_cols='all', target_database='x'"),
     ["orders.sql, line 2", "target_database", "one warehouse, whose database is w"]),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_configuration_mistakes_name_the_file_and_line(project, text, words):
    folder = make(project, {"snapshots/orders.sql": text})
    with pytest.raises(ToolkitError) as raised:
        load_project(load_settings(folder))
    for word in words:
        assert word in str(raised.value)


def test_yaml_mistakes_name_the_entry(project):
    bad = YAML_SNAPSHOT.replace("      unique_key: id\n", "")
    folder = make(project, {"snapshots/orders.yml": bad})
    with pytest.raises(ToolkitError) as raised:
        load_project(load_settings(folder))
    assert "orders.yml, line 2" in str(raised.value) and "no unique_key" in str(raised.value)
    no_relation = YAML_SNAPSHOT.replace("    relation: source('raw', 'orders')\n", "")
    folder = make(project, {"snapshots/orders.yml": no_relation})
    with pytest.raises(ToolkitError, match=re.escape("no {% snapshot orders_history %} block and no relation")):
        load_project(load_settings(folder))


def test_a_snapshot_block_in_a_model_file_is_refused(project):
    folder = make(project, {"models/m.sql": block("unique_key='id'", name="m")})
    with pytest.raises(ToolkitError, match="snapshot blocks belong in files of the snapshots folder"):
        load_project(load_settings(folder))


def test_a_history_table_dbt_built_is_continued_and_another_table_refused(project, toolkit):
    folder = make(project, {"snapshots/orders.sql": block("unique_key='id', strategy='timestamp', "
                                                          "updated_at='updated_at'")})
    load(folder, {1: ("shipped", 5, START + timedelta(days=1)), 2: ("placed", 7, START)})
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create table main.orders_snapshot as select 1 as id, 'placed' as status, 5 as amount, "
                "timestamp '2024-01-01' as updated_at, md5('1|2024-01-01 00:00:00') as dbt_scd_id, "
                "timestamp '2024-01-01' as dbt_updated_at, timestamp '2024-01-01' as dbt_valid_from, "
                "null::timestamp as dbt_valid_to")
    con.close()
    assert toolkit(folder, "snapshot").exit_code == 0
    rows = query(folder / "w.duckdb", "select id, status, dbt_valid_from, dbt_valid_to from orders_snapshot")
    assert sorted(rows, key=str) == sorted([(1, "placed", START, START + timedelta(days=1)),
                                            (1, "shipped", START + timedelta(days=1), None),
                                            (2, "placed", START, None)], key=str)
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create table main.by_hand as select 1 as id")
    con.close()
    project({"pyproject.toml": PYPROJECT, "snapshots/orders.sql": block(
        "unique_key='id', strategy='check', check_cols='all'", name="by_hand")})
    refused = toolkit(folder, "snapshot")
    assert refused.exit_code == 2 and "no toolkit build created" in refused.output


def test_folder_configs_then_yaml_then_the_block(project):
    configs = ('[tool.toolkit.snapshots]\n"+schema" = "history"\n"+unique_key" = "id"\n'
               'orders = { "+strategy" = "check", "+check_cols" = "all", "+tags" = ["history"] }\n')
    yaml = "snapshots:\n  - name: orders_snapshot\n    config: {check_cols: [status], tags: [nightly]}\n"
    folder = make(project, {"pyproject.toml": PYPROJECT + configs, "snapshots/schema.yml": yaml,
                            "snapshots/orders.sql": block("hard_deletes='invalidate'")})
    node = load_project(load_settings(folder)).nodes["orders_snapshot"]
    assert (node.schema, node.tags) == ("history", ("history", "nightly"))
    assert (node.snapshot.strategy, node.snapshot.check_cols, node.snapshot.hard_deletes) == (
        "check", ("status",), "invalidate")
    # a YAML snapshot beside the models gets the snapshots folder's own configs
    outside = ("snapshots:\n  - name: elsewhere\n    relation: source('raw', 'orders')\n"
               "    config: {strategy: check, check_cols: all}\n")
    project({"pyproject.toml": PYPROJECT + configs, "models/schema.yml": outside})
    elsewhere = load_project(load_settings(folder)).nodes["elsewhere"]
    assert (elsewhere.schema, elsewhere.snapshot.unique_key) == ("history", ("id",))
    project({"pyproject.toml": PYPROJECT + configs.replace("+strategy", "+stratgy")})
    with pytest.raises(ToolkitError, match='did you mean "\\+strategy"'):
        load_project(load_settings(folder))


def test_another_connection_sees_the_previous_history_until_the_run_commits(project, monkeypatch):
    from toolkit.warehouse.snapshot import History

    folder = make(project, {"snapshots/orders.sql": block("unique_key='id', strategy='timestamp', "
                                                          "updated_at='updated_at', hard_deletes='invalidate'")})
    built = load_project(load_settings(folder))
    con = duckdb.connect(str(folder / "w.duckdb"))
    load(folder, {1: ("placed", 5, START), 2: ("placed", 7, START)}, con)
    assert run(con, built, ["orders_snapshot"]).results[0].status is Status.SUCCESS
    select = "select id, status, dbt_valid_to from main.orders_snapshot order by all"
    before = con.execute(select).fetchall()
    seen = {}
    publish = History.publish

    def watched(history: History) -> None:  # the changes are applied, not yet committed
        seen["inside"] = history.con.execute(select).fetchall()
        seen["outside"] = con.cursor().execute(select).fetchall()
        publish(history)

    monkeypatch.setattr(History, "publish", watched)
    load(folder, {1: ("shipped", 5, START + timedelta(days=1))}, con)
    assert run(con, built, ["orders_snapshot"]).results[0].status is Status.SUCCESS
    assert seen["outside"] == before
    assert seen["inside"] == con.execute(select).fetchall() != before
    con.close()
