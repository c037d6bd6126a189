"""YAML property files in dbt's schema (https://docs.getdbt.com/reference/define-properties): `models:`, `seeds:`,
`snapshots:` and `sources:` entries with descriptions, configs and data tests, read from every `.yml`/`.yaml` file
under the models, seeds and snapshots folders. Every key is checked: an unknown one is an error naming the file and the key, with the
closest known key; keys dbt has but the toolkit does not act on are either documentation (read and kept quiet
about) or refused with what to do instead."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from toolkit.errors import ConfigError, Location, did_you_mean
from toolkit.project.snapshots import REFUSED as REFUSED_SNAPSHOT_KEYS
from toolkit.project.snapshots import SNAPSHOT_CONFIG_KEYS

SUFFIXES = (".yml", ".yaml")

# dbt's keys with no effect on what is built or tested: documentation, access control, metadata.
_DESCRIPTIVE = ("meta", "docs", "group", "access", "deprecation_date", "quote", "tags", "policy_tags", "granularity",
                "loader", "quoting", "persist_docs", "grants", "contract", "store_failures", "store_failures_as",
                "limit", "alias")
_TOP = ("version", "models", "seeds", "snapshots", "sources", "unit_tests")
_TOP_DESCRIPTIVE = ("exposures", "groups", "analyses", "macros", "metrics", "semantic_models", "saved_queries")
_UNSUPPORTED = {
    "versions": "model versions are not supported: give each version a model file of its own",
    "latest_version": "model versions are not supported: give each version a model file of its own",
    "constraints": "constraints are not enforced: declare data tests (not_null, unique, …) instead",
    "identifier": "a source table's identifier must be its name: name the table as the warehouse does",
    "database": "the toolkit reads one warehouse: remove database, or set [tool.toolkit].warehouse",
    "enabled": "disabling by configuration is not supported: move the file out of the folder",
    "pre-hook": "hooks are not supported: put the statement in a model",
    "post-hook": "hooks are not supported: put the statement in a model",
    "fail_calc": "fail_calc is not supported: tests count failing rows",
    "overrides": "source overrides are not supported",
    "loaded_at_query": "loaded_at_query is not supported: name a timestamp column with loaded_at_field",
    "filter": "a freshness filter is not supported: freshness reads the whole table",
}
MODEL_CONFIG_KEYS = ("materialized", "schema", "tags", "dialect", "unique_key", "incremental_strategy",
                     "on_schema_change", "full_refresh")
SEED_CONFIG_KEYS = ("schema", "tags", "column_types", "delimiter", "quote_columns")
TEST_CONFIG_KEYS = ("severity", "error_if", "warn_if", "where", "enabled")
_FRESHNESS_KEYS = ("warn_after", "error_after")
PERIODS = ("minute", "hour", "day")


class _Mapping(dict):
    """A YAML mapping that knows the line of each of its keys."""

    lines: dict[Any, int]


class _Sequence(list):
    """A YAML list that knows the line of each of its items."""

    lines: list[int]


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser when PyYAML has it
    """PyYAML's safe loader, keeping line numbers for messages and refusing a key given twice in one mapping."""


def _mapping(loader: _Loader, node: yaml.MappingNode) -> _Mapping:
    loader.flatten_mapping(node)
    mapping = _Mapping()
    mapping.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} appears twice",
                                                    key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> _Sequence:
    sequence = _Sequence(loader.construct_object(item, deep=True) for item in node.value)
    sequence.lines = [item.start_mark.line + 1 for item in node.value]
    return sequence


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def _line(container: Any, key: Any) -> int | None:
    """The line of `key` (a mapping's key, or a list's index) in the file, when known."""
    lines = getattr(container, "lines", None)
    if isinstance(lines, dict):
        return lines.get(key)
    if isinstance(lines, list) and isinstance(key, int) and key < len(lines):
        return lines[key]
    return None


@dataclass(frozen=True)
class TestSpec:
    """One entry of a `data_tests:` (or `tests:`) list: the test's name, the column it is declared under, its
    arguments and its config."""

    test: str
    column: str | None
    arguments: dict[str, Any]
    config: dict[str, Any]
    label: str | None  # dbt's custom `name:` of a test
    path: Path
    where: str  # where in the file, e.g. models[orders].columns[status].data_tests[1]
    line: int | None = None

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)


