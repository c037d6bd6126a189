"""ML.EVALUATE, ML.PREDICT and ML.EXPLAIN_PREDICT over batches of a model with a very wide one-hot design: each
batch is encoded as CSR (never densified) for the models that read it, with the same outputs as the dense path.

Oracle: the same functions with the dense design forced (`WIDE_DENSE` raised above the width), row by row."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

import toolkit.ml.inference.predict as predict_module
import toolkit.ml.training.train as train_module
from toolkit.ml.compile import CompiledPrediction
from toolkit.ml.functions.evaluate import evaluate_run
from toolkit.ml.functions.explain import explain_run
from toolkit.ml.inference.predict import predict
from toolkit.ml.training.train import train_model
from toolkit.warehouse.farmhash import register_farm_fingerprint


def _connection(rows: int, values: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    register_farm_fingerprint(con)
    con.execute(f"CREATE TABLE wide AS SELECT 'u' || ((i * 7919) % {values}) AS user_id, sin(i) AS x, "
                f"'c' || (i % 3) AS city, (i * 7919) % {values} % 3 AS cls, "
                f"((i * 7919) % {values}) % 7 * 0.3 + sin(i) AS target FROM range({rows}) r(i)")
    return con


def _untouched_compile(monkeypatch) -> None:
    # Compiling a lookup of thousands of categories into SQL is its own step; these tests are about the batches.
    monkeypatch.setattr(train_module, "compile_prediction",
                        lambda con, trained, sample: CompiledPrediction("python", "not compiled in this test"))


def _spy_encoding(monkeypatch) -> list[bool]:
    seen: list[bool] = []
    encode = predict_module.encode

    def spied(trained, features, *, sparse=False):
        X = encode(trained, features, sparse=sparse)
        seen.append(sp.issparse(X))
        return X

    monkeypatch.setattr(predict_module, "encode", spied)
    return seen


def _batches(table: pa.Table) -> list[pa.RecordBatch]:
    return table.to_batches(max_chunksize=700)


def _same_tables(actual: pa.Table, expected: pa.Table) -> None:
    assert actual.schema == expected.schema
    for name in expected.column_names:
        left, right = expected.column(name).combine_chunks(), actual.column(name).combine_chunks()
        if pa.types.is_list(left.type):
            left, right = left.flatten(), right.flatten()
        if pa.types.is_struct(left.type):
            for i in range(left.type.num_fields):
                _same_arrays(right.field(i), left.field(i), name)
        else:
            _same_arrays(right, left, name)


def _same_arrays(right: pa.Array, left: pa.Array, name: str) -> None:
    if pa.types.is_floating(left.type):
        np.testing.assert_allclose(right.to_numpy(zero_copy_only=False), left.to_numpy(zero_copy_only=False),
                                   rtol=1e-9, atol=1e-12, err_msg=name)
    else:
        assert right.to_pylist() == left.to_pylist(), name


CASES = [
    ("LOGISTIC_REG", "cls = 0", {}),
    ("LOGISTIC_REG", "cls", {"max_iterations": 4}),
    ("LINEAR_REG", "target", {"optimize_strategy": "BATCH_GRADIENT_DESCENT"}),
]


@pytest.mark.parametrize(("model_type", "label", "options"), CASES)
def test_wide_batches_are_csr_with_the_dense_outputs(monkeypatch, model_type, label, options):
    con = _connection(6_000, 3_000)
    _untouched_compile(monkeypatch)
    query = f"SELECT {label} AS label, user_id, x, city FROM wide"
    model = train_model(con, name="m", options={"model_type": model_type, "data_split_method": "NO_SPLIT",
                                                 **options}, query=query).model
    assert model.preprocessor.width > predict_module.WIDE_DENSE
    table = con.sql(query).to_arrow_table()
    seen = _spy_encoding(monkeypatch)
    sparse = (evaluate_run(model, _batches(table), {}), predict(model, table),
              pa.Table.from_batches(list(explain_run(model, _batches(table), {"top_k_features": 3}))))
    assert seen and all(seen)  # every batch encoded as CSR
    seen.clear()
    monkeypatch.setattr(predict_module, "WIDE_DENSE", 10**9)
    dense = (evaluate_run(model, _batches(table), {}), predict(model, table),
             pa.Table.from_batches(list(explain_run(model, _batches(table), {"top_k_features": 3}))))
    assert seen and not any(seen)
    for actual, expected in zip(sparse, dense, strict=True):
        _same_tables(actual, expected)


def test_a_100000_category_model_evaluates_and_explains_without_densifying(monkeypatch):
    con = _connection(100_000, 100_000)
    _untouched_compile(monkeypatch)
    query = "SELECT cls = 0 AS label, user_id, x FROM wide"
    model = train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "data_split_method": "NO_SPLIT",
                                                 "max_iterations": 2}, query=query).model
    table = con.sql(query).to_arrow_table()  # 100,000 rows: 80 GB as a dense float64 design
    seen = _spy_encoding(monkeypatch)
    metrics = evaluate_run(model, table.to_batches(max_chunksize=20_000), {})
    explained = pa.Table.from_batches(list(explain_run(model, table.to_batches(max_chunksize=20_000), {})))
    assert seen and all(seen) and explained.num_rows == table.num_rows
    assert 0.0 <= metrics.column("roc_auc")[0].as_py() <= 1.0
    few = table.slice(0, 40)  # the dense oracle on a few rows
    monkeypatch.setattr(predict_module, "WIDE_DENSE", 10**9)
    _same_tables(explained.slice(0, 40), pa.Table.from_batches(list(explain_run(model, few.to_batches(), {}))))
