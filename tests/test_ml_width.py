"""Categorical features too wide for a dense design matrix: a clear error naming the column, its number of values
and the model type, before anything is encoded; a warning for identifier-like categoricals."""

from __future__ import annotations

import warnings

import duckdb
import pytest

import toolkit.ml.training.width as width
from toolkit.errors import ModelError
from toolkit.ml.training.train import train_model
from toolkit.warehouse.farmhash import register_farm_fingerprint


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    register_farm_fingerprint(con)
    con.execute("CREATE TABLE t AS SELECT 'u' || (i % 1200) AS user_id, 'c' || (i % 3) AS city, sin(i) AS x, "
                "i % 2 = 0 AS label, cos(i) AS target FROM range(2400) r(i)")
    return con


@pytest.fixture
def small_memory(monkeypatch):
    # 2,400 rows × 1,204 float columns take 11 to 23 MB; pretend the machine has 8 MB to spare.
    monkeypatch.setattr(width, "dense_limit_bytes", lambda: 8 * 2**20)


@pytest.mark.parametrize(("options", "hint"), [
    ({"model_type": "BOOSTED_TREE_CLASSIFIER", "category_encoding_method": "ONE_HOT_ENCODING",
      "max_iterations": 1}, "LABEL_ENCODING"),
    ({"model_type": "RANDOM_FOREST_CLASSIFIER", "category_encoding_method": "ONE_HOT_ENCODING"}, "LABEL_ENCODING"),
    ({"model_type": "LINEAR_REG", "input_label_cols": ["target"], "optimize_strategy": "NORMAL_EQUATION"},
     "BATCH_GRADIENT_DESCENT"),
])
def test_a_dense_design_beyond_memory_names_the_column_and_the_model(con, small_memory, options, hint):
    query = "SELECT user_id, city, x, label FROM t" if "target" not in str(options) else \
        "SELECT user_id, city, x, target FROM t"
    with pytest.raises(ModelError) as raised:
        train_model(con, name="wide", options={**options, "data_split_method": "NO_SPLIT"}, query=query)
    message = str(raised.value)
    assert "'user_id' (1,200 values)" in message and options["model_type"] in message and "GiB" in message
    assert message.index("'user_id'") < message.index("'city'")  # widest first
    assert hint in message


def test_sparse_and_label_encoded_designs_are_not_refused(con, small_memory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", width.WideCategoryWarning)
        train_model(con, name="wide", options={"model_type": "LOGISTIC_REG", "max_iterations": 2},
                    query="SELECT user_id, city, x, label FROM t")  # CSR: 4 entries per row
        train_model(con, name="wide", options={"model_type": "BOOSTED_TREE_CLASSIFIER", "max_iterations": 1},
                    query="SELECT user_id, city, x, label FROM t")  # LABEL_ENCODING: one column


def test_identifier_like_categoricals_warn(con, monkeypatch):
    monkeypatch.setattr(width, "ID_LIKE_VALUES", 1_000)
    with pytest.warns(width.WideCategoryWarning, match=r"'user_id' has 1,\d\d\d distinct values in 1,9\d\d training"):
        train_model(con, name="wide", options={"model_type": "LOGISTIC_REG", "max_iterations": 1},
                    query="SELECT user_id, city, x, label FROM t")
    with warnings.catch_warnings():
        warnings.simplefilter("error", width.WideCategoryWarning)
        train_model(con, name="wide", options={"model_type": "LOGISTIC_REG", "max_iterations": 1},
                    query="SELECT city, x, label FROM t")
