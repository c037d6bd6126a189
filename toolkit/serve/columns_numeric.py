"""Column-wise evaluators of literals, columns, arithmetic, math functions and casts: the rules of
toolkit.serve.evaluate_numeric (the same result kinds, the same IEEE operations) applied to numpy arrays.

Elementwise + − × ÷ of float64 arrays are the IEEE operations Python's floats make, so they give the same bits;
`exp` and `ln` are called per value from Python's math module (the C library's, as DuckDB's and the row-wise
evaluator's), since numpy's own vectorized exp and log may differ in the last bit. Integer arithmetic runs in int64
only where no operand or result reaches 2**31 (else Fallback: the row-wise evaluator, with Python's exact integers,
decides); INT128 runs on Python integers."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlglot import exp

from toolkit.serve.columns import Col, ColumnNode, ColumnSub, both_valid, constant_node
from toolkit.serve.evaluate_numeric import exp_value, ln_value, truncated_modulo
from toolkit.serve.evaluate_numeric import literal_node as row_literal
from toolkit.serve.evaluate_types import (
    BOOL,
    DECIMAL,
    DOUBLE,
    FLOAT,
    HUGE,
    HUGE_BOUND,
    INT,
    INT_BOUND,
    INTEGERS,
    JOINED,
    NULL,
    NUMERIC,
    SMALL,
    TEXT,
    Fallback,
    Unsupported,
    check_huge,
)


def checked_values(values: Any, valid: np.ndarray | None) -> Any:
    """The values where they are not NULL (a constant as itself)."""
    if not isinstance(values, np.ndarray) or valid is None:
        return values
    return values[valid]


def check_int_col(values: Any, valid: np.ndarray | None) -> None:
    """Fallback unless every value is strictly within ±2**31, as toolkit.serve.evaluate_types.check_int."""
    seen = checked_values(values, valid)
    if isinstance(seen, np.ndarray):
        if seen.size and (seen.max() >= INT_BOUND or seen.min() <= -INT_BOUND):
            raise Fallback
    elif not -INT_BOUND < seen < INT_BOUND:
        raise Fallback


def check_huge_col(values: Any, valid: np.ndarray | None) -> None:
    """Fallback unless every value is within INT128's range."""
    seen = checked_values(values, valid)
    if isinstance(seen, np.ndarray):
        if seen.size and ((seen >= HUGE_BOUND) | (seen < -HUGE_BOUND)).any():
            raise Fallback
    else:
        check_huge(seen)


def as_double(col: Col) -> Col:
    values = col.values
    if isinstance(values, np.ndarray):
        return Col(values.astype(np.float64, copy=False), col.valid)
    return Col(float(values), col.valid)


def to_double_node(node: ColumnNode) -> ColumnNode:
    """An integer column as DOUBLE (int64 → float64 rounds to nearest, as Python's float())."""
    if node.kind == HUGE:
        raise Unsupported("an INT128 converted to DOUBLE")
    if node.kind not in INTEGERS:
        return node
    if node.constant:
        return constant_node(None if node.value is None else float(node.value), DOUBLE)
    fn = node.fn
    return ColumnNode(lambda batch: as_double(fn(batch)), DOUBLE)


def python_map(function: Callable[[Any], Any], col: Col, result_dtype: Any) -> Col:
    """A Python function applied to each value (and to a constant once)."""
    values = col.values
    if isinstance(values, np.ndarray):
        return Col(np.array([function(v) for v in values.tolist()], dtype=result_dtype), col.valid)
    return Col(function(values), col.valid)


# --- literals and columns


def _literal(node: exp.Literal, sub: ColumnSub, kinds, context) -> ColumnNode:
    row = row_literal(node, None, kinds, context)
    return constant_node(row.fn({}), row.kind)


def _column(node: exp.Column, sub: ColumnSub, kinds, context) -> ColumnNode:
    if isinstance(node.this, exp.Star):
        raise Unsupported("* inside an expression")
    key = node.name.casefold()
    if node.table and node.table.casefold() + JOINED + key in kinds:
        key = node.table.casefold() + JOINED + key
    if key not in kinds:
        raise Unsupported(f"column {node.name} is not known here")
    return ColumnNode(lambda batch: batch[key], kinds[key])


def _paren(node: exp.Paren, sub: ColumnSub, kinds, context) -> ColumnNode:
    return sub(node.this)


# --- arithmetic


def _result_kind(node: exp.Binary, left: Any, right: Any) -> Any:
    """The row-wise evaluator's result kind (toolkit.serve.evaluate_numeric._arithmetic), or Unsupported."""
    if left not in NUMERIC + (NULL,) or right not in NUMERIC + (NULL,) or SMALL in (left, right):
        raise Unsupported(f"{type(node).__name__} of {left} and {right}")
    huge = HUGE in (left, right)
    integers = left in INTEGERS + (NULL,) and right in INTEGERS + (NULL,)
    if isinstance(node, exp.Mod):
        if not integers:
            raise Unsupported("% of a DOUBLE")
        return HUGE if huge else INT
    if isinstance(node, exp.Div):
        if huge:
            raise Unsupported("INT128 division")
        return DOUBLE
    if integers:
        return HUGE if huge else INT
    if huge:
        raise Unsupported("INT128 arithmetic with a DOUBLE")
    return DOUBLE


