"""ML.DETECT_ANOMALIES for KMEANS and PCA models
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-detect-anomalies):
`ML.DETECT_ANOMALIES(MODEL m, STRUCT(0.02 AS contamination), {TABLE t | (query)})`.

Outputs, then the input columns: KMEANS is_anomaly, normalized_distance, centroid_id; PCA is_anomaly,
mean_squared_error. `contamination` (required, in [0, 0.5]) is the share of the training rows taken as anomalous:
a row is an anomaly when its score exceeds the training rows' (1 − contamination) quantile. The scores and the
quantile rule are in toolkit.ml.inference.anomalies."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from toolkit.errors import ModelError
from toolkit.ml.features.transform import without_prefixed
from toolkit.ml.inference import anomalies
from toolkit.ml.inference.batches import chunk_rows, chunks, in_parallel, one_batch
from toolkit.ml.inference.predict import design_matrix
from toolkit.ml.model import TrainedModel

Batches = Iterable[pa.RecordBatch]


def detect_applies(trained: TrainedModel) -> str | None:
    if trained.options.model_type not in anomalies.KINDS:
        return "the toolkit detects anomalies with KMEANS and PCA models (BigQuery's ARIMA_PLUS and autoencoder " \
               "models are not emulated)"
    if trained.anomaly is None:
        return "it was trained before the toolkit kept its training rows' anomaly scores; retrain it"
    return None


def _outputs(trained: TrainedModel) -> list[tuple[str, pa.DataType]]:
    columns = [("is_anomaly", pa.bool_()), (anomalies.KINDS[trained.options.model_type], pa.float64())]
    return columns + ([("centroid_id", pa.int64())] if trained.options.model_type == "KMEANS" else [])


def _contamination(trained: TrainedModel, settings: dict[str, Any]) -> float:
    value = settings.get("contamination")
    if value is None:
        raise ModelError(f"ML.DETECT_ANOMALIES with model {trained.name} needs a contamination",
                         hint=f"ML.DETECT_ANOMALIES(MODEL {trained.name}, STRUCT(0.02 AS contamination), TABLE t)")
    return float(value)


def detect_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
    _contamination(trained, settings)
    design_matrix(trained, input_schema.empty_table())  # checks the input's columns
    passed = without_prefixed(input_schema)
    outputs = _outputs(trained)
    clash = {n.lower() for n in passed.names} & {n for n, _ in outputs}
    if clash:
        raise ModelError(f"ML.DETECT_ANOMALIES with model {trained.name}: the input already has a column "
                         f"{sorted(clash)[0]!r}", hint="leave it out of the input query or rename it")
    return pa.schema([*(pa.field(n, t) for n, t in outputs), *passed])


def detect_run(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    record = trained.anomaly
    limit = anomalies.threshold(record["quantiles"], record["values"], _contamination(trained, settings))
    outputs = _outputs(trained)

    def detected(table: pa.Table) -> pa.RecordBatch:
        score, nearest = anomalies.scores(trained, design_matrix(trained, table), record.get("radii"))
        columns = [pa.array(score > limit, pa.bool_()), pa.array(score, pa.float64())]
        if nearest is not None:
            columns.append(pa.array(np.asarray(nearest) + 1, pa.int64()))
        batch = without_prefixed(one_batch(table))
        return pa.RecordBatch.from_arrays([*columns, *batch.columns], names=[n for n, _ in outputs] + batch.schema.names)

    yield from in_parallel(detected, chunks(batches or (), chunk_rows(trained.preprocessor.width)))
