"""The model store in `_toolkit`: versions, round trips, listing, and refusing changed or incompatible artifacts."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace

import duckdb
import pytest
import skops.io as sio
import sqlglot
from ml_data import IRIS, PENGUIN_MASS, PENGUIN_SPECIES, connect
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from toolkit.errors import ModelError
from toolkit.ml import list_models, load_model, load_prediction, predict, save_model, train_model
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.store import artifact
from toolkit.ml.store.versions import version_digest
from toolkit.sql.dialect import DIALECT


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = connect(path)
    yield path, con
    con.close()


def train(con, name="iris_model", model_type="LOGISTIC_REG", query=IRIS, transform=(), **options):
    return train_model(con, name=name, options={"model_type": model_type, **options}, query=query,
                       transform=transform)


def reseal(con, name="iris_model", version=1):
    """Recompute a version's checksum over its current row, as someone who knows the scheme would."""
    columns = ("model_name", "version", "model_type", "options", "label", "label_type", "classes", "feature_schema",
               "preprocessing", "transform", "compiled", "artifact_sha256")
    found = con.execute(f"SELECT {', '.join(columns)} FROM _toolkit.model_versions WHERE model_name = ? AND "
                        "version = ?", [name, version]).fetchall()
    con.execute("UPDATE _toolkit.model_versions SET version_sha256 = ? WHERE model_name = ? AND version = ?",
                [version_digest(dict(zip(columns, found[0]))), name, version])


def swap_artifact(con, data, name="iris_model", version=1, resealed=False):
    """Replace a version's artifact with `data` and its artifact_sha256 with theirs; the version checksum too if
    `resealed`."""
    con.execute("UPDATE _toolkit.model_versions SET artifact = ?, artifact_sha256 = ? WHERE model_name = ? AND "
                "version = ?", [data, hashlib.sha256(data).hexdigest(), name, version])
    if resealed:
        reseal(con, name, version)


def ml_predict(con, model="iris_model", query="SELECT * FROM iris"):
    """ML.PREDICT as a model file or `toolkit query` runs it."""
    statement = sqlglot.parse_one(f"SELECT * FROM ML.PREDICT(MODEL {model}, ({query}))", read=DIALECT)
    with applied_ml_calls(con, statement) as applied:
        return con.execute(applied.sql).fetchall()


def model_error(call, *args) -> str:
    with pytest.raises(ModelError) as caught:
        call(*args)
    return str(caught.value)


def test_round_trip_through_the_warehouse_file(warehouse):
    path, con = warehouse
    training = train(con, model_type="BOOSTED_TREE_CLASSIFIER", query=PENGUIN_SPECIES, data_split_method="RANDOM")
    trained = training.model
    assert save_model(con, training) == 1 and trained.version is None  # the store does not change a model
    rows = con.sql(PENGUIN_SPECIES).to_arrow_table()
    expected = predict(trained, rows)
    con.close()
    again = duckdb.connect(str(path))  # the DuckDB file is the one artifact
    try:
        loaded = load_model(again, "IRIS_MODEL")
        assert loaded.version == 1 and loaded.name == "iris_model"
        assert predict(loaded, rows).equals(expected)
        assert loaded.options == trained.options and loaded.preprocessor == trained.preprocessor
        assert loaded.classes == trained.classes and loaded.metrics == trained.metrics
        assert loaded.iterations == trained.iterations and loaded.feature_info == trained.feature_info
        assert loaded.data_stats == trained.data_stats and loaded.split == trained.split
        assert (loaded.seed, loaded.data_fingerprint, loaded.query_fingerprint) == \
            (trained.seed, trained.data_fingerprint, trained.query_fingerprint)
    finally:
        again.close()


