"""Bad input: every message names the model and the column or option, and says how to fix it."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from ml_data import IRIS, connect

from toolkit.errors import ConfigError, ModelError, ToolkitError
from toolkit.ml.inference.predict import predict
from toolkit.ml.training.train import train_model


@pytest.fixture(scope="module")
def con():
    con = connect()
    con.execute("CREATE TABLE many AS SELECT range % 60 AS label, range * 1.5 AS x FROM range(600)")
    return con


def fails(con, query: str, model_type: str = "LOGISTIC_REG", error: type = ModelError, **options) -> str:
    with pytest.raises(error) as caught:
        train_model(con, name="bad_model", options={"model_type": model_type, **options}, query=query)
    message = str(caught.value)
    assert isinstance(caught.value, ToolkitError) and "bad_model" in message and "hint:" in message, message
    return message


def test_label_column_missing(con):
    message = fails(con, "SELECT species AS lable, sepal_length FROM iris")
    assert "label column 'label' is not in the query's output" in message and 'did you mean "lable"' in message
    assert "INPUT_LABEL_COLS" in message


def test_null_labels(con):
    message = fails(con, "SELECT CASE WHEN sepal_length > 7 THEN NULL ELSE species END AS label, sepal_width FROM iris")
    assert "12 NULL value(s)" in message and "WHERE label IS NOT NULL" in message
    assert "NULL" in fails(con, "SELECT CASE WHEN x > 3 THEN 'NaN'::DOUBLE ELSE x END AS label, x AS y FROM many",
                           "LINEAR_REG")


def test_one_class_only(con):
    assert "one class only ('setosa')" in fails(con, "SELECT 'setosa' AS label, sepal_length FROM iris")


def test_more_than_fifty_classes(con):
    assert "60 classes" in fails(con, "SELECT label, x FROM many")


def test_string_label_for_a_regressor(con):
    message = fails(con, IRIS, "LINEAR_REG")
    assert "needs a numeric label, but column 'label' is VARCHAR" in message and "CAST" in message


def test_unusable_label_type_for_a_classifier(con):
    assert "classifier needs" in fails(con, "SELECT DATE '2024-01-01' + range::INT AS label, range AS x "
                                            "FROM range(10)")


def test_no_feature_columns(con):
    assert "no feature columns" in fails(con, "SELECT species AS label FROM iris")
    assert "no feature columns" in fails(con, "SELECT species AS label, sepal_length > 6 AS s FROM iris",
                                         data_split_method="CUSTOM", data_split_col="s")


def test_empty_training_set(con):
    assert "returned no rows" in fails(con, IRIS + " WHERE false")
    message = fails(con, "SELECT *, true AS is_eval FROM iris", input_label_cols=["species"],
                    data_split_method="CUSTOM", data_split_col="is_eval")
    assert "leaves no training rows" in message and "CUSTOM" in message


def test_feature_null_everywhere(con):
    assert "column 'x' is NULL in every row" in fails(con, "SELECT species AS label, NULL AS x, sepal_length FROM iris")
    message = fails(con, "SELECT species AS label, CAST(NULL AS DOUBLE) AS x, sepal_length FROM iris")
    assert "column 'x' is NULL in every training row" in message and "COALESCE" in message


@pytest.mark.parametrize("expression, shown", [
    ("[sepal_length, sepal_width]", "DOUBLE[]"),
    ("{'a': sepal_length}", "STRUCT"),
    ("MAP {'k': sepal_length}", "MAP"),
    ("INTERVAL 1 DAY", "INTERVAL"),
])
def test_column_types_the_model_cannot_use(con, expression, shown):
    message = fails(con, f"SELECT species AS label, {expression} AS odd, sepal_length FROM iris")
    assert "column 'odd' has type" in message and shown in message and "cannot use" in message


def test_option_typos_and_values(con):
    assert 'did you mean "MAX_ITERATIONS"' in fails(con, IRIS, error=ConfigError, max_iteration=5)
    assert "MAX_ITERATIONS" in fails(con, IRIS, error=ConfigError, max_iterations=0)


def test_class_weights_must_name_every_class(con):
    message = fails(con, IRIS, class_weights=[("setosa", 1.0), ("versicolor", 2.0)])
    assert "does not name class(es) ['virginica']" in message


def test_a_class_only_in_the_eval_split(con):
    message = fails(con, "SELECT *, species = 'virginica' AS is_eval FROM iris", input_label_cols=["species"],
                    data_split_method="CUSTOM", data_split_col="is_eval")
    assert "virginica" in message and "eval" in message


def test_split_and_init_columns(con):
    assert "DATA_SPLIT_COL column 'nope' is not in the query's output" in fails(
        con, IRIS, data_split_method="SEQ", data_split_col="nope")
    assert "needs a BOOL column" in fails(con, "SELECT *, 1 AS s FROM iris", input_label_cols=["species"],
                                          data_split_method="CUSTOM", data_split_col="s")
    assert "TRUE in 1 rows" in fails(con, "SELECT *, sepal_length = 4.3 AS init FROM iris", "KMEANS",
                                     kmeans_init_method="CUSTOM", kmeans_init_col="init")
    assert "NUM_CLUSTERS = 20" in fails(con, "SELECT sepal_length FROM iris LIMIT 5", "KMEANS", num_clusters=20)


def test_a_broken_query(con):
    assert "the training query failed" in fails(con, "SELECT nope FROM iris")


def test_predict_with_missing_or_retyped_columns(con):
    trained = train_model(con, name="bad_model", options={"model_type": "LOGISTIC_REG"}, query=IRIS).model
    with pytest.raises(ModelError, match="bad_model: the input has no column\\(s\\) petal_width"):
        predict(trained, con.sql("SELECT * EXCLUDE (petal_width) FROM iris").to_arrow_table())
    with pytest.raises(ModelError, match="column 'sepal_length' is string in the input but was DOUBLE"):
        predict(trained, con.sql("SELECT * REPLACE (sepal_length::VARCHAR AS sepal_length) FROM iris")
                .to_arrow_table())


def test_a_model_error_said_by_a_function_and_sent_between_processes():
    error = ModelError("the input has no column(s) x", hint="select x", model="m")
    assert str(error) == "model m: the input has no column(s) x\n  hint: select x"
    said = error.within("EVALUATE")
    assert said.message == "ML.EVALUATE with model m: the input has no column(s) x" and said.hint == "select x"
    assert said.within("PREDICT") is said  # a function's error keeps its function
    assert ModelError("ML.ROC_CURVE needs a classifier").within("EVALUATE").message == "ML.ROC_CURVE needs a classifier"
    for sent in (error, said):
        again = pickle.loads(pickle.dumps(sent))
        assert (type(again), str(again), again.model, again.function) == (ModelError, str(sent), "m", sent.function)


def test_a_trained_model_cannot_be_changed(con):
    trained = train_model(con, name="frozen", options={"model_type": "LOGISTIC_REG"}, query=IRIS).model
    with pytest.raises(dataclasses.FrozenInstanceError):
        trained.metrics = {}


def test_infinite_inputs_are_refused_naming_the_column(con):
    trained = train_model(con, name="bad_model", options={"model_type": "LOGISTIC_REG"}, query=IRIS).model
    rows = con.sql("SELECT * REPLACE (CASE WHEN sepal_length > 7 THEN 'inf'::DOUBLE ELSE sepal_length END "
                   "AS sepal_length) FROM iris").to_arrow_table()
    with pytest.raises(ModelError, match=r"model bad_model: column 'sepal_length' has 12 infinite value\(s\)"):
        predict(trained, rows)
