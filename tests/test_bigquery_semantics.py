"""BigQuery expressions give BigQuery's values in DuckDB: each case is (BigQuery expression, BigQuery's documented
result), run as SELECT <expr> through the BigQuery dialect, toolkit.sql.bigquery.to_duckdb and DuckDB, and compared
by value and Python type (a DATE comes back as a date, FLOAT64 as a float, NUMERIC as a Decimal)."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import duckdb
import pytest
import sqlglot

from toolkit.sql.bigquery import Untranslatable, to_duckdb
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.dialect import Toolkit, ToolkitBigQuery
from toolkit.sql.literals import constant
from toolkit.warehouse.functions import register_functions


def translate(sql: str) -> str:
    return to_duckdb(sqlglot.parse_one(sql, dialect=ToolkitBigQuery), Datasets()).sql(dialect=Toolkit)


def value_of(con: duckdb.DuckDBPyConnection, expression: str) -> Any:
    return con.execute(translate(f"SELECT {expression}")).fetchone()[0]


def same(actual: Any, expected: Any) -> bool:
    """Equal values of the same Python type, NaN equal to NaN, lists element by element."""
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(same, actual, expected))
    if type(actual) is not type(expected):
        return False
    if isinstance(expected, float) and math.isnan(expected):
        return math.isnan(actual)
    return actual == expected


def _connection() -> duckdb.DuckDBPyConnection:
    """An in-memory connection with the toolkit's functions and macros, as every warehouse connection has."""
    connection = duckdb.connect()
    register_functions(connection)
    return connection


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = _connection()
    connection.execute("""CREATE TABLE typed AS SELECT 1.0::DOUBLE AS f, 0.30000000000000004::DOUBLE AS g,
        1.50::DECIMAL(38, 9) AS n, TIMESTAMPTZ '2008-12-25 15:30:00.25+00' AS ts,
        TIMESTAMP '2008-12-25 15:30:00.25' AS dt, DATE '2008-12-25' AS d, TRUE AS b, 42::BIGINT AS i,
        'apple' AS s, '\\xd0\\xb0\\xd0\\xb1'::BLOB AS bytes, 2.5::DOUBLE AS half, '1.5' AS text_number,
        0::BIGINT AS zero, 'абвгд' AS cyrillic""")
    return connection


