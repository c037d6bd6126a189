"""Column-wise evaluators of comparisons, logic, conditionals, text and FARM_FINGERPRINT: the rules of
toolkit.serve.evaluate_logic over numpy arrays (NULLs as a validity mask, three-valued AND/OR, NaN equal to itself
and above every number)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from toolkit.serve.columns import (
    Col,
    ColumnNode,
    ColumnSub,
    both_valid,
    constant_node,
    dtype,
    from_python,
    placeholder,
    python_values,
)
from toolkit.serve.columns_numeric import to_double_node
from toolkit.serve.evaluate_logic import case_of_constants
from toolkit.serve.evaluate_types import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    NULL,
    NUMERIC,
    TEXT,
    Context,
    Unsupported,
    unified_kind,
)
from toolkit.warehouse.farmhash import fingerprint64
from toolkit.warehouse.farmhash_sql import MACRO_NAME as FINGERPRINT_MACRO

# --- comparisons (DuckDB orders NaN above every number and equal to itself)


def _nan_equal(a, b):
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _nan_greater(a, b):
    return (a > b) | (np.isnan(a) & ~np.isnan(b))


_DOUBLE_TESTS: dict[type, Callable[[Any, Any], Any]] = {
    exp.EQ: _nan_equal, exp.NEQ: lambda a, b: ~_nan_equal(a, b), exp.GT: _nan_greater,
    exp.GTE: lambda a, b: _nan_greater(a, b) | _nan_equal(a, b), exp.LT: lambda a, b: _nan_greater(b, a),
    exp.LTE: lambda a, b: _nan_greater(b, a) | _nan_equal(a, b)}
_PLAIN_TESTS: dict[type, Callable[[Any, Any], Any]] = {
    exp.EQ: np.equal, exp.NEQ: np.not_equal, exp.GT: np.greater, exp.GTE: np.greater_equal, exp.LT: np.less,
    exp.LTE: np.less_equal}


def _comparison(node: exp.Binary, sub: ColumnSub, kinds, context) -> ColumnNode:
    left, right = sub(node.this), sub(node.expression)
    pair = {DOUBLE if k == FLOAT else k for k in (left.kind, right.kind)} - {NULL}  # FLOAT → DOUBLE: exact
    if not (pair <= set(NUMERIC) or len(pair) <= 1 and pair <= {TEXT, BOOL, INT, DOUBLE}):
        raise Unsupported(f"a comparison of {left.kind} and {right.kind}")
    if NULL in (left.kind, right.kind):
        return constant_node(None, BOOL)
    double = DOUBLE in pair
    if double and len(pair) > 1:
        left, right = to_double_node(left), to_double_node(right)
    test, lf, rf = (_DOUBLE_TESTS if double else _PLAIN_TESTS)[type(node)], left.fn, right.fn

    def compare(batch):
        a, b = lf(batch), rf(batch)
        result = test(a.values, b.values)
        if not isinstance(result, np.ndarray) or result.dtype != np.bool_:
            result = np.asarray(result, dtype=bool) if isinstance(result, np.ndarray) else bool(result)
        return Col(result, both_valid(a, b))
    return ColumnNode(compare, BOOL)


# --- logic


def _truth(col: Col) -> Any:
    """True where the value is TRUE (not NULL, not FALSE)."""
    return col.values if col.valid is None else np.logical_and(col.values, col.valid)


def _falsity(col: Col) -> Any:
    """True where the value is FALSE (not NULL, not TRUE)."""
    false = np.logical_not(col.values)
    return false if col.valid is None else np.logical_and(false, col.valid)


def _logic(node: exp.Connector, sub: ColumnSub, kinds, context) -> ColumnNode:
    left, right = sub(node.this), sub(node.expression)
    for side in (left, right):
        if side.kind not in (BOOL, NULL):
            raise Unsupported(f"{type(node).__name__} of {side.kind}")
    lf, rf, conjunction = left.fn, right.fn, isinstance(node, exp.And)

    def fn(batch):
        a, b = lf(batch), rf(batch)
        known = both_valid(a, b)
        if conjunction:  # FALSE if either is FALSE, else NULL if either is NULL, else TRUE
            decided = np.logical_or(_falsity(a), _falsity(b))
            values = np.logical_and(_truth(a), _truth(b))
        else:  # TRUE if either is TRUE, else NULL if either is NULL, else FALSE
            decided = np.logical_or(_truth(a), _truth(b))
            values = decided
        valid = None if known is None else np.logical_or(decided, known)
        return Col(values if isinstance(values, np.ndarray) else bool(values), valid)
    return ColumnNode(fn, BOOL)


def _not(node: exp.Not, sub: ColumnSub, kinds, context) -> ColumnNode:
    inner = sub(node.this)
    if inner.kind not in (BOOL, NULL):
        raise Unsupported(f"NOT {inner.kind}")
    if inner.kind == NULL:
        return constant_node(None, BOOL)
    fn = inner.fn

    def negate(batch):
        col = fn(batch)
        return Col(np.logical_not(col.values), col.valid)
    return ColumnNode(negate, BOOL)


def _is(node: exp.Is, sub: ColumnSub, kinds, context) -> ColumnNode:
    if not isinstance(node.expression, exp.Null):
        raise Unsupported("IS other than IS NULL")
    inner = sub(node.this)
    if isinstance(inner.kind, tuple):
        raise Unsupported("IS NULL of a list or struct")
    fn = inner.fn

    def is_null(batch):
        col = fn(batch)
        return Col(np.zeros(batch.n, dtype=bool) if col.valid is None else ~col.valid)
    return ColumnNode(is_null, BOOL)


def _boolean(node: exp.Boolean, sub: ColumnSub, kinds, context) -> ColumnNode:
    return constant_node(bool(node.this), BOOL)


def _null(node: exp.Null, sub: ColumnSub, kinds, context) -> ColumnNode:
    return constant_node(None, NULL)


# --- conditionals (branches evaluated only on the rows that take them)


def _scalar_kind(kind: Any) -> None:
    if isinstance(kind, tuple):
        raise Unsupported("a list or struct chosen by CASE / COALESCE")


def _unified(nodes: list[ColumnNode]) -> tuple[list[ColumnNode], Any]:
    kind = unified_kind([n.kind for n in nodes])
    _scalar_kind(kind)
    if kind == DOUBLE:
        nodes = [to_double_node(n) for n in nodes]
    return nodes, kind


def _assign(values: np.ndarray, valid: np.ndarray, rows: np.ndarray, col: Col, kind: Any) -> None:
    """values[rows], valid[rows] = the column's, in place."""
    if kind == NULL:
        valid[rows] = False
        return
    source = col.values
    values[rows] = source[rows] if isinstance(source, np.ndarray) else source
    valid[rows] = True if col.valid is None else col.valid[rows]


