"""Consoles sized by the stream they write to: a terminal's width (or COLUMNS when set), and no limit when the
output is piped to a file or another program, so nothing is cut that a script or a log would want."""

from __future__ import annotations

import os
import sys
from typing import IO, Any

from rich.console import Console, ConsoleDimensions

UNBOUNDED = 10_000  # the width of a console writing to a file or a pipe: every table at its natural width


def stream_width(stream: IO[str]) -> int | None:
    """The columns `stream` has: COLUMNS when it is set, else the terminal's; None when it is no terminal."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not is_terminal(stream):
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns or None
    except (AttributeError, ValueError, OSError):
        return None


def is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class AdaptiveConsole(Console):
    """A rich Console that measures its stream at every print: sys.stdout (or stderr) as it is at that moment, its
    width as `stream_width` tells, UNBOUNDED when piped. A width given to the constructor is kept as it is."""

    def __init__(self, *, stderr: bool = False, **options: Any) -> None:
        forced = options.get("width")
        super().__init__(stderr=stderr, highlight=False, **options)
        self._forced_width = forced

    @property
    def size(self) -> ConsoleDimensions:
        if self._forced_width is not None:
            return ConsoleDimensions(self._forced_width, self._height or 25)
        return ConsoleDimensions(stream_width(self.file) or UNBOUNDED, self._height or 25)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._forced_width, self._height = new_size


def stdout_console() -> Console:
    return AdaptiveConsole()


def stderr_console() -> Console:
    return AdaptiveConsole(stderr=True)


def output_width(stream: IO[str] | None = None) -> int:
    """The width tables written to `stream` (stdout by default) should fit."""
    return stream_width(stream or sys.stdout) or UNBOUNDED
