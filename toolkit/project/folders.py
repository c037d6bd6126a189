"""Folder-level configs, as in dbt_project.yml (https://docs.getdbt.com/reference/model-configs): in
`[tool.toolkit.models]` (or `.seeds`), `"+materialized" = "view"` applies to every file below; a key without `+`
names a subfolder (or a file's stem) whose table configures what is under it, the deeper level winning, and tags
adding up. Precedence, lowest first: folders, then the YAML properties' `config:`, then the file's own config()."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError, Location, did_you_mean


def check_folder_configs(tree: Mapping[str, Any], section: str, keys: tuple[str, ...], root: Path,
                         files: Mapping[str, Path], pyproject: Path) -> None:
    """Every `+key` known and every folder or file named present: a typo is an error, never a config lost.
    `section` is how messages name the tree (`[tool.toolkit.models]`, `dbt_project.yml models.shop`)."""
    if not tree:
        return
    known = {path.relative_to(root).with_suffix("").parts for path in files.values()}
    prefixes = {parts[:end] for parts in known for end in range(1, len(parts) + 1)}

    def walk(level: Mapping[str, Any], at: tuple[str, ...]) -> None:
        where = ".".join((section, *at))
        for key, value in level.items():
            if key.startswith("+"):
                if key[1:] not in keys:
                    raise ConfigError(f'{where}: unknown config "{key}"{did_you_mean(key, ["+" + k for k in keys])}',
                                      Location(pyproject), hint="known configs: " + ", ".join("+" + k for k in keys))
            elif not at and key == "path":
                continue
            elif not isinstance(value, dict):
                raise ConfigError(f'{where}: "{key}" is neither a "+config" nor a folder table', Location(pyproject),
                                  hint=f'write "+{key}" for a config, or {key} = {{ "+materialized" = "view" }} '
                                       "for a folder")
            elif (*at, key) not in prefixes:
                choices = ["/".join(p[len(at):len(at) + 1]) for p in prefixes if p[:len(at)] == at and len(p) > len(at)]
                raise ConfigError(f'{where}: no folder or file "{key}" under {root.name}/{"/".join(at)}'
                                  f"{did_you_mean(key, choices)}", Location(pyproject),
                                  hint="keys without + name subfolders (or file stems) of the folder")
            else:
                walk(value, (*at, key))

    walk(tree, ())


def folder_config(tree: Mapping[str, Any], root: Path, path: Path) -> dict[str, Any]:
    """The configs that apply to the file at `path`, levels merged from the top down."""
    if not tree:
        return {}
    merged: dict[str, Any] = {}
    level: Any = tree
    for part in (None, *path.relative_to(root).with_suffix("").parts):
        if part is not None:
            level = level.get(part) if isinstance(level, dict) else None
        if not isinstance(level, dict):
            break
        for key, value in level.items():
            if key.startswith("+"):
                merge_config(merged, {key[1:]: value})
    return merged


def merge_config(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` over `base`: tags add up (as in dbt), other keys replace."""
    for key, value in extra.items():
        if key == "tags":
            tags = [value] if isinstance(value, str) else list(value or ())
            base["tags"] = tuple(dict.fromkeys((*base.get("tags", ()), *tags)))
        else:
            base[key] = value
    return base
