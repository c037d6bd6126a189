"""In-warehouse inference: ML.PREDICT against the Python round trip and against orbital's SQL.

    python benchmarks/bench_inference.py [--factor 10] [--repeat 3] [--forest-depth 8] [--forest-sizes 5x6,10x6,20x6]
                                         [--json]

On a copy of the ×factor flights warehouse (benchmarks/flights_scaled.py; ×10 ≈ 3.3M rows), the features of
bench_predict.py (is_delayed from dep_hour, month, distance, carrier, origin, dest) and two models, each trained
once by `train_model` + `save_model` on a sample materialized as a table:
- LOGISTIC_REG (NO_SPLIT, max_iterations 20) on 200,000 rows, and an equivalent scikit-learn pipeline fitted on
  the same rows: ColumnTransformer(StandardScaler on the numerics, OneHotEncoder(handle_unknown='ignore') on the
  categories) + LogisticRegression(max_iter=20, C=inf — the toolkit's LOGISTIC_REG is unpenalized by default),
  exported to DuckDB SQL by orbital (`parse_pipeline` + `export_sql`). orbital's labels and probabilities are
  checked against the pipeline's own on a few thousand rows before anything is timed;
- RANDOM_FOREST_CLASSIFIER, 100 trees of depth --forest-depth, on 50,000 rows.

Each variant materializes every row of `features` with its predictions as a table:
- ml_predict: `CREATE OR REPLACE TABLE … AS SELECT * FROM ML.PREDICT(MODEL m, TABLE features)`, parsed with the
  toolkit dialect and run in `applied_ml_calls`, exactly as `toolkit build` runs it: the model's compiled SQL
  when ML.PREDICT uses it, else the Python path (the path taken is printed);
- python_path: the script a user would write by hand — fetch `features` as one Arrow table, `toolkit.ml.inference.predict`
  with the loaded model (loading is not timed), append the prediction columns, CREATE TABLE from the result;
- compiled_sql (forest only): the forest's compiled SQL run directly, which ML.PREDICT does not use for a forest
  this large (scikit-learn is faster); one run after the others, it takes a while;
- orbital (logistic regression only): `CREATE OR REPLACE TABLE … AS SELECT <input columns>, <orbital's label and
  class probabilities> FROM (<orbital's SQL>)`. Exporting the SQL (≈1 s) is not timed, as the toolkit's
  compilation happens at training time.

Then, for each --forest-sizes forest (trees x depth, on the same 50,000 rows), its compiled SQL against ML.PREDICT
on the Python path (the model saved without its SQL): where ML.PREDICT's threshold on tree nodes should sit.

Timing: every variant runs in this one process on one connection: one warm-up round, then --repeat rounds in which
the variants alternate; each variant's best time is reported. Every variant must produce as many rows as
`features` has (asserted). Targets: python_path / ml_predict ≥ 5 and orbital / ml_predict ≥ 1.5 for the logistic
regression, python_path / ml_predict ≥ 1 for the forest."""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_predict import FEATURES  # noqa: E402  (the same features table)

COLUMNS = ["is_delayed", "dep_hour", "month", "carrier", "origin", "dest", "distance"]
NUMERIC = ["dep_hour", "month", "distance"]
CATEGORICAL = ["carrier", "origin", "dest"]
LINEAR_OPTIONS = {"model_type": "LOGISTIC_REG", "input_label_cols": ["is_delayed"], "data_split_method": "NO_SPLIT",
                  "max_iterations": 20}
LINEAR_SAMPLE_ROWS = 200_000
FOREST_SAMPLE_ROWS = 50_000
FOREST_TREES = 100
CHECK_ROWS = 5_000  # rows on which orbital's SQL must give its pipeline's labels
TARGETS = {"linear": {"python_path": 5.0, "orbital": 1.5}, "forest": {"python_path": 1.0}}


