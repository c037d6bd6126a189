"""Streamed gradient descent (toolkit.ml.training.stream): the design matrix encoded chunk by chunk in every pass
gives the model the in-memory descent gives.

Oracle: the same training with TOOLKIT_DESCENT_CHUNK_ROWS = 0 (the whole matrix in memory): weights, every
ML.TRAINING_INFO row, metrics and global explanations agree to float tolerance, with chunks of a few rows."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

import toolkit.ml.training.stream as stream
from toolkit.errors import ModelError
from toolkit.ml.training.train import train_model
from toolkit.warehouse.farmhash import register_farm_fingerprint

ROWS = """
CREATE TABLE t AS SELECT
    'a' || ((i * 7919) % 53) AS a,
    CASE WHEN i % 17 = 0 THEN NULL ELSE 'b' || (i % 11) END AS b,
    sin(i) * 3 AS x,
    CASE WHEN i % 13 = 0 THEN NULL ELSE cos(i * 0.7) END AS y,
    ((i * 7919) % 53) % 3 AS cls,
    1 + (i % 4) * 0.5 AS w,
    sin(i) * 3 + ((i * 7919) % 53) * 0.1 + (i % 11) * 0.2 + 0.3 * sin(i * 1.3) AS target
FROM range(1500) r(i)
"""
FEATURES = "a, b, x, y"


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    register_farm_fingerprint(con)
    con.execute(ROWS)
    return con


def _parameters(model) -> list[np.ndarray]:
    return [np.atleast_1d(np.asarray(model.estimator.coef_, np.float64)),
            np.atleast_1d(np.asarray(model.estimator.intercept_, np.float64))]


CASES = [
    ("LOGISTIC_REG", "cls = 0", {}),
    ("LOGISTIC_REG", "cls", {"early_stop": False, "max_iterations": 8, "l2_reg": 0.1}),
    ("LOGISTIC_REG", "cls = 1", {"l1_reg": 0.5, "max_iterations": 6, "category_encoding_method": "DUMMY_ENCODING"}),
    ("LOGISTIC_REG", "cls", {"enable_global_explain": True, "max_iterations": 5, "auto_class_weights": True}),
    ("LOGISTIC_REG", "cls = 2", {"data_split_method": "NO_SPLIT", "instance_weight_col": "w"}),
    ("LINEAR_REG", "target", {"optimize_strategy": "BATCH_GRADIENT_DESCENT", "enable_global_explain": True}),
    ("LINEAR_REG", "target", {"learn_rate_strategy": "CONSTANT", "learn_rate": 0.1, "max_iterations": 5,
                              "data_split_method": "RANDOM", "data_split_test_fraction": 0.1}),
]


@pytest.mark.parametrize(("model_type", "label", "options"), CASES)
def test_streamed_descent_gives_the_in_memory_model(con, monkeypatch, model_type, label, options):
    weight = ", w" if "instance_weight_col" in options else ""
    query = f"SELECT {label} AS label, {FEATURES}{weight} FROM t"
    common = {"model_type": model_type, "input_label_cols": ["label"], **options}
    memory = train_model(con, name="m", options={**common, "toolkit_descent_chunk_rows": 0}, query=query).model
    seen: list[int] = []
    blocks = stream.StreamedRows.blocks

    def spied(self):
        for start, stop, rows in blocks(self):
            seen.append(rows.shape[0])
            yield start, stop, rows

    monkeypatch.setattr(stream.StreamedRows, "blocks", spied)
    streamed = train_model(con, name="m", options={**common, "toolkit_descent_chunk_rows": 97}, query=query).model
    assert seen and max(seen) <= 97  # never more than one chunk's rows encoded at once
    for left, right in zip(_parameters(memory), _parameters(streamed), strict=True):
        np.testing.assert_allclose(right, left, rtol=1e-9, atol=1e-12)
    assert len(memory.iterations) == len(streamed.iterations)
    for left, right in zip(memory.iterations, streamed.iterations):
        assert right.loss == pytest.approx(left.loss, rel=1e-10)
        assert right.learning_rate == pytest.approx(left.learning_rate, rel=1e-10)
        assert (right.eval_loss is None) == (left.eval_loss is None)
        if left.eval_loss is not None:
            assert right.eval_loss == pytest.approx(left.eval_loss, rel=1e-10)
    assert (memory.class_global_explain is None) == (streamed.class_global_explain is None)
    pairs = [(name, getattr(memory, name), getattr(streamed, name))
             for name in ("metrics", "test_metrics", "global_explain")]
    pairs += [(f"class {k}", a, b) for k, (a, b) in enumerate(zip(memory.class_global_explain or (),
                                                                 streamed.class_global_explain or (), strict=True))]
    for attribute, a, b in pairs:
        assert (a is None) == (b is None), attribute
        for key, value in (a or {}).items():
            assert (value is None) == (b[key] is None), key
            if value is not None:
                assert b[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_large_designs_stream_automatically(con, monkeypatch):
    monkeypatch.setattr(stream, "STREAM_ABOVE_BYTES", 10_000)
    monkeypatch.setattr(stream, "CHUNK_BYTES", 20_000)
    chunks: list[int] = []
    blocks = stream.StreamedRows.blocks
    monkeypatch.setattr(stream.StreamedRows, "blocks",
                        lambda self: (chunks.append(self.chunk_rows), (yield from blocks(self)))[1])
    query = f"SELECT cls = 0 AS label, {FEATURES} FROM t"
    train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "max_iterations": 2}, query=query)
    assert chunks and 1 < chunks[0] < 1500
    chunks.clear()
    train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "max_iterations": 2,
                                        "toolkit_descent_chunk_rows": 0}, query=query)
    assert not chunks  # 0: in memory whatever the size
    train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "max_iterations": 2,
                                        "calculate_p_values": True, "category_encoding_method": "DUMMY_ENCODING"},
                query=query)
    assert not chunks  # p-values need the whole matrix: not streamed automatically


def test_p_values_refuse_a_chunk_size(con):
    with pytest.raises(ModelError, match="CALCULATE_P_VALUES.*TOOLKIT_DESCENT_CHUNK_ROWS"):
        train_model(con, name="m", options={"model_type": "LOGISTIC_REG", "calculate_p_values": True, "category_encoding_method": "DUMMY_ENCODING",
                                            "toolkit_descent_chunk_rows": 50},
                    query=f"SELECT cls = 0 AS label, {FEATURES} FROM t")
