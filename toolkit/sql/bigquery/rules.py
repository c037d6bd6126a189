"""BigQuery's semantics in DuckDB, one small rule per difference: each a pure function from a node of the
BigQuery tree to the node DuckDB computes BigQuery's value with, or an `Untranslatable` naming what has no
faithful translation. sqlglot's BigQuery → DuckDB transpiler does the rest (spellings, argument orders)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

Rule = Callable[[exp.Expression], exp.Expression]


def day_of_week(node: exp.Extract) -> exp.Expression:
    """EXTRACT(DAYOFWEEK …) is 1 (Sunday) to 7 on BigQuery, 0 (Sunday) to 6 in DuckDB."""
    if node.name.upper() != "DAYOFWEEK":
        return node
    return exp.paren(exp.Add(this=node, expression=exp.Literal.number(1)), copy=False)


RULES: dict[type[exp.Expression], Rule] = {
    exp.Extract: day_of_week,
}


def apply_rules(tree: exp.Expression) -> exp.Expression:
    """`tree` with every rule applied, children before parents (a rule sees translated arguments)."""
    return tree.transform(lambda node: RULES[type(node)](node) if type(node) in RULES else node, copy=False)
