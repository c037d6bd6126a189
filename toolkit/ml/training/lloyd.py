"""KMEANS fitted with one ML.TRAINING_INFO row per Lloyd iteration, as BigQuery records them
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-train).

scikit-learn's KMeans fits the model (its init, its convergence rule, its result, unchanged); the iterations are then
replayed from the same initial centroids one Lloyd step at a time (KMeans with max_iter = 1 started from the
previous step's centroids), recording after each the loss — the mean squared distance of the training rows to their
nearest centroid — and each cluster's centroid_id, radius and size under that step's centroids (cluster_info; the
radius is the mean distance of the cluster's rows to its centroid, BigQuery's ClusterInfo). The replay's last
centroids are the fitted model's. KMEANS has no eval loss and no learning rate."""

from __future__ import annotations

import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from toolkit.ml.inference.anomalies import cluster_summary
from toolkit.ml.inference.heads import distances_to
from toolkit.ml.model import Iteration


def _loss(centers: np.ndarray, X: np.ndarray) -> float:
    squared = (X * X).sum(axis=1)[:, None] - 2 * X @ centers.T + (centers * centers).sum(axis=1)[None, :]
    return float(np.mean(np.maximum(squared.min(axis=1), 0.0)))


def _cluster_info(centers: np.ndarray, X: np.ndarray, cosine: bool) -> tuple[tuple[int, float, int], ...]:
    radii, sizes = cluster_summary(distances_to(X, centers, cosine))
    return tuple((i + 1, float(radii[i]), int(sizes[i])) for i in range(len(centers)))


def fit_kmeans(estimator, X: np.ndarray, cosine: bool = False) -> list[Iteration]:
    """Fit `estimator` (a scikit-learn KMeans) in place; one row per Lloyd iteration it ran. `cosine`: the
    clusters' radii are in 1 - cosine similarity (DISTANCE_TYPE COSINE)."""
    start = time.perf_counter()
    estimator.fit(X)
    total_ms = (time.perf_counter() - start) * 1000
    n = max(int(estimator.n_iter_), 1)
    rows = []
    step = clone(estimator).set_params(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        step.fit(X)  # the first iteration, from the model's own (seeded) initial centroids
        for i in range(n):
            if i:
                step = clone(estimator).set_params(max_iter=1, init=step.cluster_centers_, n_init=1)
                step.fit(X)
            centers = np.asarray(step.cluster_centers_ if i < n - 1 else estimator.cluster_centers_, np.float64)
            rows.append(Iteration(i, _loss(centers, X), None, None, int(total_ms / n),
                                  _cluster_info(centers, X, cosine)))
    return rows
