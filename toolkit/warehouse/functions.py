"""Functions registered on every connection the toolkit opens."""

from __future__ import annotations

import duckdb

from toolkit.warehouse.farmhash import register_farm_fingerprint


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the toolkit's SQL functions available on `con`: FARM_FINGERPRINT (BigQuery's, bit for bit)."""
    register_farm_fingerprint(con)
