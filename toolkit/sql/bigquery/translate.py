"""One statement of a BigQuery-dialect model file, as the tree DuckDB runs: temporary functions expanded, names
mapped to schemas, BigQuery's semantics kept by the rules, and no function left that DuckDB lacks."""

from __future__ import annotations

import functools

import duckdb
from sqlglot import exp

from toolkit.sql.bigquery.functions import TempFunction, expand
from toolkit.sql.bigquery.macros import MACROS
from toolkit.sql.bigquery.names import Datasets, in_schema
from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.rules import RULES, apply_rules
from toolkit.sql.create_model import SEARCH_SPACES
from toolkit.sql.literals import NotConstant, array_literal, generate_array
from toolkit.sql.ml_nodes import MLFunction, MLPreprocess


def to_duckdb(statement: exp.Expression, datasets: Datasets,
              functions: dict[str, TempFunction] | None = None) -> exp.Expression:
    """The statement for DuckDB, translated in place; an Untranslatable for what would not give BigQuery's values.
    Temporary functions are expanded first, so that the rules see their bodies; then one walk, children before
    parents, maps names to schemas and applies the rules."""
    tree = expand(statement, functions or {})
    names = functools.partial(in_schema, datasets=datasets)
    rules = {**RULES, exp.Table: names, exp.Column: names, exp.Anonymous: _known_function,
             exp.GenerateSeries: _constant_array}
    return apply_rules(tree, rules)


def _constant_array(node: exp.GenerateSeries) -> exp.Expression:
    """GENERATE_ARRAY of constants where BigQuery ML reads a constant array (ML.ROC_CURVE's thresholds, settings,
    ML.BUCKETIZE's split points, OPTIONS values) as the array literal itself, so the ML layer reads its values;
    elsewhere the rule's translation."""
    if node.find_ancestor(MLFunction, MLPreprocess, exp.Property) is not None:
        try:
            return array_literal(generate_array(node))
        except NotConstant:
            pass  # not constant: the rule translates it, and the ML layer says what it expects
    return RULES[exp.GenerateSeries](node)


def _known_function(node: exp.Anonymous) -> exp.Expression:
    """A function sqlglot does not know: the rule for its name, or DuckDB's own; when DuckDB lacks it too, a BigQuery
    function the toolkit has no translation for."""
    translated = RULES[exp.Anonymous](node)
    name = str(node.this)
    if name.upper() in SEARCH_SPACES and node.find_ancestor(exp.Property) is not None:
        return node  # HPARAM_RANGE / HPARAM_CANDIDATES in OPTIONS(…): read by the ML layer, not run
    if translated is node and name.casefold() not in duckdb_functions() and name not in MACROS:
        raise Untranslatable(f"{name.upper()}() has no translation to DuckDB in the toolkit", node,
                             hint="rewrite it with other functions (see README, Coming from BigQuery), or in a "
                                  "DuckDB-dialect model file")
    return translated


@functools.cache
def duckdb_functions() -> frozenset[str]:
    """The names of DuckDB's functions and macros, lower-cased."""
    with duckdb.connect() as con:
        return frozenset(row[0].casefold() for row in
                         con.execute("SELECT DISTINCT function_name FROM duckdb_functions()").fetchall())
