"""Render model files with sandboxed Jinja: `ref`, `source`, `config`, `var`, `this` and every macro.

`ref('x')`, `this`, `source(…)` and the `identifier` and `literal` filters render to markers that
`resolve_markers` replaces with quoted names and strings once every node's schema is known and the dialect of
the text is (a BigQuery-dialect file quotes with backticks, its assertions, which run in DuckDB, with double
quotes), so one pass over the files suffices."""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2.runtime import Macro
from jinja2.sandbox import SandboxedEnvironment

from toolkit.config import Settings
from toolkit.errors import ConfigError, Location, ProjectError, ToolkitError, did_you_mean
from toolkit.project.assertions import UNDER_TEST, Assertion, make_assertion
from toolkit.project.context import (
    CONTEXT_NAMES,
    Adapter,
    Exceptions,
    MacroReturn,
    Namespace,
    Target,
    ThisRelation,
    env_var,
    log,
    macro_return,
    query_runner,
)
from toolkit.project.incremental import INCREMENTAL_KEYS, checked_incremental_config
from toolkit.project.nodes import HashSplit
from toolkit.project.snapshots import (
    SNAPSHOT_CONFIG_KEYS,
    SNAPSHOT_KEYS,
    SnapshotBlock,
    SnapshotBlocks,
    checked_snapshot_config,
    refuse_snapshot_key,
    render_block,
)
from toolkit.project.template_cache import SingleFileBytecodeCache
from toolkit.sql.dialect import DIALECTS
from toolkit.sql.quoting import identifier, literal, relation, render

_UNDEFINED_NAME = re.compile(r"'([^']+)' is undefined")
_MARK = "\x1f"
_MARKER = re.compile(f"{_MARK}(ref|relation|identifier|string){_MARK}([^{_MARK}]*){_MARK}")
_ASSERTION_MARKER = re.compile(f"^\\s*{_MARK}assertion{_MARK}(\\d+){_MARK}\\s*$")
RESERVED_GLOBALS = (
    "ref", "source", "config", "var", "this", "raise_error", "assertion", "under_test", "_record_split", "dialect",
    "is_incremental", *CONTEXT_NAMES,
)

# config(...) keys → accepted values (None: checked by type only).
MATERIALIZATIONS = ("table", "view", "assertion", "incremental")
CONFIG_KEYS = ("materialized", "schema", "tags", "assertions", "severity", "error_if", "warn_if", "dimension",
               "dialect", *INCREMENTAL_KEYS)
ASSERTION_FILE_KEYS = ("severity", "error_if", "warn_if", "dimension")  # for materialized='assertion' only

# Errors a user's template can raise while rendering; anything else is a toolkit bug.
# SQL parsing takes time and memory in proportion to a file's size (≈5 s and 0.2 GB per MB of VALUES rows; a 50 MB
# file took minutes and 13 GB): data belongs in a table, not in a model's text.
MAX_SQL_BYTES = 2**20


def _check_size(path: Path, size: int, what: str) -> None:
    if size > MAX_SQL_BYTES:
        raise ProjectError(f"{what} is {size / 2**20:.1f} MiB; a model file may hold at most "
                           f"{MAX_SQL_BYTES // 2**20} MiB of SQL", Location(path),
                           hint="load data into the warehouse as a table and declare it under [tool.toolkit.sources] "
                                "(read it with source()), instead of writing its rows as SQL")


_TEMPLATE_ERRORS = (jinja2.TemplateError, ToolkitError, TypeError, ValueError, ArithmeticError, LookupError)
MAX_ITEMS = 10_000_000  # characters of a string, items of a list, that a template's `*` or `+` may make
MAX_BITS = 100_000  # of an integer that a template's `**` may make


