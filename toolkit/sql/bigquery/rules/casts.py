"""Casts: to STRING in BigQuery's formats, to INT64 rounding half away from zero, to TIMESTAMP in UTC, and
NUMERIC as NUMERIC(38, 9) (https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_functions,
https://cloud.google.com/bigquery/docs/reference/standard-sql/conversion_rules)."""

from __future__ import annotations

import re

from sqlglot import exp

from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.rules.common import (
    BIGINT,
    BLOB,
    DOUBLE,
    TIMESTAMP,
    TIMESTAMPTZ,
    VARCHAR,
    call,
    case,
    cast,
    macro,
    reread,
    static_type,
    string,
    text_of,
    typeof_is,
)

NUMERIC = exp.DataType.build("DECIMAL(38, 9)")
# a zone or offset after the time of day: '… 15:30:00+05', '… 15:30Z', '… 15:30:00 America/New_York'
_ZONE = r"\d:\d\d(:\d\d(\.\d*)?)?\s*([zZ]|[+-]\d\d?(:?\d\d)?|[A-Za-z][A-Za-z0-9_/+-]*)\s*$"
_INT64_TEXT = r"^\s*[+-]?(\d+|0[xX][0-9a-fA-F]+)\s*$"


# BigQuery's one integer type is INT64; INT, SMALLINT, INTEGER, TINYINT and BYTEINT are its other names.
_INT64_ALIASES = (exp.DataType.Type.INT, exp.DataType.Type.SMALLINT, exp.DataType.Type.TINYINT,
                  exp.DataType.Type.MEDIUMINT)


def data_type(node: exp.DataType) -> exp.Expression:
    """NUMERIC is DECIMAL(38, 9) on BigQuery, DECIMAL(18, 3) in DuckDB; BIGNUMERIC has more digits than DuckDB;
    INTEGER and the other integer names are INT64, not DuckDB's 32-, 16- or 8-bit integers."""
    if node.this in _INT64_ALIASES:
        return BIGINT.copy()
    if node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        return NUMERIC.copy()
    if node.this == exp.DataType.Type.BIGDECIMAL:
        raise Untranslatable("BIGNUMERIC has 76 digits on BigQuery; DuckDB's decimals have 38", node,
                             hint="use NUMERIC (38 digits, 9 after the point) or FLOAT64")
    return node


def cast_(node: exp.Cast) -> exp.Expression:
    safe = isinstance(node, exp.TryCast) or bool(node.args.get("safe"))
    if node.args.get("format") is not None:
        raise Untranslatable("CAST(… FORMAT …) has no translation to DuckDB in the toolkit", node,
                             hint="use FORMAT_DATE / FORMAT_TIMESTAMP / PARSE_DATE instead of a format clause")
    target = node.to
    if target.is_type(*exp.DataType.TEXT_TYPES):
        return to_string(node.this)
    if target.is_type(exp.DataType.Type.BIGINT):
        return to_int64(node.this, safe) or node
    if target.is_type(exp.DataType.Type.TIMESTAMPTZ):
        return to_timestamp(node.this, safe)
    if target.is_type(exp.DataType.Type.VARBINARY, exp.DataType.Type.BINARY, exp.DataType.Type.BLOB):
        return to_bytes(node)
    return node


def to_bytes(node: exp.Cast) -> exp.Expression:
    """CAST(s AS BYTES) is the UTF-8 of s; DuckDB's cast refuses a character that is not ASCII."""
    x = node.this
    known = static_type(x)
    if known == "VARCHAR":
        return call("encode", x)
    if known is not None:
        return node
    return macro("bigquery_bytes", x)


def bytes_dispatch(x: exp.Expression) -> exp.Expression:
    return case((typeof_is(x, "VARCHAR"), call("encode", text_of(x))), default=cast(x, BLOB))


