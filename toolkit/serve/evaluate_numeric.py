"""Node evaluators of literals, columns, arithmetic, math functions and casts, each as DuckDB computes it."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from toolkit.serve.evaluate_code import binary, builtin, call, compare, load, strict
from toolkit.serve.evaluate_types import (
    BOOL,
    DECIMAL,
    DOUBLE,
    FLOAT,
    FLOAT32,
    HUGE,
    INF,
    INT,
    INT_BOUND,
    INTEGERS,
    JOINED,
    NAN,
    NULL,
    NUMERIC,
    SMALL,
    TEXT,
    Fallback,
    Node,
    Sub,
    Unsupported,
    check_huge,
    check_int,
    const,
)

# --- literals and columns


def literal_node(node: exp.Literal, sub: Sub, kinds, context) -> Node:
    if node.is_string:
        return const(node.this, TEXT)
    text = node.this
    if "e" in text.lower():
        return const(float(text), DOUBLE)
    if "." in text:
        return const(text, DECIMAL)  # only as CAST(… AS DOUBLE)'s operand
    value = int(text)
    if abs(value) >= INT_BOUND:
        raise Unsupported("a large integer literal")
    return const(value, INT)


def _column(node: exp.Column, sub: Sub, kinds, context) -> Node:
    if isinstance(node.this, exp.Star):
        raise Unsupported("* inside an expression")
    key = node.name.casefold()
    if node.table and node.table.casefold() + JOINED + key in kinds:
        key = node.table.casefold() + JOINED + key
    if key not in kinds:
        raise Unsupported(f"column {node.name} is not known here")
    variable = context.variables.get(key)
    return Node(lambda row: row[key], kinds[key], code=None if variable is None else load(variable))


# --- arithmetic (IEEE doubles: Python's float is the same binary64, and its + - * round the same way)


def truncated_modulo(a: int, b: int) -> int:
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


_OPERATORS: dict[Any, type[ast.operator]] = {operator.add: ast.Add, operator.sub: ast.Sub, operator.mul: ast.Mult}


def _as_double(code: ast.expr, kind: Any) -> ast.expr:
    return code if kind == DOUBLE else builtin("float", code)


def _arithmetic(op: Callable[[Any, Any], Any]) -> Callable:
    def build(node: exp.Binary, sub: Sub, kinds, context) -> Node:
        left, right = sub(node.this), sub(node.expression)
        codes = [left.code, right.code]
        if left.kind not in NUMERIC + (NULL,) or right.kind not in NUMERIC + (NULL,) or SMALL in (left.kind,
                                                                                                    right.kind):
            raise Unsupported(f"{type(node).__name__} of {left.kind} and {right.kind}")
        lf, rf = left.fn, right.fn
        if isinstance(node, exp.Mod):
            if left.kind not in INTEGERS + (NULL,) or right.kind not in INTEGERS + (NULL,):
                raise Unsupported("% of a DOUBLE")
            huge = HUGE in (left.kind, right.kind)
            check = check_huge if huge else check_int

            def mod_fn(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else check(truncated_modulo(a, b))
            code = strict(codes, lambda a, b: call(context.ref(check), call(context.ref(truncated_modulo), a, b)))
            return Node(mod_fn, HUGE if huge else INT, code=code)
        if isinstance(node, exp.Div):
            if HUGE in (left.kind, right.kind):
                raise Unsupported("INT128 division")

            def fn(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else _divide(float(a), float(b))

            def divide(a: ast.expr, b: ast.expr) -> ast.expr:
                a, b = _as_double(a, left.kind), _as_double(b, right.kind)
                if right.constant and right.kind in (INT, DOUBLE) and rf({}) != 0:  # no division by zero to catch
                    return binary(a, ast.Div(), b)
                return call(context.ref(_divide), a, b)
            return Node(fn, DOUBLE, code=strict(codes, divide))
        if left.kind in INTEGERS + (NULL,) and right.kind in INTEGERS + (NULL,):
            huge = HUGE in (left.kind, right.kind)
            check = check_huge if huge else check_int

            def int_fn(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else check(op(a, b))
            code = strict(codes, lambda a, b: call(context.ref(check), binary(a, _OPERATORS[op](), b)))
            return Node(int_fn, HUGE if huge else INT, code=code)

        if left.kind == DOUBLE and right.kind == DOUBLE:  # no conversions; a constant operand read once
            code = strict(codes, lambda a, b: binary(a, _OPERATORS[op](), b))
            if right.constant:
                c = rf({})

                def by_constant(row):
                    a = lf(row)
                    return None if a is None else op(a, c)
                return Node(by_constant, DOUBLE, code=code)

            def doubles(row):
                a = lf(row)
                if a is None:
                    return None
                b = rf(row)
                return None if b is None else op(a, b)
            return Node(doubles, DOUBLE, code=code)

        if HUGE in (left.kind, right.kind):
            raise Unsupported("INT128 arithmetic with a DOUBLE")

        def double_fn(row):
            a = lf(row)
            if a is None:
                return None
            b = rf(row)
            return None if b is None else op(float(a), float(b))
        code = strict(codes, lambda a, b: binary(builtin("float", a), _OPERATORS[op](), builtin("float", b)))
        return Node(double_fn, DOUBLE, code=code)

    return build


def _neg(node: exp.Neg, sub: Sub, kinds, context) -> Node:
    inner = sub(node.this)
    if inner.kind not in (INT, HUGE, DOUBLE):
        raise Unsupported(f"-{inner.kind}")
    fn = inner.fn
    if inner.constant:  # a negative literal
        return const(None if (value := fn({})) is None else -value, inner.kind)
    return Node(lambda row: None if (v := fn(row)) is None else -v, inner.kind,
                code=strict([inner.code], lambda v: ast.UnaryOp(ast.USub(), v)))


def _paren(node: exp.Paren, sub: Sub, kinds, context) -> Node:
    return sub(node.this)


# --- functions of doubles (math calls the C library's exp, log and sqrt, as DuckDB does)


def exp_value(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return INF


def ln_value(x: float) -> float:
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
        code = strict([inner.code], lambda v: call(context.ref(function), _as_double(v, inner.kind)))
        return Node(lambda row: None if (v := fn(row)) is None else function(float(v)), DOUBLE, code=code)

    return build


def _isnan(node: exp.IsNan, sub: Sub, kinds, context) -> Node:
    inner = sub(node.this)
    if inner.kind not in NUMERIC + (NULL,):
        raise Unsupported(f"ISNAN of {inner.kind}")
    fn = inner.fn
    return Node(lambda row: None if (v := fn(row)) is None else v != v, BOOL,
                code=strict([inner.code], lambda v: compare(v, ast.NotEq(), v)))


def _cast(node: exp.Cast, sub: Sub, kinds, context) -> Node:
    target = node.to.this
    inner = sub(node.this)
    fn, code = inner.fn, inner.code

    def applied(function: Callable[[ast.expr], ast.expr]) -> ast.expr | None:
        return strict([code], function)
    if target == exp.DataType.Type.DOUBLE:
        if inner.kind == DECIMAL:  # an exact decimal literal → the nearest double, as float() reads it
            return const(float(fn({})), DOUBLE)
        if inner.kind in (INT, SMALL, DOUBLE, FLOAT, BOOL, NULL):
            return Node(lambda row: None if (v := fn(row)) is None else float(v), DOUBLE,
                        code=applied(lambda v: builtin("float", v)))
    elif target == exp.DataType.Type.FLOAT and inner.kind in (DOUBLE, FLOAT, NULL):
        return Node(lambda row: None if (v := fn(row)) is None else _float32(v), FLOAT,
                    code=applied(lambda v: call(context.ref(_float32), v)))
    elif target == exp.DataType.Type.BIGINT and inner.kind in (INT, SMALL, NULL):
        return Node(fn, INT, code=code)
    elif target == exp.DataType.Type.BIGINT and inner.kind == HUGE:
        return Node(lambda row: None if (v := fn(row)) is None else _in_bigint(v), INT,
                    code=applied(lambda v: call(context.ref(_in_bigint), v)))
    elif target == exp.DataType.Type.INT128:
        if inner.kind in (INT, HUGE, NULL):
            return Node(fn, HUGE, code=code)
        if isinstance(node.this, exp.Literal) and node.this.is_string and node.this.this.lstrip("-").isdigit():
            return const(check_huge(int(node.this.this)), HUGE)
    elif target in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT):
        if inner.kind in (TEXT, NULL):
            return Node(fn, TEXT, code=code)
        if inner.kind in INTEGERS:
            return Node(lambda row: None if (v := fn(row)) is None else str(v), TEXT,
                        code=applied(lambda v: builtin("str", v)))
    elif target == exp.DataType.Type.BOOLEAN and inner.kind in (BOOL, NULL):
        return Node(fn, BOOL, code=code)
    raise Unsupported(f"CAST of {inner.kind} AS {target}")


def _float32(value: float) -> float:
    """The nearest float32 (IEEE round to nearest even, as C's conversion); out of its range DuckDB decides."""
    try:
        return FLOAT32.unpack(FLOAT32.pack(value))[0]
    except OverflowError:
        raise Fallback from None


def _in_bigint(value: int) -> int:
    if -(2**63) <= value < 2**63:
        return value
    raise Fallback  # DuckDB: out of range for BIGINT


NUMERIC_NODES: dict[type, Callable[..., Node]] = {
    exp.Literal: literal_node, exp.Column: _column, exp.Paren: _paren, exp.Neg: _neg,
    exp.Add: _arithmetic(operator.add), exp.Sub: _arithmetic(operator.sub), exp.Mul: _arithmetic(operator.mul),
    exp.Div: _arithmetic(None), exp.Mod: _arithmetic(None),
    exp.Exp: _math(exp_value), exp.Ln: _math(ln_value), exp.Sqrt: _math(_sqrt), exp.IsNan: _isnan, exp.Cast: _cast,
}
