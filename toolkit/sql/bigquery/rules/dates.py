"""Dates: day-of-week and week numbering, WEEK(<day>) in DATE_TRUNC and DATE_DIFF, whole units in TIMESTAMP_DIFF,
and FORMAT_DATE / FORMAT_TIMESTAMP's format elements
(https://cloud.google.com/bigquery/docs/reference/standard-sql/date_functions,
https://cloud.google.com/bigquery/docs/reference/standard-sql/timestamp_functions,
https://cloud.google.com/bigquery/docs/reference/standard-sql/format-elements)."""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.time import format_time

from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.rules.casts import to_timestamp, utc_clock
from toolkit.sql.bigquery.rules.common import DATE, as_type, call, cast, number, string

_DAYS = ("SUNDAY", "MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY")  # DuckDB's dayofweek 0-6
_MICROSECONDS = {"MICROSECOND": 1, "MILLISECOND": 1000, "SECOND": 10**6, "MINUTE": 60 * 10**6,
                 "HOUR": 3600 * 10**6, "DAY": 86400 * 10**6}


def _week_start(unit: exp.Expression | None) -> int | None:
    """The first day (0 = Sunday) of a WEEK / WEEK(<day>) / ISOWEEK unit, else None."""
    if isinstance(unit, exp.WeekStart):
        return _DAYS.index(unit.name.upper())
    name = unit.name.upper() if unit is not None else ""
    return {"WEEK": 0, "ISOWEEK": 1}.get(name)


def _days_into_week(x: exp.Expression, start: int) -> exp.Expression:
    """0 on the week's first day to 6 on its last."""
    shifted = exp.Add(this=call("dayofweek", x.copy()), expression=number(7 - start))
    return exp.paren(exp.Mod(this=exp.paren(shifted), expression=number(7)), copy=False)


def extract(node: exp.Extract) -> exp.Expression:
    """EXTRACT(DAYOFWEEK …) is 1 (Sunday) to 7 on BigQuery, 0 to 6 in DuckDB; WEEK and WEEK(<day>) count the weeks
    starting on that day (0 before the year's first one), DuckDB's WEEK is ISO's."""
    part, x = node.this, node.expression
    name = part.name.upper()
    if isinstance(part, exp.Var) and name == "DAYOFWEEK":
        return exp.paren(exp.Add(this=node, expression=number(1)), copy=False)
    if isinstance(part, exp.Var) and name == "ISOWEEK":
        return call("weekofyear", x)
    if isinstance(part, exp.WeekStart) or name == "WEEK":
        start = _week_start(part)
        first_start = exp.Sub(this=call("dayofyear", x.copy()), expression=_days_into_week(x, start))
        return exp.paren(exp.IntDiv(this=exp.paren(exp.Add(this=first_start, expression=number(6))),
                                    expression=number(7)), copy=False)
    return node


def _truncate_to_week(day: exp.Expression, start: int) -> exp.Expression:
    """The week's first day, as a DATE (DuckDB has DATE - INTEGER, not DATE - BIGINT)."""
    back = cast(_days_into_week(as_type(day, DATE), start), exp.DataType.build("INTEGER"))
    return exp.paren(exp.Sub(this=as_type(day, DATE), expression=back), copy=False)


def date_trunc(node: exp.DateTrunc) -> exp.Expression:
    """DATE_TRUNC gives a DATE (DuckDB's date_trunc a TIMESTAMP); WEEK(<day>) for every day, not only Monday."""
    start = _week_start(node.args.get("unit"))
    if start is not None:
        return _truncate_to_week(node.this, start)
    unit = node.args["unit"]
    return cast(call("date_trunc", string(unit.name.lower()), as_type(node.this, DATE)), DATE)


def _week_trunc(node: exp.Expression) -> exp.Expression:
    """TIMESTAMP_TRUNC / DATETIME_TRUNC to WEEK(<day>): midnight of the week's first day."""
    start = _week_start(node.args.get("unit"))
    if start is None or not isinstance(node.args.get("unit"), exp.WeekStart) or start in (0, 1):
        return node
    moment = node.this
    back = exp.Interval(this=_days_into_week(moment, start), unit=exp.var("DAY"))
    return exp.Sub(this=call("date_trunc", string("day"), moment.copy()), expression=back)


