"""BigQuery ML's table functions (ML.PREDICT, ML.EVALUATE, …) over a trained model, in one registry.

Each function takes the model, its input rows as a stream of Arrow record batches (or None when it reads none)
and its settings (the STRUCT(…) argument, validated against the function's schema), and returns Arrow: a stream
of batches for the row-wise functions (so predicting 30M rows holds a few batches at a time) or one small table
for the aggregates. Output columns keep BigQuery ML's names; ARRAY/STRUCT become Arrow list/struct.

Registered here: PREDICT and TRANSFORM (below); EVALUATE, CONFUSION_MATRIX, ROC_CURVE (toolkit/ml/evaluation.py);
TRAINING_INFO, FEATURE_INFO, WEIGHTS, CENTROIDS, FEATURE_IMPORTANCE (toolkit/ml/inspection.py); EXPLAIN_PREDICT,
GLOBAL_EXPLAIN (toolkit/ml/explain.py). Each module's docstring gives its outputs and the approximations chosen.
Errors name the function and the model (`ML.ROC_CURVE with model m: …`) and say what to do; `check_model` refuses
a model type a function does not apply to, `checked_settings` an unknown or out-of-range setting.

Models with TRANSFORM(…): the input rows arrive with TRANSFORM's feature outputs beside the raw columns, as
`__transform__<name>` columns (toolkit.ml.apply adds them in DuckDB); the model reads those, and the functions
pass through the raw columns only. ML.TRANSFORM returns TRANSFORM's outputs themselves: the feature outputs, and
the passed-through label / split / init columns when the input has them. A TRANSFORM_ONLY model has no estimator:
only ML.TRANSFORM and ML.FEATURE_INFO apply to it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from toolkit.errors import ConfigError, ModelError, did_you_mean
from toolkit.ml import evaluation, explain, inspection
from toolkit.ml.batches import chunk_rows, chunks, in_parallel, one_batch
from toolkit.ml.model import TrainedModel
from toolkit.ml.predict import predict
from toolkit.ml.registry import TRANSFORM_ONLY
from toolkit.ml.transform import PREFIX, without_prefixed

Batches = Iterable[pa.RecordBatch]
Result = pa.Table | Iterator[pa.RecordBatch]


_SQL_TYPES = {float: "FLOAT64 (e.g. 0.5)", int: "INT64 (e.g. 5)", bool: "BOOL (TRUE or FALSE)"}


@dataclass(frozen=True)
class Setting:
    """One field of the STRUCT(…) argument: its Python type, default and allowed range. A list setting (kind
    list) holds `item` values, each checked against the range."""

    kind: type
    default: Any = None
    low: float | None = None
    high: float | None = None
    item: type | None = None

    def check(self, function: str, name: str, value: Any, model: str | None = None) -> Any:
        where = f"ML.{function}" + (f" with model {model}" if model else "")
        if self.kind is list:
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}: {name} must be an array of {self.item.__name__}, not {value!r}",
                                  hint=f"e.g. [0.25, 0.5, 0.75] AS {name}")
            return [self._scalar(where, name, v, self.item) for v in value]
        return self._scalar(where, name, value, self.kind)

    def _scalar(self, where: str, name: str, value: Any, kind: type) -> Any:
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise ConfigError(f"{where}: {name} must be {kind.__name__}, not {value!r}",
                              hint=f"give {name} as a {_SQL_TYPES.get(kind, kind.__name__)}")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            if self.high is None:
                allowed = f"at least {self.low}"
            elif self.low is None:
                allowed = f"at most {self.high}"
            else:
                allowed = f"between {self.low} and {self.high}"
            raise ConfigError(f"{where}: {name} = {value} is outside [{self.low}, {self.high}]",
                              hint=f"give a {name} {allowed}")
        return value


@dataclass(frozen=True)
class TableFunction:
    name: str  # without the ML. prefix
    input: str  # 'required', 'optional' or 'none': whether it reads rows besides the model
    run: Callable[[TrainedModel, Batches | None, dict[str, Any]], Result]
    settings: Mapping[str, Setting] = field(default_factory=dict)
    applies_to: Callable[[TrainedModel], str | None] = lambda trained: None  # why it does not apply, or None
    schema: Callable[[TrainedModel, pa.Schema | None, dict[str, Any]], pa.Schema] | None = None  # of streamed output
    without_estimator: bool = False  # applies to TRANSFORM_ONLY models too

    def checked_settings(self, raw: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
        """The STRUCT's fields validated, with defaults filled in; errors name `model` when given."""
        values = {name: setting.default for name, setting in self.settings.items()}
        for name, value in raw.items():
            key = name.lower()
            if key not in self.settings:
                known = ", ".join(self.settings) or "none: leave the STRUCT out"
                with_model = f" (model {model})" if model else ""
                raise ConfigError(
                    f"ML.{self.name} has no setting {name!r}{did_you_mean(key, self.settings)}{with_model}",
                    hint=f"its settings: {known}",
                )
            values[key] = self.settings[key].check(self.name, key, value, model)
        return values

    def check_model(self, trained: TrainedModel) -> None:
        if trained.model_type.task == TRANSFORM_ONLY and not self.without_estimator:
            raise ModelError(f"ML.{self.name} does not apply to model {trained.name} (TRANSFORM_ONLY): it only "
                             "preprocesses, with no model to predict, evaluate or explain",
                             hint=f"use ML.TRANSFORM(MODEL {trained.name}, …) for its outputs, or train a model "
                                  "with this TRANSFORM(…) and another MODEL_TYPE")
        reason = self.applies_to(trained)
        if reason:
            raise ModelError(f"ML.{self.name} does not apply to model {trained.name} "
                             f"({trained.model_type.name}): {reason}")


