"""ML.VALIDATE_DATA_DRIFT(base, study, STRUCT(…)): how far each column's distribution in `study` moved from
`base`, one row per column (`input`, `metric`, `threshold`, `value`, `is_anomaly`), as BigQuery ML's reference page
documents (https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-validate-data-drift).

- Categorical columns (STRING, BOOL, BYTES, dates and times, cast to STRING as ML.DESCRIBE_DATA does): L-infinity
  distance (metric `L_INFTY`, the default) or Jensen–Shannon divergence between the two tables' relative value
  frequencies, over every value either table holds.
- Numerical columns: Jensen–Shannon divergence between equal-width histograms of `num_histogram_buckets` buckets.
  The page says "equal-width" but not over which range: the buckets here span the smallest to the largest value of
  both tables together (so no value falls outside), numpy.histogram's buckets, the last one closed.
- Jensen–Shannon divergence uses the base-2 logarithm (so it lies in [0, 1], as the thresholds' range [0, 1)
  implies); NULLs are left out of every distribution. `is_anomaly` is value > threshold.
- STRUCT fields are compared one by one (`column.field`); an ARRAY column by its elements (ARRAY<numerical> and
  sparse tensors numerical, ARRAY<categorical> categorical), as the page's thresholds for ARRAY<categorical> and
  ARRAY<numerical> features imply.
- num_quantiles_histogram_buckets, num_values_histogram_buckets and num_rank_histogram_buckets are checked (BigQuery's
  ranges and defaults) but change no result: they shape TFDV's statistics, not these two distances.
- The optional MODEL argument (a Vertex AI visualisation link) is not supported.

Computed in DuckDB in one pass over each table (and one over each ARRAY column's elements): every column's distinct
values and their counts (toolkit.ml.features.value_counts); each numerical column's buckets follow from its values
over the two tables' range, numpy.histogram's buckets. A numerical column whose values nearly all differ in the
first 10,000 rows is not counted: its range and then its buckets come from two more aggregate passes (the same
buckets, computed in SQL)."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from toolkit.errors import ModelError
from toolkit.ml.features.distributions import NUMERICAL, Feature, bucket_counts, features, scan
from toolkit.ml.features.histograms import jensen_shannon, l_infinity

FUNCTION = "VALIDATE_DATA_DRIFT"
OUTPUT_SCHEMA = pa.schema([("input", pa.string()), ("metric", pa.string()), ("threshold", pa.float64()),
                           ("value", pa.float64()), ("is_anomaly", pa.bool_())])
METRICS = {"L_INFTY": l_infinity, "JENSEN_SHANNON_DIVERGENCE": jensen_shannon}
WHERE = f"ML.{FUNCTION}"
_HINT = "check the two input queries"


def _paired(base: pa.Schema, study: pa.Schema) -> list[Feature]:
    """The base table's columns, each of the same kind in the study table; a column of one table only is refused."""
    base_features = {f.name: f for f in features(base, FUNCTION)}
    study_features = {f.name: f for f in features(study, FUNCTION)}
    only = [n for n in base_features if n not in study_features] + [n for n in study_features if n not in base_features]
    for name in only:
        side, other = ("base", "study") if name in base_features else ("study", "base")
        raise ModelError(f"{WHERE}: column '{name}' is in the {side} table but not in the {other} table",
                         hint="compare the same columns: select them in both inputs")
    for name, feature in base_features.items():
        if (study_features[name].kind, study_features[name].is_array) != (feature.kind, feature.is_array):
            raise ModelError(f"{WHERE}: column '{name}' is {describe_kind(feature)} in the base table but "
                             f"{describe_kind(study_features[name])} in the study table",
                             hint="CAST it to the same type in both inputs")
    return list(base_features.values())


def describe_kind(feature: Feature) -> str:
    return f"ARRAY<{feature.kind}>" if feature.is_array else feature.kind


