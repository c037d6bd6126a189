"""CALCULATE_P_VALUES and ML.ADVANCED_WEIGHTS, as documented on
https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-advanced-weights (requirements:
CALCULATE_P_VALUES = TRUE, DUMMY_ENCODING, L1_REG = 0; multiclass logistic regression not supported).
Oracle: the ordinary-least-squares formulas (statsmodels' OLS) computed here with numpy and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ml_data import IRIS, PENGUIN_MASS, connect
from scipy import stats

from toolkit.errors import ConfigError, ModelError
from toolkit.ml.functions.apply import function_rows
from toolkit.ml.store import artifact
from toolkit.ml.training.train import train_model

SETTINGS = {"calculate_p_values": True, "category_encoding_method": "DUMMY_ENCODING", "data_split_method": "NO_SPLIT"}


@pytest.fixture(scope="module")
def con():
    return connect()


def train(con, model_type, query, **options):
    return train_model(con, name="m", options={"model_type": model_type, **options}, query=query).model


def advanced(con, trained, **settings):
    return function_rows(con, "ADVANCED_WEIGHTS", trained, None, settings, [], batch_rows=1000)


def ols(con, trained, query):
    """Weights, standard errors and p-values of OLS on the raw inputs and the model's dummy columns."""
    df = con.sql(query).df()
    columns = []
    for name, category in trained.preprocessor.output_columns():
        values = df[name]
        if pd.api.types.is_numeric_dtype(values):
            columns.append(values.astype(float).fillna(values.mean()))
        else:
            columns.append((values.isna() if category is None else values == category).astype(float))
    A = np.column_stack([*columns, np.ones(len(df))])
    y = df["label"].to_numpy(float)
    beta, *_ = np.linalg.lstsq(A, y, rcond=None)
    dof = len(y) - A.shape[1]
    sigma2 = np.sum((y - A @ beta) ** 2) / dof
    errors = np.sqrt(np.diag(sigma2 * np.linalg.inv(A.T @ A)))
    return beta, errors, 2 * stats.t.sf(np.abs(beta / errors), dof)


def test_linear_reg_standard_errors_and_p_values_equal_ols(con):
    trained = train(con, "LINEAR_REG", PENGUIN_MASS, **SETTINGS)
    out = advanced(con, trained)
    assert out.column_names == ["processed_input", "category", "weight", "standard_error", "p_value"]
    beta, errors, p_values = ols(con, trained, PENGUIN_MASS)
    rows = out.to_pylist()
    assert [(r["processed_input"], r["category"]) for r in rows[:-1]] == [
        (n, c) for n, c in trained.preprocessor.output_columns()]
    assert rows[-1]["processed_input"] == "__INTERCEPT__" and rows[-1]["category"] is None
    np.testing.assert_allclose(out.column("weight").to_numpy(), beta, rtol=1e-6)
    np.testing.assert_allclose(out.column("standard_error").to_numpy(), errors, rtol=1e-6)
    np.testing.assert_allclose(out.column("p_value").to_numpy(), p_values, rtol=1e-5, atol=1e-300)
    # The weights are ML.WEIGHTS' (raw units); standardize = TRUE gives the design-space ones.
    weights = function_rows(con, "WEIGHTS", trained, None, {}, [], batch_rows=1000).to_pylist()
    numeric = {r["processed_input"]: r["weight"] for r in weights if r["weight"] is not None}
    assert {r["processed_input"]: r["weight"] for r in rows if r["processed_input"] in numeric} == \
        pytest.approx(numeric, rel=1e-9)
    scaled = advanced(con, trained, standardize=True)
    np.testing.assert_allclose(scaled.column("weight").to_numpy()[:-1], trained.estimator.coef_, rtol=1e-12)
    np.testing.assert_allclose(scaled.column("p_value").to_numpy()[:-1], p_values[:-1], rtol=1e-5, atol=1e-300)
    # Stored with the artifact.
    again = artifact.load("m", 1, *artifact.dump(trained.estimator), "LINEAR_REG")
    np.testing.assert_array_equal(again.toolkit_covariance_, trained.estimator.toolkit_covariance_)


def test_binary_logistic_p_values_are_z_tests_of_the_fisher_information(con):
    query = "SELECT species = 'virginica' AS label, sepal_length, sepal_width FROM iris"
    trained = train(con, "LOGISTIC_REG", query, **SETTINGS, early_stop=False, max_iterations=200)
    out = advanced(con, trained, standardize=True)
    X = np.column_stack([trained.preprocessor.transform(con.sql(query).to_arrow_table()), np.ones(150)])
    p = trained.estimator.predict_proba(X[:, :-1])[:, 1]
    errors = np.sqrt(np.diag(np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))))
    np.testing.assert_allclose(out.column("standard_error").to_numpy(), errors, rtol=1e-9)
    weights = out.column("weight").to_numpy()
    np.testing.assert_allclose(out.column("p_value").to_numpy(), 2 * stats.norm.sf(np.abs(weights / errors)),
                               rtol=1e-9)


def test_requirements(con):
    with pytest.raises(ConfigError, match="CALCULATE_P_VALUES needs CATEGORY_ENCODING_METHOD = 'DUMMY_ENCODING'"):
        train(con, "LINEAR_REG", PENGUIN_MASS, calculate_p_values=True)
    with pytest.raises(ConfigError, match="CALCULATE_P_VALUES needs L1_REG = 0"):
        train(con, "LINEAR_REG", PENGUIN_MASS, **SETTINGS, l1_reg=1.0)
    with pytest.raises(ModelError, match="not to a multiclass model"):
        train(con, "LOGISTIC_REG", IRIS, **SETTINGS)
    plain = train(con, "LINEAR_REG", PENGUIN_MASS)
    with pytest.raises(ModelError, match="trained with CALCULATE_P_VALUES = TRUE"):
        advanced(con, plain)


def test_ml_advanced_weights_in_sql(con):
    from toolkit.ml import save_model
    from toolkit.ml.functions.apply import applied_ml_calls
    from toolkit.sql.quoting import parse

    training = train_model(con, name="mass_p", options={"model_type": "LINEAR_REG", **SETTINGS}, query=PENGUIN_MASS)
    save_model(con, training)
    with applied_ml_calls(con, parse("SELECT * FROM ML.ADVANCED_WEIGHTS(MODEL mass_p)")) as applied:
        rows = con.sql(applied.sql).fetchall()
    expected = advanced(con, training.model)
    assert rows == list(zip(*(expected.column(c).to_pylist() for c in expected.column_names)))
