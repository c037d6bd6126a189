"""Hyperparameter tuning's trials in the model store: `_toolkit.model_trials`, one row per trial of a version.

Each row holds ML.TRIAL_INFO's columns and, for a trial that succeeded, the trial's model: its options, metrics,
fitted estimator (a skops artifact, checked like a version's) and the scores of its eval split. The version's own
row is the optimal trial's model; `trial_model` gives any other trial as a TrainedModel that predicts in Python.
Versions stored without tuning have no rows here, and a warehouse older than the table loads as before."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import duckdb
import numpy as np

from toolkit.config import STATE_SCHEMA
from toolkit.errors import ModelError
from toolkit.ml.model import TrainedModel
from toolkit.ml.store import artifact
from toolkit.ml.tuning.trials import Trial
from toolkit.ml.types.options import ModelOptions

S = STATE_SCHEMA
TABLE = "model_trials"
DDL = f"""CREATE TABLE IF NOT EXISTS {S}.{TABLE} (
    model_name VARCHAR NOT NULL, version INTEGER NOT NULL, trial_id INTEGER NOT NULL, hyperparameters JSON NOT NULL,
    hparam_tuning_evaluation_metrics JSON NOT NULL, training_loss DOUBLE, eval_loss DOUBLE, status VARCHAR NOT NULL,
    error_message VARCHAR, is_optimal BOOLEAN NOT NULL, options JSON, metrics JSON, test_metrics JSON,
    estimator_params JSON, artifact_sha256 VARCHAR, artifact BLOB, eval_scores BLOB, anomaly BLOB,
    PRIMARY KEY (model_name, version, trial_id))"""
_COLUMNS = ("model_name", "version", "trial_id", "hyperparameters", "hparam_tuning_evaluation_metrics",
            "training_loss", "eval_loss", "status", "error_message", "is_optimal", "options", "metrics",
            "test_metrics", "estimator_params", "artifact_sha256", "artifact", "eval_scores", "anomaly")
INFO_COLUMNS = _COLUMNS[2:10]


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else list(v))


def _arrays_blob(arrays: dict[str, np.ndarray] | None) -> bytes | None:
    """Named numpy arrays (eval scores, an anomaly record) as .npz bytes, the same for the same arrays (entries
    in name order with a fixed date: np.savez would stamp the time)."""
    if arrays is None:
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            entry = io.BytesIO()
            np.save(entry, np.asarray(arrays[name]), allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), entry.getvalue())
    return buffer.getvalue()


def _arrays(blob: bytes | None) -> dict[str, np.ndarray] | None:
    if blob is None:
        return None
    with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}


def save_trials(con: duckdb.DuckDBPyConnection, name: str, version: int, trials: Sequence[Trial]) -> None:
    """Insert the trials of a version (inside the caller's transaction)."""
    if not trials:
        return
    con.execute(DDL)
    rows = []
    for t in trials:
        model = t.model if not t.is_optimal else None  # the optimal trial's model is the version's own row
        data, sha256 = artifact.dump(model.estimator) if model is not None else (None, None)
        rows.append([name, version, t.trial_id, _json(t.hyperparameters), _json(t.evaluation_metrics),
                     t.training_loss, t.eval_loss, t.status, t.error_message, t.is_optimal,
                     model.options.to_json() if model else None, _json(model.metrics) if model else None,
                     _json(model.test_metrics) if model and model.test_metrics is not None else None,
                     _json(model.estimator_params) if model else None, sha256, data,
                     _arrays_blob(model.eval_scores) if model else None,
                     _arrays_blob(model.anomaly) if model else None])
    con.executemany(f"INSERT INTO {S}.{TABLE} ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                    rows)


def _exists(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [S, TABLE]).fetchall()[0][0] > 0


def trial_rows(con: duckdb.DuckDBPyConnection, trained: TrainedModel) -> list[dict[str, Any]]:
    """ML.TRIAL_INFO's rows of a stored version, by trial_id; none for a version trained without tuning."""
    if trained.version is None or not _exists(con):
        return []
    found = con.execute(f"SELECT {', '.join(INFO_COLUMNS)} FROM {S}.{TABLE} WHERE model_name = ? AND version = ? "
                        "ORDER BY trial_id", [trained.name, trained.version]).fetchall()
    rows = []
    for r in found:
        row = dict(zip(INFO_COLUMNS, r))
        row["hyperparameters"] = json.loads(row["hyperparameters"])
        row["hparam_tuning_evaluation_metrics"] = json.loads(row["hparam_tuning_evaluation_metrics"])
        rows.append(row)
    return rows


def trial_model(con: duckdb.DuckDBPyConnection, trained: TrainedModel, trial_id: int, function: str) -> TrainedModel:
    """Trial `trial_id` of a stored version as a model (the version itself for its optimal trial), or an error
    naming the version's trials."""
    rows = trial_rows(con, trained)
    where = f"ML.{function}: model {trained.name} version {trained.version}"
    if not rows:
        raise ModelError(f"{where} was trained without hyperparameter tuning, so it has no trial {trial_id}",
                         hint="leave trial_id out of the STRUCT, or train with NUM_TRIALS")
    by_id = {r["trial_id"]: r for r in rows}
    if trial_id not in by_id:
        raise ModelError(f"{where} has no trial {trial_id}; its trials are 1 to {len(rows)}",
                         hint="ML.TRIAL_INFO(MODEL m) lists them")
    if by_id[trial_id]["is_optimal"]:
        return trained
    if by_id[trial_id]["status"] != "SUCCEEDED":
        raise ModelError(f"{where}: trial {trial_id} {by_id[trial_id]['status']} "
                         f"({by_id[trial_id]['error_message']}), so it has no model",
                         hint="pick a SUCCEEDED trial from ML.TRIAL_INFO(MODEL m)")
    r = con.execute(f"SELECT options, metrics, test_metrics, estimator_params, artifact_sha256, artifact, eval_scores, "
                    f"anomaly FROM {S}.{TABLE} WHERE model_name = ? AND version = ? AND trial_id = ?",
                    [trained.name, trained.version, trial_id]).fetchall()[0]
    params = json.loads(r[3])
    recorded = params.get("estimator")
    estimator = artifact.load(trained.name, trained.version, bytes(r[5]), r[4], trained.options.model_type,
                              recorded if isinstance(recorded, str) else None)
    return replace(trained, options=ModelOptions.from_json(trained.name, r[0]), estimator=estimator,
                   metrics=json.loads(r[1]), test_metrics=json.loads(r[2]) if r[2] is not None else None,
                   estimator_params=params, eval_scores=_arrays(r[6]), iterations=(), anomaly=_arrays(r[7]),
                   global_explain=None, class_global_explain=None, trial_id=trial_id)  # the optimal trial's only


def with_trials(con: duckdb.DuckDBPyConnection, trained: TrainedModel) -> TrainedModel:
    """The model with ML.TRIAL_INFO's rows of its version (TrainedModel.trials)."""
    return trained if trained.trials is not None else replace(trained, trials=tuple(trial_rows(con, trained)))
