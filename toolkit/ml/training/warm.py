"""WARM_START: a linear model's gradient descent starts from the previous version's weights, KMEANS's Lloyd
iterations from its centroids, a DNN's epochs from its network (weights and optimizer state).

BigQuery retrains a model from its current weights when WARM_START = TRUE; MODEL_TYPE, the label and the training
data's schema must stay the same
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm#warm_start).
The previous weights are mapped onto the new design by encoded column (input, category): a category new in this
training starts at 0, and the weights (centroids) apply to the new standardization as they are (a starting point
only). KMEANS: https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-kmeans
(WARM_START); DNNs: …-create-dnn-models (WARM_START), which need the previous encoded columns exactly (a network's
input layer has one unit per column) and keep the previous HIDDEN_UNITS."""

from __future__ import annotations

import copy

import numpy as np

from toolkit.errors import ModelError
from toolkit.ml.model import TrainedModel


def _check(previous: TrainedModel | None, unfitted: TrainedModel) -> TrainedModel:
    """`previous`, if WARM_START can start from it (MODEL_TYPE, label, classes, feature columns and types); else a
    ModelError."""
    name = unfitted.name
    fix = "retrain without WARM_START (or put the earlier query back)"
    if previous is None or previous.estimator is None:
        raise ModelError(f"model {name}: WARM_START = TRUE needs a trained version of the model to start from, "
                         "and there is none", hint="train it once without WARM_START")
    if previous.options.model_type != unfitted.options.model_type:
        raise ModelError(f"model {name}: WARM_START needs the same MODEL_TYPE, but version {previous.version} is "
                         f"{previous.options.model_type}", hint=fix)
    if (previous.label or "").lower() != (unfitted.label or "").lower() or previous.classes != unfitted.classes:
        raise ModelError(f"model {name}: WARM_START needs the same label and classes as version {previous.version} "
                         f"(label {previous.label}, classes {previous.classes})", hint=fix)
    before = {c["name"].lower(): c["type"] for c in previous.feature_schema}
    now = {c["name"].lower(): c["type"] for c in unfitted.feature_schema}
    if before != now:
        changed = sorted(set(before.items()) ^ set(now.items()))
        raise ModelError(f"model {name}: WARM_START needs the feature columns of version {previous.version}; "
                         f"these differ: {', '.join(f'{c} {t}' for c, t in changed)}", hint=fix)
    return previous


def _column_map(previous: TrainedModel, unfitted: TrainedModel) -> list[int | None]:
    """For each encoded column of `unfitted`, the previous version's column of the same (input, category)."""
    old_columns = {(n.lower(), c): i for i, (n, c) in enumerate(previous.preprocessor.output_columns())}
    return [old_columns.get((column.lower(), category)) for column, category in unfitted.preprocessor.output_columns()]


def start_from(previous: TrainedModel | None, unfitted: TrainedModel) -> np.ndarray:
    """The (outputs, features + 1) starting parameters for `unfitted`, from `previous`; a ModelError if it does not
    match (MODEL_TYPE, label, classes, feature columns and types)."""
    previous = _check(previous, unfitted)
    coef = np.atleast_2d(np.asarray(previous.estimator.coef_, np.float64))
    intercept = np.atleast_1d(np.asarray(previous.estimator.intercept_, np.float64))
    mapping = _column_map(previous, unfitted)
    start = np.zeros((coef.shape[0], len(mapping) + 1))
    for j, i in enumerate(mapping):
        if i is not None:
            start[:, j] = coef[:, i]
    start[:, -1] = intercept
    return start


def centroids_from(previous: TrainedModel | None, unfitted: TrainedModel) -> np.ndarray:
    """KMEANS: the previous version's centroids as the initial ones (k × encoded columns), mapped by encoded column
    like the weights (a new category at 0); NUM_CLUSTERS, if given, must be the previous version's."""
    previous = _check(previous, unfitted)
    centers = np.asarray(previous.estimator.cluster_centers_, np.float64)
    k = unfitted.options["NUM_CLUSTERS"]
    if isinstance(k, int) and k != len(centers):
        raise ModelError(f"model {unfitted.name}: WARM_START starts from the {len(centers)} centroids of version "
                         f"{previous.version}, but NUM_CLUSTERS = {k}",
                         hint=f"set NUM_CLUSTERS = {len(centers)}, or retrain without WARM_START")
    mapping = _column_map(previous, unfitted)
    start = np.zeros((len(centers), len(mapping)))
    for j, i in enumerate(mapping):
        if i is not None:
            start[:, j] = centers[:, i]
    return start


def network_from(previous: TrainedModel | None, unfitted: TrainedModel, fresh) -> object:
    """DNN: a copy of the previous version's fitted network, with this training's options (`fresh`, the new
    unfitted MLP, gives them), to continue with more epochs."""
    previous = _check(previous, unfitted)
    fix = f"retrain without WARM_START, or train on the encoded columns of version {previous.version}"
    before = [(n.lower(), c) for n, c in previous.preprocessor.output_columns()]
    now = [(n.lower(), c) for n, c in unfitted.preprocessor.output_columns()]
    if before != now:
        changed = sorted(set(before) ^ set(now), key=str)[:5]
        raise ModelError(f"model {unfitted.name}: WARM_START of a DNN needs the encoded columns of version "
                         f"{previous.version} (its input layer has one unit each); these differ: {changed}", hint=fix)
    layers = tuple(previous.estimator.hidden_layer_sizes)
    given = unfitted.options.get("HIDDEN_UNITS")
    if isinstance(given, (list, tuple)) and tuple(given) != layers:
        raise ModelError(f"model {unfitted.name}: WARM_START continues the network of version {previous.version}, "
                         f"whose HIDDEN_UNITS are {list(layers)}, not {list(given)}",
                         hint=f"set HIDDEN_UNITS = {list(layers)} or leave it out, or retrain without WARM_START")
    network = copy.deepcopy(previous.estimator)
    options = {k: v for k, v in fresh.get_params().items() if k != "hidden_layer_sizes"}
    return network.set_params(**options)
