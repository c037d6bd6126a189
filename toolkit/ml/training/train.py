"""train_model: query → Arrow → checks → split → [TRANSFORM] → preprocessing → fit → evaluation → model.

The query runs once, inside DuckDB, and comes back as one Arrow table holding only what training needs (its
columns, plus the split key when the split is random). Its schema is checked first, from a zero-row run, so bad
columns fail before any data moves.

With TRANSFORM(…) (toolkit.ml.features.transform) the split is decided on the raw rows, TRANSFORM's statistics are fitted
on the training split only and its projection is applied to every row in DuckDB; the features are TRANSFORM's
outputs (less the label, DATA_SPLIT_COL and KMEANS_INIT_COL, which pass through unchanged) with STRUCT outputs
flattened, and the automatic preprocessing applies to them as to any query's columns. The fitted TRANSFORM is
stored with the model. MODEL_TYPE = 'TRANSFORM_ONLY' stops after fitting TRANSFORM (on every row): there is no
estimator."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from sqlglot import exp

from toolkit.errors import ModelError, did_you_mean
from toolkit.ml.compile import CompiledPrediction, compile_prediction
from toolkit.ml.compile.prediction import PARITY_ROWS
from toolkit.ml.features.distributions import training_statistics
from toolkit.ml.features.preprocess import DUMMY, LABEL, ONE_HOT, Preprocessor, check_finite, column_kind, to_float64
from toolkit.ml.features.sparse import prefers_sparse
from toolkit.ml.features.stats import data_stats, feature_info, input_feature_info
from toolkit.ml.features.transform import FittedTransform, model_features
from toolkit.ml.features.transform import fit as fit_transform
from toolkit.ml.inference import anomalies, attributions
from toolkit.ml.inference.heads import canonical, centroid_distances, head
from toolkit.ml.inference.predict import encode
from toolkit.ml.metrics import kmeans_metrics
from toolkit.ml.model import TrainedModel, jsonable_params
from toolkit.ml.training import labels, pvalues, stream, warm, width
from toolkit.ml.training.descent import blocks as descent_blocks
from toolkit.ml.training.fit import FitData, fit
from toolkit.ml.training.lloyd import Assignment
from toolkit.ml.training.split import EVAL, KEY_COLUMN, TEST, TRAIN, Split, key_sql, needs_key, split_rows
from toolkit.ml.tuning.costs import check_binary
from toolkit.ml.tuning.trials import Trial, run_trials
from toolkit.ml.types.estimators import FitContext, accepts_sparse, optimize_strategy
from toolkit.ml.types.options import FROM_DATA, ModelOptions
from toolkit.ml.types.registry import MODEL_TYPES, ModelType, validate_options
from toolkit.ml.types.tasks import Family, Task
from toolkit.sql.quoting import column_ref, identifier, render, table_ref, verbatim
from toolkit.warehouse.connection import return_freed_memory
from toolkit.warehouse.farmhash import fingerprint64

__all__ = ["TrainedModel", "Training", "seed_for", "train_model"]

_ENCODINGS = {"ONE_HOT_ENCODING": ONE_HOT, "DUMMY_ENCODING": DUMMY, "LABEL_ENCODING": LABEL}
_names = itertools.count(1)


def seed_for(name: str) -> int:
    """The model's random seed: FARM_FINGERPRINT of its lower-cased name, in [0, 2**31)."""
    return int(fingerprint64(pa.array([name.lower()]))[0].as_py()) & 0x7FFFFFFF


@dataclass(frozen=True)
class _Columns:
    """The query's columns by role."""

    label: str | None
    split: str | None
    init: str | None  # KMEANS_INIT_COL
    features: tuple[str, ...]  # with TRANSFORM: the raw columns, then (once fitted) TRANSFORM's feature outputs
    types: Mapping[str, str]  # DuckDB type of every column
    weight: str | None = None  # INSTANCE_WEIGHT_COL
    fixed_width: frozenset[str] = frozenset()  # columns of fixed-width types (numbers, BOOL, dates and times)


@dataclass(frozen=True)
class Training:
    """What one training produced: the model, and its prediction compiled to SQL (or why it predicts in Python)."""

    model: TrainedModel
    compiled: CompiledPrediction
    trials: tuple[Trial, ...] = ()  # hyperparameter tuning's trials (NUM_TRIALS), the optimal one is `model`


