"""dbt's unit tests (https://docs.getdbt.com/reference/resource-properties/unit-tests): a `unit_tests:` entry of a
YAML property file names a model, the rows of its inputs (`given`) and the rows it should give (`expect`). The
model's SQL is rendered with the test's overrides, each input's relation replaced by a CTE of its rows, and the
output compared with `expect` as a multiset of rows over the columns `expect` names."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp

from toolkit.errors import ConfigError, Location, did_you_mean
from toolkit.project.properties import check_keys

_KEYS = ("name", "model", "given", "expect", "overrides", "description", "config")
_QUIET = ("meta", "docs", "versions")
_INPUT_KEYS = ("input", "rows", "format", "fixture")
_FORMATS = ("dict", "csv", "sql")
_OVERRIDE_KEYS = ("macros", "vars", "env_vars")
_INPUT = re.compile(r"""^\s*(ref|source)\(\s*(['"])([^'"]+)\2\s*(?:,\s*(['"])([^'"]+)\4\s*)?\)\s*$|^\s*(this)\s*$""")
GIVEN_PREFIX = "__toolkit_unit_given_"


@dataclass(frozen=True)
class Rows:
    """Mock rows: column names and values (dict or csv format), or a query (sql format)."""

    columns: tuple[str, ...] = ()
    values: tuple[tuple[Any, ...], ...] = ()
    sql: str | None = None
    text: bool = False  # CSV cells: strings, typed by the relation they stand for (or as they read)

    def typed(self) -> Rows:
        """CSV cells as numbers or booleans where a whole column reads so, for an input not built yet."""
        if not self.text:
            return self
        columns = list(zip(*self.values)) if self.values else []
        converted = [_typed_column(column) for column in columns]
        return Rows(self.columns, tuple(zip(*converted)) if converted else self.values)


@dataclass(frozen=True)
class GivenInput:
    label: str  # as written: ref('stg_orders'), source('raw', 'orders'), this
    cte: str  # the name the model's query reads it by
    schema: str
    name: str
    rows: Rows


@dataclass(frozen=True)
class UnitTestSpec:
    """A `unit_tests:` entry, checked, before its model is rendered."""

    name: str
    model: str
    path: Path
    line: int | None
    given: tuple[tuple[str, Rows], ...]
    expect: Rows
    vars: dict[str, Any]
    macros: dict[str, Any]
    env_vars: dict[str, str]
    tags: tuple[str, ...] = ()

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)


@dataclass(frozen=True)
class UnitTest:
    """A unit test ready to run: the model's query reading the given CTEs."""

    spec: UnitTestSpec
    query: str  # DuckDB SQL of the model, its inputs replaced by the CTEs of `given`
    given: tuple[GivenInput, ...]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def model(self) -> str:
        return self.spec.model


def unit_test_digest(tests: list[UnitTest]) -> str:
    """sha256 of what the tests check, for the checksum of their model."""
    parts = [(t.spec.name, t.query, [(g.label, g.rows) for g in t.given], t.spec.expect) for t in tests]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def read_unit_tests(entries: list[tuple[Any, Path, int | None]], fixtures: Path | None) -> list[UnitTestSpec]:
    specs: dict[str, UnitTestSpec] = {}
    for entry, path, line in entries:
        spec = _spec(entry, path, line, fixtures)
        if spec.name in specs:
            raise ConfigError(f"unit_tests: {spec.name} is defined twice", spec.location,
                              hint=f"also in {specs[spec.name].path}: unit test names are unique")
        specs[spec.name] = spec
    return list(specs.values())


def _spec(entry: Any, path: Path, line: int | None, fixtures: Path | None) -> UnitTestSpec:
    where = f"unit_tests[{entry.get('name') if isinstance(entry, dict) else '?'}]"
    check_keys(entry, _KEYS, where, path, _QUIET)
    at = Location(path, line)
    name, model = entry.get("name"), entry.get("model")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where} has no name", at, hint="each entry starts with '- name: …'")
    if not isinstance(model, str) or not model:
        raise ConfigError(f"{where} names no model", at, hint="add model: <the model file's stem>")
    given = entry.get("given") or []
    if not isinstance(given, list):
        raise ConfigError(f"{where}.given must be a list of inputs ('- input: ref(…)')", at)
    inputs = []
    for index, item in enumerate(given):
        item_where = f"{where}.given[{index}]"
        check_keys(item, _INPUT_KEYS, item_where, path)
        if not isinstance(item.get("input"), str):
            raise ConfigError(f"{item_where} has no input", at, hint="e.g. input: ref('stg_orders')")
        inputs.append((item["input"], _rows(item, item_where, at, fixtures)))
    expect = entry.get("expect")
    if not isinstance(expect, dict):
        raise ConfigError(f"{where} has no expect", at, hint="add expect: {rows: [{column: value}, …]}")
    check_keys(expect, ("rows", "format", "fixture"), f"{where}.expect", path)
    overrides = entry.get("overrides") or {}
    check_keys(overrides, _OVERRIDE_KEYS, f"{where}.overrides", path)
    config = entry.get("config") or {}
    check_keys(config, ("tags", "enabled"), f"{where}.config", path, ("meta",))
    if config.get("enabled") is False:
        raise ConfigError(f"{where}.config.enabled is not supported", at,
                          hint="disabling by configuration is not supported: remove the test")
    tags = config.get("tags") or ()
    parts = {key: dict(overrides.get(key) or {}) for key in _OVERRIDE_KEYS}
    return UnitTestSpec(name, model, path, line, tuple(inputs), _rows(expect, f"{where}.expect", at, fixtures),
                        parts["vars"], parts["macros"], {k: str(v) for k, v in parts["env_vars"].items()},
                        (tags,) if isinstance(tags, str) else tuple(tags))


def _rows(item: Mapping[str, Any], where: str, at: Location, fixtures: Path | None) -> Rows:
    """`rows:` as a list of dicts (format dict), CSV text or a fixture file (format csv), or a query (format sql)."""
    kind = item.get("format", "dict")
    if kind not in _FORMATS:
        raise ConfigError(f"{where}.format {kind!r} is not one of {', '.join(_FORMATS)}{did_you_mean(str(kind), _FORMATS)}",
                          at)
    rows = item.get("rows")
    if "fixture" in item:
        if kind == "dict":
            raise ConfigError(f"{where}: a fixture is a csv or sql file", at, hint="add format: csv")
        file = (fixtures or Path("tests/fixtures")) / f"{item['fixture']}.{kind}"
        if not file.is_file():
            raise ConfigError(f"{where}: the fixture file {file} does not exist", at,
                              hint="fixtures live in the fixtures folder of the tests folder (tests/fixtures/)")
        rows = file.read_text(encoding="utf-8-sig")
    if kind == "sql":
        if not isinstance(rows, str) or not rows.strip():
            raise ConfigError(f"{where}.rows must be a query with format: sql", at)
        return Rows(sql=rows)
    if kind == "csv":
        if not isinstance(rows, str):
            raise ConfigError(f"{where}.rows must be CSV text with format: csv", at, hint="rows: |\\n  id,name\\n  1,a")
        reader = csv.reader(io.StringIO(rows.strip()))
        header, *lines = [[cell.strip() for cell in line] for line in reader]
        return Rows(tuple(header), tuple(tuple(None if cell == "" else cell for cell in line) for line in lines),
                    text=True)
    rows = rows or []
    if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
        raise ConfigError(f"{where}.rows must be a list of mappings, e.g. - {{id: 1, name: a}}", at)
    columns = tuple(dict.fromkeys(str(key) for row in rows for key in row))
    return Rows(columns, tuple(tuple(row.get(column) for column in columns) for row in rows))


def _typed_column(cells: tuple[Any, ...]) -> tuple[Any, ...]:
    present = [cell for cell in cells if cell is not None]
    for convert in (int, float, {"true": True, "false": False}.__getitem__):
        try:
            return tuple(None if cell is None else convert(cell.lower() if convert not in (int, float) else cell)
                         for cell in cells) if present else cells
        except (ValueError, KeyError):
            continue
    return cells


def parse_input(label: str, spec: UnitTestSpec) -> tuple[str, str | None, str | None]:
    """("ref", name, None), ("source", source, table) or ("this", None, None)."""
    match = _INPUT.match(label)
    if match is None:
        raise ConfigError(f"unit test {spec.name}: input {label!r} is neither ref('…'), source('…', '…') nor this",
                          spec.location)
    if match[6]:
        return "this", None, None
    if match[1] == "ref" and match[5] is None:
        return "ref", match[3], None
    if match[1] == "source" and match[5] is not None:
        return "source", match[3], match[5]
    raise ConfigError(f"unit test {spec.name}: input {label!r} is not ref('name') or source('source', 'table')",
                      spec.location)


def literal_value(value: Any) -> exp.Expression:
    """A YAML or CSV value as SQL."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(repr(value))
    if isinstance(value, datetime.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, datetime.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))
