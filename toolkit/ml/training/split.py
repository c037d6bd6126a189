"""DATA_SPLIT_METHOD: which fetched rows train, which evaluate, which are held out for test.

- AUTO_SPLIT: BigQuery's row-count rule — fewer than 500 rows: no split; 500 to 50,000: 20% eval; more: 10,000
  eval rows — drawn as RANDOM draws them (fraction 10,000 / rows), so the counts are met on average, not exactly.
  Under hyperparameter tuning (NUM_TRIALS), 500 rows or more: 80% train, 10% eval, 10% test.
- RANDOM: deterministic. Each row's key is `concat_ws(chr(31), <its columns as VARCHAR, NULL as chr(30)>)`,
  built in SQL by the fetch query itself (so `(NULL, 'a')` and `('a', NULL)` differ); FARM_FINGERPRINT(key),
  read as an unsigned 64-bit number u / 2^64 in [0, 1), puts the row in eval when below DATA_SPLIT_EVAL_FRACTION, in test when below EVAL + TEST fraction, in training otherwise.
  Identical rows share a side; the split does not depend on row order.
- CUSTOM: DATA_SPLIT_COL is BOOL; TRUE or NULL → eval, FALSE → train.
- SEQ: ascending DATA_SPLIT_COL; the last EVAL fraction of all rows → eval (then the TEST fraction → test, at the
  very end); NULLs → train. Ties are broken by the canonical row order
  training fetches in (the split column, then every other column ascending).
- NO_SPLIT: everything trains.
The split column is never a feature."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from toolkit.errors import ModelError
from toolkit.ml.types.options import ModelOptions
from toolkit.ml.types.splits import EVAL, TEST, TRAIN  # noqa: F401  (re-exported)
from toolkit.sql.quoting import column_ref
from toolkit.warehouse.farmhash import fingerprint64

KEY_COLUMN = "__toolkit_split_key"
AUTO_NO_SPLIT_BELOW = 500
AUTO_FRACTION_UP_TO = 50_000
AUTO_EVAL_ROWS = 10_000
TUNING_FRACTION = 0.1  # AUTO_SPLIT under hyperparameter tuning: 10% eval (the objective), 10% test (the report)


@dataclass(frozen=True)
class Split:
    """The role of every fetched row (TRAIN, EVAL, TEST) and how it was decided."""

    roles: np.ndarray  # int8 per row
    method: str  # the effective method (AUTO_SPLIT resolves to NO_SPLIT or RANDOM)
    eval_fraction: float
    test_fraction: float

    def count(self, role: int) -> int:
        return int(np.count_nonzero(self.roles == role))


def needs_key(options: ModelOptions) -> bool:
    return options.get("DATA_SPLIT_METHOD") in ("AUTO_SPLIT", "RANDOM")


def key_sql(columns: list[str]) -> exp.Expression:
    """The expression of a row's split key over `columns`: their text joined by chr(31), a NULL written chr(30)
    (DuckDB's concat_ws skips NULLs, which would make `(NULL, 'a')` and `('a', NULL)` one key). Rows without
    NULLs keep the key they always had."""
    null = exp.func("chr", exp.Literal.number(30))
    values = [exp.func("coalesce", exp.cast(column_ref(c), exp.DataType.Type.VARCHAR), null.copy()) for c in columns]
    # an Anonymous call: sqlglot's ConcatWs would be rendered with another dialect's NULL rule
    return exp.Anonymous(this="concat_ws", expressions=[exp.func("chr", exp.Literal.number(31)), *values])


def split_rows(table: pa.Table, options: ModelOptions) -> Split:
    """Assign roles to the rows of `table` (which holds KEY_COLUMN when `needs_key`)."""
    n = table.num_rows
    method = options.get("DATA_SPLIT_METHOD") or "NO_SPLIT"
    eval_f, test_f = options.get("DATA_SPLIT_EVAL_FRACTION", 0.0), options.get("DATA_SPLIT_TEST_FRACTION", 0.0)
    if method == "AUTO_SPLIT":
        if n < AUTO_NO_SPLIT_BELOW:
            method, eval_f, test_f = "NO_SPLIT", 0.0, 0.0
        elif options.search_space:  # hyperparameter tuning: 80/10/10 (https://cloud.google.com/bigquery/docs/hp-tuning-overview)
            method, eval_f, test_f = "RANDOM", TUNING_FRACTION, TUNING_FRACTION
        else:
            method, eval_f, test_f = "RANDOM", (0.2 if n <= AUTO_FRACTION_UP_TO else AUTO_EVAL_ROWS / n), 0.0
    if method == "NO_SPLIT":
        return Split(np.zeros(n, np.int8), method, 0.0, 0.0)
    if method == "RANDOM":
        hashes = np.asarray(fingerprint64(table.column(KEY_COLUMN)).to_numpy(zero_copy_only=False))
        u = hashes.view(np.uint64) / np.float64(2.0**64)
        return Split(_by_threshold(u, eval_f, test_f), method, eval_f, test_f)
    column = options["DATA_SPLIT_COL"]
    values = table.column(column)
    if method == "CUSTOM":
        if not pa.types.is_boolean(values.type):
            raise ModelError(f"model {options.model}: DATA_SPLIT_COL '{column}' has type {values.type}; "
                             "DATA_SPLIT_METHOD 'CUSTOM' needs a BOOL column",
                             hint=f"select e.g. ({column} = 'eval') AS {column}: TRUE/NULL → eval, FALSE → train")
        is_train = np.asarray(values.fill_null(True).to_numpy(), dtype=bool) == False  # noqa: E712
        return Split(np.where(is_train, TRAIN, EVAL).astype(np.int8), method, 0.0, 0.0)
    return Split(_sequential(values, eval_f, test_f, options, column), method, eval_f, test_f)


def _by_threshold(u: np.ndarray, eval_f: float, test_f: float) -> np.ndarray:
    roles = np.full(len(u), TRAIN, np.int8)
    roles[u < eval_f + test_f] = TEST
    roles[u < eval_f] = EVAL
    return roles


def _sequential(values: pa.ChunkedArray, eval_f: float, test_f: float, options: ModelOptions,
                column: str) -> np.ndarray:
    n = len(values)
    try:
        order = np.asarray(pc.array_sort_indices(values, order="ascending", null_placement="at_start"))
    except pa.ArrowNotImplementedError:
        raise ModelError(f"model {options.model}: DATA_SPLIT_COL '{column}' has type {values.type}, which cannot "
                         "be sorted", hint="use a numeric, date, timestamp or string column") from None
    roles = np.full(n, TRAIN, np.int8)
    n_eval, n_test = int(round(eval_f * n)), int(round(test_f * n))
    n_test = min(n_test, n - values.null_count)
    n_eval = min(n_eval, n - values.null_count - n_test)  # NULLs sort first and always train
    roles[order[n - n_test:]] = TEST
    roles[order[n - n_test - n_eval:n - n_test]] = EVAL
    return roles
