"""The error every BigQuery translation rule raises for SQL it cannot run faithfully: the node it is about (for
the line), what is wrong, and what to write instead."""

from __future__ import annotations

from sqlglot import exp


class Untranslatable(ValueError):
    def __init__(self, message: str, node: exp.Expression | None = None, hint: str | None = None,
                 line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.node, self.hint, self._line = message, node, hint, line

    @property
    def line(self) -> int | None:
        """The line of the file where the refused SQL is written (its first token that knows one)."""
        return self._line or line_of(self.node)

    @property
    def column(self) -> int | None:
        return _position(self.node, "col")


def line_of(node: exp.Expression | None) -> int | None:
    """The line of the first token under `node` that knows one (sqlglot keeps them when parsing text), else of
    the nearest enclosing expression that does (a type in a CAST: the CAST's)."""
    return _position(node, "line")


def _position(node: exp.Expression | None, key: str) -> int | None:
    while node is not None:
        for item in node.walk(bfs=False):
            if item.meta and key in item.meta:
                return item.meta[key]
        node = node.parent
    return None
