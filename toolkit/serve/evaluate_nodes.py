"""The SQL nodes toolkit.serve.evaluate covers, each as DuckDB evaluates it: a registry from sqlglot node type to
a builder of a Python closure and the static type of its result (`Node`)."""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Any

import pyarrow as pa
from sqlglot import exp

from toolkit.warehouse.farmhash import fingerprint64
from toolkit.warehouse.farmhash_sql import MACRO_NAME as FINGERPRINT_MACRO

INT, HUGE, DOUBLE, TEXT, BOOL, NULL, DECIMAL = "BIGINT", "HUGEINT", "DOUBLE", "VARCHAR", "BOOLEAN", "NULL", "DECIMAL"
SMALL = "SMALLINT"  # 8- and 16-bit integers: compared and cast, never in arithmetic (DuckDB's overflows differ)
FLOAT = "FLOAT"  # a float32 value (held exactly in a Python float): compared and cast, never in arithmetic
INTEGERS = (INT, HUGE, SMALL)
NUMERIC = (INT, HUGE, SMALL, DOUBLE)
_INT_BOUND = 2**31  # integer results at or beyond it go to DuckDB, which may call them an overflow
_HUGE_BOUND = 2**127  # INT128's range
JOINED = "\x00"  # a joined table's column is keyed "alias\x00name" in a row
INF, NAN = math.inf, math.nan
_FLOAT32 = struct.Struct("<f")


class Unsupported(Exception):
    """The query has something the evaluator does not cover: DuckDB runs it."""


class Fallback(Exception):
    """A value the evaluator leaves to DuckDB."""


@dataclass(frozen=True)
class Node:
    fn: Callable[[dict[str, Any]], Any]
    kind: Any  # INT, DOUBLE, …, ("LIST", kind), ("STRUCT", ((name, kind), …))
    constant: bool = False  # fn ignores the row


@dataclass
class Context:
    fingerprints: dict[str, int] = field(default_factory=dict)


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


def _const(value: Any, kind: Any) -> Node:
    return Node(lambda row: value, kind, constant=True)


def _unify(nodes: list[Node]) -> tuple[list[Node], Any]:
    """Nodes of one result type, as DuckDB's CASE, COALESCE and GREATEST cast them (integers to DOUBLE)."""
    kinds = {n.kind for n in nodes} - {NULL}
    if not kinds:
        return nodes, NULL
    if len(kinds) == 1:
        return nodes, kinds.pop()
    if DOUBLE in kinds and kinds <= {INT, SMALL, DOUBLE, FLOAT}:  # FLOAT → DOUBLE is exact: the same value
        return [_to_double(n) if n.kind in INTEGERS else n for n in nodes], DOUBLE
    raise Unsupported(f"values of types {sorted(map(str, kinds))} in one expression")


def _to_double(node: Node) -> Node:
    if node.kind == HUGE:  # DuckDB converts INT128 to DOUBLE through its two halves: not the same rounding
        raise Unsupported("an INT128 converted to DOUBLE")
    fn = node.fn
    return Node(lambda row: None if (v := fn(row)) is None else float(v), DOUBLE)


# --- literals and columns


def _literal(node: exp.Literal, sub: Sub, kinds, context) -> Node:
    if node.is_string:
        return _const(node.this, TEXT)
    text = node.this
    if "e" in text.lower():
        return _const(float(text), DOUBLE)
    if "." in text:
        return _const(text, DECIMAL)  # only as CAST(… AS DOUBLE)'s operand
    value = int(text)
    if abs(value) >= _INT_BOUND:
        raise Unsupported("a large integer literal")
    return _const(value, INT)


def _column(node: exp.Column, sub: Sub, kinds, context) -> Node:
    if isinstance(node.this, exp.Star):
        raise Unsupported("* inside an expression")
    key = node.name.casefold()
    if node.table and node.table.casefold() + JOINED + key in kinds:
        key = node.table.casefold() + JOINED + key
    if key not in kinds:
        raise Unsupported(f"column {node.name} is not known here")
    return Node(lambda row: row[key], kinds[key])


# --- arithmetic (IEEE doubles: Python's float is the same binary64, and its + - * round the same way)


def _check_int(value: int) -> int:
    if -_INT_BOUND < value < _INT_BOUND:
        return value
    raise Fallback


def _check_huge(value: int) -> int:
    if -_HUGE_BOUND <= value < _HUGE_BOUND:
        return value
    raise Fallback


