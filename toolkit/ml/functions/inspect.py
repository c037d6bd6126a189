"""ML.TRAINING_INFO, ML.FEATURE_INFO, ML.WEIGHTS, ML.CENTROIDS and ML.FEATURE_IMPORTANCE: what a trained model
holds, without input rows. Also the tree structures (`trees`) ML.EXPLAIN_PREDICT and ML.GLOBAL_EXPLAIN walk.

- ML.TRAINING_INFO: training_run (0), iteration (from 0), loss, eval_loss, learning_rate, duration_ms, as
  recorded at training; KMEANS (one row per Lloyd iteration, no eval_loss) adds cluster_info,
  list<struct<centroid_id, cluster_radius, cluster_size>>: after that iteration, the number of training rows nearest
  each centroid and their mean distance to it.
- ML.FEATURE_INFO: input, min, max, mean, median, stddev, category_count, null_count, dimension per input column
  (TIMESTAMP columns in epoch seconds); with TRANSFORM per raw column its features read (BigQuery's pre-transform
  columns), over the training rows.
- ML.WEIGHTS (LINEAR_REG, LOGISTIC_REG): processed_input, weight (numeric inputs), category_weights
  (list<struct<category, weight>> for one-hot/multi-hot inputs and TIMESTAMP parts; empty for numeric inputs), and
  class_label for multiclass logistic regression (one set of rows per class); the intercept is the row
  `__INTERCEPT__`. The model is fitted on standardized numerics; with standardize = FALSE (the default) the
  weights are converted back to the raw inputs' units, weight / stddev, and the intercept absorbs the centring
  (intercept - sum of weight * mean / stddev), so weight * raw value + intercept gives the prediction (the logit
  for logistic regression). standardize = TRUE gives the fitted, standardized weights. With DUMMY_ENCODING the
  dropped (first) category has no weight.
- ML.CENTROIDS (KMEANS): centroid_id, feature, numerical_value (numeric inputs and a TIMESTAMP's epoch seconds),
  categorical_value (list<struct<category, value>>, the share of the cluster in each category; empty for numeric
  inputs; a share is k / cluster size exactly), geography_value (NULL: no GEOGRAPHY inputs). Numerical values are
  in the raw units (the standardization undone) unless standardize = TRUE. With DISTANCE_TYPE = 'COSINE'
  centroids are directions in the space of unit-length encoded rows; their unscaled values are indicative only.
- ML.FEATURE_IMPORTANCE (boosted trees, random forests), per input column of the training query, over every tree
  (every class's trees): importance_weight = the number of splits on the column, importance_gain = the average
  gain of those splits, importance_cover = the average number of training rows reaching them (BigQuery's / XGBoost's
  weight, gain and cover); 0 for a column no split uses. Gain is the split gain of scikit-learn's histogram
  gradient boosting (boosted trees) or the weighted impurity decrease (random forests); cover is the node's
  sample count (random forests: weighted by the bootstrap). With TRANSFORM the rows are the raw columns its features
  read: a split on an output reading k raw columns counts 1/k towards each (its gain and cover likewise)."""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from toolkit.ml.functions.support import (
    class_array,
    function_error,
    struct_lists,
    type_names,
)
from toolkit.ml.inference.attributions import input_sources, linear_parameters
from toolkit.ml.inference.trees import trees
from toolkit.ml.types.tasks import Task

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

INTERCEPT = "__INTERCEPT__"
_CATEGORY_WEIGHT = [("category", pa.string()), ("weight", pa.float64())]
_CATEGORY_VALUE = [("category", pa.string()), ("value", pa.float64())]
_CLUSTER_INFO = [("centroid_id", pa.int64()), ("cluster_radius", pa.float64()), ("cluster_size", pa.int64())]


# --- ML.TRAINING_INFO / ML.FEATURE_INFO -----------------------------------------------------------------------------
def training_info_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    rows = trained.iterations
    columns: dict[str, pa.Array] = {
        "training_run": pa.array([0] * len(rows), pa.int64()),
        "iteration": pa.array([r.iteration for r in rows], pa.int64()),
        "loss": pa.array([r.loss for r in rows], pa.float64()),
        "eval_loss": pa.array([r.eval_loss for r in rows], pa.float64()),
        "learning_rate": pa.array([r.learning_rate for r in rows], pa.float64()),
        "duration_ms": pa.array([r.duration_ms for r in rows], pa.int64()),
    }
    if trained.model_type.task is Task.CLUSTERING:
        del columns["eval_loss"]  # BigQuery's KMEANS rows have none
        columns["cluster_info"] = struct_lists([_cluster_info(trained, row) for row in rows], _CLUSTER_INFO)
    return pa.table(columns)


