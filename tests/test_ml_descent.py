"""LINEAR_REG and LOGISTIC_REG by gradient descent: one ML.TRAINING_INFO row per iteration, EARLY_STOP,
MIN_REL_PROGRESS, MAX_ITERATIONS, LEARN_RATE_STRATEGY, LEARN_RATE and LS_INIT_LEARN_RATE, as documented on
https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm
(training info columns: https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-train).
Oracles: scikit-learn's solvers on the same encoded design and objective, and numpy for single steps."""

from __future__ import annotations

import numpy as np
import pytest
from ml_data import DIABETES, IRIS, PENGUIN_MASS, connect
from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import log_loss

from toolkit.errors import ConfigError, ModelError
from toolkit.ml.inference.predict import encode
from toolkit.ml.training.train import train_model

BINARY = "SELECT species = 'virginica' AS label, * EXCLUDE (species) FROM iris"


@pytest.fixture(scope="module")
def con():
    return connect()


def train(con, model_type: str, query: str, **options):
    return train_model(con, name="m", options={"model_type": model_type, **options}, query=query).model


def design(con, trained, query: str) -> tuple[np.ndarray, np.ndarray]:
    table = con.sql(query).to_arrow_table()
    return encode(trained, table.drop_columns(["label"])), table.column("label").to_numpy(zero_copy_only=False)


def test_logistic_converged_weights_equal_scikit_learn_binary_and_multiclass(con):
    # L2_REG makes the optimum unique: sum of log losses + L2_REG * ||w||^2 is LogisticRegression's C = 1 / (2 L2_REG).
    for query in (BINARY, IRIS):
        trained = train(con, "LOGISTIC_REG", query, l2_reg=0.5, early_stop=False, max_iterations=300,
                        data_split_method="NO_SPLIT")
        X, labels = design(con, trained, query)
        y = np.searchsorted(np.array(trained.classes), labels)
        oracle = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
        np.testing.assert_allclose(trained.estimator.coef_, oracle.coef_, atol=1e-5)
        np.testing.assert_allclose(trained.estimator.intercept_, oracle.intercept_, atol=1e-5)
        # The last row's loss is the model's mean log loss on the training rows.
        assert trained.iterations[-1].loss == pytest.approx(log_loss(y, trained.estimator.predict_proba(X)), rel=1e-9)


def test_linear_gradient_descent_converges_to_ridge_and_elastic_net(con):
    gradient = train(con, "LINEAR_REG", DIABETES, optimize_strategy="BATCH_GRADIENT_DESCENT", l2_reg=3.0,
                     early_stop=False, max_iterations=500)
    X, y = design(con, gradient, DIABETES)
    ridge = Ridge(alpha=3.0).fit(X, y)
    np.testing.assert_allclose(gradient.estimator.coef_, ridge.coef_, rtol=1e-6)
    assert gradient.estimator.intercept_ == pytest.approx(ridge.intercept_, rel=1e-9)
    # L1_REG: proximal steps; ElasticNet's mean-loss parameters for SSE + L1 |w|_1 + L2 |w|^2.
    lasso = train(con, "LINEAR_REG", DIABETES, l1_reg=5000.0, early_stop=False, max_iterations=20_000)
    n = len(y)
    oracle = ElasticNet(alpha=5000.0 / (2 * n), l1_ratio=1.0, tol=1e-14, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(lasso.estimator.coef_, oracle.coef_, atol=1e-3)
    assert np.count_nonzero(lasso.estimator.coef_ == 0) == np.count_nonzero(oracle.coef_ == 0) > 0


def test_each_iteration_is_one_training_info_row_and_line_search_losses_decrease(con):
    # Without L2_REG the objective the line search lowers is the recorded mean loss itself.
    trained = train(con, "LOGISTIC_REG", IRIS, data_split_method="RANDOM", early_stop=False)
    rows = trained.iterations
    assert [r.iteration for r in rows] == list(range(len(rows))) and len(rows) == 20  # MAX_ITERATIONS' default
    losses = [r.loss for r in rows]
    assert all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))
    assert all(r.eval_loss is not None and r.learning_rate > 0 and r.duration_ms >= 0 for r in rows)
    X, y = design(con, trained, IRIS)  # eval_loss of the last row: the model's log loss on the eval rows
    assert trained.metrics["log_loss"] == pytest.approx(rows[-1].eval_loss, rel=1e-9)


def test_early_stop_stops_after_the_first_iteration_below_min_rel_progress(con):
    # "EARLY_STOP: whether training should stop after the first iteration in which the relative loss improvement
    # is less than the value specified for MIN_REL_PROGRESS" (eval loss with an eval split, else training loss).
    for progress in (0.01, 0.1):
        stopped = train(con, "LOGISTIC_REG", IRIS, l2_reg=0.1, min_rel_progress=progress, max_iterations=100)
        full = train(con, "LOGISTIC_REG", IRIS, l2_reg=0.1, early_stop=False, max_iterations=100)
        losses = [r.loss for r in stopped.iterations]
        assert len(losses) < len(full.iterations) == 100 or len(full.iterations) < 100
        start = np.log(3)  # zero weights: every class 1/3
        gains = [(a - b) / a for a, b in zip([start, *losses], losses)]
        assert all(g >= progress for g in gains[:-1]) and gains[-1] < progress
        assert [r.loss for r in full.iterations[:len(losses)]] == pytest.approx(losses, rel=1e-12)
    loose = train(con, "LOGISTIC_REG", IRIS, l2_reg=0.1, min_rel_progress=0.1)
    tight = train(con, "LOGISTIC_REG", IRIS, l2_reg=0.1, min_rel_progress=0.001)
    assert len(loose.iterations) < len(tight.iterations)
    assert not np.allclose(loose.estimator.coef_, tight.estimator.coef_)  # the options change the weights


