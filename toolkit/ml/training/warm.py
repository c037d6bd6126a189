"""WARM_START: a linear model's gradient descent starts from the previous version's weights.

BigQuery retrains a model from its current weights when WARM_START = TRUE; MODEL_TYPE, the label and the training
data's schema must stay the same
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm#warm_start).
The previous weights are mapped onto the new design by encoded column (input, category): a category new in this
training starts at 0, and the weights apply to the new standardization as they are (a starting point only)."""

from __future__ import annotations

import numpy as np

from toolkit.errors import ModelError
from toolkit.ml.model import TrainedModel


def start_from(previous: TrainedModel | None, unfitted: TrainedModel) -> np.ndarray:
    """The (outputs, features + 1) starting parameters for `unfitted`, from `previous`; a ModelError if it does not
    match (MODEL_TYPE, label, classes, feature columns and types)."""
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
    coef = np.atleast_2d(np.asarray(previous.estimator.coef_, np.float64))
    intercept = np.atleast_1d(np.asarray(previous.estimator.intercept_, np.float64))
    old_columns = {(n.lower(), c): i for i, (n, c) in enumerate(previous.preprocessor.output_columns())}
    new_columns = unfitted.preprocessor.output_columns()
    start = np.zeros((coef.shape[0], len(new_columns) + 1))
    for j, (column, category) in enumerate(new_columns):
        i = old_columns.get((column.lower(), category))
        if i is not None:
            start[:, j] = coef[:, i]
    start[:, -1] = intercept
    return start
