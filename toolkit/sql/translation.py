"""A statement of any dialect model files are written in, as the DuckDB statement the warehouse runs: one
translator per dialect (DuckDB's own is the identity)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from toolkit.sql.bigquery import to_duckdb
from toolkit.sql.bigquery.functions import TempFunction
from toolkit.sql.bigquery.names import Datasets

Translator = Callable[[exp.Expression, Datasets, dict[str, TempFunction]], exp.Expression]

TRANSLATORS: dict[str, Translator] = {
    "duckdb": lambda tree, datasets, functions: tree,
    "bigquery": to_duckdb,
}


def warehouse_statement(tree: exp.Expression, dialect: str, datasets: Datasets,
                        functions: dict[str, TempFunction] | None = None) -> exp.Expression:
    """`tree`, parsed in `dialect`, as DuckDB's (in place); an Untranslatable for what has no faithful translation."""
    return TRANSLATORS[dialect](tree, datasets, functions or {})
