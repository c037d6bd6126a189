"""LINEAR_REG, LOGISTIC_REG, PCA and KMEANS: every output is an affine form of the design matrix,
`Σ x·w + b` (the intercept added last, as scikit-learn does), computed feature by feature: a numeric feature adds
`x * w`, a categorical feature adds its lookup, the weight of its category's one-hot column.

- LOGISTIC_REG: binary `p = 1 / (1 + exp(-z))`; multiclass the softmax of the K scores (max subtracted first);
- PCA: `X @ components.T - mean @ components.T`, scikit-learn's own order;
- KMEANS (euclidean): scikit-learn's `‖x‖² - 2 x·c + ‖c‖²`, clipped at 0, square-rooted; the nearest centroids
  sorted by (distance, id), as a stable argsort orders them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlglot import exp

from toolkit.ml.compile.features import HELPER, PreparedFeature
from toolkit.ml.compile.layers import Layers, ref
from toolkit.ml.compile.lookup import Lookup, lookup
from toolkit.ml.compile.sql import NotCompilable, call, case, number, paren, text, total
from toolkit.ml.features.preprocess import DUMMY, MULTI_HOT, NUMERIC, SPARSE


def _column_of(feature: PreparedFeature, offset: int) -> dict[str | None, int]:
    """Category → its design column (absolute), for the categories that have one."""
    f = feature.feature
    start = 1 if f.encoding == DUMMY else 0
    return {c: offset + i - start for i, c in enumerate(f.categories) if i >= start}


def affine(layers: Layers, features: Sequence[PreparedFeature], weights: np.ndarray, intercepts: np.ndarray,
           prefix: str, *, squares: bool = False) -> list[str]:
    """A layer with one column per row of `weights` (outputs × design columns): `Σ x·w + intercept`; with
    `squares` one more column, `‖x‖²`. The new columns' names, in order."""
    weights = np.atleast_2d(np.asarray(weights, np.float64))
    terms: list[list[exp.Expression]] = [[] for _ in range(len(weights) + squares)]
    lookups: list[Lookup] = []
    offset = 0
    for index, feature in enumerate(features):
        kind, width = feature.feature.kind, feature.feature.width
        if kind == NUMERIC:
            x = ref(feature.name)
            for j, row in enumerate(weights):
                if row[offset] != 0.0:
                    terms[j].append(exp.Mul(this=x.copy(), expression=number(row[offset])))
            if squares:
                terms[-1].append(exp.Mul(this=x.copy(), expression=x.copy()))
        elif kind in (MULTI_HOT, SPARSE):
            for j, row in enumerate(weights):
                if row[offset:offset + width].any():
                    terms[j].append(_array_term(feature, row[offset:offset + width]))
            if squares:
                terms[-1].append(_array_term(feature, np.ones(width), squared=True))
        else:
            columns = _column_of(feature, offset)
            entries = [(c, [*(row[i] for row in weights), *([1.0] if squares else [])])
                       for c, i in columns.items()]
            found = lookup(index, feature.name, entries, [0.0] * len(terms), counts=feature.counts)
            if found.entries:
                lookups.append(found)
                for j in range(len(terms)):
                    terms[j].append(found.value(j))
        offset += width
    if offset != weights.shape[1]:
        raise NotCompilable(f"the design has {offset} columns but the model {weights.shape[1]} weights")
    names = [f"{HELPER}{prefix}{j}" for j in range(len(terms))]
    columns = []
    for j, name in enumerate(names):
        value = total(terms[j])
        if j < len(intercepts) and intercepts[j] != 0.0:
            value = exp.Add(this=value, expression=number(intercepts[j]))
        columns.append((name, value))
    layers.add(columns, [join for join in (lk.join() for lk in lookups) if join is not None])
    return names


