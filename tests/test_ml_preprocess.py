"""Automatic preprocessing: standardization, NULLs, one-hot / dummy / label encoding, TIMESTAMP parts, arrays."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pytest

from toolkit.errors import ModelError
from toolkit.ml.features.preprocess import DUMMY, LABEL, ONE_HOT, Preprocessor


def fit(table: pa.Table, standardize: bool = True, encoding: str = ONE_HOT) -> Preprocessor:
    return Preprocessor.fit(table, table.column_names, model="m", standardize=standardize, encoding=encoding)


def test_numeric_standardized_with_training_mean_and_sample_sd_nulls_to_mean():
    table = pa.table({"x": [1.0, 2.0, None, 3.0, 4.0, 5.0]})
    pre = fit(table)
    (feature,) = pre.features
    assert feature.mean == 3.0 and feature.scale == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    X = pre.transform(table)
    assert X[:, 0] == pytest.approx([-1.2649110640673518, -0.6324555320336759, 0, 0, 0.6324555320336759,
                                     1.2649110640673518])


def test_trees_keep_numbers_but_fill_nulls():
    table = pa.table({"x": pa.array([1, None, 5], pa.int32())})
    X = fit(table, standardize=False, encoding=LABEL).transform(table)
    assert X[:, 0].tolist() == [1.0, 3.0, 5.0]


def test_one_hot_null_is_a_category_unseen_contributes_nothing():
    train = pa.table({"c": ["b", None, "a", "b"]})
    pre = fit(train)
    assert pre.features[0].categories == (None, "a", "b")
    assert pre.output_columns() == [("c", None), ("c", "a"), ("c", "b")]
    X = pre.transform(pa.table({"c": ["a", "zzz", None, "b"]}))
    assert X.tolist() == [[0, 1, 0], [0, 0, 0], [1, 0, 0], [0, 0, 1]]


def test_dummy_encoding_drops_the_first_category():
    train = pa.table({"c": ["b", "a", "c"]})
    pre = fit(train, encoding=DUMMY)
    assert pre.width == 2
    assert pre.transform(train).tolist() == [[1, 0], [0, 0], [0, 1]]


def test_label_encoding_is_ordinal_and_unseen_is_missing():
    pre = fit(pa.table({"c": ["b", "a", "c"]}), standardize=False, encoding=LABEL)
    X = pre.transform(pa.table({"c": ["c", "a", "new"]}))
    assert X[:2, 0].tolist() == [2.0, 0.0] and np.isnan(X[2, 0])


def test_bool_date_and_bytes_are_categorical():
    table = pa.table({"b": [True, False, None], "d": pa.array([0, 1, 0], pa.date32()), "y": [b"\x00", b"\xff", None]})
    pre = fit(table)
    assert [f.categories for f in pre.features] == [(None, "false", "true"), ("1970-01-01", "1970-01-02"),
                                                  (None, "00", "ff")]
    assert pre.transform(table).sum(axis=1).tolist() == [3.0, 3.0, 3.0]


def test_timestamp_gives_epoch_seconds_and_parts():
    moments = [datetime(2024, 3, 5, 13, 45, tzinfo=timezone.utc), datetime(2023, 12, 31, 0, 5, tzinfo=timezone.utc)]
    table = pa.table({"t": pa.array(moments, pa.timestamp("us", tz="America/New_York"))})
    pre = fit(table)
    names = [f.name for f in pre.features]
    assert names == ["t", "_TS_DOM_t", "_TS_DOW_t", "_TS_MOY_t", "_TS_HOD_t", "_TS_MOH_t", "_TS_WOY_t", "_TS_YEAR_t"]
    assert pre.features[0].mean == pytest.approx(np.mean([m.timestamp() for m in moments]))
    parts = {f.name: f.categories for f in pre.features[1:]}
    assert parts["_TS_HOD_t"] == ("0", "13") and parts["_TS_YEAR_t"] == ("2023", "2024")  # read in UTC
    assert parts["_TS_DOM_t"] == ("31", "5") and parts["_TS_MOY_t"] == ("12", "3")


def test_string_arrays_are_multi_hot():
    table = pa.table({"tags": [["a", "b"], [], None, ["b", None, "c"]]})
    pre = fit(table)
    assert pre.features[0].categories == ("a", "b", "c")
    X = pre.transform(pa.table({"tags": [["a", "b"], [], None, ["b", None, "c", "new"]]}))
    assert X.tolist() == [[1, 1, 0], [0, 0, 0], [0, 0, 0], [0, 1, 1]]


def test_description_is_json_and_round_trips():
    table = pa.table({"x": [1.5, 2.5], "c": ["u", None]})
    pre = fit(table)
    text = json.dumps(pre.to_dict())
    again = Preprocessor.from_dict(json.loads(text))
    assert again == pre and np.array_equal(again.transform(table), pre.transform(table))


def test_column_null_everywhere_is_an_error():
    with pytest.raises(ModelError, match="column 'x' is NULL in every training row"):
        fit(pa.table({"x": pa.array([None, None], pa.float64())}))


def test_large_matrix_in_blocks_matches_direct_encoding():
    rng = np.random.default_rng(0)
    n = 20_000  # more than one block
    x = rng.normal(size=n)
    c = rng.choice(["p", "q", "r"], size=n)
    table = pa.table({"x": x, "c": c})
    X = fit(table).transform(table)
    assert X[:, 0] == pytest.approx((x - x.mean()) / x.std(ddof=1))
    assert np.array_equal(X[:, 1:], (c[:, None] == np.array(["p", "q", "r"])).astype(float))
