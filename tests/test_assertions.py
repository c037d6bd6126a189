"""Data-quality assertions end to end: the built-in macros, severities and thresholds, write-audit-publish,
standalone assertion files, `toolkit test`, bad input, and the single scan that evaluates them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from click.testing import Result
from conftest import invoke, query, write_files

from toolkit.checks.evaluate import evaluate
from toolkit.config import load_settings
from toolkit.project.load import load_project


# --- helpers -------------------------------------------------------------------------------------------
def model(assertions: str, sql: str, **config: str) -> str:
    """A model file declaring `assertions` (the inside of the list) over `sql`."""
    extra = "".join(f", {key}={value}" for key, value in config.items())
    return f"{{{{ config(assertions=[{assertions}]{extra}) }}}}\n{sql}\n"


def values(columns: str, *rows: str) -> str:
    """`select * from (values …) t(columns)`: inline data."""
    return f"select * from (values {', '.join(rows)}) t({columns})"


def last_run(warehouse: Path) -> str:
    return query(warehouse, "select run_id from _toolkit.runs order by started_at desc limit 1")[0][0]


def node_statuses(warehouse: Path, run_id: str | None = None) -> dict[str, str]:
    run_id = run_id or last_run(warehouse)
    return dict(query(warehouse, f"select node, status from _toolkit.run_results where run_id = '{run_id}'"))


def assertion_rows(warehouse: Path, run_id: str | None = None) -> dict[tuple[str, str], dict]:
    """(node, assertion) → the row of _toolkit.assertion_results of the run (the last one by default)."""
    run_id = run_id or last_run(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        cursor = con.execute(
            "select node, assertion, test, dimension, severity, status, failing_rows, message, samples "
            f"from _toolkit.assertion_results where run_id = '{run_id}'"
        )
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()
    for row in rows:
        row["samples"] = json.loads(row["samples"]) if row["samples"] is not None else None
    return {(row["node"], row["assertion"]): row for row in rows}


def only(rows: dict[tuple[str, str], dict], node: str) -> dict:
    """The single assertion result of `node`."""
    found = [row for (name, _), row in rows.items() if name == node]
    assert len(found) == 1, found
    return found[0]


def relations(warehouse: Path) -> set[str]:
    return {
        row[0]
        for row in query(warehouse, "select table_schema || '.' || table_name from information_schema.tables "
                                    "where table_schema <> '_toolkit'")
    }



def assert_clean_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output, result.output
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"


# --- 1. every built-in macro: one passing and one failing case ---------------------------------------
PARENT = values("id, name", "(1, 'one')", "(2, 'two')", "(3, 'three')")
# (`range < n` trips sqlglot, which reads RANGE<…> as a type: the generated column is renamed i.)
LAG = (
    "select TIMESTAMP '2024-01-01' + to_hours(i) as event_at, "
    "TIMESTAMP '2024-01-01' + to_hours(i) + CASE WHEN i < {late} THEN INTERVAL 2 HOUR "
    "ELSE INTERVAL 10 MINUTE END as ingested_at from range({rows}) t(i)"
)
FIXED_NOW = "relative_to=\"TIMESTAMP '2024-06-01 00:00:00'\""

# id → (assertion call, data, expected status, expected failing rows)
MACRO_CASES: dict[str, tuple[str, str, str, int]] = {
    # unique: NULLs are not compared; failing rows are the extra copies
    "unique_pass": ("unique('id')", "select range as id from range(10) union all select NULL union all select NULL",
                    "pass", 0),
    "unique_fail": ("unique('id')", "select range % 7 as id from range(10)", "fail", 3),
    "unique_combination_pass": ("unique_combination(['a', 'b'])", values("a, b", "(1, 'x')", "(1, 'y')", "(2, 'x')"),
                                "pass", 0),
    "unique_combination_fail": ("unique_combination(['a', 'b'])",
                                values("a, b", "(1, 'x')", "(1, 'x')", "(1, 'x')", "(2, 'y')", "(2, 'y')", "(3, 'x')"),
                                "fail", 3),
    "no_duplicate_rows_pass": ("no_duplicate_rows()", values("a, b", "(1, 'x')", "(1, 'y')", "(2, 'x')"), "pass", 0),
    "no_duplicate_rows_fail": ("no_duplicate_rows()",
                               values("a, b", "(1, 'x')", "(1, 'x')", "(1, 'x')", "(2, 'y')", "(2, 'y')", "(3, 'z')"),
                               "fail", 2),
    # in_range: inclusive by default, NULLs pass
    "in_range_min_pass": ("in_range('v', min=0)", values("v", "(0)", "(1)", "(2)", "(NULL)"), "pass", 0),
    "in_range_min_fail": ("in_range('v', min=0)", values("v", "(-2)", "(-1)", "(0)", "(1)", "(NULL)"), "fail", 2),
    "in_range_max_pass": ("in_range('v', max=10)", "select range as v from range(11)", "pass", 0),
    "in_range_max_fail": ("in_range('v', max=10)", values("v", "(9)", "(10)", "(11)", "(12)"), "fail", 2),
    "in_range_both_pass": ("in_range('v', min=0, max=10)",
                           "select range as v from range(0, 11) union all select NULL", "pass", 0),
    "in_range_both_fail": ("in_range('v', min=0, max=10)", "select range as v from range(-3, 14)", "fail", 6),
    "in_range_strict_pass": ("in_range('v', min=0, max=10, inclusive=false)", "select range as v from range(1, 10)",
                             "pass", 0),
    "in_range_strict_fail": ("in_range('v', min=0, max=10, inclusive=false)", "select range as v from range(0, 11)",
                             "fail", 2),
    "in_range_dates_fail": ("in_range('d', min='2024-01-01', max='2024-12-31')",
                            values("d", "(DATE '2023-12-31')", "(DATE '2024-01-01')", "(DATE '2024-12-31')",
                                   "(DATE '2025-01-01')", "(NULL)"), "fail", 2),
    # expression_is_true: rows where it is FALSE fail, NULL passes
    "expression_is_true_pass": ("expression_is_true('lo <= hi')", values("lo, hi", "(1, 2)", "(3, 3)", "(NULL, 1)"),
                                "pass", 0),
    "expression_is_true_fail": ("expression_is_true('lo <= hi')",
                                values("lo, hi", "(1, 2)", "(3, 3)", "(5, 4)", "(NULL, 1)", "(7, 1)"), "fail", 2),
    "not_null_pass": ("not_null('v')", "select range as v from range(5)", "pass", 0),
    "not_null_fail": ("not_null('v')", values("v", "(1)", "(NULL)", "(NULL)", "(4)", "(NULL)"), "fail", 3),
    "not_null_where_fail": ("not_null('v', where='k > 1')",
                            values("k, v", "(1, NULL)", "(2, NULL)", "(3, 7)", "(4, NULL)"), "fail", 2),
    # null_fraction_at_most: 2 NULLs in 8 rows is exactly 0.25; 3 are too many and are the failing rows
    "null_fraction_at_most_pass": ("null_fraction_at_most('v', 0.25)",
                                   "select CASE WHEN i < 2 THEN NULL ELSE i END as v from range(8) t(i)", "pass", 0),
    "null_fraction_at_most_fail": ("null_fraction_at_most('v', 0.25)",
                                   "select CASE WHEN i < 3 THEN NULL ELSE i END as v from range(8) t(i)", "fail", 3),
    "row_count_between_pass": ("row_count_between(2, 5)", "select range as v from range(5)", "pass", 0),
    "row_count_between_fail": ("row_count_between(2, 5)", "select range as v from range(7)", "fail", 1),
    "row_count_between_too_few": ("row_count_between(min=2)", "select range as v from range(1)", "fail", 1),
    "values_present_pass": ("values_present('c', ['a', 'b', 'c'])", values("c", "('a')", "('b')", "('c')", "('a')"),
                            "pass", 0),
    "values_present_fail": ("values_present('c', ['a', 'b', 'c'])", values("c", "('a')", "('a')", "(NULL)"), "fail", 2),
    "label_present_in_every_split_pass": (
        "label_present_in_every_split('label')",
        values("label, split", "('a', 'train')", "('b', 'train')", "('a', 'test')", "('b', 'test')", "(NULL, 'test')"),
        "pass", 0),
    "label_present_in_every_split_fail": (
        "label_present_in_every_split('label')",
        values("label, split", "('a', 'train')", "('b', 'train')", "('c', 'train')", "('a', 'test')", "('a', 'valid')"),
        "fail", 4),
    "label_present_custom_split_fail": (
        "label_present_in_every_split('y', split_column='fold')",
        values("y, fold", "(0, 1)", "(1, 1)", "(0, 2)"), "fail", 1),
    # accepted_values: NULLs pass
    "accepted_values_pass": ("accepted_values('c', ['a', 'b'])", values("c", "('a')", "('b')", "(NULL)", "('a')"),
                             "pass", 0),
    "accepted_values_fail": ("accepted_values('c', ['a', 'b'])",
                             values("c", "('a')", "('c')", "('d')", "(NULL)", "('d')"), "fail", 3),
    "accepted_values_numbers_fail": ("accepted_values('n', [1, 2])", values("n", "(1)", "(2)", "(3)"), "fail", 1),
    # matches_regex: in full, NULLs pass
    "matches_regex_pass": ("matches_regex('code', '[A-Z]{2}[0-9]{3}')",
                           values("code", "('AB123')", "('XY999')", "(NULL)"), "pass", 0),
    "matches_regex_fail": ("matches_regex('code', '[A-Z]{2}[0-9]{3}')",
                           values("code", "('AB123')", "('ab123')", "('AB1234')", "('ZZ12')", "(NULL)"), "fail", 3),
    "matches_regex_number_fail": ("matches_regex('n', '[0-9]{2}')", "select range * 5 as n from range(4)", "fail", 2),
    # relationships: non-NULL values must exist in the parent
    "relationships_pass": ("relationships('parent_id', to=ref('parent'), field='id')",
                           values("parent_id", "(1)", "(2)", "(NULL)", "(3)", "(1)"), "pass", 0),
    "relationships_fail": ("relationships('parent_id', to=ref('parent'), field='id')",
                           values("parent_id", "(1)", "(4)", "(5)", "(NULL)", "(5)"), "fail", 3),
    # column_types: a wrong type and a missing column are each a failing row
    "column_types_pass": ("column_types({'id': 'integer', 'name': 'VARCHAR'})",
                          "select 1::INTEGER as id, 'x'::VARCHAR as name", "pass", 0),
    "column_types_fail": ("column_types({'id': 'BIGINT', 'name': 'VARCHAR', 'missing_col': 'DATE'})",
                          "select 1::INTEGER as id, 'x'::VARCHAR as name", "fail", 2),
    # freshness relative to a fixed moment
    "freshness_pass": (f"freshness('ts', max_age='1 day', {FIXED_NOW})",
                       values("ts", "(TIMESTAMP '2024-05-01')", "(TIMESTAMP '2024-05-31 12:00:00')", "(NULL)"),
                       "pass", 0),
    "freshness_stale": (f"freshness('ts', max_age='1 day', {FIXED_NOW})",
                        values("ts", "(TIMESTAMP '2024-05-01')", "(TIMESTAMP '2024-05-30 12:00:00')"), "fail", 1),
    "freshness_all_null": (f"freshness('ts', max_age='1 day', {FIXED_NOW})",
                           "select NULL::TIMESTAMP as ts from range(3)", "fail", 1),
    "freshness_now_pass": ("freshness('ts', max_age='1 day')", "select now()::TIMESTAMP - INTERVAL 1 HOUR as ts", "pass", 0),
    "freshness_now_stale": ("freshness('ts', max_age='1 day')", "select now()::TIMESTAMP - INTERVAL 3 DAY as ts", "fail", 1),
    # ingestion_lag_at_most: one late row in 21 is below the 95th percentile; 3 late rows in 10 are not
    "ingestion_lag_at_most_pass": ("ingestion_lag_at_most('event_at', 'ingested_at', max_lag='1 hour')",
                                   LAG.format(late=1, rows=21), "pass", 0),
    "ingestion_lag_at_most_fail": ("ingestion_lag_at_most('event_at', 'ingested_at', max_lag='1 hour')",
                                   LAG.format(late=3, rows=10), "fail", 3),
    # names and values that need quoting
    "quoted_column_fail": ("not_null('My Col')", values('"My Col"', "(1)", "(NULL)", "(2)"), "fail", 1),
    "quoted_column_unique_pass": ("unique('order')", values('"order"', "(1)", "(NULL)", "(NULL)", "(2)"), "pass", 0),
    "quoted_value_fail": ("accepted_values('airport', [\"O'Hare\", 'JFK'])",
                          values("airport", "('O''Hare')", "('JFK')", "('LAX')"), "fail", 1),
}


@pytest.fixture(scope="module")
def macro_build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One project holding a model per case (all independent but for `parent`), built once; its results."""
    files = {"models/parent.sql": PARENT + "\n"}
    for case, (call, sql, _, _) in MACRO_CASES.items():
        files[f"models/{case}.sql"] = model(call, sql)
    folder = write_files(tmp_path_factory.mktemp("macros") / "project", files)
    result = invoke(folder, "build")
    warehouse = folder / "warehouse.duckdb"
    return {
        "folder": folder, "result": result, "assertions": assertion_rows(warehouse),
        "statuses": node_statuses(warehouse), "relations": relations(warehouse),
    }


