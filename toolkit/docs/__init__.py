"""The docs site: the project's lineage, a page per node and a report per trained model, as static HTML
(toolkit.docs.site), and a local server for it (toolkit.docs.serve)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import ToolkitError
from toolkit.project.load import Project

if TYPE_CHECKING:
    from toolkit.docs.site import Site

__all__ = ["generate_docs", "serve_docs"]


def generate_docs(project: Project, folder: Path | None = None) -> Site:
    """The site for `project`, written into `folder` (default: the project's target/docs/)."""
    from toolkit.docs.site import generate_site

    return generate_site(project, folder or project.settings.target / "docs")


def serve_docs(folder: Path, port: int, started: Callable[[str], None]) -> None:
    """Serve `folder` on 127.0.0.1:`port` until interrupted; `started` gets the URL once it listens."""
    from toolkit.docs.serve import docs_server

    try:
        server = docs_server(folder, port)
    except OSError as error:
        raise ToolkitError(f"cannot listen on 127.0.0.1:{port}: {error.strerror}",
                           hint="pick another port with --port") from None
    with server:
        started(f"http://127.0.0.1:{server.server_address[1]}/")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
