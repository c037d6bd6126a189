"""The model store: versions of trained models in the warehouse's `_toolkit` schema.

`_toolkit.model_versions` has one row per model version (its options, preprocessing, fitted TRANSFORM, label,
feature schema, fingerprints, library versions, metrics, the fitted estimator as a skops artifact — no bytes for
a TRANSFORM_ONLY model, which has none — and its prediction SQL, or why it has none, and `version_sha256`, one
checksum over everything ML.* functions execute or read to predict: see `version_digest`);
`_toolkit.model_training_info`, `_toolkit.model_feature_info` and `_toolkit.model_eval_metrics` hold the rows of
ML.TRAINING_INFO, ML.FEATURE_INFO (plus each feature's training distribution) and ML.EVALUATE;
`_toolkit.model_data_statistics` the training rows' distribution of each raw input feature (ML.VALIDATE_DATA_SKEW);
`_toolkit.model_eval_scores` a classifier's label and probabilities for each row of its eval split (its training
rows without one), which ML.CONFUSION_MATRIX, ML.ROC_CURVE and ML.EVALUATE at another threshold read without input.
A version, all its rows and its table macro `<model>_predict` (toolkit.ml.compile.macro) are written in one
transaction; the macro is recreated by each save, from the compiled SQL at that time, and is not checked when it
runs. Model names compare case-insensitively, as in DuckDB."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from toolkit.config import STATE_SCHEMA
from toolkit.errors import ModelError, did_you_mean
from toolkit.ml.compile import CompiledPrediction
from toolkit.ml.compile.macro import install_prediction_macro
from toolkit.ml.features.preprocess import Preprocessor
from toolkit.ml.features.transform import FittedTransform
from toolkit.ml.inference.heads import canonical, head
from toolkit.ml.model import Iteration, TrainedModel
from toolkit.ml.store import artifact
from toolkit.ml.store.trials import save_trials
from toolkit.ml.training.train import Training
from toolkit.ml.types.options import ModelOptions
from toolkit.warehouse.connection import transaction

__all__ = ["ModelSummary", "ensure_model_tables", "list_models", "load_model", "load_prediction", "model_exists",
           "model_names", "save_model", "version_digest", "with_eval_scores"]

S = STATE_SCHEMA
_VERSION_COLUMNS = (
    "model_name", "version", "model_type", "options", "label", "label_type", "classes", "feature_schema",
    "preprocessing", "split", "estimator_params", "seed", "query_fingerprint", "data_fingerprint",
    "library_versions", "created_at", "training_rows", "eval_rows", "metrics", "metrics_split", "test_metrics",
    "artifact_format", "artifact_sha256", "artifact", "transform", "compiled", "version_sha256",
)
# What the version checksum covers, besides the model's name and version, each as stored: the artifact (through
# artifact_sha256, itself checked against the bytes whenever they are loaded) and what prediction reads or runs.
_CHECKED = ("model_type", "options", "label", "label_type", "classes", "feature_schema", "preprocessing", "transform",
            "compiled", "artifact_sha256")
_CHECKSUM_SCHEME = 1
_DDL = [
    f"CREATE SCHEMA IF NOT EXISTS {S}",
    f"""CREATE TABLE IF NOT EXISTS {S}.model_versions (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, model_type VARCHAR NOT NULL, options JSON NOT NULL,
        label VARCHAR, label_type VARCHAR, classes JSON, feature_schema JSON NOT NULL, preprocessing JSON NOT NULL,
        split JSON NOT NULL, estimator_params JSON NOT NULL, seed BIGINT NOT NULL, query_fingerprint VARCHAR NOT NULL,
        data_fingerprint VARCHAR NOT NULL, library_versions JSON NOT NULL, created_at TIMESTAMP NOT NULL,
        training_rows BIGINT NOT NULL, eval_rows BIGINT NOT NULL, metrics JSON NOT NULL, metrics_split VARCHAR NOT NULL,
        test_metrics JSON, artifact_format VARCHAR NOT NULL, artifact_sha256 VARCHAR NOT NULL, artifact BLOB NOT NULL,
        PRIMARY KEY (model_name, version))""",
    # Added after the first release: warehouses made before it get the column (NULL: no TRANSFORM) here.
    f"ALTER TABLE {S}.model_versions ADD COLUMN IF NOT EXISTS transform JSON",
    f"ALTER TABLE {S}.model_versions ADD COLUMN IF NOT EXISTS compiled JSON",
    f"ALTER TABLE {S}.model_versions ADD COLUMN IF NOT EXISTS version_sha256 VARCHAR",  # NULL: only the artifact's
    f"""CREATE TABLE IF NOT EXISTS {S}.model_training_info (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, training_run INTEGER NOT NULL,
        iteration INTEGER NOT NULL, loss DOUBLE, eval_loss DOUBLE, learning_rate DOUBLE, duration_ms BIGINT)""",
    # KMEANS: each iteration's [centroid_id, cluster_radius, cluster_size] triples (NULL: other models, and KMEANS
    # rows stored before the column, whose ML.TRAINING_INFO shows the final radii on every row).
    f"ALTER TABLE {S}.model_training_info ADD COLUMN IF NOT EXISTS cluster_info JSON",
    f"""CREATE TABLE IF NOT EXISTS {S}.model_feature_info (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, input VARCHAR NOT NULL, min DOUBLE, max DOUBLE,
        mean DOUBLE, median DOUBLE, stddev DOUBLE, category_count BIGINT, null_count BIGINT, dimension BIGINT,
        distribution JSON)""",
    # TRUE: a TRANSFORM output's row (what the preprocessing reads, with its distribution); FALSE: an input column
    # of the query (the raw columns TRANSFORM reads, or the features without TRANSFORM). NULL in rows stored before
    # the column: a TRANSFORM model's were its outputs, and its raw inputs have no rows.
    f"ALTER TABLE {S}.model_feature_info ADD COLUMN IF NOT EXISTS transformed BOOLEAN",
    # What ML.VALIDATE_DATA_SKEW compares serving rows with: one JSON record per raw input feature
    # (toolkit.ml.features.distributions.training_statistics); a version without rows was trained before them.
    f"""CREATE TABLE IF NOT EXISTS {S}.model_data_statistics (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, position INTEGER NOT NULL, input VARCHAR NOT NULL,
        statistics JSON NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS {S}.model_eval_metrics (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, split VARCHAR NOT NULL, metric VARCHAR NOT NULL,
        value DOUBLE)""",
    f"""CREATE TABLE IF NOT EXISTS {S}.model_eval_scores (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, class_index INTEGER NOT NULL,
        probabilities DOUBLE[] NOT NULL)""",
    # KMEANS / PCA: kind 'quantile' (position = quantile) holds the upper half of the training rows' anomaly
    # scores, kind 'cluster_radius' (position = centroid_id) each cluster's radius (toolkit.ml.inference.anomalies).
    f"""CREATE TABLE IF NOT EXISTS {S}.model_anomaly_scores (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, kind VARCHAR NOT NULL, position DOUBLE NOT NULL,
        value DOUBLE NOT NULL)""",
    # Models trained with ENABLE_GLOBAL_EXPLAIN: ML.GLOBAL_EXPLAIN's attribution of each input column.
    f"""CREATE TABLE IF NOT EXISTS {S}.model_global_explain (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, feature VARCHAR NOT NULL, attribution DOUBLE NOT NULL)""",
    # Their classifiers: each class's attribution of each input column (class_index: the position in the version's
    # classes), for ML.GLOBAL_EXPLAIN's class_level_explain; a version without rows was stored before them.
    f"""CREATE TABLE IF NOT EXISTS {S}.model_class_explain (
        model_name VARCHAR NOT NULL, version INTEGER NOT NULL, class_index INTEGER NOT NULL, feature VARCHAR NOT NULL,
        attribution DOUBLE NOT NULL)""",
]
_FEATURE_INFO = ("input", "min", "max", "mean", "median", "stddev", "category_count", "null_count", "dimension")


@dataclass(frozen=True)
class ModelSummary:
    """One model in the store, described by its latest version."""

    name: str
    latest_version: int
    versions: int
    model_type: str
    created_at: datetime
    training_rows: int
    metrics: dict[str, float | None]
    prediction: str  # how ML.PREDICT runs the latest version: "SQL" or "Python: <why>"


def ensure_model_tables(con: duckdb.DuckDBPyConnection) -> None:
    for statement in _DDL:
        con.execute(statement)


def _tables_exist(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [S, "model_versions"]).fetchall()
    return rows[0][0] > 0


def save_model(con: duckdb.DuckDBPyConnection, training: Training) -> int:
    """Store a training's model and its compiled prediction as the next version of the model, atomically; the new
    version number."""
    trained, compiled = training.model, training.compiled
    data, sha256 = artifact.dump(trained.estimator)
    ensure_model_tables(con)
    name = trained.name
    with transaction(con):
        version = con.execute(f"SELECT coalesce(max(version), 0) + 1 FROM {S}.model_versions "
                              "WHERE lower(model_name) = lower(?)", [name]).fetchall()[0][0]
        row = {
            "model_name": name, "version": version, "model_type": trained.options.model_type,
            "options": trained.options.to_json(), "label": trained.label, "label_type": trained.label_type,
            "classes": _dumps(list(trained.classes)) if trained.classes is not None else None,
            "feature_schema": _dumps(list(trained.feature_schema)),
            "preprocessing": _dumps(trained.preprocessor.to_dict()), "split": _dumps(trained.split),
            "estimator_params": _dumps(trained.estimator_params), "seed": trained.seed,
            "query_fingerprint": trained.query_fingerprint, "data_fingerprint": trained.data_fingerprint,
            "library_versions": _dumps(trained.library_versions), "created_at": trained.created_at,
            "training_rows": trained.split.get("training_rows", 0), "eval_rows": trained.split.get("eval_rows", 0),
            "metrics": _dumps(trained.metrics), "metrics_split": trained.metrics_split,
            "test_metrics": _dumps(trained.test_metrics) if trained.test_metrics is not None else None,
            "artifact_format": artifact.FORMAT, "artifact_sha256": sha256, "artifact": data,
            "transform": _dumps(trained.transform.to_dict()) if trained.transform is not None else None,
            "compiled": _dumps(compiled.to_dict()),
        }
        row["version_sha256"] = version_digest(row)
        placeholders = ", ".join("?" for _ in _VERSION_COLUMNS)
        con.execute(f"INSERT INTO {S}.model_versions ({', '.join(_VERSION_COLUMNS)}) VALUES ({placeholders})",
                    [row[c] for c in _VERSION_COLUMNS])
        if trained.iterations:
            con.executemany(f"INSERT INTO {S}.model_training_info (model_name, version, training_run, iteration, "
                            "loss, eval_loss, learning_rate, duration_ms, cluster_info) "
                            "VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?)",
                            [[name, version, i.iteration, i.loss, i.eval_loss, i.learning_rate, i.duration_ms,
                              None if i.cluster_info is None else _dumps([list(c) for c in i.cluster_info])]
                             for i in trained.iterations])
        info_rows = [[name, version, *(f[k] for k in _FEATURE_INFO), _dumps(trained.data_stats.get(f["input"])),
                      trained.transform is not None] for f in trained.feature_info]
        info_rows += [[name, version, *(f[k] for k in _FEATURE_INFO), None, False] for f in trained.input_info or ()]
        if info_rows:
            con.executemany(f"INSERT INTO {S}.model_feature_info (model_name, version, {', '.join(_FEATURE_INFO)}, "
                            f"distribution, transformed) VALUES (?, ?, {', '.join('?' * 11)})", info_rows)
        if trained.training_statistics:
            con.executemany(f"INSERT INTO {S}.model_data_statistics VALUES (?, ?, ?, ?, ?)",
                            [[name, version, i, r["input"], _dumps(r)]
                             for i, r in enumerate(trained.training_statistics)])
        metric_rows = [[name, version, trained.metrics_split, k, v] for k, v in trained.metrics.items()]
        metric_rows += [[name, version, "test", k, v] for k, v in (trained.test_metrics or {}).items()]
        if metric_rows:
            con.executemany(f"INSERT INTO {S}.model_eval_metrics VALUES (?, ?, ?, ?, ?)", metric_rows)
        if trained.eval_scores is not None:
            _insert_eval_scores(con, name, version, trained.eval_scores)
        if trained.anomaly is not None:
            _insert_anomaly(con, name, version, trained.anomaly)
        if trained.global_explain is not None:
            _insert_rows(con, "model_global_explain", name, version, pa.table({
                "feature": pa.array(list(trained.global_explain), pa.string()),
                "attribution": pa.array(list(trained.global_explain.values()), pa.float64())}))
        if trained.class_global_explain is not None:
            _insert_class_explain(con, name, version, trained.class_global_explain)
        save_trials(con, name, version, training.trials)
        install_prediction_macro(con, name, compiled)
    return version


def load_model(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> TrainedModel:
    """A stored model version (the latest by default), refusing changed, foreign or incompatible artifacts."""
    if not model_exists(con, name):
        raise ModelError(f"unknown model '{name}'{did_you_mean(name, model_names(con))}",
                         hint="train it first (toolkit build --select ...); `toolkit models` lists the stored ones")
    condition = "lower(model_name) = lower(?)" + (" AND version = ?" if version is not None else "")
    params: list[Any] = [name] + ([version] if version is not None else [])
    present = _version_columns(con)  # a warehouse read-only and older than a column has none
    selected = [c if c in present else f"NULL AS {c}" for c in _VERSION_COLUMNS]
    cursor = con.execute(f"SELECT {', '.join(selected)} FROM {S}.model_versions WHERE {condition} "
                         "ORDER BY version DESC LIMIT 1", params)
    found = cursor.fetchall()
    if not found:
        versions = [r[0] for r in con.execute(f"SELECT version FROM {S}.model_versions WHERE lower(model_name) = "
                                              "lower(?) ORDER BY version", [name]).fetchall()]
        raise ModelError(f"model '{name}' has no version {version} (its versions: {versions})",
                         hint="omit the version for the latest one")
    row = dict(zip(_VERSION_COLUMNS, found[0]))
    stored_name, stored_version = row["model_name"], row["version"]
    _check_version(row)
    artifact.check_versions(stored_name, stored_version, json.loads(row["library_versions"]))
    if row["artifact_format"] != artifact.FORMAT:
        raise ModelError(f"model {stored_name} version {stored_version} has artifact format "
                         f"'{row['artifact_format']}'", hint=f"retrain it: toolkit build --select {stored_name}")
    recorded = json.loads(row["estimator_params"]).get("estimator")
    estimator = artifact.load(stored_name, stored_version, bytes(row["artifact"]), row["artifact_sha256"],
                              row["model_type"], recorded if isinstance(recorded, str) else None)
    key = [stored_name, stored_version]
    iterations = _iterations(con, key)
    info, input_info = _feature_info_rows(con, key, has_transform=row["transform"] is not None)
    test = json.loads(row["test_metrics"]) if row["test_metrics"] is not None else None
    return TrainedModel(
        name=stored_name, options=ModelOptions.from_json(stored_name, row["options"]),
        preprocessor=Preprocessor.from_dict(json.loads(row["preprocessing"])), estimator=estimator,
        label=row["label"], label_type=row["label_type"],
        classes=tuple(json.loads(row["classes"])) if row["classes"] is not None else None,
        feature_schema=tuple(json.loads(row["feature_schema"])), iterations=iterations,
        feature_info=tuple(dict(zip(_FEATURE_INFO, r[:-1])) for r in info),
        data_stats={r[0]: json.loads(r[-1]) for r in info if r[-1] is not None},
        metrics=json.loads(row["metrics"]), metrics_split=row["metrics_split"], test_metrics=test,
        seed=row["seed"], query_fingerprint=row["query_fingerprint"], data_fingerprint=row["data_fingerprint"],
        split=json.loads(row["split"]), estimator_params=json.loads(row["estimator_params"]),
        library_versions=json.loads(row["library_versions"]), created_at=row["created_at"], version=stored_version,
        transform=FittedTransform.from_dict(json.loads(row["transform"])) if row["transform"] is not None else None,
        anomaly=_load_anomaly(con, key) if row["model_type"] in ("KMEANS", "PCA") else None,
        global_explain=_load_global_explain(con, key),
        class_global_explain=_load_class_explain(con, key, len(json.loads(row["classes"]) or ()))
        if row["classes"] is not None else None,
        input_info=input_info,
    )


def _feature_info_rows(con: duckdb.DuckDBPyConnection, key: list[Any], *,
                       has_transform: bool) -> tuple[list[tuple], tuple[dict, ...] | None]:
    """A version's feature-info rows of what the preprocessing reads (with their distribution), and with TRANSFORM
    the raw inputs' ML.FEATURE_INFO rows (None when the version was stored before they were kept)."""
    columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                                         "AND table_name = ?", [S, "model_feature_info"]).fetchall()}
    transformed = "transformed" if "transformed" in columns else "NULL"  # a read-only warehouse older than it
    rows = con.execute(f"SELECT {', '.join(_FEATURE_INFO)}, distribution, {transformed} FROM {S}.model_feature_info "
                       "WHERE model_name = ? AND version = ? ORDER BY rowid", key).fetchall()
    if not has_transform:
        return [r[:-1] for r in rows], None
    outputs = [r[:-1] for r in rows if r[-1] is not False]
    if all(r[-1] is None for r in rows):
        return outputs, None
    return outputs, tuple(dict(zip(_FEATURE_INFO, r[:-2])) for r in rows if r[-1] is False)


