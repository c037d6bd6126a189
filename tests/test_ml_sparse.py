"""The sparse (CSR) design matrix: the same numbers as the dense one, and the same models trained from it.

Oracles: the dense `Preprocessor.transform` (cell by cell), and the same training run with the dense design
(`MAX_DENSITY` = 0 forces it, 1 forces CSR): weights, ML.TRAINING_INFO losses, metrics, predictions and the
compiled SQL's numbers must agree to float tolerance, model type by model type."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

import toolkit.ml.features.sparse as sparse_design
import toolkit.ml.training.train as train_module
from toolkit.ml.compile import CompiledPrediction
from toolkit.ml.features.preprocess import DUMMY, LABEL, ONE_HOT, Preprocessor
from toolkit.ml.features.sparse import transform_sparse
from toolkit.ml.inference.predict import predict
from toolkit.ml.training.train import train_model
from toolkit.warehouse.farmhash import register_farm_fingerprint

ROWS = """
CREATE TABLE t AS SELECT
    'a' || ((i * 7919) % 53) AS a,
    CASE WHEN i % 17 = 0 THEN NULL ELSE 'b' || (i % 11) END AS b,
    sin(i) * 3 AS x,
    CASE WHEN i % 13 = 0 THEN NULL ELSE cos(i * 0.7) END AS y,
    ((i * 7919) % 53) % 3 AS cls,
    sin(i) * 3 + ((i * 7919) % 53) * 0.1 + (i % 11) * 0.2 + 0.3 * sin(i * 1.3) AS target
