"""DATA_SPLIT_METHOD: AUTO_SPLIT's row-count rules, deterministic RANDOM, CUSTOM, SEQ, NO_SPLIT."""

from __future__ import annotations

import duckdb
import farmhash
import numpy as np
import pyarrow as pa
import pytest

from toolkit.ml.training.split import EVAL, KEY_COLUMN, TEST, TRAIN, key_sql, split_rows
from toolkit.ml.types.registry import validate_options
from toolkit.sql.quoting import render
from toolkit.warehouse.farmhash import fingerprint64


def options(**kw: object):
    return validate_options("m", {"model_type": "LINEAR_REG", **kw})


def keyed(con: duckdb.DuckDBPyConnection, n: int, order: str = "i") -> pa.Table:
    return con.sql(f"SELECT i, i * 2 AS label, {render(key_sql(['i', 'label']))} AS {KEY_COLUMN} "
                   f"FROM (SELECT range AS i, i * 2 AS label FROM range({n})) ORDER BY {order}").to_arrow_table()


@pytest.fixture(scope="module")
def con():
    return duckdb.connect()


@pytest.mark.parametrize("n, eval_rows", [(499, 0), (500, 100), (50_000, 10_000), (200_000, 10_000)])
def test_auto_split_row_count_rules(con, n, eval_rows):
    split = split_rows(keyed(con, n), options())
    assert split.method == ("NO_SPLIT" if n < 500 else "RANDOM")
    fraction = eval_rows / n
    assert abs(split.count(EVAL) - eval_rows) <= 4 * (n * fraction * (1 - fraction)) ** 0.5  # binomial
    assert split.count(TRAIN) + split.count(EVAL) == n


def test_random_split_is_deterministic_and_ignores_row_order(con):
    opts = options(data_split_method="RANDOM", data_split_eval_fraction=0.3, data_split_test_fraction=0.1)
    first = keyed(con, 5_000)
    split = split_rows(first, opts)
    assert np.array_equal(split.roles, split_rows(keyed(con, 5_000), opts).roles)
    shuffled = keyed(con, 5_000, order="hash(i)")
    roles = dict(zip(shuffled.column("i").to_pylist(), split_rows(shuffled, opts).roles))
    assert [roles[i] for i in first.column("i").to_pylist()] == split.roles.tolist()
    assert split.count(EVAL) == pytest.approx(1_500, rel=0.1) and split.count(TEST) == pytest.approx(500, rel=0.2)


def test_custom_split_true_or_null_is_eval():
    table = pa.table({"x": [1, 2, 3, 4], "is_eval": [True, False, None, False]})
    split = split_rows(table, options(data_split_method="CUSTOM", data_split_col="is_eval"))
    assert split.roles.tolist() == [EVAL, TRAIN, EVAL, TRAIN]


def test_seq_split_takes_the_last_fraction_nulls_train():
    table = pa.table({"t": [5, 1, None, 3, 9, 7, 2, 8, 4, 6]})
    split = split_rows(table, options(data_split_method="SEQ", data_split_col="t", data_split_eval_fraction=0.2,
                                      data_split_test_fraction=0.1))
    by_value = dict(zip(table.column("t").to_pylist(), split.roles.tolist()))
    assert by_value[9] == TEST and by_value[8] == EVAL and by_value[7] == EVAL
    assert all(by_value[v] == TRAIN for v in (None, 1, 2, 3, 4, 5, 6))


def test_no_split_trains_on_everything(con):
    split = split_rows(keyed(con, 1_000), options(data_split_method="NO_SPLIT"))
    assert split.count(TRAIN) == 1_000 and split.method == "NO_SPLIT"


def test_random_split_key_tells_where_a_null_is(con):
    """concat_ws skips NULLs: without a NULL marker (NULL, 'a') and ('a', NULL) would share a key and a side."""
    rows = con.sql(f"SELECT {render(key_sql(['a', 'b']))} AS key FROM (VALUES (NULL, 'a'), ('a', NULL), ('a', 'b'), "
                   "(NULL, NULL)) AS t(a, b)").fetchall()
    assert [key for key, in rows] == ["\x1e\x1fa", "a\x1f\x1e", "a\x1fb", "\x1e\x1f\x1e"]  # rows without NULLs: as before
    hashes = [farmhash.fingerprint64(key) for key, in rows]  # pyfarmhash: FARM_FINGERPRINT's own algorithm
    table = pa.table({KEY_COLUMN: [key for key, in rows]})
    fingerprints = fingerprint64(table.column(KEY_COLUMN)).to_numpy(zero_copy_only=False).view(np.uint64).tolist()
    assert fingerprints == hashes and len(set(hashes)) == 4


@pytest.mark.parametrize(("method", "column", "fractions"), [
    ("CUSTOM", "is_eval", {}),
    ("SEQ", "t", {"data_split_eval_fraction": 0.2, "data_split_test_fraction": 0.1}),
])
def test_the_training_fetch_puts_each_splits_rows_in_one_run(con, method, column, fractions):
    """Training fetches a CUSTOM or SEQ split's column first (NULLs where they train or evaluate), so each role's rows
    are one run and taking them is a slice; the rows are those a filter would take, in the same order."""
    from toolkit.ml.training import train
    from toolkit.ml.types.registry import MODEL_TYPES

    con.execute("CREATE OR REPLACE TABLE runs AS SELECT range AS x, 'c' || (range % 3) AS s, "
                "CASE WHEN range % 7 = 0 THEN NULL ELSE range % 3 = 0 END AS is_eval, "
                "CASE WHEN range % 11 = 0 THEN NULL ELSE hash(range) % 100 END AS t, range * 0.5 AS y FROM range(500)")
    opts = options(data_split_method=method, data_split_col=column, input_label_cols=["y"], **fractions)
    query = f"SELECT x, s, {column}, y FROM runs"
    table = train._fetch(con, opts, train._columns(con, opts, MODEL_TYPES[opts.model_type], query), query)
    roles = split_rows(table, opts).roles
    assert len(set(roles.tolist())) == (3 if method == "SEQ" else 2)
    assert np.count_nonzero(np.diff(roles)) == len(set(roles.tolist())) - 1  # one run per role
    for role in (TRAIN, EVAL, TEST):
        assert train._rows(table, roles, role).to_pylist() == table.filter(pa.array(roles == role)).to_pylist()
    scattered = np.array([TRAIN, EVAL] * 250, np.int8)  # roles in no run: taken row by row
    assert train._rows(table, scattered, EVAL).to_pylist() == table.filter(pa.array(scattered == EVAL)).to_pylist()
