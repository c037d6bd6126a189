"""The ML.* table functions of the registry, called directly on small trained models: output columns and types as
BigQuery names them, values against scikit-learn / numpy, streaming over several batches, and every refusal."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from ml_data import DIABETES, IRIS, PENGUIN_MASS, connect
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import confusion_matrix, roc_curve

from toolkit.errors import ConfigError, ModelError
from toolkit.ml.functions.apply import function_rows
from toolkit.ml.functions.catalog import TABLE_FUNCTIONS
from toolkit.ml.functions.evaluate import class_column_names, roc_thresholds
from toolkit.ml.inference.predict import design_matrix, predict
from toolkit.ml.training.train import train_model

BATCH = 64  # rows per input batch: every input below streams in several batches
CANCER = "SELECT label, * EXCLUDE (label, id, is_eval) FROM cancer"
CANCER_EVAL = CANCER + " WHERE is_eval"
CANCER_SPLIT = "SELECT * EXCLUDE (id) FROM cancer"
DIABETES_SPLIT = "SELECT target AS label, (rowid % 5 = 0) AS is_eval, * EXCLUDE (target) FROM diabetes"
DIABETES_EVAL = "SELECT target AS label, * EXCLUDE (target) FROM diabetes WHERE rowid % 5 = 0"
IRIS_FEATURES = "SELECT * EXCLUDE (species) FROM iris"
F64, I64, STR = pa.float64(), pa.int64(), pa.string()


@pytest.fixture(scope="module")
def con():
    con = connect()
    data = load_breast_cancer(as_frame=True).frame
    data.columns = [c.replace(" ", "_") for c in data.columns]
    frame = pd.DataFrame({"id": np.arange(len(data)), "label": data.pop("target").astype(np.int64)})
    frame = pd.concat([frame, data.iloc[:, :8]], axis=1)  # eight features keep training fast
    frame["is_eval"] = frame["id"] % 4 == 0
    con.register("cancer_df", frame)
    con.execute("CREATE TABLE cancer AS SELECT * FROM cancer_df")
    return con


@pytest.fixture(scope="module")
def models(con):
    def train(name, model_type, query, **options):
        return train_model(con, name=name, options={"model_type": model_type, **options}, query=query).model

    return {
        "linear": train("linear", "LINEAR_REG", DIABETES, data_split_method="NO_SPLIT", enable_global_explain=True),
        "linear_split": train("linear_split", "LINEAR_REG", DIABETES_SPLIT, data_split_method="CUSTOM",
                              data_split_col="is_eval"),
        "penguins": train("penguins", "LINEAR_REG", PENGUIN_MASS, data_split_method="NO_SPLIT"),
        "binary": train("binary", "LOGISTIC_REG", CANCER_SPLIT, data_split_method="CUSTOM", data_split_col="is_eval",
                        max_iterations=200),
        "iris": train("iris", "LOGISTIC_REG", IRIS, max_iterations=200, enable_global_explain=True),
        "boosted": train("boosted", "BOOSTED_TREE_CLASSIFIER", CANCER_SPLIT, data_split_method="CUSTOM",
                         data_split_col="is_eval", max_iterations=10),
        "boosted_iris": train("boosted_iris", "BOOSTED_TREE_CLASSIFIER", IRIS, max_iterations=5),
        "boosted_reg": train("boosted_reg", "BOOSTED_TREE_REGRESSOR", DIABETES, max_iterations=10,
                             enable_global_explain=True),
        "forest": train("forest", "RANDOM_FOREST_REGRESSOR", DIABETES, num_parallel_tree=2, subsample=1.0,
                        colsample_bynode=1.0, max_tree_depth=6),
        "forest_iris": train("forest_iris", "RANDOM_FOREST_CLASSIFIER", IRIS, num_parallel_tree=15),
        "kmeans": train("kmeans", "KMEANS", IRIS_FEATURES, num_clusters=3, early_stop=False, max_iterations=300,
                        kmeans_init_method="KMEANS++"),
        "pca": train("pca", "PCA", IRIS_FEATURES, num_principal_components=2),
    }


def call(con, name, trained, query=None, **settings):
    """ML.`name` of a model not in the store, through the code the SQL rewrite runs on the Python path; a streamed
    result must come in several batches, each of the declared schema."""
    cursors = []
    try:
        result = function_rows(con, name, trained, query, settings, cursors, batch_rows=BATCH)
        if isinstance(result, pa.Table):
            return result
        batches = list(result)
        assert len(batches) > 1 and all(b.schema == result.schema for b in batches)
        return pa.Table.from_batches(batches, schema=result.schema)
    finally:
        for cursor in cursors:
            cursor.close()


def types(table):
    return {f.name: f.type for f in table.schema}


def frame(con, query):
    return con.sql(query).df()


def test_registry_holds_every_function():
    assert set(TABLE_FUNCTIONS) == {"PREDICT", "EVALUATE", "CONFUSION_MATRIX", "ROC_CURVE", "TRAINING_INFO",
                                    "FEATURE_INFO", "WEIGHTS", "CENTROIDS", "FEATURE_IMPORTANCE", "EXPLAIN_PREDICT",
                                    "GLOBAL_EXPLAIN", "TRANSFORM", "ADVANCED_WEIGHTS", "PRINCIPAL_COMPONENTS",
                                    "PRINCIPAL_COMPONENT_INFO", "DETECT_ANOMALIES", "TRIAL_INFO"}
    assert {n for n, f in TABLE_FUNCTIONS.items() if f.input == "none"} == {
        "TRAINING_INFO", "FEATURE_INFO", "WEIGHTS", "CENTROIDS", "FEATURE_IMPORTANCE", "GLOBAL_EXPLAIN",
        "ADVANCED_WEIGHTS", "PRINCIPAL_COMPONENTS", "PRINCIPAL_COMPONENT_INFO", "TRIAL_INFO"}
    assert all(f.schema is not None for f in TABLE_FUNCTIONS.values()
               if f.name in ("PREDICT", "EXPLAIN_PREDICT", "TRANSFORM"))


# --- ML.EVALUATE ----------------------------------------------------------------------------------------------------
REGRESSION = ["mean_absolute_error", "mean_squared_error", "mean_squared_log_error", "median_absolute_error",
              "r2_score", "explained_variance"]
CLASSIFICATION = ["precision", "recall", "accuracy", "f1_score", "log_loss", "roc_auc"]


def test_evaluate_without_input_returns_the_recorded_metrics(con, models):
    out = call(con, "EVALUATE", models["linear_split"])
    assert out.num_rows == 1 and types(out) == dict.fromkeys(REGRESSION, F64)
    assert out.to_pylist()[0] == pytest.approx(models["linear_split"].metrics)
    assert call(con, "EVALUATE", models["kmeans"]).column_names == ["davies_bouldin_index", "mean_squared_distance"]
    assert call(con, "EVALUATE", models["pca"]).column_names == ["total_explained_variance_ratio"]


def test_evaluate_on_the_eval_rows_equals_the_recorded_metrics(con, models):
    regression = call(con, "EVALUATE", models["linear_split"], DIABETES_EVAL).to_pylist()[0]
    assert models["linear_split"].metrics_split == "eval"
    assert regression == pytest.approx(models["linear_split"].metrics, rel=1e-9)
    y = frame(con, DIABETES_EVAL)["label"].to_numpy()
    pred = predict(models["linear_split"], con.sql(DIABETES_EVAL).to_arrow_table()).column(0).to_numpy()
    assert regression["median_absolute_error"] == pytest.approx(np.sort(np.abs(y - pred))[(len(y) - 1) // 2])
    for name in ("binary", "boosted"):
        out = call(con, "EVALUATE", models[name], CANCER_EVAL)
        assert types(out) == dict.fromkeys(CLASSIFICATION, F64)
        assert out.to_pylist()[0] == pytest.approx(models[name].metrics, rel=1e-9)


def test_evaluate_threshold_applies_to_binary_classifiers(con, models):
    trained = models["binary"]
    y = frame(con, CANCER_EVAL)["label"].to_numpy()
    proba = predict(trained, con.sql(CANCER_EVAL).to_arrow_table()).column(1).to_pylist()
    positive = np.array([p[1]["prob"] for p in proba])
    out = call(con, "EVALUATE", trained, CANCER_EVAL, threshold=0.9).to_pylist()[0]
    predicted = positive > 0.9
    assert out["precision"] == pytest.approx((predicted & (y == 1)).sum() / predicted.sum())
    assert out["recall"] == pytest.approx((predicted & (y == 1)).sum() / (y == 1).sum())
    assert out["accuracy"] == pytest.approx(np.mean(predicted == (y == 1)))
    # Without input, at a threshold: the eval split the model kept, what its rows give (probabilities computed in
    # other batches may differ in the last bit).
    assert call(con, "EVALUATE", trained, threshold=0.9).to_pylist()[0] == pytest.approx(out, rel=1e-12)
    assert call(con, "EVALUATE", trained, threshold=0.5).to_pylist()[0] == call(con, "EVALUATE", trained).to_pylist()[0]
    with pytest.raises(ConfigError, match=r"ML.EVALUATE with model iris: threshold applies to binary classifiers"):
        call(con, "EVALUATE", models["iris"], IRIS, threshold=0.9)
    with pytest.raises(ConfigError, match=r"ML.EVALUATE with model binary: threshold = 1.5 is outside \[0.0, 1.0\]") \
            as e:
        call(con, "EVALUATE", trained, CANCER_EVAL, threshold=1.5)
    assert e.value.hint == "give a threshold between 0.0 and 1.0"
    with pytest.raises(ConfigError, match=r"ML.EVALUATE has no setting 'treshold' \(did you mean \"threshold\"\?\) "
                                          r"\(model binary\)"):
        call(con, "EVALUATE", trained, CANCER_EVAL, treshold=0.5)


def test_evaluate_multiclass_kmeans_and_pca_on_input(con, models):
    iris = call(con, "EVALUATE", models["iris"], IRIS).to_pylist()[0]
    assert models["iris"].metrics_split == "training"  # 150 rows: no split
    assert iris == pytest.approx(models["iris"].metrics, rel=1e-9)
    # k-means converged on these rows: the model's centroids are the clusters' means, as scikit-learn's score uses.
    kmeans = call(con, "EVALUATE", models["kmeans"], IRIS_FEATURES).to_pylist()[0]
    assert kmeans == pytest.approx(models["kmeans"].metrics, rel=1e-6)
    pca = call(con, "EVALUATE", models["pca"], IRIS_FEATURES).to_pylist()[0]
    assert pca["total_explained_variance_ratio"] == pytest.approx(
        float(models["pca"].estimator.explained_variance_ratio_.sum()), rel=1e-12)


def test_evaluate_of_pca_reads_its_input_rows(con, models):
    """On other rows the ratio is theirs: the squared distance from the model's centre its components capture."""
    trained = models["pca"]
    rows = f"SELECT * FROM ({IRIS_FEATURES}) WHERE petal_length > 4"
    got = call(con, "EVALUATE", trained, rows).to_pylist()[0]["total_explained_variance_ratio"]
    X = design_matrix(trained, con.sql(rows).to_arrow_table())
    centred = X - trained.estimator.mean_
    basis = trained.estimator.components_  # orthonormal rows: the projection's length is ||basis · x||
    expected = float(np.sum((centred @ basis.T) ** 2) / np.sum(centred ** 2))
    assert got == pytest.approx(expected, rel=1e-12)
    assert abs(got - float(trained.estimator.explained_variance_ratio_.sum())) > 1e-3  # not the training figure


