"""BigQuery ``FARM_FINGERPRINT`` as a persistent, pure-SQL DuckDB macro.

``toolkit_farm_fingerprint(x)`` takes a VARCHAR (hashing its UTF-8 bytes) or a
BLOB and returns FarmHash ``Fingerprint64`` as a signed BIGINT (NULL for NULL),
bit-identical to BigQuery and to the numpy UDF in :mod:`toolkit.warehouse.farmhash`.
It is plain SQL stored in the database file, so it also works from the DuckDB
CLI, without Python. How it is computed in DuckDB 2.0:

* 64-bit words are UHUGEINT values below ``2**64``; sums and products are taken
  ``& 0xFFFF_FFFF_FFFF_FFFF``, the C++ wrap-around (UBIGINT arithmetic raises on overflow).
* Bytes are read 16 at a time: ``array_slice(b, p, p + 15)::BIT::UHUGEINT`` is
  the big-endian value of the slice; three shift/mask swaps byte-reverse each
  64-bit half into farmhash's little-endian ``Fetch64`` words.
* The macro is one correlated scalar subquery whose narrow, nested projections
  bind every intermediate value once. Expressions repeated through macro
  arguments or CASE branches would be copied instead (DuckDB removes common
  subexpressions neither in CASE branches nor in lambdas, and binding time grows
  with the copied tree); lambda bodies are also slow to execute.
* Each of farmhash's length classes (0, 1-3, 4-7, 8-16, 17-32, 33-64, > 64 bytes)
  is a ``UNION ALL`` branch filtered on the length, so a value only pays for its
  class. Past 64 bytes, the first 64-byte block is unrolled and the next ones run
  in a recursive CTE, all long values advancing together.
"""

from __future__ import annotations

import duckdb

__all__ = ["MACRO_NAME", "install", "macro_statements"]

MACRO_NAME = "toolkit_farm_fingerprint"

_MASK = (1 << 64) - 1
_K0, _K1, _K2 = 0xC3A5C85C97CB3127, 0xB492B66FBE98F273, 0x9AE16A3B2F90404F  # farmhash.cc primes
# Hash64's state before the loop (seed 81): x = seed * k2 + Fetch(s), y, z constant.
_X0_MUL = 81 * _K2 & _MASK
_Y0 = (81 * _K1 + 113) & _MASK
_Z0 = (_Y0 * _K2 + 113) & _MASK
_Z0 = (_Z0 ^ (_Z0 >> 47)) * _K2 & _MASK

_M = f"{_MASK}::UHUGEINT"
_U = "::UHUGEINT"


# ---- SQL expressions over UHUGEINT words < 2**64 (the arguments should be column names) ----

def _lit(value: int) -> str:
    return f"{value}{_U}"


def _mul(a: str, b: str) -> str:
    return f"((({a}) * ({b})) & {_M})"


def _add(*terms: str) -> str:
    return "((" + " + ".join(f"({t})" for t in terms) + f") & {_M})"


def _rot(v: str, r: int) -> str:
    """Rotate64: rotate right by 0 < r < 64 bits."""
    return f"(((({v}) >> {r}) | (({v}) << {64 - r})) & {_M})"


def _smix(v: str) -> str:
    """ShiftMix."""
    return f"xor({v}, ({v}) >> 47)"


def _len16(u: str, v: str, mul: str) -> str:
    """HashLen16(u, v, mul)."""
    a = _smix(_mul(f"xor({u}, {v})", mul))
    return _mul(_smix(_mul(f"xor({v}, {a})", mul)), mul)


def _read(pos: str) -> str:
    """Bytes pos .. pos + 15 (0-based) of blob column ``b``, as a big-endian UHUGEINT."""
    return f"array_slice(b, {pos} + 1, {pos} + 16)::BIT::UHUGEINT"


# ---- relational plumbing: each SELECT level is a "let" ----------------------------------

