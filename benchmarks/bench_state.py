"""A no-op rebuild of an N-node project against a full build of it, each `toolkit build` run as a command (process
start, project load, run, results), best of `--repeat`.

    python benchmarks/bench_state.py --nodes 200 --repeat 3 [--threads 4]

The project: a source table of `--rows` rows, and `--nodes` models in chains of ten (each reading the one before
it; the first of a chain reads the source), so independent chains can run at once with --threads. It is written as
a dbt-duckdb project (dbt_project.yml, profiles.yml, a sources file; no [tool.toolkit]), so the same folder is
built by dbt too (bench_dbt_state.py): profile target `toolkit` (the default) is warehouse.duckdb, target `dbt` is
dbt.duckdb, each with the same source rows."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

DBT_PROJECT = """\
name: bench
version: '1.0.0'
config-version: 2
profile: bench
model-paths: ["models"]
models:
  bench:
    +materialized: table
flags:
  send_anonymous_usage_stats: false
"""
PROFILES = """\
bench:
  target: toolkit
  outputs:
    toolkit: {type: duckdb, path: warehouse.duckdb, schema: main, threads: 1}
    dbt: {type: duckdb, path: dbt.duckdb, schema: main, threads: 1}
"""
SOURCES = "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n"
WAREHOUSES = {"toolkit": "warehouse.duckdb", "dbt": "dbt.duckdb"}


def write_project(folder: Path, nodes: int, rows: int) -> None:
    (folder / "models").mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(DBT_PROJECT)
    (folder / "profiles.yml").write_text(PROFILES)
    (folder / "models" / "sources.yml").write_text(SOURCES)
    for index in range(nodes):
        parent = ("{{ source('raw', 'events') }}" if index % 10 == 0 else f"{{{{ ref('m{index - 1:03d}') }}}}")
        (folder / "models" / f"m{index:03d}.sql").write_text(
            f"select id, v + {index % 7} as v, v * 2 - {index} as w from {parent}\n")
    for warehouse in WAREHOUSES.values():
        con = duckdb.connect(str(folder / warehouse))
        con.execute(f"create schema raw; create table raw.events as select range as id, range % 97 as v "
                    f"from range({rows})")
        con.close()


def command_environment(folder: Path) -> dict[str, str]:
    """The commands' environment: Python's bytecode cached (under the benchmark's folder), as in an ordinary install,
    even when the caller's environment sets PYTHONDONTWRITEBYTECODE (compiling the toolkit's modules from source on
    every start would add about 0.2 s to each command)."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**environment, "PYTHONPYCACHEPREFIX": str(folder.parent / "pycache")}


def timed_build(folder: Path, *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "toolkit", "build", *args], cwd=folder, capture_output=True,
                          text=True, env=command_environment(folder))
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stdout + done.stderr)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "project"
        write_project(folder, options.nodes, options.rows)
        threads = ("--threads", str(options.threads)) if options.threads > 1 else ()
        timed_build(folder, *threads)  # the first build, and warm caches
        full = min(timed_build(folder, "--no-skip-unchanged", *threads) for _ in range(options.repeat))
        noop = min(timed_build(folder, *threads) for _ in range(options.repeat))
    print(f"{options.nodes} nodes, {options.rows:,} source rows, threads={options.threads}: "
          f"full build {full:.2f}s, no-op rebuild {noop:.2f}s ({full / noop:.1f}x faster)")


if __name__ == "__main__":
    main()
