"""`toolkit compile --target bigquery` and `toolkit build --target bigquery`: the project as BigQuery SQL in
dependency order, DuckDB's semantics kept, what will not run refused before anything is written, and the script
run by a fake google.cloud.bigquery.Client (there is no BigQuery here).

The example project's BigQuery script is compared with the golden file tests/golden/bigquery/deploy.sql (each
node's file is its block of that script). After checking a change, rewrite it with
`python -m pytest tests/test_deploy_bigquery.py --update-golden` (or TOOLKIT_UPDATE_GOLDEN=1)."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest
import sqlglot
from conftest import REPO, invoke
from sqlglot import exp

from toolkit.deploy import rules
from toolkit.sql.dialect import Toolkit, ToolkitBigQuery

GOLDEN = Path(__file__).parent / "golden" / "bigquery"
PROJECT_ID = "example-project"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example project compiled for BigQuery once; its target/bigquery folder."""
    folder = tmp_path_factory.mktemp("example")
    shutil.copy(REPO / "pyproject.toml", folder / "pyproject.toml")
    for name in ("models", "macros"):
        shutil.copytree(REPO / name, folder / name)
    result = invoke(folder, "compile", "--target", "bigquery", "--project", PROJECT_ID)
    assert result.exit_code == 0, result.output
    return folder / "target" / "bigquery"


def _update_golden(request: pytest.FixtureRequest) -> bool:
    return request.config.getoption("--update-golden") or os.environ.get("TOOLKIT_UPDATE_GOLDEN") == "1"


def test_example_project_matches_the_golden_script(example: Path, request: pytest.FixtureRequest) -> None:
    script = (example / "deploy.sql").read_text()
    if _update_golden(request):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / "deploy.sql").write_text(script)
    assert script == (GOLDEN / "deploy.sql").read_text(), \
        "deploy.sql differs from tests/golden/bigquery: rerun with --update-golden after checking it"


def test_each_node_file_is_its_block_of_the_script(example: Path) -> None:
    """One file per node, holding exactly the script's block under that node's `-- path` header."""
    blocks = dict(re.findall(r"^-- (\S+)\n(.*?)(?=^-- \S+\n|\Z)", (example / "deploy.sql").read_text(),
                             re.MULTILINE | re.DOTALL))
    files = {path.relative_to(example).as_posix(): path.read_text() for path in example.rglob("*.sql")
             if path.name != "deploy.sql"}
    assert sorted(files) == sorted(blocks) and len(files) == 24
    for relative, text in files.items():
        assert blocks[relative].rstrip("\n") == text.rstrip("\n"), relative


# ML table functions sqlglot's own BigQuery dialect does not parse yet (it knows ML.PREDICT): statements calling
# them are parsed with the toolkit's BigQuery dialect, which is sqlglot's plus these ML forms.
ML_UNKNOWN_TO_SQLGLOT = re.compile(r"\bML\.(?!PREDICT\()\w+\(\s*MODEL\b", re.IGNORECASE)


def test_every_statement_parses_as_bigquery(example: Path) -> None:
    for path in example.rglob("*.sql"):
        statements = [text for text in path.read_text().split(";\n") if text.strip()]
        assert statements, path
        for text in statements:
            dialect = ToolkitBigQuery if ML_UNKNOWN_TO_SQLGLOT.search(text) else "bigquery"
            parsed = sqlglot.parse(text, read=dialect)
            assert parsed and all(statement is not None for statement in parsed), (path, text)


def test_nodes_come_in_dependency_order_each_followed_by_its_assertions(example: Path) -> None:
    script = (example / "deploy.sql").read_text()
    order = ["VIEW `example-project`.`main`.`stg_airlines`", "VIEW `example-project`.`main`.`stg_flights`",
             "'stg_flights · unique(flight_id)'", "TABLE `example-project`.`main`.`flight_features`",
             "MODEL `example-project`.`main`.`flight_delay`",
             "TABLE `example-project`.`main`.`flight_delay_predictions`"]
    positions = [script.index(text) for text in order]
    assert positions == sorted(positions)
    assert "FROM `example-project`.`raw`.`flights`" in script  # sources map like nodes


