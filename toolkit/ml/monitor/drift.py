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
- STRUCT fields are compared one by one (`column.field`); ARRAY columns are refused for now.
- num_quantiles_histogram_buckets, num_values_histogram_buckets and num_rank_histogram_buckets are checked (BigQuery's
  ranges and defaults) but change no result: they shape TFDV's statistics, not these two distances.
- The optional MODEL argument (a Vertex AI visualisation link) is not supported.

Computed in DuckDB, two aggregate queries per table: one for each numerical column's range and each categorical
column's value counts (`histogram`), one for the numerical columns' bucket counts."""

from __future__ import annotations

import duckdb
import pyarrow as pa
from sqlglot import exp

from toolkit.errors import ModelError
from toolkit.ml.monitor.describe import NUMERICAL, Feature, aggregate, features
from toolkit.ml.monitor.histograms import bucket, jensen_shannon, l_infinity
from toolkit.sql.dialect import DIALECT

FUNCTION = "VALIDATE_DATA_DRIFT"
OUTPUT_SCHEMA = pa.schema([("input", pa.string()), ("metric", pa.string()), ("threshold", pa.float64()),
                           ("value", pa.float64()), ("is_anomaly", pa.bool_())])
METRICS = {"L_INFTY": l_infinity, "JENSEN_SHANNON_DIVERGENCE": jensen_shannon}
WHERE = f"ML.{FUNCTION}"


def _source(sql: str, alias: str) -> exp.Expression:
    return exp.Subquery(this=exp.maybe_parse(sql, dialect=DIALECT), alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _scan(con: duckdb.DuckDBPyConnection, sql: str, columns: dict[str, exp.Expression]) -> dict[str, object]:
    return aggregate(con, _source(sql, "__t"), columns, FUNCTION, hint="check the two input queries")


def _features(schema: pa.Schema, side: str) -> dict[str, Feature]:
    found = {}
    for feature in features(schema, FUNCTION):
        if feature.is_array:
            raise ModelError(f"{WHERE}: column '{feature.name}' of the {side} table is an ARRAY, which it does not "
                             "compare yet", hint="leave it out of both inputs, or UNNEST it in their queries")
        found[feature.name] = feature
    return found


def _paired(base: pa.Schema, study: pa.Schema) -> list[Feature]:
    """The base table's columns, each of the same kind in the study table; a column of one table only is refused."""
    base_features, study_features = _features(base, "base"), _features(study, "study")
    only = [n for n in base_features if n not in study_features] + [n for n in study_features if n not in base_features]
    for name in only:
        side, other = ("base", "study") if name in base_features else ("study", "base")
        raise ModelError(f"{WHERE}: column '{name}' is in the {side} table but not in the {other} table",
                         hint="compare the same columns: select them in both inputs")
    for name, feature in base_features.items():
        if study_features[name].kind != feature.kind:
            raise ModelError(f"{WHERE}: column '{name}' is {feature.kind} in the base table but "
                             f"{study_features[name].kind} in the study table",
                             hint="CAST it to the same type in both inputs")
    return list(base_features.values())


def _thresholds(settings: dict, names: list[str]) -> dict[str, float]:
    chosen = {}
    for item in settings.get("thresholds") or []:
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)
                and isinstance(item[1], (int, float)) and not isinstance(item[1], bool)):
            raise ModelError(f"{WHERE}: each of thresholds is a (column, threshold) pair, not {item!r}",
                             hint="e.g. [('col_a', 0.1), ('col_b', 0.8)] AS thresholds")
        column, value = item
        if column not in names:
            raise ModelError(f"{WHERE}: thresholds names column '{column}', which the inputs do not have",
                             hint=f"the columns: {', '.join(names)}")
        if not 0 <= value < 1:
            raise ModelError(f"{WHERE}: the threshold of '{column}' is {value}, outside [0, 1)",
                             hint="give a threshold at least 0 and below 1")
        chosen[column] = float(value)
    return chosen


