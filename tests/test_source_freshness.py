"""`toolkit source freshness`: each source table's verdict from its newest loaded_at_field value against
warn_after and error_after, and target/sources.json in dbt's shape, checked against ages computed here."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb

SOURCES_YML = """\
sources:
  - name: raw
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 1, period: hour}
      error_after: {count: 1, period: day}
    tables:
      - name: fresh
      - name: stale
      - name: old
      - name: unchecked
        freshness: null
"""


def test_source_freshness_verdicts_and_sources_json(project, toolkit):
    folder = project({"pyproject.toml": "[tool.toolkit]\n", "models/sources.yml": SOURCES_YML,
                      "models/m.sql": "select * from {{ source('raw', 'fresh') }}\n"})
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    ages = {"fresh": timedelta(minutes=5), "stale": timedelta(hours=3), "old": timedelta(days=3),
            "unchecked": timedelta(days=30)}
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("create schema raw")
    for table, age in ages.items():
        con.execute(f"create table raw.{table} (loaded_at timestamp)")
        con.executemany(f"insert into raw.{table} values (?)", [(now - age,), (now - age - timedelta(days=1),)])
    con.close()
    result = toolkit(folder, "source", "freshness")
    assert result.exit_code == 1, result.output  # old is past error_after
    document = json.loads((folder / "target/sources.json").read_text())
    assert document["metadata"]["dbt_schema_version"].endswith("sources/v3.json")
    by_id = {r["unique_id"]: r for r in document["results"]}
    assert set(by_id) == {"source.project.raw.fresh", "source.project.raw.stale", "source.project.raw.old"}
    expected = {"fresh": "pass", "stale": "warn", "old": "error"}
    for table, status in expected.items():
        row = by_id[f"source.project.raw.{table}"]
        assert row["status"] == status, row
        assert row["max_loaded_at"] == (now - ages[table]).isoformat()
        assert abs(row["max_loaded_at_time_ago_in_s"] - ages[table].total_seconds()) < 120
    nothing = toolkit(folder, "source", "freshness", "--select", "m")
    assert nothing.exit_code == 0 and "Nothing to check" in nothing.output
