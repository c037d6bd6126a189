"""ML.VALIDATE_DATA_SKEW(MODEL m, serving, STRUCT(…)): how far each feature's distribution in the serving rows is
from the training rows the model version was trained on, from the statistics kept at training
(toolkit.ml.features.distributions.training_statistics, `_toolkit.model_data_statistics`), as BigQuery ML's reference
page documents (https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-validate-data-skew):
one row per feature (`input`, `metric`, `threshold`, `value`, `is_anomaly`), the output of ML.VALIDATE_DATA_DRIFT.

- Only the serving columns that match the model's input columns are read (other columns are left out, as the page
  says); with TRANSFORM, the raw columns TRANSFORM reads, before it applies. A missing input column, or one of
  another kind than at training (numerical, categorical, an ARRAY of either), is refused, naming it.
- The settings, their defaults (0.3; L_INFTY; JENSEN_SHANNON_DIVERGENCE) and ranges are ML.VALIDATE_DATA_DRIFT's.
- Categorical features: the distance between the serving rows' value frequencies and the training rows', as
  ML.VALIDATE_DATA_DRIFT computes it. Training keeps the 10,000 most frequent values; when it had more, the others
  are one value together on both sides.
- Numerical features: Jensen–Shannon divergence between histograms of 10 equal-width buckets (ML.VALIDATE_DATA_DRIFT's
  default) over the smallest to the largest value of training and serving rows together: the serving rows are
  bucketed from their value counts (one pass over them), the training rows' 10 buckets over their own range are
  moved onto those buckets, values spread evenly within a bucket (TFDV's alignment of two histograms). When the
  serving values lie within the training range the buckets are the training's own, and the value is exactly
  ML.VALIDATE_DATA_DRIFT's between the training rows and the serving rows."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from toolkit.errors import ModelError
from toolkit.ml.features.distributions import SKEW_BUCKETS, Feature, bucket_counts, features, scan
from toolkit.ml.features.histograms import rebucketed
from toolkit.ml.monitor.drift import OUTPUT_SCHEMA, check_settings, chosen_thresholds, describe_kind, verdict
from toolkit.ml.store.statistics import load_training_statistics

FUNCTION = "VALIDATE_DATA_SKEW"
_HINT = "check the serving rows' query"


def validate_data_skew(con: duckdb.DuckDBPyConnection, model: str, version: int | None, sql: str,
                       schema: pa.Schema, settings: dict) -> pa.Table:
    """One row per model input feature: its distance between the training rows and the serving rows of query
    `sql` (columns `schema`), and whether it exceeds the threshold. The model and version compared are in the
    result's schema metadata (`model`, `version`)."""
    where = f"ML.{FUNCTION} with model {model}"
    check_settings(where, settings)
    if settings["enable_visualization_link"]:
        raise ModelError(f"{where}: enable_visualization_link links to Vertex AI model monitoring, which the "
                         "toolkit does not have", hint="leave it out (or FALSE)")
    stored, number, statistics = load_training_statistics(con, model, version, f"ML.{FUNCTION}")
    where = f"ML.{FUNCTION} with model {stored} (version {number})"
    pairs = _paired(where, schema, statistics)
    read = [feature for feature, _ in pairs]
    thresholds = chosen_thresholds(where, settings, [f.name for f in read])
    rows, described = scan(con, sql, read, FUNCTION, _HINT)
    if rows == 0:
        raise ModelError(f"{where}: the serving table has no rows", hint="compare serving rows that exist")
    for (feature, trained), serving in zip(pairs, described):
        if not serving["count"]:
            raise ModelError(f"{where}: column '{feature.name}' is NULL in every row of the serving table",
                             hint="its distribution is empty: fill it in, or serve rows that hold it")
        if not trained["count"]:
            raise ModelError(f"{where}: column '{feature.name}' was NULL in every training row, so its training "
                             "distribution is empty", hint="retrain on rows that hold it, or without it")
    numerical = [k for k, (feature, _) in enumerate(pairs) if feature.kind == "numerical"]
    ranges = {k: (min(pairs[k][1]["low"], described[k]["low"]), max(pairs[k][1]["high"], described[k]["high"]))
              for k in numerical}
    counted = bucket_counts(con, sql, [(pairs[k][0], described[k], *ranges[k]) for k in numerical], SKEW_BUCKETS,
                            FUNCTION, _HINT) if numerical else []
    serving_counts = dict(zip(numerical, counted))
    out = []
    for k, (feature, trained) in enumerate(pairs):
        if k in serving_counts:
            low, high = ranges[k]
            base = rebucketed(trained["buckets"], trained["low"], trained["high"], low, high)
            study = dict(enumerate(serving_counts[k]))
        else:
            base, study = _categorical(trained, described[k]["values"])
        out.append(verdict(feature, settings, thresholds, base, study))
    table = pa.Table.from_pylist(out, schema=OUTPUT_SCHEMA)
    return table.replace_schema_metadata({"model": stored, "version": str(number)})


def _paired(where: str, schema: pa.Schema, statistics: list[dict]) -> list[tuple[Feature, dict]]:
    """Each training feature with the serving column read the same way; a missing or differently typed column is
    refused."""
    by_name = {field.name.casefold(): field for field in schema}
    columns = list(dict.fromkeys(record["column"] for record in statistics))
    missing = [c for c in columns if c.casefold() not in by_name]
    if missing:
        raise ModelError(f"{where}: the serving table has no column '{missing[0]}', an input of the model",
                         hint=f"select every input column the model was trained on: {', '.join(columns)}")
    wanted = pa.schema([by_name[c.casefold()] for c in columns])
    read = {f.name.casefold(): f for f in features(wanted, FUNCTION, skip_unsupported=True)}
    pairs = []
    for record in statistics:
        feature = read.get(record["input"].casefold())
        if feature is None or (feature.kind, feature.is_array) != (record["kind"], record["is_array"]):
            given = f"{describe_kind(feature)} ({by_name[record['column'].casefold()].type})" if feature else \
                f"{by_name[record['column'].casefold()].type}"
            trained = f"ARRAY<{record['kind']}>" if record["is_array"] else record["kind"]
            raise ModelError(f"{where}: column '{record['input']}' is {given} in the serving table but was "
                             f"{trained} ({record['type']}) in training",
                             hint=f"CAST it to {record['type']} in the serving query")
        pairs.append((feature, record))
    return pairs


def _categorical(trained: dict, serving: dict) -> tuple[dict, dict]:
    """The training and serving value counts over the same values: when training kept only its most frequent
    values, every other value (of either side) is counted together, under None."""
    base = dict(trained["values"])
    if not trained["other"]:
        return base, serving
    base[None] = trained["other"]
    study: dict = {}
    for value, count in serving.items():
        key = value if value in base else None
        study[key] = study.get(key, 0) + count
    return base, study
