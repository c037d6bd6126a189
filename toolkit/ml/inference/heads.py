"""What differs by task, in one object per task: the prediction columns, the loss recorded while training, and
the metrics of ML.EVALUATE (and of training's own evaluation). The registry names each model type's `Task`;
`head(trained)` is that task's object, so no other module branches on the task.

Prediction columns (ML.PREDICT's, beside the input's):
- regression: predicted_<label> (DOUBLE);
- classification: predicted_<label> (the label's type) and predicted_<label>_probs, a list<struct<label, prob>>
  with one entry per class in ascending class order; binary: the positive (higher) class when its probability
  exceeds the threshold (default 0.5), multiclass: the most probable class;
- clustering (KMEANS): centroid_id (from 1) and nearest_centroids_distance, list<struct<centroid_id, distance>> of
  the min(k, 5) nearest centroids, nearest first (COSINE: 1 - cosine similarity);
- decomposition (PCA): principal_component_1 … principal_component_k.

Losses: mean squared error (regression), mean log loss (classification), mean squared distance to the nearest
centroid (KMEANS; with DISTANCE_TYPE COSINE, between unit-length rows), mean squared reconstruction error (PCA)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from toolkit.ml import metrics
from toolkit.ml.types.tasks import Task, chosen_classes, label_arrow_type

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

NEAREST_CENTROIDS = 5
Parts = dict[str, np.ndarray]  # what ML.EVALUATE keeps of a batch of rows: the model's outputs, by name


def canonical(parts: Parts) -> Parts:
    """The rows' outputs in one order whatever order they were scored in (sorted by every output, equal rows being
    interchangeable), so that sums and means come out bit for bit the same each time."""
    keys = [column for values in parts.values() for column in (values.T if values.ndim == 2 else [values])]
    order = np.lexsort(keys[::-1])
    return {name: values[order] for name, values in parts.items()}


def is_cosine(trained: TrainedModel) -> bool:
    return trained.options.get("DISTANCE_TYPE") == "COSINE"


def centroid_distances(trained: TrainedModel, X: np.ndarray) -> np.ndarray:
    """Distance of every row to every centroid (rows × k)."""
    if not is_cosine(trained):
        return trained.estimator.transform(X)
    return distances_to(X, trained.estimator.cluster_centers_, cosine=True)


def distances_to(X: np.ndarray, centers: np.ndarray, cosine: bool) -> np.ndarray:
    """Distance of every row to each of `centers` (rows × k): Euclidean, or 1 - cosine similarity (rows of X being
    unit length)."""
    if not cosine:
        rows = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else (X * X).sum(axis=1)
        squared = rows[:, None] - 2 * np.asarray(X @ centers.T) + (centers * centers).sum(axis=1)[None, :]
        return np.sqrt(np.maximum(squared, 0.0))
    norms = np.linalg.norm(centers, axis=1)
    similarity = np.asarray(X @ centers.T) / np.where(norms > 0, norms, 1.0)
    return 1.0 - similarity


def _offsets(n: int, width: int) -> pa.Array:
    return pa.array(np.arange(0, n * width + 1, width, dtype=np.int32))


class Head:
    """One task's rules. `y` is class indices for classifiers, label values for regressors, None otherwise."""

    has_classes = False  # the estimator predicts one of a fixed set of classes
    # Training keeps the labels and outputs (`score`) of the rows it evaluates on, for the ML.* functions that read
    # the eval split without input: ML.CONFUSION_MATRIX, ML.ROC_CURVE and ML.EVALUATE at another threshold.
    keeps_scores = False
    sklearn_loss_scale = 1.0  # scikit-learn's reported loss times this is the loss above

    def schema(self, trained: TrainedModel) -> pa.Schema:
        raise NotImplementedError

    def predict(self, trained: TrainedModel, X: np.ndarray, threshold: float | None) -> pa.Table:
        raise NotImplementedError

    def loss(self, estimator: Any, X: np.ndarray, y: np.ndarray | None) -> float:
        raise NotImplementedError

    def score(self, trained: TrainedModel, X: np.ndarray) -> Parts:
        """The outputs ML.EVALUATE needs of encoded rows (labels are kept by the caller)."""
        return {}

    def metrics(self, trained: TrainedModel, parts: Parts, threshold: float | None) -> metrics.Metrics:
        """BigQuery's metrics from the concatenated outputs of `score` and the labels (`parts["y"]`)."""
        raise NotImplementedError

    def evaluate(self, trained: TrainedModel, X: np.ndarray, y: np.ndarray | None) -> metrics.Metrics:
        """The metrics recorded when training ends, on encoded rows."""
        return self.metrics(trained, {**self.score(trained, X), "y": y}, None)


