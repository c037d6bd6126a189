"""DuckDB's semantics on BigQuery, one small rule per difference: each a pure function from a node of the DuckDB
tree to the node that computes DuckDB's value on BigQuery. sqlglot's DuckDB → BigQuery transpiler does the rest
(spellings, argument orders, FILTER → COUNTIF/IF); what has no exact counterpart is left for `refusals` to name.
Each rule returns the node unchanged when it does not apply."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

Rule = Callable[[exp.Expression], exp.Expression]


def _extract(part: str, value: exp.Expression) -> exp.Extract:
    return exp.Extract(this=exp.var(part), expression=value)


def _iso_day_of_week(value: exp.Expression) -> exp.Expression:
    """ISO day of week (1 = Monday … 7 = Sunday) from BigQuery's DAYOFWEEK (1 = Sunday … 7 = Saturday)."""
    shifted = exp.Add(this=_extract("DAYOFWEEK", value), expression=exp.Literal.number(5))
    return exp.paren(exp.Add(this=exp.Mod(this=shifted, expression=exp.Literal.number(7)),
                             expression=exp.Literal.number(1)), copy=False)


def _day_of_week(value: exp.Expression) -> exp.Expression:
    """DuckDB's day of week, 0 (Sunday) … 6: one less than BigQuery's DAYOFWEEK."""
    return exp.paren(exp.Sub(this=_extract("DAYOFWEEK", value), expression=exp.Literal.number(1)), copy=False)


def _sub_minute(value: exp.Expression, part: str, per_second: int) -> exp.Expression:
    """DuckDB's millisecond/microsecond count the seconds too (12.345 s → 12345); BigQuery's the fraction only."""
    seconds = exp.Mul(this=_extract("SECOND", value), expression=exp.Literal.number(per_second))
    return exp.paren(exp.Add(this=seconds, expression=_extract(part, value.copy())), copy=False)


# DuckDB date part → its value in BigQuery's terms, where the two differ.
_PARTS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "DOW": _day_of_week,
    "DAYOFWEEK": _day_of_week,
    "WEEKDAY": _day_of_week,
    "ISODOW": _iso_day_of_week,
    "WEEK": lambda value: _extract("ISOWEEK", value),  # DuckDB's week is the ISO week; BigQuery's starts on Sunday
    "WEEKOFYEAR": lambda value: _extract("ISOWEEK", value),
    "MILLISECOND": lambda value: _sub_minute(value, "MILLISECOND", 1_000),
    "MILLISECONDS": lambda value: _sub_minute(value, "MILLISECOND", 1_000),
    "MICROSECOND": lambda value: _sub_minute(value, "MICROSECOND", 1_000_000),
    "MICROSECONDS": lambda value: _sub_minute(value, "MICROSECOND", 1_000_000),
}


def day_of_week(node: exp.DayOfWeek) -> exp.Expression:
    """dayofweek(d) is 0 (Sunday) … 6 in DuckDB, EXTRACT(DAYOFWEEK …) 1 … 7 on BigQuery."""
    return _day_of_week(node.this)


def week(node: exp.Week) -> exp.Expression:
    """week(d) is DuckDB's ISO week number."""
    return _extract("ISOWEEK", node.this) if node.args.get("mode") is None else node


def extract_part(node: exp.Extract) -> exp.Expression:
    """EXTRACT(part FROM d) where DuckDB's part means something else on BigQuery (dow, isodow, week, millisecond…)."""
    rule = _PARTS.get(node.name.upper())
    return rule(node.expression) if rule else node


def date_part(node: exp.Anonymous) -> exp.Expression:
    """date_part('part', d) and the one-argument part functions DuckDB has (millisecond(t), microsecond(t))."""
    name = str(node.this).upper()
    arguments = node.expressions
    if name in ("DATE_PART", "DATEPART") and len(arguments) == 2 and arguments[0].is_string:
        part = arguments[0].name.upper()
        rule = _PARTS.get(part)
        return rule(arguments[1]) if rule else _extract(part, arguments[1])
    if name in _PARTS and len(arguments) == 1:
        return _PARTS[name](arguments[0])
    return node


