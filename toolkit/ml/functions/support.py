"""Shared pieces of the ML.* table functions: errors that name the function and the model, the label column of
input rows, Arrow list<struct> builders, the map from design-matrix columns to the model's input columns, and
the parameters of linear models."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from toolkit.errors import ConfigError, ModelError
from toolkit.ml.types.registry import MODEL_TYPES, ModelType
from toolkit.ml.types.tasks import label_arrow_type as _label_arrow_type

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

def where(function: str, trained: TrainedModel) -> str:
    return f"ML.{function} with model {trained.name}"


def function_error(function: str, trained: TrainedModel, message: str, hint: str | None = None) -> ModelError:
    """'ML.ROC_CURVE with model m: <message>' with a hint saying what to do."""
    return ModelError(f"{where(function, trained)}: {message}", hint=hint)


def setting_error(function: str, trained: TrainedModel, message: str, hint: str | None = None) -> ConfigError:
    return ConfigError(f"{where(function, trained)}: {message}", hint=hint)


@contextmanager
def naming(function: str, trained: TrainedModel) -> Iterator[None]:
    """Errors raised by the shared prediction code about the model ('model m: the input has no column x') said by
    the function instead ('ML.EVALUATE with model m: the input has no column x')."""
    try:
        yield
    except ModelError as error:
        raise error.within(function) from None


def type_names(predicate: Callable[[ModelType], bool]) -> str:
    return ", ".join(name for name, model_type in MODEL_TYPES.items() if predicate(model_type))


def find_column(names: Sequence[str], wanted: str) -> str | None:
    """The column of `names` equal to `wanted` ignoring case (DuckDB's rule), or None."""
    for name in names:
        if name.lower() == wanted.lower():
            return name
    return None


def struct_lists(rows: Sequence[Sequence[tuple]], fields: Sequence[tuple[str, pa.DataType]]) -> pa.Array:
    """A list<struct<fields>> array from Python rows of tuples (small outputs only)."""
    names = [name for name, _ in fields]
    return pa.array([[dict(zip(names, entry)) for entry in row] for row in rows], type=pa.list_(pa.struct(fields)))


def ragged_structs(counts: np.ndarray, columns: Sequence[tuple[str, pa.Array]]) -> pa.ListArray:
    """A list<struct> array whose row i holds counts[i] entries of the flat `columns` (vectorized)."""
    offsets = np.zeros(len(counts) + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    entries = pa.StructArray.from_arrays([array for _, array in columns], names=[name for name, _ in columns])
    return pa.ListArray.from_arrays(pa.array(offsets), entries)


def label_arrow_type(trained: TrainedModel) -> pa.DataType:
    return _label_arrow_type(trained.label_type)


def class_array(trained: TrainedModel, indices: Any = None) -> pa.Array:
    """The classes (or those at `indices`) as an Arrow array of the label's type."""
    classes = pa.array(list(trained.classes), type=label_arrow_type(trained))
    return classes if indices is None else classes.take(pa.array(np.asarray(indices, dtype=np.int64)))
