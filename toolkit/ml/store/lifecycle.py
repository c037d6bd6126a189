"""A stored model's end: DROP MODEL, and the models whose CREATE MODEL file is gone (orphans).

DROP MODEL removes every row of the model in the store's tables (STORE_TABLES, toolkit.ml.store.versions) and
its table macro `<model>_predict`, in one transaction; the run history (`_toolkit.model_usage`: which version
each build applied) stays. This module reads
the store with plain SQL only, so `toolkit build` can look for orphans without loading scikit-learn."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
from sqlglot import exp

from toolkit.config import STATE_SCHEMA
from toolkit.errors import ModelError, did_you_mean
from toolkit.sql.quoting import render, table_ref
from toolkit.warehouse.connection import transaction

S = STATE_SCHEMA
# Every `_toolkit` table of the model store (toolkit.ml.store.versions), model_versions last.
STORE_TABLES = ("model_training_info", "model_feature_info", "model_eval_metrics", "model_eval_scores",
                "model_anomaly_scores", "model_global_explain", "model_class_explain", "model_data_statistics",
                "model_trials", "model_versions")


@dataclass(frozen=True)
class DroppedModel:
    name: str  # as stored
    versions: int


def stored_model_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The names of the models the store holds, sorted ignoring case (none before the first is saved)."""
    if "model_versions" not in _store_tables(con):
        return []
    rows = con.execute(f"SELECT DISTINCT model_name FROM {S}.model_versions ORDER BY lower(model_name)").fetchall()
    return [r[0] for r in rows]


def drop_model(con: duckdb.DuckDBPyConnection, name: str, if_exists: bool = False) -> DroppedModel | None:
    """Remove model `name` (compared ignoring case) from the store, atomically: None when it is absent and
    `if_exists`; an error naming it (and the closest stored name) when it is absent otherwise."""
    known = stored_model_names(con)
    stored = next((k for k in known if k.casefold() == name.casefold()), None)
    if stored is None:
        if if_exists:
            return None
        raise ModelError(f"DROP MODEL: no model named {name} in the model store{did_you_mean(name, known)}",
                         hint="`toolkit models` lists the stored models; DROP MODEL IF EXISTS does nothing for a "
                              "missing one")
    tables = _store_tables(con)
    with transaction(con):
        versions = con.execute(f"SELECT count(*) FROM {S}.model_versions WHERE lower(model_name) = lower(?)",
                               [stored]).fetchall()[0][0]
        for table in tables:
            con.execute(f"DELETE FROM {S}.{table} WHERE lower(model_name) = lower(?)", [stored])
        macro = table_ref(f"{stored}_predict")  # toolkit.ml.compile.macro.macro_name
        con.execute(render(exp.Drop(tables=[macro], kind="MACRO TABLE", exists=True)))
    return DroppedModel(stored, versions)


def orphaned_models(con: duckdb.DuckDBPyConnection, project_models: Iterable[str]) -> list[str]:
    """The stored models no CREATE MODEL file of the project (`project_models`, their names) trains any more."""
    kept = {name.casefold() for name in project_models}
    return [name for name in stored_model_names(con) if name.casefold() not in kept]


def drop_hint(name: str) -> str:
    return f'toolkit query "DROP MODEL {name}"'


def _store_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The STORE_TABLES the warehouse has (an older store lacks the later ones), in STORE_TABLES' order."""
    rows = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [S]).fetchall()
    present = {r[0] for r in rows}
    return [table for table in STORE_TABLES if table in present]
