"""BOOSTED_TREE_* (HistGradientBoosting) and RANDOM_FOREST_* as SQL: each tree one nested CASE in a column of its
own (DuckDB evaluates the columns of a projection in parallel), the trees then added in scikit-learn's order.

A split reads a numeric feature (`x <= threshold`) or a categorical feature's label code, looked up from its text;
a code is NULL for a category unseen in training, which takes the node's missing-value branch. Boosted trees add
their leaves to the baseline (then the sigmoid or softmax for classifiers); a forest averages its trees' leaves
(class fractions for classifiers), as scikit-learn's predict and predict_proba do."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from sqlglot import exp

from toolkit.ml.compile.features import HELPER, PreparedFeature
from toolkit.ml.compile.layers import Layers, ref
from toolkit.ml.compile.linear import class_probabilities
from toolkit.ml.compile.lookup import Lookup, lookup
from toolkit.ml.compile.sql import NotCompilable, check_size, number, paren, total
from toolkit.ml.features.preprocess import LABEL, MULTI_HOT, NUMERIC, SPARSE
from toolkit.ml.inference.trees import CategoricalSplits, Tree, boosted_trees, forest_trees, node_count

BYTES_PER_NODE = 64  # an estimate of the SQL one tree node takes, to refuse a model before writing it all


class _Inputs:
    """The design column a tree split reads → its SQL: a numeric feature, or a categorical feature's label code,
    looked up once per row in a layer of its own (`__toolkit_c<i>`) before the trees read it."""

    def __init__(self, layers: Layers, features: Sequence[PreparedFeature]) -> None:
        self.by_column: dict[int, tuple[str, bool]] = {}  # design column → (the layer column, may be NULL)
        codes: list[tuple[str, Lookup]] = []
        offset = 0
        for index, feature in enumerate(features):
            f = feature.feature
            if f.kind == NUMERIC:
                self.by_column[offset] = (feature.name, False)
            elif f.encoding == LABEL:
                name = f"{HELPER}c{index}"
                codes.append((name, lookup(index, feature.name, [(c, [float(i)]) for i, c in enumerate(f.categories)],
                                           [None], keep_defaults=True, counts=feature.counts)))
                self.by_column[offset] = (name, True)
            elif f.kind in (MULTI_HOT, SPARSE):
                raise NotCompilable(f"tree feature {f.column} is an ARRAY column")
            else:
                raise NotCompilable(f"tree feature {f.column} is {f.encoding}-encoded")
            offset += f.width
        if codes:
            layers.add([(name, lk.value(0)) for name, lk in codes],
                       [join for join in (lk.join() for _, lk in codes) if join is not None])

    def split(self, column: int, threshold: float, missing_left: bool) -> exp.Expression:
        name, nullable = self.by_column[column]
        condition: exp.Expression = exp.LTE(this=ref(name), expression=number(threshold))
        if nullable and missing_left:  # a NULL code takes the missing-value branch; ELSE is the right child
            condition = exp.Or(this=exp.Is(this=ref(name), expression=exp.Null()), expression=condition)
        return condition


def _case(tree: Tree, node: int, inputs: _Inputs, leaf: Callable[[int], exp.Expression]) -> exp.Expression:
    """The subtree under `node` as nested CASE: WHEN <split> THEN <left subtree> ELSE <right subtree>."""
    if tree.is_leaf[node]:
        return leaf(node)
    split = inputs.split(int(tree.feature[node]), float(tree.threshold[node]), bool(tree.missing_left[node]))
    return exp.Case(ifs=[exp.If(this=split, true=_case(tree, int(tree.left[node]), inputs, leaf))],
                    default=_case(tree, int(tree.right[node]), inputs, leaf))


# --- boosted trees ----------------------------------------------------------------------------------------------------
def boosted_scores(layers: Layers, features: Sequence[PreparedFeature], estimator, limit: int) -> list[str]:
    """The raw scores (one per tree of an iteration): baseline + every iteration's tree, in order."""
    nodes = node_count(estimator)
    check_size(nodes * BYTES_PER_NODE, limit, f"its trees ({nodes:,} nodes)")
    try:
        iterations = boosted_trees(estimator)
    except CategoricalSplits as error:
        raise NotCompilable(str(error)) from None
    inputs = _Inputs(layers, features)
    per_iteration = len(iterations[0]) if iterations else 1
    trees = [(f"{HELPER}t{i}_{k}", _case(tree, 0, inputs, lambda n, t=tree: number(t.values[n, 0])))
             for i, iteration in enumerate(iterations) for k, tree in enumerate(iteration)]
    layers.add(trees)
    baseline = np.asarray(estimator._baseline_prediction, np.float64).reshape(-1)
    scores = [f"{HELPER}raw{k}" for k in range(per_iteration)]
    layers.add([(score, total([number(baseline[k]), *(ref(name) for name, _ in trees[k::per_iteration])]))
                for k, score in enumerate(scores)])
    return scores


def boosted_regression(layers: Layers, features: Sequence[PreparedFeature], estimator, limit: int) -> exp.Expression:
    if estimator.loss not in ("squared_error",):
        raise NotCompilable(f"boosted-tree loss {estimator.loss!r}")
    (score,) = boosted_scores(layers, features, estimator, limit)
    return ref(score)


def boosted_probabilities(layers: Layers, features: Sequence[PreparedFeature], estimator, limit: int) -> list[str]:
    return class_probabilities(layers, boosted_scores(layers, features, estimator, limit))


# --- random forests ---------------------------------------------------------------------------------------------------
def forest_outputs(layers: Layers, features: Sequence[PreparedFeature], estimator, limit: int,
                   n_outputs: int) -> list[str]:
    """The forest's mean leaf values, one column per output: the value of a regressor; a classifier's class
    fractions. A tree's leaf is one number (a regressor's value, a binary classifier's positive fraction, whose
    complement gives the other class) or the list of the K fractions."""
    nodes = node_count(estimator)
    per_leaf = 1 if n_outputs <= 2 else n_outputs
    check_size(nodes * per_leaf * BYTES_PER_NODE, limit, f"its {len(estimator.estimators_)} trees ({nodes:,} nodes)")
    trees = forest_trees(estimator, classifier=n_outputs > 1)
    inputs = _Inputs(layers, features)
    columns = []
    for i, tree in enumerate(trees):
        values = tree.values
        if per_leaf == 1:
            leaf = lambda n, v=values: number(v[n][-1])  # noqa: E731
        else:
            leaf = lambda n, v=values: exp.Array(expressions=[number(x) for x in v[n]])  # noqa: E731
        columns.append((f"{HELPER}t{i}", _case(tree, 0, inputs, leaf)))
    layers.add(columns)
    n = number(float(len(trees)))
    if per_leaf == 1:
        mean = f"{HELPER}mean{n_outputs - 1}"
        layers.add([(mean, exp.Div(this=paren(total(ref(name) for name, _ in columns)), expression=n))])
        if n_outputs == 1:
            return [mean]
        layers.add([(f"{HELPER}mean0", exp.Sub(this=number(1.0), expression=ref(mean)))])
        return [f"{HELPER}mean0", mean]
    means = [f"{HELPER}mean{k}" for k in range(n_outputs)]
    parts = [[exp.Bracket(this=ref(name), expressions=[exp.Literal.number(k)]) for name, _ in columns]
             for k in range(n_outputs)]
    layers.add([(m, exp.Div(this=paren(total(part)), expression=n.copy())) for m, part in zip(means, parts)])
    return means
