"""A snapshot run against rebuilding the same rows as a plain table, in process, best of `--repeat`.

    python benchmarks/bench_snapshot.py --rows 1000000 --changed 0.01 --deleted 0.001 --repeat 3

The source: `--rows` orders; before each timed run a fresh copy of the snapshot's history (its first build) is
restored and `--changed` of the rows get a newer updated_at and status, `--deleted` of them go. The baseline is a
table model over the same source built by the same runner (CREATE TABLE AS SELECT, audited and swapped in)."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from toolkit.config import load_settings
from toolkit.project.load import load_project
from toolkit.runner import Status, run

SNAPSHOT = ("{% snapshot history %}{{ config(unique_key='id', strategy='timestamp', updated_at='updated_at', "
            "hard_deletes='invalidate') }}select * from {{ source('raw', 'orders') }}{% endsnapshot %}\n")


def write_project(folder: Path, rows: int) -> None:
    (folder / "models").mkdir(parents=True)
    (folder / "snapshots").mkdir()
    (folder / "pyproject.toml").write_text('[tool.toolkit]\n[tool.toolkit.sources]\nraw = ["orders"]\n')
    (folder / "snapshots" / "history.sql").write_text(SNAPSHOT)
    (folder / "models" / "copy.sql").write_text("select * from {{ source('raw', 'orders') }}\n")
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute(f"create schema raw; create table raw.orders as select range as id, 'placed' as status, "
                f"range % 1000 as amount, timestamp '2024-01-01' as updated_at from range({rows})")
    con.close()


def timed(con: duckdb.DuckDBPyConnection, project, name: str) -> float:
    start = time.perf_counter()
    outcome = run(con, project, [name], reuse=False)
    seconds = time.perf_counter() - start
    if outcome.results[0].status is not Status.SUCCESS:
        raise SystemExit(outcome.results[0].message)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--deleted", type=float, default=0.001)
    parser.add_argument("--repeat", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "project"
        write_project(folder, options.rows)
        project = load_project(load_settings(folder))
        con = duckdb.connect(str(folder / "warehouse.duckdb"))
        first = timed(con, project, "history")
        con.execute("create table raw.first_history as select * from main.history; "
                    "create table raw.first_orders as select * from raw.orders")
        changed, deleted = max(1, round(1 / options.changed)), max(1, round(1 / options.deleted))
        runs = []
        for _ in range(options.repeat):
            con.execute("create or replace table main.history as select * from raw.first_history; "
                        "create or replace table raw.orders as select * from raw.first_orders; "
                        f"update raw.orders set status = 'shipped', updated_at = timestamp '2024-01-02' "
                        f"where id % {changed} = 0; delete from raw.orders where id % {deleted} = 1")
            runs.append(timed(con, project, "history"))
        table = min(timed(con, project, "copy") for _ in range(options.repeat))
        con.close()
    later = min(runs)
    print(f"{options.rows:,} rows: first snapshot {first:.2f}s; a run with {options.changed:.1%} changed and "
          f"{options.deleted:.1%} deleted {later:.2f}s; the same rows as a table {table:.2f}s "
          f"({later / table:.1f}x the table's time)")


if __name__ == "__main__":
    main()
