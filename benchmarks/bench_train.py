"""Benchmark: LOGISTIC_REG through the toolkit against the idiomatic scikit-learn pipeline.

    python benchmarks/bench_train.py                          # ×3 flights (1.0M rows), 3 runs each, both feature sets
    python benchmarks/bench_train.py --factor 10 --repeat 3   # ×10 (3.3M rows)
    python benchmarks/bench_train.py --no-early-stop          # the toolkit runs all 20 iterations, as the pipeline
    python benchmarks/bench_train.py --fit-only               # 20 iterations of each optimiser on one matrix
    python benchmarks/bench_train.py --chunk-rows 262144      # also the streamed descent, 262,144 rows per chunk
    python benchmarks/bench_train.py --factor 100 --scale-from 10 --features base --repeat 2   # the toolkit alone

Both variants train on the ×`factor` flights table to predict `arr_delay > 15`, on two feature sets:
- `base`: carrier, origin, dest (105 categories), distance, dep_delay;
- `tailnum`: the same plus tailnum (about 4,000 categories, NULL included).
The eval rows are the same for both: the query's `is_eval` column (a hash of the flight's key, about 1 row in 330),
which the toolkit reads as DATA_SPLIT_METHOD = 'CUSTOM'. Both report the ROC AUC on those rows.

- toolkit: `train_model` (query → Arrow → checks → split → preprocessing → sparse design → fit → evaluation,
  feature statistics, compiled SQL) and `save_model` (the model store, one transaction, on a copy of the file);
- baseline: what a scikit-learn user writes: `con.sql(query).fetchdf()`, then
  `ColumnTransformer([OneHotEncoder(handle_unknown='ignore'), StandardScaler()])` (sparse output) and
  `LogisticRegression(C=inf, max_iter=20)` in one `Pipeline`, fitted on the training rows, AUC on the eval rows.

`--fit-only` times the optimisers alone, in one process, alternating: the toolkit's descent (EARLY_STOP = FALSE,
20 iterations) and scikit-learn's `LogisticRegression(solver='lbfgs', max_iter=20)` on the same training rows,
encoded once by the toolkit (the CSR matrix it trains on); the ratio of their median times per iteration.

Each variant runs in its own subprocess (launched by this script, alternating, `--repeat` times) that reports its
wall time from the query to the end (imports excluded) and its peak RSS (ru_maxrss). The ratios use the median
time and the largest peak of each variant. Targets: time ≤ 1.0×, peak memory ≤ 1.0× the pipeline's.

`--chunk-rows N` adds a third variant, `streamed`: the toolkit with TOOLKIT_DESCENT_CHUNK_ROWS = N, the design
matrix encoded N rows at a time in every pass of the descent (toolkit.ml.training.stream); its time, peak and AUC
are printed against the in-memory toolkit's."""

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
FEATURE_SETS = {
    "base": (["carrier", "origin", "dest"], ["distance", "dep_delay"]),
    "tailnum": (["carrier", "origin", "dest", "tailnum"], ["distance", "dep_delay"]),
}
ITERATIONS = 20
TIME_TARGET = MEMORY_TARGET = 1.0


def query(features: str) -> str:
    categorical, numeric = FEATURE_SETS[features]
    return (f"SELECT arr_delay > 15 AS label, {', '.join(categorical + numeric)}, "
            "hash(year, month, day, carrier, flight, origin) % 330 = 0 AS is_eval "
            "FROM raw.flights WHERE arr_delay IS NOT NULL")


def run_toolkit(path: str, features: str, full: bool, chunk_rows: int = 0) -> dict:
    import duckdb

    from toolkit.ml import save_model, train_model
    from toolkit.warehouse.farmhash import register_farm_fingerprint

    con = duckdb.connect(path)
    register_farm_fingerprint(con)
    con.execute("SET enable_progress_bar = false")
    options = {"model_type": "LOGISTIC_REG", "data_split_method": "CUSTOM", "data_split_col": "is_eval",
               "max_iterations": ITERATIONS, "toolkit_descent_chunk_rows": chunk_rows,
               **({"early_stop": False} if full else {})}
    start = time.perf_counter()
    training = train_model(con, name="flight_delay", options=options, query=query(features))
    save_model(con, training)
    seconds = time.perf_counter() - start
    trained = training.model
    fit_ms = sum(i.duration_ms for i in trained.iterations)
    return {"seconds": seconds, "rows": trained.split["training_rows"], "n_iter": int(trained.estimator.n_iter_[0]),
            "roc_auc": trained.metrics["roc_auc"], "fit_seconds": fit_ms / 1000}


