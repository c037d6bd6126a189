"""The HTTP server: a Starlette application over one snapshot of the model store at a time.

Endpoints: POST /v1/models/{model}:predict and :explain (Vertex AI's request and response shapes,
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.endpoints/predict), GET /v1/models,
GET /v1/models/{model}, POST /v1/admin:reload, GET /healthz, GET /metrics (Prometheus), GET /openapi.json.
A reload reads the store into a new snapshot while requests keep using the current one, then swaps it in with one
assignment: a request runs wholly on the snapshot it started with, and none fails during the swap. Every error is
a JSON body `{"error": {"code", "message", "field", "hint"}}`; a request's failure never stops the server."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from toolkit.errors import ToolkitError, did_you_mean
from toolkit.serve.metrics import Metrics
from toolkit.serve.openapi import input_schema, openapi
from toolkit.serve.predictor import EXPLAIN, PREDICT, Engine
from toolkit.serve.request import RequestError, parse_body
from toolkit.serve.snapshot import ServedModel, Snapshot, StoreLocked, load_snapshot

log = logging.getLogger("toolkit.serve")
VERBS = {"predict": PREDICT, "explain": EXPLAIN}


@dataclass(frozen=True)
class ServeOptions:
    warehouse: Path
    models: tuple[str, ...] = ()  # empty: every stored model
    max_instances: int = 1_000
    max_body_bytes: int = 1_048_576
    watch_seconds: float = 0.0  # > 0: look for new versions this often


class ModelServer:
    """The current snapshot, the engine requests run on, and the counters."""

    def __init__(self, options: ServeOptions) -> None:
        self.options = options
        self.engine = Engine()
        self.metrics = Metrics()
        self._reload_lock = threading.Lock()
        self.last_reload_error: str | None = None
        self.snapshot: Snapshot = load_snapshot(options.warehouse, list(options.models) or None)
        self._stamp = self._file_stamp()
        self._stop = threading.Event()

    def reload(self, copy_when_locked: bool = True) -> Snapshot:
        """Read the store again and swap the new snapshot in; on failure the current one stays."""
        with self._reload_lock:
            stamp = self._file_stamp()
            try:
                snapshot = load_snapshot(self.options.warehouse, list(self.options.models) or None, copy_when_locked)
            except ToolkitError as error:
                if not isinstance(error, StoreLocked):
                    self.last_reload_error = error.message
                    self.metrics.reloaded("failed")
                raise
            self.snapshot, self._stamp, self.last_reload_error = snapshot, stamp, None
            self.metrics.reloaded("ok")
            return snapshot

    def _file_stamp(self) -> tuple:
        """When the warehouse file and its write-ahead log last changed, and their sizes (None: absent)."""
        path = self.options.warehouse
        stamps = []
        for file in (path, path.with_name(path.name + ".wal")):
            try:
                status = file.stat()
                stamps.append((status.st_mtime_ns, status.st_size))
            except OSError:
                stamps.append(None)
        return tuple(stamps)

    def watch(self) -> None:
        """Reload whenever the warehouse file changed and no writer holds it (a build publishes when it ends)."""
        while not self._stop.wait(self.options.watch_seconds):
            if self._file_stamp() == self._stamp:
                continue
            try:
                before = self.snapshot.fingerprint()
                after = self.reload(copy_when_locked=False).fingerprint()
                if after != before:
                    log.info("reloaded the model store: %s", dict(after))
            except StoreLocked:
                continue
            except ToolkitError as error:
                log.warning("reload failed, still serving the previous models: %s", error.message)
            except Exception:  # a bug must not end the watching
                log.exception("reload failed, still serving the previous models")

    def stop(self) -> None:
        self._stop.set()


def create_app(options: ServeOptions) -> Starlette:
    server = ModelServer(options)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watcher = None
        if options.watch_seconds > 0:
            watcher = threading.Thread(target=server.watch, name="toolkit-serve-watch", daemon=True)
            watcher.start()
        yield
        server.stop()

    async def predictions(scope: Scope, receive: Receive, send: Send, target: str) -> None:
        """POST /v1/models/{model}:predict or :explain answered with ASGI messages: the body read straight from
        `receive`, the answer's headers built as bytes (Starlette's Request and Response cost tens of
        microseconds of a one-instance request's ~100)."""
        name, _, verb = target.rpartition(":")
        started = time.perf_counter()
        snapshot = server.snapshot  # the request runs wholly on this snapshot
        served = snapshot.find(name)
        label = served.name if served is not None else "(unknown)"
        response_started = False
        try:
            try:
                if verb not in VERBS:
                    raise RequestError(404, f"no method :{verb}{did_you_mean(verb, VERBS)}", "path",
                                       hint="POST /v1/models/{model}:predict or :explain")
                served = served_model(snapshot, name)
                body = await _body(scope["headers"], receive, options.max_body_bytes)
                instances, parameters = parse_body(body, options.max_instances)
                function, engine = VERBS[verb], server.engine
                rows, instances = engine.begin(function, served, instances, parameters)  # the Python evaluator's
                if rows is None:  # in anyio's worker threads: a slow prediction never holds up the event loop
                    served, rows = await run_in_threadpool(engine.answer, function, served, instances, parameters)
                version = str(served.version)
                # orjson: a 100-instance answer in a tenth of the standard library's time, floats in their shortest
                # round-trip form as `json` writes them (requests hold no integer beyond 64 bits: parsing refuses one)
                content = orjson.dumps({"predictions": rows, "model": served.name, "modelVersionId": version})
                status = 200
                headers = [(b"x-model-version", version.encode("latin-1")),
                           (b"content-length", str(len(content)).encode("latin-1")), _JSON_TYPE]
            except RequestError as error:  # as the other endpoints answer errors: a JSONResponse's body and headers
                response = _error(error)
                status, content, headers = response.status_code, response.body, response.raw_headers
            server.metrics.observe(label, verb or "describe", status, time.perf_counter() - started)
            response_started = True
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": content})
        except Exception as error:  # as Starlette's ServerErrorMiddleware: a 500 if nothing was sent, then raise
            if not response_started:
                response = await server_error(Request(scope), error)
                await response(scope, receive, send)
            raise

    async def model(request: Request) -> Response | ASGIApp:
        target = request.path_params["target"]
        if not target.rpartition(":")[0]:
            return await describe(request, target)
        return functools.partial(predictions, target=target)  # what ServeApp answers before routing, for POST

    async def describe(request: Request, name: str) -> Response:
        if request.method != "GET":
            return _error(RequestError(405, "POST to /v1/models/{model}:predict or :explain", "path"))
        try:
            return JSONResponse(_description(served_model(server.snapshot, name)))
        except RequestError as error:
            return _error(error)

    async def models(request: Request) -> Response:
        snapshot = server.snapshot
        return JSONResponse({
            "models": [_summary(m) for m in sorted(snapshot.models.values(), key=lambda m: m.name.casefold())],
            "unservable": [{"name": u.name, "version": u.version, "reason": u.reason}
                           for u in snapshot.unservable.values()]})

    async def reload(request: Request) -> Response:
        try:
            snapshot = await run_in_threadpool(server.reload)
        except ToolkitError as error:
            return _error(RequestError(503, f"the model store could not be read, the previous models are still "
                                            f"served: {error.message}", None, error.hint))
        return JSONResponse({"reloaded": True, "source": snapshot.source,
                             "models": {m.name: m.version for m in snapshot.models.values()}})

    async def healthz(request: Request) -> Response:
        snapshot = server.snapshot
        return JSONResponse({"status": "ok", "models": {m.name: m.version for m in snapshot.models.values()},
                             "loaded_at": snapshot.loaded_at.isoformat(), "source": snapshot.source,
                             "last_reload_error": server.last_reload_error})

    async def metrics(request: Request) -> Response:
        versions = {m.name: m.version for m in server.snapshot.models.values()}
        return PlainTextResponse(server.metrics.text(versions), media_type="text/plain; version=0.0.4")

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(openapi(server.snapshot))

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(RequestError(404, f"no endpoint {request.method} {request.url.path}", "path",
                                   hint="GET /openapi.json lists the endpoints"))

    async def method_not_allowed(request: Request, exc: Exception) -> Response:
        return _error(RequestError(405, f"{request.method} is not allowed on {request.url.path}", "method"))

    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error answering %s %s", request.method, request.url.path)
        return JSONResponse({"error": {"code": 500, "message": f"internal error: {type(exc).__name__}"}},
                            status_code=500)

    routes = [
        Route("/v1/models", models, methods=["GET"]),
        Route("/v1/admin:reload", reload, methods=["POST"]),
        Route("/v1/models/{target}", model, methods=["GET", "POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    app = ServeApp(predictions, routes=routes, lifespan=lifespan,
                   exception_handlers={404: not_found, 405: method_not_allowed, 500: server_error})
    app.state.server = server
    return app


class ServeApp(Starlette):
    """The Starlette application, with `POST /v1/models/{model}:{verb}` answered before its middleware and routing
    (the route `/v1/models/{target}` answers it the same way, with the same function): the other endpoints,
    describing a model, 404 and 405 go through Starlette."""

    def __init__(self, predictions: Callable[[Scope, Receive, Send, str], Awaitable[None]], **settings: Any) -> None:
        super().__init__(**settings)
        self._predictions = predictions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            path = scope["path"]
            if path.startswith(_MODELS):
                target = path[len(_MODELS):]
                if "/" not in target and target.rpartition(":")[0]:
                    scope["app"] = self
                    await self._predictions(scope, receive, send, target)
                    return
        await super().__call__(scope, receive, send)


def served_model(snapshot: Snapshot, name: str) -> ServedModel:
    served = snapshot.find(name)
    if served is not None:
        return served
    broken = snapshot.unservable.get(name.casefold())
    if broken is not None:
        raise RequestError(409, f"model {broken.name} version {broken.version} cannot be served: {broken.reason}",
                           "model", hint=f"retrain it: toolkit build --select {broken.name}")
    known = [m.name for m in snapshot.models.values()]
    raise RequestError(404, f"no model named {name} is served{did_you_mean(name, known)}", "model",
                       hint="GET /v1/models lists the served models")


async def _body(headers: list[tuple[bytes, bytes]], receive: Receive, limit: int) -> bytes:
    """The request's body, as Starlette's Request.stream reads it, refused past `limit` bytes."""
    declared = next((value.decode("latin-1") for key, value in headers if key == b"content-length"), None)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the body has {declared} bytes: at most {limit}", "body",
                           hint="send fewer instances per request")
    chunks, size = [], 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise RequestError(413, f"the body is over {limit} bytes", "body", hint="send fewer instances")
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif kind == "http.disconnect":
            raise RequestError(400, "the client closed the connection before sending the whole body", "body")


_MODELS = "/v1/models/"
_JSON_TYPE = (b"content-type", b"application/json")


def _error(error: RequestError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


def _summary(served: ServedModel) -> dict[str, Any]:
    return {"name": served.name, "version": served.version, "model_type": served.trained.model_type.name,
            "versions": len(served.versions), "prediction_path": served.path,
            "predict": f"/v1/models/{served.name}:predict"}


def _description(served: ServedModel) -> dict[str, Any]:
    trained = served.trained
    transform = trained.transform
    return {
        **_summary(served),
        "versions": list(served.versions),
        "label": trained.label, "label_type": trained.label_type,
        "classes": list(trained.classes) if trained.classes is not None else None,
        "input_schema": [{"name": c.name, "type": c.duckdb_type,
                          "json_schema": input_schema(served)["properties"][c.name]} for c in served.inputs],
        "transform": None if transform is None else {
            "inputs": list(transform.inputs), "input_types": list(transform.input_types),
            "outputs": [{"name": name, "sql": sql} for name, sql in transform.columns]},
        "metrics": trained.metrics, "metrics_split": trained.metrics_split, "test_metrics": trained.test_metrics,
        "created_at": trained.created_at.isoformat(),
    }
