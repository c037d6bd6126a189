"""CREATE MODEL … TRANSFORM(…): statistics fitted on the training split only, saved with the model and re-applied
to the raw input of every ML.* function in DuckDB (no training-serving skew); ML.TRANSFORM and TRANSFORM_ONLY."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from ml_data import connect

from toolkit.errors import ConfigError, ModelError, ToolkitError
from toolkit.ml import load_model, predict, save_model, train_model
from toolkit.ml.features.transform import PREFIX, FittedTransform, fit
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.inference.predict import design_matrix, encode
from toolkit.ml.store.versions import S
from toolkit.ml.training.split import EVAL, TRAIN
from toolkit.sql.dialect import DIALECT

DIABETES = "SELECT target AS label, (rowid % 5 = 0) AS is_eval, * EXCLUDE (target) FROM diabetes"
DIABETES_TRANSFORM = ("ML.STANDARD_SCALER(bmi) OVER () AS bmi_z", "bp * 2 AS bp2",
                      "CASE WHEN sex = 1 THEN 'female' ELSE 'male' END AS sex_name", "s5", "label")
# The same features written out in the query (any affine rescaling of bmi gives the same model: the automatic
# preprocessing standardizes numeric features again).
DIABETES_BY_HAND = ("SELECT target AS label, (rowid % 5 = 0) AS is_eval, bmi AS bmi_z, bp * 2 AS bp2, "
                    "CASE WHEN sex = 1 THEN 'female' ELSE 'male' END AS sex_name, s5 FROM diabetes")
IRIS = "SELECT species = 'virginica' AS label, (rowid % 4 = 0) AS is_eval, * EXCLUDE (species) FROM iris"
IRIS_TRANSFORM = ("ML.STANDARD_SCALER(petal_length) OVER () AS petal", "petal_width * 10 AS width",
                  "CASE WHEN sepal_length > 5.8 THEN 'long' ELSE 'short' END AS sepal", "label")
SPLIT = {"data_split_method": "CUSTOM", "data_split_col": "is_eval"}


@pytest.fixture(scope="module")
def con():
    con = connect()
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(10.0, 2.0, 200), np.full(20, 1e6)])  # the eval rows are extreme
    con.register("skewed_df", pa.table({"x": x, "label": 3 * x + rng.normal(0, 0.1, 220),
                                        "is_eval": np.arange(220) >= 200}))
    con.execute("CREATE TABLE skewed AS SELECT * FROM skewed_df")
    con.unregister("skewed_df")
    return con


def train(con, name, model_type, query, transform=(), **options):
    return train_model(con, name=name, options={"model_type": model_type, **options}, query=query,
                       transform=transform)


@pytest.fixture(scope="module")
def models(con):
    trainings = {
        "diabetes": train(con, "diabetes_t", "LINEAR_REG", DIABETES, DIABETES_TRANSFORM, **SPLIT),
        "by_hand": train(con, "diabetes_by_hand", "LINEAR_REG", DIABETES_BY_HAND, **SPLIT),
        "iris": train(con, "iris_t", "LOGISTIC_REG", IRIS, IRIS_TRANSFORM, max_iterations=200, **SPLIT),
        "boosted": train(con, "boosted_t", "BOOSTED_TREE_REGRESSOR", DIABETES, DIABETES_TRANSFORM, max_iterations=5,
                         **SPLIT),
    }
    for training in trainings.values():
        save_model(con, training)
    return {name: training.model for name, training in trainings.items()}


def sql(con, text: str) -> pa.Table:
    """Run a statement holding ML.* calls as `toolkit query` does."""
    with applied_ml_calls(con, sqlglot.parse_one(text, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).to_arrow_table()


def ml_transform(con, model: str, input_sql: str) -> pa.Table:
    """ML.TRANSFORM(MODEL model, (input_sql)), parsed and run as `toolkit query` does."""
    return sql(con, f"SELECT * FROM ML.TRANSFORM(MODEL {model}, ({input_sql}))")


def column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(), np.float64)


# --- fitting ----------------------------------------------------------------------------------------------------------
def test_statistics_come_from_the_training_split_only(con):
    training = train(con, "skewed_t", "LINEAR_REG", "SELECT * FROM skewed",
                     ["ML.STANDARD_SCALER(x) OVER () AS x_z", "label"], **SPLIT)
    trained = training.model
    save_model(con, training)
    train_x = column(con.sql("SELECT x FROM skewed WHERE NOT is_eval").to_arrow_table(), "x")
    assert trained.split["training_rows"] == 200 and trained.split["eval_rows"] == 20
    out = ml_transform(con, "skewed_t", "SELECT x FROM skewed WHERE NOT is_eval")
    z = column(out, "x_z")
    assert abs(z.mean()) < 1e-9  # centred on the training rows' mean, which the extreme eval rows would move
    assert min(abs(z.std(ddof=0) - 1), abs(z.std(ddof=1) - 1)) < 1e-9  # scaled by their deviation (either rule)
    at_mean = ml_transform(con, "skewed_t", f"SELECT {float(train_x.mean())!r}::DOUBLE AS x")
    assert abs(column(at_mean, "x_z")[0]) < 1e-9
    assert trained.feature_info[0]["input"] == "x_z" and abs(trained.feature_info[0]["mean"]) < 1e-9


def test_fit_registers_the_rows_and_carries_the_roles(con):
    raw = con.sql("SELECT x, label, is_eval FROM skewed").to_arrow_table()
    roles = np.where(np.asarray(raw.column("is_eval").to_numpy(zero_copy_only=False)), EVAL, TRAIN).astype(np.int8)
    fitted, transformed, out_roles = fit(con, raw, roles, ["x * 2 AS doubled", "label"], model="m", label="label",
                                         passthrough=["is_eval"])
    assert fitted.names == ["doubled", "label"] and fitted.features == ["doubled"]
    assert fitted.passthrough == ("label",) and fitted.inputs == ("x",)
    assert transformed.column_names == ["doubled", "label", "is_eval"]  # the split column is carried, not output
    assert np.array_equal(np.asarray(transformed.column("is_eval").to_numpy(zero_copy_only=False)), out_roles == EVAL)
    assert np.allclose(column(transformed, "doubled"), 2 * column(raw, "x"))
    assert FittedTransform.from_dict(fitted.to_dict()) == fitted
    assert "__toolkit_transform" not in str(con.execute("SHOW TABLES").fetchall())  # unregistered afterwards


def test_select_sql_quotes_the_output_names():
    fitted = FittedTransform((("a b", "x + 1"), ("label", "label")), ("x",), ("label",))
    text = fitted.select_sql("SELECT 1 AS x, 2 AS label", PREFIX, keep_input=True, features_only=True)
    assert text.startswith('SELECT __input.*, x + 1 AS "__transform__a b"')
    assert duckdb.sql(text).fetchall() == [(1, 2, 2)]


# --- serving ----------------------------------------------------------------------------------------------------------
def test_prediction_on_raw_rows_has_no_training_serving_skew(con, models):
    trained = models["diabetes"]
    assert trained.input_columns == ["bmi", "bp", "sex", "s5"]  # the raw columns TRANSFORM reads
    assert [c["name"] for c in trained.feature_schema] == ["bmi_z", "bp2", "sex_name", "s5"]
    raw = "SELECT * EXCLUDE (target) FROM diabetes"  # no label: prediction needs the raw features only
    served = sql(con, f"SELECT * FROM ML.PREDICT(MODEL diabetes_t, ({raw}))")
    assert served.column_names == ["predicted_label", *con.sql(raw).columns]  # predictions, then raw columns
    by_hand = sql(con, "SELECT * FROM ML.PREDICT(MODEL diabetes_by_hand, (SELECT * FROM (" + DIABETES_BY_HAND + ")))")
    assert np.abs(column(served, "predicted_label") - column(by_hand, "predicted_label")).max() < 1e-9
    # …and equal to predicting the transformed training rows directly (the rows the model was fitted on)
    transformed = ml_transform(con, "diabetes_t", raw)
    direct = trained.estimator.predict(encode(trained, transformed))
    assert np.abs(column(served, "predicted_label") - direct).max() < 1e-9
    # predict() on raw Arrow rows applies TRANSFORM too (in an in-memory DuckDB)
    in_memory = predict(trained, con.sql(raw).to_arrow_table())
    assert np.abs(column(in_memory, "predicted_label") - direct).max() < 1e-9
    assert trained.metrics["r2_score"] == pytest.approx(models["by_hand"].metrics["r2_score"], abs=1e-9)


def test_evaluate_confusion_roc_and_explain_with_transform(con, models):
    recorded = models["iris"].metrics
    eval_rows = "SELECT * FROM (" + IRIS + ") WHERE is_eval"
    evaluated = sql(con, f"SELECT * FROM ML.EVALUATE(MODEL iris_t, ({eval_rows}))").to_pylist()[0]
    for metric, value in recorded.items():  # the eval split's metrics recorded at training, from the raw rows
        assert evaluated[metric] == pytest.approx(value, abs=1e-9), metric
    matrix = sql(con, f"SELECT * FROM ML.CONFUSION_MATRIX(MODEL iris_t, ({eval_rows}))")
    assert matrix.column_names == ["expected_label", "false", "true"]
    assert sum(sum(matrix.column(c).to_pylist()) for c in ("false", "true")) == 38
    roc = sql(con, f"SELECT * FROM ML.ROC_CURVE(MODEL iris_t, ({eval_rows}))")
    assert roc.num_rows > 2
    raw = "SELECT * EXCLUDE (species) FROM iris"
    explained = sql(con, f"SELECT * FROM ML.EXPLAIN_PREDICT(MODEL iris_t, ({raw}), STRUCT(4 AS top_k_features))")
    assert explained.column_names[-4:] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert not any(c.startswith(PREFIX) for c in explained.column_names)
    features = {a["feature"] for row in explained.column("top_feature_attributions").to_pylist() for a in row}
    assert features == {"petal", "width", "sepal"}  # attributions name TRANSFORM's outputs
    predicted = sql(con, f"SELECT * FROM ML.PREDICT(MODEL iris_t, ({raw}))")
    assert explained.column("predicted_label").equals(predicted.column("predicted_label"))
    error = np.abs(column(explained, "approximation_error"))
    assert error.max() < 1e-9
    tree = sql(con, "SELECT * FROM ML.EXPLAIN_PREDICT(MODEL boosted_t, (SELECT * FROM diabetes LIMIT 5))")
    assert tree.num_rows == 5 and "target" in tree.column_names


def test_ml_transform_returns_the_outputs(con, models):
    out = ml_transform(con, "iris_t", "SELECT * EXCLUDE (species) FROM iris")
    assert out.column_names == ["petal", "width", "sepal"]  # no label in the input: left out
    assert out.num_rows == 150 and set(out.column("sepal").to_pylist()) == {"long", "short"}
    widths = column(con.sql("SELECT petal_width FROM iris").to_arrow_table(), "petal_width")
    assert np.allclose(column(out, "width"), widths * 10)
    with_label = ml_transform(con, "iris_t", IRIS)
    assert with_label.column_names == ["petal", "width", "sepal", "label"]
    with pytest.raises(ModelError, match="without TRANSFORM"):
        ml_transform(con, "diabetes_by_hand", "SELECT * FROM diabetes")


def test_ml_transform_in_sql(con, models):
    out = sql(con, "SELECT * FROM ML.TRANSFORM(MODEL iris_t, TABLE iris)")
    assert out.column_names == ["petal", "width", "sepal"] and out.num_rows == 150


def test_struct_sparse_and_multi_hot_outputs_become_features(con):
    transform = ["{'a': petal_length, 'b': sepal_width} AS s",
                 "[{'index': CASE species WHEN 'setosa' THEN 1 WHEN 'versicolor' THEN 2 ELSE 0 END, "
                 "'value': 1.0::DOUBLE}] AS oh",
                 "[CASE WHEN sepal_length > 5.8 THEN 'long' ELSE 'short' END, 'any'] AS tags", "label"]
    training = train(con, "shapes_t", "LINEAR_REG", "SELECT petal_width AS label, * FROM iris", transform,
                     data_split_method="NO_SPLIT")
    trained = training.model
    schema = {c["name"]: c["kind"] for c in trained.feature_schema}
    assert schema == {"s_a": "numeric", "s_b": "numeric", "oh": "sparse", "tags": "multi_hot"}
    sparse = next(f for f in trained.preprocessor.features if f.name == "oh")
    assert sparse.categories == ("0", "1", "2")
    save_model(con, training)
    raw = "SELECT * EXCLUDE (petal_width) FROM iris"
    served = sql(con, f"SELECT * FROM ML.PREDICT(MODEL shapes_t, ({raw}))")
    by_hand = train(con, "shapes_by_hand", "LINEAR_REG",
                    "SELECT petal_width AS label, petal_length AS s_a, sepal_width AS s_b, species AS oh, "
                    "CASE WHEN sepal_length > 5.8 THEN 'long' ELSE 'short' END AS tags FROM iris",
                    data_split_method="NO_SPLIT").model
    expected = by_hand.estimator.predict(design_matrix(by_hand, con.sql(
        "SELECT petal_length AS s_a, sepal_width AS s_b, species AS oh, "
        "CASE WHEN sepal_length > 5.8 THEN 'long' ELSE 'short' END AS tags FROM iris").to_arrow_table()))
    assert np.abs(column(served, "predicted_label") - expected).max() < 1e-9
    weights = sql(con, "SELECT processed_input, category_weights FROM ML.WEIGHTS(MODEL shapes_t)").to_pylist()
    categories = {w["processed_input"]: [c["category"] for c in w["category_weights"]] for w in weights}
    assert categories["oh"] == ["0", "1", "2"] and categories["tags"] == ["any", "long", "short"]
    assert ml_transform(con, "shapes_t", raw).schema.field("s").type == pa.struct([("a", pa.float64()),
                                                                                   ("b", pa.float64())])


# --- errors -----------------------------------------------------------------------------------------------------------
def test_missing_raw_column_at_prediction_is_named(con, models):
    with pytest.raises(ModelError) as caught:
        sql(con, "SELECT * FROM ML.PREDICT(MODEL diabetes_t, (SELECT age, sex, bp, s5 FROM diabetes))")
    assert "diabetes_t" in str(caught.value) and "bmi" in str(caught.value) and "TRANSFORM" in str(caught.value)
    with pytest.raises(ModelError, match="bmi"):
        sql(con, "SELECT * FROM ML.EVALUATE(MODEL diabetes_t, (SELECT target AS label, bp, sex, s5 FROM diabetes))")
    with pytest.raises(ModelError, match="bmi"):
        predict(models["diabetes"], pa.table({"bp": [1.0], "sex": [1.0], "s5": [1.0]}))


@pytest.mark.parametrize("transform", [
    ("bp * 2 AS bp2",),  # the label dropped
    ("bp * 2 AS bp2", "label AS target_value"),  # renamed
    ("bp * 2 AS bp2", "label * 2 AS label"),  # changed
])
def test_the_label_must_pass_through_unchanged(con, transform):
    with pytest.raises(ToolkitError) as caught:
        train(con, "bad_label", "LINEAR_REG", "SELECT target AS label, bp FROM diabetes", transform,
              data_split_method="NO_SPLIT")
    assert "bad_label" in str(caught.value) and "label" in str(caught.value)


def test_transform_outputs_must_be_usable_features(con):
    with pytest.raises(ModelError, match="TRANSFORM output 'xs'"):
        train(con, "bad_type", "LINEAR_REG", "SELECT target AS label, bp FROM diabetes",
              ["[bp, bp] AS xs", "label"], data_split_method="NO_SPLIT")
    with pytest.raises(ModelError, match="no feature"):
        train(con, "only_label", "LINEAR_REG", "SELECT target AS label, bp FROM diabetes", ["label"],
              data_split_method="NO_SPLIT")


# --- TRANSFORM_ONLY ---------------------------------------------------------------------------------------------------
def test_transform_only_model(con):
    training = train(con, "prep", "TRANSFORM_ONLY", "SELECT * FROM skewed",
                     ["ML.STANDARD_SCALER(x) OVER () AS x_z", "[x, x] AS pair", "label"])
    trained = training.model
    assert trained.estimator is None and trained.label is None and trained.split["training_rows"] == 220
    save_model(con, training)
    loaded = load_model(con, "prep")
    assert loaded.estimator is None and loaded.transform == trained.transform
    out = ml_transform(con, "prep", "SELECT x, label FROM skewed")
    assert out.column_names == ["x_z", "pair", "label"]  # no label option: every output is an output
    assert abs(column(out, "x_z").mean()) < 1e-9  # TRANSFORM_ONLY fits on every row
    info = sql(con, "SELECT input FROM ML.FEATURE_INFO(MODEL prep)").column("input").to_pylist()
    assert info == ["x", "label"]  # the raw columns TRANSFORM reads, as BigQuery reports them
    for function in ("PREDICT", "EVALUATE", "EXPLAIN_PREDICT", "WEIGHTS"):
        call = f"ML.{function}(MODEL prep, (SELECT x, label FROM skewed))" if function != "WEIGHTS" \
            else "ML.WEIGHTS(MODEL prep)"
        with pytest.raises(ModelError, match="(?s)TRANSFORM_ONLY.*ML.TRANSFORM") as caught:
            sql(con, f"SELECT * FROM {call}")
        assert f"ML.{function}" in str(caught.value)
    with pytest.raises(ConfigError, match="INPUT_LABEL_COLS"):
        train(con, "prep2", "TRANSFORM_ONLY", "SELECT * FROM skewed", ["x"], input_label_cols=["label"])
    with pytest.raises(ModelError, match="needs a TRANSFORM"):
        train(con, "prep3", "TRANSFORM_ONLY", "SELECT * FROM skewed")


# --- the store --------------------------------------------------------------------------------------------------------
def test_store_round_trip_keeps_the_transform(con, models):
    loaded = load_model(con, "diabetes_t")
    assert loaded.transform == models["diabetes"].transform and loaded.transform.passthrough == ("label",)
    assert loaded.input_columns == models["diabetes"].input_columns
    rows = con.sql("SELECT * FROM diabetes LIMIT 20").to_arrow_table()
    assert predict(loaded, rows).equals(predict(models["diabetes"], rows))
    assert load_model(con, "diabetes_by_hand").transform is None


def test_store_adds_the_transform_column_to_an_older_warehouse(tmp_path):
    path = tmp_path / "old.duckdb"
    con = connect(path)
    save_model(con, train(con, "plain", "LINEAR_REG", "SELECT target AS label, bmi FROM diabetes",
                          data_split_method="NO_SPLIT"))
    con.execute(f"ALTER TABLE {S}.model_versions DROP COLUMN transform")  # the layout before TRANSFORM
    con.close()
    reader = duckdb.connect(str(path), read_only=True)
    try:
        assert load_model(reader, "plain").transform is None  # read-only and old: no column, no TRANSFORM
    finally:
        reader.close()
    con = connect(path)
    try:
        save_model(con, train(con, "plain", "LINEAR_REG", "SELECT target AS label, bmi FROM diabetes",
                              ["bmi * 2 AS bmi2", "label"], data_split_method="NO_SPLIT"))
        assert load_model(con, "plain").transform.names == ["bmi2", "label"]
        assert load_model(con, "plain", version=1).transform is None
    finally:
        con.close()


def test_a_model_without_transform_is_unchanged(con, models):
    trained = models["by_hand"]
    assert trained.transform is None and trained.input_columns == ["bmi_z", "bp2", "sex_name", "s5"]
    served = sql(con, f"SELECT * FROM ML.PREDICT(MODEL diabetes_by_hand, ({DIABETES_BY_HAND}))")
    assert served.column_names[0] == "predicted_label" and not any(c.startswith(PREFIX) for c in served.column_names)
    with pytest.raises(ModelError, match="bmi_z"):
        sql(con, "SELECT * FROM ML.PREDICT(MODEL diabetes_by_hand, (SELECT * FROM diabetes))")


def test_a_raw_input_of_another_kind_is_refused_naming_the_column(con, models):
    """Text where TRANSFORM read a number at training: DuckDB would fail casting it row by row, naming no model."""
    for function in ("PREDICT", "EVALUATE", "EXPLAIN_PREDICT"):
        with pytest.raises(ModelError) as caught:
            sql(con, f"SELECT * FROM ML.{function}(MODEL diabetes_t, (SELECT * REPLACE (bmi::VARCHAR AS bmi) "
                     "FROM diabetes))")
        assert f"ML.{function} with model diabetes_t: column 'bmi' is VARCHAR in the input but was DOUBLE" \
            in caught.value.message, caught.value.message
    assert load_model(con, "diabetes_t").transform.input_types  # recorded at training, stored with the model


def test_int64_features_beyond_2_to_the_53_train_and_predict(con):
    """FARM_FINGERPRINT values and ML.HASH_BUCKETIZE(f, 0) (the unbucketed fingerprint) are INT64s far beyond ±2^53;
    BigQuery ML reads an INT64 feature as a number (https://cloud.google.com/bigquery/docs/auto-preprocessing,
    https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-hash-bucketize): training must
    read them as their nearest float64 instead of failing on Arrow's exact cast."""
    query = ("SELECT target AS label, FARM_FINGERPRINT(CAST(rowid AS VARCHAR)) AS fingerprint, "
             "CAST(rowid AS VARCHAR) AS key, bmi FROM diabetes")
    fingerprints = [row[0] for row in con.execute(f"SELECT fingerprint FROM ({query})").fetchall()]
    assert max(abs(v) for v in fingerprints) > 2 ** 53
    plain = train(con, "fingerprint_m", "LINEAR_REG", query, data_split_method="NO_SPLIT")
    hashed = train(con, "hash_bucketize_m", "LINEAR_REG", query, ("ML.HASH_BUCKETIZE(key, 0) AS h", "bmi", "label"),
                   data_split_method="NO_SPLIT")
    for training in (plain, hashed):
        predictions = predict(training.model, con.sql(f"SELECT * FROM ({query}) LIMIT 5").to_arrow_table()).to_pandas()
        assert predictions["predicted_label"].notna().all()
    # the feature's statistics are those of the float64 values (an independent numpy computation)
    info = {row["input"]: row for row in plain.model.feature_info}
    assert info["fingerprint"]["mean"] == pytest.approx(float(np.mean(np.array(fingerprints, np.float64))), rel=1e-12)


