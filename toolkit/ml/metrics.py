"""BigQuery ML's evaluation metrics, by task, computed with numpy.

Regression: mean_absolute_error, mean_squared_error, mean_squared_log_error (NULL when a label or prediction is
below -1), median_absolute_error (BigQuery's lower median: sorted[(n - 1) // 2]), r2_score, explained_variance.
Classification: precision, recall, accuracy, f1_score, log_loss, roc_auc — binary at a threshold (0.5) on the
positive (higher) class; multiclass: argmax, macro averages of precision / recall / f1 / one-vs-rest roc_auc over
the classes, accuracy micro. KMEANS: davies_bouldin_index, mean_squared_distance. PCA:
total_explained_variance_ratio. A metric that is undefined on the data is None."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata
from sklearn.metrics import davies_bouldin_score
from sklearn.utils.extmath import row_norms

from toolkit.ml.types.tasks import HEADLINE_METRICS, chosen_classes

Metrics = dict[str, float | None]
_EPS = 1e-15


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> Metrics:
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    error = y - pred
    absolute = np.abs(error)
    variance = float(np.var(y))
    msle = None
    if np.all(y > -1) and np.all(pred > -1):
        msle = float(np.mean((np.log1p(y) - np.log1p(pred)) ** 2))
    return {
        "mean_absolute_error": float(absolute.mean()),
        "mean_squared_error": float(np.mean(error**2)),
        "mean_squared_log_error": msle,
        "median_absolute_error": float(np.partition(absolute, (len(y) - 1) // 2)[(len(y) - 1) // 2]),
        "r2_score": 1.0 - float(np.mean(error**2)) / variance if variance > 0 else None,
        "explained_variance": 1.0 - float(np.var(error)) / variance if variance > 0 else None,
    }


def log_loss(y: np.ndarray, proba: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """Mean negative log-likelihood of the true classes (`y` holds class indices)."""
    p = np.clip(proba[np.arange(len(y)), y], _EPS, 1.0)
    return float(np.average(-np.log(p), weights=sample_weight))


def classification_metrics(y: np.ndarray, proba: np.ndarray, threshold: float | None = None) -> Metrics:
    """Metrics of class indices `y` against class probabilities `proba` (rows × classes, classes ascending)."""
    n_classes = proba.shape[1]
    predicted = chosen_classes(proba, threshold)
    if n_classes == 2:
        precision, recall = _precision_recall(y, predicted, 1)
        auc = _binary_auc(y == 1, proba[:, 1])
    else:
        pairs = [_precision_recall(y, predicted, c) for c in range(n_classes)]
        precision = float(np.mean([p for p, _ in pairs]))
        recall = float(np.mean([r for _, r in pairs]))
        aucs = [a for a in (_binary_auc(y == c, proba[:, c]) for c in range(n_classes)) if a is not None]
        auc = float(np.mean(aucs)) if aucs else None
        f1s = [_f1(p, r) for p, r in pairs]
    return {
        "precision": precision,
        "recall": recall,
        "accuracy": float(np.mean(predicted == y)),
        "f1_score": _f1(precision, recall) if n_classes == 2 else float(np.mean(f1s)),
        "log_loss": log_loss(y, proba),
        "roc_auc": auc,
    }


ROC_QUANTILES = 100


def roc_thresholds(scores: np.ndarray, most: int = ROC_QUANTILES) -> np.ndarray:
    """ML.ROC_CURVE's thresholds: the distinct scores, or their percentiles (lower values) when more than `most` + 1
    are distinct."""
    distinct = np.unique(scores)
    if len(distinct) <= most + 1:
        return distinct
    return np.unique(np.quantile(scores, np.linspace(0.0, 1.0, most + 1), method="lower"))


def roc_counts(positive: np.ndarray, score: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(true positives, false positives) at each threshold: a row is predicted positive when its score is above it,
    as in ML.ROC_CURVE and ML.PREDICT."""
    pos, neg = np.sort(score[positive]), np.sort(score[~positive])
    return (len(pos) - np.searchsorted(pos, thresholds, side="right"),
            len(neg) - np.searchsorted(neg, thresholds, side="right"))