@pytest.mark.parametrize("case", list(MACRO_CASES))
def test_builtin_macro(macro_build, case):
    call, _, status, failing = MACRO_CASES[case]
    assert macro_build["result"].exit_code == 1, macro_build["result"].output  # some cases fail on purpose
    row = only(macro_build["assertions"], case)
    assert (row["status"], row["failing_rows"]) == (status, failing), row
    assert row["severity"] == "error"
    node_status = macro_build["statuses"][case]
    if status == "pass":
        assert node_status == "success"
        assert row["samples"] == [] and row["message"] is None
        assert f"main.{case}" in macro_build["relations"]
    else:
        assert node_status == "fail"
        assert row["samples"], f"no sample rows stored for {case}"
        assert row["assertion"] in row["message"] and f"{failing:,} failing row(s)" in row["message"]
        assert f"main.{case}" not in macro_build["relations"]  # an error assertion keeps it unpublished


def test_builtin_macro_metadata_and_samples(macro_build):
    rows = macro_build["assertions"]
    by_case = {node: row for (node, _), row in rows.items()}
    dimensions = {row["test"]: row["dimension"] for row in rows.values()}
    assert dimensions == {
        "unique": "accuracy", "unique_combination": "accuracy", "no_duplicate_rows": "accuracy",
        "in_range": "accuracy", "expression_is_true": "accuracy", "not_null": "completeness",
        "null_fraction_at_most": "completeness", "row_count_between": "completeness",
        "values_present": "completeness", "label_present_in_every_split": "completeness",
        "accepted_values": "consistency", "matches_regex": "consistency", "relationships": "consistency",
        "column_types": "consistency", "freshness": "timeliness", "ingestion_lag_at_most": "timeliness",
    }
    assert by_case["unique_fail"]["assertion"] == "unique(id)"
    assert sorted((s["id"], s["copies"]) for s in by_case["unique_fail"]["samples"]) == [(0, 2), (1, 2), (2, 2)]
    assert sorted((s["a"], s["copies"]) for s in by_case["unique_combination_fail"]["samples"]) == [(1, 3), (2, 2)]
    assert sorted(s["copies"] for s in by_case["no_duplicate_rows_fail"]["samples"]) == [2, 3]
    assert sorted(s["v"] for s in by_case["in_range_both_fail"]["samples"]) == [-3, -2, -1, 11, 12]  # 5 at most
    assert {s["v"] for s in by_case["in_range_strict_fail"]["samples"]} == {0, 10}
    assert by_case["null_fraction_at_most_fail"]["samples"] == [{"row_count": 8, "null_count": 3, "null_fraction": 0.375}]
    assert by_case["row_count_between_fail"]["samples"] == [{"row_count": 7}]
    assert sorted(s["missing_value"] for s in by_case["values_present_fail"]["samples"]) == ["b", "c"]
    assert sorted((s["split"], s["label"]) for s in by_case["label_present_in_every_split_fail"]["samples"]) == [
        ("test", "b"), ("test", "c"), ("valid", "b"), ("valid", "c")]
    assert sorted(s["c"] for s in by_case["accepted_values_fail"]["samples"]) == ["c", "d", "d"]
    assert sorted(s["code"] for s in by_case["matches_regex_fail"]["samples"]) == ["AB1234", "ZZ12", "ab123"]
    assert sorted(s["parent_id"] for s in by_case["relationships_fail"]["samples"]) == [4, 5, 5]
    assert sorted((s["column_name"], s["expected_type"], s["actual_type"])
                  for s in by_case["column_types_fail"]["samples"]) == [
        ("id", "BIGINT", "INTEGER"), ("missing_col", "DATE", None)]
    assert by_case["freshness_stale"]["samples"] == [
        {"newest": "2024-05-30 12:00:00", "relative_to": "2024-06-01 00:00:00"}]
    assert len(by_case["ingestion_lag_at_most_fail"]["samples"]) == 3
    assert by_case["not_null_where_fail"]["samples"] and all(
        s["k"] > 1 and s["v"] is None for s in by_case["not_null_where_fail"]["samples"])