def train_model(con: duckdb.DuckDBPyConnection, *, name: str, options: Mapping[str, object],
                query: str, transform: Sequence[str] = (), written: str | None = None,
                previous: TrainedModel | None = None) -> Training:
    """Train model `name` on the rows of `query` (DuckDB SQL) with BigQuery ML `options`, then compile its
    prediction; `transform` is TRANSFORM's select list (DuckDB SQL, empty without TRANSFORM); `written`, the query as
    the model file wrote it when `query` is what runs instead (its ML.* calls replaced), is what is fingerprinted;
    `previous`, the latest stored version, is what WARM_START starts from."""
    opts = validate_options(name, options)
    model_type = MODEL_TYPES[opts.model_type]
    transform = tuple(transform or ())
    if model_type.task is Task.TRANSFORM and not transform:
        raise ModelError(f"model {name}: MODEL_TYPE 'TRANSFORM_ONLY' needs a TRANSFORM(…) clause",
                         hint=f"CREATE MODEL {name} TRANSFORM(<expression> AS <name>, …) "
                              "OPTIONS (model_type = 'TRANSFORM_ONLY') AS SELECT …")
    query = query.strip().rstrip(";").strip()
    columns = _columns(con, opts, model_type, query, raw=bool(transform))
    table = _fetch(con, opts, columns, query)
    if table.num_rows == 0:
        raise ModelError(f"model {name}: the training query returned no rows", hint="check its WHERE clauses and joins")

    label = classes = None
    if model_type.has_label:
        label = labels.label_values(opts, table.column(columns.label), columns.label)
        if model_type.task is Task.CLASSIFICATION:
            classes = labels.class_values(opts, label, columns.label)
    split = split_rows(table, opts)  # on the raw rows, TRANSFORM or not
    if split.count(TRAIN) == 0:
        raise ModelError(f"model {name}: DATA_SPLIT_METHOD '{split.method}' leaves no training rows "
                         f"({table.num_rows} rows, {split.count(EVAL)} eval, {split.count(TEST)} test)",
                         hint="lower DATA_SPLIT_EVAL_FRACTION, or mark rows FALSE in the CUSTOM split column")
    roles, fitted, input_info = split.roles, None, None
    sample = _parity_sample(table, roles, seed_for(name))
    if transform:
        raw = table.drop_columns([KEY_COLUMN]) if KEY_COLUMN in table.column_names else table
        del table
        raw_roles = roles
        fitted, transformed, roles = fit_transform(
            con, raw, roles, transform, model=name, label=columns.label,
            passthrough=[c for c in (columns.split, columns.init, columns.weight) if c is not None])
        input_info = _input_info(con, raw, raw_roles, fitted)
        statistics = _raw_statistics(con, raw, raw_roles, fitted.inputs)
        del raw, raw_roles
        table, columns = _transformed(con, opts, model_type, columns, fitted, transformed)
    check_finite(table, columns.features, model=name)  # every split's rows: eval and test rows are encoded too
    parts = {role: _rows(table, roles, role) for role in (TRAIN, EVAL, TEST)}
    table_rows = table.num_rows
    del table
    if not transform:
        statistics = _raw_statistics(con, parts[TRAIN], None, columns.features)

    written = (written or query).strip().rstrip(";").strip()  # as written: what runs may name temporary relations
    described = written if not transform else f"{written}\nTRANSFORM (\n" + ",\n".join(transform) + "\n)"
    query_fingerprint = hashlib.sha256(described.encode()).hexdigest()
    if model_type.task is Task.TRANSFORM:
        trained = replace(_transform_only(name, opts, fitted, parts[TRAIN], columns, split, query_fingerprint),
                          input_info=input_info, training_statistics=statistics)
        return Training(trained, compile_prediction(con, trained, sample))
    standardize = model_type.uses_standardization and opts.get("STANDARDIZE_FEATURES", True) \
        and opts.get("SCALE_FEATURES", True)
    encoding = _ENCODINGS[opts.get("CATEGORY_ENCODING_METHOD", "ONE_HOT_ENCODING")]
    dtype = "float32" if model_type.family is Family.RANDOM_FOREST else "float64"  # what each estimator fits on
    preprocessor = Preprocessor.fit(parts[TRAIN], columns.features, model=name, standardize=standardize,
                                    encoding=encoding, dtype=dtype)
    unfitted = TrainedModel(
        name=name, options=opts, preprocessor=preprocessor, estimator=None, label=columns.label,
        label_type=str(label.type) if label is not None else None, classes=classes,
        feature_schema=_feature_schema(parts[TRAIN], columns),
        iterations=(), feature_info=tuple(feature_info(parts[TRAIN], list(columns.features))),
        data_stats=data_stats(parts[TRAIN], list(columns.features)), metrics={}, metrics_split="training",
        test_metrics=None, seed=seed_for(name), query_fingerprint=query_fingerprint,
        data_fingerprint="", split=_split_record(split), estimator_params={}, transform=fitted,
        input_info=input_info, training_statistics=statistics,
    )
    sizes = FitContext(seed=unfitted.seed, n_rows=parts[TRAIN].num_rows, n_features=preprocessor.width,
                       n_inputs=len(columns.features), n_classes=len(classes or ()))
    descent = model_type.has_weights and optimize_strategy(opts, sizes) == "BATCH_GRADIENT_DESCENT"
    sparse = sparse_design(model_type.family, descent, preprocessor, table_rows)
    chunk = _chunk_rows(opts, preprocessor, parts[TRAIN].num_rows, sparse) if descent else None
    width.warn_id_like(name, preprocessor, parts[TRAIN].num_rows)
    if chunk is None:  # a streamed design holds one chunk at a time
        width.check_dense_width(name, opts.model_type, model_type.family, preprocessor, table_rows, sparse)
    # The parts hold the feature columns themselves (TRANSFORM already applied): encode, not design_matrix.
    X = {role: encode(unfitted, part, sparse=sparse) if chunk is None else stream.StreamedRows(
        part, lambda rows: encode(unfitted, rows, sparse=sparse), chunk, preprocessor.width)
        for role, part in parts.items() if part.num_rows}
    y = {role: _targets(unfitted, part) for role, part in parts.items() if part.num_rows}
    if classes:
        labels.check_training_classes(opts, y[TRAIN], classes, split.method)
    weights = labels.sample_weights(opts, y[TRAIN], classes) if classes else None
    if columns.weight is not None:
        rows = _instance_weights(name, parts[TRAIN], columns.weight)
        weights = rows if weights is None else weights * rows

    def fit_evaluate(options: ModelOptions) -> TrainedModel:
        init = _initial_centroids(options, parts[TRAIN], X[TRAIN], columns.init)
        if options.get("WARM_START") and model_type.family is Family.KMEANS:
            init = warm.centroids_from(previous, unfitted)
        return _fit_evaluate(replace(unfitted, options=options), model_type, replace(sizes, init_centroids=init),
                             X, y, weights, descent, previous)

    # The gradient descent only reads its matrix and runs its products on one core, so the data fingerprint hashes
    # the rows on another meanwhile (hashlib lets go of the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        fingerprint = pool.submit(_data_fingerprint, X, y) if descent and chunk is None else None
        if not opts.search_space:
            trained, trials = fit_evaluate(opts), ()
        else:
            check_binary(opts, classes)
            trials = tuple(run_trials(opts, unfitted.seed, fit_evaluate))
            trained = _optimal(name, trials)
        trained = replace(trained, data_fingerprint=fingerprint.result() if fingerprint is not None
                          else _data_fingerprint(X, y))
    return Training(trained, compile_prediction(con, trained, sample), trials)


