"""Hyperparameter tuning (NUM_TRIALS, HPARAM_RANGE, HPARAM_CANDIDATES), ML.TRIAL_INFO and trial_id.

BigQuery's rules: https://cloud.google.com/bigquery/docs/hp-tuning-overview and
https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-trial-info. The oracle for each
trial is the same model trained on its own with the trial's hyperparameters as plain options."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from sklearn.datasets import make_classification

from toolkit.errors import ConfigError, ModelError
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.store.versions import save_model
from toolkit.ml.training.train import train_model
from toolkit.ml.types.registry import validate_options
from toolkit.progress import reporting
from toolkit.sql.create_model import HparamCandidates, HparamRange, read_create_model
from toolkit.sql.dialect import DIALECT
from toolkit.warehouse.farmhash import register_farm_fingerprint

QUERY = "SELECT * FROM rows2"


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    register_farm_fingerprint(con)
    X, y = make_classification(n_samples=600, n_features=4, n_informative=3, n_redundant=0, flip_y=0.1,
                               random_state=7)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(label=np.where(y == 1, "yes", "no"))
    con.register("frame", frame)
    con.execute("CREATE TABLE rows2 AS SELECT * FROM frame")
    con.execute("CREATE TABLE small AS SELECT i::DOUBLE AS x, (i * 7 % 5)::DOUBLE AS z FROM range(30) r(i)")
    return con


def q(con, sql: str) -> list[tuple]:
    with applied_ml_calls(con, sqlglot.parse_one(sql, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).fetchall()


def error(**options) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_options("m", options)
    return caught.value.message + " | " + (caught.value.hint or "")


def test_hparam_functions_parse_in_options():
    sql = ("CREATE MODEL m OPTIONS(model_type = 'dnn_classifier', num_trials = 3, l2_reg = HPARAM_RANGE(0, 1), "
           "hidden_units = HPARAM_CANDIDATES([STRUCT([16, 8]), STRUCT([4])]), "
           "optimizer = HPARAM_CANDIDATES(['adam', 'sgd'])) AS SELECT 1 AS label")
    options = read_create_model(sqlglot.parse_one(sql, dialect=DIALECT)).options
    assert options["l2_reg"] == HparamRange(0, 1)
    assert options["hidden_units"] == HparamCandidates(([16, 8], [4]))
    space = validate_options("m", options).search_space
    assert space["HIDDEN_UNITS"] == {"candidates": [(16, 8), (4,)]}
    assert space["OPTIMIZER"] == {"candidates": ["ADAM", "SGD"]}
    assert space["L2_REG"] == {"range": [0.0, 1.0], "integer": False, "log": True}


def test_default_search_space_and_objective():
    options = validate_options("m", {"model_type": "logistic_reg", "num_trials": 2})
    assert set(options.search_space) == {"L1_REG", "L2_REG"}  # BigQuery's default space for LOGISTIC_REG
    assert options["HPARAM_TUNING_OBJECTIVES"] == ("ROC_AUC",)
    assert validate_options("m", {"model_type": "kmeans", "num_trials": 2})["HPARAM_TUNING_OBJECTIVES"] == (
        "DAVIES_BOULDIN_INDEX",)
    assert validate_options("m", {"model_type": "linear_reg", "num_trials": 2})["HPARAM_TUNING_OBJECTIVES"] == (
        "R2_SCORE",)


def test_bad_tuning_options_name_the_option():
    assert "MAX_ITERATIONS is not a hyperparameter LINEAR_REG can tune" in error(
        model_type="linear_reg", num_trials=2, max_iterations=HparamRange(1, 5))
    assert "must lie in [1, 20]" in error(model_type="boosted_tree_regressor", num_trials=2,
                                          max_tree_depth=HparamRange(1, 30))
    assert "L2_REG's range must lie in [0, inf]" in error(model_type="linear_reg", num_trials=2,
                                                          l2_reg=HparamRange(-1, 2))
    assert "candidate 'ADAM'" in error(model_type="kmeans", num_trials=2, num_clusters=HparamCandidates((2, "ADAM")))
    assert "NUM_TRIALS = 101 is not valid; it accepts an integer in [1, 100]" in error(
        model_type="linear_reg", num_trials=101)
    assert "MAX_PARALLEL_TRIALS = 6 is not valid" in error(model_type="linear_reg", num_trials=10,
                                                           max_parallel_trials=6)
    message = error(model_type="linear_reg", num_trials=2, hparam_tuning_objectives=["roc_auc"])
    assert "does not fit LINEAR_REG" in message and "R2_SCORE" in message
    assert "needs NUM_TRIALS" in error(model_type="linear_reg", l2_reg=HparamRange(0, 1))
    assert "needs NUM_TRIALS" in error(model_type="linear_reg", max_parallel_trials=2)
    assert "GRID_SEARCH" in error(model_type="linear_reg", num_trials=2, hparam_tuning_algorithm="grid_search",
                                  l2_reg=HparamRange(0, 1))
    assert "cannot be tuned by the toolkit" in error(model_type="boosted_tree_classifier", num_trials=2,
                                                     min_split_loss=HparamRange(0, 2))
    assert "applies to" in error(model_type="pca", num_trials=2, num_principal_components=2)


def test_grid_trials_match_models_trained_on_their_own(con):
    """Each trial's objective is what the same model, trained alone with the trial's L2_REG, scores on the eval
    split; the optimal trial is the best of them."""
    candidates = (0.01, 1.0, 30.0)
    options = {"model_type": "logistic_reg", "num_trials": 3, "hparam_tuning_algorithm": "grid_search",
               "l2_reg": HparamCandidates(candidates), "hparam_tuning_objectives": ["log_loss"]}
    training = train_model(con, name="grid", options=options, query=QUERY)
    assert [t.hyperparameters for t in training.trials] == [{"L2_REG": c} for c in candidates]
    assert training.model.split["method"] == "RANDOM" and training.model.split["test_rows"] > 0  # 80/10/10
    for trial, l2 in zip(training.trials, candidates):
        alone = train_model(con, name="grid", options={"model_type": "logistic_reg", "l2_reg": l2,
                                                       "data_split_method": "random",
                                                       "data_split_eval_fraction": 0.1,
                                                       "data_split_test_fraction": 0.1}, query=QUERY).model
        assert trial.status == "SUCCEEDED"
        assert trial.evaluation_metrics["log_loss"] == pytest.approx(alone.metrics["log_loss"], rel=1e-9)
    best = min(training.trials, key=lambda t: t.evaluation_metrics["log_loss"])
    assert [t.is_optimal for t in training.trials] == [t is best for t in training.trials]
    assert training.model.options["L2_REG"] == best.hyperparameters["L2_REG"]


def test_search_is_reproducible_and_parallel_trials_agree(con):
    options = {"model_type": "boosted_tree_classifier", "num_trials": 4, "max_parallel_trials": 2,
               "max_iterations": 5}
    first = train_model(con, name="tuned", options=options, query=QUERY).trials
    second = train_model(con, name="tuned", options=options, query=QUERY).trials
    assert [t.hyperparameters for t in first] == [t.hyperparameters for t in second]
    assert [t.evaluation_metrics for t in first] == [t.evaluation_metrics for t in second]
    assert len({repr(t.hyperparameters) for t in first}) == 4
    other = train_model(con, name="another", options=options, query=QUERY).trials  # another model, another seed
    assert [t.hyperparameters for t in other] != [t.hyperparameters for t in first]


def test_a_failing_trial_is_recorded_and_the_others_go_on(con):
    options = {"model_type": "kmeans", "num_trials": 3, "hparam_tuning_algorithm": "grid_search",
               "num_clusters": HparamCandidates((2, 40, 3))}  # 40 clusters of 30 rows cannot be fitted
    steps = []
    with reporting(steps.append):
        training = train_model(con, name="clusters", options=options, query="SELECT * FROM small")
    assert [(s.done, s.total) for s in steps if s.unit == "trials"] == [(1, 3), (2, 3), (3, 3)]  # the failed one too
    trials = training.trials
    assert [t.status for t in trials] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert "40" in trials[1].error_message
    assert sum(t.is_optimal for t in trials) == 1 and not trials[1].is_optimal
    save_model(con, training)
    assert q(con, "SELECT status, error_message IS NOT NULL FROM ML.TRIAL_INFO(MODEL clusters)") == [
        ("SUCCEEDED", False), ("FAILED", True), ("SUCCEEDED", False)]
    for trial in (1, 3):  # each trial's own centroids, and its own anomaly record
        k = trials[trial - 1].hyperparameters["NUM_CLUSTERS"]
        assert q(con, f"SELECT max(centroid_id) FROM ML.PREDICT(MODEL clusters, TABLE small, "
                      f"STRUCT({trial} AS trial_id))") == [(k,)]
        assert len(q(con, "SELECT * FROM ML.DETECT_ANOMALIES(MODEL clusters, STRUCT(0.1 AS contamination, "
                          f"{trial} AS trial_id), TABLE small)")) == 30
    with pytest.raises(ModelError, match="trial 2 FAILED"):
        q(con, "SELECT * FROM ML.PREDICT(MODEL clusters, TABLE small, STRUCT(2 AS trial_id))")


def test_trial_info_and_trial_id_through_the_store(con):
    options = {"model_type": "logistic_reg", "num_trials": 2, "hparam_tuning_algorithm": "grid_search",
               "l2_reg": HparamCandidates((0.001, 50.0))}
    training = train_model(con, name="stored", options=options, query=QUERY)
    save_model(con, training)
    info = q(con, "SELECT trial_id, hyperparameters.l2_reg, hparam_tuning_evaluation_metrics.roc_auc, status, "
                  "error_message, is_optimal, training_loss IS NOT NULL FROM ML.TRIAL_INFO(MODEL stored)")
    assert [r[:2] for r in info] == [(1, 0.001), (2, 50.0)]
    for row, trial in zip(info, training.trials):
        assert row[2:6] == (trial.evaluation_metrics["roc_auc"], "SUCCEEDED", None, trial.is_optimal)
    other = next(t for t in training.trials if not t.is_optimal)
    alone = train_model(con, name="alone", options={"model_type": "logistic_reg", "l2_reg": other.hyperparameters[
        "L2_REG"], "data_split_method": "random", "data_split_eval_fraction": 0.1, "data_split_test_fraction": 0.1},
        query=QUERY)
    save_model(con, alone)
    alone = alone.model
    # trial_id picks the trial's own model: its predictions, row by row, and its test-split metrics
    predict = ("SELECT a, predicted_label, predicted_label_probs[2].prob FROM ML.PREDICT(MODEL {}, ({}){}) "
               "ORDER BY a")
    trial = q(con, predict.format("stored", QUERY, f", STRUCT({other.trial_id} AS trial_id)"))
    expected = q(con, predict.format("alone", QUERY, ""))  # compiled SQL: equal to the last bits or so
    assert [r[:2] for r in trial] == [r[:2] for r in expected]
    assert [r[2] for r in trial] == pytest.approx([r[2] for r in expected], rel=1e-12, abs=1e-15)
    optimal = q(con, predict.format("stored", QUERY, ""))
    assert max(abs(a[2] - b[2]) for a, b in zip(trial, optimal)) > 1e-3
    explain = "SELECT prediction_value FROM ML.EXPLAIN_PREDICT(MODEL {}, ({}){}) ORDER BY a"
    explained = q(con, explain.format("stored", QUERY, f", STRUCT({other.trial_id} AS trial_id)"))
    assert [r[0] for r in explained] == pytest.approx([r[0] for r in q(con, explain.format("alone", QUERY, ""))])
    evaluated = q(con, f"SELECT roc_auc, log_loss FROM ML.EVALUATE(MODEL stored, STRUCT({other.trial_id} AS trial_id))")
    assert evaluated[0] == pytest.approx((alone.test_metrics["roc_auc"], alone.test_metrics["log_loss"]))
    optimal = q(con, "SELECT roc_auc, log_loss FROM ML.EVALUATE(MODEL stored)")  # the test split, as in BigQuery
    assert optimal[0] == pytest.approx((training.model.test_metrics["roc_auc"], training.model.test_metrics["log_loss"]))
    with pytest.raises(ModelError, match="has no trial 3; its trials are 1 to 2"):
        q(con, "SELECT * FROM ML.EVALUATE(MODEL stored, STRUCT(3 AS trial_id))")


def test_global_explain_is_the_optimal_trials(con):
    options = {"model_type": "logistic_reg", "num_trials": 2, "hparam_tuning_algorithm": "grid_search",
               "l2_reg": HparamCandidates((0.001, 50.0)), "enable_global_explain": True}
    training = train_model(con, name="explained", options=options, query=QUERY)
    save_model(con, training)
    optimal = next(t.trial_id for t in training.trials if t.is_optimal)
    other = next(t.trial_id for t in training.trials if not t.is_optimal)
    explained = q(con, "SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL explained)")
    assert q(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL explained, STRUCT({optimal} AS trial_id))") == explained
    # another trial's explanation was never computed: an error, not the optimal trial's numbers under its id
    with pytest.raises(ModelError, match=f"global explanation of the optimal trial only, not of trial {other}"):
        q(con, f"SELECT * FROM ML.GLOBAL_EXPLAIN(MODEL explained, STRUCT({other} AS trial_id))")


def test_models_without_tuning_have_no_trials(con):
    save_model(con, train_model(con, name="plain", options={"model_type": "logistic_reg"}, query=QUERY))
    with pytest.raises(ModelError, match="trained without hyperparameter tuning"):
        q(con, "SELECT * FROM ML.TRIAL_INFO(MODEL plain)")
    with pytest.raises(ModelError, match="trained without hyperparameter tuning"):
        q(con, f"SELECT * FROM ML.PREDICT(MODEL plain, ({QUERY}), STRUCT(1 AS trial_id))")


def test_stored_trials_are_the_same_bytes_build_after_build(con):
    """A rebuild stores the same trial rows, bit for bit (artifacts, eval scores, anomaly records)."""
    options = {"model_type": "kmeans", "num_trials": 2, "hparam_tuning_algorithm": "grid_search",
               "num_clusters": HparamCandidates((2, 3))}
    stored = []
    for _ in range(2):
        target = duckdb.connect()
        target.execute("CREATE TABLE small AS SELECT * FROM (VALUES (1.0, 2.0), (2.0, 1.0), (5.0, 5.0), (6.0, 5.5), "
                       "(9.0, 1.0), (9.5, 1.5)) AS v(x, z)")
        save_model(target, train_model(target, name="again", options=options, query="SELECT * FROM small"))
        stored.append(target.execute("SELECT * FROM _toolkit.model_trials ORDER BY trial_id").fetchall())
    assert stored[0] == stored[1] and len(stored[0]) == 2
    assert next(row for row in stored[0] if not row[9])[-1] is not None  # the other trial keeps its anomaly record


def test_more_bad_tuning_input_names_the_option_and_what_it_accepts(con):
    assert "MAX_TREE_DEPTH = HPARAM_CANDIDATES([]) has no candidates" in error(
        model_type="boosted_tree_classifier", num_trials=2, max_tree_depth=HparamCandidates(()))
    assert "L2_REG = HPARAM_CANDIDATES([…]) lists 0.1 more than once" in error(
        model_type="logistic_reg", num_trials=2, l2_reg=HparamCandidates((0.1, 1.0, 0.1)))
    assert "BOOSTER_TYPE takes HPARAM_CANDIDATES([…]), not HPARAM_RANGE" in error(
        model_type="boosted_tree_classifier", num_trials=2, booster_type=HparamRange(1, 2))
    assert "names 2 objectives" in error(model_type="logistic_reg", num_trials=2,
                                         hparam_tuning_objectives=["roc_auc", "log_loss"])
    assert "HPARAM_TUNING_ALGORITHM = 'bayes' is not valid; it accepts one of 'VIZIER_DEFAULT'" in error(
        model_type="logistic_reg", num_trials=2, hparam_tuning_algorithm="bayes")
    assert "NUM_TRIALS = 0 is not valid" in error(model_type="logistic_reg", num_trials=0)
    options = {"model_type": "logistic_reg", "num_trials": 2, "hparam_tuning_algorithm": "grid_search",
               "l2_reg": HparamCandidates((0.1, 1.0))}
    save_model(con, train_model(con, name="two_trials", options=options, query=QUERY))
    for setting, message in [("0 AS trial_id", r"trial_id = 0 is outside \[1, inf\)"),
                             ("'a' AS trial_id", "trial_id must be INT64, not 'a'"),
                             ("1.5 AS trial_id", "trial_id must be INT64, not 1.5"),
                             ("3 AS trial_id", "model two_trials version 1 has no trial 3; its trials are 1 to 2")]:
        with pytest.raises((ConfigError, ModelError), match=message):
            q(con, f"SELECT * FROM ML.ROC_CURVE(MODEL two_trials, STRUCT({setting}))")


def test_bad_tuning_input_in_a_build_names_the_file(project, toolkit):
    folder = project({
        "models/tuned.sql": "CREATE OR REPLACE MODEL tuned OPTIONS (model_type = 'logistic_reg', num_trials = 2, "
                            "hparam_tuning_algorithm = 'grid_search', l2_reg = HPARAM_CANDIDATES([0.1, 1.0])) AS "
                            "SELECT i % 7 AS x, i % 2 = 0 AS label FROM range(60) t(i)",
        "models/by_trial.sql": "SELECT * FROM ML.EVALUATE(MODEL {{ ref('tuned') }}, STRUCT(5 AS trial_id))"})
    result = toolkit(folder, "build")
    output = " ".join(result.output.split())
    assert result.exit_code != 0 and "Traceback" not in output
    assert "models/by_trial.sql" in output and "has no trial 5; its trials are 1 to 2" in output, output
    # the tuned model's line names the objective its optimal trial was chosen by
    assert re.search(r"tuned .*2 trials \(0 failed\), optimal trial [12] \(eval roc_auc 0?\.\d+\)", output), output
    (folder / "models/costly.sql").write_text(
        "CREATE OR REPLACE MODEL costly OPTIONS (model_type = 'logistic_reg', num_trials = 2, "
        "hparam_tuning_objectives = ['toolkit_expected_cost'], toolkit_false_negative_cost = -5, "
        "toolkit_false_positive_cost = 1) AS SELECT 1.0 AS x, TRUE AS label")
    result = toolkit(folder, "build")
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in output
    assert "models/costly.sql: model costly: option TOOLKIT_FALSE_NEGATIVE_COST = -5 is not valid; it accepts a " \
           "number in [0, inf]" in output, output