def test_kinds_become_tables_views_models_and_asserts(example: Path) -> None:
    features = (example / "models/features/flight_features.sql").read_text()
    assert features.startswith("/* One row per flight")
    assert "CREATE OR REPLACE TABLE `example-project`.`main`.`flight_features` AS" in features
    assert ("ASSERT (\n  SELECT\n    COUNT(*)\n  FROM `example-project`.`main`.`flight_features`\n  WHERE\n"
            "    NOT `split` IN ('train', 'eval', 'test')\n) = 0 AS 'flight_features · accepted_values(split)';"
            in features)
    assert "COUNTIF(`origin` = 'EWR')" in features  # FILTER (WHERE …) → COUNTIF
    assert "INFORMATION_SCHEMA.COLUMNS" in features and "'FLOAT64' AS expected_type" in features  # column_types()
    model = (example / "models/ml/flight_delay.sql").read_text()
    assert "CREATE OR REPLACE MODEL `example-project`.`main`.`flight_delay`\nTRANSFORM(" in model
    assert "model_type='logistic_reg'" in model and "input_label_cols=['is_delayed']" in model
    assert "ML.BUCKETIZE(dep_hour, [6, 9, 12, 15, 18, 21])" in model
    clusters = (example / "models/predictions/route_cluster_assignments.sql").read_text()
    assert "ML.PREDICT(MODEL `example-project`.`main`.`route_clusters`, TABLE `example-project`.`main`" in clusters
    evaluation = (example / "models/evaluation/flight_delay_evaluation.sql").read_text()
    assert "FULL UNION ALL BY NAME" in evaluation


def test_warn_assertions_report_and_do_not_stop_the_script(example: Path) -> None:
    check = (example / "models/assertions/route_distance_is_consistent.sql").read_text()
    assert "ASSERT" not in check and "severity warn: reported, does not stop the script" in check
    assert "failing_rows > 0 AS warns" in check and "ARRAY_AGG(DISTINCT distance ORDER BY distance)" in check


def test_without_a_project_names_are_dataset_dot_table(project, toolkit) -> None:
    folder = project({"models/a.sql": "select 1 as x", "models/b.sql": "select x from {{ ref('a') }}"})
    assert toolkit(folder, "compile", "--target", "bigquery").exit_code == 0
    assert "CREATE OR REPLACE TABLE `main`.`b` AS\nSELECT\n  x\nFROM `main`.`a`;" in \
        (folder / "target/bigquery/deploy.sql").read_text()


REFUSED = {
    "models/ok.sql": "select 1 as x",
    "models/lists.sql": "select\n  x,\n  list_transform([x], v -> v + 1) as y\nfrom {{ ref('ok') }}",
    "models/star.sql": "select\n  COLUMNS(*)\nfrom {{ ref('ok') }}",
    "models/huge.sql": "select\n  x::HUGEINT * 2 as h,\n  toolkit_farm_fingerprint('a') as f\nfrom {{ ref('ok') }}",
}


def test_duckdb_only_sql_is_refused_with_file_and_line_before_anything_is_written(project, toolkit) -> None:
    folder = project(REFUSED)
    result = toolkit(folder, "compile", "--target", "bigquery")
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "would not run on BigQuery; nothing was written" in output
    assert "models/lists.sql, line 3: a lambda" in output
    assert "models/star.sql, line 2: COLUMNS(…), DuckDB's star expression is DuckDB-only" in output
    assert "models/huge.sql, line 2: the type INT128" in output
    assert "models/huge.sql, line 3: the toolkit's pure-SQL fingerprint macro" in output
    assert "FARM_FINGERPRINT" in output
    assert not (folder / "target/bigquery").exists()


def test_assertion_sql_without_a_bigquery_form_is_refused(project, toolkit) -> None:
    folder = project({"models/a.sql": "{{ config(assertions=[expression_is_true('typeof(x) = \\'INTEGER\\'')]) }}\n"
                                      "select 1 as x"})
    result = toolkit(folder, "compile", "--target", "bigquery")
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "assertion expression_is_true(typeof(x) = 'INTEGER'): TYPEOF() is DuckDB's" in output


BIGQUERY_PROJECT = {
    "pyproject.toml": '[tool.toolkit]\ndialect = "bigquery"\n[tool.toolkit.bigquery]\nproject = "bq-project"\n'
                      'datasets = { natality = "main" }\n',
    "models/births.sql": "SELECT 2 AS n, 'a' AS s",
    "models/doubled.sql": "CREATE TEMP FUNCTION twice(x INT64) AS (x * 2);\n"
                          "SELECT twice(n) AS n2, s FROM `bq-project.natality.births` WHERE s = 'a'",
}


