"""A compiled prediction query evaluated column-wise: each SQL node once over all the rows of a request, as numpy
arrays (toolkit.serve.columns), instead of once per row (toolkit.serve.evaluate).

The same query, layers and static kinds as the row-wise evaluator, and the same DuckDB semantics (each node's
module says how): a request of 100 instances costs about one pass per node instead of 100. A node it has no
column-wise form for (GREATEST, a CASE choosing structs, …) is evaluated by the row-wise evaluator for
that node only, over the batch's rows, and its values taken back as a column. A value it will not decide (an integer
at or beyond 2**31, a float beyond float32's range) raises Fallback: the row-wise evaluator answers the request,
and where it falls back too, DuckDB. tests/test_serve_columns.py compares it with both, row by row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from sqlglot import exp

from toolkit.serve.columns import (
    Batch,
    Col,
    ColumnNode,
    constant_node,
    from_python,
    json_values,
    null_col,
    python_values,
)
from toolkit.serve.columns_logic import LOGIC_COLUMNS
from toolkit.serve.columns_nested import NESTED_COLUMNS
from toolkit.serve.columns_numeric import NUMERIC_COLUMNS
from toolkit.serve.columns_sort import SORT_COLUMNS
from toolkit.serve.evaluate import (
    Program,
    Scope,
    build_program,
    compile_node,
    excluded_columns,
    input_scope,
    lookup_join,
    run_checked,
    run_json_checked,
    select_chain,
    star_of,
)
from toolkit.serve.evaluate_types import Context, Fallback, Node, Unsupported

__all__ = ["COLUMNS_FROM", "ColumnProgram", "Evaluation", "build_column_program", "build_evaluation"]

COLUMN_NODES: dict[type, Callable[..., ColumnNode]] = {**NUMERIC_COLUMNS, **LOGIC_COLUMNS, **NESTED_COLUMNS,
                                                       **SORT_COLUMNS}

Layer = Callable[[Batch], Batch]


@dataclass(frozen=True)
class ColumnProgram:
    """The query column-wise: `run(table)` gives the column names and the rows DuckDB's fetchall would."""

    names: tuple[str, ...]
    layers: tuple[Layer, ...]  # innermost first
    output_keys: tuple[str, ...]
    input_keys: tuple[tuple[str, str], ...]  # (lower-cased key, name as given)

    def run(self, table: pa.Table) -> tuple[list[str], list[tuple]]:
        n = table.num_rows
        batch = Batch(n, inputs={key: table.column(name) for key, name in self.input_keys})
        with np.errstate(all="ignore"):  # x/0, NaN compared, … are defined in IEEE: no warnings
            for layer in self.layers:
                batch = layer(batch)
            columns = [python_values(batch[key], n) for key in self.output_keys]
        return list(self.names), list(zip(*columns)) if columns else [() for _ in range(n)]

    def run_json(self, table: pa.Table) -> list[dict[str, Any]]:
        """The rows as JSON objects (toolkit.serve.request.jsonable's values), made column by column."""
        n = table.num_rows
        batch = Batch(n, inputs={key: table.column(name) for key, name in self.input_keys})
        with np.errstate(all="ignore"):
            for layer in self.layers:
                batch = layer(batch)
            columns = [json_values(batch[key], n) for key in self.output_keys]
        names = self.names
        return [dict(zip(names, row)) for row in zip(*columns)] if columns else [{} for _ in range(n)]


def build_column_program(query: exp.Expression, schema: pa.Schema, input_table: str) -> ColumnProgram:
    """The column-wise program of `query` (the one toolkit.serve.evaluate.build_program reads); Unsupported where
    neither evaluator covers a node."""
    scope = input_scope(schema)
    input_keys = tuple((key, name) for key, (name, _) in scope.columns.items())
    context = Context()
    layers = []
    for select in select_chain(query, input_table):
        layer, scope = _layer(select, scope, context)
        layers.append(layer)
    names = tuple(name for name, _ in scope.columns.values())
    return ColumnProgram(names, tuple(layers), tuple(scope.columns), input_keys)


def compile_column(node: exp.Expression, kinds: dict[str, Any], context: Context) -> ColumnNode:
    handler = COLUMN_NODES.get(type(node))
    if handler is not None:
        try:
            return handler(node, lambda child: compile_column(child, kinds, context), kinds, context)
        except Unsupported:
            pass  # the row-wise evaluator may have this node (else the query is DuckDB's)
    return _row_wise(compile_node(node, kinds, context))


def _row_wise(node: Node) -> ColumnNode:
    """A node only the row-wise evaluator has, run over the batch's rows, its values as a column."""
    fn, kind = node.fn, node.kind
    if node.constant:
        return constant_node(fn({}), kind)
    return ColumnNode(lambda batch: from_python([fn(row) for row in batch.rows()], kind), kind)


