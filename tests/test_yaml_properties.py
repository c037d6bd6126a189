"""dbt-style YAML properties, folder configs and seeds: a small jaffle-shop-like project built with its YAML tests,
failing-row counts compared with a brute-force count of the CSV rows, and every malformed file refused clearly."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from conftest import query

from toolkit.config import load_settings
from toolkit.errors import ToolkitError
from toolkit.project.load import load_project
from toolkit.project.nodes import Materialization, NodeKind

PYPROJECT = """\
[tool.toolkit]
warehouse = "w.duckdb"

[tool.toolkit.models]
"+tags" = ["shop"]
staging = { "+materialized" = "view", "+tags" = ["staging"] }

[tool.toolkit.seeds]
raw_customers = { "+column_types" = { id = "VARCHAR" } }
"""
CUSTOMERS = "id,name\n1,Ann\n2,Bob\n3,Cy\n"
ORDERS = [(10, 1, "placed"), (11, 2, "shipped"), (11, 3, "lost"), (13, 4, "placed"), (14, None, "returned")]
STATUSES = ["placed", "shipped", "returned"]


def orders_csv(rows: list[tuple]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "customer_id", "status"])
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


SCHEMA_YML = """\
version: 2
models:
  - name: orders
    description: One row per order
    columns:
      - name: order_id
        description: The order's key
        data_tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              arguments:
                values: %s
              config:
                severity: warn
      - name: customer_id
        tests:
          - relationships:
              to: ref('customers')
              field: customer_id
  - name: customers
    config:
      materialized: table
      tags: [marts]
    data_tests:
      - row_count_between:
          min: 1
""" % json.dumps(STATUSES)

FILES = {
    "pyproject.toml": PYPROJECT,
    "seeds/raw_customers.csv": CUSTOMERS,
    "seeds/raw_orders.csv": orders_csv(ORDERS),
    "models/staging/stg_customers.sql": "select cast(id as integer) as customer_id, name from {{ ref('raw_customers') }}\n",
    "models/staging/stg_orders.sql": "select id as order_id, customer_id, status from {{ ref('raw_orders') }}\n",
    # customers reads orders while the relationships test on orders reads customers: no cycle, as in dbt
    "models/customers.sql": "select c.customer_id, c.name, count(o.order_id) as orders from {{ ref('stg_customers') }} c "
                            "left join {{ ref('orders') }} o using (customer_id) group by all\n",
    "models/orders.sql": "select * from {{ ref('stg_orders') }}\n",
    "models/schema.yml": SCHEMA_YML,
}


def failing(warehouse: Path) -> dict[tuple[str, str], tuple[str, int]]:
    rows = query(warehouse, "select node, assertion, status, failing_rows from _toolkit.assertion_results "
                            "where run_id = (select run_id from _toolkit.runs order by started_at desc limit 1)")
    return {(node, assertion): (status, count) for node, assertion, status, count in rows}


def test_yaml_tests_run_with_counts_matching_a_brute_force_count(project, toolkit):
    folder = project(FILES)
    result = toolkit(folder, "build")
    assert result.exit_code != 0, result.output  # unique(order_id) fails, so orders is not published
    found = failing(folder / "w.duckdb")
    ids = [row[0] for row in ORDERS]
    assert found[("orders", "unique(order_id)")] == ("fail", len(ids) - len(set(ids)))
    assert found[("orders", "not_null(order_id)")] == ("pass", 0)
    lost = sum(row[2] not in STATUSES for row in ORDERS)
    assert found[("orders", "accepted_values(status)")] == ("warn", lost)


def test_relationships_run_after_both_sides_without_an_edge_on_the_model(project, toolkit):
    rows = [(10, 1, "placed"), (11, 2, "shipped"), (12, 7, "placed"), (13, 9, "returned"), (14, None, "placed")]
    folder = project({**FILES, "seeds/raw_orders.csv": orders_csv(rows)})
    loaded = load_project(load_settings(folder))
    test = loaded.nodes["relationships_orders_customer_id"]
    assert test.kind is NodeKind.ASSERTION and set(test.depends_on) == {"orders", "customers"}
    assert "customers" not in loaded.nodes["orders"].depends_on
    order = loaded.graph.order()
    assert order.index("customers") < order.index("relationships_orders_customer_id")
    result = toolkit(folder, "build")
    assert result.exit_code != 0
    customer_ids = {int(line.split(",")[0]) for line in CUSTOMERS.splitlines()[1:]}
    orphans = sum(row[1] is not None and row[1] not in customer_ids for row in rows)
    found = failing(folder / "w.duckdb")
    assert found[("relationships_orders_customer_id", "relationships(customer_id -> customer_id)")] == ("fail", orphans)
    # orders itself passed its own audit and was published; the test failing runs after it, as dbt's does
    assert query(folder / "w.duckdb", "select count(*) from main.orders") == [(len(rows),)]


def test_folder_yaml_and_file_configs_merge_in_dbt_order(project):
    files = {**FILES, "models/staging/stg_orders.sql": "{{ config(materialized='table', tags=['own']) }}\n"
                                                       + FILES["models/staging/stg_orders.sql"]}
    nodes = load_project(load_settings(project(files))).nodes
    assert nodes["stg_customers"].materialized is Materialization.VIEW  # folder
    assert nodes["stg_orders"].materialized is Materialization.TABLE  # the file's config() beats its folder
    assert nodes["stg_orders"].tags == ("shop", "staging", "own")  # tags add up
    assert nodes["customers"].tags == ("shop", "marts")
    assert nodes["orders"].description == "One row per order"
    assert dict(nodes["orders"].columns)["order_id"] == "The order's key"
    assert nodes["raw_customers"].materialized is Materialization.SEED


def test_selecting_a_model_brings_its_tests_once_all_their_parents_are_chosen(project):
    graph = load_project(load_settings(project(FILES))).graph
    assert "relationships_orders_customer_id" not in graph.select(["orders"])
    assert "relationships_orders_customer_id" in graph.select(["orders customers"])
    assert "relationships_orders_customer_id" not in graph.select([], ["customers"])


def test_seeds_load_with_column_types_and_are_refd(project, toolkit):
    rows = [(10, 1, "placed"), (11, 2, "shipped")]
    folder = project({**FILES, "seeds/raw_orders.csv": orders_csv(rows),
                      "seeds/codes.csv": "code;label\n007;bond\n",
                      "seeds/props.yml": "seeds:\n  - name: codes\n    config:\n      delimiter: ';'\n"
                                         "      column_types: {code: VARCHAR}\n    columns:\n      - name: code\n"
                                         "        data_tests: [unique]\n"})
    warehouse = folder / "w.duckdb"
    assert toolkit(folder, "seed", "--select", "codes").exit_code == 0
    published = "select table_name from information_schema.tables where table_schema = 'main'"
    assert query(warehouse, published) == [("codes",)]
    result = toolkit(folder, "seed")
    assert result.exit_code == 0, result.output
    assert query(warehouse, "select code, label from main.codes") == [("007", "bond")]  # leading zeros kept
    types = dict(query(warehouse, "select column_name, data_type from information_schema.columns "
                                  "where table_name = 'raw_customers'"))
    assert types == {"id": "VARCHAR", "name": "VARCHAR"}
    assert query(warehouse, "select count(*) from information_schema.tables where table_name = 'orders'") == [(0,)]
    assert toolkit(folder, "build").exit_code == 0
    assert query(warehouse, "select customer_id, orders from main.customers order by 1") == [(1, 1), (2, 1), (3, 0)]


def test_source_freshness_warns_and_fails_by_the_age_of_the_newest_row(project, toolkit):
    import duckdb

    folder = project({
        "pyproject.toml": '[tool.toolkit]\nwarehouse = "w.duckdb"\n',
        "models/events.sql": "select * from {{ source('raw', 'events') }}\n",
        "models/sources.yml": """\