class Regression(Head):
    sklearn_loss_scale = 2.0  # scikit-learn halves the squared error

    def schema(self, trained: TrainedModel) -> pa.Schema:
        return pa.schema([(f"predicted_{trained.label}", pa.float64())])

    def predict(self, trained: TrainedModel, X: np.ndarray, threshold: float | None) -> pa.Table:
        return pa.table({f"predicted_{trained.label}": pa.array(trained.estimator.predict(X), pa.float64())})

    def loss(self, estimator: Any, X: np.ndarray, y: np.ndarray | None) -> float:
        return float(np.mean((y - estimator.predict(X)) ** 2))

    def score(self, trained: TrainedModel, X: np.ndarray) -> Parts:
        return {"pred": trained.estimator.predict(X)}

    def metrics(self, trained: TrainedModel, parts: Parts, threshold: float | None) -> metrics.Metrics:
        return metrics.regression_metrics(parts["y"], parts["pred"])


class Classification(Head):
    has_classes = True
    keeps_scores = True

    def schema(self, trained: TrainedModel) -> pa.Schema:
        label = label_arrow_type(trained.label_type)
        probs = pa.list_(pa.struct([("label", label), ("prob", pa.float64())]))
        return pa.schema([(f"predicted_{trained.label}", label), (f"predicted_{trained.label}_probs", probs)])

    def predict(self, trained: TrainedModel, X: np.ndarray, threshold: float | None) -> pa.Table:
        proba = trained.estimator.predict_proba(X)
        n, k = proba.shape
        labels = pa.array(list(trained.classes), type=label_arrow_type(trained.label_type))
        entries = pa.StructArray.from_arrays(
            [labels.take(pa.array(np.tile(np.arange(k), n))), pa.array(proba.ravel(), pa.float64())],
            names=["label", "prob"])
        return pa.table({f"predicted_{trained.label}": labels.take(pa.array(chosen_classes(proba, threshold))),
                         f"predicted_{trained.label}_probs": pa.ListArray.from_arrays(_offsets(n, k), entries)})

    def loss(self, estimator: Any, X: np.ndarray, y: np.ndarray | None) -> float:
        return metrics.log_loss(y, estimator.predict_proba(X))

    def score(self, trained: TrainedModel, X: np.ndarray) -> Parts:
        return {"proba": trained.estimator.predict_proba(X)}

    def metrics(self, trained: TrainedModel, parts: Parts, threshold: float | None) -> metrics.Metrics:
        return metrics.classification_metrics(parts["y"], parts["proba"], threshold)


