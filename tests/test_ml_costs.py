"""Decisions by cost: the cost_optimal_threshold and cost_report macros over ML.ROC_CURVE, checked against
scikit-learn's TunedThresholdClassifierCV with the same cost scorer on the same eval rows and thresholds."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import invoke, query, write_files
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.metrics import confusion_matrix, make_scorer
from sklearn.model_selection import TunedThresholdClassifierCV

from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.ml.store.versions import load_model, with_eval_scores
from toolkit.sql.quoting import parse

PYPROJECT = '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["cases"]\n'
MODEL = """\
CREATE OR REPLACE MODEL risk
OPTIONS (model_type = 'logistic_reg', input_label_cols = ['label'], data_split_method = 'random',
         data_split_eval_fraction = 0.4)
AS SELECT * FROM {{ source('raw', 'cases') }}
"""
PREDICTIONS = """\
SELECT * FROM ML.PREDICT(MODEL {{ ref('risk') }}, (SELECT * FROM {{ source('raw', 'cases') }}),
    STRUCT({{ cost_optimal_threshold(ref('risk'), false_negative_cost=5, false_positive_cost=1) }} AS threshold))
"""
REPORT = "{{ cost_report(ref('risk'), false_negative_cost=5, false_positive_cost=1) }}\n"


class _Scored(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose probabilities are the stored eval-split scores, looked up by row number."""

    def __init__(self, proba):
        self.proba = proba
        self.classes_ = np.array([0, 1])

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        return self.proba[np.asarray(X, dtype=np.int64).ravel()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    folder = write_files(tmp_path_factory.mktemp("costs"), {
        "pyproject.toml": PYPROJECT, "models/risk.sql": MODEL, "models/risk_decisions.sql": PREDICTIONS,
        "models/risk_costs.sql": REPORT})
    X, y = make_classification(n_samples=400, n_features=4, n_informative=2, n_redundant=0, flip_y=0.2,
                               weights=[0.7], random_state=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(label=np.where(y == 1, "yes", "no"))
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.register("frame", frame)
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.cases AS SELECT * FROM frame")
    con.close()
    result = invoke(folder, "build")
    assert result.exit_code == 0, result.output
    return folder


def test_cost_optimal_threshold_matches_tuned_threshold_classifier(built):
    warehouse = built / "warehouse.duckdb"
    report = {r[0]: r[1:] for r in query(warehouse, "SELECT * FROM risk_costs")}
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the eval split's stored scores, and its ROC curve
        scores = with_eval_scores(con, load_model(con, "risk")).eval_scores
        with applied_ml_calls(con, parse("SELECT threshold FROM ML.ROC_CURVE(MODEL risk)")) as applied:
            thresholds = np.array([r[0] for r in con.sql(applied.sql).fetchall()])
    proba, y = scores["proba"], scores["y"]

    def cost(y_true, y_pred):
        tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
        return (5 * fn + 1 * fp) / len(y_true)

    # ML.ROC_CURVE counts a row positive above the threshold, scikit-learn at or above it: the next float up
    # makes the two agree. Ascending, as scikit-learn takes them: its first best is the lowest, as the macro's.
    candidates = np.nextafter(np.sort(thresholds), np.inf)
    tuned = TunedThresholdClassifierCV(_Scored(proba), scoring=make_scorer(cost, greater_is_better=False),
                                       thresholds=candidates, cv="prefit", refit=False)
    tuned.fit(np.arange(len(y)).reshape(-1, 1), y)
    threshold, precision, recall, expected = report["cost_optimal"]
    assert np.nextafter(threshold, np.inf) == tuned.best_threshold_
    assert expected == pytest.approx(-tuned.best_score_, rel=1e-12)
    positive = proba[:, 1] > threshold
    assert precision == pytest.approx((positive & (y == 1)).sum() / positive.sum())
    assert recall == pytest.approx((positive & (y == 1)).sum() / (y == 1).sum())
    at_half = proba[:, 1] > 0.5
    assert report["default_0.5"][0] == 0.5
    assert report["default_0.5"][3] == pytest.approx(cost(y, at_half.astype(int)), rel=1e-12)
    assert expected <= report["default_0.5"][3]
    assert threshold < 0.5  # false negatives cost 5 times more: more rows are called positive


def test_predict_takes_the_threshold_subquery(built):
    warehouse = built / "warehouse.duckdb"
    threshold = query(warehouse, "SELECT threshold FROM risk_costs WHERE decision = 'cost_optimal'")[0][0]
    rows = query(warehouse, "SELECT predicted_label, predicted_label_probs FROM risk_decisions")
    yes = [next(p["prob"] for p in probs if p["label"] == "yes") for _, probs in rows]
    assert [label for label, _ in rows] == ["yes" if p > threshold else "no" for p in yes]
    assert sum(label == "yes" for label, _ in rows) > sum(p > 0.5 for p in yes)


@pytest.mark.parametrize(("arguments", "message"), [
    ("false_negative_cost=-1", "false_negative_cost=-1: a cost is a number of 0 or more"),
    ("false_negative_cost=0, false_positive_cost=0", "are both 0"),
    ("false_positive_cost='a'", "false_positive_cost=a: a cost is a number"),
])
def test_bad_costs_name_the_argument(project, toolkit, arguments, message):
    folder = project({"pyproject.toml": PYPROJECT,
                      "models/bad.sql": f"SELECT {{{{ cost_optimal_threshold('risk', {arguments}) }}}} AS t\n"})
    result = toolkit(folder, "compile")
    assert result.exit_code != 0 and message in result.output, result.output