def _modulo(a: int, b: int) -> int:
    """DuckDB's integer %: the remainder of the quotient truncated toward zero (its sign is the dividend's)."""
    if b == 0:
        raise Fallback  # DuckDB: division by zero is an error
    remainder = abs(a) % abs(b)
    return remainder if a >= 0 else -remainder


def _divide(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0:
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)


def _arithmetic(op: Callable[[Any, Any], Any]) -> Callable:
    def build(node: exp.Binary, sub: Sub, kinds, context) -> Node:
        left, right = sub(node.this), sub(node.expression)
        if left.kind not in NUMERIC + (NULL,) or right.kind not in NUMERIC + (NULL,) or SMALL in (left.kind,
                                                                                                    right.kind):
            raise Unsupported(f"{type(node).__name__} of {left.kind} and {right.kind}")
        lf, rf = left.fn, right.fn
        if isinstance(node, exp.Mod):
            if left.kind not in INTEGERS + (NULL,) or right.kind not in INTEGERS + (NULL,):
                raise Unsupported("% of a DOUBLE")
            huge = HUGE in (left.kind, right.kind)
            check = _check_huge if huge else _check_int

            def mod_fn(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else check(_modulo(a, b))
            return Node(mod_fn, HUGE if huge else INT)
        if isinstance(node, exp.Div):
            if HUGE in (left.kind, right.kind):
                raise Unsupported("INT128 division")

            def fn(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else _divide(float(a), float(b))
            return Node(fn, DOUBLE)
        if left.kind in INTEGERS + (NULL,) and right.kind in INTEGERS + (NULL,):
            huge = HUGE in (left.kind, right.kind)
            check = _check_huge if huge else _check_int

            def int_fn(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else check(op(a, b))
            return Node(int_fn, HUGE if huge else INT)

        if left.kind == DOUBLE and right.kind == DOUBLE:  # no conversions; a constant operand read once
            if right.constant:
                c = rf({})

                def by_constant(row):
                    a = lf(row)
                    return None if a is None else op(a, c)
                return Node(by_constant, DOUBLE)

            def doubles(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else op(a, b)
            return Node(doubles, DOUBLE)

        if HUGE in (left.kind, right.kind):
            raise Unsupported("INT128 arithmetic with a DOUBLE")

        def double_fn(row):
            a = lf(row)
            if a is None:
                return None
            b = rf(row)
            return None if b is None else op(float(a), float(b))
        return Node(double_fn, DOUBLE)

    return build


def _neg(node: exp.Neg, sub: Sub, kinds, context) -> Node:
    inner = sub(node.this)
    if inner.kind not in (INT, HUGE, DOUBLE):
        raise Unsupported(f"-{inner.kind}")
    fn = inner.fn
    return Node(lambda row: None if (v := fn(row)) is None else -v, inner.kind)


def _paren(node: exp.Paren, sub: Sub, kinds, context) -> Node:
    return sub(node.this)


# --- comparisons and logic (DuckDB orders NaN above every number and equal to itself)


def _order(a: Any, b: Any) -> int:
    a_nan, b_nan = a != a, b != b
    if a_nan or b_nan:
        return (a_nan > b_nan) - (a_nan < b_nan)
    return (a > b) - (a < b)


_COMPARISONS: dict[type, Callable[[int], bool]] = {
    exp.EQ: lambda c: c == 0, exp.NEQ: lambda c: c != 0, exp.GT: lambda c: c > 0, exp.GTE: lambda c: c >= 0,
    exp.LT: lambda c: c < 0, exp.LTE: lambda c: c <= 0}


def _comparison(node: exp.Binary, sub: Sub, kinds, context) -> Node:
    left, right = sub(node.this), sub(node.expression)
    pair = {DOUBLE if k == FLOAT else k for k in (left.kind, right.kind)} - {NULL}  # FLOAT → DOUBLE: exact
    if not (pair <= set(NUMERIC) or len(pair) <= 1 and pair <= {TEXT, BOOL, INT, DOUBLE}):
        raise Unsupported(f"a comparison of {left.kind} and {right.kind}")
    if DOUBLE in pair and len(pair) > 1:
        left, right = (_to_double(left) if left.kind in INTEGERS else left), (
            _to_double(right) if right.kind in INTEGERS else right)
    test, lf, rf = _COMPARISONS[type(node)], left.fn, right.fn

    def fn(row):
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else test(_order(a, b))
    return Node(fn, BOOL)


def _logic(node: exp.Connector, sub: Sub, kinds, context) -> Node:
    left, right = sub(node.this), sub(node.expression)
    for side in (left, right):
        if side.kind not in (BOOL, NULL):
            raise Unsupported(f"{type(node).__name__} of {side.kind}")
    lf, rf, conjunction = left.fn, right.fn, isinstance(node, exp.And)

    def fn(row):
        a, b = lf(row), rf(row)
        if conjunction:
            return False if a is False or b is False else (None if a is None or b is None else True)
        return True if a is True or b is True else (None if a is None or b is None else False)
    return Node(fn, BOOL)


def _not(node: exp.Not, sub: Sub, kinds, context) -> Node:
    inner = sub(node.this)
    if inner.kind not in (BOOL, NULL):
        raise Unsupported(f"NOT {inner.kind}")
    fn = inner.fn
    return Node(lambda row: None if (v := fn(row)) is None else not v, BOOL)


def _is(node: exp.Is, sub: Sub, kinds, context) -> Node:
    if not isinstance(node.expression, exp.Null):
        raise Unsupported("IS other than IS NULL")
    fn = sub(node.this).fn
    return Node(lambda row: fn(row) is None, BOOL)


def _boolean(node: exp.Boolean, sub: Sub, kinds, context) -> Node:
    return _const(bool(node.this), BOOL)


def _null(node: exp.Null, sub: Sub, kinds, context) -> Node:
    return _const(None, NULL)


# --- conditionals


def _case(node: exp.Case, sub: Sub, kinds, context) -> Node:
    if node.this is not None:
        raise Unsupported("CASE x WHEN …")
    conditions = [sub(branch.this) for branch in node.args["ifs"]]
    for condition in conditions:
        if condition.kind not in (BOOL, NULL):
            raise Unsupported(f"a CASE condition of type {condition.kind}")
    default = node.args.get("default")
    values, kind = _unify([sub(b.args["true"]) for b in node.args["ifs"]]
                          + [sub(default) if default is not None else _const(None, NULL)])
    pairs = [(c.fn, v.fn) for c, v in zip(conditions, values[:-1])]
    otherwise = values[-1].fn

    def fn(row):
        for condition, value in pairs:
            if condition(row) is True:
                return value(row)
        return otherwise(row)
    return Node(fn, kind)


def _coalesce(node: exp.Coalesce, sub: Sub, kinds, context) -> Node:
    values, kind = _unify([sub(node.this)] + [sub(e) for e in node.expressions])
    functions = [v.fn for v in values]

    def fn(row):
        for value in functions:
            result = value(row)
            if result is not None:
                return result
        return None
    return Node(fn, kind)


def _extreme(greatest: bool) -> Callable:
    def build(node: exp.Func, sub: Sub, kinds, context) -> Node:
        values, kind = _unify([sub(node.this)] + [sub(e) for e in node.expressions])
        if kind not in NUMERIC + (TEXT,):
            raise Unsupported(f"GREATEST / LEAST of {kind}")
        functions = [v.fn for v in values]

        def fn(row):
            best = None
            for value in functions:
                v = value(row)
                if v is not None and (best is None or (_order(v, best) > 0 if greatest else _order(v, best) < 0)):
                    best = v
            return best
        return Node(fn, kind)

    return build


# --- functions of doubles (math calls the C library's exp, log and sqrt, as DuckDB does)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def _ln(x: float) -> float:
    if x > 0 or x != x:
        return math.log(x)
    return -INF if x == 0 else NAN


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0 or x != x else NAN


def _math(function: Callable[[float], float]) -> Callable:
    def build(node: exp.Func, sub: Sub, kinds, context) -> Node:
        inner = sub(node.this)
        if inner.kind not in NUMERIC + (NULL,):
            raise Unsupported(f"{type(node).__name__} of {inner.kind}")
        fn = inner.fn
        return Node(lambda row: None if (v := fn(row)) is None else function(float(v)), DOUBLE)

    return build


def _isnan(node: exp.IsNan, sub: Sub, kinds, context) -> Node:
    inner = sub(node.this)
    if inner.kind not in NUMERIC + (NULL,):
        raise Unsupported(f"ISNAN of {inner.kind}")
    fn = inner.fn
    return Node(lambda row: None if (v := fn(row)) is None else v != v, BOOL)


def _cast(node: exp.Cast, sub: Sub, kinds, context) -> Node:
    target = node.to.this
    inner = sub(node.this)
    fn = inner.fn
    if target == exp.DataType.Type.DOUBLE:
        if inner.kind == DECIMAL:  # an exact decimal literal → the nearest double, as float() reads it
            return _const(float(fn({})), DOUBLE)
        if inner.kind in (INT, SMALL, DOUBLE, FLOAT, BOOL, NULL):
            return Node(lambda row: None if (v := fn(row)) is None else float(v), DOUBLE)
    elif target == exp.DataType.Type.FLOAT and inner.kind in (DOUBLE, FLOAT, NULL):
        return Node(lambda row: None if (v := fn(row)) is None else _float32(v), FLOAT)
    elif target == exp.DataType.Type.BIGINT and inner.kind in (INT, SMALL, NULL):
        return Node(fn, INT)
    elif target == exp.DataType.Type.BIGINT and inner.kind == HUGE:
        return Node(lambda row: None if (v := fn(row)) is None else _in_bigint(v), INT)
    elif target == exp.DataType.Type.INT128:
        if inner.kind in (INT, HUGE, NULL):
            return Node(fn, HUGE)
        if isinstance(node.this, exp.Literal) and node.this.is_string and node.this.this.lstrip("-").isdigit():
            return _const(_check_huge(int(node.this.this)), HUGE)
    elif target in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT):
        if inner.kind in (TEXT, NULL):
            return Node(fn, TEXT)
        if inner.kind in INTEGERS:
            return Node(lambda row: None if (v := fn(row)) is None else str(v), TEXT)
    elif target == exp.DataType.Type.BOOLEAN and inner.kind in (BOOL, NULL):
        return Node(fn, BOOL)
    raise Unsupported(f"CAST of {inner.kind} AS {target}")


def _float32(value: float) -> float:
    """The nearest float32 (IEEE round to nearest even, as C's conversion); out of its range DuckDB decides."""
    try:
        return _FLOAT32.unpack(_FLOAT32.pack(value))[0]
    except OverflowError:
        raise Fallback from None


def _in_bigint(value: int) -> int:
    if -(2**63) <= value < 2**63:
        return value
    raise Fallback  # DuckDB: out of range for BIGINT


def _concatenate(node: exp.DPipe, sub: Sub, kinds, context) -> Node:
    """`a || b` of two texts: NULL when either is."""
    left, right = sub(node.this), sub(node.expression)
    if left.kind not in (TEXT, NULL) or right.kind not in (TEXT, NULL):
        raise Unsupported(f"|| of {left.kind} and {right.kind}")
    lf, rf = left.fn, right.fn

    def fn(row):
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else a + b
    return Node(fn, TEXT)


def _struct_extract(node: exp.StructExtract, sub: Sub, kinds, context) -> Node:
    field = node.expression
    if not (isinstance(field, exp.Literal) and field.is_string):
        raise Unsupported("STRUCT_EXTRACT of a field that is not named")
    return _field(sub(node.this), field.this)


def _fingerprint(context: Context, sub: Sub, argument: exp.Expression) -> Node:
    inner = sub(argument)
    if inner.kind not in (TEXT, NULL):
        raise Unsupported(f"FARM_FINGERPRINT of {inner.kind}")
    fn, cache = inner.fn, context.fingerprints

    def fingerprint(row):
        value = fn(row)
        if value is None:
            return None
        known = cache.get(value)
        if known is None:
            known = fingerprint64(pa.array([value], pa.string()))[0].as_py()
            if len(cache) < 100_000:
                cache[value] = known
        return known
    return Node(fingerprint, INT)


def _farm_fingerprint(node: exp.FarmFingerprint, sub: Sub, kinds, context) -> Node:
    if len(node.expressions) != 1:
        raise Unsupported("FARM_FINGERPRINT of several values")
    return _fingerprint(context, sub, node.expressions[0])


def _anonymous(node: exp.Anonymous, sub: Sub, kinds, context) -> Node:
    if node.name.casefold() in (FINGERPRINT_MACRO.casefold(), "farm_fingerprint") and len(node.expressions) == 1:
        return _fingerprint(context, sub, node.expressions[0])
    raise Unsupported(f"function {node.name}")


# --- lists and structs


def _array(node: exp.Array, sub: Sub, kinds, context) -> Node:
    items, kind = _unify([sub(e) for e in node.expressions])
    functions = [i.fn for i in items]
    return Node(lambda row: [f(row) for f in functions], ("LIST", kind))


def _struct(node: exp.Struct, sub: Sub, kinds, context) -> Node:
    fields = []
    for entry in node.expressions:
        if not isinstance(entry, exp.PropertyEQ):
            raise Unsupported("an unnamed STRUCT field")
        fields.append((entry.this.name, sub(entry.expression)))
    functions = [(name, f.fn) for name, f in fields]
    kind = ("STRUCT", tuple((name, f.kind) for name, f in fields))
    return Node(lambda row: {name: f(row) for name, f in functions}, kind)


def _bracket(node: exp.Bracket, sub: Sub, kinds, context) -> Node:
    inner = sub(node.this)
    index = node.expressions[0] if len(node.expressions) == 1 else None
    if not (isinstance(inner.kind, tuple) and inner.kind[0] == "LIST" and isinstance(index, exp.Literal)
            and not index.is_string and str(index.this).isdigit()):
        raise Unsupported("an index other than a positive number into a list")
    position, fn = int(index.this), inner.fn  # sqlglot reads DuckDB's 1-based index as 0-based

    def item(row):
        values = fn(row)
        return None if values is None or position >= len(values) else values[position]
    return Node(item, inner.kind[1])


def _dot(node: exp.Dot, sub: Sub, kinds, context) -> Node:
    return _field(sub(node.this), node.expression.name)


def _field(inner: Node, name: str) -> Node:
    if not (isinstance(inner.kind, tuple) and inner.kind[0] == "STRUCT"):
        raise Unsupported("a field of something other than a STRUCT")
    fields = {n.casefold(): (n, k) for n, k in inner.kind[1]}
    if name.casefold() not in fields:
        raise Unsupported(f"no field {name}")
    real, kind = fields[name.casefold()]
    fn = inner.fn
    return Node(lambda row: None if (v := fn(row)) is None else v[real], kind)


def _sort_order(a: Any, b: Any) -> int:
    """list_sort's ascending order, NULLs last; STRUCTs field by field."""
    if a is None or b is None:
        return (a is None) - (b is None)
    if isinstance(a, dict):
        for x, y in zip(a.values(), b.values()):
            order = _sort_order(x, y)
            if order:
                return order
        return 0
    return _order(a, b)


def _array_sort(node: exp.ArraySort, sub: Sub, kinds, context) -> Node:
    if node.expression is not None:
        raise Unsupported("list_sort with a sort order")
    inner = sub(node.this)
    if not (isinstance(inner.kind, tuple) and inner.kind[0] == "LIST"):
        raise Unsupported("list_sort of something other than a list")
    element = inner.kind[1]
    simple = element in NUMERIC + (TEXT,) or (isinstance(element, tuple) and element[0] == "STRUCT"
                                             and all(k in NUMERIC + (TEXT,) for _, k in element[1]))
    if not simple:
        raise Unsupported(f"list_sort of {element}")
    fn, key = inner.fn, cmp_to_key(_sort_order)
    return Node(lambda row: None if (v := fn(row)) is None else sorted(v, key=key), inner.kind)


NODES: dict[type, Callable[..., Node]] = {
    exp.Literal: _literal, exp.Column: _column, exp.Paren: _paren, exp.Neg: _neg,
    exp.Add: _arithmetic(operator.add), exp.Sub: _arithmetic(operator.sub), exp.Mul: _arithmetic(operator.mul), exp.Div: _arithmetic(None), exp.Mod: _arithmetic(None),
    exp.DPipe: _concatenate, exp.StructExtract: _struct_extract,
    **{kind: _comparison for kind in _COMPARISONS},
    exp.And: _logic, exp.Or: _logic, exp.Not: _not, exp.Is: _is, exp.Boolean: _boolean, exp.Null: _null,
    exp.Case: _case, exp.Coalesce: _coalesce, exp.Greatest: _extreme(True), exp.Least: _extreme(False),
    exp.Exp: _math(_exp), exp.Ln: _math(_ln), exp.Sqrt: _math(_sqrt), exp.IsNan: _isnan, exp.Cast: _cast,
    exp.FarmFingerprint: _farm_fingerprint, exp.Anonymous: _anonymous,
    exp.Array: _array, exp.Struct: _struct, exp.Bracket: _bracket, exp.Dot: _dot, exp.ArraySort: _array_sort,
}
