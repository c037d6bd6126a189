"""The toolkit's own tuning objective TOOLKIT_EXPECTED_COST (not a BigQuery ML objective): a binary classifier's
minimum expected cost per unit on the eval split.

CREATE MODEL … OPTIONS(HPARAM_TUNING_OBJECTIVES = ['TOOLKIT_EXPECTED_COST'], TOOLKIT_FALSE_NEGATIVE_COST = 5,
TOOLKIT_FALSE_POSITIVE_COST = 1): each trial's objective is the expected cost per unit,
(false_negative_cost × false negatives + false_positive_cost × false positives) / rows, at that trial's
cost-optimal threshold — the computation of the cost_optimal_threshold macro (macros/costs.sql) over ML.ROC_CURVE:
the ROC curve's thresholds of the eval split's scores, a row positive when the probability of the positive
(higher) class is above the threshold, the lowest threshold of least cost. The optimal trial is the cheapest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from toolkit.errors import ModelError
from toolkit.ml.metrics import roc_counts, roc_thresholds
from toolkit.ml.model import TrainedModel
from toolkit.ml.types.hparams import EXPECTED_COST, FALSE_NEGATIVE_COST, FALSE_POSITIVE_COST
from toolkit.ml.types.options import ModelOptions


def minimum_expected_cost(y: np.ndarray, score: np.ndarray, false_negative_cost: float,
                          false_positive_cost: float) -> tuple[float, float]:
    """(least expected cost per unit, its threshold) over ML.ROC_CURVE's thresholds of `score`, the positive class's
    probability, for class indices `y` (1 positive); the lowest threshold of least cost on ties."""
    thresholds = roc_thresholds(score)
    positive = np.asarray(y) == 1
    tp, fp = roc_counts(positive, score, thresholds)
    cost = (false_negative_cost * (positive.sum() - tp) + false_positive_cost * fp) / len(score)
    best = int(np.argmin(cost))  # thresholds ascend: the first least cost is at the lowest threshold
    return float(cost[best]), float(thresholds[best])


def check_binary(options: ModelOptions, classes: Sequence[Any] | None) -> None:
    """TOOLKIT_EXPECTED_COST weighs false negatives and false positives: it needs a label of two classes."""
    if options["HPARAM_TUNING_OBJECTIVES"][0] != EXPECTED_COST or len(classes or ()) == 2:
        return
    shown = ", ".join(map(str, list(classes or ())[:10]))
    raise ModelError(f"model {options.model}: HPARAM_TUNING_OBJECTIVES = ['{EXPECTED_COST}'] needs a binary "
                     f"classifier, and the label has {len(classes or ())} classes ({shown})",
                     hint="tune towards another objective (e.g. LOG_LOSS) and decide by a cost matrix with the "
                          "cost_matrix_decisions macro, or train one model per class (label = 'x')")


def expected_cost_of(options: ModelOptions, model: TrainedModel) -> float | None:
    """A trial's objective: its minimum expected cost per unit on the eval split (the rows its metrics were
    computed on)."""
    scores = model.eval_scores
    if scores is None or not len(scores["y"]):
        return None
    cost, _ = minimum_expected_cost(scores["y"], scores["proba"][:, 1], options[FALSE_NEGATIVE_COST],
                                    options[FALSE_POSITIVE_COST])
    return cost