def date_diff(node: exp.DateDiff) -> exp.Expression:
    """DATE_DIFF(a, b, WEEK(<day>)): the week starts between b and a, for every first day (sqlglot: Sunday, Monday)."""
    start = _week_start(node.args.get("unit"))
    if start is None:
        return node
    days = call("date_diff", string("day"), _truncate_to_week(node.expression, start),
                _truncate_to_week(node.this, start))
    return exp.paren(exp.IntDiv(this=days, expression=number(7)), copy=False)


def timestamp_diff(node: exp.TimestampDiff) -> exp.Expression:
    """TIMESTAMP_DIFF counts whole units elapsed (01:00 - 00:00:01 is 0 hours); DuckDB's date_diff counts the
    boundaries crossed (1)."""
    unit = node.args.get("unit")
    size = _MICROSECONDS.get(unit.name.upper() if unit is not None else "DAY")
    if size is None:
        raise Untranslatable(f"TIMESTAMP_DIFF() by {unit.name} has no translation to DuckDB in the toolkit", node,
                             hint="use DATE_DIFF(DATE(a), DATE(b), …) for weeks, months and years")
    elapsed = exp.Sub(this=call("epoch_us", to_timestamp(node.this, False)),
                      expression=call("epoch_us", to_timestamp(node.expression, False)))
    return exp.paren(exp.IntDiv(this=exp.paren(elapsed), expression=number(size)), copy=False)


# BigQuery's format elements that DuckDB's strftime writes alike, or as another spelling.
_SAME = set("AaBbdHIjMmpSuwyYGUWV%")
_SPELLED = {"h": "%b", "F": "%Y-%m-%d", "T": "%H:%M:%S", "R": "%H:%M", "D": "%m/%d/%y", "x": "%m/%d/%y",
            "X": "%H:%M:%S", "n": "\n", "t": "\t", "E4Y": "%Y",
            "f": "%f"}  # %f: sqlglot's own spelling of the microseconds of %E6S, when it reads '%T.%f' back
_ELEMENT = re.compile(r"%(E[0-9*]S|E4Y|E[zcxyCY]|O[a-zA-Z]|.)", re.DOTALL)


def _padded(value: exp.Expression, width: int, fill: str) -> exp.Expression:
    return call("lpad", cast(value, exp.DataType.build("VARCHAR")), number(width), string(fill))


def _element(code: str, moment: exp.Expression, in_utc: bool) -> exp.Expression | str | None:
    """One format element as DuckDB strftime text (str) or an expression; None: no translation."""
    if code in _SAME:
        return f"%{code}"
    if code in _SPELLED:
        return _SPELLED[code]
    hour12 = exp.Add(this=exp.Mod(this=exp.paren(exp.Add(this=call("hour", moment.copy()), expression=number(11))),
                                  expression=number(12)), expression=number(1))
    expressions = {
        "e": lambda: _padded(call("day", moment.copy()), 2, " "),
        "k": lambda: _padded(call("hour", moment.copy()), 2, " "),
        "l": lambda: _padded(hour12, 2, " "),
        "C": lambda: _padded(exp.IntDiv(this=call("year", moment.copy()), expression=number(100)), 2, "0"),
        "Q": lambda: cast(call("quarter", moment.copy()), exp.DataType.build("VARCHAR")),
        "P": lambda: call("lower", call("strftime", moment.copy(), string("%p"))),
        "g": lambda: call("right", call("strftime", moment.copy(), string("%G")), number(2)),
        "s": lambda: cast(call("epoch", moment.copy()), exp.DataType.build("BIGINT")),
        "c": lambda: exp.DPipe(this=exp.DPipe(this=call("strftime", moment.copy(), string("%a %b ")),
                                              expression=_padded(call("day", moment.copy()), 2, " ")),
                               expression=call("strftime", moment.copy(), string(" %H:%M:%S %Y"))),
    }
    if code in expressions:
        return expressions[code]()
    if re.fullmatch(r"E[0-6]S", code):
        digits = int(code[1])
        return "%S" if digits == 0 else f"%S.{'%f'}" if digits == 6 else None
    if in_utc and code == "Z":
        return "UTC"
    if in_utc and code == "z":
        return "+0000"
    return None


