"""Benchmark: hyperparameter tuning (NUM_TRIALS) against a hand-written Optuna script.

    python benchmarks/bench_tune.py [--trials 20] [--rows 0]

Both variants tune a BOOSTED_TREE_CLASSIFIER (scikit-learn's HistGradientBoostingClassifier, 20 boosting rounds,
no early stopping) predicting `arr_delay > 15` on the example warehouse's flights (dep_delay, distance, hour,
month; carrier and origin label-encoded) over one search space — LEARN_RATE in [0.01, 0.5], MAX_TREE_DEPTH in
[3, 8], L2_REG in [0.001, 10] (log), MIN_TREE_CHILD_WEIGHT in [1, 50] — with Optuna's TPE sampler, maximizing
ROC AUC on a 10% eval split (80/10/10):

- toolkit: `train_model` with NUM_TRIALS and MAX_PARALLEL_TRIALS = the cores (and once with 1, for the speed-up of
  parallel trials), then `save_model` (every trial stored);
- baseline: `con.sql(query).df()`, the categories coded by pandas, a random 80/10/10 split, and
  `study.optimize(objective, n_trials, n_jobs=cores)` fitting the same estimator.

Each variant runs in its own subprocess and reports its wall time from the query to the end (imports excluded).
Targets: the parallel toolkit's time at most 1.1× the baseline's, its best objective within 1% of the baseline's."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE = ROOT / "warehouse.duckdb.example"
QUERY = """
SELECT arr_delay > 15 AS label, dep_delay, distance, hour, month, carrier, origin
FROM raw.flights
WHERE arr_delay IS NOT NULL
"""
ROUNDS = 20
SPACE = {"LEARN_RATE": (0.01, 0.5, False), "MAX_TREE_DEPTH": (3, 8, False), "L2_REG": (0.001, 10.0, True),
         "MIN_TREE_CHILD_WEIGHT": (1, 50, False)}
CORES = os.cpu_count() or 1


def _query(rows: int) -> str:
    return QUERY + (f"LIMIT {rows}" if rows else "")


def run_toolkit(path: str, trials: int, parallel: int, rows: int) -> dict:
    import duckdb

    from toolkit.ml import save_model, train_model
    from toolkit.sql.create_model import HparamRange
    from toolkit.warehouse.farmhash import register_farm_fingerprint

    con = duckdb.connect(path)
    register_farm_fingerprint(con)
    con.execute("SET enable_progress_bar = false")
    options = {"model_type": "BOOSTED_TREE_CLASSIFIER", "num_trials": trials, "max_parallel_trials": parallel,
               "max_iterations": ROUNDS, "early_stop": False,
               **{name: HparamRange(low, high) for name, (low, high, _) in SPACE.items()}}
    start = time.perf_counter()
    training = train_model(con, name="flight_delay_tuned", options=options, query=_query(rows))
    save_model(con, training)
    seconds = time.perf_counter() - start
    best = max(t.evaluation_metrics["roc_auc"] for t in training.trials if t.status == "SUCCEEDED")
    return {"seconds": seconds, "best_roc_auc": best, "rows": training.model.split["training_rows"],
            "failed": sum(t.status != "SUCCEEDED" for t in training.trials)}


def run_baseline(path: str, trials: int, parallel: int, rows: int) -> dict:
    import duckdb
    import numpy as np
    import optuna
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    con = duckdb.connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    df = con.sql(_query(rows)).df()
    for column in ("carrier", "origin"):
        df[column] = df[column].astype("category").cat.codes.astype("float64")
    X = df[["dep_delay", "distance", "hour", "month", "carrier", "origin"]].to_numpy(dtype="float64")
    y = df["label"].to_numpy(dtype=bool)
    roles = np.random.default_rng(0).random(len(y))
    train, evaluation = roles >= 0.2, roles < 0.1

    def objective(trial: optuna.trial.Trial) -> float:
        params = {name: (trial.suggest_int if isinstance(low, int) else trial.suggest_float)(name, low, high, log=log)
                  for name, (low, high, log) in SPACE.items()}
        model = HistGradientBoostingClassifier(
            learning_rate=params["LEARN_RATE"], max_iter=ROUNDS, max_depth=params["MAX_TREE_DEPTH"],
            max_leaf_nodes=None, min_samples_leaf=params["MIN_TREE_CHILD_WEIGHT"],
            l2_regularization=params["L2_REG"], early_stopping=False, random_state=0)
        model.fit(X[train], y[train])
        return roc_auc_score(y[evaluation], model.predict_proba(X[evaluation])[:, 1])

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=trials, n_jobs=parallel)
    return {"seconds": time.perf_counter() - start, "best_roc_auc": study.best_value, "rows": int(train.sum())}


def _child(variant: str, trials: int, parallel: int, rows: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "warehouse.duckdb")
        shutil.copy(WAREHOUSE, path)
        code = (f"import json, sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_tune as b; "
                f"print(json.dumps(b.run_{variant}({path!r}, {trials}, {parallel}, {rows})))")
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
        return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rows", type=int, default=0, help="LIMIT on the query (0: every flight)")
    args = parser.parse_args()
    parallel = min(CORES, 5)  # BigQuery's MAX_PARALLEL_TRIALS is at most 5
    runs = {
        "baseline (Optuna, n_jobs=cores)": _child("baseline", args.trials, parallel, args.rows),
        f"toolkit, MAX_PARALLEL_TRIALS={parallel}": _child("toolkit", args.trials, parallel, args.rows),
        "toolkit, MAX_PARALLEL_TRIALS=1": _child("toolkit", args.trials, 1, args.rows),
    }
    print(f"{args.trials} trials, {CORES} cores")
    print(f"{'variant':40} {'seconds':>8} {'best roc_auc':>13} {'training rows':>14}")
    for name, run in runs.items():
        print(f"{name:40} {run['seconds']:8.2f} {run['best_roc_auc']:13.5f} {run['rows']:14}")
    base, tuned, sequential = runs.values()
    print(f"time ratio to baseline: {tuned['seconds'] / base['seconds']:.2f} (target at most 1.1)")
    print(f"best objective vs baseline: {tuned['best_roc_auc'] / base['best_roc_auc'] - 1:+.2%} (target within 1%)")
    print(f"speed-up of parallel trials: {sequential['seconds'] / tuned['seconds']:.2f}x")


if __name__ == "__main__":
    main()