def test_builtin_macro_results_in_run_results_json(macro_build):
    document = json.loads((macro_build["folder"] / "target/run_results.json").read_text())
    by_node = {result["node"]: result for result in document["results"]}
    assert document["status"] == "error"
    audit = by_node["accepted_values_fail"]["assertions"]
    assert [(a["assertion"], a["status"], a["failing_rows"]) for a in audit] == [("accepted_values(c)", "fail", 3)]
    assert audit[0]["samples"]
    assert by_node["parent"]["assertions"] == [] and by_node["parent"]["status"] == "success"


# --- 2. severity and thresholds ---------------------------------------------------------------------------
NULLS = "select CASE WHEN i < {nulls} THEN NULL ELSE i END as v from range(10) t(i)"


def test_warn_severity_publishes_and_exits_0(project, toolkit):
    folder = project({
        "models/warned.sql": model("not_null('v', severity='warn')", NULLS.format(nulls=2)),
        "models/child.sql": "select count(*) as n from {{ ref('warned') }}\n",
    })
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse) == {"warned": "warn", "child": "success"}
    row = only(assertion_rows(warehouse), "warned")
    assert (row["severity"], row["status"], row["failing_rows"]) == ("warn", "warn", 2)
    assert row["samples"] and "warn_if >0" in row["message"]
    assert query(warehouse, "select count(*) from warned") == [(10,)]
    assert query(warehouse, "select n from child") == [(10,)]
    assert "1 warned" in result.output and "WARN" in result.output


