"""What a model page shows, read from the model store: every version's row, and for the latest version the
outputs of the ML.* functions that apply to it (run by toolkit.ml.functions without input, so nothing is
retrained or re-scored: ROC curve and confusion matrix read the eval scores kept at training)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from toolkit.config import STATE_SCHEMA
from toolkit.errors import ToolkitError

# The ML.* functions a model page shows, each with its STRUCT settings: run when they apply to the model.
PAGE_FUNCTIONS: dict[str, dict[str, Any]] = {
    "FEATURE_INFO": {}, "ROC_CURVE": {}, "CONFUSION_MATRIX": {}, "FEATURE_IMPORTANCE": {}, "GLOBAL_EXPLAIN": {},
    "WEIGHTS": {"standardize": True}, "CENTROIDS": {"standardize": True}, "PRINCIPAL_COMPONENT_INFO": {},
}


@dataclass(frozen=True)
class Version:
    version: int
    created_at: str
    training_rows: int
    eval_rows: int
    metrics: dict[str, float | None]
    metrics_split: str
    test_metrics: dict[str, float | None] | None


@dataclass(frozen=True)
class ModelDoc:
    name: str
    model_type: str
    label: str | None
    options: dict[str, Any]
    split: dict[str, Any]
    versions: list[Version]
    metrics: dict[str, dict[str, float | None]]  # split → metric → value (model_eval_metrics)
    iterations: list[dict[str, Any]]  # ML.TRAINING_INFO's rows
    functions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # ML.<name> → its rows
    skipped: dict[str, str] = field(default_factory=dict)  # ML.<name> → why it does not apply

    @property
    def latest(self) -> Version:
        return self.versions[-1]


def stored_models(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The names of the models in the store (none when the warehouse has no store yet)."""
    from toolkit.ml.store.versions import model_names

    return model_names(con)


def collect_model(con: duckdb.DuckDBPyConnection, name: str) -> ModelDoc:
    """Model `name`'s page data; its latest version is loaded to run the ML.* functions."""
    from toolkit.ml.functions.apply import function_rows
    from toolkit.ml.store.versions import load_model

    trained = load_model(con, name)
    key = [trained.name, trained.version]
    versions = [Version(v, created.isoformat(sep=" ", timespec="seconds"), training, evaluated, json.loads(metrics),
                        split, json.loads(test) if test else None)
                for v, created, training, evaluated, metrics, split, test in con.execute(
                    f"SELECT version, created_at, training_rows, eval_rows, metrics, metrics_split, test_metrics "
                    f"FROM {STATE_SCHEMA}.model_versions WHERE model_name = ? ORDER BY version", key[:1]).fetchall()]
    metrics: dict[str, dict[str, float | None]] = {}
    for split, metric, value in con.execute(
            f"SELECT split, metric, value FROM {STATE_SCHEMA}.model_eval_metrics WHERE model_name = ? AND version = ?",
            key).fetchall():
        metrics.setdefault(split, {})[metric] = value
    iterations = [{"iteration": i.iteration, "loss": i.loss, "eval_loss": i.eval_loss,
                   "learning_rate": i.learning_rate, "duration_ms": i.duration_ms} for i in trained.iterations]
    functions: dict[str, list[dict[str, Any]]] = {}
    skipped: dict[str, str] = {}
    for function, settings in PAGE_FUNCTIONS.items():
        cursors: list[duckdb.DuckDBPyConnection] = []
        try:
            rows = function_rows(con, function, trained, None, settings, cursors)
            functions[function] = _table(rows).to_pylist()
        except ToolkitError as error:  # does not apply to this model type, or was not enabled at training
            skipped[function] = error.message
        finally:
            for cursor in cursors:
                cursor.close()
    return ModelDoc(name=trained.name, model_type=trained.options.model_type, label=trained.label,
                    options=json.loads(trained.options.to_json()), split=trained.split, versions=versions,
                    metrics=metrics, iterations=iterations, functions=functions, skipped=skipped)


def _table(rows: pa.Table | pa.RecordBatchReader) -> pa.Table:
    return rows if isinstance(rows, pa.Table) else rows.read_all()
