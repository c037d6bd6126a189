"""Model files in BigQuery's dialect: settings, names and datasets, quoting, temporary functions, refused statements,
BigQuery ML's forms, and the commands that read SQL (`query`, `init`)."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import pytest
import sqlglot
from conftest import write_files

from toolkit.config import load_settings
from toolkit.errors import ConfigError, ProjectError
from toolkit.project.load import load_project
from toolkit.sql.bigquery import to_duckdb
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.dialect import Toolkit, ToolkitBigQuery
from toolkit.sql.literals import NotConstant, constant

BIGQUERY = """\
[tool.toolkit]
lock_timeout = 1
dialect = "bigquery"
[tool.toolkit.bigquery]
project = "my-project"
datasets = { natality = "main" }
[tool.toolkit.sources]
raw = { schema = "main", tables = ["births"] }
"""

STAGING = """\
# staging, as a BigQuery user writes it
CREATE TEMP FUNCTION half(x FLOAT64) AS (x / 2);
CREATE TEMP FUNCTION quarter(y ANY TYPE) AS (half(half(y)));
SELECT id, weeks, quarter(weeks) AS quarter_weeks, plurality, weight,
       EXTRACT(DAYOFWEEK FROM born) AS day_of_week,
       IF(plurality = "Single(1)", 1, 0) AS single  # a double-quoted string
