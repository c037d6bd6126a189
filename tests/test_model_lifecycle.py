"""A model's lifecycle through the CLI: DROP MODEL in `toolkit query`, orphaned models in `toolkit build`, and
older versions selected with STRUCT(n AS version) in ML.* calls."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import query

from toolkit.errors import ToolkitError
from toolkit.ml.store import lifecycle

STORE_TABLES = lifecycle.STORE_TABLES
# `_toolkit` tables that name models but are history, which DROP MODEL keeps (as BigQuery keeps its job history)
HISTORY_TABLES = {"model_usage", "monitoring_history"}
CLUSTERS = """\
CREATE OR REPLACE MODEL iris_clusters OPTIONS (model_type = 'kmeans', num_clusters = 3)
AS SELECT sepal_length, sepal_width, petal_length, petal_width FROM {{ ref('iris_features') }}
"""


def naming_models(folder) -> set[str]:
    """The `_toolkit` tables with a model_name column."""
    return {r[0] for r in query(folder / "warehouse.duckdb", "SELECT table_name FROM information_schema.columns "
                                "WHERE table_schema = '_toolkit' AND column_name = 'model_name'")}


def store_rows(folder, model: str) -> dict[str, int]:
    """Rows of `model` in each store table; a table made only when first needed (model_trials) counts 0 until then."""
    warehouse, present = folder / "warehouse.duckdb", naming_models(folder)
    return {table: query(warehouse, f"select count(*) from _toolkit.{table} where model_name = '{model}'")[0][0]
            if table in present else 0 for table in STORE_TABLES}


def macros(folder) -> set[str]:
    return {r[0] for r in query(folder / "warehouse.duckdb",
                                "select function_name from duckdb_functions() where function_type = 'table_macro'")}


@pytest.fixture
def two_models(iris_project, toolkit):
    """The iris project with a classifier (it keeps eval scores) and a KMEANS model (it keeps anomaly scores)."""
    (iris_project / "models/iris_clusters.sql").write_text(CLUSTERS)
    result = toolkit(iris_project, "build")
    assert result.exit_code == 0, result.output
    return iris_project


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-drop-model: DROP MODEL deletes
# the model; a missing model is an error ("Not found: Model …"), DROP MODEL IF EXISTS then does nothing. It runs
# as a query (bq query), so `toolkit query` runs it.
def test_drop_model_removes_every_store_row_and_the_macro(two_models, toolkit):
    assert toolkit(two_models, "build", "-s", "iris_model").exit_code == 0  # a second version
    # every store table is one DROP MODEL empties (model_trials is made by the first tuned model)
    assert set(STORE_TABLES) - {"model_trials"} == naming_models(two_models) - HISTORY_TABLES
    before = store_rows(two_models, "iris_model")
    kept_by_some = ("model_anomaly_scores", "model_global_explain", "model_class_explain", "model_trials")
    assert all(before[t] > 0 for t in STORE_TABLES if t not in kept_by_some), before
    assert before["model_versions"] == 2
    clusters = store_rows(two_models, "iris_clusters")
    assert clusters["model_anomaly_scores"] > 0
    assert {"iris_model_predict", "iris_clusters_predict"} <= macros(two_models)

    result = toolkit(two_models, "query", "DROP MODEL iris_model")
    assert result.exit_code == 0, result.output
    assert "Dropped model iris_model (2 version(s))" in result.output
    assert store_rows(two_models, "iris_model") == dict.fromkeys(STORE_TABLES, 0)
    assert store_rows(two_models, "iris_clusters") == clusters  # the other model is untouched
    assert "iris_model_predict" not in macros(two_models) and "iris_clusters_predict" in macros(two_models)
    gone = toolkit(two_models, "query", "SELECT * FROM ML.EVALUATE(MODEL iris_model)")
    assert gone.exit_code == 2 and "no model named iris_model" in gone.output

    result = toolkit(two_models, "query", "DROP MODEL iris_clusters")  # the last model: the store stays usable
    assert result.exit_code == 0, result.output
    assert store_rows(two_models, "iris_clusters") == dict.fromkeys(STORE_TABLES, 0)
    assert json.loads(toolkit(two_models, "models", "--output", "json").output) == []


def test_drop_model_of_a_missing_model_names_it_and_if_exists_is_silent(two_models, toolkit):
    missing = toolkit(two_models, "query", "DROP MODEL iris_modle")
    assert missing.exit_code == 2
    assert "no model named iris_modle" in missing.output and 'did you mean "iris_model"' in missing.output
    quiet = toolkit(two_models, "query", "DROP MODEL IF EXISTS iris_modle")
    assert quiet.exit_code == 0 and quiet.output == ""
    assert store_rows(two_models, "iris_model")["model_versions"] == 1
    # BigQuery's dialect, a dataset-qualified name, any case: models are named unqualified in the store
    result = toolkit(two_models, "query", "--dialect", "bigquery", "DROP MODEL IF EXISTS `main.IRIS_MODEL`;")
    assert result.exit_code == 0, result.output
    assert store_rows(two_models, "iris_model")["model_versions"] == 0


def test_drop_model_before_any_build_creates_no_warehouse(project, toolkit):
    folder = project({"pyproject.toml": "[tool.toolkit]\n", "models/a.sql": "select 1 as x\n"})
    result = toolkit(folder, "query", "DROP MODEL IF EXISTS m")
    assert result.exit_code == 2 and "does not exist" in result.output and "toolkit build" in result.output
    assert not (folder / "warehouse.duckdb").exists()  # else build would keep an empty warehouse


def test_drop_model_is_one_statement_and_the_only_write(two_models, toolkit):
    for sql in ("SELECT 1; DROP MODEL iris_model", "DROP MODEL iris_model; DROP MODEL iris_clusters"):
        result = toolkit(two_models, "query", sql)
        assert result.exit_code == 2 and "DROP MODEL runs as a statement of its own" in result.output
    table = toolkit(two_models, "query", "DROP TABLE iris_features")
    assert table.exit_code == 2 and "DROP removes a relation" in table.output
    assert store_rows(two_models, "iris_model")["model_versions"] == 1


def test_drop_model_is_atomic(two_models, toolkit, monkeypatch):
    """A failure after the rows are deleted (here: dropping the macro) leaves every row of the model in place."""
    before = store_rows(two_models, "iris_model")

    def fail(name):
        raise ToolkitError("the macro could not be dropped")

    monkeypatch.setattr(lifecycle, "table_ref", fail)
    result = toolkit(two_models, "query", "DROP MODEL iris_model")
    assert result.exit_code == 2 and "the macro could not be dropped" in result.output
    assert store_rows(two_models, "iris_model") == before
    assert "iris_model_predict" in macros(two_models)


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create: CREATE MODEL "is similar
# to the CREATE TABLE DDL statement"; a model lives in a dataset beside its tables, under a name of its own.
def test_build_reports_an_orphaned_model_and_keeps_its_name_from_a_new_table(two_models, toolkit):
    (two_models / "models/iris_model.sql").unlink()
    result = toolkit(two_models, "build")
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "Model iris_model is orphaned" in output and 'toolkit query "DROP MODEL iris_model"' in output
    assert "iris_clusters is orphaned" not in output

    (two_models / "models/iris_model.sql").write_text("select 1 as x")  # a table now takes the name
    clash = toolkit(two_models, "build")
    assert clash.exit_code == 2
    output = " ".join(clash.output.split())
    assert "models/iris_model.sql would create main.iris_model" in output and "orphaned model" in output
    assert 'toolkit query "DROP MODEL iris_model"' in output
    assert not query(two_models / "warehouse.duckdb",
                     "select 1 from information_schema.tables where table_name = 'iris_model'")

    assert toolkit(two_models, "query", "DROP MODEL iris_model").exit_code == 0
    fixed = toolkit(two_models, "build")
    assert fixed.exit_code == 0, fixed.output
    assert "orphaned" not in fixed.output
    assert query(two_models / "warehouse.duckdb", "select x from main.iris_model") == [(1,)]


LINEAR = """\
CREATE OR REPLACE MODEL line OPTIONS (model_type = 'linear_reg', input_label_cols = ['y'],
  data_split_method = 'no_split', enable_global_explain = TRUE, calculate_p_values = TRUE,
  category_encoding_method = 'DUMMY_ENCODING')
