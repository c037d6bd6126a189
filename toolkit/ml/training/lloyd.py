"""KMEANS fitted with one ML.TRAINING_INFO row per Lloyd iteration, as BigQuery records them
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-train).

scikit-learn's KMeans fits the model (its init, its convergence rule, its result, unchanged); the iterations are then
replayed from the same initial centroids one Lloyd step at a time (KMeans with max_iter = 1 started from the
previous step's centroids), recording the loss after each: the mean squared distance of the training rows to their
nearest centroid. The replay's last centroids are the fitted model's. KMEANS has no eval loss and no learning
rate."""

from __future__ import annotations

import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from toolkit.ml.model import Iteration


def _loss(centers: np.ndarray, X: np.ndarray | sp.csr_matrix) -> float:
    rows = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else (X * X).sum(axis=1)
    squared = rows[:, None] - 2 * np.asarray(X @ centers.T) + (centers * centers).sum(axis=1)[None, :]
    return float(np.mean(np.maximum(squared.min(axis=1), 0.0)))


def fit_kmeans(estimator, X: np.ndarray) -> list[Iteration]:
    """Fit `estimator` (a scikit-learn KMeans) in place; one row per Lloyd iteration it ran."""
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
            centers = step.cluster_centers_ if i < n - 1 else estimator.cluster_centers_
            rows.append(Iteration(i, _loss(np.asarray(centers, np.float64), X), None, None, int(total_ms / n)))
    return rows
