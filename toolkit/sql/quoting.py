"""Identifiers and relation names built as sqlglot expressions, never pasted into f-strings."""

from __future__ import annotations

from sqlglot import exp

from toolkit.sql.dialect import DIALECT


def identifier(name: str) -> str:
    """A quoted identifier: `"my table"`."""
    return exp.to_identifier(name, quoted=True).sql(dialect=DIALECT)


def relation(schema: str, name: str) -> str:
    """A quoted, schema-qualified relation name: `"main"."flights"`."""
    return exp.table_(name, db=schema, quoted=True).sql(dialect=DIALECT)


def literal(value: str) -> str:
    """A SQL string literal with quotes escaped."""
    return exp.Literal.string(value).sql(dialect=DIALECT)