THRESHOLD_CASES = {
    # node → (assertion call, NULL count, expected assertion verdict, expected node status)
    # below error_if, the default warn_if='>0' still holds (as in dbt): reported, but published
    "error_if_2_of_2": ("not_null('v', error_if='>2')", 2, "warn", "warn"),
    "error_and_warn_if_2_of_2": ("not_null('v', error_if='>2', warn_if='>2')", 2, "pass", "success"),
    "error_if_2_of_3": ("not_null('v', error_if='>2')", 3, "fail", "fail"),
    "warn_then_error_0": ("not_null('v', warn_if='>=1', error_if='>5')", 0, "pass", "success"),
    "warn_then_error_3": ("not_null('v', warn_if='>=1', error_if='>5')", 3, "warn", "warn"),
    "warn_then_error_6": ("not_null('v', warn_if='>=1', error_if='>5')", 6, "fail", "fail"),
    "warn_severity_quiet": ("not_null('v', severity='warn', warn_if='>5')", 3, "pass", "success"),
    "warn_severity_ignores_error_if": ("not_null('v', severity='warn', error_if='>0')", 3, "warn", "warn"),
    "error_if_equals": ("not_null('v', error_if='=0')", 0, "fail", "fail"),
    "error_if_decimal": ("not_null('v', error_if='>=2.5', warn_if='!=0')", 3, "fail", "fail"),
}


def test_thresholds_and_node_statuses(project, toolkit):
    files = {f"models/{name}.sql": model(call, NULLS.format(nulls=nulls))
             for name, (call, nulls, _, _) in THRESHOLD_CASES.items()}
    files["models/mixed.sql"] = model(
        "not_null('v', severity='warn'), accepted_values('v', [8, 9]), unique('v')", NULLS.format(nulls=8))
    folder = project(files)
    result = toolkit(folder, "build")
    assert result.exit_code == 1, result.output
    warehouse = folder / "warehouse.duckdb"
    statuses = node_statuses(warehouse)
    rows = assertion_rows(warehouse)
    for name, (_, nulls, verdict, status) in THRESHOLD_CASES.items():
        row = only(rows, name)
        assert (row["status"], row["failing_rows"]) == (verdict, nulls), (name, row)
        assert statuses[name] == status, name
        assert (f"main.{name}" in relations(warehouse)) == (status != "fail"), name
    assert "error_if >2" in only(rows, "error_if_2_of_3")["message"]
    assert "warn_if >=1" in only(rows, "warn_then_error_3")["message"]
    # several assertions on one node: warn + pass + pass → warn
    mixed = {assertion: row["status"] for (node, assertion), row in rows.items() if node == "mixed"}
    assert mixed == {"not_null(v)": "warn", "accepted_values(v)": "pass", "unique(v)": "pass"}
    assert statuses["mixed"] == "warn"
    assert query(warehouse, "select status, command from _toolkit.runs") == [("error", "build")]


def test_labels_and_repeated_assertions(project, toolkit):
    folder = project({
        "models/labelled.sql": model(
            "not_null('v', label='v is filled'), unique_combination(['v', 'w'], label='pairs'), "
            "not_null('v'), not_null('v', where='w > 0')",
            "select range as v, range % 2 as w from range(4)"),
    })
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    names = {assertion for (_, assertion) in assertion_rows(folder / "warehouse.duckdb")}
    assert names == {"v is filled", "pairs", "not_null(v)", "not_null(v)#2"}


