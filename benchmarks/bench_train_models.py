"""Benchmark: BOOSTED_TREE_CLASSIFIER and KMEANS through the toolkit against hand-written scikit-learn scripts.

    python benchmarks/bench_train_models.py                          # ×3 flights, 3 runs of each variant, both models
    python benchmarks/bench_train_models.py --factor 10 --repeat 3   # ×10 (3.3M rows)
    python benchmarks/bench_train_models.py --model kmeans           # one model only
    python benchmarks/bench_train_models.py --model kmeans --factor 10 --same-iterations   # KMeans(tol=0): 20 and 20

Both models use bench_train.py's `base` feature set (carrier, origin, dest, distance, dep_delay) of the ×`factor`
flights table, each variant in its own subprocess (alternating, `--repeat` times; wall time from the query to the
end, imports excluded; peak RSS), the ratio of the median times.

- BOOSTED_TREE_CLASSIFIER, `arr_delay > 15`, eval rows the query's `is_eval` (DATA_SPLIT_METHOD = 'CUSTOM'):
  toolkit `train_model` + `save_model` with MAX_ITERATIONS = 20, EARLY_STOP = FALSE and the defaults (MAX_TREE_DEPTH 6,
  LEARN_RATE 0.3, L2_REG 1.0, MIN_TREE_CHILD_WEIGHT 1); the script: `fetchdf`, the categories as pandas `category`
  dtype, `HistGradientBoostingClassifier(categorical_features='from_dtype', max_iter=20, max_depth=6,
  learning_rate=0.3, l2_regularization=1.0, min_samples_leaf=1, max_leaf_nodes=None, early_stopping=False)`, ROC AUC
  on the eval rows. `--ordinal` gives the script the toolkit's encoding instead (an OrdinalEncoder, categories as
  ordered codes, no native categorical splits): the same model, so the AUCs agree.
- KMEANS, NUM_CLUSTERS = 8, MAX_ITERATIONS = 20, EARLY_STOP = FALSE, KMEANS_INIT_METHOD = 'KMEANS++' (standardized
  numbers, one-hot categories); the script: `Pipeline(ColumnTransformer([OneHotEncoder (sparse), StandardScaler]),
  KMeans(8, init='k-means++', n_init=1, max_iter=20))`. Both report the mean squared distance to the nearest centroid
  and the Davies–Bouldin index of the training rows (the script's computed after its timing ends). The script stops
  at KMeans' default `tol=1e-4`, the toolkit (EARLY_STOP = FALSE) when the centroids stop moving, so they may run
  different numbers of iterations; `--same-iterations` gives the script `tol=0`, which stops where the toolkit does
  (when no row changes centroid) or at 20.
Target: toolkit time ≤ 1.1× the script's."""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_train import FEATURE_SETS, HERE, ITERATIONS, peak_rss_mb, query, run_child

CATEGORICAL, NUMERIC = FEATURE_SETS["base"]
CLUSTERS = 8
TIME_TARGET = 1.1
TREE = {"max_tree_depth": 6, "learn_rate": 0.3, "l2_reg": 1.0}  # the toolkit's defaults, spelled out


def kmeans_query() -> str:
    return f"SELECT {', '.join(CATEGORICAL + NUMERIC)} FROM raw.flights WHERE arr_delay IS NOT NULL"


def connect(path: str, read_only: bool):
    """A connection to the warehouse; also imports what training and saving load lazily, outside the timings (the
    scripts' scikit-learn imports are outside theirs too)."""
    import importlib

    import duckdb

    for module in ("toolkit.ml.compile", "toolkit.ml.store.versions", "toolkit.ml.metrics", "sklearn.ensemble",
                   "sklearn.cluster"):
        importlib.import_module(module)

    from toolkit.warehouse.farmhash import register_farm_fingerprint

    con = duckdb.connect(path, read_only=read_only)
    register_farm_fingerprint(con)
    con.execute("SET enable_progress_bar = false")
    return con


def toolkit_trees(path: str) -> dict:
    from toolkit.ml import save_model, train_model

    con = connect(path, read_only=False)
    options = {"model_type": "BOOSTED_TREE_CLASSIFIER", "data_split_method": "CUSTOM", "data_split_col": "is_eval",
               "max_iterations": ITERATIONS, "early_stop": False, **TREE}
    start = time.perf_counter()
    training = train_model(con, name="flight_delay_trees", options=options, query=query("base"))
    save_model(con, training)
    seconds = time.perf_counter() - start
    trained = training.model
    return {"seconds": seconds, "rows": trained.split["training_rows"], "n_iter": len(trained.iterations),
            "metric": trained.metrics["roc_auc"]}


def script_trees(path: str, ordinal: bool) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import OrdinalEncoder

    con = connect(path, read_only=True)
    start = time.perf_counter()
    df = con.sql(query("base")).fetchdf()
    if ordinal:  # the toolkit's label encoding: codes in sorted order, NULL and unseen categories -1
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        df[CATEGORICAL] = encoder.fit_transform(df[CATEGORICAL])
    else:
        df[CATEGORICAL] = df[CATEGORICAL].astype("category")
    train, held_out = df[~df["is_eval"]], df[df["is_eval"]]
    model = HistGradientBoostingClassifier(
        categorical_features=None if ordinal else "from_dtype", max_iter=ITERATIONS, max_depth=TREE["max_tree_depth"],
        learning_rate=TREE["learn_rate"], l2_regularization=TREE["l2_reg"], min_samples_leaf=1, max_leaf_nodes=None,
        early_stopping=False, random_state=0)
    model.fit(train[CATEGORICAL + NUMERIC], train["label"])
    auc = roc_auc_score(held_out["label"], model.predict_proba(held_out[CATEGORICAL + NUMERIC])[:, 1])
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": len(train), "n_iter": int(model.n_iter_), "metric": float(auc)}