def test_evaluate_needs_the_label_and_known_classes(con, models):
    with pytest.raises(ModelError, match=r"ML.EVALUATE with model linear: the input has no label column 'label'") as e:
        call(con, "EVALUATE", models["linear"], "SELECT * EXCLUDE (target) FROM diabetes")
    assert "select the label column" in e.value.hint
    with pytest.raises(ModelError, match=r"ML.EVALUATE with model iris: the input has label value\(s\) the model "
                                         r"never saw in training: setosa2"):
        call(con, "EVALUATE", models["iris"], "SELECT species || '2' AS label, * EXCLUDE (species) FROM iris")
    with pytest.raises(ModelError, match=r"ML.EVALUATE with model linear: the input has no column\(s\) bmi"):
        call(con, "EVALUATE", models["linear"], "SELECT target AS label, * EXCLUDE (target, bmi) FROM diabetes")
    with pytest.raises(ModelError, match=r"ML.EVALUATE with model linear: the input has no rows with a non-NULL"):
        call(con, "EVALUATE", models["linear"], DIABETES + " WHERE false")
    # Rows with a NULL label cannot be scored and are left out.
    with_nulls = ("SELECT CASE WHEN rowid % 5 = 0 AND rowid >= 100 THEN target END AS label, * EXCLUDE (target) "
                  "FROM diabetes")  # the first batches have no label at all
    expected = call(con, "EVALUATE", models["linear"], DIABETES + " WHERE rowid % 5 = 0 AND rowid >= 100")
    expected = expected.to_pylist()[0]
    assert call(con, "EVALUATE", models["linear"], with_nulls).to_pylist()[0] == pytest.approx(expected)