def forest_options(depth: int, trees: int = FOREST_TREES) -> dict:
    return {"model_type": "RANDOM_FOREST_CLASSIFIER", "input_label_cols": ["is_delayed"],
            "data_split_method": "NO_SPLIT", "num_parallel_tree": trees, "max_tree_depth": depth}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def prepare(source: Path, folder: Path, forest_depth: int):
    """A connection to a copy of the scaled warehouse with `features`, the training samples and both models
    saved; the seconds each model took to train and save."""
    import duckdb

    from toolkit.ml import save_model, train_model
    from toolkit.warehouse.functions import register_functions

    path = folder / source.name
    shutil.copy(source, path)
    con = duckdb.connect(str(path))
    register_functions(con)
    con.execute(FEATURES)
    con.execute(f"CREATE TABLE linear_sample AS SELECT * FROM features "
                f"USING SAMPLE {LINEAR_SAMPLE_ROWS} ROWS (reservoir, 42)")
    con.execute(f"CREATE TABLE forest_sample AS SELECT * FROM features "
                f"USING SAMPLE {FOREST_SAMPLE_ROWS} ROWS (reservoir, 42)")
    trained = {}
    for name, options, sample in (("delay", LINEAR_OPTIONS, "linear_sample"),
                                  ("forest", forest_options(forest_depth), "forest_sample")):
        started = time.perf_counter()
        save_model(con, train_model(con, name=name, options=options, query=f"SELECT * FROM {sample}"))
        trained[name] = time.perf_counter() - started
    return con, trained


def ml_predict(con, model: str, target: str) -> tuple[float, int]:
    """ML.PREDICT through the toolkit, as `toolkit build` runs it."""
    import sqlglot

    from toolkit.ml.functions.apply import applied_ml_calls
    from toolkit.sql.dialect import DIALECT

    statement = sqlglot.parse_one(f"CREATE OR REPLACE TABLE {target} AS "
                                  f"SELECT * FROM ML.PREDICT(MODEL {model}, TABLE features)", read=DIALECT)
    started = time.perf_counter()
    with applied_ml_calls(con, statement) as applied:
        con.execute(applied.sql)
    seconds = time.perf_counter() - started
    return seconds, _count(con, target)


def compiled_sql(con, compiled, target: str) -> tuple[float, int]:
    """The model's compiled SQL over `features`, whichever path ML.PREDICT takes for it."""
    return run_sql(con, f"CREATE OR REPLACE TABLE {target} AS {compiled.sql_for('SELECT * FROM features')}", target)


def _path(compiled) -> str:
    return "SQL" if compiled is not None and compiled.used_by_predict else "Python"


def python_path(con, trained, target: str) -> tuple[float, int]:
    """Fetch → predict → write back, by hand, predicting on every core as a scikit-learn user would (the toolkit
    stores forests with n_jobs=1 and runs its chunks in parallel instead)."""
    import copy
    from dataclasses import replace

    import pyarrow as pa

    from toolkit.ml import predict

    if "n_jobs" in trained.estimator.get_params():
        trained = replace(trained, estimator=copy.copy(trained.estimator).set_params(n_jobs=-1))
    started = time.perf_counter()
    table = con.sql("SELECT * FROM features").to_arrow_table()
    predicted = predict(trained, table)
    result = pa.Table.from_arrays([*table.columns, *predicted.columns],
                                  names=[*table.column_names, *predicted.column_names])
    con.register("python_result", result)
    con.execute(f"CREATE OR REPLACE TABLE {target} AS SELECT * FROM python_result")
    seconds = time.perf_counter() - started
    con.unregister("python_result")
    return seconds, _count(con, target)


def run_sql(con, sql: str, target: str) -> tuple[float, int]:
    started = time.perf_counter()
    con.execute(sql)
    seconds = time.perf_counter() - started
    return seconds, _count(con, target)


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def orbital_pipeline(con):
    """The scikit-learn pipeline equivalent to the LOGISTIC_REG model, fitted on the same sample."""
    import warnings

    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    sample = con.sql("SELECT * FROM linear_sample").df()
    pipeline = Pipeline([
        ("encode", ColumnTransformer([("numeric", StandardScaler(), NUMERIC),
                                      ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL)])),
        ("classify", LogisticRegression(max_iter=20, C=np.inf)),
    ])
    with warnings.catch_warnings():  # 20 lbfgs iterations do not converge, as in the toolkit's model
        warnings.simplefilter("ignore")
        pipeline.fit(_sklearn_inputs(sample), sample["is_delayed"])
    return pipeline


