"""One statement of a BigQuery-dialect model file, as the tree DuckDB runs: temporary functions expanded, names
mapped to schemas, BigQuery's semantics kept by the rules, and no function left that DuckDB lacks."""

from __future__ import annotations

import functools

import duckdb
from sqlglot import exp

from toolkit.sql.bigquery.functions import TempFunction, expand
from toolkit.sql.bigquery.names import Datasets, to_schemas
from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.rules import apply_rules
from toolkit.sql.literals import NotConstant, array_literal, generate_array
from toolkit.sql.ml_nodes import MLFunction, MLPreprocess


def to_duckdb(statement: exp.Expression, datasets: Datasets,
              functions: dict[str, TempFunction] | None = None) -> exp.Expression:
    """The statement for DuckDB, translated in place; an Untranslatable for what would not give BigQuery's values."""
    tree = expand(statement, functions or {})
    tree = to_schemas(tree, datasets)
    tree = _fold_constant_arrays(tree)
    tree = apply_rules(tree)
    _check_functions(tree)
    return tree


def _fold_constant_arrays(tree: exp.Expression) -> exp.Expression:
    """GENERATE_ARRAY of constants where BigQuery ML reads a constant array (ML.ROC_CURVE's thresholds, settings,
    ML.BUCKETIZE's split points, OPTIONS values) as the array literal itself, so the ML layer reads its values."""
    for node in list(tree.find_all(exp.GenerateSeries)):
        if node.find_ancestor(MLFunction, MLPreprocess, exp.Property) is None:
            continue
        try:
            values = generate_array(node)
        except NotConstant:
            continue  # not constant: the rules translate it, and the ML layer says what it expects
        node.replace(array_literal(values))
    return tree


def _check_functions(tree: exp.Expression) -> None:
    """A function sqlglot does not know and DuckDB lacks: a BigQuery function the toolkit has no translation for."""
    for node in tree.find_all(exp.Anonymous):
        if isinstance(node, (MLFunction, MLPreprocess)):
            continue
        name = str(node.this)
        if name.casefold() not in duckdb_functions():
            raise Untranslatable(f"{name.upper()}() has no translation to DuckDB in the toolkit", node,
                                 hint="rewrite it with other functions (see README, Coming from BigQuery), or in a "
                                      "DuckDB-dialect model file")


@functools.cache
def duckdb_functions() -> frozenset[str]:
    """The names of DuckDB's functions and macros, lower-cased."""
    with duckdb.connect() as con:
        return frozenset(row[0].casefold() for row in
                         con.execute("SELECT DISTINCT function_name FROM duckdb_functions()").fetchall())
