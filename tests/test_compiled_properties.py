"""Property tests of the compiler: for generated training tables (numbers with NULLs and NaNs, categories with
NULL) and generated new rows (unseen categories among them), the compiled SQL predicts what scikit-learn
predicts, row by row, within the parity tolerance."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from toolkit.ml import train_model
from toolkit.ml.compile import COMPILED
from toolkit.ml.compile.parity import compare
from toolkit.warehouse.functions import register_functions

NUMBER = st.one_of(st.none(), st.just(float("nan")), st.floats(-1e6, 1e6, allow_nan=False, width=32))
CATEGORY = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))
NEW_CATEGORY = st.one_of(CATEGORY, st.sampled_from(["unseen", ""]))
FINITE = st.floats(-1e6, 1e6, allow_nan=False, width=32)
ROW = st.tuples(FINITE, NUMBER, CATEGORY)
NEW_ROW = st.tuples(NUMBER, NUMBER, NEW_CATEGORY)
MODELS = {
    "LINEAR_REG": {"model_type": "LINEAR_REG", "input_label_cols": ["label"], "l2_reg": 0.1},
    "LOGISTIC_REG": {"model_type": "LOGISTIC_REG", "input_label_cols": ["label"]},
    "BOOSTED_TREE_REGRESSOR": {"model_type": "BOOSTED_TREE_REGRESSOR", "input_label_cols": ["label"],
                               "max_iterations": 3, "max_tree_depth": 3},
    "RANDOM_FOREST_CLASSIFIER": {"model_type": "RANDOM_FOREST_CLASSIFIER", "input_label_cols": ["label"],
                                 "num_parallel_tree": 3, "max_tree_depth": 4},
}


def _table(rows: list[tuple]) -> pa.Table:
    x, y, colour = zip(*rows)
    return pa.table({"x": pa.array(x, pa.float64()), "y": pa.array(y, pa.float64()),
                     "colour": pa.array(colour, pa.string())})


@pytest.mark.parametrize("model_type", MODELS)
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=30, max_size=60), new=st.lists(NEW_ROW, min_size=1, max_size=20))
def test_compiled_sql_predicts_what_scikit_learn_predicts(model_type, rows, new):
    assume(any(y is not None and y == y for _, y, _ in rows) and any(c is not None for _, _, c in rows))
    training = _table(rows)
    # A label of the features' own, so that each model has something to learn; classes from its sign.
    x = training.column("x").to_pylist()
    label = [v > 0 for v in x] if model_type.endswith("CLASSIFIER") or model_type == "LOGISTIC_REG" else x
    assume(len(set(label)) > 1)  # one class: BigQuery ML refuses such a classifier, and so does the toolkit
    con = duckdb.connect(config={"threads": 1})
    try:
        register_functions(con)
        con.register("training", training.append_column("label", pa.array(label)))
        options = {**MODELS[model_type], "data_split_method": "no_split"}
        training = train_model(con, name="m", options=options, query="SELECT x, y, colour, label FROM training")
        assert training.compiled.status == COMPILED, training.compiled.reason
        mismatch, _ = compare(con, training.model, training.compiled.sql_for, _table(new))
        assert mismatch is None, mismatch
    finally:
        con.close()
