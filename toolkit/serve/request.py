"""A prediction request read and checked: Vertex AI's body `{"instances": [{…}, …], "parameters": {…}}`
(https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/predict), its instances
turned into the Arrow table ML.PREDICT would read from DuckDB: every input column of the model in the type it had
at training, the other fields passed through as they come (as ML.PREDICT passes extra columns through).

Anything wrong is a RequestError: the HTTP status, a message and the field at fault (`instances[3].dep_delay`,
`parameters.threshold`), answered as a 4xx JSON error."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import orjson
import pyarrow as pa

from toolkit.serve.snapshot import InputColumn, ServedModel


class RequestError(Exception):
    """A request the server refuses: answered with `status` and a JSON error naming `field`."""

    def __init__(self, status: int, message: str, field: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.hint = status, message, field, hint

    def body(self) -> dict[str, Any]:
        error = {"code": self.status, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        if self.hint is not None:
            error["hint"] = self.hint
        return {"error": error}


def parse_body(body: bytes, max_instances: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The request's instances (objects) and parameters, checked for shape."""
    try:
        document = _document(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"the body is not valid JSON: {error}", "body",
                           hint='send {"instances": [{"column": value, …}]}') from None
    except RecursionError:
        raise RequestError(400, "the body nests arrays or objects too deeply", "body") from None
    if type(document) is not dict:
        raise RequestError(400, "the body must be a JSON object", "body", hint='{"instances": [{…}]}')
    if not document.keys() <= _BODY_FIELDS:
        unknown = sorted(set(document) - _BODY_FIELDS)
        raise RequestError(400, f"unknown field {unknown[0]!r}", unknown[0],
                           hint="the body has instances and parameters")
    instances = document.get("instances")
    if type(instances) is not list or not instances:
        raise RequestError(400, "instances must be a non-empty array of objects", "instances")
    if len(instances) > max_instances:
        raise RequestError(413, f"{len(instances)} instances: at most {max_instances} per request", "instances",
                           hint="split the request, or run ML.PREDICT over a table for batch prediction")
    if not all(type(instance) is dict for instance in instances):
        index = next(i for i, instance in enumerate(instances) if type(instance) is not dict)
        raise RequestError(400, "each instance must be an object of column values", f"instances[{index}]")
    parameters = document.get("parameters")
    parameters = {} if parameters is None else parameters
    if type(parameters) is not dict:
        raise RequestError(400, "parameters must be an object", "parameters")
    return instances, parameters


_BODY_FIELDS = {"instances", "parameters"}
# Every digit as 0, every other byte as a space: a body holding no run of 19 zeros then has no integer beyond 64 bits,
# which orjson would read as a float (json keeps it whole). Faster than a regular expression by 10x.
_DIGITS = bytes(ord("0") if ord("0") <= byte <= ord("9") else ord(" ") for byte in range(256))
_LONG_DIGITS = b"0" * 19


