"""`toolkit docs serve`: the generated site over HTTP on 127.0.0.1 only, by the standard library's server."""

from __future__ import annotations

import functools
import http.server
from pathlib import Path

HOST = "127.0.0.1"  # never another interface: the site shows the warehouse's columns and sample rows


def docs_server(folder: Path, port: int) -> http.server.ThreadingHTTPServer:
    """A server for the files under `folder` (port 0: any free port); the caller runs serve_forever()."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    return http.server.ThreadingHTTPServer((HOST, port), handler)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the standard library's name
        pass
