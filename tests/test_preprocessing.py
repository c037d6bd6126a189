"""BigQuery ML's manual preprocessing functions: parsed by the dialect, rewritten to DuckDB SQL (scalar ones), fitted
on training rows and inlined (analytic ones, in TRANSFORM). Every example of BigQuery's documentation is run here."""

from __future__ import annotations

import math
import re

import duckdb
import pytest
import sqlglot
from conftest import query, signed_fingerprint
from sqlglot import exp

from toolkit.errors import ProjectError, ToolkitError
from toolkit.sql.create_model import read_create_model
from toolkit.sql.dialect import DIALECT
from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing import fit_transform_sql, rewrite_scalar_preprocessing, transform_inputs
from toolkit.warehouse.functions import register_functions

LETTERS = "(SELECT * FROM UNNEST([NULL, 'a', 'b', 'b', 'c', 'c', 'c', 'd', 'd']) AS t(f))"


@pytest.fixture(scope="module")
def con():
    con = duckdb.connect()
    register_functions(con)
    con.execute("CREATE TABLE five AS SELECT * FROM (VALUES (1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0), (5, 50.0)) "
                "AS v(x, y)")
    return con


def scalar(con, sql: str) -> list[tuple]:
    """Rows of `sql` once its scalar preprocessing functions are DuckDB SQL."""
    rewritten = rewrite_scalar_preprocessing(sqlglot.parse_one(sql, read=DIALECT))
    assert not list(rewritten.find_all(MLPreprocess))
    return con.execute(rewritten.sql(dialect=DIALECT)).fetchall()


def fitted(con, relation: str, transform: list[str], label: str | None = None, **kwargs) -> list[tuple[str, str]]:
    return fit_transform_sql(con, relation, transform, model="m", label=label, **kwargs)


def apply(con, pairs: list[tuple[str, str]], rows: str, order: str = "") -> list[tuple]:
    """TRANSFORM applied to `rows` as the ML side does: a plain projection."""
    select = ", ".join(f'{sql} AS "{name}"' for name, sql in pairs)
    return con.execute(f"SELECT {select} FROM {rows} {order}").fetchall()


def column(con, transform: str, rows: str, apply_to: str | None = None, order: str = "") -> list:
    """One analytic TRANSFORM entry fitted on `rows`, applied to `apply_to` (default: the same rows)."""
    pairs = fitted(con, rows, [transform])
    return [row[0] for row in apply(con, pairs, apply_to or rows, order)]


# --- parsing ------------------------------------------------------------------------------------------------------
CALLS = [
    "ML.BUCKETIZE(x, [1, 2, 3], TRUE, 'bucket_ranges')",
    "ML.QUANTILE_BUCKETIZE(x, 3) OVER ()",
    "ML.FEATURE_CROSS({'a': a, 'b': b}, 2)",
    "ML.HASH_BUCKETIZE(s, 3)",
    "ML.STANDARD_SCALER(x) OVER ()",
    "ML.MIN_MAX_SCALER(x) OVER ()",
    "ML.MAX_ABS_SCALER(x) OVER ()",
    "ML.ROBUST_SCALER(x, [10, 90], TRUE, FALSE) OVER ()",
    "ML.NORMALIZER(v, 1)",
    "ML.ONE_HOT_ENCODER(s, 'most_frequent', 10, 2) OVER ()",
    "ML.LABEL_ENCODER(s, top_k => 2) OVER ()",
    "ML.IMPUTER(x, 'median') OVER ()",
    "ML.POLYNOMIAL_EXPAND({'f1': f1, 'f2': f2})",
    "ML.NGRAMS(tokens, [2, 3], '#')",
]


@pytest.mark.parametrize("call", CALLS)
def test_each_function_parses_as_a_node_and_round_trips(call):
    tree = sqlglot.parse_one(f"SELECT {call} AS out FROM t", read=DIALECT)
    node = tree.find(MLPreprocess)
    assert node is not None and node.name == call[3:call.index("(")]
    assert isinstance(node.parent, exp.Window) == node.is_analytic == call.endswith("OVER ()")
    assert tree.sql(dialect=DIALECT) == f"SELECT {call} AS out FROM t"
    create = read_create_model(sqlglot.parse_one(
        f"CREATE MODEL m TRANSFORM({call} AS out, y) OPTIONS (model_type = 'linear_reg') AS SELECT * FROM t",
        read=DIALECT))
    assert create.transform == (f"{call} AS out", "y")
    assert sqlglot.parse_one(create.transform[0], read=DIALECT).sql(dialect=DIALECT) == create.transform[0]


