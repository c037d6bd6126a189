"""A compiled prediction query evaluated in Python, row by row, with DuckDB's semantics and bits.

The query DuckDB would run for a request (toolkit.ml.compile: nested `SELECT "__input".*, expr AS name FROM (…)`
layers over the request's rows) is turned once per model, settings and input schema into Python closures, one per
expression node. Each node does what DuckDB does: the same IEEE operations in the same order (SQL's left-associative
`a + b + c` is the tree sqlglot parses), NULL in → NULL out, three-valued AND/OR, NaN equal to itself and greater
than every number (https://duckdb.org/docs/stable/sql/data_types/numeric#nan-and-infinity), division by zero and
overflow giving ±inf/NaN, `exp`/`ln`/`sqrt` from the C library (Python's math module calls the same libm), and
FARM_FINGERPRINT with the toolkit's own implementation. Types are tracked statically so that a CASE mixing an
integer and a DOUBLE branch answers a DOUBLE, as DuckDB does. Each node also gives its code, the Python expression
of what its closure computes, and the program runs as one generated function (toolkit.serve.evaluate_code): the
same operations, several times faster. The closures run where Python will not compile that function, and for the
nodes the column-wise evaluator evaluates row by row.

Anything else — a node, function, cast or input type this module does not cover — raises Unsupported when the
program is built, and the request runs in DuckDB; a value it will not decide (an integer result that DuckDB might
reject as an overflow) raises Fallback while evaluating, with the same effect. tests/test_serve_evaluate.py
compares the two bit for bit."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
from sqlglot import exp

from toolkit.serve.evaluate_code import (
    assign,
    call,
    constant,
    fresh,
    held,
    if_else,
    is_none,
    load,
    row_function,
)
from toolkit.serve.evaluate_nodes import NODES
from toolkit.serve.evaluate_types import (
    BOOL,
    DOUBLE,
    FLOAT,
    HUGE,
    INT,
    JOINED,
    NULL,
    SMALL,
    TEXT,
    Context,
    Fallback,
    Node,
    Unsupported,
    arrow_kind,
)
from toolkit.serve.request import jsonable

__all__ = ["Fallback", "Program", "Unsupported", "build_program", "run_checked", "run_json_checked"]

Generated = Callable[[list[list[Any]]], list[Any]]


@dataclass(frozen=True)
class Program:
    """The query as Python: `run(table)` gives the column names and the rows DuckDB's fetchall would."""

    names: tuple[str, ...]
    layers: tuple[Callable[[dict[str, Any]], dict[str, Any]], ...]  # innermost first
    output_keys: tuple[str, ...]  # the last layer's columns, in order
    input_keys: tuple[tuple[str, str], ...]  # (lower-cased key, name as given) of the input columns
    generated: Generated | None = None  # the layers as one function, each row a tuple (None: the closures run)
    generated_json: Generated | None = None  # the same, each row a JSON object

    def run(self, table: pa.Table | list[list[Any]]) -> tuple[list[str], list[tuple]]:
        """The rows for the input table, or its columns' Python values (in input_keys' order)."""
        columns = self._columns(table)
        if self.generated is not None:
            return list(self.names), self.generated(columns)
        rows = []
        keys = [key for key, _ in self.input_keys]
        outputs = self.output_keys
        for values in zip(*columns):
            row = dict(zip(keys, values))
            for layer in self.layers:
                row = layer(row)
            rows.append(tuple(row[key] for key in outputs))
        return list(self.names), rows

    def run_json(self, table: pa.Table | list[list[Any]]) -> list[dict[str, Any]]:
        """The rows as JSON objects (toolkit.serve.request.jsonable's values)."""
        if self.generated_json is not None:
            return self.generated_json(self._columns(table))
        names, rows = self.run(table)
        return [{k: jsonable(v) for k, v in zip(names, row)} for row in rows]

    def _columns(self, table: pa.Table | list[list[Any]]) -> list[list[Any]]:
        return table if isinstance(table, list) else [table.column(name).to_pylist() for _, name in self.input_keys]


