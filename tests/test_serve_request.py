"""Reading a prediction request fast gives what the plain way gives: the body parsed by orjson is the value the
standard library's json reads (or fails as it does), and the instances read to Python values without Arrow
(request.instance_columns, what the row-wise evaluator runs on) are what instances_table's Arrow columns hold."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pyarrow as pa
import pytest
import uvloop
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from uvicorn.loops.auto import auto_loop_factory
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from toolkit.serve.request import RequestError, _document, _not_json, instance_columns, instances_table
from toolkit.serve.snapshot import InputColumn


def _exact(value):
    """A JSON value with its types spelled out: 1 and 1.0, 0.0 and -0.0, differ."""
    if isinstance(value, dict):
        return ("object", [(key, _exact(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("array", [_exact(item) for item in value])
    if isinstance(value, float):
        return ("float", value.hex() if math.isfinite(value) else repr(value))
    return (type(value).__name__, value)


def _outcome(parse, body: bytes):
    try:
        return "value", _exact(parse(body))
    except (ValueError, UnicodeDecodeError):
        return "error", None
    except RecursionError:
        return "too deep", None


def _standard(body: bytes):
    return json.loads(body, parse_constant=_not_json)


NUMBER_TEXT = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=-(2**64), max_value=2**65).map(str),  # both sides of 64 bits
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?", fullmatch=True),
)
SCALAR_TEXT = st.one_of(NUMBER_TEXT, st.sampled_from(["true", "false", "null", "NaN", "-Infinity", '"\\ud800"',
                                                      '"\\u00e9t\\u00e9"', '"a\\"b"', '""']),
                        st.text(max_size=8).map(json.dumps))


def _json_text(children):
    return st.one_of(st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
                     st.lists(st.tuples(st.text(max_size=5).map(json.dumps), children), max_size=4).map(
                         lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"))


JSON_TEXT = st.recursive(SCALAR_TEXT, _json_text, max_leaves=12)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_TEXT, st.sampled_from(["", " ", "x", "]", ",", "\ufeff"]), st.sampled_from(["", "\ufeff", " "]))
def test_the_body_reads_as_the_standard_library_reads_it(text, tail, head):
    for body in ((head + text).encode(), (text + tail).encode(), text.encode("utf-16")):
        assert _outcome(_document, body) == _outcome(_standard, body), body


@pytest.mark.parametrize("body", [
    b"123456789012345678901234567890", b"-9223372036854775809", b"18446744073709551616", b"1e400", b"-1E400",
    b'{"id": 99999999999999999999}', b'"\\ud800"', b"\xef\xbb\xbf{}", "[1]".encode("utf-16"), b"[NaN]",
    b"[" * 1_100 + b"]" * 1_100, b"{\"a\": 1, \"a\": 2}", b"-0", b"-0.0", b"0.1e-400", b"[1,]", b"01",
])
def test_the_bodies_orjson_reads_otherwise_or_refuses_are_the_standard_librarys(body):
    assert _outcome(_document, body) == _outcome(_standard, body)


# Input columns of every type instance_columns reads without Arrow, and one it leaves to Arrow (a date).
COLUMNS = (("tiny", "TINYINT", pa.int8()), ("small", "SMALLINT", pa.int16()), ("whole", "INTEGER", pa.int32()),
           ("big", "BIGINT", pa.int64()), ("byte", "UTINYINT", pa.uint8()), ("word", "UINTEGER", pa.uint32()),
           ("huge", "UBIGINT", pa.uint64()), ("x", "DOUBLE", pa.float64()), ("label", "VARCHAR", pa.string()),
           ("flag", "BOOLEAN", pa.bool_()), ("day", "DATE", pa.date32()))
VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                   st.sampled_from([0, 127, 128, -128, -129, 255, 256, 32767, 32768, 2**31, 2**63 - 1, 2**63, 2**64,
                                    -(2**63), 10**400]),
                   st.floats(), st.sampled_from([3.0, -0.0, 1e300, 2.5, 2.0**63, math.inf]),
                   st.text(max_size=4), st.sampled_from(["\ud800", "été", "2024-02-29", "JFK"]))


def _model(columns) -> SimpleNamespace:
    return SimpleNamespace(name="m", inputs=tuple(InputColumn(*column) for column in columns))


# Models that request after request see: instance_columns reads their fields as it read them the first time.
SEEN = [_model(columns) for columns in (COLUMNS[:-1], COLUMNS[2:5], COLUMNS[7:9], COLUMNS[9:], COLUMNS[:1])]


@st.composite
def requests(draw, models=None):
    """A model of some of COLUMNS (or one of `models`) and instances: mostly well-typed values, now and then
    anything."""
    if models is None:
        chosen = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=5, unique=True))
        served = _model(chosen)
    else:
        served = draw(st.sampled_from(models))
        chosen = [(c.name, c.duckdb_type, c.arrow_type) for c in served.inputs]
    typical = {pa.float64(): st.one_of(st.floats(allow_nan=False), st.integers()), pa.string(): st.text(max_size=4),
               pa.bool_(): st.booleans(), pa.date32(): st.just("2024-02-29")}
    for arrow_type in (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint32(), pa.uint64()):
        low, high = (-(2 ** (arrow_type.bit_width - 1)), 2 ** (arrow_type.bit_width - 1) - 1) \
            if pa.types.is_signed_integer(arrow_type) else (0, 2**arrow_type.bit_width - 1)
        edges = [low - 1, low, high, high + 1, float(low), float(high)]  # either side of the range, whole floats
        typical[arrow_type] = st.one_of(st.integers(low, high), st.sampled_from(edges))
    rows = draw(st.integers(1, 4))
    instances = []
    for _ in range(rows):
        instance = {}
        for name, _, arrow_type in chosen:
            shown = name.upper() if draw(st.booleans()) and not instances else name
            instance[shown] = draw(st.one_of(st.none(), typical[arrow_type], VALUES)
                                   if draw(st.integers(0, 4)) == 0 else st.one_of(st.none(), typical[arrow_type]))
        if draw(st.integers(0, 9)) == 0:
            instance["note"] = draw(VALUES)  # a field passed through: its type is Arrow's to infer
        instances.append(instance)
    if rows > 1 and draw(st.integers(0, 9)) == 0:
        instances[-1] = dict(reversed(list(instances[-1].items())))  # the same fields in another order
    if draw(st.integers(0, 19)) == 0:
        instances[0].pop(next(iter(instances[0])))  # a missing input column
    return served, [{key: instance[key] for key in instance} for instance in instances]


def _read(read, served, instances):
    try:
        return "value", read(served, instances)
    except RequestError as error:
        return "error", (error.status, error.message, error.field)
    except UnicodeEncodeError:  # predictor._table_of answers it as a 400
        return "error", "not Unicode"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_instances_read_without_arrow_are_what_the_arrow_table_holds(request):
    _same_as_the_table(*request)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(SEEN))
def test_instances_of_the_same_fields_again_are_what_the_arrow_table_holds(request):
    """The same models and field names again and again (readings made once), one instance or several."""
    _same_as_the_table(*request)


def _same_as_the_table(served, instances) -> None:
    fast = _read(instance_columns, served, instances)
    table = _read(instances_table, served, instances)
    if fast[0] == "error":  # a field name instance_columns checks as instances_table does
        assert fast == table
        return
    if fast[1] is None:
        return  # left to instances_table, which reads the instances or says what is wrong
    assert table[0] == "value", table
    table = table[1]
    assert fast[1].schema().serialize().to_pybytes() == table.schema.serialize().to_pybytes()
    assert [_exact(values) for values in fast[1].values] == [_exact(column.to_pylist()) for column in table.columns]


def test_instances_of_the_usual_kinds_are_read_without_arrow():
    served = SimpleNamespace(name="m", inputs=tuple(InputColumn(*column) for column in COLUMNS[:-1]))
    instance = {"tiny": -128, "small": 3.0, "whole": None, "big": 2**63 - 1, "byte": 255, "word": 7, "huge": 2**64 - 1,
                "x": 1, "label": "été", "flag": True}
    columns = instance_columns(served, [instance, {**instance, "x": 2.5}])
    assert columns is not None and columns.names == tuple(instance)
    assert columns.values[1] == [3, 3] and type(columns.values[1][0]) is int
    assert columns.values[7] == [1.0, 2.5] and type(columns.values[7][0]) is float
    # a value out of its column's range, a passed-through field, another order of the fields: Arrow reads them
    assert instance_columns(served, [{**instance, "tiny": 128}]) is None
    assert instance_columns(served, [{**instance, "note": 1}]) is None
    assert instance_columns(served, [instance, dict(reversed(list(instance.items())))]) is not None
    assert instance_columns(served, [instance, {**instance, "note": 1}]) is None


def test_a_reading_is_of_one_model_and_field_names_and_errors_are_not_kept():
    whole, real = _model([("x", "BIGINT", pa.int64())]), _model([("x", "DOUBLE", pa.float64())])
    for _ in range(2):
        assert instance_columns(whole, [{"x": 2}]).values == [[2]]
        assert _exact(instance_columns(real, [{"x": 2}]).values) == _exact([[2.0]])
        assert instance_columns(whole, [{"X": 2.5}]) is None and instance_columns(whole, [{"x": 2**63}]) is None
        assert instance_columns(whole, [{"x": 2**63 - 1}]).values == [[2**63 - 1]]
        for wrong, field in (({"y": 1}, "instances[0].x"), ({"x": 1, "X": 2}, "instances[0].X"),
                             ({"x": 1, " ": 2}, "instances[0]")):
            with pytest.raises(RequestError) as raised:
                instance_columns(whole, [wrong])
            assert raised.value.field == field
    text = _model([("t", "VARCHAR", pa.string())])
    assert instance_columns(text, [{"t": "été"}]).values == [["été"]]
    assert instance_columns(text, [{"t": "\ud800"}]) is None


def test_the_server_parses_http_in_c_on_libuv():
    """uvicorn's `auto` HTTP protocol and event loop, which toolkit serve runs on, are httptools' and uvloop's."""
    assert AutoHTTPProtocol is HttpToolsProtocol
    assert auto_loop_factory() is uvloop.new_event_loop
