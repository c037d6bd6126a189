"""The compiled SQL against the Python path on the same rows: labels and centroid ids equal, numbers within
1e-9 relative (1e-12 absolute, for values near zero), lists entry by entry."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from toolkit.ml.inference.predict import predict
from toolkit.ml.model import TrainedModel
from toolkit.sql.quoting import column_ref, render, table_ref, verbatim

RELATIVE, ABSOLUTE = 1e-9, 1e-12
ROW = "__toolkit_parity_row"
_names = itertools.count(1)


def compare(con: duckdb.DuckDBPyConnection, trained: TrainedModel, sql_for: Callable[[str], str],
            sample: pa.Table) -> tuple[str | None, float]:
    """(what differs, or None; the largest relative difference of the numbers) on the rows of `sample`, where
    `sql_for(input query)` is the compiled prediction query over those rows."""
    expected = predict(trained, sample)
    name = f"__toolkit_parity_{next(_names)}"
    con.register(name, sample.append_column(ROW, pa.array(np.arange(sample.num_rows, dtype=np.int64))))
    try:
        sql = sql_for(render(exp.select("*").from_(table_ref(name))))
        ordered = exp.select("*").from_(exp.Subquery(this=verbatim(sql))).order_by(column_ref(ROW))
        actual = con.sql(render(ordered)).to_arrow_table()
    finally:
        con.unregister(name)
    worst = 0.0
    for column in expected.column_names:
        if column not in actual.column_names:
            return f"the SQL has no column {column}", worst
        difference, error = differ(expected.column(column), actual.column(column))
        worst = max(worst, error)
        if difference is not None:
            return f"{column}: {difference} ({sample.num_rows:,} rows checked)", worst
    return None, worst


def differ(expected: pa.ChunkedArray, actual: pa.ChunkedArray) -> tuple[str | None, float]:
    """What differs between two columns (None: nothing), and the largest relative difference of their numbers."""
    t = expected.type
    if pa.types.is_list(t):
        if pc.list_value_length(expected).to_pylist() != pc.list_value_length(actual).to_pylist():
            return "list lengths differ", 0.0
        return differ(pc.list_flatten(expected), pc.list_flatten(actual))
    if pa.types.is_struct(t):
        worst = 0.0
        for i in range(t.num_fields):
            name = t.field(i).name
            difference, error = differ(pc.struct_field(expected, [i]), pc.struct_field(actual, name))
            worst = max(worst, error)
            if difference is not None:
                return f"{name}: {difference}", worst
        return None, worst
    if pa.types.is_floating(t):
        a = np.asarray(expected.to_numpy(zero_copy_only=False), np.float64)
        b = np.asarray(actual.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
        gap = np.abs(a - b)
        scale = np.maximum(np.abs(a), np.abs(b))
        relative = np.divide(gap, scale, out=np.zeros_like(gap), where=scale > 0)
        worst = float(relative.max()) if len(relative) else 0.0
        bad = (gap > RELATIVE * scale) & (gap > ABSOLUTE)
        if bad.any():
            i = int(np.argmax(bad))
            return f"{int(bad.sum())} value(s) differ, e.g. {a[i]!r} in Python and {b[i]!r} in SQL", worst
        return None, worst
    left, right = expected.to_pylist(), actual.cast(t).to_pylist()
    if left != right:
        i = next(k for k, (x, y) in enumerate(zip(left, right)) if x != y)
        count = sum(x != y for x, y in zip(left, right))
        return f"{count} value(s) differ, e.g. {left[i]!r} in Python and {right[i]!r} in SQL", 0.0
    return None, 0.0
