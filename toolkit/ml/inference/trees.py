"""One reading of scikit-learn's fitted trees (HistGradientBoosting predictors and RandomForest members) as flat
node arrays, shared by the compiler (`toolkit.ml.compile.trees`), the explanations (ML.EXPLAIN_PREDICT,
ML.GLOBAL_EXPLAIN) and ML.FEATURE_IMPORTANCE, so that they all read the same splits and leaf values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from toolkit.ml.types.tasks import Family, Task

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel


class CategoricalSplits(ValueError):
    """The trees split on native categories, which this reading does not cover."""


@dataclass(frozen=True)
class Tree:
    """One tree as flat node arrays; children have higher indices than their parent (pre-order)."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray  # design-matrix column of each split
    threshold: np.ndarray  # rows with x <= threshold go left
    missing_left: np.ndarray  # NaN goes left
    is_leaf: np.ndarray
    values: np.ndarray  # nodes × outputs: each node's expected output over the training rows reaching it
    cover: np.ndarray  # (weighted) training rows reaching the node
    gain: np.ndarray  # the split's gain (internal nodes)
    output: int  # boosted trees: the class whose raw score the tree adds to (0 for one score)

    def internal(self) -> np.ndarray:
        return ~self.is_leaf


def trees(trained: TrainedModel) -> list[Tree]:
    """Every tree of a boosted tree or random forest model: a boosted model's iterations in order, each
    iteration's trees by output."""
    if trained.model_type.family is Family.BOOSTED_TREE:
        return [tree for iteration in boosted_trees(trained.estimator) for tree in iteration]
    return forest_trees(trained.estimator, classifier=trained.model_type.task is Task.CLASSIFICATION)


def boosted_trees(estimator: Any) -> list[list[Tree]]:
    """A HistGradientBoosting model's trees: one list per iteration, one tree per output in it."""
    return [[_hist_tree(predictor, k) for k, predictor in enumerate(iteration)] for iteration in estimator._predictors]


def forest_trees(estimator: Any, *, classifier: bool) -> list[Tree]:
    """A random forest's trees; a classifier's leaf values are its class shares."""
    return [_forest_tree(member.tree_, classifier) for member in estimator.estimators_]


def node_count(estimator: Any) -> int:
    """The nodes of all the model's trees (0 for a model without trees), read without building the trees."""
    if hasattr(estimator, "_predictors"):
        return sum(p.nodes.shape[0] for iteration in estimator._predictors for p in iteration)
    if hasattr(estimator, "estimators_") and hasattr(estimator.estimators_[0], "tree_"):
        return sum(t.tree_.node_count for t in estimator.estimators_)
    return 0


def _hist_tree(predictor: Any, output: int) -> Tree:
    nodes = predictor.nodes
    if nodes["is_categorical"].any():
        raise CategoricalSplits("a boosted tree splits on native categories")
    is_leaf = nodes["is_leaf"].astype(bool)
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    count = nodes["count"].astype(np.float64)
    # Internal nodes do not hold the (shrunk) expected value: it is recomputed from the leaves, count-weighted.
    values = nodes["value"].astype(np.float64).copy()
    for i in range(len(nodes) - 1, -1, -1):
        if not is_leaf[i]:
            total = count[left[i]] + count[right[i]]
            values[i] = (count[left[i]] * values[left[i]] + count[right[i]] * values[right[i]]) / total \
                if total > 0 else 0.5 * (values[left[i]] + values[right[i]])
    return Tree(left, right, nodes["feature_idx"].astype(np.int64), nodes["num_threshold"].astype(np.float64),
                nodes["missing_go_to_left"].astype(bool), is_leaf, values[:, None], count,
                np.where(is_leaf, 0.0, nodes["gain"].astype(np.float64)), output)


def _forest_tree(tree: Any, classifier: bool) -> Tree:
    left, right = tree.children_left.astype(np.int64), tree.children_right.astype(np.int64)
    is_leaf = left < 0
    weight = tree.weighted_n_node_samples.astype(np.float64)
    impurity = tree.impurity.astype(np.float64)
    gain = np.zeros(len(left))
    inner = np.flatnonzero(~is_leaf)
    gain[inner] = (weight[inner] * impurity[inner] - weight[left[inner]] * impurity[left[inner]]
                   - weight[right[inner]] * impurity[right[inner]])
    values = tree.value[:, 0, :].astype(np.float64)
    if classifier:  # class shares, normalized as scikit-learn's predict_proba normalizes them
        totals = values.sum(axis=1, keepdims=True)
        values = np.divide(values, totals, out=np.zeros_like(values), where=totals > 0)
    missing = getattr(tree, "missing_go_to_left", None)
    missing = np.zeros(len(left), bool) if missing is None else np.asarray(missing).astype(bool)
    return Tree(left, right, tree.feature.astype(np.int64), tree.threshold.astype(np.float64), missing, is_leaf,
                values, weight, gain, 0)
