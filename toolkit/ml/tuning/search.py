"""The trials' hyperparameters: HPARAM_TUNING_ALGORITHM's proposals over ModelOptions.search_space.

VIZIER_DEFAULT is Optuna's TPE sampler (Vertex AI Vizier's Bayesian search is not available locally), RANDOM_SEARCH
Optuna's random sampler, both seeded by the model's seed, so a rebuild proposes the same trials. GRID_SEARCH walks
the candidates' product in order (first option slowest), at most NUM_TRIALS of them. Trials are proposed in
batches of the parallel trials and told back in trial order, so the proposals do not depend on which trial of a
batch ends first. A log-scale range starting at 0 (BigQuery's default for L1_REG and L2_REG) starts at 1e-6 × max."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import optuna

from toolkit.ml.types.options import ModelOptions

optuna.logging.set_verbosity(optuna.logging.WARNING)
_LOG_FLOOR = 1e-6

_SAMPLERS: Mapping[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "VIZIER_DEFAULT": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "RANDOM_SEARCH": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


class Search:
    """Proposes each trial's hyperparameters and learns from each trial's objective value."""

    def __init__(self, options: ModelOptions, seed: int, maximize: bool):
        self.space = options.search_space
        self.algorithm = options["HPARAM_TUNING_ALGORITHM"]
        self.num_trials = options["NUM_TRIALS"]
        if self.algorithm == "GRID_SEARCH":
            names = list(self.space)
            grid = itertools.product(*(self.space[n]["candidates"] for n in names))
            self._grid = [dict(zip(names, values)) for values in itertools.islice(grid, self.num_trials)]
            self.num_trials = len(self._grid)
            self._study = None
        else:
            direction = "maximize" if maximize else "minimize"
            self._study = optuna.create_study(direction=direction, sampler=_SAMPLERS[self.algorithm](seed))
        self._asked: dict[int, optuna.trial.Trial] = {}

    def ask(self, trial_id: int) -> dict[str, Any]:
        """The hyperparameters of trial `trial_id` (from 1)."""
        if self._study is None:
            return dict(self._grid[trial_id - 1])
        trial = self._study.ask()
        self._asked[trial_id] = trial
        return {name: _suggest(trial, name, spec) for name, spec in self.space.items()}

    def tell(self, trial_id: int, value: float | None) -> None:
        """The trial's objective value (None: it failed)."""
        trial = self._asked.pop(trial_id, None)
        if trial is None:
            return
        if value is None:
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(trial, value)


def _suggest(trial: optuna.trial.Trial, name: str, spec: Mapping[str, Any]) -> Any:
    if "candidates" in spec:
        candidates = list(spec["candidates"])
        index = trial.suggest_categorical(name, list(range(len(candidates))))  # any value type, by position
        return candidates[index]
    low, high = spec["range"]
    log = bool(spec["log"]) and high > 0
    if log and low <= 0:
        low = high * _LOG_FLOOR
    if spec["integer"]:
        return trial.suggest_int(name, max(1, int(low)) if log else int(low), int(high), log=log)
    return trial.suggest_float(name, low, high, log=log)
