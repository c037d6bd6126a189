"""A prediction request read and checked: Vertex AI's body `{"instances": [{…}, …], "parameters": {…}}`
(https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/predict), its instances
turned into the Arrow table ML.PREDICT would read from DuckDB: every input column of the model in the type it had
at training, the other fields passed through as they come (as ML.PREDICT passes extra columns through).

Anything wrong is a RequestError: the HTTP status, a message and the field at fault (`instances[3].dep_delay`,
`parameters.threshold`), answered as a 4xx JSON error."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

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
        document = json.loads(body, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestError(400, f"the body is not valid JSON: {error}", "body",
                           hint='send {"instances": [{"column": value, …}]}') from None
    except RecursionError:
        raise RequestError(400, "the body nests arrays or objects too deeply", "body") from None
    if not isinstance(document, dict):
        raise RequestError(400, "the body must be a JSON object", "body", hint='{"instances": [{…}]}')
    unknown = sorted(set(document) - {"instances", "parameters"})
    if unknown:
        raise RequestError(400, f"unknown field {unknown[0]!r}", unknown[0],
                           hint="the body has instances and parameters")
    instances = document.get("instances")
    if not isinstance(instances, list) or not instances:
        raise RequestError(400, "instances must be a non-empty array of objects", "instances")
    if len(instances) > max_instances:
        raise RequestError(413, f"{len(instances)} instances: at most {max_instances} per request", "instances",
                           hint="split the request, or run ML.PREDICT over a table for batch prediction")
    for index, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise RequestError(400, "each instance must be an object of column values", f"instances[{index}]")
    parameters = document.get("parameters")
    parameters = {} if parameters is None else parameters
    if not isinstance(parameters, dict):
        raise RequestError(400, "parameters must be an object", "parameters")
    return instances, parameters


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not a JSON value (send null for a missing number)")


def instances_table(served: ServedModel, instances: Sequence[Mapping[str, Any]]) -> pa.Table:
    """The instances as ML.PREDICT's input rows, the columns in the order first seen: the model's input columns in
    their training types, every other field with the type its values infer."""
    inputs = {column.name.casefold(): column for column in served.inputs}
    names: dict[str, str] = {}  # lower-cased → as first given
    lowered_instances: list[dict[str, Any]] = []
    for index, instance in enumerate(instances):
        seen: dict[str, Any] = {}
        lowered_instances.append(seen)
        for key, value in instance.items():
            if not key.strip():
                raise RequestError(400, "a field name is empty", f"instances[{index}]", hint="name every field")
            lowered = key.casefold()
            if lowered in seen:
                raise RequestError(400, f"field {key!r} is given twice (names compare ignoring case)",
                                   f"instances[{index}].{key}")
            seen[lowered] = value
            names.setdefault(lowered, key)
        missing = [column.name for column in served.inputs if column.name.casefold() not in seen]
        if missing:
            raise RequestError(400, f"instance {index} has no column {missing[0]} (model {served.name} reads "
                                    f"{', '.join(c.name for c in served.inputs)})",
                               f"instances[{index}].{missing[0]}", hint="give every input column; null for missing")
    arrays, fields = [], []
    for lowered in names:
        name = names[lowered]
        values = [instance.get(lowered) for instance in lowered_instances]
        column = inputs.get(lowered)
        array = _typed(values, column, name) if column is not None else _inferred(values, name)
        arrays.append(array)
        fields.append(name)
    return pa.Table.from_arrays(arrays, names=fields)


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
    if column.arrow_type is None:
        return _inferred(values, name)
    wanted = json_kind(column.arrow_type)
    if wanted is not None and not all(v is None or _fits(v, wanted) for v in values):
        raise _kind_error(values, column, name, wanted)
    if wanted == "integer":
        values = [None if v is None else int(v) for v in values]
    elif wanted == "number" and pa.types.is_floating(column.arrow_type):
        values = [None if v is None else float(v) for v in values]
    try:
        if pa.types.is_temporal(column.arrow_type):
            return pa.array(values, pa.string()).cast(column.arrow_type)
        return pa.array(values, column.arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError) as error:
        return _value_error(values, column, name, error)


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
