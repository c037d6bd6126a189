"""Training every model type on small public data; the closed-form check; reproducibility; recorded info."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from ml_data import DIABETES, IRIS, PENGUIN_MASS, PENGUIN_SPECIES, connect

from toolkit.ml.inference.predict import predict
from toolkit.ml.store import artifact
from toolkit.ml.training.train import seed_for, train_model

REGRESSION = ["mean_absolute_error", "mean_squared_error", "mean_squared_log_error", "median_absolute_error",
              "r2_score", "explained_variance"]
CLASSIFICATION = ["precision", "recall", "accuracy", "f1_score", "log_loss", "roc_auc"]


@pytest.fixture(scope="module")
def con():
    return connect()


def train(con, model_type: str, query: str, name: str = "m", **options):
    return train_model(con, name=name, options={"model_type": model_type, **options}, query=query).model


def test_linear_reg_equals_closed_form_least_squares_on_bigquery_encoding(con):
    """NO_SPLIT LINEAR_REG on palmerpenguins = numpy's least squares on standardized numerics and full one-hot."""
    trained = train(con, "LINEAR_REG", PENGUIN_MASS, data_split_method="NO_SPLIT")
    assert type(trained.estimator).__name__ == "LinearRegression"
    df = con.sql(PENGUIN_MASS).df()
    columns = []
    for name, category in trained.preprocessor.output_columns():
        values = df[name]
        if pd.api.types.is_numeric_dtype(values):
            filled = values.astype(float).fillna(values.mean())
            columns.append((filled - values.mean()) / values.std(ddof=1))
        else:
            columns.append((values.isna() if category is None else values == category).astype(float))
    X = np.column_stack(columns)
    y = df["label"].to_numpy(float)
    assert {c for _, c in trained.preprocessor.output_columns()} >= {None, "female", "male", "Adelie", "Dream"}
    # One-hot with an intercept is rank-deficient: the solution is the minimum-norm one over the weights
    # (the intercept unpenalized), i.e. least squares on the centred design.
    weights, *_ = np.linalg.lstsq(X - X.mean(axis=0), y - y.mean(), rcond=None)
    intercept = y.mean() - X.mean(axis=0) @ weights
    np.testing.assert_allclose(trained.estimator.coef_, weights, rtol=1e-6, atol=1e-6)
    assert trained.estimator.intercept_ == pytest.approx(intercept, rel=1e-9)
    # Predictions are the same for every least-squares solution, e.g. the normal equation's with an intercept column.
    design = np.column_stack([np.ones(len(X)), X])
    normal, *_ = np.linalg.lstsq(design.T @ design, design.T @ y, rcond=None)
    got = predict(trained, con.sql(PENGUIN_MASS).to_arrow_table()).column("predicted_label").to_numpy()
    np.testing.assert_allclose(got, design @ normal, rtol=1e-7)
    assert trained.metrics_split == "training" and trained.split["eval_rows"] == 0
    assert trained.metrics["mean_squared_error"] == pytest.approx(np.mean((y - got) ** 2))


def test_linear_reg_variants(con):
    ridge = train(con, "LINEAR_REG", DIABETES, l2_reg=10.0)
    assert type(ridge.estimator).__name__ == "Ridge" and ridge.estimator.alpha == 10.0
    lasso = train(con, "LINEAR_REG", DIABETES, l1_reg=5000.0, max_iterations=200)
    assert type(lasso.estimator).__name__ == "ElasticNet" and np.count_nonzero(lasso.estimator.coef_ == 0) > 0
    gradient = train(con, "LINEAR_REG", DIABETES, optimize_strategy="BATCH_GRADIENT_DESCENT")
    assert type(gradient.estimator).__name__ == "Ridge" and len(gradient.iterations) > 1  # the toolkit's descent
    assert set(ridge.metrics) == set(REGRESSION) and ridge.split["method"] == "NO_SPLIT"  # 442 rows < 500


@pytest.mark.parametrize("model_type", ["LOGISTIC_REG", "BOOSTED_TREE_CLASSIFIER", "RANDOM_FOREST_CLASSIFIER",
                                        "DNN_CLASSIFIER"])
def test_classifiers_multiclass(con, model_type):
    extra = {"DNN_CLASSIFIER": {"hidden_units": [16], "learn_rate": 0.02},
             "RANDOM_FOREST_CLASSIFIER": {"num_parallel_tree": 20}}.get(model_type, {})
    trained = train(con, model_type, PENGUIN_SPECIES, data_split_method="RANDOM", **extra)
    assert trained.classes == ("Adelie", "Chinstrap", "Gentoo")
    assert set(trained.metrics) == set(CLASSIFICATION) and trained.metrics_split == "eval"
    assert trained.metrics["accuracy"] > 0.8
    out = predict(trained, con.sql(PENGUIN_SPECIES).limit(5).to_arrow_table())
    assert out.column_names == ["predicted_label", "predicted_label_probs"]
    probs = out.column("predicted_label_probs").to_pylist()
    assert [p["label"] for p in probs[0]] == ["Adelie", "Chinstrap", "Gentoo"]
    assert sum(p["prob"] for p in probs[0]) == pytest.approx(1.0)
    assert trained.iterations and trained.iterations[0].eval_loss is not None


