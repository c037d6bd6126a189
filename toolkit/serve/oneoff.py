"""`toolkit predict MODEL`: one-off online predictions from the shell, answered as POST /v1/models/MODEL:predict
answers (the same snapshot of the store, checks, engine and errors), one JSON line per prediction.

Input: JSON lines. A line holding an object with `instances` is a request body of its own (Vertex AI's shape, with
its `parameters`); any other object is one instance, and consecutive instance lines make one request (with the
`--parameters` given, if any)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from toolkit.serve.app import VERBS, served_model
from toolkit.serve.predictor import Engine
from toolkit.serve.request import RequestError, parse_body
from toolkit.serve.snapshot import load_snapshot


class LineError(Exception):
    """A request of the input refused as the endpoint refuses it: the error body, and the input line at fault."""

    def __init__(self, line: int | None, error: RequestError) -> None:
        super().__init__(error.message)
        self.line, self.error = line, error

    def body(self) -> dict[str, Any]:
        body = self.error.body()
        if self.line is not None:
            body["error"]["line"] = self.line
        return body


def _requests(lines: Iterable[str], parameters: dict[str, Any],
              max_instances: int) -> Iterator[tuple[list[int], list[dict[str, Any]], dict[str, Any]]]:
    """(the line of each instance, instances, parameters) of each request the lines make."""
    pending: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            document = json.loads(text)
        except ValueError as error:
            raise LineError(number, RequestError(400, f"the line is not valid JSON: {error}", "body")) from None
        if isinstance(document, dict) and "instances" in document:
            if pending:
                yield numbers, pending, parameters
                pending, numbers = [], []
            try:
                instances, own = parse_body(text.encode(), max_instances)
            except RequestError as error:
                raise LineError(number, error) from None
            yield [number] * len(instances), instances, own
            continue
        if not isinstance(document, dict):
            raise LineError(number, RequestError(400, "each line must be a JSON object: an instance, or a request "
                                                      'body {"instances": […]}', "instances"))
        pending.append(document)
        numbers.append(number)
        if len(pending) > max_instances:
            raise LineError(number, RequestError(413, f"more than {max_instances} instances in one request",
                                                 "instances", hint="split the input, or raise --max-instances"))
    if pending:
        yield numbers, pending, parameters


def predict_lines(warehouse: Path, model: str, lines: Iterable[str], parameters: dict[str, Any] | None = None,
                  *, verb: str = "predict", max_instances: int = 1_000) -> Iterator[dict[str, Any]]:
    """Each prediction of the lines' requests, as the endpoint's `predictions` entries; raises LineError."""
    snapshot = load_snapshot(warehouse)
    engine = Engine()
    try:
        served = served_model(snapshot, model)
    except RequestError as error:
        raise LineError(None, error) from None
    for numbers, instances, own in _requests(lines, dict(parameters or {}), max_instances):
        try:
            _, rows = engine.answer(VERBS[verb], served, instances, own)
        except RequestError as error:
            index = re.match(r"instances\[(\d+)\]", error.field or "")
            raise LineError(numbers[int(index.group(1))] if index else numbers[0], error) from None
        yield from rows
