"""Project settings: the `[tool.toolkit]` table of the project's pyproject.toml, as a frozen dataclass."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError, Location, did_you_mean

PYPROJECT = "pyproject.toml"
DBT_PROJECT = "dbt_project.yml"  # a dbt project's settings, read when there is no [tool.toolkit]
STATE_SCHEMA = "_toolkit"  # the warehouse schema of the toolkit's own tables; no node may publish into it
AUDIT_SCHEMA = "_toolkit_audit"  # where candidates are set aside to tell which of their assertions cannot run
TOOLKIT_SCHEMAS = (STATE_SCHEMA, AUDIT_SCHEMA)


@dataclass(frozen=True)
class Source:
    """Tables that already sit in the warehouse, read with `source(name, table)`."""

    name: str
    schema: str
    tables: tuple[str, ...]


@dataclass(frozen=True)
class BigQuerySettings:
    """`[tool.toolkit.bigquery]`: the BigQuery project model files name (None: any) and deploy to, and which
    warehouse schema each dataset is (a dataset not listed is the schema of the same name)."""

    project: str | None = None
    datasets: dict[str, str] = field(default_factory=dict)  # dataset → schema


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    warehouse: Path
    models: Path
    macros: Path
    target: Path
    schema: str = "main"
    sources: dict[str, Source] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    lock_timeout: float = 10.0
    dialect: str = "duckdb"  # the SQL dialect model files are written in, unless a file's config() says otherwise
    bigquery: BigQuerySettings = field(default_factory=lambda: BigQuerySettings())
    seeds: Path | None = None  # the folder of seed CSV files (None: `seeds` beside the models)
    model_configs: dict[str, Any] = field(default_factory=dict)  # [tool.toolkit.models]: "+key" configs per folder
    seed_configs: dict[str, Any] = field(default_factory=dict)  # [tool.toolkit.seeds]: the same for seeds
    snapshots: Path | None = None  # the folder of snapshot files (None: `snapshots` beside the models)
    snapshot_configs: dict[str, Any] = field(default_factory=dict)  # [tool.toolkit.snapshots]: the same for snapshots
    skip_unchanged: bool = True  # `build` keeps nodes whose fingerprint is unchanged (--no-skip-unchanged: not)
    threads: int = 1  # nodes `build` runs at once (--threads)
    config_file: str = PYPROJECT  # the file the settings come from: pyproject.toml, or a dbt project's dbt_project.yml
    project_name: str | None = None  # a dbt project's name (None: the project folder's)
    profile_name: str = "toolkit"  # dbt's target.profile_name
    target_name: str = "dev"  # dbt's target.name: the profile's target in use
    tests: Path | None = None  # a dbt project's singular tests (test-paths), SQL files of failing rows

    @property
    def package_name(self) -> str:
        """The project's name in dbt's unique ids (`model.<package>.<node>`): the dbt project's, else the folder's."""
        return self.project_name or self.project_dir.name

    def folder_section(self, kind: str) -> str:
        """How messages name the folder configs of `kind` (models, seeds): as the settings file spells them."""
        if self.config_file == PYPROJECT:
            return f"[tool.toolkit.{kind}]"
        return f"{kind}.{self.project_name}"

    @property
    def seeds_dir(self) -> Path:
        return self.seeds if self.seeds is not None else self.project_dir / "seeds"

    @property
    def snapshots_dir(self) -> Path:
        return self.snapshots if self.snapshots is not None else self.project_dir / "snapshots"

    @property
    def example_warehouse(self) -> Path:
        """The committed example beside the warehouse, copied by `build` when the warehouse is missing."""
        return self.warehouse.with_name(self.warehouse.name + ".example")


# key → (expected type, default); paths are relative to the project folder.
_KEYS: dict[str, tuple[type | tuple[type, ...], Any]] = {
    "warehouse": (str, "warehouse.duckdb"),
    "models": ((str, dict), "models"),  # a folder, or a table of folder configs ("+materialized" …, path = folder)
    "macros": (str, "macros"),
    "seeds": ((str, dict), "seeds"),
    "snapshots": ((str, dict), "snapshots"),
    "target": (str, "target"),
    "schema": (str, "main"),
    "sources": (dict, {}),
    "vars": (dict, {}),
    "lock_timeout": ((int, float), 10.0),
    "dialect": (str, "duckdb"),
    "bigquery": (dict, {}),
    "skip_unchanged": (bool, True),
    "threads": (int, 1),
}
DIALECTS = ("duckdb", "bigquery")


def load_settings(project_dir: Path, warehouse: Path | None = None, profile_target: str | None = None,
                  profiles_dir: Path | None = None) -> Settings:
    """Read `[tool.toolkit]` from `project_dir/pyproject.toml` (or, without one, a dbt project's dbt_project.yml
    and profiles.yml, `profile_target` naming the profile's target); `warehouse` overrides the file's setting."""
    project_dir = project_dir.resolve()
    path = project_dir / PYPROJECT
    table = _toolkit_table(path) if path.is_file() else None
    if table is None and (project_dir / DBT_PROJECT).is_file():
        return _dbt_settings(project_dir, warehouse, profile_target, profiles_dir)
    if profile_target is not None:
        raise ConfigError(f"--target {profile_target}: a profile's target applies to dbt projects (dbt_project.yml "
                          "and profiles.yml)", hint="--target takes duckdb or bigquery here")
    if not path.is_file():
        raise ConfigError(
            f"no {PYPROJECT} in {project_dir}",
            hint="run the command inside a toolkit project, pass --project-dir, or create one with `toolkit init DIR`",
        )
    values = _checked(table if table is not None else _toolkit_table(path, required=True), path)
    return _settings(project_dir, warehouse, values, path)


def _dbt_settings(project_dir: Path, warehouse: Path | None, profile_target: str | None,
                  profiles_dir: Path | None) -> Settings:
    """dbt_project.yml and the profile's target, as the [tool.toolkit] table they amount to."""
    from toolkit.dbt_project import read_dbt_project

    dbt = read_dbt_project(project_dir, profile_target, profiles_dir)
    path = project_dir / DBT_PROJECT
    settings = _settings(project_dir, warehouse, _checked(dbt.table, path), path)
    return replace(settings, config_file=DBT_PROJECT, project_name=dbt.name, profile_name=dbt.profile_name,
                   target_name=dbt.target_name, tests=dbt.tests)


def _toolkit_table(path: Path, required: bool = False) -> dict[str, Any] | None:
    """pyproject.toml's [tool.toolkit] table (None when it has none and it is not `required`)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{PYPROJECT} is not valid TOML: {error}", Location(path)) from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{PYPROJECT} is not UTF-8 text: byte {error.object[error.start]:#04x} at offset "
                          f"{error.start} is not UTF-8", Location(path),
                          hint="TOML files are UTF-8: save it as UTF-8 in your editor") from None
    except OSError as error:
        raise ConfigError(f"{PYPROJECT} cannot be read: {error.strerror or error}", Location(path),
                          hint=f"give yourself read permission (chmod u+r {PYPROJECT}) or run as its owner") from None
    table = document.get("tool", {}).get("toolkit")
    if not isinstance(table, dict) and required:
        raise ConfigError(
            f"{PYPROJECT} has no [tool.toolkit] table",
            Location(path),
            hint='add one, e.g.\n[tool.toolkit]\nwarehouse = "warehouse.duckdb"',
        )
    return table if isinstance(table, dict) else None


def _settings(project_dir: Path, warehouse: Path | None, values: dict[str, Any], path: Path) -> Settings:
    return Settings(
        project_dir=project_dir,
        warehouse=(warehouse.resolve() if warehouse else project_dir / values["warehouse"]),
        models=project_dir / _folder(values["models"], "models", path),
        macros=project_dir / values["macros"],
        target=project_dir / values["target"],
        schema=values["schema"],
        sources=_sources(values["sources"], path),
        vars=dict(values["vars"]),
        lock_timeout=float(values["lock_timeout"]),
        dialect=_dialect(values["dialect"], path),
        bigquery=_bigquery(values["bigquery"], path),
        seeds=project_dir / _folder(values["seeds"], "seeds", path),
        model_configs=values["models"] if isinstance(values["models"], dict) else {},
        seed_configs=values["seeds"] if isinstance(values["seeds"], dict) else {},
        snapshots=project_dir / _folder(values["snapshots"], "snapshots", path),
        snapshot_configs=values["snapshots"] if isinstance(values["snapshots"], dict) else {},
        skip_unchanged=values["skip_unchanged"],
        threads=_threads(values["threads"], path),
    )


def _threads(value: int, path: Path) -> int:
    if value < 1:
        raise ConfigError(f"[tool.toolkit].threads = {value} must be at least 1", Location(path))
    return value


def _folder(value: str | dict[str, Any], key: str, path: Path) -> str:
    """`models = "dir"`, or `[tool.toolkit.models]` whose `path = "dir"` names the folder (default: the key)."""
    if isinstance(value, str):
        return value
    folder = value.get("path", key)
    if not isinstance(folder, str) or not folder.strip():
        raise ConfigError(f"[tool.toolkit.{key}].path must name a folder, not {folder!r}", Location(path))
    return folder


def _checked(table: dict[str, Any], path: Path) -> dict[str, Any]:
    values = {}
    for key, value in table.items():
        if key not in _KEYS:
            raise ConfigError(
                f"unknown setting [tool.toolkit].{key}{did_you_mean(key, _KEYS)}",
                Location(path),
                hint="known settings: " + ", ".join(_KEYS),
            )
        expected, _ = _KEYS[key]
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ConfigError(
                f"[tool.toolkit].{key} must be {_type_name(expected)}, not {type(value).__name__}", Location(path)
            )
        if isinstance(value, str) and not value.strip():
            raise ConfigError(f"[tool.toolkit].{key} is empty", Location(path),
                              hint=f"remove it for the default ({_KEYS[key][1]!r}) or give a name")
        values[key] = value
    return {key: values.get(key, default) for key, (_, default) in _KEYS.items()}


def _sources(table: dict[str, Any], path: Path) -> dict[str, Source]:
    """`name = ["t1", …]` (schema = name) or `name = { schema = "s", tables = ["t1", …] }`."""
    sources = {}
    for name, value in table.items():
        where = f"[tool.toolkit.sources].{name}"
        if isinstance(value, list):
            schema, tables = name, value
        elif isinstance(value, dict):
            unknown = set(value) - {"schema", "tables"}
            if unknown:
                key = sorted(unknown)[0]
                raise ConfigError(
                    f"unknown key {key!r} in {where}{did_you_mean(key, ['schema', 'tables'])}", Location(path)
                )
            schema, tables = value.get("schema", name), value.get("tables", [])
        else:
            raise ConfigError(f"{where} must be a list of table names or a table with schema and tables", Location(path))
        if not isinstance(tables, list):
            raise ConfigError(f"{where}: tables must be a list of table names", Location(path))
        if not isinstance(schema, str) or not all(isinstance(t, str) for t in tables):
            raise ConfigError(f"{where}: schema and table names must be strings", Location(path))
        sources[name] = Source(name=name, schema=schema, tables=tuple(tables))
    return sources


def _dialect(value: str, path: Path) -> str:
    if value.lower() not in DIALECTS:
        raise ConfigError(f"[tool.toolkit].dialect = {value!r} is not a dialect{did_you_mean(value, DIALECTS)}",
                          Location(path), hint="write dialect = \"duckdb\" (the default) or dialect = \"bigquery\"")
    return value.lower()


def _bigquery(table: dict[str, Any], path: Path) -> BigQuerySettings:
    """`project = "p"` and `datasets = { dataset = "schema", … }`, one dataset per schema."""
    known = ("project", "datasets")
    for key in table:
        if key not in known:
            raise ConfigError(f"unknown setting [tool.toolkit.bigquery].{key}{did_you_mean(key, known)}",
                              Location(path), hint="known settings: project, datasets")
    project, datasets = table.get("project"), table.get("datasets", {})
    if project is not None and (not isinstance(project, str) or not project.strip()):
        raise ConfigError("[tool.toolkit.bigquery].project must be a project id, e.g. \"my-project\"", Location(path))
    if not isinstance(datasets, dict) or not all(isinstance(v, str) and v for v in datasets.values()):
        raise ConfigError("[tool.toolkit.bigquery].datasets maps each dataset to a schema name, "
                          'e.g. datasets = { natality = "main" }', Location(path))
    by_schema: dict[str, str] = {}
    for dataset, schema in datasets.items():
        if schema.casefold() in by_schema:
            raise ConfigError(f"[tool.toolkit.bigquery].datasets maps both {by_schema[schema.casefold()]} and "
                              f"{dataset} to the schema {schema}", Location(path),
                              hint="map each dataset to a schema of its own: a schema deploys to one dataset")
        by_schema[schema.casefold()] = dataset
    return BigQuerySettings(project=project, datasets=dict(datasets))


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {str: "a string", dict: "a table", int: "a number", float: "a number", bool: "true or false"}
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(dict.fromkeys(names[k] for k in kinds))