def _insert_rows(con: duckdb.DuckDBPyConnection, table: str, name: str, version: int, rows: pa.Table) -> None:
    """Append `rows` to store table `table`, each prefixed with the model's name and version."""
    relation = f"__toolkit_{table}_{version}"
    con.register(relation, rows)
    try:
        con.execute(f"INSERT INTO {S}.{table} SELECT ?, ?, {', '.join(rows.column_names)} FROM {relation}",
                    [name, version])
    finally:
        con.unregister(relation)


def _insert_eval_scores(con: duckdb.DuckDBPyConnection, name: str, version: int,
                        scores: Mapping[str, np.ndarray]) -> None:
    proba = np.ascontiguousarray(scores["proba"], dtype=np.float64)
    rows = pa.table({"class_index": pa.array(scores["y"], pa.int32()),
                     "probabilities": pa.FixedSizeListArray.from_arrays(pa.array(proba.ravel()), proba.shape[1])})
    _insert_rows(con, "model_eval_scores", name, version, rows)


def _insert_anomaly(con: duckdb.DuckDBPyConnection, name: str, version: int, anomaly: Mapping[str, np.ndarray]) -> None:
    radii = anomaly.get("radii")
    kinds = ["quantile"] * len(anomaly["quantiles"]) + ["cluster_radius"] * (0 if radii is None else len(radii))
    positions = [*anomaly["quantiles"], *([] if radii is None else np.arange(1, len(radii) + 1))]
    values = [*anomaly["values"], *([] if radii is None else radii)]
    rows = pa.table({"kind": pa.array(kinds, pa.string()), "position": pa.array(positions, pa.float64()),
                     "value": pa.array(values, pa.float64())})
    _insert_rows(con, "model_anomaly_scores", name, version, rows)