# --- 3. write-audit-publish --------------------------------------------------------------------------------
@pytest.mark.parametrize("materialized", ["table", "view"])
def test_failed_audit_keeps_previous_version_published(project, toolkit, materialized):
    guarded = "{{ config(assertions=[not_null('v'), in_range('v', max=100)], materialized='%s') }}\n" % materialized
    folder = project({
        "models/base.sql": guarded + "select range as v from range(5)\n",
        "models/child.sql": "select sum(v) as total from {{ ref('base') }}\n",
        "models/grandchild.sql": "select total * 2 as doubled from {{ ref('child') }}\n",
        "models/independent.sql": "select 1 as answer\n",
        "models/assert_base.sql": "{{ config(materialized='assertion') }}\nselect * from {{ ref('base') }} where v > 50\n",
    })
    assert toolkit(folder, "build").exit_code == 0
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select sum(v) from base") == [(10,)]

    (folder / "models/base.sql").write_text(guarded + "select range as v from range(5) union all select NULL\n")
    (folder / "models/independent.sql").write_text("select 2 as answer\n")
    result = toolkit(folder, "build")
    assert result.exit_code == 1, result.output
    assert query(warehouse, "select count(*), sum(v) from base") == [(5, 10)]  # the previous version, unchanged
    assert query(warehouse, "select total from child") == [(10,)]
    assert query(warehouse, "select answer from independent") == [(2,)]
    assert not [name for name in relations(warehouse) if "__toolkit_tmp__" in name]
    statuses = node_statuses(warehouse)
    assert statuses == {"base": "fail", "child": "skipped", "grandchild": "skipped", "independent": "success",
                        "assert_base": "skipped"}
    messages = dict(query(warehouse, f"select node, message from _toolkit.run_results where run_id = '{last_run(warehouse)}'"))
    assert "not_null(v)" in messages["base"] and "models/base.sql" in messages["base"]
    assert "skipped because upstream node base failed" in messages["grandchild"]
    assert {a: r["status"] for (n, a), r in assertion_rows(warehouse).items()} == {
        "not_null(v)": "fail", "in_range(v)": "pass"}

    # fixed: the next build publishes the new data
    (folder / "models/base.sql").write_text(guarded + "select range as v from range(3)\n")
    assert toolkit(folder, "build").exit_code == 0
    assert query(warehouse, "select total from child") == [(3,)]


def test_assertion_that_cannot_run_errors_and_keeps_previous_version(project, toolkit):
    folder = project({
        "models/base.sql": model("not_null('v')", "select range as v from range(3)"),
    })
    assert toolkit(folder, "build").exit_code == 0
    # one broken expression among good ones: the others still get their counts
    (folder / "models/base.sql").write_text(
        model("not_null('v'), expression_is_true('no_such_column > 0'), in_range('v', max=0)",
              "select range as v from range(4)"))
    result = toolkit(folder, "build")
    assert result.exit_code == 1, result.output
    warehouse = folder / "warehouse.duckdb"
    rows = {a: r for (_, a), r in assertion_rows(warehouse).items()}
    assert rows["not_null(v)"]["status"] == "pass"
    assert (rows["in_range(v)"]["status"], rows["in_range(v)"]["failing_rows"]) == ("fail", 3)
    broken = rows["expression_is_true(no_such_column > 0)"]
    assert broken["status"] == "error" and broken["failing_rows"] is None
    assert "no_such_column" in broken["message"]
    assert node_statuses(warehouse) == {"base": "error"}
    assert query(warehouse, "select count(*) from base") == [(3,)]
    assert not [name for name in relations(warehouse) if "__toolkit_tmp__" in name]


# --- 4. standalone assertion files ------------------------------------------------------------------------
def assertion_project(condition: str, **config: str) -> dict[str, str]:
    settings = ", ".join(["materialized='assertion'", *(f"{key}={value}" for key, value in config.items())])
    return {
        "models/x.sql": "select range as id, range * 10 as amount from range(10)\n",
        "models/y.sql": "select count(*) as n from {{ ref('x') }}\n",
        "models/z.sql": "select max(amount) as top from {{ ref('x') }}\n",
        "models/w.sql": "select 1 as unrelated\n",
        "models/assert_x_small.sql": f"{{{{ config({settings}) }}}}\n"
                                     f"select id, amount from {{{{ ref('x') }}}} where {condition}\n",
    }


def test_assertion_file_passes(project, toolkit):
    folder = project(assertion_project("amount > 1000"))
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse) == {name: "success" for name in ("x", "y", "z", "w", "assert_x_small")}
    row = only(assertion_rows(warehouse), "assert_x_small")
    assert (row["assertion"], row["test"], row["status"], row["failing_rows"]) == ("assert_x_small", "assertion", "pass", 0)
    assert relations(warehouse) == {"main.x", "main.y", "main.z", "main.w"}  # an assertion stores nothing


def test_failing_assertion_file_skips_the_other_children(project, toolkit):
    folder = project(assertion_project("amount >= 70"))
    result = toolkit(folder, "build")
    assert result.exit_code == 1, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse) == {
        "x": "success", "assert_x_small": "fail", "y": "skipped", "z": "skipped", "w": "success"}
    assert query(warehouse, "select count(*) from x") == [(10,)]  # x itself stays published
    assert relations(warehouse) == {"main.x", "main.w"}
    row = only(assertion_rows(warehouse), "assert_x_small")
    assert (row["status"], row["failing_rows"], row["severity"]) == ("fail", 3, "error")
    assert sorted(sample["id"] for sample in row["samples"]) == [7, 8, 9]
    assert "assert_x_small" in result.output and "3 failing row(s)" in result.output


def test_warn_assertion_file_lets_children_build(project, toolkit):
    folder = project(assertion_project("amount >= 70", severity="'warn'", dimension="'accuracy'"))
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse) == {
        "x": "success", "assert_x_small": "warn", "y": "success", "z": "success", "w": "success"}
    row = only(assertion_rows(warehouse), "assert_x_small")
    assert (row["status"], row["severity"], row["dimension"], row["failing_rows"]) == ("warn", "warn", "accuracy", 3)