def _int_modulo(a: Any, b: Any, valid: np.ndarray | None) -> Any:
    if isinstance(b, np.ndarray):
        seen = b if valid is None else b[valid]
        if (seen == 0).any():
            raise Fallback  # DuckDB: division by zero is an error
        b = b if valid is None else np.where(valid, b, 1)
    elif b == 0:
        raise Fallback
    return np.fmod(a, b)  # C's remainder: truncated toward zero, the dividend's sign, as DuckDB's


def _huge_op(modulo: bool, op: Callable[[Any, Any], Any] | None, a: Any, b: Any, valid: np.ndarray | None) -> Any:
    """INT128 arithmetic on object arrays of Python integers (exact), checked to stay within INT128."""
    if modulo:
        if isinstance(b, np.ndarray):
            if valid is not None:
                b = np.where(valid, b, 1)
            if (b == 0).any():
                raise Fallback  # DuckDB: division by zero is an error
        elif b == 0:
            raise Fallback
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
            remainder = np.remainder(np.abs(a), np.abs(b))  # of the magnitudes, with the dividend's sign (C's %)
            values = np.where(a < 0, -remainder, remainder)
        else:
            values = truncated_modulo(a, b)
    else:
        values = op(a, b)
    check_huge_col(values, valid)
    return values


def _arithmetic(op: Callable[[Any, Any], Any] | None) -> Callable:
    def build(node: exp.Binary, sub: ColumnSub, kinds, context) -> ColumnNode:
        left, right = sub(node.this), sub(node.expression)
        kind = _result_kind(node, left.kind, right.kind)
        if NULL in (left.kind, right.kind):
            return constant_node(None, kind)
        lf, rf = left.fn, right.fn
        modulo = isinstance(node, exp.Mod)
        if kind == HUGE:
            def huge_fn(batch):
                a, b = lf(batch), rf(batch)
                valid = both_valid(a, b)
                return Col(_huge_op(modulo, op, a.values, b.values, valid), valid)
            return ColumnNode(huge_fn, HUGE)
        if kind == INT:
            def int_fn(batch):
                a, b = lf(batch), rf(batch)
                valid = both_valid(a, b)
                check_int_col(a.values, valid)  # operands within ±2**31: no int64 overflow
                check_int_col(b.values, valid)
                values = _int_modulo(a.values, b.values, valid) if modulo else op(a.values, b.values)
                check_int_col(values, valid)
                return Col(values, valid)
            return ColumnNode(int_fn, INT)
        divide = isinstance(node, exp.Div)
        operation = operator.truediv if divide else op
        convert = left.kind != DOUBLE or right.kind != DOUBLE or divide

        def double_fn(batch):
            a, b = lf(batch), rf(batch)
            if convert:
                a, b = as_double(a), as_double(b)
            return Col(operation(a.values, b.values), both_valid(a, b))  # IEEE: x/0 is ±inf, 0/0 NaN
        return ColumnNode(double_fn, DOUBLE)

    return build


def _neg(node: exp.Neg, sub: ColumnSub, kinds, context) -> ColumnNode:
    inner = sub(node.this)
    if inner.kind not in (INT, HUGE, DOUBLE):
        raise Unsupported(f"-{inner.kind}")
    fn, kind = inner.fn, inner.kind
    if inner.constant and kind == DOUBLE:  # -0.5e0, as compiled weights are written: folded
        return constant_node(None if inner.value is None else -inner.value, DOUBLE)

    def negate(batch):
        col = fn(batch)
        if kind == INT:  # -(-2**63) is no int64: the row-wise evaluator decides
            seen = checked_values(col.values, col.valid)
            if (np.asarray(seen) == np.iinfo(np.int64).min).any():
                raise Fallback
        return Col(-col.values, col.valid)
    return ColumnNode(negate, kind)


# --- functions of doubles


def _math(function: Callable[[float], float] | None) -> Callable:
    def build(node: exp.Func, sub: ColumnSub, kinds, context) -> ColumnNode:
        inner = sub(node.this)
        if inner.kind not in NUMERIC + (NULL,):
            raise Unsupported(f"{type(node).__name__} of {inner.kind}")
        if inner.kind == NULL:
            return constant_node(None, DOUBLE)
        fn = inner.fn

        def apply(batch):
            col = as_double(fn(batch))
            if function is None:  # sqrt: correctly rounded in IEEE, numpy's and the C library's alike
                return Col(np.sqrt(col.values), col.valid)
            return python_map(function, col, np.float64)
        return ColumnNode(apply, DOUBLE)

    return build