def _fit_evaluate(unfitted: TrainedModel, model_type: ModelType, context: FitContext, X: Mapping[int, Any],
                  y: Mapping[int, np.ndarray | None], weights: np.ndarray | None, descent: bool,
                  previous: TrainedModel | None) -> TrainedModel:
    """The estimator of `unfitted.options` fitted on the training split, evaluated on the eval split (the training
    rows without one) and on the test split."""
    opts = unfitted.options
    estimator = model_type.factory(opts, context)
    if opts.get("WARM_START") and model_type.family is Family.DNN:
        estimator = warm.network_from(previous, unfitted, estimator)
    start = warm.start_from(previous, unfitted) if opts.get("WARM_START") and model_type.has_weights else None
    data = FitData(X[TRAIN], y[TRAIN], weights, X.get(EVAL), y.get(EVAL), model_type.task, context.n_classes,
                   descent=descent, start=start)
    fitted = fit(model_type.family, opts, estimator, data)
    iterations, assignment = tuple(fitted.iterations), fitted.assignment
    if opts.get("CALCULATE_P_VALUES"):
        pvalues.attach(opts.model, estimator, X[TRAIN], y[TRAIN], weights, context.n_classes)
    trained = replace(unfitted, estimator=estimator, iterations=iterations,
                      estimator_params=jsonable_params(estimator))

    if opts.model_type in anomalies.KINDS:
        trained = replace(trained, anomaly=_anomaly_record(trained, X[TRAIN], assignment))
    if opts.get("ENABLE_GLOBAL_EXPLAIN") and model_type.explainable:
        model_level, per_class = _global_explain(trained, X[EVAL] if EVAL in X else X[TRAIN])
        trained = replace(trained, global_explain=model_level, class_global_explain=per_class)
    scored = EVAL if EVAL in X else TRAIN
    task = head(trained)
    if task.keeps_scores:
        scores = canonical({**stream.over_chunks(X[scored], lambda rows: task.score(trained, rows)), "y": y[scored]})
        metrics, kept = task.metrics(trained, scores, None), scores
    elif assignment is not None and scored == TRAIN:  # the rows as the last Lloyd iteration assigned them
        metrics, kept = kmeans_metrics(X[TRAIN], assignment.labels, assignment.loss, assignment.own), None
    else:
        metrics, kept = _evaluate(task, trained, X[scored], y[scored]), None
    return replace(trained, metrics=metrics, metrics_split="eval" if scored == EVAL else "training",
                   test_metrics=_evaluate(task, trained, X[TEST], y[TEST]) if TEST in X else None, eval_scores=kept)