@dataclass
class Rendered:
    """One model file after Jinja: SQL with ref markers, plus what the template declared."""

    name: str
    path: Path
    sql: str
    refs: list[str] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    assertions: list[Assertion] = field(default_factory=list)
    hash_splits: list[HashSplit] = field(default_factory=list)
    dialect: str = "duckdb"  # the file's SQL dialect: the project's, or the file's config(dialect=…)
    incremental_sql: str | None = None  # an incremental model rendered with is_incremental() true


def _constant(value: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return value

    return call


def ref_marker(name: str) -> str:
    return f"{_MARK}ref{_MARK}{name}{_MARK}"


def _marker(kind: str, *parts: str) -> str:
    """A marker holding `parts` as hex (a marker's text may contain anything, the marker character too)."""
    return f"{_MARK}{kind}{_MARK}{'.'.join(part.encode().hex() for part in parts)}{_MARK}"


def resolve_markers(sql: str, dialect: str, relations: dict[str, tuple[str, str]]) -> str:
    """Replace the markers with names and strings quoted in `dialect`; `relations` maps a node name to its
    (schema, name)."""

    def resolve(match: re.Match[str]) -> str:
        kind, payload = match.groups()
        if kind == "ref":
            return _quoted("relation", dialect, *relations[payload])
        return _quoted(kind, dialect, *(bytes.fromhex(part).decode() for part in payload.split(".")))

    return _MARKER.sub(resolve, sql)


@functools.lru_cache(maxsize=2**16)
def _quoted(kind: str, dialect: str, *parts: str) -> str:
    """A relation, identifier or string quoted in `dialect` (the same few names recur across a project's files)."""
    target = DIALECTS[dialect]
    if kind == "relation":
        return render(relation(*parts), target)
    return render(identifier(parts[0]) if kind == "identifier" else literal(parts[0]), target)


class Renderer:
    """A sandboxed Jinja environment for one project: standard macros, then the project's own."""

    def __init__(
        self,
        settings: Settings,
        node_names: list[str],
        vars: dict[str, Any],
        standard_macros: list[Path],
        project_macros: list[Path],
        packages: Mapping[str, list[Path]] | None = None,
    ):
        self._settings = settings
        self._nodes = {name.casefold(): name for name in node_names}
        self._vars = vars
        self._current: Rendered | None = None
        self._templates: dict[str, Path] = {}
        # Compiled templates are cached by source checksum, so unchanged files skip Jinja's compiler.
        self.template_cache = SingleFileBytecodeCache(settings.target / "jinja-cache.bin",
                                                      flavor=",".join(sorted(BoundedSandbox.intercepted_binops)))
        self.env = BoundedSandbox(
            loader=jinja2.FunctionLoader(self._load),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
            extensions=["jinja2.ext.do", SnapshotBlocks],
            bytecode_cache=self.template_cache,
        )
        self.env.globals.update(
            ref=self._ref, source=self._source, config=self._config, var=self._var, raise_error=raise_error,
            assertion=self._assertion, under_test=UNDER_TEST, _record_split=self._record_split,
            dialect=self._dialect, is_incremental=self._is_incremental,
        )
        self._incremental_pass = False  # True while an incremental model renders for its new rows
        self._snapshot_pass = False  # True while a snapshot renders: config() takes a snapshot's keys
        self.namespaces: dict[str, Namespace] = {}
        self.target = Target(name=settings.target_name, schema=settings.schema, database=settings.warehouse.stem,
                             path=str(settings.warehouse), profile_name=settings.profile_name,
                             threads=settings.threads)
        self.env.globals.update({  # dbt's context: https://docs.getdbt.com/reference/dbt-jinja-functions
            "target": self.target, "env_var": env_var, "log": log, "exceptions": Exceptions(), "return": macro_return,
            "adapter": Adapter(self.env.globals, self.namespaces), "run_query": query_runner(settings.warehouse),
            "execute": True,
        })
        self.env.filters.update(identifier=self._identifier, literal=self._literal)
        self._assertions: list[Assertion] = []
        self.raw_macros: dict[str, Macro] = {}  # name → Jinja macro, for callers that read its parameters
        self.macros = self._load_macros(standard_macros, project_macros)
        self._load_packages(packages or {})

    # --- templates -------------------------------------------------------------------------------
    def _load(self, name: str) -> tuple[str, str, Any] | None:
        path = self._templates.get(name)
        if path is None:
            return None
        # utf-8-sig: a byte-order mark some editors write is not SQL
        return path.read_text(encoding="utf-8-sig"), str(path), lambda: True

    def _template(self, path: Path) -> jinja2.Template:
        key = str(path)
        self._templates[key] = path
        try:
            return self.env.get_template(key)
        except jinja2.TemplateSyntaxError as error:
            raise ProjectError(f"Jinja syntax error: {error.message}", Location(path, error.lineno)) from None
        except UnicodeDecodeError:
            raise ProjectError("the file is not UTF-8 text", Location(path)) from None

    def _load_macros(self, standard: list[Path], project: list[Path]) -> dict[str, Path]:
        """Expose every macro as a global: the standard library first, then the project's own files,
        which may override a standard macro but not define one name twice."""
        origin: dict[str, Path] = {}
        project_origin: dict[str, Path] = {}
        standard_resolved = {path.resolve() for path in standard}
        project = [path for path in project if path.resolve() not in standard_resolved]
        for path in [*standard, *project]:
            module = self._run(path, self._module)
            for name in dir(module):
                macro = getattr(module, name)
                if not isinstance(macro, Macro):
                    continue
                if name in RESERVED_GLOBALS:
                    raise ProjectError(f'a macro may not be called "{name}": the name is built in', Location(path))
                if name in project_origin:
                    raise ProjectError(
                        f'macro "{name}" is defined in both {project_origin[name]} and {path}',
                        hint="rename one of them",
                    )
                if path in project:
                    project_origin[name] = path
                origin[name] = path
                self.raw_macros[name] = macro
                self.env.globals[name] = _named(name, macro)
        return origin

    def _load_packages(self, packages: Mapping[str, list[Path]]) -> None:
        """Each package's macros under its name (`dbt_utils.star(…)`); also by their bare names, for the package's
        own calls, unless the standard library or the project defines the name."""
        for package, paths in packages.items():
            if package in self.env.globals:
                raise ProjectError(f'a package may not be called "{package}": the name is taken', Location(paths[0]),
                                   hint="rename its folder")
            macros: dict[str, Any] = {}
            for path in paths:
                module = self._run(path, self._module)
                for name in dir(module):
                    macro = getattr(module, name)
                    if isinstance(macro, Macro):
                        macros[name] = _named(f"{package}.{name}", macro)
                        self.env.globals.setdefault(name, macros[name])
            self.namespaces[package] = Namespace(package, macros)
            self.env.globals[package] = self.namespaces[package]

    def _module(self, template: jinja2.Template) -> Any:
        """A macro file's macros, bound to the live globals so they see macros loaded after them."""
        try:
            return template.make_module(self.env.globals, shared=True)
        except Exception:
            self.env.handle_exception()  # re-raises with the traceback pointing at template lines

    # --- rendering -------------------------------------------------------------------------------
    def render(self, name: str, path: Path, defaults: Mapping[str, Any] | None = None,
               snapshot: SnapshotBlock | None = None) -> Rendered:
        """Render one model file (or the block of `snapshot` in its file); errors name the file and the template
        line. `defaults` are configs from its folder and YAML properties, which the file's own config() overrides."""
        _check_size(path, path.stat().st_size, "the file")
        self._current = Rendered(name=name, path=path, sql="", dialect=self._settings.dialect)
        for key, value in (defaults or {}).items():
            if key == "dialect":
                self._current.dialect = value
            else:
                self._current.config[key] = value
        try:
            this = ThisRelation(ref_marker(name), name, self._own_schema, self.target.database)
            if snapshot is not None:
                self._snapshot_pass = True
                try:
                    self._current.sql = render_block(self.env, snapshot, lambda: self._run(
                        path, lambda template: template.render(this=this)))
                finally:
                    self._snapshot_pass = False
            else:
                self._current.sql = self._run(path, lambda template: template.render(this=this))
            if self._current.config.get("materialized") == "incremental":
                self._render_increment(path, this)
            _check_size(path, len(self._current.sql.encode()), "its rendered SQL")
            return self._current
        finally:
            self._current = None

    def _render_increment(self, path: Path, this: ThisRelation) -> None:
        """An incremental model rendered again with is_incremental() true, for its new rows; what that pass
        declares (configs, assertions) is the first pass's, but its refs and sources count too."""
        first = self._current
        self._current = Rendered(name=first.name, path=path, sql="", config=dict(first.config), dialect=first.dialect)
        self._incremental_pass = True
        try:
            first.incremental_sql = self._run(path, lambda template: template.render(this=this))
            _check_size(path, len(first.incremental_sql.encode()), "its rendered SQL")
            first.refs.extend(ref for ref in self._current.refs if ref not in first.refs)
            first.sources.extend(source for source in self._current.sources if source not in first.sources)
        finally:
            self._incremental_pass = False
            self._current = first

    def _is_incremental(self) -> bool:
        """dbt's is_incremental() (https://docs.getdbt.com/docs/build/incremental-models): true in the pass that
        renders an incremental model's new rows; the runner uses that query once the table exists."""
        return self._incremental_pass

    @contextlib.contextmanager
    def overridden(self, vars: Mapping[str, Any], macros: Mapping[str, Any],
                   env_vars: Mapping[str, str]) -> Iterator[None]:
        """Rendering with vars, environment variables and macros replaced (a macro's call gives the value), as a
        dbt unit test's overrides (https://docs.getdbt.com/reference/resource-properties/unit-test-overrides)."""
        saved_vars, saved_globals = self._vars, dict(self.env.globals)
        saved_env = {key: os.environ.get(key) for key in env_vars}
        self._vars = {**self._vars, **vars}
        self.env.globals.update({name: _constant(value) for name, value in macros.items()})
        os.environ.update({key: str(value) for key, value in env_vars.items()})
        try:
            yield
        finally:
            self._vars = saved_vars
            self.env.globals.clear()
            self.env.globals.update(saved_globals)
            for key, value in saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def in_context(self, name: str, path: Path, action: Any) -> Rendered:
        """Run `action()` (calls of macros, ref(), source()) as if the file at `path` were rendering as the node
        `name`: what it declares is collected on the returned Rendered; errors name `path`."""
        self._current = Rendered(name=name, path=path, sql="", dialect=self._settings.dialect)
        try:
            self._current.sql = action()
            return self._current
        except _TEMPLATE_ERRORS as error:
            raise _located(error, path, self.env.globals) from None
        finally:
            self._current = None

    def declared_assertion(self, marker: Any) -> Assertion | None:
        """The assertion an assertion macro's call returned the marker of (None: not such a marker)."""
        match = _ASSERTION_MARKER.match(str(marker))
        return self._assertions[int(match[1])] if match else None

    def _run(self, path: Path, action: Any) -> Any:
        template = self._template(path)
        try:
            return action(template)
        except _TEMPLATE_ERRORS as error:
            raise _located(error, path, self.env.globals) from None
        except RecursionError as error:
            name = _deepest_macro(error)
            raise ProjectError(f"{f'macro {name}' if name else 'a macro'} calls itself too deeply (endless recursion?)",
                               Location(path, _template_line(error, path)),
                               hint="give it a case that stops calling itself, e.g. {% if n > 0 %}…{% endif %}",
                               ) from None
        except MemoryError:  # what BoundedSandbox cannot see coming, e.g. `~` joining ever longer strings
            raise ProjectError("rendering ran out of memory", Location(path),
                               hint="look for a loop or macro that builds ever larger strings or lists") from None

    # --- the functions templates call ------------------------------------------------------------
    def _state(self, function: str) -> Rendered:
        if self._current is None:
            raise ProjectError(f"{function}() can only be called while a model file renders, not in a macro file's body")
        return self._current

    def _own_schema(self) -> str:
        """`this.schema`: the schema of the file rendering, as its configs set it so far."""
        config = self._current.config if self._current is not None else {}
        if self._settings.project_name is not None:  # a dbt project: where dbt would build it
            return self.schema_name(config.get("schema"))
        return config.get("schema", self._settings.schema)

    def schema_name(self, custom: str | None) -> str:
        """A dbt project's schema for a node whose config sets `custom` (None: none), as dbt's generate_schema_name
        (https://docs.getdbt.com/docs/build/custom-schemas): the project's own macro of that name when it has
        one, else the target schema, or `<target schema>_<custom>`."""
        macro = self.env.globals.get("generate_schema_name") if "generate_schema_name" in self.raw_macros else None
        if macro is None:
            return self._settings.schema if custom is None else f"{self._settings.schema}_{custom.strip()}"
        try:
            name = str(macro(custom, None)).strip()
        except _TEMPLATE_ERRORS as error:
            raise ConfigError(f"generate_schema_name({custom!r}) failed: {error}",
                              hint="the project's generate_schema_name macro names each node's schema") from None
        if not name:
            raise ConfigError(f"generate_schema_name({custom!r}) gave no schema name",
                              hint="the macro must return the schema's name, e.g. {{ custom_schema_name or "
                                   "target.schema }}")
        return name

    def _ref(self, *args: Any, **kwargs: Any) -> str:
        state = self._state("ref")
        if kwargs:
            key = next(iter(kwargs))
            if key in ("v", "version"):
                raise ProjectError(f"ref({', '.join(map(repr, args))}, {key}=…): model versions are not supported",
                                   hint="give each version a model file of its own and ref it by name")
            raise ProjectError(f"ref() takes no argument {key}=…", hint="write ref('node_name')")
        if len(args) != 1:
            raise ProjectError(f"ref() takes one node name, e.g. ref('stg_flights'), not {len(args)} arguments")
        name = args[0]
        if not isinstance(name, str):
            raise ProjectError(f"ref() takes a node name as a string, not {type(name).__name__}")
        target = self._nodes.get(name.casefold())
        if target is None:
            raise ProjectError(
                f'ref("{name}") names no node{did_you_mean(name, self._nodes.values())}',
                hint="a node's name is its model file's stem, e.g. models/stg_flights.sql is ref('stg_flights')",
            )
        if target == state.name:
            raise ProjectError(f'node "{target}" refs itself', hint="use {{ this }} to name the node's own relation")
        if target not in state.refs:
            state.refs.append(target)
        return ref_marker(target)

    def _source(self, *args: Any) -> str:
        state = self._state("source")
        if len(args) != 2 or not all(isinstance(arg, str) for arg in args):
            raise ConfigError("source() takes a source name and a table name, e.g. source('raw', 'flights')")
        source, table = args
        declared = self._settings.sources.get(source)
        if declared is None:
            raise ConfigError(
                f'source("{source}", "{table}"): no source named "{source}"{did_you_mean(source, self._settings.sources)}',
                hint=f'declare it in pyproject.toml: [tool.toolkit.sources] {source} = ["{table}"]',
            )
        if table not in declared.tables:
            raise ConfigError(
                f'source("{source}", "{table}"): "{table}" is not among the tables of source "{source}"'
                f"{did_you_mean(table, declared.tables)}",
                hint=f"declared tables: {', '.join(declared.tables) or 'none'}; add it to [tool.toolkit.sources].{source}",
            )
        if (declared.schema, table) not in state.sources:
            state.sources.append((declared.schema, table))
        return _marker("relation", declared.schema, table)

    def _config(self, **settings: Any) -> str:
        state = self._state("config")
        for key, value in settings.items():
            if self._snapshot_pass:
                refuse_snapshot_key(key)
                known = (*SNAPSHOT_CONFIG_KEYS, "assertions", "dialect")
            else:
                known = CONFIG_KEYS
            if key not in known:
                if key in SNAPSHOT_KEYS:
                    raise ConfigError(f"config({key}=…) applies to snapshots only",
                                      hint="snapshots are {% snapshot name %} blocks in the snapshots folder")
                raise ConfigError(
                    f"unknown config key {key!r}{did_you_mean(key, known)}",
                    hint="known keys: " + ", ".join(known),
                )
            if key == "assertions":
                state.assertions.extend(self._declared_assertions(value))
            elif key == "tags":  # tags add up with those of the file's folder and YAML properties, as in dbt
                tags = (*state.config.get("tags", ()), *_checked_config(key, value))
                state.config[key] = tuple(dict.fromkeys(tags))
            elif key == "dialect":
                state.dialect = _checked_dialect(value)
            else:
                state.config[key] = _checked_config(key, value)
        return ""

    def _dialect(self) -> str:
        """For macros: the dialect of the file being rendered ('duckdb' or 'bigquery'), to write SQL in it."""
        return self._current.dialect if self._current is not None else self._settings.dialect

    def _identifier(self, name: Any) -> str:
        """The `identifier` filter: a column or table name, quoted in the dialect of the text it lands in."""
        _defined(name)  # checked as the split report's filter checks it, without quoting it here
        if not isinstance(name, str) or not name:
            raise _ArgumentError(f"expected a column name as a string, got {name!r}")
        return _marker("identifier", name)

    def _literal(self, value: Any) -> str:
        """The `literal` filter: strings quoted in the dialect of the text they land in, other values as SQL."""
        if not isinstance(value, str):
            return _literal(value)
        return _marker("string", value)

    def _assertion(self, test: str, **options: Any) -> str:
        """For assertion macros: register an assertion and return a marker that config(assertions=…) takes."""
        self._assertions.append(make_assertion(str(test), **options))
        return f"{_MARK}assertion{_MARK}{len(self._assertions) - 1}{_MARK}"

    def _record_split(self, key: Any, buckets: Any, null_split: Any) -> str:
        """For hash_split(): remember how the node splits, for the split report."""
        key_sql = self.env.globals["hash_key_text"](key)
        self._state("hash_split").hash_splits.append(HashSplit(str(key_sql), int(buckets), str(null_split)))
        return ""

    def _declared_assertions(self, items: Any) -> list[Assertion]:
        items = [items] if isinstance(items, str) else items
        if not isinstance(items, (list, tuple)):
            raise ConfigError("config(assertions=…) takes a list of assertions, e.g. [not_null('id'), unique('id')]")
        found = []
        for item in items:
            marker = _ASSERTION_MARKER.match(str(item))
            if marker is None:
                raise ConfigError(
                    f"config(assertions=…): {str(item)[:60]!r} is not an assertion",
                    hint="list assertion macro calls, e.g. assertions=[not_null('id'), accepted_values('x', ['a', 'b'])]",
                )
            found.append(self._assertions[int(marker[1])])
        return found

    def _var(self, *args: Any) -> Any:
        if not 1 <= len(args) <= 2 or not isinstance(args[0], str):
            raise ConfigError("var() takes a variable name and an optional default, e.g. var('start_year', 2013)")
        name, default = args[0], args[1:]
        if name in self._vars:
            return self._vars[name]
        if default:
            return default[0]
        raise ConfigError(
            f'var("{name}") is not set and has no default{did_you_mean(name, self._vars)}',
            hint=f"set it in [tool.toolkit.vars], pass --vars '{{\"{name}\": …}}', or give a default: var('{name}', …)",
        )


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox with `*`, `+` and `**` refused when their result would be huge, as Jinja's documentation
    suggests, so that a model file cannot exhaust the machine's memory or time with one expression."""

    intercepted_binops = frozenset({"*", "+", "**"})

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call; a macro's `{{ return(value) }}` makes that macro's call give `value`, as in dbt."""
        if not (isinstance(__obj, Macro) or getattr(__obj, "is_macro", False)):
            return super().call(__context, __obj, *args, **kwargs)
        try:
            return super().call(__context, __obj, *args, **kwargs)
        except MacroReturn as returned:
            return returned.value

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            bits = _power_bits(left, right)
            if bits > MAX_BITS:
                raise ProjectError(f"Jinja's ** would make a number of about {bits:,} bits "
                                   f"(at most {MAX_BITS:,} are allowed)", hint="use a smaller exponent")
        else:
            size = _sequence_size(operator, left, right)
            if size is not None and size[0] > MAX_ITEMS:
                raise ProjectError(f"Jinja's {operator} would make a {size[1]} of {size[0]:,} "
                                   f"{'characters' if size[1] == 'string' else 'items'} "
                                   f"(at most {MAX_ITEMS:,} are allowed)",
                                   hint="repeat less: no model file needs that much SQL")
        return super().call_binop(context, operator, left, right)


_SEQUENCES = {str: "string", list: "list", tuple: "tuple", bytes: "string"}


def _sequence_size(operator: str, left: Any, right: Any) -> tuple[int, str] | None:
    """The length and kind of the string or list that `left operator right` would make (None: not one)."""
    kind = next((name for t, name in _SEQUENCES.items() if isinstance(left, t) or isinstance(right, t)), None)
    if kind is None:
        return None
    if operator == "*":
        sequence, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(times, int) and hasattr(sequence, "__len__"):
            return len(sequence) * max(times, 0), kind
        return None
    if hasattr(left, "__len__") and hasattr(right, "__len__"):
        return len(left) + len(right), kind
    return None


def _power_bits(base: Any, exponent: Any) -> int:
    """About how many bits the integer `base ** exponent` has (0 for other numbers, which overflow cleanly)."""
    if not isinstance(base, int) or not isinstance(exponent, int) or exponent <= 0 or abs(base) <= 1:
        return 0
    return math.ceil(exponent * math.log2(abs(base)))


def _deepest_macro(error: RecursionError) -> str | None:
    """The macro that recursed: the one called most often on the way to `error`."""
    calls: dict[str, int] = {}
    for frame, _ in traceback.walk_tb(error.__traceback__):
        if frame.f_code is Macro._invoke.__code__:
            macro = frame.f_locals.get("self")
            name = getattr(macro, "name", None)
            if name:
                calls[name] = calls.get(name, 0) + 1
    return max(calls, key=calls.__getitem__) if calls else None


class _ArgumentError(ProjectError):
    """A bad argument found inside a macro (raise_error, the filters); the macro's wrapper names the macro."""


def _named(name: str, macro: Macro) -> Any:
    """`macro`, with a missing or malformed argument reported as an error naming the macro."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return macro(*args, **kwargs)
        except MacroReturn as returned:  # called from Python, not through the sandbox's call
            return returned.value
        except jinja2.UndefinedError as error:
            if not (error.message or "").startswith("parameter "):
                raise
            raise ConfigError(f"{name}(): missing argument: {error.message}", hint="check the macro's arguments") from None
        except _ArgumentError as error:
            raise ProjectError(f"{name}(): {error.message}", hint=error.hint) from None
        except TypeError as error:
            takes = f"{name}({', '.join(macro.arguments)}{', …' if macro.catch_kwargs else ''})"
            unknown = re.search(r"takes no keyword argument '(\w+)'", str(error))
            if unknown:
                word = unknown[1]
                raise ConfigError(f"{name}(): unknown argument {word!r}{did_you_mean(word, macro.arguments)}",
                                  hint=f"it takes {takes}") from None
            if "takes not more than" in str(error):
                raise ConfigError(f"{name}(): too many arguments", hint=f"it takes {takes}") from None
            raise

    call.is_macro = True  # type: ignore[attr-defined]
    return call


def _defined(value: Any) -> None:
    """Raise Jinja's own error for an undefined value, e.g. a macro argument that was not given."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()


def raise_error(message: str) -> None:
    """For macros: stop rendering with `message`, reported at the model file and line, naming the macro."""
    raise _ArgumentError(str(message))


def _identifier(name: Any) -> str:
    """The `identifier` filter: a quoted column or table name."""
    _defined(name)
    if not isinstance(name, str) or not name:
        raise _ArgumentError(f"expected a column name as a string, got {name!r}")
    return render(identifier(name))


def _literal(value: Any) -> str:
    """The `literal` filter: strings quoted, numbers as they are, None as NULL."""
    _defined(value)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return render(literal(str(value)))


# The filters every template gets, the project's and the split report's alike.
FILTERS = {"identifier": _identifier, "literal": _literal}


def _checked_dialect(value: Any) -> str:
    if not isinstance(value, str) or value.lower() not in DIALECTS:
        raise ConfigError(f"config(dialect={value!r}) is not a dialect{did_you_mean(str(value), DIALECTS)}",
                          hint="write config(dialect='bigquery') or config(dialect='duckdb')")
    return value.lower()


def checked_config(key: str, value: Any) -> Any:
    """A config value from a folder or YAML properties, checked as config() checks it."""
    return _checked_dialect(value) if key == "dialect" else _checked_config(key, value)


def _checked_config(key: str, value: Any) -> Any:
    if key in SNAPSHOT_KEYS:
        return checked_snapshot_config(key, value)
    if key in INCREMENTAL_KEYS:
        return checked_incremental_config(key, value)
    if key in ASSERTION_FILE_KEYS:
        return value  # validated with the node, once its materialization is known
    if key == "materialized":
        if value not in MATERIALIZATIONS:
            raise ConfigError(
                f"config(materialized={value!r}) is not a materialization{did_you_mean(str(value), MATERIALIZATIONS)}",
                hint="use one of: " + ", ".join(MATERIALIZATIONS),
            )
    elif key == "schema":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"config(schema=…) must be a non-empty string, not {value!r}")
    elif key == "tags":
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, (list, tuple)) or not all(isinstance(tag, str) for tag in value):
            raise ConfigError(f"config(tags=…) must be a string or a list of strings, not {value!r}")
        value = tuple(value)
    return value


