"""Fitted models compiled to SQL: every covered model type against scikit-learn on numeric, categorical, NULL and
unseen inputs; ML.PREDICT through the SQL; the warehouse's table macros; fallbacks; export to other dialects."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import sqlglot

from toolkit.errors import ModelError
from toolkit.ml import load_model, load_prediction, save_model, train_model
from toolkit.ml.compile import COMPILED, FALLBACK, PYTHON, compile_prediction, compile_sql
from toolkit.ml.compile import parity as parity_module
from toolkit.ml.compile.lookup import MAX_CASE_ENTRIES
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.inference.predict import predict
from toolkit.sql.dialect import DIALECT
from toolkit.warehouse.functions import register_functions

ROWS = 1_500
# Training rows: numbers with NULLs and NaNs, a short and a long (joined) vocabulary with a NULL category, a bool,
# a date, timestamps with and without time zone, and labels of three kinds.
TRAINING = f"""
CREATE OR REPLACE TABLE training AS
SELECT
    CASE WHEN i % 17 = 0 THEN NULL ELSE (i % 97) * 1.5 - 20 END AS x,
    CASE WHEN i % 23 = 0 THEN 'NaN'::DOUBLE ELSE sin(i) * 10 END AS y,
    (i % 7)::INTEGER AS small_int,
    CASE WHEN i % 11 = 0 THEN NULL ELSE ['red', 'green', 'blue'][1 + i % 3] END AS colour,
    'k' || (i % 40)::VARCHAR AS many,
    i % 5 = 0 AS flag,
    DATE '2024-01-01' + (i % 9)::INTEGER AS day,
    TIMESTAMP '2024-01-01 00:00:00' + to_minutes(i * 97) AS ts,
    TIMESTAMPTZ '2024-03-01 00:00:00+00' + to_minutes(i * 131) AS tstz,
    ((i % 97) * 1.5 - 20 + (i % 3) * 4 + CASE WHEN i % 5 = 0 THEN 7 ELSE 0 END) > 30 AS is_high,
    ['low', 'mid', 'top'][1 + ((i * 7 + (i % 3)) % 3)] AS tier,
    (i % 97) * 0.3 + (i % 3) * 2.0 + (i % 40) * 0.05 AS amount