def _load_anomaly(con: duckdb.DuckDBPyConnection, key: list[Any]) -> dict[str, np.ndarray] | None:
    """A KMEANS / PCA version's anomaly record; None when the store predates it."""
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [S, "model_anomaly_scores"]).fetchall()[0][0]:
        return None
    rows = con.execute(f"SELECT kind, position, value FROM {S}.model_anomaly_scores WHERE model_name = ? AND "
                       "version = ? ORDER BY kind, position", key).fetchall()
    if not rows:
        return None
    record = {"quantiles": np.array([r[1] for r in rows if r[0] == "quantile"]),
              "values": np.array([r[2] for r in rows if r[0] == "quantile"])}
    radii = [r[2] for r in rows if r[0] == "cluster_radius"]
    return {**record, "radii": np.array(radii)} if radii else record


def _load_global_explain(con: duckdb.DuckDBPyConnection, key: list[Any]) -> dict[str, float] | None:
    """A version's stored ML.GLOBAL_EXPLAIN attributions; None without them (or a store that predates them)."""
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [S, "model_global_explain"]).fetchall()[0][0]:
        return None
    rows = con.execute(f"SELECT feature, attribution FROM {S}.model_global_explain WHERE model_name = ? AND "
                       "version = ? ORDER BY rowid", key).fetchall()
    return {feature: value for feature, value in rows} or None