# --- ML.CONFUSION_MATRIX --------------------------------------------------------------------------------------------
def test_confusion_matrix_counts_every_row(con, models):
    out = call(con, "CONFUSION_MATRIX", models["iris"], IRIS)
    assert types(out) == {"expected_label": STR, "setosa": I64, "versicolor": I64, "virginica": I64}
    assert out.column("expected_label").to_pylist() == ["setosa", "versicolor", "virginica"]
    counts = np.array([out.column(c).to_pylist() for c in out.column_names[1:]]).T
    df = frame(con, IRIS)
    predicted = predict(models["iris"], con.sql(IRIS).to_arrow_table()).column(0).to_pylist()
    np.testing.assert_array_equal(counts, confusion_matrix(df["label"], predicted,
                                                           labels=["setosa", "versicolor", "virginica"]))
    assert counts.sum() == 150


def test_confusion_matrix_of_integer_labels_with_threshold(con, models):
    out = call(con, "CONFUSION_MATRIX", models["binary"], CANCER_EVAL, threshold=0.99)
    assert types(out) == {"expected_label": I64, "_0": I64, "_1": I64}
    rows = out.to_pylist()
    y = frame(con, CANCER_EVAL)["label"].to_numpy()
    positive = np.array([p[1]["prob"] for p in predict(models["binary"], con.sql(CANCER_EVAL).to_arrow_table())
                         .column(1).to_pylist()]) > 0.99
    assert rows[1] == {"expected_label": 1, "_0": int((~positive & (y == 1)).sum()), "_1": int((positive & (y == 1))
                                                                                               .sum())}
    assert sum(r["_0"] + r["_1"] for r in rows) == len(y)
    assert class_column_names([True, False, "a-b", "9x", "_y", "expected_label"]) == [
        "true", "false", "a_b", "_9x", "_y", "expected_label_2"]
    # Without input: the eval split (CUSTOM: the rows with is_eval) the model kept at training.
    assert call(con, "CONFUSION_MATRIX", models["binary"], threshold=0.99).to_pylist() == rows
    # iris had no split (150 rows): its training rows.
    assert call(con, "CONFUSION_MATRIX", models["iris"]) == call(con, "CONFUSION_MATRIX", models["iris"], IRIS)
    with pytest.raises(ModelError, match=r"ML.CONFUSION_MATRIX does not apply to model linear \(LINEAR_REG\)"):
        call(con, "CONFUSION_MATRIX", models["linear"], DIABETES)


