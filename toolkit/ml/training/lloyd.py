"""KMEANS trained one Lloyd iteration at a time, with one ML.TRAINING_INFO row per iteration, as BigQuery records
them (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-train), and BigQuery's
stopping rule (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-kmeans):
at most MAX_ITERATIONS iterations, and with EARLY_STOP none after the first whose relative loss improvement is
below MIN_REL_PROGRESS; an iteration that moves no centroid ends training in any case (nothing changes after it).

The first iteration is scikit-learn's KMeans with max_iter = 1 from the model's own seeded init (KMEANS++, RANDOM or
the CUSTOM rows) — for KMEANS++ on sparse rows, one compiled step from the seeds that fit draws, the same centroids
without fit's extra passes; the next ones are scikit-learn's own Lloyd step (its compiled `lloyd_iter_chunked_*`
kernels, the loop KMeans.fit runs), one pass over the rows each: the pass from iteration i's centroids assigns every
row to its nearest one — which gives iteration i's row — and moves them to iteration i + 1's. Each row records the
loss — the mean squared distance of the training rows to their nearest centroid — and each cluster's centroid_id,
radius and size under that iteration's centroids (cluster_info; the radius is the mean distance of the cluster's
rows to its centroid, BigQuery's ClusterInfo), from each row's product with its own centroid only
(toolkit.ml.metrics.OwnDistances, on every core). The last iteration's assignment is the final centroids', which
training's evaluation and the anomaly record read instead of measuring the rows again. KMEANS has no eval loss and
no learning rate."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils.extmath import row_norms

from toolkit.ml.inference.anomalies import cluster_summary
from toolkit.ml.inference.heads import distances_to
from toolkit.ml.metrics import OwnDistances
from toolkit.ml.model import Iteration

Step = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Assignment:
    """The training rows under the final centroids, as the last iteration measured them: each row's centroid (from
    0) and distance to it, each cluster's radius, the loss and the measurement's own state — what training's own
    evaluation and the anomaly record read instead of measuring the rows again."""

    labels: np.ndarray
    distances: np.ndarray
    radii: np.ndarray
    loss: float
    own: OwnDistances  # the rows' squared norms, and their entries re-indexed by these labels


def _measure(centers: np.ndarray, labels: np.ndarray, X: np.ndarray | sp.csr_matrix, own: OwnDistances,
             cosine: bool) -> tuple[float, tuple[tuple[int, float, int], ...], Assignment | None]:
    """The loss (mean squared distance of the rows to their nearest centroid, `labels`) and each cluster's
    (centroid_id, radius, size), from each row's product with its own centroid (one pass over X's entries); and
    the rows' assignment. COSINE's radii are in 1 - cosine similarity, and its clusters those of the nearest
    centroid by that distance (no assignment: its distances are not the loss's)."""
    k = centers.shape[0]
    squared, distances = own.measure(centers, labels)  # ‖x‖² − 2 x·c + ‖c‖² for each row's own c
    loss = float(np.mean(squared))
    assignment = None
    if cosine:
        radii, sizes = cluster_summary(distances_to(X, centers, True))
    else:
        index = labels.astype(np.intp)  # bincount's index type, converted once
        sizes = np.bincount(index, minlength=k)
        radii = np.divide(np.bincount(index, weights=distances, minlength=k), sizes, out=np.zeros(k),
                          where=sizes > 0)
        assignment = Assignment(labels, distances, radii, loss, own)
    return loss, tuple((i + 1, float(radii[i]), int(sizes[i])) for i in range(k)), assignment


def _kernel_step(X: np.ndarray | sp.csr_matrix) -> Step | None:
    """scikit-learn's Lloyd step over X: centroids → (each row's nearest of them, the next centroids), one pass; None
    where the compiled kernels are not importable (they are private to scikit-learn), for `_refit_step`."""
    try:
        from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense, lloyd_iter_chunked_sparse
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    except ImportError:
        return None
    kernel = lloyd_iter_chunked_sparse if sp.issparse(X) else lloyd_iter_chunked_dense
    # what KMeans.fit hands its kernels: float64, C order, CSR with 32-bit indices (no copy when X already is)
    X = check_array(X, accept_sparse="csr", dtype=np.float64, order="C", accept_large_sparse=False)
    weights = np.ones(X.shape[0], dtype=X.dtype)
    labels = np.empty(X.shape[0], dtype=np.int32)
    threads = _openmp_effective_n_threads()

    def step(centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = len(centers)
        following = np.zeros_like(centers)
        kernel(X, weights, np.ascontiguousarray(centers), following, np.zeros(k, X.dtype), labels,
               np.zeros(k, X.dtype), threads)
        return labels.copy(), following
    return step


def _refit_step(estimator, X: np.ndarray | sp.csr_matrix, rows: np.ndarray) -> Step:
    """The same step through KMeans' public API (two passes): the rows' nearest centroids by their distances, and
    a one-iteration fit from the centroids."""
    def step(centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        squared = rows[:, None] - 2 * np.asarray(X @ centers.T) + (centers * centers).sum(axis=1)[None, :]
        estimator.set_params(init=centers, n_init=1).fit(X)
        return squared.argmin(axis=1).astype(np.int32), np.asarray(estimator.cluster_centers_, np.float64)
    return step


def _seeds(estimator, X: np.ndarray | sp.csr_matrix, norms: np.ndarray) -> np.ndarray | None:
    """The initial centroids KMeans.fit would draw from a sparse X with k-means++: scikit-learn's public
    kmeans_plusplus on the same random stream, rows' squared norms and unit weights, so that the first iteration can
    be one compiled step (fit also reassigns the rows and sums their inertia after its step). None where fit draws
    them itself: a dense X (fit centres it first), RANDOM, the given centroids."""
    if not sp.issparse(X) or not isinstance(estimator.init, str) or estimator.init != "k-means++" \
            or estimator.n_init != 1 or X.shape[0] < estimator.n_clusters:
        return None
    ones = np.ones(X.shape[0], dtype=X.dtype)
    return kmeans_plusplus(X, estimator.n_clusters, sample_weight=ones, x_squared_norms=norms,
                           random_state=estimator.random_state)[0]


def _threads() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fit_kmeans(estimator, X: np.ndarray, max_iterations: int, stop: Callable[[list[float]], bool],
               cosine: bool = False) -> tuple[list[Iteration], Assignment | None]:
    """Fit `estimator` (a scikit-learn KMeans) in place, one Lloyd iteration at a time, until `stop(losses)` or
    `max_iterations`; one row per iteration, and the rows' assignment to the final centroids (the last iteration's;
    None for COSINE). `cosine`: the clusters' radii are in 1 - cosine similarity."""
    params = estimator.get_params()
    rows: list[Iteration] = []
    losses: list[float] = []
    norms = row_norms(X, squared=True)  # once: the rows do not change between iterations
    # scikit-learn copies X on every fit unless copy_x = False; a sparse X is never centred, so the copy changes nothing
    copy_x = {"copy_x": False} if sp.issparse(X) else {}
    with warnings.catch_warnings(), ThreadPoolExecutor(_threads()) as pool:
        own = OwnDistances(X, norms, pool.map)  # each iteration measured on every core, between the steps
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        kernel = _kernel_step(X)
        seeds = _seeds(estimator, X, norms) if kernel is not None else None
        labels: np.ndarray | None = None
        if seeds is not None:  # the first iteration is one step like the others, from KMeans.fit's own seeds
            estimator.set_params(init=seeds, max_iter=1, tol=0.0).fit(seeds)  # its fitted state, from k rows
            centers = kernel(seeds)[1]
        else:
            estimator.set_params(max_iter=1, tol=0.0, **copy_x).fit(X)
            centers = np.asarray(estimator.cluster_centers_, np.float64)
            labels = np.asarray(estimator.labels_, np.int32)
        step = kernel or _refit_step(estimator, X, norms)
        following: np.ndarray | None = None
        previous: np.ndarray | None = None
        for i in range(max_iterations):
            if i > 0 or labels is None:  # the pass from these centroids assigns the rows (this row), gives the next
                labels, following = step(centers)
            loss, clusters, assignment = _measure(centers, labels, X, own, cosine)
            losses.append(loss)
            rows.append(Iteration(i, loss, None, None, int((time.perf_counter() - start) * 1000), clusters))
            start = time.perf_counter()
            settled = previous is not None and np.array_equal(centers, previous)
            if settled or stop(losses) or i + 1 == max_iterations:
                break
            if following is None:
                _, following = step(centers)
            previous, centers, following = centers, following, None
    own.mapper = map  # the pool is shut down: what reads the assignment afterwards measures on this thread
    estimator.set_params(**{k: params[k] for k in ("max_iter", "tol", "init", "n_init", "copy_x")})  # the model's own
    estimator.cluster_centers_, estimator.labels_ = centers, labels
    estimator.inertia_, estimator.n_iter_ = losses[-1] * X.shape[0], len(rows)
    return rows, assignment