def _sklearn_inputs(frame):
    return frame[NUMERIC + CATEGORICAL].astype({c: "float64" for c in NUMERIC})


def orbital_sql(pipeline, table: str, passthrough: dict, keep: list[str]) -> str:
    """orbital's DuckDB query over `table` (the features, plus `passthrough` columns: name → orbital type): its
    outputs and the `keep` columns."""
    import orbital
    import orbital.types as ot

    features = {**passthrough, **{c: ot.DoubleColumnType() for c in NUMERIC},
                **{c: ot.StringColumnType() for c in CATEGORICAL}}
    parsed = orbital.parse_pipeline(pipeline, features=features)
    return orbital.export_sql(table, parsed, dialect="duckdb",
                              projection=orbital.ResultsProjection(select=keep))


def check_orbital(con, pipeline, trained) -> dict:
    """orbital's labels must be the pipeline's on CHECK_ROWS rows (asserted); how far its probabilities are, and
    how often the toolkit's model agrees with the pipeline (reported)."""
    import numpy as np
    import orbital.types as ot

    from toolkit.ml import predict

    con.execute(f"CREATE OR REPLACE TEMP TABLE orbital_check AS SELECT row_number() OVER () AS rid, * "
                f"FROM (SELECT * FROM features USING SAMPLE {CHECK_ROWS} ROWS (reservoir, 7))")
    sql = orbital_sql(pipeline, "orbital_check", {"rid": ot.Int64ColumnType(passthrough=True)}, ["rid"])
    ours = con.sql(f'SELECT output_label, "output_probability.1" FROM ({sql}) ORDER BY rid').fetchnumpy()
    frame = con.sql("SELECT * FROM orbital_check ORDER BY rid").df()
    labels = pipeline.predict(_sklearn_inputs(frame)).astype(np.int64)
    assert np.array_equal(ours["output_label"], labels), "orbital's SQL and its pipeline disagree on labels"
    probability = pipeline.predict_proba(_sklearn_inputs(frame))[:, 1]
    toolkit = predict(trained, con.sql(f"SELECT {', '.join(COLUMNS)} FROM orbital_check ORDER BY rid")
                      .to_arrow_table()).column("predicted_is_delayed").to_numpy(zero_copy_only=False)
    return {"rows": len(labels),
            "max_probability_difference": float(np.max(np.abs(ours["output_probability.1"] - probability))),
            "toolkit_label_agreement": float(np.mean(toolkit.astype(np.int64) == labels))}


def interleaved_best(runs: dict[str, Callable[[], tuple[float, int]]], repeat: int) -> tuple[dict, dict]:
    """One warm-up round, then `repeat` rounds of the variants in turn: every time of each variant and its rows."""
    rows = {name: run()[1] for name, run in runs.items()}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            seconds, rows[name] = run()
            times[name].append(seconds)
    return times, rows


def measure(runs: dict, repeat: int, expected_rows: int) -> dict:
    times, rows = interleaved_best(runs, repeat)
    for name, count in rows.items():
        assert count == expected_rows, f"{name} wrote {count:,} rows, features has {expected_rows:,}"
    best = {name: min(values) for name, values in times.items()}
    return {"seconds": best, "runs": times}


def _positives(con, table: str, column: str) -> int:
    return con.execute(f"SELECT count(*) FILTER (WHERE {column}::BOOLEAN) FROM {table}").fetchall()[0][0]