def _case(node: exp.Case, sub: ColumnSub, kinds, context) -> ColumnNode:
    if node.this is not None:
        raise Unsupported("CASE x WHEN …")
    conditions = [sub(branch.this) for branch in node.args["ifs"]]
    for condition in conditions:
        if condition.kind not in (BOOL, NULL):
            raise Unsupported(f"a CASE condition of type {condition.kind}")
    default = node.args.get("default")
    values, kind = _unified([sub(b.args["true"]) for b in node.args["ifs"]]
                            + [sub(default) if default is not None else constant_node(None, NULL)])
    lookup = _case_lookup(node, sub, values)
    if lookup is not None:
        return lookup
    branches = [(c.fn, v.fn, v.kind) for c, v in zip(conditions, values[:-1]) if c.kind != NULL]
    otherwise, otherwise_kind = values[-1].fn, values[-1].kind
    fill = placeholder(kind)

    def fn(batch):
        n = batch.n
        out = np.full(n, fill, dtype=dtype(kind))
        valid = np.zeros(n, dtype=bool)
        open_rows = np.ones(n, dtype=bool)  # rows no branch has taken yet
        for condition, value, value_kind in branches:
            taken = _truth(condition(batch)) & open_rows
            if not taken.any():
                continue
            _assign(out, valid, taken, value(batch), value_kind)
            open_rows &= ~taken
            if not open_rows.any():
                return Col(out, None if valid.all() else valid)
        _assign(out, valid, open_rows, otherwise(batch), otherwise_kind)
        return Col(out, None if valid.all() else valid)
    return ColumnNode(fn, kind)