# --- ML.ROC_CURVE ---------------------------------------------------------------------------------------------------
def test_roc_curve_matches_scikit_learn(con, models):
    trained = models["binary"]
    out = call(con, "ROC_CURVE", trained, CANCER)
    assert types(out) == {"threshold": F64, "recall": F64, "false_positive_rate": F64, "true_positives": I64,
                          "false_positives": I64, "true_negatives": I64, "false_negatives": I64}
    df = out.to_pandas()
    assert 1 < len(df) <= 101
    assert df["threshold"].is_monotonic_increasing and df["threshold"].is_unique
    assert df["recall"].is_monotonic_decreasing and df["false_positive_rate"].is_monotonic_decreasing
    y = frame(con, CANCER)["label"].to_numpy()
    assert ((df.true_positives + df.false_negatives) == (y == 1).sum()).all()
    assert ((df.false_positives + df.true_negatives) == (y == 0).sum()).all()
    scores = np.array([p[1]["prob"] for p in predict(trained, con.sql(CANCER).to_arrow_table()).column(1).to_pylist()])
    # scikit-learn counts a score >= its threshold as positive; ML.PREDICT (and so ML.ROC_CURVE) a score above it:
    # each of our rows is scikit-learn's point at the smallest of its thresholds above ours.
    fpr, tpr, sk_thresholds = roc_curve(y, scores, drop_intermediate=False)
    for row in df.itertuples():
        above = sk_thresholds > row.threshold
        i = np.flatnonzero(above)[-1] if above.any() else 0
        expected = (tpr[i], fpr[i]) if above.any() else (0.0, 0.0)
        assert (row.recall, row.false_positive_rate) == pytest.approx(expected)
    # Each row is the confusion matrix at that threshold.
    t = float(df.threshold.iloc[len(df) // 2])
    matrix = call(con, "CONFUSION_MATRIX", trained, CANCER, threshold=t).to_pylist()
    assert matrix[1]["_1"] == df.true_positives.iloc[len(df) // 2]
    assert matrix[0]["_1"] == df.false_positives.iloc[len(df) // 2]


def test_roc_curve_thresholds_and_refusals(con, models):
    scores = np.random.default_rng(0).random(1000)
    capped = roc_thresholds(scores)
    assert len(capped) == 101 and capped[0] == scores.min() and capped[-1] == scores.max()
    assert set(capped) <= set(scores)
    np.testing.assert_array_equal(roc_thresholds(np.array([0.2, 0.1, 0.2])), [0.1, 0.2])
    out = call(con, "ROC_CURVE", models["binary"], CANCER_EVAL, thresholds=[0.9, 0, 0.5, 1])
    assert out.column("threshold").to_pylist() == [0.0, 0.5, 0.9, 1.0]
    assert out.column("true_positives").to_pylist()[-1] == 0
    with pytest.raises(ConfigError, match=r"thresholds = 2.0 is outside"):
        call(con, "ROC_CURVE", models["binary"], CANCER_EVAL, thresholds=[0.5, 2.0])
    with pytest.raises(ModelError, match=r"ML.ROC_CURVE does not apply to model iris \(LOGISTIC_REG\): a ROC curve "
                                         r"needs a binary classifier, and iris has 3 classes"):
        call(con, "ROC_CURVE", models["iris"], IRIS)
    with pytest.raises(ModelError, match=r"ML.ROC_CURVE does not apply to model linear \(LINEAR_REG\)"):
        call(con, "ROC_CURVE", models["linear"], DIABETES)
    for given in ({}, {"thresholds": [0.9, 0, 0.5, 1]}):
        kept = call(con, "ROC_CURVE", models["binary"], **given).to_pandas()
        rows = call(con, "ROC_CURVE", models["binary"], CANCER_EVAL, **given).to_pandas()
        pd.testing.assert_frame_equal(kept, rows, check_exact=False, rtol=1e-12)


# --- ML.TRAINING_INFO / ML.FEATURE_INFO -----------------------------------------------------------------------------
def test_training_info(con, models):
    out = call(con, "TRAINING_INFO", models["boosted_reg"])
    assert types(out) == {"training_run": I64, "iteration": I64, "loss": F64, "eval_loss": F64,
                          "learning_rate": F64, "duration_ms": I64}
    assert out.column("iteration").to_pylist() == list(range(models["boosted_reg"].estimator.n_iter_))
    assert out.column("learning_rate").to_pylist()[0] == 0.3
    kmeans = call(con, "TRAINING_INFO", models["kmeans"])
    assert kmeans.schema.field("cluster_info").type == pa.list_(pa.struct(
        [("centroid_id", I64), ("cluster_radius", F64), ("cluster_size", I64)]))
    clusters = kmeans.column("cluster_info").to_pylist()[0]
    assert [c["centroid_id"] for c in clusters] == [1, 2, 3] and sum(c["cluster_size"] for c in clusters) == 150


def test_feature_info(con, models):
    out = call(con, "FEATURE_INFO", models["penguins"])
    assert types(out) == {"input": STR, "min": F64, "max": F64, "mean": F64, "median": F64, "stddev": F64,
                          "category_count": I64, "null_count": I64, "dimension": I64}
    rows = {r["input"]: r for r in out.to_pylist()}
    df = frame(con, PENGUIN_MASS)
    assert rows["bill_length_mm"]["mean"] == pytest.approx(df["bill_length_mm"].mean())
    assert rows["bill_length_mm"]["stddev"] == pytest.approx(df["bill_length_mm"].std())
    assert rows["sex"]["category_count"] == 2 and rows["sex"]["null_count"] == df["sex"].isna().sum()
    # dimension is NULL for scalar inputs, as BigQuery reports it:
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-feature
    assert all(row["dimension"] is None for row in rows.values())


# --- ML.WEIGHTS -----------------------------------------------------------------------------------------------------
def test_weights_in_raw_units_equal_an_unstandardized_least_squares_fit(con, models):
    out = call(con, "WEIGHTS", models["linear"])
    assert types(out) == {"processed_input": STR, "weight": F64,
                          "category_weights": pa.list_(pa.struct([("category", STR), ("weight", F64)]))}
    df = frame(con, DIABETES)
    X = df.drop(columns="label").to_numpy(float)
    solution, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(X)), X]), df["label"].to_numpy(float), rcond=None)
    weights = dict(zip(out.column("processed_input").to_pylist(), out.column("weight").to_pylist()))
    assert list(weights) == [*df.columns.drop("label"), "__INTERCEPT__"]
    np.testing.assert_allclose([weights[c] for c in df.columns.drop("label")], solution[1:], rtol=1e-7)
    assert weights["__INTERCEPT__"] == pytest.approx(solution[0], rel=1e-7)
    standardized = call(con, "WEIGHTS", models["linear"], standardize=True).column("weight").to_pylist()
    np.testing.assert_allclose(standardized[:-1], models["linear"].estimator.coef_)
    assert standardized[-1] == pytest.approx(models["linear"].estimator.intercept_)