def bench_linear(con, trained, compiled, repeat: int, rows: int) -> tuple[dict, dict]:
    """The LOGISTIC_REG variants: timings, and what orbital's check and export gave."""
    import orbital.types as ot

    pipeline = orbital_pipeline(con)
    check = check_orbital(con, pipeline, trained)
    _log(f"orbital: labels equal to its pipeline's on {check['rows']:,} rows (probabilities within "
         f"{check['max_probability_difference']:.1e}); the toolkit's model agrees on "
         f"{check['toolkit_label_agreement']:.2%} of them")
    started = time.perf_counter()
    query = orbital_sql(pipeline, "features", {"is_delayed": ot.BooleanColumnType(passthrough=True)}, COLUMNS)
    export_seconds = time.perf_counter() - started
    outputs = [c for c in con.sql(query).columns if c not in COLUMNS]
    statement = (f"CREATE OR REPLACE TABLE orbital_predictions AS SELECT {', '.join(COLUMNS)}, "
                 f"{', '.join(_quoted(c) for c in outputs)} FROM ({query}) AS orbital")
    _log("timing LOGISTIC_REG …")
    result = measure({
        "ml_predict": lambda: ml_predict(con, "delay", "ml_predictions"),
        "python_path": lambda: python_path(con, trained, "python_predictions"),
        "orbital": lambda: run_sql(con, statement, "orbital_predictions"),
    }, repeat, rows)
    result["ml_predict_path"] = _path(compiled)
    result["positives"] = {"ml_predict": _positives(con, "ml_predictions", "predicted_is_delayed"),
                           "python_path": _positives(con, "python_predictions", "predicted_is_delayed"),
                           "orbital": _positives(con, "orbital_predictions", "output_label")}
    result["targets"] = {f"{k}/ml_predict": v for k, v in TARGETS["linear"].items()}
    return result, {**check, "export_seconds": export_seconds, "sql_characters": len(query), "outputs": outputs}


def bench_forest(con, trained, compiled, repeat: int, rows: int) -> dict:
    _log("timing RANDOM_FOREST_CLASSIFIER …")
    result = measure({
        "ml_predict": lambda: ml_predict(con, "forest", "forest_ml_predictions"),
        "python_path": lambda: python_path(con, trained, "forest_python_predictions"),
    }, repeat, rows)
    _log("timing the forest's compiled SQL once …")
    seconds, produced = compiled_sql(con, compiled, "forest_sql_predictions")
    assert produced == rows, f"compiled_sql wrote {produced:,} rows, not {rows:,}"
    result["seconds"]["compiled_sql"] = seconds
    result["ml_predict_path"] = _path(compiled)
    result["positives"] = {"ml_predict": _positives(con, "forest_ml_predictions", "predicted_is_delayed"),
                           "python_path": _positives(con, "forest_python_predictions", "predicted_is_delayed"),
                           "compiled_sql": _positives(con, "forest_sql_predictions", "predicted_is_delayed")}
    result["targets"] = {f"{k}/ml_predict": v for k, v in TARGETS["forest"].items()}
    return result


def bench_forest_sizes(con, sizes: list[tuple[int, int]], repeat: int, rows: int) -> list[dict]:
    """Where the SQL of a forest stops beating the Python path: each (trees, depth) forest's compiled SQL against
    ML.PREDICT's Python path (the model saved without its SQL), best of `repeat`."""
    from dataclasses import replace

    from toolkit.ml import save_model, train_model
    from toolkit.ml.compile import PYTHON, CompiledPrediction

    out = []
    for trees, depth in sizes:
        training = train_model(con, name="sized", options=forest_options(depth, trees),
                               query="SELECT * FROM forest_sample")
        compiled = training.compiled
        save_model(con, replace(training, compiled=CompiledPrediction(PYTHON, "measured on the Python path")))
        _log(f"timing {trees} trees of depth {depth} …")
        result = measure({"compiled_sql": lambda c=compiled: compiled_sql(con, c, "sized_sql"),
                          "python_path": lambda: ml_predict(con, "sized", "sized_python")}, repeat, rows)
        seconds = result["seconds"]
        out.append({"trees": trees, "depth": depth, "nodes": compiled.tree_nodes, **seconds,
                    "python/sql": seconds["python_path"] / seconds["compiled_sql"]})
    return out


