"""A statement of any dialect model files are written in, as the DuckDB statement the warehouse runs: one
translator per dialect (DuckDB's own is the identity)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from toolkit.sql.bigquery import to_duckdb
from toolkit.sql.bigquery.functions import TempFunction
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.bigquery.translate import duckdb_functions

Translator = Callable[[exp.Expression, Datasets, dict[str, TempFunction]], exp.Expression]

TRANSLATORS: dict[str, Translator] = {
    "duckdb": lambda tree, datasets, functions: tree,
    "bigquery": to_duckdb,
}
# What a dialect's translator loads once per process (DuckDB's function catalog takes a third of a second).
PREPARATIONS: dict[str, Callable[[], object]] = {"bigquery": duckdb_functions}


def prepare_translation(dialects: set[str]) -> None:
    """Load what translating these dialects needs, before work is forked to other processes."""
    for dialect in dialects:
        PREPARATIONS.get(dialect, lambda: None)()


def warehouse_statement(tree: exp.Expression, dialect: str, datasets: Datasets,
                        functions: dict[str, TempFunction] | None = None) -> exp.Expression:
    """`tree`, parsed in `dialect`, as DuckDB's (in place); an Untranslatable for what has no faithful translation."""
    return TRANSLATORS[dialect](tree, datasets, functions or {})