def test_names_are_case_insensitive_and_calls_nest():
    tree = sqlglot.parse_one("SELECT ml.hash_bucketize(ML.Bucketize(x, [1]), 2) + 1 AS h, "
                             "ml.imputer(y, 'mean') over() AS i", read=DIALECT)
    assert tree.sql(dialect=DIALECT) == ("SELECT ML.HASH_BUCKETIZE(ML.BUCKETIZE(x, [1]), 2) + 1 AS h, "
                                         "ML.IMPUTER(y, 'mean') OVER () AS i")


@pytest.mark.parametrize(("sql", "message"), [
    ("SELECT ML.STANDARD_SCALAR(x) OVER () FROM t", 'unknown function ML.STANDARD_SCALAR (did you mean '
                                                     '"ML.STANDARD_SCALER"?)'),
    ("SELECT ML.BUCKETIZ(x, [1]) FROM t", 'did you mean "ML.BUCKETIZE"'),
    ("SELECT ML.ONEHOT_ENCODER(x) OVER () FROM t", 'did you mean "ML.ONE_HOT_ENCODER"'),
    ("SELECT * FROM ML.PREDCT(MODEL m, TABLE t)", 'did you mean "ML.PREDICT"'),
    ("SELECT * FROM ML.BUCKETIZE(x, [1])", "ML.BUCKETIZE is a preprocessing function"),
    # BigQuery ML functions outside the emulated surface are named as such, with what they need
    # (https://docs.cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-tfdv-describe)
    ("SELECT * FROM ML.TFDV_DESCRIBE(TABLE t)", "ML.TFDV_DESCRIBE is a BigQuery ML function the toolkit does not "
                                                "emulate: it needs TensorFlow Data Validation's statistics"),
    ("SELECT * FROM ML.FORECAST(MODEL m)", "ML.FORECAST is a BigQuery ML function the toolkit does not emulate: "
                                           "it needs an ARIMA_PLUS time-series model"),
    ("SELECT ML.GENERATE_TEXT(x) FROM t", "ML.GENERATE_TEXT is a BigQuery ML function the toolkit does not emulate"),
])
def test_ml_name_typos_get_a_did_you_mean(sql, message):
    with pytest.raises(sqlglot.errors.ParseError, match=re.escape(message)):
        sqlglot.parse_one(sql, read=DIALECT)


def test_table_functions_still_parse():
    tree = sqlglot.parse_one("SELECT * FROM ML.PREDICT(MODEL m, (SELECT ML.BUCKETIZE(x, [1]) AS b FROM t))",
                             read=DIALECT)
    assert tree.find(MLPreprocess) is not None
    assert "ML.PREDICT(MODEL m, (SELECT ML.BUCKETIZE(x, [1]) AS b FROM t))" in tree.sql(dialect=DIALECT)


# --- scalar functions: BigQuery's examples, and the rules around them ----------------------------------------------
def test_bucketize_documented_example(con):
    assert scalar(con, "SELECT ML.BUCKETIZE(2.5, [1, 2, 3]), ML.BUCKETIZE(2.5, [1, 2, 3], TRUE), "
                       "ML.BUCKETIZE(2.5, [1, 2, 3], FALSE, 'bucket_ranges')") == [("bin_3", "bin_2", "[2, 3)")]


def test_bucketize_boundaries(con):
    rows = "FROM UNNEST([0.5, 1, 1.5, 2, 3, 7, NULL]) AS t(x) ORDER BY x NULLS LAST"
    assert [r[0] for r in scalar(con, f"SELECT ML.BUCKETIZE(x, [1, 2, 3]) {rows}")] == [
        "bin_1", "bin_2", "bin_2", "bin_3", "bin_4", "bin_4", None]  # left-closed: a split point starts its bucket
    assert [r[0] for r in scalar(con, f"SELECT ML.BUCKETIZE(x, [1, 2, 3], FALSE, 'bucket_ranges') {rows}")] == [
        "(-inf, 1)", "[1, 2)", "[1, 2)", "[2, 3)", "[3, +inf)", "[3, +inf)", None]
    # exclude_boundaries drops the first and last split point: [1, 2, 3, 4] leaves three buckets
    assert [r[0] for r in scalar(con, f"SELECT ML.BUCKETIZE(x, [1, 2, 3, 4], TRUE) {rows}")] == [
        "bin_1", "bin_1", "bin_1", "bin_2", "bin_3", "bin_3", None]
    assert scalar(con, "SELECT ML.BUCKETIZE(2.5, [1, 2, 3], TRUE, 'bucket_ranges'), "
                       "ML.BUCKETIZE(0, [1.5, 2.5], output_format => 'bucket_ranges_json')") == [
        ("[2, +inf)", '{"start": "-Infinity", "end": "1.5"}')]


