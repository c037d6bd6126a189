"""ML.* table functions in model files and `toolkit query`: prediction tables, lineage, errors."""

from __future__ import annotations

import json

import duckdb
import pytest
import sqlglot
from conftest import query

from toolkit.ml.functions import apply
from toolkit.sql.dialect import DIALECT
from toolkit.warehouse.functions import register_functions

PREDICTIONS = """\
SELECT *
FROM ML.PREDICT(MODEL {{ ref('iris_model') }}, (SELECT *, 'extra' AS note FROM {{ ref('iris_features') }}))
"""


def test_prediction_table_has_inputs_predictions_and_lineage(iris_project, toolkit):
    (iris_project / "models/iris_predictions.sql").write_text(PREDICTIONS)
    result = toolkit(iris_project, "build")
    assert result.exit_code == 0, result.output
    warehouse = iris_project / "warehouse.duckdb"
    columns = dict(query(warehouse, "select column_name, data_type from information_schema.columns "
                                    "where table_name = 'iris_predictions'"))
    assert columns["note"] == "VARCHAR" and columns["species"] == "VARCHAR"  # extra columns and the label pass through
    assert columns["predicted_species"] == "VARCHAR"
    assert columns["predicted_species_probs"] == 'STRUCT("label" VARCHAR, prob DOUBLE)[]'
    (rows, correct, prob_sum), = query(warehouse, "select count(*), count(*) filter (where species = predicted_species), "
                                                  "max(abs(list_sum([p.prob for p in predicted_species_probs]) - 1)) "
                                                  "from iris_predictions")
    assert rows == 150 and correct > 140 and prob_sum < 1e-9
    assert query(warehouse, "select node, model_name, version, function from _toolkit.model_usage") == [
        ("iris_predictions", "iris_model", 1, "PREDICT")]


def test_ml_call_without_ref_still_depends_on_the_model(iris_project, toolkit):
    (iris_project / "models/iris_predictions.sql").write_text(
        "SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE {{ ref('iris_features') }})")
    nodes = {n["name"]: n for n in json.loads(toolkit(iris_project, "ls", "--output", "json").output)}
    assert set(nodes["iris_predictions"]["depends_on"]) == {"iris_features", "iris_model"}
    assert toolkit(iris_project, "build").exit_code == 0


def test_selecting_from_a_model_says_it_is_a_model(iris_project, toolkit):
    (iris_project / "models/iris_rows.sql").write_text("SELECT * FROM {{ ref('iris_model') }}\n")
    result = toolkit(iris_project, "build")
    assert result.exit_code == 2, result.output
    assert "iris_rows.sql: iris_model is a model, not a table" in result.output
    assert "ML.PREDICT(MODEL {{ ref('iris_model') }}" in result.output


def test_ml_inputs_read_the_ctes_of_their_statement(iris_project, toolkit):
    assert toolkit(iris_project, "build").exit_code == 0
    cases = {
        "WITH long AS (SELECT * FROM iris_features WHERE sepal_length > 7) "
        "SELECT count(*) FROM ML.PREDICT(MODEL iris_model, TABLE long)": 12,
        "WITH long AS (SELECT * FROM iris_features WHERE sepal_length > 7), "
        "longer AS (SELECT * FROM long WHERE sepal_length > 7.6) "
        "SELECT count(*) FROM ML.PREDICT(MODEL iris_model, (SELECT * FROM longer))": 5,
        # a CTE sees those before it; an inner WITH shadows an outer one of the same name
        "WITH long AS (SELECT * FROM iris_features WHERE sepal_length > 7), "
        "scored AS (SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE long)) SELECT count(*) FROM scored": 12,
        "WITH long AS (SELECT * FROM iris_features) SELECT count(*) FROM (WITH long AS (SELECT * FROM iris_features "
        "WHERE sepal_length > 7) SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE long))": 12,
    }
    for sql, expected in cases.items():
        result = toolkit(iris_project, "query", sql, "--format", "csv")
        assert result.exit_code == 0, (sql, result.output)
        assert result.output.splitlines()[1] == str(expected), (sql, result.output)


