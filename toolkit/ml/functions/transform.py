"""ML.TRANSFORM: TRANSFORM's outputs themselves, for the input rows: the feature outputs, and the passed-through
label / split / init columns when the input has them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from toolkit.ml.features.transform import PREFIX
from toolkit.ml.model import TrainedModel

Batches = Iterable[pa.RecordBatch]


def transform_applies(trained: TrainedModel) -> str | None:
    if trained.transform is None:
        return "it was trained without TRANSFORM(…), so there is nothing to apply; its input columns are its features"
    return None


def transform_outputs(trained: TrainedModel, schema: pa.Schema) -> list[tuple[int, str]]:
    """(position in the input, output name) of each TRANSFORM output, in TRANSFORM's order: the `__transform__`
    column of a feature, the raw column of a passed-through output (left out when the input lacks it)."""
    fitted = trained.transform
    by_name = {n: i for i, n in enumerate(schema.names)}
    raw = {n.lower(): i for i, n in enumerate(schema.names) if not n.startswith(PREFIX)}
    chosen = []
    for name in fitted.names:
        if PREFIX + name in by_name:
            chosen.append((by_name[PREFIX + name], name))
        elif name in fitted.passthrough and name.lower() in raw:
            chosen.append((raw[name.lower()], name))
    return chosen


def transform_run(trained: TrainedModel, batches: Batches | None,
                   settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """TRANSFORM's outputs for the input rows, batch by batch."""
    chosen = None
    for batch in batches or ():
        chosen = chosen or transform_outputs(trained, batch.schema)
        yield pa.RecordBatch.from_arrays([batch.column(i) for i, _ in chosen], names=[n for _, n in chosen])


def transform_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
    return pa.schema([input_schema.field(i).with_name(name) for i, name in transform_outputs(trained, input_schema)])