def test_hash_bucketize_documented_example_and_farmhash_oracle(con):
    import farmhash

    rows = scalar(con, "SELECT f, ML.HASH_BUCKETIZE(f, 3) FROM UNNEST(['a', 'b', 'c', 'd']) AS t(f) ORDER BY f")
    assert [r[1] for r in rows] == [0, 1, 1, 2]
    words = [f"key-{i}" for i in range(200)] + ["", "é", "a" * 100]
    for size in (2, 7, 1000, 2**62 + 1):
        got = scalar(con, f"SELECT ML.HASH_BUCKETIZE(w, {size}) FROM UNNEST(?) WITH ORDINALITY AS t(w, i) ORDER BY i"
                     .replace("?", "[" + ", ".join(f"'{w}'" for w in words) + "]"))
        assert [r[0] for r in got] == [farmhash.fingerprint64(w) % size for w in words]
    assert scalar(con, "SELECT ML.HASH_BUCKETIZE(NULL::VARCHAR, 3), ML.HASH_BUCKETIZE('a', 0)") == [
        (None, signed_fingerprint("a"))]  # size 0: the fingerprint itself, not bucketized


def test_feature_cross_documented_example(con):
    assert scalar(con, "SELECT ML.FEATURE_CROSS(STRUCT('a' AS f1, 'b' AS f2, 'c' AS f3))") == [
        ({"f1_f2": "a_b", "f1_f3": "a_c", "f2_f3": "b_c"},)]
    # degree 3: every combination of 2 or 3 distinct fields, lexicographic; a NULL part gives NULL
    assert scalar(con, "SELECT ML.FEATURE_CROSS(STRUCT(f1, f2, f3), 3) FROM (SELECT 'a' AS f1, NULL AS f2, 3 AS f3)") \
        == [({"f1_f2": None, "f1_f2_f3": None, "f1_f3": "a_3", "f2_f3": None},)]


def test_polynomial_expand_documented_example(con):
    assert scalar(con, "SELECT ML.POLYNOMIAL_EXPAND(STRUCT(2 AS f1, 3 AS f2))") == [
        ({"f1": 2.0, "f1_f1": 4.0, "f1_f2": 6.0, "f2": 3.0, "f2_f2": 9.0},)]
    (row,) = scalar(con, "SELECT ML.POLYNOMIAL_EXPAND(STRUCT(a, b), 3) FROM (SELECT 2 AS a, 3 AS b)")
    assert list(row[0].items()) == [("a", 2.0), ("a_a", 4.0), ("a_a_a", 8.0), ("a_a_b", 12.0), ("a_b", 6.0),
                                    ("a_b_b", 18.0), ("b", 3.0), ("b_b", 9.0), ("b_b_b", 27.0)]


def test_ngrams_documented_example(con):
    assert scalar(con, "SELECT ML.NGRAMS(['a', 'b', 'c'], [2, 3], '#'), ML.NGRAMS(['a', 'b', 'c'], 2), "
                       "ML.NGRAMS(['a'], [2, 3]), ML.NGRAMS(NULL::VARCHAR[], 1)") == [
        (["a#b", "a#b#c", "b#c"], ["a b", "b c"], [], None)]


def test_normalizer_documented_example(con):
    ((l2, inf, l1, l0, zero, nulls),) = scalar(
        con, "SELECT ML.NORMALIZER([4.0, 1.0, 2.0, 2.0, 0.0]), ML.NORMALIZER([4, -5], CAST('+INF' AS FLOAT64)), "
             "ML.NORMALIZER([1, 3], 1), ML.NORMALIZER([3, 0, 4], 0), ML.NORMALIZER([0, 0]), "
             "ML.NORMALIZER([3, NULL, 4])")
    assert l2 == pytest.approx([0.8, 0.2, 0.4, 0.4, 0.0])
    assert inf == pytest.approx([0.8, -1.0]) and l1 == pytest.approx([0.25, 0.75]) and l0 == pytest.approx([1.5, 0, 2])
    assert zero == [0.0, 0.0] and nulls[1] is None and nulls[0] == pytest.approx(0.6)


