"""KMEANS trained one Lloyd iteration at a time, with one ML.TRAINING_INFO row per iteration, as BigQuery records
them (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-train), and BigQuery's
stopping rule (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-kmeans):
at most MAX_ITERATIONS iterations, and with EARLY_STOP none after the first whose relative loss improvement is
below MIN_REL_PROGRESS; an iteration that moves no centroid ends training in any case (nothing changes after it).

Each iteration is scikit-learn's KMeans with max_iter = 1 started from the previous iteration's centroids (the
first from the model's own seeded init: KMEANS++, RANDOM or the CUSTOM rows). After each the row records the loss —
the mean squared distance of the training rows to their nearest centroid — and each cluster's centroid_id, radius
and size under that iteration's centroids (cluster_info; the radius is the mean distance of the cluster's rows to
its centroid, BigQuery's ClusterInfo). KMEANS has no eval loss and no learning rate."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning

from toolkit.ml.inference.anomalies import cluster_summary
from toolkit.ml.inference.heads import distances_to
from toolkit.ml.model import Iteration


def _loss(centers: np.ndarray, X: np.ndarray | sp.csr_matrix) -> float:
    rows = np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else (X * X).sum(axis=1)
    squared = rows[:, None] - 2 * np.asarray(X @ centers.T) + (centers * centers).sum(axis=1)[None, :]
    return float(np.mean(np.maximum(squared.min(axis=1), 0.0)))


def _cluster_info(centers: np.ndarray, X: np.ndarray, cosine: bool) -> tuple[tuple[int, float, int], ...]:
    radii, sizes = cluster_summary(distances_to(X, centers, cosine))
    return tuple((i + 1, float(radii[i]), int(sizes[i])) for i in range(len(centers)))


def fit_kmeans(estimator, X: np.ndarray, max_iterations: int, stop: Callable[[list[float]], bool],
               cosine: bool = False) -> list[Iteration]:
    """Fit `estimator` (a scikit-learn KMeans) in place, one Lloyd iteration at a time, until `stop(losses)` or
    `max_iterations`; one row per iteration. `cosine`: the clusters' radii are in 1 - cosine similarity."""
    params = estimator.get_params()
    rows: list[Iteration] = []
    losses: list[float] = []
    previous: np.ndarray | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i in range(max_iterations):
            start = time.perf_counter()
            step = {"max_iter": 1, "tol": 0.0} if previous is None else {"max_iter": 1, "tol": 0.0,
                                                                         "init": previous, "n_init": 1}
            estimator.set_params(**step).fit(X)
            centers = np.asarray(estimator.cluster_centers_, np.float64)
            losses.append(_loss(centers, X))
            rows.append(Iteration(i, losses[-1], None, None, int((time.perf_counter() - start) * 1000),
                                  _cluster_info(centers, X, cosine)))
            settled = previous is not None and np.array_equal(centers, previous)
            previous = centers
            if settled or stop(losses):
                break
    estimator.set_params(**{k: params[k] for k in ("max_iter", "tol", "init", "n_init")})  # the model's own
    estimator.n_iter_ = len(rows)
    return rows