def chosen_thresholds(where: str, settings: dict, names: list[str]) -> dict[str, float]:
    """The `thresholds` setting's (column, threshold) pairs, checked: {column: threshold}."""
    chosen = {}
    for item in settings.get("thresholds") or []:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], (int, float)) and not isinstance(item[1], bool)):
            raise ModelError(f"{where}: each of thresholds is a (column, threshold) pair, not {item!r}",
                             hint="e.g. [('col_a', 0.1), ('col_b', 0.8)] AS thresholds")
        column, value = item
        if column not in names:
            raise ModelError(f"{where}: thresholds names column '{column}', which the inputs do not have",
                             hint=f"the columns: {', '.join(names)}")
        if not 0 <= value < 1:
            raise ModelError(f"{where}: the threshold of '{column}' is {value}, outside [0, 1)",
                             hint="give a threshold at least 0 and below 1")
        chosen[column] = float(value)
    return chosen


def check_settings(where: str, settings: dict) -> None:
    """The default thresholds in [0, 1) and the metrics BigQuery takes."""
    for name in ("categorical_default_threshold", "numerical_default_threshold"):
        if not 0 <= settings[name] < 1:
            raise ModelError(f"{where}: {name} = {settings[name]} is outside [0, 1)",
                             hint=f"give a {name} at least 0 and below 1 (the default is 0.3)")
    if settings["categorical_metric_type"].upper() not in METRICS:
        raise ModelError(f"{where}: categorical_metric_type '{settings['categorical_metric_type']}' is not one of "
                         f"{', '.join(METRICS)}", hint="L_INFTY (the default) or JENSEN_SHANNON_DIVERGENCE")
    if settings["numerical_metric_type"].upper() != "JENSEN_SHANNON_DIVERGENCE":
        raise ModelError(f"{where}: numerical_metric_type '{settings['numerical_metric_type']}' is not "
                         "JENSEN_SHANNON_DIVERGENCE, the only one BigQuery takes", hint="leave it out")


def verdict(feature: Feature, settings: dict, thresholds: dict[str, float], base: dict, study: dict) -> dict:
    """One output row: the feature's distance between two count mappings and whether it exceeds its threshold."""
    if feature.kind == NUMERICAL:
        metric, default = "JENSEN_SHANNON_DIVERGENCE", settings["numerical_default_threshold"]
    else:
        metric, default = settings["categorical_metric_type"].upper(), settings["categorical_default_threshold"]
    value = METRICS[metric](base, study)
    threshold = thresholds.get(feature.name, default)
    return {"input": feature.name, "metric": metric, "threshold": threshold, "value": value,
            "is_anomaly": value > threshold}


def validate_data_drift(con: duckdb.DuckDBPyConnection, base_sql: str, base: pa.Schema, study_sql: str,
                        study: pa.Schema, settings: dict) -> pa.Table:
    """One row per column of the base table: its distance between the two tables and whether it exceeds the
    threshold."""
    check_settings(WHERE, settings)
    paired = _paired(base, study)
    thresholds = chosen_thresholds(WHERE, settings, [f.name for f in paired])
    described = {}
    for side, sql in (("base", base_sql), ("study", study_sql)):
        rows, described[side] = scan(con, sql, paired, FUNCTION, _HINT)
        if rows == 0:
            raise ModelError(f"{WHERE}: the {side} table has no rows", hint="compare two tables that hold rows")
        for feature, stats in zip(paired, described[side]):
            if not stats["count"]:
                raise ModelError(f"{WHERE}: column '{feature.name}' is NULL in every row of the {side} table",
                                 hint="its distribution is empty: leave it out, or fill it in")
    numerical = [k for k, f in enumerate(paired) if f.kind == NUMERICAL]
    ranges = {k: (min(described["base"][k]["low"], described["study"][k]["low"]),
                  max(described["base"][k]["high"], described["study"][k]["high"])) for k in numerical}
    counts = {side: dict(zip(numerical, bucket_counts(
        con, sql, [(paired[k], described[side][k], *ranges[k]) for k in numerical], settings["num_histogram_buckets"],
        FUNCTION, _HINT))) for side, sql in (("base", base_sql), ("study", study_sql))}
    out = []
    for k, feature in enumerate(paired):
        if feature.kind == NUMERICAL:
            pair = [dict(enumerate(counts[side][k])) for side in ("base", "study")]
        else:
            pair = [described[side][k]["values"] for side in ("base", "study")]
        out.append(verdict(feature, settings, thresholds, *pair))
    return pa.Table.from_pylist(out, schema=OUTPUT_SCHEMA)
