"""The toolkit against dbt-duckdb on the same N-node project (bench_state.py's, a dbt project both tools read), each
build a fresh process, the two tools alternating, best and median of `--repeat`:

- full build: `toolkit build --no-skip-unchanged` against `dbt run`;
- no-op rebuild: `toolkit build` (unchanged nodes kept) against `dbt run -s state:modified --state DIR`, DIR holding
  the manifest of dbt's previous run (https://docs.getdbt.com/reference/node-selection/state-selection);
- full build with `--threads N` for both.

    python benchmarks/bench_dbt_state.py --nodes 200 --repeat 5 --threads 4

Both run with Python's bytecode cached (bench_state.command_environment), filled by a first build of each. Each
tool builds its own DuckDB file (profile targets `toolkit` and `dbt`) from the same source rows; afterwards a
few tables are compared row by row between the two files, and each no-op run is checked to have built nothing."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from bench_state import WAREHOUSES, command_environment, write_project

DBT_TARGET_PATH = "dbt-target"  # dbt's artifacts, apart from the toolkit's target/
DBT_STATE = "dbt-state"  # the manifest of the first dbt run, what state:modified compares with


def toolkit_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "toolkit", "build", *args]


def dbt_command(*args: str) -> list[str]:
    executable = Path(sys.executable).with_name("dbt")
    return [str(executable), "run", "--target", "dbt", "--target-path", DBT_TARGET_PATH, *args]


def timed(folder: Path, command: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (the child's user + system) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    environment = {**command_environment(folder), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"}
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=environment)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def statuses(run_results: Path, key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result in json.loads(run_results.read_text())["results"]:
        counts[result[key]] = counts.get(result[key], 0) + 1
    return counts


def check_noop(folder: Path, nodes: int) -> None:
    """The toolkit kept every node; dbt selected none."""
    toolkit = statuses(folder / "target" / "run_results.json", "toolkit_status")
    if toolkit != {"unchanged": nodes}:
        raise SystemExit(f"the toolkit's no-op rebuild did not keep every node: {toolkit}")
    dbt = statuses(folder / DBT_TARGET_PATH / "run_results.json", "status")
    if dbt:
        raise SystemExit(f"dbt's state:modified run built nodes: {dbt}")


def check_tables_equal(folder: Path, nodes: int) -> list[str]:
    """A few tables, row by row and column by column, between the toolkit's and dbt's warehouses."""
    names = sorted({f"m{index:03d}" for index in (0, 9, nodes // 2 + 3, nodes - 1)})
    connections = {tool: duckdb.connect(str(folder / path), read_only=True) for tool, path in WAREHOUSES.items()}
    try:
        for name in names:
            tables = {}
            for tool, con in connections.items():
                relation = con.sql(f"select * from main.{name} order by id")
                tables[tool] = (relation.columns, relation.types, relation.fetchall())
            if tables["toolkit"] != tables["dbt"]:
                raise SystemExit(f"main.{name} differs between the toolkit's warehouse and dbt's")
            if not tables["toolkit"][2]:
                raise SystemExit(f"main.{name} is empty")
    finally:
        for con in connections.values():
            con.close()
    return names


def alternate(folder: Path, repeat: int, toolkit: list[str], dbt: list[str],
              after_each=None) -> dict[str, list[tuple[float, float]]]:
    runs: dict[str, list[tuple[float, float]]] = {"toolkit": [], "dbt": []}
    for _ in range(repeat):
        runs["toolkit"].append(timed(folder, toolkit))
        runs["dbt"].append(timed(folder, dbt))
        if after_each:
            after_each()
    return runs


def report(label: str, runs: dict[str, list[tuple[float, float]]]) -> str:
    def figures(tool: str) -> tuple[float, float, float]:
        walls = [wall for wall, _ in runs[tool]]
        return min(walls), statistics.median(walls), min(cpu for _, cpu in runs[tool])

    toolkit, dbt = figures("toolkit"), figures("dbt")
    return (f"{label:<24} {toolkit[0]:7.2f} {toolkit[1]:7.2f} {toolkit[2]:7.2f}   {dbt[0]:7.2f} {dbt[1]:7.2f} "
            f"{dbt[2]:7.2f}   {dbt[0] / toolkit[0]:5.1f}x {dbt[1] / toolkit[1]:5.1f}x {dbt[2] / toolkit[2]:5.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    options = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "project"
        write_project(folder, options.nodes, options.rows)
        timed(folder, toolkit_command())  # the first builds (and warm caches)
        timed(folder, dbt_command())
        (folder / DBT_STATE).mkdir()
        shutil.copy(folder / DBT_TARGET_PATH / "manifest.json", folder / DBT_STATE / "manifest.json")
        threads = ("--threads", str(options.threads))
        full = alternate(folder, options.repeat, toolkit_command("--no-skip-unchanged"), dbt_command())
        noop = alternate(folder, options.repeat, toolkit_command(),
                         dbt_command("-s", "state:modified", "--state", DBT_STATE),
                         after_each=lambda: check_noop(folder, options.nodes))
        parallel = alternate(folder, options.repeat, toolkit_command("--no-skip-unchanged", *threads),
                             dbt_command(*threads))
        compared = check_tables_equal(folder, options.nodes)
    load_after = os.getloadavg()
    print(f"{options.nodes} nodes in chains of ten, {options.rows:,} source rows, {options.repeat} runs each, "
          f"alternating; seconds per command (wall best, wall median, CPU best)")
    print(f"{'':<24} {'toolkit':^23}   {'dbt-duckdb':^23}   {'dbt / toolkit':^19}")
    print(f"{'':<24} {'best':>7} {'median':>7} {'cpu':>7}   {'best':>7} {'median':>7} {'cpu':>7}   "
          f"{'best':>6} {'median':>6} {'cpu':>6}")
    print(report("full build", full))
    print(report("no-op rebuild", noop))
    print(report(f"full build, {options.threads} threads", parallel))
    print(f"tables equal row by row: {', '.join(compared)}; no-op runs: the toolkit kept all {options.nodes} "
          f"nodes, dbt selected none")
    print("load average before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}".format(*load_before, *load_after))


if __name__ == "__main__":
    main()
