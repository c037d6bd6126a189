"""ML.EVALUATE, ML.CONFUSION_MATRIX and ML.ROC_CURVE over a model and (optionally) input rows.

Input rows stream in as Arrow record batches; only the label and the model's outputs for each row are kept
(class indices and probabilities, predictions, or each row's nearest centroid and distances), never the input.
Rows whose label is NULL cannot be scored and are left out; a label value the classifier never saw is an error.

- Without input, the three read the eval split (the training rows when there was none), as BigQuery documents
  (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-confusion): ML.EVALUATE returns
  the metrics recorded at training (binary classifiers at threshold 0.5); given a threshold, and for
  ML.CONFUSION_MATRIX and ML.ROC_CURVE, they read the labels and probabilities a classifier keeps of those rows
  (TrainedModel.eval_scores), the very values its input would give.
- ML.EVALUATE with input: the recorded metrics on those rows, with the threshold of the STRUCT for binary
  classifiers. KMEANS on input rows: mean_squared_distance as at training;
  davies_bouldin_index measures each cluster's scatter (mean distance of its rows) around the model's centroid,
  where the recorded value (scikit-learn's score) uses the mean of the cluster's rows — the two agree when k-means
  converged on those rows. PCA: the model's total_explained_variance_ratio (the input is checked, not needed).
- ML.CONFUSION_MATRIX: `expected_label` (the label's type) and one INT64 column per class, classes ascending,
  named as BigQuery names them: the label as text with characters other than letters, digits and '_' replaced by
  '_', and '_' in front when it would not start with a letter or '_' (labels 0 and 1 → `_0`, `_1`).
- ML.ROC_CURVE (binary classifiers): threshold, recall, false_positive_rate, true_positives, false_positives,
  true_negatives, false_negatives, thresholds ascending. A row is predicted positive when its probability of the
  positive (higher) class is above the threshold, as in ML.PREDICT, so each row equals ML.CONFUSION_MATRIX at
  that threshold. Thresholds: the `thresholds` setting if given, else the distinct predicted probabilities —
  at most 101 of them: the 0th, 1st, …, 100th percentiles (lower values) when there are more."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.ml.functions.support import (
    class_array,
    find_column,
    function_error,
    label_arrow_type,
    naming,
    setting_error,
    type_names,
)
from toolkit.ml.inference.heads import canonical, head
from toolkit.ml.inference.predict import design_matrix
from toolkit.ml.metrics import roc_counts, roc_thresholds
from toolkit.ml.training.labels import class_indices, class_text
from toolkit.ml.types.tasks import Task, chosen_classes

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

Batches = Iterable[pa.RecordBatch]


def is_binary(trained: TrainedModel) -> bool:
    return trained.model_type.task is Task.CLASSIFICATION and len(trained.classes or ()) == 2


def check_threshold(function: str, trained: TrainedModel, threshold: float | None) -> None:
    if threshold is not None and not is_binary(trained):
        kind = f"{len(trained.classes)} classes" if trained.classes else f"a {trained.model_type.task} model"
        raise setting_error(function, trained, f"threshold applies to binary classifiers only; "
                            f"{trained.name} is {trained.options.model_type} with {kind}",
                            hint="remove threshold from the STRUCT")


# --- scoring the input rows -----------------------------------------------------------------------------------------
@dataclass
class Scores:
    """What evaluation keeps of the input rows: labels and the model's outputs, row by row."""

    rows: int = 0
    y: np.ndarray | None = None  # class indices (classification) or label values (regression)
    proba: np.ndarray | None = None  # classification: rows × classes
    pred: np.ndarray | None = None  # regression
    nearest: np.ndarray | None = None  # clustering: index of the nearest centroid
    distance: np.ndarray | None = None  # clustering: distance to it (the model's DISTANCE_TYPE)
    spread: np.ndarray | None = None  # clustering: Euclidean distance to it in the encoded space
    captured: np.ndarray | None = None  # decomposition: squared length of the row's projection
    deviation: np.ndarray | None = None  # decomposition: squared distance of the row from the model's centre