def test_a_bigquery_dialect_project_deploys_its_own_sql_with_datasets_mapped(project, toolkit) -> None:
    folder = project(BIGQUERY_PROJECT)
    result = toolkit(folder, "compile", "--target", "bigquery")
    assert result.exit_code == 0, result.output
    doubled = (folder / "target/bigquery/models/doubled.sql").read_text()
    assert doubled.startswith("CREATE OR REPLACE TEMPORARY FUNCTION twice(\n    x INT64\n) AS\n(\n  x * 2\n);\n")
    assert "CREATE OR REPLACE TABLE `bq-project`.`natality`.`doubled` AS" in doubled
    assert "twice(n) AS n2" in doubled and "FROM `bq-project`.`natality`.`births`" in doubled
    script = (folder / "target/bigquery/deploy.sql").read_text()
    assert script.index("`natality`.`births` AS") < script.index("TEMPORARY FUNCTION twice")
    result = toolkit(folder, "compile", "--target", "bigquery", "--project", "other")
    assert "`other`.`natality`.`doubled`" in (folder / "target/bigquery/models/doubled.sql").read_text()


def _duckdb_to_bigquery(sql: str) -> str:
    return rules.apply_rules(sqlglot.parse_one(sql, read=Toolkit)).sql(dialect=ToolkitBigQuery)


@pytest.mark.parametrize(("duckdb", "bigquery"), [
    ("dayofweek(d)", "(EXTRACT(DAYOFWEEK FROM d) - 1)"),
    ("extract(dow from d)", "(EXTRACT(DAYOFWEEK FROM d) - 1)"),
    ("date_part('dow', d)", "(EXTRACT(DAYOFWEEK FROM d) - 1)"),
    ("extract(isodow from d)", "(MOD(EXTRACT(DAYOFWEEK FROM d) + 5, 7) + 1)"),
    ("week(d)", "EXTRACT(ISOWEEK FROM d)"),
    ("extract(week from d)", "EXTRACT(ISOWEEK FROM d)"),
    ("millisecond(t)", "(EXTRACT(SECOND FROM t) * 1000 + EXTRACT(MILLISECOND FROM t))"),
    ("greatest(a, b)", "GREATEST(COALESCE(a, b), COALESCE(b, a))"),
    ("least(a, b, c)", "LEAST(COALESCE(a, b, c), COALESCE(b, a, c), COALESCE(c, a, b))"),
    ("regexp_full_match(s, 'a+')", "REGEXP_CONTAINS(s, '^(?:a+)$')"),
    ("count(DISTINCT row(a, b))", "COUNT(DISTINCT TO_JSON_STRING(STRUCT(a, b)))"),
    ("a / b", "IEEE_DIVIDE(a, b)"),
])
def test_reverse_rules(duckdb: str, bigquery: str) -> None:
    assert _duckdb_to_bigquery(f"SELECT {duckdb}") == f"SELECT {bigquery}"


def test_reverse_rules_for_queries() -> None:
    assert "FULL UNION ALL BY NAME" in _duckdb_to_bigquery("SELECT 1 AS a UNION ALL BY NAME SELECT 2 AS b")
    assert _duckdb_to_bigquery("SELECT list(x ORDER BY x) FROM t") == "SELECT ARRAY_AGG(x ORDER BY x) FROM t"
    assert _duckdb_to_bigquery("SELECT regexp_full_match(s, 'a', 'i')") == "SELECT REGEXP_FULL_MATCH(s, 'a', 'i')"


@pytest.mark.parametrize("duckdb", [
    "dayofweek(DATE '2024-01-07')",  # a Sunday: 0 in DuckDB, 1 on BigQuery
    "isodow(DATE '2024-01-07')",
    "greatest(1, NULL)",
    "regexp_full_match('ab', 'a')",
])
def test_reverse_rules_give_duckdb_values_with_bigquery_semantics(duckdb: str) -> None:
    """BigQuery's value of the translation, computed by the toolkit's own BigQuery → DuckDB translation, is
    DuckDB's value of the original."""
    import duckdb as engine

    from toolkit.sql.bigquery import to_duckdb
    from toolkit.sql.bigquery.names import Datasets

    translated = _duckdb_to_bigquery(f"SELECT {duckdb}")
    back = to_duckdb(sqlglot.parse_one(translated, read=ToolkitBigQuery), Datasets()).sql(dialect=Toolkit)
    assert engine.sql(back).fetchall() == engine.sql(f"SELECT {duckdb}").fetchall()


