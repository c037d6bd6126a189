"""Benchmark the ``farm_fingerprint`` DuckDB UDF against DuckDB's built-in ``hash()``.

Builds 10 million short keys in an in-memory DuckDB table (dates as
'YYYY-MM-DD' strings, integer ids cast to VARCHAR, and the same ids in a
scrambled order so that every 2048-row batch mixes key lengths), then times,
best of a few repeats, on the same column:

* ``SELECT sum(farm_fingerprint(k)) FROM t``: the numpy Arrow UDF;
* ``SELECT sum(hash(k)) FROM t``: DuckDB's native hash, the reference;
* ``SELECT sum(noop(k)) FROM t``: an Arrow UDF returning zeros, i.e. the cost
  of DuckDB's Python UDF machinery alone (2048-row batches), a floor for any
  Python UDF;
* ``fingerprint64()`` called directly on the column as one Arrow array.

Each query runs with DuckDB's default thread count and with ``threads = 1``:
a Python UDF holds the GIL, so unlike ``hash()`` it does not scale with threads.

Targets: >= 10 million rows/s, and within 5x of ``hash()``.

    python benchmarks/bench_farmhash.py [--rows N] [--repeat R]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

import duckdb
import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from toolkit.warehouse.farmhash import fingerprint64, register_farm_fingerprint  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import best_of  # noqa: E402

TARGET_ROWS_PER_S = 10e6
TARGET_RATIO = 5.0

KEY_SETS = {
    "dates": "strftime(DATE '1970-01-01' + (i % 20000)::INTEGER, '%Y-%m-%d')",
    "int ids": "i::VARCHAR",
    "int ids, scrambled": "((i * 7919) % {rows})::VARCHAR",
}


def query(con: duckdb.DuckDBPyConnection, sql: str) -> Callable[[], object]:
    return lambda: con.execute(sql).fetchall()


def _noop(values: pa.ChunkedArray) -> pa.Array:
    return pa.array(np.zeros(len(values), dtype=np.int64))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = args.rows

    con = duckdb.connect()
    register_farm_fingerprint(con)
    con.create_function("noop", _noop, ["VARCHAR"], "BIGINT", type="arrow", null_handling="special")
    default_threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
    print(f"{rows:,} rows per key set, best of {args.repeat}, DuckDB {duckdb.__version__}, "
          f"numpy {np.__version__}, pyarrow {pa.__version__}")
    header = (f"{'keys':<19} {'threads':>7} {'farm_fingerprint':>16} {'hash()':>9} {'ratio':>6} "
              f"{'UDF floor':>9}  target")
    print(header)
    print("-" * len(header))

    direct = {}
    for label, expr in KEY_SETS.items():
        con.execute(f"SET threads = {default_threads}")
        con.execute(f"CREATE OR REPLACE TABLE t AS SELECT {expr.format(rows=rows)} AS k FROM range({rows}) r(i)")
        for threads in (default_threads, 1):
            con.execute(f"SET threads = {threads}")
            t_farm = best_of(query(con, "SELECT sum(farm_fingerprint(k)) FROM t"), args.repeat)
            t_hash = best_of(query(con, "SELECT sum(hash(k)) FROM t"), args.repeat)
            t_noop = best_of(query(con, "SELECT sum(noop(k)) FROM t"), args.repeat)
            rate, ratio = rows / t_farm, t_farm / t_hash
            met = rate >= TARGET_ROWS_PER_S and ratio <= TARGET_RATIO
            print(f"{label:<19} {threads:>7} {rate / 1e6:>9.1f} Mrow/s {rows / t_hash / 1e6:>9.1f} "
                  f"{ratio:>5.1f}x {rows / t_noop / 1e6:>9.1f}  {'met' if met else 'missed'}")
        column = con.sql("SELECT k FROM t").to_arrow_table().column("k").combine_chunks()
        direct[label] = rows / best_of(lambda: fingerprint64(column), args.repeat)

    print("(Mrow/s; ratio = farm_fingerprint time / hash() time; "
          "UDF floor = an Arrow UDF that returns zeros)")
    print("fingerprint64() on the whole column, outside DuckDB: "
          + ", ".join(f"{label} {rate / 1e6:.0f} Mrow/s" for label, rate in direct.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
