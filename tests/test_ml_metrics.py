"""BigQuery-named evaluation metrics against scikit-learn's definitions (and BigQuery's lower median)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from toolkit.ml.metrics import classification_metrics, kmeans_metrics, pca_metrics, regression_metrics

rng = np.random.default_rng(7)


def test_regression_metrics():
    y, pred = rng.uniform(0, 10, 101), rng.uniform(0, 10, 101)
    got = regression_metrics(y, pred)
    assert got["mean_absolute_error"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["mean_squared_error"] == pytest.approx(skm.mean_squared_error(y, pred))
    assert got["mean_squared_log_error"] == pytest.approx(skm.mean_squared_log_error(y, pred))
    assert got["r2_score"] == pytest.approx(skm.r2_score(y, pred))
    assert got["explained_variance"] == pytest.approx(skm.explained_variance_score(y, pred))
    assert got["median_absolute_error"] == pytest.approx(skm.median_absolute_error(y, pred))  # odd n


def test_median_absolute_error_is_the_lower_median():
    assert regression_metrics(np.zeros(4), np.array([1.0, 2.0, 3.0, 4.0]))["median_absolute_error"] == 2.0


def test_msle_undefined_below_minus_one():
    assert regression_metrics(np.array([-2.0, 1.0]), np.array([0.0, 1.0]))["mean_squared_log_error"] is None


def test_binary_metrics_at_threshold_half_on_the_higher_class():
    y = rng.integers(0, 2, 200)
    p1 = np.clip(y * 0.3 + rng.uniform(0, 0.7, 200), 0, 1)
    proba = np.column_stack([1 - p1, p1])
    got = classification_metrics(y, proba)
    predicted = (p1 > 0.5).astype(int)
    assert got["precision"] == pytest.approx(skm.precision_score(y, predicted))
    assert got["recall"] == pytest.approx(skm.recall_score(y, predicted))
    assert got["f1_score"] == pytest.approx(skm.f1_score(y, predicted))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, p1))


def test_multiclass_metrics_are_macro_averages():
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    proba[np.arange(300), y] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    got = classification_metrics(y, proba)
    predicted = proba.argmax(axis=1)
    assert got["precision"] == pytest.approx(skm.precision_score(y, predicted, average="macro"))
    assert got["recall"] == pytest.approx(skm.recall_score(y, predicted, average="macro"))
    assert got["f1_score"] == pytest.approx(skm.f1_score(y, predicted, average="macro"))
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba))
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr", average="macro"))


def test_kmeans_and_pca_metrics():
    X = rng.normal(size=(60, 2))
    labels = (X[:, 0] > 0).astype(int)
    got = kmeans_metrics(X, labels, 4.0)
    assert got["davies_bouldin_index"] == pytest.approx(skm.davies_bouldin_score(X, labels))
    assert got["mean_squared_distance"] == 4.0
    assert pca_metrics(np.array([1.0, 2.0]), np.array([3.0, 1.0]))["total_explained_variance_ratio"] == 0.75
    assert pca_metrics(np.zeros(2), np.zeros(2))["total_explained_variance_ratio"] is None  # every row at the centre


@pytest.mark.parametrize("gap", [False, True])
def test_sparse_davies_bouldin_and_own_distances_match_dense_oracles(gap):
    """The CSR Davies-Bouldin index (one pass over the entries) is scikit-learn's on the dense rows, also with an
    unused label between used ones; each row's distance to its own center is the one of the full distance matrix."""
    import scipy.sparse as sp

    from toolkit.ml.metrics import _davies_bouldin_sparse, distances_to, own_products

    X = np.hstack([rng.normal(size=(300, 3)), np.eye(5)[rng.integers(0, 5, 300)]])
    X[rng.random(X.shape) < 0.3] = 0.0
    labels = rng.integers(0, 4, 300) * (2 if gap else 1)
    csr = sp.csr_matrix(X)
    assert _davies_bouldin_sparse(csr, labels) == pytest.approx(skm.davies_bouldin_score(X, labels), rel=1e-12)
    centers = rng.normal(size=(labels.max() + 1, X.shape[1]))
    full = csr @ centers.T
    assert np.array_equal(own_products(csr, centers, labels), full[np.arange(300), labels])  # bit for bit
    assert np.array_equal(own_products(X, centers, labels), (X @ centers.T)[np.arange(300), labels])
    expected = np.linalg.norm(X - centers[labels], axis=1)
    assert distances_to(csr, centers, labels) == pytest.approx(expected, rel=1e-12)


def test_own_distances_measured_again_after_a_few_rows_change_center(monkeypatch):
    """A Lloyd loop's repeated measurement re-indexes only the rows whose center changed: the same values, bit for
    bit, as measuring afresh, over blocks of rows (in threads or not); those of the dense rows and of the distances
    themselves."""
    from concurrent.futures import ThreadPoolExecutor

    import scipy.sparse as sp

    from toolkit.ml import metrics

    X = np.hstack([rng.normal(size=(500, 3)), np.eye(6)[rng.integers(0, 6, 500)]])
    X[rng.random(X.shape) < 0.2] = 0.0
    csr = sp.csr_matrix(X)
    rows = (X * X).sum(axis=1)
    centers = rng.normal(size=(5, X.shape[1]))
    labels = rng.integers(0, 5, 500)
    for block in (64, 500):
        monkeypatch.setattr(metrics, "BLOCK_ROWS", block)
        own = metrics.OwnDistances(csr, rows)
        for changed in (500, 30, 0, 1, 100):  # all rows, a few, none, one, over an eighth of them
            labels = labels.copy()
            moved = rng.choice(500, changed, replace=False)
            labels[moved] = (labels[moved] + rng.integers(1, 5, changed)) % 5
            centers = centers + rng.normal(scale=0.1, size=centers.shape)
            got, roots = own.measure(centers, labels)
            fresh = metrics.OwnDistances(csr, rows, ThreadPoolExecutor(2).map).measure(centers, labels)
            assert np.array_equal(got, fresh[0]) and np.array_equal(roots, fresh[1])
            assert np.array_equal(roots, np.sqrt(got))
            assert got == pytest.approx(metrics.OwnDistances(X, rows).measure(centers, labels)[0], rel=1e-12)
            assert got == pytest.approx(((X - centers[labels]) ** 2).sum(axis=1), rel=1e-9, abs=1e-12)