# Date functions, EXTRACT and format elements:
# https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions
# https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions
# https://cloud.google.com/bigquery/docs/reference/standard-sql/format-elements
DATES = [
    ("EXTRACT(DAY FROM DATE '2013-12-25')", 25),
    ("EXTRACT(DAYOFWEEK FROM DATE '2008-12-25')", 5),
    ("EXTRACT(DAYOFWEEK FROM DATE '2008-12-21')", 1),
    ("EXTRACT(DAYOFYEAR FROM DATE '2016-12-31')", 366),
    ("EXTRACT(QUARTER FROM DATE '2017-05-01')", 2),
    ("EXTRACT(WEEK FROM DATE '2015-12-26')", 51),
    ("EXTRACT(WEEK FROM DATE '2015-12-27')", 52),
    ("EXTRACT(WEEK FROM DATE '2016-01-01')", 0),
    ("EXTRACT(WEEK FROM DATE '2016-01-03')", 1),
    ("EXTRACT(ISOWEEK FROM DATE '2015-12-28')", 53),
    ("EXTRACT(ISOWEEK FROM DATE '2016-01-04')", 1),
    ("EXTRACT(ISOYEAR FROM DATE '2016-01-02')", 2015),
    ("EXTRACT(YEAR FROM DATE '2016-01-02')", 2016),
    ("EXTRACT(WEEK(SUNDAY) FROM DATE '2017-11-05')", 45),
    ("EXTRACT(WEEK(MONDAY) FROM DATE '2017-11-05')", 44),
    ("EXTRACT(WEEK(SATURDAY) FROM DATE '2017-01-07')", 1),
    ("EXTRACT(WEEK(SATURDAY) FROM DATE '2017-01-06')", 0),
    ("EXTRACT(WEEK(TUESDAY) FROM DATE '2017-01-03')", 1),
    ("DATE_TRUNC(DATE '2008-12-25', MONTH)", date(2008, 12, 1)),
    ("DATE_TRUNC(DATE '2008-12-25', WEEK)", date(2008, 12, 21)),
    ("DATE_TRUNC(DATE '2017-11-05', WEEK(MONDAY))", date(2017, 10, 30)),
    ("DATE_TRUNC(DATE '2008-12-25', WEEK(SATURDAY))", date(2008, 12, 20)),
    ("DATE_TRUNC(DATE '2015-06-15', ISOYEAR)", date(2014, 12, 29)),
    ("DATE_DIFF(DATE '2010-07-07', DATE '2008-12-25', DAY)", 559),
    ("DATE_DIFF(DATE '2017-10-15', DATE '2017-10-14', DAY)", 1),
    ("DATE_DIFF(DATE '2017-10-15', DATE '2017-10-14', WEEK)", 1),
    ("DATE_DIFF(DATE '2017-12-30', DATE '2014-12-30', YEAR)", 3),
    ("DATE_DIFF(DATE '2017-12-30', DATE '2014-12-30', ISOYEAR)", 2),
    ("DATE_DIFF(DATE '2017-12-18', DATE '2017-12-17', WEEK)", 0),
    ("DATE_DIFF(DATE '2017-12-18', DATE '2017-12-17', WEEK(MONDAY))", 1),
    ("DATE_DIFF(DATE '2017-12-18', DATE '2017-12-17', ISOWEEK)", 1),
    ("DATE_DIFF(DATE '2017-12-20', DATE '2017-12-18', WEEK(WEDNESDAY))", 1),
    ("TIMESTAMP_DIFF(TIMESTAMP '2010-07-07 10:20:00+00', TIMESTAMP '2008-12-25 15:30:00+00', HOUR)", 13410),
    ("TIMESTAMP_DIFF(TIMESTAMP '2001-02-01 01:00:00', TIMESTAMP '2001-02-01 00:00:01', HOUR)", 0),
    ("TIMESTAMP_DIFF(TIMESTAMP '2018-08-14', TIMESTAMP '2018-10-14', DAY)", -61),
    ("FORMAT_DATE('%x', DATE '2008-12-25')", "12/25/08"),
    ("FORMAT_DATE('%b-%d-%Y', DATE '2008-12-25')", "Dec-25-2008"),
    ("FORMAT_DATE('%b %Y', DATE '2008-12-25')", "Dec 2008"),
    ("FORMAT_DATE('%Q', DATE '2008-12-25')", "4"),
    ("FORMAT_DATE('%e|%C|%g|%F', DATE '2008-12-05')", " 5|20|08|2008-12-05"),
    ("FORMAT_DATE('%U %W %V %j %u %w', DATE '2017-01-01')", "01 00 52 001 7 0"),
    ("FORMAT_DATE('%E4Y', DATE '0050-01-01')", "0050"),
    ("FORMAT_DATE('100%% %Y', DATE '2017-01-01')", "100% 2017"),
    ("FORMAT_DATETIME('%c', DATETIME '2008-12-25 15:30:00')", "Thu Dec 25 15:30:00 2008"),
    ("FORMAT_DATETIME('%k|%l|%P|%T', DATETIME '2008-12-25 05:30:00')", " 5| 5|am|05:30:00"),
    ("FORMAT_TIMESTAMP('%c', TIMESTAMP '2050-12-25 15:30:55+00', 'UTC')", "Sun Dec 25 15:30:55 2050"),
    ("FORMAT_TIMESTAMP('%b-%d-%Y', TIMESTAMP '2050-12-25 15:30:55+00')", "Dec-25-2050"),
    ("FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%SZ', TIMESTAMP '2050-12-25 15:30:55', 'UTC')", "2050-12-25T15:30:55Z"),
    ("FORMAT_TIMESTAMP('%H:%M %Z', TIMESTAMP '2050-12-25 15:30:55+00')", "15:30 UTC"),
    ("FORMAT_TIMESTAMP('%H:%M', TIMESTAMP '2050-12-25 15:30:55+00', 'America/Los_Angeles')", "07:30"),
    ("GENERATE_DATE_ARRAY('2016-10-05', '2016-10-08')",
     [date(2016, 10, 5), date(2016, 10, 6), date(2016, 10, 7), date(2016, 10, 8)]),
    ("GENERATE_DATE_ARRAY('2016-10-05', '2016-10-09', INTERVAL 2 DAY)",
     [date(2016, 10, 5), date(2016, 10, 7), date(2016, 10, 9)]),
    ("GENERATE_DATE_ARRAY('2016-10-05', '2016-10-01', INTERVAL -3 DAY)", [date(2016, 10, 5), date(2016, 10, 2)]),
    ("GENERATE_DATE_ARRAY('2016-10-05', '2016-10-01', INTERVAL 1 DAY)", []),
    ("GENERATE_DATE_ARRAY('2016-01-01', '2016-12-31', INTERVAL 2 MONTH)",
     [date(2016, m, 1) for m in (1, 3, 5, 7, 9, 11)]),
]