def _optimal(name: str, trials: Sequence[Trial]) -> TrainedModel:
    """The optimal trial's model, or an error listing why every trial failed."""
    for trial in trials:
        if trial.is_optimal:
            return trial.model
    errors = "; ".join(f"trial {t.trial_id}: {t.error_message}" for t in trials[:3])
    raise ModelError(f"model {name}: every one of its {len(trials)} hyperparameter tuning trials failed ({errors})",
                     hint="narrow the HPARAM_RANGE / HPARAM_CANDIDATES search space to values that train")


def sparse_design(family: Family, descent: bool, preprocessor: Preprocessor, rows: int) -> bool:
    """Whether training encodes its rows as a CSR matrix (toolkit.ml.features.sparse): for an estimator that fits the
    same model from one (LINEAR_REG only by gradient descent), when the dense matrix would be large and mostly
    zeros."""
    if not accepts_sparse(family) or (family is Family.LINEAR_REG and not descent):
        return False
    return prefers_sparse(preprocessor, rows)


def _chunk_rows(opts: ModelOptions, preprocessor: Preprocessor, rows: int, sparse: bool) -> int | None:
    """Rows per chunk of a streamed gradient descent (toolkit.ml.training.stream), None to descend in memory;
    CALCULATE_P_VALUES needs the whole matrix, so it is not streamed automatically and refuses a chunk size."""
    chunk = stream.chunk_rows(opts, preprocessor, rows, sparse)
    if chunk is None or not opts.get("CALCULATE_P_VALUES"):
        return chunk
    if opts.get(stream.OPTION) is None:
        return None
    raise ModelError(f"model {opts.model}: CALCULATE_P_VALUES needs the whole design matrix in memory, and "
                     f"{stream.OPTION} = {chunk} streams it", hint=f"remove {stream.OPTION}, or set it to 0")


def _evaluate(task, trained: TrainedModel, X, y: np.ndarray | None):
    """The head's metrics of encoded rows (a streamed design: its chunks' outputs, concatenated)."""
    if not isinstance(X, stream.StreamedRows):
        return task.evaluate(trained, X, y)
    return task.metrics(trained, {**stream.over_chunks(X, lambda rows: task.score(trained, rows)), "y": y}, None)