def test_max_iterations_bounds_the_rows(con):
    trained = train(con, "LOGISTIC_REG", IRIS, max_iterations=3, early_stop=False)
    assert len(trained.iterations) == 3 and int(trained.estimator.n_iter_[0]) == 3


def test_constant_learn_rate_takes_plain_gradient_steps(con):
    rate = 0.05
    trained = train(con, "LINEAR_REG", DIABETES, learn_rate_strategy="CONSTANT", learn_rate=rate,
                    max_iterations=3, early_stop=False)
    assert [r.learning_rate for r in trained.iterations] == [rate] * 3
    X, y = design(con, trained, DIABETES)
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(3):  # gradient of the mean squared error
        residual = X @ w + b - y
        w, b = w - rate * 2 * X.T @ residual / len(y), b - rate * 2 * residual.mean()
    np.testing.assert_allclose(trained.estimator.coef_, w, rtol=1e-10)
    assert trained.estimator.intercept_ == pytest.approx(b, rel=1e-10)
    assert trained.iterations[-1].loss == pytest.approx(np.mean((X @ w + b - y) ** 2), rel=1e-10)


def test_ls_init_learn_rate_is_the_first_trial_step(con):
    # A tiny first step doubles until the loss stops falling: its first row's rate is LS_INIT_LEARN_RATE * 2^k.
    for init in (1e-4, 0.1):
        rate = train(con, "LOGISTIC_REG", BINARY, ls_init_learn_rate=init).iterations[0].learning_rate
        exponent = np.log2(rate / init)
        assert exponent == pytest.approx(round(exponent)), (init, rate)
    small = train(con, "LOGISTIC_REG", BINARY, ls_init_learn_rate=1e-4).iterations[0].learning_rate
    assert small >= 1e-4


def test_learn_rate_options_that_go_together(con):
    # "LEARN_RATE: ... If LEARN_RATE_STRATEGY is set to LINE_SEARCH, an error is returned."
    with pytest.raises(ConfigError, match="LEARN_RATE is the step of LEARN_RATE_STRATEGY 'CONSTANT'"):
        train(con, "LOGISTIC_REG", IRIS, learn_rate=0.2)
    with pytest.raises(ConfigError, match="LS_INIT_LEARN_RATE is used only with LEARN_RATE_STRATEGY 'LINE_SEARCH'"):
        train(con, "LINEAR_REG", DIABETES, learn_rate_strategy="CONSTANT", ls_init_learn_rate=0.2)
    with pytest.raises(ConfigError, match="MAX_ITERATIONS acts on gradient descent's iterations"):
        train(con, "LINEAR_REG", DIABETES, optimize_strategy="NORMAL_EQUATION", max_iterations=5)


def test_auto_strategy_picks_the_normal_equation_unless_iterations_are_asked_for(con):
    closed = train(con, "LINEAR_REG", PENGUIN_MASS)
    assert type(closed.estimator).__name__ == "LinearRegression" and len(closed.iterations) == 1
    assert len(train(con, "LINEAR_REG", PENGUIN_MASS, max_iterations=5, early_stop=False).iterations) == 5
    assert len(train(con, "LINEAR_REG", DIABETES, l1_reg=1.0, max_iterations=4, early_stop=False).iterations) == 4


def test_a_diverging_constant_learn_rate_is_a_clear_error(con):
    with pytest.raises(ModelError, match="diverged") as info:
        train(con, "LINEAR_REG", DIABETES, learn_rate_strategy="CONSTANT", learn_rate=1e6, early_stop=False,
              max_iterations=200)
    assert "lower LEARN_RATE" in info.value.hint


def test_warm_start_continues_from_the_previous_weights(con):
    # "WARM_START: retrain a model with new training data, new model options, or both"; MODEL_TYPE, the label and
    # the training data's schema must stay the same (the CREATE MODEL page above, WARM_START).
    first = train(con, "LOGISTIC_REG", IRIS, l2_reg=0.1, max_iterations=4, early_stop=False)
    warmed = train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "l2_reg": 0.1, "warm_start": True,
                                                 "max_iterations": 4, "early_stop": False},
                         query=IRIS, previous=first).model
    cold = train(con, "LOGISTIC_REG", IRIS, l2_reg=0.1, max_iterations=8, early_stop=False)
    # Four iterations from the first four's weights: the loss continues from where it was, below the first's.
    assert warmed.iterations[0].loss < first.iterations[-1].loss
    assert warmed.iterations[-1].loss < cold.iterations[3].loss
    with pytest.raises(ModelError, match="needs a trained version of the model"):
        train(con, "LOGISTIC_REG", IRIS, warm_start=True)
    with pytest.raises(ModelError, match="these differ: petal_width"):
        train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "warm_start": True},
                    query="SELECT species AS label, sepal_length, sepal_width, petal_length FROM iris", previous=first)
    with pytest.raises(ConfigError, match="WARM_START = TRUE is not supported"):
        train(con, "BOOSTED_TREE_CLASSIFIER", IRIS, warm_start=True)
    with pytest.raises(ConfigError, match="WARM_START acts on gradient descent"):
        train(con, "LINEAR_REG", DIABETES, optimize_strategy="NORMAL_EQUATION", warm_start=True)