class Clustering(Head):
    def schema(self, trained: TrainedModel) -> pa.Schema:
        nearest = pa.list_(pa.struct([("centroid_id", pa.int64()), ("distance", pa.float64())]))
        return pa.schema([("centroid_id", pa.int64()), ("nearest_centroids_distance", nearest)])

    def predict(self, trained: TrainedModel, X: np.ndarray, threshold: float | None) -> pa.Table:
        distances = centroid_distances(trained, X)
        n, k = distances.shape
        m = min(k, NEAREST_CENTROIDS)
        order = np.argsort(distances, axis=1, kind="stable")[:, :m]
        nearest = np.take_along_axis(distances, order, axis=1)
        entries = pa.StructArray.from_arrays(
            [pa.array((order + 1).ravel(), pa.int64()), pa.array(nearest.ravel(), pa.float64())],
            names=["centroid_id", "distance"])
        return pa.table({"centroid_id": pa.array(order[:, 0] + 1, pa.int64()),
                         "nearest_centroids_distance": pa.ListArray.from_arrays(_offsets(n, m), entries)})

    def loss(self, estimator: Any, X: np.ndarray, y: np.ndarray | None) -> float:
        return float(np.mean(np.min(estimator.transform(X), axis=1) ** 2))

    def score(self, trained: TrainedModel, X: np.ndarray) -> Parts:
        distances = centroid_distances(trained, X)
        nearest = np.argmin(distances, axis=1)
        centers = trained.estimator.cluster_centers_
        return {"nearest": nearest, "distance": distances[np.arange(X.shape[0]), nearest],
                "spread": metrics.distances_to(X, centers, nearest)}

    def metrics(self, trained: TrainedModel, parts: Parts, threshold: float | None) -> metrics.Metrics:
        return {"davies_bouldin_index": davies_bouldin(trained.estimator.cluster_centers_, parts["nearest"],
                                                       parts["spread"]),
                "mean_squared_distance": float(np.mean(parts["distance"] ** 2))}

    def evaluate(self, trained: TrainedModel, X: np.ndarray, y: np.ndarray | None) -> metrics.Metrics:
        # Training records scikit-learn's Davies-Bouldin score of the rows' own cluster means.
        distances = centroid_distances(trained, X)
        return metrics.kmeans_metrics(X, np.argmin(distances, axis=1), np.mean(np.min(distances, axis=1) ** 2))


class Decomposition(Head):
    def schema(self, trained: TrainedModel) -> pa.Schema:
        return pa.schema([(f"principal_component_{i + 1}", pa.float64())
                          for i in range(trained.estimator.n_components_)])

    def predict(self, trained: TrainedModel, X: np.ndarray, threshold: float | None) -> pa.Table:
        components = trained.estimator.transform(X)
        return pa.table({f"principal_component_{i + 1}": pa.array(components[:, i])
                         for i in range(components.shape[1])})

    def loss(self, estimator: Any, X: np.ndarray, y: np.ndarray | None) -> float:
        restored = estimator.inverse_transform(estimator.transform(X))
        return float(np.mean((X - restored) ** 2))

    def score(self, trained: TrainedModel, X: np.ndarray) -> Parts:
        projected = trained.estimator.transform(X)  # (x − mean) · components, not whitened
        centred = X - trained.estimator.mean_
        return {"captured": np.einsum("ij,ij->i", projected, projected),
                "deviation": np.einsum("ij,ij->i", centred, centred)}

    def metrics(self, trained: TrainedModel, parts: Parts, threshold: float | None) -> metrics.Metrics:
        return metrics.pca_metrics(parts["captured"], parts["deviation"])


def davies_bouldin(centers: np.ndarray, nearest: np.ndarray, spread: np.ndarray) -> float | None:
    """The Davies-Bouldin index of rows assigned to `centers` (scikit-learn's formula, with the model's centroids):
    the mean over clusters of max over other clusters of (S_i + S_j) / d(c_i, c_j), S = mean distance to c."""
    present = np.unique(nearest)
    if len(present) < 2:
        return None
    scatter = np.array([spread[nearest == i].mean() for i in present])
    chosen = centers[present]
    separation = np.linalg.norm(chosen[:, None, :] - chosen[None, :, :], axis=2)
    separation[separation == 0] = np.inf
    return float(np.mean(np.max((scatter[:, None] + scatter[None, :]) / separation, axis=1)))


HEADS: Mapping[Task, Head] = MappingProxyType({
    Task.REGRESSION: Regression(), Task.CLASSIFICATION: Classification(), Task.CLUSTERING: Clustering(),
    Task.DECOMPOSITION: Decomposition(),
})


def head(trained: TrainedModel) -> Head:
    """The task object of a trained model (TRANSFORM_ONLY models have none: they predict nothing)."""
    return HEADS[trained.model_type.task]
