"""Feature attributions per input column — a linear model's weight × (x − mean), a boosted-tree or random-forest
model's Tree SHAP values: what ML.EXPLAIN_PREDICT reports for each row, and what ML.GLOBAL_EXPLAIN aggregates.

ML.GLOBAL_EXPLAIN is "the entire model['s explanation] by aggregating the local explanations of the evaluation
data" (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-global-explain): training
with ENABLE_GLOBAL_EXPLAIN = TRUE computes each input column's mean absolute attribution over the eval split's rows
(the training rows without an eval split), each row explaining its predicted class as ML.EXPLAIN_PREDICT does, and
stores it with the model version. For classifiers it also computes each class's (class_level_explain: "global
feature importances [...] for each class"), every row explaining that class's score: a multiclass linear model's
class weights, a multiclass boosted model's class trees, a forest's class probability (all classes in one Tree SHAP
pass); a binary model's two classes score ± the same log-odds (a forest p and 1 − p), so both have the model-level
values. The model-level values pick each row's predicted class among the per-class ones; a multiclass boosted
model thus runs every tree over every row, K times the work of the model-level values alone.

Linear models use every row. Tree SHAP costs about rows × leaves × depth², so beyond a bound a uniform sample of the
rows, drawn with the model's seed (a retraining gives the same values), stands for them: at most
`GLOBAL_EXPLAIN_ROWS`, fewer for many leaves (`LEAF_ROWS` leaf-rows in all), never fewer than `MIN_ROWS`. Measured
on 2 loaded cores: 20 boosted trees of depth 6, 2,000 rows in 2 s; 100 forest trees of depth 15 (100,000 leaves),
2,000 rows in 290 s, hence 200 rows in about 30 s."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from toolkit.ml.inference.trees import trees
from toolkit.ml.inference.treeshap import PreparedTree, prepare, tree_shap
from toolkit.ml.types.tasks import Family, chosen_classes

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

GLOBAL_EXPLAIN_ROWS = 2_000
MIN_ROWS = 200
LEAF_ROWS = 20_000_000


def input_sources(trained: TrainedModel) -> tuple[list[str], np.ndarray]:
    """The model's input columns, and for each design-matrix column the index of the input it is computed from
    (a TIMESTAMP's epoch and _TS_ parts all come from the TIMESTAMP column)."""
    inputs = trained.preprocessor.input_columns
    position = {name: i for i, name in enumerate(inputs)}
    sources = [position[f.column] for f in trained.preprocessor.features for _ in range(f.width)]
    return inputs, np.asarray(sources, dtype=np.int64)


def by_input(values: np.ndarray, sources: np.ndarray, n_inputs: int) -> np.ndarray:
    """Sum the design-matrix columns of `values` (rows × width) per input column (rows × inputs)."""
    out = np.zeros((values.shape[0], n_inputs), dtype=np.float64)
    for j in range(n_inputs):
        out[:, j] = values[:, sources == j].sum(axis=1)
    return out


def linear_parameters(trained: TrainedModel) -> tuple[np.ndarray, np.ndarray]:
    """Weights (rows × design width: one row per class for multiclass logistic regression, else one row) and
    intercepts of a LINEAR_REG / LOGISTIC_REG model, in the standardized (design-matrix) space."""
    estimator = trained.estimator
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, dtype=np.float64))
    if intercept.shape[0] != coef.shape[0]:
        intercept = np.broadcast_to(intercept, (coef.shape[0],)).copy()
    return coef, intercept


def numeric_means(trained: TrainedModel) -> np.ndarray:
    """Each design-matrix column's value at the training means: (mean - center) / scale for numeric features
    (0 when standardized), 0 for categorical ones (their all-zero encoding)."""
    values: list[float] = []
    for feature in trained.preprocessor.features:
        if feature.kind == "numeric":
            values.append((feature.mean - feature.center) / feature.scale)
        else:
            values.extend([0.0] * feature.width)
    return np.asarray(values, dtype=np.float64)


