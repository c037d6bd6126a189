"""Identifiers, relation names and string literals as sqlglot expressions, for statements built as trees.

A statement is assembled from these nodes and rendered once, with `render`, where it is executed; the
template functions (`ref()`, `source()`, the `identifier` filter) render at the template boundary."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from toolkit.sql.dialect import DIALECT, DIALECTS


def identifier(name: str) -> exp.Identifier:
    """A quoted identifier: `"my table"`."""
    return exp.to_identifier(name, quoted=True)


def column_ref(name: str, table: str | None = None) -> exp.Column:
    """A quoted column reference, qualified by `table` when given."""
    return exp.column(identifier(name), table=identifier(table) if table is not None else None)


def relation(schema: str, name: str) -> exp.Table:
    """A quoted, schema-qualified relation name: `"main"."flights"`."""
    return exp.table_(name, db=schema, quoted=True)


def table_ref(name: str) -> exp.Table:
    """A quoted, unqualified relation name: `"flights"`."""
    return exp.table_(name, quoted=True)


def literal(value: str) -> exp.Literal:
    """A SQL string literal (quotes are escaped when rendered)."""
    return exp.Literal.string(value)


def parse(sql: str, dialect: str | None = None) -> exp.Expression:
    """A statement or expression of the toolkit's dialect (or of the dialect named), as a tree."""
    return sqlglot.parse_one(sql, dialect=DIALECTS[dialect] if dialect else DIALECT)


def parse_relation(sql: str) -> exp.Expression:
    """A quoted relation name or a parenthesised query, as a FROM item."""
    return sqlglot.parse_one(f"SELECT * FROM {sql}", dialect=DIALECT).args["from_"].this


def render(expression: exp.Expression, dialect: type[Dialect] = DIALECT) -> str:
    """The SQL text of `expression`, rendered once where it is executed (or in another dialect's quoting)."""
    return expression.sql(dialect=dialect)


def verbatim(sql: str) -> exp.Var:
    """A query kept exactly as written (a model file's, a compiled model's): a node rendered as its text, so
    the statement around it is a tree while the query keeps its lines, comments and DuckDB-only syntax."""
    return exp.Var(this=sql)


def substituted(template: str, **nodes: exp.Expression) -> exp.Expression:
    """`template` parsed, each bare placeholder named like a keyword of `nodes` (a column or a table, written
    `__name__`) replaced by a copy of that node; a replaced table keeps its alias."""

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name in nodes:
            return nodes[node.name].copy()
        if isinstance(node, exp.Table) and not node.db and node.name in nodes:
            replacement = nodes[node.name].copy()
            if node.args.get("alias"):
                replacement.set("alias", node.args["alias"].copy())
            return replacement
        return node

    return parse(template).transform(substitute)