FROM {{ source('raw', 'births') }}
"""

MODEL = """\
CREATE OR REPLACE MODEL `natality.natality_model`
OPTIONS(MODEL_TYPE="linear_reg", INPUT_LABEL_COLS=["weight"], DATA_SPLIT_METHOD="NO_SPLIT") AS
SELECT weeks, plurality, weight FROM `my-project.natality.stg`
"""


def _births(folder: Path) -> None:
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("CREATE TABLE births AS SELECT i AS id, (i % 7) * 1.0 AS weeks, "
                "CASE WHEN i % 3 = 0 THEN 'Single(1)' ELSE 'Twins(2)' END AS plurality, "
                "3 + (i % 7) * 0.5 + (i % 3) AS weight, DATE '2024-01-01' + (i % 30)::INT AS born FROM range(60) t(i)")
    con.close()


@pytest.fixture
def bigquery_project(project) -> Path:
    folder = project({"pyproject.toml": BIGQUERY, "models/stg.sql": STAGING, "models/natality_model.sql": MODEL,
                      "models/preds.sql": "SELECT * FROM ML.PREDICT(MODEL `natality.natality_model`, "
                                          "(SELECT * FROM {{ ref('stg') }} WHERE weeks > 3))\n",
                      "models/eval.sql": "SELECT * FROM ML.EVALUATE(MODEL `natality.natality_model`)\n"})
    _births(folder)
    return folder


def _rows(folder: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_bigquery_project_builds_with_bigquerys_values(bigquery_project: Path, toolkit) -> None:
    result = toolkit(bigquery_project, "build")
    assert result.exit_code == 0, result.output
    rows = _rows(bigquery_project, "SELECT id, quarter_weeks, day_of_week, single FROM main.stg ORDER BY id")
    for id_, quarter, day_of_week, single in rows:
        weeks = (id_ % 7) * 1.0
        born = 1 + id_ % 30  # January 2024: the 1st is a Monday, BigQuery's day 2 (Sunday is 1)
        assert (quarter, day_of_week, single) == (weeks / 4, (born % 7) + 1, int(id_ % 3 == 0))
    assert len(rows) == 60
    predictions = _rows(bigquery_project, "SELECT count(*), count(predicted_weight) FROM main.preds")
    assert predictions == [(24, 24)]  # weeks 4, 5, 6 of 7
    assert _rows(bigquery_project, "SELECT count(*) FROM main.eval WHERE r2_score > 0.5") == [(1,)]


def test_tables_named_by_dataset_are_dependencies(bigquery_project: Path) -> None:
    project = load_project(load_settings(bigquery_project))
    assert "stg" in project.nodes["natality_model"].depends_on  # `my-project.natality.stg`, no ref()
    order = list(project.graph.order())
    assert order.index("stg") < order.index("natality_model") < order.index("preds")


def test_the_statement_runs_as_duckdb_sql_and_keeps_its_bigquery_text(bigquery_project: Path) -> None:
    node = load_project(load_settings(bigquery_project)).nodes["stg"]
    assert node.dialect == "bigquery"
    assert 'FROM "main"."births"' in node.sql and "EXTRACT(DAYOFWEEK FROM born) + 1" in node.sql
    assert node.source_sql.startswith("# staging") and "`main`.`births`" in node.source_sql
    sqlglot.parse(node.source_sql, read=ToolkitBigQuery)  # BigQuery's SQL still


def test_another_project_is_refused_with_its_line(project) -> None:
    folder = project({"pyproject.toml": BIGQUERY,
                      "models/a.sql": "SELECT 1 AS x\nFROM `other-project.natality.births`\n"})
    with pytest.raises(ProjectError) as error:
        load_project(load_settings(folder))
    message = str(error.value)
    assert "other-project" in message and "my-project" in message and "a.sql, line 2" in message


@pytest.mark.parametrize(("sql", "named"), [
    ("DECLARE x INT64 DEFAULT 1;\nSELECT x", "DECLARE (BigQuery scripting)"),
    ("SET x = 1", "SET (BigQuery scripting)"),
    ("EXECUTE IMMEDIATE 'SELECT 1'", "EXECUTE IMMEDIATE"),
    ("BEGIN\n  SELECT 1;\nEND", "BEGIN (BigQuery scripting)"),
    ("INSERT INTO t VALUES (1)", "INSERT (DML)"),
    ("MERGE t USING s ON t.a = s.a WHEN MATCHED THEN DELETE", "MERGE (DML)"),
    ("ASSERT (SELECT 1) = 1 AS 'one'", "ASSERT"),
])
def test_scripting_and_dml_are_refused_by_name(project, sql: str, named: str) -> None:
    folder = project({"pyproject.toml": BIGQUERY, "models/a.sql": sql + "\n"})
    with pytest.raises(ProjectError) as error:
        load_project(load_settings(folder))
    assert named in str(error.value) and "a.sql, line 1" in str(error.value)
    assert error.value.hint


@pytest.mark.parametrize(("function", "named"), [
    ("CREATE TEMP FUNCTION f(x STRING) RETURNS STRING LANGUAGE js AS r'''return x;''';", "written in js"),
    ("CREATE FUNCTION natality.f(x INT64) AS (x + 1);", "persistent function"),
])
def test_functions_that_cannot_run_here_are_refused(project, function: str, named: str) -> None:
    folder = project({"pyproject.toml": BIGQUERY, "models/a.sql": f"{function}\nSELECT f(1) AS y\n"})
    with pytest.raises(ProjectError, match=named):
        load_project(load_settings(folder))


def test_a_temporary_function_called_with_the_wrong_arguments(project) -> None:
    folder = project({"pyproject.toml": BIGQUERY,
                      "models/a.sql": "CREATE TEMP FUNCTION f(x INT64, y INT64) AS (x + y);\nSELECT\n  f(1) AS z\n"})
    with pytest.raises(ProjectError) as error:
        load_project(load_settings(folder))
    assert "f() takes 2 arguments (x, y), not 1" in str(error.value) and "a.sql, line 3" in str(error.value)


def test_a_function_neither_dialect_has_is_named_with_its_line(project) -> None:
    folder = project({"pyproject.toml": BIGQUERY, "models/a.sql": "SELECT\n  1 AS x,\n  NO_SUCH_FUNCTION(2) AS y\n"})
    with pytest.raises(ProjectError) as error:
        load_project(load_settings(folder))
    assert "NO_SUCH_FUNCTION()" in str(error.value) and "a.sql, line 3" in str(error.value)


def test_one_file_in_bigquerys_dialect_in_a_duckdb_project(project, toolkit) -> None:
    folder = project({
        "models/base.sql": "SELECT 1 AS id, 'it''s' AS label\n",
        "models/bq.sql": "{{ config(dialect='bigquery') }}\n"
                         "SELECT id, {{ 'it\\'s' | literal }} AS quoted, {{ 'label' | identifier }}, \"x\" AS s\n"
                         "FROM {{ ref('base') }}  # refs quote with backticks here\n",
    })
    node = load_project(load_settings(folder)).nodes["bq"]
    assert "`main`.`base`" in node.source_sql
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert _rows(folder, "SELECT * FROM main.bq") == [(1, "it's", "it's", "x")]


def test_backticks_in_a_duckdb_file_point_to_the_bigquery_dialect(project, caplog) -> None:
    folder = project({"models/a.sql": "SELECT * FROM `natality.births`\n"})
    with caplog.at_level(logging.WARNING, logger="sqlglot"), pytest.raises(ProjectError) as error:
        load_project(load_settings(folder))
    assert "config(dialect='bigquery')" in error.value.hint
    assert not caplog.records  # no sqlglot warning leaks


def test_create_model_in_bigquery_form_without_a_leaked_warning(bigquery_project: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="sqlglot"):
        node = load_project(load_settings(bigquery_project)).nodes["natality_model"]
    assert not caplog.records
    assert node.create_model.options == {"model_type": "linear_reg", "input_label_cols": ["weight"],
                                         "data_split_method": "NO_SPLIT"}
    assert node.create_model.name == "natality_model"


@pytest.mark.parametrize(("settings", "message"), [
    ('dialect = "bigqery"', "did you mean"),
    ('[tool.toolkit.bigquery]\nprojet = "p"', "unknown setting [tool.toolkit.bigquery].projet"),
    ('[tool.toolkit.bigquery]\ndatasets = { a = "main", b = "main" }', "maps both a and b to the schema main"),
])
def test_settings_are_checked(tmp_path: Path, settings: str, message: str) -> None:
    write_files(tmp_path, {"pyproject.toml": f"[tool.toolkit]\n{settings}\n"})
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_settings(tmp_path)


def test_an_unknown_file_dialect_is_refused(project) -> None:
    folder = project({"models/a.sql": "{{ config(dialect='bigqeury') }}\nSELECT 1\n"})
    with pytest.raises(ConfigError, match='did you mean "bigquery"'):
        load_project(load_settings(folder))


def test_query_reads_bigquery_sql_with_the_projects_datasets(bigquery_project: Path, toolkit) -> None:
    assert toolkit(bigquery_project, "build", "--select", "stg").exit_code == 0
    result = toolkit(bigquery_project, "query", "--format", "csv",
                     "SELECT id, EXTRACT(DAYOFWEEK FROM DATE '2024-01-07') AS dow, \"s\" AS s "
                     "FROM `my-project.natality.stg` # a comment\nWHERE id < 2 ORDER BY id")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["id,dow,s", "0,1,s", "1,1,s"]
    duck = toolkit(bigquery_project, "query", "--dialect", "duckdb", "--format", "csv", "SELECT \"id\" FROM main.stg LIMIT 1")
    assert duck.output.splitlines() == ["id", "0"]


def test_query_refuses_what_it_cannot_translate(bigquery_project: Path, toolkit) -> None:
    result = toolkit(bigquery_project, "query", "SELECT NO_SUCH_FUNCTION(1)")
    assert result.exit_code != 0 and "NO_SUCH_FUNCTION()" in result.output and "Traceback" not in result.output


def test_init_in_bigquerys_dialect_builds(tmp_path: Path, toolkit) -> None:
    assert toolkit(tmp_path, "init", "fresh", "--dialect", "bigquery").exit_code == 0
    folder = tmp_path / "fresh"
    assert 'dialect = "bigquery"' in (folder / "pyproject.toml").read_text()
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert _rows(folder, "SELECT n, is_even, n_times FROM main.numbers ORDER BY n")[:3] == [
        (0, True, 0), (1, False, 3), (2, True, 6)]


ROC_MODEL = """\
CREATE OR REPLACE MODEL `natality.is_single`
OPTIONS(MODEL_TYPE="logistic_reg", INPUT_LABEL_COLS=["single"], DATA_SPLIT_METHOD="NO_SPLIT") AS
SELECT weeks, weight, single FROM `natality.stg`
"""


def test_bigquery_ml_forms(bigquery_project: Path, toolkit) -> None:
    write_files(bigquery_project, {
        "pyproject.toml": BIGQUERY,
        "models/is_single.sql": ROC_MODEL,
        # BigQuery's thresholds argument, a GENERATE_ARRAY where a constant array is expected
        "models/roc.sql": "SELECT * FROM ML.ROC_CURVE(MODEL `natality.is_single`, TABLE `natality.stg`, "
                          "GENERATE_ARRAY(0.25, 0.75, 0.25))\n",
        "models/roc_struct.sql": "SELECT * FROM ML.ROC_CURVE(MODEL `natality.is_single`, TABLE `natality.stg`, "
                                 "STRUCT([0.25, 0.5, 0.75] AS thresholds))\n",
        # a model trained on another model's predictions, read through a CTE of the statement
        "models/stacked.sql": "CREATE OR REPLACE MODEL `natality.stacked`\n"
                              "OPTIONS(MODEL_TYPE=\"linear_reg\", INPUT_LABEL_COLS=[\"weight\"], "
                              "DATA_SPLIT_METHOD=\"NO_SPLIT\") AS\n"
                              "WITH rows AS (SELECT * FROM `natality.stg`)\n"
                              "SELECT weeks, predicted_weight, weight FROM ML.PREDICT(MODEL `natality.natality_model`, "
                              "(SELECT * FROM rows))\n",
        "models/stacked_eval.sql": "SELECT * FROM ML.EVALUATE(MODEL `natality.stacked`)\n",
    })
    result = toolkit(bigquery_project, "build")
    assert result.exit_code == 0, result.output
    roc = _rows(bigquery_project, "SELECT threshold, recall, false_positive_rate FROM main.roc ORDER BY threshold")
    assert [row[0] for row in roc] == [0.25, 0.5, 0.75]
    assert roc == _rows(bigquery_project, "SELECT threshold, recall, false_positive_rate FROM main.roc_struct "
                                          "ORDER BY threshold")
    stacked, base = _rows(bigquery_project, "SELECT (SELECT r2_score FROM main.stacked_eval), "
                                            "(SELECT r2_score FROM main.eval)")[0]
    assert stacked >= base - 1e-9  # it has the first model's prediction among its features


def test_an_array_argument_belongs_to_roc_curve_only(bigquery_project: Path, toolkit) -> None:
    write_files(bigquery_project, {"pyproject.toml": BIGQUERY, "models/preds.sql": "SELECT * FROM ML.PREDICT(MODEL "
                                   "`natality.natality_model`, TABLE `natality.stg`, [0.5])\n"})
    result = toolkit(bigquery_project, "build")
    assert result.exit_code == 1 and "only ML.ROC_CURVE takes an array argument" in result.output


@pytest.mark.parametrize(("sql", "expected"), [
    ("GENERATE_ARRAY(1, 5)", [1, 2, 3, 4, 5]),
    ("GENERATE_ARRAY(0, 10, 3)", [0, 3, 6, 9]),
    ("GENERATE_ARRAY(10, 0, -3)", [10, 7, 4, 1]),
    ("GENERATE_ARRAY(4, 4)", [4]),
    ("GENERATE_ARRAY(10, 0)", []),  # BigQuery: an empty array when end is not reached
    ("GENERATE_ARRAY(0.1, 0.5, 0.1)", [0.1, 0.2, 0.1 + 2 * 0.1, 0.1 + 3 * 0.1, 0.5]),  # BigQuery's example
    ("GENERATE_ARRAY(0.1, 0.3, 0.1)", [0.1, 0.2]),  # (0.3 - 0.1) / 0.1 is 1.9999999999999998: 0.3 is not reached
    # ML.ROC_CURVE's example thresholds: 0.4 + 20 * 0.01 is 0.6000000000000001, past 0.6, so ZetaSQL's loop
    # (zetasql/public/functions/generate_array.h: element i is start + i * step while it is <= end) stops at 20 values
    ("GENERATE_ARRAY(0.4, 0.6, 0.01)", [0.4 + i * 0.01 for i in range(20)]),
    ("GENERATE_ARRAY(0.6, 0.4, -0.01)", [0.6 - i * 0.01 for i in range(21) if 0.6 + i * -0.01 >= 0.4]),
    ("GENERATE_ARRAY(0, 1, 0.1)", [i * 0.1 for i in range(11)]),
    ("GENERATE_ARRAY(1, 0, 0.1)", []),
])
def test_generate_array_as_a_constant(sql: str, expected: list) -> None:
    """The same values as the GENERATE_ARRAY the rules translate for DuckDB to compute."""
    assert constant(sqlglot.parse_one(sql, read=ToolkitBigQuery)) == expected
    translated = to_duckdb(sqlglot.parse_one(f"SELECT {sql}", read=ToolkitBigQuery), Datasets())
    assert duckdb.sql(translated.sql(dialect=Toolkit)).fetchall()[0][0] == expected


def test_generate_array_with_a_zero_step_is_not_a_constant() -> None:
    with pytest.raises(NotConstant, match="step of 0"):
        constant(sqlglot.parse_one("GENERATE_ARRAY(1, 5, 0)", read=ToolkitBigQuery))


def test_macros_write_the_files_dialect(project, toolkit) -> None:
    """surrogate_key() is the same hex digest in both dialects (BigQuery's MD5 alone would return BYTES)."""
    body = "SELECT {{ surrogate_key(['a', 'b']) }} AS key, '{{ dialect() }}' AS written_in FROM {{ ref('base') }}\n"
    folder = project({
        "models/base.sql": "SELECT * FROM (VALUES (1, 'x'), (2, NULL)) AS t(a, b)\n",
        "models/duck.sql": body,
        "models/bq.sql": "{{ config(dialect='bigquery') }}\n" + body,
    })
    assert "TO_HEX(MD5(TO_JSON_STRING(" in load_project(load_settings(folder)).nodes["bq"].source_sql
    assert toolkit(folder, "build").exit_code == 0
    duck = _rows(folder, "SELECT key, written_in FROM main.duck ORDER BY key")
    bigquery = _rows(folder, "SELECT key, written_in FROM main.bq ORDER BY key")
    assert [key for key, _ in duck] == [key for key, _ in bigquery] and len(duck) == 2
    assert {w for _, w in duck} == {"duckdb"} and {w for _, w in bigquery} == {"bigquery"}


@pytest.mark.parametrize(("files", "message"), [
    ({"models/m.sql": 'CREATE MODEL m OPTIONS(MODEL_TYPE="linear_reg") AS SELECT 1 AS label, 2 AS x\n'},
     "linear_reg is a name, not a string"),
    ({"models/m.sql": "CREATE MODEL m OPTIONS(MODEL_TYPE='tensorflow', MODEL_PATH='gs://bucket/model/*')\n"},
     "imported models (MODEL_TYPE = 'TENSORFLOW' with MODEL_PATH) are not supported"),
    ({"pyproject.toml": BIGQUERY, "models/m.sql": "CREATE MODEL m REMOTE WITH CONNECTION `us.gemini` "
                                                  "OPTIONS(ENDPOINT=\"gemini-2.0-flash\")\n"},
     "remote models (CREATE MODEL … REMOTE WITH CONNECTION)"),
])
def test_models_that_cannot_be_trained_here_say_why(project, files: dict, message: str) -> None:
    folder = project(files)
    with pytest.raises(ProjectError) as error:
        load_project(load_settings(folder))
    assert message in str(error.value) and error.value.hint


def test_times_with_a_zone_are_utc_on_every_machine(project, toolkit, monkeypatch) -> None:
    """The warehouse's TimeZone is UTC whatever the machine's, so a model's values do not depend on it."""
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        folder = project({"models/a.sql": "SELECT CAST(TIMESTAMPTZ '2024-01-01 00:00:00+00' AS VARCHAR) AS text, "
                                          "hour(TIMESTAMPTZ '2024-01-01 00:00:00+00') AS h\n"})
        assert toolkit(folder, "build").exit_code == 0
        assert _rows(folder, "SELECT text, h FROM main.a") == [("2024-01-01 00:00:00+00", 0)]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("dialect", ["duckdb", "bigquery"])
def test_query_with_an_open_quote_is_a_message(bigquery_project: Path, toolkit, dialect: str) -> None:
    result = toolkit(bigquery_project, "query", "--dialect", dialect, "SELECT 'abc")
    assert result.exit_code != 0 and "SQL syntax error: Missing ' from 1:7" in result.output
    assert "Traceback" not in result.output
