"""Defaults and limits of boosted trees, random forests and DNNs, as BigQuery ML documents them."""

from __future__ import annotations

import numpy as np
import pytest
from ml_data import connect

from toolkit.errors import ConfigError, ModelError
from toolkit.ml.training.train import train_model
from toolkit.ml.types import estimators as est
from toolkit.ml.types.registry import MODEL_TYPES, validate_options

BOOSTED_PAGE = "https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-boosted-tree"
FOREST_PAGE = "https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-random-forest"
DNN_PAGE = "https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-dnn-models"


def _config_error(**options) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_options("m", options)
    return str(caught.value)


def test_boosted_tree_l2_reg_defaults_to_one_and_reaches_scikit_learn():
    # BOOSTED_PAGE: L2_REG "The default value is 1.0" (XGBoost's reg_lambda).
    for name in ("BOOSTED_TREE_CLASSIFIER", "BOOSTED_TREE_REGRESSOR"):
        options = validate_options("m", {"model_type": name})
        assert options["L2_REG"] == 1.0
        estimator = est.boosted_tree(options, est.FitContext(seed=1, n_rows=100, n_features=3, n_inputs=3))
        assert estimator.get_params()["l2_regularization"] == 1.0
    options = validate_options("m", {"model_type": "BOOSTED_TREE_REGRESSOR", "l2_reg": 0.25})
    ctx = est.FitContext(seed=1, n_rows=100, n_features=3, n_inputs=3)
    assert est.boosted_tree(options, ctx).get_params()["l2_regularization"] == 0.25


def test_random_forest_takes_bigquerys_l2_reg_default_only():
    # FOREST_PAGE: L2_REG defaults to 1.0; scikit-learn's forests have no L2 term, so other values are refused.
    options = validate_options("m", {"model_type": "RANDOM_FOREST_CLASSIFIER"})
    assert options["L2_REG"] == 1.0
    assert validate_options("m", {"model_type": "RANDOM_FOREST_REGRESSOR", "l2_reg": 1.0})["L2_REG"] == 1.0
    message = _config_error(model_type="RANDOM_FOREST_REGRESSOR", l2_reg=0.0)
    assert "L2_REG = 0" in message and "no regularization term" in message


def test_random_forest_needs_two_parallel_trees_and_has_no_max_iterations():
    # FOREST_PAGE: NUM_PARALLEL_TREE "the minimum value is 2"; the page lists no MAX_ITERATIONS.
    assert "NUM_PARALLEL_TREE = 1" in _config_error(model_type="RANDOM_FOREST_CLASSIFIER", num_parallel_tree=1)
    assert validate_options("m", {"model_type": "RANDOM_FOREST_CLASSIFIER",
                                  "num_parallel_tree": 2})["NUM_PARALLEL_TREE"] == 2
    message = _config_error(model_type="RANDOM_FOREST_REGRESSOR", max_iterations=5)
    assert "MAX_ITERATIONS does not apply to RANDOM_FOREST_REGRESSOR" in message and "one iteration" in message
    assert "MAX_ITERATIONS" not in MODEL_TYPES["RANDOM_FOREST_CLASSIFIER"].options
    assert validate_options("m", {"model_type": "BOOSTED_TREE_REGRESSOR", "max_iterations": 5})["MAX_ITERATIONS"] == 5


@pytest.fixture(scope="module")
def con():
    con = connect()
    con.execute("CREATE TABLE many AS SELECT range % 60 AS label, (range % 60) * 1.5 + (range % 7) * 0.01 AS x "
                "FROM range(1200)")
    return con


@pytest.mark.parametrize("model_type", ["BOOSTED_TREE_CLASSIFIER", "RANDOM_FOREST_CLASSIFIER", "DNN_CLASSIFIER"])
def test_trees_forests_and_dnns_take_more_than_fifty_classes(con, model_type):
    # BOOSTED_PAGE, FOREST_PAGE, DNN_PAGE (INPUT_LABEL_COLS): classifiers take up to 1,000 unique labels.
    extra = {"max_iterations": 1} if model_type != "RANDOM_FOREST_CLASSIFIER" else {"num_parallel_tree": 2}
    trained = train_model(con, name="m", query="SELECT label, x FROM many",
                          options={"model_type": model_type, "data_split_method": "NO_SPLIT", **extra}).model
    assert len(trained.classes) == 60


def test_logistic_regression_keeps_fifty_classes(con):
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm: at most 50 labels.
    with pytest.raises(ModelError) as caught:
        train_model(con, name="m", query="SELECT label, x FROM many", options={"model_type": "LOGISTIC_REG"})
    assert "60 classes" in str(caught.value) and "at most 50" in str(caught.value)
    assert MODEL_TYPES["BOOSTED_TREE_CLASSIFIER"].max_classes == 1_000


