"""The values of one column over all the rows of a request, for the column-wise evaluator
(toolkit.serve.evaluate_columns): numpy arrays with a validity mask, as Arrow holds them.

A `Col` is `values` — a numpy array of the batch's length, or one Python scalar for a constant — and `valid`, a
boolean array (None: no NULLs). Under a NULL the value is a placeholder of the column's type (0, 0.0, False, ""), so
that every elementwise operation is defined there; results are masked, never read. Numbers are float64 or int64,
BOOLEAN bool, text and INT128 object arrays of Python values. A STRUCT built in the query is `StructCol` (a column
per field) and an ARRAY of fixed length `ListCol` (a column per item); any other list or struct is an object array
of Python lists and dicts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from toolkit.serve.evaluate_types import BOOL, DOUBLE, FLOAT, HUGE, INT, NULL, SMALL, TEXT, arrow_kind
from toolkit.serve.request import jsonable

_DTYPES = {DOUBLE: np.float64, FLOAT: np.float64, INT: np.int64, SMALL: np.int64, BOOL: np.bool_,
           TEXT: object, HUGE: object, NULL: np.float64}
_PLACEHOLDERS = {DOUBLE: 0.0, FLOAT: 0.0, INT: 0, SMALL: 0, BOOL: False, TEXT: "", HUGE: 0, NULL: 0.0}


@dataclass
class Col:
    values: Any  # np.ndarray of the batch's length, or a scalar (a constant)
    valid: np.ndarray | None = None  # None: no NULLs
    arrow: pa.ChunkedArray | None = None  # an input column as given: its Python values come from Arrow


@dataclass
class StructCol:
    fields: dict[str, Any]  # name → Col, StructCol or ListCol
    valid: np.ndarray | None = None


@dataclass
class ListCol:
    items: list[Any]  # one column per position; the list itself is never NULL


def dtype(kind: Any) -> Any:
    return _DTYPES.get(kind, object)


def placeholder(kind: Any) -> Any:
    return _PLACEHOLDERS.get(kind)


def null_col(kind: Any, n: int) -> Col:
    return Col(np.full(n, placeholder(kind), dtype=dtype(kind)), np.zeros(n, dtype=bool))


def full(col: Col, n: int, kind: Any) -> np.ndarray:
    """The column's values as an array of the batch's length."""
    values = col.values
    if isinstance(values, np.ndarray):
        return values
    return np.full(n, values, dtype=dtype(kind))


def valid_of(col: Col, n: int) -> np.ndarray:
    return np.ones(n, dtype=bool) if col.valid is None else col.valid


def both_valid(a: Col, b: Col) -> np.ndarray | None:
    if a.valid is None:
        return b.valid
    if b.valid is None:
        return a.valid
    return a.valid & b.valid


def from_arrow(column: pa.ChunkedArray) -> Col:
    """An input column (of a kind toolkit.serve.evaluate_types.arrow_kind accepts)."""
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    kind = arrow_kind(array.type)
    n = len(array)
    if kind == NULL:
        return Col(np.zeros(n), np.zeros(n, dtype=bool), column)
    valid = None if array.null_count == 0 else array.is_valid().to_numpy(zero_copy_only=False)
    if kind == TEXT:
        values = np.array(array.to_pylist(), dtype=object)
        if valid is not None:
            values[~valid] = ""
        return Col(values, valid, column)
    if valid is not None:
        array = array.fill_null(placeholder(kind))
    values = array.to_numpy(zero_copy_only=False)
    return Col(values.astype(dtype(kind), copy=False), valid, column)


def from_python(values: list[Any], kind: Any) -> Any:
    """A column of Python values (None for NULL) of one kind."""
    n = len(values)
    if isinstance(kind, tuple) and kind[0] == "STRUCT":
        valid = np.array([v is not None for v in values], dtype=bool)
        fields = {name: from_python([None if v is None else v[name] for v in values], field_kind)
                  for name, field_kind in kind[1]}
        return StructCol(fields, None if valid.all() else valid)
    valid = np.array([v is not None for v in values], dtype=bool)
    fill = placeholder(kind)
    if fill is None:  # lists and other Python objects: one object per row
        array = np.empty(n, dtype=object)
        for index, value in enumerate(values):
            array[index] = value
    else:
        array = np.array([fill if v is None else v for v in values] if not valid.all() else values,
                         dtype=dtype(kind)) if n else np.zeros(0, dtype=dtype(kind))
    return Col(array, None if valid.all() else valid)


def python_values(col: Any, n: int) -> list[Any]:
    """The column's values as Python objects (None for NULL), as DuckDB's fetchall gives them."""
    if isinstance(col, StructCol):
        names = list(col.fields)
        columns = [python_values(f, n) for f in col.fields.values()]
        rows: list[Any] = [dict(zip(names, values)) for values in zip(*columns)] if names else [{} for _ in range(n)]
        return _masked(rows, col.valid)
    if isinstance(col, ListCol):
        columns = [python_values(item, n) for item in col.items]
        return [list(values) for values in zip(*columns)] if columns else [[] for _ in range(n)]
    if col.arrow is not None:
        return col.arrow.to_pylist()
    values = col.values
    if isinstance(values, np.ndarray):
        listed = values.tolist()
    else:
        listed = [values.item() if isinstance(values, np.generic) else values] * n
    return _masked(listed, col.valid)


def _masked(values: list[Any], valid: np.ndarray | None) -> list[Any]:
    if valid is None:
        return values
    return [v if ok else None for v, ok in zip(values, valid.tolist())]


class Batch:
    """A layer's columns by key (lower-cased name) over `n` rows; input columns converted when first read."""

    def __init__(self, n: int, columns: dict[str, Any] | None = None,
                 inputs: dict[str, pa.ChunkedArray] | None = None) -> None:
        self.n = n
        self.columns = columns or {}
        self.inputs = inputs or {}  # not yet converted
        self._rows: list[dict[str, Any]] | None = None

    def __getitem__(self, key: str) -> Any:
        col = self.columns.get(key)
        if col is None:
            col = self.columns[key] = from_arrow(self.inputs.pop(key))
        return col

    def keys(self) -> list[str]:
        return list(self.columns) + list(self.inputs)

    def extended(self, columns: dict[str, Any]) -> Batch:
        return Batch(self.n, {**self.columns, **columns}, dict(self.inputs))

    def selected(self, keys: list[str], computed: dict[str, Any]) -> Batch:
        """The next layer's batch: these keys, each computed or kept from this one (unconverted if it was)."""
        columns, inputs = {}, {}
        for key in keys:
            if key in computed:
                columns[key] = computed[key]
            elif key in self.columns:
                columns[key] = self.columns[key]
            else:
                inputs[key] = self.inputs[key]
        return Batch(self.n, columns, inputs)

    def rows(self) -> list[dict[str, Any]]:
        """The batch as the row-wise evaluator's rows (for a node only it evaluates)."""
        if self._rows is None:
            keys = self.keys()
            columns = [python_values(self[key], self.n) for key in keys]
            self._rows = [dict(zip(keys, values)) for values in zip(*columns)] if keys else [{} for _ in
                                                                                            range(self.n)]
        return self._rows



