"""A node's assertions on BigQuery, run right after it: severity `error` as `ASSERT (failing count) = 0 AS
'node · assertion'`, which stops the script; `warn` as a SELECT of the failing count, which reports and goes on."""

from __future__ import annotations

import re

from sqlglot import exp

from toolkit.deploy.dialect import Assert, DeployBigQuery
from toolkit.deploy.translate import Translator
from toolkit.project.assertions import UNDER_TEST_NAME, Assertion, Severity
from toolkit.project.nodes import Node
from toolkit.sql.dialect import Toolkit
from toolkit.sql.quoting import relation

_THRESHOLD = re.compile(r"^\s*(>=|<=|!=|<>|==|>|<|=)\s*(\d+(?:\.\d+)?)\s*$")
# The comparison a failing count is checked with, by the threshold's operator.
_COMPARISONS: dict[str, type[exp.Binary]] = {
    ">": exp.GT, ">=": exp.GTE, "<": exp.LT, "<=": exp.LTE, "=": exp.EQ, "==": exp.EQ, "!=": exp.NEQ, "<>": exp.NEQ,
}
# … and the comparison that holds when it does not (ASSERT's condition starts with the count, as BigQuery shows it).
_PASSING: dict[str, type[exp.Binary]] = {
    ">": exp.LTE, ">=": exp.LT, "<": exp.GTE, "<=": exp.GT, "=": exp.NEQ, "==": exp.NEQ, "!=": exp.EQ, "<>": exp.EQ,
}
FAILING_ROWS = "failing_rows"


def assertion_statements(node: Node, translator: Translator) -> list[str]:
    """The statements checking each of the node's assertions, in their order."""
    statements = []
    for assertion in node.assertions:
        what = f"assertion {assertion.name}: "
        count = _failing_count(node, assertion, translator, what)
        if count is None:
            continue
        label = exp.Literal.string(f"{node.name} · {assertion.name}")
        if assertion.severity is Severity.ERROR:
            statement: exp.Expression = Assert(this=_passes(count, assertion), description=label)
        else:
            statement = _reported(count, label, assertion)
        statements.append(translator.generate(statement, node, what, check_functions=False))
    return statements


def _failing_count(node: Node, assertion: Assertion, translator: Translator, what: str) -> exp.Query | None:
    """SELECT <the failing-row count> over the node's relation, as a BigQuery tree."""
    under_test = relation(*node.tested) if node.tested else relation(node.schema, node.name)  # a YAML test: its model
    if assertion.failing_when is not None:
        predicate = translator.from_duckdb(assertion.failing_when, node, what)
        if predicate is None:
            return None
        query = exp.select(exp.Count(this=exp.Star())).from_(translator.target.to_datasets(under_test.copy()))
        query = query.where(predicate)
    else:
        text = assertion.failing_count or assertion.failing_rows or ""
        tree = exp.maybe_parse(text, dialect=Toolkit) if text else None
        if tree is None:
            return None
        tree = _under_test(tree, under_test)
        parsed = translator.from_duckdb(tree.sql(dialect=Toolkit), node, what,
                                        prepare=lambda parsed: _described(parsed, assertion))
        if parsed is None:
            return None
        if assertion.failing_count is not None:
            query = exp.select(parsed).from_(translator.target.to_datasets(under_test.copy()))
        else:
            query = exp.select(exp.Count(this=exp.Star())).from_(exp.Subquery(this=parsed,
                                                                             alias=exp.TableAlias(this="failing")))
    translator.generate(query, node, what)  # the functions it calls, checked once
    return query


def _under_test(tree: exp.Expression, under_test: exp.Table) -> exp.Expression:
    """The UNDER_TEST placeholder as the node's relation (keeping the placeholder's alias)."""

    def substitute(item: exp.Expression) -> exp.Expression:
        if isinstance(item, exp.Table) and not item.db and item.name == UNDER_TEST_NAME:
            replacement = under_test.copy()
            if item.args.get("alias"):
                replacement.set("alias", item.args["alias"].copy())
            return replacement
        return item

    return tree.transform(substitute)


def _described(tree: exp.Expression, assertion: Assertion) -> exp.Expression:
    """column_types(): DuckDB's (DESCRIBE t) is BigQuery's INFORMATION_SCHEMA.COLUMNS of t's dataset, and the
    expected DuckDB types their BigQuery names (VARCHAR → STRING, DOUBLE → FLOAT64, TIMESTAMP → DATETIME)."""
    for describe in list(tree.find_all(exp.Describe)):
        table = describe.this
        columns = exp.Table(this=exp.to_identifier("INFORMATION_SCHEMA.COLUMNS", quoted=True),
                            db=table.args.get("db"), catalog=table.args.get("catalog"))
        listed = (exp.select("column_name", exp.alias_(exp.column("data_type"), "column_type"))
                  .from_(columns).where(exp.EQ(this=exp.column("table_name"),
                                               expression=exp.Literal.string(table.name))))
        target = describe.parent if isinstance(describe.parent, exp.Subquery) else describe
        if isinstance(target, exp.Subquery):
            target.set("this", listed)
        else:
            describe.replace(exp.Subquery(this=listed))
    if assertion.test == "column_types":
        for values in tree.find_all(exp.Values):
            for row in values.expressions:
                if isinstance(row, exp.Tuple) and len(row.expressions) == 2 and row.expressions[1].is_string:
                    duckdb_type = exp.DataType.build(row.expressions[1].name, dialect=Toolkit)
                    row.expressions[1].replace(exp.Literal.string(duckdb_type.sql(dialect=DeployBigQuery)))
    return tree


def _count_of(query: exp.Query) -> exp.Subquery:
    return exp.Subquery(this=query.copy())


def _passes(count: exp.Query, assertion: Assertion) -> exp.Expression:
    """The ASSERT condition: the error threshold (`>0` by default) does not hold for the failing count."""
    symbol, number = _THRESHOLD.match(assertion.error_if.text).groups()  # type: ignore[union-attr]
    if (symbol, float(number)) == (">", 0) and assertion.failing_count is None:
        return exp.EQ(this=_count_of(count), expression=exp.Literal.number(0))  # a row count is never negative
    return _PASSING[symbol](this=_count_of(count), expression=exp.Literal.number(number))


def _reported(count: exp.Query, label: exp.Literal, assertion: Assertion) -> exp.Expression:
    """A warn assertion's row: its name, the failing count, and whether it warns (the script goes on)."""
    symbol, number = _THRESHOLD.match(assertion.warn_if.text).groups()  # type: ignore[union-attr]
    counted = count.copy()
    counted.selects[0].replace(exp.alias_(counted.selects[0], FAILING_ROWS))
    warns = _COMPARISONS[symbol](this=exp.column(FAILING_ROWS), expression=exp.Literal.number(number))
    report = exp.select(exp.alias_(label, "assertion"), exp.column(FAILING_ROWS), exp.alias_(warns, "warns")) \
        .from_(exp.Subquery(this=counted, alias=exp.TableAlias(this="counted")))
    report.add_comments([f" severity warn: reported, does not stop the script ({label.name}) "])
    return report