FROM range(2500) r(i)
"""
FEATURES = "a, b, x, y"


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    register_farm_fingerprint(con)
    con.execute(ROWS)
    return con


def _table() -> pa.Table:
    when = [datetime(2024, 1, d % 28 + 1, d % 24, tzinfo=timezone.utc) for d in range(40)]
    return pa.table({
        "n": pa.array([float(i) if i % 7 else None for i in range(40)]),
        "c": pa.array([f"k{i % 5}" if i % 9 else None for i in range(40)]),
        "d": pa.array([f"z{i % 3}" for i in range(40)]),
        "tags": pa.array([[f"t{i % 4}", f"t{i % 6}", None] if i % 5 else None for i in range(40)]),
        "vec": pa.array([[{"index": i % 3, "value": 2.0}, {"index": 7, "value": float(i)}] for i in range(40)],
                        pa.list_(pa.struct([("index", pa.int64()), ("value", pa.float64())]))),
        "when": pa.array(when, pa.timestamp("us", "UTC")),
        "flag": pa.array([i % 3 == 0 for i in range(40)]),
    })


@pytest.mark.parametrize("encoding", [ONE_HOT, DUMMY, LABEL])
def test_csr_holds_the_dense_matrix_cell_by_cell(encoding):
    table = _table()
    fitted = Preprocessor.fit(table.slice(0, 30), table.column_names, model="m", standardize=True,
                              encoding=encoding)
    new = pa.table({**{n: table.column(n) for n in table.column_names},
                    "c": pa.array(["unseen" if i % 4 == 0 else f"k{i % 5}" for i in range(40)])})
    for rows in (table, new, table.slice(0, 0)):
        dense = fitted.transform(rows)
        csr = transform_sparse(fitted, rows)
        assert sp.isspmatrix_csr(csr) and csr.shape == dense.shape
        assert csr.has_sorted_indices
        np.testing.assert_array_equal(csr.toarray(), dense)


def test_only_the_stored_entries_take_memory():
    n = 1000
    table = pa.table({"x": pa.array(np.arange(n, dtype=np.float64)),
                      "c": pa.array([f"v{i % 400}" for i in range(n)])})
    fitted = Preprocessor.fit(table, ["x", "c"], model="m", standardize=True, encoding=ONE_HOT)
    csr = transform_sparse(fitted, table)
    assert csr.shape == (n, 401) and csr.nnz == 2 * n  # one number and one category per row
    assert sparse_design.prefers_sparse(fitted)


def _train(con, model_type: str, query: str, density: float, monkeypatch, *, min_bytes: int = 0, **options):
    monkeypatch.setattr(sparse_design, "MAX_DENSITY", density)
    monkeypatch.setattr(sparse_design, "MIN_DENSE_BYTES", min_bytes)
    seen = {}
    real_fit = train_module.fit

    def spy(family, opts, estimator, data):
        seen["X"] = data.X
        return real_fit(family, opts, estimator, data)

    monkeypatch.setattr(train_module, "fit", spy)
    training = train_model(con, name="m", options={"model_type": model_type, **options}, query=query)
    return training, seen["X"]


def _numbers(sql: str) -> tuple[str, np.ndarray]:
    """The SQL with its decimal literals taken out, and those literals."""
    pattern = r"-?\d+\.\d+(?:e-?\d+)?"
    return re.sub(pattern, "#", sql), np.array([float(v) for v in re.findall(pattern, sql)])


def _parameters(model) -> list[np.ndarray]:
    estimator = model.estimator
    for names in (("coef_", "intercept_"), ("coefs_", "intercepts_"), ("cluster_centers_",)):
        if hasattr(estimator, names[0]):
            values = [getattr(estimator, n) for n in (*names, "toolkit_covariance_") if hasattr(estimator, n)]
            return [np.asarray(a, np.float64) for v in values for a in (v if isinstance(v, list) else [v])]
    raise AssertionError(type(estimator))


CASES = [
    ("LOGISTIC_REG", "cls = 0", {}),
    ("LOGISTIC_REG", "cls", {"early_stop": False, "max_iterations": 8, "l2_reg": 0.1}),
    ("LOGISTIC_REG", "cls = 1", {"l1_reg": 0.5, "max_iterations": 6, "category_encoding_method": "DUMMY_ENCODING"}),
    ("LOGISTIC_REG", "target > 4", {"calculate_p_values": True, "category_encoding_method": "DUMMY_ENCODING"}),
    ("LOGISTIC_REG", "cls = 2", {"enable_global_explain": True}),
    ("LOGISTIC_REG", "cls", {"enable_global_explain": True, "max_iterations": 8}),
    ("LINEAR_REG", "target", {"optimize_strategy": "BATCH_GRADIENT_DESCENT"}),
    ("LINEAR_REG", "target", {"optimize_strategy": "BATCH_GRADIENT_DESCENT", "calculate_p_values": True,
                              "category_encoding_method": "DUMMY_ENCODING"}),
    ("LINEAR_REG", "target", {"learn_rate_strategy": "CONSTANT", "learn_rate": 0.1, "max_iterations": 5}),
    ("DNN_CLASSIFIER", "cls", {"max_iterations": 3, "hidden_units": [8]}),
    ("DNN_REGRESSOR", "target", {"max_iterations": 2, "hidden_units": [4]}),
    ("KMEANS", None, {"num_clusters": 4}),
    ("KMEANS", None, {"num_clusters": 3, "distance_type": "COSINE", "standardize_features": False}),
]


@pytest.mark.parametrize(("model_type", "label", "options"), CASES)
def test_sparse_training_gives_the_dense_model(con, monkeypatch, model_type, label, options):
    query = f"SELECT {label} AS label, {FEATURES} FROM t" if label else f"SELECT {FEATURES} FROM t"
    dense, X_dense = _train(con, model_type, query, 0.0, monkeypatch, **options)
    sparse, X_sparse = _train(con, model_type, query, 1.0, monkeypatch, **options)
    assert isinstance(X_dense, np.ndarray) and sp.issparse(X_sparse)
    np.testing.assert_allclose(X_sparse.toarray(), X_dense, rtol=0, atol=1e-12)
    a, b = dense.model, sparse.model
    for left, right in zip(_parameters(a), _parameters(b), strict=True):
        np.testing.assert_allclose(right, left, rtol=1e-7, atol=1e-9)
    assert len(a.iterations) == len(b.iterations)
    for left, right in zip(a.iterations, b.iterations):
        assert right.loss == pytest.approx(left.loss, rel=1e-8)
        assert (right.eval_loss is None) == (left.eval_loss is None)
        if left.eval_loss is not None:
            assert right.eval_loss == pytest.approx(left.eval_loss, rel=1e-8)
        assert (right.cluster_info is None) == (left.cluster_info is None)
        for (id_a, radius_a, size_a), (id_b, radius_b, size_b) in zip(left.cluster_info or (), right.cluster_info or ()):
            assert (id_b, size_b) == (id_a, size_a) and radius_b == pytest.approx(radius_a, rel=1e-8)
    assert (a.global_explain is None) == (b.global_explain is None)
    assert (a.class_global_explain is None) == (b.class_global_explain is None)
    for left, right in [(a.global_explain, b.global_explain),
                        *zip(a.class_global_explain or (), b.class_global_explain or (), strict=True)]:
        assert (left or {}).keys() == (right or {}).keys()
        for name, value in (left or {}).items():
            assert right[name] == pytest.approx(value, rel=1e-8, abs=1e-12), name
    assert a.metrics.keys() == b.metrics.keys()
    for key, value in a.metrics.items():
        assert (value is None) == (b.metrics[key] is None), key
        if value is not None:
            assert b.metrics[key] == pytest.approx(value, rel=1e-7, abs=1e-10), key
    rows = con.sql(query).to_arrow_table()
    expected, actual = predict(a, rows), predict(b, rows)
    assert expected.schema == actual.schema
    for column in expected.column_names:
        left, right = expected.column(column), actual.column(column)
        if pa.types.is_list(left.type):
            left = left.combine_chunks().flatten().field(1)
            right = right.combine_chunks().flatten().field(1)
        left, right = np.asarray(left.to_numpy(zero_copy_only=False)), np.asarray(right.to_numpy(zero_copy_only=False))
        if left.dtype.kind == "f":
            np.testing.assert_allclose(right, left, rtol=1e-7, atol=1e-9)
        else:  # predicted classes / centroid ids: the same row by row but at an exact tie
            assert (left != right).sum() <= 1
    assert dense.compiled.path == sparse.compiled.path
    if dense.compiled.sql:
        text_a, numbers_a = _numbers(dense.compiled.sql)
        text_b, numbers_b = _numbers(sparse.compiled.sql)
        assert text_a == text_b
        np.testing.assert_allclose(numbers_b, numbers_a, rtol=1e-6, atol=1e-9)


def test_trees_and_normal_equation_keep_the_dense_matrix(con, monkeypatch):
    query = f"SELECT target AS label, {FEATURES} FROM t"
    for model_type, options in (("BOOSTED_TREE_REGRESSOR", {"max_iterations": 2}),
                                ("RANDOM_FOREST_REGRESSOR", {"num_parallel_tree": 2}),
                                ("LINEAR_REG", {})):
        _, X = _train(con, model_type, query, 1.0, monkeypatch, **options)
        assert isinstance(X, np.ndarray), model_type


def test_default_rule_picks_csr_for_large_one_hot_heavy_rows(con, monkeypatch):
    query = f"SELECT cls = 0 AS label, {FEATURES} FROM t"
    min_bytes = sparse_design.MIN_DENSE_BYTES
    _, X = _train(con, "LOGISTIC_REG", query, sparse_design.MAX_DENSITY, monkeypatch)
    assert sp.issparse(X)  # 4 entries in 2 + 54 + 12 columns
    _, X = _train(con, "LOGISTIC_REG", "SELECT cls = 0 AS label, x, y FROM t", sparse_design.MAX_DENSITY,
                  monkeypatch)
    assert isinstance(X, np.ndarray)  # numbers only: nothing to save
    _, X = _train(con, "LOGISTIC_REG", query, sparse_design.MAX_DENSITY, monkeypatch, min_bytes=min_bytes)
    assert isinstance(X, np.ndarray)  # 2,500 rows × 68 columns: 1.4 MB dense, below the size worth the switch


def test_categorical_of_100000_values_trains_a_linear_model_without_densifying(monkeypatch):
    con = duckdb.connect()
    register_farm_fingerprint(con)
    n, values = 150_000, 100_000
    con.execute(f"CREATE TABLE wide AS SELECT 'u' || (i % {values}) AS user_id, sin(i) AS x, "
                f"(i % {values}) % 3 = 0 AS label FROM range({n}) r(i)")
    # Compiling a 100,000-entry lookup into SQL is its own (slow) step; this test is about the fit.
    monkeypatch.setattr(train_module, "compile_prediction",
                        lambda con, trained, sample: CompiledPrediction("python", "not compiled in this test"))
    training, X = _train(con, "LOGISTIC_REG", "SELECT * FROM wide", sparse_design.MAX_DENSITY, monkeypatch,
                         min_bytes=sparse_design.MIN_DENSE_BYTES, max_iterations=3, early_stop=False,
                         data_split_method="NO_SPLIT")
    assert sp.issparse(X) and X.shape == (n, values + 1)
    assert X.nnz == 2 * n  # a dense float64 matrix would take 120 GB; this one takes 12 bytes per entry
    model = training.model
    assert model.estimator.coef_.shape == (1, values + 1)
    assert len(model.iterations) == 3 and model.iterations[-1].loss < model.iterations[0].loss
    sample = con.sql("SELECT * FROM wide LIMIT 5000").to_arrow_table()
    proba = predict(model, sample).column("predicted_label_probs").combine_chunks().flatten().field(1)
    assert len(proba) == 2 * sample.num_rows