def test_weights_of_categories_and_classes(con, models):
    rows = {r["processed_input"]: r for r in call(con, "WEIGHTS", models["penguins"]).to_pylist()}
    assert rows["sex"]["weight"] is None
    assert [c["category"] for c in rows["sex"]["category_weights"]] == [None, "female", "male"]
    assert rows["flipper_length_mm"]["category_weights"] == []
    # Raw weights reproduce ML.PREDICT: intercept + sum of weight * value (categories: their weight).
    first = frame(con, PENGUIN_MASS).iloc[0]
    total = rows["__INTERCEPT__"]["weight"]
    for name, row in rows.items():
        if name == "__INTERCEPT__":
            continue
        if row["weight"] is not None:
            total += row["weight"] * first[name]
        else:
            total += next(c["weight"] for c in row["category_weights"]
                          if c["category"] == (None if pd.isna(first[name]) else first[name]))
    expected = predict(models["penguins"], con.sql(PENGUIN_MASS + " LIMIT 1").to_arrow_table()).column(0)[0].as_py()
    assert total == pytest.approx(expected)
    iris = call(con, "WEIGHTS", models["iris"])
    assert iris.column_names[-1] == "class_label" and iris.num_rows == 3 * 5
    assert iris.column("class_label").to_pylist()[:5] == ["setosa"] * 5
    with pytest.raises(ModelError, match=r"ML.WEIGHTS does not apply to model boosted .*use ML.FEATURE_IMPORTANCE"):
        call(con, "WEIGHTS", models["boosted"])
    with pytest.raises(ConfigError, match=r"ML.WEIGHTS with model linear: standardize must be BOOL") as e:
        call(con, "WEIGHTS", models["linear"], standardize=1)
    assert e.value.hint == "give standardize as a BOOL, e.g. STRUCT(TRUE AS standardize)"


# --- ML.CENTROIDS ---------------------------------------------------------------------------------------------------
def test_centroids_in_raw_units_are_the_cluster_means(con, models):
    trained = models["kmeans"]
    out = call(con, "CENTROIDS", trained)
    assert types(out) == {"centroid_id": I64, "feature": STR, "numerical_value": F64,
                          "categorical_value": pa.list_(pa.struct([("category", STR), ("value", F64)])),
                          "geography_value": STR}
    df = frame(con, IRIS_FEATURES)
    assigned = predict(trained, con.sql(IRIS_FEATURES).to_arrow_table()).column("centroid_id").to_numpy()
    got = out.to_pandas().pivot(index="centroid_id", columns="feature", values="numerical_value")[df.columns]
    np.testing.assert_allclose(got.to_numpy(), df.groupby(assigned).mean().to_numpy(), rtol=1e-9)
    standardized = call(con, "CENTROIDS", trained, standardize=True).column("numerical_value").to_numpy()
    np.testing.assert_allclose(standardized, trained.estimator.cluster_centers_.ravel())


def test_centroids_of_categorical_inputs_and_refusal(con, models):
    trained = train_model(con, name="kp", options={"model_type": "KMEANS", "num_clusters": 2},
                          query="SELECT island, flipper_length_mm FROM penguins").model
    rows = call(con, "CENTROIDS", trained).to_pylist()
    island = [r for r in rows if r["feature"] == "island"]
    assert len(island) == 2 and all(r["numerical_value"] is None for r in island)
    for r in island:
        assert [c["category"] for c in r["categorical_value"]] == ["Biscoe", "Dream", "Torgersen"]
        assert sum(c["value"] for c in r["categorical_value"]) == pytest.approx(1.0)
    with pytest.raises(ModelError, match=r"ML.CENTROIDS does not apply to model linear \(LINEAR_REG\): ML.CENTROIDS "
                                         r"applies to KMEANS models only"):
        call(con, "CENTROIDS", models["linear"])