def test_versions_and_side_tables(warehouse):
    _, con = warehouse
    first = train(con, data_split_method="RANDOM")
    second = train(con, data_split_method="RANDOM", l2_reg=1.0)
    assert save_model(con, first) == 1 and save_model(con, second) == 2
    assert load_model(con, "iris_model").options["L2_REG"] == 1.0
    assert load_model(con, "iris_model", 1).options["L2_REG"] == 0.0
    row = con.execute("SELECT model_type, seed, training_rows, eval_rows, options->>'$.values.L2_REG', "
                      "library_versions->>'$.scikit-learn', metrics_split FROM _toolkit.model_versions "
                      "WHERE version = 2").fetchall()[0]
    assert row[0] == "LOGISTIC_REG" and row[1] == second.model.seed and row[2] + row[3] == 150 and row[4] == "1.0"
    assert row[5] and row[6] == "eval"
    metrics = dict(con.execute("SELECT metric, value FROM _toolkit.model_eval_metrics WHERE version = 2 "
                               "AND split = 'eval'").fetchall())
    assert metrics == pytest.approx(second.model.metrics)
    info = con.execute("SELECT input, mean, distribution->>'$.kind' FROM _toolkit.model_feature_info "
                       "WHERE version = 2 ORDER BY input").fetchall()
    assert [r[0] for r in info] == ["petal_length", "petal_width", "sepal_length", "sepal_width"]
    assert all(r[2] == "numeric" for r in info)
    assert con.execute("SELECT count(*) FROM _toolkit.model_training_info WHERE version = 2").fetchall() == \
        [(len(second.model.iterations),)]


def ml_rows(con, sql):
    """A statement's ML.* calls run as a model file runs them."""
    with applied_ml_calls(con, sqlglot.parse_one(sql, read=DIALECT)) as applied:
        return con.execute(applied.sql).fetchall()


def test_a_classifier_keeps_the_scores_of_its_eval_split(warehouse):
    """ML.CONFUSION_MATRIX, ML.ROC_CURVE and ML.EVALUATE at a threshold without input read the eval split kept at
    training: the same rows as passing the eval rows themselves (CUSTOM split: the rows marked TRUE)."""
    _, con = warehouse
    query = "SELECT *, species = 'versicolor' AS is_versicolor, rowid % 3 = 0 AS is_eval FROM iris"
    features = "SELECT * EXCLUDE (species) FROM ({}) WHERE is_eval"
    training = train(con, query=f"SELECT * EXCLUDE (species) FROM ({query})", data_split_method="CUSTOM",
                     data_split_col="is_eval", input_label_cols=["is_versicolor"])
    save_model(con, training)
    kept = con.execute("SELECT count(*), min(len(probabilities)) FROM _toolkit.model_eval_scores").fetchall()
    assert kept == [(50, 2)]  # rowid % 3 = 0: 50 of the 150 rows
    loaded = load_model(con, "iris_model")
    assert loaded.eval_scores is None  # read only by the functions that need them
    rows = f"({features.format(query)})"
    for call, given in [("CONFUSION_MATRIX", ""), ("CONFUSION_MATRIX", ", STRUCT(0.3 AS threshold)"),
                        ("ROC_CURVE", ""), ("ROC_CURVE", ", GENERATE_ARRAY(0.1, 0.9, 0.2)"),
                        ("EVALUATE", ", STRUCT(0.3 AS threshold)")]:
        without = ml_rows(con, f"SELECT * FROM ML.{call}(MODEL iris_model{given})")
        with_rows = ml_rows(con, f"SELECT * FROM ML.{call}(MODEL iris_model, {rows}{given})")
        assert len(without) == len(with_rows) > 0, call
        for got, expected in zip(without, with_rows):
            assert got == pytest.approx(expected, rel=1e-12), (call, given)
    # A version stored before the scores were kept: the message says to retrain, or to pass the rows.
    con.execute("DELETE FROM _toolkit.model_eval_scores")
    message = model_error(ml_rows, con, "SELECT * FROM ML.ROC_CURVE(MODEL iris_model)")
    assert "ML.ROC_CURVE with model iris_model: version 1 was trained before the toolkit kept the scores" in message
    # ML.EVALUATE without a threshold reads the recorded metrics, not the scores.
    assert ml_rows(con, "SELECT accuracy FROM ML.EVALUATE(MODEL iris_model)") == [(loaded.metrics["accuracy"],)]


