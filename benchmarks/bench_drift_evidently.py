"""ML.VALIDATE_DATA_DRIFT against Evidently's DataDriftPreset report on the same two tables, in one run.

    pip install -e ".[bench]"        # Evidently is a benchmark-only dependency
    python benchmarks/bench_drift_evidently.py [--factor 10] [--repeat 1]

The ×factor flights warehouse (benchmarks/flights_scaled.py), the 17 columns of bench_monitor.py, the first half of
the year (reference / base) against the second (current / study). Evidently's time includes reading both tables
into pandas (DuckDB's `.df()`), which it needs; the toolkit's reads them in DuckDB. ML.VALIDATE_DATA_SKEW is timed
too, from a model trained on a sample of the first half, against the second half. Target: the drift at least 20×
faster than Evidently."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb
import sqlglot

sys.path.insert(0, str(Path(__file__).parent))
from bench_monitor import BASE as WAREHOUSE_BASE  # noqa: E402
from bench_monitor import COLUMNS  # noqa: E402
from bench_monitor import STUDY as WAREHOUSE_STUDY  # noqa: E402
from flights_scaled import ensure_scaled_warehouse  # noqa: E402
from timing import best_of  # noqa: E402

from toolkit.ml import save_model, train_model  # noqa: E402
from toolkit.ml.functions.apply import applied_ml_calls  # noqa: E402
from toolkit.sql.dialect import DIALECT  # noqa: E402

# The flights warehouse attached read-only as `flights`, beside the in-memory database holding the skew's model.
BASE, STUDY = (query.replace("raw.flights", "flights.raw.flights") for query in (WAREHOUSE_BASE, WAREHOUSE_STUDY))


def _evidently(con: duckdb.DuckDBPyConnection) -> float:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    start = time.perf_counter()
    reference, current = con.sql(BASE).df(), con.sql(STUDY).df()
    Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute(f"ATTACH '{ensure_scaled_warehouse(args.factor)}' AS flights (READ_ONLY)")
    rows = con.execute("SELECT count(*) FROM flights.raw.flights").fetchall()[0][0]

    def run(sql: str) -> None:
        with applied_ml_calls(con, sqlglot.parse_one(sql, dialect=DIALECT)) as applied:
            con.execute(applied.sql).fetchall()

    training = train_model(con, name="bench_skew", options={"model_type": "LINEAR_REG", "input_label_cols": ["y"],
                                                            "data_split_method": "NO_SPLIT"},
                           query=f"SELECT {COLUMNS}, arr_delay AS y FROM flights.raw.flights WHERE month <= 6 "
                                 "AND arr_delay IS NOT NULL USING SAMPLE 50000 ROWS")
    save_model(con, training)
    timings = {
        "scan of base + study": best_of(lambda: [con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM ({q})")
                                                 .fetchall() for q in (BASE, STUDY)], args.repeat),
        "ML.VALIDATE_DATA_DRIFT": best_of(lambda: run(f"SELECT * FROM ML.VALIDATE_DATA_DRIFT(({BASE}), ({STUDY}))"),
                                          args.repeat),
        "ML.VALIDATE_DATA_SKEW": best_of(lambda: run(f"SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL bench_skew, "
                                                     f"({STUDY}))"), args.repeat),
        "Evidently DataDriftPreset": min(_evidently(con) for _ in range(args.repeat)),
    }
    print(f"raw.flights ×{args.factor}: {rows:,} rows, 17 columns (12 numerical, 5 categorical)")
    print(f"{'run':<27} {'seconds':>8} {'ratio to the drift':>19}")
    for name, seconds in timings.items():
        print(f"{name:<27} {seconds:>8.3f} {seconds / timings['ML.VALIDATE_DATA_DRIFT']:>19.2f}")
    print("target: Evidently at least 20.00× the drift")


if __name__ == "__main__":
    main()