def run_baseline(path: str, features: str) -> dict:
    import duckdb
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    categorical, numeric = FEATURE_SETS[features]
    con = duckdb.connect(path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    start = time.perf_counter()
    df = con.sql(query(features)).fetchdf()
    train, held_out = df[~df["is_eval"]], df[df["is_eval"]]
    del df
    pipeline = Pipeline([
        ("encode", ColumnTransformer([("categories", OneHotEncoder(handle_unknown="ignore"), categorical),
                                      ("numbers", StandardScaler(), numeric)])),
        ("model", LogisticRegression(C=np.inf, max_iter=ITERATIONS, tol=1e-4)),
    ])
    fit_start = time.perf_counter()
    pipeline.fit(train[categorical + numeric], train["label"])
    fit_seconds = time.perf_counter() - fit_start
    auc = roc_auc_score(held_out["label"], pipeline.predict_proba(held_out[categorical + numeric])[:, 1])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(train), "n_iter": int(pipeline["model"].n_iter_[0]),
            "roc_auc": float(auc), "fit_seconds": fit_seconds}


def fit_only(source: Path, features: str, repeat: int) -> None:
    import duckdb
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import toolkit.ml.training.train as training_module
    from toolkit.ml.training.descent import BINARY, Settings, descend
    from toolkit.warehouse.farmhash import register_farm_fingerprint

    class Encoded(Exception):
        pass

    captured = {}

    def capture(family, options, estimator, data):
        captured["data"] = data
        raise Encoded

    con = duckdb.connect(str(source), read_only=True)
    register_farm_fingerprint(con)
    con.execute("SET enable_progress_bar = false")
    real_fit, training_module.fit = training_module.fit, capture
    try:
        training_module.train_model(con, name="flight_delay", query=query(features), options={
            "model_type": "LOGISTIC_REG", "data_split_method": "CUSTOM", "data_split_col": "is_eval"})
    except Encoded:
        pass
    finally:
        training_module.fit = real_fit
    data = captured["data"]
    settings = Settings(model="flight_delay", kind=BINARY, n_classes=2, l1=0.0, l2=0.0, fit_intercept=True,
                        max_iterations=ITERATIONS, early_stop=False, min_rel_progress=0.01, strategy="LINE_SEARCH",
                        learn_rate=0.1, ls_init_learn_rate=0.1)
    times: dict[str, list[float]] = {"toolkit": [], "baseline": []}
    for _ in range(repeat):
        start = time.perf_counter()
        result = descend(settings, data.X, data.y, None, data.X_eval, data.y_eval)
        times["toolkit"].append((time.perf_counter() - start) / len(result.iterations))
        start = time.perf_counter()
        model = LogisticRegression(C=np.inf, max_iter=ITERATIONS, tol=0.0).fit(data.X, data.y)
        times["baseline"].append((time.perf_counter() - start) / int(model.n_iter_[0]))
    kind = type(data.X).__name__
    toolkit, baseline = (statistics.median(times[v]) for v in ("toolkit", "baseline"))
    print(f"{features}: {data.X.shape[0]:,} rows × {data.X.shape[1]:,} columns ({kind}); per iteration: toolkit "
          f"{toolkit * 1000:.1f} ms (eval loss included), lbfgs {baseline * 1000:.1f} ms, ratio "
          f"{toolkit / baseline:.3f} (target <= 1.15)", flush=True)