@dataclass(frozen=True)
class ResourceProperties:
    """A `models:` or `seeds:` entry."""

    name: str
    path: Path
    description: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)  # column → description
    tests: tuple[TestSpec, ...] = ()
    relation: str | None = None  # a YAML-defined snapshot's `relation:` (ref('x') or source('s', 't'))
    line: int | None = None  # the line of its `name:`

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)


@dataclass(frozen=True)
class Freshness:
    """How old a source table's newest `loaded_at_field` value may be, as `count period` intervals."""

    loaded_at_field: str
    warn_after: str | None  # e.g. "12 hour"
    error_after: str | None


@dataclass(frozen=True)
class SourceTable:
    name: str
    description: str = ""
    freshness: Freshness | None = None
    tests: tuple[TestSpec, ...] = ()


@dataclass(frozen=True)
class SourceProperties:
    name: str
    schema: str
    path: Path
    description: str = ""
    tables: tuple[SourceTable, ...] = ()


@dataclass
class Properties:
    models: dict[str, ResourceProperties] = field(default_factory=dict)
    seeds: dict[str, ResourceProperties] = field(default_factory=dict)
    snapshots: dict[str, ResourceProperties] = field(default_factory=dict)
    sources: list[SourceProperties] = field(default_factory=list)
    unit_tests: list[tuple[Any, Path, int | None]] = field(default_factory=list)  # raw entries, file, line


def check_keys(mapping: Any, known: tuple[str, ...], where: str, path: Path, quiet: tuple[str, ...] = ()) -> None:
    """Every key of `mapping` known (or quietly documenting); an unknown one is an error with a "did you mean"."""
    _check_keys(mapping, known, where, path, quiet)


def property_files(*folders: Path) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        if folder.is_dir():
            found += sorted((p for p in folder.rglob("*") if p.suffix in SUFFIXES and p.is_file()
                             and not any(part.startswith(".") for part in p.relative_to(folder).parts)), key=str)
    return list(dict.fromkeys(found))


def load_properties(files: list[Path]) -> Properties:
    properties = Properties()
    for path in files:
        _read_file(path, properties)
    return properties


def _read_file(path: Path, properties: Properties) -> None:
    try:
        document = yaml.load(path.read_text(encoding="utf-8-sig"), Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"not valid YAML: {getattr(error, 'problem', None) or error}", Location(path, line)) from None
    if document is None:
        return
    _check_keys(document, _TOP, "the file", path, _TOP_DESCRIPTIVE)
    for kind, target in (("models", properties.models), ("seeds", properties.seeds),
                         ("snapshots", properties.snapshots)):
        for index, entry in enumerate(_list(document.get(kind), kind, path)):
            resource = _resource(entry, kind, index, path)
            if resource.name in target:
                raise ConfigError(f"{kind}: {resource.name} has properties in both {target[resource.name].path} "
                                  f"and {path}", Location(path), hint="keep one entry per name")
            target[resource.name] = resource
    for index, entry in enumerate(_list(document.get("sources"), "sources", path)):
        properties.sources.append(_source(entry, index, path))
    tests = _list(document.get("unit_tests"), "unit_tests", path)  # read by toolkit/project/unit_tests.py
    properties.unit_tests += [(entry, path, _line(tests, index)) for index, entry in enumerate(tests)]


def _check_keys(mapping: Any, known: tuple[str, ...], where: str, path: Path, quiet: tuple[str, ...] = ()) -> None:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{where} must be a mapping of keys, not {type(mapping).__name__}", Location(path))
    for key in mapping:
        if key in known or key in quiet:
            continue
        at = Location(path, _line(mapping, key))
        if key in _UNSUPPORTED:
            raise ConfigError(f"{where}: {key} is not supported", at, hint=_UNSUPPORTED[key])
        raise ConfigError(f"{where}: unknown key {key!r}{did_you_mean(str(key), known)}", at,
                          hint="known keys: " + ", ".join(known))


def _list(value: Any, where: str, path: Path) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list (entries start with '- name: …')", Location(path))
    return value


def _name(entry: Any, where: str, path: Path) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} has no name", Location(path), hint="each entry starts with '- name: …'")
    return name


