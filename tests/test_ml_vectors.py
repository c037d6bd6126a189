"""ML.DISTANCE and ML.LP_NORM as DuckDB list expressions, row by row against scipy / numpy."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot
from scipy.spatial import distance as scipy_distance

from toolkit.errors import ProjectError
from toolkit.sql.dialect import DIALECT
from toolkit.sql.preprocessing import rewrite_scalar_preprocessing


def run(sql: str, **tables: pa.Table) -> list[tuple]:
    con = duckdb.connect()
    for name, table in tables.items():
        con.register(name, table)
    return con.execute(rewrite_scalar_preprocessing(sqlglot.parse_one(sql, read=DIALECT)).sql(dialect=DIALECT)).fetchall()


@pytest.fixture(scope="module")
def vectors() -> pa.Table:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(40, 5)), rng.integers(-3, 4, size=(40, 5))
    return pa.table({"a": [list(row) for row in a], "b": [[int(v) for v in row] for row in b]})


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-distance: EUCLIDEAN (default),
# MANHATTAN, COSINE between ARRAY<number> vectors of one length.
@pytest.mark.parametrize(("kind", "oracle"), [("", scipy_distance.euclidean), (", 'EUCLIDEAN'", scipy_distance.euclidean),
                                              (", 'MANHATTAN'", scipy_distance.cityblock),
                                              (", 'cosine'", scipy_distance.cosine)])
def test_distance_matches_scipy_row_by_row(vectors, kind, oracle):
    rows = run(f"SELECT a, b, ML.DISTANCE(a, b{kind}) FROM t", t=vectors)
    for a, b, got in rows:
        assert got == pytest.approx(oracle(a, b), rel=1e-12, abs=1e-12)


def test_distance_is_null_for_a_null_vector_and_fails_for_different_lengths():
    # the page: NULL when either vector is NULL; vectors of different lengths are an error
    assert run("SELECT ML.DISTANCE(NULL, [1.0]), ML.DISTANCE([1.0], NULL, 'COSINE')") == [(None, None)]
    with pytest.raises(duckdb.Error, match="different lengths"):
        run("SELECT ML.DISTANCE([1, 2], [1])")
    with pytest.raises(ProjectError, match="type must be one of 'euclidean', 'manhattan', 'cosine'"):
        run("SELECT ML.DISTANCE([1, 2], [1, 2], 'CHEBYSHEV')")


# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-lp-norm: degree 0, >= 1 or INF;
# NULL for a NULL vector. The page's example: [4.1, 0.5, 1.0] and [3.0, 0.0, 2.5] with degree 2.
@pytest.mark.parametrize("degree", [0.0, 1.0, 2.0, 3.5, float("inf")])
def test_lp_norm_matches_numpy_row_by_row(vectors, degree):
    written = "CAST('INF' AS FLOAT64)" if degree == float("inf") else repr(degree)
    rows = run(f"SELECT a, b, ML.LP_NORM(a, {written}), ML.LP_NORM(b, {written}) FROM t", t=vectors)
    for a, b, norm_a, norm_b in rows:
        assert norm_a == pytest.approx(np.linalg.norm(a, degree), rel=1e-12)
        assert norm_b == pytest.approx(np.linalg.norm(np.asarray(b, float), degree), rel=1e-12)


def test_lp_norm_of_the_page_example_and_null():
    (v1, v2, none), = run("SELECT ML.LP_NORM([4.1, 0.5, 1.0], 2.0), ML.LP_NORM([3.0, 0.0, 2.5], 2.0), "
                          "ML.LP_NORM(NULL, 2.0)")
    assert v1 == pytest.approx(np.linalg.norm([4.1, 0.5, 1.0])) and v2 == pytest.approx(np.linalg.norm([3.0, 0, 2.5]))
    assert none is None
    with pytest.raises(ProjectError, match="degree must be 0, a number >= 1"):
        run("SELECT ML.LP_NORM([1, 2], 0.5)")
    with pytest.raises(ProjectError, match="needs its argument degree"):
        run("SELECT ML.LP_NORM([1, 2])")
