"""dbt's Jinja context, where it makes sense for a local warehouse
(https://docs.getdbt.com/reference/dbt-jinja-functions): `target`, `env_var`, `log`, `exceptions`, `return`,
`adapter.dispatch`, `run_query`, `execute`, `this.schema`/`this.identifier`, and package namespaces
(`dbt_utils.my_macro()` for the macros of `packages/dbt_utils/macros/`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from toolkit.errors import ConfigError, ProjectError, did_you_mean

ADAPTER = "duckdb"  # the adapter prefix adapter.dispatch looks for first: duckdb__name, then default__name
PACKAGE_FOLDERS = ("packages", "dbt_packages")  # <folder>/<package>/macros/**/*.sql: the package's macros
CONTEXT_NAMES = ("target", "env_var", "log", "exceptions", "return", "adapter", "run_query", "execute")


class MacroReturn(ProjectError):
    """Raised by `{{ return(value) }}`: the enclosing macro call gives `value` (the sandbox's call catches it)."""

    def __init__(self, value: Any = None):
        super().__init__("return() is for macros: a model file cannot return a value",
                         hint="call it inside {% macro %} … {% endmacro %}")
        self.value = value

    def __reduce__(self) -> tuple:
        return (MacroReturn, (self.value,))


def macro_return(value: Any = None) -> None:
    """dbt's `return`: https://docs.getdbt.com/reference/dbt-jinja-functions/return"""
    raise MacroReturn(value)


@dataclass(frozen=True)
class Target:
    """dbt's `target` (https://docs.getdbt.com/reference/dbt-jinja-functions/target): the warehouse in use."""

    name: str
    schema: str
    database: str
    path: str
    type: str = ADAPTER
    profile_name: str = "toolkit"
    threads: int = 1


def env_var(*args: Any) -> str:
    """dbt's `env_var(name, default)`: https://docs.getdbt.com/reference/dbt-jinja-functions/env_var"""
    if not 1 <= len(args) <= 2 or not isinstance(args[0], str):
        raise ConfigError("env_var() takes a variable name and an optional default, e.g. env_var('USER', 'ci')")
    name = args[0]
    if name in os.environ:
        return os.environ[name]
    if len(args) == 2:
        return args[1]
    raise ConfigError(f"env_var('{name}'): the environment variable {name} is not set and has no default",
                      hint=f"export {name}=… before running, or give a default: env_var('{name}', '…')")


def log(message: Any, info: bool = False) -> str:
    """dbt's `log(msg, info=False)` (https://docs.getdbt.com/reference/dbt-jinja-functions/log): with info=True
    the message is printed (on standard error, beside the build's output); without, it goes to dbt's debug log,
    which the toolkit does not keep."""
    if info:
        sys.stderr.write(f"{message}\n")
    return ""


class Exceptions:
    """dbt's `exceptions` (https://docs.getdbt.com/reference/dbt-jinja-functions/exceptions)."""

    @staticmethod
    def raise_compiler_error(message: Any) -> None:
        raise ProjectError(str(message))

    @staticmethod
    def warn(message: Any) -> str:
        return log(f"warning: {message}", info=True)


class Namespace:
    """A package's macros as attributes: `dbt_utils.star(…)`."""

    def __init__(self, name: str, macros: Mapping[str, Any]):
        self._name = name
        self._macros = dict(macros)
        for macro, function in macros.items():
            setattr(self, macro, function)

    def get(self, name: str) -> Any:
        return self._macros.get(name)

    def __getattr__(self, name: str) -> Any:  # only reached for names that are not macros of the package
        if name.startswith("_"):
            raise AttributeError(name)
        raise ProjectError(f"{self._name}.{name}: the package {self._name} has no macro {name}"
                           f"{did_you_mean(name, self._macros)}")


class Adapter:
    """dbt's `adapter`, for `adapter.dispatch` (https://docs.getdbt.com/reference/dbt-jinja-functions/dispatch):
    `duckdb__<name>`, then `default__<name>`, searched in the project's macros and then in the named package."""

    def __init__(self, globals_: Mapping[str, Any], namespaces: Mapping[str, Namespace]):
        self._globals = globals_
        self._namespaces = namespaces

    def dispatch(self, macro_name: str, macro_namespace: str | None = None) -> Callable[..., Any]:
        if not isinstance(macro_name, str) or "." in macro_name:
            raise ProjectError(f"adapter.dispatch({macro_name!r}): give the macro's name, and its package as "
                               "macro_namespace", hint="e.g. adapter.dispatch('my_macro', 'my_package')")
        scopes: list[Callable[[str], Any]] = [self._globals.get]
        if macro_namespace is not None:
            if macro_namespace not in self._namespaces:
                raise ProjectError(f"adapter.dispatch('{macro_name}', '{macro_namespace}'): no package "
                                   f"{macro_namespace}{did_you_mean(macro_namespace, self._namespaces)}",
                                   hint="packages are folders of packages/ (or dbt_packages/) with a macros/ folder")
            scopes.append(self._namespaces[macro_namespace].get)
        tried = [f"{prefix}__{macro_name}" for prefix in (ADAPTER, "default")]
        for scope in scopes:
            for name in tried:
                found = scope(name)
                if callable(found):
                    return found
        raise ProjectError(f"adapter.dispatch('{macro_name}'): no macro {' or '.join(tried)}",
                           hint=f"define {{% macro default__{macro_name}(…) %}} in macros/")


class QueryResult:
    """What `run_query` gives, shaped like dbt's agate table where macros read it: `rows`, `columns[i].values()`,
    `column_names`, iteration over rows."""

    def __init__(self, column_names: list[str], rows: list[tuple]):
        self.column_names = tuple(column_names)
        self.rows = [tuple(row) for row in rows]
        self.columns = [_Column(name, [row[i] for row in self.rows]) for i, name in enumerate(column_names)]

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass(frozen=True)
class _Column:
    name: str
    data: list[Any]

    def values(self) -> list[Any]:
        return list(self.data)


def query_runner(warehouse: Path) -> Callable[[str], QueryResult]:
    """dbt's `run_query(sql)` (https://docs.getdbt.com/reference/dbt-jinja-functions/run_query): one statement on
    the warehouse, opened read-only with no access to files or the network, while the file renders."""

    def run_query(sql: Any) -> QueryResult:
        if not isinstance(sql, str) or not sql.strip():
            raise ProjectError("run_query() takes one SQL statement as a string")
        if not warehouse.is_file():
            raise ProjectError(f"run_query(): the warehouse {warehouse.name} does not exist yet",
                               hint="build the tables it reads first, or compute the value in SQL")
        try:
            con = duckdb.connect(str(warehouse), read_only=True, config={"enable_external_access": False})
        except duckdb.Error as error:
            raise ProjectError(f"run_query(): the warehouse cannot be opened to read: {error}",
                               hint="another process may be writing it; try again when it is done") from None
        try:
            cursor = con.execute(sql)
            columns = [column[0] for column in cursor.description or ()]
            return QueryResult(columns, cursor.fetchall() if columns else [])
        except duckdb.Error as error:
            raise ProjectError(f"run_query(): {error}", hint="the warehouse is read-only while files render") from None
        finally:
            con.close()

    return run_query


def package_macro_files(project_dir: Path) -> dict[str, list[Path]]:
    """Package name (its folder's) → its macro files, for packages/ and dbt_packages/."""
    packages: dict[str, list[Path]] = {}
    for folder in PACKAGE_FOLDERS:
        root = project_dir / folder
        if not root.is_dir():
            continue
        for package in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            files = sorted(p for p in (package / "macros").rglob("*") if p.suffix in (".sql", ".jinja") and p.is_file())
            if files:
                packages.setdefault(package.name, []).extend(files)
    return packages


class ThisRelation(str):
    """`{{ this }}`: the node's relation marker, with dbt's `this.schema`, `this.identifier`, `this.name` and
    `this.database` (the schema as the file's config() leaves it so far)."""

    def __new__(cls, marker: str, name: str, schema: Callable[[], str], database: str) -> ThisRelation:
        this = super().__new__(cls, marker)
        this._name, this._schema, this._database = name, schema, database
        return this

    @property
    def schema(self) -> str:
        return self._schema()

    @property
    def identifier(self) -> str:
        return self._name

    @property
    def name(self) -> str:
        return self._name

    @property
    def database(self) -> str:
        return self._database