def _select(columns: list[str], source: str, where: str = "") -> str:
    return f"SELECT {', '.join(columns)} FROM ({source})" + (f" WHERE {where}" if where else "")


def _fetch64(source: str, reads: list[str], keep: list[str]) -> str:
    """Byte-reverse both 64-bit halves of the UHUGEINT `reads` columns.

    A 16-byte read then holds ``Fetch64(p)`` in its high half and ``Fetch64(p + 8)`` in its low half.
    """
    for k, m in ((8, 0x00FF00FF00FF00FF), (16, 0x0000FFFF0000FFFF), (32, 0x00000000FFFFFFFF)):
        mm = _lit(m << 64 | m)
        source = _select(keep + [f"(({c} >> {k}) & {mm}) | (({c} & {mm}) << {k}) AS {c}" for c in reads], source)
    return source


_STATE = ["b", "n", "nb", "k", "sx", "y", "z", "v0", "v1", "w0", "w1"]  # sx: Hash64's x


def _block(source: str, pos: str, mul: str, last: bool = False, first: bool = False) -> str:
    """One 64-byte step of Hash64's loop at byte `pos` on `source` rows (columns `_STATE`).

    ``last``: the step on the final 64 bytes (``* 9`` tweaks); ``first``: x is still
    ``seed * k2`` and gets ``Fetch(s)`` (this block's first word) added. Adds column ``m``.
    """
    reads = [f"{_read(f'{pos} + {16 * j}')} AS r{j}" for j in range(4)]
    q = _fetch64(_select(_STATE + [f"{mul} AS m"] + reads, source), ["r0", "r1", "r2", "r3"], _STATE + ["m"])
    words = [f"r{j // 2} >> 64 AS c{j}" if j % 2 == 0 else f"r{j // 2} & {_M} AS c{j}" for j in range(8)]
    q = _select(_STATE + ["m"] + words, q)
    x = _add("c0", "sx") if first else "sx"
    w1, v0 = (_mul("w1", _lit(9)), _mul("v0", _lit(9))) if last else ("w1", "v0")
    z1 = _mul(_rot(_add("z", "w0"), 33), "m")
    q = _select(["b", "n", "nb", "k", "m", "w0", "c1", "c2", "c3", "c5", "c6", "c7",
                 f"xor({_mul(_rot(_add(x, 'y', 'v0', 'c1'), 37), 'm')}, {w1}) AS x2",
                 f"{_add(_mul(_rot(_add('y', 'v1', 'c6'), 42), 'm'), v0, 'c5')} AS y2",
                 f"{z1} AS z1",
                 f"{_add(_mul('v1', 'm'), 'c0')} AS a1",  # WeakHashLen32WithSeeds: a + w, for v and w
                 f"{_add(z1, 'w1', 'c4')} AS a2"], q)
    return _select(
        ["b", "n", "nb", "k + 1 AS k", "m", "z1 AS sx", "y2 AS y", "x2 AS z",  # std::swap(z, x)
         f"{_add('a1', 'c1', 'c2', 'c3')} AS v0",
         f"{_add(_rot(_add('x2', 'w0', 'a1', 'c3'), 21), _rot(_add('a1', 'c1', 'c2'), 44), 'a1')} AS v1",
         f"{_add('a2', 'c5', 'c6', 'c7')} AS w0",
         f"{_add(_rot(_add('y2', 'c2', 'a2', 'c7'), 21), _rot(_add('a2', 'c5', 'c6'), 44), 'a2')} AS w1"], q)


