"""BigQuery ML on scikit-learn, in sub-packages that follow the pipeline (see README.md beside this file):
types (the model-type registry), features (automatic preprocessing and TRANSFORM), training, inference,
functions (one module per ML.* family), compile (fitted model → SQL) and store (the model store in `_toolkit`).

    training = train_model(con, name="m", options={"model_type": "LOGISTIC_REG"}, query="SELECT ...")
    version = save_model(con, training)  # training.model (frozen) and training.compiled (its prediction as SQL)
    predict(load_model(con, "m"), arrow_table)

The names below load on first use, so importing `toolkit.ml` (or a sub-package) costs nothing until then."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "MODEL_TYPES": "toolkit.ml.types.registry",
    "ModelType": "toolkit.ml.types.registry",
    "validate_options": "toolkit.ml.types.registry",
    "TrainedModel": "toolkit.ml.model",
    "predict": "toolkit.ml.inference.predict",
    "ModelSummary": "toolkit.ml.store.versions",
    "list_models": "toolkit.ml.store.versions",
    "load_model": "toolkit.ml.store.versions",
    "load_prediction": "toolkit.ml.store.versions",
    "model_exists": "toolkit.ml.store.versions",
    "save_model": "toolkit.ml.store.versions",
    "Training": "toolkit.ml.training.train",
    "train_model": "toolkit.ml.training.train",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
