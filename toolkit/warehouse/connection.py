"""Open the warehouse: one writer at a time (bounded wait, then a clear error), readers read-only."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import duckdb

from toolkit.errors import WarehouseError
from toolkit.warehouse.functions import register_functions

_LOCK_HELD = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")
_RETRY_SECONDS = 0.1


def open_writer(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """A read-write connection, waiting up to `timeout` seconds for another writer to finish."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return _open(path, read_only=False, timeout=timeout)


def open_reader(path: Path, timeout: float) -> duckdb.DuckDBPyConnection:
    """A read-only connection to an existing warehouse."""
    if not path.is_file():
        raise WarehouseError(f"warehouse {path} does not exist", hint="run `toolkit build` first")
    return _open(path, read_only=True, timeout=timeout)


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
            register_functions(con)
            return con


def _open_error(path: Path, error: duckdb.Error) -> WarehouseError:
    text = str(error)
    if "not a valid DuckDB database file" in text:
        return WarehouseError(
            f"{path} is not a DuckDB database",
            hint="point [tool.toolkit].warehouse or --warehouse at a DuckDB file, or move this file away",
        )
    return WarehouseError(f"cannot open warehouse {path}: {text}")


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