sources:
  - name: raw
    config:
      loaded_at_field: loaded_at
      freshness:
        warn_after: {count: 2, period: hour}
        error_after: {count: 1, period: day}
    tables:
      - name: events
        columns:
          - name: id
            data_tests: [not_null]
      - name: clicks
        freshness: null
""",
    })
    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("create schema raw; create table raw.events as select 1 as id, now() - interval 5 hour as loaded_at;"
                "create table raw.clicks as select 1 as id")
    con.close()
    nodes = load_project(load_settings(folder)).nodes
    assert "source_freshness_raw_clicks" not in nodes  # freshness: null turns it off
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output  # five hours old: warn_after is passed, error_after is not
    found = failing(folder / "w.duckdb")
    assert found[("source_freshness_raw_events", "freshness(loaded_at, warn_after 2 hour)")] == ("warn", 1)
    assert found[("source_freshness_raw_events", "freshness(loaded_at, error_after 1 day)")] == ("pass", 0)
    assert found[("source_not_null_raw_events_id", "not_null(id)")] == ("pass", 0)


BAD = [
    ({"models/schema.yml": "models:\n  - name: orders\n    colums: []\n"},
     ["schema.yml, line 3", "colums", "columns"]),
    ({"models/schema.yml": "models:\n  - name: orders\n    description: a\n    description: b\n"},
     ["schema.yml, line 4", "description", "twice"]),
    ({"models/schema.yml": "models:\n  - name: orders\n    columns:\n      - name: order_id\n"
                           "        data_tests: [uniqe]\n"}, ["schema.yml, line 5", "uniqe", "unique"]),
    ({"models/schema.yml": "modles: []\n"}, ["schema.yml", "modles", "models"]),
    ({"models/schema.yml": "models:\n  - name: order\n"}, ["schema.yml", "order", "orders"]),
    ({"models/schema.yml": "snapshots:\n  - name: h\n    relation: ref('orders')\n    config: {alias: x}\n"},
     ["schema.yml", "line 4", "snapshots[h].config", "alias", "not supported"]),
    ({"models/schema.yml": "models:\n  - name: orders\n    data_tests: [not_null]\n"}, ["not_null", "column"]),
    ({"models/schema.yml": "models:\n  - name: orders\n    columns:\n      - name: order_id\n"
                           "        data_tests: [row_count_between]\n"}, ["row_count_between", "whole model"]),
    ({"models/schema.yml": "models:\n  - name: orders\n    config:\n      materialised: view\n"},
     ["materialised", "materialized"]),
    ({"models/schema.yml": "models:\n  - name: orders\n    columns:\n      - name: status\n        data_tests:\n"
                           "          - accepted_values: {valuez: [a]}\n"}, ["schema.yml", "valuez", "values"]),
    ({"models/schema.yml": "models:\n  - name: orders\n    columns:\n      - name: status\n        data_tests:\n"
                           "          - not_null: {config: {severity: loud}}\n"}, ["schema.yml", "loud"]),
    ({"models/schema.yml": "models: [\n"}, ["schema.yml", "not valid YAML"]),
    ({"models/schema.yml": "sources:\n  - name: raw\n    freshness: {warn_after: {count: 1, period: hour}}\n"
                           "    tables: [{name: t}]\n"}, ["schema.yml", "loaded_at_field"]),
    ({"models/schema.yml": "sources:\n  - name: raw\n    loaded_at_field: x\n"
                           "    freshness: {warn_after: {count: 1, period: hours}}\n    tables: [{name: t}]\n"},
     ["schema.yml", "hours", "hour"]),
    ({"pyproject.toml": PYPROJECT.replace('"+tags" = ["shop"]', '"+materialised" = "view"')},
     ["pyproject.toml", "+materialised", "+materialized"]),
    ({"pyproject.toml": PYPROJECT.replace("staging = {", "stagin = {")}, ["pyproject.toml", "stagin", "staging"]),
    ({"seeds/orders.csv": "a\n1\n"}, ["seed", "orders"]),
    ({"seeds/props.yml": "seeds:\n  - name: raw_customers\n    config:\n      column_types: [id]\n"},
     ["column_types", "raw_customers"]),
]


@pytest.mark.parametrize(("changes", "words"), BAD)
def test_bad_properties_are_refused_naming_file_and_key(project, changes, words):
    folder = project({**FILES, "models/schema.yml": "", **changes})
    with pytest.raises(ToolkitError) as raised:
        load_project(load_settings(folder))
    for word in words:
        assert word in str(raised.value)


def test_toolkit_test_runs_yaml_tests_on_what_is_published(project, toolkit):
    rows = [(10, 1, "placed"), (11, 2, "shipped")]
    folder = project({**FILES, "seeds/raw_orders.csv": orders_csv(rows)})
    assert toolkit(folder, "build").exit_code == 0
    import duckdb

    con = duckdb.connect(str(folder / "w.duckdb"))
    con.execute("insert into main.orders values (12, 8, 'placed'), (12, 9, 'lost')")  # changed behind its back
    con.close()
    result = toolkit(folder, "test")
    assert result.exit_code != 0
    found = failing(folder / "w.duckdb")
    assert found[("orders", "unique(order_id)")] == ("fail", 1)
    assert found[("orders", "accepted_values(status)")] == ("warn", 1)
    assert found[("relationships_orders_customer_id", "relationships(customer_id -> customer_id)")] == ("fail", 2)


def test_yaml_test_nodes_deploy_against_their_model(project):
    from toolkit.deploy.bigquery import compile_bigquery

    loaded = load_project(load_settings(project(FILES)))
    deployment = compile_bigquery(loaded, loaded.graph.order())
    test = next(node for node in deployment.nodes if node.name == "relationships_orders_customer_id")
    text = " ".join(test.statements)
    assert "FROM `main`.`orders` AS child" in text and "FROM `main`.`customers` AS parent" in text
    seeds = [node for node in deployment.nodes if node.name.startswith("raw_")]
    assert seeds and all(not node.statements for node in seeds)  # seeds are loaded by other means on BigQuery


def test_dbt_utils_names_and_where(project, toolkit):
    rows = [(10, 1, "placed"), (10, 1, "placed"), (11, 2, "lost"), (12, 3, "lost")]
    yml = """\
models:
  - name: orders
    data_tests:
      - dbt_utils.unique_combination_of_columns:
          combination_of_columns: [order_id, customer_id]
      - dbt_utils.expression_is_true:
          expression: "order_id >= 11"
          config: {severity: warn}
    columns:
      - name: status
        data_tests:
          - accepted_values:
              values: [placed]
              quote: true
              where: "customer_id > 2"
"""
    folder = project({**FILES, "seeds/raw_orders.csv": orders_csv(rows), "models/schema.yml": yml})
    toolkit(folder, "build")
    found = failing(folder / "w.duckdb")
    pairs = [(r[0], r[1]) for r in rows]
    assert found[("orders", "unique_combination(order_id, customer_id)")] == ("fail", len(pairs) - len(set(pairs)))
    assert found[("orders", "expression_is_true(order_id >= 11)")] == ("warn", sum(r[0] < 11 for r in rows))
    assert found[("orders", "accepted_values(status)")] == ("fail", sum(r[1] > 2 and r[2] != "placed" for r in rows))