def _insert_class_explain(con: duckdb.DuckDBPyConnection, name: str, version: int,
                          per_class: tuple[dict[str, float], ...]) -> None:
    rows = [(k, feature, value) for k, values in enumerate(per_class) for feature, value in values.items()]
    _insert_rows(con, "model_class_explain", name, version, pa.table({
        "class_index": pa.array([r[0] for r in rows], pa.int32()),
        "feature": pa.array([r[1] for r in rows], pa.string()),
        "attribution": pa.array([r[2] for r in rows], pa.float64())}))


def _load_class_explain(con: duckdb.DuckDBPyConnection, key: list[Any],
                        classes: int) -> tuple[dict[str, float], ...] | None:
    """A classifier version's stored per-class attributions; None without them (a version or a store older than
    them, or a model trained without ENABLE_GLOBAL_EXPLAIN)."""
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [S, "model_class_explain"]).fetchall()[0][0]:
        return None
    rows = con.execute(f"SELECT class_index, feature, attribution FROM {S}.model_class_explain WHERE model_name = ? "
                       "AND version = ? ORDER BY rowid", key).fetchall()
    if not rows:
        return None
    per_class: tuple[dict[str, float], ...] = tuple({} for _ in range(classes))
    for k, feature, value in rows:
        per_class[k][feature] = value
    return per_class


