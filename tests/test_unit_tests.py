"""dbt's unit tests (`unit_tests:` in YAML): the model run on given rows and compared with the expected rows as a
multiset; `toolkit test --unit` runs them, and `build` runs a model's before building it."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import invoke

PYPROJECT = ('[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["orders", "customers"]\n'
             "[tool.toolkit.vars]\nmin_cents = 0\n")
MODELS = {
    "pyproject.toml": PYPROJECT,
    "macros/discount.sql": "{% macro discount() %}0{% endmacro %}\n",
    "models/stg_orders.sql": "select id as order_id, customer_id, cast(round(amount * 100) as integer) as amount_cents "
                             "from {{ source('raw', 'orders') }}\n",
    "models/stg_customers.sql": "select id as customer_id, name from {{ source('raw', 'customers') }}\n",
    "models/customer_totals.sql": """\
select c.customer_id, c.name, sum(o.amount_cents) - {{ discount() }} as total_cents, count(*) as orders
from {{ ref('stg_customers') }} c join {{ ref('stg_orders') }} o on o.customer_id = c.customer_id
where o.amount_cents >= {{ var('min_cents') }}
group by all
""",
    "models/customer_report.sql": "select * from {{ ref('customer_totals') }}\n",
}


def _warehouse(folder: Path) -> None:
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("create schema raw; create table raw.orders (id integer, customer_id integer, amount double, "
                "placed date); insert into raw.orders values (1, 1, 2.5, '2024-01-01'), (2, 2, 1, '2024-01-02');"
                "create table raw.customers (id integer, name varchar, zip varchar);"
                "insert into raw.customers values (1, 'Ann', '01234'), (2, 'Bob', '99999')")
    con.close()


def _unit_yaml(tests: list[dict]) -> str:
    return yaml.safe_dump({"version": 2, "unit_tests": tests}, sort_keys=False)


def _totals(customers: list[dict], orders: list[dict], min_cents: int = 0, discount: int = 0) -> list[dict]:
    """customer_totals computed in Python: the oracle."""
    names = {c["customer_id"]: c["name"] for c in customers}
    totals: dict[int, list[int]] = {}
    for order in orders:
        if order["customer_id"] in names and order["amount_cents"] >= min_cents:
            totals.setdefault(order["customer_id"], []).append(order["amount_cents"])
    return [{"customer_id": k, "name": names[k], "total_cents": sum(v) - discount, "orders": len(v)}
            for k, v in totals.items()]


def _random_case(seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    customers = [{"customer_id": i, "name": f"c{i}"} for i in range(1, 6)]
    orders = [{"order_id": i, "customer_id": rng.randint(1, 7), "amount_cents": rng.randint(-50, 500)}
              for i in range(rng.randint(1, 15))]
    return customers, orders


@pytest.fixture
def shop(project: Callable[[dict[str, str]], Path]) -> Path:
    folder = project(MODELS)
    _warehouse(folder)
    return folder


def _test(folder: Path, *args: str):
    return invoke(folder, "test", "--unit", *args)


def test_random_inputs_pass_against_a_python_oracle_and_a_changed_row_fails(shop: Path) -> None:
    tests = []
    for seed in range(4):
        customers, orders = _random_case(seed)
        expected = _totals(customers, orders, min_cents=100, discount=7)
        tests.append({"name": f"oracle_{seed}", "model": "customer_totals",
                      "overrides": {"vars": {"min_cents": 100}, "macros": {"discount": 7}},
                      "given": [{"input": "ref('stg_customers')", "rows": customers},
                                {"input": "ref('stg_orders')", "rows": orders}],
                      "expect": {"rows": expected}})
    wrong = json.loads(json.dumps(tests[0]))
    wrong["name"] = "wrong"
    wrong["expect"]["rows"] = [*wrong["expect"]["rows"][1:], {**wrong["expect"]["rows"][0], "total_cents": -1}]
    (shop / "models" / "unit.yml").write_text(_unit_yaml([*tests, wrong]))
    result = _test(shop, "--output", "json")
    statuses = {r["unit_test"]: (r["status"], r["message"]) for r in json.loads(result.output)}
    assert {name: status for name, (status, _) in statuses.items()} == {
        "oracle_0": "pass", "oracle_1": "pass", "oracle_2": "pass", "oracle_3": "pass", "wrong": "fail"}
    assert result.exit_code == 1
    first = tests[0]["expect"]["rows"][0]
    message = statuses["wrong"][1]
    assert f"- ({first['customer_id']}, '{first['name']}', -1, {first['orders']})" in message
    assert f"+ ({first['customer_id']}, '{first['name']}', {first['total_cents']}, {first['orders']})" in message


def test_only_the_expected_columns_count_and_order_does_not(shop: Path) -> None:
    (shop / "models" / "unit.yml").write_text(_unit_yaml([{
        "name": "csv_and_subset", "model": "customer_totals",
        "given": [{"input": "ref('stg_customers')", "format": "csv", "rows": "customer_id,name\n2,Bob\n1,Ann\n"},
                  {"input": "ref('stg_orders')", "format": "csv",
                   "rows": "order_id,customer_id,amount_cents\n1,1,100\n2,1,250\n3,2,5\n"}],
        "expect": {"format": "csv", "rows": "total_cents,customer_id\n5,2\n350,1\n"}}]))
    result = _test(shop)
    assert result.exit_code == 0, result.output
    assert "PASS  csv_and_subset" in result.output and "1 of 1 unit tests passed" in result.output


def test_sources_this_and_is_incremental(shop: Path) -> None:
    (shop / "models" / "orders_incremental.sql").write_text(
        "{{ config(materialized='incremental', unique_key='order_id') }}\n"
        "select order_id, amount_cents from {{ ref('stg_orders') }}\n"
        "{% if is_incremental() %} where order_id > (select max(order_id) from {{ this }}) {% endif %}\n")
    (shop / "models" / "region.sql").write_text("select '{{ env_var('SHOP_REGION', 'us') }}' as region\n")
    (shop / "models" / "unit.yml").write_text(_unit_yaml([
        {"name": "source_columns_not_given_are_null", "model": "stg_orders",
         "given": [{"input": "source('raw', 'orders')", "rows": [{"id": 7, "customer_id": 3, "amount": 1.234}]}],
         "expect": {"rows": [{"order_id": 7, "customer_id": 3, "amount_cents": 123}]}},
        {"name": "new_rows_only", "model": "orders_incremental", "overrides": {"macros": {"is_incremental": True}},
         "given": [{"input": "ref('stg_orders')", "rows": [{"order_id": i, "amount_cents": i} for i in (1, 5, 9)]},
                   {"input": "this", "rows": [{"order_id": 5}]}],
         "expect": {"rows": [{"order_id": 9, "amount_cents": 9}]}},
        {"name": "sql_format", "model": "customer_totals",
         "given": [{"input": "ref('stg_customers')", "format": "sql", "rows": "select 4 as customer_id, 'Dee' as name"},
                   {"input": "ref('stg_orders')", "format": "sql",
                    "rows": "select 4 as customer_id, range::integer as amount_cents from range(3)"}],
         "expect": {"format": "sql", "rows": "select 4 as customer_id, 'Dee' as name, 3 as total_cents"}},
        {"name": "env_var_override", "model": "region", "overrides": {"env_vars": {"SHOP_REGION": "eu"}},
         "given": [], "expect": {"rows": [{"region": "eu"}]}},
        {"name": "full_refresh", "model": "orders_incremental", "overrides": {"macros": {"is_incremental": False}},
         "given": [{"input": "ref('stg_orders')", "rows": [{"order_id": 1, "amount_cents": 1}]}],
         "expect": {"rows": [{"order_id": 1}]}},
    ]))
    result = _test(shop)
    assert result.exit_code == 0, result.output
    assert "5 of 5 unit tests passed" in result.output
    assert "SHOP_REGION" not in os.environ


def test_build_runs_unit_tests_before_the_model(shop: Path) -> None:
    case = {"name": "totals", "model": "customer_totals",
            "given": [{"input": "ref('stg_customers')", "rows": [{"customer_id": 1, "name": "Ann"}]},
                      {"input": "ref('stg_orders')", "rows": [{"customer_id": 1, "amount_cents": 3}]}],
            "expect": {"rows": [{"customer_id": 1, "total_cents": 4}]}}
    (shop / "models" / "unit.yml").write_text(_unit_yaml([case]))
    result = invoke(shop, "build")
    assert result.exit_code == 1
    assert "unit.yml: unit test totals failed" in result.output
    con = duckdb.connect(str(shop / "warehouse.duckdb"), read_only=True)
    statuses = dict(con.execute("select node, status from _toolkit.run_results").fetchall())
    tables = {row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()}
    con.close()
    assert statuses["customer_totals"] == "fail" and statuses["customer_report"] == "skipped"
    assert "customer_totals" not in tables and "stg_orders" in tables
    case["expect"]["rows"][0]["total_cents"] = 3
    (shop / "models" / "unit.yml").write_text(_unit_yaml([case]))
    result = invoke(shop, "build")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(shop / "warehouse.duckdb"), read_only=True)
    assert Counter(con.execute("select * from customer_report").fetchall()) == Counter([(1, "Ann", 250, 1),
                                                                                       (2, "Bob", 100, 1)])
    con.close()
    kept = invoke(shop, "build")  # nothing changed: the model is kept, its unit tests with it
    assert kept.exit_code == 0 and "SAME  customer_totals" in kept.output, kept.output
    case["expect"]["rows"][0]["total_cents"] = 5  # a changed unit test changes the model's checksum
    (shop / "models" / "unit.yml").write_text(_unit_yaml([case]))
    again = invoke(shop, "build")
    assert again.exit_code == 1 and "unit test totals failed" in again.output, again.output


@pytest.mark.parametrize(("change", "message"), [
    ({"model": "customer_total"}, "no model 'customer_total' (did you mean \"customer_totals\"?)"),
    ({"given": [{"input": "ref('stg_customers')", "rows": []}]}, "no rows given for ref('stg_orders')"),
    ({"given": [{"input": "ref('stg_customer')", "rows": []}]}, "does not read ref('stg_customer')"),
    ({"expect": {"rows": [{"total_cent": 1}]}}, "the column 'total_cent', which customer_totals does not give"),
    ({"expect": {"rowz": []}}, "unknown key 'rowz' (did you mean \"rows\"?)"),
    ({"givn": []}, "unknown key 'givn' (did you mean \"given\"?)"),
    ({"given": [{"input": "ref('stg_customers')", "rows": [{"customer": 1}]},
                {"input": "ref('stg_orders')", "rows": []}]}, "the column 'customer' is not a column of main.stg_"),
])
def test_mistakes_are_named(shop: Path, change: dict, message: str) -> None:
    assert invoke(shop, "build").exit_code == 0
    case = {"name": "totals", "model": "customer_totals",
            "given": [{"input": "ref('stg_customers')", "rows": []}, {"input": "ref('stg_orders')", "rows": []}],
            "expect": {"rows": []}, **change}
    case = {key: value for key, value in case.items() if not (key == "given" and "givn" in case)}
    (shop / "models" / "unit.yml").write_text(_unit_yaml([case]))
    result = _test(shop)
    assert result.exit_code in (1, 2), result.output
    assert message in result.output
    assert "Traceback" not in result.output
