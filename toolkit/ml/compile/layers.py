"""The compiled query as layers of SELECTs over the input: each keeps every column of the one below (`"__input".*`)
and adds its own helper columns, so a value computed once (a feature, a score, a tree) is read by name above it.
The last SELECT puts the prediction columns first, then the input's own columns, and drops the helpers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from toolkit.ml.compile.features import INPUT, aliased
from toolkit.ml.compile.sql import column


def _star() -> exp.Column:
    return exp.Column(this=exp.Star(), table=exp.to_identifier(INPUT, quoted=True))


class Layers:
    """The query built so far (`relation`) and the helper columns it added."""

    def __init__(self, source: exp.Expression, helpers: Sequence[str] = ()) -> None:
        self.relation = source
        self.helpers: list[str] = list(helpers)

    def add(self, columns: Sequence[tuple[str, exp.Expression]], joins: Sequence[exp.Join] = ()) -> None:
        """A layer adding `columns` (name, expression), reading lookups from `joins`."""
        select = exp.Select(expressions=[_star(), *(exp.alias_(e, name, quoted=True, copy=False)
                                                    for name, e in columns)])
        select = select.from_(aliased(self.relation, INPUT), copy=False)
        for join in joins:
            select = select.join(join, copy=False)
        self.relation = exp.Subquery(this=select)
        self.helpers += [name for name, _ in columns]

    def finish(self, outputs: Sequence[tuple[str, exp.Expression]], passthrough: Sequence[str] | None) -> exp.Select:
        """The prediction query: `outputs`, then the input's columns (all of them, or just `passthrough`), in
        BigQuery's order (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-predict)."""
        if passthrough is None:
            star = _star()
            if self.helpers:
                star.this.set("except_", [exp.column(exp.to_identifier(h, quoted=True)) for h in self.helpers])
            kept: list[exp.Expression] = [star]
        else:
            kept = [column(INPUT, name) for name in passthrough]
        select = exp.Select(expressions=[*(exp.alias_(e, name, quoted=True, copy=False) for name, e in outputs), *kept])
        return select.from_(aliased(self.relation, INPUT), copy=False)


def ref(name: str) -> exp.Column:
    """A column of the layer below."""
    return column(INPUT, name)
