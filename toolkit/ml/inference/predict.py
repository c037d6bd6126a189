"""Applying a trained model: the design matrix of new rows, and BigQuery's prediction columns for them (what the
columns are, by task, is `toolkit.ml.inference.heads`). `predict` returns only the prediction columns (the caller
puts the input columns beside them, as ML.PREDICT does). Input is processed as in training: NULL numerics take the
training mean, unseen categories encode as nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from toolkit.errors import ModelError
from toolkit.ml.features.preprocess import check_finite, column_kind
from toolkit.ml.features.sparse import prefers_sparse, row_norms, transform_sparse
from toolkit.ml.features.transform import model_features, outputs_of
from toolkit.ml.inference.heads import head, is_cosine
from toolkit.ml.types.estimators import accepts_sparse

if TYPE_CHECKING:
    from toolkit.ml.model import TrainedModel

WIDE_DENSE = 2_048  # encoded columns beyond which a sparse-capable model predicts from CSR rows
_NULL_AS = {"numeric": pa.float64(), "timestamp": pa.timestamp("us"), "multi_hot": pa.list_(pa.string()),
            "sparse": pa.list_(pa.struct([("index", pa.int64()), ("value", pa.float64())]))}


def model_inputs(trained: TrainedModel, table: pa.Table) -> pa.Table:
    """What the automatic preprocessing reads of `table`: the table itself, or for a model with TRANSFORM its
    feature outputs (the `__transform__` columns the ML.* functions add, else computed from the raw columns) with
    STRUCT outputs flattened, exactly as at training."""
    if trained.transform is None:
        return table
    return model_features(outputs_of(trained.transform, table, trained.name), trained.name,
                          reserved=trained.transform.passthrough)


def _inputs(trained: TrainedModel, table: pa.Table) -> pa.Table:
    """The model's feature columns of `table` (names compared case-insensitively), kinds checked."""
    by_lower = {name.lower(): name for name in table.column_names}
    features = trained.feature_columns
    missing = [c for c in features if c.lower() not in by_lower]
    if missing:
        raise ModelError(f"the input has no column(s) {', '.join(missing)}; the model was "
                         f"trained on {', '.join(features)}",
                         hint="select every feature column the model was trained on", model=trained.name)
    columns = {}
    for column in trained.feature_schema:
        values = table.column(by_lower[column["name"].lower()])
        kind = column_kind(values.type)
        if kind != column["kind"] and not pa.types.is_null(values.type):
            raise ModelError(f"column '{column['name']}' is {values.type} in the input but "
                             f"was {column['type']} in training", hint=f"CAST it to {column['type']}",
                             model=trained.name)
        if pa.types.is_null(values.type):  # an all-NULL column: NULL numbers / the NULL category
            values = values.cast(_NULL_AS.get(column["kind"], pa.string()))
        columns[column["name"]] = values
    if not columns:
        return table.select([])
    features = pa.table(columns)
    check_finite(features, list(columns), model=trained.name)  # no estimator predicts from ±inf
    return features


def design_matrix(trained: TrainedModel, table: pa.Table, *, allow_sparse: bool = False) -> np.ndarray | sp.csr_matrix:
    """Encoded rows of `table` (input rows, with TRANSFORM applied first when the model has one) as the estimator
    expects them; with `allow_sparse`, as CSR when `sparse_input` says so (a wide one-hot design is never densified
    for a model that reads CSR)."""
    return encode(trained, model_inputs(trained, table), sparse=allow_sparse and sparse_input(trained))


def encode(trained: TrainedModel, features: pa.Table, *, sparse: bool = False) -> np.ndarray | sp.csr_matrix:
    """Encoded rows of a table of the model's feature columns (`model_inputs`); with `sparse`, as a CSR matrix of
    the same numbers (toolkit.ml.features.sparse)."""
    inputs = _inputs(trained, features)
    if sparse:
        X = transform_sparse(trained.preprocessor, inputs)
        if is_cosine(trained):
            norms = row_norms(X)
            X = sp.csr_matrix(sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ X)
        return X
    X = trained.preprocessor.transform(inputs)
    if is_cosine(trained):  # COSINE k-means clusters the directions of the rows
        norms = np.linalg.norm(X, axis=1, keepdims=True)
        X = np.divide(X, norms, out=np.zeros_like(X), where=norms > 0)
    return X


def sparse_input(trained: TrainedModel) -> bool:
    """Whether prediction encodes rows as CSR: for a model whose estimator accepts it, when the dense matrix would be
    wider than `WIDE_DENSE` columns and mostly zeros (a categorical of many values)."""
    return (accepts_sparse(trained.model_type.family) and trained.preprocessor.width > WIDE_DENSE
            and prefers_sparse(trained.preprocessor))


def output_schema(trained: TrainedModel) -> pa.Schema:
    """The columns `predict` returns, known without predicting anything."""
    return head(trained).schema(trained)


def predict(trained: TrainedModel, table: pa.Table, *, threshold: float | None = None) -> pa.Table:
    """BigQuery ML.PREDICT's output columns for the rows of `table` (same order)."""
    if table.num_rows == 0:
        _inputs(trained, model_inputs(trained, table))  # the same checks of the input's columns
        return output_schema(trained).empty_table()
    inputs = model_inputs(trained, table)
    return head(trained).predict(trained, encode(trained, inputs, sparse=sparse_input(trained)), threshold)
