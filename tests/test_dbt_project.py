"""A dbt-duckdb project (dbt_project.yml, profiles.yml, no pyproject.toml) builds with no edits: its folder configs,
seed column types, vars, profile target and singular tests apply, and its tables equal what plain Python computes
from the seed files."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from conftest import invoke

from toolkit.config import load_settings
from toolkit.dbt_project import CONFIG_NAMES, read_dbt_project
from toolkit.errors import ConfigError
from toolkit.project.properties import MODEL_CONFIG_KEYS, SEED_CONFIG_KEYS

CUSTOMERS = "id,name,zipcode\n1,Ann,01234\n2,Bob,98765\n3,Cid,00042\n"
ORDERS = "order_id,customer_id,amount,status\n10,1,5.5,placed\n11,1,4.5,shipped\n12,2,10,returned\n13,3,1,placed\n"
DBT_PROJECT = """\
name: 'shop'
version: '1.0.0'
config-version: 2
profile: 'shop'
model-paths: ["models"]
seed-paths: ["seeds"]
macro-paths: ["macros"]
test-paths: ["tests"]
analysis-paths: ["analyses"]
target-path: "target"
clean-targets: ["target", "dbt_packages"]
vars:
  min_amount: 2
models:
  shop:
    +materialized: table
    staging:
      +materialized: view
      +schema: staging
      +tags: ['staging']
    marts:
      docs: {node_color: blue}
      materialized: table
seeds:
  shop:
    +schema: raw
    raw_customers:
      +column_types: {zipcode: varchar}
"""
PROFILES = """\
shop:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: dev.duckdb
      threads: 2
    prod:
      type: duckdb
      path: "{{ env_var('SHOP_PROD_PATH', 'prod.duckdb') }}"
      schema: analytics
"""
FILES = {
    "dbt_project.yml": DBT_PROJECT,
    "profiles.yml": PROFILES,
    "seeds/raw_customers.csv": CUSTOMERS,
    "seeds/raw_orders.csv": ORDERS,
    "macros/cents.sql": "{% macro cents(column) %}cast(round({{ column }} * 100) as integer){% endmacro %}\n",
    "models/staging/stg_orders.sql": "select order_id, customer_id, {{ cents('amount') }} as amount_cents, status "
                                     "from {{ ref('raw_orders') }}\n",
    "models/staging/stg_customers.sql": "select id as customer_id, name, zipcode from {{ ref('raw_customers') }}\n",
    "models/staging/schema.yml": "version: 2\nmodels:\n  - name: stg_orders\n    columns:\n"
                                 "      - name: order_id\n        data_tests: [unique, not_null]\n",
    "models/marts/customer_totals.sql": """\
select c.customer_id, c.name, c.zipcode, sum(o.amount_cents) as total_cents, count(*) as orders
from {{ ref('stg_customers') }} c join {{ ref('stg_orders') }} o using (customer_id)
where o.amount_cents >= {{ var('min_amount') }} * 100
group by all
""",
    "models/marts/target_info.sql": "select '{{ target.name }}' as target_name, '{{ target.profile_name }}' as "
                                    "profile_name, {{ target.threads }} as threads\n",
    "models/marts/unit_tests.yml": """\
unit_tests:
  - name: totals_skip_small_orders
    model: customer_totals
    overrides: {vars: {min_amount: 2}}
    given:
      - input: ref('stg_customers')
        rows: [{customer_id: 1, name: Ann, zipcode: '00001'}]
      - input: ref('stg_orders')
        format: csv
        fixture: small_orders
    expect:
      rows: [{customer_id: 1, total_cents: 700, orders: 2}]
""",
    "models/marts/orders_log.sql": """\
{{ config(materialized='incremental', unique_key='order_id') }}
select order_id, customer_id, amount_cents from {{ ref('stg_orders') }}
{% if is_incremental() %} where order_id > (select max(order_id) from {{ this }}) {% endif %}
""",
    "tests/fixtures/small_orders.csv": "order_id,customer_id,amount_cents\n1,1,100\n2,1,300\n3,1,400\n",
    "tests/assert_totals_positive.sql": "select * from {{ ref('customer_totals') }} where total_cents <= 0\n",
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _expected_totals(min_amount: float) -> Counter:
    """customer_totals computed in Python from the CSV text."""
    customers = {row["id"]: row for row in csv.DictReader(io.StringIO(CUSTOMERS))}
    totals: dict[str, list[int]] = {}
    for row in csv.DictReader(io.StringIO(ORDERS)):
        cents = round(float(row["amount"]) * 100)
        if cents >= min_amount * 100:
            totals.setdefault(row["customer_id"], []).append(cents)
    return Counter((int(key), customers[key]["name"], customers[key]["zipcode"], sum(values), len(values))
                   for key, values in totals.items())


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The project; dbt's environment variables unset, so profiles.yml is the project's."""
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    return _write(tmp_path / "shop", FILES)


