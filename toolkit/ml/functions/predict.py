"""ML.PREDICT: BigQuery ML's prediction columns, then the input columns passed through, streamed chunk by chunk on
every core, in BigQuery's order (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-predict).
A PCA model returns only its principal_component_<k> columns unless STRUCT(TRUE AS keep_original_columns). (A model compiled to SQL is predicted by DuckDB instead: see toolkit.ml.functions.apply.)"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from toolkit.errors import ModelError
from toolkit.ml.features.transform import without_prefixed
from toolkit.ml.inference.batches import chunk_rows, chunks, in_parallel, one_batch
from toolkit.ml.inference.predict import predict
from toolkit.ml.model import TrainedModel
from toolkit.ml.types.tasks import Task

Batches = Iterable[pa.RecordBatch]


def predict_run(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """BigQuery's prediction columns, then the input columns passed through, chunk by chunk on every core."""
    keep = keeps_input_columns(trained, settings)

    def predicted_beside(table: pa.Table) -> pa.RecordBatch:
        predicted = predict(trained, table, threshold=settings.get("threshold"))
        passed = without_prefixed(one_batch(table))
        return _beside(passed if keep else passed.select([]), predicted, trained.name)

    rows = chunk_rows(trained.preprocessor.width, 4 if trained.preprocessor.dtype == "float32" else 8)
    yield from in_parallel(predicted_beside, chunks(batches or (), rows))


def predict_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
    predicted = predict(trained, input_schema.empty_table(), threshold=settings.get("threshold"))  # checks inputs
    passed = without_prefixed(input_schema) if keeps_input_columns(trained, settings) else pa.schema([])
    _check_clash(passed.names, predicted.column_names, trained.name)
    return pa.schema([*predicted.schema, *passed])


def keeps_input_columns(trained: TrainedModel, settings: dict[str, Any]) -> bool:
    """Whether ML.PREDICT passes the input's columns through: always, except for PCA models, which BigQuery
    returns with only their components unless keep_original_columns is TRUE."""
    keep = settings.get("keep_original_columns")
    if trained.model_type.task is not Task.DECOMPOSITION:
        if keep is not None:
            raise ModelError(f"ML.PREDICT with model {trained.name}: keep_original_columns applies to PCA models "
                             f"only; a {trained.model_type.name} model always returns the input's columns",
                             hint="leave keep_original_columns out of the STRUCT")
        return True
    return bool(keep)


def _check_clash(names: list[str], predicted: list[str], model: str) -> None:
    clash = {n.lower() for n in names} & {n.lower() for n in predicted}
    if clash:
        raise ModelError(
            f"ML.PREDICT with model {model}: the input already has a column {sorted(clash)[0]!r}",
            hint="leave it out of the input query or rename it",
        )


def _beside(batch: pa.RecordBatch, predicted: pa.Table, model: str) -> pa.RecordBatch:
    _check_clash(batch.schema.names, predicted.column_names, model)
    columns = [*(column.combine_chunks() for column in predicted.columns), *batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=[*predicted.column_names, *batch.schema.names])
