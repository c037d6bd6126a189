"""ML.FEATURE_INFO and ML.FEATURE_IMPORTANCE of models trained with TRANSFORM(…) describe the pre-transform input
columns, as BigQuery ML does:

- https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-feature — `input` is "the name of
  the column in the input training data"; min, max, mean, median, stddev are NULL for non-numeric inputs,
  category_count NULL for non-categorical ones, dimension NULL for columns that are not ARRAY<STRUCT>.
- https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-importance — "If the TRANSFORM
  clause was used in the CREATE MODEL statement that created the model, ML.FEATURE_IMPORTANCE returns the
  information of the pre-transform columns from the query_statement clause of the CREATE MODEL statement."

The oracles are pandas statistics of the raw training rows and scikit-learn's own tree nodes."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlglot
from ml_data import connect

from toolkit.errors import ModelError
from toolkit.ml import load_model, predict, save_model, train_model
from toolkit.ml.features.transform import FittedTransform
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.store.versions import S
from toolkit.sql.dialect import DIALECT

QUERY = "SELECT * FROM raw_rows"
TRANSFORM = ("ML.STANDARD_SCALER(num) OVER () AS num_z", "num * n2 AS product",
             "CASE WHEN cat = 'a' THEN 1 ELSE 0 END AS is_a", "EXTRACT(hour FROM ts) AS hour",
             "CAST(flag AS INTEGER) AS flag_i", "label")
OUTPUTS = ["num_z", "product", "is_a", "hour", "flag_i"]
READS = {"num_z": ["num"], "product": ["num", "n2"], "is_a": ["cat"], "hour": ["ts"], "flag_i": ["flag"]}
INPUTS = ["num", "n2", "cat", "ts", "flag"]  # in order of appearance in TRANSFORM; `ignored` is never read
SPLIT = {"data_split_method": "CUSTOM", "data_split_col": "is_eval"}
INFO_COLUMNS = ["input", "min", "max", "mean", "median", "stddev", "category_count", "null_count", "dimension"]


def _rows(n: int = 400) -> pa.Table:
    rng = np.random.default_rng(11)
    num = rng.normal(5.0, 2.0, n)
    num_missing = rng.random(n) < 0.1
    n2 = rng.integers(-3, 9, n)
    cat = rng.choice(["a", "b", "c", "d"], n)
    cat_missing = rng.random(n) < 0.05
    ts = np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 90 * 86400, n).astype("timedelta64[s]")
    flag = rng.random(n) < 0.3
    label = 2 * np.where(num_missing, 0, num) + n2 + 3 * (cat == "a") + rng.normal(0, 0.3, n)
    return pa.table({
        "num": pa.array(num, mask=num_missing), "n2": pa.array(n2, pa.int64()),
        "cat": pa.array(cat.tolist(), mask=cat_missing), "ts": pa.array(ts, pa.timestamp("us")),
        "flag": pa.array(flag, mask=rng.random(n) < 0.05), "ignored": rng.normal(0, 1, n),
        "is_eval": np.arange(n) % 5 == 0, "label": label,
    })


@pytest.fixture(scope="module")
def con():
    con = connect()
    con.register("raw_rows_df", _rows())
    con.execute("CREATE TABLE raw_rows AS SELECT * FROM raw_rows_df")
    con.unregister("raw_rows_df")
    return con


def train(con, name, model_type, **options):
    return train_model(con, name=name, options={"model_type": model_type, **SPLIT, **options}, query=QUERY,
                       transform=TRANSFORM)


@pytest.fixture(scope="module")
def boosted(con):
    training = train(con, "inputs_boosted", "BOOSTED_TREE_REGRESSOR", max_iterations=8, enable_global_explain=True)
    save_model(con, training)
    return training.model


def sql(con, text: str) -> pa.Table:
    with applied_ml_calls(con, sqlglot.parse_one(text, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).to_arrow_table()


def oracle_feature_info(con) -> list[dict]:
    """pandas' statistics of the raw columns over the training rows (not is_eval)."""
    frame = con.sql("SELECT * FROM raw_rows WHERE NOT is_eval").df()
    rows = []
    for column in INPUTS:
        values = frame[column]
        row = dict.fromkeys(INFO_COLUMNS)
        row.update(input=column, null_count=int(values.isna().sum()))
        if column in ("num", "n2", "ts"):
            x = values.dropna()
            x = (x - pd.Timestamp("1970-01-01")).dt.total_seconds() if column == "ts" else x.astype(float)
            row.update(min=x.min(), max=x.max(), mean=x.mean(), median=x.median(), stddev=x.std(ddof=1))
        else:
            row["category_count"] = int(values.dropna().nunique())
        rows.append(row)
    return rows