@dataclass(frozen=True)
class ColumnNode:
    """A SQL expression as a function of a batch, its static kind, and for a constant its Python value."""

    fn: Callable[[Batch], Any]
    kind: Any
    constant: bool = False
    value: Any = None


def constant_node(value: Any, kind: Any) -> ColumnNode:
    if value is None:
        return ColumnNode(lambda batch: null_col(kind, batch.n), kind, True, None)
    col = Col(value)
    return ColumnNode(lambda batch: col, kind, True, value)


ColumnSub = Callable[[Any], ColumnNode]


def json_values(col: Any, n: int) -> list[Any]:
    """python_values as JSON values (toolkit.serve.request.jsonable: NaN and infinities as null)."""
    if isinstance(col, StructCol):
        names = list(col.fields)
        columns = [json_values(f, n) for f in col.fields.values()]
        rows: list[Any] = [dict(zip(names, values)) for values in zip(*columns)] if names else [{} for _ in range(n)]
        return _masked(rows, col.valid)
    if isinstance(col, ListCol):
        columns = [json_values(item, n) for item in col.items]
        return [list(values) for values in zip(*columns)] if columns else [[] for _ in range(n)]
    values = col.values
    if col.arrow is not None:
        if not pa.types.is_floating(col.arrow.type):
            return col.arrow.to_pylist()  # text, integers, booleans: JSON as they are
        values = full(col, n, DOUBLE)
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        finite = np.isfinite(values)
        valid = col.valid
        if not finite.all():
            valid = finite if valid is None else valid & finite
        return _masked(values.tolist(), valid)
    if isinstance(values, np.ndarray) and values.dtype == object:
        return [jsonable(v) for v in python_values(col, n)]
    return python_values(col, n)
