"""Categorical features too wide for the design matrix a model type trains on.

LINEAR_REG by gradient descent, LOGISTIC_REG, the DNN models and KMEANS train on a CSR matrix, one entry per
categorical per row, whatever the number of categories (toolkit.ml.features.sparse). The others — trees with
ONE_HOT_ENCODING, PCA, LINEAR_REG by the normal equation — read a dense matrix with one column per category: a
categorical of a million values (a unique id used as a feature) would need rows × 1M cells. Training refuses,
before encoding anything, a dense matrix above `DENSE_LIMIT_FRACTION` of the machine's memory, naming the widest
columns, their number of values, the model type and what to do instead.

Independently of memory, a categorical whose values are nearly all distinct (`ID_LIKE_SHARE` of the training rows
or more, and at least `ID_LIKE_VALUES` values) is reported with a warning: each of its one-hot weights is learnt
from about one row, so it is most likely an identifier that predicts nothing on new rows."""

from __future__ import annotations

import os
import warnings

import numpy as np

from toolkit.errors import ModelError
from toolkit.ml.features.preprocess import LABEL, NUMERIC, Preprocessor
from toolkit.ml.types.tasks import Family

DENSE_LIMIT_FRACTION = 0.5
FALLBACK_MEMORY_BYTES = 8 * 2**30  # when the machine's memory cannot be read
ID_LIKE_SHARE = 0.5
ID_LIKE_VALUES = 10_000


class WideCategoryWarning(UserWarning):
    """A categorical feature that looks like an identifier."""


def dense_limit_bytes() -> int:
    """The largest dense design matrix training accepts: a fraction of the machine's physical memory."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = FALLBACK_MEMORY_BYTES
    return int(memory * DENSE_LIMIT_FRACTION)


def _widest(preprocessor: Preprocessor, most: int = 3) -> list[tuple[str, int]]:
    """The one-hot encoded columns with the most values (a TIMESTAMP's parts added up), widest first."""
    widths: dict[str, int] = {}
    for feature in preprocessor.features:
        if feature.kind != NUMERIC and feature.encoding != LABEL and feature.width > 1:
            widths[feature.column] = widths.get(feature.column, 0) + len(feature.categories)
    return sorted(widths.items(), key=lambda item: -item[1])[:most]


def _hint(family: Family) -> str:
    if family in (Family.BOOSTED_TREE, Family.RANDOM_FOREST):
        return ("use CATEGORY_ENCODING_METHOD = 'LABEL_ENCODING' (the trees' default: one column per feature), or "
                "leave the column out")
    if family is Family.LINEAR_REG:
        return "set OPTIMIZE_STRATEGY = 'BATCH_GRADIENT_DESCENT' (it trains on a sparse matrix), or leave the column out"
    return ("leave the column out, or bucket it in the query (e.g. ABS(MOD(FARM_FINGERPRINT(col), 1000))); "
            "LINEAR_REG, LOGISTIC_REG, DNN and KMEANS models train on a sparse matrix")


def check_dense_width(model: str, model_type: str, family: Family, preprocessor: Preprocessor, rows: int,
                      sparse: bool) -> None:
    """Refuse a dense design matrix larger than `dense_limit_bytes` (see the module)."""
    if sparse:
        return
    need = rows * preprocessor.width * np.dtype(preprocessor.dtype).itemsize
    limit = dense_limit_bytes()
    if need <= limit:
        return
    widest = _widest(preprocessor)
    named = ", ".join(f"'{column}' ({width:,} values)" for column, width in widest) or "its numeric columns"
    raise ModelError(
        f"model {model}: {model_type} trains on a dense design matrix, and {rows:,} rows × "
        f"{preprocessor.width:,} encoded columns would take {need / 2**30:.1f} GiB (more than "
        f"{limit / 2**30:.1f} GiB, {DENSE_LIMIT_FRACTION:.0%} of this machine's memory); one column per value of "
        f"the categorical feature(s) {named}", hint=_hint(family))


def warn_id_like(model: str, preprocessor: Preprocessor, rows: int) -> None:
    """Warn about categorical features with about one training row per value (see the module)."""
    for column, width in _widest(preprocessor, most=len(preprocessor.features)):
        if width >= ID_LIKE_VALUES and width >= ID_LIKE_SHARE * rows:
            warnings.warn(f"model {model}: categorical feature '{column}' has {width:,} distinct values in "
                          f"{rows:,} training rows; each value's weight is learnt from about "
                          f"{rows / width:.1f} rows, so it predicts little on new rows (an identifier?). Leave it "
                          "out, or bucket or group its values", WideCategoryWarning, stacklevel=3)