def test_assertion_file_thresholds(project, toolkit):
    folder = project(assertion_project("amount >= 70", error_if="'>5'", warn_if="'>=3'"))
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse)["assert_x_small"] == "warn"
    assert node_statuses(warehouse)["y"] == "success"


def test_assertion_file_guards_later_children_but_not_those_it_reads(project, toolkit):
    files = assertion_project("amount >= 70")
    # the assertion also reads y (a child of x): y must build first and is not guarded
    files["models/assert_x_small.sql"] = (
        "{{ config(materialized='assertion') }}\n"
        "select id from {{ ref('x') }} where amount >= 70 and id > (select n from {{ ref('y') }})\n")
    folder = project(files)
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output  # no row has id > 10
    files["models/assert_x_small.sql"] = files["models/assert_x_small.sql"].replace("id > (", "id < (")
    write_files(folder, files)
    result = toolkit(folder, "build", "--no-skip-unchanged")
    assert result.exit_code == 1, result.output
    assert node_statuses(folder / "warehouse.duckdb") == {
        "x": "success", "y": "success", "assert_x_small": "fail", "z": "skipped", "w": "success"}


def test_ls_shows_assertion_kind(project, toolkit):
    folder = project(assertion_project("amount > 1000"))
    result = toolkit(folder, "ls", "--output", "json")
    assert result.exit_code == 0, result.output
    nodes = {node["name"]: node for node in json.loads(result.output)}
    assert (nodes["assert_x_small"]["kind"], nodes["assert_x_small"]["materialized"]) == ("assertion", "assertion")
    assert nodes["assert_x_small"]["depends_on"] == ["x"]
    assert nodes["x"]["kind"] == "model"


# --- 5. toolkit test ------------------------------------------------------------------------------------------
def test_test_command_judges_the_published_data(project, toolkit):
    folder = project({
        "models/m.sql": model("in_range('v', max=100)", "select range as v from range(10)"),
        "models/other.sql": model("not_null('k')", "select 1 as k"),
    })
    assert toolkit(folder, "build").exit_code == 0
    warehouse = folder / "warehouse.duckdb"
    builds = query(warehouse, "select count(*) from _toolkit.runs")[0][0]

    # a rebuild would produce 3 rows that all pass max=5; the published table has 10, four of them above 5
    (folder / "models/m.sql").write_text(model("in_range('v', max=5)", "select range as v from range(3)"))
    result = toolkit(folder, "test")
    assert result.exit_code == 1, result.output
    assert query(warehouse, "select count(*) from m") == [(10,)]  # nothing was built
    run_id = last_run(warehouse)
    assert query(warehouse, f"select command, status from _toolkit.runs where run_id = '{run_id}'") == [("test", "error")]
    assert query(warehouse, "select count(*) from _toolkit.runs")[0][0] == builds + 1
    rows = assertion_rows(warehouse, run_id)
    m = only(rows, "m")
    assert (m["assertion"], m["status"], m["failing_rows"]) == ("in_range(v)", "fail", 4)
    assert sorted(sample["v"] for sample in m["samples"]) == [6, 7, 8, 9]
    assert only(rows, "other")["status"] == "pass"
    assert node_statuses(warehouse, run_id) == {"m": "fail", "other": "success"}
    assert query(warehouse, f"select rows from _toolkit.run_results where run_id = '{run_id}' and node = 'm'") == [(None,)]
    document = json.loads((folder / "target/run_results.json").read_text())
    assert (document["command"], document["run_id"]) == ("test", run_id)

    # --select tests only the chosen node
    result = toolkit(folder, "test", "--select", "other")
    assert result.exit_code == 0, result.output
    assert node_statuses(warehouse) == {"other": "success"}
    assert query(warehouse, "select count(*) from m") == [(10,)]


def test_test_command_does_not_publish_data_changed_by_the_model(project, toolkit):
    folder = project({"models/m.sql": model("not_null('v')", "select range as v from range(4)")})
    assert toolkit(folder, "build").exit_code == 0
    (folder / "models/m.sql").write_text(model("not_null('v')", "select NULL::INTEGER as v"))
    result = toolkit(folder, "test")
    assert result.exit_code == 0, result.output  # the published data has no NULLs
    warehouse = folder / "warehouse.duckdb"
    assert query(warehouse, "select count(*) from m") == [(4,)]
    assert only(assertion_rows(warehouse), "m")["status"] == "pass"


def test_test_command_runs_assertion_files(project, toolkit):
    folder = project(assertion_project("amount > 1000"))
    assert toolkit(folder, "build").exit_code == 0
    (folder / "models/assert_x_small.sql").write_text(
        "{{ config(materialized='assertion') }}\nselect * from {{ ref('x') }} where amount >= 80\n")
    result = toolkit(folder, "test")
    assert result.exit_code == 1, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse) == {"assert_x_small": "fail"}  # nodes without assertions are not listed
    assert only(assertion_rows(warehouse), "assert_x_small")["failing_rows"] == 2


def test_test_command_with_warnings_exits_0(project, toolkit):
    folder = project({"models/m.sql": model("not_null('v', severity='warn')", "select NULL::INTEGER as v")})
    assert toolkit(folder, "build").exit_code == 0
    result = toolkit(folder, "test")
    assert result.exit_code == 0, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse) == {"m": "warn"}
    assert query(warehouse, f"select status from _toolkit.runs where run_id = '{last_run(warehouse)}'") == [("success",)]


def test_test_command_reports_unbuilt_model(project, toolkit):
    folder = project({
        "models/built.sql": model("not_null('v')", "select 1 as v"),
        "models/unbuilt.sql": model("not_null('v')", "select 1 as v"),
    })
    assert toolkit(folder, "build", "--select", "built").exit_code == 0
    result = toolkit(folder, "test")
    assert result.exit_code == 1, result.output
    warehouse = folder / "warehouse.duckdb"
    assert node_statuses(warehouse) == {"built": "success", "unbuilt": "error"}
    message = query(warehouse, f"select message from _toolkit.run_results where run_id = '{last_run(warehouse)}' "
                               "and node = 'unbuilt'")[0][0]
    assert "main.unbuilt is not built" in message
    assert "Traceback" not in result.output


