"""Tasks and estimator families, and what differs by task: the label, the metric names, the threshold rule.

`Task` and `Family` are string enums whose values are the ones written to the model store ("regression",
"boosted_tree", …), so stored models load unchanged. A `TaskSpec` holds the pure numpy/pyarrow rules of one task;
the metric computation itself lives in `toolkit.ml.metrics`, a layer above this one (it imports scikit-learn's
metrics), and reads the threshold rule from here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pyarrow as pa

DEFAULT_THRESHOLD = 0.5  # a binary classifier predicts the positive class above it


class Task(StrEnum):
    REGRESSION = "regression"
    CLASSIFICATION = "classification"
    CLUSTERING = "clustering"
    DECOMPOSITION = "decomposition"
    TRANSFORM = "transform"  # MODEL_TYPE = 'TRANSFORM_ONLY': TRANSFORM's statistics, no estimator


class Family(StrEnum):
    """The estimator family: the name of its factory in `estimators.py`."""

    LINEAR_REG = "linear_reg"
    LOGISTIC_REG = "logistic_reg"
    BOOSTED_TREE = "boosted_tree"
    RANDOM_FOREST = "random_forest"
    DNN = "dnn"
    KMEANS = "kmeans"
    PCA = "pca"
    TRANSFORM_ONLY = "transform_only"


@dataclass(frozen=True)
class TaskSpec:
    """What one task decides: whether a label is trained on, and the metric names ML.EVALUATE returns."""

    task: Task
    has_label: bool
    metric_names: tuple[str, ...]  # ML.EVALUATE's columns, in order

    @property
    def is_classification(self) -> bool:
        return self.task is Task.CLASSIFICATION


TASKS: dict[Task, TaskSpec] = {spec.task: spec for spec in [
    TaskSpec(Task.REGRESSION, True, ("mean_absolute_error", "mean_squared_error", "mean_squared_log_error",
                                     "median_absolute_error", "r2_score", "explained_variance")),
    TaskSpec(Task.CLASSIFICATION, True, ("precision", "recall", "accuracy", "f1_score", "log_loss", "roc_auc")),
    TaskSpec(Task.CLUSTERING, False, ("davies_bouldin_index", "mean_squared_distance")),
    TaskSpec(Task.DECOMPOSITION, False, ("total_explained_variance_ratio",)),
    TaskSpec(Task.TRANSFORM, False, ()),
]}

# The metrics that summarise a model in one line, in order of preference.
HEADLINE_METRICS = ("roc_auc", "accuracy", "r2_score", "mean_absolute_error", "davies_bouldin_index",
                    "total_explained_variance_ratio")


def chosen_classes(proba: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Class index of each row (rows × classes, ascending): binary, the positive (higher) class when its
    probability exceeds the threshold (default 0.5); multiclass, the most probable class."""
    if proba.shape[1] == 2:
        return (proba[:, 1] > (DEFAULT_THRESHOLD if threshold is None else threshold)).astype(np.int64)
    return np.argmax(proba, axis=1)


def label_arrow_type(label_type: str | None) -> pa.DataType:
    """The Arrow type of a label stored by its alias ('int64', 'string', …); DOUBLE when there is none."""
    return pa.type_for_alias(label_type) if label_type else pa.float64()
