"""BigQuery ``FARM_FINGERPRINT`` for DuckDB, vectorized with numpy.

``FARM_FINGERPRINT(x)`` is FarmHash ``Fingerprint64`` (``farmhashna::Hash64``
from Google's farmhash.cc) of the UTF-8 bytes of a STRING or of a BYTES value,
reinterpreted as a signed INT64. This module ports that function to whole-array
numpy ``uint64`` arithmetic (multiplication wraps modulo 2**64, as in C++) over
the offsets/data buffers of Arrow string and binary arrays:

* rows are split into farmhash's length classes (0, 1-3, 4-7, 8-16, 17-32,
  33-64, >64 bytes) and each class is hashed with array operations;
* a batch whose rows all have the same length (dates, fixed-width codes, ...)
  reads its words through strided views of the data buffer, with no gather;
* the >64-byte loop runs over 64-byte blocks for all rows at once: rows are
  sorted by block count, so the rows still active at a step are a prefix;
* arrays longer than 16384 rows are hashed in blocks of that many rows, which
  keeps the numpy temporaries in cache.

Fetches read the Arrow buffers in place (strided views) or gather from one
copy of the batch's bytes; no Python code runs per row. In DuckDB the UDF sees
batches of at most 2048 rows, so the cost per call (about 25-40 numpy calls
for short keys) matters as much as the arithmetic; see
``benchmarks/bench_farmhash.py``.

Public API: :func:`fingerprint64` (Arrow in, Arrow int64 out, NULL-preserving)
and :func:`register_farm_fingerprint` (the ``farm_fingerprint`` SQL function
for DuckDB, VARCHAR and BLOB). Verified bit for bit against the ``pyfarmhash``
package (``farmhash.fingerprint64``) by ``tests/test_farmhash.py``.
"""

from __future__ import annotations

from typing import Callable, Union

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["fingerprint64", "register_farm_fingerprint"]

U64 = np.uint64

# Primes between 2**63 and 2**64 (farmhash.cc).
K0 = 0xC3A5C85C97CB3127
K1 = 0xB492B66FBE98F273
K2 = 0x9AE16A3B2F90404F
_MASK64 = (1 << 64) - 1
_U_K0, _U_K1, _U_K2 = U64(K0), U64(K1), U64(K2)
_U_9, _U_255, _MASK32 = U64(9), U64(0xFF), U64(0xFFFFFFFF)
_SHIFT = tuple(U64(i) for i in range(65))  # shift counts as uint64 scalars

# Hash64's initial state for inputs longer than 64 bytes (seed = 81), in exact
# integers: x = seed * k2 (+ Fetch(s)), y = seed * k1 + 113, z = ShiftMix(y * k2 + 113) * k2.
_SEED = 81
_X0_MUL = U64(_SEED * K2 & _MASK64)
_Y0 = (_SEED * K1 + 113) & _MASK64
_Z0 = (_Y0 * K2 + 113) & _MASK64
_Z0 = ((_Z0 ^ (_Z0 >> 47)) * K2) & _MASK64

# `mul = k2 + len * 2` for every len <= 64, as a lookup table.
_MUL_OF_LEN = (np.arange(65, dtype=np.uint64) * U64(2)) + _U_K2

# Length class of a row: 0 | 1-3 | 4-7 | 8-16 | 17-32 | 33-64 | >64 (index 65).
_CLASS_OF_LEN = np.repeat(np.arange(7, dtype=np.int8), [1, 3, 4, 9, 16, 32, 1])

# Offsets of the eight 64-bit words of a 64-byte block.
_BLOCK_WORDS = np.arange(0, 64, 8, dtype=np.int64)[:, None]

_NumOrArray = Union[np.ndarray, np.uint64]

# Zero padding appended to the data of a gather: 64-bit loads at any row start.
_PAD = np.zeros(8, dtype=np.uint8)