def test_test_command_with_nothing_to_test(project, toolkit):
    folder = project({"models/a.sql": "select 1 as v\n", "models/b.sql": model("not_null('v')", "select 1 as v")})
    result = toolkit(folder, "test", "--select", "a")
    assert result.exit_code == 0, result.output
    assert "Nothing to test" in result.output
    folder = project({"models/b.sql": "select 1 as v\n"})
    result = toolkit(folder, "test")
    assert result.exit_code == 0 and "Nothing to test" in result.output
    assert not (folder / "warehouse.duckdb").exists()


def test_test_command_without_warehouse(project, toolkit):
    folder = project({"models/b.sql": model("not_null('v')", "select 1 as v")})
    result = toolkit(folder, "test")
    assert_clean_error(result, 2, "does not exist", "toolkit build")


# --- 6. bad input ------------------------------------------------------------------------------------------------
def test_assertion_on_missing_column(project, toolkit):
    folder = project({
        "models/flights.sql": model("not_null('carierr'), unique('flight_id')",
                                    "select range as flight_id, 'AA' as carrier from range(3)"),
        "models/downstream.sql": "select * from {{ ref('flights') }}\n",
    })
    result = toolkit(folder, "build")
    assert_clean_error(result, 1, "models/flights.sql", "not_null(carierr)", '"carierr"', 'did you mean "carrier"')
    warehouse = folder / "warehouse.duckdb"
    rows = {a: r for (_, a), r in assertion_rows(warehouse).items()}
    assert rows["not_null(carierr)"]["status"] == "error"
    assert "flights" in rows["not_null(carierr)"]["message"]
    assert rows["unique(flight_id)"]["status"] == "pass"
    assert node_statuses(warehouse) == {"flights": "error", "downstream": "skipped"}
    assert "main.flights" not in relations(warehouse)


BAD_MODELS = {
    # id → (model file text, fragments the message must contain)
    "unknown_macro": (model("not_nul('v')", "select 1 as v"), ["models/bad.sql", "not_nul", 'did you mean "not_null"']),
    "bad_error_if": (model("not_null('v', error_if='more than 3')", "select 1 as v"),
                     ["models/bad.sql", "not_null()", "error_if='more than 3'", "is not a threshold", "'>0'"]),
    "bad_warn_if": (model("unique('v', warn_if='>=lots')", "select 1 as v"),
                    ["models/bad.sql", "unique()", "warn_if='>=lots'", "is not a threshold"]),
    "bad_severity": (model("not_null('v', severity='fatal')", "select 1 as v"),
                     ["models/bad.sql", "not_null()", "severity 'fatal'", "error, warn"]),
    "unknown_argument": (model("not_null('v', severty='warn')", "select 1 as v"),
                         ["models/bad.sql", "not_null()", "severty", 'did you mean "severity"']),
    "assertions_not_a_list": ("{{ config(assertions='not a list of assertions') }}\nselect 1 as v\n",
                              ["models/bad.sql", "config(assertions=…)", "not a list of assertions", "is not an assertion"]),
    "assertions_a_number": ("{{ config(assertions=3) }}\nselect 1 as v\n",
                            ["models/bad.sql", "config(assertions=…)", "list of assertions"]),
    "severity_on_model": ("{{ config(severity='warn') }}\nselect 1 as v\n",
                          ["models/bad.sql", "config(severity=…)", "materialized='assertion'"]),
    "error_if_on_model": ("{{ config(error_if='>3') }}\nselect 1 as v\n",
                          ["models/bad.sql", "config(error_if=…)", "assertion files"]),
    "where_on_aggregate": (model("unique('v', where='v > 0')", "select 1 as v"),
                           ["models/bad.sql", "unique()", "where=", "row-by-row"]),
    "where_on_query_assertion": (model("no_duplicate_rows(where='v > 0')", "select 1 as v"),
                                 ["models/bad.sql", "no_duplicate_rows()", "where="]),
    "in_range_without_bounds": (model("in_range('v')", "select 1 as v"),
                                ["models/bad.sql", "in_range(v)", "min, max"]),
    # dimension= on a built-in macro (which sets its own): accepted and checked, or refused, but by name
    "bad_dimension": (model("not_null('v', dimension='beauty')", "select 1 as v"),
                      ["models/bad.sql", "not_null", "dimension"]),
    "assertion_file_not_select": ("{{ config(materialized='assertion') }}\ndelete from {{ ref('base') }} where v > 0\n",
                                  ["models/bad.sql", "DELETE", "SELECT"]),
    "assertion_file_bad_severity": ("{{ config(materialized='assertion', severity='fatal') }}\n"
                                    "select * from {{ ref('base') }}\n", ["models/bad.sql", "severity 'fatal'"]),
    "assertion_file_bad_threshold": ("{{ config(materialized='assertion', error_if='more than 3') }}\n"
                                     "select * from {{ ref('base') }}\n",
                                     ["models/bad.sql", "error_if='more than 3'", "is not a threshold"]),
    "assertion_file_with_assertions": ("{{ config(materialized='assertion', assertions=[not_null('v')]) }}\n"
                                       "select * from {{ ref('base') }}\n",
                                       ["models/bad.sql", "assertion file", "assertions"]),
    # a required argument left out: the message names the macro and the argument
    "missing_column_argument": (model("in_range(min=0)", "select 1 as v"), ["models/bad.sql", "in_range", "column"]),
    "relationships_without_field": (model("relationships('v', to=ref('base'))", "select 1 as v"),
                                    ["models/bad.sql", "relationships", "field"]),
    "bad_materialization": ("{{ config(materialized='assertions') }}\nselect 1 as v\n",
                            ["models/bad.sql", "materialized='assertions'", 'did you mean "assertion"']),
}


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_bad_assertion_input_exits_2(project, toolkit, case):
    text, fragments = BAD_MODELS[case]
    folder = project({"models/base.sql": "select 1 as v\n", "models/bad.sql": text})
    result = toolkit(folder, "build")
    assert_clean_error(result, 2, "error:", *fragments)
    assert not (folder / "warehouse.duckdb").exists()  # nothing ran


