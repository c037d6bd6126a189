"""The feature-engineering macros of macros/features.sql, rendered by the real project loader and built in DuckDB,
checked against Python computations; their bad arguments stop the build naming the macro and the model file; and
docs/macros.md documents every standard macro."""

from __future__ import annotations

import bisect
import datetime
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, invoke, query, signed_fingerprint, write_files

from toolkit.config import load_settings
from toolkit.project.discover import standard_macros_dir
from toolkit.project.load import load_project


def hashed(text: str | None, buckets: int) -> int | None:
    """The book's ABS(MOD(FARM_FINGERPRINT(text), buckets)): SQL's MOD keeps the dividend's sign, so it is |h| mod n."""
    return None if text is None else abs(signed_fingerprint(text)) % buckets


def ntile(values: list[float], n: int) -> dict[float, int]:
    """SQL's ntile(n) over distinct values in ascending order: the first len % n buckets hold one row more."""
    size, larger = divmod(len(values), n)
    ordered = iter(sorted(values))
    return {next(ordered): bucket for bucket in range(1, n + 1) for _ in range(size + (bucket <= larger))}


# --- the project ----------------------------------------------------------------------------------------
BOUNDARIES = [0, 10, 20.5, 100]
BUCKET_INPUTS = [-1e9, -5, -0.001, 0, 0.001, 9.999, 10, 15, 20.5, 20.4999, 50, 100, 100.5, 1e9, None]
WEEK = [datetime.datetime(2024, 1, day, hour, 30) for day, hour in zip(range(1, 8), [0, 5, 9, 12, 17, 22, 23])]
HASH_KEYS = ["a", "b", "AA", "UA", "", "Zürich", "2013-01-01", "with space", "x" * 200, None]
CARRIERS = ["AA", "UA", "9E", "New York", None, "XX"]
# (key, t, x): two series growing with t, x NULL once, rows inserted out of order so that only ORDER BY orders them.
SERIES = [(key, t, None if (key, t) == (1, 4) else float(2 ** t + key * 1000)) for key in (1, 2) for t in range(1, 11)]
DIVISIONS = [(6, 3), (7, 2), (1, 0), (1, None), (None, 2), (-9, 4), (1.5, 0.0), (0, 5)]
WINSORIZED = [float(v) for v in range(100)] + [-1000.0, 5000.0, None]


def inline(rows: list[tuple], columns: str, types: str) -> str:
    """`(values …) t(columns)`: Python rows as an inline table, each value cast to its column's type."""
    def one(value, sql_type):
        if value is None:
            return f"CAST(NULL AS {sql_type})"
        text = "'" + str(value).replace("'", "''") + "'" if isinstance(value, (str, datetime.datetime)) else repr(value)
        return f"CAST({text} AS {sql_type})"
    listed = ", ".join("(" + ", ".join(one(v, t) for v, t in zip(row, types.split(", "))) + ")" for row in rows)
    return f"(values {listed}) t({columns})"