@dataclass
class Scope:
    """The columns of a layer's result: lower-cased key → (name as output, static kind), in order."""

    columns: dict[str, tuple[str, Any]]

    @property
    def kinds(self) -> dict[str, Any]:
        return {key: kind for key, (_, kind) in self.columns.items()}


def build_program(query: exp.Expression, schema: pa.Schema, input_table: str) -> Program:
    """The program of `query`, whose innermost FROM is `SELECT * FROM input_table` (or the table itself)."""
    chain = select_chain(query, input_table)
    scope = input_scope(schema)
    input_keys = tuple((key, name) for key, (name, _) in scope.columns.items())
    context = Context(variables={key: fresh("_c") for key in scope.columns})
    inputs = list(context.variables.values())
    layers = []
    statements: list[ast.stmt] | None = []
    for select in chain:
        layer, scope, code = _layer(select, scope, context)
        layers.append(layer)
        statements = None if statements is None or code is None else statements + code
    names = tuple(name for name, _ in scope.columns.values())
    generated = generated_json = None
    if statements is not None:
        variables = [context.variables[key] for key in scope.columns]
        row = ast.Tuple(elts=[load(v) for v in variables], ctx=ast.Load())
        generated = row_function(inputs, statements, row, context.namespace)
        json_row = ast.Dict(keys=[constant(n) for n in names],
                            values=[_json_code(load(v), kind, context) for v, (_, kind) in
                                    zip(variables, scope.columns.values())])
        generated_json = row_function(inputs, statements, json_row, context.namespace) if generated else None
    return Program(names, tuple(layers), tuple(scope.columns), input_keys, generated, generated_json)


def _json_code(value: ast.expr, kind: Any, context: Context) -> ast.expr:
    """jsonable(value) for a value of this kind: texts, integers and booleans as they are, a double unless NaN or
    infinite, lists and structs item by item, anything else through jsonable."""
    if kind in (TEXT, BOOL, INT, SMALL, HUGE, NULL):
        return value
    first, again = held(value)
    if kind in (DOUBLE, FLOAT):
        finite = ast.BoolOp(op=ast.Or(), values=[is_none(first), call(context.ref(math.isfinite), again)])
        return if_else(finite, again, constant(None))
    if isinstance(kind, tuple) and kind[0] == "LIST":
        item = fresh("_e")
        items = ast.ListComp(elt=_json_code(load(item), kind[1], context), generators=[ast.comprehension(
            target=ast.Name(id=item, ctx=ast.Store()), iter=again, ifs=[], is_async=0)])
        return if_else(is_none(first), constant(None), items)
    if isinstance(kind, tuple) and kind[0] == "STRUCT":
        fields = ast.Dict(keys=[constant(name) for name, _ in kind[1]],
                          values=[_json_code(ast.Subscript(value=again, slice=constant(name), ctx=ast.Load()),
                                             field_kind, context) for name, field_kind in kind[1]])
        return if_else(is_none(first), constant(None), fields)
    return call(context.ref(jsonable), again)


def select_chain(query: exp.Expression, input_table: str) -> list[exp.Select]:
    """The query's nested SELECTs, innermost first, down to the one reading `input_table`."""
    chain = []
    node = query
    while True:
        if not isinstance(node, exp.Select):
            raise Unsupported(f"a {type(node).__name__} where a SELECT was expected")
        extra = [k for k, v in node.args.items() if v and k not in ("expressions", "from", "from_", "joins")]
        if extra:
            raise Unsupported(f"a SELECT with {extra}")
        chain.append(node)
        source = _source(node)
        if _is_input(source, input_table):
            break
        if not isinstance(source, exp.Subquery):
            raise Unsupported(f"a FROM {type(source).__name__}")
        inner = source.this
        if (isinstance(inner, exp.Select) and len(inner.expressions) == 1 and isinstance(inner.expressions[0], exp.Star)
                and not inner.expressions[0].args.get("except_") and _is_input(_source(inner), input_table)
                and len([v for v in inner.args.values() if v]) == 2):
            break
        node = inner
    return list(reversed(chain))