def _text(value: Any, where: str, path: Path) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{where}.description must be text", Location(path))
    return value


def _entry_where(entry: Any, kind: str, index: int) -> str:
    """`models[orders]`, or `models[3]` for an entry without a name."""
    name = entry.get("name") if isinstance(entry, dict) else None
    return f"{kind}[{name if isinstance(name, str) and name else index}]"


def _resource(entry: Any, kind: str, index: int, path: Path) -> ResourceProperties:
    where = _entry_where(entry, kind, index)
    keys = ("name", "description", "config", "columns", "data_tests", "tests")
    _check_keys(entry, (*keys, "relation") if kind == "snapshots" else keys, where, path, _DESCRIPTIVE)
    name = _name(entry, where, path)
    where = f"{kind}[{name}]"
    config_keys = {"models": MODEL_CONFIG_KEYS, "seeds": SEED_CONFIG_KEYS}.get(kind, SNAPSHOT_CONFIG_KEYS)
    config = entry.get("config") or {}
    if kind == "snapshots":
        refused = next((k for k in config if k in REFUSED_SNAPSHOT_KEYS), None) if isinstance(config, dict) else None
        if refused is not None:
            raise ConfigError(f"{where}.config: {refused} is not supported", Location(path, _line(config, refused)),
                              hint=REFUSED_SNAPSHOT_KEYS[refused])
    _check_keys(config, config_keys, f"{where}.config", path, _DESCRIPTIVE)
    relation = entry.get("relation")
    if relation is not None and (not isinstance(relation, str) or not relation.strip()):
        raise ConfigError(f"{where}.relation must be ref('model') or source('source', 'table')",
                          Location(path, _line(entry, "relation")))
    tests = _tests(entry, None, where, path)
    columns: dict[str, str] = {}
    for position, column in enumerate(_list(entry.get("columns"), f"{where}.columns", path)):
        column_where = _entry_where(column, f"{where}.columns", position)
        _check_keys(column, ("name", "description", "data_tests", "tests", "data_type"), column_where, path,
                    _DESCRIPTIVE + ("config",))
        column_name = _name(column, column_where, path)
        column_where = f"{where}.columns[{column_name}]"
        columns[column_name] = _text(column.get("description"), column_where, path)
        tests += _tests(column, column_name, column_where, path)
    return ResourceProperties(name=name, path=path, description=_text(entry.get("description"), where, path),
                              config=dict(config), columns=columns, tests=tuple(tests), relation=relation,
                              line=_line(entry, "name"))


def _tests(entry: dict[str, Any], column: str | None, where: str, path: Path) -> list[TestSpec]:
    """`data_tests:` (dbt ≥ 1.8) or `tests:` (the older name) of a resource or column."""
    if "data_tests" in entry and "tests" in entry:
        raise ConfigError(f"{where} has both data_tests and tests", Location(path), hint="keep data_tests")
    key = "data_tests" if "data_tests" in entry else "tests"
    specs = []
    items = _list(entry.get(key), f"{where}.{key}", path)
    for index, item in enumerate(items):
        specs.append(_test(item, column, f"{where}.{key}[{index}]", path, _line(items, index)))
    return specs


def _test(item: Any, column: str | None, where: str, path: Path, line: int | None) -> TestSpec:
    """`- unique`, or `- accepted_values: {arguments: {values: […]}, config: {severity: warn}}`, where arguments
    may also sit beside config (dbt before 1.10.5) and `name:` renames the test."""
    if isinstance(item, str):
        return TestSpec(item, column, {}, {}, None, path, where, line)
    if not isinstance(item, dict) or len(item) != 1:
        raise ConfigError(f"{where} must be a test name or a mapping of one test name to its arguments",
                          Location(path), hint="e.g. '- unique' or '- accepted_values: {values: [a, b]}'")
    (test, body), = item.items()
    body = {} if body is None else body
    if not isinstance(body, dict):
        raise ConfigError(f"{where}: {test}'s arguments must be a mapping", Location(path))
    body = dict(body)
    label = body.pop("name", None)
    config = dict(body.pop("config", None) or {})
    arguments = dict(body.pop("arguments", None) or {})
    for key, value in body.items():
        if key in TEST_CONFIG_KEYS or key in _DESCRIPTIVE:
            config[key] = value
        elif key in _UNSUPPORTED:
            raise ConfigError(f"{where}: {key} is not supported", Location(path), hint=_UNSUPPORTED[key])
        else:
            arguments[key] = value
    _check_keys(config, TEST_CONFIG_KEYS, f"{where}.config", path, _DESCRIPTIVE)
    return TestSpec(str(test), column, arguments, config, label, path, where, line)


