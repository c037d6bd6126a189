"""The repository's own example project builds from the committed example warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO, query, run_toolkit


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example project, built once for the module."""
    folder = tmp_path_factory.mktemp("example")
    for name in ("pyproject.toml", "warehouse.duckdb.example"):
        shutil.copy(REPO / name, folder / name)
    for name in ("models", "macros"):
        shutil.copytree(REPO / name, folder / name)
    result = run_toolkit(folder, "build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Created warehouse.duckdb from warehouse.duckdb.example" in result.stdout
    return folder / "warehouse.duckdb"


def test_example_warehouse_has_typed_raw_tables():
    rows = query(REPO / "warehouse.duckdb.example",
                 "select table_name, estimated_size from duckdb_tables() where schema_name = 'raw' order by 1")
    assert [name for name, _ in rows] == ["airlines", "airports", "flights", "planes", "weather"]
    types = dict(query(REPO / "warehouse.duckdb.example",
                       "select column_name, data_type from information_schema.columns "
                       "where table_schema = 'raw' and table_name = 'flights'"))
    assert types["time_hour"] == "TIMESTAMP" and types["arr_delay"] == "DOUBLE" and types["carrier"] == "VARCHAR"
    assert (REPO / "warehouse.duckdb.example").stat().st_size <= 15 * 1024 * 1024


def test_flight_features_has_one_row_per_flight(built):
    assert query(built, "select count(*), count(distinct flight_id) from flight_features") == [(336_776, 336_776)]
    assert query(built, "select count(*) from raw.flights") == [(336_776,)]


def test_flight_features_joins_weather_and_planes(built):
    (with_weather, with_plane, cancelled), = query(
        built, "select count(temp), count(seats), count(*) filter (where is_cancelled) from flight_features")
    assert with_weather > 330_000 and with_plane > 270_000 and cancelled == 8_255


def test_staging_models_are_views(built):
    kinds = dict(query(built, "select table_name, table_type from information_schema.tables where table_schema = 'main'"))
    assert kinds["flight_features"] == "BASE TABLE"
    assert {kinds[n] for n in ("stg_flights", "stg_weather", "stg_planes", "stg_airlines", "stg_airports")} == {"VIEW"}


def test_example_models_are_trained(built):
    models = dict(query(built, "select model_name, model_type from _toolkit.model_versions"))
    assert models == {"flight_delay": "LOGISTIC_REG", "arrival_delay": "BOOSTED_TREE_REGRESSOR",
                      "route_clusters": "KMEANS", "flight_delay_weather": "LOGISTIC_REG",
                      "flight_delay_tuned": "BOOSTED_TREE_CLASSIFIER"}
    metrics = dict(query(built, "select metric, value from _toolkit.model_eval_metrics "
                                "where model_name = 'flight_delay' and split = 'eval'"))
    assert 0.6 < metrics["roc_auc"] < 1 and metrics["accuracy"] > 0.7


def test_example_prediction_and_evaluation_tables(built):
    assert query(built, "select count(*) from flight_delay_predictions") == query(
        built, "select count(*) from flight_features where split = 'test' and is_delayed is not null")
    splits = dict(query(built, "select split, roc_auc from flight_delay_evaluation"))
    assert set(splits) == {"test", "eval"} and all(0.6 < auc < 1 for auc in splits.values())
    (mae,), = query(built, "select mean_absolute_error from arrival_delay_evaluation where split = 'test'")
    assert 0 < mae < 60
    assert query(built, "select count(distinct centroid_id) from route_cluster_assignments") == [(8,)]
    used = {model for model, in query(built, "select distinct model_name from _toolkit.model_usage")}
    assert used == {"flight_delay", "arrival_delay", "route_clusters", "flight_delay_weather", "flight_delay_tuned"}


def test_tuned_model_and_decisions_by_cost(built):
    trials = query(built, "select trial_id, hyperparameters::VARCHAR, status, is_optimal, hparam_tuning_evaluation_metrics "
                          "from _toolkit.model_trials where model_name = 'flight_delay_tuned' order by trial_id")
    assert [(t[0], t[2]) for t in trials] == [(1, "SUCCEEDED"), (2, "SUCCEEDED"), (3, "SUCCEEDED")]
    assert sum(t[3] for t in trials) == 1
    report = {r[0]: r[1:] for r in query(built, "select decision, threshold, expected_cost from flight_delay_costs")}
    assert report["default_0.5"][0] == 0.5 and report["cost_optimal"][0] < 0.5
    assert report["cost_optimal"][1] <= report["default_0.5"][1]
    (positive, total), = query(built, "select count(*) filter (where predicted_is_delayed), count(*) "
                                      "from flight_delay_decisions")
    assert total == query(built, "select count(*) from flight_features where split = 'test' and "
                                 "is_delayed is not null")[0][0]
    (above,), = query(built, "select count(*) filter (where list_filter(predicted_is_delayed_probs, lambda p: p.label)[1].prob "
                             f"> {report['cost_optimal'][0]!r}) from flight_delay_decisions")
    assert positive == above


def test_flight_delay_predicts_raw_rows_as_it_was_trained(built):
    """The Transform pattern: ML.PREDICT on raw flight rows equals the model applied to the TRANSFORM outputs."""
    import duckdb
    import sqlglot

    from toolkit.ml import load_model
    from toolkit.ml.features.transform import model_features
    from toolkit.ml.functions.apply import applied_ml_calls
    from toolkit.ml.inference.predict import encode
    from toolkit.sql.dialect import DIALECT
    from toolkit.warehouse.functions import register_functions

    con = duckdb.connect(str(built), read_only=True)
    register_functions(con)
    raw = "SELECT * FROM flight_training WHERE is_delayed IS NOT NULL ORDER BY ALL LIMIT 2000"
    probability = "SELECT list_filter(predicted_is_delayed_probs, p -> p.label)[1].prob FROM ML.PREDICT(MODEL flight_delay, ({raw}))"
    transformed = f"SELECT * FROM ML.TRANSFORM(MODEL flight_delay, ({raw}))"
    with applied_ml_calls(con, sqlglot.parse_one(probability.format(raw=raw), read=DIALECT)) as applied:
        served = [row[0] for row in con.execute(applied.sql).fetchall()]
    with applied_ml_calls(con, sqlglot.parse_one(transformed, read=DIALECT)) as applied:
        features = con.sql(applied.sql).to_arrow_table()
    model = load_model(con, "flight_delay")
    direct = model.estimator.predict_proba(encode(model, model_features(features, model.name)))[:, 1]
    con.close()
    assert len(served) == 2000
    assert max(abs(a - b) for a, b in zip(served, direct)) < 1e-9


def test_december_weather_skew_gate_warns_and_publishes(built):
    """The warn gate on December's predictions fires on temp alone; its value is scipy's Jensen–Shannon divergence
    between the training rows' 10-bucket temp histogram and December's over the same buckets (December's temps
    lie within January to November's)."""
    import numpy as np
    from scipy.spatial.distance import jensenshannon

    (status, failing, samples), = query(built, "select status, failing_rows, samples from _toolkit.assertion_results "
                                               "where node = 'december_delay_predictions'")
    assert (status, failing) == ("warn", 1)
    assert query(built, "select count(*) from december_delay_predictions") == query(
        built, "select count(*) from flight_features where month = 12 and is_delayed is not null")
    history = dict(query(built, "select input, value from _toolkit.monitoring_history where model_name = "
                                "'flight_delay_weather' and is_anomaly"))
    assert list(history) == ["temp"]
    train = np.array([t for t, in query(built, "select temp from flight_features where month <= 11 and split = "
                                               "'train' and is_delayed is not null and temp is not null")])
    december = np.array([t for t, in query(built, "select temp from flight_features where month = 12 and "
                                                  "is_delayed is not null and temp is not null")])
    assert train.min() <= december.min() and december.max() <= train.max()
    p, _ = np.histogram(train, 10, (train.min(), train.max()))
    q, _ = np.histogram(december, 10, (train.min(), train.max()))
    assert abs(history["temp"] - jensenshannon(p, q, base=2) ** 2) <= 1e-9 and history["temp"] > 0.2