def _cluster_info(trained: TrainedModel, row: Any) -> list[tuple]:
    """An iteration's clusters; for a version stored before they were kept per iteration, the final ones."""
    if row.cluster_info is not None:
        return [tuple(c) for c in row.cluster_info]
    k = len(trained.estimator.cluster_centers_)
    assigned = getattr(trained.estimator, "labels_", None)
    sizes = np.bincount(assigned, minlength=k) if assigned is not None else [None] * k
    radii = (trained.anomaly or {}).get("radii")  # None for a version stored before radii were kept
    return [(i + 1, None if radii is None else float(radii[i]), None if sizes[i] is None else int(sizes[i]))
            for i in range(k)]


_FEATURE_INFO = pa.schema([("input", pa.string()), ("min", pa.float64()), ("max", pa.float64()),
                           ("mean", pa.float64()), ("median", pa.float64()), ("stddev", pa.float64()),
                           ("category_count", pa.int64()), ("null_count", pa.int64()), ("dimension", pa.int64())])


def feature_info_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    rows = trained.feature_info
    if trained.transform is not None:  # BigQuery describes the pre-transform columns TRANSFORM reads
        if trained.input_info is None:
            raise function_error("FEATURE_INFO", trained, f"version {trained.version} was stored before the "
                                 "statistics of TRANSFORM's input columns were kept",
                                 hint=f"retrain it (toolkit build --select {trained.name}); ML.TRANSFORM returns "
                                      "TRANSFORM's outputs meanwhile")
        rows = trained.input_info
    return pa.Table.from_pylist([{f.name: row.get(f.name) for f in _FEATURE_INFO} for row in rows],
                                schema=_FEATURE_INFO)


# --- ML.WEIGHTS -----------------------------------------------------------------------------------------------------
def weights_applies(trained: TrainedModel) -> str | None:
    if not trained.model_type.has_weights:
        hint = ("use ML.FEATURE_IMPORTANCE for tree models" if trained.model_type.is_tree
                else "use ML.CENTROIDS for KMEANS" if trained.options.model_type == "KMEANS" else
                "this model type has no weights the toolkit reports")
        return f"ML.WEIGHTS applies to LINEAR_REG and LOGISTIC_REG models only; {hint}"
    return None