def to_string(x: exp.Expression) -> exp.Expression:
    """CAST(x AS STRING): FLOAT64 as '%.15g' (or '%.17g' when 15 digits do not round-trip), so 1.0 is '1';
    NUMERIC without trailing zeros; TIMESTAMP in UTC with '+00'; DATETIME's fraction in 0, 3 or 6 digits;
    BYTES decoded as UTF-8. Other types print alike."""
    known = static_type(x)
    if known in _FORMATS:
        return _FORMATS[known](x)
    if known is not None:
        return cast(x, VARCHAR)
    return macro("bigquery_string", x)


def string_dispatch(x: exp.Expression) -> exp.Expression:
    """CAST(x AS STRING) by x's type, which DuckDB knows when it binds the call (the bigquery_string macro)."""
    branches = [(typeof_is(x, *names), format_(x)) for names, format_ in _DISPATCH]
    return case(*branches, default=text_of(x))


def _float_text(x: exp.Expression) -> exp.Expression:
    value = reread(x, DOUBLE)
    short = call("printf", string("%.15g"), value.copy())
    exact = exp.EQ(this=cast(short.copy(), DOUBLE), expression=value.copy())
    return case((exact, short), default=call("printf", string("%.17g"), value))


def _numeric_text(x: exp.Expression) -> exp.Expression:
    text = text_of(x)
    trimmed = call("rtrim", call("rtrim", text.copy(), string("0")), string("."))
    return case((call("contains", text.copy(), string(".")), trimmed), default=text)


def _fraction(moment: exp.Expression) -> exp.Expression:
    """'', '.fff' or '.ffffff': the fewest of 0, 3 or 6 digits that hold the microseconds."""
    micros = call("strftime", moment.copy(), string("%f"))
    return case((exp.EQ(this=micros.copy(), expression=string("000000")), string("")),
                (exp.EQ(this=call("right", micros.copy(), exp.Literal.number(3)), expression=string("000")),
                 exp.DPipe(this=string("."), expression=call("left", micros.copy(), exp.Literal.number(3)))),
                default=exp.DPipe(this=string("."), expression=micros))


def _clock_text(moment: exp.Expression, suffix: str) -> exp.Expression:
    seconds = call("strftime", moment.copy(), string("%Y-%m-%d %H:%M:%S"))
    text = exp.DPipe(this=seconds, expression=_fraction(moment))
    return exp.DPipe(this=text, expression=string(suffix)) if suffix else text


def _timestamp_text(x: exp.Expression) -> exp.Expression:
    """In UTC whatever the connection's TimeZone: DuckDB prints a TIMESTAMPTZ in it."""
    return _clock_text(utc_clock(reread(x, TIMESTAMPTZ)), "+00")


def _datetime_text(x: exp.Expression) -> exp.Expression:
    return _clock_text(reread(x, TIMESTAMP), "")


def _bytes_text(x: exp.Expression) -> exp.Expression:
    return call("decode", reread(x, BLOB))


def utc_clock(moment: exp.Expression) -> exp.Expression:
    """A TIMESTAMPTZ as the TIMESTAMP of UTC's clock."""
    return call("timezone", string("UTC"), moment)


_FORMATS = {"DOUBLE": _float_text, "DECIMAL": _numeric_text, "TIMESTAMPTZ": _timestamp_text,
            "TIMESTAMP": _datetime_text, "BLOB": _bytes_text}
_DISPATCH = ((("DOUBLE", "FLOAT"), _float_text), (("DECIMAL",), _numeric_text),
             (("TIMESTAMP WITH TIME ZONE",), _timestamp_text), (("TIMESTAMP",), _datetime_text),
             (("BLOB",), _bytes_text))