@pytest.mark.parametrize(("rows", "features", "classes", "units"), [
    (100_000, 3, 0, 128),  # min(128, 100000 / (10 * 4)) = 128
    (1_000, 3, 0, 25),  # 1000 / 40
    (1_000, 7, 3, 10),  # 1000 / (10 * (7 + 3))
    (1_000, 3, 2, 25),  # binary: one (logistic) output unit, 1000 / (10 * (3 + 1))
    (50, 4, 0, 1),  # at least one unit
])
def test_dnn_default_hidden_units_follow_bigquerys_formula(rows, features, classes, units):
    # DNN_PAGE (HIDDEN_UNITS): min(128, num_samples / (10 * (num_input_units + num_output_units))).
    options = validate_options("m", {"model_type": "DNN_CLASSIFIER" if classes else "DNN_REGRESSOR"})
    ctx = est.FitContext(seed=1, n_rows=rows, n_features=features, n_inputs=features, n_classes=classes)
    assert est.dnn_defaults(options, ctx)[0] == (units,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_binary_dnn_has_one_output_unit():
    from sklearn.neural_network import MLPClassifier

    X = np.arange(20, dtype=float).reshape(10, 2)
    assert MLPClassifier(hidden_layer_sizes=(2,), max_iter=5).fit(X, np.arange(10) % 2).n_outputs_ == 1


@pytest.mark.parametrize(("model_type", "option", "value", "reason"), [
    # BOOSTED_PAGE: each of these acts on XGBoost's trees; scikit-learn's HistGradientBoosting cannot express them.
    ("BOOSTED_TREE_REGRESSOR", "subsample", 0.5, "no row subsampling"),
    ("BOOSTED_TREE_CLASSIFIER", "colsample_bytree", 0.5, "per split only"),
    ("BOOSTED_TREE_CLASSIFIER", "colsample_bylevel", 0.5, "per split only"),
    ("BOOSTED_TREE_REGRESSOR", "min_split_loss", 0.1, "no minimum split gain"),
    ("BOOSTED_TREE_CLASSIFIER", "booster_type", "DART", "DART (dropping trees while boosting)"),
    ("BOOSTED_TREE_CLASSIFIER", "dart_normalize_type", "FOREST", "DART (dropping trees while boosting)"),
    ("BOOSTED_TREE_REGRESSOR", "dropout", 0.1, "DART's tree drop rate"),
    ("BOOSTED_TREE_REGRESSOR", "tree_method", "EXACT", "histogram-based"),
    ("BOOSTED_TREE_REGRESSOR", "tree_method", "APPROX", "histogram-based"),
    # FOREST_PAGE: TREE_METHOD; scikit-learn's forests split exactly.
    ("RANDOM_FOREST_REGRESSOR", "tree_method", "HIST", "EXACT"),
    ("RANDOM_FOREST_CLASSIFIER", "tree_method", "APPROX", "EXACT"),
    ("RANDOM_FOREST_CLASSIFIER", "colsample_bytree", 0.5, "per split only"),
])
def test_tree_options_scikit_learn_cannot_express_are_refused_with_the_reason(model_type, option, value, reason):
    message = _config_error(model_type=model_type, **{option: value})
    assert option.upper() in message and reason in message, message


@pytest.mark.parametrize(("model_type", "option", "value", "param", "expected"), [
    # BOOSTED_PAGE / FOREST_PAGE: what scikit-learn does express acts on the estimator.
    ("BOOSTED_TREE_REGRESSOR", "colsample_bynode", 0.5, "max_features", 0.5),
    ("BOOSTED_TREE_REGRESSOR", "tree_method", "HIST", "max_bins", 255),
    ("RANDOM_FOREST_REGRESSOR", "subsample", 0.5, "max_samples", 0.5),
    ("RANDOM_FOREST_REGRESSOR", "colsample_bynode", 0.3, "max_features", 0.3),
    ("RANDOM_FOREST_CLASSIFIER", "tree_method", "EXACT", "max_depth", 15),
])
def test_tree_options_scikit_learn_expresses_reach_the_estimator(model_type, option, value, param, expected):
    options = validate_options("m", {"model_type": model_type, option: value})
    factory = MODEL_TYPES[model_type].factory
    classes = 2 if "CLASSIFIER" in model_type else 0
    estimator = factory(options, est.FitContext(seed=1, n_rows=100, n_features=3, n_inputs=3, n_classes=classes))
    assert estimator.get_params()[param] == expected


@pytest.mark.parametrize("model_type", ["RANDOM_FOREST_REGRESSOR", "RANDOM_FOREST_CLASSIFIER"])
def test_random_forest_training_info_is_one_iteration(con, model_type):
    # FOREST_PAGE: a random forest is one XGBoost round of NUM_PARALLEL_TREE trees (no MAX_ITERATIONS), so
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-train has one iteration, 0.
    query = "SELECT x AS label, (label % 7) * 1.0 AS y, x * x AS z FROM many" if "REGRESSOR" in model_type \
        else "SELECT label % 3 AS label, x FROM many"
    trained = train_model(con, name="m", query=query, options={"model_type": model_type, "num_parallel_tree": 5,
                                                               "data_split_method": "RANDOM"}).model
    assert [i.iteration for i in trained.iterations] == [0]
    assert trained.iterations[0].loss is not None and trained.iterations[0].eval_loss is not None
    assert trained.iterations[0].learning_rate is None
