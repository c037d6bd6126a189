"""ML.GLOBAL_EXPLAIN(MODEL m, STRUCT(TRUE AS class_level_explain)): per class, each input column's mean absolute
attribution towards that class's score over the eval rows, against oracles computed here row by row — for
logistic regression from the model's weights (weight × (x − training mean), per class), for trees from a
brute-force Shapley oracle (every subset of the inputs).

https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-global-explain: class_level_explain
"specifies whether global feature importances are returned for each class. Applies only to non-AutoML Tables
classification models"; the output is "<class_name>: a STRING value that contains the name of the class in the
label column", feature and attribution ("the feature importance to this class"), and "For each class, only the
top 10 most important features are returned." "Regression models […] only have model-level global feature
importance.\""""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlglot
from ml_data import connect
from test_treeshap import _oracle

from toolkit.errors import ModelError
from toolkit.ml import load_model, save_model, train_model
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.inference.attributions import input_sources
from toolkit.ml.inference.predict import design_matrix
from toolkit.ml.inference.trees import trees
from toolkit.sql.dialect import DIALECT

PENGUINS = ("SELECT species, island, bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g, sex, "
            "rowid % 4 = 0 AS is_eval FROM penguins")
ADELIE = ("SELECT species = 'Adelie' AS adelie, island, bill_length_mm, flipper_length_mm, sex, "
          "rowid % 4 = 0 AS is_eval FROM penguins WHERE species IS NOT NULL")
IRIS = "SELECT sepal_length, sepal_width, petal_length, petal_width, species, rowid % 4 = 0 AS is_eval FROM iris"
VERSICOLOR = ("SELECT sepal_length, sepal_width, petal_length, petal_width, species = 'versicolor' AS versicolor, "
              "rowid % 4 = 0 AS is_eval FROM iris")
WIDE = "SELECT * FROM wide"
SPLIT = {"data_split_method": "CUSTOM", "data_split_col": "is_eval", "enable_global_explain": True}
CLASS_LEVEL = "STRUCT(TRUE AS class_level_explain)"


