"""The one table of model types: MODEL_TYPE → scikit-learn estimator factory, task, option schema, capabilities.

`validate_options` checks a CREATE MODEL's OPTIONS against it: unknown names get a "did you mean", wrong values
name what the option accepts, options of other model types say which types they belong to, BigQuery options the
toolkit does not implement say why."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import ElasticNet, LinearRegression, LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor

from toolkit.errors import ConfigError, did_you_mean
from toolkit.ml.types import estimators as est
from toolkit.ml.types import hparams
from toolkit.ml.types.options import FROM_DATA, ModelOptions, OptionSpec
from toolkit.ml.types.tasks import TASKS, Family, Task, TaskSpec


def _spec(name: str, kind: str, default: Any = None, **kw: Any) -> OptionSpec:
    return OptionSpec(name, kind, default, **kw)


# Every option any supported model type takes, with BigQuery's defaults; model types override below.
_O = {s.name: s for s in [
    _spec("INPUT_LABEL_COLS", "str_list", ("label",), doc="the one label column"),
    _spec("DATA_SPLIT_METHOD", "enum", "AUTO_SPLIT", choices=("AUTO_SPLIT", "RANDOM", "CUSTOM", "SEQ", "NO_SPLIT")),
    _spec("DATA_SPLIT_EVAL_FRACTION", "float", 0.2, low=0.0, high=1.0, low_exclusive=True),
    _spec("DATA_SPLIT_TEST_FRACTION", "float", 0.0, low=0.0, high=1.0),
    _spec("DATA_SPLIT_COL", "str"),
    _spec("AUTO_CLASS_WEIGHTS", "bool", False),
    _spec("CLASS_WEIGHTS", "class_weights", low=0.0),
    _spec("L1_REG", "float", 0.0, low=0.0),
    _spec("L2_REG", "float", 0.0, low=0.0),
    _spec("MAX_ITERATIONS", "int", 20, low=1, high=100_000),
    _spec("EARLY_STOP", "bool", True),
    _spec("MIN_REL_PROGRESS", "float", 0.01, low=0.0, high=1.0),
    _spec("LEARN_RATE", "float", 0.1, low=0.0, low_exclusive=True),
    _spec("FIT_INTERCEPT", "bool", True),
    _spec("ENABLE_GLOBAL_EXPLAIN", "bool", False),
    _spec("CALCULATE_P_VALUES", "bool", False),
    _spec("WARM_START", "bool", False, refused={True: "every training starts from scratch"}),
    _spec("INSTANCE_WEIGHT_COL", "str", doc="a numeric column weighting each training row"),
    _spec("OPTIMIZE_STRATEGY", "enum", "AUTO_STRATEGY",
          choices=("AUTO_STRATEGY", "BATCH_GRADIENT_DESCENT", "NORMAL_EQUATION")),
    # The toolkit's own option (not BigQuery's): rows per chunk when gradient descent streams its design matrix
    # (toolkit.ml.training.stream); unset: chosen by size, 0: never.
    _spec("TOOLKIT_DESCENT_CHUNK_ROWS", "int", None, low=0, high=2**40,
          doc="the toolkit's option: rows per chunk of a streamed gradient descent (0: in memory)"),
    _spec("LEARN_RATE_STRATEGY", "enum", "LINE_SEARCH", choices=("LINE_SEARCH", "CONSTANT")),
    _spec("LS_INIT_LEARN_RATE", "float", 0.1, low=0.0, low_exclusive=True),
    _spec("CATEGORY_ENCODING_METHOD", "enum", "ONE_HOT_ENCODING", choices=("ONE_HOT_ENCODING", "DUMMY_ENCODING")),
    _spec("BOOSTER_TYPE", "enum", "GBTREE", choices=("GBTREE", "DART"),
          refused={"DART": "DART (dropping trees while boosting) is not in scikit-learn's HistGradientBoosting"}),
    _spec("NUM_PARALLEL_TREE", "int", 1, low=1, high=10_000),
    _spec("MAX_TREE_DEPTH", "int", 6, low=1, high=100),
    _spec("MIN_TREE_CHILD_WEIGHT", "int", 1, low=0, high=1_000_000),
    _spec("SUBSAMPLE", "float", 1.0, low=0.0, high=1.0, low_exclusive=True),
    _spec("COLSAMPLE_BYTREE", "float", 1.0, low=0.0, high=1.0, low_exclusive=True,
          only_default="scikit-learn's trees sample features per split only (use COLSAMPLE_BYNODE)"),
    _spec("COLSAMPLE_BYLEVEL", "float", 1.0, low=0.0, high=1.0, low_exclusive=True,
          only_default="scikit-learn's trees sample features per split only (use COLSAMPLE_BYNODE)"),
    _spec("COLSAMPLE_BYNODE", "float", 1.0, low=0.0, high=1.0, low_exclusive=True),
    _spec("MIN_SPLIT_LOSS", "float", 0.0, low=0.0, only_default="scikit-learn's trees have no minimum split gain"),
    _spec("TREE_METHOD", "enum", "AUTO", choices=("AUTO", "EXACT", "APPROX", "HIST")),
    _spec("HIDDEN_UNITS", "int_list", FROM_DATA, low=1, high=100_000),
    _spec("ACTIVATION_FN", "enum", "RELU", choices=("RELU", "RELU6", "CRELU", "ELU", "SELU", "SIGMOID", "TANH"),
          refused={a: "scikit-learn's MLP offers RELU, SIGMOID and TANH" for a in ("RELU6", "CRELU", "ELU", "SELU")}),
    _spec("OPTIMIZER", "enum", "ADAM", choices=("ADAGRAD", "ADAM", "FTRL", "RMSPROP", "SGD"),
          refused={o: "scikit-learn's MLP offers ADAM and SGD" for o in ("ADAGRAD", "FTRL", "RMSPROP")}),
    _spec("BATCH_SIZE", "int", FROM_DATA, low=1, high=10_000_000),
    _spec("DROPOUT", "float", 0.0, low=0.0, high=1.0, only_default="scikit-learn's MLP has no dropout"),
    _spec("NUM_CLUSTERS", "int", FROM_DATA, low=2, high=100),
    _spec("KMEANS_INIT_METHOD", "enum", "RANDOM", choices=("RANDOM", "KMEANS++", "CUSTOM")),
    _spec("KMEANS_INIT_COL", "str"),
    _spec("DISTANCE_TYPE", "enum", "EUCLIDEAN", choices=("EUCLIDEAN", "COSINE")),
    _spec("STANDARDIZE_FEATURES", "bool", True),
    _spec("NUM_PRINCIPAL_COMPONENTS", "int", None, low=1, high=10_000),
    _spec("PCA_EXPLAINED_VARIANCE_RATIO", "float", None, low=0.0, high=1.0, low_exclusive=True),
    _spec("SCALE_FEATURES", "bool", True),
    _spec("PCA_SOLVER", "enum", "AUTO", choices=("FULL", "RANDOMIZED", "AUTO")),
    # Hyperparameter tuning (toolkit.ml.types.hparams): https://cloud.google.com/bigquery/docs/hp-tuning-overview
    _spec("NUM_TRIALS", "int", None, low=1, high=hparams.MAX_NUM_TRIALS),
    _spec("MAX_PARALLEL_TRIALS", "int", 1, low=1, high=hparams.MAX_PARALLEL_TRIALS),
    _spec("HPARAM_TUNING_ALGORITHM", "enum", "VIZIER_DEFAULT", choices=("VIZIER_DEFAULT", "RANDOM_SEARCH", "GRID_SEARCH")),
    _spec("HPARAM_TUNING_OBJECTIVES", "str_list", None),
    # The toolkit's own options (not BigQuery's): the costs of the objective TOOLKIT_EXPECTED_COST (tuning/costs.py)
    *(_spec(name, "float", None, low=0.0, doc=f"the toolkit's option: the cost of a {kind} for the tuning "
            f"objective {hparams.EXPECTED_COST}")
      for name, kind in zip(hparams.COST_OPTIONS, ("false negative", "false positive"))),
]}

_SPLIT = ("DATA_SPLIT_METHOD", "DATA_SPLIT_EVAL_FRACTION", "DATA_SPLIT_TEST_FRACTION", "DATA_SPLIT_COL")
_SUPERVISED = ("INPUT_LABEL_COLS", *_SPLIT, "MAX_ITERATIONS", "EARLY_STOP", "MIN_REL_PROGRESS",
               "ENABLE_GLOBAL_EXPLAIN", "WARM_START")
_WEIGHTS = ("AUTO_CLASS_WEIGHTS", "CLASS_WEIGHTS")
_LINEAR = (*_SUPERVISED, "L1_REG", "L2_REG", "FIT_INTERCEPT", "CALCULATE_P_VALUES", "OPTIMIZE_STRATEGY",
           "LEARN_RATE_STRATEGY", "LEARN_RATE", "LS_INIT_LEARN_RATE", "CATEGORY_ENCODING_METHOD", "INSTANCE_WEIGHT_COL",
           "TOOLKIT_DESCENT_CHUNK_ROWS")
# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-random-forest: a random
# forest is one XGBoost round of NUM_PARALLEL_TREE trees, so it has no MAX_ITERATIONS.
_FOREST = (*(n for n in _SUPERVISED if n != "MAX_ITERATIONS"), "L1_REG", "L2_REG", "NUM_PARALLEL_TREE",
           "MAX_TREE_DEPTH", "MIN_TREE_CHILD_WEIGHT",
           "SUBSAMPLE", "COLSAMPLE_BYTREE", "COLSAMPLE_BYLEVEL", "COLSAMPLE_BYNODE", "MIN_SPLIT_LOSS", "TREE_METHOD",
           "CATEGORY_ENCODING_METHOD")
_BOOSTED = ("MAX_ITERATIONS", *_FOREST, "BOOSTER_TYPE", "LEARN_RATE")
_DNN = (*_SUPERVISED, "L1_REG", "L2_REG", "HIDDEN_UNITS", "ACTIVATION_FN", "OPTIMIZER", "BATCH_SIZE", "DROPOUT",
        "LEARN_RATE")
_KMEANS = ("NUM_CLUSTERS", "KMEANS_INIT_METHOD", "KMEANS_INIT_COL", "DISTANCE_TYPE", "STANDARDIZE_FEATURES",
           "MAX_ITERATIONS", "EARLY_STOP", "MIN_REL_PROGRESS", "WARM_START")
_PCA = ("NUM_PRINCIPAL_COMPONENTS", "PCA_EXPLAINED_VARIANCE_RATIO", "SCALE_FEATURES", "PCA_SOLVER")

_TREE_ENCODINGS = replace(
    _O["CATEGORY_ENCODING_METHOD"], default="LABEL_ENCODING",
    choices=("LABEL_ENCODING", "TARGET_ENCODING", "ONE_HOT_ENCODING"),
    refused={"TARGET_ENCODING": "target encoding is not implemented; LABEL_ENCODING or ONE_HOT_ENCODING work"},
)
_HIST_ONLY = "the toolkit's trees are scikit-learn's histogram-based ones (AUTO or HIST)"
_BOOSTED_OVERRIDES = {
    "LEARN_RATE": replace(_O["LEARN_RATE"], default=0.3),
    "L2_REG": replace(_O["L2_REG"], default=1.0),  # XGBoost's reg_lambda = HistGradientBoosting's l2_regularization
    "L1_REG": replace(_O["L1_REG"], only_default="scikit-learn's gradient boosting has L2 regularization only"),
    "NUM_PARALLEL_TREE": replace(_O["NUM_PARALLEL_TREE"], only_default="boosted random forests are not "
                                 "implemented; use RANDOM_FOREST_CLASSIFIER or RANDOM_FOREST_REGRESSOR"),
    "SUBSAMPLE": replace(_O["SUBSAMPLE"], only_default="scikit-learn's HistGradientBoosting has no row subsampling: "
                         "every tree sees every training row"),
    "CATEGORY_ENCODING_METHOD": _TREE_ENCODINGS,
    "TREE_METHOD": replace(_O["TREE_METHOD"], refused={"EXACT": _HIST_ONLY, "APPROX": _HIST_ONLY}),
}
_FOREST_OVERRIDES = {
    "NUM_PARALLEL_TREE": replace(_O["NUM_PARALLEL_TREE"], default=100, low=2),  # BigQuery: at least 2
    "MAX_TREE_DEPTH": replace(_O["MAX_TREE_DEPTH"], default=15),
    "SUBSAMPLE": replace(_O["SUBSAMPLE"], default=0.8),
    "COLSAMPLE_BYNODE": replace(_O["COLSAMPLE_BYNODE"], default=0.8),
    "L1_REG": replace(_O["L1_REG"], only_default="scikit-learn's random forest has no regularization term"),
    # BigQuery's default 1.0, the only value taken: scikit-learn's forest leaves are plain means (see the README).
    "L2_REG": replace(_O["L2_REG"], default=1.0, only_default="scikit-learn's random forest has no regularization "
                      "term"),
    "CATEGORY_ENCODING_METHOD": _TREE_ENCODINGS,
    "TREE_METHOD": replace(_O["TREE_METHOD"], refused=dict.fromkeys(
        ("APPROX", "HIST"), "scikit-learn's forests try every threshold (EXACT); they have no histogram or sketch")),
}
_FOREST_ABSENT = {"MAX_ITERATIONS": "a random forest is trained in one iteration of NUM_PARALLEL_TREE parallel trees; "
                  "set NUM_PARALLEL_TREE for more trees"}
# https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-boosted-tree: DROPOUT and
# DART_NORMALIZE_TYPE configure BOOSTER_TYPE = 'DART', which scikit-learn's gradient boosting cannot express.
_NO_DART = "DART (dropping trees while boosting) is not in scikit-learn's HistGradientBoosting"
_BOOSTED_ABSENT = {"DROPOUT": f"it is DART's tree drop rate; {_NO_DART}"}
_WARM_START_TAKEN: dict[str, OptionSpec] = {"WARM_START": replace(_O["WARM_START"], refused={})}
_DNN_OVERRIDES = {
    **_WARM_START_TAKEN,
    "LEARN_RATE": replace(_O["LEARN_RATE"], default=0.001),
    "L1_REG": replace(_O["L1_REG"], only_default="scikit-learn's MLP has L2 regularization only"),
}
_LINEAR_OVERRIDES = _WARM_START_TAKEN
_LOGISTIC_OVERRIDES = {
    **_LINEAR_OVERRIDES,
    "OPTIMIZE_STRATEGY": replace(_O["OPTIMIZE_STRATEGY"],
                                 refused={"NORMAL_EQUATION": "logistic regression has no closed-form solution"}),
}


@dataclass(frozen=True)
class ModelType:
    """One MODEL_TYPE: its estimator factory, task, options and capabilities."""

    name: str
    task: Task
    factory: Callable[..., Any]  # (ModelOptions, est.FitContext) -> unfitted scikit-learn estimator
    options: Mapping[str, OptionSpec]
    uses_standardization: bool  # numeric features are standardized (KMEANS/PCA: per their option)
    is_tree: bool  # categoricals label-encoded by default, numerics left as they are; ML.FEATURE_IMPORTANCE
    estimator: str  # the scikit-learn class, for documentation and messages
    has_weights: bool = False  # a linear model: ML.WEIGHTS, and ML.EXPLAIN_PREDICT from its weights
    not_compiled: str | None = None  # why ML.PREDICT of this type runs in Python, not as SQL; None: compiled
    estimator_classes: tuple[type, ...] = ()  # the classes its factory builds: a stored artifact must be one
    max_classes: int = 1_000  # a classifier's label classes at most (BigQuery: 1,000; logistic regression 50)
    absent_options: Mapping[str, str] = field(default_factory=dict)  # options other types take: why this one does not

    @property
    def family(self) -> Family:
        """The estimator family, e.g. boosted_tree or dnn: the name of its factory."""
        return Family(self.factory.__name__)

    @property
    def spec(self) -> TaskSpec:
        """What its task decides: label, metric names."""
        return TASKS[self.task]

    @property
    def has_label(self) -> bool:
        return self.spec.has_label

    @property
    def compilable(self) -> bool:
        return self.not_compiled is None

    @property
    def explainable(self) -> bool:
        """ML.EXPLAIN_PREDICT and ML.GLOBAL_EXPLAIN apply: attributions from weights or from trees."""
        return self.has_weights or self.is_tree


def _model(name: str, task: Task, factory: Callable[..., Any], names: tuple[str, ...], *, estimator: str,
           classes: tuple[type, ...], overrides: Mapping[str, OptionSpec] = MappingProxyType({}),
           standardize: bool = True, tree: bool = False, weights: bool = False,
           not_compiled: str | None = None, max_classes: int = 1_000,
           absent: Mapping[str, str] = MappingProxyType({})) -> ModelType:
    options = {n: overrides.get(n, _O[n]) for n in names}
    if task is Task.CLASSIFICATION:
        options.update({n: _O[n] for n in _WEIGHTS})
    if name in hparams.TUNABLE:
        options.update({n: _O[n] for n in hparams.TUNING_OPTIONS})
        if task is Task.CLASSIFICATION:
            options.update({n: _O[n] for n in hparams.COST_OPTIONS})
    return ModelType(name, task, factory, MappingProxyType(options), standardize, tree, estimator, weights,
                     not_compiled, classes, max_classes, MappingProxyType(dict(absent)))


_PYTHON_ONLY = "{} models are not compiled to SQL"
MODEL_TYPES: Mapping[str, ModelType] = MappingProxyType({m.name: m for m in [
    _model("LINEAR_REG", Task.REGRESSION, est.linear_reg, _LINEAR, overrides=_LINEAR_OVERRIDES,
           weights=True, estimator="LinearRegression | Ridge (normal equation) | ElasticNet (L1) | Ridge(solver='lsqr')",
           classes=(LinearRegression, Ridge, ElasticNet)),
    _model("LOGISTIC_REG", Task.CLASSIFICATION, est.logistic_reg, _LINEAR, overrides=_LOGISTIC_OVERRIDES,
           weights=True, estimator="LogisticRegression (lbfgs; saga with L1)", classes=(LogisticRegression,),
           max_classes=50),
    _model("BOOSTED_TREE_CLASSIFIER", Task.CLASSIFICATION, est.boosted_tree, _BOOSTED, overrides=_BOOSTED_OVERRIDES,
           absent=_BOOSTED_ABSENT, standardize=False, tree=True, estimator="HistGradientBoostingClassifier",
           classes=(HistGradientBoostingClassifier,)),
    _model("BOOSTED_TREE_REGRESSOR", Task.REGRESSION, est.boosted_tree, _BOOSTED, overrides=_BOOSTED_OVERRIDES,
           absent=_BOOSTED_ABSENT, standardize=False, tree=True, estimator="HistGradientBoostingRegressor",
           classes=(HistGradientBoostingRegressor,)),
    _model("RANDOM_FOREST_CLASSIFIER", Task.CLASSIFICATION, est.random_forest, _FOREST, overrides=_FOREST_OVERRIDES,
           absent=_FOREST_ABSENT, standardize=False, tree=True, estimator="RandomForestClassifier",
           classes=(RandomForestClassifier,)),
    _model("RANDOM_FOREST_REGRESSOR", Task.REGRESSION, est.random_forest, _FOREST, overrides=_FOREST_OVERRIDES,
           absent=_FOREST_ABSENT, standardize=False, tree=True, estimator="RandomForestRegressor",
           classes=(RandomForestRegressor,)),
    _model("DNN_CLASSIFIER", Task.CLASSIFICATION, est.dnn, _DNN, overrides=_DNN_OVERRIDES, estimator="MLPClassifier",
           classes=(MLPClassifier,), not_compiled=_PYTHON_ONLY.format("DNN_CLASSIFIER")),
    _model("DNN_REGRESSOR", Task.REGRESSION, est.dnn, _DNN, overrides=_DNN_OVERRIDES, estimator="MLPRegressor",
           classes=(MLPRegressor,), not_compiled=_PYTHON_ONLY.format("DNN_REGRESSOR")),
    _model("KMEANS", Task.CLUSTERING, est.kmeans, _KMEANS, overrides=_WARM_START_TAKEN, estimator="KMeans",
           classes=(KMeans,)),
    _model("PCA", Task.DECOMPOSITION, est.pca, _PCA, estimator="PCA", classes=(PCA,)),
    # TRANSFORM(…) fitted and stored, nothing else: ML.TRANSFORM applies it; no option besides MODEL_TYPE.
    _model("TRANSFORM_ONLY", Task.TRANSFORM, est.transform_only, (), standardize=False,
           estimator="none (TRANSFORM only)", classes=(), not_compiled=_PYTHON_ONLY.format("TRANSFORM_ONLY")),
]})

# BigQuery ML model types the toolkit does not train (yet), and options only they take.
# BigQuery ML model types the toolkit does not emulate, with what each one is. Source: the CREATE MODEL page,
# https://cloud.google.com/bigquery-ml/docs/reference/standard-sql/bigqueryml-syntax-create (MODEL_TYPE list).
NOT_EMULATED_MODEL_TYPES = {
    "DNN_LINEAR_COMBINED_CLASSIFIER": "Wide & Deep classifier", "DNN_LINEAR_COMBINED_REGRESSOR": "Wide & Deep regressor",
    "MATRIX_FACTORIZATION": "matrix factorization", "AUTOENCODER": "autoencoder",
    "ARIMA_PLUS": "time-series forecasting", "ARIMA_PLUS_XREG": "time-series forecasting with regressors",
    "AUTOML_CLASSIFIER": "AutoML (Vertex AI) classifier", "AUTOML_REGRESSOR": "AutoML (Vertex AI) regressor",
    "TENSORFLOW": "imported TensorFlow model", "TENSORFLOW_LITE": "imported TensorFlow Lite model",
    "ONNX": "imported ONNX model", "XGBOOST": "imported XGBoost model",
    "CONTRIBUTION_ANALYSIS": "contribution analysis",
}
_OTHER_MODEL_OPTIONS = {
    **dict.fromkeys(("FEEDBACK_TYPE", "NUM_FACTORS", "USER_COL", "ITEM_COL", "RATING_COL", "WALS_ALPHA"),
                    "MATRIX_FACTORIZATION"),
    **dict.fromkeys(("TIME_SERIES_TIMESTAMP_COL", "TIME_SERIES_DATA_COL", "TIME_SERIES_ID_COL", "HORIZON",
                     "AUTO_ARIMA", "HOLIDAY_REGION", "DATA_FREQUENCY", "CLEAN_SPIKES_AND_DIPS"), "ARIMA_PLUS"),
    "BUDGET_HOURS": "AUTOML_CLASSIFIER, AUTOML_REGRESSOR", "MODEL_PATH": "TENSORFLOW, ONNX, XGBOOST",
}
# BigQuery options that exist for these model types but that the toolkit refuses, with the reason.
REFUSED_OPTIONS = {
    "INSTANCE_WEIGHT_COL": "instance weights are implemented for LINEAR_REG and LOGISTIC_REG only",
    "INTEGRATED_GRADIENTS_NUM_STEPS": "explanation methods are not implemented yet",
    "APPROX_GLOBAL_FEATURE_CONTRIB": "explanation methods are not implemented yet",
    "XGBOOST_VERSION": "boosted trees are trained by scikit-learn, not XGBoost",
    "TF_VERSION": "DNNs are trained by scikit-learn's MLP, not TensorFlow",
    "DART_NORMALIZE_TYPE": "it configures BOOSTER_TYPE = 'DART', and DART (dropping trees while boosting) is not in "
                           "scikit-learn's HistGradientBoosting",
    **dict.fromkeys(("MODEL_REGISTRY", "VERTEX_AI_MODEL_ID", "VERTEX_AI_MODEL_VERSION_ALIASES", "KMS_KEY_NAME"),
                    "it configures a BigQuery/Vertex AI service that does not exist in a local warehouse"),
}


def _known_names() -> set[str]:
    names = {"MODEL_TYPE", *_OTHER_MODEL_OPTIONS, *REFUSED_OPTIONS}
    for model_type in MODEL_TYPES.values():
        names.update(model_type.options)
    return names


def model_type_of(model: str, value: object) -> ModelType:
    """The ModelType named by a MODEL_TYPE value, or a ConfigError with a did-you-mean."""
    if not isinstance(value, str):
        raise ConfigError(f"model {model}: MODEL_TYPE = {value!r} is not a string",
                          hint="write e.g. MODEL_TYPE = 'LINEAR_REG'")
    name = value.upper()
    if name in MODEL_TYPES:
        return MODEL_TYPES[name]
    supported = ", ".join(MODEL_TYPES)
    if name in NOT_EMULATED_MODEL_TYPES:
        raise ConfigError(f"model {model}: MODEL_TYPE '{value}' ({NOT_EMULATED_MODEL_TYPES[name]}) is a BigQuery ML "
                          "model type the toolkit does not emulate; not emulated: "
                          f"{', '.join(NOT_EMULATED_MODEL_TYPES)}", hint=f"use one of {supported}")
    raise ConfigError(f"model {model}: unknown MODEL_TYPE '{value}'{did_you_mean(name, MODEL_TYPES)}",
                      hint=f"use one of {supported}")


def validate_options(model: str, raw: Mapping[str, object]) -> ModelOptions:
    """Check OPTIONS(...) of model `model` (names in any case) and fill in the defaults."""
    given: dict[str, object] = {}
    for key, value in raw.items():
        name = str(key).upper()
        if name in given:
            raise ConfigError(f"model {model}: option {name} is given twice", hint=f"keep one {name}")
        given[name] = value
    if "MODEL_TYPE" not in given:
        raise ConfigError(f"model {model}: OPTIONS has no MODEL_TYPE",
                          hint=f"add MODEL_TYPE = '…', one of {', '.join(MODEL_TYPES)}")
    model_type = model_type_of(model, given.pop("MODEL_TYPE"))
    values = {name: spec.default for name, spec in model_type.options.items()}
    space: dict[str, Any] = {}
    for name, value in given.items():
        spec = model_type.options.get(name)
        if spec is None:
            raise _not_an_option(model, model_type, name)
        if hparams.is_search_space(value):
            space[name] = hparams.check_space(model, model_type.name, spec, value)
        else:
            values[name] = spec.coerce(model, value)
    space = _check_tuning(model, model_type, values, set(given), space)
    _check_together(model, model_type, values, set(given) - set(space))
    return ModelOptions(model, model_type.name, MappingProxyType(values), frozenset(given), MappingProxyType(space))


def _check_tuning(model: str, model_type: ModelType, values: dict[str, Any], given: set[str],
                  space: dict[str, Any]) -> dict[str, Any]:
    """The search space (BigQuery's default one for NUM_TRIALS alone), and the tuning options' rules; the objective
    resolved into HPARAM_TUNING_OBJECTIVES (https://cloud.google.com/bigquery/docs/hp-tuning-overview)."""
    if "NUM_TRIALS" not in given:
        written = sorted(space) or sorted(set(hparams.TUNING_OPTIONS + hparams.COST_OPTIONS) & given)
        if written:
            what = f"{written[0]} = HPARAM_RANGE/HPARAM_CANDIDATES" if space else f"option {written[0]}"
            hint = "add NUM_TRIALS = <number of trials, 1 to 100>, or give one value"
            if written[0] in hparams.COST_OPTIONS:
                hint = (f"add NUM_TRIALS = <number of trials, 1 to 100> and HPARAM_TUNING_OBJECTIVES = "
                        f"['{hparams.EXPECTED_COST}'], or remove {written[0]}")
            raise ConfigError(f"model {model}: {what} is for hyperparameter tuning, which needs NUM_TRIALS", hint=hint)
        return space
    space = space or hparams.default_space(model_type.name, model_type.options)
    if not space:
        raise ConfigError(f"model {model}: NUM_TRIALS is set but there is nothing to tune",
                          hint="write a hyperparameter as HPARAM_RANGE(min, max) or HPARAM_CANDIDATES([…])")
    if values["HPARAM_TUNING_ALGORITHM"] == "GRID_SEARCH":
        ranged = [n for n, s in space.items() if "range" in s]
        if ranged:
            raise ConfigError(f"model {model}: HPARAM_TUNING_ALGORITHM = 'GRID_SEARCH' searches candidates only, but "
                              f"{ranged[0]} is a range", hint=f"write {ranged[0]} = HPARAM_CANDIDATES([…]), or use "
                              "'VIZIER_DEFAULT' or 'RANDOM_SEARCH'")
    if values["MAX_PARALLEL_TRIALS"] > values["NUM_TRIALS"]:
        raise ConfigError(f"model {model}: MAX_PARALLEL_TRIALS ({values['MAX_PARALLEL_TRIALS']}) is more than "
                          f"NUM_TRIALS ({values['NUM_TRIALS']})", hint="make MAX_PARALLEL_TRIALS at most NUM_TRIALS")
    chosen = hparams.objective(model, model_type.name, model_type.task, values["HPARAM_TUNING_OBJECTIVES"])
    values["HPARAM_TUNING_OBJECTIVES"] = (chosen,)
    hparams.check_cost_options(model, chosen, values, given)
    return space


def _not_an_option(model: str, model_type: ModelType, name: str) -> ConfigError:
    if name in model_type.absent_options:
        return ConfigError(f"model {model}: option {name} does not apply to {model_type.name}: "
                           f"{model_type.absent_options[name]}", hint=f"remove {name}")
    if name in REFUSED_OPTIONS:
        return ConfigError(f"model {model}: option {name} is not supported: {REFUSED_OPTIONS[name]}",
                           hint=f"remove {name}")
    owners = [m.name for m in MODEL_TYPES.values() if name in m.options] or [_OTHER_MODEL_OPTIONS.get(name)]
    if owners != [None]:
        return ConfigError(f"model {model}: option {name} applies to {', '.join(owners)}, not to {model_type.name}",
                           hint=f"remove {name}, or change MODEL_TYPE")
    close = did_you_mean(name, model_type.options) or did_you_mean(name, _known_names())
    return ConfigError(f"model {model}: unknown option {name}{close}",
                       hint=f"{model_type.name} takes: {', '.join(sorted(model_type.options))}")


def _check_linear(fail: Callable[[str, str], None], values: dict[str, Any], given: set[str]) -> None:
    """LEARN_RATE goes with CONSTANT, LS_INIT_LEARN_RATE with LINE_SEARCH, and iteration options with gradient
    descent (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm)."""
    strategy = values["LEARN_RATE_STRATEGY"]
    if strategy == "LINE_SEARCH" and "LEARN_RATE" in given:
        fail("LEARN_RATE is the step of LEARN_RATE_STRATEGY 'CONSTANT'; with 'LINE_SEARCH' (the default) the line "
             "search picks each step", "remove LEARN_RATE, or set LEARN_RATE_STRATEGY = 'CONSTANT' (or use "
             "LS_INIT_LEARN_RATE for the line search's first step)")
    if strategy == "CONSTANT" and "LS_INIT_LEARN_RATE" in given:
        fail("LS_INIT_LEARN_RATE is used only with LEARN_RATE_STRATEGY 'LINE_SEARCH'",
             "remove LS_INIT_LEARN_RATE, or set LEARN_RATE_STRATEGY = 'LINE_SEARCH'")
    if values["CALCULATE_P_VALUES"]:  # ML.ADVANCED_WEIGHTS' requirements; L2_REG: the toolkit's (see pvalues.py)
        if values["CATEGORY_ENCODING_METHOD"] != "DUMMY_ENCODING":
            fail("CALCULATE_P_VALUES needs CATEGORY_ENCODING_METHOD = 'DUMMY_ENCODING' (one-hot encoding with an "
                 "intercept has no unique weights)", "add CATEGORY_ENCODING_METHOD = 'DUMMY_ENCODING'")
        for name in ("L1_REG", "L2_REG"):
            if values[name]:
                fail(f"CALCULATE_P_VALUES needs {name} = 0 (standard errors of penalized weights are not meaningful)",
                     f"remove {name}, or CALCULATE_P_VALUES")
    if values["OPTIMIZE_STRATEGY"] == "NORMAL_EQUATION":
        iterative = [n for n in est.ITERATION_OPTIONS if n in given] + ["WARM_START"] * bool(values["WARM_START"])
        if iterative:
            fail(f"{iterative[0]} acts on gradient descent's iterations, but OPTIMIZE_STRATEGY = 'NORMAL_EQUATION' "
                 "solves in one step", f"remove {iterative[0]}, or set OPTIMIZE_STRATEGY = 'BATCH_GRADIENT_DESCENT'")


def _check_together(model: str, model_type: ModelType, values: dict[str, Any], given: set[str]) -> None:
    """Rules that involve several options."""

    def fail(message: str, hint: str) -> None:
        raise ConfigError(f"model {model}: {message}", hint=hint)

    if len(values.get("INPUT_LABEL_COLS") or ()) > 1:
        fail("INPUT_LABEL_COLS names more than one column", "BigQuery ML models take one label: name one column")
    if {"AUTO_CLASS_WEIGHTS", "CLASS_WEIGHTS"} <= given and values["AUTO_CLASS_WEIGHTS"]:
        fail("AUTO_CLASS_WEIGHTS and CLASS_WEIGHTS are both set", "keep one of them")
    method = values.get("DATA_SPLIT_METHOD")
    if method is not None:
        if method in ("CUSTOM", "SEQ") and not values["DATA_SPLIT_COL"]:
            fail(f"DATA_SPLIT_METHOD = '{method}' needs DATA_SPLIT_COL", "add DATA_SPLIT_COL = 'column_name'")
        if method not in ("CUSTOM", "SEQ") and "DATA_SPLIT_COL" in given:
            fail(f"DATA_SPLIT_COL is used only with DATA_SPLIT_METHOD 'CUSTOM' or 'SEQ', not '{method}'",
                 "remove DATA_SPLIT_COL, or set DATA_SPLIT_METHOD = 'CUSTOM' or 'SEQ'")
        fractions = {"DATA_SPLIT_EVAL_FRACTION", "DATA_SPLIT_TEST_FRACTION"} & given
        if fractions and method not in ("RANDOM", "SEQ"):
            fail(f"{sorted(fractions)[0]} is used only with DATA_SPLIT_METHOD 'RANDOM' or 'SEQ', not '{method}'",
                 "remove it, or set DATA_SPLIT_METHOD = 'RANDOM'")
        for name in ("DATA_SPLIT_EVAL_FRACTION", "DATA_SPLIT_TEST_FRACTION"):
            values[name] = round(values[name], 2)  # BigQuery keeps two decimals
        if values["DATA_SPLIT_EVAL_FRACTION"] + values["DATA_SPLIT_TEST_FRACTION"] >= 1.0:
            fail("DATA_SPLIT_EVAL_FRACTION + DATA_SPLIT_TEST_FRACTION leave no training rows",
                 "make their sum less than 1")
    if values.get("OPTIMIZE_STRATEGY") == "NORMAL_EQUATION" and values.get("L1_REG"):
        fail("L1_REG needs OPTIMIZE_STRATEGY 'BATCH_GRADIENT_DESCENT' (the normal equation has no L1 term)",
             "remove OPTIMIZE_STRATEGY, or L1_REG")
    if model_type.has_weights:
        _check_linear(fail, values, given)
    if model_type.name == "KMEANS":
        custom = values["KMEANS_INIT_METHOD"] == "CUSTOM"
        if custom != bool(values["KMEANS_INIT_COL"]):
            fail("KMEANS_INIT_METHOD = 'CUSTOM' and KMEANS_INIT_COL go together",
                 "set both (KMEANS_INIT_COL names a BOOL column, TRUE for the initial centroids) or neither")
    if model_type.name == "PCA":
        chosen = [n for n in ("NUM_PRINCIPAL_COMPONENTS", "PCA_EXPLAINED_VARIANCE_RATIO") if values[n] is not None]
        if len(chosen) != 1:
            fail("PCA needs exactly one of NUM_PRINCIPAL_COMPONENTS and PCA_EXPLAINED_VARIANCE_RATIO",
                 "set e.g. NUM_PRINCIPAL_COMPONENTS = 2, or PCA_EXPLAINED_VARIANCE_RATIO = 0.9")