def with_eval_scores(con: duckdb.DuckDBPyConnection, trained: TrainedModel) -> TrainedModel:
    """The model with the scores of the rows its metrics were computed on (TrainedModel.eval_scores), read from
    the store for a stored classifier that lacks them; unchanged when they are at hand or were never kept (a
    version trained before the store kept them, or a model type that keeps none)."""
    if trained.eval_scores is not None or trained.version is None or not head(trained).keeps_scores:
        return trained
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [S, "model_eval_scores"]).fetchall()[0][0]:
        return trained
    rows = con.sql(f"SELECT class_index, probabilities FROM {S}.model_eval_scores WHERE model_name = ? AND "
                   "version = ?", params=[trained.name, trained.version]).to_arrow_table()
    if rows.num_rows == 0:
        return trained
    proba = rows.column("probabilities").combine_chunks()
    k = len(trained.classes)
    scores = {"proba": np.asarray(proba.flatten().to_numpy()).reshape(-1, k),
              "y": np.asarray(rows.column("class_index").to_numpy(), dtype=np.int64)}
    return replace(trained, eval_scores=canonical(scores))


def load_prediction(con: duckdb.DuckDBPyConnection, trained: TrainedModel) -> CompiledPrediction | None:
    """How ML.PREDICT runs a stored model version: its compiled SQL, or why it predicts in Python (None for a
    version trained before models were compiled), after checking the version's checksum."""
    present = _version_columns(con)
    if "compiled" not in present:
        return None
    columns = ("model_name", "version", *_CHECKED, "version_sha256")
    selected = [c if c in present else f"NULL AS {c}" for c in columns]
    rows = con.execute(f"SELECT {', '.join(selected)} FROM {S}.model_versions WHERE model_name = ? AND version = ?",
                       [trained.name, trained.version]).fetchall()
    if not rows:
        return None
    row = dict(zip(columns, rows[0]))
    _check_version(row)
    return CompiledPrediction.from_dict(json.loads(row["compiled"])) if row["compiled"] is not None else None