# --- analytic functions: fitted on training rows, applied to any rows ------------------------------------------------
def test_quantile_bucketize_documented_example(con):
    assert column(con, "ML.QUANTILE_BUCKETIZE(x, 3) OVER () AS b", "five", order="ORDER BY x") == [
        "bin_1", "bin_2", "bin_2", "bin_3", "bin_3"]
    # split points [2, 4] are fitted on the training rows and inlined
    pairs = fitted(con, "five", ["ML.QUANTILE_BUCKETIZE(x, 3, 'bucket_ranges') OVER () AS b"])
    assert "OVER" not in pairs[0][1]
    assert apply(con, pairs, "UNNEST([-100, 100, NULL]) AS t(x)") == [("(-inf, 2)",), ("[4, +inf)",), (None,)]


def test_standard_scaler_uses_the_sample_deviation_of_the_training_rows(con):
    assert column(con, "ML.STANDARD_SCALER(x) OVER () AS z", "five", order="ORDER BY x") == pytest.approx(
        [-1.2649110640673518, -0.6324555320336759, 0.0, 0.6324555320336759, 1.2649110640673518])
    sd = math.sqrt(2.5)
    assert column(con, "ML.STANDARD_SCALER(x) OVER () AS z", "five", "UNNEST([10, NULL]) AS t(x)") == [
        pytest.approx((10 - 3) / sd), None]


def test_statistics_come_from_the_training_subset(con):
    training = "(SELECT * FROM range(1, 11) AS t(x) WHERE x <= 5)"  # 1..5 of 1..10
    pairs = fitted(con, training, ["ML.STANDARD_SCALER(x) OVER () AS z", "ML.MIN_MAX_SCALER(x) OVER () AS m",
                                   "ML.LABEL_ENCODER(CAST(x AS VARCHAR), 32000, 1) OVER () AS e"])
    rows = apply(con, pairs, "range(1, 11) AS t(x)", "ORDER BY x")
    assert rows[9][0] == pytest.approx(7 / math.sqrt(2.5)) and rows[9][1] == 1.0 and rows[9][2] == 0
    assert [r[2] for r in rows] == [1, 2, 3, 4, 5, 0, 0, 0, 0, 0]


def test_min_max_and_max_abs_scalers(con):
    assert column(con, "ML.MIN_MAX_SCALER(x) OVER () AS m", "five", order="ORDER BY x") == [0.0, 0.25, 0.5, 0.75, 1.0]
    # values outside the training range are capped to [0, 1], as BigQuery does; NULL stays NULL
    assert column(con, "ML.MIN_MAX_SCALER(x) OVER () AS m", "five", "UNNEST([-7, 4, 99, NULL]) AS t(x)") == [
        0.0, 0.75, 1.0, None]
    values = "(SELECT * FROM UNNEST([-3, -2, -1, 0, 1, 2, 3, 4, 5, NULL]) AS t(x))"
    scaled = column(con, "ML.MAX_ABS_SCALER(x) OVER () AS a", values)
    assert scaled[0] == pytest.approx(-0.6) and scaled[-2] == 1.0 and scaled[-1] is None


def test_robust_scaler_documented_example(con):
    values = "(SELECT * FROM UNNEST([-3, 1, 2, 3, 4, 5]) AS t(x))"
    assert column(con, "ML.ROBUST_SCALER(x) OVER () AS r", values) == pytest.approx(
        [(v - 2) / 3 for v in [-3, 1, 2, 3, 4, 5]])
    assert column(con, "ML.ROBUST_SCALER(x, [25, 75], FALSE) OVER () AS r", values)[0] == pytest.approx(-1.0)
    assert column(con, "ML.ROBUST_SCALER(x, with_quantile_range => FALSE) OVER () AS r", values)[0] == -5.0


def test_label_encoder_documented_example(con):
    assert column(con, "ML.LABEL_ENCODER(f, 2, 2) OVER () AS e", LETTERS, order="ORDER BY f NULLS FIRST") == [
        0, 0, 1, 1, 2, 2, 2, 0, 0]
    assert column(con, "ML.LABEL_ENCODER(f, 2, 2) OVER () AS e", LETTERS, "UNNEST(['c', 'zzz']) AS t(f)") == [2, 0]
    # the defaults (top_k 32000, frequency_threshold 5) leave every category of these nine rows out
    assert set(column(con, "ML.LABEL_ENCODER(f) OVER () AS e", LETTERS)) == {0}


