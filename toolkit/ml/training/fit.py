"""Fitting an estimator while recording ML.TRAINING_INFO: loss and eval loss per iteration where exposed.

Losses are mean squared error (regression), mean log loss (classification), mean squared distance to the nearest
centroid (KMEANS; with DISTANCE_TYPE COSINE, between unit-length rows) and mean squared reconstruction error
(PCA). Linear models fitted by gradient descent (LOGISTIC_REG always, LINEAR_REG unless by the normal equation)
report every iteration of the toolkit's descent (toolkit.ml.training.descent). Boosted trees report every iteration (scikit-learn's per-iteration scores) and the DNN every epoch (the
toolkit runs the epochs); both stop early as BigQuery does, after the first iteration whose relative improvement
of the eval loss (training loss without an eval split) is below MIN_REL_PROGRESS. KMEANS runs and reports every
Lloyd iteration, with the same stopping rule on its training loss (toolkit.ml.training.lloyd). The other estimators report one
row: the fitted model's losses (scikit-learn does not expose their per-iteration losses)."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from toolkit.ml.inference.heads import HEADS
from toolkit.ml.model import Iteration
from toolkit.ml.training.descent import BINARY, MULTINOMIAL, SQUARED, Settings, descend
from toolkit.ml.training.lloyd import Assignment, fit_kmeans
from toolkit.ml.types.options import ModelOptions
from toolkit.ml.types.tasks import TASKS, Family, Task
from toolkit.progress import advance


@dataclass(frozen=True)
class FitData:
    """The encoded training (and eval) data: numpy arrays, or scipy.sparse CSR matrices for the estimators that
    accept them (toolkit.ml.features.sparse)."""

    X: np.ndarray
    y: np.ndarray | None  # class indices (classification), floats (regression), None (unsupervised)
    weights: np.ndarray | None
    X_eval: np.ndarray | None
    y_eval: np.ndarray | None
    task: Task
    n_classes: int = 0
    descent: bool = False  # a linear model fitted by the toolkit's gradient descent
    start: np.ndarray | None = None  # WARM_START: the previous version's (outputs, features + 1) parameters


def loss(task: Task, estimator: object, X: np.ndarray, y: np.ndarray | None) -> float | None:
    """The task's loss of a fitted estimator on (X, y); None on no rows."""
    if X is None or X.shape[0] == 0:
        return None
    return HEADS[task].loss(estimator, X, y)


def stop_after(losses: list[float], min_rel_progress: float) -> int | None:
    """1-based index of the first iteration whose relative improvement over the previous is below the bar."""
    for i in range(1, len(losses)):
        previous = losses[i - 1]
        if previous > 0 and (previous - losses[i]) / previous < min_rel_progress:
            return i
    return None


@dataclass(frozen=True)
class Fitted:
    """What fitting returns besides the fitted estimator."""

    iterations: list[Iteration]  # the training-info rows
    assignment: Assignment | None = None  # KMEANS: the training rows under the final centroids


