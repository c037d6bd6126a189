"""BigQuery ML's table functions (ML.PREDICT, ML.EVALUATE, …) over a trained model, in one registry.

Each function takes the model, its input rows as a stream of Arrow record batches (or None when it reads none)
and its settings (the STRUCT(…) argument, validated against the function's schema), and returns Arrow: a stream
of batches for the row-wise functions (so predicting 30M rows holds a few batches at a time) or one small table
for the aggregates. Output columns keep BigQuery ML's names; ARRAY/STRUCT become Arrow list/struct.

One module per family, in `toolkit/ml/functions/`: PREDICT (predict.py), TRANSFORM (transform.py); EVALUATE,
CONFUSION_MATRIX, ROC_CURVE (evaluate.py); TRAINING_INFO, FEATURE_INFO, WEIGHTS, CENTROIDS, FEATURE_IMPORTANCE
(inspect.py); ADVANCED_WEIGHTS (advanced.py); EXPLAIN_PREDICT, GLOBAL_EXPLAIN (explain.py);
PRINCIPAL_COMPONENTS, PRINCIPAL_COMPONENT_INFO (components.py); DETECT_ANOMALIES (anomalies.py). Each module's
docstring gives its outputs and the approximations chosen.
Errors name the function and the model (`ML.ROC_CURVE with model m: …`) and say what to do; `check_model` refuses
a model type a function does not apply to, `checked_settings` an unknown or out-of-range setting. Every
function that takes a model also takes `version` (model_version): the stored version to apply, a toolkit extension.

Models with TRANSFORM(…): the input rows arrive with TRANSFORM's feature outputs beside the raw columns, as
`__transform__<name>` columns (toolkit.ml.functions.apply adds them in DuckDB); the model reads those, and the functions
pass through the raw columns only. ML.TRANSFORM returns TRANSFORM's outputs themselves: the feature outputs, and
the passed-through label / split / init columns when the input has them. A TRANSFORM_ONLY model has no estimator:
only ML.TRANSFORM and ML.FEATURE_INFO apply to it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from toolkit.errors import ConfigError, ModelError, did_you_mean
from toolkit.ml.functions import advanced, anomalies, components, evaluate, explain, inspect, predict, transform, trials
from toolkit.ml.model import TrainedModel
from toolkit.ml.types.tasks import Task

Batches = Iterable[pa.RecordBatch]
Result = pa.Table | Iterator[pa.RecordBatch]


_SQL_TYPES = {float: "FLOAT64", int: "INT64", bool: "BOOL"}
_EXAMPLES = {float: "0.5", int: "5", bool: "TRUE"}


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
            sql_type = _SQL_TYPES.get(kind, kind.__name__)
            raise ConfigError(f"{where}: {name} must be {sql_type}, not {value!r}",
                              hint=f"give {name} as {'an' if sql_type[0] in 'AEIOU' else 'a'} {sql_type}, e.g. STRUCT({_EXAMPLES.get(kind, '…')} AS {name})")
        if kind is float and not math.isfinite(value):  # NaN passes every range check; inf is no setting either
            raise ConfigError(f"{where}: {name} = {value} is not a finite number",
                              hint=f"give {name} as a number, e.g. STRUCT({_EXAMPLES[float]} AS {name})")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            if self.high is None:
                allowed = f"at least {self.low}"
            elif self.low is None:
                allowed = f"at most {self.high}"
            else:
                allowed = f"between {self.low} and {self.high}"
            low = "(-inf" if self.low is None else f"[{self.low}"
            high = "inf)" if self.high is None else f"{self.high}]"
            raise ConfigError(f"{where}: {name} = {value} is outside {low}, {high}", hint=f"give a {name} {allowed}")
        return value


# A toolkit extension: STRUCT(n AS version) makes any ML.* function that takes a model apply that stored version
# (1, 2, …) instead of the latest. BigQuery keeps one version per model and has no such setting.
VERSION = "version"
_VERSION = Setting(int, None, 1, None)


def model_version(function: str, raw: Mapping[str, Any], model: str) -> int | None:
    """The model version a call's STRUCT selects (STRUCT(2 AS version)), checked; None for the latest."""
    value = next((v for k, v in raw.items() if k.lower() == VERSION), None)
    return None if value is None else _VERSION.check(function, VERSION, value, model)


# STRUCT(n AS trial_id): the hyperparameter tuning trial to apply, as in BigQuery; without it the optimal trial.
TRIAL_ID = "trial_id"
_TRIAL_ID = Setting(int, None, 1, None)


def trial_id(function: str, raw: Mapping[str, Any], model: str) -> int | None:
    """The tuning trial a call's STRUCT selects (STRUCT(2 AS trial_id)), checked; None for the optimal one."""
    value = next((v for k, v in raw.items() if k.lower() == TRIAL_ID), None)
    return None if value is None else _TRIAL_ID.check(function, TRIAL_ID, value, model)


