"""The kinds of values toolkit.serve.evaluate computes, the closure each SQL node becomes (`Node`), and the
helpers every node evaluator shares: type unification and DuckDB's order of numbers (NaN above all)."""

from __future__ import annotations

import ast
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from sqlglot import exp

from toolkit.serve.evaluate_code import Code, Namespace, builtin, constant, strict

INT, HUGE, DOUBLE, TEXT, BOOL, NULL, DECIMAL = "BIGINT", "HUGEINT", "DOUBLE", "VARCHAR", "BOOLEAN", "NULL", "DECIMAL"
SMALL = "SMALLINT"  # 8- and 16-bit integers: compared and cast, never in arithmetic (DuckDB's overflows differ)
FLOAT = "FLOAT"  # a float32 value (held exactly in a Python float): compared and cast, never in arithmetic
INTEGERS = (INT, HUGE, SMALL)
NUMERIC = (INT, HUGE, SMALL, DOUBLE)
INT_BOUND = 2**31  # integer results at or beyond it go to DuckDB, which may call them an overflow
HUGE_BOUND = 2**127  # INT128's range
JOINED = "\x00"  # a joined table's column is keyed "alias\x00name" in a row
INF, NAN = math.inf, math.nan
FLOAT32 = struct.Struct("<f")


class Unsupported(Exception):
    """The query has something the evaluator does not cover: DuckDB runs it."""


class Fallback(Exception):
    """A value the evaluator leaves to DuckDB."""


@dataclass(frozen=True)
class Node:
    fn: Callable[[dict[str, Any]], Any]
    kind: Any  # INT, DOUBLE, …, ("LIST", kind), ("STRUCT", ((name, kind), …))
    constant: bool = False  # fn ignores the row
    code: Code = None  # what fn computes as a Python expression (toolkit.serve.evaluate_code); None: fn only


@dataclass
class Context:
    fingerprints: dict[str, int] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # the current layer's column keys → generated names
    namespace: Namespace = field(default_factory=Namespace)  # what the generated code reads

    def ref(self, value: Any) -> ast.Name:
        """`value` as a name the generated code reads."""
        return self.namespace.ref(value)


Sub = Callable[[exp.Expression], Node]


def arrow_kind(arrow_type: pa.DataType) -> str:
    """The kind of an input column; other types (dates, decimals, small integers, …) go to DuckDB."""
    if arrow_type in (pa.int32(), pa.int64(), pa.uint32()):
        return INT
    if arrow_type in (pa.int8(), pa.int16(), pa.uint8(), pa.uint16()):
        return SMALL
    if arrow_type == pa.float64():
        return DOUBLE
    if arrow_type in (pa.string(), pa.large_string()):
        return TEXT
    if arrow_type == pa.bool_():
        return BOOL
    if arrow_type == pa.null():
        return NULL
    raise Unsupported(f"an input column of type {arrow_type}")


def const(value: Any, kind: Any) -> Node:
    return Node(lambda row: value, kind, constant=True, code=constant(value))


def unified_kind(kinds: list[Any]) -> Any:
    """The one result type of values as DuckDB's CASE, COALESCE and GREATEST cast them (integers to DOUBLE)."""
    known = set(kinds) - {NULL}
    if not known:
        return NULL
    if len(known) == 1:
        return known.pop()
    if DOUBLE in known and known <= {INT, SMALL, DOUBLE, FLOAT}:  # FLOAT → DOUBLE is exact: the same value
        return DOUBLE
    raise Unsupported(f"values of types {sorted(map(str, known))} in one expression")


def unify(nodes: list[Node]) -> tuple[list[Node], Any]:
    """Nodes of one result type (unified_kind), the integers among them converted to DOUBLE where it is one."""
    kind = unified_kind([n.kind for n in nodes])
    if kind == DOUBLE:
        return [to_double(n) if n.kind in INTEGERS else n for n in nodes], DOUBLE
    return nodes, kind


def to_double(node: Node) -> Node:
    if node.kind == HUGE:  # DuckDB converts INT128 to DOUBLE through its two halves: not the same rounding
        raise Unsupported("an INT128 converted to DOUBLE")
    fn = node.fn
    if node.constant:
        return const(None if (value := fn({})) is None else float(value), DOUBLE)
    return Node(lambda row: None if (v := fn(row)) is None else float(v), DOUBLE,
                code=strict([node.code], lambda v: builtin("float", v)))



def check_int(value: int) -> int:
    if -INT_BOUND < value < INT_BOUND:
        return value
    raise Fallback


def check_huge(value: int) -> int:
    if -HUGE_BOUND <= value < HUGE_BOUND:
        return value
    raise Fallback



def duckdb_order(a: Any, b: Any) -> int:
    a_nan, b_nan = a != a, b != b
    if a_nan or b_nan:
        return (a_nan > b_nan) - (a_nan < b_nan)
    return (a > b) - (a < b)
