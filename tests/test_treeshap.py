"""Exact Tree SHAP against a brute-force Shapley oracle over every subset of players.

BigQuery ML explains boosted trees and random forests with Tree SHAP:
https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-explain-predict
(and https://cloud.google.com/bigquery/docs/xai-overview: "Tree SHAP" for boosted trees and random forests)."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pytest
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from toolkit.ml.inference.trees import Tree, boosted_trees, forest_trees
from toolkit.ml.inference.treeshap import prepare, tree_shap


def _expectation(tree: Tree, values: np.ndarray, x: np.ndarray, known: set[int], sources: np.ndarray) -> float:
    """E[f(x) | x_S], path-dependent: follow x at splits on known players, else the cover-weighted mean."""

    def at(node: int) -> float:
        if tree.is_leaf[node]:
            return float(values[node])
        feature = tree.feature[node]
        left, right = int(tree.left[node]), int(tree.right[node])
        if int(sources[feature]) in known:
            value = x[feature]
            goes_left = tree.missing_left[node] if np.isnan(value) else value <= tree.threshold[node]
            return at(left if goes_left else right)
        return (tree.cover[left] * at(left) + tree.cover[right] * at(right)) / tree.cover[node]

    return at(0)


def _oracle(tree: Tree, values: np.ndarray, x: np.ndarray, sources: np.ndarray, n_inputs: int) -> np.ndarray:
    """Shapley values by the definition: every subset S of the other players, weighted |S|! (n-|S|-1)! / n!."""
    phi = np.zeros(n_inputs)
    for i in range(n_inputs):
        others = [j for j in range(n_inputs) if j != i]
        for size in range(n_inputs):
            weight = factorial(size) * factorial(n_inputs - size - 1) / factorial(n_inputs)
            for subset in combinations(others, size):
                known = set(subset)
                phi[i] += weight * (_expectation(tree, values, x, known | {i}, sources)
                                    - _expectation(tree, values, x, known, sources))
    return phi


def _data(seed: int = 0, rows: int = 300, columns: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, columns))
    X[rng.random(size=X.shape) < 0.05] = np.nan  # missing values take the trees' missing branch
    y = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 1]) * np.nan_to_num(X[:, 2]) + rng.normal(size=rows) * 0.1
    return X, y


def _trees(kind: str) -> list[Tree]:
    X, y = _data()
    if kind == "forest_regressor":
        return forest_trees(RandomForestRegressor(n_estimators=3, max_depth=5, random_state=0).fit(X, y),
                            classifier=False)
    if kind == "forest_classifier":
        return forest_trees(RandomForestClassifier(n_estimators=3, max_depth=5, random_state=0).fit(X, y > 0),
                            classifier=True)
    if kind == "boosted_regressor":
        model = HistGradientBoostingRegressor(max_iter=3, max_depth=4, random_state=0).fit(X, y)
    else:
        model = HistGradientBoostingClassifier(max_iter=2, max_depth=4, random_state=0).fit(X, np.digitize(y, [-1, 1]))
    return [tree for iteration in boosted_trees(model) for tree in iteration]


SOURCES = {
    "one player per column": np.arange(5),
    "columns 1 and 2 are one input": np.array([0, 1, 1, 2, 3]),  # e.g. a TIMESTAMP's parts
}


@pytest.mark.parametrize("kind", ["forest_regressor", "forest_classifier", "boosted_regressor", "boosted_classifier"])
@pytest.mark.parametrize("mapping", list(SOURCES))
def test_tree_shap_equals_the_brute_force_shapley_values(kind, mapping):
    sources = SOURCES[mapping]
    n_inputs = int(sources.max()) + 1
    X, _ = _data(seed=1, rows=12)
    for tree in _trees(kind):
        prepared = prepare(tree, sources)
        for column in range(tree.values.shape[1]):
            values = tree.values[:, column]
            phi = tree_shap(X, prepared, values, n_inputs)
            for r in range(len(X)):  # row by row against the oracle
                np.testing.assert_allclose(phi[r], _oracle(tree, values, X[r], sources, n_inputs), atol=1e-10)


@pytest.mark.parametrize("kind", ["forest_regressor", "boosted_regressor"])
def test_tree_shap_adds_up_to_the_prediction(kind):
    """Local accuracy: baseline (the root's expectation) + the attributions = the leaf the row reaches."""
    X, _ = _data(seed=2, rows=200)
    sources = np.arange(5)
    for tree in _trees(kind):
        phi = tree_shap(X, prepare(tree, sources), tree.values[:, 0], 5)
        reached = [_expectation(tree, tree.values[:, 0], x, set(range(5)), sources) for x in X]
        np.testing.assert_allclose(phi.sum(axis=1) + tree.values[0, 0], reached, atol=1e-10)


def test_a_player_the_tree_never_splits_on_gets_nothing():
    X, _ = _data(seed=3, rows=50)
    tree = _trees("forest_regressor")[0]
    used = set(tree.feature[~tree.is_leaf].tolist())
    phi = tree_shap(X, prepare(tree, np.arange(5)), tree.values[:, 0], 5)
    for column in set(range(5)) - used:
        assert np.all(phi[:, column] == 0.0)
