"""Small sqlglot builders the compiler writes its SQL with: exact DOUBLE literals, quoted column references."""

from __future__ import annotations

import math
from collections.abc import Iterable

from sqlglot import exp


class NotCompilable(Exception):
    """The model (or one of its features) has no SQL form; ML.PREDICT keeps the Python path. The message says why."""


class TooLarge(NotCompilable):
    """The model's SQL would exceed the size limit."""


def size(n: int) -> str:
    return f"{n / 1024:.1f} KB" if n < 2**20 else f"{n / 2**20:.1f} MB"


def check_size(n: int, limit: int, what: str = "its SQL") -> None:
    """Refuse `n` bytes of SQL over `limit`."""
    if n > limit:
        raise TooLarge(f"{what} would take {size(n)}, over the {size(limit)} limit (fewer or shallower trees "
                       "compile)")


def number(value: float) -> exp.Expression:
    """An exact DOUBLE literal: the shortest round-trip digits, always with an exponent (a plain decimal literal
    is a DECIMAL in DuckDB and Postgres, which would round the value)."""
    value = float(value)
    if not math.isfinite(value):
        raise NotCompilable(f"the fitted model holds a non-finite number ({value})")
    text = repr(abs(value))
    if "e" not in text:
        text += "e0"
    literal = exp.Literal(this=text, is_string=False)  # Literal.number's node, without its parse for a sign
    return exp.Neg(this=literal) if math.copysign(1.0, value) < 0 and value != 0 else literal


def integer(value: int) -> exp.Expression:
    return exp.Literal.number(str(int(value)))


def text(value: str) -> exp.Expression:
    return exp.Literal.string(value)


def column(alias: str, name: str) -> exp.Column:
    """`"alias"."name"`: every reference is qualified, so a table macro's parameters can never capture it."""
    return exp.column(exp.to_identifier(name, quoted=True), table=exp.to_identifier(alias, quoted=True))


_OVERLOADED = {"epoch_us", "epoch_ns", "epoch_ms", "timezone"}  # sqlglot would read another overload of these


def call(name: str, *args: exp.Expression) -> exp.Expression:
    """A DuckDB function call as sqlglot's own node where it has one, so other dialects get their equivalent."""
    if name in _OVERLOADED:
        return exp.Anonymous(this=name, expressions=list(args))
    return exp.func(name, *args, dialect="duckdb")


def total(terms: Iterable[exp.Expression]) -> exp.Expression:
    """`t1 + t2 + …`, left to right (the order scikit-learn adds in), or 0.0 for no terms."""
    result: exp.Expression | None = None
    for term in terms:
        result = term if result is None else exp.Add(this=result, expression=term)
    return result if result is not None else number(0.0)


def cast(expression: exp.Expression, to: str) -> exp.Expression:
    return exp.Cast(this=expression, to=exp.DataType.build(to))


def paren(expression: exp.Expression) -> exp.Expression:
    return exp.Paren(this=expression)


def case(whens: Iterable[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None) -> exp.Expression:
    node = exp.Case(ifs=[exp.If(this=condition, true=value) for condition, value in whens])
    if default is not None:
        node.set("default", default)
    return node
