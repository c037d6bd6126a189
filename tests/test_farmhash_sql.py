"""toolkit_farm_fingerprint: the pure-SQL macro against pyfarmhash and the toolkit's UDF."""

from __future__ import annotations

from pathlib import Path

import duckdb
import farmhash
import numpy as np
import pytest

from toolkit.warehouse.farmhash_sql import MACRO_NAME, install, macro_statements
from toolkit.warehouse.functions import register_functions

MAX_LEN = 300
_CHARS = "aé€😀ßж中\x00"  # 1-, 2-, 3- and 4-byte UTF-8 characters


def signed(value: str | bytes) -> int:
    """pyfarmhash's (unsigned) Fingerprint64 as a signed int64."""
    return int(np.uint64(farmhash.fingerprint64(value)).view(np.int64))


def text_of_bytes(length: int, rng: np.random.Generator) -> str:
    """A string of random (mostly multi-byte) characters whose UTF-8 encoding is exactly `length` bytes."""
    out, size = [], 0
    while size < length:
        char = _CHARS[rng.integers(len(_CHARS))]
        if size + len(char.encode()) > length:
            char = "a"
        out.append(char)
        size += len(char.encode())
    return "".join(out)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    """An in-memory database with the macro and, for comparison, the toolkit's UDF."""
    connection = duckdb.connect()
    install(connection)
    register_functions(connection)
    return connection


@pytest.fixture(scope="module")
def values() -> dict[str, list]:
    rng = np.random.default_rng(20240601)
    ascii_texts = ["".join(map(chr, rng.integers(32, 127, n))) for n in range(MAX_LEN + 1)]
    utf8_texts = [text_of_bytes(n, rng) for n in range(MAX_LEN + 1)]
    random_texts = [text_of_bytes(int(n), rng) for n in rng.integers(0, 3 * MAX_LEN, 300)]
    blobs = [rng.bytes(n) for n in range(MAX_LEN + 1)] + [rng.bytes(n) for n in (511, 512, 513, 1000, 4097)]
    return {"VARCHAR": ascii_texts + utf8_texts + random_texts + [None], "BLOB": blobs + [None]}


@pytest.mark.parametrize("sql_type", ["VARCHAR", "BLOB"])
def test_matches_pyfarmhash_and_udf(con: duckdb.DuckDBPyConnection, values: dict[str, list], sql_type: str) -> None:
    column = values[sql_type]
    assert {len(v.encode() if isinstance(v, str) else v) for v in column if v is not None} >= set(range(MAX_LEN + 1))
    rows = con.execute(
        f"SELECT {MACRO_NAME}(v), farm_fingerprint(v) "
        f"FROM (SELECT unnest(?::{sql_type}[]) AS v, unnest(range(?)) AS i) ORDER BY i",  # the join may reorder
        [column, len(column)],
    ).fetchall()
    expected = [None if v is None else signed(v) for v in column]
    assert [sql for sql, _ in rows] == expected
    assert [udf for _, udf in rows] == expected


def test_literals_and_nulls(con: duckdb.DuckDBPyConnection) -> None:
    got = con.execute(
        f"SELECT {MACRO_NAME}('1footrue'), {MACRO_NAME}(''), {MACRO_NAME}('\\x00\\xff'::BLOB), "
        f"{MACRO_NAME}(NULL), {MACRO_NAME}(NULL::VARCHAR), {MACRO_NAME}(NULL::BLOB)"
    ).fetchone()
    assert got == (-1541654101129638711, signed(b""), signed(b"\x00\xff"), None, None, None)  # first: BigQuery's docs
    with pytest.raises(duckdb.Error, match="VARCHAR or BLOB"):
        con.execute(f"SELECT {MACRO_NAME}(i) FROM range(3) t(i)").fetchall()


def test_macros_persist_in_the_database_file(tmp_path: Path) -> None:
    path = str(tmp_path / "warehouse.duckdb")
    with duckdb.connect(path) as connection:
        install(connection)
        install(connection)  # idempotent
        connection.execute("CREATE SCHEMA analytics")
        install(connection, schema="analytics")
    assert all(s.startswith(("CREATE OR REPLACE MACRO main.", "CREATE OR REPLACE MACRO analytics."))
               for s in macro_statements() + macro_statements("analytics"))
    assert not any(" TEMP" in s.split(" AS ", 1)[0] for s in macro_statements())
    with duckdb.connect(path) as plain:  # no toolkit registration: the macros come from the file
        got = plain.execute(f"SELECT {MACRO_NAME}('abc'), analytics.{MACRO_NAME}('abc'::BLOB)").fetchone()
    assert got == (signed("abc"), signed(b"abc"))