AS SELECT {feature} AS x, y FROM {{{{ ref('points') }}}}
"""
POINTS = "select i::double as x, (i % 7)::double * 2 + 1 + i / 10 as y from range(40) t(i)\n"
PROBE = "(SELECT x FROM range(5) t(i), LATERAL (SELECT i::DOUBLE * 3 AS x))"
# Every ML.* function that applies to a linear regression, with its arguments after MODEL line.
CALLS = {
    "PREDICT": f", {PROBE}", "EVALUATE": "", "TRAINING_INFO": "", "FEATURE_INFO": "", "WEIGHTS": "",
    "ADVANCED_WEIGHTS": "", "EXPLAIN_PREDICT": f", {PROBE}", "GLOBAL_EXPLAIN": "",
}


def rows(toolkit, folder, function: str, arguments: str, struct: str = "") -> list[dict]:
    sql = f"SELECT * FROM ML.{function}(MODEL line{arguments}{struct})"
    result = toolkit(folder, "query", "--format", "json", sql)
    assert result.exit_code == 0, f"{sql}\n{result.output}"
    return json.loads(result.output)


def without_durations(found: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "duration_ms"} for row in found]


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-predict: ML.PREDICT(MODEL
# model_name, …, STRUCT(…)) applies the model; BigQuery keeps one model per name. STRUCT(n AS version) is a
# toolkit extension selecting a stored version, accepted by every ML.* function that takes a model.
def test_struct_version_selects_an_older_version_in_every_ml_function(project, toolkit):
    folder = project({"models/points.sql": POINTS, "models/line.sql": LINEAR.format(feature="x")})
    assert toolkit(folder, "build").exit_code == 0
    first = {function: rows(toolkit, folder, function, arguments) for function, arguments in CALLS.items()}
    (folder / "models/line.sql").write_text(LINEAR.format(feature="x * x"))
    assert toolkit(folder, "build").exit_code == 0
    for function, arguments in CALLS.items():
        older = rows(toolkit, folder, function, arguments, ", STRUCT(1 AS version)")
        assert without_durations(older) == without_durations(first[function]), function
        latest = rows(toolkit, folder, function, arguments)
        explicit = rows(toolkit, folder, function, arguments, ", STRUCT(2 AS version)")
        assert without_durations(explicit) == without_durations(latest), function
    # each version's predictions against least squares on its own training column x (numpy, an independent
    # oracle); the probe's x goes to either version as it is
    x = np.arange(40, dtype=float)
    y = (np.arange(40) % 7) * 2 + 1 + x / 10
    probe = np.arange(5, dtype=float) * 3
    for version, feature in ((1, lambda v: v), (2, lambda v: v * v)):
        coefficients, *_ = np.linalg.lstsq(np.column_stack([feature(x), np.ones_like(x)]), y, rcond=None)
        expected = coefficients[0] * probe + coefficients[1]
        found = rows(toolkit, folder, "PREDICT", f", {PROBE}", f", STRUCT({version} AS version)")
        assert [r["x"] for r in found] == list(probe)
        np.testing.assert_allclose([r["predicted_y"] for r in found], expected, rtol=1e-6)
    # one statement may read two versions of the model side by side
    both = toolkit(folder, "query", "--format", "json",
                   f"SELECT a.predicted_y AS v1, b.predicted_y AS v2 FROM ML.PREDICT(MODEL line, {PROBE}, "
                   f"STRUCT(1 AS version)) AS a POSITIONAL JOIN ML.PREDICT(MODEL line, {PROBE}) AS b")
    assert both.exit_code == 0, both.output
    pairs = json.loads(both.output)
    assert [p["v1"] for p in pairs] == [r["predicted_y"] for r in first["PREDICT"]]
    assert all(p["v1"] != p["v2"] for p in pairs)


def test_an_unknown_or_invalid_version_is_refused(project, toolkit):
    folder = project({"models/points.sql": POINTS, "models/line.sql": LINEAR.format(feature="x")})
    assert toolkit(folder, "build").exit_code == 0
    assert toolkit(folder, "build", "-s", "line").exit_code == 0
    unknown = toolkit(folder, "query", "SELECT * FROM ML.WEIGHTS(MODEL line, STRUCT(3 AS version))")
    assert unknown.exit_code == 2 and "model 'line' has no version 3 (its versions: [1, 2])" in unknown.output
    zero = toolkit(folder, "query", "SELECT * FROM ML.EVALUATE(MODEL line, STRUCT(0 AS version))")
    assert zero.exit_code == 2 and "ML.EVALUATE with model line: version = 0 is outside" in zero.output
    text = toolkit(folder, "query", "SELECT * FROM ML.EVALUATE(MODEL line, STRUCT('1' AS version))")
    assert text.exit_code == 2 and "version must be INT64" in text.output
    data = toolkit(folder, "query", "SELECT * FROM ML.DESCRIBE_DATA(TABLE points, STRUCT(1 AS version))")
    assert data.exit_code == 2 and "has no setting 'version'" in data.output  # no model, so no version


def test_a_version_setting_is_refused_on_bigquery_deploy(project, toolkit):
    folder = project({
        "models/points.sql": POINTS, "models/line.sql": LINEAR.format(feature="x"),
        "models/scored.sql": "select * from ML.PREDICT(MODEL line, TABLE {{ ref('points') }}, "
                             "STRUCT(1 AS version))",
        "models/scored_bq.sql": "{{ config(dialect='bigquery') }}\nSELECT * FROM ML.EVALUATE(MODEL line, "
                                "STRUCT(1 AS version, 0.5 AS threshold))",
    })
    result = toolkit(folder, "compile", "--target", "bigquery")
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "models/scored.sql" in output and "toolkit extension" in output and "leave version out" in output
    assert "models/scored_bq.sql" in output and "ML.EVALUATE(… STRUCT(… AS version))" in output
    assert not (folder / "target/bigquery").exists()