def test_a_dbt_duckdb_project_builds_with_no_edits(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    result = invoke(shop, "build")
    assert result.exit_code == 0, result.output
    assert not (shop / "warehouse.duckdb").exists()
    con = duckdb.connect(str(shop / "dev.duckdb"), read_only=True)
    kinds = dict(con.execute("select table_schema || '.' || table_name, table_type from information_schema.tables "
                             "where table_schema not like '\\_toolkit%' escape '\\'").fetchall())
    # dbt's default generate_schema_name: a custom schema is <target schema>_<custom>
    assert kinds == {"main_raw.raw_customers": "BASE TABLE", "main_raw.raw_orders": "BASE TABLE",
                     "main_staging.stg_orders": "VIEW", "main_staging.stg_customers": "VIEW",
                     "main.customer_totals": "BASE TABLE", "main.target_info": "BASE TABLE",
                     "main.orders_log": "BASE TABLE"}
    rows = Counter(con.execute("select customer_id, name, zipcode, total_cents, orders "
                               "from main.customer_totals").fetchall())
    assert rows == _expected_totals(2)
    assert con.execute("select * from main.target_info").fetchall() == [("dev", "shop", 2)]
    statuses = dict(con.execute("select node, status from _toolkit.run_results").fetchall())
    assert statuses["assert_totals_positive"] == "success"
    con.close()
    # a new order, and an old one changed: the incremental model adds the first and keeps its copy of the second
    (shop / "seeds" / "raw_orders.csv").write_text(ORDERS.replace("10,1,5.5", "10,1,9.99") + "14,2,0.25,placed\n")
    assert invoke(shop, "build").exit_code == 0
    con = duckdb.connect(str(shop / "dev.duckdb"), read_only=True)
    logged = Counter(con.execute("select order_id, customer_id, amount_cents from main.orders_log").fetchall())
    con.close()
    rows = csv.DictReader(io.StringIO(ORDERS + "14,2,0.25,placed\n"))
    assert logged == Counter((int(r["order_id"]), int(r["customer_id"]), round(float(r["amount"]) * 100)) for r in rows)
    unit = invoke(shop, "test", "--unit")
    assert unit.exit_code == 0 and "PASS  totals_skip_small_orders" in unit.output, unit.output
    assert '"unique_id": "model.shop.customer_totals"' in (shop / "target" / "run_results.json").read_text()


def test_profile_target_and_vars_chosen_on_the_command_line(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.setenv("SHOP_PROD_PATH", "prod_env.duckdb")
    result = invoke(shop, "build", "--target", "prod", "--vars", '{"min_amount": 5}', "-s", "+customer_totals")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(shop / "prod_env.duckdb"), read_only=True)
    rows = Counter(con.execute("select customer_id, name, zipcode, total_cents, orders "
                               "from analytics.customer_totals").fetchall())
    assert rows == _expected_totals(5)
    con.close()


def test_a_generate_schema_name_macro_names_the_schemas(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    (shop / "macros" / "schemas.sql").write_text(
        "{% macro generate_schema_name(custom_schema_name, node) -%}\n"
        "{{ custom_schema_name | trim if custom_schema_name else target.schema }}\n{%- endmacro %}\n")
    (shop / "models" / "marts" / "where_am_i.sql").write_text("select '{{ this.schema }}' as schema_name\n")
    result = invoke(shop, "build", "-s", "+customer_totals", "where_am_i")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(shop / "dev.duckdb"), read_only=True)
    schemas = dict(con.execute("select table_name, table_schema from information_schema.tables").fetchall())
    assert con.execute("select * from main.where_am_i").fetchall() == [("main",)]
    con.close()
    assert (schemas["stg_orders"], schemas["raw_orders"], schemas["customer_totals"]) == ("staging", "raw", "main")


def test_profiles_found_in_dbt_profiles_dir(shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (shop / "profiles.yml").unlink()
    _write(tmp_path / "elsewhere", {"profiles.yml": PROFILES.replace("dev.duckdb", "other.duckdb")})
    monkeypatch.setenv("DBT_PROFILES_DIR", str(tmp_path / "elsewhere"))
    settings = load_settings(shop)
    assert settings.warehouse == shop / "other.duckdb"
    assert (settings.threads, settings.target_name, settings.project_name) == (2, "dev", "shop")
    assert settings.model_configs["staging"] == {"+materialized": "view", "+schema": "staging", "+tags": ["staging"]}
    assert settings.model_configs["marts"] == {"+materialized": "table"}  # +docs only documents
    assert settings.seed_configs["raw_customers"] == {"+column_types": {"zipcode": "varchar"}}
    monkeypatch.delenv("DBT_PROFILES_DIR")
    _write(tmp_path / "flag", {"profiles.yml": PROFILES.replace("dev.duckdb", "flag.duckdb")})
    result = invoke(shop, "build", "--profiles-dir", str(tmp_path / "flag"), "-s", "target_info")
    assert result.exit_code == 0, result.output
    assert (shop / "flag.duckdb").is_file() and not (shop / "other.duckdb").exists()


@pytest.mark.parametrize(("change", "message"), [
    (("dbt_project.yml", "model-paths", "modle-paths"), 'unknown key \'modle-paths\' (did you mean "model-paths"?)'),
    (("dbt_project.yml", "+tags: ['staging']", "+tag: ['staging']"), 'unknown config "+tag" (did you mean "+tags"?)'),
    (("dbt_project.yml", "models:\n  shop:", "models:\n  sohp:"), 'models.sohp names no project (did you mean "shop"?)'),
    (("dbt_project.yml", "    staging:", "    stagin:"), 'no folder or file "stagin" under models/ (did you mean'),
    (("dbt_project.yml", "vars:", "on-run-end: ['select 1']\nvars:"), "on-run-end is not supported"),
    (("dbt_project.yml", "+materialized: view", "+post-hook: 'select 1'"), "models.shop.staging.+post-hook is not "),
    (("dbt_project.yml", "model-paths: [\"models\"]", "model-paths: [\"models\", \"more\"]"), "the toolkit reads one"),
    (("profiles.yml", "threads: 2", "thread: 2"), 'unknown key \'thread\' (did you mean "threads"?)'),
    (("profiles.yml", "threads: 2", "extensions: [httpfs]"), "shop.outputs.dev: extensions is not supported"),
    (("profiles.yml", "threads: 2", "threads: many"), "shop.outputs.dev: threads must be a whole number"),
    (("profiles.yml", "target: dev", "target: deb"), 'no target \'deb\' (did you mean "dev"?)'),
    (("profiles.yml", "path: dev.duckdb", "path: ':memory:'"), "is not a DuckDB file"),
    (("profiles.yml", "shop:\n  target", "shoop:\n  target"), 'no profile \'shop\' (did you mean "shoop"?)'),
])
def test_mistakes_name_the_file_and_key(shop: Path, monkeypatch: pytest.MonkeyPatch, change: tuple[str, str, str],
                                        message: str) -> None:
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    name, old, new = change
    text = (shop / name).read_text()
    assert old in text
    (shop / name).write_text(text.replace(old, new, 1))
    result = invoke(shop, "build")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert name in result.output
    assert "Traceback" not in result.output
    assert not (shop / "dev.duckdb").exists()  # nothing was built


def test_snapshots_of_a_dbt_project_are_built_with_its_configs(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    text = (shop / "dbt_project.yml").read_text()
    (shop / "dbt_project.yml").write_text(text + "snapshot-paths: [history]\nsnapshots:\n  shop:\n"
                                                  "    +unique_key: id\n    +strategy: check\n    +check_cols: all\n")
    _write(shop, {"history/customers_history.sql": ("{% snapshot customers_history %}\n"
                                                    "select * from {{ ref('raw_customers') }}\n{% endsnapshot %}\n")})
    result = invoke(shop, "build", "-s", "+customers_history")
    assert result.exit_code == 0, result.output
    (shop / "seeds" / "raw_customers.csv").write_text(CUSTOMERS.replace("2,Bob", "2,Bea"))
    assert invoke(shop, "build", "-s", "+customers_history").exit_code == 0
    con = duckdb.connect(str(shop / "dev.duckdb"), read_only=True)
    history = con.execute("select id, name, dbt_valid_to is null from customers_history order by id, dbt_valid_from"
                          ).fetchall()
    con.close()
    assert history == [(1, "Ann", True), (2, "Bob", False), (2, "Bea", True), (3, "Cid", True)]


def test_snapshot_configs_pass_on_to_settings_that_have_snapshots(shop: Path) -> None:
    text = (shop / "dbt_project.yml").read_text()
    (shop / "dbt_project.yml").write_text(text + "snapshot-paths: [history]\nsnapshots:\n  shop:\n"
                                                  "    +target_schema: snapshots\n    orders:\n      strategy: check\n")
    table = read_dbt_project(shop).table
    assert table["snapshots"] == {"+target_schema": "snapshots", "orders": {"+strategy": "check"}, "path": "history"}


def test_no_profiles_file_says_where_it_looked(shop: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (shop / "profiles.yml").unlink()
    monkeypatch.delenv("DBT_PROFILES_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ConfigError, match="no profiles.yml for the profile 'shop'"):
        load_settings(shop)


def test_pyproject_wins_and_profile_targets_need_a_dbt_project(shop: Path) -> None:
    (shop / "pyproject.toml").write_text('[tool.toolkit]\nwarehouse = "mine.duckdb"\n')
    assert load_settings(shop).warehouse == shop / "mine.duckdb"
    with pytest.raises(ConfigError, match="applies to dbt projects"):
        load_settings(shop, profile_target="prod")


def test_every_config_the_toolkit_acts_on_can_be_written_without_its_plus() -> None:
    assert set(MODEL_CONFIG_KEYS) | (set(SEED_CONFIG_KEYS) - {"quote_columns"}) <= set(CONFIG_NAMES)
