"""BigQuery ML on scikit-learn: model types and options (registry), TRANSFORM(…) (transform) and automatic
preprocessing, splits, training, evaluation metrics, prediction, and the model store in the warehouse's `_toolkit`
schema.

    trained = train_model(con, name="m", options={"model_type": "LOGISTIC_REG"}, query="SELECT ...")
    version = save_model(con, trained)
    predict(load_model(con, "m"), arrow_table)
"""

from toolkit.ml.model import TrainedModel
from toolkit.ml.predict import predict
from toolkit.ml.registry import MODEL_TYPES, ModelType, validate_options
from toolkit.ml.store import ModelSummary, list_models, load_model, save_model
from toolkit.ml.train import train_model

__all__ = ["MODEL_TYPES", "ModelSummary", "ModelType", "TrainedModel", "list_models", "load_model", "predict",
           "save_model", "train_model", "validate_options"]
