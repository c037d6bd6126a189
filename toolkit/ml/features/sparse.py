"""The design matrix as a scipy.sparse CSR matrix, for the estimators that accept one (linear and logistic
regression fitted by gradient descent, the DNN, KMEANS).

It holds the same numbers as `Preprocessor.transform`'s dense matrix, without the zeros of the one-hot columns:
- numeric features (and label-encoded codes) are stored in every row, zeros included ("dense in sparse");
- a one-hot (or dummy) categorical feature stores one entry per row, at its category's column; a row whose category
  has no column (unseen in training, or DUMMY_ENCODING's reference) stores an explicit 0 at the feature's first
  column, so every row has the same number of entries and the matrix is filled as two (rows × entries) arrays
  from the features' code vectors (Arrow's dictionary indices through `pc.index_in`, no Python loop over rows);
- multi-hot and sparse-vector features, whose entry counts vary by row, are built as CSR blocks of their own and
  stacked beside the others in design-matrix order.
A row's entries are in column order (features are laid out left to right), so the matrix is canonical CSR.

The design is used when the matrix would be mostly zeros (at most `MAX_DENSITY` of its cells stored) and large
enough for it to matter (a dense matrix of at least `MIN_DENSE_BYTES`; smaller ones are as fast dense and keep
the exact bits of the dense products)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from toolkit.ml.features.preprocess import LABEL, MULTI_HOT, NUMERIC, SPARSE, Feature, Preprocessor

MAX_DENSITY = 0.5  # store sparse when at most this fraction of the cells would be stored
MIN_DENSE_BYTES = 16 * 2**20  # ... and the dense float64 matrix would take at least this much


def _variable(feature: Feature) -> bool:
    return feature.kind in (MULTI_HOT, SPARSE)


def density(preprocessor: Preprocessor) -> float:
    """The fraction of the matrix's cells the CSR form stores per row (one per multi-hot / sparse feature: an
    estimate; their rows hold any number of entries)."""
    width = preprocessor.width
    stored = sum(1 for f in preprocessor.features if f.width > 0)
    return stored / width if width else 1.0


def prefers_sparse(preprocessor: Preprocessor, rows: int | None = None) -> bool:
    """Whether the CSR form is the one to use for this preprocessing (and `rows` rows, when known)."""
    if rows is not None and rows * preprocessor.width * 8 < MIN_DENSE_BYTES:
        return False
    return preprocessor.width > 0 and density(preprocessor) <= MAX_DENSITY


def transform_sparse(preprocessor: Preprocessor, table: pa.Table) -> sp.csr_matrix:
    """The design matrix of `table` (every input column present) as CSR, float64 (or the preprocessor's dtype)."""
    n = table.num_rows
    blocks: list[sp.csr_matrix] = []
    fixed: list[tuple[Feature, int, np.ndarray]] = []  # the run of fixed-entry features being gathered
    run_start = offset = 0
    for feature in preprocessor.features:
        if _variable(feature):
            if offset > run_start or fixed:
                blocks.append(_fixed_block(fixed, n, offset - run_start, preprocessor.dtype))
            blocks.append(_variable_block(feature, Preprocessor._vector(feature, table), n, preprocessor.dtype))
            fixed, run_start = [], offset + feature.width
        elif feature.width > 0:
            fixed.append((feature, offset - run_start, Preprocessor._vector(feature, table)))
        offset += feature.width
    if offset > run_start or not blocks:
        blocks.append(_fixed_block(fixed, n, offset - run_start, preprocessor.dtype))
    return blocks[0] if len(blocks) == 1 else sp.hstack(blocks, format="csr")


def _fixed_block(features: list[tuple[Feature, int, np.ndarray]], n: int, width: int, dtype: str) -> sp.csr_matrix:
    """The columns of a run of numeric / categorical features (offsets relative to the run's first column): one
    entry per feature per row."""
    k = len(features)
    index_type = np.int32 if max(width, n * k) < 2**31 else np.int64
    data = np.empty((n, k), dtype=dtype)
    indices = np.empty((n, k), dtype=index_type)
    for slot, (feature, offset, vector) in enumerate(features):
        if feature.kind == NUMERIC or feature.encoding == LABEL:
            data[:, slot] = vector
            indices[:, slot] = offset
        else:
            hit = vector >= 0
            data[:, slot] = hit
            indices[:, slot] = offset + np.where(hit, vector, 0)
    indptr = np.arange(0, n * k + 1, k, dtype=index_type) if k else np.zeros(n + 1, index_type)
    return sp.csr_matrix((data.reshape(-1), indices.reshape(-1), indptr), shape=(n, width))


def _variable_block(feature: Feature, vector: tuple[np.ndarray, ...], n: int, dtype: str) -> sp.csr_matrix:
    """A multi-hot ((rows, codes): 1 each) or sparse-vector ((rows, codes, values)) feature's columns."""
    rows, codes = vector[0], vector[1]
    values = np.ones(len(rows), dtype) if feature.kind == MULTI_HOT else np.asarray(vector[2], dtype)
    # A repeated element (index) within a row keeps its last value, as the dense matrix's assignment does.
    keys = rows.astype(np.int64) * max(feature.width, 1) + codes
    _, last = np.unique(keys[::-1], return_index=True)
    keep = np.sort(len(keys) - 1 - last)
    return sp.coo_matrix((values[keep], (rows[keep], codes[keep])), shape=(n, feature.width)).tocsr()


def row_norms(X: sp.csr_matrix | np.ndarray) -> np.ndarray:
    """The Euclidean norm of every row."""
    if sp.issparse(X):
        return np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return np.linalg.norm(X, axis=1)