def test_one_hot_encoder(con):
    order = "ORDER BY f NULLS FIRST"
    plain = column(con, "ML.ONE_HOT_ENCODER(f, 'none', 32000, 1) OVER () AS h", LETTERS, order=order)
    assert [h[0]["index"] for h in plain] == [0, 1, 2, 2, 3, 3, 3, 4, 4]  # alphabetical from 1, NULL = 0
    assert all(len(h) == 1 and h[0]["value"] == 1.0 for h in plain)
    dummy = column(con, "ML.ONE_HOT_ENCODER(f, 'most_frequent', 32000, 1) OVER () AS h", LETTERS, order=order)
    assert [(h[0]["index"], h[0]["value"]) for h in dummy] == [
        (0, 1.0), (1, 1.0), (2, 1.0), (2, 1.0), (3, 0.0), (3, 0.0), (3, 0.0), (4, 1.0), (4, 1.0)]
    limited = column(con, "ML.ONE_HOT_ENCODER(f, 'none', 2, 2) OVER () AS h", LETTERS, "UNNEST(['a', 'b', 'c', 'd', "
                     "'new']) AS t(f)")
    assert [h[0]["index"] for h in limited] == [0, 1, 2, 0, 0]  # rare, kept, kept, tie lost on top_k, unseen


def test_frequency_threshold_zero_keeps_every_category(con):
    # the page's own example ML.ONE_HOT_ENCODER(f, 'most_frequent', 10, 0):
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-one-hot-encoder
    order = "ORDER BY f NULLS FIRST"
    zero = column(con, "ML.ONE_HOT_ENCODER(f, 'most_frequent', 10, 0) OVER () AS h", LETTERS, order=order)
    one = column(con, "ML.ONE_HOT_ENCODER(f, 'most_frequent', 10, 1) OVER () AS h", LETTERS, order=order)
    assert zero == one  # every category is seen at least once: thresholds 0 and 1 keep the same vocabulary
    # https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-label-encoder
    assert column(con, "ML.LABEL_ENCODER(f, 10, 0) OVER () AS e", LETTERS, order=order) == [0, 1, 2, 2, 3, 3, 3, 4, 4]