def _anomaly_record(trained: TrainedModel, X: np.ndarray, assignment: Assignment | None) -> dict[str, np.ndarray]:
    """The training rows' anomaly-score distribution (and KMEANS's cluster radii) ML.DETECT_ANOMALIES reads;
    `assignment`: KMEANS's rows under its final centroids, as its last iteration measured them."""
    if assignment is not None:
        radii = assignment.radii
        scores = anomalies.normalized_distances(assignment.distances, assignment.labels, radii)
    else:
        distances = centroid_distances(trained, X) if trained.options.model_type == "KMEANS" else None
        radii = None if distances is None else anomalies.cluster_summary(distances)[0]
        scores = anomalies.scores(trained, X, radii, distances)[0]
    quantiles, values = anomalies.upper_quantiles(scores)
    record = {"quantiles": quantiles, "values": values}
    return record if radii is None else {**record, "radii": radii}


def _global_explain(trained: TrainedModel, X: np.ndarray) -> tuple[dict[str, float],
                                                                   tuple[dict[str, float], ...] | None]:
    """ML.GLOBAL_EXPLAIN's attributions: their mean absolute value over the eval rows, each row explaining its
    predicted class, and for classifiers each class's (class_level_explain: every row explaining that class's
    score), in the order of the model's classes (toolkit.ml.inference.attributions)."""
    try:
        means = stream.mean_over_chunks(X, lambda rows: attributions.mean_abs_attributions(trained, rows))
    except ValueError as error:  # trees the explanations cannot read
        raise ModelError(f"model {trained.name}: ENABLE_GLOBAL_EXPLAIN cannot explain its trees: {error}",
                         hint="train without enable_global_explain") from None
    model_level = {name: value for (k, name), value in means.items() if k is None}
    if trained.classes is None:
        return model_level, None
    return model_level, tuple({name: value for (k, name), value in means.items() if k == c}
                              for c in range(len(trained.classes)))


def _input_info(con: duckdb.DuckDBPyConnection, raw: pa.Table, roles: np.ndarray,
                fitted: FittedTransform) -> tuple[dict, ...]:
    """ML.FEATURE_INFO of the raw columns TRANSFORM's features read, over the training rows (named as the query
    names them), as BigQuery reports a TRANSFORM model's pre-transform inputs."""
    by_lower = {n.lower(): n for n in raw.column_names}
    inputs = [by_lower[c.lower()] for c in fitted.inputs if c.lower() in by_lower]
    return tuple(input_feature_info(con, _rows(raw, roles, TRAIN), inputs))


def _raw_statistics(con: duckdb.DuckDBPyConnection, rows: pa.Table, roles: np.ndarray | None,
                    inputs: Sequence[str]) -> tuple[dict, ...]:
    """The training rows' distribution of each raw input column (named as the query names them), which
    ML.VALIDATE_DATA_SKEW compares serving rows with: TRANSFORM's inputs before it applies, as BigQuery keeps them."""
    train = _rows(rows, roles, TRAIN) if roles is not None else rows
    by_lower = {n.lower(): n for n in train.column_names}
    return tuple(training_statistics(con, train, [by_lower[c.lower()] for c in inputs if c.lower() in by_lower]))


def _parity_sample(table: pa.Table, roles: np.ndarray, seed: int) -> pa.Table:
    """Raw rows to check the compiled SQL on: a sample of the eval split, else of the training rows."""
    role = EVAL if (roles == EVAL).any() else TRAIN
    rows = np.flatnonzero(roles == role)
    if len(rows) > PARITY_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(rows, PARITY_ROWS, replace=False))
    sample = table.take(pa.array(rows))
    return sample.drop_columns([KEY_COLUMN]) if KEY_COLUMN in sample.column_names else sample


def _split_record(split: Split) -> dict:
    return {"method": split.method, "eval_fraction": split.eval_fraction, "test_fraction": split.test_fraction,
            "training_rows": split.count(TRAIN), "eval_rows": split.count(EVAL), "test_rows": split.count(TEST)}


def _feature_schema(train: pa.Table, columns: _Columns) -> tuple[dict, ...]:
    return tuple({"name": c, "type": columns.types[c], "kind": column_kind(train.schema.field(c).type)}
                 for c in columns.features)


