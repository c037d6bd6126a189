"""Functions registered on every connection the toolkit opens."""

from __future__ import annotations

import duckdb

from toolkit.sql.bigquery.macros import macro_statements
from toolkit.warehouse.farmhash import register_farm_fingerprint


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Make the toolkit's SQL functions available on `con`: FARM_FINGERPRINT (BigQuery's, bit for bit), and the
    macros BigQuery-dialect SQL is translated to (as temporary macros: they live as long as the connection)."""
    register_farm_fingerprint(con)
    for statement in macro_statements():
        con.execute(statement)