def test_compiled_predict_of_pca_keeps_only_components(con):
    """The SQL path gives the Python path's columns: a PCA model's components alone unless keep_original_columns
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-predict)."""
    query = "SELECT bmi, bp, s5 FROM diabetes"
    training = train(con, "diabetes_pca", "PCA", query, num_principal_components=2)
    save_model(con, training)
    assert training.compiled.used_by_predict
    alone = sql(con, f"SELECT * FROM ML.PREDICT(MODEL diabetes_pca, ({query}))")
    assert alone.column_names == ["principal_component_1", "principal_component_2"]
    kept = sql(con, f"SELECT * FROM ML.PREDICT(MODEL diabetes_pca, ({query}), STRUCT(TRUE AS keep_original_columns))")
    assert kept.column_names == ["principal_component_1", "principal_component_2", "bmi", "bp", "s5"]
    expected = predict(training.model, con.sql(query).to_arrow_table())
    np.testing.assert_allclose(alone.column(0).to_numpy(), expected.column(0).to_numpy(), rtol=1e-9, atol=1e-12)


# --- TRANSFORM(*), * EXCEPT, * REPLACE ---------------------------------------------------------------------------------
# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create#transform: TRANSFORM takes a
# select list; the star is every column of the query after AS, the label included.
@pytest.mark.parametrize(("stars", "written"), [
    (["*"], ["x", "label", "is_eval"]),
    (["* EXCEPT (is_eval)", "ML.STANDARD_SCALER(x) OVER () AS x_z"],
     ["x", "label", "ML.STANDARD_SCALER(x) OVER () AS x_z"]),
    (["* REPLACE (ML.MIN_MAX_SCALER(x) OVER () AS x)"], ["ML.MIN_MAX_SCALER(x) OVER () AS x", "label", "is_eval"]),
    (["* EXCEPT (is_eval) REPLACE (x * 2 AS x)"], ["x * 2 AS x", "label"]),
])
def test_transform_star_is_every_column_of_the_query(con, stars, written):
    query = "SELECT x, label, is_eval FROM skewed"
    star = train(con, "star_t", "LINEAR_REG", query, stars, **SPLIT).model
    spelt = train(con, "spelt_t", "LINEAR_REG", query, written, **SPLIT).model
    assert star.transform.names == spelt.transform.names
    assert star.transform.inputs == spelt.transform.inputs
    rows = con.sql(query).to_arrow_table()
    assert np.array_equal(column(predict(star, rows), "predicted_label"), column(predict(spelt, rows), "predicted_label"))


@pytest.mark.parametrize(("stars", "missing"), [(["* EXCEPT (y)"], "EXCEPT (…)) names the column y"),
                                                (["* REPLACE (x + 1 AS y)"], "REPLACE (…)) names the column y")])
def test_transform_star_names_a_missing_column(con, stars, missing):
    with pytest.raises(ToolkitError, match=missing.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")) as e:
        train(con, "star_bad", "LINEAR_REG", "SELECT x, label FROM skewed", stars)
    assert "its columns are x, label" in str(e.value)
