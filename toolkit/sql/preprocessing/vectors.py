"""ML.DISTANCE and ML.LP_NORM: scalar functions of numeric arrays, as DuckDB list expressions.

- ML.DISTANCE(vector1, vector2 [, type]): 'EUCLIDEAN' (the default), 'MANHATTAN' or 'COSINE' (1 − cosine
  similarity); NULL when either vector is NULL; vectors of different lengths are an error, as on BigQuery
  (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-distance).
- ML.LP_NORM(vector, degree): the L^p norm, degree 0 (non-zero elements), >= 1, or CAST('INF' AS FLOAT64); NULL when
  the vector is NULL (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-lp-norm).

Only ARRAY<number> vectors are taken: BigQuery's ARRAY<STRUCT<key, value>> form is not emulated."""

from __future__ import annotations

from sqlglot import exp

from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing.arguments import bind
from toolkit.sql.preprocessing.build import number, template
from toolkit.sql.preprocessing.scalers import NORMS

_DISTANCES = {
    "euclidean": "LIST_DISTANCE(CAST(:a AS DOUBLE[]), CAST(:b AS DOUBLE[]))",
    "manhattan": "LIST_SUM(LIST_TRANSFORM(LIST_ZIP(CAST(:a AS DOUBLE[]), CAST(:b AS DOUBLE[])), "
                 "LAMBDA _tk_p : ABS(_tk_p[1] - _tk_p[2])))",
    "cosine": "1 - LIST_DOT_PRODUCT(CAST(:a AS DOUBLE[]), CAST(:b AS DOUBLE[])) / "
              "(SQRT(LIST_DOT_PRODUCT(CAST(:a AS DOUBLE[]), CAST(:a AS DOUBLE[]))) * "
              "SQRT(LIST_DOT_PRODUCT(CAST(:b AS DOUBLE[]), CAST(:b AS DOUBLE[]))))",
}
_MISMATCH = "'ML.DISTANCE: vector1 and vector2 have different lengths'"


def distance(call: MLPreprocess) -> exp.Expression:
    args = bind(call)
    a, b = args["vector1"], args["vector2"]
    value = template(_DISTANCES[args["type"]], a=a, b=b)
    return template(f"CASE WHEN :a IS NULL OR :b IS NULL THEN NULL WHEN LEN(:a) <> LEN(:b) THEN "
                    f"CAST(ERROR({_MISMATCH}) AS DOUBLE) ELSE :value END", a=a, b=b, value=value)


def lp_norm(call: MLPreprocess) -> exp.Expression:
    args = bind(call)
    vector, p = args["vector"], args["degree"]
    if p in NORMS:
        return template(f"CAST({NORMS[p]} AS DOUBLE)", a=vector)
    return template("POWER(LIST_SUM(LIST_TRANSFORM(:a, LAMBDA _tk_v : POWER(ABS(CAST(_tk_v AS DOUBLE)), :p))), "
                    ":inverse)", a=vector, p=number(p), inverse=number(1 / p))
