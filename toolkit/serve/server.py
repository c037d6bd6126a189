"""Run the server on uvicorn (https://www.uvicorn.org/settings/). With several workers uvicorn starts each in a
process of its own, which builds the application from the options passed in the environment.

HTTP is parsed by httptools (C) and the event loop is uvloop's (libuv): uvicorn's `auto` settings pick them when
they are installed, and they are dependencies of the toolkit (uvloop has no Windows build, where asyncio's loop
runs). uvicorn's pure-Python h11 parser and asyncio's loop cost about 0.3 ms of a small request's ~1 ms
(benchmarks/README.md)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from starlette.applications import Starlette

from toolkit.errors import ConfigError
from toolkit.serve.app import ServeOptions, create_app

OPTIONS_VARIABLE = "TOOLKIT_SERVE_OPTIONS"


def app_from_environment() -> Starlette:
    """The application of a worker process, from the options its parent put in the environment."""
    values = json.loads(os.environ[OPTIONS_VARIABLE])
    return create_app(ServeOptions(**{**values, "warehouse": Path(values["warehouse"]),
                                      "models": tuple(values["models"])}))


def serve(options: ServeOptions, host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    import uvicorn

    if workers < 1:
        raise ConfigError(f"--workers {workers}: give at least 1")
    settings = {"host": host, "port": port, "log_level": log_level, "access_log": False}
    if workers == 1:
        uvicorn.run(create_app(options), **settings)
        return
    os.environ[OPTIONS_VARIABLE] = json.dumps({**asdict(options), "warehouse": str(options.warehouse)})
    uvicorn.run("toolkit.serve.server:app_from_environment", factory=True, workers=workers, **settings)