def test_imputer_documented_examples(con):
    numbers = "(SELECT * FROM UNNEST([NULL, -3, -3, -3, 1, 2, 3, 4, 5]) AS t(f))"
    assert column(con, "ML.IMPUTER(f, 'mean') OVER () AS i", numbers, order="ORDER BY f NULLS FIRST") == [
        0.75, -3.0, -3.0, -3.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    strings = "(SELECT * FROM UNNEST([NULL, NULL, NULL, NULL, 'a', 'a', 'b', 'b', 'c', 'c', 'c']) AS t(f))"
    assert column(con, "ML.IMPUTER(f, 'most_frequent') OVER () AS i", strings, order="ORDER BY f NULLS FIRST") == [
        "c"] * 4 + ["a", "a", "b", "b", "c", "c", "c"]
    # median: a training value (the lower middle one of an even count); most_frequent ties go to the smallest value
    assert column(con, "ML.IMPUTER(f, 'median') OVER () AS i", numbers, "(SELECT NULL AS f)") == [1.0]
    assert column(con, "ML.IMPUTER(f, 'MOST_FREQUENT') OVER () AS i", "(SELECT * FROM UNNEST([2, 2, 1, 1]) t(f))",
                  "(SELECT NULL AS f)") == [1.0]


def test_ordinary_expressions_pass_through_as_written(con):
    rows = "(SELECT TIMESTAMP '2024-05-17 10:00:00' AS ts, 3 AS x, 'b' AS c)"
    transform = ["EXTRACT(DAYOFWEEK FROM ts) AS dow", "CAST(x AS DOUBLE) / 2 AS half",
                 "CASE WHEN c = 'a' THEN 1 ELSE 0 END AS is_a", "x", "ML.BUCKETIZE(x + 1, [2]) AS b"]
    pairs = fitted(con, rows, transform, label="x")
    assert pairs[:4] == [("dow", "EXTRACT(DAYOFWEEK FROM ts)"), ("half", "CAST(x AS DOUBLE) / 2"),
                         ("is_a", "CASE WHEN c = 'a' THEN 1 ELSE 0 END"), ("x", "x")]
    assert apply(con, pairs, rows) == [(5, 1.5, 0, 3, "bin_2")]
    assert transform_inputs(transform) == ["ts", "x", "c"]
    assert transform_inputs(["ML.FEATURE_CROSS(STRUCT(a AS f, s.g, list_transform(l, lambda e: e + k) AS h)) AS o"]) \
        == ["a", "s", "l", "k"]


class Counting:
    """A connection that counts the queries reading rows (DESCRIBE only binds)."""

    def __init__(self, con):
        self.con, self.reads = con, 0

    def execute(self, sql, *args):
        self.reads += not sql.startswith("DESCRIBE")
        return self.con.execute(sql, *args)


def test_all_statistics_in_one_query(con):
    counting = Counting(con)
    pairs = fitted(counting, "five", [f"ML.{f}(x) OVER () AS s{i}" for i, f in enumerate(
        ["STANDARD_SCALER", "MIN_MAX_SCALER", "MAX_ABS_SCALER", "ROBUST_SCALER"])] + [
        "ML.IMPUTER(y, 'median') OVER () AS s5", "ML.LABEL_ENCODER(CAST(x AS VARCHAR)) OVER () AS s6", "y"],
        label="y")
    assert counting.reads == 1 and len(pairs) == 7 and not any("OVER" in sql for _, sql in pairs)
    counting.reads = 0
    fitted(counting, "five", ["x * 2 AS x2", "ML.BUCKETIZE(x, [3]) AS b"])
    assert counting.reads == 0  # nothing to fit
    with pytest.raises(ProjectError, match="must be sorted"):
        fitted(counting, "five", ["ML.STANDARD_SCALER(x) OVER () AS z", "ML.BUCKETIZE(x, [3, 1]) AS b"])
    assert counting.reads == 0  # settings are checked before any row is read


# --- errors ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("entry", "message"), [
    ("AVG(x) AS m", "the aggregate AVG(x) is not allowed in TRANSFORM"),
    ("HISTOGRAM(x) AS h", "it aggregates, and TRANSFORM works row by row"),
    ("(SELECT 1) AS s", "a subquery is not allowed in TRANSFORM"),
    ("x IN (SELECT 1) AS s", "a subquery is not allowed in TRANSFORM"),
    ("ROW_NUMBER() OVER () AS r", "the window function ROW_NUMBER() OVER () is not allowed in TRANSFORM"),
    ("AVG(x) OVER () AS r", "the window function AVG(x) OVER () is not allowed in TRANSFORM"),
    ("ML.STANDARD_SCALER(x) AS s", "ML.STANDARD_SCALER is an analytic function and needs OVER ()"),
    ("ML.STANDARD_SCALER(x) OVER (PARTITION BY y) AS s", "ML.STANDARD_SCALER takes an empty OVER ()"),
    ("ML.MIN_MAX_SCALER(x) OVER (ORDER BY y) AS s", "ML.MIN_MAX_SCALER takes an empty OVER ()"),
    ("ML.BUCKETIZE(x, [1]) OVER () AS b", "ML.BUCKETIZE is not an analytic function"),
    ("ML.STANDARD_SCALER(ML.IMPUTER(x, 'mean') OVER ()) OVER () AS s", "is inside another analytic function"),
    ("x + 1", "has no name"),
    ("* EXCEPT (nope)", "TRANSFORM(* EXCEPT (…)) names the column nope, which the query after AS does not return"),
    ("* REPLACE (x + 1 AS nope)", "TRANSFORM(* REPLACE (…)) names the column nope"),
    ("ML.BUCKETIZE(x, [3, 1]) AS b", "array_split_points must be sorted in ascending order"),
    ("ML.BUCKETIZE(x, ['a', 'b']) AS b", "array_split_points must be an array of numbers"),
    ("ML.BUCKETIZE(x, [1, y]) AS b", "array_split_points must be a constant, not y"),
    ("ML.BUCKETIZE(x, [1], FALSE, 'bins') AS b", "output_format must be one of"),
    ("ML.BUCKETIZE(x) AS b", "needs its argument array_split_points"),
    ("ML.BUCKETIZE(x, [1], TRUE, 'bucket_names', 4) AS b", "takes at most 4 arguments, got 5"),
    ("ML.BUCKETIZE(x, [1], exclude => TRUE) AS b", "has no argument 'exclude'"),
    ("ML.BUCKETIZE(x, array_split_points => [1], FALSE) AS b", "positional argument after a named one"),
    ("ML.QUANTILE_BUCKETIZE(x, 1) OVER () AS b", "num_buckets must be at least 2, not 1"),
    ("ML.QUANTILE_BUCKETIZE(x, 2.5) OVER () AS b", "num_buckets must be an integer"),
    ("ML.FEATURE_CROSS(STRUCT(a, b), 1) AS f", "degree must be in [2, 4], not 1"),
    ("ML.FEATURE_CROSS(STRUCT(a, b + 1)) AS f", "unnamed field"),
    ("ML.FEATURE_CROSS(STRUCT(a, b AS a)) AS f", "names the field 'a' twice"),
    ("ML.FEATURE_CROSS(a) AS f", "must be written as STRUCT(a, b AS name, …)"),
    ("ML.POLYNOMIAL_EXPAND(STRUCT(a, b), 5) AS p", "degree must be in [1, 4], not 5"),
    ("ML.IMPUTER(x, 'average') OVER () AS i", "strategy must be one of 'mean', 'median', 'most_frequent'"),
    ("ML.IMPUTER(x, 'meen') OVER () AS i", 'did you mean "mean"'),
    ("ML.ONE_HOT_ENCODER(s, 'none', 0) OVER () AS h", "top_k must be in [1, 999999], not 0"),
    ("ML.LABEL_ENCODER(s, 10, -1) OVER () AS h", "frequency_threshold must be at least 0, not -1"),
    ("ML.ONE_HOT_ENCODER(s, 'first') OVER () AS h", "drop must be one of 'none', 'most_frequent'"),
    ("ML.ROBUST_SCALER(x, [75, 25]) OVER () AS r", "quantile_range must be [low, high] with 0 < low < high < 100"),
    ("ML.NORMALIZER(v, 0.5) AS n", "p must be 0, a number >= 1"),
    ("ML.NGRAMS(v, [3, 2]) AS n", "range must be [low, high] with 1 <= low <= high"),
    ("ML.HASH_BUCKETIZE(s, -1) AS h", "hash_bucket_size must be at least 0"),
    ("ML.STANDARD_SCALER(s) OVER () AS z", "ML.STANDARD_SCALER takes a number, but s is VARCHAR"),
    ("ML.IMPUTER(s, 'mean') OVER () AS z", "ML.IMPUTER takes a number, but s is VARCHAR"),
    ("ML.STANDARD_SCALER(nope) OVER () AS z", "cannot read nope from the model's rows"),
    ("nope * 2 AS z", "it cannot be computed on the model's rows"),
])
def test_transform_errors_name_the_model_and_the_entry(con, entry, message):
    rows = "(SELECT 1 AS x, 2 AS y, 'a' AS s, [1, 2] AS v, 'p' AS a, 'q' AS b)"
    with pytest.raises(ProjectError) as raised:
        fitted(con, rows, [entry, "y"], label="y")
    text = str(raised.value)
    assert "CREATE MODEL m" in text and message in text, text
    if "has no name" not in message and "*" not in entry:
        assert f"TRANSFORM entry `{entry}`" in text, text


