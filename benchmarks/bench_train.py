"""Benchmark: LOGISTIC_REG through the toolkit against a hand-written pandas + scikit-learn script.

    python benchmarks/bench_train.py [--factor 10] [--repeat 3]

Both variants train on the ×`factor` flights table (3.3M rows at ×10) to predict `arr_delay > 15` from
dep_delay, distance, hour, month (numeric) and carrier, origin (categorical):

- toolkit: `train_model` (query → Arrow → checks → AUTO_SPLIT, i.e. 10,000 eval rows → preprocessing → fit →
  evaluation, feature statistics) and `save_model` (the model store, one transaction, on a copy of the file);
- baseline: `con.sql(query).df()` (pandas), NULLs filled with the mean, numerics standardized, `pd.get_dummies`
  with NULL as a category, the last 10,000 rows held out (a view, no copy), the same `LogisticRegression`
  fitted on the rest.

Each variant runs in its own subprocess (launched by this script, alternating, `--repeat` times) that reports
its wall time from the query to the end (imports excluded) and its peak RSS (ru_maxrss). The ratios use the
median time and the largest peak of each variant. Targets: time ≤ 1.15×, peak memory ≤ 1.5× the baseline's."""

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

HERE = Path(__file__).resolve().parent
QUERY = """
SELECT arr_delay > 15 AS label, dep_delay, distance, hour, month, carrier, origin
FROM raw.flights
WHERE arr_delay IS NOT NULL
"""
NUMERIC = ["dep_delay", "distance", "hour", "month"]
CATEGORICAL = ["carrier", "origin"]
EVAL_ROWS = 10_000  # what AUTO_SPLIT holds out above 50,000 rows


def run_toolkit(path: str, options: dict | None = None) -> dict:
    import duckdb

    from toolkit.ml import save_model, train_model
    from toolkit.warehouse.farmhash import register_farm_fingerprint

    con = duckdb.connect(path)
    register_farm_fingerprint(con)
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    training = train_model(con, name="flight_delay", options={"model_type": "LOGISTIC_REG", **(options or {})},
                           query=QUERY)
    version = save_model(con, training)
    trained = training.model
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": trained.split["training_rows"], "n_iter": int(trained.estimator.n_iter_[0]),
            "version": version, "roc_auc": trained.metrics["roc_auc"]}


def run_baseline(path: str) -> dict:
    import duckdb
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    con = duckdb.connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    df = con.sql(QUERY).df()
    numbers = df[NUMERIC].astype("float64")
    numbers = (numbers.fillna(numbers.mean()) - numbers.mean()) / numbers.std()
    dummies = pd.get_dummies(df[CATEGORICAL], dummy_na=True, dtype="float64")
    X = np.ascontiguousarray(np.hstack([numbers.to_numpy(), dummies.to_numpy()]))
    y = df["label"].to_numpy(dtype=bool)
    del df, numbers, dummies
    # The last EVAL_ROWS rows are held out: a view, so no copy of X is made.
    model = LogisticRegression(C=np.inf, max_iter=20, tol=1e-4).fit(X[:-EVAL_ROWS], y[:-EVAL_ROWS])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(y) - EVAL_ROWS, "n_iter": int(model.n_iter_[0])}


def child(variant: str, path: str, full: bool) -> None:
    result = run_toolkit(path, {"early_stop": False} if full else None) if variant == "toolkit" else run_baseline(path)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def launch(variant: str, path: Path, full: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, __file__, "--child", variant, "--path", str(path),
                           *(["--no-early-stop"] if full else [])],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=["toolkit", "baseline"])
    parser.add_argument("--path")
    parser.add_argument("--no-early-stop", action="store_true",
                        help="train the toolkit with EARLY_STOP = FALSE: all 20 iterations, as the baseline runs")
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.path, args.no_early_stop)

    sys.path.insert(0, str(HERE))
    from flights_scaled import ensure_scaled_warehouse

    source = ensure_scaled_warehouse(args.factor)
    results: dict[str, list[dict]] = {"baseline": [], "toolkit": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            for variant in ("baseline", "toolkit"):
                path = source
                if variant == "toolkit":  # the model store is written into a copy of the warehouse
                    path = Path(tmp) / f"warehouse_{i}.duckdb"
                    shutil.copyfile(source, path)
                result = launch(variant, path, args.no_early_stop)
                results[variant].append(result)
                print(f"run {i + 1} {variant:<8} {result['seconds']:6.2f} s  peak {result['peak_rss_mb']:7.0f} MB  "
                      f"rows {result['rows']:,}  iterations {result['n_iter']}", flush=True)
                if variant == "toolkit":
                    path.unlink()
    time_of = {v: statistics.median(r["seconds"] for r in rs) for v, rs in results.items()}
    peak_of = {v: max(r["peak_rss_mb"] for r in rs) for v, rs in results.items()}
    time_ratio = time_of["toolkit"] / time_of["baseline"]
    memory_ratio = peak_of["toolkit"] / peak_of["baseline"]
    print(f"\nmedian time: toolkit {time_of['toolkit']:.2f} s, baseline {time_of['baseline']:.2f} s, "
          f"ratio {time_ratio:.3f} (target <= 1.15) {'OK' if time_ratio <= 1.15 else 'MISSED'}")
    print(f"peak memory: toolkit {peak_of['toolkit']:.0f} MB, baseline {peak_of['baseline']:.0f} MB, "
          f"ratio {memory_ratio:.3f} (target <= 1.5) {'OK' if memory_ratio <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
