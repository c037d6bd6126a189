"""FARM_FINGERPRINT: the numpy port against BigQuery's documented values and pyfarmhash."""

from __future__ import annotations

import duckdb
import farmhash
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.warehouse.farmhash import fingerprint64, register_farm_fingerprint

# Documented in BigQuery's FARM_FINGERPRINT reference.
DOCUMENTED = {
    "1footrue": -1541654101129638711,
    "2applefalse": 2794438866806483259,
    "3true": -4880158226897771312,
}
MAX_LEN = 300

# ASCII weighted heavily, then 2-, 3- and 4-byte UTF-8 characters (no surrogates).
_CHARS = np.array(
    [ord(c) for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,;:'\"\\\t\n\x00\x7f"]
    + [0xE9, 0xDF, 0x436, 0x7FF, 0x80, 0x4E2D, 0x6587, 0x20AC, 0xFFFD, 0xFFFF, 0x1F600, 0x1D11E, 0x10FFFF],
    dtype=np.uint32,
)


def expected(values: list[str | bytes | None]) -> list[int | None]:
    """pyfarmhash's Fingerprint64 as a signed int64, NULL for None."""
    return [None if v is None else int(np.uint64(farmhash.fingerprint64(v)).view(np.int64))
            for v in values]


def random_texts(rng: np.random.Generator, count: int) -> list[str]:
    """`count` valid UTF-8 strings of 0..MAX_LEN bytes, cut from one random text at character bounds."""
    weights = np.where(_CHARS < 0x80, 6.0, 1.0)
    codes = rng.choice(_CHARS, size=count * 80, p=weights / weights.sum())
    blob = codes.tobytes().decode("utf-32-le").encode("utf-8")
    raw = np.frombuffer(blob, dtype=np.uint8)
    index = np.arange(raw.size + 1)
    is_start = np.append((raw & 0xC0) != 0x80, True)
    char_start = np.maximum.accumulate(np.where(is_start, index, 0))  # last char start <= i
    starts = char_start[rng.integers(0, raw.size - MAX_LEN, size=count)]
    ends = char_start[starts + np.arange(count) % (MAX_LEN + 1)]  # snapped down to a character
    return [blob[s:e].decode("utf-8") for s, e in zip(starts.tolist(), ends.tolist())]


def random_binaries(rng: np.random.Generator, per_length: int) -> list[bytes]:
    """`per_length` random byte strings of every length 0..MAX_LEN, grouped by length."""
    return [rng.bytes(length) for length in range(MAX_LEN + 1) for _ in range(per_length)]


def check(values: list, arrow_type: pa.DataType) -> None:
    got = fingerprint64(pa.array(values, arrow_type))
    assert got.type == pa.int64()
    assert got.to_pylist() == expected(values)


@pytest.mark.parametrize("text", sorted(DOCUMENTED))
def test_documented_values(text: str) -> None:
    assert fingerprint64(pa.array([text])).to_pylist() == [DOCUMENTED[text]]


def test_random_utf8_strings_match_pyfarmhash_at_every_length() -> None:
    rng = np.random.default_rng(20240601)
    texts = random_texts(rng, 100_000)
    lengths = {len(t.encode("utf-8")) for t in texts}
    assert lengths >= set(range(MAX_LEN + 1))
    assert any(not t.isascii() for t in texts)
    want = np.array(expected(texts), dtype=np.int64)
    array = pa.array(texts, pa.string())
    np.testing.assert_array_equal(fingerprint64(array).to_numpy(), want)
    np.testing.assert_array_equal(fingerprint64(array.slice(12_345, 50_000)).to_numpy(),
                                  want[12_345:62_345])
    # DuckDB-sized batches (mixed length classes per batch) and a large_string copy.
    batches = pa.chunked_array([pa.array(texts[i:i + 2048], pa.large_string())
                                for i in range(0, len(texts), 2048)])
    np.testing.assert_array_equal(fingerprint64(batches).to_numpy(), want)


def test_random_bytes_match_pyfarmhash_uniform_and_mixed_batches() -> None:
    rng = np.random.default_rng(7)
    values = random_binaries(rng, per_length=40)  # rows of one length are adjacent
    want = np.array(expected(values), dtype=np.int64)
    # Whole array: every length class at once (gathers, >64-byte rows of different block counts).
    np.testing.assert_array_equal(fingerprint64(pa.array(values, pa.binary())).to_numpy(), want)
    # One chunk per length: the strided path for rows of equal length.
    chunks = pa.chunked_array([pa.array(values[i:i + 40], pa.large_binary())
                               for i in range(0, len(values), 40)])
    np.testing.assert_array_equal(fingerprint64(chunks).to_numpy(), want)
    # Shuffled: every batch mixes lengths.
    perm = rng.permutation(len(values))
    shuffled = [values[i] for i in perm]
    np.testing.assert_array_equal(fingerprint64(pa.array(shuffled, pa.binary())).to_numpy(), want[perm])


@pytest.mark.parametrize("low, high", [(1, 3), (4, 7), (8, 16), (17, 32), (33, 64), (65, 300), (129, 140)])
def test_one_length_class_of_varied_lengths(low: int, high: int) -> None:
    rng = np.random.default_rng(low)
    values = [rng.bytes(int(n)) for n in rng.integers(low, high + 1, 3000)]
    check(values, pa.binary())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.text(max_size=150)), max_size=40))
