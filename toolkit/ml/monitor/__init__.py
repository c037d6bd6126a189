"""BigQuery ML's monitoring functions over data, not a model: ML.DESCRIBE_DATA (describe.py). `DATA_FUNCTIONS`
holds each with its settings (BigQuery's names, ranges and defaults) and its run(con, sql, schema, settings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from toolkit.ml.functions.catalog import Setting, TableFunction
from toolkit.ml.monitor.describe import describe_data


@dataclass(frozen=True)
class DataFunction:
    name: str  # without the ML. prefix
    run: Callable[[duckdb.DuckDBPyConnection, str, pa.Schema, dict[str, Any]], pa.Table]
    settings: dict[str, Setting] = field(default_factory=dict)

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
]}
