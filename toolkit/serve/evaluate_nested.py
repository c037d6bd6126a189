"""Node evaluators of lists and structs: ARRAY, STRUCT, an index, a field, list_sort."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from sqlglot import exp

from toolkit.serve.evaluate_code import builtin, call, compare, constant, if_else, load, strict
from toolkit.serve.evaluate_types import NUMERIC, TEXT, Node, Sub, Unsupported, duckdb_order, unify


def _struct_extract(node: exp.StructExtract, sub: Sub, kinds, context) -> Node:
    field = node.expression
    if not (isinstance(field, exp.Literal) and field.is_string):
        raise Unsupported("STRUCT_EXTRACT of a field that is not named")
    return _field(sub(node.this), field.this)


# --- lists and structs


def _array(node: exp.Array, sub: Sub, kinds, context) -> Node:
    items, kind = unify([sub(e) for e in node.expressions])
    functions = [i.fn for i in items]
    codes = [i.code for i in items]
    code = None if any(c is None for c in codes) else ast.List(elts=codes, ctx=ast.Load())
    return Node(lambda row: [f(row) for f in functions], ("LIST", kind), code=code)


def _struct(node: exp.Struct, sub: Sub, kinds, context) -> Node:
    fields = []
    for entry in node.expressions:
        if not isinstance(entry, exp.PropertyEQ):
            raise Unsupported("an unnamed STRUCT field")
        fields.append((entry.this.name, sub(entry.expression)))
    functions = [(name, f.fn) for name, f in fields]
    kind = ("STRUCT", tuple((name, f.kind) for name, f in fields))
    code = None if any(f.code is None for _, f in fields) else ast.Dict(
        keys=[constant(name) for name, _ in fields], values=[f.code for _, f in fields])
    return Node(lambda row: {name: f(row) for name, f in functions}, kind, code=code)


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

    def code(values: ast.expr) -> ast.expr:
        return if_else(compare(constant(position), ast.GtE(), builtin("len", values)), constant(None),
                       ast.Subscript(value=values, slice=constant(position), ctx=ast.Load()))
    return Node(item, inner.kind[1], code=strict([inner.code], code))


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
    return Node(lambda row: None if (v := fn(row)) is None else v[real], kind,
                code=strict([inner.code], lambda v: ast.Subscript(value=v, slice=constant(real), ctx=ast.Load())))


def list_sort_order(a: Any, b: Any) -> int:
    """list_sort's ascending order, NULLs last; STRUCTs field by field."""
    if a is None or b is None:
        return (a is None) - (b is None)
    if isinstance(a, dict):
        for x, y in zip(a.values(), b.values()):
            order = list_sort_order(x, y)
            if order:
                return order
        return 0
    return duckdb_order(a, b)


def _value_key(value: Any) -> tuple:
    """A number's or text's place in list_sort_order as a sort key: values in order, then NaN, then NULL."""
    if value is None:
        return (2,)
    return (1,) if value != value else (0, value)


def _struct_key(value: dict[str, Any] | None) -> tuple:
    """A STRUCT's place in list_sort_order: field by field, a NULL STRUCT last."""
    return (1,) if value is None else (0, *map(_value_key, value.values()))


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
    # The order of list_sort_order as a key computed once per item, not a comparison per pair (the same order: two
    # keys are equal exactly when the comparison gives 0, and sorted() is stable).
    fn, key = inner.fn, _struct_key if isinstance(element, tuple) else _value_key
    return Node(lambda row: None if (v := fn(row)) is None else sorted(v, key=key), inner.kind,
                code=strict([inner.code], lambda v: call(load("sorted"), v, key=context.ref(key))))


NESTED_NODES: dict[type, Callable[..., Node]] = {
    exp.StructExtract: _struct_extract,
    exp.Array: _array, exp.Struct: _struct, exp.Bracket: _bracket, exp.Dot: _dot, exp.ArraySort: _array_sort,
}
