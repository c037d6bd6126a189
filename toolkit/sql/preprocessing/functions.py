"""The table of preprocessing functions: for a scalar one, its rewrite (call → DuckDB expression); for an analytic
one, the aggregates it needs over the training rows and its rewrite given their values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing import buckets, crosses, encoders, scalers, text, vectors

NUMBER, TEXT, ANY, ARRAY = "a number", "a number or a string", "any value", "an array"

SCALAR: dict[str, Callable[[MLPreprocess], exp.Expression]] = {
    "BUCKETIZE": buckets.bucketize,
    "HASH_BUCKETIZE": buckets.hash_bucketize,
    "FEATURE_CROSS": crosses.feature_cross,
    "POLYNOMIAL_EXPAND": crosses.polynomial_expand,
    "NGRAMS": crosses.ngrams,
    "NORMALIZER": scalers.normalizer,
    "DISTANCE": vectors.distance,
    "LP_NORM": vectors.lp_norm,
}


@dataclass(frozen=True)
class Analytic:
    """statistics(x, args, type) → aggregates over the training rows; apply(x, args, type, their values) → the
    fitted expression. `x` is the input expression, `type` its DuckDB type."""

    statistics: Callable[[exp.Expression, dict[str, Any], str], list[exp.Expression]]
    apply: Callable[[exp.Expression, dict[str, Any], str, list[Any]], exp.Expression]
    takes: Callable[[dict[str, Any]], str] = lambda _args: NUMBER  # what the input may be, given the settings


def _imputer_takes(args: dict[str, Any]) -> str:
    return TEXT if args["strategy"] == "most_frequent" else NUMBER


ANALYTIC: dict[str, Analytic] = {
    "QUANTILE_BUCKETIZE": Analytic(buckets.quantile_bucketize_statistics, buckets.quantile_bucketize_apply),
    "STANDARD_SCALER": Analytic(scalers.standard_statistics, scalers.standard_apply),
    "MIN_MAX_SCALER": Analytic(scalers.min_max_statistics, scalers.min_max_apply),
    "MAX_ABS_SCALER": Analytic(scalers.max_abs_statistics, scalers.max_abs_apply),
    "ROBUST_SCALER": Analytic(scalers.robust_statistics, scalers.robust_apply),
    "ONE_HOT_ENCODER": Analytic(encoders.encoder_statistics, encoders.one_hot_apply, lambda _args: ANY),
    "LABEL_ENCODER": Analytic(encoders.encoder_statistics, encoders.label_apply, lambda _args: ANY),
    "IMPUTER": Analytic(encoders.imputer_statistics, encoders.imputer_apply, _imputer_takes),
    "MULTI_HOT_ENCODER": Analytic(text.term_sets_statistics, text.multi_hot_apply, lambda _args: ARRAY),
    "BAG_OF_WORDS": Analytic(text.term_sets_statistics, text.bag_of_words_apply, lambda _args: ARRAY),
    "TF_IDF": Analytic(text.term_sets_statistics, text.tf_idf_apply, lambda _args: ARRAY),
}

_NUMERIC_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
    "UHUGEINT", "FLOAT", "DOUBLE",
}


def accepts(takes: str, type_: str) -> bool:
    """Whether a DuckDB type is what an analytic function takes."""
    numeric = type_ in _NUMERIC_TYPES or type_.startswith("DECIMAL") or type_ == '"NULL"'
    if takes == NUMBER:
        return numeric
    if takes == TEXT:
        return numeric or type_ == "VARCHAR"
    if takes == ARRAY:
        return type_.endswith("[]") or type_ == '"NULL"'
    return True
