"""One lookup per categorical feature: the category text → the values the model needs for it (the weights of
its one-hot columns folded together, a centroid's coordinates, a tree's label code), never a column per category.

A short vocabulary becomes a CASE; a long one a LEFT JOIN against an inline VALUES table, which DuckDB answers
with a hash join (a CASE is a chain of comparisons, and a chain of thousands is slow). A category the lookup does
not hold gets the default: no one-hot column (0) or, for label codes, NULL (the trees' missing-value branch)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from toolkit.ml.compile.features import HELPER, INPUT
from toolkit.ml.compile.sql import case, column, number, text

MAX_CASE_ENTRIES = 16  # more entries than this: a joined VALUES table


@dataclass(frozen=True)
class Lookup:
    """Category → one value per output, for the categorical feature in the features-layer column `key`."""

    alias: str
    key: str
    entries: tuple[tuple[str | None, tuple[float, ...]], ...]  # None: the NULL category
    default: tuple[float | None, ...]  # a category not in `entries`; None: SQL NULL

    @property
    def joined(self) -> bool:
        return len(self.entries) > MAX_CASE_ENTRIES

    def value(self, output: int) -> exp.Expression:
        """The lookup's value for `output` of the row's category."""
        default = self.default[output]
        fallback = number(default) if default is not None else None
        key = column(INPUT, self.key)
        if self.joined:  # NULL never matches an equi-join: the NULL category, when it has a value, is a CASE
            found = column(self.alias, f"v{output}")
            value = exp.Coalesce(this=found, expressions=[fallback]) if fallback is not None else found
            null = self._null_value(output)
            return case([(exp.Is(this=key, expression=exp.Null()), null)], value) if null is not None else value
        whens = [(exp.Is(this=key.copy(), expression=exp.Null()) if category is None
                  else exp.EQ(this=key.copy(), expression=text(category)), number(values[output]))
                 for category, values in self.entries]
        return case(whens, fallback) if whens else (fallback or exp.Null())

    def _null_value(self, output: int) -> exp.Expression | None:
        return next((number(values[output]) for category, values in self.entries if category is None), None)

    def join(self) -> exp.Join | None:
        """The LEFT JOIN of a long lookup's VALUES table (an equi-join: DuckDB hashes it), or None for a CASE."""
        if not self.joined:
            return None
        width = len(self.default)
        rows = [exp.Tuple(expressions=[text(c), *(number(v) for v in values)])
                for c, values in self.entries if c is not None]
        names = [exp.to_identifier("key", quoted=True), *(exp.to_identifier(f"v{i}", quoted=True)
                                                         for i in range(width))]
        table = exp.Values(expressions=rows,
                           alias=exp.TableAlias(this=exp.to_identifier(self.alias, quoted=True), columns=names))
        condition = exp.EQ(this=column(INPUT, self.key), expression=column(self.alias, "key"))
        return exp.Join(this=table, on=condition, side="LEFT")


def lookup(index: int, key: str, entries: Sequence[tuple[str | None, Sequence[float]]],
           default: Sequence[float | None], *, keep_defaults: bool = False,
           counts: Mapping[str, int] | None = None) -> Lookup:
    """A lookup named after feature `index`; entries equal to the default are left out (they change nothing)
    unless `keep_defaults`. With the categories' training `counts`, the most frequent come first: a CASE then
    stops after fewer comparisons for most rows."""
    default = tuple(default)
    kept = [(c, tuple(float(v) for v in values)) for c, values in entries
            if keep_defaults or tuple(values) != default]
    if counts:
        kept.sort(key=lambda entry: -counts.get(entry[0], 0) if entry[0] is not None else 0)
    return Lookup(f"{HELPER}lookup{index}", key, tuple(kept), default)