def toolkit_kmeans(path: str) -> dict:
    from toolkit.ml import save_model, train_model

    con = connect(path, read_only=False)
    options = {"model_type": "KMEANS", "num_clusters": CLUSTERS, "max_iterations": ITERATIONS, "early_stop": False,
               "kmeans_init_method": "KMEANS++"}
    start = time.perf_counter()
    training = train_model(con, name="flight_clusters", options=options, query=kmeans_query())
    save_model(con, training)
    seconds = time.perf_counter() - start
    trained = training.model
    return {"seconds": seconds, "rows": trained.split["training_rows"], "n_iter": len(trained.iterations),
            "metric": trained.metrics["mean_squared_distance"], "dbi": trained.metrics["davies_bouldin_index"]}


def script_kmeans(path: str, same_iterations: bool = False) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from toolkit.ml.metrics import _davies_bouldin_sparse

    con = connect(path, read_only=True)
    start = time.perf_counter()
    df = con.sql(kmeans_query()).fetchdf()
    pipeline = Pipeline([
        ("encode", ColumnTransformer([("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                                      ("numbers", StandardScaler(), NUMERIC)], sparse_threshold=1.0)),
        ("model", KMeans(n_clusters=CLUSTERS, init="k-means++", n_init=1, max_iter=ITERATIONS, random_state=0,
                         tol=0.0 if same_iterations else 1e-4)),
    ])
    pipeline.fit(df)
    seconds = time.perf_counter() - start
    X = pipeline["encode"].transform(df).tocsr()
    model = pipeline["model"]
    return {"seconds": seconds, "rows": len(df), "n_iter": int(model.n_iter_), "metric": model.inertia_ / len(df),
            "dbi": _davies_bouldin_sparse(X, model.labels_)}


MODELS = {
    "trees": {"toolkit": toolkit_trees, "script": script_trees, "metric": "eval ROC AUC"},
    "kmeans": {"toolkit": toolkit_kmeans, "script": script_kmeans, "metric": "mean squared distance"},
}


def child(model: str, variant: str, path: str, ordinal: bool, same_iterations: bool) -> None:
    run = MODELS[model][variant]
    if variant == "script":
        result = run(path, ordinal) if model == "trees" else run(path, same_iterations)
    else:
        result = run(path)
    print(json.dumps({**result, "peak_rss_mb": peak_rss_mb()}))


def compare(source: Path, model: str, repeat: int, ordinal: bool, same_iterations: bool) -> None:
    results: dict[str, list[dict]] = {"script": [], "toolkit": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            for variant in results:
                path = source
                if variant == "toolkit":  # the model store is written into a copy of the warehouse
                    path = Path(tmp) / f"warehouse_{i}.duckdb"
                    shutil.copyfile(source, path)
                result = run_child(__file__, variant, path, "--model", model, *(["--ordinal"] if ordinal else []),
                                   *(["--same-iterations"] if same_iterations else []))
                results[variant].append(result)
                dbi = f"  DBI {result['dbi']:.6f}" if "dbi" in result else ""
                print(f"{model:<6} run {i + 1} {variant:<7} {result['seconds']:6.2f} s  peak "
                      f"{result['peak_rss_mb']:7.0f} MB  rows {result['rows']:,}  iterations {result['n_iter']}  "
                      f"{MODELS[model]['metric']} {result['metric']:.6f}{dbi}", flush=True)
                if variant == "toolkit":
                    path.unlink()
    time_of = {v: statistics.median(r["seconds"] for r in rs) for v, rs in results.items()}
    peak_of = {v: max(r["peak_rss_mb"] for r in rs) for v, rs in results.items()}
    ratio = time_of["toolkit"] / time_of["script"]
    last = {v: rs[-1] for v, rs in results.items()}
    print(f"{model}: median time toolkit {time_of['toolkit']:.2f} s, script {time_of['script']:.2f} s, ratio "
          f"{ratio:.3f} (target <= {TIME_TARGET}) {'OK' if ratio <= TIME_TARGET else 'MISSED'}; peak toolkit "
          f"{peak_of['toolkit']:.0f} MB, script {peak_of['script']:.0f} MB; {MODELS[model]['metric']} difference "
          f"{last['toolkit']['metric'] - last['script']['metric']:+.2e}\n", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", choices=[*MODELS, "both"], default="both")
    parser.add_argument("--ordinal", action="store_true",
                        help="the tree script label-encodes the categories as the toolkit does (no native splits)")
    parser.add_argument("--same-iterations", action="store_true",
                        help="the KMEANS script runs with tol=0, so it stops where the toolkit does, or at 20")
    parser.add_argument("--child", choices=["toolkit", "script"])
    parser.add_argument("--path")
    args = parser.parse_args(argv)
    if args.child:
        return child(args.model, args.child, args.path, args.ordinal, args.same_iterations)

    sys.path.insert(0, str(HERE))
    from flights_scaled import ensure_scaled_warehouse

    source = ensure_scaled_warehouse(args.factor)
    for model in (MODELS if args.model == "both" else [args.model]):
        compare(source, model, args.repeat, args.ordinal, args.same_iterations)


if __name__ == "__main__":
    main()
