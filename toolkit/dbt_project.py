"""A dbt project's own files as the project's settings: `dbt_project.yml`
(https://docs.getdbt.com/reference/dbt_project.yml) and the dbt-duckdb profile of `profiles.yml`
(https://docs.getdbt.com/docs/core/connect-data-platform/profiles.yml,
https://docs.getdbt.com/docs/core/connect-data-platform/duckdb-setup), read when a folder has no `[tool.toolkit]`.

They are translated into the values of a `[tool.toolkit]` table, so the one settings loader checks and builds them;
every key is known: read, documentation only (ignored), or refused with what to do instead."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import ConfigError, Location, did_you_mean

DBT_PROJECT = "dbt_project.yml"
PROFILES = "profiles.yml"
DEFAULT_TARGET_NAME = "dev"

# dbt_project.yml keys with no effect on what the toolkit builds: read, kept quiet about.
_DESCRIPTIVE_KEYS = ("version", "config-version", "require-dbt-version", "analysis-paths", "docs-paths", "asset-paths",
                     "log-path", "clean-targets", "packages-install-path", "query-comment", "flags", "exposures",
                     "metrics", "semantic-models", "saved-queries", "dbt-cloud", "docs")
_READ_KEYS = ("name", "profile", "model-paths", "seed-paths", "macro-paths", "test-paths", "snapshot-paths",
              "target-path", "models", "seeds", "snapshots", "vars")
_REFUSED_KEYS = {
    "on-run-start": "hooks are not supported: put the statement in a model",
    "on-run-end": "hooks are not supported: put the statement in a model",
    "dispatch": "dispatch search orders are not supported: adapter.dispatch looks in the project, then the package",
    "quoting": "quoting configs are not supported: the toolkit quotes identifiers as DuckDB needs",
    "data_tests": "project-level test configs are not supported: set severity on each test in the YAML properties",
    "tests": "project-level test configs are not supported: set severity on each test in the YAML properties",
    "sources": "project-level source configs are not supported: configure each source in its YAML file",
    "unit_tests": "project-level unit test configs are not supported: configure each unit test in its YAML file",
    "restrict-access": "access restrictions are not supported",
    "source-paths": "source-paths is dbt's old name: rename it model-paths",
    "data-paths": "data-paths is dbt's old name: rename it seed-paths",
}
# Configs of the models:/seeds: blocks that only document; the toolkit reads and ignores them.
_DESCRIPTIVE_CONFIGS = ("docs", "meta", "persist_docs", "group", "access", "grants", "contract", "quote_columns",
                        "store_failures", "store_failures_as", "bind", "column_meta")
_REFUSED_CONFIGS = {
    "enabled": "disabling by configuration is not supported: move the file out of the folder",
    "pre-hook": "hooks are not supported: put the statement in a model",
    "post-hook": "hooks are not supported: put the statement in a model",
    "alias": "aliases are not supported: a node's relation is named after its file",
    "database": "the toolkit reads one warehouse: remove database",
    "pre_hook": "hooks are not supported: put the statement in a model",
    "post_hook": "hooks are not supported: put the statement in a model",
}
# Config names dbt accepts without their `+` where no folder has the name: normalised to `+name`.
CONFIG_NAMES = ("materialized", "schema", "tags", "dialect", "unique_key", "incremental_strategy", "on_schema_change",
                "full_refresh", "column_types", "delimiter", "strategy", "updated_at", "check_cols", "target_schema",
                "hard_deletes", "invalidate_hard_deletes", "dbt_valid_to_current", "snapshot_meta_column_names", *_DESCRIPTIVE_CONFIGS, *_REFUSED_CONFIGS)

# dbt-duckdb target keys: read, ignored, or refused.
_PROFILE_READ = ("type", "path", "schema", "threads")
_PROFILE_IGNORED = ("database", "retries", "keepalives_idle", "connect_timeout", "disable_transactions")
_PROFILE_REFUSED = ("extensions", "settings", "attach", "plugins", "filesystems", "external_root", "secrets",
                    "module_paths", "use_credential_provider", "config_options", "motherduck_token")


@dataclass(frozen=True)
class DbtProject:
    """What dbt's files say, as `[tool.toolkit]` values, with where they came from."""

    table: dict[str, Any]  # the [tool.toolkit] table the files amount to
    name: str
    profile_name: str
    target_name: str
    tests: Path | None  # the folder of singular tests (test-paths), when it exists


