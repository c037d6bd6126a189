"""Node evaluators of comparisons, logic, conditionals, text concatenation and FARM_FINGERPRINT, each as DuckDB
evaluates it (NULLs propagate; NaN equals itself and orders above every number)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from sqlglot import exp

from toolkit.serve.evaluate_code import binary, call, compare, first_present, if_else, is_none, is_true, strict
from toolkit.serve.evaluate_types import (
    BOOL,
    DOUBLE,
    FLOAT,
    INT,
    INTEGERS,
    NULL,
    NUMERIC,
    TEXT,
    Context,
    Node,
    Sub,
    Unsupported,
    const,
    duckdb_order,
    to_double,
    unify,
)
from toolkit.warehouse.farmhash import fingerprint64
from toolkit.warehouse.farmhash_sql import MACRO_NAME as FINGERPRINT_MACRO

# --- comparisons and logic (DuckDB orders NaN above every number and equal to itself)


_COMPARISONS: dict[type, Callable[[int], bool]] = {
    exp.EQ: lambda c: c == 0, exp.NEQ: lambda c: c != 0, exp.GT: lambda c: c > 0, exp.GTE: lambda c: c >= 0,
    exp.LT: lambda c: c < 0, exp.LTE: lambda c: c <= 0}
# Python's own comparisons, which order integers, texts and booleans as DuckDB does (no NaN among them; UTF-8's byte
# order is the code points' order).
_PYTHON_COMPARISONS: dict[type, type[ast.cmpop]] = {
    exp.EQ: ast.Eq, exp.NEQ: ast.NotEq, exp.GT: ast.Gt, exp.GTE: ast.GtE, exp.LT: ast.Lt, exp.LTE: ast.LtE}


def _comparison(node: exp.Binary, sub: Sub, kinds, context) -> Node:
    left, right = sub(node.this), sub(node.expression)
    pair = {DOUBLE if k == FLOAT else k for k in (left.kind, right.kind)} - {NULL}  # FLOAT → DOUBLE: exact
    if not (pair <= set(NUMERIC) or len(pair) <= 1 and pair <= {TEXT, BOOL, INT, DOUBLE}):
        raise Unsupported(f"a comparison of {left.kind} and {right.kind}")
    if DOUBLE in pair and len(pair) > 1:
        left, right = (to_double(left) if left.kind in INTEGERS else left), (
            to_double(right) if right.kind in INTEGERS else right)
    test, lf, rf = _COMPARISONS[type(node)], left.fn, right.fn

    def fn(row):
        a = lf(row)
        if a is None:
            return None
        b = rf(row)
        return None if b is None else test(duckdb_order(a, b))

    def code(a: ast.expr, b: ast.expr) -> ast.expr:
        if DOUBLE in pair:
            return call(context.ref(test), call(context.ref(duckdb_order), a, b))
        return compare(a, _PYTHON_COMPARISONS[type(node)](), b)
    return Node(fn, BOOL, code=strict([left.code, right.code], code))


def _logic(node: exp.Connector, sub: Sub, kinds, context) -> Node:
    left, right = sub(node.this), sub(node.expression)
    for side in (left, right):
        if side.kind not in (BOOL, NULL):
            raise Unsupported(f"{type(node).__name__} of {side.kind}")
    lf, rf, conjunction = left.fn, right.fn, isinstance(node, exp.And)

    combine = _and if conjunction else _or

    def fn(row):
        return combine(lf(row), rf(row))
    code = None if left.code is None or right.code is None else call(context.ref(combine), left.code, right.code)
    return Node(fn, BOOL, code=code)


def _and(a: bool | None, b: bool | None) -> bool | None:
    """Three-valued AND: both sides evaluated, as DuckDB evaluates them."""
    return False if a is False or b is False else (None if a is None or b is None else True)


def _or(a: bool | None, b: bool | None) -> bool | None:
    return True if a is True or b is True else (None if a is None or b is None else False)


def _not(node: exp.Not, sub: Sub, kinds, context) -> Node:
    inner = sub(node.this)
    if inner.kind not in (BOOL, NULL):
        raise Unsupported(f"NOT {inner.kind}")
    fn = inner.fn
    return Node(lambda row: None if (v := fn(row)) is None else not v, BOOL,
                code=strict([inner.code], lambda v: ast.UnaryOp(ast.Not(), v)))


def _is(node: exp.Is, sub: Sub, kinds, context) -> Node:
    if not isinstance(node.expression, exp.Null):
        raise Unsupported("IS other than IS NULL")
    inner = sub(node.this)
    fn = inner.fn
    return Node(lambda row: fn(row) is None, BOOL, code=None if inner.code is None else is_none(inner.code))


def _boolean(node: exp.Boolean, sub: Sub, kinds, context) -> Node:
    return const(bool(node.this), BOOL)


def _null(node: exp.Null, sub: Sub, kinds, context) -> Node:
    return const(None, NULL)


# --- conditionals


def _case(node: exp.Case, sub: Sub, kinds, context) -> Node:
    if node.this is not None:
        raise Unsupported("CASE x WHEN …")
    conditions = [sub(branch.this) for branch in node.args["ifs"]]
    for condition in conditions:
        if condition.kind not in (BOOL, NULL):
            raise Unsupported(f"a CASE condition of type {condition.kind}")
    default = node.args.get("default")
    values, kind = unify([sub(b.args["true"]) for b in node.args["ifs"]]
                          + [sub(default) if default is not None else const(None, NULL)])
    pairs = [(c.fn, v.fn) for c, v in zip(conditions, values[:-1])]
    otherwise = values[-1].fn

    def fn(row):
        for condition, value in pairs:
            if condition(row) is True:
                return value(row)
        return otherwise(row)
    code = _case_lookup(node, sub, values, context)
    if code is None:
        code = _case_code([c.code for c in conditions], [v.code for v in values])
    return Node(fn, kind, code=code)


def case_of_constants(node: exp.Case, constants: list[tuple[bool, Any]]) -> tuple[exp.Expression, dict] | None:
    """`CASE WHEN x = 'a' THEN c1 WHEN x = 'b' THEN c2 … ELSE c END` of one expression and constants (a category's
    weight): x and the table {'a': c1, 'b': c2, …}, where the first branch of a value wins; None for another CASE.
    `constants`: whether each branch's value (the ELSE last) is a constant, and which."""
    subject, table = None, {}
    for branch, (constant, value) in zip(node.args["ifs"], constants):
        condition = branch.this
        if not (isinstance(condition, exp.EQ) and isinstance(condition.expression, exp.Literal)
                and condition.expression.is_string and constant):
            return None
        if subject is None:
            subject = condition.this
        elif condition.this != subject:
            return None
        table.setdefault(condition.expression.this, value)
    if subject is None or not constants[-1][0]:
        return None
    return subject, table