FILES = {
    "models/week.sql": f"select ts, cast(ts as date) as d from {inline([(ts,) for ts in WEEK] + [(None,)], 'ts', 'TIMESTAMP')}",
    "models/dates.sql": """\
select ts, {{ day_of_week('ts') }} as dow, {{ hour_of_day('ts') }} as hour, {{ is_weekend('ts') }} as weekend,
    {{ day_of_week('w.d') }} as dow_of_date, {{ hour_of_day('d') }} as hour_of_date,
    {{ is_weekend('d') }} as weekend_of_date
from {{ ref('week') }} as w""",
    "models/buckets.sql": f"""\
select x, {{{{ bucketize('x', {BOUNDARIES!r}) }}}} as bucket, {{{{ bucketize('x * 2', [0]) }}}} as sign_bucket
from {inline([(x,) for x in BUCKET_INPUTS], 'x', 'DOUBLE')}""",
    "models/quantiles.sql": """\
select i, distinct_x, tied_x,
    {{ quantile_bucketize('distinct_x', 4) }} as q4, {{ quantile_bucketize('distinct_x', 7) }} as q7,
    {{ quantile_bucketize('tied_x', 4) }} as tied_q4,
    ntile(7) over (partition by distinct_x is null order by distinct_x) as duck_q7
from (
    select i, case when i % 9 = 0 then null else (i * 37) % 1000 end as distinct_x, i % 5 as tied_x
    from range(103) t(i)
)""",
    "models/hashing.sql": f"""\
select key, {{{{ hashed_feature('key', 7) }}}} as h7, {{{{ hashed_feature('key', 1000) }}}} as h1000,
    {{{{ hashed_feature('n', 10) }}}} as h_number, n
from {inline([(key, i * 7919 - 30000) for i, key in enumerate(HASH_KEYS)], 'key, n', 'VARCHAR, BIGINT')}""",
    "models/crosses.sql": f"""\
select carrier, k, {{{{ feature_cross(['carrier', 'k']) }}}} as crossed,
    {{{{ feature_cross_hashed(['carrier', 'k'], 50) }}}} as crossed_50,
    {{{{ feature_cross(['carrier', 'k', 'k + 1']) }}}} as crossed_3
from {inline([(c, k) for c in CARRIERS for k in (1, 2, None)], 'carrier, k', 'VARCHAR, INTEGER')}""",
    "models/encoded.sql": f"""\
select t.carrier, t.k, t.hour,
    {{{{ one_hot('t.carrier', ['AA', 'UA', '9E', 'New York']) }}}},
    {{{{ one_hot('k', [1, 2], prefix='is_k') }}}},
    {{{{ cyclical('t.hour', 24) }}}},
    {{{{ cyclical('t.hour + 0.5', 24, name='half_hour') }}}}
from {inline([(c, k, 4 * k) for k, c in enumerate(CARRIERS)], 'carrier, k, hour', 'VARCHAR, INTEGER, INTEGER')}""",
    "models/series.sql": "select * from " + inline(
        sorted(SERIES, key=lambda row: (row[1] * 7 + row[0] * 3) % 11), "key, t, x", "INTEGER, INTEGER, DOUBLE"
    ),
    "models/windows.sql": """\
select key, t, x,
    {{ lag_feature('x', 'key', 't') }} as lag1,
    {{ lag_feature('x', ['key'], ['t'], offset=3) }} as lag3,
    {{ rolling_mean('x', 'key', 't', preceding=3) }} as mean3,
    {{ rolling_mean('x', 'key', 't', preceding=3, include_current=true) }} as mean3_now,
    {{ rolling_count('x', 'key', 't', preceding=3) }} as count3,
    {{ rolling_count('*', 'key', 't') }} as rows7,
    {{ rolling_mean('t', none, ['key', 't'], preceding=2) }} as mean_unpartitioned
from {{ ref('series') }}""",
    "models/numbers.sql": f"""\
select a, b, {{{{ safe_divide('a', 'b') }}}} as ratio, {{{{ safe_divide('a', 4) }}}} as quarter
from {inline(DIVISIONS, 'a, b', 'DOUBLE, DOUBLE')}""",
    "models/divisions_int.sql": "select {{ safe_divide('a', 'b') }} as ratio from (values (7, 2), (1, 0)) t(a, b)",
    "models/winsorized.sql": f"""\
select x, {{{{ winsorize('x') }}}} as w_default, {{{{ winsorize('x', 0.05, 0.9) }}}} as w,
    {{{{ winsorize('x', 0, 1) }}}} as w_none
from {inline([(x,) for x in WINSORIZED], 'x', 'DOUBLE')}""",
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = write_files(tmp_path_factory.mktemp("features"), FILES)
    result = invoke(folder, "build")
    assert result.exit_code == 0, result.output
    return folder


def rows(folder: Path, sql: str) -> list[tuple]:
    return query(folder / "warehouse.duckdb", sql)


def columns(folder: Path, relation: str) -> dict[str, str]:
    return dict((name, type_) for name, type_, *_ in rows(folder, f"describe {relation}"))


# --- date and time --------------------------------------------------------------------------------------
def test_day_of_week_is_iso_on_a_known_week(built):
    found = rows(built, "select ts, dow, hour, weekend, dow_of_date, hour_of_date, weekend_of_date from dates order by ts")
    assert [row[1] for row in found] == [1, 2, 3, 4, 5, 6, 7, None]  # 2024-01-01 was a Monday
    for ts, dow, hour, weekend, dow_of_date, hour_of_date, weekend_of_date in found[:-1]:
        assert dow == dow_of_date == ts.isoweekday()
        assert hour == ts.hour and hour_of_date == 0
        assert weekend is weekend_of_date is (ts.isoweekday() >= 6)
    assert found[-1][1:] == (None,) * 6
    types = columns(built, "dates")
    assert types["dow"] == types["hour"] == "BIGINT" and types["weekend"] == "BOOLEAN"


# --- buckets --------------------------------------------------------------------------------------------
def test_bucketize_edges_match_bisect(built):
    found = dict(rows(built, "select x, bucket from buckets"))
    for x in BUCKET_INPUTS:
        # bucket i: boundaries[i-1] <= x < boundaries[i]; exact boundaries open the bucket above them
        assert found[x] == (None if x is None else bisect.bisect_right(BOUNDARIES, x)), x
    assert found[0] == 1 and found[10] == 2 and found[20.5] == 3 and found[100] == 4
    assert found[-1e9] == 0 and found[1e9] == len(BOUNDARIES)
    assert dict(rows(built, "select x, sign_bucket from buckets"))[-0.001] == 0
    assert columns(built, "buckets")["bucket"] == "INTEGER"


def test_quantile_bucketize_is_ntile_over_non_null_rows(built):
    found = rows(built, "select distinct_x, q4, q7, duck_q7 from quantiles")
    values = [x for x, *_ in found if x is not None]
    assert len(values) == len(set(values)) == 91
    q4, q7 = ntile(values, 4), ntile(values, 7)
    for x, bucket4, bucket7, duck7 in found:
        if x is None:
            assert bucket4 is None and bucket7 is None
        else:
            assert (bucket4, bucket7) == (q4[x], q7[x]) and bucket7 == duck7, x


def test_quantile_bucketize_keeps_ties_in_one_bucket(built):
    # 103 rows, values 0..4 (21, 21, 21, 20, 20 of each): ntile would split values across buckets; here each value
    # takes the bucket ntile gives its first row, so the result never depends on how ties are ordered.
    found = rows(built, "select tied_x, list(distinct tied_q4) from quantiles group by all order by all")
    assert found == [(0, [1]), (1, [1]), (2, [2]), (3, [3]), (4, [4])]


# --- hashing and crosses --------------------------------------------------------------------------------
def test_hashed_feature_matches_pyfarmhash(built):
    found = rows(built, "select key, h7, h1000, n, h_number from hashing")
    assert len(found) == len(HASH_KEYS)
    assert any(signed_fingerprint(key) < 0 for key, *_ in found if key is not None)  # ABS of a negative MOD checked too
    for key, h7, h1000, n, h_number in found:
        assert (h7, h1000) == (hashed(key, 7), hashed(key, 1000)), key
        assert h_number == hashed(str(n), 10)


def test_hashed_feature_renders_the_books_formula(built):
    sql = load_project(load_settings(built)).nodes["hashing"].sql
    assert "ABS(MOD(FARM_FINGERPRINT(CAST(key AS VARCHAR)), 7))" in sql


def test_feature_cross_and_its_hash(built):
    found = rows(built, "select carrier, k, crossed, crossed_50, crossed_3 from crosses")
    assert len(found) == len(CARRIERS) * 3
    for carrier, k, crossed, crossed_50, crossed_3 in found:
        expected = None if carrier is None or k is None else f"{carrier}_{k}"
        assert crossed == expected
        assert crossed_50 == hashed(expected, 50)
        assert crossed_3 == (None if expected is None else f"{expected}_{k + 1}")
    assert ("New York", 2, "New York_2") in [row[:3] for row in found]


# --- encodings ------------------------------------------------------------------------------------------
def test_one_hot_columns(built):
    types = columns(built, "encoded")
    one_hot = ["carrier_AA", "carrier_UA", "carrier_9E", "carrier_New_York"]
    assert [name for name in types if name.startswith(("carrier_", "is_k_"))] == one_hot + ["is_k_1", "is_k_2"]
    assert all(types[name] == "INTEGER" for name in one_hot)
    quoted = ", ".join(f'"{name}"' for name in one_hot)
    found = rows(built, f"select carrier, k, {quoted}, is_k_1, is_k_2 from encoded")
    vocabulary = ["AA", "UA", "9E", "New York"]
    for carrier, k, *flags in found:
        assert flags[:4] == [int(carrier == value) for value in vocabulary], carrier  # NULL, 'XX': all zeros
        assert flags[4:] == [int(k == 1), int(k == 2)]
    assert sum(sum(flags[:4]) == 0 for _, _, *flags in found) == 2


def test_cyclical_sin_and_cos(built):
    types = columns(built, "encoded")
    assert {"hour_sin", "hour_cos", "half_hour_sin", "half_hour_cos"} <= set(types) and types["hour_sin"] == "DOUBLE"
    found = rows(built, "select hour, hour_sin, hour_cos, half_hour_sin, half_hour_cos from encoded")
    for hour, sin, cos, half_sin, half_cos in found:
        assert sin == pytest.approx(math.sin(2 * math.pi * hour / 24), abs=1e-12)
        assert cos == pytest.approx(math.cos(2 * math.pi * hour / 24), abs=1e-12)
        assert half_sin == pytest.approx(math.sin(2 * math.pi * (hour + 0.5) / 24), abs=1e-12)
        assert half_cos == pytest.approx(math.cos(2 * math.pi * (hour + 0.5) / 24), abs=1e-12)
        assert sin ** 2 + cos ** 2 == pytest.approx(1)


# --- windows: the past only -----------------------------------------------------------------------------
def test_lag_and_rolling_use_only_past_rows(built):
    found = rows(built, "select key, t, lag1, lag3, mean3, mean3_now, count3, rows7 from windows")
    assert len(found) == len(SERIES)
    x = {(key, t): value for key, t, value in SERIES}

    def past(key: int, t: int, n: int, current: bool = False) -> list[float | None]:
        return [x[key, s] for s in range(max(1, t - n), t + current) if s != t or current]

    for key, t, lag1, lag3, mean3, mean3_now, count3, rows7 in found:
        assert lag1 == x.get((key, t - 1)) and lag3 == x.get((key, t - 3)), (key, t)
        window = [v for v in past(key, t, 3) if v is not None]
        assert mean3 == (pytest.approx(sum(window) / len(window)) if window else None), (key, t)
        assert count3 == len(window)
        now = [v for v in past(key, t, 3, current=True) if v is not None]
        assert mean3_now == pytest.approx(sum(now) / len(now))
        assert rows7 == min(7, t - 1)
        # x grows with t, so a window holding the current or a future row could not stay below the current value
        if x[key, t] is not None:
            assert (mean3 is None or mean3 < x[key, t]) and (lag1 is None or lag1 < x[key, t])


def test_unpartitioned_window_orders_by_every_key(built):
    found = dict(((key, t), mean) for key, t, mean in rows(built, "select key, t, mean_unpartitioned from windows"))
    order = sorted(found)
    for index, position in enumerate(order):
        earlier = [t for _, t in order[max(0, index - 2):index]]
        assert found[position] == (pytest.approx(sum(earlier) / len(earlier)) if earlier else None)


def test_rolling_mean_renders_a_past_only_frame(built):
    sql = load_project(load_settings(built)).nodes["windows"].sql
    assert "avg(x) OVER (PARTITION BY key ORDER BY t ROWS BETWEEN 3 PRECEDING AND 1 PRECEDING)" in sql
    assert "avg(x) OVER (PARTITION BY key ORDER BY t ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)" in sql
    assert "avg(t) OVER (ORDER BY key, t ROWS BETWEEN 2 PRECEDING AND 1 PRECEDING)" in sql
    assert "lag(x, 3) OVER (PARTITION BY key ORDER BY t)" in sql


# --- numbers --------------------------------------------------------------------------------------------
def test_safe_divide_zero_and_null(built):
    found = rows(built, "select a, b, ratio, quarter from numbers")
    assert len(found) == len(DIVISIONS)
    for a, b, ratio, quarter in found:
        assert ratio == (None if a is None or b is None or b == 0 else pytest.approx(a / b)), (a, b)
        assert quarter == (None if a is None else pytest.approx(a / 4))
    assert rows(built, "select ratio from divisions_int order by ratio nulls last") == [(3.5,), (None,)]  # not 7 // 2


def test_winsorize_clips_to_the_columns_own_quantiles(built):
    found = rows(built, "select x, w_default, w, w_none from winsorized")
    values = np.array([x for x, *_ in found if x is not None])
    bounds = {"w_default": np.quantile(values, [0.01, 0.99]), "w": np.quantile(values, [0.05, 0.9])}
    for x, w_default, w, w_none in found:
        if x is None:
            assert (w_default, w, w_none) == (None, None, None)  # greatest/least alone would turn NULL into a bound
            continue
        assert w_default == pytest.approx(float(np.clip(x, *bounds["w_default"])))
        assert w == pytest.approx(float(np.clip(x, *bounds["w"])))
        assert w_none == x
    clipped = dict((x, w) for x, _, w, _ in found)
    assert clipped[5000.0] == pytest.approx(bounds["w"][1]) and clipped[-1000.0] == pytest.approx(bounds["w"][0])
    assert clipped[50.0] == 50.0


# --- bad arguments --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, macro, fragment", [
    ("day_of_week(3)", "day_of_week", "ts=3: give a column or a SQL expression"),
    ("hour_of_day('')", "hour_of_day", "ts='': give a column"),
    ("bucketize('x', [10, 1])", "bucketize", "boundaries must be sorted and distinct, but 1 comes after 10"),
    ("bucketize('x', [0, 1, 1])", "bucketize", "boundaries must be sorted and distinct, but 1 repeats"),
    ("bucketize('x', [])", "bucketize", "boundaries=[]: give a non-empty list"),
    ("bucketize('x', 5)", "bucketize", "boundaries=5: give a non-empty list"),
    ("bucketize('x', ['a', 'b'])", "bucketize", "numbers only"),
    ("bucketize('x', [1, 2], bins=3)", "bucketize", "unknown argument 'bins'"),
    ("quantile_bucketize('x', 0)", "quantile_bucketize", "n=0: give a whole number of at least 1"),
    ("quantile_bucketize('x', 2.5)", "quantile_bucketize", "n=2.5"),
    ("hashed_feature('x', 0)", "hashed_feature", "buckets=0: give a whole number of at least 1"),
    ("hashed_feature('x', -10)", "hashed_feature", "buckets=-10"),
    ("hashed_feature('x', true)", "hashed_feature", "buckets=True"),
    ("hashed_feature('x')", "hashed_feature", "missing argument: parameter 'buckets' was not provided"),
    ("hashed_feature('x', 10, bucket=3)", "hashed_feature", "unknown argument 'bucket'"),
    ("feature_cross('carrier')", "feature_cross", "give a list of at least 2 columns"),
    ("feature_cross(['carrier'])", "feature_cross", "give a list of at least 2 columns"),
    ("feature_cross(['carrier', 3])", "feature_cross", "columns=3: give a column"),
    ("feature_cross_hashed(['a', 'b'], 0)", "feature_cross_hashed", "buckets=0"),
    ("one_hot('c', range(101) | list)", "one_hot", "101 values: one_hot is for a small vocabulary of at most 100"),
    ("one_hot('c', [])", "one_hot", "values=[]: give the vocabulary as a non-empty list"),
    ("one_hot('c', ['a b', 'a_b'])", "one_hot", "'a b' and 'a_b' both make the column \"c_a_b\""),
    ("one_hot('c', ['AA', 'aa'])", "one_hot", "column names ignore case"),
    ("one_hot('c', ['AA', 'UA', 'AA'])", "one_hot", "'AA' is listed twice"),
    ("one_hot('c', ['AA', none])", "one_hot", "None is not a value"),
    ("one_hot('lower(c)', ['a'])", "one_hot", "is an expression, not a column name: give prefix="),
    ("one_hot('c', ['a'], perfix='x')", "one_hot", "unknown argument 'perfix' (did you mean \"prefix\"?)"),
    ("cyclical('hour', 0)", "cyclical", "period=0: give a positive number"),
    ("cyclical('hour', '24')", "cyclical", "period='24'"),
    ("cyclical('hour(ts)', 24)", "cyclical", "give name='…'"),
    ("lag_feature('x', 'k', 't', offset=0)", "lag_feature", "offset=0: give a whole number of at least 1"),
    ("lag_feature('x', 'k', 't DESC')", "lag_feature", "order_by='t DESC': order by time ascending"),
    ("lag_feature('x', 'k', [])", "lag_feature", "order_by=[]"),
    ("rolling_mean('x', 'k', 't', preceding=0)", "rolling_mean", "preceding=0: give a whole number of at least 1"),
    ("rolling_mean('x', 'k', 't', include_current='yes')", "rolling_mean", "include_current='yes': give true or false"),
    ("rolling_mean('x', 'k', 't', preceeding=3)", "rolling_mean", "unknown argument 'preceeding' (did you mean \"preceding\"?)"),
    ("rolling_count('x', 5, 't')", "rolling_count", "partition_by=5"),
    ("safe_divide('a')", "safe_divide", "missing argument"),
    ("safe_divide('a', none)", "safe_divide", "b=None: give a column"),
    ("winsorize('x', -0.1)", "winsorize", "lower=-0.1: give a quantile from 0 to 1"),
    ("winsorize('x', 0.5, 1.5)", "winsorize", "upper=1.5: give a quantile from 0 to 1"),
    ("winsorize('x', 0.9, 0.1)", "winsorize", "lower=0.9, upper=0.1: lower must be below upper"),
    ("winsorize('x', 0.5, 0.5)", "winsorize", "lower must be below upper"),
    ("winsorize('x', upper='high')", "winsorize", "upper='high'"),
    ("winsorize('x', lowr=0.05)", "winsorize", "unknown argument 'lowr' (did you mean \"lower\"?)"),
])
def test_bad_argument_names_the_macro_and_the_model_file(project, toolkit, call, macro, fragment):
    folder = project({"models/bad_features.sql": f"select 1 as k,\n    {{{{ {call} }}}} as feature\nfrom t"})
    result = toolkit(folder, "build")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    output = " ".join(result.output.split())
    assert f"models/bad_features.sql, line 2: {macro}(): " in output, output
    assert fragment in output, output
    assert not (folder / "warehouse.duckdb").exists()  # stopped before the warehouse was opened


# --- docs -----------------------------------------------------------------------------------------------
def test_docs_describe_every_standard_macro():
    docs = (REPO / "docs" / "macros.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^#+ `(\w+)\(", docs, flags=re.M))
    public = set()
    for path in standard_macros_dir().glob("*.sql"):
        if path.name != "assertions.sql":  # documented in the README's assertion table, which the page links to
            public |= {name for name in re.findall(r"{%-?\s*macro\s+(\w+)\(", path.read_text()) if not name.startswith("_")}
    assert public and not public - headings, f"undocumented: {sorted(public - headings)}"
    assert "README.md#assertion-macros" in docs