def sql(con, text: str):
    with applied_ml_calls(con, sqlglot.parse_one(text, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).to_arrow_table()


def split_rows(con, query: str, label: str, eval_rows: bool):
    return con.sql(f"SELECT * FROM ({query}) WHERE {'' if eval_rows else 'NOT '}is_eval AND {label} IS NOT NULL"
                   ).to_arrow_table()


def linear_oracle(con, trained, query: str, label: str) -> list[dict[str, float]]:
    """Per class, mean over the eval rows of |Σ over the input's encoded columns of weight × (x − training mean)|:
    numeric columns' mean over the training rows, categorical columns' baseline the all-zero encoding."""
    X = design_matrix(trained, split_rows(con, query, label, eval_rows=True))
    X_train = design_matrix(trained, split_rows(con, query, label, eval_rows=False))
    numeric = np.concatenate([np.full(f.width, f.kind == "numeric") for f in trained.preprocessor.features])
    baseline = np.where(numeric, X_train.mean(axis=0), 0.0)
    inputs, sources = input_sources(trained)
    coef = np.atleast_2d(trained.estimator.coef_)
    per_class = []
    for k in range(len(trained.classes)):
        weights = coef[k] if len(coef) > 1 else coef[0]  # binary: both classes score ± the positive log-odds
        contributions = (X - baseline) * weights
        attributions = np.stack([contributions[:, sources == j].sum(axis=1) for j in range(len(inputs))], axis=1)
        per_class.append(dict(zip(inputs, np.abs(attributions).mean(axis=0))))
    return per_class


def tree_oracle(con, trained, query: str, label: str) -> list[dict[str, float]]:
    """Per class, mean over the eval rows of |Shapley value| of that class's output: a multiclass boosted model's
    class trees, a forest's class probability averaged over its trees, a binary boosted model's log-odds."""
    X = design_matrix(trained, split_rows(con, query, label, eval_rows=True))
    inputs, sources = input_sources(trained)
    members = trees(trained)
    boosted = trained.model_type.family.name == "BOOSTED_TREE"
    classes = len(trained.classes)
    per_class = []
    for k in range(classes):
        total = np.zeros(len(inputs))
        for x in X:
            phi = np.zeros(len(inputs))
            for tree in members:
                if boosted and classes > 2 and tree.output != k:
                    continue
                phi += _oracle(tree, tree.values[:, 0 if boosted else k], x, sources, len(inputs))
            total += np.abs(phi / (1 if boosted else len(members)))
        per_class.append(dict(zip(inputs, total / len(X))))
    return per_class


def assert_rows_match(out, classes: list[str], expected: list[dict[str, float]], top: int = 10) -> None:
    """Row by row: the classes in order, each with its `top` largest attributions, largest first."""
    assert out.column_names == ["class_label", "feature", "attribution"]
    frame = out.to_pandas()
    counts = [min(top, len(e)) for e in expected]
    assert frame["class_label"].tolist() == [c for c, n in zip(classes, counts) for _ in range(n)]
    start = 0
    for values, n in zip(expected, counts):
        rows = frame.iloc[start:start + n]
        start += n
        ranked = sorted(values.values(), reverse=True)[:n]
        assert rows["attribution"].tolist() == pytest.approx(ranked, rel=1e-9, abs=1e-12)
        for feature, attribution in zip(rows["feature"], rows["attribution"]):
            assert attribution == pytest.approx(values[feature], rel=1e-9, abs=1e-12)
    assert sum(frame["attribution"]) > 0


@pytest.fixture(scope="module")
def con():
    con = connect()
    rng = np.random.default_rng(3)
    features = rng.normal(size=(240, 12)) * np.linspace(0.5, 3.0, 12)
    scores = features @ rng.normal(size=(12, 3))
    wide = pd.DataFrame(features, columns=[f"x{i:02d}" for i in range(12)])
    wide["cls"] = scores.argmax(axis=1) + rng.integers(0, 2, 240)  # four INT64 classes, 0 to 3
    wide["is_eval"] = np.arange(240) % 4 == 0
    con.register("wide_df", wide)
    con.execute("CREATE TABLE wide AS SELECT * FROM wide_df")
    for name, model_type, query, label, options in (
            ("penguin_logistic", "LOGISTIC_REG", PENGUINS, "species", {"max_iterations": 50}),
            ("penguin_binary", "LOGISTIC_REG", ADELIE, "adelie", {"max_iterations": 50}),
            ("wide_logistic", "LOGISTIC_REG", WIDE, "cls", {"max_iterations": 50}),
            ("iris_boosted", "BOOSTED_TREE_CLASSIFIER", IRIS, "species", {"max_iterations": 3, "max_tree_depth": 3}),
            ("iris_forest", "RANDOM_FOREST_CLASSIFIER", IRIS, "species", {"num_parallel_tree": 3,
                                                                         "max_tree_depth": 3}),
            ("versicolor_boosted", "BOOSTED_TREE_CLASSIFIER", VERSICOLOR, "versicolor",
             {"max_iterations": 3, "max_tree_depth": 3}),
            ("petal_linear", "LINEAR_REG", IRIS, "petal_width", {})):
        options = {"model_type": model_type, "input_label_cols": [label], **SPLIT, **options}
        save_model(con, train_model(con, name=name, options=options, query=query))
    save_model(con, train_model(con, name="iris_clusters", options={"model_type": "KMEANS", "num_clusters": 3},
                                query="SELECT sepal_length, sepal_width FROM iris"))
    return con


def test_multiclass_logistic_regression_explains_each_class_by_its_weights(con):
    out = sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL penguin_logistic, {CLASS_LEVEL})")
    trained = load_model(con, "penguin_logistic")
    expected = linear_oracle(con, trained, PENGUINS, "species")
    assert set(expected[0]) == {"island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
                                "sex"}
    assert_rows_match(out, ["Adelie", "Chinstrap", "Gentoo"], expected)
    assert expected[0] != pytest.approx(expected[1])  # each class has its own weights