def fit(family: Family, options: ModelOptions, estimator: object, data: FitData) -> Fitted:
    """Fit `estimator` in place; the training-info rows (and KMEANS's assignment of the rows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if family is Family.BOOSTED_TREE:
            return Fitted(_fit_boosted(options, estimator, data))
        if family is Family.DNN:
            return Fitted(_fit_dnn(options, estimator, data))
        if family is Family.KMEANS:
            return Fitted(*fit_kmeans(estimator, data.X, options["MAX_ITERATIONS"], lambda losses: bool(
                options["EARLY_STOP"] and stop_after(losses, options["MIN_REL_PROGRESS"]) is not None),
                cosine=options.get("DISTANCE_TYPE") == "COSINE"))
        if data.descent:
            return Fitted(_fit_descent(options, estimator, data))
        return Fitted(_fit_once(estimator, data))


def _fit_once(estimator: object, data: FitData) -> list[Iteration]:
    start = time.perf_counter()
    if not TASKS[data.task].has_label:
        estimator.fit(data.X)
    else:
        estimator.fit(data.X, data.y, sample_weight=data.weights)
    ms = int((time.perf_counter() - start) * 1000)
    if "n_jobs" in estimator.get_params():
        # Fitted on every core (the result does not depend on it), but predicting on one: a forest's threads add
        # their trees' outputs in the order they finish, which moves the last bits. ML.PREDICT runs its chunks in
        # parallel itself (toolkit.ml.inference.batches).
        estimator.set_params(n_jobs=1)
    return [Iteration(0, loss(data.task, estimator, data.X, data.y),
                      loss(data.task, estimator, data.X_eval, data.y_eval), None, ms)]


def _fit_descent(options: ModelOptions, estimator: object, data: FitData) -> list[Iteration]:
    """Run the toolkit's descent and store its weights as the estimator's fitted attributes."""
    kind = SQUARED if not data.n_classes else BINARY if data.n_classes == 2 else MULTINOMIAL
    settings = Settings(
        model=options.model, kind=kind, n_classes=data.n_classes, l1=options["L1_REG"], l2=options["L2_REG"],
        fit_intercept=options["FIT_INTERCEPT"], max_iterations=options["MAX_ITERATIONS"],
        early_stop=options["EARLY_STOP"], min_rel_progress=options["MIN_REL_PROGRESS"],
        strategy=options["LEARN_RATE_STRATEGY"], learn_rate=options["LEARN_RATE"],
        ls_init_learn_rate=options["LS_INIT_LEARN_RATE"])
    result = descend(settings, data.X, data.y, data.weights, data.X_eval, data.y_eval, data.start)
    n_iter = len(result.iterations)
    estimator.n_features_in_ = data.X.shape[1]
    if data.n_classes:
        estimator.classes_ = np.arange(data.n_classes)
        estimator.coef_, estimator.intercept_ = result.coef, result.intercept
        estimator.n_iter_ = np.array([n_iter], dtype=np.int32)
    else:
        estimator.coef_, estimator.intercept_ = result.coef[0], float(result.intercept[0])
        estimator.n_iter_ = n_iter
    return result.iterations


def _fit_boosted(options: ModelOptions, estimator: object, data: FitData) -> list[Iteration]:
    has_eval = data.X_eval is not None and data.X_eval.shape[0] > 0
    validation = {"X_val": data.X_eval, "y_val": data.y_eval} if has_eval else {}
    start = time.perf_counter()
    estimator.fit(data.X, data.y, sample_weight=data.weights, **validation)
    # Scores are negative losses, index 0 being the constant baseline.
    factor = HEADS[data.task].sklearn_loss_scale
    train = [float(-s * factor) for s in estimator.train_score_]
    evals = [float(-s * factor) for s in estimator.validation_score_] if has_eval else None
    if options["EARLY_STOP"]:
        keep = stop_after(evals or train, options["MIN_REL_PROGRESS"])
        if keep is not None and keep < estimator.n_iter_:
            estimator.set_params(max_iter=keep, n_iter_no_change=keep + 1)  # same seed: the same first trees
            estimator.fit(data.X, data.y, sample_weight=data.weights, **validation)
    n = estimator.n_iter_
    ms = int((time.perf_counter() - start) * 1000 / max(n, 1))
    rate = options["LEARN_RATE"]
    return [Iteration(i, train[i + 1], evals[i + 1] if evals else None, rate, ms) for i in range(n)]


def _fit_dnn(options: ModelOptions, estimator: object, data: FitData) -> list[Iteration]:
    classes = {"classes": np.arange(data.n_classes)} if HEADS[data.task].has_classes else {}
    factor = HEADS[data.task].sklearn_loss_scale
    rows: list[Iteration] = []
    watched: list[float] = []
    for i in range(options["MAX_ITERATIONS"]):
        start = time.perf_counter()
        estimator.partial_fit(data.X, data.y, sample_weight=data.weights, **classes)
        ms = int((time.perf_counter() - start) * 1000)
        eval_loss = loss(data.task, estimator, data.X_eval, data.y_eval)
        rows.append(Iteration(i, float(estimator.loss_) * factor, eval_loss, options["LEARN_RATE"], ms))
        advance("iterations", i + 1, options["MAX_ITERATIONS"])
        watched.append(eval_loss if eval_loss is not None else rows[-1].loss)
        if options["EARLY_STOP"] and stop_after(watched, options["MIN_REL_PROGRESS"]) is not None:
            break
    return rows