def score(function: str, trained: TrainedModel, batches: Batches) -> Scores:
    """Score every batch, keeping only labels and outputs; errors name `function` and the model."""
    supervised = trained.model_type.has_label
    parts: dict[str, list[np.ndarray]] = {}
    rows = 0
    schema = getattr(batches, "schema", None)
    with naming(function, trained):
        if supervised and schema is not None:
            _label_column(function, trained, schema.names)
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            X = design_matrix(trained, table, allow_sparse=True)  # CSR for a wide one-hot design
            if supervised:
                y, keep = _labels(function, trained, table)
                if not keep.any():
                    continue
                parts.setdefault("y", []).append(y)
                X = X if keep.all() else X[keep]
            rows += X.shape[0]
            for name, values in head(trained).score(trained, X).items():
                parts.setdefault(name, []).append(values)
    if rows == 0:
        with_label = f" with a non-NULL label '{trained.label}'" if supervised else ""
        raise function_error(function, trained, f"the input has no rows{with_label} to evaluate",
                             hint="check the input query's WHERE clauses")
    return Scores(rows, **canonical({name: np.concatenate(arrays) for name, arrays in parts.items()}))


def _label_column(function: str, trained: TrainedModel, names: list[str]) -> str:
    column = find_column(names, trained.label)
    if column is None:
        raise function_error(function, trained, f"the input has no label column '{trained.label}' (its columns: "
                             f"{', '.join(names)})",
                             hint=f"select the label column '{trained.label}' next to the features")
    return column


def _labels(function: str, trained: TrainedModel, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The batch's labels (class indices or floats) for rows with a label, and the mask of those rows."""
    values = table.column(_label_column(function, trained, table.column_names)).combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    target = label_arrow_type(trained) if trained.classes is not None else pa.float64()
    try:
        values = values.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise function_error(function, trained, f"the label column '{trained.label}' is {values.type} in the "
                             f"input but {target} in training",
                             hint=f"CAST({trained.label} AS the training type)") from None
    valid = pc.is_valid(values)
    if pa.types.is_floating(values.type):
        valid = pc.and_(valid, pc.invert(pc.is_nan(values)))
    keep = np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)
    values = values.filter(pa.array(keep)) if not keep.all() else values
    if trained.classes is None:
        return np.asarray(values.to_numpy(), dtype=np.float64), keep
    y = class_indices(values, trained.classes)
    if (y < 0).any():
        unseen = sorted({str(v) for v in values.filter(pa.array(y < 0)).to_pylist()})
        raise function_error(function, trained, f"the input has label value(s) the model never saw in training: "
                             f"{', '.join(unseen[:5])}{' …' if len(unseen) > 5 else ''} (its classes: "
                             f"{', '.join(class_text(c) for c in trained.classes)})",
                             hint="filter those rows out of the input, or retrain with them")
    return y, keep


def predicted_classes(trained: TrainedModel, proba: np.ndarray, threshold: float | None) -> np.ndarray:
    """Class index of each row: binary above the threshold (0.5), else the most probable class (as ML.PREDICT)."""
    return chosen_classes(proba, threshold)


# --- ML.EVALUATE ----------------------------------------------------------------------------------------------------
def evaluate_run(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> pa.Table:
    function = "EVALUATE"
    threshold = settings.get("threshold")
    check_threshold(function, trained, threshold)
    if batches is None and threshold is None:
        # A tuned model reports its test split (https://cloud.google.com/bigquery/docs/hp-tuning-overview, data split)
        tuned = trained.options.search_space and trained.test_metrics is not None
        values = trained.test_metrics if tuned else trained.metrics
    else:
        values = _metrics(function, trained, _scores(function, trained, batches, threshold), threshold)
    names = trained.model_type.spec.metric_names
    return pa.table({name: pa.array([values.get(name)], pa.float64()) for name in names})


def _metrics(function: str, trained: TrainedModel, scores: Scores, threshold: float | None) -> dict:
    parts = {name: value for name, value in vars(scores).items() if name != "rows" and value is not None}
    return head(trained).metrics(trained, parts, threshold)


# --- ML.CONFUSION_MATRIX --------------------------------------------------------------------------------------------
def confusion_matrix_applies(trained: TrainedModel) -> str | None:
    if trained.model_type.task is not Task.CLASSIFICATION:
        return ("a confusion matrix needs a classifier (" + type_names(lambda t: t.task is Task.CLASSIFICATION)
                + "); use ML.EVALUATE for regression, KMEANS and PCA models")
    return None


def class_column_names(classes: Iterable[Any]) -> list[str]:
    """BigQuery's column name of each class: its text, other characters than [A-Za-z0-9_] as '_', a leading '_'
    unless it starts with a letter or '_'; duplicates get _2, _3, …"""
    names: list[str] = []
    taken = {"expected_label"}
    for value in classes:
        name = re.sub(r"[^A-Za-z0-9_]", "_", class_text(value))
        if not re.match(r"[A-Za-z_]", name):
            name = "_" + name
        base, n = name, 1
        while name.lower() in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name.lower())
        names.append(name)
    return names