def _source(entry: Any, index: int, path: Path) -> SourceProperties:
    where = _entry_where(entry, "sources", index)
    _check_keys(entry, ("name", "description", "schema", "tables", "freshness", "loaded_at_field", "config"), where,
                path, _DESCRIPTIVE)
    name = _name(entry, where, path)
    where = f"sources[{name}]"
    schema = entry.get("schema") or name
    if not isinstance(schema, str):
        raise ConfigError(f"{where}.schema must be a schema name", Location(path))
    defaults = _freshness_settings(entry, where, path, {})
    tables = []
    for position, table in enumerate(_list(entry.get("tables"), f"{where}.tables", path)):
        table_where = _entry_where(table, f"{where}.tables", position)
        _check_keys(table, ("name", "description", "columns", "data_tests", "tests", "freshness", "loaded_at_field",
                            "config"), table_where, path, _DESCRIPTIVE + ("external",))
        table_name = _name(table, table_where, path)
        table_where = f"{where}.tables[{table_name}]"
        tests = _tests(table, None, table_where, path)
        for column in _list(table.get("columns"), f"{table_where}.columns", path):
            _check_keys(column, ("name", "description", "data_tests", "tests", "data_type"), f"{table_where}.columns",
                        path, _DESCRIPTIVE + ("config",))
            column_name = _name(column, f"{table_where}.columns", path)
            tests += _tests(column, column_name, f"{table_where}.columns[{column_name}]", path)
        settings = _freshness_settings(table, table_where, path, defaults)
        tables.append(SourceTable(table_name, _text(table.get("description"), table_where, path),
                                  _freshness(settings, table_where, path), tuple(tests)))
    return SourceProperties(name, schema, path, _text(entry.get("description"), where, path), tuple(tables))


def _freshness_settings(entry: dict[str, Any], where: str, path: Path, inherited: dict[str, Any]) -> dict[str, Any]:
    """`freshness` and `loaded_at_field`, at the entry's top or (dbt ≥ 1.9/1.10) in its config; a table's override
    its source's, and `freshness: null` turns it off."""
    config = entry.get("config") or {}
    _check_keys(config, ("freshness", "loaded_at_field"), f"{where}.config", path, _DESCRIPTIVE)
    settings = dict(inherited)
    for scope in (entry, config):
        for key in ("freshness", "loaded_at_field"):
            if key in scope:
                settings[key] = scope[key]
    return settings


def _freshness(settings: dict[str, Any], where: str, path: Path) -> Freshness | None:
    block = settings.get("freshness")
    if not block:
        return None
    _check_keys(block, _FRESHNESS_KEYS, f"{where}.freshness", path)
    intervals = {key: _interval(block.get(key), f"{where}.freshness.{key}", path) for key in _FRESHNESS_KEYS}
    if not any(intervals.values()):
        return None
    field_name = settings.get("loaded_at_field")
    if not isinstance(field_name, str) or not field_name:
        raise ConfigError(f"{where}: freshness needs loaded_at_field, the column of each row's load time",
                          Location(path), hint="add loaded_at_field: <timestamp column> to the table or its source")
    return Freshness(field_name, intervals["warn_after"], intervals["error_after"])


def _interval(value: Any, where: str, path: Path) -> str | None:
    if value is None:
        return None
    _check_keys(value, ("count", "period"), where, path)
    count, period = value.get("count"), value.get("period")
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        raise ConfigError(f"{where}.count must be a positive whole number, not {count!r}", Location(path))
    if period not in PERIODS:
        raise ConfigError(f"{where}.period {period!r} is not one of {', '.join(PERIODS)}"
                          f"{did_you_mean(str(period), PERIODS)}", Location(path))
    return f"{count} {period}"
