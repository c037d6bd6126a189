"""BigQuery ML's monitoring functions: ML.DESCRIBE_DATA (describe.py), ML.VALIDATE_DATA_DRIFT (drift.py) and
ML.VALIDATE_DATA_SKEW (skew.py), their distributions and distances in toolkit.ml.features (distributions.py,
histograms.py); the history of their results in the build's gates (history.py). `DATA_FUNCTIONS` holds each with
its number of inputs, whether it takes MODEL m first, its settings (BigQuery's names, ranges and defaults) and its
run(con, [model, version,] sql, schema, [sql, schema,] settings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from toolkit.ml.functions.catalog import Setting, TableFunction
from toolkit.ml.monitor.describe import describe_data
from toolkit.ml.monitor.drift import validate_data_drift
from toolkit.ml.monitor.skew import validate_data_skew


@dataclass(frozen=True)
class DataFunction:
    name: str  # without the ML. prefix
    run: Callable[..., pa.Table]  # (con, sql, schema, …one pair per input…, settings)
    settings: dict[str, Setting] = field(default_factory=dict)
    inputs: int = 1
    takes_model: bool = False  # ML.<name>(MODEL m, …): run gets the model's name and version (None: the latest)

    def checked_settings(self, raw: dict[str, Any], model: str | None = None) -> dict[str, Any]:
        """The STRUCT's fields checked (unknown names and out-of-range values refused), defaults filled in; with a
        model, its `version` is left to the caller (toolkit.ml.functions.catalog.model_version)."""
        function = TableFunction(self.name, "required", run=lambda *_: None, settings=self.settings)
        return function.checked_settings(raw, model)


# https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-describe-data
DATA_FUNCTIONS: dict[str, DataFunction] = {f.name: f for f in [
    DataFunction("DESCRIBE_DATA", describe_data, settings={
        "num_quantiles": Setting(int, 2, 1, 100_000),
        "num_array_length_quantiles": Setting(int, 10, 1, 100_000),
        "top_k": Setting(int, 1, 1, 10_000),
    }),
    # https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-validate-data-drift
    DataFunction("VALIDATE_DATA_DRIFT", validate_data_drift, inputs=2, settings={
        "num_histogram_buckets": Setting(int, 10, 1, 1_000),
        "num_quantiles_histogram_buckets": Setting(int, 10, 1, 1_000),
        "num_values_histogram_buckets": Setting(int, 10, 1, 1_000),
        "num_rank_histogram_buckets": Setting(int, 50, 1, 10_000),
        "categorical_default_threshold": Setting(float, 0.3),  # in [0, 1): checked by drift.py
        "categorical_metric_type": Setting(str, "L_INFTY"),
        "numerical_default_threshold": Setting(float, 0.3),
        "numerical_metric_type": Setting(str, "JENSEN_SHANNON_DIVERGENCE"),
        "thresholds": Setting(list, [], item=object),  # (column, threshold) pairs, checked by drift.py
    }),
    # https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-validate-data-skew
    DataFunction("VALIDATE_DATA_SKEW", validate_data_skew, takes_model=True, settings={
        "categorical_default_threshold": Setting(float, 0.3),  # in [0, 1): checked by drift.py
        "categorical_metric_type": Setting(str, "L_INFTY"),
        "numerical_default_threshold": Setting(float, 0.3),
        "numerical_metric_type": Setting(str, "JENSEN_SHANNON_DIVERGENCE"),
        "thresholds": Setting(list, [], item=object),
        "enable_visualization_link": Setting(bool, False),
    }),
]}