# String functions: https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions
STRINGS = [
    ("CONCAT('T.P.', ' ', 'Bar')", "T.P. Bar"),
    ("CONCAT('a', NULL)", None),
    ("'a' || NULL", None),
    ("'a' || 'b'", "ab"),
    ("SUBSTR('apple', 2)", "pple"),
    ("SUBSTR('apple', 2, 2)", "pp"),
    ("SUBSTR('apple', -2)", "le"),
    ("SUBSTR('apple', 1, 123)", "apple"),
    ("SUBSTR('apple', 123)", ""),
    ("SUBSTR('apple', 0, 2)", "ap"),
    ("SUBSTR('apple', -10, 3)", "app"),
    ("STRPOS('foo@example.com', '@')", 4),
    ("STRPOS('foo', 'z')", 0),
    ("INSTR('banana', 'an', 1, 1)", 2),
    ("INSTR('banana', 'an', 1, 2)", 4),
    ("INSTR('banana', 'an', 1, 3)", 0),
    ("INSTR('banana', 'an', 3, 1)", 4),
    ("INSTR('banana', 'an', -1, 1)", 4),
    ("INSTR('banana', 'an', -3, 1)", 4),
    ("INSTR('banana', 'ann', 1, 1)", 0),
    ("INSTR('helloooo', 'oo', 1, 1)", 5),
    ("INSTR('helloooo', 'oo', 1, 2)", 6),
    ("LEFT('apple', 3)", "app"),
    ("RIGHT('apple', 3)", "ple"),
    ("LENGTH('абвгд')", 5),
    ("LENGTH(CAST('абвгд' AS BYTES))", 10),
    ("LENGTH(b'abc')", 3),
    ("CHAR_LENGTH('абвгд')", 5),
    ("BYTE_LENGTH('абвгд')", 10),
    ("BYTE_LENGTH(b'abc')", 3),
    ("SPLIT('a,b,c')", ["a", "b", "c"]),
    ("SPLIT('b c d', ' ')", ["b", "c", "d"]),
    ("SPLIT('', ',')", [""]),
    ("SPLIT('abc', '')", ["a", "b", "c"]),
    ("SAFE_CAST('apple' AS INT64)", None),
    ("SAFE_CAST('1.5' AS INT64)", None),
    ("CAST('0x123' AS INT64)", 291),
    ("SAFE.SUBSTR('foo', 0, -2)", None),
    ("IF(1 < 2, 'yes', 'no')", "yes"),
    ("IFNULL(NULL, 0)", 0),
    ("IFNULL(10, 0)", 10),
    ("COUNTIF(x < 0) FROM UNNEST([5, -2, 3, 6, -10, -7, 4, 0]) AS x", 3),
    ("COUNTIF(x > 0) FROM UNNEST([5, -2, 3, 6, -10, -7, 4, 0]) AS x", 4),
    ("FORMAT('%d', 10)", "10"),
    ("FORMAT('|%10d|', 11)", "|        11|"),
    ("FORMAT('+%010d+', 12)", "+0000000012+"),
    ("FORMAT('-|%s|-', 'abcd efg')", "-|abcd efg|-"),
    ("FORMAT('%3.2f', 1.1)", "1.10"),
    ("FORMAT('%X %o', 255, 8)", "FF 10"),
]