# --- ML.FEATURE_IMPORTANCE ------------------------------------------------------------------------------------------
def test_feature_importance_of_a_forest_counts_splits_and_gains(con, models):
    trained = models["forest"]
    out = call(con, "FEATURE_IMPORTANCE", trained)
    assert types(out) == {"feature": STR, "importance_weight": F64, "importance_gain": F64, "importance_cover": F64}
    forest = [member.tree_ for member in trained.estimator.estimators_]  # at least 2 trees (BigQuery's minimum)
    df = out.to_pandas().set_index("feature")
    columns = list(frame(con, DIABETES).columns.drop("label"))
    assert list(df.index) == columns
    np.testing.assert_array_equal(df["importance_weight"],
                                  [sum((tree.feature == j).sum() for tree in forest) for j in range(len(columns))])
    total_gain = df["importance_gain"] * df["importance_weight"]
    gains = sum(tree.compute_feature_importances(normalize=False) * tree.weighted_n_node_samples[0] for tree in forest)
    np.testing.assert_allclose(total_gain / total_gain.sum(), gains / gains.sum(), atol=1e-12)
    root_cover = df["importance_cover"] * df["importance_weight"]
    assert root_cover.sum() >= sum(tree.weighted_n_node_samples[0] for tree in forest)


def test_feature_importance_of_boosted_trees_and_refusal(con, models):
    trained = models["boosted"]
    out = call(con, "FEATURE_IMPORTANCE", trained).to_pandas().set_index("feature")
    splits = np.zeros(len(out))
    for iteration in trained.estimator._predictors:
        for predictor in iteration:
            nodes = predictor.nodes[predictor.nodes["is_leaf"] == 0]
            np.add.at(splits, nodes["feature_idx"], 1)
    np.testing.assert_array_equal(out["importance_weight"], splits)
    assert (out["importance_gain"] >= 0).all() and out["importance_weight"].sum() > 0
    with pytest.raises(ModelError, match=r"ML.FEATURE_IMPORTANCE applies to tree models") as e:
        call(con, "FEATURE_IMPORTANCE", models["linear"])
    assert "ML.FEATURE_IMPORTANCE does not apply to model linear (LINEAR_REG)" in str(e.value)
    assert "use ML.WEIGHTS" in str(e.value)


# --- ML.EXPLAIN_PREDICT ---------------------------------------------------------------------------------------------
ATTRIBUTIONS = pa.list_(pa.struct([("feature", STR), ("attribution", F64)]))


def attribution_sums(out):
    return np.array([sum(a["attribution"] for a in row) for row in out.column("top_feature_attributions").to_pylist()])


def test_explain_predict_of_linear_regression_is_exact(con, models):
    trained = models["penguins"]
    out = call(con, "EXPLAIN_PREDICT", trained, PENGUIN_MASS, top_k_features=10)
    inputs = con.sql(PENGUIN_MASS).columns
    # BigQuery's order, the explanation's columns then the input's:
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-explain-predict
    assert out.column_names == ["predicted_label", "top_feature_attributions", "baseline_prediction_value",
                                "prediction_value", "approximation_error", *inputs]
    assert types(out)["top_feature_attributions"] == ATTRIBUTIONS
    predicted = predict(trained, con.sql(PENGUIN_MASS).to_arrow_table()).column(0).to_numpy()
    np.testing.assert_allclose(out.column("prediction_value").to_numpy(), predicted)
    np.testing.assert_allclose(out.column("predicted_label").to_numpy(), predicted)
    baseline = out.column("baseline_prediction_value").to_numpy()
    np.testing.assert_allclose(baseline, trained.estimator.intercept_)  # standardized: the intercept
    np.testing.assert_allclose(baseline + attribution_sums(out), predicted, rtol=1e-10)  # all 7 inputs listed
    assert out.column("approximation_error").to_numpy().max() < 1e-8
    first = out.column("top_feature_attributions")[0].as_py()
    assert len(first) == 7 and all(abs(a["attribution"]) >= abs(b["attribution"]) for a, b in zip(first, first[1:]))
    # A numeric attribution is weight × (x - mean); the top k are the largest by absolute value.
    row = frame(con, PENGUIN_MASS).iloc[0]
    weights = dict(zip(*call(con, "WEIGHTS", trained).select(["processed_input", "weight"]).to_pydict().values()))
    mean = next(f.mean for f in trained.preprocessor.features if f.name == "flipper_length_mm")
    flipper = next(a["attribution"] for a in first if a["feature"] == "flipper_length_mm")
    assert flipper == pytest.approx(weights["flipper_length_mm"] * (row["flipper_length_mm"] - mean))
    top2 = call(con, "EXPLAIN_PREDICT", trained, PENGUIN_MASS, top_k_features=2).column("top_feature_attributions")
    assert top2[0].as_py() == first[:2]


