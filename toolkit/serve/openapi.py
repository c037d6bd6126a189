"""The server's OpenAPI 3.1 description (https://spec.openapis.org/oas/v3.1.0), generated from the served models:
each model's predict and explain paths, with its input columns (and their types) as the instance schema and
ML.PREDICT's / ML.EXPLAIN_PREDICT's output columns as the prediction schema."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from toolkit import __version__
from toolkit.errors import ToolkitError
from toolkit.ml.functions.catalog import TABLE_FUNCTIONS, Setting
from toolkit.serve.request import json_kind
from toolkit.serve.snapshot import ServedModel, Snapshot

_ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "integer"}, "message": {"type": "string"}, "field": {"type": "string"},
    "hint": {"type": "string"}}, "required": ["code", "message"]}}}
_JSON_TYPES = {float: "number", int: "integer", bool: "boolean"}


def arrow_schema(kind: pa.DataType) -> dict[str, Any]:
    """A JSON Schema for values of an Arrow type, as the server writes them (nulls allowed)."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        schema: dict[str, Any] = {"type": "array", "items": arrow_schema(kind.value_type)}
    elif pa.types.is_struct(kind):
        schema = {"type": "object", "properties": {kind.field(i).name: arrow_schema(kind.field(i).type)
                                                   for i in range(kind.num_fields)}}
    elif pa.types.is_timestamp(kind):
        schema = {"type": "string", "format": "date-time"}
    elif pa.types.is_date(kind):
        schema = {"type": "string", "format": "date"}
    else:
        schema = {"type": json_kind(kind) or "string"}
    return {**schema, "type": [schema["type"], "null"]}


def input_schema(served: ServedModel) -> dict[str, Any]:
    properties = {c.name: {**(arrow_schema(c.arrow_type) if c.arrow_type is not None else {}),
                           "description": f"{c.duckdb_type or 'any type'} at training"} for c in served.inputs}
    return {"type": "object", "properties": properties, "required": [c.name for c in served.inputs],
            "additionalProperties": True}


def output_schema(served: ServedModel, function: str) -> dict[str, Any] | None:
    """The rows ML.`function` returns for instances with exactly the input columns; None when it does not apply."""
    table_function = TABLE_FUNCTIONS[function]
    trained = served.trained
    inputs = pa.schema([(c.name, c.arrow_type or pa.null()) for c in served.inputs])
    try:
        table_function.check_model(trained)
        schema = table_function.schema(trained, inputs, table_function.checked_settings({}, trained.name))
    except ToolkitError:
        return None
    return {"type": "object", "properties": {f.name: arrow_schema(f.type) for f in schema}}


def _parameters(function: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"version": {"type": "integer", "description": "must be the served version"}}
    for name, setting in TABLE_FUNCTIONS[function].settings.items():
        properties[name] = _setting_schema(setting)
    return {"type": "object", "properties": properties, "additionalProperties": False}


def _setting_schema(setting: Setting) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": _JSON_TYPES.get(setting.kind, "string")}
    if setting.low is not None:
        schema["minimum"] = setting.low
    if setting.high is not None:
        schema["maximum"] = setting.high
    return schema


def _operation(served: ServedModel, function: str, verb: str) -> dict[str, Any] | None:
    rows = output_schema(served, function)
    if rows is None:
        return None
    request = {"type": "object", "required": ["instances"], "properties": {
        "instances": {"type": "array", "minItems": 1, "items": input_schema(served)},
        "parameters": _parameters(function)}}
    answer = {"type": "object", "properties": {"predictions": {"type": "array", "items": rows},
                                               "model": {"type": "string"}, "modelVersionId": {"type": "string"}}}
    errors = {"application/json": {"schema": _ERROR}}
    return {"post": {
        "summary": f"ML.{function} of model {served.name} (version {served.version}, {served.trained.model_type.name})",
        "operationId": f"{verb}_{served.name}",
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": {"200": {"description": f"ML.{function}'s columns, one object per instance",
                              "content": {"application/json": {"schema": answer}}},
                      "400": {"description": "a bad request, naming the field", "content": errors},
                      "404": {"description": "no such model", "content": errors},
                      "413": {"description": "too many instances or too large a body", "content": errors}}}}


def openapi(snapshot: Snapshot) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for served in sorted(snapshot.models.values(), key=lambda m: m.name.casefold()):
        for function, verb in (("PREDICT", "predict"), ("EXPLAIN_PREDICT", "explain")):
            operation = _operation(served, function, verb)
            if operation is not None:
                paths[f"/v1/models/{served.name}:{verb}"] = operation
    plain = {"description": "OK"}
    paths |= {"/v1/models": {"get": {"summary": "The served models", "responses": {"200": plain}}},
              "/v1/models/{model}": {"get": {"summary": "One model: versions, input schema, TRANSFORM, metrics",
                                             "parameters": [{"name": "model", "in": "path", "required": True,
                                                             "schema": {"type": "string"}}],
                                             "responses": {"200": plain, "404": plain}}},
              "/v1/admin:reload": {"post": {"summary": "Read the model store again", "responses": {"200": plain}}},
              "/healthz": {"get": {"summary": "Liveness, and what is served", "responses": {"200": plain}}},
              "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": plain}}}}
    return {"openapi": "3.1.0", "info": {"title": "toolkit model server", "version": __version__}, "paths": paths}