# Mathematical functions and operators:
# https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions
# https://cloud.google.com/bigquery/docs/reference/standard-sql/operators
NUMBERS = [
    ("1.5", 1.5),
    ("0.1 + 0.2", 0.30000000000000004),
    ("100000 * 100000", 10000000000),
    ("2147483647 + 1", 2147483648),
    ("1 / 2", 0.5),
    ("10 / 4", 2.5),
    ("SAFE_DIVIDE(10, 4)", 2.5),
    ("SAFE_DIVIDE(1, 0)", None),
    ("IEEE_DIVIDE(20, 4)", 5.0),
    ("IEEE_DIVIDE(20, 0)", math.inf),
    ("IEEE_DIVIDE(-20, 0)", -math.inf),
    ("IEEE_DIVIDE(0, 0)", math.nan),
    ("DIV(20, 4)", 5),
    ("DIV(12, -7)", -1),
    ("DIV(20, 3)", 6),
    ("DIV(0, 20)", 0),
    ("MOD(25, 12)", 1),
    ("MOD(25, -12)", 1),
    ("MOD(-25, 12)", -1),
    ("MOD(-25, -12)", -1),
    ("ROUND(2.0)", 2.0),
    ("ROUND(2.3)", 2.0),
    ("ROUND(2.8)", 3.0),
    ("ROUND(2.5)", 3.0),
    ("ROUND(-2.3)", -2.0),
    ("ROUND(-2.8)", -3.0),
    ("ROUND(-2.5)", -3.0),
    ("ROUND(123.7, -1)", 120.0),
    ("ROUND(1.235, 2)", 1.24),
    ("ROUND(NUMERIC '2.5')", Decimal("3")),
    ("ROUND(NUMERIC '-2.5')", Decimal("-3")),
    ("ROUND(NUMERIC '1.235', 2)", Decimal("1.24")),
    ("ROUND(NUMERIC '2.25', 1, 'ROUND_HALF_EVEN')", Decimal("2.2")),
    ("ROUND(NUMERIC '2.35', 1, 'ROUND_HALF_EVEN')", Decimal("2.4")),
    ("NUMERIC '1.123456789'", Decimal("1.123456789")),
    ("TRUNC(2.8)", 2.0),
    ("TRUNC(-2.8)", -2.0),
    ("TRUNC(-2.5)", -2.0),
    ("TRUNC(123.7, -1)", 120.0),
    ("LOG(100, 10)", 2.0),
    ("LOG10(100)", 2.0),
    ("SQRT(4)", 2.0),
    ("SAFE.LOG(-1)", None),
    ("SAFE.LN(0)", None),
    ("SAFE.SQRT(-1)", None),
    ("CAST(2.5 AS INT64)", 3),
    ("CAST(-2.5 AS INT64)", -3),
    ("CAST(1.4 AS INT64)", 1),
    ("GENERATE_ARRAY(1, 5)", [1, 2, 3, 4, 5]),
    ("GENERATE_ARRAY(0, 10, 3)", [0, 3, 6, 9]),
    ("GENERATE_ARRAY(10, 0, -3)", [10, 7, 4, 1]),
    ("GENERATE_ARRAY(4, 4, 10)", [4]),
    ("GENERATE_ARRAY(10, 0, 3)", []),
    ("GENERATE_ARRAY(5, NULL, 1)", None),
    ("GENERATE_ARRAY(0, 1, 0.25)", [0.0, 0.25, 0.5, 0.75, 1.0]),
    ("GENERATE_ARRAY(1.5, 0, -0.5)", [1.5, 1.0, 0.5, 0.0]),
]