def report(results: dict) -> None:
    print(f"×{results['factor']}: {results['rows']:,} rows predicted and written, best of {results['repeat']} "
          f"(same process, variants interleaved, after one warm-up round)")
    forest = results["random_forest"]
    print(f"{'model':<28} {'variant':<12} {'seconds':>8} {'ratio':>7} {'target':>7} {'delayed':>9}  note")
    for label, result in (("LOGISTIC_REG", results["logistic_reg"]),
                          (f"RANDOM_FOREST ({forest['trees']}×depth {forest['max_tree_depth']})", forest)):
        for name, seconds in result["seconds"].items():
            ratio = result["ratios"].get(f"{name}/ml_predict")
            target = result["targets"].get(f"{name}/ml_predict")
            note = f"path: {result['ml_predict_path']}" if name == "ml_predict" else ""
            print(f"{label:<28} {name:<12} {seconds:>8.2f} {_fmt(ratio):>7} {_fmt(target, '≥'):>7} "
                  f"{result['positives'][name]:>9,}  {note}".rstrip())
            label = ""
    orbital = results["orbital"]
    print(f"ratio = variant / ml_predict; delayed = rows predicted delayed; orbital's SQL: "
          f"{orbital['sql_characters']:,} characters, exported in {orbital['export_seconds']:.1f} s")
    if results.get("forest_sizes"):
        print("forest           nodes  compiled SQL  ML.PREDICT in Python  Python / SQL")
        for size in results["forest_sizes"]:
            print(f"{size['trees']:>3} × depth {size['depth']:<2} {size['nodes']:>8,} {size['compiled_sql']:>12.2f} s "
                  f"{size['python_path']:>20.2f} s {size['python/sql']:>13.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--forest-depth", type=int, default=8)
    parser.add_argument("--forest-sizes", default="5x6,10x6,20x6",
                        help="forests (trees x depth) whose SQL is timed against the Python path; '' for none")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()
    from flights_scaled import ensure_scaled_warehouse

    from toolkit.ml import load_model, load_prediction

    source = ensure_scaled_warehouse(args.factor)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        con, training = prepare(source, Path(folder), args.forest_depth)
        rows = _count(con, "features")
        _log(f"×{args.factor}: {rows:,} feature rows; trained LOGISTIC_REG in {training['delay']:.1f} s, "
             f"RANDOM_FOREST_CLASSIFIER in {training['forest']:.1f} s (prepared in "
             f"{time.perf_counter() - started:.1f} s)")
        delay, forest = load_model(con, "delay"), load_model(con, "forest")
        linear, orbital = bench_linear(con, delay, load_prediction(con, delay), args.repeat, rows)
        forest = bench_forest(con, forest, load_prediction(con, forest), args.repeat, rows)
        sizes = [tuple(int(n) for n in size.split("x")) for size in args.forest_sizes.split(",") if size]
        forest_sizes = bench_forest_sizes(con, sizes, args.repeat, rows)
        con.close()
    for result in (linear, forest):
        fastest = result["seconds"]["ml_predict"]
        result["ratios"] = {f"{name}/ml_predict": seconds / fastest
                            for name, seconds in result["seconds"].items() if name != "ml_predict"}
    results = {
        "factor": args.factor, "rows": rows, "repeat": args.repeat,
        "timing": "same process, one warm-up round, then variants interleaved; best of --repeat",
        "versions": {p: version(p) for p in ("duckdb", "scikit-learn", "orbital")},
        "training_seconds": training,
        "logistic_reg": linear,
        "random_forest": {"trees": FOREST_TREES, "max_tree_depth": args.forest_depth,
                          "sample_rows": FOREST_SAMPLE_ROWS, **forest},
        "orbital": orbital,
        "forest_sizes": forest_sizes,
    }
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _fmt(value: float | None, prefix: str = "") -> str:
    return "" if value is None or math.isnan(value) else f"{prefix}{value:.2f}"


if __name__ == "__main__":
    main()