def test_explain_predict_of_logistic_regression_explains_the_predicted_class_logit(con, models):
    trained = models["binary"]
    out = call(con, "EXPLAIN_PREDICT", trained, CANCER, top_k_features=20, threshold=0.3)
    assert types(out)["probability"] == F64 and types(out)["predicted_label"] == I64
    X = design_matrix(trained, con.sql(CANCER).to_arrow_table())
    logit = trained.estimator.decision_function(X)
    proba = trained.estimator.predict_proba(X)[:, 1]
    predicted = out.column("predicted_label").to_numpy()
    np.testing.assert_array_equal(predicted, (proba > 0.3).astype(int))
    sign = np.where(predicted == 1, 1.0, -1.0)
    np.testing.assert_allclose(out.column("prediction_value").to_numpy(), sign * logit)
    np.testing.assert_allclose(out.column("probability").to_numpy(), np.where(predicted == 1, proba, 1 - proba))
    np.testing.assert_allclose(out.column("baseline_prediction_value").to_numpy(),
                               sign * trained.estimator.intercept_[0])
    np.testing.assert_allclose(out.column("baseline_prediction_value").to_numpy() + attribution_sums(out),
                               sign * logit, rtol=1e-9, atol=1e-9)
    iris = call(con, "EXPLAIN_PREDICT", models["iris"], IRIS, top_k_features=4)
    scores = models["iris"].estimator.decision_function(design_matrix(models["iris"], con.sql(IRIS).to_arrow_table()))
    np.testing.assert_allclose(iris.column("prediction_value").to_numpy(), scores.max(axis=1))
    assert iris.column("approximation_error").to_numpy().max() < 1e-9


@pytest.mark.parametrize("name, query", [("boosted", CANCER), ("boosted_iris", IRIS), ("boosted_reg", DIABETES),
                                         ("forest", DIABETES), ("forest_iris", IRIS)])