def test_a_binary_classifier_explains_both_classes_as_the_model_level_does(con):
    """Class 0's score is the negative of class 1's log-odds: both classes' attributions are the model-level
    ones (each row explaining its predicted class), and class_label is the BOOL label as a STRING."""
    out = sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL penguin_binary, {CLASS_LEVEL})")
    trained = load_model(con, "penguin_binary")
    expected = linear_oracle(con, trained, ADELIE, "adelie")
    assert_rows_match(out, ["false", "true"], expected)
    model_level = sql(con, "SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL penguin_binary)").to_pylist()
    frame = out.to_pandas()
    for label in ("false", "true"):
        rows = frame[frame["class_label"] == label]
        assert [{"feature": f, "attribution": a} for f, a in zip(rows["feature"], rows["attribution"])] == [
            {"feature": r["feature"], "attribution": pytest.approx(r["attribution"], rel=1e-12)} for r in model_level]


@pytest.mark.parametrize(("model", "query", "label", "classes"), [
    ("iris_boosted", IRIS, "species", ["setosa", "versicolor", "virginica"]),
    ("iris_forest", IRIS, "species", ["setosa", "versicolor", "virginica"]),
    ("versicolor_boosted", VERSICOLOR, "versicolor", ["false", "true"])])
def test_trees_explain_each_class_by_its_tree_shap_values(con, model, query, label, classes):
    out = sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL {model}, {CLASS_LEVEL})")
    expected = tree_oracle(con, load_model(con, model), query, label)
    assert_rows_match(out, classes, expected)


def test_only_the_top_10_features_of_each_class(con):
    out = sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL wide_logistic, {CLASS_LEVEL})")
    trained = load_model(con, "wide_logistic")
    assert len(trained.preprocessor.input_columns) == 12
    expected = linear_oracle(con, trained, WIDE, "cls")
    assert_rows_match(out, ["0", "1", "2", "3"], expected, top=10)
    assert out.num_rows == 40


def test_false_or_absent_is_the_model_level_explanation(con):
    for model in ("penguin_logistic", "iris_forest", "petal_linear"):
        absent = sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL {model})")
        assert absent.column_names == ["feature", "attribution"]
        assert sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL {model}, STRUCT(FALSE AS class_level_explain))"
                   ).to_pylist() == absent.to_pylist()


def test_class_level_explain_of_a_regressor_or_kmeans_is_refused(con):
    with pytest.raises(ModelError, match="class_level_explain applies to classification models; a LINEAR_REG "
                                         "model has only model-level global feature importance") as raised:
        sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL petal_linear, {CLASS_LEVEL})")
    assert "class_level_explain" in raised.value.hint
    with pytest.raises(ModelError, match=r"ML.GLOBAL_EXPLAIN does not apply to model iris_clusters \(KMEANS\)"):
        sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL iris_clusters, {CLASS_LEVEL})")


def test_a_version_stored_without_per_class_attributions_asks_for_a_retrain(con):
    options = {"model_type": "LOGISTIC_REG", "input_label_cols": ["species"], "max_iterations": 20, **SPLIT}
    save_model(con, train_model(con, name="older_logistic", options=options, query=IRIS))
    con.execute("DELETE FROM _toolkit.model_class_explain WHERE model_name = 'older_logistic'")
    with pytest.raises(ModelError, match="version 1 was stored before classifiers kept each class's attributions"
                       ) as raised:
        sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL older_logistic, {CLASS_LEVEL})")
    assert "toolkit build --select older_logistic" in raised.value.hint
    assert sql(con, "SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL older_logistic)").num_rows == 4  # model-level still


def test_drop_model_removes_the_per_class_attributions(con):
    from toolkit.ml.store.lifecycle import STORE_TABLES, drop_model

    assert "model_class_explain" in STORE_TABLES
    count = "SELECT count(*) FROM _toolkit.model_class_explain WHERE model_name = 'iris_forest'"
    assert con.execute(count).fetchall()[0][0] == 12  # 3 classes × 4 input columns
    drop_model(con, "iris_forest")
    assert con.execute(count).fetchall()[0][0] == 0
