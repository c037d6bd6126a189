"""Column-wise list_sort of the ARRAYs compiled predictions build (k-means' (distance, centroid_id) pairs): every
row's items sorted at once with numpy's stable lexsort, in list_sort's order (toolkit.serve.evaluate_nested:
ascending, NULLs last, STRUCTs field by field, NaN above every number, -0.0 equal to 0.0)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

import numpy as np
from sqlglot import exp

from toolkit.serve.columns import Col, ColumnNode, ColumnSub, ListCol, StructCol, dtype, from_python, python_values
from toolkit.serve.evaluate_nested import list_sort_order
from toolkit.serve.evaluate_types import BOOL, DOUBLE, INT, SMALL, Unsupported

_SORTABLE = (DOUBLE, INT, SMALL, BOOL)


def _stack(cols: list[Col], n: int, kind: Any) -> tuple[np.ndarray, np.ndarray]:
    """The items' values and validity as (n, k) matrices."""
    values = np.empty((n, len(cols)), dtype=dtype(kind))
    valid = np.ones((n, len(cols)), dtype=bool)
    for position, col in enumerate(cols):
        values[:, position] = col.values
        if col.valid is not None:
            valid[:, position] = col.valid
    return values, valid


def _keys(values: np.ndarray, valid: np.ndarray, kind: Any) -> list[np.ndarray]:
    """Sort keys of one value, the most significant first: NULL last, then NaN last, then the value."""
    keys = [~valid]
    if kind == DOUBLE:
        nan = np.isnan(values)
        keys.append(nan)
        keys.append(np.where(nan | ~valid, 0.0, values) + 0.0)  # -0.0 + 0.0 is 0.0: equal, as DuckDB orders them
    else:
        keys.append(np.where(valid, values, 0))
    return keys


def _array_sort(node: exp.ArraySort, sub: ColumnSub, kinds, context) -> ColumnNode:
    if node.expression is not None:
        raise Unsupported("list_sort with a sort order")
    inner = sub(node.this)
    if not (isinstance(inner.kind, tuple) and inner.kind[0] == "LIST"):
        raise Unsupported("list_sort of something other than a list")
    element = inner.kind[1]
    if isinstance(element, tuple):
        if element[0] != "STRUCT" or not all(k in _SORTABLE for _, k in element[1]):
            raise Unsupported(f"list_sort of {element}")
        fields = list(element[1])
    elif element in _SORTABLE:
        fields = None
    else:
        raise Unsupported(f"list_sort of {element}")
    fn, key = inner.fn, cmp_to_key(list_sort_order)

    def sort(batch):
        items = fn(batch)
        n = batch.n
        if not isinstance(items, ListCol) or (fields is not None and not all(isinstance(i, StructCol)
                                                                             for i in items.items)):
            listed = python_values(items, n)  # lists as Python lists: sorted row by row
            return from_python([None if v is None else sorted(v, key=key) for v in listed], inner.kind)
        if not items.items:
            return items
        keys: list[np.ndarray] = []
        if fields is None:
            values, valid = _stack(items.items, n, element)
            keys += _keys(values, valid, element)
            matrices = [(values, valid)]
        else:
            struct_valid = _stack([Col(np.ones(n, dtype=bool), i.valid) for i in items.items], n, BOOL)[1]
            keys.append(~struct_valid)  # a NULL struct last
            matrices = []
            for name, kind in fields:
                values, valid = _stack([i.fields[name] for i in items.items], n, kind)
                keys += _keys(values, valid & struct_valid, kind)
                matrices.append((values, valid))
        order = np.lexsort(keys[::-1], axis=-1)  # stable: equal items keep their order, as Python's sorted
        taken = [(np.take_along_axis(v, order, 1), np.take_along_axis(ok, order, 1)) for v, ok in matrices]
        sorted_items = []
        for position in range(len(items.items)):
            cols = [Col(v[:, position], None if ok[:, position].all() else ok[:, position]) for v, ok in taken]
            if fields is None:
                sorted_items.append(cols[0])
            else:
                valid = np.take_along_axis(struct_valid, order, 1)[:, position]
                sorted_items.append(StructCol({name: col for (name, _), col in zip(fields, cols)},
                                              None if valid.all() else valid))
        return ListCol(sorted_items)
    return ColumnNode(sort, inner.kind)


SORT_COLUMNS: dict[type, Callable[..., ColumnNode]] = {exp.ArraySort: _array_sort}