def format_moment(node: exp.TimeToStr) -> exp.Expression:
    """FORMAT_DATE / FORMAT_DATETIME / FORMAT_TIMESTAMP: each format element translated to DuckDB's strftime, or to
    an expression where strftime has none (%e, %Q, %C, …) or means something else (%g, %n, %c, %x); a TIMESTAMP
    is formatted in UTC, or in the zone given. Elements without a translation are refused by name."""
    fmt, value, zone = node.args.get("format"), node.this, node.args.get("zone")
    if not isinstance(fmt, exp.Literal) or not fmt.is_string:
        raise Untranslatable("FORMAT_DATE/FORMAT_TIMESTAMP() needs its format as a string literal here", node,
                             hint="write the format inline, e.g. FORMAT_DATE('%Y-%m', d)")
    moment = _moment(value, zone)
    text = bigquery_format(fmt.this)
    pieces: list[exp.Expression | str] = []
    position = 0
    for match in _ELEMENT.finditer(text):
        pieces.append(text[position:match.start()].replace("%", "%%"))
        element = _element(match.group(1), moment, zone is None)
        if element is None:
            raise Untranslatable(f"FORMAT_DATE/FORMAT_TIMESTAMP(): the format element %{match.group(1)} has no "
                                 "translation to DuckDB in the toolkit", node,
                                 hint="build the text from EXTRACT(…) and the other elements")
        pieces.append(element)
        position = match.end()
    pieces.append(text[position:].replace("%", "%%"))
    return _concatenate(pieces, moment)


def bigquery_format(text: str) -> str:
    """The format as written in BigQuery: sqlglot's parser stores it in its own (Python's) spelling."""
    from toolkit.sql.dialect import ToolkitBigQuery

    return format_time(text, ToolkitBigQuery.INVERSE_TIME_MAPPING, ToolkitBigQuery.INVERSE_TIME_TRIE) or text


def _moment(value: exp.Expression, zone: exp.Expression | None) -> exp.Expression:
    """The clock the text shows: a DATE or DATETIME as it is, a TIMESTAMP in UTC (or `zone`)."""
    if isinstance(value, exp.TsOrDsToTimestamp):
        instant = to_timestamp(value.this, False)
        return call("timezone", zone, instant) if zone is not None else utc_clock(instant)
    if isinstance(value, exp.TsOrDsToDate):
        return as_type(value.this, DATE)
    if isinstance(value, exp.TsOrDsToDatetime):
        return as_type(value.this, exp.DataType.build("TIMESTAMP"))
    return value


def _strftime(moment: exp.Expression, text: str) -> exp.Expression:
    """strftime(moment, text), or the text itself when it has no element (the other parts make a NULL moment's
    text NULL)."""
    if "%" in text.replace("%%", ""):
        return call("strftime", moment.copy(), string(text))
    return string(text.replace("%%", "%"))


def _concatenate(pieces: list[exp.Expression | str], moment: exp.Expression) -> exp.Expression:
    """strftime over runs of strftime text, joined by || to the expressions between them."""
    parts: list[exp.Expression] = []
    text = ""
    for piece in pieces:
        if isinstance(piece, str):
            text += piece
            continue
        if text:
            parts.append(_strftime(moment, text))
            text = ""
        parts.append(piece)
    if text or not parts:
        parts.append(_strftime(moment, text) if parts else call("strftime", moment.copy(), string(text)))
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part, safe=True)
    return exp.paren(result, copy=False) if len(parts) > 1 else result


RULES = {
    exp.Extract: extract,
    exp.DateTrunc: date_trunc,
    exp.TimestampTrunc: _week_trunc,
    exp.DatetimeTrunc: _week_trunc,
    exp.DateDiff: date_diff,
    exp.TimestampDiff: timestamp_diff,
    exp.TimeToStr: format_moment,
}