def _isnan(node: exp.IsNan, sub: ColumnSub, kinds, context) -> ColumnNode:
    inner = sub(node.this)
    if inner.kind not in NUMERIC + (NULL,):
        raise Unsupported(f"ISNAN of {inner.kind}")
    if inner.kind == NULL:
        return constant_node(None, BOOL)
    fn, double = inner.fn, inner.kind == DOUBLE

    def isnan(batch):
        col = fn(batch)
        if double:
            return Col(np.isnan(col.values), col.valid)
        return Col(np.zeros(batch.n, dtype=bool) if isinstance(col.values, np.ndarray) else False, col.valid)
    return ColumnNode(isnan, BOOL)


def _cast(node: exp.Cast, sub: ColumnSub, kinds, context) -> ColumnNode:
    target = node.to.this
    inner = sub(node.this)
    fn, kind = inner.fn, inner.kind
    types = exp.DataType.Type

    def same(result_kind: Any) -> ColumnNode:
        return constant_node(None, result_kind) if kind == NULL else ColumnNode(fn, result_kind)

    def mapped(result_kind: Any, convert: Callable[[Col], Col]) -> ColumnNode:
        if kind == NULL:
            return constant_node(None, result_kind)
        if inner.constant:
            try:
                return constant_node(convert(Col(inner.value)).values, result_kind)
            except Fallback:
                pass  # decided per request, as the row-wise evaluator does
        return ColumnNode(lambda batch: convert(fn(batch)), result_kind)

    if target == types.DOUBLE:
        if kind == DECIMAL:  # an exact decimal literal → the nearest double, as float() reads it
            return constant_node(float(inner.value), DOUBLE)
        if kind in (INT, SMALL, BOOL):
            return mapped(DOUBLE, as_double)
        if kind in (DOUBLE, FLOAT, NULL):
            return same(DOUBLE)
    elif target == types.FLOAT and kind in (DOUBLE, FLOAT, NULL):
        return mapped(FLOAT, _to_float32)
    elif target == types.BIGINT and kind in (INT, SMALL, NULL):
        return same(INT)
    elif target == types.BIGINT and kind == HUGE:
        return mapped(INT, _huge_to_bigint)
    elif target == types.INT128:
        if kind in (INT, HUGE, NULL):
            return mapped(HUGE, _to_huge)
        if isinstance(node.this, exp.Literal) and node.this.is_string and node.this.this.lstrip("-").isdigit():
            return constant_node(check_huge(int(node.this.this)), HUGE)
    elif target in (types.VARCHAR, types.TEXT):
        if kind in (TEXT, NULL):
            return same(TEXT)
        if kind in INTEGERS:
            return mapped(TEXT, lambda col: python_map(str, col, object))
    elif target == types.BOOLEAN and kind in (BOOL, NULL):
        return same(BOOL)
    raise Unsupported(f"CAST of {kind} AS {target}")


def _to_float32(col: Col) -> Col:
    """The nearest float32 (the C conversion, round to nearest even); a finite value beyond float32's range is
    left to the row-wise evaluator (as there, to DuckDB)."""
    values = np.asarray(col.values, dtype=np.float64)
    rounded = values.astype(np.float32).astype(np.float64)
    overflow = np.isinf(rounded) & np.isfinite(values)
    if col.valid is not None:
        overflow &= col.valid
    if overflow.any():
        raise Fallback
    return Col(rounded if isinstance(col.values, np.ndarray) else float(rounded), col.valid)


def _huge_to_bigint(col: Col) -> Col:
    seen = checked_values(col.values, col.valid)
    for value in (seen.tolist() if isinstance(seen, np.ndarray) else [seen]):
        if not -(2**63) <= value < 2**63:
            raise Fallback  # DuckDB: out of range for BIGINT
    if not isinstance(col.values, np.ndarray):
        return Col(int(col.values), col.valid)
    values = col.values if col.valid is None else np.where(col.valid, col.values, 0)
    return Col(values.astype(np.int64), col.valid)


def _to_huge(col: Col) -> Col:
    values = col.values
    if isinstance(values, np.ndarray):
        return Col(values.astype(object), col.valid)  # int64 → Python integers
    return Col(int(values), col.valid)


NUMERIC_COLUMNS: dict[type, Callable[..., ColumnNode]] = {
    exp.Literal: _literal, exp.Column: _column, exp.Paren: _paren, exp.Neg: _neg,
    exp.Add: _arithmetic(operator.add), exp.Sub: _arithmetic(operator.sub), exp.Mul: _arithmetic(operator.mul),
    exp.Div: _arithmetic(None), exp.Mod: _arithmetic(None),
    exp.Exp: _math(exp_value), exp.Ln: _math(ln_value), exp.Sqrt: _math(None), exp.IsNan: _isnan, exp.Cast: _cast,
}
