"""Building DuckDB SQL as sqlglot trees: constant templates whose `:name` placeholders are filled with expressions
(never with text), and literals for fitted statistics that DuckDB reads back exactly."""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from toolkit.sql.dialect import DIALECT

# Nodes whose SQL binds looser than a function argument or an operand: wrapped in parentheses when substituted.
_LOOSE = (exp.Binary, exp.Unary, exp.Predicate)


def wrap(node: exp.Expression) -> exp.Expression:
    """`node` as an operand: parenthesized unless it is atomic (a column, a call, a literal, …)."""
    node = node.copy()
    return exp.Paren(this=node) if isinstance(node, _LOOSE) and not isinstance(node, exp.Paren) else node


@lru_cache(maxsize=None)
def _parsed(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read=DIALECT)


def template(sql: str, **parts: exp.Expression) -> exp.Expression:
    """The toolkit-written expression `sql` with each `:name` replaced by a copy of `parts[name]`."""

    def fill(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in parts:
            return wrap(parts[node.name])
        return node

    return _parsed(sql).transform(fill)


def number(value: Any) -> exp.Expression:
    """A numeric literal: integers as written, floats as exact DOUBLEs (a bare 0.1 would be a DECIMAL in DuckDB)."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        raise TypeError("a boolean is not a number")
    if isinstance(value, int):
        return exp.Literal.number(value)
    value = float(value) if isinstance(value, Decimal) else value
    if not math.isfinite(value):
        return exp.cast(exp.Literal.string(str(value)), exp.DataType.build("DOUBLE"))
    return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.build("DOUBLE"))


def string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def as_double(node: exp.Expression) -> exp.Expression:
    return exp.cast(node.copy(), exp.DataType.build("DOUBLE"))


def as_varchar(node: exp.Expression) -> exp.Expression:
    return exp.cast(node.copy(), exp.DataType.build("VARCHAR"))


def struct(fields: list[tuple[str, exp.Expression]]) -> exp.Struct:
    """DuckDB's {'name': value, …}."""
    return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(name), expression=value)
                                   for name, value in fields])


def format_number(value: float | int) -> str:
    """A number for people: 2 rather than 2.0, 2.5 as it is."""
    value = float(value) if isinstance(value, Decimal) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)
