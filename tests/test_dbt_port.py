"""A dbt project ported as it is: a small jaffle-shop (seeds with column types, staging views by folder config,
YAML tests, an incremental model, a snapshot), built twice with the data changed in between, each table compared
row by row with the same transformations computed in Python from the seed files."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime

from conftest import query

PYPROJECT = """\
[tool.toolkit]
warehouse = "jaffle.duckdb"

[tool.toolkit.models]
staging = { "+materialized" = "view", "+tags" = ["staging"] }
marts = { "+materialized" = "table", "+tags" = ["marts"] }

[tool.toolkit.seeds]
raw_payments = { "+column_types" = { amount = "INTEGER" } }
"""

STG_CUSTOMERS = "select id as customer_id, first_name, last_name from {{ ref('raw_customers') }}\n"
STG_ORDERS = "select id as order_id, user_id as customer_id, order_date, status from {{ ref('raw_orders') }}\n"
STG_PAYMENTS = ("select id as payment_id, order_id, payment_method, amount / 100 as amount\n"
                "from {{ ref('raw_payments') }}\n")
METHODS = ("credit_card", "coupon", "bank_transfer", "gift_card")
ORDERS = """\
{{ config(materialized='incremental', unique_key='order_id', incremental_strategy='merge') }}
{% set methods = ['credit_card', 'coupon', 'bank_transfer', 'gift_card'] %}
with payments as (
    select order_id,
        {% for method in methods %}sum(case when payment_method = '{{ method }}' then amount else 0 end)
            as {{ method }}_amount,
        {% endfor %}sum(amount) as amount
    from {{ ref('stg_payments') }}
    group by order_id
)
select o.order_id, o.customer_id, o.order_date, o.status,
    {% for method in methods %}coalesce(p.{{ method }}_amount, 0) as {{ method }}_amount,
    {% endfor %}coalesce(p.amount, 0) as amount
from {{ ref('stg_orders') }} o left join payments p using (order_id)
{% if is_incremental() %}where o.order_date >= (select max(order_date) from {{ this }}){% endif %}
"""
CUSTOMERS = """\
with customer_orders as (
    select customer_id, min(order_date) as first_order, max(order_date) as most_recent_order,
        count(order_id) as number_of_orders
    from {{ ref('stg_orders') }} group by customer_id
), customer_payments as (
    select o.customer_id, sum(p.amount) as total_amount
    from {{ ref('stg_payments') }} p join {{ ref('stg_orders') }} o using (order_id)
    group by o.customer_id
)
select c.customer_id, c.first_name, c.last_name, co.first_order, co.most_recent_order,
    coalesce(co.number_of_orders, 0) as number_of_orders, coalesce(cp.total_amount, 0) as customer_lifetime_value
from {{ ref('stg_customers') }} c
left join customer_orders co using (customer_id)
left join customer_payments cp using (customer_id)
"""
SNAPSHOT = """\
{% snapshot orders_snapshot %}
{{ config(target_database='jaffle', target_schema='snapshots', unique_key='order_id', strategy='check',
          check_cols=['status'], invalidate_hard_deletes=True) }}
select order_id, customer_id, status from {{ ref('stg_orders') }}
{% endsnapshot %}
"""
SCHEMA = """\
version: 2
models:
  - name: customers
    description: One row per customer
    columns:
      - name: customer_id
        data_tests: [unique, not_null]
  - name: orders
    columns:
      - name: order_id
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              arguments: {values: [placed, shipped, completed, return_pending, returned]}
      - name: customer_id
        data_tests:
          - relationships: {to: ref('customers'), field: customer_id}
  - name: stg_payments
    columns:
      - name: payment_method
        tests:
          - accepted_values: {values: [credit_card, coupon, bank_transfer, gift_card]}
snapshots:
  - name: orders_snapshot
    columns:
      - name: order_id
        data_tests: [not_null]
seeds:
  - name: raw_customers
    columns:
      - name: id
        data_tests: [unique]
