"""ML.EXPLAIN_PREDICT and ML.GLOBAL_EXPLAIN: feature attributions of linear and tree models.

ML.EXPLAIN_PREDICT streams: each input batch comes back as predicted_<label>, `probability`
(classifiers: the probability of the predicted class), top_feature_attributions (list<struct<feature,
attribution>>: the top_k_features input columns by absolute attribution, largest first), baseline_prediction_value,
prediction_value and approximation_error = |baseline + sum of all attributions - prediction_value|, then the input's
columns (BigQuery's order). Attributions
are per input column of the training query (a TIMESTAMP's epoch and _TS_ parts, a one-hot column's categories are
summed into their column), and explain the prediction in the model's additive space:

- LINEAR_REG / LOGISTIC_REG — exact: attribution = weight × (x − baseline x) over the encoded columns, where the
  baseline row has every numeric input at its training mean and every categorical input at the all-zero
  encoding (an unseen category). The baseline prediction is then the intercept of the standardized model
  (BigQuery: "the intercept for linear models"). Regression explains the predicted value; logistic regression the
  logit of the predicted class (binary: ± the positive class's log-odds; multiclass: that class's linear score).
  approximation_error is 0 up to rounding.
- BOOSTED_TREE_* / RANDOM_FOREST_* — Tree SHAP, as BigQuery documents for them
  (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-explain-predict): the exact
  path-dependent Shapley values of the input columns (toolkit.ml.inference.treeshap), the value of a set of columns
  being the trees' expectation when those columns are known and the other splits are averaged by training cover.
  Contributions over all trees plus the trees' root expectations (plus the boosting's initial score) add up to the
  prediction, so approximation_error is 0 up to rounding. Boosted trees explain the raw score: the prediction
  (regressors) or the predicted class's logit (binary: ± the positive class's log-odds; multiclass: its raw score
  before softmax). Random forests explain the average of the trees: the prediction (regressors) or the predicted
  class's probability (classifiers).
- DNN, KMEANS and PCA models are refused (BigQuery explains DNNs with integrated gradients, not implemented).

ML.GLOBAL_EXPLAIN (models trained with ENABLE_GLOBAL_EXPLAIN = TRUE): one row per input column, feature and
attribution, largest first. With STRUCT(TRUE AS class_level_explain), classifiers only: class_label (the class as
a STRING; the page calls the column `<class_name>`), feature, attribution — per class in ascending order, its top
CLASS_LEVEL_FEATURES input columns, largest first: the mean absolute attribution towards that class's score over
the same rows, every row explaining that class (toolkit.ml.inference.attributions), stored with the version
(`_toolkit.model_class_explain`). Regressors refuse it ("Regression models [...] only have model-level global
feature importance", https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-global-explain);
a version stored before the per-class values were kept asks to be retrained.
- Linear and tree models: each input column's mean absolute attribution (as ML.EXPLAIN_PREDICT computes it) over the
  eval split's rows (the training rows without one; for trees a seeded sample beyond a bound,
  toolkit.ml.inference.attributions.sample_rows), each row explaining its predicted class, computed at training
  (toolkit.ml.inference.attributions) and stored with the version (`_toolkit.model_global_explain`).
- Linear versions stored before those were kept: the mean absolute attribution over the training rows, estimated
  from the statistics stored at training: numeric inputs |weight| × E|x − mean| / stddev from the stored 20-bin
  histogram (NULLs, imputed with the mean, count as 0), one-hot inputs sum over categories of share × |weight| from the stored category counts
  (categories beyond the stored top 1,000 at their mean |weight|), TIMESTAMP parts (no stored distribution) the
  mean |weight| of their categories; multiclass: the average over the classes' weights. The per-column values of
  an input with several encoded parts (a TIMESTAMP) are added."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp

from toolkit.ml.features.transform import without_prefixed
from toolkit.ml.functions.evaluate import check_threshold, predicted_classes
from toolkit.ml.functions.support import (
    class_array,
    function_error,
    label_arrow_type,
    naming,
    ragged_structs,
    type_names,
)
from toolkit.ml.inference.attributions import (
    TreeExplainer,
    by_input,
    input_sources,
    linear_parameters,
    numeric_means,
    sparse_linear_attributions,
)
from toolkit.ml.inference.predict import design_matrix, predict
from toolkit.ml.types.tasks import Family

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

# "For each class, only the top 10 most important features are returned."
# (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-global-explain)
CLASS_LEVEL_FEATURES = 10
_ATTRIBUTION = pa.struct([("feature", pa.string()), ("attribution", pa.float64())])


def _explainable(trained: TrainedModel) -> bool:
    return trained.model_type.explainable


def _supported() -> str:
    return type_names(lambda t: t.explainable)


def explain_applies(trained: TrainedModel) -> str | None:
    if _explainable(trained):
        return None
    why = ("DNN models are explained by integrated gradients in BigQuery, which the toolkit does not implement"
           if trained.model_type.family is Family.DNN else "it has no label to explain; use ML.PREDICT")
    return f"ML.EXPLAIN_PREDICT supports {_supported()} models; {why}"


# --- ML.EXPLAIN_PREDICT ---------------------------------------------------------------------------------------------
def explain_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
    fields = _output_fields(trained)
    raw = without_prefixed(input_schema)  # the raw input columns pass through, not TRANSFORM's outputs
    with naming("EXPLAIN_PREDICT", trained):
        predict(trained, input_schema.empty_table())  # checks the input's columns
        _check_clash(trained, raw.names, fields)
    return pa.schema([*fields, *raw])  # BigQuery's order: the explanation's columns, then the input's


def _check_clash(trained: TrainedModel, names: list[str], fields: list[pa.Field]) -> None:
    clash = sorted({n.lower() for n in names} & {f.name.lower() for f in fields})
    if clash:
        raise function_error("EXPLAIN_PREDICT", trained, f"the input already has a column {clash[0]!r}",
                             hint="leave it out of the input query or rename it")


def _output_fields(trained: TrainedModel) -> list[pa.Field]:
    label = label_arrow_type(trained) if trained.classes is not None else pa.float64()
    fields = [pa.field(f"predicted_{trained.label}", label)]
    if trained.classes is not None:
        fields.append(pa.field("probability", pa.float64()))
    return fields + [pa.field("top_feature_attributions", pa.list_(_ATTRIBUTION)),
                     pa.field("baseline_prediction_value", pa.float64()), pa.field("prediction_value", pa.float64()),
                     pa.field("approximation_error", pa.float64())]


def explain_run(trained: TrainedModel, batches: Iterable[pa.RecordBatch] | None,
                settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    function = "EXPLAIN_PREDICT"
    if batches is None:
        raise function_error(function, trained, "needs input rows to explain",
                             hint=f"ML.EXPLAIN_PREDICT(MODEL {trained.name}, (SELECT …))")
    threshold = settings.get("threshold")
    check_threshold(function, trained, threshold)
    top_k = settings.get("top_k_features") or 5
    explainer = _Explainer(trained)
    fields = _output_fields(trained)
    return _explain_batches(trained, batches, explainer, threshold, top_k, fields)


def _explain_batches(trained: TrainedModel, batches: Iterable[pa.RecordBatch], explainer: _Explainer,
                     threshold: float | None, top_k: int, fields: list[pa.Field]) -> Iterator[pa.RecordBatch]:
    names = [f.name for f in fields]
    for batch in batches:
        if batch.num_rows == 0:
            continue
        raw = without_prefixed(batch)
        with naming("EXPLAIN_PREDICT", trained):
            _check_clash(trained, raw.schema.names, fields)
            columns = explainer.explain(pa.Table.from_batches([batch]), threshold, top_k)
        arrays = [*(columns[name] for name in names), *raw.columns]
        yield pa.RecordBatch.from_arrays(arrays, schema=pa.schema([*fields, *raw.schema]))


class _Explainer:
    """What explaining needs from the model, computed once: linear weights or the trees' node arrays."""

    def __init__(self, trained: TrainedModel):
        self.trained = trained
        self.inputs, self.sources = input_sources(trained)
        self.linear = trained.model_type.has_weights
        if self.linear:
            self.coef, self.intercept = linear_parameters(trained)
            self.means = numeric_means(trained)
        else:
            try:
                self.tree_explainer = TreeExplainer(trained)
            except ValueError as error:
                raise function_error("EXPLAIN_PREDICT", trained, f"its trees cannot be read: {error}",
                                     hint="retrain the model") from None

    def explain(self, table: pa.Table, threshold: float | None, top_k: int) -> dict[str, pa.Array]:
        trained, estimator = self.trained, self.trained.estimator
        X = design_matrix(trained, table, allow_sparse=True)  # CSR for a wide one-hot linear design
        n = X.shape[0]
        columns: dict[str, pa.Array] = {}
        if trained.classes is not None:
            proba = estimator.predict_proba(X)
            chosen = predicted_classes(trained, proba, threshold)
            columns[f"predicted_{trained.label}"] = class_array(trained, chosen)
            columns["probability"] = pa.array(proba[np.arange(n), chosen], pa.float64())
        else:
            proba, chosen = None, np.zeros(n, np.int64)
        attributions, baseline, value = (self._linear if self.linear else self._trees)(X, proba, chosen)
        if trained.classes is None:
            columns[f"predicted_{trained.label}"] = pa.array(value, pa.float64())
        k = min(top_k, len(self.inputs))
        order = np.argsort(-np.abs(attributions), axis=1, kind="stable")[:, :k]
        columns["top_feature_attributions"] = ragged_structs(
            np.full(n, k), [("feature", pa.array(self.inputs, pa.string()).take(pa.array(order.ravel()))),
                            ("attribution", pa.array(np.take_along_axis(attributions, order, axis=1).ravel()))])
        columns["baseline_prediction_value"] = pa.array(baseline, pa.float64())
        columns["prediction_value"] = pa.array(value, pa.float64())
        columns["approximation_error"] = pa.array(np.abs(baseline + attributions.sum(axis=1) - value), pa.float64())
        return columns

    def _sign(self, chosen: np.ndarray) -> np.ndarray:
        """Binary models score the positive class; the negative class's log-odds are the opposite."""
        return np.where(chosen == 1, 1.0, -1.0) if len(self.trained.classes or ()) == 2 else np.ones(len(chosen))

    def _linear(self, X: np.ndarray, proba: np.ndarray | None,
                chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        multiclass = self.coef.shape[0] > 1
        n = X.shape[0]
        intercept = self.intercept[chosen] if multiclass else np.full(n, self.intercept[0])
        if sp.issparse(X):  # per input, without a rows × width dense product
            explained = chosen if multiclass else np.zeros(n, np.int64)
            design = sparse_linear_attributions(self.coef, self.means, self.sources, len(self.inputs), X, explained)
            baseline = intercept + (self.coef @ self.means)[explained]
        else:
            weights = self.coef[chosen] if multiclass else np.broadcast_to(self.coef[0], X.shape)
            design = by_input((X - self.means) * weights, self.sources, len(self.inputs))
            baseline = intercept + (weights * self.means).sum(axis=1)
        estimator = self.trained.estimator
        if self.trained.classes is None:
            return design, baseline, np.asarray(estimator.predict(X), np.float64)
        scores = np.asarray(estimator.decision_function(X), np.float64)
        if multiclass:
            return design, baseline, scores[np.arange(n), chosen]
        sign = self._sign(chosen)
        return design * sign[:, None], baseline * sign, scores * sign

    def _trees(self, X: np.ndarray, proba: np.ndarray | None,
               chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        trained, estimator = self.trained, self.trained.estimator
        n, boosted = len(X), trained.model_type.family is Family.BOOSTED_TREE
        classes = len(trained.classes or ())
        attributions, baseline = self.tree_explainer.attributions(X, chosen)
        if classes == 0:
            return attributions, baseline, np.asarray(estimator.predict(X), np.float64)
        if not boosted:
            return attributions, baseline, proba[np.arange(n), chosen]
        scores = np.asarray(estimator.decision_function(X), np.float64)
        if classes > 2:
            return attributions, baseline, scores[np.arange(n), chosen]
        sign = self._sign(chosen)
        return attributions * sign[:, None], baseline * sign, scores * sign


# --- ML.GLOBAL_EXPLAIN ----------------------------------------------------------------------------------------------
def global_explain_applies(trained: TrainedModel) -> str | None:
    if not _explainable(trained):
        return f"ML.GLOBAL_EXPLAIN supports {_supported()} models"
    if not trained.options.get("ENABLE_GLOBAL_EXPLAIN"):
        return (f"{trained.name} was trained without ENABLE_GLOBAL_EXPLAIN; retrain it with "
                "OPTIONS(..., enable_global_explain = TRUE)")
    return None


def global_explain_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    if trained.trial_id is not None:  # training explains the model it keeps, the optimal trial's
        raise function_error("GLOBAL_EXPLAIN", trained, f"tuning keeps the global explanation of the optimal trial "
                             f"only, not of trial {trained.trial_id}",
                             hint=f"leave trial_id out of the STRUCT for the optimal trial's; ML.EXPLAIN_PREDICT "
                                  f"with {trained.trial_id} AS trial_id explains that trial's predictions row by row")
    if settings.get("class_level_explain"):
        return _class_level(trained)
    if trained.global_explain is None and trained.model_type.has_weights:
        inputs, values = _linear_global(trained)  # a version stored before the attributions were kept
    else:
        if trained.global_explain is None:
            raise function_error("GLOBAL_EXPLAIN", trained, f"version {trained.version} was stored before tree "
                                 "models kept their mean absolute attributions",
                                 hint=f"retrain it (toolkit build --select {trained.name}); ML.FEATURE_IMPORTANCE "
                                      "reports the splits' gain meanwhile")
        inputs = list(trained.global_explain)
        values = np.array([trained.global_explain[name] for name in inputs], np.float64)
    order = np.argsort(-values, kind="stable")
    return pa.table({"feature": pa.array([inputs[i] for i in order], pa.string()),
                     "attribution": pa.array(values[order], pa.float64())})


def _class_level(trained: TrainedModel) -> pa.Table:
    """STRUCT(TRUE AS class_level_explain): per class of the model (in its classes' order), the class's top
    CLASS_LEVEL_FEATURES input columns by attribution, largest first."""
    if trained.classes is None:
        raise function_error("GLOBAL_EXPLAIN", trained, f"class_level_explain applies to classification models; a "
                             f"{trained.options.model_type} model has only model-level global feature importance",
                             hint="leave class_level_explain out of the STRUCT (or set it FALSE)")
    if trained.class_global_explain is None:
        raise function_error("GLOBAL_EXPLAIN", trained, f"version {trained.version} was stored before classifiers "
                             "kept each class's attributions, which class_level_explain reports",
                             hint=f"retrain it (toolkit build --select {trained.name}); without class_level_explain "
                                  "ML.GLOBAL_EXPLAIN reports the model-level attributions meanwhile")
    labels, features, values = [], [], []
    for k, per_feature in enumerate(trained.class_global_explain):
        names = list(per_feature)
        attributions = np.array([per_feature[name] for name in names], np.float64)
        for i in np.argsort(-attributions, kind="stable")[:CLASS_LEVEL_FEATURES]:
            labels.append(k)
            features.append(names[i])
            values.append(attributions[i])
    return pa.table({"class_label": pc.cast(class_array(trained, labels), pa.string()),
                     "feature": pa.array(features, pa.string()), "attribution": pa.array(values, pa.float64())})


def _linear_global(trained: TrainedModel) -> tuple[list[str], np.ndarray]:
    coef, _ = linear_parameters(trained)
    inputs, sources = input_sources(trained)
    rows = max(int(trained.split.get("training_rows") or 0), 1)
    per_class = np.zeros(len(inputs))
    for k in range(coef.shape[0]):
        offset, per_column = 0, np.zeros(coef.shape[1])
        for feature in trained.preprocessor.features:
            weights = np.abs(coef[k, offset:offset + feature.width])
            stats = trained.data_stats.get(feature.column)
            if feature.kind == "numeric":
                per_column[offset] = weights[0] * _mean_abs_deviation(feature, stats, rows) / feature.scale
            elif feature.part is not None or not stats or stats.get("kind") != "categorical":
                per_column[offset:offset + feature.width] = weights / max(feature.width, 1)  # no distribution
            else:
                per_column[offset:offset + feature.width] = _category_shares(feature, stats, rows) * weights
            offset += feature.width
        per_class += by_input(per_column[None, :], sources, len(inputs))[0]
    return inputs, per_class / coef.shape[0]


def _mean_abs_deviation(feature: Any, stats: dict | None, rows: int) -> float:
    """E|x - mean| over the training rows, from the stored histogram (NULLs sit at the mean)."""
    if not stats or stats.get("kind") != "numeric" or not stats.get("counts"):
        return 0.0
    edges, counts = np.asarray(stats["edges"], float), np.asarray(stats["counts"], float)
    centres = (edges[:-1] + edges[1:]) / 2
    total = counts.sum() + float(stats.get("null_count") or 0)
    return float((counts * np.abs(centres - feature.mean)).sum() / total) if total > 0 else 0.0


def _category_shares(feature: Any, stats: dict, rows: int) -> np.ndarray:
    """Share of the training rows in each encoded category (categories past the stored top ones share the rest)."""
    counts = stats.get("counts") or {}
    columns = feature.output_columns()
    shares = np.array([(float(stats.get("null_count") or 0) if c is None else float(counts.get(c, np.nan)))
                       for _, c in columns]) / rows
    unknown = np.isnan(shares)
    if unknown.any():
        shares[unknown] = float(stats.get("other_count") or 0) / rows / unknown.sum()
    return shares
