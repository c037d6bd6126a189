"""The metrics recorded when training ends (ML.EVALUATE without input reads them): the task's metrics of the
fitted model on the eval split (the training rows without one), and on the test split when there is one.

ML.EVALUATE on input rows (`toolkit.ml.functions.evaluate`) scores batches and computes the same metric names,
`ModelType.spec.metric_names`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from toolkit.ml import metrics
from toolkit.ml.inference.predict import centroid_distances
from toolkit.ml.types.tasks import Task

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel


def evaluate(trained: TrainedModel, X: np.ndarray, y: np.ndarray | None) -> metrics.Metrics:
    """BigQuery's evaluation metrics of the model on encoded rows."""
    task = trained.model_type.task
    if task is Task.REGRESSION:
        return metrics.regression_metrics(y, trained.estimator.predict(X))
    if task is Task.CLASSIFICATION:
        return metrics.classification_metrics(y, trained.estimator.predict_proba(X))
    if task is Task.CLUSTERING:
        distances = centroid_distances(trained, X)
        nearest = np.argmin(distances, axis=1)
        squared = np.min(distances, axis=1) ** 2
        return metrics.kmeans_metrics(X, nearest, squared)
    return metrics.pca_metrics(trained.estimator.explained_variance_ratio_)
