"""TrainedModel: everything one training produced, as stored in (and loaded from) the model store."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import scipy
import sklearn
import skops

from toolkit.ml.features.preprocess import Preprocessor
from toolkit.ml.features.transform import FittedTransform
from toolkit.ml.types.options import ModelOptions
from toolkit.ml.types.registry import MODEL_TYPES, ModelType

# Bumped whenever the stored layout of a model changes; loading another format is refused.
ARTIFACT_FORMAT = 1


def library_versions() -> dict[str, str]:
    """The versions a fitted model depends on."""
    from toolkit import __version__ as toolkit_version

    return {"toolkit": toolkit_version, "artifact_format": str(ARTIFACT_FORMAT), "scikit-learn": sklearn.__version__,
            "numpy": np.__version__, "scipy": scipy.__version__, "skops": skops.__version__,
            "pyarrow": pa.__version__, "python": ".".join(map(str, sys.version_info[:2]))}


@dataclass(frozen=True)
class Iteration:
    """One row of ML.TRAINING_INFO."""

    iteration: int
    loss: float | None
    eval_loss: float | None
    learning_rate: float | None
    duration_ms: int
    # KMEANS: (centroid_id, cluster_radius, cluster_size) of each cluster after the iteration; None otherwise
    cluster_info: tuple[tuple[int, float, int], ...] | None = None


@dataclass(frozen=True)
class TrainedModel:
    """A fitted model with its preprocessing, label, training record and provenance; immutable once training ends.
    How ML.PREDICT runs it as SQL is a separate record (toolkit.ml.compile.CompiledPrediction), stored beside it."""

    name: str
    options: ModelOptions
    preprocessor: Preprocessor
    estimator: Any  # None for TRANSFORM_ONLY
    label: str | None  # None for KMEANS / PCA
    label_type: str | None  # the label's Arrow type, e.g. 'string', 'int64', 'bool'
    classes: tuple[Any, ...] | None  # classifiers: label values ascending (the last is binary's positive class)
    feature_schema: tuple[dict, ...]  # {"name", "type" (DuckDB), "kind"} of each column the preprocessing reads:
    # the query's feature columns, or with TRANSFORM its feature outputs (STRUCT outputs flattened into fields)
    iterations: tuple[Iteration, ...]
    feature_info: tuple[dict, ...]
    data_stats: dict[str, dict]
    metrics: dict[str, float | None]  # evaluation on the eval split (on the training rows without one)
    metrics_split: str  # 'eval' or 'training'
    test_metrics: dict[str, float | None] | None
    seed: int
    query_fingerprint: str
    data_fingerprint: str
    split: dict[str, Any]  # effective method, fractions, row counts per role
    estimator_params: dict[str, Any]  # the estimator's resolved parameters (JSON-able)
    library_versions: dict[str, str] = field(default_factory=library_versions)
    created_at: datetime = field(default_factory=datetime.now)
    version: int | None = None  # the stored version (load_model); None for a model not read from the store
    transform: FittedTransform | None = None  # TRANSFORM(...), fitted; applied before `preprocessor`
    # With TRANSFORM: ML.FEATURE_INFO of the raw columns its features read (`feature_info` and `data_stats` then
    # describe its outputs, which the preprocessing reads); None without TRANSFORM, and for a version stored
    # before these were kept.
    input_info: tuple[dict, ...] | None = None
    # Classifiers: the label (class index, "y") and outputs ("proba") of each row `metrics` were computed on, in the
    # canonical order of toolkit.ml.inference.heads.canonical. A model loaded from the store has them once
    # toolkit.ml.store.versions.with_eval_scores has read them (only the ML.* functions reading the split do).
    eval_scores: dict[str, np.ndarray] | None = field(default=None, compare=False, repr=False)
    # KMEANS and PCA: the training rows' anomaly-score distribution ("quantiles", "values") and KMEANS's cluster
    # radii ("radii"), for ML.DETECT_ANOMALIES and ML.TRAINING_INFO (toolkit.ml.inference.anomalies).
    anomaly: dict[str, np.ndarray] | None = field(default=None, compare=False, repr=False)
    # Linear and tree models trained with ENABLE_GLOBAL_EXPLAIN: each input column's mean absolute attribution over
    # the eval rows (toolkit.ml.inference.attributions), for ML.GLOBAL_EXPLAIN; None otherwise.
    global_explain: dict[str, float] | None = field(default=None, compare=False, repr=False)
    # Their classifiers: per class (in the order of `classes`), each input column's mean absolute attribution
    # towards that class's score over the same rows, for ML.GLOBAL_EXPLAIN's class_level_explain; None otherwise,
    # and for a version stored before these were kept.
    class_global_explain: tuple[dict[str, float], ...] | None = field(default=None, compare=False, repr=False)
    # The training rows' distribution of each raw input feature, for ML.VALIDATE_DATA_SKEW
    # (toolkit.ml.features.distributions.training_statistics); stored beside the version, not loaded with it.
    training_statistics: tuple[dict, ...] | None = field(default=None, compare=False, repr=False)
    # A hyperparameter tuning trial other than the optimal one, loaded with `trial_id` (toolkit.ml.store.trials);
    # it predicts in Python. None for a version's own model.
    trial_id: int | None = None
    # ML.TRIAL_INFO's rows of the version, once toolkit.ml.store.trials.with_trials has read them.
    trials: tuple[dict, ...] | None = field(default=None, compare=False, repr=False)

    @property
    def model_type(self) -> ModelType:
        return MODEL_TYPES[self.options.model_type]

    @property
    def input_columns(self) -> list[str]:
        """The columns an input must have: the raw columns TRANSFORM reads, or without one the feature columns."""
        if self.transform is not None:
            return list(self.transform.inputs)
        return self.feature_columns

    @property
    def feature_columns(self) -> list[str]:
        """The columns the automatic preprocessing reads (TRANSFORM's feature outputs when there is one)."""
        return [column["name"] for column in self.feature_schema]


def jsonable_params(estimator: Any) -> dict[str, Any]:
    """The estimator's parameters that are plain JSON values (arrays such as a CUSTOM init become lists)."""
    out: dict[str, Any] = {}
    for key, value in estimator.get_params(deep=False).items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif isinstance(value, tuple):
            value = list(value)
        if value is None or isinstance(value, (str, bool, int, float, list)):
            out[key] = None if isinstance(value, float) and not np.isfinite(value) else value
            if isinstance(value, float) and np.isinf(value):
                out[key] = "inf" if value > 0 else "-inf"
    return {"estimator": type(estimator).__name__, **out}
