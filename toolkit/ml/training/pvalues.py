"""CALCULATE_P_VALUES: the covariance of a linear model's weights, for ML.ADVANCED_WEIGHTS.

BigQuery computes standard errors and p-values for linear and binary logistic regression trained with
CALCULATE_P_VALUES = TRUE, DUMMY_ENCODING and L1_REG = 0; multiclass models are not supported
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-advanced-weights).
The formulas are the textbook ones on the training rows' design A = [X, 1] (row weights W):
- LINEAR_REG (weighted least squares): cov = s^2 (A'WA)^-1, s^2 = sum w r^2 / (n - k), t-tests with n - k
  degrees of freedom;
- LOGISTIC_REG (binary): cov = (A' diag(w p (1 - p)) A)^-1 (the inverse Fisher information), z-tests.
The covariance (design space: the weights, then the intercept) and the degrees of freedom (None: normal) are kept
on the fitted estimator as `toolkit_covariance_` and `toolkit_dof_`, so they are stored with it."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from toolkit.errors import ModelError


def attach(name: str, estimator: object, X: np.ndarray, y: np.ndarray, weights: np.ndarray | None,
           n_classes: int) -> None:
    """Compute the weights' covariance on the training rows and set it on `estimator`."""
    if n_classes > 2:
        raise ModelError(f"model {name}: CALCULATE_P_VALUES applies to linear and binary logistic regression, not "
                         f"to a multiclass model ({n_classes} classes), as on BigQuery",
                         hint="remove CALCULATE_P_VALUES, or train one binary model per class")
    n = X.shape[0]
    A = sp.hstack([X, np.ones((n, 1))], format="csr") if sp.issparse(X) else np.hstack([X, np.ones((n, 1))])
    w = np.ones(n) if weights is None else np.asarray(weights, np.float64)
    k = A.shape[1]
    coef = np.concatenate([np.ravel(estimator.coef_), np.ravel(estimator.intercept_)])
    z = A @ coef
    if n_classes:
        p = 1.0 / (1.0 + np.exp(-z))
        curvature, scale, dof = w * p * (1.0 - p), 1.0, None
    else:
        dof = n - k
        if dof <= 0:
            raise ModelError(f"model {name}: CALCULATE_P_VALUES needs more training rows ({n}) than weights "
                             f"({k})", hint="train on more rows, or with fewer features")
        curvature, scale = w, float(w @ (np.asarray(y, np.float64) - z) ** 2) / dof
    if sp.issparse(A):
        information = (A.T @ sp.diags(curvature) @ A).toarray()
    else:
        information = A.T @ (A * curvature[:, None])
    if np.linalg.matrix_rank(information) < k:
        raise ModelError(f"model {name}: CALCULATE_P_VALUES needs a full-rank design, but some features are "
                         "constant or collinear (or the classes are separable)",
                         hint="leave out constant or duplicated columns; categorical inputs need DUMMY_ENCODING")
    estimator.toolkit_covariance_ = scale * np.linalg.inv(information)
    estimator.toolkit_dof_ = dof
