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


def _row_norms(X: np.ndarray | sp.csr_matrix) -> np.ndarray:
    """Each row's squared Euclidean norm (computed once: the rows do not change between iterations)."""
    return np.asarray(X.multiply(X).sum(axis=1)).ravel() if sp.issparse(X) else (X * X).sum(axis=1)


def _measure(centers: np.ndarray, X: np.ndarray | sp.csr_matrix, rows: np.ndarray,
             cosine: bool) -> tuple[float, tuple[tuple[int, float, int], ...]]:
    """The loss (mean squared distance of the rows to their nearest centroid) and each cluster's (centroid_id, radius,
    size), from one product of X with the centroids (two for COSINE, whose radii are in 1 - cosine similarity)."""
    squared = np.maximum(rows[:, None] - 2 * np.asarray(X @ centers.T) + (centers * centers).sum(axis=1)[None, :], 0.0)
    loss = float(np.mean(squared.min(axis=1)))
    radii, sizes = cluster_summary(distances_to(X, centers, True) if cosine else np.sqrt(squared, out=squared))
    return loss, tuple((i + 1, float(radii[i]), int(sizes[i])) for i in range(len(centers)))


def fit_kmeans(estimator, X: np.ndarray, max_iterations: int, stop: Callable[[list[float]], bool],
               cosine: bool = False) -> list[Iteration]:
    """Fit `estimator` (a scikit-learn KMeans) in place, one Lloyd iteration at a time, until `stop(losses)` or
    `max_iterations`; one row per iteration. `cosine`: the clusters' radii are in 1 - cosine similarity."""
    params = estimator.get_params()
    rows: list[Iteration] = []
    losses: list[float] = []
    previous: np.ndarray | None = None
    norms = _row_norms(X)
    # scikit-learn copies X on every fit unless copy_x = False; a sparse X is never centred, so the copy changes nothing
    copy_x = {"copy_x": False} if sp.issparse(X) else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for i in range(max_iterations):
            start = time.perf_counter()
            step = {"max_iter": 1, "tol": 0.0} if previous is None else {"max_iter": 1, "tol": 0.0,
                                                                         "init": previous, "n_init": 1}
            estimator.set_params(**step, **copy_x).fit(X)
            centers = np.asarray(estimator.cluster_centers_, np.float64)
            loss, clusters = _measure(centers, X, norms, cosine)
            losses.append(loss)
            rows.append(Iteration(i, loss, None, None, int((time.perf_counter() - start) * 1000), clusters))
            settled = previous is not None and np.array_equal(centers, previous)
            previous = centers
            if settled or stop(losses):
                break
    estimator.set_params(**{k: params[k] for k in ("max_iter", "tol", "init", "n_init", "copy_x")})  # the model's own
    estimator.n_iter_ = len(rows)
    return rows