def is_dbt_project(project_dir: Path) -> bool:
    return (project_dir / DBT_PROJECT).is_file()


def read_dbt_project(project_dir: Path, target: str | None = None, profiles_dir: Path | None = None) -> DbtProject:
    """`dbt_project.yml` and its profile's target (`target`, else $DBT_TARGET, else the profile's `target:`)."""
    path = project_dir / DBT_PROJECT
    document = _yaml(path)
    _check_top(document, path)
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{DBT_PROJECT} has no name", Location(path), hint="add name: my_project")
    table: dict[str, Any] = {}
    for key, setting in (("model-paths", "models"), ("seed-paths", "seeds"), ("macro-paths", "macros")):
        if key in document:
            table[setting] = _one_folder(document[key], key, path)
    if "target-path" in document:
        table["target"] = _text(document["target-path"], "target-path", path)
    tests = project_dir / (_one_folder(document["test-paths"], "test-paths", path)
                           if "test-paths" in document else "tests")
    vars_ = document.get("vars") or {}
    if not isinstance(vars_, dict):
        raise ConfigError("vars must be a mapping of names to values", Location(path))
    # A var scoped to this project (vars: {my_project: {k: v}}) is the project's var as much as a global one.
    table["vars"] = {**{k: v for k, v in vars_.items() if k != name}, **(vars_.get(name) or {})}
    models = _folder_tree(document.get("models"), "models", name, path)
    if models:
        table["models"] = {**models, "path": table.get("models", "models")}
    seeds = _folder_tree(document.get("seeds"), "seeds", name, path)
    if seeds:
        table["seeds"] = {**seeds, "path": table.get("seeds", "seeds")}
    table.update(snapshot_settings(document.get("snapshots"), document.get("snapshot-paths"), path, name))
    profile_name = document.get("profile") or name
    if not isinstance(profile_name, str):
        raise ConfigError("profile must be a profile name", Location(path))
    target_name, output, profiles = _profile_target(project_dir, profile_name, target, profiles_dir)
    table.update(_target_settings(output, project_dir, f"{profile_name}.outputs.{target_name}", profiles))
    return DbtProject(table=table, name=name, profile_name=profile_name, target_name=target_name,
                      tests=tests if tests.is_dir() else None)


def snapshot_settings(block: Any, paths: Any, path: Path, name: str) -> dict[str, Any]:
    """dbt_project.yml's `snapshots:` configs and `snapshot-paths` (default `snapshots`) as the `snapshots` setting."""
    folder = _one_folder(paths, "snapshot-paths", path) if paths is not None else "snapshots"
    tree = _folder_tree(block, "snapshots", name, path)
    return {"snapshots": {**tree, "path": folder} if tree else folder}


def _yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ConfigError(f"{path.name} is not valid YAML: {getattr(error, 'problem', None) or error}",
                          Location(path, mark.line + 1 if mark is not None else None)) from None
    except OSError as error:
        raise ConfigError(f"{path.name} cannot be read: {error.strerror or error}", Location(path)) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path.name} must be a mapping of keys", Location(path))
    return _rendered(document, path)


_JINJA = re.compile(r"\{\{\s*env_var\(\s*(['\"])([^'\"]+)\1\s*(?:,\s*(['\"])([^'\"]*)\3\s*)?\)\s*\}\}")


