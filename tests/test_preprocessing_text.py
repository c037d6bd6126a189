"""ML.MULTI_HOT_ENCODER, ML.BAG_OF_WORDS and ML.TF_IDF in TRANSFORM: the dictionary and idf fitted on the training
rows, row by row against scikit-learn's CountVectorizer and BigQuery's idf formula."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from toolkit.errors import ProjectError
from toolkit.ml import train_model
from toolkit.sql.preprocessing import fit_transform_sql

WORDS = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"]


@pytest.fixture(scope="module")
def docs():
    rng = np.random.default_rng(11)
    p = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.08, 0.05, 0.02])
    rows = [list(rng.choice(WORDS, size=rng.integers(1, 9), p=p)) for _ in range(120)]
    con = duckdb.connect()
    con.register("docs_df", pa.table({"t": rows, "y": rng.normal(size=len(rows))}))
    con.execute("CREATE TABLE docs AS SELECT * FROM docs_df")
    return con, rows


def fitted(con, call: str) -> list:
    ((_, sql),) = fit_transform_sql(con, "docs", [f"{call} OVER () AS o"], model="m", label=None)
    return [r[0] for r in con.execute(f"SELECT {sql} FROM docs ORDER BY rowid").fetchall()]


def oracle(rows, top_k, threshold):
    """scikit-learn's counts; BigQuery's dictionary: in >= threshold documents, the top_k in the most documents
    (ties alphabetical), numbered alphabetically from 1."""
    vectorizer = CountVectorizer(analyzer=lambda doc: doc, min_df=threshold)
    counts = vectorizer.fit_transform(rows).toarray()
    terms = list(vectorizer.get_feature_names_out())
    document_counts = (counts > 0).sum(axis=0)
    chosen = sorted(sorted(range(len(terms)), key=lambda j: (-document_counts[j], terms[j]))[:top_k],
                    key=lambda j: terms[j])
    return [terms[j] for j in chosen], counts[:, chosen], document_counts[chosen]


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-bag-of-words (and -multi-hot-encoder):
# top_k terms appearing in the most documents, frequency_threshold the minimum number of documents, the unknown term 0.
@pytest.mark.parametrize(("top_k", "threshold"), [(32000, 5), (3, 1), (5, 20)])
def test_bag_of_words_and_multi_hot_match_count_vectorizer(docs, top_k, threshold):
    con, rows = docs
    terms, counts, _ = oracle(rows, top_k, threshold)
    bags = fitted(con, f"ML.BAG_OF_WORDS(t, {top_k}, {threshold})")
    hots = fitted(con, f"ML.MULTI_HOT_ENCODER(t, {top_k}, {threshold})")
    for row, count, bag, hot in zip(rows, counts, bags, hots):
        unknown = len(row) - int(count.sum())
        expected = ([(0, float(unknown))] if unknown else []) + [(j + 1, float(c)) for j, c in enumerate(count) if c]
        assert [(e["index"], e["value"]) for e in bag] == expected
        assert [(e["index"], e["value"]) for e in hot] == [(i, 1.0) for i, _ in expected]


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-tf-idf: tf = count / document size,
# idf = log(1 + num_documents / (1 + token_document_count)).
@pytest.mark.parametrize(("top_k", "threshold"), [(32000, 5), (4, 1)])
def test_tf_idf_matches_the_documented_formula(docs, top_k, threshold):
    con, rows = docs
    terms, counts, document_counts = oracle(rows, top_k, threshold)
    n = len(rows)
    idf = np.log(1 + n / (1 + document_counts))
    unknown_documents = sum(1 for row, count in zip(rows, counts) if len(row) > count.sum())
    unknown_idf = math.log(1 + n / (1 + unknown_documents))
    for row, count, got in zip(rows, counts, fitted(con, f"ML.TF_IDF(t, {top_k}, {threshold})")):
        unknown = len(row) - int(count.sum())
        expected = ([(0, unknown / len(row) * unknown_idf)] if unknown else []) + [
            (j + 1, c / len(row) * idf[j]) for j, c in enumerate(count) if c]
        assert [e["index"] for e in got] == [i for i, _ in expected]
        assert [e["value"] for e in got] == pytest.approx([v for _, v in expected], rel=1e-12)


def test_text_functions_take_arrays_and_feed_a_model(docs):
    con, _ = docs
    with pytest.raises(ProjectError, match="ML.TF_IDF takes an array, but y is DOUBLE"):
        fitted(con, "ML.TF_IDF(y)")
    model = train_model(con, name="words", options={"model_type": "LINEAR_REG", "input_label_cols": ["y"]},
                        query="SELECT t, y FROM docs", transform=["ML.TF_IDF(t, 5, 1) OVER () AS words", "y"]).model
    assert [c["name"] for c in model.feature_schema] == ["words"]