# --- ML.PREDICT -----------------------------------------------------------------------------------------------------
def _predict(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """The input columns passed through, then BigQuery's prediction columns, chunk by chunk on every core."""
    def predicted_beside(table: pa.Table) -> pa.RecordBatch:
        predicted = predict(trained, table, threshold=settings.get("threshold"))
        return _beside(without_prefixed(one_batch(table)), predicted, trained.name)

    rows = chunk_rows(trained.preprocessor.width, 4 if trained.preprocessor.dtype == "float32" else 8)
    yield from in_parallel(predicted_beside, chunks(batches or (), rows))


def _predict_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
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


# --- ML.TRANSFORM ---------------------------------------------------------------------------------------------------
def _transform_applies(trained: TrainedModel) -> str | None:
    if trained.transform is None:
        return "it was trained without TRANSFORM(…), so there is nothing to apply; its input columns are its features"
    return None


def _transform_outputs(trained: TrainedModel, schema: pa.Schema) -> list[tuple[int, str]]:
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


def _transform_run(trained: TrainedModel, batches: Batches | None,
                   settings: dict[str, Any]) -> Iterator[pa.RecordBatch]:
    """TRANSFORM's outputs for the input rows, batch by batch."""
    chosen = None
    for batch in batches or ():
        chosen = chosen or _transform_outputs(trained, batch.schema)
        yield pa.RecordBatch.from_arrays([batch.column(i) for i, _ in chosen], names=[n for _, n in chosen])


def _transform_schema(trained: TrainedModel, input_schema: pa.Schema | None, settings: dict[str, Any]) -> pa.Schema:
    return pa.schema([input_schema.field(i).with_name(name) for i, name in _transform_outputs(trained, input_schema)])


_THRESHOLD = Setting(float, None, 0.0, 1.0)
_NO_INPUT = "none"

TABLE_FUNCTIONS: dict[str, TableFunction] = {f.name: f for f in [
    TableFunction("PREDICT", input="required", run=_predict, schema=_predict_schema,
                  settings={"threshold": _THRESHOLD}),
    TableFunction("EVALUATE", input="optional", run=evaluation.evaluate_run, settings={"threshold": _THRESHOLD}),
    # BigQuery reads the eval split without input; the toolkit does not keep it, so run() asks for the rows.
    TableFunction("CONFUSION_MATRIX", input="optional", run=evaluation.confusion_matrix_run,
                  settings={"threshold": _THRESHOLD}, applies_to=evaluation.confusion_matrix_applies),
    TableFunction("ROC_CURVE", input="optional", run=evaluation.roc_curve_run,
                  settings={"thresholds": Setting(list, None, 0.0, 1.0, item=float)},
                  applies_to=evaluation.roc_curve_applies),
    TableFunction("TRAINING_INFO", input=_NO_INPUT, run=inspection.training_info_run),
    TableFunction("FEATURE_INFO", input=_NO_INPUT, run=inspection.feature_info_run, without_estimator=True),
    TableFunction("WEIGHTS", input=_NO_INPUT, run=inspection.weights_run,
                  settings={"standardize": Setting(bool, False)}, applies_to=inspection.weights_applies),
    TableFunction("CENTROIDS", input=_NO_INPUT, run=inspection.centroids_run,
                  settings={"standardize": Setting(bool, False)}, applies_to=inspection.centroids_applies),
    TableFunction("FEATURE_IMPORTANCE", input=_NO_INPUT, run=inspection.feature_importance_run,
                  applies_to=inspection.feature_importance_applies),
    TableFunction("EXPLAIN_PREDICT", input="required", run=explain.explain_run, schema=explain.explain_schema,
                  settings={"top_k_features": Setting(int, 5, 1, None), "threshold": _THRESHOLD},
                  applies_to=explain.explain_applies),
    TableFunction("GLOBAL_EXPLAIN", input=_NO_INPUT, run=explain.global_explain_run,
                  applies_to=explain.global_explain_applies),
    TableFunction("TRANSFORM", input="required", run=_transform_run, schema=_transform_schema,
                  applies_to=_transform_applies, without_estimator=True),
]}
