"""ML.ONE_HOT_ENCODER, ML.LABEL_ENCODER, ML.IMPUTER: analytic, their vocabulary or fill value taken from the
training rows and inlined.

Vocabulary (both encoders): the categories seen at least frequency_threshold times, the top_k most frequent of them
(ties: alphabetical order), then indexed alphabetically from 1; NULL, an unseen category and a left-out one encode
as index 0. On [NULL, a, b, b, c, c, c, d, d] with top_k 2 and frequency_threshold 2: a is rare, c is the most
frequent, b beats d on the tie, so b = 1, c = 2 and NULL, a, d = 0 — BigQuery's documented output. The input is
read as VARCHAR (a number is encoded by its text)."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from toolkit.sql.preprocessing.build import as_double, as_varchar, number, string, struct, template

_DOUBLE_ONE, _DOUBLE_ZERO = 1.0, 0.0


def _text(x: exp.Expression, type_: str) -> exp.Expression:
    return x if type_ == "VARCHAR" else as_varchar(x)


def vocabulary(counts: dict[str, int] | None, top_k: int, frequency_threshold: int) -> list[str]:
    """The categories kept, in alphabetical order (their index is their position from 1)."""
    frequent = [(value, n) for value, n in (counts or {}).items() if n >= frequency_threshold]
    top = sorted(frequent, key=lambda item: (-item[1], item[0]))[:top_k]
    return sorted(value for value, _ in top)


def most_frequent(counts: dict[Any, int] | None) -> Any:
    """The most frequent value, the smallest one on a tie; None without values."""
    return min(counts.items(), key=lambda item: (-item[1], item[0]))[0] if counts else None


def _index(text: exp.Expression, categories: list[str]) -> exp.Expression:
    """CAST(COALESCE(MAP([categories], [1, 2, …])[text], 0) AS BIGINT): a hash lookup, 0 when absent or NULL."""
    if not categories:
        return exp.cast(number(0), exp.DataType.build("BIGINT"))
    keys = exp.Array(expressions=[string(c) for c in categories])
    indexes = exp.Array(expressions=[number(i) for i in range(1, len(categories) + 1)])
    return template("CAST(COALESCE(MAP(:keys, :indexes)[:text], 0) AS BIGINT)", keys=keys, indexes=indexes, text=text)


def encoder_statistics(x: exp.Expression, _args: dict[str, Any], type_: str) -> list[exp.Expression]:
    return [template("HISTOGRAM(:x)", x=_text(x, type_))]


# ML.LABEL_ENCODER(s [, top_k] [, frequency_threshold]) OVER (): BIGINT index.
def label_apply(x: exp.Expression, args: dict[str, Any], type_: str, values: list[Any]) -> exp.Expression:
    (counts,) = values
    return _index(_text(x, type_), vocabulary(counts, args["top_k"], args["frequency_threshold"]))


# ML.ONE_HOT_ENCODER(s [, drop] [, top_k] [, frequency_threshold]) OVER (): [{'index': i, 'value': 1.0}], BigQuery's
# sparse form. drop => 'most_frequent' (dummy encoding) keeps the most frequent category's index but gives it the
# value 0.0, as BigQuery documents ("the dropped category is encoded with a value of 0").
def one_hot_apply(x: exp.Expression, args: dict[str, Any], type_: str, values: list[Any]) -> exp.Expression:
    (counts,) = values
    text = _text(x, type_)
    categories = vocabulary(counts, args["top_k"], args["frequency_threshold"])
    value = number(_DOUBLE_ONE)
    if args["drop"] == "most_frequent" and categories:
        dropped = most_frequent({c: counts[c] for c in categories})
        value = template("CASE WHEN :text = :dropped THEN :zero ELSE :one END", text=text, dropped=string(dropped),
                         zero=number(_DOUBLE_ZERO), one=number(_DOUBLE_ONE))
    return exp.Array(expressions=[struct([("index", _index(text, categories)), ("value", value)])])


# ML.IMPUTER(x, strategy) OVER (): NULL replaced by the training mean, median (a training value: QUANTILE_DISC, the
# lower middle value for an even count) or most frequent value (the smallest on a tie). Numbers come back as DOUBLE,
# strings as VARCHAR; a string takes 'most_frequent' only.
def imputer_statistics(x: exp.Expression, args: dict[str, Any], type_: str) -> list[exp.Expression]:
    strategy = args["strategy"]
    if strategy == "mean":
        return [template("AVG(:x)", x=as_double(x))]
    if strategy == "median":
        return [template("QUANTILE_DISC(:x, 0.5)", x=as_double(x))]
    return [template("HISTOGRAM(:x)", x=x)]


def imputer_apply(x: exp.Expression, args: dict[str, Any], type_: str, values: list[Any]) -> exp.Expression:
    (statistic,) = values
    if args["strategy"] == "most_frequent":
        statistic = most_frequent(statistic)
    if type_ == "VARCHAR":
        return x.copy() if statistic is None else template("COALESCE(:x, :fill)", x=x, fill=string(statistic))
    if statistic is None:
        return as_double(x)
    return template("COALESCE(:x, :fill)", x=as_double(x), fill=number(float(statistic)))
