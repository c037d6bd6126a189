"""ML.TRIAL_INFO: one row per hyperparameter tuning trial of a model version.

Columns as BigQuery's (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-trial-info):
trial_id (from 1, in the order the trials were proposed), hyperparameters (a STRUCT of the tuned options, lower
case), hparam_tuning_evaluation_metrics (a STRUCT of the objective, computed on the eval split), training_loss and
eval_loss (the last iteration's; NULL for estimators without iterations), status (SUCCEEDED or FAILED),
error_message (a failed trial's error), is_optimal."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from toolkit.ml.model import TrainedModel


def _struct(dicts: list[dict[str, Any]]) -> pa.Array:
    names = sorted({k for d in dicts for k in d})  # fields in name order
    if not names:
        return pa.nulls(len(dicts), pa.struct([]))
    fields = [pa.field(n.lower(), pa.array([d.get(n) for d in dicts]).type) for n in names]
    return pa.array([{n.lower(): d.get(n) for n in names} for d in dicts], pa.struct(fields))


def trial_info_run(trained: TrainedModel, batches: Any, settings: dict[str, Any]) -> pa.Table:
    rows = list(trained.trials or ())
    return pa.table({
        "trial_id": pa.array([r["trial_id"] for r in rows], pa.int64()),
        "hyperparameters": _struct([r["hyperparameters"] for r in rows]),
        "hparam_tuning_evaluation_metrics": _struct([r["hparam_tuning_evaluation_metrics"] for r in rows]),
        "training_loss": pa.array([r["training_loss"] for r in rows], pa.float64()),
        "eval_loss": pa.array([r["eval_loss"] for r in rows], pa.float64()),
        "status": pa.array([r["status"] for r in rows], pa.string()),
        "error_message": pa.array([r["error_message"] for r in rows], pa.string()),
        "is_optimal": pa.array([r["is_optimal"] for r in rows], pa.bool_()),
    })


def trial_info_applies(trained: TrainedModel) -> str | None:
    if not trained.options.search_space:
        return "it was trained without hyperparameter tuning (NUM_TRIALS), so it has no trials"
    return None
