"""Streamed design matrices: LINEAR_REG and LOGISTIC_REG gradient descent that never holds the whole matrix.

BigQuery ML's batch gradient descent reads every training row in every iteration
(https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create-glm#optimize_strategy).
A `StreamedRows` design does the same chunk by chunk: each pass of the descent (toolkit.ml.training.descent)
encodes `chunk_rows` rows of the fetched Arrow table at a time (CSR or dense, as the in-memory matrix would be),
adds their losses and gradient, and drops them. Training then holds the Arrow columns (compact: dictionary codes
and numbers), the labels and row weights, the weights being fitted and one encoded chunk — not the design matrix,
which for one-hot features is several times the Arrow data (8 bytes per cell dense, 12 per stored entry CSR).
Each pass re-encodes the rows, so an iteration costs more time than in memory (see benchmarks/README.md).

The choice is the toolkit's own CREATE MODEL option `TOOLKIT_DESCENT_CHUNK_ROWS` (not a BigQuery option):
- unset: streamed when the in-memory design matrix would take more than `STREAM_ABOVE_BYTES`, in chunks of about
  `CHUNK_BYTES`;
- 0: never streamed;
- N > 0: always streamed, N rows per chunk.
The result equals the in-memory descent's up to the order of floating-point sums (the same iterations, weights
within ~1e-12 relative)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from toolkit.ml.features.preprocess import Preprocessor

OPTION = "TOOLKIT_DESCENT_CHUNK_ROWS"
STREAM_ABOVE_BYTES = 2 * 2**30  # an in-memory design matrix above this streams (when the option is unset)
CHUNK_BYTES = 64 * 2**20  # the automatic chunk: about this much encoded matrix


@dataclass(frozen=True)
class StreamedRows:
    """A design matrix encoded `chunk_rows` rows at a time from `table` by `encode_rows`."""

    table: pa.Table
    encode_rows: Callable[[pa.Table], np.ndarray | sp.csr_matrix]
    chunk_rows: int
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.table.num_rows, self.width

    def blocks(self) -> Iterator[tuple[int, int, np.ndarray | sp.csr_matrix]]:
        n = self.table.num_rows
        for start in range(0, n, self.chunk_rows):
            stop = min(start + self.chunk_rows, n)
            yield start, stop, self.encode_rows(self.table.slice(start, stop - start))


def row_bytes(preprocessor: Preprocessor, sparse: bool) -> int:
    """Bytes one encoded row takes: 8 per column dense, 12 per stored entry (value and column index) CSR."""
    if sparse:
        return 12 * sum(1 for f in preprocessor.features if f.width > 0) + 4
    return 8 * max(preprocessor.width, 1)


def chunk_rows(options: Mapping[str, object], preprocessor: Preprocessor, rows: int, sparse: bool) -> int | None:
    """Rows per chunk when the descent streams its design matrix (see the module), None when it is in memory."""
    chosen = options.get(OPTION)
    per_row = row_bytes(preprocessor, sparse)
    if chosen is None:
        if rows * per_row <= STREAM_ABOVE_BYTES:
            return None
        return max(1, CHUNK_BYTES // per_row)
    return int(chosen) or None


def over_chunks(X, score: Callable[[np.ndarray | sp.csr_matrix], Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """`score` of every chunk of a streamed design (or of a matrix in memory), concatenated part by part."""
    if not isinstance(X, StreamedRows):
        return dict(score(X))
    parts: dict[str, list[np.ndarray]] = {}
    for _, _, rows in X.blocks():
        for key, value in score(rows).items():
            parts.setdefault(key, []).append(np.asarray(value))
    return {key: np.concatenate(values) for key, values in parts.items()}


def mean_over_chunks(X, average: Callable[[np.ndarray | sp.csr_matrix], Mapping[str, float]]) -> dict[str, float]:
    """A per-row mean (`average` of some rows) over every row, from the chunks' means weighted by their rows."""
    if not isinstance(X, StreamedRows):
        return dict(average(X))
    sums: dict[str, float] = {}
    for start, stop, rows in X.blocks():
        for key, value in average(rows).items():
            sums[key] = sums.get(key, 0.0) + value * (stop - start)
    return {key: value / X.shape[0] for key, value in sums.items()}
