"""ML.PREDICT materialized as a table, against a hand-written fetch → predict → write-back script.

    python benchmarks/bench_predict.py [--factor 10] [--repeat 3] [--memory-factor 100]

A LOGISTIC_REG model (the example's features: schedule, route, distance) is trained once on a sample of the
×factor flights warehouse (benchmarks/flights_scaled.py) and saved without its compiled SQL, so that ML.PREDICT
takes the Python path, as it does for models not compiled to SQL (bench_inference.py measures the compiled one).
Then, each variant in its own subprocess, alternating, `--repeat` times:
- toolkit: `CREATE TABLE … AS SELECT * FROM ML.PREDICT(MODEL m, TABLE features)`, the statement rewritten by the
  toolkit so the input streams through the model in Arrow batches, predicted on every core;
- baseline: the script a user would write by hand — fetch the whole input as one Arrow table, call the same
  model's predict, append the prediction columns, register the result and CREATE TABLE from it.
Each reports its wall time (imports excluded) and peak RSS. Target: toolkit time at most 1.2× the baseline's.
With --memory-factor, the toolkit variant also runs once on that scale (×100 ≈ 33.7M rows) and its peak memory
is reported next to the baseline's on the same data, if the baseline fits."""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

FEATURES = """
CREATE OR REPLACE TABLE features AS
SELECT arr_delay > 15 AS is_delayed, hour AS dep_hour, month, carrier, origin, dest, distance
FROM raw.flights WHERE arr_delay IS NOT NULL
"""
OPTIONS = {"model_type": "LOGISTIC_REG", "input_label_cols": ["is_delayed"], "data_split_method": "NO_SPLIT",
           "max_iterations": 20}
TRAIN_QUERY = "SELECT * FROM features USING SAMPLE 200000 ROWS (reservoir, 42)"


def prepare(source: Path, folder: Path) -> Path:
    """A copy of the scaled warehouse with the features table and the trained model."""
    from dataclasses import replace

    import duckdb

    from toolkit.ml import save_model, train_model
    from toolkit.ml.compile import PYTHON, CompiledPrediction
    from toolkit.warehouse.functions import register_functions

    path = folder / source.name
    shutil.copy(source, path)
    con = duckdb.connect(str(path))
    register_functions(con)
    con.execute(FEATURES)
    training = train_model(con, name="delay", options=OPTIONS, query=TRAIN_QUERY)
    # saved without its SQL: ML.PREDICT takes the Python path measured here
    save_model(con, replace(training, compiled=CompiledPrediction(PYTHON, "measured on the Python path")))
    con.close()
    return path


def run_toolkit(path: str) -> dict:
    import duckdb
    import sqlglot

    from toolkit.ml.functions.apply import applied_ml_calls
    from toolkit.sql.dialect import DIALECT
    from toolkit.warehouse.functions import register_functions

    con = duckdb.connect(path)
    register_functions(con)
    statement = sqlglot.parse_one("CREATE OR REPLACE TABLE predictions AS "
                                  "SELECT * FROM ML.PREDICT(MODEL delay, TABLE features)", read=DIALECT)
    started = time.perf_counter()
    with applied_ml_calls(con, statement) as applied:
        con.execute(applied.sql)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": con.execute("SELECT count(*) FROM predictions").fetchall()[0][0]}


def run_baseline(path: str) -> dict:
    import duckdb
    import pyarrow as pa

    from toolkit.ml import load_model, predict

    con = duckdb.connect(path)
    model = load_model(con, "delay")
    started = time.perf_counter()
    table = con.sql("SELECT * FROM features").to_arrow_table()
    predicted = predict(model, table)
    result = pa.Table.from_arrays([*table.columns, *predicted.columns], names=[*table.column_names,
                                                                               *predicted.column_names])
    con.register("result", result)
    con.execute("CREATE OR REPLACE TABLE predictions AS SELECT * FROM result")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": con.execute("SELECT count(*) FROM predictions").fetchall()[0][0]}


def _child(variant: str, path: str) -> None:
    outcome = {"toolkit": run_toolkit, "baseline": run_baseline}[variant](path)
    outcome["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(outcome))


def _measure(variant: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", variant, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-factor", type=int, default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    from flights_scaled import ensure_scaled_warehouse

    with tempfile.TemporaryDirectory() as folder:
        path = prepare(ensure_scaled_warehouse(args.factor), Path(folder))
        runs: dict[str, list[dict]] = {"toolkit": [], "baseline": []}
        for _ in range(args.repeat):
            for variant in runs:
                runs[variant].append(_measure(variant, path))
        seconds = {v: statistics.median(r["seconds"] for r in results) for v, results in runs.items()}
        peak = {v: max(r["peak_mb"] for r in results) for v, results in runs.items()}
        rows = runs["toolkit"][0]["rows"]
        print(f"×{args.factor}: {rows:,} rows predicted, median of {args.repeat} runs each")
        print(f"{'variant':<10} {'seconds':>8} {'peak MB':>9}")
        for variant in runs:
            print(f"{variant:<10} {seconds[variant]:>8.2f} {peak[variant]:>9.0f}")
        print(f"time ratio toolkit/baseline: {seconds['toolkit'] / seconds['baseline']:.2f} (target ≤ 1.20); "
              f"peak memory ratio: {peak['toolkit'] / peak['baseline']:.2f}")
    if args.memory_factor:
        with tempfile.TemporaryDirectory() as folder:
            path = prepare(ensure_scaled_warehouse(args.memory_factor), Path(folder))
            for variant in ("toolkit", "baseline"):
                outcome = _measure(variant, path)
                if "error" in outcome:
                    print(f"×{args.memory_factor} {variant}: failed ({outcome['error']})")
                else:
                    print(f"×{args.memory_factor} {variant}: {outcome['rows']:,} rows in {outcome['seconds']:.1f} s, "
                          f"peak {outcome['peak_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
