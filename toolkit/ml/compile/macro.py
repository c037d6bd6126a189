"""The warehouse's table macro per compiled model: `SELECT * FROM <model>_predict(<table>)` predicts in any DuckDB
client, with no Python. `<table>` names a table, a view or a CTE; a binary classifier's macro also takes
`threshold := <number>` (default 0.5). Models that predict in Python have no macro: saving such a version drops
the macro of an older one, so a macro never serves a model other than the latest."""

from __future__ import annotations

import duckdb
from sqlglot import exp

from toolkit.ml.compile.prediction import FINGERPRINT_MACRO, CompiledPrediction
from toolkit.ml.types.tasks import DEFAULT_THRESHOLD
from toolkit.sql.quoting import render, table_ref
from toolkit.warehouse.farmhash_sql import install as install_fingerprint


def macro_name(model: str) -> str:
    return f"{model}_predict"


def install_prediction_macro(con: duckdb.DuckDBPyConnection, model: str, compiled: CompiledPrediction | None) -> None:
    """Create (or replace) the model's table macro, or drop a stale one; inside the caller's transaction."""
    name = table_ref(macro_name(model))
    if compiled is None or not compiled.compiled or compiled.macro_sql is None:
        con.execute(render(exp.Drop(tables=[name], kind="MACRO TABLE", exists=True)))
        return
    body = compiled.macro_sql
    if FINGERPRINT_MACRO in body.lower():  # written upper case by sqlglot
        install_fingerprint(con)
    parameters = "input" + (f", threshold := {DEFAULT_THRESHOLD}" if compiled.takes_threshold else "")
    # sqlglot neither parses nor builds DuckDB's table macros (`threshold := 0.5` parameters, AS TABLE), so this
    # statement stays text around two rendered trees: the quoted name and the compiled SELECT (`macro_sql`).
    con.execute(f"CREATE OR REPLACE MACRO {render(name)}({parameters}) AS TABLE {body}")