def version_digest(row: Mapping[str, Any]) -> str:
    """The sha256 of a version row's name, version and _CHECKED columns, as stored (JSON columns as their text)."""
    covered = {"scheme": _CHECKSUM_SCHEME, "model_name": row["model_name"], "version": row["version"],
               **{c: row[c] for c in _CHECKED}}
    return hashlib.sha256(json.dumps(covered, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _check_version(row: Mapping[str, Any]) -> None:
    """Refuse a version row whose checksum does not match (none: written before versions had one)."""
    if row["version_sha256"] is not None and version_digest(row) != row["version_sha256"]:
        name = row["model_name"]
        raise ModelError(f"model {name} version {row['version']} does not match its checksum: the stored version "
                         "was modified after training (which of its model type, options, label, classes, feature "
                         "schema, preprocessing, TRANSFORM, compiled SQL or artifact changed is unknown)",
                         hint=f"retrain it: toolkit build --select {name}")


def list_models(con: duckdb.DuckDBPyConnection) -> list[ModelSummary]:
    """Every stored model, by name, described by its latest version."""
    if not _tables_exist(con):
        return []
    compiled = "compiled" if "compiled" in _version_columns(con) else "NULL"
    rows = con.execute(f"""
        SELECT model_name, version, count(*) OVER (PARTITION BY lower(model_name)), model_type, created_at,
               training_rows, metrics, {compiled}
        FROM {S}.model_versions
        QUALIFY row_number() OVER (PARTITION BY lower(model_name) ORDER BY version DESC) = 1
        ORDER BY lower(model_name)""").fetchall()
    return [ModelSummary(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), _prediction(r[7])) for r in rows]


def _prediction(compiled: str | None) -> str:
    if compiled is None:
        return "Python: trained before models were compiled to SQL"
    return CompiledPrediction.from_dict(json.loads(compiled)).path


def _version_columns(con: duckdb.DuckDBPyConnection, table: str = "model_versions") -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
                       [S, table]).fetchall()
    return {r[0] for r in rows}


def _iterations(con: duckdb.DuckDBPyConnection, key: list[Any]) -> tuple[Iteration, ...]:
    clusters = "cluster_info" if "cluster_info" in _version_columns(con, "model_training_info") else "NULL"
    rows = con.execute(f"SELECT iteration, loss, eval_loss, learning_rate, duration_ms, {clusters} FROM "
                       f"{S}.model_training_info WHERE model_name = ? AND version = ? ORDER BY training_run, iteration",
                       key).fetchall()
    return tuple(Iteration(*r[:5], None if r[5] is None else tuple(tuple(c) for c in json.loads(r[5])))
                 for r in rows)


def model_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The names of the stored models (none before the first model is saved)."""
    if not _tables_exist(con):
        return []
    return [r[0] for r in con.execute(f"SELECT DISTINCT model_name FROM {S}.model_versions").fetchall()]


def model_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the store holds a version of model `name` (names compared ignoring case, as DuckDB's)."""
    return name.casefold() in {known.casefold() for known in model_names(con)}


def _dumps(value: Any) -> str:
    return json.dumps(_finite(value), default=_default, allow_nan=False)


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: they are stored as null."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _default(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