def test_explain_predict_of_trees_adds_up_to_the_prediction(con, models, name, query):
    trained = models[name]
    out = call(con, "EXPLAIN_PREDICT", trained, query, top_k_features=20)
    estimator = trained.estimator
    X = design_matrix(trained, con.sql(query).to_arrow_table())
    if trained.classes is None:
        expected = estimator.predict(X)
    elif trained.model_type.family == "random_forest":
        expected = estimator.predict_proba(X).max(axis=1)
    elif len(trained.classes) > 2:
        expected = estimator.decision_function(X).max(axis=1)
    else:
        expected = np.abs(estimator.decision_function(X))  # the predicted class's log-odds at threshold 0.5
    value = out.column("prediction_value").to_numpy()
    np.testing.assert_allclose(value, expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(out.column("baseline_prediction_value").to_numpy() + attribution_sums(out), value,
                               rtol=1e-9, atol=1e-9)
    assert out.column("approximation_error").to_numpy().max() < 1e-8


def test_explain_predict_refusals(con, models):
    with pytest.raises(ModelError, match=r"ML.EXPLAIN_PREDICT does not apply to model kmeans \(KMEANS\)"):
        call(con, "EXPLAIN_PREDICT", models["kmeans"], IRIS_FEATURES)
    dnn = train_model(con, name="dnn", options={"model_type": "DNN_CLASSIFIER", "max_iterations": 2}, query=IRIS).model
    with pytest.raises(ModelError, match=r"ML.EXPLAIN_PREDICT does not apply to model dnn \(DNN_CLASSIFIER\): "
                                         r"ML.EXPLAIN_PREDICT supports LINEAR_REG, LOGISTIC_REG, BOOSTED_TREE_"
                                         r".*integrated gradients"):
        call(con, "EXPLAIN_PREDICT", dnn, IRIS)
    with pytest.raises(ConfigError, match=r"ML.EXPLAIN_PREDICT with model iris: threshold applies to binary"):
        call(con, "EXPLAIN_PREDICT", models["iris"], IRIS, threshold=0.5)
    with pytest.raises(ConfigError, match=r"top_k_features = 0 is outside"):
        call(con, "EXPLAIN_PREDICT", models["linear"], DIABETES, top_k_features=0)
    with pytest.raises(ModelError, match=r"ML.EXPLAIN_PREDICT with model linear: the input has no column\(s\) bmi"):
        call(con, "EXPLAIN_PREDICT", models["linear"], "SELECT * EXCLUDE (bmi) FROM diabetes")
    with pytest.raises(ModelError, match=r"the input already has a column 'prediction_value'"):
        call(con, "EXPLAIN_PREDICT", models["linear"], "SELECT *, 1 AS prediction_value FROM diabetes")


# --- ML.GLOBAL_EXPLAIN ----------------------------------------------------------------------------------------------
def test_global_explain_of_a_linear_model_is_the_mean_absolute_attribution(con, models):
    out = call(con, "GLOBAL_EXPLAIN", models["linear"])
    assert types(out) == {"feature": STR, "attribution": F64}
    values = out.column("attribution").to_numpy()
    assert (np.diff(values) <= 0).all()
    explained = call(con, "EXPLAIN_PREDICT", models["linear"], DIABETES, top_k_features=10)
    actual: dict[str, list[float]] = {}
    for row in explained.column("top_feature_attributions").to_pylist():
        for a in row:
            actual.setdefault(a["feature"], []).append(abs(a["attribution"]))
    for feature, value in zip(out.column("feature").to_pylist(), values):
        # BigQuery's "aggregating the local explanations of the evaluation data" (here every training row: NO_SPLIT)
        assert value == pytest.approx(np.mean(actual[feature]), rel=1e-9)
    # multiclass: each row explains its predicted class, as ML.EXPLAIN_PREDICT does
    iris = call(con, "GLOBAL_EXPLAIN", models["iris"])
    assert sorted(iris.column("feature").to_pylist()) == ["petal_length", "petal_width", "sepal_length",
                                                          "sepal_width"]
    rows = call(con, "EXPLAIN_PREDICT", models["iris"], IRIS, top_k_features=4)
    per_feature: dict[str, list[float]] = {}
    for row in rows.column("top_feature_attributions").to_pylist():
        for a in row:
            per_feature.setdefault(a["feature"], []).append(abs(a["attribution"]))
    for feature, value in zip(iris.column("feature").to_pylist(), iris.column("attribution").to_pylist()):
        assert value == pytest.approx(np.mean(per_feature[feature]), rel=1e-9)
    # a version stored before the attributions were kept: estimated from the stored 20-bin histograms
    older = call(con, "GLOBAL_EXPLAIN", replace(models["linear"], global_explain=None))
    for feature, value in zip(older.column("feature").to_pylist(), older.column("attribution").to_pylist()):
        assert value == pytest.approx(np.mean(actual[feature]), rel=0.1)


def test_global_explain_of_trees_and_refusal(con, models):
    out = call(con, "GLOBAL_EXPLAIN", models["boosted_reg"]).to_pandas()
    assert out["attribution"].is_monotonic_decreasing
    # the mean |attribution| of ML.EXPLAIN_PREDICT over the training rows (fewer than 500: no eval split)
    explained = call(con, "EXPLAIN_PREDICT", models["boosted_reg"], DIABETES, top_k_features=10)
    actual: dict[str, list[float]] = {}
    for row in explained.column("top_feature_attributions").to_pylist():
        for a in row:
            actual.setdefault(a["feature"], []).append(abs(a["attribution"]))
    for feature, value in zip(out["feature"], out["attribution"]):
        assert value == pytest.approx(np.mean(actual[feature]), rel=1e-9)
    with pytest.raises(ModelError, match=r"ML.GLOBAL_EXPLAIN does not apply to model boosted \(BOOSTED_TREE_CLASSIFIER"
                                         r"\): boosted was trained without ENABLE_GLOBAL_EXPLAIN; retrain it with "
                                         r"OPTIONS\(..., enable_global_explain = TRUE\)"):
        call(con, "GLOBAL_EXPLAIN", models["boosted"])
    with pytest.raises(ConfigError, match=r"ML.GLOBAL_EXPLAIN has no setting 'class_level' \(did you mean "
                                          r"\"class_level_explain\"\?\)"):
        call(con, "GLOBAL_EXPLAIN", models["linear"], class_level=True)


def test_evaluate_gives_the_same_bits_in_any_row_order(con, models):
    """DuckDB streams rows in whatever order its threads produce them: the metrics must not depend on it."""
    for name, query in (("linear", DIABETES), ("iris", IRIS), ("kmeans", IRIS_FEATURES), ("pca", IRIS_FEATURES)):
        ordered = call(con, "EVALUATE", models[name], f"SELECT * FROM ({query}) ORDER BY ALL").to_pylist()
        for seed in range(3):
            shuffled = f"SELECT * FROM ({query}) AS q ORDER BY hash(q, {seed})"
            assert call(con, "EVALUATE", models[name], shuffled).to_pylist() == ordered, (name, seed)


# ML.PREDICT's output: the prediction columns, then the input's; a PCA model's components alone unless
# keep_original_columns; trial_id names a hyperparameter tuning trial:
# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-predict
def rows(con, name, trained, query, **settings):
    cursors = []
    try:
        result = function_rows(con, name, trained, query, settings, cursors)
        return result if isinstance(result, pa.Table) else result.read_all()
    finally:
        for cursor in cursors:
            cursor.close()


def test_predict_puts_predictions_first_and_pca_keeps_only_components(con, models):
    inputs = con.sql(IRIS_FEATURES).columns
    assert rows(con, "PREDICT", models["iris"], IRIS).column_names[:2] == ["predicted_label", "predicted_label_probs"]
    assert rows(con, "PREDICT", models["iris"], IRIS).column_names[2:] == con.sql(IRIS).columns
    assert rows(con, "PREDICT", models["kmeans"], IRIS_FEATURES).column_names == [
        "centroid_id", "nearest_centroids_distance", *inputs]
    components = ["principal_component_1", "principal_component_2"]
    assert rows(con, "PREDICT", models["pca"], IRIS_FEATURES).column_names == components
    kept = rows(con, "PREDICT", models["pca"], IRIS_FEATURES, keep_original_columns=True)
    assert kept.column_names == [*components, *inputs]
    assert kept.select(inputs).equals(con.sql(IRIS_FEATURES).to_arrow_table())  # row by row, unchanged
    assert rows(con, "PREDICT", models["pca"], IRIS_FEATURES, keep_original_columns=False).column_names == components
    with pytest.raises(ModelError, match="keep_original_columns applies to PCA models only"):
        rows(con, "PREDICT", models["kmeans"], IRIS_FEATURES, keep_original_columns=True)
    for function, query in (("PREDICT", IRIS), ("EVALUATE", IRIS), ("EXPLAIN_PREDICT", IRIS)):
        with pytest.raises(ModelError, match=r"trained without hyperparameter tuning \(NUM_TRIALS\)"):
            call(con, function, models["iris"], query, trial_id=1)