# Conversion rules: https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions
CASTS = [
    ("CAST(1.0 AS STRING)", "1"),
    ("CAST(1.5 AS STRING)", "1.5"),
    ("CAST(0.1 + 0.2 AS STRING)", "0.30000000000000004"),
    ("CAST(1e20 AS STRING)", "1e+20"),
    ("CAST(1e-7 AS STRING)", "1e-07"),
    ("CAST(123456789.0 AS STRING)", "123456789"),
    ("CAST(123456789012345678.0 AS STRING)", "1.2345678901234568e+17"),
    ("CAST(CAST('nan' AS FLOAT64) AS STRING)", "nan"),
    ("CAST(CAST('inf' AS FLOAT64) AS STRING)", "inf"),
    ("CAST(CAST('-inf' AS FLOAT64) AS STRING)", "-inf"),
    ("CAST(TRUE AS STRING)", "true"),
    ("CAST(42 AS STRING)", "42"),
    ("CAST(NUMERIC '1.50' AS STRING)", "1.5"),
    ("CAST(NUMERIC '10' AS STRING)", "10"),
    ("CAST(DATE '2008-12-25' AS STRING)", "2008-12-25"),
    ("CAST(DATETIME '2008-12-25 15:30:00' AS STRING)", "2008-12-25 15:30:00"),
    ("CAST(TIMESTAMP '2008-12-25 15:30:00+00' AS STRING)", "2008-12-25 15:30:00+00"),
    ("CAST(TIMESTAMP '2008-12-25 15:30:00' AS STRING)", "2008-12-25 15:30:00+00"),
    ("CAST(TIMESTAMP '2008-12-25 15:30:00-08' AS STRING)", "2008-12-25 23:30:00+00"),
    ("CAST(TIMESTAMP '2008-12-25 15:30:00.123456+00' AS STRING)", "2008-12-25 15:30:00.123456+00"),
    ("CAST(CAST('абв' AS BYTES) AS STRING)", "абв"),
    ("TIMESTAMP '2008-12-25 15:30:00'", datetime(2008, 12, 25, 15, 30, tzinfo=timezone.utc)),
    ("DATE '2008-12-25'", date(2008, 12, 25)),
]

# APPROX_QUANTILES: https://cloud.google.com/bigquery/docs/reference/standard-sql/approximate_aggregate_functions
AGGREGATES = [
    ("APPROX_QUANTILES(x, 2) FROM UNNEST([1, 1, 1, 4, 5, 6, 7, 8, 9, 10]) AS x", [1, 5, 10]),
    ("APPROX_QUANTILES(x, 100)[OFFSET(90)] FROM UNNEST([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) AS x", 9),
    ("APPROX_QUANTILES(DISTINCT x, 2) FROM UNNEST([1, 1, 1, 4, 5, 6, 7, 8, 9, 10]) AS x", [1, 6, 10]),
    ("APPROX_QUANTILES(x, 2) FROM UNNEST([NULL, NULL, 1, 1, 1, 4, 5, 6, 7, 8, 9, 10]) AS x", [1, 5, 10]),
    ("APPROX_QUANTILES(x, 4)[ORDINAL(1)] FROM UNNEST([3, 1, 2]) AS x", 1),
    ("APPROX_QUANTILES(x, 2)[SAFE_OFFSET(5)] FROM UNNEST([3, 1, 2]) AS x", None),
    ("APPROX_QUANTILES(x, 4) FROM UNNEST([1.5, 0.5]) AS x", [0.5, 0.5, 0.5, 0.5, 1.5]),
    ("[1, 2, 3][SAFE_OFFSET(-2)]", None),
    ("[1, 2, 3][ORDINAL(3)]", 3),
    # LIMIT in aggregates: https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions
    ("ARRAY_AGG(x ORDER BY ABS(x), x LIMIT 5) FROM UNNEST([2, 1, -2, 3, -2, 1, 2]) AS x", [1, 1, -2, -2, 2]),
    ("ARRAY_AGG(x IGNORE NULLS ORDER BY x DESC LIMIT 2) FROM UNNEST([NULL, 1, -2, 3, NULL]) AS x", [3, 1]),
    ("ARRAY_AGG(DISTINCT x ORDER BY x LIMIT 3) FROM UNNEST([2, 1, -2, 3, -2, 1, 2]) AS x", [-2, 1, 2]),
    ("ARRAY_AGG(x LIMIT 0) FROM UNNEST([1, 2]) AS x", []),
    ("STRING_AGG(fruit, ' & ' ORDER BY fruit LIMIT 2) FROM UNNEST(['apple', NULL, 'pear', 'banana', 'pear']) AS fruit",
     "apple & banana"),
    ("STRING_AGG(DISTINCT fruit ORDER BY fruit DESC LIMIT 2) FROM UNNEST(['apple', 'pear', 'banana', 'pear']) AS fruit",
     "pear,banana"),
    ("ARRAY_CONCAT_AGG(x ORDER BY ARRAY_LENGTH(x) LIMIT 2) FROM (SELECT [1, 2, 3, 4] AS x UNION ALL SELECT [5, 6] "
     "UNION ALL SELECT [7, 8, 9])", [5, 6, 7, 8, 9]),
]