def test_hypothesis_text(values: list[str | None]) -> None:
    check(values, pa.string())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.binary(max_size=200)), max_size=40))
def test_hypothesis_binary(values: list[bytes | None]) -> None:
    check(values, pa.binary())


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(1, 30), st.binary(min_size=300, max_size=300))
def test_hypothesis_equal_lengths(length: int, count: int, seed: bytes) -> None:
    values = [bytes((b + i) % 256 for b in seed[:length]) for i in range(count)]
    check(values, pa.binary())


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string(), pa.string_view(),
                                        pa.binary(), pa.large_binary(), pa.binary_view()])
def test_arrow_types_and_nulls(arrow_type: pa.DataType) -> None:
    text = ["1footrue", None, "", "2applefalse", None, "x" * 70, "ünïcödé", "3true"]
    is_text = arrow_type in (pa.string(), pa.large_string(), pa.string_view())
    values = [v if v is None or is_text else v.encode() for v in text]
    got = fingerprint64(pa.array(values, arrow_type))
    assert got.null_count == 2
    assert got.to_pylist() == expected(values)
    assert got.to_pylist()[0] == DOCUMENTED["1footrue"]


def test_all_nulls_and_empty() -> None:
    assert fingerprint64(pa.array([None, None], pa.string())).to_pylist() == [None, None]
    assert fingerprint64(pa.nulls(3)).to_pylist() == [None, None, None]
    assert fingerprint64(pa.array([], pa.string())).to_pylist() == []
    assert fingerprint64(pa.chunked_array([], pa.string())).to_pylist() == []
    assert fingerprint64(pa.array([""])).to_pylist() == expected([""])


def test_sliced_arrays() -> None:
    rng = np.random.default_rng(3)
    values = [None if i % 7 == 3 else rng.bytes(int(n)) for i, n in enumerate(rng.integers(0, 150, 500))]
    full = pa.array(values, pa.binary())
    want = expected(values)
    for start, stop in [(0, 500), (1, 499), (3, 11), (13, 400), (250, 251), (499, 500), (77, 77)]:
        got = fingerprint64(full.slice(start, stop - start))
        assert got.to_pylist() == want[start:stop]
        assert got.null_count == sum(v is None for v in values[start:stop])
    # Slices of equal-length rows (strided path) with an offset.
    dates = pa.array([f"2024-01-{d:02d}" for d in range(1, 29)])
    assert fingerprint64(dates.slice(5, 9)).to_pylist() == expected(dates.to_pylist()[5:14])


def test_chunked_arrays() -> None:
    values = ["a", None, "bb" * 20, "ccc" * 40, "", "dddd"]
    chunked = pa.chunked_array([values[:2], [], values[2:5], values[5:]], pa.string())
    got = fingerprint64(chunked)
    assert isinstance(got, pa.Array)
    assert got.to_pylist() == expected(values)


