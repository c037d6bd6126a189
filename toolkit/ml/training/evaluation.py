"""The metrics recorded when training ends (ML.EVALUATE without input reads them): the task's metrics of the
fitted model on the eval split (the training rows without one), and on the test split when there is one. The
task object (`toolkit.ml.inference.heads`) computes them, as it does for ML.EVALUATE on input rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from toolkit.ml import metrics
from toolkit.ml.inference.heads import head

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel


def evaluate(trained: TrainedModel, X: np.ndarray, y: np.ndarray | None) -> metrics.Metrics:
    """BigQuery's evaluation metrics of the model on encoded rows."""
    return head(trained).evaluate(trained, X, y)