def _document(body: bytes) -> Any:
    """The body's JSON value: read by orjson (a 100-instance body in a quarter of the standard library's time, the
    same values), else by the standard library, which says what is wrong and reads what orjson reads otherwise or
    refuses though JSON allows it (integers beyond 64 bits, 1e400 as infinity, a lone surrogate escape, UTF-16)."""
    if _LONG_DIGITS not in body.translate(_DIGITS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    return json.loads(body, parse_constant=_not_json)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON value (send null for a missing number)")


def instances_table(served: ServedModel, instances: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The instances as ML.PREDICT's input rows, the columns in the order first seen: the model's input columns in
    their training types, every other field with the type its values infer."""
    inputs = {column.name.casefold(): column for column in served.inputs}
    first = instances[0]
    keys = first.keys()
    if all(instance.keys() == keys for instance in instances):  # the usual request: every instance has the same fields
        fields = _fields(served, first, 0)
        columns = {lowered: [instance[key] for instance in instances] for lowered, key in fields.items()}
    else:
        fields, lowered_instances = {}, []
        for index, instance in enumerate(instances):
            own = _fields(served, instance, index)
            lowered_instances.append({lowered: instance[key] for lowered, key in own.items()})
            for lowered, key in own.items():
                fields.setdefault(lowered, key)
        columns = {lowered: [instance.get(lowered) for instance in lowered_instances] for lowered in fields}
    arrays = []
    for lowered, values in columns.items():
        column = inputs.get(lowered)
        name = fields[lowered]
        arrays.append(_typed(values, column, name) if column is not None else _inferred(values, name))
    return pa.Table.from_arrays(arrays, names=list(fields.values()))


def _fields(served: ServedModel, instance: Mapping[str, Any], index: int) -> dict[str, str]:
    """An instance's field names, lower-cased → as given, checked: none empty, none twice, every input column."""
    fields: dict[str, str] = {}
    for key in instance:
        if not key.strip():
            raise RequestError(400, "a field name is empty", f"instances[{index}]", hint="name every field")
        lowered = key.casefold()
        if lowered in fields:
            raise RequestError(400, f"field {key!r} is given twice (names compare ignoring case)",
                               f"instances[{index}].{key}")
        fields[lowered] = key
    missing = [column.name for column in served.inputs if column.name.casefold() not in fields]
    if missing:
        raise RequestError(400, f"instance {index} has no column {missing[0]} (model {served.name} reads "
                                f"{', '.join(c.name for c in served.inputs)})",
                           f"instances[{index}].{missing[0]}", hint="give every input column; null for missing")
    return fields


_NONE = type(None)
_INTEGERS, _FLOATS = frozenset({int, _NONE}), frozenset({float, _NONE})
# The types a JSON kind's values may have as they come (a float fits an integer column when whole: checked one by one)
_NUMBERS = frozenset({int, float, _NONE})
_AS_IS = {"integer": _INTEGERS, "number": _NUMBERS, "string": frozenset({str, _NONE}),
          "boolean": frozenset({bool, _NONE})}


class InstanceColumns(NamedTuple):
    """The instances as Python columns: the names as given, the columns' Arrow types and values."""

    names: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    values: list[list[Any]]

    def schema(self) -> pa.Schema:
        """The schema of instances_table's table of the same instances."""
        return pa.schema([pa.field(name, arrow_type) for name, arrow_type in zip(self.names, self.types)])


def instance_columns(served: ServedModel, instances: Sequence[Mapping[str, Any]]) -> InstanceColumns | None:
    """The instances as the Python values of instances_table's columns (each column's `to_pylist()`), read without
    Arrow, when every instance has the same fields, all of them input columns of a type that needs no Arrow to read
    (integers, DOUBLE, VARCHAR, BOOLEAN), and every value fits its column; else None: instances_table reads them
    (and names what is wrong). Field names are checked as instances_table checks them."""
    first = instances[0]
    if len(instances) > 1:
        keys = first.keys()
        if not all(instance.keys() == keys for instance in instances):
            return None
    reading = _field_reading(served, first)
    if reading.columns is None:
        return None
    columns: list[list[Any]] = []
    if len(instances) == 1:  # the usual online request: each value checked on its own, read as it comes
        for name, kind, low, high, read in reading.columns:
            value = first[name]
            if value is None or (type(value) is kind and (low is None or low <= value <= high)
                                 and (kind is not str or value.isascii())):
                columns.append([value])
                continue
            values = read([value])
            if values is None:
                return None
            columns.append(values)
    else:
        for name, _, _, _, read in reading.columns:
            values = read([instance[name] for instance in instances])
            if values is None:
                return None
            columns.append(values)
    return InstanceColumns(reading.names, reading.types, columns)


class _Reading(NamedTuple):
    """How instance_columns reads instances of one model with the same field names (in the same order)."""

    inputs: tuple[InputColumn, ...]  # the model's input columns, held while the key holds their id
    names: tuple[str, ...]
    types: tuple[pa.DataType, ...]
    # Per field: its name as given, the Python type its values are read as they come (with an integer type's
    # bounds), and the column's reader (which converts the other values, or says they do not fit); None: some field
    # is no input column, or one of a type Arrow reads.
    columns: tuple[tuple[str, type, int | None, int | None, Callable[[list[Any]], list[Any] | None]], ...] | None


_READINGS: dict[tuple[int, tuple[str, ...]], _Reading] = {}  # by id(served.inputs) and the field names as given
_CACHED_READINGS = 1_024  # a client sending ever other field names refills it


def _field_reading(served: ServedModel, instance: Mapping[str, Any]) -> _Reading:
    """The reading of instances with this instance's field names, made (and the names checked) once."""
    inputs = served.inputs
    key = (id(inputs), tuple(instance))
    reading = _READINGS.get(key)
    if reading is not None and reading.inputs is inputs:
        return reading
    fields = _fields(served, instance, 0)  # raises RequestError: nothing is kept
    by_name = {column.name.casefold(): column for column in inputs}
    types, columns = [], []
    for lowered, name in fields.items():
        column = by_name.get(lowered)
        read = _PYTHON_READERS.get(column.arrow_type) if column is not None else None
        if read is None:
            columns = None
            break
        types.append(column.arrow_type)
        columns.append((name, *_AS_THEY_COME[column.arrow_type], read))
    reading = _Reading(inputs, tuple(fields.values()), tuple(types), None if columns is None else tuple(columns))
    if len(_READINGS) >= _CACHED_READINGS:
        _READINGS.clear()
    _READINGS[key] = reading
    return reading


def _integers(low: int, high: int) -> Callable[[list[Any]], list[Any] | None]:
    def read(values: list[Any]) -> list[Any] | None:
        types = set(map(type, values))
        if not types <= _INTEGERS:
            if not types <= _NUMBERS or not all(v is None or type(v) is int or v.is_integer() for v in values):
                return None
            values = [None if v is None else int(v) for v in values]
        return values if all(v is None or low <= v <= high for v in values) else None

    return read


def _doubles(values: list[Any]) -> list[Any] | None:
    types = set(map(type, values))
    if types <= _FLOATS:
        return values
    if not types <= _NUMBERS:
        return None
    try:
        return [None if v is None else float(v) for v in values]
    except OverflowError:
        return None


def _texts(values: list[Any]) -> list[Any] | None:
    if not set(map(type, values)) <= _AS_IS["string"]:
        return None
    for value in values:
        if value is not None and not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:  # a lone surrogate: Arrow refuses it
                return None
    return values


def _booleans(values: list[Any]) -> list[Any] | None:
    return values if set(map(type, values)) <= _AS_IS["boolean"] else None


def _bounds(arrow_type: pa.DataType) -> tuple[int, int]:
    bits = arrow_type.bit_width
    if pa.types.is_signed_integer(arrow_type):
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


_INTEGER_TYPES = (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32(), pa.uint64())
# The column types whose JSON values are read without Arrow, to the values Arrow's to_pylist would give back.
_PYTHON_READERS: dict[pa.DataType, Callable[[list[Any]], list[Any] | None]] = {
    **{t: _integers(*_bounds(t)) for t in _INTEGER_TYPES},
    pa.float64(): _doubles, pa.string(): _texts, pa.large_string(): _texts, pa.bool_(): _booleans,
}
# Per column type of _PYTHON_READERS: the Python type of the values its reader gives back unchanged (null too; an
# integer within the bounds, text when ASCII), which a one-instance request checks one value at a time.
_AS_THEY_COME: dict[pa.DataType, tuple[type, int | None, int | None]] = {
    **{t: (int, *_bounds(t)) for t in _INTEGER_TYPES},
    pa.float64(): (float, None, None), pa.string(): (str, None, None), pa.large_string(): (str, None, None),
    pa.bool_(): (bool, None, None),
}


def _kind_error(values: Sequence[Any], column: InputColumn, name: str, wanted: str) -> RequestError:
    index, value = next((i, v) for i, v in enumerate(values) if v is not None and not _fits(v, wanted))
    article = "an" if wanted == "integer" else "a"
    return RequestError(400, f"column {name} is {column.duckdb_type}: {json.dumps(value)} is not {article} {wanted}",
                        f"instances[{index}].{name}", hint=f"send {article} {wanted} or null")


def _fits(value: Any, wanted: str) -> bool:
    if wanted == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if wanted == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float)
                                                                            and value.is_integer())
    if wanted == "string":
        return isinstance(value, str)
    if wanted == "boolean":
        return isinstance(value, bool)
    return True


