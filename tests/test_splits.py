"""Repeatable splitting end to end: the hash macros against the book's formula and pyfarmhash, the split report
against scipy and hand-counted answers, its warnings and its CLI, and the splits_are_balanced assertion."""

from __future__ import annotations

import datetime
import json
from fractions import Fraction
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from conftest import invoke, query, signed_fingerprint, write_files
from scipy.stats import ks_2samp

from toolkit.checks.split_report import distance_sql, split_report
from toolkit.config import load_settings
from toolkit.errors import ToolkitError
from toolkit.project.assertions import UNDER_TEST
from toolkit.project.load import load_project
from toolkit.warehouse.connection import open_reader

KEYS = 10_000




def book_split(h: int) -> str:
    """The book's 80/10/10: ABS(MOD(h, 10)) < 8 train, = 8 eval, else test (SQL's MOD keeps the dividend's sign,
    so ABS(MOD(h, n)) is abs(h) % n)."""
    bucket = abs(h) % 10
    return "train" if bucket < 8 else "eval" if bucket == 8 else "test"


def read(folder: Path, sql: str) -> list[tuple]:
    """Rows of `sql` on the project's warehouse, on a toolkit connection (FARM_FINGERPRINT registered)."""
    con = open_reader(folder / "warehouse.duckdb", 5)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# --- (a) the hash macros -------------------------------------------------------------------------------
HASHED = {
    "models/keys.sql": (
        "select i as k, case when i % 500 = 0 then null else i end as maybe, i % 37 as a, 'x' || (i % 11) as b "
        f"from range({KEYS}) t(i)"
    ),
    "models/split_default.sql": (
        "select k, maybe, {{ hash_split('k') }} as split, {{ hash_split('maybe') }} as split_null, "
        "{{ hash_split('maybe', null_split='unassigned') }} as split_unassigned from {{ ref('keys') }}"
    ),
    "models/split_70.sql": "select k, {{ hash_split('k', train=0.7, eval=0.15, test=0.15) }} as split from {{ ref('keys') }}",
    "models/split_50.sql": "select k, {{ hash_split('k', 0.5, 0.5, 0) }} as split from {{ ref('keys') }}",
    "models/split_multi.sql": "select a, b, {{ hash_split(['a', 'b']) }} as split from {{ ref('keys') }}",
    "models/sampled.sql": (
        "select k, {{ hash_sample('k', 0.25) }} as kept, {{ hash_sample_split('k', 70) }} as sample_split "
        "from {{ ref('keys') }}"
    ),
}
SNAPSHOT = (
    "select list((d.k, d.split, d.split_null, d.split_unassigned, s.split, h.split, p.kept, p.sample_split) order by d.k) "
    "from split_default d join split_70 s using (k) join split_50 h using (k) join sampled p using (k)"
)


@pytest.fixture(scope="module")
def hashed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The hashing project built twice: the folder, its loaded project and both builds' splits."""
    folder = write_files(tmp_path_factory.mktemp("hashing"), HASHED)
    snapshots = []
    for _ in range(2):
        result = invoke(folder, "build")
        assert result.exit_code == 0, result.output
        snapshots.append(read(folder, SNAPSHOT)[0][0])
    return {"folder": folder, "project": load_project(load_settings(folder)), "snapshots": snapshots}


def test_hash_split_is_the_books_formula_in_duckdb(hashed):
    mismatches = read(hashed["folder"], (
        "select count(*) from split_default where split is distinct from case "
        "when abs(mod(farm_fingerprint(cast(k as varchar)), 10)) < 8 then 'train' "
        "when abs(mod(farm_fingerprint(cast(k as varchar)), 10)) = 8 then 'eval' else 'test' end"
    ))
    assert mismatches == [(0,)]


def test_hash_split_matches_pyfarmhash(hashed):
    rows = read(hashed["folder"], "select k, split from split_default where k % 37 = 0 order by k")
    assert len(rows) > 250
    assert {k: split for k, split in rows} == {k: book_split(signed_fingerprint(str(k))) for k, _ in rows}