def _rendered(value: Any, path: Path) -> Any:
    """`{{ env_var('NAME', 'default') }}` in a value, as dbt renders these files; other Jinja is refused."""
    if isinstance(value, dict):
        return {key: _rendered(item, path) for key, item in value.items()}
    if isinstance(value, list):
        return [_rendered(item, path) for item in value]
    if not isinstance(value, str) or "{{" not in value:
        return value

    def substitute(match: re.Match) -> str:
        name, default = match.group(2), match.group(4)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise ConfigError(f"env_var('{name}'): the environment variable {name} is not set and has "
                          "no default", Location(path), hint=f"export {name}=… or give a default")

    text = _JINJA.sub(substitute, value)
    if "{{" in text or "{%" in text:
        raise ConfigError(f"{value!r} uses Jinja the toolkit does not render here", Location(path),
                          hint="only {{ env_var('NAME', 'default') }} is rendered in dbt_project.yml and profiles.yml")
    return text


def _check_top(document: dict[str, Any], path: Path) -> None:
    known = (*_READ_KEYS, *_DESCRIPTIVE_KEYS)
    for key in document:
        if key in known:
            continue
        if key in _REFUSED_KEYS:
            raise ConfigError(f"{key} is not supported", Location(path), hint=_REFUSED_KEYS[key])
        raise ConfigError(f"unknown key {key!r}{did_you_mean(str(key), known)}", Location(path),
                          hint="known keys: " + ", ".join(_READ_KEYS))


def _one_folder(value: Any, key: str, path: Path) -> str:
    folders = [value] if isinstance(value, str) else value
    if not isinstance(folders, list) or not all(isinstance(f, str) and f.strip() for f in folders) or not folders:
        raise ConfigError(f"{key} must be a list of folders, e.g. [\"{key.split('-')[0]}s\"]",
                          Location(path))
    if len(folders) > 1:
        raise ConfigError(f"{key} names {len(folders)} folders; the toolkit reads one",
                          Location(path), hint=f"move the files into one folder and list it alone: {key}: "
                                               f"[\"{folders[0]}\"]")
    return folders[0].rstrip("/")


