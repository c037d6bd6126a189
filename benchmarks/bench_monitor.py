"""Monitoring cost: ML.DESCRIBE_DATA and ML.VALIDATE_DATA_DRIFT over the flights' feature columns, against one full
scan of the same rows in DuckDB.

    python benchmarks/bench_monitor.py [--factor 10] [--repeat 5]

Uses the ×factor flights warehouse (benchmarks/flights_scaled.py). The columns: 12 numerical and 5 categorical
(carrier, tailnum, origin, dest, time_hour). ML.DESCRIBE_DATA reads all of raw.flights; ML.VALIDATE_DATA_DRIFT
compares the first half of the year (base) with the second (study). The baseline hashes every value of every
selected column of all the rows (`SELECT count(*), sum(hash(COLUMNS(*)))`), once for each table read. After one
warm-up call each, the four runs alternate for `repeat` rounds (so a burst of load on the machine falls on all of
them); the ratios are of the median times."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import duckdb
import sqlglot

sys.path.insert(0, str(Path(__file__).parent))
from flights_scaled import ensure_scaled_warehouse  # noqa: E402

from toolkit.ml.functions.apply import applied_ml_calls  # noqa: E402
from toolkit.sql.dialect import DIALECT  # noqa: E402

COLUMNS = ("dep_time, sched_dep_time, dep_delay, arr_time, sched_arr_time, arr_delay, flight, air_time, distance, "
           "hour, minute, day, carrier, tailnum, origin, dest, time_hour")
FLIGHTS = f"SELECT {COLUMNS} FROM raw.flights"
BASE, STUDY = f"{FLIGHTS} WHERE month <= 6", f"{FLIGHTS} WHERE month > 6"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    con = duckdb.connect(str(ensure_scaled_warehouse(args.factor)), read_only=True)
    rows = con.execute("SELECT count(*) FROM raw.flights").fetchall()[0][0]

    def run(sql: str) -> None:
        with applied_ml_calls(con, sqlglot.parse_one(sql, dialect=DIALECT)) as applied:
            con.execute(applied.sql).fetchall()

    def scan(sql: str) -> None:
        con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM ({sql})").fetchall()

    runs = {
        "full scan (baseline)": lambda: scan(FLIGHTS),
        "ML.DESCRIBE_DATA": lambda: run(f"SELECT * FROM ML.DESCRIBE_DATA(({FLIGHTS}), "
                                        "STRUCT(10 AS num_quantiles, 5 AS top_k))"),
        "scan of base + study": lambda: (scan(BASE), scan(STUDY)),
        "ML.VALIDATE_DATA_DRIFT": lambda: run(f"SELECT * FROM ML.VALIDATE_DATA_DRIFT(({BASE}), ({STUDY}))"),
    }
    measured: dict[str, list[float]] = {name: [] for name in runs}
    for call in runs.values():
        call()  # warm-up: DuckDB's caches
    for _ in range(args.repeat):
        for name, call in runs.items():
            start = time.perf_counter()
            call()
            measured[name].append(time.perf_counter() - start)
    timings = {name: statistics.median(seconds) for name, seconds in measured.items()}
    print(f"raw.flights ×{args.factor}: {rows:,} rows, 17 columns (12 numerical, 5 categorical)")
    print(f"{'run':<26} {'median s':>8} {'fastest s':>9} {'ratio to its scan':>18}")
    for name, seconds in timings.items():
        baseline = timings["scan of base + study" if name in ("ML.VALIDATE_DATA_DRIFT", "scan of base + study")
                           else "full scan (baseline)"]
        print(f"{name:<26} {seconds:>8.3f} {min(measured[name]):>9.3f} {seconds / baseline:>18.2f}")
    print("targets: each at most 3.00× its scan (medians of", args.repeat, "alternating rounds); load average",
          " ".join(f"{load:.2f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main()
