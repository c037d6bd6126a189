"""Running the trials: each one a model trained with its hyperparameters, in parallel up to MAX_PARALLEL_TRIALS.

BigQuery's rules (https://cloud.google.com/bigquery/docs/hp-tuning-overview, "Data split" and "Objectives";
ML.TRIAL_INFO, https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-trial-info): the
objective is computed on the eval split and reported in `hparam_tuning_evaluation_metrics`; the optimal trial is
the one with the best objective (the first such trial on ties); a trial that fails is recorded as FAILED with
its error and the search goes on. Trials run on threads: scikit-learn's fits release the GIL, and every trial
shares the encoded data. At most min(MAX_PARALLEL_TRIALS, cores) trials run at once. The toolkit's own
objective TOOLKIT_EXPECTED_COST is computed from the trial's eval-split scores (costs.py), the others are read
from its metrics."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from toolkit.ml.model import TrainedModel
from toolkit.ml.tuning.costs import expected_cost_of
from toolkit.ml.tuning.search import Search
from toolkit.ml.types.hparams import EXPECTED_COST, OBJECTIVES
from toolkit.ml.types.options import ModelOptions
from toolkit.ml.types.registry import MODEL_TYPES
from toolkit.progress import advance

SUCCEEDED, FAILED = "SUCCEEDED", "FAILED"


@dataclass(frozen=True)
class Trial:
    """One row of ML.TRIAL_INFO, and (when it succeeded) the trial's model."""

    trial_id: int
    hyperparameters: dict[str, Any]
    evaluation_metrics: dict[str, float | None]  # the objective on the eval split
    training_loss: float | None
    eval_loss: float | None
    status: str
    error_message: str | None
    is_optimal: bool = False
    model: TrainedModel | None = None


def trial_options(options: ModelOptions, hyperparameters: Mapping[str, Any]) -> ModelOptions:
    """The parent model's options with one trial's hyperparameters, each coerced as the option is."""
    specs = MODEL_TYPES[options.model_type].options
    values = dict(options.values)
    for name, value in hyperparameters.items():
        value = tuple(value) if isinstance(value, list) else value
        values[name] = specs[name].coerce(options.model, value)
    return replace(options, values=MappingProxyType(values), given=options.given | set(hyperparameters))


def objective_of(options: ModelOptions) -> tuple[str, bool]:
    """The objective's metric name (lower case, as in ML.EVALUATE) and whether greater is better."""
    name = options["HPARAM_TUNING_OBJECTIVES"][0]
    task = MODEL_TYPES[options.model_type].task
    return name.lower(), OBJECTIVES[task][name]


def _metric(metric: str) -> Callable[[ModelOptions, TrainedModel], float | None]:
    return lambda options, model: model.metrics.get(metric)


# Objectives computed from a trial's model rather than read from its metrics (lower case, as objective_of names them)
_OBJECTIVE_VALUES: Mapping[str, Callable[[ModelOptions, TrainedModel], float | None]] = {
    EXPECTED_COST.lower(): expected_cost_of,
}


def run_trials(options: ModelOptions, seed: int, fit: Callable[[ModelOptions], TrainedModel]) -> list[Trial]:
    """Every trial, in trial order, the optimal one marked; `fit` trains one model from a trial's options. Each
    finished trial is a progress step ("trials k/n", toolkit.progress)."""
    metric, maximize = objective_of(options)
    search = Search(options, seed, maximize)
    parallel = max(1, min(options["MAX_PARALLEL_TRIALS"], os.cpu_count() or 1, search.num_trials))
    trials: list[Trial] = []

    def one(trial_id: int, hyperparameters: dict[str, Any]) -> Trial:
        try:
            model = fit(trial_options(options, hyperparameters))
        except Exception as error:  # the trial fails, not the search
            message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            return Trial(trial_id, hyperparameters, {}, None, None, FAILED, message)
        value = _OBJECTIVE_VALUES.get(metric, _metric(metric))(options, model)
        last = model.iterations[-1] if model.iterations else None
        loss, eval_loss = (last.loss, last.eval_loss) if last is not None else (None, None)
        if value is None or not math.isfinite(value):
            return Trial(trial_id, hyperparameters, {metric: None}, loss, eval_loss, FAILED,
                         f"the objective {metric.upper()} is not defined for this trial's model on the eval split")
        return Trial(trial_id, hyperparameters, {metric: float(value)}, loss, eval_loss, SUCCEEDED, None, model=model)

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        next_id = 1
        while next_id <= search.num_trials:
            batch = range(next_id, min(next_id + parallel, search.num_trials + 1))
            asked = [(i, search.ask(i)) for i in batch]
            for trial in pool.map(lambda pair: one(*pair), asked):
                search.tell(trial.trial_id, trial.evaluation_metrics.get(metric))
                trials.append(trial)
                advance("trials", len(trials), search.num_trials)
            next_id = batch.stop
    return _mark_optimal(trials, metric, maximize)


def _mark_optimal(trials: list[Trial], metric: str, maximize: bool) -> list[Trial]:
    succeeded = [t for t in trials if t.status == SUCCEEDED]
    if not succeeded:
        return trials
    sign = -1.0 if maximize else 1.0
    best = min(succeeded, key=lambda t: (sign * t.evaluation_metrics[metric], t.trial_id))
    return [replace(t, is_optimal=t.trial_id == best.trial_id) for t in trials]
