"""The one reading of scikit-learn's trees, checked against scikit-learn's own predictions: walking each tree
from its root with the adapter's arrays gives what the fitted estimator predicts, row by row."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from toolkit.ml.inference.trees import CategoricalSplits, Tree, boosted_trees, forest_trees, node_count


def _walk(tree: Tree, X: np.ndarray) -> np.ndarray:
    """The leaf value row i reaches, one row of `values` per input row."""
    out = np.empty((len(X), tree.values.shape[1]))
    for i, row in enumerate(X):
        node = 0
        while not tree.is_leaf[node]:
            x = row[tree.feature[node]]
            go_left = tree.missing_left[node] if np.isnan(x) else x <= tree.threshold[node]
            node = tree.left[node] if go_left else tree.right[node]
        out[i] = tree.values[node]
    return out


@pytest.mark.parametrize("data", [load_iris, load_breast_cancer])
def test_forest_class_shares_average_to_predict_proba(data):
    X, y = data(return_X_y=True)
    X = X.astype(np.float32)  # forests compare float32 inputs, as the toolkit trains them
    forest = RandomForestClassifier(n_estimators=12, max_depth=6, class_weight="balanced", max_samples=0.8,
                                    random_state=0).fit(X, y)
    trees = forest_trees(forest, classifier=True)
    assert len(trees) == 12 and node_count(forest) == sum(len(t.left) for t in trees)
    mean = sum(_walk(tree, X) for tree in trees) / len(trees)
    np.testing.assert_allclose(mean, forest.predict_proba(X), rtol=0, atol=1e-15)


def test_forest_regressor_values_average_to_predict():
    X, y = load_breast_cancer(return_X_y=True)
    X = X.astype(np.float32)
    forest = RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(X, y.astype(float))
    trees = forest_trees(forest, classifier=False)
    mean = sum(_walk(tree, X)[:, 0] for tree in trees) / len(trees)
    np.testing.assert_allclose(mean, forest.predict(X), rtol=1e-12)


def test_boosted_leaves_add_up_to_the_raw_scores():
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[::7, 1] = np.nan  # missing values take each node's learned direction
    model = HistGradientBoostingClassifier(max_iter=5, max_depth=3, random_state=0).fit(X, y)
    iterations = boosted_trees(model)
    assert len(iterations) == model.n_iter_ and all(len(trees) == 3 for trees in iterations)
    raw = np.asarray(model._baseline_prediction).reshape(1, -1) + sum(
        np.column_stack([_walk(tree, X)[:, 0] for tree in trees]) for trees in iterations)
    np.testing.assert_allclose(raw, model._raw_predict(X), rtol=1e-12)


def test_boosted_regressor_and_native_categories():
    X, y = load_breast_cancer(return_X_y=True)
    model = HistGradientBoostingRegressor(max_iter=4, random_state=0).fit(X, y.astype(float))
    (trees,) = zip(*boosted_trees(model))
    total = model._baseline_prediction.reshape(-1)[0] + sum(_walk(tree, X)[:, 0] for tree in trees)
    np.testing.assert_allclose(total, model.predict(X), rtol=1e-12)
    codes = np.column_stack([np.arange(len(y)) % 3, X[:, 0]])
    native = HistGradientBoostingRegressor(max_iter=2, categorical_features=[0], random_state=0).fit(codes, y)
    with pytest.raises(CategoricalSplits):
        boosted_trees(native)