def _transformed(con: duckdb.DuckDBPyConnection, opts: ModelOptions, model_type: ModelType, columns: _Columns,
                 fitted: FittedTransform, transformed: pa.Table) -> tuple[pa.Table, _Columns]:
    """The table training reads after TRANSFORM: its feature outputs (STRUCTs flattened, as at prediction), then
    the label and the KMEANS init column; the columns by role, with the features' DuckDB types."""
    keep = [c for c in (columns.label, columns.init, columns.weight) if c is not None]
    by_lower = {n.lower(): n for n in transformed.column_names}
    features = model_features(transformed.select(fitted.features), opts.model, reserved=[*fitted.passthrough, *keep])
    types = _duck_types(con, features)
    if model_type.task is not Task.TRANSFORM:  # TRANSFORM_ONLY outputs may have any type: no estimator reads them
        if not features.num_columns:
            raise ModelError(f"model {opts.model}: TRANSFORM(…) outputs no feature column (only "
                             f"{', '.join(fitted.names)})", hint="list the features to learn from in TRANSFORM(…)")
        _check_features(opts, features.column_names, features.schema, types, "TRANSFORM output")
    table = pa.table([*features.columns, *(transformed.column(by_lower[c.lower()]) for c in keep)],
                     names=[*features.column_names, *keep])
    return table, _Columns(columns.label, None, columns.init, tuple(features.column_names), types, columns.weight)


def _duck_types(con: duckdb.DuckDBPyConnection, table: pa.Table) -> dict[str, str]:
    """The DuckDB type of every column of an Arrow table."""
    if not table.num_columns:
        return {}
    name = f"__toolkit_features_{next(_names)}"
    con.register(name, table.slice(0, 0))
    try:
        relation = con.sql(render(exp.select("*").from_(table_ref(name))))
        return dict(zip(relation.columns, (str(t) for t in relation.types)))
    finally:
        con.unregister(name)


def _transform_only(name: str, opts: ModelOptions, fitted: FittedTransform, train: pa.Table, columns: _Columns,
                    split: Split, query_fingerprint: str) -> TrainedModel:
    """A TRANSFORM_ONLY model: TRANSFORM fitted on every row; no estimator, preprocessing or metrics."""
    described = [c for c in columns.features if column_kind(train.schema.field(c).type) is not None]
    data_fingerprint = hashlib.sha256(repr((fitted.columns, train.num_rows)).encode()).hexdigest()
    return TrainedModel(
        name=name, options=opts, preprocessor=Preprocessor(()), estimator=None, label=None, label_type=None,
        classes=None, feature_schema=_feature_schema(train, columns), iterations=(),
        feature_info=tuple(feature_info(train, list(columns.features))), data_stats=data_stats(train, described),
        metrics={}, metrics_split="training", test_metrics=None, seed=seed_for(name),
        query_fingerprint=query_fingerprint, data_fingerprint=data_fingerprint, split=_split_record(split),
        estimator_params={}, transform=fitted,
    )


