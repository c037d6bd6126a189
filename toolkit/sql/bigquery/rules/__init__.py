"""BigQuery's semantics in DuckDB, one small rule per difference: each a pure function from a node of the
BigQuery tree to the node DuckDB computes BigQuery's value with, or an `Untranslatable` naming what has no
faithful translation. sqlglot's BigQuery → DuckDB transpiler does the rest (spellings, argument orders).

One module per family: `dates`, `strings`, `numbers`, `casts`, `arrays`, `geography`; `common` holds the
building blocks (DuckDB calls, BigQuery's runtime errors, dispatch on an argument's type)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from toolkit.sql.bigquery.rules import arrays, casts, dates, geography, numbers, strings

Rule = Callable[[exp.Expression], exp.Expression]

_ANONYMOUS: dict[str, Rule] = {**numbers.ANONYMOUS}


def anonymous(node: exp.Anonymous) -> exp.Expression:
    """A function sqlglot does not know, by name."""
    name = str(node.this).upper()
    if geography.is_geography(name):
        return geography.refuse(node)
    rule = _ANONYMOUS.get(name)
    return rule(node) if rule else node


def data_type(node: exp.DataType) -> exp.Expression:
    return casts.data_type(geography.data_type(node))


RULES: dict[type[exp.Expression], Rule] = {
    **geography.RULES, **numbers.RULES, **casts.RULES, **dates.RULES, **strings.RULES, **arrays.RULES,
    exp.Anonymous: anonymous,
    exp.DataType: data_type,
}


def apply_rules(tree: exp.Expression, rules: dict[type[exp.Expression], Rule] = RULES) -> exp.Expression:
    """`tree` with every rule applied, children before parents (a rule sees translated arguments); what a rule
    returns is not visited again."""
    for node in reversed(list(tree.dfs())):
        rule = rules.get(type(node))
        if rule is None:
            continue
        parent, key, index = node.parent, node.arg_key, node.index
        new = rule(node)
        if new is node:
            continue
        if parent is None:
            tree = new
        else:
            parent.set(key, new, index)
    return tree
