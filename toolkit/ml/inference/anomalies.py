"""The anomaly scores ML.DETECT_ANOMALIES compares with the training rows' distribution, for KMEANS and PCA
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-detect-anomalies):

- KMEANS: normalized_distance, a row's distance to its nearest centroid divided by that cluster's radius (the mean
  distance of the cluster's training rows to its centroid, BigQuery's cluster_radius; 1 for a cluster of identical
  rows).
- PCA: mean_squared_error, the mean squared difference between a row's encoded features and their reconstruction
  from the principal components.

A row is an anomaly when its score exceeds the training rows' (1 − contamination) quantile (linear interpolation
between order statistics, numpy's default). Training keeps the upper half of that distribution, as (quantile,
value) pairs: every order statistic for up to `EXACT_ROWS` training rows (the threshold is then exact), else a grid
of `GRID` quantiles in [0.5, 1] interpolated linearly. `contamination` is at most 0.5, so the lower half is never
needed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from toolkit.ml.inference.heads import centroid_distances

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

EXACT_ROWS = 200_000
GRID = 100_001
KINDS = {"KMEANS": "normalized_distance", "PCA": "mean_squared_error"}


def cluster_summary(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's radius and size, from the rows' distances to every centroid (rows × k): the rows nearest a
    centroid are its cluster, and its radius is their mean distance to it, as BigQuery defines cluster_radius
    ("the average distance from centroid to each point assigned to the cluster", ClusterInfo in
    https://cloud.google.com/bigquery/docs/reference/rest/v2/models); 0 for an empty cluster."""
    nearest = np.argmin(distances, axis=1)
    k = distances.shape[1]
    sums = np.bincount(nearest, weights=distances[np.arange(len(distances)), nearest], minlength=k)
    counts = np.bincount(nearest, minlength=k)
    return np.divide(sums, counts, out=np.zeros(k), where=counts > 0), counts


def scores(trained: TrainedModel, X: np.ndarray, radii: np.ndarray | None,
           distances: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Each row's anomaly score, and for KMEANS its nearest centroid (index from 0); `distances`: KMEANS's rows'
    distances to every centroid, when already computed."""
    if trained.options.model_type == "KMEANS":
        distances = centroid_distances(trained, X) if distances is None else distances
        nearest = np.argmin(distances, axis=1)
        return normalized_distances(distances[np.arange(X.shape[0]), nearest], nearest, radii), nearest
    estimator = trained.estimator
    restored = estimator.inverse_transform(estimator.transform(X))
    return np.mean((X - restored) ** 2, axis=1), None


def normalized_distances(distance: np.ndarray, nearest: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """KMEANS's score: each row's distance to its nearest centroid (index `nearest`) over that cluster's radius."""
    radius = np.asarray(radii, np.float64)[nearest]
    return distance / np.where(radius > 0, radius, 1.0)


def upper_quantiles(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(quantile, value) pairs of the upper half of `values`' distribution (only that half is sorted)."""
    values = np.asarray(values, np.float64)
    n = len(values)
    start = (n - 1) // 2
    upper = np.sort(np.partition(values, start)[start:]) if n > 1 else values  # the order statistics from start on
    if n == 1:
        return np.array([0.5, 1.0]), np.array([upper[0], upper[0]])
    if n <= EXACT_ROWS:
        return np.arange(start, n) / (n - 1), upper
    grid = np.linspace(0.5, 1.0, GRID)
    return grid, sorted_quantiles(upper, grid, start)


def sorted_quantiles(ordered: np.ndarray, quantiles: np.ndarray, offset: int = 0) -> np.ndarray:
    """np.quantile(values, quantiles) (its default linear interpolation, bit for bit) from the sorted order
    statistics `ordered` of the values, from the `offset`-th on (quantiles at least offset / (n − 1)), without the
    partition np.quantile runs: the order statistics around (n − 1) q, interpolated as numpy's _lerp does (from the
    upper one when the weight is at least 1/2)."""
    n = offset + len(ordered)
    virtual = (n - 1) * np.asarray(quantiles, np.float64)
    below = np.floor(virtual)
    below[virtual >= n - 1] = n - 1
    gamma = virtual - below
    index = below.astype(np.intp) - offset
    lower, upper = ordered[index], ordered[np.minimum(index + 1, len(ordered) - 1)]
    difference = upper - lower
    result = lower + difference * gamma
    high = gamma >= 0.5
    result[high] = (upper - difference * (1 - gamma))[high]
    return result


def threshold(quantiles: np.ndarray, values: np.ndarray, contamination: float) -> float:
    """The training scores' (1 − contamination) quantile."""
    return float(np.interp(1.0 - contamination, quantiles, values))
