"""Column-wise evaluators of the STRUCTs and ARRAYs compiled predictions build, a column per field or item (the
rules of toolkit.serve.evaluate_nested); a struct or list the row-wise evaluator made (Python dicts and lists) is
read row by row."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sqlglot import exp

from toolkit.serve.columns import (
    Col,
    ColumnNode,
    ColumnSub,
    ListCol,
    StructCol,
    from_python,
    null_col,
    python_values,
)
from toolkit.serve.columns_numeric import to_double_node
from toolkit.serve.evaluate_types import DOUBLE, Unsupported, unified_kind


def _array(node: exp.Array, sub: ColumnSub, kinds, context) -> ColumnNode:
    items = [sub(e) for e in node.expressions]
    kind = unified_kind([i.kind for i in items])
    if kind == DOUBLE:
        items = [to_double_node(i) for i in items]
    functions = [i.fn for i in items]
    return ColumnNode(lambda batch: ListCol([f(batch) for f in functions]), ("LIST", kind))


def _struct(node: exp.Struct, sub: ColumnSub, kinds, context) -> ColumnNode:
    fields = []
    for entry in node.expressions:
        if not isinstance(entry, exp.PropertyEQ):
            raise Unsupported("an unnamed STRUCT field")
        fields.append((entry.this.name, sub(entry.expression)))
    functions = [(name, f.fn) for name, f in fields]
    kind = ("STRUCT", tuple((name, f.kind) for name, f in fields))
    return ColumnNode(lambda batch: StructCol({name: f(batch) for name, f in functions}), kind)


def _with_valid(col: Any, valid: np.ndarray | None) -> Any:
    """The column NULL also where `valid` is False (a field of a NULL struct)."""
    if valid is None:
        return col
    if isinstance(col, StructCol):
        return StructCol(col.fields, valid if col.valid is None else col.valid & valid)
    if isinstance(col, ListCol):
        raise Unsupported("a list inside a struct")
    return Col(col.values, valid if col.valid is None else col.valid & valid, None)


def _field(inner: ColumnNode, name: str) -> ColumnNode:
    if not (isinstance(inner.kind, tuple) and inner.kind[0] == "STRUCT"):
        raise Unsupported("a field of something other than a STRUCT")
    fields = {n.casefold(): (n, k) for n, k in inner.kind[1]}
    if name.casefold() not in fields:
        raise Unsupported(f"no field {name}")
    real, kind = fields[name.casefold()]
    if isinstance(kind, tuple) and kind[0] == "LIST":
        raise Unsupported("a list field")
    fn = inner.fn

    def field(batch):
        struct = fn(batch)
        if isinstance(struct, StructCol):
            return _with_valid(struct.fields[real], struct.valid)
        values = python_values(struct, batch.n)  # structs as Python dicts (from the row-wise evaluator)
        return from_python([None if v is None else v[real] for v in values], kind)
    return ColumnNode(field, kind)


def _struct_extract(node: exp.StructExtract, sub: ColumnSub, kinds, context) -> ColumnNode:
    field = node.expression
    if not (isinstance(field, exp.Literal) and field.is_string):
        raise Unsupported("STRUCT_EXTRACT of a field that is not named")
    return _field(sub(node.this), field.this)


def _dot(node: exp.Dot, sub: ColumnSub, kinds, context) -> ColumnNode:
    return _field(sub(node.this), node.expression.name)


def _bracket(node: exp.Bracket, sub: ColumnSub, kinds, context) -> ColumnNode:
    inner = sub(node.this)
    index = node.expressions[0] if len(node.expressions) == 1 else None
    if not (isinstance(inner.kind, tuple) and inner.kind[0] == "LIST" and isinstance(index, exp.Literal)
            and not index.is_string and str(index.this).isdigit()):
        raise Unsupported("an index other than a positive number into a list")
    position, fn, kind = int(index.this), inner.fn, inner.kind[1]  # sqlglot reads the 1-based index as 0-based
    if isinstance(kind, tuple) and kind[0] == "LIST":
        raise Unsupported("a list of lists")

    def item(batch):
        values = fn(batch)
        if isinstance(values, ListCol):
            return values.items[position] if position < len(values.items) else null_col(kind, batch.n)
        listed = python_values(values, batch.n)  # lists as Python lists (from the row-wise evaluator)
        return from_python([None if v is None or position >= len(v) else v[position] for v in listed], kind)
    return ColumnNode(item, kind)



NESTED_COLUMNS: dict[type, Callable[..., ColumnNode]] = {
    exp.Array: _array, exp.Struct: _struct, exp.StructExtract: _struct_extract, exp.Dot: _dot, exp.Bracket: _bracket,
}
