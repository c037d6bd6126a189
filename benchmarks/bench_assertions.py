"""Assertion cost: ten column assertions on one model against one full scan of the table.

    python benchmarks/bench_assertions.py [--factor 10] [--repeat 3]

Uses the ×factor flights warehouse (benchmarks/flights_scaled.py). The ten assertions are declared with the
standard macros, exactly as in a model file, and evaluated by the toolkit's evaluator; the baselines, run in
the same process on the same connection, are one full scan of the table (a hash of every value of every column, so no column is skipped) and the naive
plan of one query per assertion."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).parent))
from flights_scaled import ensure_scaled_warehouse  # noqa: E402
from timing import best_of  # noqa: E402

from toolkit.checks.evaluate import _aggregate, _sql, evaluate  # noqa: E402
from toolkit.config import load_settings  # noqa: E402
from toolkit.project.load import load_project  # noqa: E402

ASSERTIONS = """\
{{ config(assertions=[
    not_null('carrier'),
    not_null('origin'),
    accepted_values('origin', ['EWR', 'JFK', 'LGA']),
    in_range('distance', min=1, max=5000),
    in_range('month', min=1, max=12),
    matches_regex('carrier', '[A-Z0-9]{2}'),
    expression_is_true('air_time >= 0'),
    null_fraction_at_most('arr_delay', 0.05),
    values_present('origin', ['EWR', 'JFK', 'LGA']),
    row_count_between(1, 1000000000),
]) }}
SELECT * FROM {{ source('raw', 'flights') }}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--factor", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warehouse = ensure_scaled_warehouse(args.factor)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "models").mkdir()
        (root / "pyproject.toml").write_text('[tool.toolkit]\n[tool.toolkit.sources]\nraw = ["flights"]\n')
        (root / "models/flights_checked.sql").write_text(ASSERTIONS)
        assertions = load_project(load_settings(root)).nodes["flights_checked"].assertions
    relation = '"raw"."flights"'
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute(f"SELECT count(*) FROM {relation}").fetchall()[0][0]

    def toolkit() -> None:
        results = evaluate(con, "flights_checked", relation, assertions)
        assert all(r.status in ("pass", "warn") for r in results), [r.message for r in results if r.message]

    def full_scan() -> None:
        con.execute(f"SELECT sum(hash(COLUMNS(*))) FROM {relation}").fetchall()

    def one_query_each() -> None:
        for assertion in assertions:
            con.execute(f"SELECT {_sql(_aggregate(assertion), relation)} FROM {relation}").fetchall()

    timings = {name: best_of(action, args.repeat) for name, action in
               (("full scan (baseline)", full_scan), ("toolkit: 10 assertions", toolkit),
                ("one query per assertion", one_query_each))}
    baseline = timings["full scan (baseline)"]
    print(f"raw.flights ×{args.factor}: {rows:,} rows, {len(assertions)} assertions")
    print(f"{'run':<26} {'seconds':>8} {'ratio to full scan':>19}")
    for name, seconds in timings.items():
        print(f"{name:<26} {seconds:>8.3f} {seconds / baseline:>19.2f}")
    print("target: the toolkit's 10 assertions at most 2.00× one full scan")


if __name__ == "__main__":
    main()