# --- 7. single scan --------------------------------------------------------------------------------------------
class RecordingConnection:
    """A DuckDB connection that remembers the SQL sent to `execute`."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self._con = con
        self.sent: list[str] = []

    def execute(self, sql: str, *args, **kwargs):
        self.sent.append(sql)
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


SINGLE_SCAN = [
    "not_null('id')",
    "in_range('amount', min=0, max=1000)",
    "accepted_values('kind', ['a', 'b', 'c'])",
    "matches_regex('code', 'C[0-9]+')",
    "unique('id')",
    "null_fraction_at_most('note', 0.5)",
    "values_present('kind', ['a', 'b'])",
    "expression_is_true('amount >= id')",
    "row_count_between(1, 1000)",
    f"freshness('ts', max_age='2 days', {FIXED_NOW})",
]
SCANNED = (
    "select range as id, range * 3 as amount, ['a', 'b', 'c'][range % 3 + 1] as kind, 'C' || range as code, "
    "CASE WHEN range % 4 = 0 THEN NULL ELSE 'n' END as note, "
    "TIMESTAMP '2024-05-31' - to_hours(range) as ts from range(100)"
)


def _loaded_assertions(project, calls: list[str]):
    folder = project({"models/scanned.sql": model(", ".join(calls), SCANNED)})
    return load_project(load_settings(folder)).nodes["scanned"].assertions


def _evaluate_recorded(assertions):
    """Evaluate on a fresh table of SCANNED rows through a connection that records every query sent."""
    con = duckdb.connect()
    try:
        con.execute(f"create table scanned as {SCANNED}")
        recording = RecordingConnection(con)
        return evaluate(recording, "scanned", '"main"."scanned"', assertions), recording
    finally:
        con.close()


def test_single_scan_evaluates_row_and_aggregate_assertions_in_one_query(project):
    assertions = _loaded_assertions(project, SINGLE_SCAN)
    assert len(assertions) == 10 and all(assertion.single_scan for assertion in assertions)
    results, recording = _evaluate_recorded(assertions)
    assert [(r.assertion, r.status, r.failing_rows) for r in results] == [
        (a.name, "pass", 0) for a in assertions], [r.message for r in results]
    describes = [sql for sql in recording.sent if sql.lstrip().upper().startswith("DESCRIBE")]
    scans = [sql for sql in recording.sent if sql not in describes]
    assert len(describes) == 1, recording.sent
    assert len(scans) == 1, recording.sent
    assert '"main"."scanned"' in scans[0]
    assert len(recording.sent) == 2


def test_query_assertions_and_failures_add_their_own_queries(project):
    calls = ["not_null('note')", "unique('id')", "no_duplicate_rows()"]
    assertions = _loaded_assertions(project, calls)
    results, recording = _evaluate_recorded(assertions)
    verdicts = {r.assertion: (r.status, r.failing_rows) for r in results}
    assert verdicts == {"not_null(note)": ("fail", 25), "unique(id)": ("pass", 0), "no_duplicate_rows()": ("pass", 0)}
    # DESCRIBE, the one combined scan, no_duplicate_rows' own query, and not_null's sample rows
    assert len(recording.sent) == 4, recording.sent
    assert len(next(r for r in results if r.assertion == "not_null(note)").samples) == 5


def test_readers_never_see_a_candidate_while_it_is_audited(project, toolkit, monkeypatch):
    """The candidate is built, audited and swapped in one transaction: another connection to the warehouse sees
    the previous version until the swap commits, and no temporary relation at any moment."""
    from toolkit import runner

    folder = project({"models/base.sql": model("not_null('v')", "select range as v from range(3)")})
    assert toolkit(folder, "build").exit_code == 0
    seen = []

    def auditing(con, node, relation, assertions):
        reader = con.cursor()  # another connection to the same database, as a reader elsewhere has
        seen.append((reader.execute("select count(*) from base").fetchall(),
                     reader.execute("select table_schema, table_name from information_schema.tables "
                                    "where table_name like '%toolkit_tmp%'").fetchall()))
        reader.close()
        return evaluate(con, node, relation, assertions)

    monkeypatch.setattr(runner, "evaluate", auditing)
    for assertions, status in (("not_null('v')", 0), ("in_range('v', max=0)", 1), ("expression_is_true('nope')", 1)):
        (folder / "models/base.sql").write_text(model(assertions, "select range as v from range(5)"))
        assert toolkit(folder, "build").exit_code == status
    # the previous version while auditing; the 5-row candidate is published once, by the first rebuild
    assert [count for count, _ in seen[:3]] == [[(3,)], [(5,)], [(5,)]]
    assert all(temporary == [] for _, temporary in seen[:3])
    # the broken assertion is audited again on a copy set aside in a private schema, never in the published one
    assert len(seen) == 4 and seen[3][1] == [("_toolkit_audit", "__toolkit_tmp__main.base")]
    assert query(folder / "warehouse.duckdb", "select count(*) from base") == [(5,)]
    assert query(folder / "warehouse.duckdb", "select count(*) from information_schema.tables "
                                              "where table_name like '%toolkit_tmp%'") == [(0,)]
