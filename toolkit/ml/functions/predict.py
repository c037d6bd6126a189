"""ML.PREDICT: the input columns passed through, then BigQuery ML's prediction columns, streamed chunk by chunk on
every core. (A model compiled to SQL is predicted by DuckDB instead: see toolkit.ml.functions.apply.)"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from toolkit.errors import ModelError
from toolkit.ml.features.transform import without_prefixed
from toolkit.ml.inference.batches import chunk_rows, chunks, in_parallel, one_batch
from toolkit.ml.inference.predict import predict
from toolkit.ml.model import TrainedModel

Batches = Iterable[pa.RecordBatch]


def predict_run(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """The input columns passed through, then BigQuery's prediction columns, chunk by chunk on every core."""
    def predicted_beside(table: pa.Table) -> pa.RecordBatch:
        predicted = predict(trained, table, threshold=settings.get("threshold"))
        return _beside(without_prefixed(one_batch(table)), predicted, trained.name)

    rows = chunk_rows(trained.preprocessor.width, 4 if trained.preprocessor.dtype == "float32" else 8)
    yield from in_parallel(predicted_beside, chunks(batches or (), rows))


def predict_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
    predicted = predict(trained, input_schema.empty_table(), threshold=settings.get("threshold"))  # checks inputs
    passed = without_prefixed(input_schema)
    _check_clash(passed.names, predicted.column_names, trained.name)
    return pa.schema([*passed, *predicted.schema])


def _check_clash(names: list[str], predicted: list[str], model: str) -> None:
    clash = {n.lower() for n in names} & {n.lower() for n in predicted}
    if clash:
        raise ModelError(
            f"ML.PREDICT with model {model}: the input already has a column {sorted(clash)[0]!r}",
            hint="leave it out of the input query or rename it",
        )


def _beside(batch: pa.RecordBatch, predicted: pa.Table, model: str) -> pa.RecordBatch:
    _check_clash(batch.schema.names, predicted.column_names, model)
    columns = [*batch.columns, *(column.combine_chunks() for column in predicted.columns)]
    return pa.RecordBatch.from_arrays(columns, names=[*batch.schema.names, *predicted.column_names])