FROM range({ROWS}) AS r(i)
"""
FEATURES = "x, y, small_int, colour, many, flag, day, ts, tstz"
# New rows: NULL and NaN numbers, the NULL category, categories never seen in training, and new dates.
NEW_ROWS = """
SELECT * FROM (VALUES
    (1.0, 2.0, 3, 'red', 'k1', TRUE, DATE '2024-01-02', TIMESTAMP '2024-02-01 10:30:00',
     TIMESTAMPTZ '2024-03-05 23:10:00+00'),
    (NULL, 'NaN'::DOUBLE, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
    (99.0, -5.0, 12, 'purple', 'k999', FALSE, DATE '2030-06-01', TIMESTAMP '2031-07-04 03:00:00',
     TIMESTAMPTZ '2031-07-04 03:00:00+05'),
    (-40.0, 0.0, 0, 'blue', 'k39', FALSE, DATE '2024-01-09', TIMESTAMP '2024-01-01 00:00:00',
     TIMESTAMPTZ '2024-03-01 00:00:00+00')
) AS t(x, y, small_int, colour, many, flag, day, ts, tstz)
"""

CASES = {
    "linear_reg": ({"model_type": "LINEAR_REG", "input_label_cols": ["amount"]}, "amount"),
    "linear_reg_dummy": ({"model_type": "LINEAR_REG", "input_label_cols": ["amount"],
                          "category_encoding_method": "DUMMY_ENCODING", "l2_reg": 0.5}, "amount"),
    "logistic_binary": ({"model_type": "LOGISTIC_REG", "input_label_cols": ["is_high"], "l2_reg": 0.1}, "is_high"),
    "logistic_multiclass": ({"model_type": "LOGISTIC_REG", "input_label_cols": ["tier"]}, "tier"),
    "kmeans": ({"model_type": "KMEANS", "num_clusters": 4}, None),
    # Unstandardized, so without the timestamps: scikit-learn's ‖x‖² - 2x·c + ‖c‖² loses the digits of distances
    # between points 1e9 seconds from the origin, and its last digits depend on the order of the sums.
    "kmeans_two": ({"model_type": "KMEANS", "num_clusters": 2, "standardize_features": False}, None),
    "pca": ({"model_type": "PCA", "num_principal_components": 3}, None),
    "boosted_regressor": ({"model_type": "BOOSTED_TREE_REGRESSOR", "input_label_cols": ["amount"],
                           "max_iterations": 8, "max_tree_depth": 4}, "amount"),
    "boosted_binary": ({"model_type": "BOOSTED_TREE_CLASSIFIER", "input_label_cols": ["is_high"],
                        "max_iterations": 8}, "is_high"),
    "boosted_multiclass": ({"model_type": "BOOSTED_TREE_CLASSIFIER", "input_label_cols": ["tier"],
                            "max_iterations": 5}, "tier"),
    "forest_regressor": ({"model_type": "RANDOM_FOREST_REGRESSOR", "input_label_cols": ["amount"],
                          "num_parallel_tree": 6, "max_tree_depth": 6}, "amount"),
    "forest_binary": ({"model_type": "RANDOM_FOREST_CLASSIFIER", "input_label_cols": ["is_high"],
                       "num_parallel_tree": 6, "max_tree_depth": 6}, "is_high"),
    "forest_multiclass": ({"model_type": "RANDOM_FOREST_CLASSIFIER", "input_label_cols": ["tier"],
                          "num_parallel_tree": 6, "max_tree_depth": 8}, "tier"),
}


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    register_functions(connection)
    connection.execute(TRAINING)
    connection.execute(f"CREATE TABLE new_rows AS {NEW_ROWS}")
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def models(con):
    trained = {}
    for name, (options, label) in CASES.items():
        columns = FEATURES + (f", {label}" if label else "")
        if name == "kmeans_two":
            columns = "x, y, small_int, colour, many, flag, day"
        trained[name] = train_model(con, name=name, options=options, query=f"SELECT {columns} FROM training")
    return trained


def _compiled_rows(con, compiled, input_sql: str, threshold: float | None = None) -> pa.Table:
    sql = compiled.sql_for(f"SELECT *, row_number() OVER () AS row_id FROM ({input_sql})", threshold)
    return con.sql(f"SELECT * FROM ({sql}) ORDER BY row_id").to_arrow_table().drop_columns(["row_id"])


def _assert_same(expected: pa.Table, actual: pa.Table) -> None:
    """Equal labels and ids, numbers within 1e-9 relative, lists entry by entry."""
    assert actual.column_names[:expected.num_columns] == expected.column_names  # BigQuery: predictions first
    for name in expected.column_names:
        difference, _ = parity_module.differ(expected.column(name), actual.column(name))
        assert difference is None, f"{name}: {difference}"


@pytest.mark.parametrize("case", list(CASES))
def test_every_model_type_compiles_and_passes_its_parity_check(models, case):
    compiled = models[case].compiled
    assert compiled.status == COMPILED, compiled.reason
    assert compiled.parity_rows > 100
    assert compiled.max_relative_error < 1e-12
    assert 0 < compiled.sql_bytes == len(compiled.sql)


@pytest.mark.parametrize("case", list(CASES))
def test_compiled_sql_equals_scikit_learn_on_null_nan_and_unseen_inputs(con, models, case):
    training = models[case]
    trained = training.model
    expected = predict(trained, con.sql(NEW_ROWS).to_arrow_table())
    actual = _compiled_rows(con, training.compiled, NEW_ROWS)
    _assert_same(expected, actual)
    assert actual.num_rows == 4
    # the prediction columns first, then the input's, unchanged (BigQuery's order:
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-predict)
    assert actual.column_names[expected.num_columns:][:9] == FEATURES.split(", ")


@pytest.mark.parametrize("case", list(CASES))
def test_compiled_sql_equals_scikit_learn_on_the_training_rows(con, models, case):
    training = models[case]
    trained = training.model
    query = f"SELECT {FEATURES} FROM training"
    _assert_same(predict(trained, con.sql(query).to_arrow_table()), _compiled_rows(con, training.compiled, query))


def test_categorical_lookups_are_one_case_or_one_join_per_feature(models):
    training = models["logistic_binary"]
    trained = training.model
    sql = training.compiled.sql
    long = [f for f in trained.preprocessor.features
            if f.kind == "categorical" and len(f.categories) > MAX_CASE_ENTRIES]
    assert any(f.column == "many" for f in long)  # 40 categories: a joined VALUES table; colour: a CASE
    assert sql.count("LEFT JOIN") == len(long)
    assert sql.count("'green'") == 1 and sql.count("'k7'") == 1  # one lookup per feature, not a column per category
    forest = models["forest_multiclass"]
    assert sum(f"__toolkit_t{i}\"" in forest.compiled.sql for i in range(6)) == 6  # a column per tree


def test_binary_threshold_is_applied(con, models):
    training = models["logistic_binary"]
    trained = training.model
    for threshold in (0.0, 0.3, 0.9):
        expected = predict(trained, con.sql(NEW_ROWS).to_arrow_table(), threshold=threshold)
        _assert_same(expected, _compiled_rows(con, training.compiled, NEW_ROWS, threshold))


def test_ml_predict_runs_the_compiled_sql_with_the_python_path_columns(con, models, monkeypatch):
    training = models["boosted_multiclass"]
    save_model(con, training)
    statement = sqlglot.parse_one("SELECT * FROM ML.PREDICT(MODEL boosted_multiclass, TABLE new_rows)", read=DIALECT)
    with applied_ml_calls(con, statement) as applied:
        via_sql = con.sql(applied.sql)
        types = via_sql.types
        compiled = via_sql.to_arrow_table()
    assert "__toolkit" not in " ".join(compiled.column_names)
    # The same statement on the Python path (the model without its SQL) gives the same columns and types.
    monkeypatch.setattr(type(training.compiled), "compiled", property(lambda self: False))
    with applied_ml_calls(con, statement) as applied:
        via_python = con.sql(applied.sql)
        assert via_python.types == types
        python = via_python.to_arrow_table()
    assert python.column_names == compiled.column_names
    key = [("x", "ascending")]
    _assert_same(python.sort_by(key).select(["predicted_tier", "predicted_tier_probs"]),
                 compiled.sort_by(key).select(["predicted_tier", "predicted_tier_probs"]))


def test_compiled_ml_predict_checks_its_input_like_the_python_path(con, models):
    save_model(con, models["logistic_binary"])
    cases = {
        "SELECT * FROM no_such_table": "ML.PREDICT with model logistic_binary: its input query failed in DuckDB",
        "SELECT * EXCLUDE (colour) FROM new_rows": r"no column\(s\) colour",
        "SELECT * REPLACE (1 AS colour) FROM new_rows": "column 'colour' is int32 in the input",
        "SELECT *, TRUE AS predicted_is_high FROM new_rows": "already has a column 'predicted_is_high'",
    }
    for query, message in cases.items():
        statement = sqlglot.parse_one(f"SELECT * FROM ML.PREDICT(MODEL logistic_binary, ({query}))", read=DIALECT)
        with pytest.raises(ModelError, match=message):
            with applied_ml_calls(con, statement) as applied:
                con.sql(applied.sql).fetchall()


def test_transform_with_farm_fingerprint_compiles_and_the_macro_needs_no_python(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    register_functions(con)
    con.execute(TRAINING)
    con.execute(f"CREATE TABLE new_rows AS {NEW_ROWS}")
    transform = ["ML.HASH_BUCKETIZE(many, 8) AS many_bucket", "ML.FEATURE_CROSS(STRUCT(colour, flag)) AS cross",
                 "ML.STANDARD_SCALER(x) OVER () AS x_z", "ML.BUCKETIZE(y, [-5, 0, 5]) AS y_bucket", "is_high"]
    training = train_model(con, name="with_transform",
                           options={"model_type": "LOGISTIC_REG", "input_label_cols": ["is_high"]},
                           query=f"SELECT {FEATURES}, is_high FROM training", transform=transform)
    trained = training.model
    assert training.compiled.status == COMPILED, training.compiled.reason
    assert "farm_fingerprint" in training.compiled.sql.lower()
    save_model(con, training)
    expected = predict(trained, con.sql("SELECT * FROM new_rows").to_arrow_table())
    con.close()

    plain = duckdb.connect(str(path))  # a DuckDB client with none of the toolkit's functions
    with pytest.raises(duckdb.CatalogException):
        plain.execute("SELECT farm_fingerprint('a')")
    rows = plain.sql("SELECT * FROM with_transform_predict(new_rows)").to_arrow_table()
    _assert_same(expected, rows)
    above = plain.sql("SELECT count(*) FROM with_transform_predict(new_rows, threshold := 1.0) "
                      "WHERE predicted_is_high").fetchall()
    assert above == [(0,)]
    plain.close()


def test_table_macro_is_replaced_by_each_version_and_dropped_when_not_compiled(tmp_path: Path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    register_functions(con)
    con.execute(TRAINING)
    options = {"model_type": "LINEAR_REG", "input_label_cols": ["amount"]}
    first = train_model(con, name="amounts", options=options, query="SELECT x, colour, amount FROM training")
    save_model(con, first)
    before = con.sql("SELECT predicted_amount FROM amounts_predict(training) ORDER BY x NULLS FIRST LIMIT 1").fetchall()
    second = train_model(con, name="amounts", options=options, query="SELECT x, amount FROM training")
    save_model(con, second)
    after = con.sql("SELECT predicted_amount FROM amounts_predict(training) ORDER BY x NULLS FIRST LIMIT 1").fetchall()
    assert before != after
    dnn = train_model(con, name="amounts", options={**options, "model_type": "DNN_REGRESSOR", "max_iterations": 2},
                      query="SELECT x, amount FROM training")
    assert dnn.compiled.status == PYTHON and "DNN_REGRESSOR" in dnn.compiled.reason
    save_model(con, dnn)
    with pytest.raises(duckdb.CatalogException):
        con.sql("SELECT * FROM amounts_predict(training)").fetchall()
    assert load_prediction(con, load_model(con, "amounts")).status == PYTHON
    con.close()


def test_uncovered_features_keep_the_python_path(con):
    training = train_model(con, name="arrays", options={"model_type": "BOOSTED_TREE_REGRESSOR",
                                                        "input_label_cols": ["amount"], "max_iterations": 2},
                           query="SELECT x, [colour, many] AS tags, amount FROM training")
    assert training.compiled.status == PYTHON
    assert "tags is an ARRAY column" in training.compiled.reason
    assert training.compiled.summary().startswith("predicts in Python")


ARRAY_ROWS = """
SELECT * FROM (VALUES
    (1.0, 'red', ['k1', 'k2', 'k1', NULL, 'k999']),   -- a duplicate, a NULL element, an unseen string
    (NULL, 'purple', NULL),                             -- a NULL array, an unseen category
    (-3.0, 'blue', []::VARCHAR[]),                      -- an empty array
    (40.0, NULL, ['k39'])
) AS t(x, colour, tags)
"""
ARRAY_CASES = {
    "linear_reg": ({"model_type": "LINEAR_REG", "input_label_cols": ["amount"]}, "amount"),
    "logistic_multiclass": ({"model_type": "LOGISTIC_REG", "input_label_cols": ["tier"]}, "tier"),
    "kmeans": ({"model_type": "KMEANS", "num_clusters": 3}, None),
    "pca": ({"model_type": "PCA", "num_principal_components": 2}, None),
}


@pytest.mark.parametrize("case", list(ARRAY_CASES))
@pytest.mark.parametrize("with_transform", [False, True])
def test_array_features_of_linear_models_compile(con, case, with_transform):
    """A multi-hot ARRAY<STRING> column, and ML.ONE_HOT_ENCODER's sparse ARRAY<STRUCT<index, value>> output."""
    options, label = ARRAY_CASES[case]
    passed = f", {label}" if label else ""
    transform = ["x", "tags", "ML.ONE_HOT_ENCODER(colour) OVER () AS colour_hot", *([label] if label else [])]
    training = train_model(con, name=f"arrays_{case}", options=options,
                           query=f"SELECT x, colour, list_value(many, 'k' || (length(many) % 3)::VARCHAR) AS tags"
                                 f"{passed} FROM training",
                           transform=transform if with_transform else ())
    trained = training.model
    assert training.compiled.status == COMPILED, training.compiled.reason
    assert "LIST_TRANSFORM" in training.compiled.sql.upper()
    expected = predict(trained, con.sql(ARRAY_ROWS).to_arrow_table())
    _assert_same(expected, _compiled_rows(con, training.compiled, ARRAY_ROWS))


def test_too_large_sql_falls_back_with_the_size_in_the_message(con, models):
    training = models["forest_multiclass"]
    trained = training.model
    small = compile_prediction(con, trained, None, limit=2_000)
    assert small.status == FALLBACK
    assert "limit" in small.reason and not small.compiled


def test_a_parity_mismatch_falls_back_and_the_build_warns(con, models, monkeypatch):
    training = models["logistic_binary"]
    trained = training.model
    sample = con.sql(f"SELECT {FEATURES} FROM training LIMIT 50").to_arrow_table()

    def off_by_a_little(model, table, **kwargs):
        out = predict(model, table, **kwargs)
        probs = out.column(1).combine_chunks()
        entries = probs.values
        shifted = pa.StructArray.from_arrays([entries.field(0), pa.compute.add(entries.field(1), 1e-6)],
                                             names=["label", "prob"])
        return out.set_column(1, out.column_names[1], pa.ListArray.from_arrays(probs.offsets, shifted))

    monkeypatch.setattr(parity_module, "predict", off_by_a_little)
    checked = compile_prediction(con, trained, sample)
    assert checked.status == FALLBACK and not checked.compiled
    assert "differs from scikit-learn" in checked.reason and "predicted_is_high_probs" in checked.reason
    assert checked.max_relative_error > 1e-9


def test_export_to_other_dialects(models):
    training = models["logistic_binary"]
    trained = training.model
    for dialect in ("bigquery", "snowflake", "postgres", "duckdb"):
        sql = compile_sql(trained, dialect=dialect, input_table="analytics.new_rows", threshold=0.7)
        sqlglot.parse_one(sql, read=dialect)  # valid in its dialect, as far as sqlglot can tell
        assert "__toolkit_predict_input__" not in sql and "0.7e0" in sql
        assert "EXCLUDE" not in sql.upper()  # the model's input columns are listed instead
    bigquery = compile_sql(trained, dialect="bigquery", input_table="analytics.new_rows")
    assert "FROM analytics.new_rows AS `__input`" in bigquery
    with pytest.raises(sqlglot.errors.UnsupportedError):
        compile_sql(models["kmeans"].model, dialect="bigquery", input_table="t")


def test_exported_duckdb_sql_runs_and_equals_the_python_path(con, models):
    training = models["forest_binary"]
    trained = training.model
    sql = compile_sql(trained, dialect="duckdb", input_table="new_rows")
    rows = con.sql(sql).to_arrow_table()
    assert rows.column_names[-9:] == trained.input_columns
    inputs = con.sql("SELECT * FROM new_rows").to_arrow_table()
    expected = predict(trained, inputs)
    assert rows.num_rows == expected.num_rows
    # row by row, in input order: the same inputs beside the same label and close probabilities
    for got, given, want in zip(rows.to_pylist(), inputs.to_pylist(), expected.to_pylist(), strict=True):
        assert [repr(got[c]) for c in trained.input_columns] == [repr(given[c]) for c in trained.input_columns]
        assert got["predicted_is_high"] == want["predicted_is_high"]
        got_probs = {p["label"]: p["prob"] for p in got["predicted_is_high_probs"]}
        want_probs = {p["label"]: p["prob"] for p in want["predicted_is_high_probs"]}
        assert got_probs.keys() == want_probs.keys()
        assert all(abs(got_probs[k] - want_probs[k]) < 1e-9 for k in got_probs)


def test_kmeans_nearest_centroids_are_sorted_and_capped(con, models):
    training = models["kmeans"]
    rows = _compiled_rows(con, training.compiled, NEW_ROWS).to_pylist()
    for row in rows:
        distances = [entry["distance"] for entry in row["nearest_centroids_distance"]]
        assert distances == sorted(distances) and len(distances) == 4
        assert row["centroid_id"] == row["nearest_centroids_distance"][0]["centroid_id"]
        assert all(math.isfinite(d) for d in distances)


def test_numbers_are_exact_double_literals():
    from toolkit.ml.compile.sql import number

    con = duckdb.connect()
    for value in (0.1, -1.5e-3, 1e-300, 123456789.123456789, -0.0, 2.0**-1074, np.float64(1 / 3)):
        sql = number(float(value)).sql(dialect="duckdb")
        (result, kind), = con.execute(f"SELECT {sql}, typeof({sql})").fetchall()
        assert kind == "DOUBLE" and result == float(value), sql


PREDICTIONS = "SELECT * FROM ML.PREDICT(MODEL {{ ref('iris_model') }}, TABLE {{ ref('iris_features') }})\n"


def test_build_reports_the_sql_and_predicts_with_it(iris_project, toolkit):
    from tests.conftest import query

    (iris_project / "models" / "iris_predictions.sql").write_text(PREDICTIONS)
    result = toolkit(iris_project, "build")
    assert result.exit_code == 0, result.output
    warehouse = iris_project / "warehouse.duckdb"
    (message,) = query(warehouse, "SELECT message FROM _toolkit.run_results WHERE node = 'iris_model'")[0]
    assert "SQL" in message and "KB, checked on 150 rows" in message
    via_macro = query(warehouse, "SELECT predicted_species, count(*) FROM iris_model_predict(iris_features) "
                                 "GROUP BY ALL ORDER BY ALL")
    via_build = query(warehouse, "SELECT predicted_species, count(*) FROM iris_predictions GROUP BY ALL ORDER BY ALL")
    assert via_macro == via_build and sum(n for _, n in via_build) == 150

    models = toolkit(iris_project, "models", "--output", "json")
    assert '"prediction": "SQL"' in models.output
    printed = toolkit(iris_project, "compile", "--model", "iris_model", "--dialect", "snowflake", "--input", "db.iris")
    assert printed.exit_code == 0
    assert "FROM db.iris AS" in printed.output and "predicted_species_probs" in printed.output
    unknown = toolkit(iris_project, "compile", "--model", "iris_modle")
    assert unknown.exit_code == 2 and "did you mean" in unknown.output.lower()


def test_a_model_whose_check_fails_warns_and_predicts_in_python(iris_project, toolkit, monkeypatch):
    from tests.conftest import query

    def wrong(model, table, **kwargs):  # scikit-learn "disagrees": every probability off by 1e-6
        out = predict(model, table, **kwargs)
        probs = out.column(1).combine_chunks()
        shifted = pa.StructArray.from_arrays([probs.values.field(0), pa.compute.add(probs.values.field(1), 1e-6)],
                                             names=["label", "prob"])
        return out.set_column(1, out.column_names[1], pa.ListArray.from_arrays(probs.offsets, shifted))

    monkeypatch.setattr(parity_module, "predict", wrong)
    (iris_project / "models" / "iris_predictions.sql").write_text(PREDICTIONS)
    result = toolkit(iris_project, "build")
    assert result.exit_code == 0, result.output
    warehouse = iris_project / "warehouse.duckdb"
    status, message = query(warehouse, "SELECT status, message FROM _toolkit.run_results "
                                       "WHERE node = 'iris_model'")[0]
    assert status == "warn" and "predicts in Python: its SQL differs from scikit-learn" in message
    assert query(warehouse, "SELECT count(*) FROM iris_predictions") == [(150,)]  # built on the Python path
    assert query(warehouse, "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'iris_model_predict'") \
        == [(0,)]


def test_large_tree_ensembles_keep_the_python_path_in_ml_predict(con, models, monkeypatch):
    from toolkit.ml.compile import prediction

    training = models["boosted_binary"]
    assert training.compiled.tree_nodes > 20 and training.compiled.used_by_predict
    monkeypatch.setattr(prediction, "MAX_TREE_NODES_IN_PREDICT", 20)
    assert not training.compiled.used_by_predict
    assert training.compiled.path.startswith("Python, faster on")
    assert "ML.PREDICT runs scikit-learn" in training.compiled.summary()
    save_model(con, training)
    ran_sql = []
    monkeypatch.setattr(prediction.CompiledPrediction, "query_for", lambda *args: ran_sql.append(args))
    statement = sqlglot.parse_one("SELECT * FROM ML.PREDICT(MODEL boosted_binary, TABLE new_rows)", read=DIALECT)
    with applied_ml_calls(con, statement) as applied:
        rows = con.sql(applied.sql).to_arrow_table()
    assert not ran_sql and rows.num_rows == 4
    assert con.sql("SELECT count(*) FROM boosted_binary_predict(new_rows)").fetchall() == [(4,)]  # the macro stays