def assert_rows_match(got: list[dict], expected: list[dict]) -> None:
    assert [r["input"] for r in got] == [r["input"] for r in expected]
    for g, e in zip(got, expected):
        for key in INFO_COLUMNS:
            if e[key] is None or isinstance(e[key], str):
                assert g[key] == e[key], (e["input"], key)
            else:
                assert g[key] == pytest.approx(e[key], rel=1e-12), (e["input"], key)


def test_feature_info_lists_the_raw_input_columns_with_their_training_statistics(con, boosted):
    expected = oracle_feature_info(con)
    assert_rows_match(list(boosted.input_info), expected)
    out = sql(con, "SELECT * FROM ML.FEATURE_INFO(MODEL inputs_boosted)")  # read back from the store
    assert out.column_names == INFO_COLUMNS
    assert_rows_match(out.to_pylist(), expected)
    assert out.column("dimension").null_count == len(INPUTS)  # scalar inputs: NULL, as on BigQuery


def test_transform_outputs_statistics_are_kept_for_the_preprocessing(con, boosted):
    assert [r["input"] for r in boosted.feature_info] == OUTPUTS and set(boosted.data_stats) == set(OUTPUTS)
    loaded = load_model(con, "inputs_boosted")
    assert loaded.feature_info == boosted.feature_info and loaded.data_stats == boosted.data_stats
    assert loaded.input_info == boosted.input_info
    stored = con.execute(f"SELECT input, transformed, distribution IS NOT NULL FROM {S}.model_feature_info "
                         "WHERE model_name = 'inputs_boosted' ORDER BY rowid").fetchall()
    assert stored == [(o, True, True) for o in OUTPUTS] + [(i, False, False) for i in INPUTS]
    explained = sql(con, "SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL inputs_boosted)").column("feature").to_pylist()
    assert explained  # still answers from the outputs' statistics


def test_transform_only_model_describes_its_inputs(con):
    training = train_model(con, name="inputs_prep", options={"model_type": "TRANSFORM_ONLY"}, query=QUERY,
                           transform=("ML.STANDARD_SCALER(num) OVER () AS num_z", "[num, num] AS pair", "label"))
    save_model(con, training)
    out = sql(con, "SELECT input, mean, null_count FROM ML.FEATURE_INFO(MODEL inputs_prep)").to_pylist()
    frame = con.sql("SELECT num, label FROM raw_rows").df()  # TRANSFORM_ONLY fits on every row
    assert [r["input"] for r in out] == ["num", "label"]
    assert out[0]["mean"] == pytest.approx(frame["num"].mean(), rel=1e-12)
    assert out[0]["null_count"] == int(frame["num"].isna().sum())
    assert out[1]["mean"] == pytest.approx(frame["label"].mean(), rel=1e-12)


def _importance_oracle(trained) -> pd.DataFrame:
    """Per raw input: splits, gain and cover of the outputs reading it (each output's shared evenly among the
    inputs it reads), from scikit-learn's nodes; every output is numeric, so design column j is output j."""
    splits, gain, cover = (dict.fromkeys(INPUTS, 0.0) for _ in range(3))
    for iteration in trained.estimator._predictors:
        for predictor in iteration:
            for node in predictor.nodes[predictor.nodes["is_leaf"] == 0]:
                read = READS[OUTPUTS[node["feature_idx"]]]
                for column in read:
                    splits[column] += 1 / len(read)
                    gain[column] += node["gain"] / len(read)
                    cover[column] += node["count"] / len(read)
    return pd.DataFrame({"importance_weight": splits,
                         "importance_gain": {c: gain[c] / splits[c] if splits[c] else 0.0 for c in INPUTS},
                         "importance_cover": {c: cover[c] / splits[c] if splits[c] else 0.0 for c in INPUTS}})