def input_scope(schema: pa.Schema) -> Scope:
    """The input columns: lower-cased key → (name as given, kind)."""
    scope = Scope({})
    for field in schema:
        key = field.name.casefold()
        if key in scope.columns:
            raise Unsupported("two input columns of one name")
        scope.columns[key] = (field.name, arrow_kind(field.type))
    return scope


def _source(select: exp.Select) -> exp.Expression:
    source = select.args.get("from") or select.args.get("from_")
    if source is None:
        raise Unsupported("a SELECT without FROM")
    return source.this


def _is_input(source: exp.Expression, input_table: str) -> bool:
    return isinstance(source, exp.Table) and source.name == input_table and not source.args.get("db")


def star_of(node: exp.Expression) -> exp.Star | None:
    if isinstance(node, exp.Star):
        return node
    if isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
        return node.this
    return None


def excluded_columns(star: exp.Star) -> set[str]:
    if star.args.get("replace") or star.args.get("rename"):
        raise Unsupported("* REPLACE / RENAME")
    return {column.name.casefold() for column in star.args.get("except_") or star.args.get("except") or []}


def _layer(select: exp.Select, scope: Scope, context: Context) -> tuple[Callable[[dict[str, Any]], dict[str, Any]],
                                                                     Scope, list[ast.stmt] | None]:
    """One SELECT over the previous layer's row: its columns (stars and named expressions), as a new row; and as
    statements assigning each new column to a variable of its own (None: a node has no code). `context.variables`
    holds the variables of the layer's input; afterwards, of its result."""
    kinds = scope.kinds
    lookups = [lookup_join(join, kinds, context) for join in select.args.get("joins") or []]
    statements: list[ast.stmt] | None = []
    variables = dict(context.variables)
    for key_node, table, columns, _ in lookups:
        kinds.update(columns)
        if key_node.code is None:
            statements = None
            continue
        found = fresh("_f")
        statements.append(assign(found, call(context.ref(table.get), key_node.code)))
        for index, key in enumerate(columns):
            variables[key] = fresh("_v")
            statements.append(assign(variables[key], if_else(is_none(load(found)), constant(None),
                                                             ast.Subscript(value=load(found), slice=constant(index),
                                                                           ctx=ast.Load()))))
    context.variables = variables
    outputs: dict[str, str] = {}
    result = Scope({})
    parts: list[tuple[str, Any]] = []  # ("keep", keys) or ("value", (key, function))
    for expression in select.expressions:
        star = star_of(expression)
        if star is not None:
            if lookups and isinstance(expression, exp.Star):
                raise Unsupported("an unqualified * over a join")
            excluded = excluded_columns(star)
            kept = [key for key in scope.columns if key not in excluded]
            for key in kept:
                if key in result.columns:
                    raise Unsupported(f"column {key} given twice")
                result.columns[key] = scope.columns[key]
                outputs[key] = variables[key]
            parts.append(("keep", kept))
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
        node = compile_node(value, kinds, context)
        result.columns[key] = (name, node.kind)
        parts.append(("value", (key, node.fn)))
        if node.code is None or statements is None:
            statements = None
        elif isinstance(node.code, ast.Name):  # a column under another name: the same variable
            outputs[key] = node.code.id
        else:  # every value from the layer's input: assigned to new variables, read only by the next layers
            outputs[key] = fresh("_v")
            statements.append(assign(outputs[key], node.code))
    context.variables = outputs
    if lookups:
        plain = _plain(parts, scope, result)
        key_functions = [(key_node.fn, table, columns) for key_node, table, columns, _ in lookups]

        def joined(row: dict[str, Any]) -> dict[str, Any]:
            row = dict(row)
            for key_of, table, columns in key_functions:
                found = table.get(key_of(row))  # a LEFT JOIN: no match (or a NULL key) gives NULLs
                for index, key in enumerate(columns):
                    row[key] = None if found is None else found[index]
            return plain(row)

        return joined, result, statements
    return _plain(parts, scope, result), result, statements


