"""The model store in `_toolkit`: versions, round trips, listing, and refusing changed or incompatible artifacts."""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb
import pytest
import skops.io as sio
from ml_data import IRIS, PENGUIN_SPECIES, connect
from sklearn.preprocessing import FunctionTransformer

from toolkit.errors import ModelError
from toolkit.ml import list_models, load_model, predict, save_model, train_model


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = connect(path)
    yield path, con
    con.close()


def train(con, name="iris_model", model_type="LOGISTIC_REG", query=IRIS, **options):
    return train_model(con, name=name, options={"model_type": model_type, **options}, query=query)


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
    assert con.execute("SELECT count(*) FROM _toolkit.model_training_info WHERE version = 2").fetchall() == [(1,)]


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


def test_artifact_with_foreign_types_is_refused_even_with_a_matching_checksum(warehouse):
    _, con = warehouse
    save_model(con, train(con))
    import hashlib
    import os

    evil = sio.dumps(FunctionTransformer(func=os.system))
    con.execute("UPDATE _toolkit.model_versions SET artifact = ?, artifact_sha256 = ?",
                [evil, hashlib.sha256(evil).hexdigest()])
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
