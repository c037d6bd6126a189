"""Functions registered on every connection the toolkit opens."""

from __future__ import annotations

import duckdb


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the toolkit's SQL functions available on `con`."""