class FakeJob:
    def __init__(self, sql: str, rows: list[dict]) -> None:
        self.sql, self._rows, self.total_bytes_processed = sql, rows, 1024

    def result(self) -> list:
        return [type("Row", (), {"items": lambda self, row=row: row.items()})() for row in self._rows]


class FakeClient:
    """google.cloud.bigquery.Client's part the toolkit uses: query(sql, job_config=…)."""

    calls: list[tuple[str, object]] = []
    projects: list[str | None] = []
    fail_on: str | None = None

    def __init__(self, project: str | None = None) -> None:
        FakeClient.projects.append(project)

    def query(self, sql: str, job_config: object = None) -> FakeJob:
        FakeClient.calls.append((sql, job_config))
        if FakeClient.fail_on and FakeClient.fail_on in sql:
            from google.api_core.exceptions import BadRequest

            raise BadRequest("Assertion failed: stg · not_null(x) at [1:1]")
        return FakeJob(sql, [{"assertion": "a · warn", "failing_rows": 0, "warns": False}] if "warns" in sql else [])


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> type[FakeClient]:
    bigquery = pytest.importorskip("google.cloud.bigquery")
    monkeypatch.setattr(bigquery, "Client", FakeClient)
    FakeClient.calls, FakeClient.projects, FakeClient.fail_on = [], [], None
    return FakeClient


CLIENT_PROJECT = {
    "pyproject.toml": '[tool.toolkit]\n[tool.toolkit.bigquery]\nproject = "configured"\n',
    "models/a.sql": "{{ config(assertions=[not_null('x'), not_null('x', severity='warn', label='x_warn')]) }}\n"
                    "select 1 as x",
    "models/b.sql": "{{ config(materialized='view') }}\nselect x from {{ ref('a') }}",
}


def test_dry_run_sends_each_statement_as_a_dry_run_job_in_order(project, toolkit, fake_client) -> None:
    folder = project(CLIENT_PROJECT)
    result = toolkit(folder, "build", "--target", "bigquery", "--dry-run", "--project", "override")
    assert result.exit_code == 0, result.output
    assert fake_client.projects == ["override"]
    sqls = [sql for sql, _ in fake_client.calls]
    assert [sql.split("\n")[0] for sql in sqls] == [
        "CREATE OR REPLACE TABLE `override`.`main`.`a` AS", "ASSERT (",
        "/* severity warn: reported, does not stop the script (a · x_warn) */",
        "CREATE OR REPLACE VIEW `override`.`main`.`b` AS"]
    assert all(config.dry_run and not config.use_query_cache for _, config in fake_client.calls)
    assert "1,024 bytes" in result.output


def test_build_runs_the_statements_and_client_errors_are_clear_messages(project, toolkit, fake_client) -> None:
    folder = project(CLIENT_PROJECT)
    fake_client.fail_on = "ASSERT"
    result = toolkit(folder, "build", "--target", "bigquery")
    assert result.exit_code == 2
    assert fake_client.projects == ["configured"]
    assert [config.dry_run for _, config in fake_client.calls] == [None, None]  # stopped at the failed ASSERT
    output = " ".join(result.output.split())
    assert "BigQuery stopped the deploy at a (ASSERT (): Assertion failed: stg · not_null(x)" in output
    assert "Traceback" not in result.output


def test_build_without_the_extra_says_how_to_install_it(project, toolkit, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "google.cloud.bigquery", None)
    result = toolkit(project(CLIENT_PROJECT), "build", "--target", "bigquery", "--dry-run")
    assert result.exit_code == 2 and 'pip install "toolkit[bigquery]"' in result.output


def test_dry_run_needs_the_bigquery_target(project, toolkit) -> None:
    result = toolkit(project(CLIENT_PROJECT), "build", "--dry-run")
    assert result.exit_code == 2 and "--target bigquery" in result.output


def test_statement_trees_are_expressions() -> None:
    from toolkit.deploy.dialect import Assert, DeployBigQuery

    statement = Assert(this=exp.EQ(this=exp.Literal.number(0), expression=exp.Literal.number(0)),
                       description=exp.Literal.string("n · a"))
    assert statement.sql(dialect=DeployBigQuery) == "ASSERT 0 = 0 AS 'n · a'"