class TreeExplainer:
    """A tree model's node arrays, prepared once for Tree SHAP (raises ValueError for trees it cannot read)."""

    def __init__(self, trained: TrainedModel):
        self.trained = trained
        self.inputs, sources = input_sources(trained)
        self.trees = trees(trained)
        self.prepared: list[PreparedTree] = [prepare(tree, sources) for tree in self.trees]

    def attributions(self, X: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row of X, the Tree SHAP attribution of each input column and the baseline (the trees' expected
        output), explaining the raw score of class `chosen` (boosted trees: binary's positive class, whose sign the
        caller flips for the negative one) or the forest's averaged output (its probability for classifiers)."""
        trained, estimator = self.trained, self.trained.estimator
        n, boosted = len(X), trained.model_type.family is Family.BOOSTED_TREE
        attributions = np.zeros((n, len(self.inputs)))
        baseline = np.zeros(n)
        classes = len(trained.classes or ())
        forest_classes = not boosted and classes > 0
        groups = range(classes) if (boosted and classes > 2) or forest_classes else [0]
        for k in groups:
            rows = np.flatnonzero(chosen == k) if len(groups) > 1 else np.arange(n)
            if len(rows) == 0:
                continue
            members = [p for p in self.prepared if p.tree.output == k] if boosted else self.prepared
            column = k if forest_classes else 0
            X_rows = X[rows]
            for prepared in members:
                values = prepared.tree.values[:, column]
                attributions[rows] += tree_shap(X_rows, prepared, values, len(self.inputs))
                baseline[rows] += values[0]
            if boosted:
                baseline[rows] += np.ravel(estimator._baseline_prediction)[k]
        if not boosted:  # a forest averages its trees
            attributions /= len(self.trees)
            baseline /= len(self.trees)
        return attributions, baseline

    def outputs(self, X: np.ndarray) -> np.ndarray:
        """Per output the trees explain (outputs × rows × inputs), the Tree SHAP attributions of every row of X:
        a multiclass boosted model's raw score of each class, a forest classifier's probability of each class,
        else the one output (boosted binary: the positive class's log-odds)."""
        trained = self.trained
        boosted, classes = trained.model_type.family is Family.BOOSTED_TREE, len(trained.classes or ())
        if boosted:
            count = classes if classes > 2 else 1
            out = np.zeros((count, len(X), len(self.inputs)))
            for prepared in self.prepared:
                out[prepared.tree.output if count > 1 else 0] += tree_shap(
                    X, prepared, prepared.tree.values[:, 0], len(self.inputs))
            return out
        count = max(classes, 1)
        out = np.zeros((count, len(X), len(self.inputs)))
        for prepared in self.prepared:  # every class's probability from one pass over the paths
            out += tree_shap(X, prepared, prepared.tree.values[:, :count], len(self.inputs))
        return out / len(self.trees)


def predicted(trained: TrainedModel, X: np.ndarray, threshold: float | None = None) -> tuple[np.ndarray | None,
                                                                                             np.ndarray]:
    """Class probabilities (None for regressors) and the predicted class index of each row (0 for regressors)."""
    if trained.classes is None:
        return None, np.zeros(len(X), np.int64)
    proba = trained.estimator.predict_proba(X)
    return proba, chosen_classes(proba, threshold)


def sample_rows(leaves: int) -> int:
    """How many rows ML.GLOBAL_EXPLAIN's attributions are averaged over at most, for trees with `leaves` leaves."""
    return min(GLOBAL_EXPLAIN_ROWS, max(MIN_ROWS, LEAF_ROWS // max(leaves, 1)))


def linear_attributions(trained: TrainedModel, X: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Per row of X, each input column's attribution in a linear or logistic model, weight × (x − the training
    mean) summed over the input's encoded columns, for class `chosen` (multiclass; binary models score the positive
    class, whose sign ML.EXPLAIN_PREDICT flips for the negative one)."""
    coef, _ = linear_parameters(trained)
    inputs, sources = input_sources(trained)
    weights = coef[chosen] if coef.shape[0] > 1 else coef[:1]
    return by_input((X - numeric_means(trained)) * weights, sources, len(inputs))


def sparse_linear_attributions(coef: np.ndarray, means: np.ndarray, sources: np.ndarray, n_inputs: int,
                               X: sp.csr_matrix, explained: np.ndarray) -> np.ndarray:
    """linear_attributions of the rows of a CSR design (rows × inputs), each row explaining class `explained` (its
    weight row of `coef`): per class, its rows times the weights gathered per input (width × inputs), less the
    means' part; no rows × width dense matrix."""
    out = np.empty((X.shape[0], n_inputs), dtype=np.float64)
    for k in np.unique(explained):
        gather = sp.csr_matrix((coef[k], (np.arange(len(sources)), sources)), shape=(len(sources), n_inputs))
        rows = np.flatnonzero(explained == k)
        out[rows] = np.asarray((X[rows] @ gather).todense()) - gather.T @ means
    return out


def _linear_output(trained: TrainedModel, X: np.ndarray | sp.csr_matrix, row: int) -> np.ndarray:
    """Every row's attribution of each input column (rows × inputs) towards the linear score of weight row `row`
    (a multiclass model's class, else the one score), without a rows × width dense product for a CSR design."""
    coef, _ = linear_parameters(trained)
    inputs, sources = input_sources(trained)
    means = numeric_means(trained)
    if sp.issparse(X):
        return sparse_linear_attributions(coef, means, sources, len(inputs), X, np.full(X.shape[0], row))
    return by_input((X - means) * coef[row], sources, len(inputs))


def mean_abs_attributions(trained: TrainedModel, X: np.ndarray | sp.csr_matrix) -> dict[tuple[int | None, str],
                                                                                      float]:
    """Each input column's mean absolute attribution over the rows of X: keyed (None, input), each row explaining
    its predicted class (ML.GLOBAL_EXPLAIN); for classifiers also (k, input), every row explaining class k's score
    (class_level_explain; a binary model's two classes score ± the same log-odds, or a forest's complementary
    probabilities, so both have the same values). Every row for linear models, a seeded sample of `sample_rows` of
    them beyond that many for trees."""
    if trained.model_type.has_weights:
        inputs = input_sources(trained)[0]
        outputs = linear_parameters(trained)[0].shape[0]
        per_output: Iterable[np.ndarray] = (np.abs(_linear_output(trained, X, k)) for k in range(outputs))
    else:
        explainer = TreeExplainer(trained)
        inputs = explainer.inputs
        bound = sample_rows(sum(int(tree.is_leaf.sum()) for tree in explainer.trees))
        if X.shape[0] > bound:
            X = X[np.sort(np.random.default_rng(trained.seed).choice(X.shape[0], bound, replace=False))]
        per_output = np.abs(explainer.outputs(X))
        outputs = len(per_output)
    classes, n = len(trained.classes or ()), X.shape[0]
    if n == 0:
        return {(k, name): 0.0 for k in (None, *range(classes)) for name in inputs}
    chosen = predicted(trained, X)[1]
    model_sums, output_sums = np.zeros(len(inputs)), np.zeros((outputs, len(inputs)))
    for k, values in enumerate(per_output):
        output_sums[k] = values.sum(axis=0)
        model_sums += values[chosen == k].sum(axis=0) if outputs > 1 else output_sums[k]
    means = {(None, name): float(v) / n for name, v in zip(inputs, model_sums)}
    for k in range(classes):
        means.update({(k, name): float(v) / n for name, v in zip(inputs, output_sums[k if outputs > 1 else 0])})
    return means