@pytest.mark.parametrize(("transform", "message"), [
    (["x", "x * 2 AS X"], "TRANSFORM outputs the column x 2 times: `x`, `x * 2 AS X`"),
    (["x"], "the label `y` is missing from TRANSFORM(…)"),
    (["x", "y AS target"], "the label `y` must keep its name, but `y AS target` renames it"),
    (["x", "y * 2 AS y"], "the label `y` must pass through TRANSFORM unchanged, but `y * 2 AS y` computes it"),
    (["x", "y", "NOT is_eval AS is_eval"], "the column named in OPTIONS `is_eval` must pass through TRANSFORM"),
    (["x", "y", "is_eval AS e"], "the column named in OPTIONS `is_eval` must keep its name"),
])
def test_output_names_label_and_passthrough_columns(con, transform, message):
    rows = "(SELECT 1 AS x, 2 AS y, TRUE AS is_eval)"
    with pytest.raises(ProjectError, match=None) as raised:
        fitted(con, rows, transform, label="y", passthrough=["is_eval"])
    assert message in str(raised.value) and "CREATE MODEL m" in str(raised.value)


def test_label_and_passthrough_columns_that_pass_through(con):
    rows = "(SELECT 1 AS x, 2 AS y, TRUE AS is_eval)"
    assert fitted(con, rows, ["x", "Y", "is_eval"], label="y", passthrough=["is_eval"]) == [
        ("x", "x"), ("Y", "Y"), ("is_eval", "is_eval")]
    assert fitted(con, rows, ["x", "y AS y"], label="y", passthrough=["is_eval"])[1] == ("y", "y")  # split: optional


