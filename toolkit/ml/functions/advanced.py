"""ML.ADVANCED_WEIGHTS: ML.WEIGHTS with each weight's standard error and p-value.

https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-advanced-weights — linear and
binary logistic regression trained with CALCULATE_P_VALUES = TRUE, DUMMY_ENCODING and L1_REG = 0. One row per
weight: processed_input, category (NULL for numeric inputs and the intercept `__INTERCEPT__`), weight,
standard_error, p_value (two-sided: Student's t with the residual degrees of freedom for linear regression, the
normal distribution for logistic regression). With standardize = FALSE (the default) the weights are in the raw
inputs' units, as ML.WEIGHTS gives them, and the covariance is carried through the same linear map."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from scipy import stats

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

INTERCEPT = "__INTERCEPT__"


def advanced_weights_applies(trained: TrainedModel) -> str | None:
    if getattr(trained.estimator, "toolkit_covariance_", None) is None:
        return ("ML.ADVANCED_WEIGHTS needs a LINEAR_REG or binary LOGISTIC_REG model trained with "
                "CALCULATE_P_VALUES = TRUE (and CATEGORY_ENCODING_METHOD = 'DUMMY_ENCODING', L1_REG = 0)")
    return None


def raw_unit_map(trained: TrainedModel, standardize: bool) -> np.ndarray:
    """The matrix taking design-space parameters (weights, then intercept) to the reported ones."""
    width = trained.preprocessor.width
    M = np.eye(width + 1)
    if standardize:
        return M
    offset = 0
    for feature in trained.preprocessor.features:
        if feature.kind == "numeric":
            M[offset, offset] = 1.0 / feature.scale
            M[width, offset] = -feature.center / feature.scale
        offset += feature.width
    return M


def advanced_weights_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    estimator = trained.estimator
    M = raw_unit_map(trained, bool(settings.get("standardize")))
    params = M @ np.concatenate([np.ravel(estimator.coef_), np.ravel(estimator.intercept_)])
    errors = np.sqrt(np.maximum(np.diag(M @ estimator.toolkit_covariance_ @ M.T), 0.0))
    scores = np.abs(params / errors)
    dof = estimator.toolkit_dof_
    p_values = 2 * (stats.t.sf(scores, dof) if dof is not None else stats.norm.sf(scores))
    names, categories = [], []
    for feature in trained.preprocessor.features:
        for _, category in feature.output_columns():
            names.append(feature.name)
            categories.append(None if feature.kind == "numeric" else category)
    names.append(INTERCEPT)
    categories.append(None)
    return pa.table({"processed_input": pa.array(names, pa.string()), "category": pa.array(categories, pa.string()),
                     "weight": pa.array(params, pa.float64()), "standard_error": pa.array(errors, pa.float64()),
                     "p_value": pa.array(p_values, pa.float64())})