def test_random_forest_parameters_come_from_options(con):
    trained = train(con, "RANDOM_FOREST_CLASSIFIER", IRIS, num_parallel_tree=15, max_tree_depth=4, subsample=0.5)
    params = trained.estimator.get_params()
    assert (params["n_estimators"], params["max_depth"], params["max_samples"], params["max_features"]) == \
        (15, 4, 0.5, 0.8)
    assert params["random_state"] == seed_for("m") == trained.seed


def test_binary_positive_class_is_the_higher_label(con):
    query = "SELECT species = 'Gentoo' AS label, * EXCLUDE (species) FROM penguins"
    trained = train(con, "LOGISTIC_REG", query)
    assert trained.classes == (False, True) and list(trained.estimator.classes_) == [0, 1]
    out = predict(trained, con.sql(query).to_arrow_table(), threshold=0.5)
    gentoo = con.sql(query).to_arrow_table().column("label").to_pylist()
    assert out.column("predicted_label").to_pylist() == gentoo
    never = predict(trained, con.sql(query).limit(20).to_arrow_table(), threshold=1.0)
    assert not any(never.column("predicted_label").to_pylist())


@pytest.mark.parametrize("model_type", ["BOOSTED_TREE_REGRESSOR", "RANDOM_FOREST_REGRESSOR", "DNN_REGRESSOR"])
def test_regressors(con, model_type):
    query = "SELECT body_mass_g / 1000 AS label, * EXCLUDE (body_mass_g) FROM penguins WHERE body_mass_g NOT NULL"
    extra = {"num_parallel_tree": 20} if model_type.startswith("RANDOM") else {}
    if model_type.startswith("DNN"):
        extra = {"hidden_units": [16], "learn_rate": 0.01, "max_iterations": 30}
    trained = train(con, model_type, query, data_split_method="RANDOM", **extra)
    assert set(trained.metrics) == set(REGRESSION)
    assert trained.metrics["r2_score"] > 0.6
    out = predict(trained, con.sql(query).limit(3).to_arrow_table())
    assert out.schema.field("predicted_label").type == pa.float64()


def test_boosted_trees_record_every_iteration_and_stop_early(con):
    full = train(con, "BOOSTED_TREE_REGRESSOR", DIABETES, data_split_method="RANDOM", early_stop=False,
                 max_iterations=15, learn_rate=0.1)
    assert [i.iteration for i in full.iterations] == list(range(15))
    assert all(i.eval_loss is not None and i.learning_rate == 0.1 for i in full.iterations)
    assert full.iterations[-1].loss < full.iterations[0].loss
    stopped = train(con, "BOOSTED_TREE_REGRESSOR", DIABETES, data_split_method="RANDOM", max_iterations=15,
                    learn_rate=0.1, min_rel_progress=0.05)
    assert len(stopped.iterations) < 15 and stopped.estimator.n_iter_ == len(stopped.iterations)
    assert [i.loss for i in stopped.iterations] == [i.loss for i in full.iterations[:len(stopped.iterations)]]


def test_kmeans(con):
    query = "SELECT * EXCLUDE (species) FROM iris"
    trained = train(con, "KMEANS", query, num_clusters=3, kmeans_init_method="KMEANS++")
    assert trained.estimator.n_clusters == 3 and set(trained.metrics) == {"davies_bouldin_index",
                                                                           "mean_squared_distance"}
    out = predict(trained, con.sql(query).to_arrow_table())
    assert set(out.column("centroid_id").to_pylist()) == {1, 2, 3}
    nearest = out.column("nearest_centroids_distance").to_pylist()[0]
    assert len(nearest) == 3 and nearest[0]["centroid_id"] == out.column("centroid_id")[0].as_py()
    assert [d["distance"] for d in nearest] == sorted(d["distance"] for d in nearest)
    default = train(con, "KMEANS", query)
    assert default.estimator.n_clusters == 2  # log10(150 rows)
    custom = train(con, "KMEANS", "SELECT *, sepal_length IN (4.3, 7.9) AS init FROM iris",
                   kmeans_init_method="CUSTOM", kmeans_init_col="init")
    assert custom.estimator.n_clusters == 2 and "init" not in custom.input_columns
    cosine = train(con, "KMEANS", query, num_clusters=3, distance_type="COSINE")
    distances = predict(cosine, con.sql(query).to_arrow_table()).column("nearest_centroids_distance").to_pylist()
    assert all(0 <= d["distance"] <= 2 for row in distances for d in row)


