"""Constant SQL values as Python: what OPTIONS(…), STRUCT(…) settings and preprocessing arguments are written in."""

from __future__ import annotations

import math
from typing import Any

from sqlglot import exp


class NotConstant(ValueError):
    """The expression is not a constant; the caller renders it in its dialect (this module sits below the dialect)."""

    def __init__(self, node: exp.Expression, reason: str = "") -> None:
        super().__init__(reason or node.sql())
        self.node = node
        self.reason = reason  # set when the expression has a constant's shape but not its value


def generate_array(node: exp.Expression) -> list[int | float]:
    """GENERATE_ARRAY(start, end[, step]) of constants, as BigQuery documents it: start, start + step, … up to and
    including end; an empty array when end is not reached in step's direction, an error for a step of 0
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions#generate_array)."""
    if isinstance(node, exp.GenerateSeries):
        arguments = [node.args.get("start"), node.args.get("end"), node.args.get("step")]
    else:
        arguments = list(node.expressions)
    values = [constant(item) for item in arguments if item is not None]
    if len(values) not in (2, 3) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise NotConstant(node, "needs two or three numbers: GENERATE_ARRAY(start, end[, step])")
    start, end, step = (*values, 1)[:3]
    if step == 0:
        raise NotConstant(node, "has a step of 0")
    if (start < end and step < 0) or (start > end and step > 0):
        return []
    count = math.floor((end - start) / step) + 1
    if count > 1_000_000:
        raise NotConstant(node, f"would hold {count:,} values")
    # element i is start + i * step, kept while it has not passed end, as ZetaSQL computes it
    # (zetasql/public/functions/generate_array.h): the quotient's rounding must not add or drop the last one
    def within(i: int) -> bool:
        value = start + i * step
        return value <= end if step > 0 else value >= end
    while count > 0 and not within(count - 1):
        count -= 1
    while within(count):
        count += 1
    return [start + i * step for i in range(count)]


def array_literal(values: list[int | float]) -> exp.Array:
    """`[1, 2.5, …]` of Python numbers."""
    return exp.Array(expressions=[exp.Literal.number(repr(value)) if value >= 0 else
                                  exp.Neg(this=exp.Literal.number(repr(-value))) for value in values])


def constant(node: exp.Expression) -> Any:
    """Strings, numbers, TRUE/FALSE, NULL, arrays as lists, STRUCT('a', 0.2) as tuples, CAST('inf' AS FLOAT64)."""
    if isinstance(node, exp.Paren):
        return constant(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        return int(text) if text.lstrip("-").isdigit() else float(text)
    if isinstance(node, exp.Neg):
        value = constant(node.this)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value
    elif isinstance(node, exp.Boolean):
        return bool(node.this)
    elif isinstance(node, exp.Null):
        return None
    elif isinstance(node, exp.Array):
        return [constant(item) for item in node.expressions]
    elif isinstance(node, exp.GenerateSeries) or (
            isinstance(node, exp.Anonymous) and str(node.this).upper() == "GENERATE_ARRAY"):
        return generate_array(node)
    elif isinstance(node, (exp.Struct, exp.Tuple)):  # BigQuery's ('a', 0.1) is a STRUCT too
        return tuple(constant(item) for item in node.expressions)
    elif isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        value = constant(node.this)
        if node.to.is_type(*exp.DataType.REAL_TYPES) or node.to.sql().upper() in ("FLOAT64", "FLOAT"):
            try:
                return float(value)
            except ValueError:
                raise NotConstant(node, "is not a number") from None
        return value
    raise NotConstant(node)