def test_list_models(warehouse):
    _, con = warehouse
    assert list_models(con) == []
    save_model(con, train(con))
    save_model(con, train(con))
    save_model(con, train(con, name="clusters", model_type="KMEANS", query="SELECT * EXCLUDE (species) FROM iris"))
    summaries = list_models(con)
    assert [(s.name, s.latest_version, s.versions, s.model_type) for s in summaries] == [
        ("clusters", 1, 1, "KMEANS"), ("iris_model", 2, 2, "LOGISTIC_REG")]
    assert "davies_bouldin_index" in summaries[0].metrics and summaries[1].training_rows == 150


def test_unknown_model_and_version(warehouse):
    _, con = warehouse
    with pytest.raises(ModelError, match="unknown model 'iris_model'"):
        load_model(con, "iris_model")
    save_model(con, train(con))
    with pytest.raises(ModelError, match='unknown model \'iris_modle\' \\(did you mean "iris_model"\\?\\)'):
        load_model(con, "iris_modle")
    with pytest.raises(ModelError, match=r"has no version 7 \(its versions: \[1\]\)"):
        load_model(con, "iris_model", 7)


def test_changed_artifact_is_refused(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    con.execute("UPDATE _toolkit.model_versions SET artifact = artifact || '\\x00'::BLOB")
    with pytest.raises(ModelError, match="does not match its checksum.*\n  hint: retrain it"):
        load_model(con, "iris_model")


def test_artifact_with_foreign_types_is_refused_even_with_matching_checksums(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    evil = sio.dumps(FunctionTransformer(func=os.system))
    swap_artifact(con, evil, resealed=True)
    with pytest.raises(ModelError, match="types the toolkit does not trust: .*system"):
        load_model(con, "iris_model")
    swap_artifact(con, artifact.canonical(evil), resealed=True)  # the rewritten archive is audited the same way
    with pytest.raises(ModelError, match="types the toolkit does not trust: .*system"):
        load_model(con, "iris_model")


def test_incompatible_library_versions_are_refused(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    versions = json.loads(con.execute("SELECT library_versions FROM _toolkit.model_versions").fetchall()[0][0])
    con.execute("UPDATE _toolkit.model_versions SET library_versions = ?",
                [json.dumps({**versions, "scikit-learn": "0.24.2"})])
    with pytest.raises(ModelError) as caught:
        load_model(con, "iris_model")
    message = str(caught.value)
    assert "iris_model version 1 was trained with scikit-learn 0.24.2" in message and "retrain it" in message
    con.execute("UPDATE _toolkit.model_versions SET library_versions = ?",
                [json.dumps({**versions, "artifact_format": "0"})])
    with pytest.raises(ModelError, match="artifact format 0"):
        load_model(con, "iris_model")


def test_a_failed_save_leaves_nothing_behind(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    training = train(con)
    broken = replace(training.model, feature_info=({"input": "x"},))  # its insert fails after the version row
    with pytest.raises(KeyError):
        save_model(con, replace(training, model=broken))
    assert con.execute("SELECT max(version), count(*) FROM _toolkit.model_versions").fetchall() == [(1, 1)]
    assert con.execute("SELECT count(DISTINCT version) FROM _toolkit.model_training_info").fetchall() == [(1,)]
    assert load_model(con, "iris_model").version == 1


# --- the version checksum -------------------------------------------------------------------------------------------
CHANGED = "model {} version 1 does not match its checksum: the stored version was modified after training"
EDITS = {
    "compiled": "compiled = json_merge_patch(compiled, '{\"sql\": \"SELECT 1 AS predicted_label\"}')",
    "preprocessing": "preprocessing = json_merge_patch(preprocessing, '{\"dtype\": \"float32\"}')",
    "options": "options = json_merge_patch(options, '{\"values\": {\"L2_REG\": 5.0}}')",
    "transform": "transform = replace(transform::VARCHAR, 'petal_length * 2', 'petal_length * 3')::JSON",
    "classes": "classes = '[\"virginica\", \"versicolor\", \"setosa\"]'",
    "label": "label = 'species'",
    "feature_schema": "feature_schema = json_merge_patch(feature_schema, '[]')",
    "model_type": "model_type = 'KMEANS'",
}


@pytest.mark.parametrize("column", list(EDITS))
def test_an_edited_version_is_refused_by_load_model_and_ml_predict(warehouse, column):
    _, con = warehouse
    training = train(con, query="SELECT species AS label, * EXCLUDE (species) FROM iris",
                     transform=["petal_length * 2 AS pl2", "sepal_width", "label"])
    save_model(con, training)
    assert len(ml_predict(con)) == 150
    con.execute(f"UPDATE _toolkit.model_versions SET {EDITS[column]}")
    for message in (model_error(load_model, con, "iris_model"), model_error(ml_predict, con)):
        assert message.startswith(CHANGED.format("iris_model")), message
        assert "changed is unknown" in message and "hint: retrain it: toolkit build --select iris_model" in message


def test_load_prediction_checks_the_version_it_reads(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    save_model(con, train(con))
    trained = load_model(con, "iris_model", 1)
    assert load_prediction(con, trained).used_by_predict
    con.execute("UPDATE _toolkit.model_versions SET compiled = json_merge_patch(compiled, '{\"sql\": \"SELECT 1\"}')"
                " WHERE version = 1")
    assert model_error(load_prediction, con, trained).startswith(CHANGED.format("iris_model"))
    assert load_prediction(con, load_model(con, "iris_model", 2)).used_by_predict  # the other version is intact


def test_a_swapped_artifact_with_a_stale_version_checksum_is_refused(warehouse):
    _, con = warehouse
    save_model(con, train(con))  # a classifier…
    mass = train(con, name="mass", model_type="LINEAR_REG", query=PENGUIN_MASS)
    save_model(con, mass)
    data = con.execute("SELECT artifact FROM _toolkit.model_versions WHERE model_name = 'mass'").fetchall()[0][0]
    swap_artifact(con, data)  # …given a regressor's artifact, with its own artifact_sha256
    message = model_error(load_model, con, "iris_model")
    assert message.startswith(CHANGED.format("iris_model")) and "--select iris_model" in message
    assert load_model(con, "mass").estimator_params == mass.model.estimator_params


def test_an_artifact_of_another_model_type_is_refused_even_with_matching_checksums(warehouse):
    _, con = warehouse
    save_model(con, train(con, name="mass", model_type="LINEAR_REG", query=PENGUIN_MASS))
    clusters = train(con, name="clusters", model_type="KMEANS", query="SELECT * EXCLUDE (species) FROM iris")
    swap_artifact(con, artifact.dump(clusters.model.estimator)[0], name="mass", resealed=True)
    message = model_error(load_model, con, "mass")
    assert message == ("model mass version 1: the stored artifact holds a KMeans, not the LinearRegression or Ridge "
                       "or ElasticNet of a LINEAR_REG model; it is another model's artifact, or was changed after "
                       "training\n  hint: retrain it: toolkit build --select mass"), message
    assert model_error(ml_predict, con, "mass", PENGUIN_MASS) == message
    regressor = train(con, name="mass", model_type="LINEAR_REG", query=PENGUIN_MASS, l2_reg=1.0)  # a Ridge
    swap_artifact(con, artifact.dump(regressor.model.estimator)[0], name="mass", resealed=True)
    assert "holds a Ridge, but the version was trained as a LinearRegression" in model_error(load_model, con, "mass")


def test_an_empty_or_unfitted_artifact_is_refused(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    swap_artifact(con, b"")  # the sha256 of no bytes
    assert model_error(load_model, con, "iris_model").startswith(CHANGED.format("iris_model"))
    reseal(con)
    message = model_error(load_model, con, "iris_model")
    assert message.startswith("model iris_model version 1: the stored artifact is empty, but a LOGISTIC_REG model "
                              "needs its fitted LogisticRegression"), message
    swap_artifact(con, artifact.dump(LogisticRegression())[0], resealed=True)
    assert "holds a LogisticRegression that was never fitted" in model_error(load_model, con, "iris_model")


def test_a_transform_only_model_has_no_artifact(warehouse):
    _, con = warehouse
    save_model(con, train(con, name="prep", model_type="TRANSFORM_ONLY", query="SELECT * FROM iris",
                          transform=["petal_length * 2 AS pl2"]))
    assert load_model(con, "prep").estimator is None
    swap_artifact(con, artifact.dump(train(con).model.estimator)[0], name="prep", resealed=True)
    assert "a TRANSFORM_ONLY model has no estimator, but its stored artifact holds a LogisticRegression" in \
        model_error(load_model, con, "prep")


def test_a_version_without_a_checksum_keeps_the_artifact_check(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    expected = ml_predict(con)
    con.execute("UPDATE _toolkit.model_versions SET version_sha256 = NULL")  # as written before the column existed
    assert load_model(con, "iris_model").version == 1 and ml_predict(con) == expected
    con.execute("UPDATE _toolkit.model_versions SET artifact = artifact || '\\x00'::BLOB")
    assert "does not match its checksum; it was changed after training" in model_error(load_model, con, "iris_model")


def test_a_warehouse_older_than_the_checksum_column_loads(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    expected = ml_predict(con)
    con.execute("ALTER TABLE _toolkit.model_versions DROP COLUMN version_sha256")
    assert load_model(con, "iris_model").version == 1 and ml_predict(con) == expected
    assert save_model(con, train(con)) == 2  # the next save adds the column; the old version stays unchecked
    assert con.execute("SELECT version, version_sha256 IS NOT NULL FROM _toolkit.model_versions "
                       "ORDER BY version").fetchall() == [(1, False), (2, True)]
    assert ml_predict(con) == expected


# --- deterministic artifacts ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model_type, query", [
    ("LOGISTIC_REG", IRIS), ("BOOSTED_TREE_CLASSIFIER", PENGUIN_SPECIES), ("RANDOM_FOREST_REGRESSOR", PENGUIN_MASS),
    ("DNN_CLASSIFIER", IRIS), ("KMEANS", "SELECT * EXCLUDE (species) FROM iris"),
])
def test_identical_models_have_identical_artifacts(warehouse, model_type, query):
    _, con = warehouse
    options = {"num_parallel_tree": 5} if model_type == "RANDOM_FOREST_REGRESSOR" else {}
    first, second = (train(con, model_type=model_type, query=query, **options) for _ in range(2))
    (data, sha256), again = artifact.dump(first.model.estimator), artifact.dump(second.model.estimator)
    assert (data, sha256) == again and data != sio.dumps(first.model.estimator)
    save_model(con, first)
    save_model(con, second)
    assert con.execute("SELECT count(DISTINCT artifact_sha256), count(DISTINCT version_sha256) "
                       "FROM _toolkit.model_versions").fetchall() == [(1, 2)]  # the version checksums name versions
    loaded = load_model(con, "iris_model", 2)
    rows = con.sql(query).to_arrow_table()
    assert predict(loaded, rows).equals(predict(first.model, rows))
    assert sio.get_untrusted_types(data=data) == sio.get_untrusted_types(data=sio.dumps(first.model.estimator))


def test_artifacts_do_not_depend_on_the_process():
    script = ("import hashlib; from sklearn.datasets import load_iris; "
              "from sklearn.ensemble import HistGradientBoostingClassifier as H; "
              "from toolkit.ml.store.artifact import dump; X, y = load_iris(return_X_y=True); "
              "print(dump(H(max_iter=5, random_state=0).fit(X, y))[1])")
    digests = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert len(digests) == 1 and len(digests.pop().strip()) == 64