def test_a_python_path_input_cannot_read_another_calls_result_yet(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    register_functions(con)
    con.execute("create table t as select range::DOUBLE as x, range * 2.0 as label from range(200)")
    from toolkit.errors import ModelError
    from toolkit.ml import save_model, train_model

    save_model(con, train_model(con, name="d", options={"model_type": "dnn_regressor", "max_iterations": 2},
                                query="select * from t"))
    statement = sqlglot.parse_one("WITH p AS (SELECT x, predicted_label AS label FROM ML.PREDICT(MODEL d, TABLE t)) "
                                  "SELECT count(*) FROM ML.PREDICT(MODEL d, TABLE p)", read=DIALECT)
    with pytest.raises(ModelError, match="its input reads another ML.\\* call's result .* cannot stream yet"):
        with apply.applied_ml_calls(con, statement) as applied:
            con.execute(applied.sql).fetchall()


def test_query_command_runs_ml_functions_read_only(iris_project, toolkit):
    assert toolkit(iris_project, "build").exit_code == 0
    result = toolkit(iris_project, "query", "SELECT predicted_species, count(*) AS n FROM ML.PREDICT(MODEL iris_model, "
                                            "(SELECT * FROM iris_features)) GROUP BY ALL ORDER BY 1", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "predicted_species,n"
    assert sum(int(line.split(",")[1]) for line in result.output.splitlines()[1:]) == 150
    # ML.EVALUATE's rows are Arrow, registered on the locked-down connection
    evaluated = toolkit(iris_project, "query", "SELECT accuracy > 0.9 AS good FROM ML.EVALUATE(MODEL iris_model, "
                                               "TABLE iris_features)", "--format", "csv")
    assert evaluated.exit_code == 0 and evaluated.output.splitlines() == ["good", "true"], evaluated.output
    written = iris_project / "predictions.csv"
    copied = toolkit(iris_project, "query", f"COPY (SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE iris_features)) "
                                            f"TO '{written}'")
    assert copied.exit_code == 2 and "COPY … TO writes a file" in copied.output and not written.exists()


def test_bad_ml_calls(iris_project, toolkit):
    assert toolkit(iris_project, "build").exit_code == 0
    cases = {
        "SELECT * FROM ML.PREDICT(MODEL iris_modle, TABLE iris_features)": 'did you mean "iris_model"',
        "SELECT * FROM ML.PREDCT(MODEL iris_model, TABLE iris_features)": 'did you mean "ML.PREDICT"',
        "SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE iris_features, STRUCT(1.5 AS threshold))":
            "threshold = 1.5 is outside [0.0, 1.0]",
        "SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE iris_features, STRUCT(0.5 AS treshold))":
            'did you mean "threshold"',
        "SELECT * FROM ML.PREDICT(MODEL iris_model, (SELECT sepal_length FROM iris_features))":
            "the input has no column(s) sepal_width, petal_length, petal_width",
        "SELECT * FROM ML.PREDICT(MODEL iris_model)": "needs input rows",
        "SELECT * FROM ML.PREDICT(MODEL iris_model, (SELECT *, 'x' AS predicted_species FROM iris_features))":
            "already has a column 'predicted_species'",
        # the STRUCT settings of a call are the call's, not OPTIONS(…)
        "SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE iris_features, STRUCT(0.1 + 0.2 AS threshold))":
            "ML.PREDICT(MODEL iris_model, …): setting 'threshold' must be a constant value; 0.1 + 0.2 is not",
        "SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE iris_features, STRUCT(0.1 AS threshold, 0.2 AS threshold))":
            "setting 'threshold' is given twice",
        "SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE iris_features, STRUCT(0.5))": "setting 0.5 has no name",
        "SELECT * FROM ML.PREDICT(MODEL iris_model, TABLE iris_features, STRUCT('high' AS threshold))":
            "ML.PREDICT with model iris_model: threshold must be FLOAT64, not 'high'",
        "SELECT * FROM ML.EVALUATE(MODEL iris_model, (SELECT * EXCLUDE (petal_width) FROM iris_features))":
            "ML.EVALUATE with model iris_model: the input has no column(s) petal_width",
    }
    for sql, message in cases.items():
        result = toolkit(iris_project, "query", sql)
        assert result.exit_code == 2, (sql, result.output)
        assert message in result.output, (sql, result.output)


def test_bad_ml_call_in_a_model_file(iris_project, toolkit):
    (iris_project / "models/iris_predictions.sql").write_text(
        "SELECT *\nFROM ML.PREDICTT(MODEL {{ ref('iris_model') }}, TABLE {{ ref('iris_features') }})")
    result = toolkit(iris_project, "build")
    assert result.exit_code == 2 and "iris_predictions.sql, line 2" in result.output
    (iris_project / "models/iris_predictions.sql").write_text(
        "{{ config(materialized='view') }}" + PREDICTIONS)
    result = toolkit(iris_project, "build")
    assert result.exit_code == 1 and "a view cannot hold ML.* calls" in result.output


def test_unseen_categories_and_nulls_are_predicted(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    register_functions(con)
    con.execute("create table t as select range % 3 as x, ['a', 'b', 'c'][range % 3 + 1] as c, "
                "(range % 3) * 2.0 + 1 as label from range(300)")
    from toolkit.ml import save_model, train_model

    save_model(con, train_model(con, name="m", options={"model_type": "linear_reg", "data_split_method": "no_split"},
                                query="select * from t"))
    statement = sqlglot.parse_one("SELECT x, c, predicted_label FROM ML.PREDICT(MODEL m, (SELECT * FROM (VALUES "
                                  "(1, 'zzz'), (NULL, 'a'), (2, NULL)) AS v(x, c))) ORDER BY ALL", read=DIALECT)
    with apply.applied_ml_calls(con, statement) as applied:
        rows = con.execute(applied.sql).fetchall()
    assert len(rows) == 3 and all(predicted is not None for _, _, predicted in rows)


def test_streams_many_batches_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(apply, "BATCH_ROWS", 1000)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    register_functions(con)
    con.execute("create table t as select range as id, (range % 7)::DOUBLE as x, (range % 7) * 3.0::DOUBLE as label "
                "from range(25000)")
    from toolkit.ml import save_model, train_model

    save_model(con, train_model(con, name="m", options={"model_type": "linear_reg", "data_split_method": "no_split"},
                                query="select x, label from t"))
    statement = sqlglot.parse_one("SELECT id, label, predicted_label FROM ML.PREDICT(MODEL m, TABLE t)", read=DIALECT)
    with apply.applied_ml_calls(con, statement) as applied:
        rows = con.execute(applied.sql).fetchall()
    assert len(rows) == 25000 and sorted(r[0] for r in rows) == list(range(25000))
    assert max(abs(label - predicted) for _, label, predicted in rows) < 1e-6


def test_ml_calls_in_ctes_and_joins(iris_project, toolkit):
    (iris_project / "models/iris_report.sql").write_text("""\
WITH scored AS (
    SELECT * FROM ML.PREDICT(MODEL {{ ref('iris_model') }}, TABLE {{ ref('iris_features') }})
)
SELECT s.species, count(*) AS flowers, any_value(e.accuracy) AS accuracy
FROM scored AS s
CROSS JOIN ML.EVALUATE(MODEL {{ ref('iris_model') }}, TABLE {{ ref('iris_features') }}) AS e
GROUP BY s.species
""")
    assert toolkit(iris_project, "build").exit_code == 0
    rows = query(iris_project / "warehouse.duckdb", "select species, flowers, accuracy from iris_report order by 1")
    assert [(species, flowers) for species, flowers, _ in rows] == [("setosa", 50), ("versicolor", 50),
                                                                     ("virginica", 50)]
    assert rows[0][2] > 0.9
    assert query(iris_project / "warehouse.duckdb", "select function from _toolkit.model_usage "
                                                    "where node = 'iris_report' order by 1") == [("EVALUATE",), ("PREDICT",)]