@pytest.mark.parametrize(("expression", "expected"), DATES + STRINGS + NUMBERS + CASTS + AGGREGATES,
                         ids=[case[0] for case in DATES + STRINGS + NUMBERS + CASTS + AGGREGATES])
def test_bigquery_value(con: duckdb.DuckDBPyConnection, expression: str, expected: Any) -> None:
    actual = value_of(con, expression)
    assert same(actual, expected), f"{expression}: {actual!r} ({type(actual).__name__}), BigQuery: {expected!r}"


# BigQuery raises an error at run time for these; DuckDB must too (not return NULL, inf or a truncated value).
ERRORS = [
    ("1 / 0", "division by zero"),
    ("1.5 / 0", "division by zero"),
    ("DIV(20, 0)", "Division by zero"),
    ("MOD(25, 0)", "Division by zero"),
    ("9223372036854775807 + 1", "Overflow"),
    ("LN(0)", "LN"),
    ("LOG(-1)", "LN"),
    ("LOG(8, 1)", "LOG"),
    ("SQRT(-1)", "SQRT"),
    ("SUBSTR('apple', 1, -1)", "SUBSTR"),
    ("LEFT('apple', -1)", "LEFT"),
    ("CAST('1.5' AS INT64)", "INT64"),
    ("INSTR('banana', 'an', 0, 1)", "INSTR"),
    ("GENERATE_ARRAY(1, 5, 0)", "GENERATE_ARRAY"),
    ("APPROX_QUANTILES(x, 2)[OFFSET(5)] FROM UNNEST([3, 1, 2]) AS x", "out of bounds"),
    ("[1, 2, 3][OFFSET(-1)]", "out of bounds"),
]


@pytest.mark.parametrize(("expression", "message"), ERRORS, ids=[case[0] for case in ERRORS])
def test_bigquery_error(con: duckdb.DuckDBPyConnection, expression: str, message: str) -> None:
    with pytest.raises(duckdb.Error, match=message):
        value_of(con, expression)


# No faithful translation: refused when translated, naming the function.
REFUSED = [
    ("ST_GEOGPOINT(-122.35, 47.62)", "ST_GEOGPOINT"),
    ("ST_DISTANCE(ST_GEOGPOINT(0, 0), ST_GEOGPOINT(1, 1))", "ST_"),
    ("ST_DWITHIN(a, b, 10) FROM t", "ST_DWITHIN"),
    ("CAST(x AS GEOGRAPHY) FROM t", "GEOGRAPHY"),
    ("FORMAT_DATE('%J', DATE '2008-12-25')", "%J"),
    ("FORMAT_TIMESTAMP('%E*S', TIMESTAMP '2008-12-25 15:30:00')", "%E*S"),
    ("FORMAT_TIMESTAMP('%Z', TIMESTAMP '2008-12-25 15:30:00', 'America/Los_Angeles')", "%Z"),
    ("FORMAT_DATE(f, DATE '2008-12-25') FROM t", "FORMAT_DATE"),
    ("FORMAT('%t', 1)", "FORMAT"),
    ("FORMAT(\"%'d\", 123456789)", "FORMAT"),
    ("APPROX_QUANTILES(x, 2 RESPECT NULLS) FROM t", "APPROX_QUANTILES"),
    ("APPROX_QUANTILES(x, n) FROM t", "APPROX_QUANTILES"),
    ("BIGNUMERIC '1.5'", "BIGNUMERIC"),
    ("TIMESTAMP_DIFF(a, b, WEEK) FROM t", "TIMESTAMP_DIFF"),
    ("ROUND(x, 1, mode) FROM t", "ROUND"),
    ("ARRAY_AGG(x LIMIT n) FROM t", "ARRAY_AGG"),
    ("STRING_AGG(s ORDER BY s LIMIT n) FROM t", "STRING_AGG"),
]


