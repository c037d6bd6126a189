"""Rendering model files with Jinja, through `load_project` on small projects written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from conftest import write_files

from toolkit.config import load_settings
from toolkit.errors import ConfigError, ProjectError, ToolkitError
from toolkit.project.discover import standard_macros_dir
from toolkit.project.load import Project, load_project
from toolkit.project.nodes import Materialization

PYPROJECT = """\
[tool.toolkit]
schema = "main"

[tool.toolkit.sources]
raw = ["flights", "weather"]
lake = { schema = "bronze", tables = ["events"] }

[tool.toolkit.vars]
start_year = 2013
carrier = "UA"
"""


def write(root: Path, files: dict[str, str]) -> Path:
    write_files(root, {"pyproject.toml": PYPROJECT, **files})
    (root / "models").mkdir(exist_ok=True)
    return root


def load(root: Path, files: dict[str, str], vars: dict | None = None) -> Project:
    return load_project(load_settings(write(root, files)), vars=vars)


def load_error(root: Path, files: dict[str, str], kind: type[ToolkitError] = ToolkitError) -> ToolkitError:
    with pytest.raises(kind) as info:
        load(root, files)
    return info.value


def sql_of(root: Path, files: dict[str, str], name: str = "a", vars: dict | None = None) -> str:
    return load(root, files, vars).nodes[name].sql


# --- ref and this ----------------------------------------------------------------------------------


def test_ref_resolves_to_quoted_relation_and_records_dependency(tmp_path):
    project = load(tmp_path, {"models/a.sql": "select * from {{ ref('b') }}", "models/b.sql": "select 1 as x"})
    assert project.nodes["a"].sql == 'select * from "main"."b"'
    assert project.nodes["a"].depends_on == ("b",)


def test_ref_uses_the_schema_set_by_the_target_nodes_config(tmp_path):
    sql = sql_of(
        tmp_path,
        {
            "models/a.sql": "select * from {{ ref('b') }}",
            "models/sub/b.sql": "{{ config(schema='other') }}select 1 as x",
        },
    )
    assert sql == 'select * from "other"."b"'


def test_ref_is_case_insensitive_and_uses_the_file_stem_spelling(tmp_path):
    project = load(tmp_path, {"models/a.sql": "select * from {{ ref('ALPHA') }}", "models/Alpha.sql": "select 1"})
    assert project.nodes["a"].sql == 'select * from "main"."Alpha"'
    assert project.nodes["a"].depends_on == ("Alpha",)


def test_ref_twice_records_the_dependency_once(tmp_path):
    project = load(
        tmp_path, {"models/a.sql": "select * from {{ ref('b') }}, {{ ref('b') }} as b2", "models/b.sql": "select 1"}
    )
    assert project.nodes["a"].depends_on == ("b",)


def test_this_is_the_nodes_own_relation(tmp_path):
    assert sql_of(tmp_path, {"models/a.sql": "select '{{ this }}' as t"}) == "select '\"main\".\"a\"' as t"


def test_this_follows_the_nodes_configured_schema(tmp_path):
    sql = sql_of(tmp_path, {"models/a.sql": "{{ config(schema='other') }}select '{{ this }}' as t"})
    assert sql == "select '\"other\".\"a\"' as t"


def test_unknown_ref_names_file_line_and_closest_node(tmp_path):
    error = load_error(
        tmp_path,
        {"models/alpha.sql": "select 1", "models/b.sql": "select 1\n\n, * from {{ ref('alpah') }}"},
        ProjectError,
    )
    text = str(error)
    assert "b.sql, line 3" in text
    assert 'ref("alpah")' in text
    assert 'did you mean "alpha"' in text


def test_a_node_reffing_itself_is_refused(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select * from {{ ref('a') }}"}, ProjectError)
    assert "refs itself" in str(error)
    assert "this" in (error.hint or "")


def test_ref_from_a_macro_called_by_a_model_records_the_dependency(tmp_path):
    project = load(
        tmp_path,
        {
            "macros/m.sql": "{% macro from_b() %}{{ ref('b') }}{% endmacro %}",
            "models/a.sql": "select * from {{ from_b() }}",
            "models/b.sql": "select 1",
        },
    )
    assert project.nodes["a"].depends_on == ("b",)
    assert project.nodes["a"].sql == 'select * from "main"."b"'


# --- source ----------------------------------------------------------------------------------------


def test_source_declared_as_list_uses_its_name_as_schema(tmp_path):
    project = load(tmp_path, {"models/a.sql": "select * from {{ source('raw', 'flights') }}"})
    assert project.nodes["a"].sql == 'select * from "raw"."flights"'
    assert project.nodes["a"].sources == (("raw", "flights"),)


def test_source_declared_with_schema_uses_that_schema(tmp_path):
    project = load(tmp_path, {"models/a.sql": "select * from {{ source('lake', 'events') }}"})
    assert project.nodes["a"].sql == 'select * from "bronze"."events"'
    assert project.nodes["a"].sources == (("bronze", "events"),)


def test_undeclared_source_suggests_closest_and_names_file_and_line(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select *\nfrom {{ source('rwa', 'flights') }}"}, ConfigError)
    text = str(error)
    assert 'no source named "rwa"' in text
    assert 'did you mean "raw"' in text
    assert "a.sql, line 2" in text


def test_undeclared_table_of_declared_source_suggests_closest(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select * from {{ source('raw', 'flihgts') }}"}, ConfigError)
    text = str(error)
    assert '"flihgts" is not among the tables of source "raw"' in text
    assert 'did you mean "flights"' in text
    assert "a.sql, line 1" in text


# --- config ----------------------------------------------------------------------------------------


def test_config_defaults_to_table_in_settings_schema_without_tags(tmp_path):
    node = load(tmp_path, {"models/a.sql": "select 1"}).nodes["a"]
    assert node.materialized is Materialization.TABLE
    assert node.schema == "main"
    assert node.tags == ()


def test_config_sets_materialized_schema_and_renders_nothing(tmp_path):
    node = load(tmp_path, {"models/a.sql": "{{ config(materialized='view', schema='s') }}select 1"}).nodes["a"]
    assert node.materialized is Materialization.VIEW
    assert node.schema == "s"
    assert node.relation == '"s"."a"'
    assert node.sql == "select 1"


def test_config_tags_as_a_string(tmp_path):
    assert load(tmp_path, {"models/a.sql": "{{ config(tags='daily') }}select 1"}).nodes["a"].tags == ("daily",)


def test_config_tags_as_a_list(tmp_path):
    node = load(tmp_path, {"models/a.sql": "{{ config(tags=['p', 'q']) }}select 1"}).nodes["a"]
    assert node.tags == ("p", "q")


def test_config_unknown_key_suggests_closest(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "{{ config(materialised='table') }}select 1"}, ConfigError)
    text = str(error)
    assert "unknown config key 'materialised'" in text
    assert 'did you mean "materialized"' in text
    assert "a.sql, line 1" in text


def test_config_bad_materialized_value_is_refused(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "\n{{ config(materialized='tabel') }}select 1"}, ConfigError)
    text = str(error)
    assert "is not a materialization" in text
    assert 'did you mean "table"' in text
    assert "a.sql, line 2" in text


@pytest.mark.parametrize("call", ["config(tags=3)", "config(tags=['a', 1])", "config(schema='')", "config(schema=1)"])
def test_config_bad_tags_or_schema_is_refused(tmp_path, call):
    error = load_error(tmp_path, {"models/a.sql": f"{{{{ {call} }}}}select 1"}, ConfigError)
    assert "a.sql, line 1" in str(error)


# --- var -------------------------------------------------------------------------------------------


def test_var_reads_project_vars(tmp_path):
    sql = sql_of(tmp_path, {"models/a.sql": "select {{ var('start_year') }} as y, '{{ var('carrier') }}' as c"})
    assert sql == "select 2013 as y, 'UA' as c"


def test_var_override_passed_to_load_project_wins(tmp_path):
    sql = sql_of(tmp_path, {"models/a.sql": "select {{ var('start_year') }} as y"}, vars={"start_year": 2020})
    assert sql == "select 2020 as y"


def test_var_override_adds_new_vars_and_keeps_the_others(tmp_path):
    sql = sql_of(
        tmp_path, {"models/a.sql": "select {{ var('start_year') }} as y, {{ var('extra') }} as e"}, vars={"extra": 5}
    )
    assert sql == "select 2013 as y, 5 as e"


def test_var_default_is_used_when_unset(tmp_path):
    assert sql_of(tmp_path, {"models/a.sql": "select {{ var('missing', 7) }} as v"}) == "select 7 as v"


def test_var_default_is_ignored_when_set(tmp_path):
    assert sql_of(tmp_path, {"models/a.sql": "select {{ var('start_year', 7) }} as v"}) == "select 2013 as v"


def test_missing_var_names_the_var_file_and_line(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select\n{{ var('start_yaer') }}"}, ConfigError)
    text = str(error)
    assert 'var("start_yaer")' in text
    assert 'did you mean "start_year"' in text
    assert "a.sql, line 2" in text


# --- macros ----------------------------------------------------------------------------------------


def test_project_macro_is_usable_in_models(tmp_path):
    sql = sql_of(
        tmp_path,
        {
            "macros/m.sql": "{% macro cents(col) %}({{ col }} * 100){% endmacro %}",
            "models/a.sql": "select {{ cents('x') }} as c",
        },
    )
    assert sql == "select (x * 100) as c"


def test_jinja_suffix_macro_files_are_loaded(tmp_path):
    sql = sql_of(
        tmp_path, {"macros/m.jinja": "{% macro one() %}1{% endmacro %}", "models/a.sql": "select {{ one() }} as v"}
    )
    assert sql == "select 1 as v"


def test_standard_macro_is_available_without_project_macros(tmp_path):
    sql = sql_of(tmp_path, {"models/a.sql": "select {{ surrogate_key(['a', 'b']) }} as k"})
    assert sql.startswith("select md5(")
    assert "CAST(a AS VARCHAR)" in sql and "CAST(b AS VARCHAR)" in sql


def test_project_macro_overrides_a_standard_one(tmp_path):
    sql = sql_of(
        tmp_path,
        {
            "macros/keys.sql": "{% macro surrogate_key(columns) %}'mine'{% endmacro %}",
            "models/a.sql": "select {{ surrogate_key(['a']) }} as k",
        },
    )
    assert sql == "select 'mine' as k"


def test_macros_folder_that_is_the_standard_library_is_not_a_duplicate(tmp_path):
    root = write(tmp_path, {"models/a.sql": "select {{ surrogate_key(['a']) }} as k"})
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('schema = "main"', f'macros = "{standard_macros_dir().as_posix()}"')
    )
    assert "md5(" in load_project(load_settings(root)).nodes["a"].sql


def test_same_macro_in_two_project_files_names_both(tmp_path):
    error = load_error(
        tmp_path,
        {
            "macros/m.sql": "{% macro f() %}1{% endmacro %}",
            "macros/sub/n.sql": "{% macro f() %}2{% endmacro %}",
            "models/a.sql": "select 1",
        },
        ProjectError,
    )
    text = str(error)
    assert 'macro "f"' in text
    assert "m.sql" in text and "n.sql" in text


@pytest.mark.parametrize("name", ["ref", "source", "config", "var", "raise_error"])
def test_macro_with_a_built_in_name_is_refused(tmp_path, name):
    error = load_error(
        tmp_path, {"macros/m.sql": f"{{% macro {name}(x) %}}1{{% endmacro %}}", "models/a.sql": "select 1"}, ProjectError
    )
    assert f'may not be called "{name}"' in str(error)
    assert "m.sql" in str(error)


def test_macro_calls_another_macro_of_the_same_file(tmp_path):
    sql = sql_of(
        tmp_path,
        {
            "macros/m.sql": "{% macro f() %}{{ g() }}{% endmacro %}{% macro g() %}42{% endmacro %}",
            "models/a.sql": "select {{ f() }} as v",
        },
    )
    assert sql == "select 42 as v"


@pytest.mark.parametrize(
    ("caller_file", "callee_file"),
    [("macros/b_caller.sql", "macros/a_callee.sql"), ("macros/a_caller.sql", "macros/b_callee.sql")],
    ids=["callee-file-loaded-first", "caller-file-loaded-first"],
)
def test_macro_calls_a_macro_from_another_file(tmp_path, caller_file, callee_file):
    sql = sql_of(
        tmp_path,
        {
            caller_file: "{% macro f() %}{{ g() }}{% endmacro %}",
            callee_file: "{% macro g() %}42{% endmacro %}",
            "models/a.sql": "select {{ f() }} as v",
        },
    )
    assert sql == "select 42 as v"


def test_raise_error_in_a_macro_is_reported_at_the_model_file_and_line(tmp_path):
    error = load_error(
        tmp_path,
        {
            "macros/m.sql": "{% macro check() %}{{ raise_error('amounts must be positive') }}{% endmacro %}",
            "models/a.sql": "select 1,\n\n{{ check() }}",
        },
        ProjectError,
    )
    assert error.message == "check(): amounts must be positive"  # the message names the macro
    assert error.location is not None
    assert error.location.path.name == "a.sql"
    assert error.location.line == 3
    assert "a.sql, line 3" in str(error)


def test_ref_in_a_macro_files_body_is_refused(tmp_path):
    error = load_error(tmp_path, {"macros/m.sql": "{{ ref('b') }}", "models/b.sql": "select 1"}, ProjectError)
    assert "can only be called while a model file renders" in str(error)
    assert "m.sql" in str(error)


def test_error_in_a_macro_files_body_reports_the_template_line(tmp_path):
    error = load_error(tmp_path, {"macros/m.sql": "\n\n{{ nope }}", "models/b.sql": "select 1"}, ProjectError)
    assert error.location is not None
    assert error.location.path.name == "m.sql"
    assert error.location.line == 3


def test_jinja_syntax_error_in_a_macro_file_names_it_and_the_line(tmp_path):
    error = load_error(
        tmp_path, {"macros/m.sql": "{% macro f() %}\n{% if %}{% endmacro %}", "models/a.sql": "select 1"}, ProjectError
    )
    assert "Jinja syntax error" in str(error)
    assert "m.sql, line 2" in str(error)


# --- template errors -------------------------------------------------------------------------------


def test_jinja_syntax_error_names_file_and_line(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select 1\n{% if %}"})
    assert "Jinja syntax error" in str(error)
    assert "a.sql, line 2" in str(error)


def test_unclosed_block_is_a_jinja_syntax_error(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select 1\n{% if true %}\n, 2"})
    assert "Jinja syntax error" in str(error)
    assert "a.sql" in str(error)


def test_undefined_variable_names_file_and_line(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select 1,\n\n{{ nope }}"})
    text = str(error)
    assert "undefined Jinja variable" in text
    assert "'nope'" in text
    assert "a.sql, line 3" in text


def test_misspelled_macro_name_suggests_the_macro(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select 1,\n{{ surogate_key(['a']) }}"})
    text = str(error)
    assert 'did you mean "surrogate_key"' in text
    assert "a.sql, line 2" in text


def test_undefined_variable_inside_a_macro_is_reported_at_the_model_line(tmp_path):
    error = load_error(
        tmp_path,
        {"macros/m.sql": "{% macro f() %}\n{{ nope }}{% endmacro %}", "models/a.sql": "select 1,\n{{ f() }}"},
    )
    assert "'nope'" in str(error)
    assert "a.sql, line 2" in str(error)


@pytest.mark.parametrize(
    "expression",
    ["''.__class__.__mro__", "''.__class__", "config.__globals__", "(1).__class__.__subclasses__()"],
)
def test_sandbox_refuses_unsafe_attribute_access(tmp_path, expression):
    error = load_error(tmp_path, {"models/a.sql": f"select 1,\n{{{{ {expression} }}}}"})
    assert isinstance(error, ToolkitError)
    assert "unsafe" in str(error)
    assert "a.sql, line 2" in str(error)


def test_python_error_while_rendering_is_a_toolkit_error_at_the_line(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select 1,\n{{ 1 / 0 }}"})
    assert "ZeroDivisionError" in str(error)
    assert "a.sql, line 2" in str(error)


# --- discovery -------------------------------------------------------------------------------------


def test_node_names_clash_case_insensitively_across_folders(tmp_path):
    error = load_error(tmp_path, {"models/a.sql": "select 1", "models/sub/A.sql": "select 2"}, ProjectError)
    text = str(error)
    assert "two model files" in text
    assert str(Path("models", "a.sql")) in text
    assert str(Path("models", "sub", "A.sql")) in text


def test_models_in_subfolders_are_nodes_named_by_stem(tmp_path):
    project = load(tmp_path, {"models/x/y/deep.sql": "select 1"})
    assert set(project.nodes) == {"deep"}
    assert project.nodes["deep"].relative_path == Path("models/x/y/deep.sql")


def test_hidden_folders_are_skipped(tmp_path):
    project = load(tmp_path, {"models/.scratch/tmp.sql": "not sql at all", "models/a.sql": "select 1"})
    assert set(project.nodes) == {"a"}


# --- the standard surrogate_key macro, run in DuckDB ----------------------------------------------


def surrogate_keys(tmp_path: Path, rows: list[tuple[str | None, str | None]]) -> list[str]:
    values = ", ".join(
        "(" + ", ".join("NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in row) + ")" for row in rows
    )
    model = (
        "select {{ surrogate_key(['a', 'b']) }} as k\n"
        f"from (values {values}) as t(a, b)\n"
    )
    sql = sql_of(tmp_path, {"models/a.sql": model})
    with duckdb.connect() as connection:
        return [row[0] for row in connection.execute(sql).fetchall()]


def test_surrogate_key_tells_null_from_empty_string(tmp_path):
    null_key, empty_key = surrogate_keys(tmp_path, [(None, "x"), ("", "x")])
    assert null_key is not None
    assert null_key != empty_key


def test_surrogate_key_is_not_fooled_by_separators_inside_values(tmp_path):
    first, second = surrogate_keys(tmp_path, [("a|b", "c"), ("a", "b|c")])
    assert first != second


def test_surrogate_key_is_stable_for_equal_rows(tmp_path):
    first, second = surrogate_keys(tmp_path, [("a", "b"), ("a", "b")])
    assert first == second
    assert len(first) == 32


@pytest.mark.parametrize("argument", ["'a'", "[]"])
def test_surrogate_key_refuses_a_string_or_an_empty_list(tmp_path, argument):
    error = load_error(tmp_path, {"models/a.sql": f"select {{{{ surrogate_key({argument}) }}}}"}, ProjectError)
    assert "non-empty list of column names" in str(error)
    assert "a.sql, line 1" in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("select * from {{ ref('a', 'b') }}", "ref() takes one node name"),
        ("select * from {{ source('raw') }}", "source() takes a source name and a table name"),
        ("select {{ var() }}", "var() takes a variable name and an optional default"),
        ("select {{ hash_split(3) }}", "the hash key must be a column"),
    ],
)
def test_wrong_arguments_to_the_builtins_are_clear(tmp_path, text, message):
    error = load_error(tmp_path, {"models/z.sql": text})
    assert message in str(error) and "z.sql, line 1" in str(error)
    assert "TypeError" not in str(error)