def _case_lookup(node: exp.Case, sub: Sub, values: list[Node], context: Context) -> ast.expr | None:
    """A CASE of a text's constants (case_of_constants) as one dictionary look-up, `{'a': c1, …}.get(x, c)`: a NULL
    x matches no branch (toolkit.serve.columns_logic does the same column-wise)."""
    found = case_of_constants(node, [(v.constant, v.fn({}) if v.constant else None) for v in values])
    if found is None:
        return None
    key = sub(found[0])
    if key.kind != TEXT or key.code is None:
        return None
    return call(context.ref(found[1].get), key.code, values[-1].code)


def _case_code(conditions: list[ast.expr | None], values: list[ast.expr | None]) -> ast.expr | None:
    """`v1 if c1 is True else (v2 if c2 is True else … otherwise)`: each condition in turn, one value."""
    if any(code is None for code in conditions + values):
        return None
    code = values[-1]
    for condition, value in zip(reversed(conditions), reversed(values[:-1])):
        code = if_else(is_true(condition), value, code)
    return code


def _coalesce(node: exp.Coalesce, sub: Sub, kinds, context) -> Node:
    values, kind = unify([sub(node.this)] + [sub(e) for e in node.expressions])
    functions = [v.fn for v in values]

    def fn(row):
        for value in functions:
            result = value(row)
            if result is not None:
                return result
        return None
    return Node(fn, kind, code=first_present([v.code for v in values]))


def _extreme(greatest: bool) -> Callable:
    def build(node: exp.Func, sub: Sub, kinds, context) -> Node:
        values, kind = unify([sub(node.this)] + [sub(e) for e in node.expressions])
        if kind not in NUMERIC + (TEXT,):
            raise Unsupported(f"GREATEST / LEAST of {kind}")
        functions = [v.fn for v in values]

        def extreme(*candidates: Any) -> Any:
            best = None
            for v in candidates:
                if v is not None and (best is None or (duckdb_order(v, best) > 0 if greatest
                                                       else duckdb_order(v, best) < 0)):
                    best = v
            return best

        def fn(row):
            return extreme(*[value(row) for value in functions])
        codes = [v.code for v in values]
        code = None if any(c is None for c in codes) else call(context.ref(extreme), *codes)
        return Node(fn, kind, code=code)

    return build


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
    return Node(fn, TEXT, code=strict([left.code, right.code], lambda a, b: binary(a, ast.Add(), b)))


def _fingerprint(context: Context, sub: Sub, argument: exp.Expression) -> Node:
    inner = sub(argument)
    if inner.kind not in (TEXT, NULL):
        raise Unsupported(f"FARM_FINGERPRINT of {inner.kind}")
    fn, cache = inner.fn, context.fingerprints

    def of_text(value: str) -> int:
        known = cache.get(value)
        if known is None:
            known = fingerprint64(pa.array([value], pa.string()))[0].as_py()
            if len(cache) < 100_000:
                cache[value] = known
        return known

    def fingerprint(row):
        value = fn(row)
        return None if value is None else of_text(value)
    return Node(fingerprint, INT, code=strict([inner.code], lambda v: call(context.ref(of_text), v)))


def _farm_fingerprint(node: exp.FarmFingerprint, sub: Sub, kinds, context) -> Node:
    if len(node.expressions) != 1:
        raise Unsupported("FARM_FINGERPRINT of several values")
    return _fingerprint(context, sub, node.expressions[0])


def _anonymous(node: exp.Anonymous, sub: Sub, kinds, context) -> Node:
    if node.name.casefold() in (FINGERPRINT_MACRO.casefold(), "farm_fingerprint") and len(node.expressions) == 1:
        return _fingerprint(context, sub, node.expressions[0])
    raise Unsupported(f"function {node.name}")


LOGIC_NODES: dict[type, Callable[..., Node]] = {
    **{kind: _comparison for kind in _COMPARISONS},
    exp.And: _logic, exp.Or: _logic, exp.Not: _not, exp.Is: _is, exp.Boolean: _boolean, exp.Null: _null,
    exp.Case: _case, exp.Coalesce: _coalesce, exp.Greatest: _extreme(True), exp.Least: _extreme(False),
    exp.DPipe: _concatenate, exp.FarmFingerprint: _farm_fingerprint, exp.Anonymous: _anonymous,
}