def _scores(function: str, trained: TrainedModel, batches: Batches | None, threshold: float | None = None) -> Scores:
    """The input rows scored, or without input the scores of the eval split kept at training."""
    if batches is not None:
        return score(function, trained, batches)
    if trained.eval_scores is None:
        setting = f", STRUCT({threshold} AS threshold)" if threshold is not None else ""
        raise function_error(function, trained, f"version {trained.version} was trained before the toolkit kept the "
                             "scores of the eval split it reads without input",
                             hint=f"retrain it (toolkit build --select {trained.name}), or pass the rows: "
                                  f"ML.{function}(MODEL {trained.name}, (SELECT …){setting})")
    kept = trained.eval_scores
    return Scores(len(kept["y"]), y=kept["y"], proba=kept["proba"])


def confusion_matrix_run(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> pa.Table:
    function = "CONFUSION_MATRIX"
    threshold = settings.get("threshold")
    check_threshold(function, trained, threshold)
    scores = _scores(function, trained, batches, threshold)
    k = len(trained.classes)
    predicted = predicted_classes(trained, scores.proba, threshold)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (scores.y, predicted), 1)
    columns = {"expected_label": class_array(trained)}
    for j, name in enumerate(class_column_names(trained.classes)):
        columns[name] = pa.array(counts[:, j], pa.int64())
    return pa.table(columns)


# --- ML.ROC_CURVE ---------------------------------------------------------------------------------------------------
def roc_curve_applies(trained: TrainedModel) -> str | None:
    if trained.model_type.task is not Task.CLASSIFICATION:
        return ("a ROC curve needs a binary classifier; " + trained.options.model_type + " is not a classifier "
                "(use ML.EVALUATE)")
    if len(trained.classes) != 2:
        return (f"a ROC curve needs a binary classifier, and {trained.name} has {len(trained.classes)} classes; use "
                "ML.CONFUSION_MATRIX or ML.EVALUATE (macro-averaged roc_auc), or train one model per class "
                "(label = 'x'); to decide by costs, the cost_matrix_decisions macro takes a cost matrix")
    return None


ROC_SCHEMA = pa.schema([("threshold", pa.float64()), ("recall", pa.float64()), ("false_positive_rate", pa.float64()),
                        ("true_positives", pa.int64()), ("false_positives", pa.int64()),
                        ("true_negatives", pa.int64()), ("false_negatives", pa.int64())])


def roc_curve_run(trained: TrainedModel, batches: Batches | None, settings: dict[str, Any]) -> pa.Table:
    function = "ROC_CURVE"
    given = settings.get("thresholds")
    scores = _scores(function, trained, batches)
    p = scores.proba[:, 1]
    positive = scores.y == 1
    thresholds = np.unique(np.asarray(given, dtype=np.float64)) if given else roc_thresholds(p)
    tp, fp = roc_counts(positive, p, thresholds)  # probability above the threshold
    pos, neg = p[positive], p[~positive]
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = tp / len(pos) if len(pos) else np.full(len(thresholds), np.nan)
        fpr = fp / len(neg) if len(neg) else np.full(len(thresholds), np.nan)
    columns = [thresholds, recall, fpr, tp, fp, len(neg) - fp, len(pos) - tp]
    arrays = [pa.array(np.asarray(c), type=f.type, from_pandas=True) for c, f in zip(columns, ROC_SCHEMA)]
    return pa.Table.from_arrays(arrays, schema=ROC_SCHEMA)
