"""BigQuery ML's monitoring functions over data, not a model: ML.DESCRIBE_DATA (describe.py) and
ML.VALIDATE_DATA_DRIFT (drift.py, its distances in histograms.py). `DATA_FUNCTIONS` holds each with its number of
inputs, its settings (BigQuery's names, ranges and defaults) and its run(con, sql, schema, [sql, schema,] settings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from toolkit.ml.functions.catalog import Setting, TableFunction
from toolkit.ml.monitor.describe import describe_data
from toolkit.ml.monitor.drift import validate_data_drift


@dataclass(frozen=True)
class DataFunction:
    name: str  # without the ML. prefix
    run: Callable[..., pa.Table]  # (con, sql, schema, …one pair per input…, settings)
    settings: dict[str, Setting] = field(default_factory=dict)
    inputs: int = 1

    def checked_settings(self, raw: dict[str, Any]) -> dict[str, Any]:
        """The STRUCT's fields checked (unknown names and out-of-range values refused), defaults filled in."""
        return TableFunction(self.name, "required", run=lambda *_: None, settings=self.settings).checked_settings(raw)


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
]}