def json_kind(arrow_type: pa.DataType | None) -> str | None:
    """The JSON kind a column's values must be (None: any JSON value Arrow can convert)."""
    if arrow_type is None:
        return None
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or pa.types.is_string_view(arrow_type):
        return "string"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_temporal(arrow_type):
        return "string"
    return None


def _typed(values: list[Any], column: InputColumn, name: str) -> pa.Array:
    arrow_type = column.arrow_type
    if arrow_type is None:
        return _inferred(values, name)
    wanted, floating, temporal = _reading(arrow_type)
    types = set(map(type, values))  # JSON's values are of exactly these types (bool is not int here)
    if wanted is not None and not types <= _AS_IS[wanted] and not all(v is None or _fits(v, wanted) for v in values):
        raise _kind_error(values, column, name, wanted)
    try:
        if wanted == "integer" and not types <= _INTEGERS:
            values = [None if v is None else int(v) for v in values]
        elif floating and not types <= _FLOATS:
            values = [None if v is None else float(v) for v in values]  # an integer beyond 1e308: OverflowError
        if temporal:
            return pa.array(values, pa.string()).cast(arrow_type)
        return pa.array(values, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError) as error:
        return _value_error(values, column, name, error)


@functools.lru_cache(maxsize=256)
def _reading(arrow_type: pa.DataType) -> tuple[str | None, bool, bool]:
    """A column type's JSON kind, whether its values are read as floats, and whether it is a date or time."""
    wanted = json_kind(arrow_type)
    return wanted, wanted == "number" and pa.types.is_floating(arrow_type), pa.types.is_temporal(arrow_type)


def _value_error(values: list[Any], column: InputColumn, name: str, error: Exception) -> pa.Array:
    for index, value in enumerate(values):  # the first value that fails on its own
        try:
            (pa.array([value], pa.string()).cast(column.arrow_type) if pa.types.is_temporal(column.arrow_type)
             else pa.array([value], column.arrow_type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError) as own:
            raise RequestError(400, f"column {name} is {column.duckdb_type}: {json.dumps(value)} does not convert "
                                    f"({own})", f"instances[{index}].{name}") from None
    raise RequestError(400, f"column {name} is {column.duckdb_type}: {error}", f"instances[*].{name}") from None


def _inferred(values: list[Any], name: str) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as error:
        raise RequestError(400, f"field {name}: its values are not of one type ({error})", f"instances[*].{name}",
                           hint="give a field the same JSON type in every instance") from None


def jsonable(value: Any) -> Any:
    """An output value as JSON: NaN and infinities as null, times as ISO 8601 text, bytes as hex."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # Decimal, UUID, intervals