@pytest.mark.parametrize(("expression", "name"), REFUSED, ids=[case[0] for case in REFUSED])
def test_refused_by_name(expression: str, name: str) -> None:
    with pytest.raises(Untranslatable) as refused:
        translate(f"SELECT {expression}")
    assert name in refused.value.message


def test_refusal_knows_the_line() -> None:
    with pytest.raises(Untranslatable) as refused:
        translate("SELECT\n  1,\n  ST_GEOGPOINT(1, 2)")
    assert refused.value.line == 3


# Columns: the type is DuckDB's to know; each branch must bind for every type.
COLUMNS = [
    ("CAST(f AS STRING)", "1"),
    ("CAST(g AS STRING)", "0.30000000000000004"),
    ("CAST(n AS STRING)", "1.5"),
    ("CAST(ts AS STRING)", "2008-12-25 15:30:00.250+00"),
    ("CAST(dt AS STRING)", "2008-12-25 15:30:00.250"),
    ("CAST(d AS STRING)", "2008-12-25"),
    ("CAST(b AS STRING)", "true"),
    ("CAST(i AS STRING)", "42"),
    ("CAST(s AS STRING)", "apple"),
    ("CAST(bytes AS STRING)", "аб"),
    ("CAST(half AS INT64)", 3),
    ("CAST(n AS INT64)", 2),
    ("SAFE_CAST(text_number AS INT64)", None),
    ("CAST(i AS INT64)", 42),
    ("CAST(d AS TIMESTAMP)", datetime(2008, 12, 25, tzinfo=timezone.utc)),
    ("CAST(dt AS TIMESTAMP)", datetime(2008, 12, 25, 15, 30, 0, 250000, tzinfo=timezone.utc)),
    ("CAST(ts AS TIMESTAMP)", datetime(2008, 12, 25, 15, 30, 0, 250000, tzinfo=timezone.utc)),
    ("SUBSTR(s, -10, 3)", "app"),
    ("LENGTH(s)", 5),
    ("LENGTH(bytes)", 4),
    ("LENGTH(cyrillic)", 5),
    ("BYTE_LENGTH(cyrillic)", 10),
    ("BYTE_LENGTH(bytes)", 4),
    ("SAFE_DIVIDE(i, zero)", None),
    ("EXTRACT(WEEK FROM d)", 51),
    ("EXTRACT(DAYOFWEEK FROM d)", 5),
    ("FORMAT_TIMESTAMP('%H:%M:%E6S', ts)", "15:30:00.250000"),
]


@pytest.mark.parametrize(("expression", "expected"), COLUMNS, ids=[case[0] for case in COLUMNS])
def test_bigquery_value_of_a_column(con: duckdb.DuckDBPyConnection, expression: str, expected: Any) -> None:
    actual = con.execute(translate(f"SELECT {expression} FROM typed")).fetchone()[0]
    assert same(actual, expected), f"{expression}: {actual!r}, BigQuery: {expected!r}"