def lookup_join(join: exp.Join, kinds: dict[str, Any],
                context: Context) -> tuple[Node, dict, dict[str, Any], exp.Expression]:
    """A compiled lookup's `LEFT JOIN (VALUES (key, v0, …), …) AS alias("key", "v0", …) ON input.k = alias.key`:
    the node of the row's key, the table of key → values, the joined columns' keys and kinds, and the key's
    expression."""
    values, condition = join.this, join.args.get("on")
    alias = values.args.get("alias") if isinstance(values, exp.Values) else None
    if (alias is None or join.side != "LEFT" or join.args.get("kind") or join.args.get("using")
            or not isinstance(condition, exp.EQ) or not alias.columns):
        raise Unsupported("a join other than a lookup's LEFT JOIN of VALUES")
    name = alias.name.casefold()
    names = [column.name.casefold() for column in alias.columns]
    left, right = condition.this, condition.expression
    if isinstance(left, exp.Column) and left.table.casefold() == name:
        left, right = right, left
    if not (isinstance(right, exp.Column) and right.table.casefold() == name and right.name.casefold() == names[0]):
        raise Unsupported("a lookup joined on something other than its first column")
    key_node = compile_node(left, kinds, context)
    rows = []
    for entry in values.expressions:
        if not isinstance(entry, exp.Tuple) or len(entry.expressions) != len(names):
            raise Unsupported("a VALUES row of another width")
        rows.append([compile_node(value, {}, context) for value in entry.expressions])
    columns: dict[str, Any] = {}
    for index, column in enumerate(names[1:], start=1):
        kinds_here = {row[index].kind for row in rows} - {NULL}
        if len(kinds_here) > 1:
            raise Unsupported("a VALUES column of several types")
        columns[name + JOINED + column] = kinds_here.pop() if kinds_here else NULL
    key_kinds = {row[0].kind for row in rows} - {NULL}
    if key_kinds - {key_node.kind} or key_node.kind != TEXT:
        raise Unsupported("a lookup keyed on something other than text")
    table: dict[Any, tuple] = {}
    for row in rows:
        key = row[0].fn({})
        if key is None:
            continue  # NULL never matches an equi-join
        if key in table:
            raise Unsupported("a lookup with a key given twice")  # the join would repeat the row
        table[key] = tuple(value.fn({}) for value in row[1:])
    return key_node, table, columns, left


def _plain(parts: list[tuple[str, Any]], scope: Scope, result: Scope) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if len(parts) >= 1 and parts[0][0] == "keep" and len(parts[0][1]) == len(scope.columns) \
            and all(kind == "value" for kind, _ in parts[1:]):
        functions = [part for _, part in parts[1:]]

        def extend(row: dict[str, Any]) -> dict[str, Any]:  # `"__input".*, e AS name, …`: added to the row
            values = [fn(row) for _, fn in functions]  # all from the layer's input, then added
            for (key, _), value in zip(functions, values):
                row[key] = value
            return row

        return extend

    def project(row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kind, part in parts:
            if kind == "keep":
                for key in part:
                    out[key] = row[key]
            else:
                out[part[0]] = part[1](row)
        return out

    return project


def compile_node(node: exp.Expression, kinds: dict[str, Any], context: Context) -> Node:
    handler = NODES.get(type(node))
    if handler is None:
        raise Unsupported(f"SQL {type(node).__name__}")
    return handler(node, lambda child: compile_node(child, kinds, context), kinds, context)


def run_checked(program: Program, table: pa.Table | list[list[Any]]) -> tuple[list[str], list[tuple]] | None:
    """The program's rows, or None when a value made it fall back to DuckDB (which then answers, or names the
    error as it would have without the evaluator)."""
    try:
        return program.run(table)
    except Fallback:
        return None
    except (ArithmeticError, TypeError, ValueError, KeyError):  # anything unforeseen: DuckDB decides
        return None


def run_json_checked(program: Program, table: pa.Table | list[list[Any]]) -> list[dict[str, Any]] | None:
    """run_checked's rows as JSON objects."""
    try:
        return program.run_json(table)
    except Fallback:
        return None
    except (ArithmeticError, TypeError, ValueError, KeyError):
        return None
