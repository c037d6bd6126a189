"""ML.GLOBAL_EXPLAIN of tree models: the mean absolute Tree SHAP attribution of each input column over the eval
rows, against a brute-force Shapley oracle (every subset of the inputs) computed row by row.

https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-global-explain: "explanations for
the entire model by aggregating the local explanations of the evaluation data"; trees' local explanations are Tree
SHAP (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-explain-predict)."""

from __future__ import annotations

import numpy as np
import pytest
import sqlglot
from ml_data import connect
from test_treeshap import _oracle

from toolkit.errors import ToolkitError
from toolkit.ml import load_model, save_model, train_model
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.inference import attributions
from toolkit.ml.inference.attributions import input_sources
from toolkit.ml.inference.predict import design_matrix
from toolkit.ml.inference.trees import trees
from toolkit.sql.dialect import DIALECT

QUERY = "SELECT sepal_length, sepal_width, petal_length, petal_width, species, rowid % 4 = 0 AS is_eval FROM iris"
EVAL_ROWS = "SELECT * FROM (" + QUERY + ") WHERE is_eval"
SPLIT = {"data_split_method": "CUSTOM", "data_split_col": "is_eval", "enable_global_explain": True}


def sql(con, text: str):
    with applied_ml_calls(con, sqlglot.parse_one(text, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).to_arrow_table()


def oracle_mean_abs(trained, X: np.ndarray) -> dict[str, float]:
    """Mean |Shapley value| per input over the rows of X, each row explaining its predicted class."""
    inputs, sources = input_sources(trained)
    members = trees(trained)
    boosted = trained.model_type.family.name == "BOOSTED_TREE"
    classes = len(trained.classes or ())
    chosen = np.zeros(len(X), np.int64) if not classes else trained.estimator.predict_proba(X).argmax(axis=1)
    total = np.zeros(len(inputs))
    for x, k in zip(X, chosen):
        phi = np.zeros(len(inputs))
        for tree in members:
            if boosted and classes > 2 and tree.output != k:
                continue
            column = k if not boosted and classes else 0
            phi += _oracle(tree, tree.values[:, column], x, sources, len(inputs))
        total += np.abs(phi / (1 if boosted else len(members)))
    return dict(zip(inputs, total / len(X)))


@pytest.fixture(scope="module")
def con():
    con = connect()
    for name, model_type, options in (
            ("iris_boosted", "BOOSTED_TREE_CLASSIFIER", {"max_iterations": 4, "max_tree_depth": 3}),
            ("iris_forest", "RANDOM_FOREST_CLASSIFIER", {"num_parallel_tree": 3, "max_tree_depth": 4}),
            ("petal_boosted", "BOOSTED_TREE_REGRESSOR", {"max_iterations": 3, "max_tree_depth": 3,
                                                         "input_label_cols": ["petal_width"]})):
        options = {"model_type": model_type, "input_label_cols": ["species"], **SPLIT, **options}
        save_model(con, train_model(con, name=name, options=options, query=QUERY))
    return con


@pytest.mark.parametrize("model", ["iris_boosted", "iris_forest", "petal_boosted"])
def test_global_explain_is_the_mean_absolute_tree_shap_of_the_eval_rows(con, model):
    out = sql(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL {model})")
    values = out.column("attribution").to_pylist()
    assert values == sorted(values, reverse=True)
    trained = load_model(con, model)
    X = design_matrix(trained, con.sql(EVAL_ROWS).to_arrow_table())
    assert len(X) == 38  # the eval split, not the training rows
    expected = oracle_mean_abs(trained, X)
    got = dict(zip(out.column("feature").to_pylist(), values))
    assert set(got) == set(expected)
    for feature, value in expected.items():
        assert got[feature] == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert sum(got.values()) > 0


def test_global_explain_beyond_the_row_bound_is_a_seeded_sample(con, monkeypatch):
    assert attributions.sample_rows(1_280) == 2_000  # 20 boosted trees of depth 6
    assert attributions.sample_rows(100_000) == 200  # 100 deep forest trees: fewer rows, never below 200
    assert attributions.sample_rows(10_000_000) == 200
    monkeypatch.setattr(attributions, "GLOBAL_EXPLAIN_ROWS", 10)
    options = {"model_type": "BOOSTED_TREE_REGRESSOR", "input_label_cols": ["petal_width"], "max_iterations": 3,
               "data_split_method": "NO_SPLIT", "enable_global_explain": True}
    first = train_model(con, name="sampled", options=options, query=QUERY).model
    again = train_model(con, name="sampled", options=options, query=QUERY).model
    assert first.global_explain == again.global_explain  # the same sample each time
    # training reads its rows ordered by the features, then the label
    ordered = QUERY + " ORDER BY sepal_length, sepal_width, petal_length, species, is_eval, petal_width"
    X = design_matrix(first, con.sql(ordered).to_arrow_table())
    rows = np.sort(np.random.default_rng(first.seed).choice(len(X), 10, replace=False))
    expected = oracle_mean_abs(first, X[rows])
    assert first.global_explain == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_global_explain_of_a_tree_version_stored_without_attributions_asks_for_a_retrain(con):
    con.execute("DELETE FROM _toolkit.model_global_explain WHERE model_name = 'petal_boosted'")
    with pytest.raises(ToolkitError, match="stored before tree models kept their mean absolute attributions"):
        sql(con, "SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL petal_boosted)")


def test_drop_model_removes_the_stored_attributions(con):
    from toolkit.ml.store.lifecycle import STORE_TABLES, drop_model

    assert "model_global_explain" in STORE_TABLES
    count = "SELECT count(*) FROM _toolkit.model_global_explain WHERE model_name = 'iris_forest'"
    assert con.execute(count).fetchall()[0][0] == 4  # one row per input column
    drop_model(con, "iris_forest")
    assert con.execute(count).fetchall()[0][0] == 0
