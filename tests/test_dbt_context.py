"""dbt's Jinja context: target, env_var, log, exceptions, return, adapter.dispatch, run_query, this.schema,
package namespaces, and ref(v=…) refused clearly."""

from __future__ import annotations

import duckdb
import pytest

from toolkit.config import load_settings
from toolkit.errors import ToolkitError
from toolkit.project.load import load_project

PYPROJECT = '[tool.toolkit]\nwarehouse = "w.duckdb"\nschema = "analytics"\n'
PACKAGE = """\
{% macro greeting(name) %}{{ return(adapter.dispatch('greeting', 'shop_utils')(name)) }}{% endmacro %}
{% macro default__greeting(name) %}{{ return("'hello " ~ name ~ "'") }}{% endmacro %}
{% macro columns_of() %}{{ return(['a', 'b', 'c']) }}{% endmacro %}
{% macro first_of(items) %}{% for item in items %}{% if loop.first %}{{ return(item) }}{% endif %}{% endfor %}{% endmacro %}
"""


def sql_of(project, files: dict[str, str], node: str = "m") -> str:
    folder = project({"pyproject.toml": PYPROJECT, "packages/shop_utils/macros/utils.sql": PACKAGE, **files})
    return load_project(load_settings(folder)).nodes[node].sql.lower()  # the file's text, keywords as written


def test_target_env_var_and_this(project, monkeypatch):
    monkeypatch.setenv("SHOP_REGION", "eu")
    sql = sql_of(project, {"models/m.sql": "{{ config(schema='marts') }}select '{{ target.name }}/{{ target.schema }}/"
                                           "{{ target.type }}/{{ target.database }}' as t, '{{ env_var('SHOP_REGION') }}'"
                                           " as r, '{{ env_var('SHOP_MISSING', 'none') }}' as d, "
                                           "'{{ this.schema }}.{{ this.identifier }}' as me, * from {{ this }}_x"})
    assert "'dev/analytics/duckdb/w' as t" in sql
    assert "'eu' as r" in sql and "'none' as d" in sql
    assert "'marts.m' as me" in sql  # this.schema follows the file's config()
    assert 'from "marts"."m"_x' in sql  # {{ this }} is still the relation


def test_return_dispatch_and_namespaces(project):
    sql = sql_of(project, {"models/m.sql": "select {{ shop_utils.greeting('x') }} as g, "
                                           "{{ shop_utils.columns_of() | length }} as n, "
                                           "'{{ shop_utils.first_of(shop_utils.columns_of()) }}' as f"})
    assert "'hello x' as g" in sql and "3 as n" in sql and "'a' as f" in sql
    # the project's duckdb__ implementation wins over the package's default__, as dbt's search order says
    sql = sql_of(project, {"macros/mine.sql": "{% macro duckdb__greeting(name) %}{{ return(\"'quack'\") }}{% endmacro %}",
                           "models/m.sql": "select {{ shop_utils.greeting('x') }} as g"})
    assert "'quack' as g" in sql


def test_log_prints_with_info_only(project, capsys):
    sql_of(project, {"models/m.sql": "{{ log('seen', info=True) }}{{ log('debug only') }}select 1 as x"})
    err = capsys.readouterr().err
    assert "seen" in err and "debug only" not in err


def test_run_query_reads_the_warehouse(project):
    folder = project({"pyproject.toml": PYPROJECT, "models/m.sql": (
        "{% set r = run_query('select k, v from raw.kv order by k') %}"
        "select {{ r.columns[1].values() | sum }} as total, {{ r.rows | length }} as n, "
        "'{{ r.column_names | join(',') }}' as names")})
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create schema raw; create table raw.kv as select range as k, range * 3 as v from range(7)")
    total, count = con.execute("select sum(v), count(*) from raw.kv").fetchall()[0]
    con.close()
    sql = load_project(load_settings(folder)).nodes["m"].sql.lower()
    assert f"{total} as total" in sql and f"{count} as n" in sql and "'k,v' as names" in sql


BAD = [
    ({"models/m.sql": "select * from {{ ref('n', v=2) }}", "models/n.sql": "select 1"},
     ["m.sql", "line 1", "versions are not supported"]),
    ({"models/m.sql": "select * from {{ ref('n', version=2) }}", "models/n.sql": "select 1"},
     ["versions are not supported"]),
    ({"models/m.sql": "select '{{ env_var('SHOP_NEVER_SET') }}'"}, ["m.sql", "SHOP_NEVER_SET", "not set"]),
    ({"models/m.sql": "{{ exceptions.raise_compiler_error('orders need a key') }}select 1"},
     ["m.sql", "line 1", "orders need a key"]),
    ({"models/m.sql": "select {{ shop_utils.greting('x') }}"}, ["greting", "greeting"]),
    ({"models/m.sql": "select {{ adapter.dispatch('nothing_here')() }}"}, ["default__nothing_here"]),
    ({"models/m.sql": "select {{ adapter.dispatch('greeting', 'shop_utilz')('x') }}"}, ["shop_utilz", "shop_utils"]),
    ({"models/m.sql": "{{ return(1) }}"}, ["m.sql", "return() is for macros"]),
    ({"models/m.sql": "{% set r = run_query('select 1') %}select 1"}, ["run_query", "does not exist"]),
    ({"macros/x.sql": "{% macro target() %}{% endmacro %}", "models/m.sql": "select 1"}, ["target", "built in"]),
]


@pytest.mark.parametrize(("files", "words"), BAD)
def test_bad_context_use_is_a_clear_error(project, files, words):
    with pytest.raises(ToolkitError) as raised:
        sql_of(project, files)
    for word in words:
        assert word in str(raised.value)


def test_run_query_cannot_write(project):
    folder = project({"pyproject.toml": PYPROJECT,
                      "models/m.sql": "{% set r = run_query('create table t as select 1') %}select 1"})
    duckdb.connect(str(folder / "w.duckdb")).close()
    with pytest.raises(ToolkitError) as raised:
        load_project(load_settings(folder))
    assert "run_query()" in str(raised.value) and "read-only" in str(raised.value)
