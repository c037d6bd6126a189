"""Translation of validated OPTIONS to scikit-learn estimators, one factory per model family.

Regularization follows one convention for every linear model: the training objective is
    sum over rows of loss  +  L1_REG * ||w||_1  +  L2_REG * ||w||_2^2      (the intercept is not penalized)
so L2_REG is Ridge's alpha, LogisticRegression gets C = 1 / (L1_REG + 2 * L2_REG), and ElasticNet's mean-loss
parameters are derived from it. LINEAR_REG by the normal equation is fitted by scikit-learn; LINEAR_REG by
gradient descent and LOGISTIC_REG are fitted by the toolkit's descent (toolkit.ml.training.descent), which fills
in the fitted attributes of the estimator built here (its parameters state the objective). EARLY_STOP = FALSE sets
a solver's tolerance to 0 (all MAX_ITERATIONS run); MIN_REL_PROGRESS is applied by the toolkit itself where it
drives the iterations (linear models, boosted trees, DNN) and as KMeans' relative tolerance."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
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

from toolkit.errors import ModelError
from toolkit.ml.types.options import FROM_DATA, ModelOptions
from toolkit.ml.types.tasks import Family

# OPTIMIZE_STRATEGY = AUTO_STRATEGY picks gradient descent above this many encoded features (BigQuery's rule).
MAX_NORMAL_EQUATION_FEATURES = 10_000
_SOLVER_TOL = 1e-4


@dataclass(frozen=True)
class FitContext:
    """What a factory needs to know about the data besides the options."""

    seed: int
    n_rows: int  # training rows
    n_features: int  # encoded width of the design matrix
    n_inputs: int  # input columns before encoding
    n_classes: int = 0  # 0 for regression and unsupervised models
    init_centroids: np.ndarray | None = None  # KMEANS_INIT_METHOD = 'CUSTOM'


# The families whose estimator fits (and predicts) the same model from a scipy.sparse CSR design matrix: linear and
# logistic regression by the toolkit's gradient descent (and linear prediction), scikit-learn's MLP and KMeans.
# Trees keep their dense label-encoded columns; PCA and the normal equation keep the dense matrix their solvers
# read exactly.
SPARSE_FAMILIES = frozenset({Family.LINEAR_REG, Family.LOGISTIC_REG, Family.DNN, Family.KMEANS})


def accepts_sparse(family: Family) -> bool:
    return family in SPARSE_FAMILIES


def _tol(options: ModelOptions) -> float:
    return _SOLVER_TOL if options["EARLY_STOP"] else 0.0


# Options that only iterations act on: given with AUTO_STRATEGY, they choose gradient descent (the toolkit's rule,
# so that they act); with NORMAL_EQUATION they are refused (toolkit.ml.types.registry).
ITERATION_OPTIONS = ("LEARN_RATE_STRATEGY", "LEARN_RATE", "LS_INIT_LEARN_RATE", "MAX_ITERATIONS", "EARLY_STOP",
                     "MIN_REL_PROGRESS")


def optimize_strategy(options: ModelOptions, ctx: FitContext) -> str:
    """NORMAL_EQUATION or BATCH_GRADIENT_DESCENT, as BigQuery's AUTO_STRATEGY decides: gradient descent when L1_REG
    or WARM_START is set, above 10,000 encoded features, or with fewer rows than 10 per feature
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm#optimize_strategy);
    also when an option that acts on iterations is given. LOGISTIC_REG has no normal equation."""
    strategy = options["OPTIMIZE_STRATEGY"]
    if options.model_type == "LOGISTIC_REG":
        return "BATCH_GRADIENT_DESCENT"
    if strategy != "AUTO_STRATEGY":
        return strategy
    if (options["L1_REG"] > 0 or options["WARM_START"] or ctx.n_features > MAX_NORMAL_EQUATION_FEATURES
            or ctx.n_rows < 10 * ctx.n_features or any(options.is_set(name) for name in ITERATION_OPTIONS)):
        return "BATCH_GRADIENT_DESCENT"
    return "NORMAL_EQUATION"


def linear_reg(options: ModelOptions, ctx: FitContext) -> Any:
    l1, l2, intercept = options["L1_REG"], options["L2_REG"], options["FIT_INTERCEPT"]
    if optimize_strategy(options, ctx) == "NORMAL_EQUATION":
        # Rank-deficient designs (full one-hot plus intercept) get the minimum-norm solution of the centred problem.
        return LinearRegression(fit_intercept=intercept) if l2 == 0 else Ridge(alpha=l2, fit_intercept=intercept)
    # Gradient descent (the toolkit's): the estimator states the objective and receives the fitted weights.
    if l1 > 0:  # ElasticNet minimises 1/(2n)·SSE + alpha·l1_ratio·|w|_1 + alpha·(1-l1_ratio)/2·|w|^2
        n = ctx.n_rows
        alpha = l1 / (2 * n) + l2 / n
        return ElasticNet(alpha=alpha, l1_ratio=(l1 / (2 * n)) / alpha, fit_intercept=intercept,
                          max_iter=options["MAX_ITERATIONS"], tol=_tol(options), random_state=ctx.seed)
    return Ridge(alpha=l2, fit_intercept=intercept, max_iter=options["MAX_ITERATIONS"], tol=_tol(options))


def logistic_reg(options: ModelOptions, ctx: FitContext) -> Any:
    l1, l2 = options["L1_REG"], options["L2_REG"]
    penalty = l1 + 2 * l2
    return LogisticRegression(
        C=1.0 / penalty if penalty > 0 else np.inf,
        l1_ratio=l1 / penalty if penalty > 0 else 0.0,
        solver="saga" if l1 > 0 else "lbfgs",  # the solver scikit-learn would use; the toolkit's descent fits it
        fit_intercept=options["FIT_INTERCEPT"],
        max_iter=options["MAX_ITERATIONS"],
        tol=_tol(options),
        random_state=ctx.seed,
    )


def boosted_tree(options: ModelOptions, ctx: FitContext) -> Any:
    cls = HistGradientBoostingClassifier if ctx.n_classes else HistGradientBoostingRegressor
    return cls(
        learning_rate=options["LEARN_RATE"],
        max_iter=options["MAX_ITERATIONS"],
        max_depth=options["MAX_TREE_DEPTH"],
        max_leaf_nodes=None,  # depth-limited trees, as XGBoost grows them
        min_samples_leaf=max(1, options["MIN_TREE_CHILD_WEIGHT"]),
        l2_regularization=options["L2_REG"],
        max_features=options["COLSAMPLE_BYNODE"],
        categorical_features=None,  # label-encoded categories are ordinal codes, as in XGBoost
        # Scores are recorded every iteration (on the eval split, else the training data); the toolkit applies
        # EARLY_STOP / MIN_REL_PROGRESS itself, so scikit-learn's own rule never triggers.
        early_stopping=True, scoring="loss", validation_fraction=None,
        n_iter_no_change=options["MAX_ITERATIONS"] + 1,
        random_state=ctx.seed,
    )


def random_forest(options: ModelOptions, ctx: FitContext) -> Any:
    cls = RandomForestClassifier if ctx.n_classes else RandomForestRegressor
    subsample = options["SUBSAMPLE"]
    return cls(
        n_estimators=options["NUM_PARALLEL_TREE"],
        max_depth=options["MAX_TREE_DEPTH"],
        max_features=options["COLSAMPLE_BYNODE"],
        max_samples=subsample if subsample < 1.0 else None,
        min_samples_leaf=max(1, options["MIN_TREE_CHILD_WEIGHT"]),
        bootstrap=True,
        n_jobs=-1,  # the fit does not depend on the number of jobs (predictions do: see training/fit.py)
        random_state=ctx.seed,
    )


def dnn_defaults(options: ModelOptions, ctx: FitContext) -> tuple[tuple[int, ...], int]:
    """HIDDEN_UNITS and BATCH_SIZE, with BigQuery's data-dependent defaults where not given."""
    hidden = options["HIDDEN_UNITS"]
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-dnn-models (HIDDEN_UNITS):
    # one layer of min(128, num_samples / (10 * (num_input_units + num_output_units))) units, at least 1. The input
    # units are the encoded features; the output units one per class, or one for a regressor or a binary classifier
    # (a single logistic unit, as scikit-learn's MLPClassifier has).
    if hidden == FROM_DATA:
        outputs = ctx.n_classes if ctx.n_classes > 2 else 1
        hidden = (int(min(128, max(1, ctx.n_rows // (10 * (ctx.n_features + outputs))))),)
    batch = options["BATCH_SIZE"]
    if batch == FROM_DATA:
        batch = min(32, ctx.n_rows)
    return tuple(hidden), int(batch)


_ACTIVATIONS = {"RELU": "relu", "SIGMOID": "logistic", "TANH": "tanh"}


def dnn(options: ModelOptions, ctx: FitContext) -> Any:
    cls = MLPClassifier if ctx.n_classes else MLPRegressor
    hidden, batch = dnn_defaults(options, ctx)
    # The toolkit calls partial_fit once per epoch (MAX_ITERATIONS epochs at most), recording the losses.
    return cls(hidden_layer_sizes=hidden, activation=_ACTIVATIONS[options["ACTIVATION_FN"]],
               solver=options["OPTIMIZER"].lower(), alpha=options["L2_REG"], batch_size=batch,
               learning_rate_init=options["LEARN_RATE"], shuffle=True, random_state=ctx.seed)


def num_clusters(options: ModelOptions, ctx: FitContext) -> int:
    """NUM_CLUSTERS, defaulting to log10(rows) as BigQuery does (at least 2)."""
    k = options["NUM_CLUSTERS"]
    if k == FROM_DATA:
        k = max(2, int(round(math.log10(max(ctx.n_rows, 1)))))
    if k > ctx.n_rows:
        raise ModelError(f"model {options.model}: NUM_CLUSTERS = {k} but the training data has {ctx.n_rows} rows",
                         hint="lower NUM_CLUSTERS, or train on more rows")
    return k


def kmeans(options: ModelOptions, ctx: FitContext) -> Any:
    method = options["KMEANS_INIT_METHOD"]
    given = method == "CUSTOM" or options["WARM_START"]  # the CUSTOM rows, or the previous version's centroids
    init: Any = ctx.init_centroids if given else {"RANDOM": "random", "KMEANS++": "k-means++"}[method]
    k = len(init) if given else num_clusters(options, ctx)
    # Training runs the iterations one at a time and stops them as BigQuery does (toolkit.ml.training.lloyd).
    return KMeans(n_clusters=k, init=init, n_init=1, max_iter=options["MAX_ITERATIONS"], tol=0.0,
                  random_state=ctx.seed)


def pca(options: ModelOptions, ctx: FitContext) -> Any:
    k, ratio = options["NUM_PRINCIPAL_COMPONENTS"], options["PCA_EXPLAINED_VARIANCE_RATIO"]
    solver = {"FULL": "full", "RANDOMIZED": "randomized", "AUTO": "auto"}[options["PCA_SOLVER"]]
    if k is not None and k > min(ctx.n_rows, ctx.n_features):
        raise ModelError(
            f"model {options.model}: NUM_PRINCIPAL_COMPONENTS = {k} exceeds min(rows, encoded features) = "
            f"{min(ctx.n_rows, ctx.n_features)}", hint="lower NUM_PRINCIPAL_COMPONENTS")
    if ratio is not None:
        if solver == "randomized":
            raise ModelError(f"model {options.model}: PCA_EXPLAINED_VARIANCE_RATIO needs PCA_SOLVER 'FULL' or "
                             "'AUTO'", hint="remove PCA_SOLVER, or use NUM_PRINCIPAL_COMPONENTS")
        solver = "full"
    return PCA(n_components=k if k is not None else ratio, svd_solver=solver, random_state=ctx.seed)


def transform_only(options: ModelOptions, ctx: FitContext) -> None:
    """TRANSFORM_ONLY has no estimator: its TRANSFORM's statistics are the whole model."""
    return None
