"""The label column: its checks, the classes of a classifier, and class weights.

A NULL or infinite label is an error. Regressors need a numeric label. Classifiers take BOOL, integer, floating or
string labels: classes are the distinct values in ascending order, the last (highest) being binary's positive class,
two to 1,000 of them (LOGISTIC_REG: 50). AUTO_CLASS_WEIGHTS weighs class c by rows / (classes * rows of c); CLASS_WEIGHTS must name
every class (labels written as text: 'true', '1', 'setosa')."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from toolkit.errors import ModelError
from toolkit.ml.types.options import ModelOptions
from toolkit.ml.types.registry import MODEL_TYPES

_CLASSIFIERS = "LOGISTIC_REG, BOOSTED_TREE_CLASSIFIER, RANDOM_FOREST_CLASSIFIER or DNN_CLASSIFIER"


def check_label_type(options: ModelOptions, column: str, arrow_type: pa.DataType, duckdb_type: str,
                     classification: bool) -> None:
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    model = f"model {options.model}"
    numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
    if not classification and not numeric:
        raise ModelError(f"{model}: {options.model_type} needs a numeric label, but column '{column}' is "
                         f"{duckdb_type}", hint=f"CAST({column} AS DOUBLE), or use a classifier ({_CLASSIFIERS})")
    textual = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
    if classification and not (pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t)
                               or textual):
        raise ModelError(f"{model}: label column '{column}' has type {duckdb_type}; a classifier needs a BOOL, "
                         "integer, floating or VARCHAR label", hint=f"CAST({column} AS VARCHAR)")


def label_values(options: ModelOptions, values: pa.ChunkedArray, column: str) -> pa.ChunkedArray:
    """The label column, refusing NULL (and NaN) labels and infinite ones."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(values.type.value_type)
    if pa.types.is_decimal(values.type):
        values = values.cast(pa.float64())
    missing = values.null_count
    if pa.types.is_floating(values.type):
        missing += int(pc.sum(pc.is_nan(values)).as_py() or 0)
    if missing:
        raise ModelError(f"the label column '{column}' has {missing} NULL value(s) in "
                         f"{len(values)} rows", hint=f"filter them out (WHERE {column} IS NOT NULL) or fill them "
                                                     "(COALESCE); BigQuery ML refuses NULL labels too",
                                                     model=options.model)
    if pa.types.is_floating(values.type):
        infinite = int(pc.sum(pc.is_inf(values)).as_py() or 0)
        if infinite:
            raise ModelError(f"the label column '{column}' has {infinite} infinite value(s) (+inf or -inf) in "
                             f"{len(values)} rows", hint=f"filter them out (WHERE isfinite({column})), or CAST the "
                                                         "label to a type without infinities", model=options.model)
    return values


def class_values(options: ModelOptions, values: pa.ChunkedArray, column: str) -> tuple[Any, ...]:
    """The classes in ascending order; 2 to the model type's maximum (1,000; LOGISTIC_REG 50) of them."""
    classes = tuple(sorted(pc.unique(values).to_pylist()))
    if len(classes) < 2:
        raise ModelError(f"the label column '{column}' has one class only ({classes[0]!r}) "
                         f"in {len(values)} rows", hint="a classifier needs rows of at least two classes",
                         model=options.model)
    most = MODEL_TYPES[options.model_type].max_classes
    if len(classes) > most:
        raise ModelError(f"the label column '{column}' has {len(classes)} classes; BigQuery ML's "
                         f"{options.model_type} allows at most {most}",
                         hint="group rare labels together, or use a regressor for a numeric label", model=options.model)
    return classes


def check_training_classes(options: ModelOptions, y: np.ndarray, classes: tuple[Any, ...], method: str) -> None:
    """Every class must have training rows (a class seen only in the eval or test rows cannot be learned)."""
    counts = np.bincount(y, minlength=len(classes))
    absent = [classes[i] for i in np.flatnonzero(counts == 0)]
    if absent:
        raise ModelError(f"class(es) {absent} have no training rows after DATA_SPLIT_METHOD "
                         f"'{method}' (they are only in the eval or test rows)",
                         hint="use a split that leaves rows of every class for training, or filter those labels out",
                         model=options.model)


def class_indices(values: pa.ChunkedArray, classes: tuple[Any, ...]) -> np.ndarray:
    """Index of each value in `classes` (-1 for values not among them)."""
    positions = pc.index_in(values, value_set=pa.array(list(classes), type=values.type))
    return np.asarray(pc.fill_null(positions, -1).to_numpy(), dtype=np.int64)


def class_text(value: Any) -> str:
    """How a class is named in CLASS_WEIGHTS."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def sample_weights(options: ModelOptions, y: np.ndarray, classes: tuple[Any, ...]) -> np.ndarray | None:
    """Per-row weights from AUTO_CLASS_WEIGHTS or CLASS_WEIGHTS (None when neither is set)."""
    if options.get("AUTO_CLASS_WEIGHTS"):
        counts = np.bincount(y, minlength=len(classes)).astype(np.float64)
        per_class = np.where(counts > 0, len(y) / (len(classes) * np.maximum(counts, 1)), 0.0)
        return per_class[y]
    pairs = options.get("CLASS_WEIGHTS")
    if not pairs:
        return None
    given = dict(pairs)
    names = [class_text(c) for c in classes]
    missing = [n for n in names if n not in given]
    unknown = [label for label in given if label not in names]
    if missing or unknown:
        problem = f"does not name class(es) {missing}" if missing else f"names unknown class(es) {unknown}"
        raise ModelError(f"CLASS_WEIGHTS {problem}; the classes are {names}",
                         hint="give one (label, weight) pair per class, e.g. [STRUCT('a', 0.5), STRUCT('b', 2.0)]",
                         model=options.model)
    return np.array([given[n] for n in names], dtype=np.float64)[y]
