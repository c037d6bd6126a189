"""Hyperparameter tuning's options: what each model type lets you tune, over which ranges, towards which objective.

From BigQuery ML's reference, https://cloud.google.com/bigquery/docs/hp-tuning-overview ("Hyperparameters and
objectives": per model type the objectives, each tunable hyperparameter's valid range, default range and scale) and
the CREATE MODEL pages' HPARAM options (e.g. https://cloud.google.com/bigquery/docs/reference/standard-sql/
bigqueryml-syntax-create-boosted-tree#hyperparameter_tuning_options). A hyperparameter is tuned when its option is
written `HPARAM_RANGE(min, max)` or `HPARAM_CANDIDATES([…])`; with NUM_TRIALS and no hyperparameter written so,
the model type's default search space is tuned: every tunable option the toolkit implements (whose value is not
fixed, see registry.py), over BigQuery's default range. An option given a plain value is never tuned."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toolkit.errors import ConfigError
from toolkit.ml.types.options import OptionSpec
from toolkit.ml.types.tasks import Task
from toolkit.sql.create_model import HparamCandidates, HparamRange

TUNING_OPTIONS = ("NUM_TRIALS", "MAX_PARALLEL_TRIALS", "HPARAM_TUNING_ALGORITHM", "HPARAM_TUNING_OBJECTIVES")
MAX_NUM_TRIALS = 100  # BigQuery: NUM_TRIALS in [1, 100]; MAX_PARALLEL_TRIALS in [1, 5]
MAX_PARALLEL_TRIALS = 5
LINEAR, LOG = "LINEAR", "LOG"
# The toolkit's own objective, not BigQuery's (toolkit.ml.tuning.costs): a binary classifier's minimum expected cost
# per unit, with the cost of each kind of error given in the toolkit's own options.
EXPECTED_COST = "TOOLKIT_EXPECTED_COST"
FALSE_NEGATIVE_COST, FALSE_POSITIVE_COST = "TOOLKIT_FALSE_NEGATIVE_COST", "TOOLKIT_FALSE_POSITIVE_COST"
COST_OPTIONS = (FALSE_NEGATIVE_COST, FALSE_POSITIVE_COST)
_EXAMPLE = (f"HPARAM_TUNING_OBJECTIVES = ['{EXPECTED_COST}'], {FALSE_NEGATIVE_COST} = 5, "
            f"{FALSE_POSITIVE_COST} = 1")


@dataclass(frozen=True)
class Tunable:
    """One tunable hyperparameter: BigQuery's valid range for tuning, default range and scale (None: candidates)."""

    name: str
    valid: tuple[float, float] | None  # inclusive bounds a range must lie in
    default: tuple[float, float] | None  # the default search space; None: tuned only when candidates are given
    scale: str = LINEAR
    low_exclusive: bool = False  # (0, …]: the low bound itself is not a valid value


def _range(low: float, high: float, spec: OptionSpec, entry: Tunable) -> dict[str, Any]:
    """A search range as ModelOptions.search_space keeps it."""
    return {"range": [float(low), float(high)], "integer": spec.kind == "int", "log": entry.scale == LOG}


_INF = math.inf
_REG = (Tunable("L1_REG", (0, _INF), (0, 10), LOG), Tunable("L2_REG", (0, _INF), (0, 10), LOG))
_TREE = (
    *_REG,
    Tunable("MAX_TREE_DEPTH", (1, 20), (1, 10)),
    Tunable("SUBSAMPLE", (0, 1), (0, 1), low_exclusive=True),
    Tunable("MIN_SPLIT_LOSS", (0, _INF), (0, 20)),
    Tunable("NUM_PARALLEL_TREE", (1, _INF), (1, 10)),
    Tunable("MIN_TREE_CHILD_WEIGHT", (0, _INF), (0, 20)),
    Tunable("COLSAMPLE_BYTREE", (0, 1), (0, 1), low_exclusive=True),
    Tunable("COLSAMPLE_BYLEVEL", (0, 1), (0, 1), low_exclusive=True),
    Tunable("COLSAMPLE_BYNODE", (0, 1), (0, 1), low_exclusive=True),
)
_BOOSTED = (Tunable("LEARN_RATE", (0, _INF), (0, 1), low_exclusive=True), *_TREE, Tunable("BOOSTER_TYPE", None, None),
            Tunable("DROPOUT", (0, 1), (0, 0.8)))
