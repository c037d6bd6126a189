"""The toolkit's tuning objective TOOLKIT_EXPECTED_COST: each trial's minimum expected cost per unit on the eval
split, checked against numpy over the trial's own predicted probabilities of the eval rows (ML.PREDICT with its
trial_id), and the optimal trial is the cheapest."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import sqlglot
from sklearn.datasets import load_iris, make_classification

from toolkit.errors import ConfigError, ModelError
from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.store.versions import save_model
from toolkit.ml.training.train import train_model
from toolkit.ml.types.registry import validate_options
from toolkit.sql.create_model import HparamCandidates
from toolkit.sql.dialect import DIALECT
from toolkit.warehouse.farmhash import register_farm_fingerprint

FN, FP = 5.0, 1.0
OPTIONS = {"model_type": "logistic_reg", "num_trials": 4, "hparam_tuning_algorithm": "grid_search",
           "l2_reg": HparamCandidates((0.001, 3.0, 30.0, 300.0)), "data_split_method": "custom",
           "data_split_col": "is_eval", "hparam_tuning_objectives": ["toolkit_expected_cost"],
           "toolkit_false_negative_cost": FN, "toolkit_false_positive_cost": FP}


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    register_farm_fingerprint(con)
    X, y = make_classification(n_samples=300, n_features=4, n_informative=2, n_redundant=0, flip_y=0.2,
                               weights=[0.7], random_state=11)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(
        label=np.where(y == 1, "yes", "no"), is_eval=np.arange(len(y)) % 4 == 0)  # 75 eval rows
    iris = load_iris(as_frame=True).frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    con.register("frame", frame)
    con.register("iris_frame", iris)
    con.execute("CREATE TABLE cases AS SELECT * FROM frame; CREATE TABLE iris AS SELECT * FROM iris_frame")
    return con


def q(con, sql: str) -> list[tuple]:
    with applied_ml_calls(con, sqlglot.parse_one(sql, dialect=DIALECT)) as applied:
        return con.sql(applied.sql).fetchall()


def brute_force_cost(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """The least (FN × false negatives + FP × false positives) / rows over the thresholds ML.ROC_CURVE takes (each
    distinct probability, fewer than 101 here), a row positive above the threshold; the lowest threshold on ties."""
    costs = [((FN * ((p <= t) & y).sum() + FP * ((p > t) & ~y).sum()) / len(y), t) for t in sorted(set(p))]
    return min(costs)


def test_each_trial_costs_what_numpy_computes_and_the_cheapest_is_optimal(con):
    training = train_model(con, name="risk", options=OPTIONS, query="SELECT * FROM cases")
    save_model(con, training)
    info = q(con, "SELECT trial_id, hparam_tuning_evaluation_metrics.toolkit_expected_cost, status, is_optimal "
                  "FROM ML.TRIAL_INFO(MODEL risk) ORDER BY trial_id")
    assert [r[2] for r in info] == ["SUCCEEDED"] * 4
    oracle = {}
    for trial_id, cost, _, _ in info:
        rows = q(con, "SELECT label, predicted_label_probs FROM ML.PREDICT(MODEL risk, (SELECT * FROM cases "
                      f"WHERE is_eval), STRUCT({trial_id} AS trial_id))")
        y = np.array([label == "yes" for label, _ in rows])
        p = np.array([next(c["prob"] for c in probs if c["label"] == "yes") for _, probs in rows])
        oracle[trial_id] = brute_force_cost(y, p)
        assert cost == pytest.approx(oracle[trial_id][0], rel=1e-12)
    assert len({round(c, 12) for c, _ in oracle.values()}) > 1  # the trials differ, so the choice means something
    cheapest = min(oracle, key=lambda t: (oracle[t][0], t))
    assert [r[3] for r in info] == [t == cheapest for t in oracle]
    assert training.model.options["L2_REG"] == OPTIONS["l2_reg"].values[cheapest - 1]
    # the cost_optimal_threshold macro's query over the tuned model: the optimal trial's threshold
    threshold = q(con, f"SELECT threshold FROM ML.ROC_CURVE(MODEL risk) ORDER BY ({FN} * false_negatives + {FP} * "
                       "false_positives) / (true_positives + false_positives + true_negatives + false_negatives), "
                       "threshold LIMIT 1")[0][0]
    assert threshold == pytest.approx(oracle[cheapest][1], rel=1e-12)


def error(**changes) -> str:
    options = {k: v for k, v in {**OPTIONS, **changes}.items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        validate_options("m", options)
    return caught.value.message + " | " + (caught.value.hint or "")


def test_bad_costs_name_the_option():
    assert "TOOLKIT_FALSE_NEGATIVE_COST = -1 is not valid; it accepts a number in [0, inf]" in error(
        toolkit_false_negative_cost=-1)
    assert "TOOLKIT_FALSE_POSITIVE_COST = 'a' is not valid" in error(toolkit_false_positive_cost="a")
    assert "are both 0" in error(toolkit_false_negative_cost=0, toolkit_false_positive_cost=0.0)
    assert "TOOLKIT_FALSE_POSITIVE_COST is not given" in error(toolkit_false_positive_cost=None)
    message = error(hparam_tuning_objectives=["log_loss"])
    assert "TOOLKIT_FALSE_NEGATIVE_COST is a cost of the tuning objective TOOLKIT_EXPECTED_COST" in message
    assert "needs NUM_TRIALS" in error(num_trials=None, hparam_tuning_algorithm=None, l2_reg=None,
                                       hparam_tuning_objectives=None)
    assert "applies to" in error(model_type="linear_reg")  # regression: no false negatives
    assert "does not fit LINEAR_REG" in error(model_type="linear_reg", toolkit_false_negative_cost=None,
                                             toolkit_false_positive_cost=None)


def test_a_multiclass_label_is_refused_before_any_trial(con):
    options = {**OPTIONS, "data_split_method": "random", "data_split_col": None}
    with pytest.raises(ModelError, match=r"needs a binary classifier, and the label has 3 classes \(0, 1, 2\)"):
        train_model(con, name="flowers", options={k: v for k, v in options.items() if v is not None},
                    query="SELECT sepal_length, petal_length, target AS label FROM iris")


def test_the_toolkit_options_are_refused_for_bigquery(project, toolkit):
    folder = project({
        "models/costly.sql": "CREATE OR REPLACE MODEL costly\nOPTIONS (model_type = 'logistic_reg', num_trials = 2,\n"
                             "  hparam_tuning_objectives = ['toolkit_expected_cost'],\n"
                             "  toolkit_false_negative_cost = 5, toolkit_false_positive_cost = 1)\n"
                             "AS SELECT 1.0 AS x, TRUE AS label",
        "models/streamed.sql": "CREATE OR REPLACE MODEL streamed OPTIONS (model_type = 'linear_reg', "
                               "toolkit_descent_chunk_rows = 0) AS SELECT 1.0 AS x, 2.0 AS label"})
    result = toolkit(folder, "compile", "--target", "bigquery")
    output = " ".join(result.output.split())
    assert result.exit_code == 2 and "Traceback" not in output
    for file, option in [("costly.sql, line 4", "TOOLKIT_FALSE_NEGATIVE_COST"),
                         ("costly.sql, line 4", "TOOLKIT_FALSE_POSITIVE_COST"),
                         ("streamed.sql, line 1", "TOOLKIT_DESCENT_CHUNK_ROWS")]:
        assert f"models/{file}: CREATE MODEL option {option} is the toolkit's own, not BigQuery ML's" in output, output
    assert "HPARAM_TUNING_OBJECTIVES = ['LOG_LOSS']" in output
