"""CREATE MODEL files through `toolkit build`: training, versions in the model store, `toolkit models`, errors."""

from __future__ import annotations

import json

import duckdb
from conftest import CLASSIFIER, query


def versions(folder) -> list[tuple]:
    if not query(folder / "warehouse.duckdb", "select 1 from duckdb_tables() where table_name = 'model_versions'"):
        return []
    return query(folder / "warehouse.duckdb",
                 "select version, model_type from _toolkit.model_versions where model_name = 'iris_model' order by 1")


def test_build_trains_and_stores_a_new_version_each_time(iris_project, toolkit):
    result = toolkit(iris_project, "build")
    assert result.exit_code == 0, result.output
    assert "iris_model" in result.output and "version 1" in result.output
    assert versions(iris_project) == [(1, "LOGISTIC_REG")]
    assert toolkit(iris_project, "build", "-s", "iris_model").exit_code == 0
    assert versions(iris_project) == [(1, "LOGISTIC_REG"), (2, "LOGISTIC_REG")]
    (accuracy,), = query(iris_project / "warehouse.duckdb",
                         "select value from _toolkit.model_eval_metrics where model_name = 'iris_model' "
                         "and version = 2 and metric = 'accuracy'")
    assert accuracy > 0.9
    status = query(iris_project / "warehouse.duckdb",
                   "select status, rows, relation from _toolkit.run_results where node = 'iris_model'")
    assert status[-1] == ("success", 150, None)


def test_models_command_lists_versions(iris_project, toolkit):
    assert toolkit(iris_project, "build").exit_code == 0
    assert toolkit(iris_project, "build", "-s", "iris_model").exit_code == 0
    listed = json.loads(toolkit(iris_project, "models", "--output", "json").output)
    assert [(m["name"], m["latest_version"], m["versions"], m["model_type"]) for m in listed] == [
        ("iris_model", 2, 2, "LOGISTIC_REG")
    ]
    table = toolkit(iris_project, "models")
    assert "iris_model" in table.output and "accuracy" in table.output


def test_create_model_if_not_exists_keeps_the_first_version(iris_project, toolkit):
    (iris_project / "models/iris_model.sql").write_text(CLASSIFIER.replace("CREATE OR REPLACE MODEL",
                                                                            "CREATE MODEL IF NOT EXISTS"))
    assert toolkit(iris_project, "build").exit_code == 0
    second = toolkit(iris_project, "build")
    assert second.exit_code == 0 and "kept it" in second.output
    assert versions(iris_project) == [(1, "LOGISTIC_REG")]


def test_option_typo_stops_before_building(iris_project, toolkit):
    (iris_project / "models/iris_model.sql").write_text(CLASSIFIER.replace("data_split_method", "data_split_methd"))
    result = toolkit(iris_project, "build")
    assert result.exit_code == 2
    assert "iris_model.sql" in result.output and 'did you mean "DATA_SPLIT_METHOD"' in result.output.replace(
        "data_split_method", "DATA_SPLIT_METHOD")
    assert query(iris_project / "warehouse.duckdb", "select count(*) from information_schema.tables "
                                                    "where table_name = 'iris_features'") == [(0,)]


def test_failed_training_keeps_previous_versions(iris_project, toolkit):
    assert toolkit(iris_project, "build").exit_code == 0
    (iris_project / "models/iris_model.sql").write_text(CLASSIFIER.replace("['species']", "['no_such_label']"))
    result = toolkit(iris_project, "build")
    assert result.exit_code == 1
    assert "iris_model" in result.output and "no_such_label" in result.output
    assert versions(iris_project) == [(1, "LOGISTIC_REG")]


def test_model_name_clashing_with_a_table(iris_project, toolkit):
    con = duckdb.connect(str(iris_project / "warehouse.duckdb"))
    con.execute("create table main.iris_model as select 1 as x")
    con.close()
    result = toolkit(iris_project, "build")
    assert result.exit_code == 1
    assert "has the name of the table main.iris_model" in result.output
    assert versions(iris_project) == []


def test_model_name_must_match_the_file(iris_project, toolkit):
    (iris_project / "models/iris_model.sql").write_text(CLASSIFIER.replace("MODEL iris_model", "MODEL other"))
    result = toolkit(iris_project, "build")
    assert result.exit_code == 2 and 'CREATE MODEL names "other"' in result.output


def test_transform_is_trained_stored_and_applied_to_raw_inputs(iris_project, toolkit):
    (iris_project / "models/iris_model.sql").write_text(
        CLASSIFIER.replace("OPTIONS", "TRANSFORM(sepal_length * 2 AS doubled, petal_length, species) OPTIONS"))
    (iris_project / "models/iris_predictions.sql").write_text(
        "SELECT * FROM ML.PREDICT(MODEL iris_model, (SELECT sepal_length, petal_length FROM {{ ref('iris_features') }}))")
    result = toolkit(iris_project, "build")
    assert result.exit_code == 0, result.output
    warehouse = iris_project / "warehouse.duckdb"
    (transform,), = query(warehouse, "select transform from _toolkit.model_versions where model_name = 'iris_model'")
    assert [name for name, _ in json.loads(transform)["columns"]] == ["doubled", "petal_length", "species"]
    columns = [c for c, in query(warehouse, "select column_name from information_schema.columns "
                                            "where table_name = 'iris_predictions' order by ordinal_position")]
    assert columns == ["predicted_species", "predicted_species_probs", "sepal_length", "petal_length"]  # BigQuery order


def test_ls_shows_ml_models(iris_project, toolkit):
    nodes = {n["name"]: n for n in json.loads(toolkit(iris_project, "ls", "--output", "json").output)}
    assert nodes["iris_model"]["kind"] == "ml_model" and nodes["iris_model"]["depends_on"] == ["iris_features"]


def test_show_on_a_model_points_to_the_ml_functions(iris_project, toolkit):
    assert toolkit(iris_project, "build").exit_code == 0
    result = toolkit(iris_project, "show", "iris_model")
    assert result.exit_code == 2 and "is a trained model" in result.output and "ML.EVALUATE" in result.output