def test_instance_weight_col_weights_rows_like_repeating_them(con):
    # INSTANCE_WEIGHT_COL: the column weighting each training row, not a feature
    # (https://cloud.google.com/bigquery/docs/reference/rest/v2/models#TrainingOptions, instanceWeightColumn).
    weighted_query = "SELECT *, 1 + CAST(round(sepal_length * 10) AS INT) % 3 AS w FROM (" + BINARY + ")"
    repeated_query = f"SELECT * EXCLUDE (w, i) FROM ({weighted_query}), range(3) AS r(i) WHERE i < w"
    options = {"early_stop": False, "max_iterations": 300, "data_split_method": "NO_SPLIT"}  # no L2: one optimum
    weighted = train(con, "LOGISTIC_REG", weighted_query, instance_weight_col="w", **options)
    repeated = train(con, "LOGISTIC_REG", repeated_query, **options)
    assert "w" not in weighted.feature_columns
    # Standardization comes from the distinct rows, so compare the models' logits, not their weights.
    X_raw = con.sql(BINARY).to_arrow_table().drop_columns(["label"])
    logits = [m.estimator.decision_function(encode(m, X_raw)) for m in (weighted, repeated)]
    np.testing.assert_allclose(logits[0], logits[1], atol=1e-4)
    # The normal equation with weights is weighted least squares.
    mass = train(con, "LINEAR_REG", "SELECT *, 1 + flipper_length_mm % 4 AS w FROM (" + PENGUIN_MASS + ")",
                 instance_weight_col="w", data_split_method="NO_SPLIT")
    table = con.sql("SELECT *, 1 + flipper_length_mm % 4 AS w FROM (" + PENGUIN_MASS + ")").to_arrow_table()
    X = encode(mass, table.drop_columns(["label", "w"]))
    oracle = LinearRegression().fit(X, table.column("label").to_numpy(), sample_weight=table.column("w").to_numpy())
    np.testing.assert_allclose(mass.estimator.predict(X), oracle.predict(X), rtol=1e-9)
    with pytest.raises(ModelError, match="INSTANCE_WEIGHT_COL 'w' is NULL, negative or infinite"):
        train(con, "LINEAR_REG", "SELECT *, NULLIF(flipper_length_mm % 4, 0) AS w FROM (" + PENGUIN_MASS + ")",
              instance_weight_col="w")
    with pytest.raises(ModelError, match="INSTANCE_WEIGHT_COL 'sex' is VARCHAR, not a number"):
        train(con, "LINEAR_REG", PENGUIN_MASS, instance_weight_col="sex")
    with pytest.raises(ConfigError, match="implemented for LINEAR_REG and LOGISTIC_REG only"):
        train(con, "BOOSTED_TREE_REGRESSOR", PENGUIN_MASS, instance_weight_col="sex")


def test_dnn_warm_start_continues_the_previous_network(con):
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-dnn-models (WARM_START)
    import copy

    options = {"model_type": "DNN_CLASSIFIER", "hidden_units": [4], "max_iterations": 3, "early_stop": False,
               "data_split_method": "NO_SPLIT"}
    first = train_model(con, name="m", options=options, query=IRIS).model
    warmed = train_model(con, name="m", options={**options, "max_iterations": 2, "warm_start": True},
                         query=IRIS, previous=first).model
    # training reads its rows ordered by the features, then the label; classes are indices into the sorted labels
    ordered = f"SELECT * FROM ({IRIS}) ORDER BY sepal_length, sepal_width, petal_length, petal_width, label"
    X, labels = design(con, warmed, ordered)
    y = np.unique(labels, return_inverse=True)[1]
    oracle = copy.deepcopy(first.estimator)  # two more epochs of the same network, its optimizer state kept
    for _ in range(2):
        oracle.partial_fit(X, y, classes=np.arange(3))
    for got, want in zip(warmed.estimator.coefs_, oracle.coefs_):
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    with pytest.raises(ModelError, match=r"whose HIDDEN_UNITS are \[4\], not \[5\]"):
        train_model(con, name="m", options={**options, "hidden_units": [5], "warm_start": True}, query=IRIS,
                    previous=first)
    assert train_model(con, name="m", options={k: v for k, v in options.items() if k != "hidden_units"} | {
        "warm_start": True}, query=IRIS, previous=first).model.estimator.hidden_layer_sizes == (4,)