def _precision_recall(y: np.ndarray, predicted: np.ndarray, positive: int) -> tuple[float, float]:
    tp = int(np.count_nonzero((predicted == positive) & (y == positive)))
    predicted_positive = int(np.count_nonzero(predicted == positive))
    actual_positive = int(np.count_nonzero(y == positive))
    return (tp / predicted_positive if predicted_positive else 0.0, tp / actual_positive if actual_positive else 0.0)


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank statistic (ties count half); None without both classes."""
    n_pos = int(np.count_nonzero(positive))
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = rankdata(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def kmeans_metrics(X: np.ndarray | sp.csr_matrix, labels: np.ndarray, mean_squared_distance: float,
                   own: OwnDistances | None = None) -> Metrics:
    """`labels`: each row's nearest centroid (from 0); `own`: a CSR X's OwnDistances, when already built."""
    dbi = None
    if np.count_nonzero(np.bincount(labels)) > 1:
        dbi = float(davies_bouldin_score(X, labels) if not sp.issparse(X) else _davies_bouldin_sparse(X, labels, own))
    return {"davies_bouldin_index": dbi, "mean_squared_distance": float(mean_squared_distance)}


BLOCK_ROWS = 65_536  # rows measured at a time: a block's temporaries stay in the processor's cache


def own_products(X: np.ndarray | sp.csr_matrix, centers: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """Each row's dot product with the center it is assigned (`nearest`, an index into centers), the entries of
    X @ centers.T that the rows' distances to their own centers read. For a CSR X, one pass over its entries: row i's
    entries re-indexed into the concatenated centers (column nearest_i · width + j), times the flattened centers —
    each product summed in the order X @ centers.T sums it, so bit for bit the same."""
    if not sp.issparse(X):
        return np.asarray(X @ centers.T)[np.arange(X.shape[0]), nearest]
    own = OwnDistances(X, np.zeros(0))
    own.assign(nearest, centers.shape)
    return own.spread() @ np.ascontiguousarray(centers, np.float64).ravel()


class OwnDistances:
    """The distances of X's rows to the centers they are assigned, measured again and again while the centers and
    the assignment change (a Lloyd loop): ‖x − c‖² as ‖x‖² − 2 x·c + ‖c‖² (`rows`: the rows' ‖x‖²), tiny negative
    roundings clamped to 0, and its square root. For a CSR X the products are own_products' (the same sums, bit for
    bit), its re-indexed entries kept between measurements: only the rows whose center changed are re-indexed.
    In blocks of BLOCK_ROWS rows, whose temporaries stay in the processor's cache, mapped by `mapper` (a thread
    pool's map measures them in parallel: scipy's and numpy's loops release the GIL); a row's values do not depend
    on the blocks."""

    def __init__(self, X: np.ndarray | sp.csr_matrix, rows: np.ndarray, mapper: Callable = map):
        self.X, self.rows, self.mapper, n = X, rows, mapper, X.shape[0]
        self.spans = [(start, min(start + BLOCK_ROWS, n)) for start in range(0, n, BLOCK_ROWS)]
        self.counts = np.diff(X.indptr) if sp.issparse(X) else None  # entries per row
        self.nearest: np.ndarray | None = None  # the assignment `columns` holds
        self.columns: np.ndarray | None = None  # CSR entries' columns in the concatenated centers
        self.width = 0  # k · features of `columns`

    def measure(self, centers: np.ndarray, nearest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each row's squared distance to its center `nearest` (an index into centers), and the distance."""
        X, n = self.X, self.X.shape[0]
        squared, distances = np.empty(n), np.empty(n)
        norms = (centers * centers).sum(axis=1)
        sparse = sp.issparse(X)
        if sparse:
            self.assign(nearest, centers.shape)
        # −2 x·c summed as x·(−2c): scaling by a power of two is exact, so the sums are −2 times own_products'
        scaled = np.ascontiguousarray(-2.0 * centers, np.float64).ravel()

        def block(span: tuple[int, int]) -> None:
            start, stop = span
            part, assigned = squared[start:stop], nearest[start:stop]
            if sparse:
                part[:] = self.spread(start, stop) @ scaled
            else:
                part[:] = own_products(X[start:stop], centers, assigned)
                part *= -2.0
            part += self.rows[start:stop]
            part += norms[assigned]
            np.maximum(part, 0.0, out=part)
            np.sqrt(part, out=distances[start:stop])

        for _ in self.mapper(block, self.spans):
            pass
        return squared, distances

    def totals(self) -> np.ndarray:
        """A CSR X's entries summed per column of the concatenated centers (center · features + column) under the
        held assignment, each sum in row order: the transposed product with ones, which adds the entries as
        np.bincount would, without its copy of the columns as 64-bit integers."""
        return self.spread().T @ np.ones(self.X.shape[0])

    def spread(self, start: int = 0, stop: int | None = None) -> sp.csr_matrix:
        """Rows start to stop of a CSR X with their entries re-indexed into the concatenated centers (`assign`)."""
        X = self.X
        stop = X.shape[0] if stop is None else stop
        lo, hi = X.indptr[start], X.indptr[stop]
        return sp.csr_matrix((X.data[lo:hi], self.columns[lo:hi], X.indptr[start:stop + 1] - lo),
                             shape=(stop - start, self.width))

    def assign(self, nearest: np.ndarray, shape: tuple[int, int]) -> None:
        """Re-index a CSR X's entries for centers of `shape` (k, features) and the assignment `nearest`: only the
        rows whose center differs from the held assignment's (all of them at first, or when many changed)."""
        X, counts, (k, features) = self.X, self.counts, shape
        dtype = np.int32 if k * features < np.iinfo(np.int32).max else np.int64
        changed = None
        if self.columns is not None and self.width == k * features:
            changed = np.flatnonzero(nearest != self.nearest)
        if changed is None or len(changed) > len(nearest) // 8:
            self.columns = np.repeat(np.asarray(nearest, dtype) * dtype(features), counts)
            self.columns += X.indices
            self.nearest, self.width = np.array(nearest, copy=True), k * features
        elif len(changed):
            sizes = counts[changed]
            firsts = np.cumsum(sizes) - sizes  # each changed row's first entry among the changed rows' entries
            positions = np.arange(sizes.sum()) + np.repeat(X.indptr[changed] - firsts, sizes)
            moves = (np.asarray(nearest[changed], dtype) - np.asarray(self.nearest[changed], dtype)) * dtype(features)
            self.columns[positions] += np.repeat(moves, sizes)
            self.nearest[changed] = nearest[changed]