def _located(error: Exception, path: Path, names: Mapping[str, Any]) -> ToolkitError:
    """The error as a ToolkitError at the template line where it was raised."""
    line = _template_line(error, path)
    if isinstance(error, jinja2.TemplateSyntaxError) and error.lineno:
        line = error.lineno
    location = Location(path, line)
    if isinstance(error, ToolkitError):
        return error.at(location)
    if isinstance(error, jinja2.UndefinedError):
        undefined = _UNDEFINED_NAME.match(error.message or "")
        suggestion = did_you_mean(undefined[1], names) if undefined else ""
        return ProjectError(
            f"undefined Jinja variable: {error.message}{suggestion}",
            location,
            hint="check the spelling of the variable or macro; project variables are read with var('name')",
        )
    if isinstance(error, jinja2.TemplateNotFound):
        return ProjectError(
            f"{{% include %}} or {{% import %}} of '{error.name}': templates may include only the project's own "
            "model and macro files", location,
            hint="put shared SQL in a macro under macros/ and call it, e.g. {{ my_macro() }}")
    if isinstance(error, jinja2.TemplateError):
        return ProjectError(f"Jinja error: {error.message or error}", location)
    return ProjectError(f"error while rendering: {type(error).__name__}: {error}", location)


def _template_line(error: BaseException, path: Path) -> int | None:
    """The line of the template at `path` where `error` was raised (its deepest frame in that file)."""
    line = None
    for frame, lineno in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == str(path):
            line = lineno
    return line
