"""`parse_model`: one rendered model file → one classified statement, or a clear error."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from toolkit.errors import ProjectError
from toolkit.project.nodes import NodeKind
from toolkit.project.parse import parse_model

PATH = Path("/project/models/m.sql")


def refused(sql: str) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        parse_model(sql, PATH)
    assert info.value.location is not None and info.value.location.path == PATH
    return info.value


def run_wrapped(sql: str, connection: duckdb.DuckDBPyConnection | None = None) -> list[tuple]:
    """Run the statement the way the toolkit wraps it, and return the table's rows."""
    connection = connection or duckdb.connect()
    connection.execute("CREATE OR REPLACE TABLE t AS (" + sql + "\n)")
    return connection.execute("SELECT * FROM t").fetchall()


# --- queries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 as x",
        "SELECT a, b FROM t WHERE a > 1",
        "with a as (select 1 as x) select * from a",
        "select 1 union all select 2",
        "select 1 union select 2 except select 3",
        "(select 1)",
        "from t",
    ],
)
def test_queries_are_models(sql):
    statement = parse_model(sql, PATH)
    assert statement.kind is NodeKind.MODEL
    assert isinstance(statement.expression, exp.Query)
    assert statement.sql == sql


def test_union_expression_is_kept():
    assert isinstance(parse_model("select 1 union all select 2", PATH).expression, exp.Union)


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 as x;",
        "select 1 as x;;",
        "select 1 as x -- trailing comment",
        "select 1 as x /* block comment */",
        "select 1 as x -- comment\n;",
        "select 1 as x;\n-- comment after the semicolon",
        "select 1 as x; -- comment after the semicolon",
    ],
)
def test_trailing_semicolon_and_comment_are_stripped(sql):
    assert parse_model(sql, PATH).sql == "select 1 as x"


@pytest.mark.parametrize(
    "sql",
    [
        "select 1 as x;",
        "select 1 as x -- a comment that would swallow the closing parenthesis",
        "with a as (select 1 as x) -- cte\nselect * from a; -- done",
        "select 1 as x\n-- last line comment\n",
    ],
)
def test_stripped_sql_runs_when_wrapped_in_create_table(sql):
    assert run_wrapped(parse_model(sql, PATH).sql) == [(1,)]


def test_leading_lines_are_kept_so_line_numbers_match_the_file():
    statement = parse_model("-- header\n\nselect 1 as x;", PATH)
    assert statement.sql == "-- header\n\nselect 1 as x"
    assert statement.sql.splitlines()[2] == "select 1 as x"


def test_comment_inside_the_query_is_kept():
    sql = "select 1 as x -- inline\nfrom (select 1) s"
    assert parse_model(sql, PATH).sql == sql


# --- refused statements ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "keyword"),
    [
        ("drop table t", "DROP"),
        ("delete from t", "DELETE"),
        ("insert into t values (1)", "INSERT"),
        ("create table t as select 1", "CREATE"),
        ("update t set x = 1", "UPDATE"),
    ],
)
def test_statements_that_are_not_queries_are_refused_by_kind(sql, keyword):
    error = refused(sql)
    assert f"holds {'an' if keyword[0] in 'AEIOU' else 'a'} {keyword} statement" in error.message
    assert "SELECT" in error.message


def test_two_statements_are_refused_with_the_line_of_the_second():
    error = refused("select 1;\n\nselect 2")
    assert "2 statements" in error.message
    assert error.location.line == 3
    assert "m.sql, line 3" in str(error)


def test_three_statements_report_the_second_ones_line():
    error = refused("select 1;\nselect 2;\nselect 3")
    assert "3 statements" in error.message
    assert error.location.line == 2


def test_second_statement_on_the_same_line():
    assert refused("select 1; select 2").location.line == 1


@pytest.mark.parametrize("sql", ["", "   \n\n", "-- only a comment\n", "/* block */", ";", " ; ;"])
def test_empty_or_comment_only_file_is_refused(sql):
    assert "no SQL statement" in refused(sql).message


# --- syntax errors ---------------------------------------------------------------------------------


def test_syntax_error_has_line_column_and_offending_text():
    error = refused("select 1\nfrom t where x = = 2")
    assert error.message.startswith("SQL syntax error")
    assert (error.location.line, error.location.column) == (2, 18)
    assert "m.sql, line 2, column 18" in str(error)
    assert "'='" in (error.hint or "")
    assert "from t where x = = 2" in (error.hint or "")


def test_syntax_error_points_under_the_offending_token():
    error = refused("select 1\nfrom t where x = = 2")
    text_line, pointer = error.hint.splitlines()[1:3]
    assert text_line.strip() == "from t where x = = 2"
    assert text_line[pointer.index("^")] == "="


def test_missing_table_name_is_a_syntax_error_naming_the_token():
    error = refused("select 1 from")
    assert error.location.line == 1
    assert error.location.column is not None
    assert "from" in error.message


def test_unclosed_parenthesis_is_a_syntax_error_with_a_line():
    error = refused("select\n  (1")
    assert error.message.startswith("SQL syntax error")
    assert error.location.line == 2


def test_unterminated_string_reports_its_line():
    error = refused("select 1,\n  'abc")
    assert error.message.startswith("SQL syntax error")
    assert error.location.line == 2


# --- property: simple SELECTs round-trip to runnable statements ------------------------------------

_connection = duckdb.connect()

identifiers = st.text(
    alphabet=st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x00"),
    min_size=1,
    max_size=16,
)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.integers(min_value=-(2**63) + 1, max_value=2**63 - 1), semicolon=st.booleans())
def test_select_integer_literal_round_trips(value, semicolon):
    sql = f"SELECT {value} AS c" + (";" if semicolon else "")
    statement = parse_model(sql, PATH)
    assert statement.kind is NodeKind.MODEL
    assert statement.sql == f"SELECT {value} AS c"
    assert run_wrapped(statement.sql, _connection) == [(value,)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=identifiers, value=st.integers(min_value=0, max_value=10**6))
def test_select_with_quoted_generated_identifier_round_trips(name, value):
    sql = f"SELECT {value} AS {quoted(name)} -- trailing"
    statement = parse_model(sql, PATH)
    assert statement.sql == f"SELECT {value} AS {quoted(name)}"
    assert run_wrapped(statement.sql, _connection) == [(value,)]
    assert _connection.execute("SELECT * FROM t").description[0][0] == name


@pytest.mark.parametrize("sql", ["values (1, 'a'), (2, 'b')", "from t", "pivot t on a using sum(b)"])
def test_duckdb_query_forms_are_models(sql):
    assert parse_model(sql, Path("models/q.sql")).kind is NodeKind.MODEL