def distances_to(X: np.ndarray | sp.csr_matrix, centers: np.ndarray, nearest: np.ndarray,
                 rows: np.ndarray | None = None) -> np.ndarray:
    """The Euclidean distance of every row of X to the center it is assigned (`nearest`, an index into centers);
    `rows`: a CSR X's squared row norms, when already known."""
    if not sp.issparse(X):
        return np.linalg.norm(X - centers[nearest], axis=1)
    rows = row_norms(X, squared=True) if rows is None else rows
    return OwnDistances(X, rows).measure(centers, nearest)[1]


def _davies_bouldin_sparse(X: sp.csr_matrix, labels: np.ndarray, own: OwnDistances | None = None) -> float:
    """scikit-learn's davies_bouldin_score (its formula and edge cases) for a CSR matrix: the clusters' own means
    and the rows' mean distance to them, without densifying the rows (the means summed over the rows in order, one
    pass over the entries re-indexed by cluster). `labels`: non-negative integers; `own`: X's OwnDistances, when
    already built (a Lloyd loop's, holding these labels: nothing is re-indexed)."""
    labels = np.asarray(labels, np.intp)
    width = X.shape[1]
    own = own if own is not None else OwnDistances(X, row_norms(X, squared=True))
    k = max(int(labels.max()) + 1, own.width // width)
    own.assign(labels, (k, width))
    counts = np.bincount(labels, minlength=k)
    present = counts > 0
    sums = own.totals().reshape(k, width)
    means = np.divide(sums, counts[:, None], out=np.zeros_like(sums), where=present[:, None])
    scatter = np.bincount(labels, weights=own.measure(means, labels)[1], minlength=k)
    intra = (scatter / np.where(present, counts, 1))[present]
    means = means[present]
    separation = np.linalg.norm(means[:, None, :] - means[None, :, :], axis=2)
    if np.allclose(intra, 0) or np.allclose(separation, 0):
        return 0.0
    separation[separation == 0] = np.inf
    return float(np.mean(np.max((intra[:, None] + intra[None, :]) / separation, axis=1)))


def pca_metrics(captured: np.ndarray, deviation: np.ndarray) -> Metrics:
    """The share of the rows' squared distance from the model's centre that its components capture: per row
    `captured` = ||projection||², `deviation` = ||x − centre||². On the training rows this is the sum of the
    components' explained variance ratios (ML.PRINCIPAL_COMPONENT_INFO's last cumulative ratio)."""
    total = float(np.sum(deviation))
    return {"total_explained_variance_ratio": float(np.sum(captured)) / total if total > 0 else None}


def headline(metrics: Metrics, most: int = 2) -> str:
    """'roc_auc 0.71, accuracy 0.78': the first `most` headline metrics that are defined."""
    chosen = [f"{name} {metrics[name]:.4g}" for name in HEADLINE_METRICS if metrics.get(name) is not None]
    return ", ".join(chosen[:most])