_DNN = (Tunable("BATCH_SIZE", (1, _INF), (16, 1024), LOG), Tunable("DROPOUT", (0, 1), (0, 0.8)),
        Tunable("HIDDEN_UNITS", None, None), Tunable("LEARN_RATE", (0, 1), (0, 1), low_exclusive=True),
        Tunable("OPTIMIZER", None, None), Tunable("ACTIVATION_FN", None, None), *_REG)
TUNABLE: Mapping[str, tuple[Tunable, ...]] = {
    "LINEAR_REG": _REG, "LOGISTIC_REG": _REG,
    "KMEANS": (Tunable("NUM_CLUSTERS", (2, 100), (2, 10)),),
    "BOOSTED_TREE_CLASSIFIER": _BOOSTED, "BOOSTED_TREE_REGRESSOR": _BOOSTED,
    "RANDOM_FOREST_CLASSIFIER": _TREE, "RANDOM_FOREST_REGRESSOR": _TREE,
    "DNN_CLASSIFIER": _DNN, "DNN_REGRESSOR": _DNN,
}

# Objectives by task, the first the default; True: greater is better.
OBJECTIVES: Mapping[Task, Mapping[str, bool]] = {
    Task.REGRESSION: {"R2_SCORE": True, "MEAN_ABSOLUTE_ERROR": False, "MEAN_SQUARED_ERROR": False,
                      "MEAN_SQUARED_LOG_ERROR": False, "MEDIAN_ABSOLUTE_ERROR": False, "EXPLAINED_VARIANCE": True},
    Task.CLASSIFICATION: {"ROC_AUC": True, "PRECISION": True, "RECALL": True, "ACCURACY": True, "F1_SCORE": True,
                          "LOG_LOSS": False, EXPECTED_COST: False},
    Task.CLUSTERING: {"DAVIES_BOULDIN_INDEX": False},
}


def is_search_space(value: object) -> bool:
    return isinstance(value, (HparamRange, HparamCandidates))


def tunable(model_type: str) -> dict[str, Tunable]:
    return {t.name: t for t in TUNABLE.get(model_type, ())}


def objective(model: str, model_type: str, task: Task, value: tuple[str, ...] | None) -> str:
    """The one objective (upper case), checked against the model type's; its default without a value."""
    allowed = OBJECTIVES.get(task, {})
    if not value:
        return next(iter(allowed))
    if len(value) != 1:
        raise ConfigError(f"model {model}: HPARAM_TUNING_OBJECTIVES names {len(value)} objectives; the toolkit tunes "
                          "one objective at a time", hint=f"keep one of {', '.join(allowed)}")
    name = value[0].upper()
    if name not in allowed:
        raise ConfigError(f"model {model}: HPARAM_TUNING_OBJECTIVES = ['{value[0]}'] does not fit {model_type}",
                          hint=f"{model_type} takes one of {', '.join(allowed)} (default {next(iter(allowed))})")
    return name