def test_pca(con):
    query = "SELECT * EXCLUDE (species) FROM iris"
    trained = train(con, "PCA", query, num_principal_components=2)
    out = predict(trained, con.sql(query).to_arrow_table())
    assert out.column_names == ["principal_component_1", "principal_component_2"]
    assert 0.5 < trained.metrics["total_explained_variance_ratio"] <= 1.0
    by_ratio = train(con, "PCA", query, pca_explained_variance_ratio=0.9)
    assert sum(by_ratio.estimator.explained_variance_ratio_) >= 0.9


def test_class_weights(con):
    auto = train(con, "LOGISTIC_REG", PENGUIN_SPECIES, auto_class_weights=True)
    explicit = train(con, "LOGISTIC_REG", PENGUIN_SPECIES,
                     class_weights=[("Adelie", 344 / (3 * 152)), ("Chinstrap", 344 / (3 * 68)),
                                    ("Gentoo", 344 / (3 * 124))])
    np.testing.assert_allclose(auto.estimator.coef_, explicit.estimator.coef_, rtol=1e-6, atol=1e-8)
    plain = train(con, "LOGISTIC_REG", PENGUIN_SPECIES)
    assert not np.allclose(plain.estimator.coef_, auto.estimator.coef_)


def test_training_records_statistics_and_provenance(con):
    trained = train(con, "LOGISTIC_REG", PENGUIN_SPECIES)
    info = {row["input"]: row for row in trained.feature_info}
    assert info["bill_length_mm"]["null_count"] == 2 and info["island"]["category_count"] == 3
    assert info["sex"]["null_count"] == 11 and info["bill_length_mm"]["median"] == pytest.approx(44.45)
    stats = trained.data_stats
    assert stats["island"]["counts"] == {"Biscoe": 168, "Dream": 124, "Torgersen": 52}
    assert sum(stats["flipper_length_mm"]["counts"]) == 342 and len(stats["flipper_length_mm"]["edges"]) == 21
    assert len(trained.query_fingerprint) == 64 and len(trained.data_fingerprint) == 64
    assert trained.library_versions["scikit-learn"] and trained.seed == seed_for("m")
    assert [c["name"] for c in trained.feature_schema][:2] == ["island", "bill_length_mm"]
    assert trained.feature_schema[0]["type"] == "VARCHAR"


def test_split_column_is_never_a_feature(con):
    query = "SELECT *, sepal_length > 6.5 AS is_eval FROM iris"
    trained = train(con, "LOGISTIC_REG", query, input_label_cols=["species"], data_split_method="CUSTOM",
                    data_split_col="is_eval")
    eval_rows = con.sql("SELECT count(*) FROM iris WHERE sepal_length > 6.5").fetchall()[0][0]
    assert "is_eval" not in trained.input_columns and trained.split["eval_rows"] == eval_rows
    seq = train(con, "LINEAR_REG", "SELECT sepal_length AS label, petal_width, petal_length AS t FROM iris",
                data_split_method="SEQ", data_split_col="t", data_split_eval_fraction=0.2)
    assert seq.input_columns == ["petal_width"] and seq.split["eval_rows"] == 30


def _artifact_members(estimator) -> dict[str, bytes]:
    """The skops archive's files, with skops' object ids (Python id()s) renumbered in order of appearance."""
    data, _ = artifact.dump(estimator)
    archive = zipfile.ZipFile(io.BytesIO(data))
    schema = archive.read("schema.json").decode()
    ids: dict[str, str] = {}
    schema = re.sub(r"\d{9,}", lambda m: ids.setdefault(m.group(), f"id{len(ids)}"), schema)
    members = {"schema.json": schema.encode()}
    for name in archive.namelist():
        if name != "schema.json":
            stem, _, suffix = name.partition(".")
            members[f"{ids.get(stem, stem)}.{suffix}"] = archive.read(name)
    return members


@pytest.mark.parametrize("model_type, query, options", [
    ("LOGISTIC_REG", PENGUIN_SPECIES, {"data_split_method": "RANDOM"}),
    ("BOOSTED_TREE_CLASSIFIER", PENGUIN_SPECIES, {"data_split_method": "RANDOM", "colsample_bynode": 0.5}),
    ("RANDOM_FOREST_REGRESSOR", PENGUIN_MASS, {"num_parallel_tree": 10}),
    ("DNN_CLASSIFIER", IRIS, {"hidden_units": [8], "max_iterations": 5}),
    ("KMEANS", "SELECT * EXCLUDE (species) FROM iris", {"num_clusters": 4}),
])
def test_training_twice_gives_identical_parameters_and_predictions(con, model_type, query, options):
    first, second = (train(con, model_type, query, name="twice", **options) for _ in range(2))
    assert first.seed == second.seed and first.data_fingerprint == second.data_fingerprint
    assert _artifact_members(first.estimator) == _artifact_members(second.estimator)
    rows = con.sql(query).to_arrow_table()
    assert predict(first, rows).equals(predict(second, rows))
    assert first.metrics == second.metrics
    assert [(i.loss, i.eval_loss) for i in first.iterations] == [(i.loss, i.eval_loss) for i in second.iterations]
    other = train(con, model_type, query, name="another_name", **options)
    assert other.seed != first.seed