# --------------------------------------------------------------------------
# Row access: two interchangeable views of "the bytes of row i".
# Every fetch returns a fresh, contiguous uint64 array the caller may mutate.
# --------------------------------------------------------------------------


class _GatherRows:
    """Rows of any lengths: fetches gather at ``start + k`` / ``end - k``.

    ``data`` is padded with 8 zero bytes, so a 64-bit load at any row start
    stays inside it.
    """

    __slots__ = ("data", "starts", "ends", "length", "n")

    def __init__(self, data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> None:
        self.data, self.starts, self.ends = data, starts, ends
        self.length = ends - starts  # int64
        self.n = len(starts)

    def _words(self, dtype: str, size: int) -> np.ndarray:
        # Unaligned view with a 1-byte stride: _words(...)[p] loads the word at byte p.
        return np.ndarray((self.data.size - size + 1,), dtype, self.data, 0, (1,))

    def length_u64(self) -> np.ndarray:
        return self.length.astype(np.uint64)

    def mul(self) -> np.ndarray:
        return _MUL_OF_LEN[self.length]

    def fetch64(self, k: int) -> np.ndarray:
        return self._words("<u8", 8)[self.starts + k]

    def fetch64_tail(self, k: int) -> np.ndarray:
        return self._words("<u8", 8)[self.ends - k]

    def fetch32_pair(self) -> tuple[np.ndarray, np.ndarray]:
        """``Fetch32(s)`` and ``Fetch32(s + len - 4)`` for 4 <= len < 8, from one 64-bit load."""
        word = self._words("<u8", 8)[self.starts]
        tail = word >> ((self.length - 4) << 3).astype(np.uint64)
        word &= _MASK32
        tail &= _MASK32
        return word, tail

    def bytes3(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``s[0]``, ``s[len >> 1]``, ``s[len - 1]``."""
        data = self.data
        return (data[self.starts].astype(np.uint64),
                data[self.starts + (self.length >> 1)].astype(np.uint64),
                data[self.ends - 1].astype(np.uint64))

    def block64(self, k: int) -> np.ndarray:
        """The 8 words at ``s + k .. s + k + 63``, as an (8, n) array."""
        return self._words("<u8", 8)[self.starts + (k + _BLOCK_WORDS)]

    def block64_tail(self) -> np.ndarray:
        """The 8 words of the last 64 bytes, as an (8, n) array."""
        return self._words("<u8", 8)[self.ends + (_BLOCK_WORDS - 64)]

    def prefix(self, m: int) -> "_GatherRows":
        return _GatherRows(self.data, self.starts[:m], self.ends[:m])

    def take(self, idx: np.ndarray) -> "_GatherRows":
        return _GatherRows(self.data, self.starts[idx], self.ends[idx])


class _StridedRows:
    """Rows of one common length stored back to back: fetches read strided views."""

    __slots__ = ("buf", "first", "length", "n")

    def __init__(self, buf: pa.Buffer | np.ndarray, first: int, length: int, n: int) -> None:
        self.buf, self.first, self.length, self.n = buf, first, length, n

    def _column(self, dtype: str, k: int) -> np.ndarray:
        # The word at byte k of every row; astype turns the unaligned strided view contiguous.
        view = np.ndarray((self.n,), dtype, self.buf, self.first + k, (self.length,))
        return view.astype(np.uint64)

    def length_u64(self) -> np.uint64:
        return U64(self.length)

    def mul(self) -> np.uint64:
        return _MUL_OF_LEN[self.length]

    def fetch64(self, k: int) -> np.ndarray:
        return self._column("<u8", k)

    def fetch64_tail(self, k: int) -> np.ndarray:
        return self._column("<u8", self.length - k)

    def fetch32_pair(self) -> tuple[np.ndarray, np.ndarray]:
        return self._column("<u4", 0), self._column("<u4", self.length - 4)

    def bytes3(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (self._column("u1", 0), self._column("u1", self.length >> 1),
                self._column("u1", self.length - 1))

    def block64(self, k: int) -> np.ndarray:
        view = np.ndarray((8, self.n), "<u8", self.buf, self.first + k, (8, self.length))
        return view.copy()

    def block64_tail(self) -> np.ndarray:
        return self.block64(self.length - 64)


_Rows = Union[_GatherRows, _StridedRows]


# --------------------------------------------------------------------------
# farmhashna building blocks. Arguments are uint64 arrays (or scalars for
# `mul`); functions documented as consuming an argument overwrite it.
# --------------------------------------------------------------------------


def rotate(val: np.ndarray, shift: int) -> np.ndarray:
    """Rotate64: rotate right by ``0 < shift < 64`` bits (a new array)."""
    out = val << _SHIFT[64 - shift]
    out |= val >> _SHIFT[shift]
    return out


def shift_mix(val: np.ndarray) -> np.ndarray:
    """ShiftMix, in place."""
    val ^= val >> _SHIFT[47]
    return val


def hash_len16(u: np.ndarray, v: np.ndarray, mul: _NumOrArray) -> np.ndarray:
    """HashLen16(u, v, mul): Murmur-inspired mix of two words; consumes ``u`` and ``v``."""
    u ^= v
    u *= mul
    shift_mix(u)
    v ^= u
    v *= mul
    shift_mix(v)
    v *= mul
    return v


def weak_hash_len32_with_seeds(words: np.ndarray, a: np.ndarray,
                               b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WeakHashLen32WithSeeds over ``words[0:4]`` and seeds ``a, b``; consumes ``a, b``."""
    w, x, y, z = words
    a += w
    b += a
    b += z
    b = rotate(b, 21)
    c = a
    a = a + x
    a += y
    b += rotate(a, 44)
    a += z
    b += c
    return a, b


# --------------------------------------------------------------------------
# Hash64, one function per length class.
# --------------------------------------------------------------------------


def hash_len_0(rows: _Rows) -> np.ndarray:
    """HashLen0to16, len == 0: the constant k2."""
    return np.full(rows.n, K2, dtype=np.uint64)


def hash_len_0to16_short(rows: _Rows) -> np.ndarray:
    """HashLen0to16, 0 < len < 4: three of the bytes."""
    y, b, z = rows.bytes3()
    b <<= _SHIFT[8]
    y |= b
    z <<= _SHIFT[2]
    z += rows.length_u64()
    y *= _U_K2
    z *= _U_K0
    y ^= z
    shift_mix(y)
    y *= _U_K2
    return y


def hash_len_0to16_mid(rows: _Rows) -> np.ndarray:
    """HashLen0to16, 4 <= len < 8: two 32-bit words."""
    a, b = rows.fetch32_pair()
    a <<= _SHIFT[3]
    a += rows.length_u64()
    return hash_len16(a, b, rows.mul())


def hash_len_0to16_long(rows: _Rows) -> np.ndarray:
    """HashLen0to16, 8 <= len <= 16: two 64-bit words."""
    mul = rows.mul()
    a = rows.fetch64(0)
    a += _U_K2
    b = rows.fetch64_tail(8)
    c = rotate(b, 37)
    c *= mul
    c += a
    d = rotate(a, 25)
    d += b
    d *= mul
    return hash_len16(c, d, mul)


def _head_mix(rows: _Rows, a_multiplier: np.uint64) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The opening HashLen17to32 and HashLen33to64 share: HashLen16's two inputs, `mul` and `a`."""
    mul = rows.mul()
    a = rows.fetch64(0)
    a *= a_multiplier
    b = rows.fetch64(8)
    c = rows.fetch64_tail(8)
    c *= mul
    d = rows.fetch64_tail(16)
    d *= _U_K2
    u = rotate(a + b, 43)
    u += rotate(c, 30)
    u += d
    b += _U_K2
    v = rotate(b, 18)
    v += a
    v += c
    return u, v, mul, a


def hash_len_17to32(rows: _Rows) -> np.ndarray:
    """HashLen17to32."""
    u, v, mul, _ = _head_mix(rows, _U_K1)
    return hash_len16(u, v, mul)


def hash_len_33to64(rows: _Rows) -> np.ndarray:
    """HashLen33to64."""
    y, t, mul, a = _head_mix(rows, _U_K2)
    z = hash_len16(y.copy(), t, mul)
    e = rows.fetch64(16)
    e *= mul
    f = rows.fetch64(24)
    g = rows.fetch64_tail(32)
    g += y
    g *= mul
    h = rows.fetch64_tail(24)
    h += z
    h *= mul
    u = rotate(e + f, 43)
    u += rotate(g, 30)
    u += h
    f += a
    v = rotate(f, 18)
    v += e
    v += g
    return hash_len16(u, v, mul)


def hash64_block(state: list[np.ndarray], words: np.ndarray, mul: _NumOrArray,
                 final: bool = False) -> None:
    """One 64-byte step of Hash64's loop on ``state = [x, y, z, v0, v1, w0, w1]``.

    ``words`` is the (8, n) block; ``final`` selects the variant applied to the
    last 64 bytes (``* 9`` tweaks). The state arrays are replaced, not mutated.
    """
    x, y, z, v0, v1, w0, w1 = state
    t = x + y
    t += v0
    t += words[1]
    x = rotate(t, 37)
    x *= mul
    t = y + v1
    t += words[6]
    y = rotate(t, 42)
    y *= mul
    x ^= w1 * _U_9 if final else w1
    y += v0 * _U_9 if final else v0
    y += words[5]
    z = rotate(z + w0, 33)
    z *= mul
    v0, v1 = weak_hash_len32_with_seeds(words[0:4], v1 * mul, x + w0)
    w0, w1 = weak_hash_len32_with_seeds(words[4:8], z + w1, y + words[2])
    state[:] = [z, y, x, v0, v1, w0, w1]  # std::swap(z, x)


def hash64_finish(state: list[np.ndarray], rows: _Rows) -> np.ndarray:
    """Hash64 after the loop: mix in the last 64 bytes, fold the state to 64 bits."""
    mul = (state[2] & _U_255) << _SHIFT[1]
    mul += _U_K1
    w0 = state[5] + np.asarray((rows.length - 1) & 63, dtype=np.uint64)
    state[3] = state[3] + w0
    state[5] = w0 + state[3]
    hash64_block(state, rows.block64_tail(), mul, final=True)
    x, y, z, v0, v1, w0, w1 = state
    u = hash_len16(v0, w0, mul)
    u += shift_mix(y) * _U_K0
    u += z
    v = hash_len16(v1, w1, mul)
    v += x
    return hash_len16(u, v, mul)


def _hash64_init(first_word: np.ndarray) -> list[np.ndarray]:
    """Hash64's state before the loop: x = seed * k2 + Fetch(s), y, z, v = w = 0."""
    n = first_word.shape[0]
    first_word += _X0_MUL
    return [first_word, np.full(n, _Y0, np.uint64), np.full(n, _Z0, np.uint64),
            *(np.zeros(n, dtype=np.uint64) for _ in range(4))]


def hash64_over64(rows: _Rows) -> np.ndarray:
    """Hash64 for len > 64: the 64-byte loop, run over all rows at once."""
    if isinstance(rows, _StridedRows):
        state = _hash64_init(rows.fetch64(0))
        for block in range((rows.length - 1) // 64):
            hash64_block(state, rows.block64(64 * block), _U_K1)
        return hash64_finish(state, rows)

    # Sort rows by block count, descending: the rows still looping at step k
    # are then the first active[k] ones.
    blocks = (rows.length - 1) >> 6
    order = np.argsort(-blocks, kind="stable")
    rows = rows.take(order)
    active = rows.n - np.cumsum(np.bincount(blocks))
    state = _hash64_init(rows.fetch64(0))
    for block in range(int(blocks[order[0]])):
        m = int(active[block])
        part = [s[:m] for s in state]
        hash64_block(part, rows.prefix(m).block64(64 * block), _U_K1)
        for s, p in zip(state, part):
            s[:m] = p
    out = np.empty(rows.n, dtype=np.uint64)
    out[order] = hash64_finish(state, rows)
    return out


# Hash functions indexed by length class (see _CLASS_OF_LEN).
_HASHERS: tuple[Callable[[_Rows], np.ndarray], ...] = (
    hash_len_0, hash_len_0to16_short, hash_len_0to16_mid, hash_len_0to16_long,
    hash_len_17to32, hash_len_33to64, hash64_over64,
)


def hash64(buf: pa.Buffer | np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """farmhashna::Hash64 of every row ``buf[offsets[i]:offsets[i + 1]]``, as uint64.

    ``offsets`` is int32 or int64 (Arrow offsets, already sliced to the rows).
    """
    n = offsets.size - 1
    if n <= 0:
        return np.empty(0, dtype=np.uint64)
    lengths = offsets[1:] - offsets[:-1]
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo == hi:  # one common length: strided views, no gathers
        return _HASHERS[_CLASS_OF_LEN[min(lo, 65)]](_StridedRows(buf, int(offsets[0]), lo, n))

    # Copy just these rows' bytes (a slice may share a much larger buffer), padded.
    first, last = int(offsets[0]), int(offsets[-1])
    data = np.concatenate((np.frombuffer(buf, dtype=np.uint8, count=last - first, offset=first), _PAD))
    offsets = offsets - np.int64(first)  # int64, rebased on the copy
    rows = _GatherRows(data, offsets[:-1], offsets[1:])
    cls_lo, cls_hi = _CLASS_OF_LEN[min(lo, 65)], _CLASS_OF_LEN[min(hi, 65)]
    if cls_lo == cls_hi:
        return _HASHERS[cls_lo](rows)

    classes = _CLASS_OF_LEN[np.minimum(lengths, 65)]
    out = np.empty(n, dtype=np.uint64)
    for cls in np.flatnonzero(np.bincount(classes, minlength=7)):
        idx = np.flatnonzero(classes == cls)
        out[idx] = _HASHERS[cls](rows.take(idx))
    return out


# --------------------------------------------------------------------------
# Arrow front end.
# --------------------------------------------------------------------------

_OFFSET_TYPES = {
    pa.string().id: np.int32, pa.binary().id: np.int32,
    pa.large_string().id: np.int64, pa.large_binary().id: np.int64,
}
_BLOCK_ROWS = 16384  # rows hashed per numpy pass in large arrays
_VIEW_CASTS = {pa.string_view().id: pa.large_string(), pa.binary_view().id: pa.large_binary()}


def _fingerprint_array(arr: pa.Array) -> pa.Array:
    """FARM_FINGERPRINT of one (non-chunked) Arrow array, as int64."""
    type_id = arr.type.id
    offset_type = _OFFSET_TYPES.get(type_id)
    if offset_type is None:
        if type_id in _VIEW_CASTS:
            return _fingerprint_array(arr.cast(_VIEW_CASTS[type_id]))
        if pa.types.is_dictionary(arr.type):
            return _fingerprint_array(arr.dictionary).take(arr.indices)
        if pa.types.is_null(arr.type):
            return pa.nulls(len(arr), pa.int64())
        raise TypeError(f"FARM_FINGERPRINT expects string or binary values, got {arr.type}")

    n = len(arr)
    validity, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=offset_type, count=n + 1,
                            offset=arr.offset * np.dtype(offset_type).itemsize)
    if data_buf is None:
        data_buf = _PAD
    if n <= _BLOCK_ROWS:
        hashes = hash64(data_buf, offsets)
    else:  # blocks of rows keep the temporaries cache-sized
        hashes = np.empty(n, dtype=np.uint64)
        for start in range(0, n, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n)
            hashes[start:stop] = hash64(data_buf, offsets[start:stop + 1])
    hashes = pa.py_buffer(hashes.view(np.int64))

    null_count = arr.null_count
    if null_count == 0:
        return pa.Array.from_buffers(pa.int64(), n, [None, hashes], null_count=0)
    if arr.offset == 0:
        return pa.Array.from_buffers(pa.int64(), n, [validity, hashes], null_count=null_count)
    # Sliced with nulls: a fresh validity bitmap starting at bit 0.
    validity = arr.is_valid().buffers()[1]
    return pa.Array.from_buffers(pa.int64(), n, [validity, hashes], null_count=null_count)


def fingerprint64(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """BigQuery ``FARM_FINGERPRINT`` of every value: FarmHash Fingerprint64 as int64.

    Accepts string, binary, large_string, large_binary, string_view, binary_view
    and dictionary-encoded string arrays (chunked or not, sliced or not). A
    string hashes its UTF-8 bytes. NULL in gives NULL out.
    """
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 1:
            return _fingerprint_array(values.chunk(0))
        parts = [_fingerprint_array(chunk) for chunk in values.chunks]
        return pa.concat_arrays(parts) if parts else pa.array([], pa.int64())
    if not isinstance(values, pa.Array):
        values = pa.array(values)
    return _fingerprint_array(values)


# --------------------------------------------------------------------------
# DuckDB registration.
# --------------------------------------------------------------------------

_UDF_VARCHAR = "farm_fingerprint_varchar"
_UDF_BLOB = "farm_fingerprint_blob"


def _udf(values: pa.ChunkedArray) -> pa.Array:
    # DuckDB hands over one chunk of <= 2048 rows per call.
    if values.num_chunks == 1:
        return _fingerprint_array(values.chunk(0))
    return fingerprint64(values)


def register_farm_fingerprint(con: duckdb.DuckDBPyConnection) -> None:
    """Register ``farm_fingerprint(VARCHAR | BLOB) -> BIGINT`` on ``con``.

    DuckDB's Python API allows one signature per UDF name, so two Arrow UDFs
    are registered (``farm_fingerprint_varchar``, ``farm_fingerprint_blob``)
    and ``farm_fingerprint`` is a temporary macro dispatching on the argument's
    type at bind time (no run-time cost); other types are an error, as in BigQuery. Casting between VARCHAR and
    BLOB is avoided on purpose: DuckDB's casts escape/unescape ``\\xNN`` and
    would change the hashed bytes. Idempotent, and safe on a cursor of a connection that has them: the UDFs
    belong to the database, the temporary macro to the connection.
    """
    for name, sql_type in ((_UDF_VARCHAR, "VARCHAR"), (_UDF_BLOB, "BLOB")):
        try:
            con.create_function(name, _udf, [sql_type], "BIGINT", type="arrow",
                                null_handling="special", side_effects=False)
        except (duckdb.CatalogException, duckdb.NotImplementedException) as error:
            if "already" not in str(error):  # "already exists" (another connection), "already created" (this one)
                raise
    # One macro, dispatching on the argument's type when the query is planned (typeof() folds to a constant, so
    # the other branches cost nothing). Typed overloads would hide a misspelt column behind "multiple overloads".
    con.execute(
        "CREATE OR REPLACE TEMP MACRO farm_fingerprint(x) AS CASE typeof(x) "
        f"WHEN 'VARCHAR' THEN {_UDF_VARCHAR}(x::VARCHAR) WHEN 'BLOB' THEN {_UDF_BLOB}(x::BLOB) "
        "WHEN '\"NULL\"' THEN NULL::BIGINT "
        "ELSE error('FARM_FINGERPRINT takes VARCHAR or BLOB, not ' || typeof(x)) END"
    )