def check_space(model: str, model_type: str, spec: OptionSpec, value: HparamRange | HparamCandidates
                ) -> dict[str, Any]:
    """One option's HPARAM_RANGE / HPARAM_CANDIDATES, checked: the option is tunable for the model type, a range's
    bounds lie in its valid range, every candidate is a value the option takes."""
    name = spec.name
    table = tunable(model_type)
    if name not in table:
        names = ", ".join(table) or "none"
        raise ConfigError(f"model {model}: option {name} is not a hyperparameter {model_type} can tune",
                          hint=f"give {name} one value; {model_type} tunes {names}")
    entry = table[name]
    if isinstance(value, HparamCandidates):
        if not value.values:
            raise ConfigError(f"model {model}: {name} = HPARAM_CANDIDATES([]) has no candidates",
                              hint=f"give {name} at least one candidate, each {spec.accepts()}")
        candidates = [_candidate(model, spec, v) for v in value.values]
        repeated = next((v for i, v in enumerate(candidates) if v in candidates[:i]), None)
        if repeated is not None:  # a grid would train the same trial twice
            raise ConfigError(f"model {model}: {name} = HPARAM_CANDIDATES([…]) lists {_show(repeated)} more than once",
                              hint=f"list each of {name}'s candidates once")
        return {"candidates": candidates}
    if entry.valid is None or spec.kind not in ("int", "float"):
        raise ConfigError(f"model {model}: option {name} takes HPARAM_CANDIDATES([…]), not HPARAM_RANGE",
                          hint=f"write {name} = HPARAM_CANDIDATES([…]) with values {spec.accepts()}")
    low, high = value.low, value.high
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    lo, hi = entry.valid
    if not numbers or not low <= high or low < lo or high > hi or (entry.low_exclusive and low <= lo):
        bracket = "(" if entry.low_exclusive else "["
        raise ConfigError(f"model {model}: {name} = HPARAM_RANGE({_show(low)}, {_show(high)}) is not valid: "
                          f"{name}'s range must lie in {bracket}{lo:g}, {hi:g}] with min <= max",
                          hint=f"e.g. {name} = HPARAM_RANGE({_bound(entry.default[0])}, {_bound(entry.default[1])})"
                          if entry.default else f"give bounds in {bracket}{lo:g}, {hi:g}]")
    if spec.only_default is not None:
        raise ConfigError(f"model {model}: option {name} cannot be tuned by the toolkit: {spec.only_default}",
                          hint=f"remove {name}")
    return _range(low, high, spec, entry)


def default_space(model_type: str, specs: Mapping[str, OptionSpec]) -> dict[str, dict[str, Any]]:
    """BigQuery's default search space: each tunable option with a default range that the toolkit lets vary."""
    space = {}
    for entry in TUNABLE.get(model_type, ()):
        spec = specs.get(entry.name)
        if entry.default is None or spec is None or spec.only_default is not None:
            continue
        space[entry.name] = _range(*entry.default, spec, entry)
    return space


def _show(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _bound(value: float) -> str:
    return f"{value:g}"


def _candidate(model: str, spec: OptionSpec, value: Any) -> Any:
    try:
        return spec.coerce(model, value)
    except ConfigError as error:
        why = error.message.split(": ", 1)[-1]
        raise ConfigError(f"model {model}: {spec.name} = HPARAM_CANDIDATES([…]) has candidate {_show(value)}, "
                          f"which {spec.name} does not take: {why}",
                          hint=f"give candidates that are each {spec.accepts()}") from None


def check_cost_options(model: str, objective: str, values: Mapping[str, Any], given: set[str]) -> None:
    """The costs go with TOOLKIT_EXPECTED_COST, which needs both of them, not both 0 (each is 0 or more: its spec)."""
    written = [n for n in COST_OPTIONS if n in given]
    if objective != EXPECTED_COST:
        if written:
            raise ConfigError(f"model {model}: option {written[0]} is a cost of the tuning objective "
                              f"{EXPECTED_COST}, and HPARAM_TUNING_OBJECTIVES is ['{objective}']",
                              hint=f"write {_EXAMPLE}, or remove {written[0]}")
        return
    missing = [n for n in COST_OPTIONS if n not in given]
    if missing:
        raise ConfigError(f"model {model}: HPARAM_TUNING_OBJECTIVES = ['{EXPECTED_COST}'] needs the cost of each "
                          f"kind of error, and {missing[0]} is not given",
                          hint=f"write {_EXAMPLE} (any unit; only their ratio matters)")
    if all(values[n] == 0 for n in COST_OPTIONS):
        raise ConfigError(f"model {model}: {FALSE_NEGATIVE_COST} and {FALSE_POSITIVE_COST} are both 0, so every "
                          "trial costs nothing", hint=f"give the cost of each kind of error, e.g. {_EXAMPLE}")
