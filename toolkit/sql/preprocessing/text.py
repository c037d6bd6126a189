"""ML.MULTI_HOT_ENCODER, ML.BAG_OF_WORDS and ML.TF_IDF: analytic functions of ARRAY inputs, their dictionary (and
TF_IDF's inverse document frequencies) taken from the training rows and inlined.

The dictionary (all three): the terms found in at least frequency_threshold training documents (rows), the top_k
found in the most documents (ties: alphabetical order), numbered alphabetically from 1; every other term is the
unknown term, index 0. NULL elements are left out; a NULL array gives NULL. Each output is BigQuery's sparse
ARRAY<STRUCT<index INT64, value FLOAT64>>, by ascending index:

- ML.MULTI_HOT_ENCODER(array [, top_k] [, frequency_threshold]): value 1.0 for each index present
  (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-multi-hot-encoder);
- ML.BAG_OF_WORDS(tokens [, top_k] [, frequency_threshold]): value = how many times the term occurs in the row
  (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-bag-of-words);
- ML.TF_IDF(tokens [, top_k] [, frequency_threshold]): value = (count of the term in the row / the row's number of
  terms) × log(1 + num_documents / (1 + token_document_count)), both counts over the training rows; the unknown
  term's document count is the number of training rows holding at least one unknown term
  (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-tf-idf).

The statistic is the histogram of the training rows' distinct term sets, so fitting holds one entry per distinct
set in memory."""

from __future__ import annotations

import math
from typing import Any

from sqlglot import exp

from toolkit.sql.preprocessing.build import number, string, template


def term_sets_statistics(x: exp.Expression, _args: dict[str, Any], _type: str) -> list[exp.Expression]:
    return [template("HISTOGRAM(LIST_SORT(LIST_DISTINCT(CAST(:x AS VARCHAR[]))))", x=x)]


def dictionary(sets: dict[Any, int] | None, top_k: int, frequency_threshold: int) -> tuple[list[str], dict, int, int]:
    """The dictionary (alphabetical), each term's document count, the unknown term's, and the number of documents."""
    if isinstance(sets, dict) and set(sets) == {"key", "value"}:  # DuckDB gives a MAP with LIST keys this way
        sets = {tuple(terms): n for terms, n in zip(sets["key"], sets["value"])}
    counts: dict[str, int] = {}
    documents = 0
    for terms, n in (sets or {}).items():
        documents += n
        for term in terms:
            counts[term] = counts.get(term, 0) + n
    frequent = [(t, n) for t, n in counts.items() if n >= frequency_threshold]
    kept = sorted(t for t, _ in sorted(frequent, key=lambda item: (-item[1], item[0]))[:top_k])
    known = set(kept)
    unknown = sum(n for terms, n in (sets or {}).items() if any(t not in known for t in terms))
    return kept, counts, unknown, documents


def _indexes(x: exp.Expression, terms: list[str]) -> exp.Expression:
    """The row's terms (NULLs left out) as dictionary indexes, 0 for the unknown term."""
    present = template("LIST_FILTER(CAST(:x AS VARCHAR[]), LAMBDA _tk_t : _tk_t IS NOT NULL)", x=x)
    if not terms:
        return template("LIST_TRANSFORM(:p, LAMBDA _tk_t : CAST(0 AS BIGINT))", p=present)
    keys = exp.Array(expressions=[string(t) for t in terms])
    numbers = exp.Array(expressions=[number(i) for i in range(1, len(terms) + 1)])
    return template("LIST_TRANSFORM(:p, LAMBDA _tk_t : CAST(COALESCE(MAP(:keys, :numbers)[_tk_t], 0) AS BIGINT))",
                    p=present, keys=keys, numbers=numbers)


def _sparse(indexes: exp.Expression, value: exp.Expression) -> exp.Expression:
    """[{'index': i, 'value': <value of _tk_i>}] over the distinct indexes, ascending."""
    return template("LIST_TRANSFORM(LIST_SORT(LIST_DISTINCT(:ind)), LAMBDA _tk_i : {'index': _tk_i, 'value': :value})",
                    ind=indexes, value=value)


def _count(indexes: exp.Expression) -> exp.Expression:
    return template("CAST(LEN(LIST_FILTER(:ind, LAMBDA _tk_j : _tk_j = _tk_i)) AS DOUBLE)", ind=indexes)


def multi_hot_apply(x: exp.Expression, args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    terms = dictionary(values[0], args["top_k"], args["frequency_threshold"])[0]
    return _sparse(_indexes(x, terms), number(1.0))


def bag_of_words_apply(x: exp.Expression, args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    indexes = _indexes(x, dictionary(values[0], args["top_k"], args["frequency_threshold"])[0])
    return _sparse(indexes, _count(indexes))


def idf(documents: int, token_documents: int) -> float:
    return math.log(1 + documents / (1 + token_documents))


def tf_idf_apply(x: exp.Expression, args: dict[str, Any], _type: str, values: list[Any]) -> exp.Expression:
    terms, counts, unknown, documents = dictionary(values[0], args["top_k"], args["frequency_threshold"])
    weights = exp.Array(expressions=[number(idf(documents, unknown))]
                        + [number(idf(documents, counts[t])) for t in terms])
    indexes = _indexes(x, terms)
    value = template(":count / LEN(:ind) * :weights[_tk_i + 1]", count=_count(indexes), ind=indexes, weights=weights)
    return _sparse(indexes, value)