def _columns(con: duckdb.DuckDBPyConnection, opts: ModelOptions, model_type: ModelType, query: str, *,
             raw: bool = False) -> _Columns:
    """The query's columns by role, with every schema problem reported before data is fetched. `raw`: TRANSFORM
    reads the columns, so feature types are checked on its outputs instead."""
    model = f"model {opts.model}"
    try:
        relation = con.sql(query)
        schema = relation.limit(0).to_arrow_table().schema
        duck_types = dict(zip(relation.columns, (str(t) for t in relation.types)))
    except duckdb.Error as error:
        raise ModelError(f"{model}: the training query failed: {error}", hint="fix the query after AS") from None
    names = schema.names
    # The query's own names: binding a LIMIT renames a repeated column (x, x becomes x, x_1), fetching does not.
    duplicates = sorted({n for n in relation.columns if [m.lower() for m in relation.columns].count(n.lower()) > 1})
    if duplicates:
        raise ModelError(f"{model}: the query returns column '{duplicates[0]}' more than once",
                         hint="give each column its own name (AS)")

    def find(option: str, column: str) -> str:
        for n in names:
            if n.lower() == column.lower():
                return n
        raise ModelError(f"{model}: {option} column '{column}' is not in the query's output"
                         f"{did_you_mean(column, names)}; its columns are {', '.join(names)}",
                         hint=f"select a column named '{column}'" + (", or set INPUT_LABEL_COLS = ['your_label']"
                                                                     if option == "label" else ""))

    label = find("label", opts["INPUT_LABEL_COLS"][0]) if model_type.has_label else None
    split = find("DATA_SPLIT_COL", opts["DATA_SPLIT_COL"]) if opts.get("DATA_SPLIT_COL") else None
    init = find("KMEANS_INIT_COL", opts["KMEANS_INIT_COL"]) if opts.get("KMEANS_INIT_COL") else None
    weight = find("INSTANCE_WEIGHT_COL", opts["INSTANCE_WEIGHT_COL"]) if opts.get("INSTANCE_WEIGHT_COL") else None
    if weight is not None and column_kind(schema.field(weight).type) != "numeric":
        raise ModelError(f"{model}: INSTANCE_WEIGHT_COL '{weight}' is {duck_types[weight]}, not a number",
                         hint="select a numeric column of row weights (0 or more)")
    if label is not None:
        labels.check_label_type(opts, label, schema.field(label).type, duck_types[label],
                                model_type.task is Task.CLASSIFICATION)
    if init is not None and not pa.types.is_boolean(schema.field(init).type):
        raise ModelError(f"{model}: KMEANS_INIT_COL '{init}' is {duck_types[init]}, not BOOL",
                         hint="select a BOOL column: TRUE for the rows that are initial centroids")
    features = tuple(n for n in names if n not in (label, split, init, weight))
    fixed_width = frozenset(f.name for f in schema if _is_fixed_width(f.type))
    if raw:
        return _Columns(label, split, init, features, duck_types, weight, fixed_width)
    if not features:
        raise ModelError(f"{model}: the query has no feature columns (only {', '.join(names)})",
                         hint="select the columns to learn from next to the label")
    _check_features(opts, features, schema, duck_types, "column")
    return _Columns(label, split, init, features, duck_types, weight, fixed_width)


def _is_fixed_width(arrow_type: pa.DataType) -> bool:
    try:
        return arrow_type.bit_width > 0
    except ValueError:  # strings, blobs, lists, structs: "Non-fixed width type"
        return False


def _check_features(opts: ModelOptions, features: Sequence[str], schema: pa.Schema, duck_types: Mapping[str, str],
                    noun: str) -> None:
    """Every feature must have a type the automatic preprocessing encodes."""
    model = f"model {opts.model}"
    where = "the query" if noun == "column" else "TRANSFORM(…)"
    for column in features:
        arrow_type = schema.field(column).type
        if pa.types.is_null(arrow_type):
            raise ModelError(f"{model}: {noun} '{column}' is NULL in every row (type NULL)",
                             hint=f"leave '{column}' out of {where}, or CAST it to a type with values")
        if column_kind(arrow_type) is None:
            raise ModelError(
                f"{model}: {noun} '{column}' has type {duck_types[column]}, which {opts.model_type} cannot use "
                "as a feature (numbers, BOOL, VARCHAR, BLOB, DATE, TIME, TIMESTAMP, VARCHAR[] and sparse "
                "STRUCT(index INTEGER, value DOUBLE)[] can be used)",
                hint=f"select what you need from '{column}' as plain columns (e.g. a struct's fields, "
                     f"list_avg(...) of a list), CAST it, or leave it out of {where}")


# The splits whose roles follow the split column's order (toolkit.ml.training.split), and where its NULLs go so that
# they join the training run: CUSTOM trains on FALSE (NULL evaluates, after TRUE), SEQ on NULL and the first values.
_SPLIT_COLUMN_NULLS_FIRST = {"CUSTOM": False, "SEQ": True}


