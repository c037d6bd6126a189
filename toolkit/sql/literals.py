"""Constant SQL values as Python: what OPTIONS(…), STRUCT(…) settings and preprocessing arguments are written in."""

from __future__ import annotations

from typing import Any

from sqlglot import exp


class NotConstant(ValueError):
    """The expression is not a constant; the caller renders it in its dialect (this module sits below the dialect)."""

    def __init__(self, node: exp.Expression, reason: str = "") -> None:
        super().__init__(reason or node.sql())
        self.node = node
        self.reason = reason  # set when the expression has a constant's shape but not its value


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
    elif isinstance(node, exp.Struct):
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
