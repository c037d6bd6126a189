"""The toolkit's error root. The CLI catches these, prints the message and exits with the code the command
decides (toolkit.cli); anything else reaching the top is a toolkit bug and keeps its traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Location:
    """Where in the user's project something is: a file, optionally a line and column."""

    path: Path
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        try:
            text = str(self.path.relative_to(Path.cwd()))
        except ValueError:
            text = str(self.path)
        if self.line is not None:
            text += f", line {self.line}"
            if self.column is not None:
                text += f", column {self.column}"
        return text


class ToolkitError(Exception):
    """Root of every error caused by the user's project, settings, data or environment."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None):
        self.message = message
        self.location = location
        self.hint = hint
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}" if self.location else self.message
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def __reduce__(self) -> tuple:
        # Errors cross process boundaries (parallel loading) with their location and hint intact.
        return (self.__class__, (self.message, self.location, self.hint))

    def at(self, location: Location) -> ToolkitError:
        """The same error, placed at `location` unless it already has a place."""
        if self.location is None:
            self.location = location
            self.args = (str(self),)
        return self


class ConfigError(ToolkitError):
    """Bad `[tool.toolkit]` settings or a bad `config(...)` call in a model file."""


class ProjectError(ToolkitError):
    """A model file, macro or the graph they form cannot be used as written."""


class WarehouseError(ToolkitError):
    """The warehouse file cannot be opened, is busy, or lacks something the project needs."""


class NodeError(ToolkitError):
    """One node failed while building; the run goes on with independent nodes."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """' (did you mean "x"?)' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


class ModelError(NodeError):
    """A model cannot be trained, stored, loaded or applied: its data, options or artifact are unusable.

    Raised with `model=`, the message is about that model ('model m: the input has no column x'); the ML.*
    function that met it names itself with `within` ('ML.EVALUATE with model m: the input has no column x')."""

    def __init__(self, message: str, location: Location | None = None, hint: str | None = None, *,
                 model: str | None = None, function: str | None = None):
        self.detail, self.model, self.function = message, model, function
        if model is not None:
            message = f"{f'ML.{function} with model' if function else 'model'} {model}: {message}"
        super().__init__(message, location, hint)

    def __reduce__(self) -> tuple:
        return (_model_error, (self.detail, self.location, self.hint, self.model, self.function))

    def within(self, function: str) -> ModelError:
        """The same error, said by ML.`function` (unchanged when it names no model or already a function)."""
        if self.model is None or self.function is not None:
            return self
        return ModelError(self.detail, self.location, self.hint, model=self.model, function=function)


def _model_error(message: str, location: Location | None, hint: str | None, model: str | None,
                 function: str | None) -> ModelError:
    return ModelError(message, location, hint, model=model, function=function)