def child(variant: str, path: str, features: str, full: bool, chunk_rows: int) -> None:
    if variant == "baseline":
        result = run_baseline(path, features)
    else:
        result = run_toolkit(path, features, full, chunk_rows if variant == "streamed" else 0)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_child(script: str, variant: str, path: Path, *args: str) -> dict:
    """Run `script --child variant --path path *args` in a fresh interpreter; the JSON line it prints last."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, script, "--child", variant, "--path", str(path), *args],
                          capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def launch(variant: str, path: Path, features: str, full: bool, chunk_rows: int = 0) -> dict:
    return run_child(__file__, variant, path, "--features", features, "--chunk-rows", str(chunk_rows),
                     *(["--no-early-stop"] if full else []))


def compare(source: Path, features: str, repeat: int, full: bool, chunk_rows: int = 0) -> None:
    results: dict[str, list[dict]] = {"baseline": [], "toolkit": [], **({"streamed": []} if chunk_rows else {})}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for variant in results:
                path = source
                if variant != "baseline":  # the model store is written into a copy of the warehouse
                    path = Path(tmp) / f"warehouse_{i}.duckdb"
                    shutil.copyfile(source, path)
                result = launch(variant, path, features, full, chunk_rows)
                results[variant].append(result)
                print(f"{features:<8} run {i + 1} {variant:<8} {result['seconds']:6.2f} s (fit "
                      f"{result['fit_seconds']:5.2f} s)  peak {result['peak_rss_mb']:7.0f} MB  rows "
                      f"{result['rows']:,}  iterations {result['n_iter']}  auc {result['roc_auc']:.6f}", flush=True)
                if variant != "baseline":
                    path.unlink()
    time_of = {v: statistics.median(r["seconds"] for r in rs) for v, rs in results.items()}
    peak_of = {v: max(r["peak_rss_mb"] for r in rs) for v, rs in results.items()}
    auc_of = {v: rs[-1]["roc_auc"] for v, rs in results.items()}
    time_ratio = time_of["toolkit"] / time_of["baseline"]
    memory_ratio = peak_of["toolkit"] / peak_of["baseline"]
    print(f"{features}: median time toolkit {time_of['toolkit']:.2f} s, baseline {time_of['baseline']:.2f} s, "
          f"ratio {time_ratio:.3f} (target <= {TIME_TARGET}) {'OK' if time_ratio <= TIME_TARGET else 'MISSED'}")
    print(f"{features}: peak memory toolkit {peak_of['toolkit']:.0f} MB, baseline {peak_of['baseline']:.0f} MB, "
          f"ratio {memory_ratio:.3f} (target <= {MEMORY_TARGET}) {'OK' if memory_ratio <= MEMORY_TARGET else 'MISSED'}")
    print(f"{features}: eval ROC AUC toolkit {auc_of['toolkit']:.6f}, baseline {auc_of['baseline']:.6f}, "
          f"difference {auc_of['toolkit'] - auc_of['baseline']:+.2e}\n", flush=True)
    if chunk_rows:
        print(f"{features}: streamed ({chunk_rows:,} rows per chunk) against in memory: time "
              f"{time_of['streamed']:.2f} s / {time_of['toolkit']:.2f} s = {time_of['streamed'] / time_of['toolkit']:.2f}x,"
              f" peak {peak_of['streamed']:.0f} MB / {peak_of['toolkit']:.0f} MB = "
              f"{peak_of['streamed'] / peak_of['toolkit']:.2f}x, AUC difference "
              f"{auc_of['streamed'] - auc_of['toolkit']:+.2e}\n", flush=True)


def scaling(sources: dict[int, Path], features: str, repeat: int) -> None:
    """The toolkit alone on two scales, alternating runs on copies of each warehouse: how its time and peak grow."""
    results: dict[int, list[dict]] = {factor: [] for factor in sources}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for factor, source in sources.items():
                path = Path(tmp) / f"x{factor}_{i}.duckdb"
                shutil.copyfile(source, path)
                result = launch("toolkit", path, features, False)
                path.unlink()
                results[factor].append(result)
                print(f"{features:<8} run {i + 1} x{factor:<4} {result['seconds']:6.2f} s "
                      f"(fit {result['fit_seconds']:5.2f} s)  peak {result['peak_rss_mb']:7.0f} MB  rows {result['rows']:,}  iterations "
                      f"{result['n_iter']}  auc {result['roc_auc']:.6f}", flush=True)
    (small, large) = sorted(results)
    time_of = {f: statistics.median(r["seconds"] for r in rs) for f, rs in results.items()}
    peak_of = {f: max(r["peak_rss_mb"] for r in rs) for f, rs in results.items()}
    print(f"{features}: median time x{large} {time_of[large]:.2f} s / x{small} {time_of[small]:.2f} s = "
          f"{time_of[large] / time_of[small]:.2f}x for {large / small:g}x the rows; peak x{large} "
          f"{peak_of[large]:.0f} MB, x{small} {peak_of[small]:.0f} MB\n", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--features", choices=[*FEATURE_SETS, "both"], default="both")
    parser.add_argument("--fit-only", action="store_true", help="time the optimisers alone on one matrix")
    parser.add_argument("--child", choices=["toolkit", "baseline", "streamed"])
    parser.add_argument("--path")
    parser.add_argument("--chunk-rows", type=int, default=0,
                        help="also run the streamed descent (TOOLKIT_DESCENT_CHUNK_ROWS) with this many rows per chunk")
    parser.add_argument("--no-early-stop", action="store_true",
                        help="train the toolkit with EARLY_STOP = FALSE: all 20 iterations, as the baseline runs")
    parser.add_argument("--scale-from", type=int, metavar="FACTOR",
                        help="the toolkit alone, alternating between x FACTOR and x --factor (e.g. 10 and 100)")
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.path, args.features, args.no_early_stop, args.chunk_rows)

    sys.path.insert(0, str(HERE))
    from flights_scaled import ensure_scaled_warehouse

    source = ensure_scaled_warehouse(args.factor)
    for features in (FEATURE_SETS if args.features == "both" else [args.features]):
        if args.scale_from:
            scaling({args.scale_from: ensure_scaled_warehouse(args.scale_from), args.factor: source}, features,
                    args.repeat)
        elif args.fit_only:
            fit_only(source, features, args.repeat)
        else:
            compare(source, features, args.repeat, args.no_early_stop, args.chunk_rows)


if __name__ == "__main__":
    main()