def test_division_by_a_zero_column_is_an_error(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(duckdb.Error, match="division by zero"):
        con.execute(translate("SELECT i / zero FROM typed")).fetchall()


def test_rand_is_a_float_in_zero_one(con: duckdb.DuckDBPyConnection) -> None:
    values = [row[0] for row in con.execute(translate("SELECT RAND() FROM UNNEST(GENERATE_ARRAY(1, 200))")).fetchall()]
    assert all(isinstance(value, float) and 0 <= value < 1 for value in values)
    assert len(set(values)) > 1


# TIMESTAMP is UTC on BigQuery whatever the machine; DuckDB reads and prints a TIMESTAMPTZ in its TimeZone.
IN_UTC = [
    ("CAST(TIMESTAMP '2008-12-25 15:30:00' AS STRING)", "2008-12-25 15:30:00+00"),
    ("CAST(CAST('2008-12-25 15:30:00' AS TIMESTAMP) AS STRING)", "2008-12-25 15:30:00+00"),
    ("CAST(CAST(DATETIME '2008-12-25 15:30:00' AS TIMESTAMP) AS STRING)", "2008-12-25 15:30:00+00"),
    ("CAST(CAST(DATE '2008-12-25' AS TIMESTAMP) AS STRING)", "2008-12-25 00:00:00+00"),
    ("FORMAT_TIMESTAMP('%Y-%m-%d %H:%M', TIMESTAMP '2008-12-25 15:30:00')", "2008-12-25 15:30"),
    ("TIMESTAMP_DIFF(TIMESTAMP '2008-12-26', TIMESTAMP '2008-12-25 12:00:00', HOUR)", 12),
    ("TIMESTAMP '2008-12-25 15:30:00' = TIMESTAMP '2008-12-25 15:30:00+00'", True),
    ("TIMESTAMP '2008-12-25 15:30:00 America/Los_Angeles' = TIMESTAMP '2008-12-25 23:30:00+00'", True),
]


@pytest.mark.parametrize(("expression", "expected"), IN_UTC, ids=[case[0] for case in IN_UTC])
def test_timestamps_do_not_depend_on_the_time_zone(expression: str, expected: Any) -> None:
    with _connection() as con:
        con.execute("SET TimeZone = 'America/Los_Angeles'")
        assert same(value_of(con, expression), expected)
        con.execute("SET TimeZone = 'Asia/Kolkata'")
        assert same(value_of(con, expression), expected)


def test_timestamp_column_prints_in_utc_in_another_time_zone() -> None:
    with _connection() as con:
        con.execute("SET TimeZone = 'Asia/Kolkata'")
        con.execute("CREATE TABLE t AS SELECT TIMESTAMPTZ '2008-12-25 15:30:00+00' AS ts, '2008-12-25 15:30:00' AS s")
        assert con.execute(translate("SELECT CAST(ts AS STRING), CAST(CAST(s AS TIMESTAMP) AS STRING) FROM t")
                           ).fetchone() == ("2008-12-25 15:30:00+00", "2008-12-25 15:30:00+00")


# Settings are read as constants from the translated tree: FLOAT64 literals stay readable.
@pytest.mark.parametrize(("expression", "expected"), [
    ("0.1", 0.1), ("-2.5", -2.5), ("[0.5, 1.5, 10]", [0.5, 1.5, 10]), ("CAST('inf' AS FLOAT64)", math.inf),
    ("1e-3", 0.001), ("3", 3), ("'text'", "text"),
])
def test_constants_read_from_the_translated_tree(expression: str, expected: Any) -> None:
    tree = to_duckdb(sqlglot.parse_one(f"SELECT {expression}", dialect=ToolkitBigQuery), Datasets())
    assert same(constant(tree.expressions[0]), expected)


def test_options_of_create_model_stay_constants() -> None:
    sql = "CREATE MODEL m OPTIONS (model_type = 'linear_reg', l2_reg = 0.1, learn_rate = 1.5) AS SELECT 1 AS y"
    tree = to_duckdb(sqlglot.parse_one(sql, dialect=ToolkitBigQuery), Datasets())
    values = {item.name: constant(item.args["value"]) for item in tree.find_all(sqlglot.exp.Property)}
    assert values.get("l2_reg") == 0.1 and values.get("learn_rate") == 1.5, values


@pytest.mark.parametrize("name", ["INT", "INTEGER", "SMALLINT", "TINYINT", "BYTEINT", "BIGINT", "INT64"])
def test_every_integer_type_is_int64(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """INT, SMALLINT, INTEGER, BIGINT, TINYINT and BYTEINT are aliases of INT64
    (https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#integer_types)."""
    assert value_of(con, f"CAST(3000000000 AS {name}) + 1") == 3000000001
    assert con.execute(translate(f"SELECT typeof(CAST(1 AS {name}))")).fetchall() == [("BIGINT",)]


def test_a_cast_to_int64_may_order_a_window(con: duckdb.DuckDBPyConnection) -> None:
    """CAST(… AS INT64) of a column whose type the tree does not know still orders a window: DuckDB refuses
    volatile expressions (error()) there, and a STRING that is not an integer fails the cast itself."""
    sql = ("SELECT s, ROW_NUMBER() OVER (ORDER BY CAST(i AS INT64), CAST(s IS NULL AS INT64)) AS n FROM typed")
    assert con.execute(translate(sql)).fetchall() == [("apple", 1)]
    with pytest.raises(duckdb.ConversionException, match="not an integer: 1.5"):
        value_of(con, "CAST(text_number AS INT64) FROM typed")
