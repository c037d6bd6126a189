"""Seeds (https://docs.getdbt.com/docs/build/seeds): CSV files of the seeds folder, each a node that loads its file
into a table of the same name, built (and audited) like any table, read with ref('name').

A seed's node is a SELECT over DuckDB's read_csv, which infers each column's type from the file; dbt's
`column_types` config (https://docs.getdbt.com/reference/resource-configs/column_types) fixes the type of the
columns it names, and `delimiter` the field separator."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlglot import exp

from toolkit.config import Settings
from toolkit.errors import ConfigError, Location, ProjectError
from toolkit.project.assertions import Assertion
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.sql.quoting import render

SEED_SUFFIX = ".csv"


def seed_files(seeds_dir: Path) -> dict[str, Path]:
    """Node name (the file stem) → seed file, sorted by path; a missing folder means no seeds."""
    if not seeds_dir.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(seeds_dir.rglob(f"*{SEED_SUFFIX}"), key=str):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(seeds_dir).parts):
            continue
        clash = next((other for name, other in found.items() if name.casefold() == path.stem.casefold()), None)
        if clash is not None:
            raise ProjectError(f'two seed files define the node "{path.stem}": {clash} and {path}',
                               hint="node names are file stems and must be unique (case-insensitively)")
        found[path.stem] = path
    return found


def seed_sql(path: Path, config: Mapping[str, Any]) -> str:
    """SELECT * FROM read_csv('file', header = true, [types = {...}], [delim = '…'])."""
    options: list[exp.Expression] = [exp.EQ(this=exp.column("header"), expression=exp.true())]
    types = config.get("column_types") or {}
    if not isinstance(types, Mapping) or not all(isinstance(k, str) and isinstance(v, str) and v.strip()
                                                 for k, v in types.items()):
        raise ConfigError(f"column_types of the seed {path.stem} maps each column to a type, e.g. "
                          "{zipcode: varchar(5)}, not " + repr(types), Location(path))
    if types:
        fields = [exp.PropertyEQ(this=exp.Literal.string(column), expression=exp.Literal.string(kind))
                  for column, kind in types.items()]
        options.append(exp.EQ(this=exp.column("types"), expression=exp.Struct(expressions=fields)))
    delimiter = config.get("delimiter")
    if delimiter is not None:
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise ConfigError(f"the delimiter of the seed {path.stem} must be one character, not {delimiter!r}",
                              Location(path))
        options.append(exp.EQ(this=exp.column("delim"), expression=exp.Literal.string(delimiter)))
    if config.get("quote_columns") not in (None, True, False):
        raise ConfigError(f"quote_columns of the seed {path.stem} is true or false", Location(path))
    reader = exp.Anonymous(this="read_csv", expressions=[exp.Literal.string(str(path)), *options])
    return render(exp.select(exp.Star()).from_(exp.Table(this=reader)))


def seed_node(name: str, path: Path, settings: Settings, config: Mapping[str, Any], description: str,
              columns: tuple[tuple[str, str], ...], assertions: tuple[Assertion, ...]) -> Node:
    if "materialized" in config:
        raise ConfigError(f"the seed {name} is always a table: remove materialized", Location(path))
    return Node(
        name=name, path=path, relative_path=Path(os.path.relpath(path, settings.project_dir)), kind=NodeKind.MODEL,
        materialized=Materialization.SEED, schema=config.get("schema", settings.schema),
        tags=tuple(config.get("tags", ())), depends_on=(), sources=(), sql=seed_sql(path, config),
        source_sql="", assertions=assertions, description=description, columns=columns,
    )


def seed_selection(nodes: Mapping[str, Node]) -> list[str]:
    """The seeds, and the YAML test nodes that test only seeds: what `toolkit seed` builds."""
    seeds = {name for name, node in nodes.items() if node.materialized is Materialization.SEED}
    tests = {name for name, node in nodes.items() if node.tests_of and node.depends_on
             and set(node.depends_on) <= seeds}
    return sorted(seeds | tests)