def _fetch(con: duckdb.DuckDBPyConnection, opts: ModelOptions, columns: _Columns, query: str) -> pa.Table:
    wanted = [c for c in (*columns.features, columns.label, columns.split, columns.init, columns.weight)
              if c is not None]
    select: list[exp.Expression] = [column_ref(c) for c in wanted]
    if needs_key(opts):
        select.append(exp.alias_(key_sql(wanted), identifier(KEY_COLUMN)))
    training = exp.Subquery(this=verbatim(f"{query}\n"), alias=exp.TableAlias(this=exp.to_identifier("__toolkit_training")))
    # One canonical row order, whichever order DuckDB's threads produce the query's rows in: the split's ties,
    # the statistics, the fit and the data fingerprint are then the same for the same rows (equal rows are
    # interchangeable), build after build. Sorted on the fixed-width columns first, the strings and nested values
    # last: still every column, so still one order, but DuckDB's sort then seldom compares strings (on 33.6M
    # flights, 5.8 s instead of 10.6 s with the query's column order).
    # With a CUSTOM or SEQ split the split column leads, so that each role's rows are one run (see _rows).
    keys = sorted(wanted, key=lambda c: c not in columns.fixed_width)  # stable: the query's order within each
    nulls_first = _SPLIT_COLUMN_NULLS_FIRST.get(opts.get("DATA_SPLIT_METHOD"))
    if nulls_first is not None and columns.split is not None:
        keys = [columns.split, *(c for c in keys if c != columns.split)]
    canonical = [exp.Ordered(this=column_ref(c), nulls_first=nulls_first if c == columns.split else True)
                 for c in keys]
    sql = render(exp.select(*select).from_(training).order_by(*canonical))
    return_freed_memory(con)  # the sort's memory is not held while the rows are encoded and fitted
    try:
        return con.sql(sql).to_arrow_table()
    except duckdb.Error as error:
        raise ModelError(f"model {opts.model}: the training query failed: {error}",
                         hint="fix the query after AS") from None


def _instance_weights(name: str, train: pa.Table, column: str) -> np.ndarray:
    """INSTANCE_WEIGHT_COL's values on the training rows: numbers of 0 or more, at least one positive."""
    values = train.column(column)
    weights = np.asarray(values.cast(pa.float64()).fill_null(np.nan).to_numpy(), np.float64)
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any() or not (weights > 0).any():
        what = "NULL, negative or infinite in some rows" if bad.any() else "0 in every row"
        raise ModelError(f"model {name}: INSTANCE_WEIGHT_COL '{column}' is {what}",
                         hint=f"give every training row a finite weight of 0 or more (e.g. COALESCE({column}, 1))")
    return weights


def _rows(table: pa.Table, roles: np.ndarray, role: int) -> pa.Table:
    """The rows of one role: a zero-copy slice when they are one run (a CUSTOM or SEQ split, by the fetch's order)."""
    rows = np.flatnonzero(roles == role)
    if len(rows) == 0:
        return table.slice(0, 0)
    if rows[-1] - rows[0] + 1 == len(rows):
        return table.slice(int(rows[0]), len(rows))
    return table.take(pa.array(rows))


def _targets(trained: TrainedModel, table: pa.Table) -> np.ndarray | None:
    if trained.label is None:
        return None
    values = labels.label_values(trained.options, table.column(trained.label), trained.label)
    if trained.classes is None:
        return to_float64(values)
    return labels.class_indices(values, trained.classes)


def _initial_centroids(opts: ModelOptions, train: pa.Table, X: np.ndarray, column: str | None) -> np.ndarray | None:
    if column is None:
        return None
    chosen = np.asarray(train.column(column).fill_null(False).to_numpy(), dtype=bool)
    k = opts["NUM_CLUSTERS"]
    if chosen.sum() < 2 or (k != FROM_DATA and chosen.sum() != k):
        raise ModelError(f"model {opts.model}: KMEANS_INIT_COL '{column}' is TRUE in {int(chosen.sum())} rows; it "
                         f"must be TRUE in exactly NUM_CLUSTERS ({k if k != FROM_DATA else 'at least 2'}) rows",
                         hint="mark one row per initial centroid TRUE, the others FALSE")
    return X[chosen].toarray() if sp.issparse(X) else X[chosen]


def _data_fingerprint(X: Mapping[int, np.ndarray | sp.csr_matrix], y: Mapping[int, np.ndarray | None]) -> str:
    """sha256 of the data as the model saw it: the encoded rows and labels of each split, in order."""
    digest = hashlib.sha256()
    for role in sorted(X):
        digest.update(f"role {role} {X[role].shape}".encode())
        for _, _, rows in descent_blocks(X[role]):  # a streamed design: chunk by chunk
            if sp.issparse(rows):  # CSR: its row pointers, columns and values
                for part in (rows.indptr, rows.indices, rows.data):
                    digest.update(memoryview(np.ascontiguousarray(part)).cast("B"))
            else:
                digest.update(memoryview(np.ascontiguousarray(rows)).cast("B"))
        if y[role] is not None:
            digest.update(memoryview(np.ascontiguousarray(y[role])).cast("B"))
    return digest.hexdigest()