def test_dictionary_array() -> None:
    values = ["x", "yy", None, "x", "zzz" * 30]
    got = fingerprint64(pa.array(values).dictionary_encode())
    assert got.to_pylist() == expected(values)


def test_rejects_non_string_types() -> None:
    with pytest.raises(TypeError):
        fingerprint64(pa.array([1, 2, 3]))


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    register_farm_fingerprint(con)
    yield con
    con.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    return con.execute(sql).fetchall()[0][0]


def test_duckdb_documented_values_and_case(con: duckdb.DuckDBPyConnection) -> None:
    assert scalar(con, "SELECT farm_fingerprint('1footrue')") == DOCUMENTED["1footrue"]
    assert scalar(con, "SELECT FARM_FINGERPRINT('2applefalse')") == DOCUMENTED["2applefalse"]
    assert scalar(con, "SELECT Farm_Fingerprint('3true')") == DOCUMENTED["3true"]
    assert con.execute("SELECT typeof(farm_fingerprint('a'))").fetchall() == [("BIGINT",)]


def test_duckdb_null_blob_and_varchar(con: duckdb.DuckDBPyConnection) -> None:
    assert scalar(con, "SELECT farm_fingerprint(NULL)") is None
    assert scalar(con, "SELECT farm_fingerprint(NULL::VARCHAR)") is None
    assert scalar(con, "SELECT farm_fingerprint(NULL::BLOB)") is None
    # BLOB hashes its bytes; VARCHAR its UTF-8 bytes, with no escape processing.
    assert scalar(con, "SELECT farm_fingerprint('\\xAA\\x00'::BLOB)") == expected([b"\xaa\x00"])[0]
    assert scalar(con, "SELECT farm_fingerprint('\\xAA')") == expected(["\\xAA"])[0]
    assert scalar(con, "SELECT farm_fingerprint('1footrue'::BLOB)") == DOCUMENTED["1footrue"]
    assert scalar(con, "SELECT farm_fingerprint('ünï')") == expected(["ünï"])[0]


def test_duckdb_large_string_batches(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET arrow_large_buffer_size = true")  # the UDF then receives large_string
    got = con.execute("SELECT farm_fingerprint(k) FROM (VALUES ('1footrue'), (NULL), ('3true')) v(k)")
    assert got.fetchall() == [(DOCUMENTED["1footrue"],), (None,), (DOCUMENTED["3true"],)]


def test_duckdb_register_is_idempotent(con: duckdb.DuckDBPyConnection) -> None:
    register_farm_fingerprint(con)
    assert scalar(con, "SELECT farm_fingerprint('3true')") == DOCUMENTED["3true"]


def test_duckdb_table_matches_pyfarmhash(con: duckdb.DuckDBPyConnection) -> None:
    rng = np.random.default_rng(11)
    texts = random_texts(rng, 100_000)
    texts[::97] = [None] * len(texts[::97])
    table = pa.table({"i": np.arange(len(texts)), "k": pa.array(texts, pa.string())})
    con.register("src", table)
    con.execute("CREATE TABLE t AS SELECT i, k, encode(k) AS b FROM src")  # encode: UTF-8 bytes
    got = con.execute("SELECT i, farm_fingerprint(k), farm_fingerprint(b) FROM t ORDER BY i").fetchall()
    want = expected(texts)
    assert [row[1] for row in got] == want
    assert [row[2] for row in got] == want
    total = scalar(con, "SELECT sum(farm_fingerprint(k)) FROM t")
    assert total == sum(v for v in want if v is not None)


def test_other_types_and_unknown_columns_are_clear_errors():
    con = duckdb.connect()
    register_farm_fingerprint(con)
    with pytest.raises(duckdb.Error, match="takes VARCHAR or BLOB, not INTEGER"):
        con.execute("SELECT farm_fingerprint(42)").fetchall()
    with pytest.raises(duckdb.Error, match='Referenced column "nope" not found'):
        con.execute("SELECT farm_fingerprint(nope) FROM range(2)").fetchall()
    assert con.execute("SELECT farm_fingerprint(NULL)").fetchall() == [(None,)]