def test_analytic_functions_are_refused_outside_transform():
    with pytest.raises(ProjectError, match=r"only inside TRANSFORM\(…\) of a CREATE MODEL"):
        rewrite_scalar_preprocessing(sqlglot.parse_one("SELECT ML.STANDARD_SCALER(x) OVER () FROM t", read=DIALECT))
    with pytest.raises(ProjectError, match="only inside TRANSFORM"):
        rewrite_scalar_preprocessing(sqlglot.parse_one("SELECT ML.IMPUTER(x, 'mean') FROM t", read=DIALECT))


# --- model files, built through the CLI -------------------------------------------------------------------------------
SCALAR_MODEL = """\
SELECT s,
       ML.BUCKETIZE(x, [0, 10]) AS bucket,
       ML.HASH_BUCKETIZE(s, 3) AS hashed,
       ML.FEATURE_CROSS(STRUCT(s, CAST(x AS VARCHAR) AS x)) AS crossed,
       ML.NGRAMS(string_split(s, ''), 2, '') AS grams
FROM (SELECT * FROM (VALUES ('a', -1), ('b', 5), ('c', 50)) AS v(s, x))
"""


def test_scalar_functions_in_a_model_file(project, toolkit):
    folder = project({"models/features.sql": SCALAR_MODEL, "models/plain.sql": "select /* as written */ 1 as one\n"})
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert query(folder / "warehouse.duckdb", "SELECT * FROM features ORDER BY s") == [
        ("a", "bin_1", 0, {"s_x": "a_-1"}, []),
        ("b", "bin_2", 1, {"s_x": "b_5"}, []),
        ("c", "bin_3", 1, {"s_x": "c_50"}, []),
    ]
    compiled = toolkit(folder, "compile")
    assert compiled.exit_code == 0
    assert "ML." not in (folder / "target/compiled/models/features.sql").read_text()
    assert (folder / "target/compiled/models/plain.sql").read_text().startswith("select /* as written */ 1 as one")


def test_analytic_function_in_a_model_file_is_refused(project, toolkit):
    folder = project({"models/scaled.sql": "SELECT x,\n  ML.STANDARD_SCALER(x) OVER () AS z\nFROM range(3) t(x)"})
    result = toolkit(folder, "build")
    assert result.exit_code == 2
    assert "scaled.sql, line 2" in result.output and "only inside TRANSFORM(…) of a CREATE MODEL" in result.output


def test_ml_typo_in_a_model_file(project, toolkit):
    folder = project({"models/typo.sql": "SELECT\n  ML.QUANTILE_BUCKETISE(x, 4) OVER () AS q\nFROM range(3) t(x)"})
    result = toolkit(folder, "build")
    assert result.exit_code == 2
    assert "typo.sql, line 2" in result.output and 'did you mean "ML.QUANTILE_BUCKETIZE"' in result.output


def test_create_model_query_gets_scalar_functions_rewritten(tmp_path):
    from conftest import write_files

    from toolkit.config import load_settings
    from toolkit.project.load import load_project

    root = write_files(tmp_path, {"models/m.sql": (
        "CREATE OR REPLACE MODEL m TRANSFORM(ML.STANDARD_SCALER(x) OVER () AS z, label) "
        "OPTIONS (model_type = 'linear_reg') AS SELECT x, ML.BUCKETIZE(x, [1]) AS b, 1.0 AS label FROM range(3) t(x)")})
    create = load_project(load_settings(root)).nodes["m"].create_model
    assert "ML." not in create.query and "CASE WHEN x IS NULL" in create.query
    assert create.transform == ("ML.STANDARD_SCALER(x) OVER () AS z", "label")  # fitted when the model trains
    (root / "models/m.sql").write_text("CREATE MODEL m OPTIONS (model_type = 'linear_reg') AS SELECT x, "
                                       "ML.MIN_MAX_SCALER(x) OVER () AS s, 1.0 AS label FROM range(3) t(x)")
    with pytest.raises(ToolkitError, match="only inside TRANSFORM"):
        load_project(load_settings(root))