def _array_term(feature: PreparedFeature, weights: np.ndarray, *, squared: bool = False) -> exp.Expression:
    """Σ over an array's entries of its design column's weight: a multi-hot array's distinct known strings, or
    a sparse array's known indices times their values (NULL values count 0); `squared` sums the squared column
    values instead, for ‖x‖². NULL or empty arrays add 0, as their all-zero design columns do."""
    e = exp.to_identifier("e")
    multi_hot = feature.feature.kind == MULTI_HOT
    key = exp.column(e.copy()) if multi_hot else exp.Dot(this=e.copy(),
                                                          expression=exp.to_identifier("index", quoted=True))
    whens = [(exp.EQ(this=key.copy(), expression=text(c) if multi_hot else exp.Literal.number(c)), number(w))
             for c, w in zip(feature.feature.categories, weights) if w != 0.0]
    weight = case(whens, number(0.0))
    if multi_hot:
        entries, body = call("list_distinct", ref(feature.name)), weight
    else:
        value = exp.Coalesce(this=exp.Dot(this=e.copy(), expression=exp.to_identifier("value", quoted=True)),
                             expressions=[number(0.0)])
        entries = ref(feature.name)
        body = exp.Mul(this=exp.Mul(this=value, expression=value.copy()) if squared else value, expression=weight)
    summed = call("list_sum", call("list_transform", entries, exp.Lambda(this=body, expressions=[e])))
    return exp.Coalesce(this=summed, expressions=[number(0.0)])


def sigmoid(z: exp.Expression) -> exp.Expression:
    return exp.Div(this=number(1.0), expression=paren(exp.Add(this=number(1.0), expression=call(
        "exp", exp.Neg(this=paren(z))))))


def softmax(layers: Layers, scores: Sequence[str]) -> list[str]:
    """Two layers: `exp(z - max z)`, then each divided by their sum; the probability columns' names."""
    top = call("greatest", *(ref(s) for s in scores)) if len(scores) > 1 else ref(scores[0])
    exps = [f"{HELPER}e{k}" for k in range(len(scores))]
    layers.add([(e, call("exp", exp.Sub(this=ref(s), expression=top.copy()))) for e, s in zip(exps, scores)])
    probs = [f"{HELPER}p{k}" for k in range(len(scores))]
    denominator = paren(total(ref(e) for e in exps))
    layers.add([(p, exp.Div(this=ref(e), expression=denominator.copy())) for p, e in zip(probs, exps)])
    return probs


def class_probabilities(layers: Layers, scores: Sequence[str]) -> list[str]:
    """The class probabilities of raw scores: binary (one score) the sigmoid for the positive class and its
    complement, as scikit-learn computes them; multiclass the softmax."""
    if len(scores) > 1:
        return softmax(layers, scores)
    p0, p1 = f"{HELPER}p0", f"{HELPER}p1"
    layers.add([(p1, sigmoid(ref(scores[0])))])
    layers.add([(p0, exp.Sub(this=number(1.0), expression=ref(p1)))])
    return [p0, p1]


def logistic_probabilities(layers: Layers, features: Sequence[PreparedFeature], estimator) -> list[str]:
    return class_probabilities(layers, affine(layers, features, estimator.coef_,
                                              np.atleast_1d(estimator.intercept_), "z"))


def regression_value(layers: Layers, features: Sequence[PreparedFeature], estimator) -> exp.Expression:
    intercept = np.atleast_1d(np.asarray(estimator.intercept_, np.float64))
    (score,) = affine(layers, features, np.atleast_2d(estimator.coef_), intercept, "y")
    return ref(score)


def pca_components(layers: Layers, features: Sequence[PreparedFeature], estimator) -> list[exp.Expression]:
    if getattr(estimator, "whiten", False):
        raise NotCompilable("whitened PCA")
    components = np.asarray(estimator.components_, np.float64)
    scores = affine(layers, features, components, np.zeros(len(components)), "pc")
    shift = np.asarray(estimator.mean_, np.float64) @ components.T
    return [exp.Sub(this=ref(s), expression=number(m)) if m != 0.0 else ref(s) for s, m in zip(scores, shift)]


def centroid_distances(layers: Layers, features: Sequence[PreparedFeature], estimator) -> list[str]:
    centers = np.asarray(estimator.cluster_centers_, np.float64)
    names = affine(layers, features, centers, np.zeros(len(centers)), "dot", squares=True)
    dots, squared = names[:-1], names[-1]
    norms = (centers * centers).sum(axis=1)
    distances = [f"{HELPER}d{j}" for j in range(len(centers))]
    layers.add([(d, call("sqrt", call("greatest", exp.Add(this=paren(exp.Add(
        this=exp.Mul(this=number(-2.0), expression=ref(dot)), expression=ref(squared))), expression=number(n)),
        number(0.0)))) for d, dot, n in zip(distances, dots, norms)])
    return distances