def _case_lookup(node: exp.Case, sub: ColumnSub, values: list[ColumnNode]) -> ColumnNode | None:
    """A CASE of a text's constants (case_of_constants): one dictionary look-up per row instead of a comparison per
    branch; a NULL x matches no branch."""
    found = case_of_constants(node, [(v.constant, v.value) for v in values])
    if found is None:
        return None
    subject, table = found
    key = sub(subject)
    if key.kind != TEXT:
        return None
    fn, kind, default = key.fn, unified_kind([v.kind for v in values]), values[-1].value

    def look_up(batch):
        texts = python_values(fn(batch), batch.n)
        return from_python([default if t is None else table.get(t, default) for t in texts], kind)
    return ColumnNode(look_up, kind)


def _coalesce(node: exp.Coalesce, sub: ColumnSub, kinds, context) -> ColumnNode:
    values, kind = _unified([sub(node.this)] + [sub(e) for e in node.expressions])
    parts = [(v.fn, v.kind) for v in values]
    fill = placeholder(kind)

    def fn(batch):
        first, first_kind = parts[0]
        col = first(batch)
        if col.valid is None and first_kind != NULL:
            return col
        n = batch.n
        out = np.full(n, fill, dtype=dtype(kind))
        valid = np.zeros(n, dtype=bool)
        _assign(out, valid, np.ones(n, dtype=bool), col, first_kind)
        for value, value_kind in parts[1:]:
            missing = ~valid
            if not missing.any():
                break
            _assign(out, valid, missing, value(batch), value_kind)
        return Col(out, None if valid.all() else valid)
    return ColumnNode(fn, kind)


def _concatenate(node: exp.DPipe, sub: ColumnSub, kinds, context) -> ColumnNode:
    left, right = sub(node.this), sub(node.expression)
    if left.kind not in (TEXT, NULL) or right.kind not in (TEXT, NULL):
        raise Unsupported(f"|| of {left.kind} and {right.kind}")
    if NULL in (left.kind, right.kind):
        return constant_node(None, TEXT)
    lf, rf = left.fn, right.fn

    def fn(batch):
        a, b = lf(batch), rf(batch)
        if not isinstance(a.values, np.ndarray) and not isinstance(b.values, np.ndarray):
            return Col(a.values + b.values, both_valid(a, b))
        return Col(np.add(a.values, b.values, dtype=object), both_valid(a, b))
    return ColumnNode(fn, TEXT)


def _fingerprint(context: Context, sub: ColumnSub, argument: exp.Expression) -> ColumnNode:
    inner = sub(argument)
    if inner.kind not in (TEXT, NULL):
        raise Unsupported(f"FARM_FINGERPRINT of {inner.kind}")
    if inner.kind == NULL:
        return constant_node(None, INT)
    fn, cache = inner.fn, context.fingerprints

    def fingerprint(batch):
        col = fn(batch)
        texts = python_values(col, batch.n)
        unknown = list({t for t in texts if t is not None and t not in cache})
        if unknown:
            hashes = fingerprint64(pa.array(unknown, pa.string())).to_pylist()
            if len(cache) < 100_000:
                cache.update(zip(unknown, hashes))
            else:
                known = dict(zip(unknown, hashes))
                return Col(np.array([0 if t is None else cache.get(t, known.get(t)) for t in texts],
                                    dtype=np.int64), col.valid)
        return Col(np.array([0 if t is None else cache[t] for t in texts], dtype=np.int64), col.valid)
    return ColumnNode(fingerprint, INT)


def _farm_fingerprint(node: exp.FarmFingerprint, sub: ColumnSub, kinds, context) -> ColumnNode:
    if len(node.expressions) != 1:
        raise Unsupported("FARM_FINGERPRINT of several values")
    return _fingerprint(context, sub, node.expressions[0])


def _anonymous(node: exp.Anonymous, sub: ColumnSub, kinds, context) -> ColumnNode:
    if node.name.casefold() in (FINGERPRINT_MACRO.casefold(), "farm_fingerprint") and len(node.expressions) == 1:
        return _fingerprint(context, sub, node.expressions[0])
    raise Unsupported(f"function {node.name}")


LOGIC_COLUMNS: dict[type, Callable[..., ColumnNode]] = {
    **{kind: _comparison for kind in _PLAIN_TESTS},
    exp.And: _logic, exp.Or: _logic, exp.Not: _not, exp.Is: _is, exp.Boolean: _boolean, exp.Null: _null,
    exp.Case: _case, exp.Coalesce: _coalesce, exp.DPipe: _concatenate, exp.FarmFingerprint: _farm_fingerprint,
    exp.Anonymous: _anonymous,
}
