"""BigQuery ML's table functions (ML.PREDICT, ML.EVALUATE, …) over a trained model, in one registry.

Each function takes the model, its input rows as a stream of Arrow record batches (or None when it reads none)
and its settings (the STRUCT(…) argument, validated against the function's schema), and returns Arrow: a stream
of batches for the row-wise functions (so predicting 30M rows holds a few batches at a time) or one small table
for the aggregates. Output columns keep BigQuery ML's names; ARRAY/STRUCT become Arrow list/struct."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from toolkit.errors import ConfigError, ModelError, did_you_mean
from toolkit.ml.model import TrainedModel
from toolkit.ml.predict import predict

Batches = Iterable[pa.RecordBatch]
Result = pa.Table | Iterator[pa.RecordBatch]


@dataclass(frozen=True)
class Setting:
    """One field of the STRUCT(…) argument: its Python type, default and allowed range."""

    kind: type
    default: Any = None
    low: float | None = None
    high: float | None = None

    def check(self, function: str, name: str, value: Any) -> Any:
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, self.kind) or isinstance(value, bool) and self.kind is not bool:
            raise ConfigError(f"ML.{function}: {name} must be {self.kind.__name__}, not {value!r}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ConfigError(f"ML.{function}: {name} = {value} is outside [{self.low}, {self.high}]")
        return value


@dataclass(frozen=True)
class TableFunction:
    name: str  # without the ML. prefix
    input: str  # 'required', 'optional' or 'none': whether it reads rows besides the model
    run: Callable[[TrainedModel, Batches | None, dict[str, Any]], Result]
    settings: Mapping[str, Setting] = field(default_factory=dict)
    applies_to: Callable[[TrainedModel], str | None] = lambda trained: None  # why it does not apply, or None
    schema: Callable[[TrainedModel, pa.Schema | None, dict[str, Any]], pa.Schema] | None = None  # of streamed output

    def checked_settings(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """The STRUCT's fields validated, with defaults filled in."""
        values = {name: setting.default for name, setting in self.settings.items()}
        for name, value in raw.items():
            key = name.lower()
            if key not in self.settings:
                known = ", ".join(self.settings) or "none"
                raise ConfigError(
                    f"ML.{self.name} has no setting {name!r}{did_you_mean(key, self.settings)}",
                    hint=f"its settings: {known}",
                )
            values[key] = self.settings[key].check(self.name, key, value)
        return values

    def check_model(self, trained: TrainedModel) -> None:
        reason = self.applies_to(trained)
        if reason:
            raise ModelError(f"ML.{self.name} does not apply to model {trained.name} ({trained.model_type.name}): {reason}")


# --- ML.PREDICT -----------------------------------------------------------------------------------------------------
def _predict(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """The input columns passed through, then BigQuery's prediction columns, batch by batch."""
    for batch in batches or ():
        predicted = predict(trained, pa.Table.from_batches([batch]), threshold=settings.get("threshold"))
        yield _beside(batch, predicted, trained.name)


def _predict_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
    predicted = predict(trained, input_schema.empty_table(), threshold=settings.get("threshold"))  # checks inputs
    return pa.schema([*input_schema, *predicted.schema])


def _beside(batch: pa.RecordBatch, predicted: pa.Table, model: str) -> pa.RecordBatch:
    clash = set(batch.schema.names) & set(predicted.column_names)
    if clash:
        raise ModelError(
            f"ML.PREDICT with model {model}: the input already has a column {sorted(clash)[0]!r}",
            hint="leave it out of the input query or rename it",
        )
    columns = [*batch.columns, *(column.combine_chunks() for column in predicted.columns)]
    return pa.RecordBatch.from_arrays(columns, names=[*batch.schema.names, *predicted.column_names])


TABLE_FUNCTIONS: dict[str, TableFunction] = {
    "PREDICT": TableFunction(
        "PREDICT", input="required", run=_predict, schema=_predict_schema,
        settings={"threshold": Setting(float, None, 0.0, 1.0)},
    ),
}
