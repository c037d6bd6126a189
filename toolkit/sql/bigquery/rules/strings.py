"""Strings: 1-based positions (0 and negative ones), INSTR's occurrences, lengths of BYTES, and FORMAT's printf
(https://cloud.google.com/bigquery/docs/reference/standard-sql/string_functions)."""

from __future__ import annotations

import re

from sqlglot import exp

from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.rules.common import (
    BLOB,
    VARCHAR,
    call,
    case,
    cast,
    fail,
    literal_int,
    macro,
    number,
    static_type,
    typeof_is,
)


def _length(value: exp.Expression) -> exp.Expression:
    """Characters of a STRING, bytes of BYTES (DuckDB's length() does not take a BLOB)."""
    known = static_type(value)
    if known == "BLOB":
        return call("octet_length", value.copy())
    if known == "VARCHAR":
        return call("length", value.copy())
    return macro("bigquery_length", value.copy())


def length_dispatch(value: exp.Expression) -> exp.Expression:
    """LENGTH by the argument's type (the bigquery_length macro)."""
    return case((typeof_is(value, "BLOB"), call("octet_length", cast(value.copy(), BLOB))),
                default=call("length", cast(value.copy(), VARCHAR)))


def length(node: exp.Length) -> exp.Expression:
    """LENGTH: characters of a STRING, bytes of BYTES."""
    return _length(node.this)


def byte_length(node: exp.ByteLength) -> exp.Expression:
    """BYTE_LENGTH: the bytes of a STRING in UTF-8 (DuckDB's octet_length cannot choose for a string literal)."""
    value = node.this
    if static_type(value) == "BLOB":
        return call("octet_length", value)
    utf8 = call("octet_length", call("encode", cast(value.copy(), VARCHAR)))
    if static_type(value) == "VARCHAR":
        return utf8
    return macro("bigquery_byte_length", value)


def byte_length_dispatch(value: exp.Expression) -> exp.Expression:
    """BYTE_LENGTH by the argument's type (the bigquery_byte_length macro)."""
    utf8 = call("octet_length", call("encode", cast(value.copy(), VARCHAR)))
    return case((typeof_is(value, "BLOB"), call("octet_length", cast(value.copy(), BLOB))), default=utf8)


def substring(node: exp.Substring) -> exp.Expression:
    """SUBSTR(s, position[, length]): position 0 is 1, and a negative one counts from the end but never before the
    first character (DuckDB: 0 is before the first character, and SUBSTRING('apple', -10, 3) is '')."""
    start, size = node.args.get("start"), node.args.get("length")
    value = literal_int(start) if start is not None else None
    if value is not None and value > 0:
        return _checked_length(node, size)
    from_end = exp.Add(this=exp.Add(this=_length(node.this), expression=start.copy()), expression=number(1))
    position = case((exp.EQ(this=start.copy(), expression=number(0)), number(1)),
                    (exp.LT(this=start.copy(), expression=number(0)), call("greatest", from_end, number(1))),
                    default=start.copy())
    node.set("start", position)
    return _checked_length(node, size)


def _checked_length(node: exp.Substring, size: exp.Expression | None) -> exp.Expression:
    """A negative length is an error on BigQuery (DuckDB counts back from the position)."""
    if size is None or (literal_int(size) is not None and literal_int(size) >= 0):
        return node
    return case((exp.LT(this=size.copy(), expression=number(0)), fail("SUBSTR: negative length")), default=node)


def _left_right(node: exp.Left | exp.Right) -> exp.Expression:
    """LEFT/RIGHT(s, n): an error for n < 0 on BigQuery; DuckDB drops characters from the other end."""
    size = node.expression
    if literal_int(size) is not None and literal_int(size) >= 0:
        return node
    name = "LEFT" if isinstance(node, exp.Left) else "RIGHT"
    return case((exp.LT(this=size.copy(), expression=number(0)), fail(f"{name}: negative length")), default=node)


def instr(node: exp.StrPosition) -> exp.Expression:
    """INSTR(s, search, position, occurrence): the occurrence-th match (matches may overlap) from position, searching
    backwards from the end for a negative one. sqlglot ignores the occurrence."""
    position, occurrence = node.args.get("position"), node.args.get("occurrence")
    if position is None and occurrence is None:
        return node
    if literal_int(position) == 1 and occurrence is None:
        return node
    source, search = node.this, node.args["substr"]
    position = position or number(1)
    occurrence = occurrence or number(1)
    index = exp.to_identifier("i")
    at = exp.EQ(this=exp.Substring(this=source.copy(), start=exp.column("i"), length=_length(search)),
                expression=search.copy())
    matches = call("list_filter", call("range", number(1), exp.Add(this=_length(source), expression=number(1))),
                   exp.Lambda(this=at, expressions=[index]))
    last = exp.Add(this=exp.Add(this=_length(source), expression=position.copy()), expression=number(1))
    forward = call("list_filter", matches.copy(), exp.Lambda(
        this=exp.GTE(this=exp.column("i"), expression=position.copy()), expressions=[index.copy()]))
    backward = call("list_reverse", call("list_filter", matches, exp.Lambda(
        this=exp.LTE(this=exp.column("i"), expression=last), expressions=[index.copy()])))
    found = case((exp.LT(this=position.copy(), expression=number(0)), backward), default=forward)
    result = exp.Coalesce(this=call("list_extract", found, occurrence.copy()), expressions=[number(0)])
    bad = exp.or_(exp.EQ(this=position.copy(), expression=number(0)), exp.LTE(this=occurrence, expression=number(0)))
    return case((bad, fail("INSTR: position 0 or occurrence < 1")), default=result)


# printf conversions BigQuery's FORMAT and DuckDB's printf write alike; %t and %T, and the ' flag, have no equal
_SPEC = re.compile(r"%([-+ #0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])")
_ALIKE = set("dixXofFeEgGs%")


def format_(node: exp.Format) -> exp.Expression:
    """FORMAT(fmt, …) is printf-like on BigQuery, fmt-like in DuckDB (format('%d', 1) is '%d'): DuckDB's printf."""
    fmt = node.this
    if not isinstance(fmt, exp.Literal) or not fmt.is_string:
        raise Untranslatable("FORMAT() needs its format as a string literal here", node,
                             hint="write the format inline: FORMAT('%d items', n)")
    text = fmt.this
    position = 0
    for match in _SPEC.finditer(text):
        if "'" in text[position:match.start()] or match.group(4) not in _ALIKE:
            raise Untranslatable(f"FORMAT(): the conversion %{match.group(4)} has no translation to DuckDB in the "
                                 "toolkit", node, hint="use %s with CAST(x AS STRING), or %d / %f / %e / %g")
        position = match.end()
    if "%'" in text or "*" in text:
        raise Untranslatable("FORMAT(): the ' flag and * widths have no translation to DuckDB in the toolkit", node,
                             hint="format the number with %d, %f or %e")
    return exp.Anonymous(this="printf", expressions=[fmt, *node.expressions])


RULES = {
    exp.Length: length,
    exp.ByteLength: byte_length,
    exp.Substring: substring,
    exp.Left: _left_right,
    exp.Right: _left_right,
    exp.StrPosition: instr,
    exp.Format: format_,
}