def _check_settings(settings: dict) -> None:
    for name in ("categorical_default_threshold", "numerical_default_threshold"):
        if not 0 <= settings[name] < 1:
            raise ModelError(f"{WHERE}: {name} = {settings[name]} is outside [0, 1)",
                             hint=f"give a {name} at least 0 and below 1 (the default is 0.3)")
    if settings["categorical_metric_type"].upper() not in METRICS:
        raise ModelError(f"{WHERE}: categorical_metric_type '{settings['categorical_metric_type']}' is not one of "
                         f"{', '.join(METRICS)}", hint="L_INFTY (the default) or JENSEN_SHANNON_DIVERGENCE")
    if settings["numerical_metric_type"].upper() != "JENSEN_SHANNON_DIVERGENCE":
        raise ModelError(f"{WHERE}: numerical_metric_type '{settings['numerical_metric_type']}' is not "
                         "JENSEN_SHANNON_DIVERGENCE, the only one BigQuery takes", hint="leave it out")


def validate_data_drift(con: duckdb.DuckDBPyConnection, base_sql: str, base: pa.Schema, study_sql: str,
                        study: pa.Schema, settings: dict) -> pa.Table:
    """One row per column of the base table: its distance between the two tables and whether it exceeds the
    threshold."""
    _check_settings(settings)
    paired = _paired(base, study)
    thresholds = _thresholds(settings, [f.name for f in paired])
    num_buckets = settings["num_histogram_buckets"]
    first = {}
    for side, sql in (("base", base_sql), ("study", study_sql)):
        columns: dict[str, exp.Expression] = {"rows": exp.Count(this=exp.Star())}
        for k, feature in enumerate(paired):
            if feature.kind == NUMERICAL:
                number = exp.cast(feature.value, exp.DataType.build("DOUBLE"))
                columns[f"{k}:low"], columns[f"{k}:high"] = exp.Min(this=number), exp.Max(this=number)
            else:
                text = exp.cast(feature.value, exp.DataType.build("VARCHAR"))
                columns[f"{k}:counts"] = exp.Anonymous(this="histogram", expressions=[text])
        first[side] = _scan(con, sql, columns)
        if first[side]["rows"] == 0:
            raise ModelError(f"{WHERE}: the {side} table has no rows", hint="compare two tables that hold rows")
    ranges = {}
    for k, feature in enumerate(paired):
        for side in ("base", "study"):
            empty = first[side].get(f"{k}:low") is None if feature.kind == NUMERICAL else not first[side][f"{k}:counts"]
            if empty:
                raise ModelError(f"{WHERE}: column '{feature.name}' is NULL in every row of the {side} table",
                                 hint="its distribution is empty: leave it out, or fill it in")
        if feature.kind == NUMERICAL:
            ranges[k] = (min(first["base"][f"{k}:low"], first["study"][f"{k}:low"]),
                         max(first["base"][f"{k}:high"], first["study"][f"{k}:high"]))
    counts = {side: {} for side in ("base", "study")}
    if ranges:
        for side, sql in (("base", base_sql), ("study", study_sql)):
            columns = {f"{k}:counts": exp.Anonymous(this="histogram", expressions=[bucket(
                exp.cast(paired[k].value, exp.DataType.build("DOUBLE")), *ranges[k], num_buckets)]) for k in ranges}
            counts[side] = _scan(con, sql, columns)
    rows = []
    for k, feature in enumerate(paired):
        if feature.kind == NUMERICAL:
            metric, default = "JENSEN_SHANNON_DIVERGENCE", settings["numerical_default_threshold"]
            base_counts, study_counts = counts["base"][f"{k}:counts"], counts["study"][f"{k}:counts"]
        else:
            metric, default = settings["categorical_metric_type"].upper(), settings["categorical_default_threshold"]
            base_counts, study_counts = first["base"][f"{k}:counts"], first["study"][f"{k}:counts"]
        value = METRICS[metric](base_counts, study_counts)
        threshold = thresholds.get(feature.name, default)
        rows.append({"input": feature.name, "metric": metric, "threshold": threshold, "value": value,
                     "is_anomaly": value > threshold})
    return pa.Table.from_pylist(rows, schema=OUTPUT_SCHEMA)