def test_builds_are_deterministic(hashed):
    first, second = hashed["snapshots"]
    assert len(first) == KEYS and first == second


@pytest.mark.parametrize("node, buckets, splits", [
    ("split_default", 10, {"train": 0.8, "eval": 0.1, "test": 0.1}),
    ("split_70", 20, {"train": 0.7, "eval": 0.15, "test": 0.15}),
    ("split_50", 2, {"train": 0.5, "eval": 0.5}),
])
def test_bucket_count_and_shares(hashed, node, buckets, splits):
    node_ = hashed["project"].nodes[node]
    assert [h.buckets for h in node_.hash_splits][0] == buckets
    assert f"MOD(FARM_FINGERPRINT(CAST(k AS VARCHAR)), {buckets}))" in node_.sql
    shares = dict(read(hashed["folder"], f"select split, count(*) / {KEYS} from {node} group by all"))
    assert set(shares) == set(splits)  # 0.5/0.5/0: no test rows at all
    for split, fraction in splits.items():
        assert shares[split] == pytest.approx(fraction, abs=0.015)


def test_multi_column_key_hashes_the_joined_text(hashed):
    rows = read(hashed["folder"], (
        "select count(*), count(*) filter (where split is distinct from case "
        "when abs(mod(farm_fingerprint(cast(a as varchar) || '|' || cast(b as varchar)), 10)) < 8 then 'train' "
        "when abs(mod(farm_fingerprint(cast(a as varchar) || '|' || cast(b as varchar)), 10)) = 8 then 'eval' "
        "else 'test' end) from split_multi"
    ))
    assert rows == [(KEYS, 0)]
    sample = read(hashed["folder"], "select distinct a, b, split from split_multi order by all limit 40")
    assert all(split == book_split(signed_fingerprint(f"{a}|{b}")) for a, b, split in sample)
    assert hashed["project"].nodes["split_multi"].hash_splits[0].key_sql == "CAST(a AS VARCHAR) || '|' || CAST(b AS VARCHAR)"