@dataclass(frozen=True)
class TableFunction:
    name: str  # without the ML. prefix
    input: str  # 'required', 'optional' or 'none': whether it reads rows besides the model
    run: Callable[[TrainedModel, Batches | None, dict[str, Any]], Result]
    settings: Mapping[str, Setting] = field(default_factory=dict)
    applies_to: Callable[[TrainedModel], str | None] = lambda trained: None  # why it does not apply, or None
    schema: Callable[[TrainedModel, pa.Schema | None, dict[str, Any]], pa.Schema] | None = None  # of streamed output
    without_estimator: bool = False  # applies to TRANSFORM_ONLY models too
    # Without input, whether run() reads the scores of the eval split kept at training (TrainedModel.eval_scores)
    # for these settings; the caller loads them from the store.
    reads_eval_split: Callable[[Mapping[str, Any]], bool] = lambda settings: False
    reads_trials: bool = False  # run() reads the version's tuning trials (TrainedModel.trials), loaded by the caller

    def checked_settings(self, raw: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
        """The STRUCT's fields validated, with defaults filled in; errors name `model` when given."""
        values = {name: setting.default for name, setting in self.settings.items()}
        for name, value in raw.items():
            key = name.lower()
            if key in (VERSION, TRIAL_ID) and model is not None:  # chosen before the model is loaded (model_version)
                continue
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
        if trained.model_type.task is Task.TRANSFORM and not self.without_estimator:
            raise ModelError(f"ML.{self.name} does not apply to model {trained.name} (TRANSFORM_ONLY): it only "
                             "preprocesses, with no model to predict, evaluate or explain",
                             hint=f"use ML.TRANSFORM(MODEL {trained.name}, …) for its outputs, or train a model "
                                  "with this TRANSFORM(…) and another MODEL_TYPE")
        reason = self.applies_to(trained)
        if reason:
            raise ModelError(f"ML.{self.name} does not apply to model {trained.name} "
                             f"({trained.model_type.name}): {reason}")


_THRESHOLD = Setting(float, None, 0.0, 1.0)
_NO_INPUT = "none"

TABLE_FUNCTIONS: dict[str, TableFunction] = {f.name: f for f in [
    TableFunction("PREDICT", input="required", run=predict.predict_run, schema=predict.predict_schema,
                  settings={"threshold": _THRESHOLD, "keep_original_columns": Setting(bool)}),
    # Without input these read the eval split (the training rows when there was none), as BigQuery does.
    TableFunction("EVALUATE", input="optional", run=evaluate.evaluate_run, settings={"threshold": _THRESHOLD},
                  reads_eval_split=lambda settings: settings.get("threshold") is not None),
    TableFunction("CONFUSION_MATRIX", input="optional", run=evaluate.confusion_matrix_run,
                  settings={"threshold": _THRESHOLD}, applies_to=evaluate.confusion_matrix_applies,
                  reads_eval_split=lambda settings: True),
    TableFunction("ROC_CURVE", input="optional", run=evaluate.roc_curve_run,
                  settings={"thresholds": Setting(list, None, 0.0, 1.0, item=float)},
                  applies_to=evaluate.roc_curve_applies, reads_eval_split=lambda settings: True),
    TableFunction("TRAINING_INFO", input=_NO_INPUT, run=inspect.training_info_run),
    TableFunction("FEATURE_INFO", input=_NO_INPUT, run=inspect.feature_info_run, without_estimator=True),
    TableFunction("WEIGHTS", input=_NO_INPUT, run=inspect.weights_run,
                  settings={"standardize": Setting(bool, False)}, applies_to=inspect.weights_applies),
    TableFunction("ADVANCED_WEIGHTS", input=_NO_INPUT, run=advanced.advanced_weights_run,
                  settings={"standardize": Setting(bool, False)}, applies_to=advanced.advanced_weights_applies),
    TableFunction("CENTROIDS", input=_NO_INPUT, run=inspect.centroids_run,
                  settings={"standardize": Setting(bool, False)}, applies_to=inspect.centroids_applies),
    TableFunction("FEATURE_IMPORTANCE", input=_NO_INPUT, run=inspect.feature_importance_run,
                  applies_to=inspect.feature_importance_applies),
    TableFunction("EXPLAIN_PREDICT", input="required", run=explain.explain_run, schema=explain.explain_schema,
                  settings={"top_k_features": Setting(int, 5, 1, None), "threshold": _THRESHOLD},
                  applies_to=explain.explain_applies),
    TableFunction("GLOBAL_EXPLAIN", input=_NO_INPUT, run=explain.global_explain_run,
                  settings={"class_level_explain": Setting(bool, False)}, applies_to=explain.global_explain_applies),
    TableFunction("PRINCIPAL_COMPONENTS", input=_NO_INPUT, run=components.principal_components_run,
                  applies_to=components.pca_applies),
    TableFunction("PRINCIPAL_COMPONENT_INFO", input=_NO_INPUT, run=components.principal_component_info_run,
                  applies_to=components.pca_applies),
    TableFunction("DETECT_ANOMALIES", input="required", run=anomalies.detect_run, schema=anomalies.detect_schema,
                  settings={"contamination": Setting(float, None, 0.0, 0.5)}, applies_to=anomalies.detect_applies),
    TableFunction("TRIAL_INFO", input=_NO_INPUT, run=trials.trial_info_run, applies_to=trials.trial_info_applies,
                  reads_trials=True),
    TableFunction("TRANSFORM", input="required", run=transform.transform_run, schema=transform.transform_schema,
                  applies_to=transform.transform_applies, without_estimator=True),
]}