def _body() -> str:
    """The macro body: a scalar subquery over CTEs ``_fh_src`` (bytes, length) .. ``_fh_loop``."""
    blob = ("CASE typeof(x) WHEN 'VARCHAR' THEN encode(x::VARCHAR) WHEN 'BLOB' THEN x::BLOB "
            "WHEN '\"NULL\"' THEN NULL::BLOB "
            f"ELSE error('{MACRO_NAME} takes VARCHAR or BLOB, not ' || typeof(x)) END")
    mul = f"{_lit(_K2)} + (n{_U} << 1)"  # k2 + len * 2
    whole = "SELECT n, b::BIT::UHUGEINT AS v FROM _fh_src WHERE n BETWEEN {} AND {}"  # all n <= 16 bytes

    # 1..3 bytes: s[0], s[len / 2] and s[len - 1] straight from the big-endian value.
    q = _select([f"((v >> (8 * (n - 1)){_U}) & 255) | (((v >> (8 * (n - 1 - (n >> 1))){_U}) & 255) << 8) AS y",
                 f"n{_U} + ((v & 255) << 2) AS z"], whole.format(1, 3))
    t = f"xor({_mul('y', _lit(_K2))}, {_mul('z', _lit(_K0))})"
    len1to3 = _select([f"{_mul(_smix(t), _lit(_K2))} AS h"], q)

    # 4..7 bytes: the left-aligned value, byte-reversed, holds Fetch32(s) and Fetch32(s + len - 4).
    q = _fetch64(f"SELECT n, b::BIT::UHUGEINT << (8 * (8 - n)){_U} AS r FROM _fh_src WHERE n BETWEEN 4 AND 7",
                 ["r"], ["n"])
    q = _select(["n", f"{mul} AS m", f"n{_U} + ((r & 4294967295) << 3) AS u",
                 f"(r >> (8 * (n - 4)){_U}) & 4294967295 AS v"], q)
    len4to7 = _select([f"{_len16('u', 'v', 'm')} AS h"], q)

    # 8..16 bytes: one value with the first 8 bytes in its high half and the last 8 in its low half.
    q = _select(["n", f"((v << (8 * (16 - n)){_U}) & {_lit(_MASK << 64)}) | (v & {_M}) AS r"], whole.format(8, 16))
    q = _select(["n", f"{mul} AS m", f"{_add('r >> 64', _lit(_K2))} AS a", f"r & {_M} AS t8"],
                _fetch64(q, ["r"], ["n"]))
    q = _select(["m", f"{_add(_mul(_rot('t8', 37), 'm'), 'a')} AS c", f"{_mul(_add(_rot('a', 25), 't8'), 'm')} AS d"],
                q)
    len8to16 = _select([f"{_len16('c', 'd', 'm')} AS h"], q)

    # 17..64 bytes: HashLen17to32, which is also the first half of HashLen33to64 (a = Fetch(s) * k1 or k2).
    q = (f"SELECT n, {_read('0')} AS ra, {_read('n - 16')} AS rb, "
         f"CASE WHEN n > 32 THEN {_read('16')} ELSE 0{_U} END AS rc, "
         f"CASE WHEN n > 32 THEN {_read('n - 32')} ELSE 0{_U} END AS rd FROM _fh_src WHERE n BETWEEN 17 AND 64")
    q = _fetch64(q, ["ra", "rb", "rc", "rd"], ["n"])
    q = _select(["n", "rc", "rd", f"{mul} AS m", f"ra & {_M} AS f8", "rb >> 64 AS t16", f"rb & {_M} AS t8",
                 f"{_mul('ra >> 64', f'CASE WHEN n <= 32 THEN {_lit(_K1)} ELSE {_lit(_K2)} END')} AS a"], q)
    q = _select(["n", "rc", "rd", "m", "a", "f8", f"{_mul('t8', 'm')} AS c", f"{_mul('t16', _lit(_K2))} AS d"], q)
    q = _select(["n", "rc", "rd", "m", "a", f"{_add(_rot(_add('a', 'f8'), 43), _rot('c', 30), 'd')} AS y",
                 f"{_add('a', _rot(_add('f8', _lit(_K2)), 18), 'c')} AS t"], q)
    head = _select(["n", "rc", "rd", "m", "a", "y", f"{_len16('y', 't', 'm')} AS z"], q)
    q = _select(["m", "a", f"{_mul('rc >> 64', 'm')} AS e", f"rc & {_M} AS f",
                 f"{_mul(_add('y', 'rd >> 64'), 'm')} AS g", f"{_mul(_add('z', f'rd & {_M}'), 'm')} AS hh"],
                "SELECT * FROM _fh_head", "n > 32")
    q = _select(["m", f"{_add(_rot(_add('e', 'f'), 43), _rot('g', 30), 'hh')} AS u",
                 f"{_add('e', _rot(_add('f', 'a'), 18), 'g')} AS v"], q)
    len33to64 = _select([f"{_len16('u', 'v', 'm')} AS h"], q)

    # > 64 bytes: block 0 in _fh_first, blocks 1 .. nb - 1 in the recursive _fh_loop, then the last 64 bytes.
    q = (f"SELECT b, n, (n - 1) // 64 AS nb, 0 AS k, {_lit(_X0_MUL)} AS sx, {_lit(_Y0)} AS y, {_lit(_Z0)} AS z, "
         f"0{_U} AS v0, 0{_U} AS v1, 0{_U} AS w0, 0{_U} AS w1 FROM _fh_src WHERE n > 64")
    first = _select(_STATE, _block(q, "0", _lit(_K1), first=True))
    step = _select(_STATE, _block("SELECT * FROM _fh_loop WHERE k < nb", "64 * k", _lit(_K1)))
    # w.first += (len - 1) & 63; v.first += w.first; w.first += v.first
    q = _select(_STATE[:-2] + [f"{_add('w0', f'((n - 1) & 63){_U}')} AS w0", "w1"],
                "SELECT * FROM _fh_first WHERE nb = 1 UNION ALL SELECT * FROM _fh_loop WHERE k = nb")
    q = _select(_STATE[:-4] + [f"{_add('v0', 'w0')} AS v0", "v1", f"{_add('w0', 'v0', 'w0')} AS w0", "w1"], q)
    q = _block(q, "n - 64", f"{_lit(_K1)} + ((z & 255) << 1)", last=True)
    q = _select(["m", "sx", "y", "z", f"{_len16('v0', 'w0', 'm')} AS hv", f"{_len16('v1', 'w1', 'm')} AS hw"], q)
    q = _select(["m", f"{_add('hv', _mul(_smix('y'), _lit(_K0)), 'z')} AS u", f"{_add('hw', 'sx')} AS v"], q)
    over64 = _select([f"{_len16('u', 'v', 'm')} AS h"], q)

    return (
        "(WITH RECURSIVE "
        f"_fh_src AS (SELECT b, octet_length(b) AS n FROM (SELECT {blob} AS b)), "
        f"_fh_head AS ({head}), _fh_first AS ({first}), "
        f"_fh_loop AS (SELECT * FROM _fh_first WHERE nb > 1 UNION ALL {step}) "
        # UBIGINT -> BIGINT, two's complement
        "SELECT (xor(h::UBIGINT, 9223372036854775808)::HUGEINT - 9223372036854775808)::BIGINT FROM ("
        f"SELECT {_lit(_K2)} AS h FROM _fh_src WHERE n = 0 UNION ALL {len1to3} UNION ALL {len4to7} "
        f"UNION ALL {len8to16} UNION ALL SELECT z FROM _fh_head WHERE n <= 32 UNION ALL {len33to64} "
        f"UNION ALL {over64}))"
    )


def macro_statements(schema: str = "main") -> list[str]:
    """The ``CREATE OR REPLACE MACRO`` statements, in dependency order (persistent, not TEMP).

    The body is self-contained (no helper macros: a nested macro call copies its
    arguments, which DuckDB then binds once per copy), so any schema works.
    """
    return [f"CREATE OR REPLACE MACRO {schema}.{MACRO_NAME}(x) AS {_body()}"]


def install(con: duckdb.DuckDBPyConnection, schema: str = "main") -> None:
    """Create or replace the macros in `schema`; in a database file they persist with it."""
    for statement in macro_statements(schema):
        con.execute(statement)