def raw_unit_parameters(trained: TrainedModel, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Weights and intercepts per class; with standardize False in the raw inputs' units."""
    coef, intercept = linear_parameters(trained)
    if standardize:
        return coef, intercept
    coef, intercept = coef.copy(), intercept.copy()
    offset = 0
    for feature in trained.preprocessor.features:
        if feature.kind == "numeric":
            intercept -= coef[:, offset] * feature.center / feature.scale
            coef[:, offset] /= feature.scale
        offset += feature.width
    return coef, intercept


def weights_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    coef, intercept = raw_unit_parameters(trained, bool(settings.get("standardize")))
    multiclass = coef.shape[0] > 1
    names, weights, categories, class_rows = [], [], [], []
    for k in range(coef.shape[0]):
        offset = 0
        for feature in trained.preprocessor.features:
            names.append(feature.name)
            if feature.kind == "numeric":
                weights.append(float(coef[k, offset]))
                categories.append([])
            else:
                weights.append(None)
                pairs = feature.output_columns()
                categories.append([(category, float(coef[k, offset + i])) for i, (_, category) in enumerate(pairs)])
            offset += feature.width
            class_rows.append(k)
        names.append(INTERCEPT)
        weights.append(float(intercept[k]))
        categories.append([])
        class_rows.append(k)
    columns = {"processed_input": pa.array(names, pa.string()), "weight": pa.array(weights, pa.float64()),
               "category_weights": struct_lists(categories, _CATEGORY_WEIGHT)}
    if multiclass:
        columns["class_label"] = class_array(trained, class_rows)
    return pa.table(columns)


# --- ML.CENTROIDS ---------------------------------------------------------------------------------------------------
def centroids_applies(trained: TrainedModel) -> str | None:
    if trained.options.model_type != "KMEANS":
        return "ML.CENTROIDS applies to KMEANS models only; use ML.WEIGHTS for linear models"
    return None


def centroids_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    standardize = bool(settings.get("standardize"))
    centers = np.asarray(trained.estimator.cluster_centers_, dtype=np.float64)
    rows = int(trained.split.get("training_rows", 0))
    ids, names, numbers, categories = [], [], [], []
    for i, center in enumerate(centers):
        offset = 0
        for feature in trained.preprocessor.features:
            ids.append(i + 1)
            names.append(feature.name)
            if feature.kind == "numeric":
                value = center[offset]
                numbers.append(float(value if standardize else value * feature.scale + feature.center))
                categories.append([])
            else:
                numbers.append(None)
                pairs = feature.output_columns()
                categories.append([(category, share(center[offset + j], rows))
                                   for j, (_, category) in enumerate(pairs)])
            offset += feature.width
    return pa.table({"centroid_id": pa.array(ids, pa.int64()), "feature": pa.array(names, pa.string()),
                     "numerical_value": pa.array(numbers, pa.float64()),
                     "categorical_value": struct_lists(categories, _CATEGORY_VALUE),
                     "geography_value": pa.nulls(len(ids), pa.string())})  # the toolkit has no GEOGRAPHY inputs


def share(value: float, rows: int) -> float:
    """A category's share of a cluster, the mean of its 0/1 column: k / size exactly (size <= the training rows) when
    the float average is within rounding of it (scikit-learn's running sums give 0.9999999999999994 or -3.3e-16)."""
    if rows > 0:
        exact = Fraction(float(value)).limit_denominator(rows)
        if abs(float(value) - exact) < 1e-9:
            return float(exact)
    return float(value)


# --- ML.FEATURE_IMPORTANCE ------------------------------------------------------------------------------------------
def feature_importance_applies(trained: TrainedModel) -> str | None:
    if not trained.model_type.is_tree:
        other = " (use ML.WEIGHTS for LINEAR_REG and LOGISTIC_REG)" if trained.model_type.has_weights \
            else ""
        return (f"ML.FEATURE_IMPORTANCE applies to tree models ({type_names(lambda t: t.is_tree)})"
                f"{other}")
    return None


def split_statistics(trained: TrainedModel) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Per input column: the number of splits on it, their total gain and their total cover."""
    inputs, sources = input_sources(trained)
    splits, gain, cover = (np.zeros(len(inputs)) for _ in range(3))
    for tree in trees(trained):
        inner = tree.internal()
        source = sources[tree.feature[inner]]
        np.add.at(splits, source, 1)
        np.add.at(gain, source, tree.gain[inner])
        np.add.at(cover, source, tree.cover[inner])
    return inputs, splits, gain, cover


def feature_importance_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    try:
        inputs, splits, gain, cover = split_statistics(trained)
    except ValueError as error:
        raise function_error("FEATURE_IMPORTANCE", trained, f"its trees cannot be read: {error}",
                             hint="retrain the model") from None
    if trained.transform is not None:
        inputs, splits, gain, cover = _by_raw_input(trained, inputs, splits, gain, cover)
    used = np.where(splits > 0, splits, 1)
    return pa.table({"feature": pa.array(inputs, pa.string()), "importance_weight": pa.array(splits, pa.float64()),
                     "importance_gain": pa.array(gain / used, pa.float64()),
                     "importance_cover": pa.array(cover / used, pa.float64())})


def _by_raw_input(trained: TrainedModel, columns: list[str], *totals: np.ndarray) -> tuple[Any, ...]:
    """Split counts, gains and covers of TRANSFORM's outputs moved onto the raw input columns each output reads
    (BigQuery reports the pre-transform columns): an output reading k inputs gives each 1/k of its splits, gain and
    cover, so the averages are those of its splits and the counts add up to the number of splits."""
    fitted = trained.transform
    inputs = list(fitted.inputs)
    share = np.zeros((len(columns), len(inputs)))
    for i, column in enumerate(columns):
        read = [inputs.index(c) for c in fitted.inputs_read(column)]
        share[i, read] = 1.0 / len(read) if read else 0.0
    return (inputs, *(total @ share for total in totals))
