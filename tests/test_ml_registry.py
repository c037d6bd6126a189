"""The model-type table and OPTIONS validation: defaults, types, ranges, did-you-mean, other types' options."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.errors import ConfigError
from toolkit.ml.types.options import FROM_DATA
from toolkit.ml.types.registry import MODEL_TYPES, validate_options
from toolkit.ml.types.tasks import Family, Task, chosen_classes

ALL_TYPES = ["LINEAR_REG", "LOGISTIC_REG", "BOOSTED_TREE_CLASSIFIER", "BOOSTED_TREE_REGRESSOR",
             "RANDOM_FOREST_CLASSIFIER", "RANDOM_FOREST_REGRESSOR", "DNN_CLASSIFIER", "DNN_REGRESSOR", "KMEANS", "PCA",
             "TRANSFORM_ONLY"]


def error(model_type: str, **options: object) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_options("my_model", {"model_type": model_type, **options})
    message = str(caught.value)
    assert "my_model" in message and "hint:" in message
    return message


def test_every_model_type_is_registered_with_valid_defaults():
    assert sorted(MODEL_TYPES) == sorted(ALL_TYPES)
    for name, model_type in MODEL_TYPES.items():
        assert model_type.task in ("regression", "classification", "clustering", "decomposition", "transform")
        for spec in model_type.options.values():
            if spec.default not in (None, FROM_DATA) and spec.only_default is None:
                assert spec.coerce("m", spec.default if not isinstance(spec.default, tuple)
                                   else list(spec.default)) is not None
        extra = {"NUM_PRINCIPAL_COMPONENTS": 2} if name == "PCA" else {}
        options = validate_options("m", {"MODEL_TYPE": name.lower(), **extra})
        assert options.model_type == name


def test_capabilities():
    assert MODEL_TYPES["BOOSTED_TREE_REGRESSOR"].is_tree and not MODEL_TYPES["LINEAR_REG"].is_tree
    assert MODEL_TYPES["LINEAR_REG"].uses_standardization and not MODEL_TYPES["RANDOM_FOREST_CLASSIFIER"]\
        .uses_standardization


def test_every_type_names_its_task_family_and_capabilities():
    # The string values are what the model store writes: changing one breaks stored models.
    assert [t.value for t in Task] == ["regression", "classification", "clustering", "decomposition", "transform"]
    assert {m.family for m in MODEL_TYPES.values()} == set(Family)
    assert {n for n, m in MODEL_TYPES.items() if m.has_weights} == {"LINEAR_REG", "LOGISTIC_REG"}
    assert {n for n, m in MODEL_TYPES.items() if not m.compilable} == {"DNN_CLASSIFIER", "DNN_REGRESSOR",
                                                                      "TRANSFORM_ONLY"}
    for model_type in MODEL_TYPES.values():
        assert model_type.has_label == (model_type.task in (Task.REGRESSION, Task.CLASSIFICATION))
        assert model_type.spec.metric_names or model_type.task is Task.TRANSFORM


def test_one_threshold_rule():
    proba = np.array([[0.4, 0.6], [0.7, 0.3]])
    assert chosen_classes(proba).tolist() == [1, 0]
    assert chosen_classes(proba, 0.65).tolist() == [0, 0]
    assert chosen_classes(np.array([[0.2, 0.5, 0.3]]), 0.9).tolist() == [1]  # multiclass: the most probable


def test_defaults_follow_bigquery():
    boosted = validate_options("m", {"model_type": "BOOSTED_TREE_CLASSIFIER"})
    assert (boosted["MAX_TREE_DEPTH"], boosted["LEARN_RATE"], boosted["SUBSAMPLE"], boosted["MAX_ITERATIONS"]) == \
        (6, 0.3, 1.0, 20)
    assert boosted["CATEGORY_ENCODING_METHOD"] == "LABEL_ENCODING"
    forest = validate_options("m", {"model_type": "RANDOM_FOREST_REGRESSOR"})
    assert (forest["NUM_PARALLEL_TREE"], forest["MAX_TREE_DEPTH"], forest["SUBSAMPLE"],
            forest["COLSAMPLE_BYNODE"]) == (100, 15, 0.8, 0.8)
    dnn = validate_options("m", {"model_type": "DNN_REGRESSOR"})
    assert (dnn["LEARN_RATE"], dnn["OPTIMIZER"], dnn["ACTIVATION_FN"], dnn["DROPOUT"]) == (0.001, "ADAM", "RELU", 0)
    linear = validate_options("m", {"model_type": "LINEAR_REG"})
    assert linear["INPUT_LABEL_COLS"] == ("label",) and linear["DATA_SPLIT_METHOD"] == "AUTO_SPLIT"
    assert (linear["DATA_SPLIT_EVAL_FRACTION"], linear["L1_REG"], linear["EARLY_STOP"]) == (0.2, 0.0, True)


def test_names_and_enum_values_are_case_insensitive():
    options = validate_options("m", {"Model_Type": "logistic_reg", "data_split_method": "random",
                                     "Data_Split_Eval_Fraction": 0.3, "auto_class_weights": True})
    assert options["DATA_SPLIT_METHOD"] == "RANDOM" and options["data_split_eval_fraction"] == 0.3
    assert options.is_set("AUTO_CLASS_WEIGHTS") and not options.is_set("L2_REG")


def test_values_are_coerced():
    options = validate_options("m", {"model_type": "DNN_CLASSIFIER", "hidden_units": [64, 32], "max_iterations": 5.0,
                                     "input_label_cols": "y", "class_weights": [("a", 1), ("b", 2.5)]})
    assert options["HIDDEN_UNITS"] == (64, 32) and options["MAX_ITERATIONS"] == 5
    assert options["INPUT_LABEL_COLS"] == ("y",) and options["CLASS_WEIGHTS"] == (("a", 1.0), ("b", 2.5))
    assert validate_options("m", {"model_type": "LOGISTIC_REG", "data_split_method": "random",
                                  "data_split_eval_fraction": 0.333})["DATA_SPLIT_EVAL_FRACTION"] == 0.33


def test_unknown_option_gets_did_you_mean():
    message = error("LINEAR_REG", l2_regg=1.0)
    assert "unknown option L2_REGG" in message and 'did you mean "L2_REG"' in message


def test_unknown_model_type_gets_did_you_mean():
    assert 'did you mean "LINEAR_REG"' in error("LINEAR_REGG")
    assert "unknown MODEL_TYPE" in error("LINEAR_REGG")


@pytest.mark.parametrize("model_type", ["DNN_LINEAR_COMBINED_CLASSIFIER", "DNN_LINEAR_COMBINED_REGRESSOR",
                                        "TENSORFLOW_LITE", "ONNX", "XGBOOST", "ARIMA_PLUS", "AUTOML_REGRESSOR",
                                        "MATRIX_FACTORIZATION", "autoencoder"])
def test_bigquery_model_types_not_emulated_are_named_so(model_type):
    # MODEL_TYPE values of https://cloud.google.com/bigquery-ml/docs/reference/standard-sql/bigqueryml-syntax-create
    message = error(model_type)
    assert "BigQuery ML model type the toolkit does not emulate" in message and "unknown" not in message
    assert "DNN_LINEAR_COMBINED_CLASSIFIER" in message and "TENSORFLOW_LITE" in message
    with pytest.raises(ConfigError, match="no MODEL_TYPE"):
        validate_options("my_model", {"l2_reg": 1})


def test_wrong_type_names_the_option_and_what_it_accepts():
    assert "MAX_ITERATIONS = 'ten'" in (message := error("LINEAR_REG", max_iterations="ten"))
    assert "an integer in [1, 100000]" in message
    assert "TRUE or FALSE" in error("LOGISTIC_REG", early_stop="yes")
    assert "one of 'AUTO_SPLIT', 'RANDOM', 'CUSTOM', 'SEQ', 'NO_SPLIT'" in error("LINEAR_REG",
                                                                                data_split_method="rand")
    assert "an array of integers" in error("DNN_REGRESSOR", hidden_units=[64, "x"])


def test_out_of_range_names_the_range():
    assert "L2_REG = -1" in (message := error("LINEAR_REG", l2_reg=-1))
    assert "a number in [0, inf]" in message
    assert "(0, 1]" in error("BOOSTED_TREE_REGRESSOR", colsample_bynode=0)
    assert "[2, 100]" in error("KMEANS", num_clusters=1)


def test_option_of_another_model_type_says_which():
    message = error("LINEAR_REG", num_clusters=3)
    assert "NUM_CLUSTERS applies to KMEANS, not to LINEAR_REG" in message
    assert "applies to BOOSTED_TREE_CLASSIFIER, BOOSTED_TREE_REGRESSOR" in error("KMEANS", booster_type="GBTREE")
    assert "MATRIX_FACTORIZATION" in error("LINEAR_REG", num_factors=3)
    assert "LOGISTIC_REG" in error("LINEAR_REG", auto_class_weights=True)


def test_refused_options_and_values_say_why():
    assert "NUM_TRIALS applies to LINEAR_REG" in error("PCA", num_trials=10, num_principal_components=2)
    assert "not supported by the toolkit" in (message := error("DNN_CLASSIFIER", dropout=0.5))
    assert "no dropout" in message
    assert "DART" in error("BOOSTED_TREE_CLASSIFIER", booster_type="dart")
    assert "ADAM and SGD" in error("DNN_CLASSIFIER", optimizer="rmsprop")
    assert "random forest" in error("RANDOM_FOREST_CLASSIFIER", l2_reg=0.5)
    assert "closed-form" in error("LOGISTIC_REG", optimize_strategy="normal_equation")
    assert "target encoding" in error("BOOSTED_TREE_REGRESSOR", category_encoding_method="TARGET_ENCODING")
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-dnn-models: TF_VERSION
    assert "not TensorFlow" in error("DNN_REGRESSOR", tf_version="2.8.0")
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-kmeans: WARM_START
    assert "WARM_START" not in error("KMEANS", num_clusters=1)  # accepted (the error is NUM_CLUSTERS')
    assert "every training starts from scratch" in error("BOOSTED_TREE_REGRESSOR", warm_start=True)


def test_rules_across_options():
    assert "given twice" in error("LINEAR_REG", l2_reg=1, L2_REG=2)
    assert "needs DATA_SPLIT_COL" in error("LINEAR_REG", data_split_method="CUSTOM")
    assert "only with DATA_SPLIT_METHOD 'CUSTOM' or 'SEQ'" in error("LINEAR_REG", data_split_col="is_eval")
    assert "only with DATA_SPLIT_METHOD 'RANDOM' or 'SEQ'" in error("LINEAR_REG", data_split_eval_fraction=0.3)
    assert "leave no training rows" in error("LINEAR_REG", data_split_method="RANDOM", data_split_eval_fraction=0.6,
                                            data_split_test_fraction=0.4)
    assert "both set" in error("LOGISTIC_REG", auto_class_weights=True, class_weights=[("a", 1.0)])
    assert "more than one column" in error("LINEAR_REG", input_label_cols=["a", "b"])
    assert "BATCH_GRADIENT_DESCENT" in error("LINEAR_REG", l1_reg=1.0, optimize_strategy="NORMAL_EQUATION")
    assert "exactly one of" in error("PCA")
    assert "exactly one of" in error("PCA", num_principal_components=2, pca_explained_variance_ratio=0.9)
    assert "go together" in error("KMEANS", kmeans_init_method="CUSTOM")


def test_options_round_trip_through_json():
    options = validate_options("m", {"model_type": "DNN_CLASSIFIER", "hidden_units": [8, 4],
                                     "class_weights": [("a", 1.0), ("b", 2.0)]})
    again = type(options).from_json("m", options.to_json())
    assert again == options


@pytest.mark.parametrize("name", ALL_TYPES)
def test_every_factory_builds_one_of_the_declared_estimator_classes(name):
    from toolkit.ml.types.estimators import FitContext

    model_type = MODEL_TYPES[name]
    n_classes = 3 if model_type.task is Task.CLASSIFICATION else 0
    variants = [{}]
    if name == "LINEAR_REG":
        variants += [{"L2_REG": 1.0}, {"L1_REG": 1.0}, {"OPTIMIZE_STRATEGY": "BATCH_GRADIENT_DESCENT"}]
    if name == "PCA":
        variants = [{"NUM_PRINCIPAL_COMPONENTS": 2}]
    built = set()
    for options in variants:
        validated = validate_options("m", {"MODEL_TYPE": name, **options})
        estimator = model_type.factory(validated, FitContext(seed=1, n_rows=100, n_features=3, n_inputs=3,
                                                             n_classes=n_classes))
        built.add(type(estimator))
    if name == "TRANSFORM_ONLY":
        assert built == {type(None)} and model_type.estimator_classes == ()
    else:
        assert built <= set(model_type.estimator_classes)
    if name == "LINEAR_REG":
        assert built == set(model_type.estimator_classes)