def greatest_least(node: exp.Greatest | exp.Least) -> exp.Expression:
    """DuckDB's greatest/least skip NULLs (NULL only when all are); BigQuery's return NULL when any is: each
    argument falls back on the others, GREATEST(COALESCE(a, b, c), COALESCE(b, a, c), COALESCE(c, a, b))."""
    values = [node.this, *node.expressions]
    if len(values) < 2 or node.meta.get("deploy_nulls_skipped"):
        return node
    fallbacks = [exp.Coalesce(this=value.copy(), expressions=[other.copy() for other in values if other is not value])
                 for value in values]
    result = type(node)(this=fallbacks[0], expressions=fallbacks[1:])
    result.meta["deploy_nulls_skipped"] = True
    return result


def regexp_full_match(node: exp.RegexpFullMatch) -> exp.Expression:
    """regexp_full_match(s, p) is REGEXP_CONTAINS(s, '^(?:p)$') (both RE2; $ is the end of the text)."""
    if node.args.get("options") is not None:
        return node
    pattern = node.expression
    if pattern.is_string:
        anchored: exp.Expression = exp.Literal.string(f"^(?:{pattern.name})$")
    else:
        anchored = exp.Concat(expressions=[exp.Literal.string("^(?:"), pattern, exp.Literal.string(")$")])
    return exp.RegexpLike(this=node.this, expression=anchored)


def count_distinct_row(node: exp.Count) -> exp.Expression:
    """count(DISTINCT row(a, b)): BigQuery counts no STRUCTs; their JSON text is as distinct (a row of NULLs
    counts, as in DuckDB, whose row is never NULL)."""
    distinct = node.this
    if not isinstance(distinct, exp.Distinct) or len(distinct.expressions) != 1:
        return node
    row = distinct.expressions[0]
    if isinstance(row, exp.Anonymous) and str(row.this).upper() == "ROW":
        fields = row.expressions
    elif isinstance(row, exp.Tuple):
        fields = row.expressions
    else:
        return node
    text = exp.JSONFormat(this=exp.Struct(expressions=[field.copy() for field in fields]))
    return exp.Count(this=exp.Distinct(expressions=[text]))


def array_agg_order(node: exp.ArrayAgg) -> exp.Expression:
    """list(x ORDER BY x): DuckDB puts NULLs last, and BigQuery's ARRAY_AGG cannot say so; but a NULL element
    fails on BigQuery, so where the key is the element itself the NULLs' place never shows: BigQuery's order."""
    order = node.this
    if not isinstance(order, exp.Order):
        return node
    element = order.this.expressions[0] if isinstance(order.this, exp.Distinct) and order.this.expressions \
        else order.this
    for key in order.expressions:
        if key.this == element and not key.args.get("desc"):
            key.set("nulls_first", True)
        elif key.this == element:
            key.set("nulls_first", False)
    return node


def union_by_name(node: exp.Union) -> exp.Expression:
    """UNION [ALL] BY NAME fills the columns one side lacks with NULL in DuckDB: BigQuery's FULL … BY NAME."""
    if node.args.get("by_name") and not node.args.get("side"):
        node.set("side", "FULL")
    return node


def divide(node: exp.Div) -> exp.Expression:
    """a / b is a DOUBLE division in DuckDB, x / 0 infinite or NaN; BigQuery's / fails on 0: IEEE_DIVIDE."""
    return exp.Anonymous(this="IEEE_DIVIDE", expressions=[node.this, node.expression])


RULES: dict[type[exp.Expression], Rule] = {
    exp.DayOfWeek: day_of_week,
    exp.Week: week,
    exp.Extract: extract_part,
    exp.Anonymous: date_part,
    exp.Greatest: greatest_least,
    exp.Least: greatest_least,
    exp.RegexpFullMatch: regexp_full_match,
    exp.Count: count_distinct_row,
    exp.ArrayAgg: array_agg_order,
    exp.Union: union_by_name,
    exp.Div: divide,
}


def apply_rules(tree: exp.Expression) -> exp.Expression:
    """`tree` with every rule applied, children before parents (a rule sees translated arguments)."""
    for node in reversed(list(tree.walk())):
        rule = RULES.get(type(node))
        if rule is None:
            continue
        translated = rule(node)
        if translated is not node:
            if node is tree:
                tree = translated
            else:
                node.replace(translated)
    return tree