def to_int64(x: exp.Expression, safe: bool) -> exp.Expression | None:
    """CAST(x AS INT64): FLOAT64 and NUMERIC round half away from zero (DuckDB's DOUBLE cast rounds half to even);
    a STRING must be an integer ('1.5' is an error, DuckDB reads 2). None: DuckDB's cast agrees."""
    known = static_type(x)
    convert = exp.TryCast if safe else exp.Cast
    rounded = convert(this=call("round", reread(x, DOUBLE)), to=BIGINT.copy())
    if known == "DOUBLE":
        return rounded
    if known not in (None, "VARCHAR"):
        return None
    checked = _integer_text(x, convert)
    if known == "VARCHAR":
        return checked
    return macro("bigquery_safe_int64" if safe else "bigquery_int64", x)


def _integer_text(x: exp.Expression, convert: type[exp.Cast]) -> exp.Expression:
    """A STRING as INT64 when it is an integer; otherwise a text that fails the cast itself, 'not an integer: 1.5'
    (NULL for SAFE_CAST). No error() call: that would make the expression volatile, which DuckDB refuses in a
    window's ORDER BY."""
    text = text_of(x)
    integer = call("regexp_matches", text.copy(), string(_INT64_TEXT))
    refused = exp.DPipe(this=string("not an integer: "), expression=text.copy())
    return convert(this=case((integer, text), default=refused), to=BIGINT.copy())


def int64_dispatch(x: exp.Expression, safe: bool) -> exp.Expression:
    """CAST(x AS INT64) by x's type (the bigquery_int64 and bigquery_safe_int64 macros)."""
    convert = exp.TryCast if safe else exp.Cast
    rounded = convert(this=call("round", reread(x, DOUBLE)), to=BIGINT.copy())
    checked = _integer_text(x, convert)
    numeric = convert(this=call("round", cast(text_of(x), NUMERIC)), to=BIGINT.copy())
    return case((typeof_is(x, "DOUBLE", "FLOAT"), rounded), (typeof_is(x, "DECIMAL"), numeric),
                (typeof_is(x, "VARCHAR"), checked), default=convert(this=x, to=BIGINT.copy()))


def to_timestamp(x: exp.Expression, safe: bool) -> exp.Expression:
    """TIMESTAMP '…' and CAST(x AS TIMESTAMP): a text without a zone, a DATE and a DATETIME are read in UTC on
    BigQuery, in the connection's TimeZone by DuckDB."""
    convert = exp.TryCast if safe else exp.Cast
    if static_type(x) == "TIMESTAMPTZ":
        return x
    if isinstance(x, exp.Literal) and x.is_string:
        text = x.this.strip()
        if re.search(_ZONE, text) is None:
            text += "+00" if ":" in text else " 00:00:00+00"
        return convert(this=string(text), to=TIMESTAMPTZ.copy())
    if static_type(x) == "VARCHAR":
        return _timestamp_from_text(x, convert)
    return macro("bigquery_safe_timestamp" if safe else "bigquery_timestamp", x)


def _timestamp_from_text(x: exp.Expression, convert: type[exp.Cast]) -> exp.Expression:
    text = text_of(x)
    zoned = call("regexp_matches", text.copy(), string(_ZONE))
    return case((zoned, convert(this=text.copy(), to=TIMESTAMPTZ.copy())),
                default=call("timezone", string("UTC"), convert(this=text, to=TIMESTAMP.copy())))


def timestamp_dispatch(x: exp.Expression, safe: bool) -> exp.Expression:
    """CAST(x AS TIMESTAMP) by x's type (the bigquery_timestamp and bigquery_safe_timestamp macros)."""
    convert = exp.TryCast if safe else exp.Cast
    from_text = _timestamp_from_text(x, convert)
    wall_clock = call("timezone", string("UTC"), convert(this=x.copy(), to=TIMESTAMP.copy()))
    return case((typeof_is(x, "TIMESTAMP WITH TIME ZONE"), convert(this=x.copy(), to=TIMESTAMPTZ.copy())),
                (typeof_is(x, "VARCHAR"), from_text), default=wall_clock)


RULES = {exp.Cast: cast_, exp.TryCast: cast_, exp.DataType: data_type}