"""
CUSTOMERS_CSV = "id,first_name,last_name\n1,Michael,P.\n2,Shawn,M.\n3,Kathleen,P.\n4,Jimmy,C.\n5,Katherine,R.\n"
ORDERS_1 = [(1, 1, "2018-01-01", "returned"), (2, 3, "2018-01-02", "completed"), (3, 2, "2018-01-04", "placed"),
            (4, 1, "2018-01-05", "placed"), (5, 4, "2018-01-05", "shipped"), (6, 3, "2018-01-07", "placed")]
PAYMENTS_1 = [(1, 1, "credit_card", 1000), (2, 2, "credit_card", 2000), (3, 3, "coupon", 100), (4, 4, "coupon", 2500),
              (5, 5, "bank_transfer", 1700), (6, 6, "credit_card", 600), (7, 6, "gift_card", 225)]
# The next day: order 3 shipped (too old for the incremental filter: the model keeps it placed, the snapshot does
# not), order 6 completed (on the latest day: merged), order 4 deleted, orders 7 and 8 new.
ORDERS_2 = [(1, 1, "2018-01-01", "returned"), (2, 3, "2018-01-02", "completed"), (3, 2, "2018-01-04", "shipped"),
            (5, 4, "2018-01-05", "shipped"), (6, 3, "2018-01-07", "completed"), (7, 5, "2018-01-08", "placed"),
            (8, 2, "2018-01-09", "placed")]
PAYMENTS_2 = [*PAYMENTS_1, (8, 7, "gift_card", 1250), (9, 8, "credit_card", 75), (10, 6, "coupon", 50)]


def csv_text(header: str, rows: list[tuple]) -> str:
    out = io.StringIO()
    out.write(header + "\n")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def seeds(orders: list[tuple], payments: list[tuple]) -> dict[str, str]:
    return {"seeds/raw_customers.csv": CUSTOMERS_CSV,
            "seeds/raw_orders.csv": csv_text("id,user_id,order_date,status", orders),
            "seeds/raw_payments.csv": csv_text("id,order_id,payment_method,amount", payments)}


# --- the project's transformations in Python -------------------------------------------------------------
def order_rows(orders: list[tuple], payments: list[tuple]) -> dict[int, tuple]:
    by_method: dict[int, dict[str, float]] = defaultdict(lambda: dict.fromkeys(METHODS, 0.0))
    for _, order_id, method, cents in payments:
        by_method[order_id][method] += cents / 100
    return {order_id: (order_id, customer, date.fromisoformat(day), status,
                       *(by_method[order_id][m] if order_id in by_method else 0 for m in METHODS),
                       sum(by_method[order_id].values()) if order_id in by_method else 0)
            for order_id, customer, day, status in orders}


def expected_orders(runs: list[tuple[list, list]]) -> list[tuple]:
    """The incremental model: the first run builds it whole; later runs merge the rows of the latest day or
    after (its is_incremental() filter) by order_id."""
    table: dict[int, tuple] = {}
    for number, (orders, payments) in enumerate(runs):
        rows = order_rows(orders, payments)
        latest = max(row[2] for row in table.values()) if number else None
        table.update({key: row for key, row in rows.items() if latest is None or row[2] >= latest})
    return sorted(table.values())


def expected_customers(orders: list[tuple], payments: list[tuple]) -> list[tuple]:
    customers = [tuple(row) for row in csv.reader(io.StringIO(CUSTOMERS_CSV))][1:]
    owner = {order_id: customer for order_id, customer, _, _ in orders}
    rows = []
    for key, first, last in customers:
        days = [date.fromisoformat(day) for _, customer, day, _ in orders if customer == int(key)]
        paid = [cents / 100 for _, order_id, _, cents in payments if owner.get(order_id) == int(key)]
        rows.append((int(key), first, last, min(days, default=None), max(days, default=None), len(days),
                     sum(paid) if paid else 0))
    return sorted(rows)


def expected_snapshot(runs: list[list[tuple]], times: list[datetime]) -> list[tuple]:
    """A check snapshot on status with hard deletes invalidated: (order_id, customer_id, status, valid_from,
    valid_to)."""
    history: list[list] = []
    for orders, now in zip(runs, times):
        current = {row[0]: row for row in history if row[4] is None}
        present = {order_id: (order_id, customer, status) for order_id, customer, _, status in orders}
        for key, (order_id, customer, status) in present.items():
            if key in current and current[key][2] == status:
                continue
            if key in current:
                current[key][4] = now
            history.append([order_id, customer, status, now, None])
        for key, row in current.items():
            if key not in present:
                row[4] = now
    return sorted(tuple(row) for row in history)


def test_a_jaffle_shop_builds_twice_and_every_table_is_what_the_transformations_give(project, toolkit, monkeypatch):
    folder = project({
        "pyproject.toml": PYPROJECT, "models/schema.yml": SCHEMA,
        "models/staging/stg_customers.sql": STG_CUSTOMERS, "models/staging/stg_orders.sql": STG_ORDERS,
        "models/staging/stg_payments.sql": STG_PAYMENTS, "models/marts/orders.sql": ORDERS,
        "models/marts/customers.sql": CUSTOMERS, "snapshots/orders_snapshot.sql": SNAPSHOT,
        **seeds(ORDERS_1, PAYMENTS_1),
    })
    times = [datetime(2018, 1, 8, 6), datetime(2018, 1, 9, 6)]
    runs = [(ORDERS_1, PAYMENTS_1), (ORDERS_2, PAYMENTS_2)]
    warehouse = folder / "jaffle.duckdb"
    for number, (orders, payments) in enumerate(runs):
        if number:
            project({"pyproject.toml": PYPROJECT, **seeds(orders, payments)})  # the seed files change
        monkeypatch.setattr("toolkit.warehouse.snapshot.snapshot_time", lambda at=times[number]: at)
        result = toolkit(folder, "build")
        assert result.exit_code == 0, result.output
        outcome = json.loads((folder / "target/run_results.json").read_text())
        statuses = {r["node"]: (r["resource_type"], r["status"]) for r in outcome["results"]}
        assert statuses["orders_snapshot"] == ("snapshot", "success")
        assert statuses["relationships_orders_customer_id"] == ("test", "pass")
        assert {status for _, status in statuses.values()} <= {"success", "pass"}, statuses
        audits = {(r["node"], a["test"]) for r in outcome["results"] for a in r["assertions"]}
        assert {("customers", "unique"), ("orders", "accepted_values"), ("stg_payments", "accepted_values"),
                ("orders_snapshot", "not_null"), *([("raw_customers", "unique")] if number == 0 else [])} <= audits
        kept = {r["node"] for r in outcome["results"] if r["toolkit_status"] == "unchanged"}
        assert kept == (set() if number == 0 else {"raw_customers", "stg_customers"})  # its seed file is the same
        assert sorted(query(warehouse, "select * from main.orders")) == expected_orders(runs[:number + 1])
        assert sorted(query(warehouse, "select * from main.customers")) == expected_customers(orders, payments)
        got = query(warehouse, "select order_id, customer_id, status, dbt_valid_from, dbt_valid_to "
                    "from snapshots.orders_snapshot")
        assert sorted(got) == expected_snapshot([run[0] for run in runs[:number + 1]], times[:number + 1])
    kinds = dict(query(warehouse, "select table_name, table_type from information_schema.tables "
                       "where table_schema = 'main' and table_name like 'stg_%'"))
    assert kinds == dict.fromkeys(["stg_customers", "stg_orders", "stg_payments"], "VIEW")
    # the old order's change is in the snapshot, not in the incremental model (its filter left it out)
    assert query(warehouse, "select status from main.orders where order_id = 3") == [("placed",)]