def test_null_keys_go_to_null_split(hashed):
    rows = read(hashed["folder"], (
        "select maybe is null, split_null, split_unassigned, count(*), "
        "count(*) filter (where split_null is distinct from split or split_unassigned is distinct from split) "
        "from split_default group by all order by all"
    ))
    nulls = [row for row in rows if row[0]]
    assert nulls == [(True, "train", "unassigned", KEYS // 500, KEYS // 500)]
    assert all(row[4] == 0 for row in rows if not row[0])  # other keys: the same split as without NULLs
    assert [h.null_split for h in hashed["project"].nodes["split_default"].hash_splits] == ["train", "train", "unassigned"]


def test_hash_sample_fraction_and_formula(hashed):
    kept, mismatches = read(hashed["folder"], (
        "select avg(kept::int), count(*) filter (where kept is distinct from "
        "(abs(mod(farm_fingerprint(cast(k as varchar)), 4)) < 1)) from sampled"
    ))[0]
    assert kept == pytest.approx(0.25, abs=0.015) and mismatches == 0


def test_hash_sample_split_is_the_books_two_level_sampling(hashed):
    h = "farm_fingerprint(cast(k as varchar))"
    rows = read(hashed["folder"], (
        f"select count(*) filter (where sample_split = 'train'), "
        f"count(*) filter (where coalesce(sample_split = 'train', false) is distinct from (mod({h}, 70) = 0 and abs(mod({h}, 700)) < 560)), "
        f"count(*) filter (where coalesce(sample_split = 'eval', false) is distinct from "
        f"(mod({h}, 70) = 0 and abs(mod({h}, 700)) >= 560 and abs(mod({h}, 700)) < 630)), "
        f"count(*) filter (where (sample_split is null) is distinct from (mod({h}, 70) <> 0)) from sampled"
    ))
    train, *mismatches = rows[0]
    assert train > 50 and mismatches == [0, 0, 0]


@pytest.mark.parametrize("call, macro, fragment", [
    ("hash_split('k', 0.8, 0.1, 0.2)", "hash_split", "split fractions must sum to 1"),
    ("hash_split('k', 1.1, -0.1, 0)", "hash_split", "eval=-0.1: split fractions must be numbers from 0 to 1"),
    ("hash_split('k', 0.805, 0.095, 0.1)", "hash_split", "at most two decimals"),
    ("hash_split('k', trian=0.8)", "hash_split", "unknown argument 'trian' (did you mean \"train\"?)"),
    ("hash_sample('k', 0.333)", "hash_sample", "at most two decimals"),
    ("hash_sample_split('k', 0)", "hash_sample_split", "sample_one_in=0"),
    ("splits_are_balanced('split')", "splits_are_balanced", "give the columns to compare"),
])
def test_bad_macro_input_names_the_macro_and_the_file(project, call, macro, fragment):
    folder = project({"models/bad_input.sql": f"select 1 as k, {{{{ {call} }}}} as split"})
    with pytest.raises(ToolkitError) as raised:
        load_project(load_settings(folder))
    error = raised.value
    assert error.message.startswith(f"{macro}(): "), error.message
    assert fragment in error.message
    assert error.location is not None and error.location.path.name == "bad_input.sql"


def test_unknown_key_column_fails_the_node_at_build(project, toolkit):
    folder = project({"models/bad_key.sql": "select 1 as k, {{ hash_split('nope') }} as split"})
    result = toolkit(folder, "build")
    assert result.exit_code == 1, result.output
    message = query(folder / "warehouse.duckdb", "select message from _toolkit.run_results where node = 'bad_key'")[0][0]
    assert message.startswith("models/bad_key.sql: Binder Error") and "nope" in message


def test_unknown_key_column_error_names_the_column(project, toolkit):
    folder = project({"models/bad_key.sql": "select 1 as k, {{ hash_split('nope') }} as split"})
    assert toolkit(folder, "build").exit_code == 1
    message = query(folder / "warehouse.duckdb", "select message from _toolkit.run_results where node = 'bad_key'")[0][0]
    assert 'Referenced column "nope"' in message, message


# --- (b) the split report ----------------------------------------------------------------------------
def table(con: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame) -> str:
    con.register("frame", frame)
    con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    con.unregister("frame")
    return name


@pytest.fixture(scope="module")
def generated() -> tuple[duckdb.DuckDBPyConnection, pd.DataFrame]:
    rng = np.random.default_rng(7)
    n = 4000
    split = rng.choice(["train", "eval", "test"], n, p=[0.7, 0.2, 0.1])
    smooth = rng.normal(0, 1, n) + np.where(split == "test", 0.4, 0.0)
    smooth[rng.random(n) < 0.05] = np.nan  # NULLs, left out of the KS statistic
    frame = pd.DataFrame({
        "split": split,
        "smooth": smooth,
        "ties": rng.integers(0, 12, n) + np.where(split == "eval", 1, 0),  # many repeated values
        "day": [datetime.date(2024, 1, 1) + datetime.timedelta(days=int(d)) for d in rng.integers(0, 60, n)],
        "colour": pd.array(rng.choice(["red", "green", "blue", None], n, p=[0.4, 0.3, 0.2, 0.1]), dtype=object),
        "flag": np.where(split == "eval", rng.random(n) < 0.7, rng.random(n) < 0.5),
        "price": np.round(rng.gamma(2.0, 10.0, n), 2),
        "key": rng.integers(0, 1000, n),
    })
    con = duckdb.connect()
    table(con, "data", frame)
    return con, frame


def test_ks_statistic_equals_scipy(generated):
    con, frame = generated
    report = split_report(con, "data", "split", None, ["smooth", "ties", "day", "price"], None, None, None)
    assert report.reference == "train"
    assert {f["feature"]: f["statistic"] for f in report.features} == dict.fromkeys(["smooth", "ties", "day", "price"], "ks")
    values = frame.assign(day=frame["day"].map(datetime.date.toordinal))
    for row in report.distances:
        a = values.loc[values["split"] == "train", row["feature"]].dropna().to_numpy()
        b = values.loc[values["split"] == row["split"], row["feature"]].dropna().to_numpy()
        assert row["distance"] == ks_2samp(a, b).statistic, row  # exactly: the same divisions
    assert len(report.distances) == 8  # 4 features × (eval, test)


def test_l_infinity_of_category_shares(generated):
    con, frame = generated
    report = split_report(con, "data", "split", None, ["colour", "flag"], None, None, None)
    for row in report.distances:
        column = frame[row["feature"]].astype(object).where(frame[row["feature"]].notna(), "<NULL>")
        train = column[frame["split"] == "train"].value_counts()
        other = column[frame["split"] == row["split"]].value_counts()
        expected = max(abs(Fraction(int(train.get(c, 0)), int(train.sum())) - Fraction(int(other.get(c, 0)), int(other.sum())))
                       for c in set(train.index) | set(other.index))
        assert row["statistic"] == "linf" and row["distance"] == float(expected), row  # the exact value, rounded once
    flag_eval = next(r for r in report.distances if r["feature"] == "flag" and r["split"] == "eval")
    assert flag_eval["distance"] > 0.1  # the planted difference


def test_rows_shares_and_label_distributions(generated):
    con, frame = generated
    report = split_report(con, "data", "split", "colour", ["price"], None, None, None)
    counts = frame["split"].value_counts()
    assert [(r["split"], r["rows"]) for r in report.splits] == [(s, counts[s]) for s in ("train", "eval", "test")]
    assert sum(r["share"] for r in report.splits) == pytest.approx(1.0)
    assert report.label_kind == "categorical"
    shares = {(r["split"], r["value"]): r["share"] for r in report.label_distribution}
    assert shares[("eval", None)] == pytest.approx(frame.loc[frame["split"] == "eval", "colour"].isna().mean())
    assert shares[("test", "red")] == pytest.approx((frame.loc[frame["split"] == "test", "colour"] == "red").mean())
    assert [f["role"] for f in report.features] == ["feature", "label"]  # the label's distance is reported too

    numeric = split_report(con, "data", "split", "price", [], None, None, None)
    assert numeric.label_kind == "numeric"
    test = next(r for r in numeric.label_distribution if r["split"] == "test")
    prices = frame.loc[frame["split"] == "test", "price"]
    assert test["mean"] == pytest.approx(prices.mean()) and test["stddev"] == pytest.approx(prices.std())
    assert (test["min"], test["max"], test["rows"], test["nulls"]) == (prices.min(), prices.max(), len(prices), 0)
    json.dumps(numeric.to_dict())  # plain data


def test_default_features_leave_out_split_label_and_key(generated):
    con, frame = generated
    report = split_report(con, "data", "SPLIT", "price", None, "CAST(key AS VARCHAR)", 10, None)
    assert report.split_column == "split"
    assert [f["feature"] for f in report.features] == ["smooth", "ties", "day", "colour", "flag", "price"]
    assert report.key["columns"] == ["key"] and report.key["distinct"] == frame["key"].nunique()
    assert not report.warnings


def test_reference_is_the_largest_split_without_train():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT CASE WHEN i < 500 THEN 'b' WHEN i < 800 THEN 'a' ELSE 'c' END AS fold, "
                "i::DOUBLE AS x FROM range(1000) t(i)")
    report = split_report(con, "t", "fold", None, None, None, None, None)
    assert report.reference == "b" and [r["split"] for r in report.distances] == ["a", "c"]
    assert all(r["distance"] == 1.0 for r in report.distances)  # disjoint ranges
    assert any("key checks skipped" in note for note in report.notes)


def test_macro_query_filters_on_max_distance(generated):
    con, _ = generated
    every = con.execute(distance_sql("data", "split", ["smooth", "flag"])).fetchall()
    over = con.execute(distance_sql("data", "split", ["smooth", "flag"], max_distance=0.1)).fetchall()
    assert len(every) == 4 and over == [row for row in every if row[4] > 0.1] and over


WARNING_DATA = (
    "SELECT i, CASE WHEN i % 10 < 8 THEN 'train' ELSE 'eval' END AS split, i % {keys} AS few, "
    "CASE WHEN i % 49 = 0 THEN NULL ELSE i END AS holey, i::DOUBLE AS x FROM range(1000) t(i)"
)


@pytest.mark.parametrize("keys, key_sql, buckets, features, null_split, expected", [
    (5, "CAST(few AS VARCHAR)", None, ["x"], None, ["has only 5 distinct value(s) (want at least 10)"]),
    (25, "few", 10, ["x"], None, ["has only 25 distinct value(s) (want at least 10, and 3 × 10 buckets = 30)"]),
    (500, "few", 10, ["x", "few"], None, ["feature few is (part of) the split key few"]),
    (500, "CAST(t.few AS VARCHAR)", 10, ["x"], "train", ["split 'test' has no rows"]),
    (500, "CAST(holey AS VARCHAR)", 10, ["x"], "train",
     ["21 row(s) have a NULL split key CAST(holey AS VARCHAR); they went to 'train', 'eval' (null_split='train')",
      "split 'test' has no rows"]),
])
def test_warnings(keys, key_sql, buckets, features, null_split, expected):
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS " + WARNING_DATA.format(keys=keys))
    report = split_report(con, "t", "split", None, features, key_sql, buckets, null_split)
    assert len(report.warnings) == len(expected), report.warnings
    for warning, fragment in zip(report.warnings, expected):
        assert fragment in warning, warning


# --- the CLI -----------------------------------------------------------------------------------------
CLI_PROJECT = {
    "models/rows.sql": (
        "select i as id, i % 97 as day, i % 7 as hour, ['a', 'b', 'c'][i % 3 + 1] as kind, (i % 4 = 0) as target, "
        "i % 3 as fold from range(3000) t(i)"
    ),
    "models/split_rows.sql": "select *, {{ hash_split('r.day') }} as split from {{ ref('rows') }} as r",
    "models/few_keys.sql": "select hour, kind, {{ hash_split('hour', 0.5, 0.5, 0) }} as split from {{ ref('rows') }}",
    "models/later.sql": "select 1 as x",
}


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_files(tmp_path_factory.mktemp("report"), CLI_PROJECT)
    result = invoke(folder, "build", "--exclude", "later")
    assert result.exit_code == 0, result.output
    return folder


def test_cli_table(cli_project):
    result = invoke(cli_project, "split-report", "split_rows", "--label", "target")
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # rich wraps at the terminal's width
    for fragment in ("Rows per split", "Label target", "Distance to 'train'", "hour", "kind",
                     "Split key CAST(r.day AS VARCHAR), 10 buckets, NULL keys to 'train': 97 distinct values, 0 NULL"):
        assert fragment in output, result.output
    assert "warning" not in output


def test_cli_json_and_warnings(cli_project):
    result = invoke(cli_project, "split-report", "few_keys", "--features", "kind,hour", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["key"] == {"sql": "CAST(hour AS VARCHAR)", "columns": ["hour"], "buckets": 2, "null_split": "train",
                             "distinct": 7, "null_rows": 0, "null_rows_by_split": []}
    assert [f["feature"] for f in report["features"]] == ["kind", "hour"]
    warnings = " | ".join(report["warnings"])
    assert "only 7 distinct value(s)" in warnings and "feature hour is (part of) the split key" in warnings
    assert "split 'test' has no rows" in warnings


def test_cli_key_options_without_hash_split(cli_project):
    result = invoke(cli_project, "split-report", "rows", "--split-column", "fold", "--key", "hour", "--buckets", "3",
                    "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reference"] == "0" and report["key"]["distinct"] == 7
    assert "hour" not in [f["feature"] for f in report["features"]]  # the key is no feature by default
    assert any("want at least 10, and 3 × 3 buckets = 9" in w for w in report["warnings"])


@pytest.mark.parametrize("args, fragments", [
    (["split_row"], ['no node named "split_row" (did you mean "split_rows"?)']),
    (["later"], ["main.later is not built", "toolkit build --select later"]),
    (["rows"], ['split column "split" is not a column of "main"."rows"', "--split-column"]),
    (["split_rows", "--split-column", "splt"], ['(did you mean "split"?)']),
    (["split_rows", "--label", "targt"], ['label column "targt"', '(did you mean "target"?)']),
    (["split_rows", "--features", "kind,hours"], ['feature "hours"', '(did you mean "hour"?)']),
])
def test_cli_errors(cli_project, args, fragments):
    result = invoke(cli_project, "split-report", *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output


# --- (c) splits_are_balanced -------------------------------------------------------------------------
BALANCED = """{{ config(assertions=[splits_are_balanced('split', ['x', 'c'], max_distance=0.1)]) }}
select i, i * 1.0 as x, ['a', 'b', 'c'][i % 3 + 1] as c,
{% if var('skewed', false) %}
    case when i < 800 then 'train' when i < 900 then 'eval' else 'test' end
{% else %}
    case when i % 10 < 8 then 'train' when i % 10 = 8 then 'eval' else 'test' end
{% endif %} as split
from range(1000) t(i)
"""
EVERY_DISTANCE = "{{ config(assertions=[splits_are_balanced('split', ['x'], max_distance=0, label_column='c', severity='warn')]) }}\n" \
    "select * from {{ ref('data') }}\n"  # every nonzero distance fails: the x and c (as the label) distances


def test_splits_are_balanced_fails_a_skewed_split_and_keeps_the_previous_table(project, toolkit):
    folder = project({"models/data.sql": BALANCED, "models/copy.sql": EVERY_DISTANCE})
    warehouse = folder / "warehouse.duckdb"
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert query(warehouse, "select status, dimension from _toolkit.assertion_results where node = 'data'") == [
        ("pass", "distribution")]

    result = toolkit(folder, "build", "--vars", '{"skewed": true}')
    assert result.exit_code == 1, result.output
    status, failing, samples = query(
        warehouse, "select status, failing_rows, samples from _toolkit.assertion_results "
        "where node = 'data' and run_id = (select run_id from _toolkit.runs order by started_at desc limit 1)")[0]
    assert (status, failing) == ("fail", 2)
    assert [(s["feature"], s["split"], s["distance"]) for s in json.loads(samples)] == [("x", "eval", 1.0), ("x", "test", 1.0)]
    assert query(warehouse, "select count(*) from data where split = 'train' and i >= 800") == [(160,)]  # kept

    result = toolkit(folder, "test")
    assert result.exit_code == 0, result.output


def test_assertion_and_report_compute_the_same_distances(project, toolkit):
    folder = project({"models/data.sql": BALANCED, "models/copy.sql": EVERY_DISTANCE})
    assert toolkit(folder, "build").exit_code == 0
    node = load_project(load_settings(folder)).nodes["copy"]
    con = open_reader(folder / "warehouse.duckdb", 5)
    try:
        through_build = con.execute(node.assertions[0].failing_rows.replace(UNDER_TEST, node.relation)).fetchall()
        report = split_report(con, node.relation, "split", "c", ["x"], None, None, None)
    finally:
        con.close()
    assert node.assertions[0].name == "splits_are_balanced(split: x, c)"
    assert [row[:2] for row in through_build] == [("x", "eval"), ("x", "test"), ("c", "eval"), ("c", "test")]
    assert all(0 < row[4] < 0.1 for row in through_build)
    assert through_build == [(r["feature"], r["split"], r["reference"], r["statistic"], r["distance"])
                             for r in report.distances]