def _text(value: Any, key: str, path: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{key} must be a folder name", Location(path))
    return value


def _folder_tree(block: Any, kind: str, name: str, path: Path) -> dict[str, Any]:
    """dbt's `models:` (or `seeds:`) block as the toolkit's folder configs: the project's level removed (its
    configs and the top's merge), keys without `+` that are config names given their `+`, documentation configs
    dropped, and configs dbt acts on but the toolkit does not refused."""
    if not block:
        return {}
    if not isinstance(block, dict):
        raise ConfigError(f"{kind} must be a mapping", Location(path))
    top: dict[str, Any] = {}
    for key, value in block.items():
        if key.startswith("+") or key in CONFIG_NAMES:
            top.update(_level({key: value}, f"{kind}", path))
        elif key == name:
            if not isinstance(value, dict):
                raise ConfigError(f"{kind}.{key} must be a mapping of folders and +configs",
                                  Location(path))
            top.update(_level(value, f"{kind}.{key}", path))
        else:
            raise ConfigError(f"{kind}.{key} names no project{did_you_mean(key, [name])}",
                              Location(path), hint=f"the first level under {kind}: is the project's name ({name}); "
                                                   "packages' models are not built by the toolkit")
    return top


def _level(level: dict[str, Any], where: str, path: Path) -> dict[str, Any]:
    converted: dict[str, Any] = {}
    for key, value in level.items():
        bare = key[1:] if key.startswith("+") else key
        dict_config = bare in (*_DESCRIPTIVE_CONFIGS, "column_types", "snapshot_meta_column_names")  # mapping values
        if key.startswith("+") or (key in CONFIG_NAMES and (dict_config or not isinstance(value, dict))):
            if bare in _REFUSED_CONFIGS:
                raise ConfigError(f"{where}.{key} is not supported", Location(path),
                                  hint=_REFUSED_CONFIGS[bare])
            if bare in _DESCRIPTIVE_CONFIGS:
                continue
            converted["+" + bare] = value
        elif isinstance(value, dict):
            converted[key] = _level(value, f"{where}.{key}", path)
        else:
            raise ConfigError(f"{where}.{key} is neither a +config nor a folder",
                              Location(path), hint=f"write +{key} for a config (known: "
                                                   + ", ".join(CONFIG_NAMES[:10]) + ")")
    return converted


def profiles_path(project_dir: Path, profiles_dir: Path | None = None) -> Path | None:
    """profiles.yml where dbt looks: --profiles-dir, $DBT_PROFILES_DIR, the project folder, then ~/.dbt
    (https://docs.getdbt.com/docs/core/connect-data-platform/connection-profiles)."""
    if profiles_dir is not None:
        return profiles_dir / PROFILES if (profiles_dir / PROFILES).is_file() else None
    folders = [Path(os.environ["DBT_PROFILES_DIR"]).expanduser()] if os.environ.get("DBT_PROFILES_DIR") else []
    folders += [project_dir, Path.home() / ".dbt"]
    return next((folder / PROFILES for folder in folders if (folder / PROFILES).is_file()), None)


def _profile_target(project_dir: Path, profile_name: str, target: str | None,
                    profiles_dir: Path | None) -> tuple[str, dict[str, Any], Path]:
    path = profiles_path(project_dir, profiles_dir)
    if path is None:
        raise ConfigError(f"no {PROFILES} for the profile {profile_name!r} of {project_dir / DBT_PROJECT}",
                          hint=f"put {PROFILES} in the project folder, in $DBT_PROFILES_DIR or in ~/.dbt, e.g.\n"
                               f"{profile_name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                               "      path: dev.duckdb")
    profiles = _yaml(path)
    profile = profiles.get(profile_name)
    if not isinstance(profile, dict):
        names = [k for k in profiles if k != "config"]
        raise ConfigError(f"no profile {profile_name!r}{did_you_mean(profile_name, names)}", Location(path),
                          hint=f"{DBT_PROJECT}'s profile: names one of: " + (", ".join(names) or "(none)"))
    outputs = profile.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        raise ConfigError(f"the profile {profile_name} has no outputs", Location(path))
    chosen = target or os.environ.get("DBT_TARGET") or profile.get("target") or DEFAULT_TARGET_NAME
    output = outputs.get(chosen)
    if not isinstance(output, dict):
        raise ConfigError(f"the profile {profile_name} has no target {chosen!r}"
                          f"{did_you_mean(str(chosen), list(outputs))}", Location(path),
                          hint="targets: " + ", ".join(map(str, outputs)))
    return str(chosen), output, path


def _target_settings(output: dict[str, Any], project_dir: Path, where: str, path: Path) -> dict[str, Any]:
    """A dbt-duckdb target's `path` (the warehouse file), `schema` and `threads`."""
    for key in output:
        if key in _PROFILE_READ or key in _PROFILE_IGNORED:
            continue
        if key in _PROFILE_REFUSED:
            raise ConfigError(f"{where}: {key} is not supported", Location(path),
                              hint="the toolkit opens the DuckDB file alone: remove it (DuckDB's own extensions "
                                   "load as they are needed)")
        raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(str(key), _PROFILE_READ + _PROFILE_IGNORED)}",
                          Location(path), hint="dbt-duckdb keys the toolkit reads: " + ", ".join(_PROFILE_READ))
    if output.get("type") != "duckdb":
        raise ConfigError(f"{where}: type {output.get('type')!r} is not duckdb", Location(path),
                          hint="the toolkit builds in a DuckDB file: choose a dbt-duckdb target (--target NAME)")
    warehouse = output.get("path")
    if warehouse is None or str(warehouse).startswith(":memory:") or str(warehouse).startswith("md:"):
        raise ConfigError(f"{where}: path {warehouse!r} is not a DuckDB file", Location(path),
                          hint="the toolkit keeps its tables in a file: set path: dev.duckdb")
    settings: dict[str, Any] = {"warehouse": str(Path(str(warehouse)).expanduser())}  # relative: to the project
    if "schema" in output:
        if not isinstance(output["schema"], str) or not output["schema"].strip():
            raise ConfigError(f"{where}: schema must be a schema name, not {output['schema']!r}", Location(path))
        settings["schema"] = output["schema"]
    if "threads" in output:
        threads = output["threads"]
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"{where}: threads must be a whole number of at least 1, not {threads!r}",
                              Location(path))
        settings["threads"] = threads
    return settings
