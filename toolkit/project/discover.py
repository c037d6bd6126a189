"""Find a project's model and macro files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from toolkit.errors import ProjectError

MODEL_SUFFIX = ".sql"
MACRO_SUFFIXES = (".sql", ".jinja")
RESERVED_PREFIX = "__toolkit"


def model_files(models_dir: Path) -> dict[str, Path]:
    """Node name (the file stem) → model file, sorted by path. Names are unique regardless of case,
    since DuckDB identifiers are case-insensitive."""
    if not models_dir.is_dir():
        raise ProjectError(f"models folder {models_dir} does not exist", hint="create it or set [tool.toolkit].models")
    found: dict[str, Path] = {}
    by_folded: dict[str, Path] = {}
    for path in sorted(models_dir.rglob(f"*{MODEL_SUFFIX}"), key=str):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(models_dir).parts):
            continue
        name = path.stem
        if name.lower().startswith(RESERVED_PREFIX):
            raise ProjectError(f"model names may not start with {RESERVED_PREFIX!r}: {path}", hint="rename the file")
        clash = by_folded.get(name.casefold())
        if clash is not None:
            raise ProjectError(
                f'two model files define the node "{name}": {clash} and {path}',
                hint="node names are file stems and must be unique (case-insensitively); rename one of these files",
            )
        by_folded[name.casefold()] = path
        found[name] = path
    return found


def macro_files(macros_dir: Path) -> list[Path]:
    """The project's own macro files, sorted; a missing folder means no macros."""
    if not macros_dir.is_dir():
        return []
    return sorted(p for p in macros_dir.rglob("*") if p.suffix in MACRO_SUFFIXES and p.is_file())


def standard_macro_files() -> list[Path]:
    """The toolkit's standard macro library: the repository's macros/ folder, installed as `toolkit.macros`."""
    return sorted(p for p in standard_macros_dir().glob("*") if p.suffix in MACRO_SUFFIXES and p.is_file())


def standard_macros_dir() -> Path:
    spec = importlib.util.find_spec("toolkit.macros")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    # A source checkout imported in place (its root on sys.path) has no `toolkit.macros` package.
    return Path(__file__).resolve().parents[2] / "macros"