def _layer(select: exp.Select, scope: Scope, context: Context) -> tuple[Layer, Scope]:
    """One SELECT over the previous layer's batch (toolkit.serve.evaluate._layer, column-wise)."""
    kinds = scope.kinds
    lookups = []
    for join in select.args.get("joins") or []:
        _, table, columns, key = lookup_join(join, kinds, context)
        lookups.append((compile_column(key, kinds, context), _lookup_columns(table, columns)))
    for _, (_, joined) in lookups:
        kinds.update({key: kind for key, _, kind in joined})
    result = Scope({})
    kept: list[str] = []
    values: list[tuple[str, Callable[[Batch], Any]]] = []
    for expression in select.expressions:
        star = star_of(expression)
        if star is not None:
            if lookups and isinstance(expression, exp.Star):
                raise Unsupported("an unqualified * over a join")
            excluded = excluded_columns(star)
            for key in scope.columns:
                if key not in excluded:
                    if key in result.columns:
                        raise Unsupported(f"column {key} given twice")
                    result.columns[key] = scope.columns[key]
                    kept.append(key)
            continue
        if isinstance(expression, exp.Alias):
            name, value = expression.alias, expression.this
        elif isinstance(expression, exp.Column):
            name, value = expression.name, expression
        else:
            raise Unsupported("an unnamed expression")
        key = name.casefold()
        if key in result.columns:
            raise Unsupported(f"column {name} given twice")
        node = compile_column(value, kinds, context)
        result.columns[key] = (name, node.kind)
        values.append((key, node.fn))
    order = list(result.columns)

    def layer(batch: Batch) -> Batch:
        if lookups:
            joined = {}
            for key_node, (index_of, columns) in lookups:
                rows = _matches(key_node.fn(batch), index_of, batch.n)
                for key, column, kind in columns:
                    joined[key] = _take(column, kind, rows)
            batch = batch.extended(joined)
        computed = {key: fn(batch) for key, fn in values}  # all from the layer's input
        return batch.selected(order, computed)

    return layer, result


def _lookup_columns(table: dict[Any, tuple],
                    columns: dict[str, Any]) -> tuple[dict[Any, int], list[tuple[str, Col, Any]]]:
    """A lookup's table as key → row number, and each joined column's key, values and kind."""
    index_of = {key: position for position, key in enumerate(table)}
    rows = list(table.values())
    joined = [(key, from_python([row[i] for row in rows], kind), kind) for i, (key, kind) in enumerate(columns.items())]
    return index_of, joined


def _matches(keys: Col, index_of: dict[Any, int], n: int) -> np.ndarray:
    """Each row's row number in the lookup (-1: no match, or a NULL key: a LEFT JOIN's NULLs)."""
    texts = python_values(keys, n)
    return np.array([-1 if t is None else index_of.get(t, -1) for t in texts], dtype=np.int64)


def _take(column: Col, kind: Any, rows: np.ndarray) -> Col:
    if not len(column.values):
        return null_col(kind, len(rows))
    found = rows >= 0
    safe = np.where(found, rows, 0)
    valid = found if column.valid is None else found & column.valid[safe]
    return Col(column.values[safe], None if valid.all() else valid)


COLUMNS_FROM = 512
"""Requests of at least this many rows are evaluated column-wise: below it the row-wise evaluator's generated
function is as fast or faster (numpy's cost per call outweighs its cost per row). Measured on the example's models:
the two cross at about 700 rows for flight_delay and beyond 1,000 for route_clusters (benchmarks/README.md)."""


@dataclass(frozen=True)
class Evaluation:
    """Both evaluators of one query and input schema; the column-wise one is None where a node has neither a
    column-wise nor a row-wise form inside a construct only the column-wise one builds."""

    rows: Program
    columns: ColumnProgram | None
    columns_from: int = COLUMNS_FROM

    def run_checked(self, table: pa.Table) -> tuple[list[str], list[tuple]] | None:
        """The query's rows, or None where both evaluators leave the request to DuckDB."""
        if self.columns is not None and table.num_rows >= self.columns_from:
            try:
                return self.columns.run(table)
            except Fallback:
                pass  # a value it will not decide: the row-wise evaluator decides
            except (ArithmeticError, TypeError, ValueError, KeyError, IndexError):
                pass  # anything unforeseen, likewise
        return run_checked(self.rows, table)

    def run_json_checked(self, table: pa.Table | list[list[Any]]) -> list[dict[str, Any]] | None:
        """run_checked's rows as JSON objects (toolkit.serve.request.jsonable's values); the input may also be its
        columns' Python values (in the row-wise program's input order), evaluated row-wise."""
        if self.columns is not None and isinstance(table, pa.Table) and table.num_rows >= self.columns_from:
            try:
                return self.columns.run_json(table)
            except Fallback:
                pass
            except (ArithmeticError, TypeError, ValueError, KeyError, IndexError):
                pass
        return run_json_checked(self.rows, table)


def build_evaluation(query: exp.Expression, schema: pa.Schema, input_table: str,
                     columns_from: int = COLUMNS_FROM) -> Evaluation:
    """The evaluators of `query`; Unsupported where the row-wise one does not cover it (DuckDB runs it)."""
    rows = build_program(query, schema, input_table)
    try:
        columns: ColumnProgram | None = build_column_program(query, schema, input_table)
    except Unsupported:
        columns = None
    return Evaluation(rows, columns, columns_from)