def test_feature_importance_of_boosted_trees_is_per_raw_input_column(con, boosted):
    out = sql(con, "SELECT * FROM ML.FEATURE_IMPORTANCE(MODEL inputs_boosted)").to_pandas().set_index("feature")
    expected = _importance_oracle(boosted)
    assert list(out.index) == INPUTS
    for column in INPUTS:
        for key in expected.columns:
            assert out.loc[column, key] == pytest.approx(expected.loc[column, key], rel=1e-9, abs=1e-12), (column, key)
    total_splits = sum(int((p.nodes["is_leaf"] == 0).sum()) for it in boosted.estimator._predictors for p in it)
    assert out["importance_weight"].sum() == pytest.approx(total_splits)


def test_feature_importance_of_a_forest_is_per_raw_input_column(con):
    trained = train(con, "inputs_forest", "RANDOM_FOREST_REGRESSOR", num_parallel_tree=3).model
    out = sql_free_importance(trained)
    assert list(out["feature"]) == INPUTS
    total_splits = sum(int((member.tree_.feature >= 0).sum()) for member in trained.estimator.estimators_)
    assert out["importance_weight"].sum() == pytest.approx(total_splits)
    on_n2 = sum(((member.tree_.feature == OUTPUTS.index("product"))).sum() for member in trained.estimator.estimators_)
    assert out.set_index("feature").loc["n2", "importance_weight"] == pytest.approx(on_n2 / 2)  # n2 feeds product only


def sql_free_importance(trained) -> pd.DataFrame:
    from toolkit.ml.functions.inspect import feature_importance_run

    return feature_importance_run(trained, None, {}).to_pandas()


def test_inputs_read_follows_flattened_struct_outputs():
    fitted = FittedTransform((("poly", "struct_pack(a := x, b := x * y)"), ("z", "x + 1"), ("label", "label")),
                             ("x", "y"), passthrough=("label",))
    assert fitted.inputs_read("poly_b") == ["x", "y"] and fitted.inputs_read("poly_a") == ["x", "y"]
    assert fitted.inputs_read("z") == ["x"] and fitted.inputs_read("label") == []


def test_a_version_stored_before_input_statistics_still_loads(tmp_path):
    path = tmp_path / "old.duckdb"
    con = connect(path)
    con.register("raw_rows_df", _rows(120))
    con.execute("CREATE TABLE raw_rows AS SELECT * FROM raw_rows_df")
    save_model(con, train(con, "old_t", "LINEAR_REG"))
    save_model(con, train_model(con, name="old_plain", options={"model_type": "LINEAR_REG", **SPLIT},
                                query="SELECT num, n2, label, is_eval FROM raw_rows"))
    # the layout before the raw inputs' rows: no `transformed` column, the outputs' rows only
    con.execute(f"DELETE FROM {S}.model_feature_info WHERE transformed = FALSE AND model_name = 'old_t'")
    con.execute(f"ALTER TABLE {S}.model_feature_info DROP COLUMN transformed")
    con.close()
    reader = duckdb.connect(str(path), read_only=True)
    try:
        old = load_model(reader, "old_t")  # read-only and old: the model loads and predicts
        assert [r["input"] for r in old.feature_info] == OUTPUTS and old.input_info is None
        assert predict(old, reader.sql("SELECT * FROM raw_rows LIMIT 5").to_arrow_table()).num_rows == 5
        with pytest.raises(ModelError, match=r"ML.FEATURE_INFO with model old_t: version 1 was stored before") as e:
            sql(reader, "SELECT * FROM ML.FEATURE_INFO(MODEL old_t)")
        assert "retrain" in e.value.hint
        plain = sql(reader, "SELECT input FROM ML.FEATURE_INFO(MODEL old_plain)").column("input").to_pylist()
        assert plain == ["num", "n2"]  # without TRANSFORM the stored rows are the inputs
    finally:
        reader.close()
    con = connect(path)  # writable: the column comes back (NULL in the old rows); a new version has the inputs
    try:
        save_model(con, train(con, "old_t", "LINEAR_REG"))
        inputs = sql(con, "SELECT input FROM ML.FEATURE_INFO(MODEL old_t)").column("input").to_pylist()
        assert inputs == INPUTS
        assert load_model(con, "old_t", version=1).input_info is None
    finally:
        con.close()
