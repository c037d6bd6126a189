"""Golden files of the SQL each model type compiles to: small models trained on fixed rows, on one DuckDB thread,
so that the model and its SQL are the same on every run. A change to the compiler that changes the SQL shows here
as a diff; after checking it, rewrite the files with `python -m pytest tests/test_compiled_golden.py
--update-golden`."""

from __future__ import annotations

import difflib
from pathlib import Path

import duckdb
import pytest

from toolkit.ml import train_model
from toolkit.ml.compile import compile_sql
from toolkit.warehouse.functions import register_functions

GOLDEN = Path(__file__).parent / "golden" / "compiled"
ROWS = """
CREATE TABLE rows AS
SELECT
    CASE WHEN i % 13 = 0 THEN NULL ELSE (i % 29) * 0.5 - 3 END AS x,
    ['red', 'green', 'blue'][1 + i % 3] AS colour,
    (i % 29) * 0.25 + (i % 3) * 1.5 AS amount,
    (i % 29) * 0.5 + (i % 3) > 8 AS is_high,
    ['low', 'mid', 'top'][1 + (i * 7 % 3)] AS tier
FROM range(120) AS r(i)
"""
FEATURES = "x, colour"
CASES = {
    "linear_reg": ({"model_type": "LINEAR_REG", "input_label_cols": ["amount"]}, "amount"),
    "logistic_binary": ({"model_type": "LOGISTIC_REG", "input_label_cols": ["is_high"]}, "is_high"),
    "logistic_multiclass": ({"model_type": "LOGISTIC_REG", "input_label_cols": ["tier"]}, "tier"),
    "boosted_regressor": ({"model_type": "BOOSTED_TREE_REGRESSOR", "input_label_cols": ["amount"],
                           "max_iterations": 2, "max_tree_depth": 2}, "amount"),
    "boosted_binary": ({"model_type": "BOOSTED_TREE_CLASSIFIER", "input_label_cols": ["is_high"],
                        "max_iterations": 2, "max_tree_depth": 2}, "is_high"),
    "forest_regressor": ({"model_type": "RANDOM_FOREST_REGRESSOR", "input_label_cols": ["amount"],
                          "num_parallel_tree": 2, "max_tree_depth": 2}, "amount"),
    "forest_multiclass": ({"model_type": "RANDOM_FOREST_CLASSIFIER", "input_label_cols": ["tier"],
                           "num_parallel_tree": 2, "max_tree_depth": 2}, "tier"),
    "kmeans": ({"model_type": "KMEANS", "num_clusters": 2}, None),
    "pca": ({"model_type": "PCA", "num_principal_components": 1}, None),
}
TRANSFORM = ["ML.STANDARD_SCALER(x) OVER () AS x_scaled", "ML.BUCKETIZE(x, [0.0, 5.0]) AS x_bucket", "colour",
             "amount"]


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect(config={"threads": 1})
    register_functions(connection)
    connection.execute(ROWS)
    yield connection
    connection.close()


def _check(name: str, sql: str, update: bool) -> None:
    path = GOLDEN / f"{name}.sql"
    if update:
        path.write_text(sql + "\n", encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path.name}: run pytest with --update-golden"
    expected = path.read_text(encoding="utf-8").rstrip("\n")
    if sql != expected:
        diff = "\n".join(difflib.unified_diff(expected.splitlines(), sql.splitlines(), f"golden/{path.name}",
                                              "compiled", lineterm=""))
        pytest.fail(f"the compiled SQL of {name} changed:\n{diff}")


@pytest.mark.parametrize("name", CASES)
def test_compiled_sql_matches_its_golden_file(con, name, request):
    options, label = CASES[name]
    columns = FEATURES + (f", {label}" if label else "")
    trained = train_model(con, name=name, options={**options, "data_split_method": "no_split"} if label else options,
                          query=f"SELECT {columns} FROM rows").model
    _check(name, compile_sql(trained, dialect="duckdb", input_table="input_rows"),
           request.config.getoption("--update-golden"))


def test_transform_model_sql_matches_its_golden_file(con, request):
    trained = train_model(con, name="with_transform", options={"model_type": "LINEAR_REG",
                                                               "input_label_cols": ["amount"],
                                                               "data_split_method": "no_split"},
                          query="SELECT x, colour, amount FROM rows", transform=TRANSFORM).model
    _check("with_transform", compile_sql(trained, dialect="duckdb", input_table="input_rows"),
           request.config.getoption("--update-golden"))
