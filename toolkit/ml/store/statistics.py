"""The training statistics stored with a model version (`_toolkit.model_data_statistics`, written by
toolkit.ml.store.versions.save_model): what ML.VALIDATE_DATA_SKEW compares serving rows with."""

from __future__ import annotations

import json

import duckdb

from toolkit.config import STATE_SCHEMA
from toolkit.errors import ModelError, did_you_mean
from toolkit.ml.store.versions import model_exists, model_names

S = STATE_SCHEMA


def load_training_statistics(con: duckdb.DuckDBPyConnection, name: str, version: int | None,
                             where: str) -> tuple[str, int, list[dict]]:
    """Model `name`'s stored name, the version (the latest when None) and its features' training statistics, in
    the order of the training query; a model, version or statistics that are not stored are refused."""
    if not model_exists(con, name):
        raise ModelError(f"{where}: no model named {name} in the model store{did_you_mean(name, model_names(con))}",
                         hint="train it with a CREATE MODEL file and `toolkit build`; `toolkit models` lists them")
    condition = "lower(model_name) = lower(?)" + (" AND version = ?" if version is not None else "")
    found = con.execute(f"SELECT model_name, version FROM {S}.model_versions WHERE {condition} "
                        "ORDER BY version DESC LIMIT 1", [name] + ([version] if version is not None else [])).fetchall()
    if not found:
        raise ModelError(f"{where}: model {name} has no version {version}", hint="omit the version for the latest one")
    stored, number = found[0]
    present = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                          [S, "model_data_statistics"]).fetchall()[0][0]
    rows = con.execute(f"SELECT statistics FROM {S}.model_data_statistics WHERE model_name = ? AND version = ? "
                       "ORDER BY position", [stored, number]).fetchall() if present else []
    if not rows:
        raise ModelError(f"{where}: model {stored} version {number} has no training statistics: it was trained "
                         "before the toolkit kept them (or on no column it can compare)",
                         hint=f"retrain it to keep them: toolkit build --select {stored}")
    return stored, number, [json.loads(r[0]) for r in rows]
