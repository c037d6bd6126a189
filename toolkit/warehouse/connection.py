"""Open the warehouse: one writer at a time (bounded wait, then a clear error), readers read-only (and locked down
for SQL typed by the user); transactions."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

import duckdb
from sqlglot import exp

from toolkit.errors import WarehouseError
from toolkit.sql.quoting import render
from toolkit.warehouse.functions import register_functions

_LOCK_HELD = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
_RETRY_SECONDS = 0.1
_DAMAGED = ("Could not read enough bytes", "checksum", "Corrupt", "corrupt")  # DuckDB's words for a broken file


@contextmanager
def one_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """DuckDB on one thread for the block: floating-point aggregates then add their rows in one order, so the
    same rows in the same order give the same bits (in parallel, partial sums combine in whatever order threads
    finish). The setting is the database's, so the previous value is restored afterwards."""
    (threads,), = con.execute("SELECT current_setting('threads')").fetchall()
    con.execute(render(_setting("threads", exp.Literal.number(1))))
    try:
        yield
    finally:
        con.execute(render(_setting("threads", exp.Literal.number(int(threads)))))


def _setting(name: str, value: exp.Expression) -> exp.Set:
    """`SET name = value`."""
    return exp.Set(expressions=[exp.SetItem(this=exp.EQ(this=exp.column(name), expression=value))])


def open_writer(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """A read-write connection, waiting up to `timeout` seconds for another writer to finish."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _open(path, read_only=False, timeout=timeout)


def open_reader(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """A read-only connection to an existing warehouse."""
    if not path.is_file():
        raise WarehouseError(f"warehouse {path} does not exist", hint="run `toolkit build` first")
    con = _open(path, read_only=True, timeout=timeout)
    lock_down(con)  # every reader runs SQL a user typed or a model stored: it reaches nothing but the warehouse
    return con


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """From here on, `con` (read-only already) reaches nothing but the warehouse: no files, network or extensions
    (COPY, ATTACH, INSTALL, read_csv, … fail), and no setting can change, these two included. The functions and
    Arrow relations the toolkit registers on it keep working."""
    for name, value in (("enable_external_access", exp.false()), ("lock_configuration", exp.true())):
        con.execute(render(_setting(name, value)))


def return_freed_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Memory DuckDB frees (a large query's sort, once its result is fetched) goes back to the system within seconds
    instead of staying with the process: jemalloc's background threads purge it
    (https://duckdb.org/docs/2.0/internals/jemalloc.html). A global setting; refused, and skipped, on a connection
    whose configuration is locked."""
    try:
        con.execute(render(_setting("allocator_background_threads", exp.true())))
    except duckdb.Error:  # lock_configuration: a reader, which never fetches training data
        pass


def _open(path: Path, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            held = _LOCK_HELD.search(str(error))
            if held is None:
                raise _open_error(path, error) from None
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    f"warehouse {path} is in use by process {held['pid']} ({Path(held['program']).name})",
                    hint=f"wait for it to finish (waited {timeout:g} s), or stop that process",
                ) from None
            time.sleep(_RETRY_SECONDS)
        except duckdb.Error as error:
            raise _open_error(path, error) from None
        else:
            _set_up(con)
            return con


@contextmanager
def worker_cursors(con: duckdb.DuckDBPyConnection, count: int) -> Iterator[list[duckdb.DuckDBPyConnection]]:
    """`count` cursors of `con` (connections to its database, each with its own transactions), set up as `con`:
    for threads that build nodes at once within DuckDB's one writing process; closed afterwards."""
    cursors = []
    try:
        for _ in range(count):
            cursor = con.cursor()
            _set_up(cursor)
            cursors.append(cursor)
        yield cursors
    finally:
        for cursor in cursors:
            cursor.close()


def _set_up(con: duckdb.DuckDBPyConnection) -> None:
    # Times with a time zone read and print in UTC on every machine, as BigQuery's TIMESTAMPs do: a model's
    # results do not depend on where it is built.
    con.execute(render(_setting("TimeZone", exp.Literal.string("UTC"))))
    register_functions(con)


def _open_error(path: Path, error: duckdb.Error) -> WarehouseError:
    text = str(error)
    if "not a valid DuckDB database file" in text:
        return WarehouseError(
            f"{path} is not a DuckDB database",
            hint="point [tool.toolkit].warehouse or --warehouse at a DuckDB file, or move this file away",
        )
    return damaged(error, path) or WarehouseError(f"cannot open warehouse {path}: {text}")


def damaged(error: duckdb.Error, path: Path | str | None = None) -> WarehouseError | None:
    """The error DuckDB gives for a damaged file (when opened, or when a broken block is first read), or None."""
    text = str(error)
    if not isinstance(error, duckdb.IOException) or not any(sign in text for sign in _DAMAGED):
        return None
    where = f" {path}" if path is not None else ""
    return WarehouseError(
        f"the warehouse{where} is damaged (cut short or overwritten): {text}",
        hint="restore it from a copy, or move it away and rebuild from scratch with `toolkit build` (models are "
             "retrained; source tables must be loaded again)",
    )


def database_path(con: duckdb.DuckDBPyConnection) -> str:
    """The file of the connection's database, for messages (':memory:' for none, '?' when it cannot be asked)."""
    try:
        rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    except duckdb.Error:
        return "?"
    return rows[0][0] if rows and rows[0][0] else ":memory:"


def copy_example_if_missing(path: Path, example: Path) -> bool:
    """Copy `example` to `path` when the warehouse is missing and the example exists; True if copied."""
    if path.exists() or not example.is_file():
        return False
    partial = path.with_name(path.name + ".copying")
    shutil.copyfile(example, partial)
    partial.replace(path)
    return True


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """BEGIN … COMMIT, rolled back on any error (DuckDB 2 no longer groups statements sent together)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


class Change(Protocol):
    """A change to a table that applies in a transaction and is published only if the caller says so."""

    published: bool

    def apply(self) -> None: ...


ChangeT = TypeVar("ChangeT", bound=Change)


@contextmanager
def applied(con: duckdb.DuckDBPyConnection, make: Callable[[], ChangeT]) -> Iterator[ChangeT]:
    """BEGIN, `make()` and its `apply()`, then the change for the caller to audit and publish: COMMIT when the caller
    set it published, ROLLBACK otherwise and on any error (an incremental model's new rows, a snapshot's run)."""
    con.execute("BEGIN TRANSACTION")
    try:
        change = make()
        change.apply()
        yield change
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT" if change.published else "ROLLBACK")
