"""Applying a trained model: the design matrix of new rows, BigQuery's prediction columns.

`predict` returns only the prediction columns (the caller puts the input columns beside them, as ML.PREDICT does):
- regressors: predicted_<label> (DOUBLE);
- classifiers: predicted_<label> (the label's type) and predicted_<label>_probs, a list<struct<label, prob>> with
  one entry per class in ascending class order; binary: the positive (higher) class when its probability exceeds
  the threshold (default 0.5), multiclass: the most probable class;
- KMEANS: centroid_id (from 1) and nearest_centroids_distance, list<struct<centroid_id, distance>> of the
  min(k, 5) nearest centroids, nearest first (COSINE: 1 - cosine similarity);
- PCA: principal_component_1 … principal_component_k.
Input is processed as in training: NULL numerics take the training mean, unseen categories encode as nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from toolkit.errors import ModelError
from toolkit.ml.features.preprocess import column_kind
from toolkit.ml.features.transform import model_features, outputs_of
from toolkit.ml.types.tasks import Task, chosen_classes
from toolkit.ml.types.tasks import label_arrow_type as _label_arrow_type

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

NEAREST_CENTROIDS = 5
_NULL_AS = {"numeric": pa.float64(), "timestamp": pa.timestamp("us"), "multi_hot": pa.list_(pa.string()),
            "sparse": pa.list_(pa.struct([("index", pa.int64()), ("value", pa.float64())]))}


def _cosine(trained: TrainedModel) -> bool:
    return trained.options.get("DISTANCE_TYPE") == "COSINE"


def model_inputs(trained: TrainedModel, table: pa.Table) -> pa.Table:
    """What the automatic preprocessing reads of `table`: the table itself, or for a model with TRANSFORM its
    feature outputs (the `__transform__` columns the ML.* functions add, else computed from the raw columns) with
    STRUCT outputs flattened, exactly as at training."""
    if trained.transform is None:
        return table
    return model_features(outputs_of(trained.transform, table, trained.name), trained.name,
                          reserved=trained.transform.passthrough)


def _inputs(trained: TrainedModel, table: pa.Table) -> pa.Table:
    """The model's feature columns of `table` (names compared case-insensitively), kinds checked."""
    by_lower = {name.lower(): name for name in table.column_names}
    features = trained.feature_columns
    missing = [c for c in features if c.lower() not in by_lower]
    if missing:
        raise ModelError(f"model {trained.name}: the input has no column(s) {', '.join(missing)}; the model was "
                         f"trained on {', '.join(features)}",
                         hint="select every feature column the model was trained on")
    columns = {}
    for column in trained.feature_schema:
        values = table.column(by_lower[column["name"].lower()])
        kind = column_kind(values.type)
        if kind != column["kind"] and not pa.types.is_null(values.type):
            raise ModelError(f"model {trained.name}: column '{column['name']}' is {values.type} in the input but "
                             f"was {column['type']} in training", hint=f"CAST it to {column['type']}")
        if pa.types.is_null(values.type):  # an all-NULL column: NULL numbers / the NULL category
            values = values.cast(_NULL_AS.get(column["kind"], pa.string()))
        columns[column["name"]] = values
    return pa.table(columns) if columns else table.select([])


def design_matrix(trained: TrainedModel, table: pa.Table) -> np.ndarray:
    """Encoded rows of `table` (input rows, with TRANSFORM applied first when the model has one) as the estimator
    expects them."""
    return encode(trained, model_inputs(trained, table))


def encode(trained: TrainedModel, features: pa.Table) -> np.ndarray:
    """Encoded rows of a table of the model's feature columns (`model_inputs`)."""
    X = trained.preprocessor.transform(_inputs(trained, features))
    if _cosine(trained):  # COSINE k-means clusters the directions of the rows
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    return X


def centroid_distances(trained: TrainedModel, X: np.ndarray) -> np.ndarray:
    """Distance of every row to every centroid (rows × k)."""
    centers = trained.estimator.cluster_centers_
    if not _cosine(trained):
        return trained.estimator.transform(X)
    norms = np.linalg.norm(centers, axis=1)
    similarity = (X @ centers.T) / np.where(norms > 0, norms, 1.0)
    return 1.0 - similarity


def label_arrow_type(trained: TrainedModel) -> pa.DataType:
    return _label_arrow_type(trained.label_type)


def output_schema(trained: TrainedModel) -> pa.Schema:
    """The columns `predict` returns, known without predicting anything."""
    task = trained.model_type.task
    if task is Task.REGRESSION:
        return pa.schema([(f"predicted_{trained.label}", pa.float64())])
    if task is Task.CLASSIFICATION:
        label = label_arrow_type(trained)
        probs = pa.list_(pa.struct([("label", label), ("prob", pa.float64())]))
        return pa.schema([(f"predicted_{trained.label}", label), (f"predicted_{trained.label}_probs", probs)])
    if task is Task.CLUSTERING:
        nearest = pa.list_(pa.struct([("centroid_id", pa.int64()), ("distance", pa.float64())]))
        return pa.schema([("centroid_id", pa.int64()), ("nearest_centroids_distance", nearest)])
    return pa.schema([(f"principal_component_{i + 1}", pa.float64()) for i in range(trained.estimator.n_components_)])


def predict(trained: TrainedModel, table: pa.Table, *, threshold: float | None = None) -> pa.Table:
    """BigQuery ML.PREDICT's output columns for the rows of `table` (same order)."""
    if table.num_rows == 0:
        _inputs(trained, model_inputs(trained, table))  # the same checks of the input's columns
        return output_schema(trained).empty_table()
    X = design_matrix(trained, table)
    task = trained.model_type.task
    if task is Task.REGRESSION:
        return pa.table({f"predicted_{trained.label}": pa.array(trained.estimator.predict(X), pa.float64())})
    if task is Task.CLASSIFICATION:
        return _classes(trained, trained.estimator.predict_proba(X), threshold)
    if task is Task.CLUSTERING:
        return _clusters(centroid_distances(trained, X))
    components = trained.estimator.transform(X)
    return pa.table({f"principal_component_{i + 1}": pa.array(components[:, i]) for i in range(components.shape[1])})


def _classes(trained: TrainedModel, proba: np.ndarray, threshold: float | None) -> pa.Table:
    n, k = proba.shape
    labels = pa.array(list(trained.classes), type=label_arrow_type(trained))
    chosen = chosen_classes(proba, threshold)
    entries = pa.StructArray.from_arrays(
        [labels.take(pa.array(np.tile(np.arange(k), n))), pa.array(proba.ravel(), pa.float64())],
        names=["label", "prob"])
    probs = pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)), entries)
    return pa.table({f"predicted_{trained.label}": labels.take(pa.array(chosen)),
                     f"predicted_{trained.label}_probs": probs})


def _clusters(distances: np.ndarray) -> pa.Table:
    n, k = distances.shape
    m = min(k, NEAREST_CENTROIDS)
    order = np.argsort(distances, axis=1, kind="stable")[:, :m]
    nearest = np.take_along_axis(distances, order, axis=1)
    entries = pa.StructArray.from_arrays(
        [pa.array((order + 1).ravel(), pa.int64()), pa.array(nearest.ravel(), pa.float64())],
        names=["centroid_id", "distance"])
    lists = pa.ListArray.from_arrays(pa.array(np.arange(0, n * m + 1, m, dtype=np.int32)), entries)
    return pa.table({"centroid_id": pa.array(order[:, 0] + 1, pa.int64()), "nearest_centroids_distance": lists})

