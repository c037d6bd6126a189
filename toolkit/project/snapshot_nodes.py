"""Snapshot nodes: the `{% snapshot %}` blocks of the snapshots folder and the YAML-defined snapshots of dbt ≥ 1.9
(`snapshots: [{name, relation: source('raw', 'orders'), config: {…}}]`,
https://docs.getdbt.com/reference/snapshot-configs), each with its configs from `[tool.toolkit.snapshots]` folders,
its YAML entry's `config:` and its block's config(), rendered and made a node whose table the runner keeps as a
type-2 history (toolkit/warehouse/snapshot.py)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlglot.errors
from sqlglot import exp

from toolkit.config import PYPROJECT, Settings
from toolkit.errors import ConfigError, Location, ProjectError, ToolkitError, did_you_mean
from toolkit.project.assertions import unique_names
from toolkit.project.folders import check_folder_configs, folder_config, merge_config
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.project.parse import parse_model
from toolkit.project.properties import Properties
from toolkit.project.render import Rendered, Renderer, checked_config, resolve_markers
from toolkit.project.snapshots import (
    SNAPSHOT_CONFIG_KEYS,
    SnapshotBlock,
    check_database,
    snapshot_blocks,
    snapshot_settings,
)
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.dialect import DEFAULT_DIALECT
from toolkit.sql.ml_functions import data_calls, model_names
from toolkit.sql.quoting import parse, parse_relation, render

_RELATION = re.compile(r"^\s*(?:\{\{)?\s*((?:ref|source)\s*\(.*\))\s*(?:\}\})?\s*$", re.DOTALL)


@dataclass(frozen=True)
class SnapshotDefinition:
    """Where a snapshot is defined: a block of a snapshot file, or a YAML entry with a `relation:`."""

    name: str
    location: Location
    block: SnapshotBlock | None = None
    relation: str | None = None

    @property
    def path(self) -> Path:
        return self.location.path


def snapshot_definitions(settings: Settings, properties: Properties,
                         taken: Mapping[str, Path]) -> dict[str, SnapshotDefinition]:
    """Every snapshot of the project; `taken`: the names of models and seeds, which a snapshot may not reuse."""
    found = {name: SnapshotDefinition(name, block.location, block=block)
             for name, block in snapshot_blocks(settings.snapshots_dir).items()}
    for name, entry in properties.snapshots.items():
        if entry.relation is None:
            if name not in found:
                raise ConfigError(f"snapshots[{name}]: no {{% snapshot {name} %}} block and no relation"
                                  f"{did_you_mean(name, found)}", entry.location,
                                  hint="define it here with relation: source('…', '…') (or ref('…')) and its "
                                       "config, or as a block in the snapshots folder")
            continue
        if name in found:
            raise ConfigError(f"snapshots[{name}] has a relation, and {found[name].location} a block of the same "
                              "name", entry.location, hint="define each snapshot once")
        found[name] = SnapshotDefinition(name, entry.location, relation=entry.relation)
    folded = {name.casefold(): path for name, path in taken.items()}
    for name, definition in found.items():
        if name.casefold() in folded:
            raise ProjectError(f'the snapshot {name} ({definition.location}) and {folded[name.casefold()]} both '
                               f'define the node "{name}"', definition.location,
                               hint="node names are unique: rename the snapshot")
    return found


def snapshot_configs(settings: Settings, definitions: Mapping[str, SnapshotDefinition],
                     properties: Properties) -> dict[str, dict[str, Any]]:
    """Each snapshot's configs from its folders, then its YAML entry's `config:` (its block's config() comes
    last, as it renders), each value checked."""
    pyproject = settings.project_dir / PYPROJECT
    root = settings.snapshots_dir
    files = {name: d.path for name, d in definitions.items() if d.path.is_relative_to(root)}
    check_folder_configs(settings.snapshot_configs, "snapshots", SNAPSHOT_CONFIG_KEYS, root, files, pyproject)
    configs = {}
    for name, definition in definitions.items():
        merged: dict[str, Any] = {}
        entry = properties.snapshots.get(name)
        if name in files:
            folders = folder_config(settings.snapshot_configs, root, files[name])
        else:  # a YAML snapshot outside the snapshots folder: the folder's own configs only
            folders = merge_config({}, {k[1:]: v for k, v in settings.snapshot_configs.items() if k.startswith("+")})
        for config, where in ((folders, Location(pyproject)), (entry.config if entry else {},
                                                              entry.location if entry else definition.location)):
            try:
                merge_config(merged, {key: checked_config(key, value) for key, value in config.items()})
            except ToolkitError as error:
                raise error.at(where) from None
        configs[name] = merged
    return configs


def render_snapshots(renderer: Renderer, definitions: Mapping[str, SnapshotDefinition],
                     configs: Mapping[str, dict[str, Any]]) -> list[Rendered]:
    rendered = []
    for name, definition in definitions.items():
        if definition.block is not None:
            rendered.append(renderer.render(name, definition.path, defaults=configs[name], snapshot=definition.block))
            continue
        call = _RELATION.match(definition.relation or "")
        if call is None:
            raise ConfigError(f"snapshots[{name}].relation {definition.relation!r} must be ref('model') or "
                              "source('source', 'table')", definition.location)
        expression = renderer.env.compile_expression(call[1])
        made = renderer.in_context(name, definition.path, lambda: str(expression()))
        made.config = dict(configs[name])
        made.dialect = DEFAULT_DIALECT
        rendered.append(made)
    return rendered


def snapshot_schema(config: Mapping[str, Any], default: str) -> str:
    """Its schema: `schema`, or the legacy `target_schema`, or the project's."""
    return config.get("schema") or config.get("target_schema") or default


def snapshot_node(rendered: Rendered, definition: SnapshotDefinition, settings: Settings,
                  relations: dict[str, tuple[str, str]], datasets: Datasets) -> Node:
    try:
        check_database(rendered.config, settings.warehouse.stem)
        settings_ = snapshot_settings(rendered.config)
    except ToolkitError as error:
        raise error.at(definition.location) from None
    if settings_.valid_to_current is not None:
        try:
            parse(settings_.valid_to_current)
        except sqlglot.errors.SqlglotError as error:
            raise ConfigError(f"dbt_valid_to_current {settings_.valid_to_current!r} is not a SQL expression: {error}",
                              definition.location, hint="e.g. \"timestamp '9999-12-31'\"") from None
    sql = resolve_markers(rendered.sql, rendered.dialect, relations)
    if definition.block is None:  # a YAML snapshot: every column of its relation
        sql = render(exp.select(exp.Star()).from_(parse_relation(sql)))
    statement = parse_model(sql, definition.path, rendered.dialect, datasets)
    if statement.kind is not NodeKind.MODEL:
        raise ProjectError(f"the snapshot {rendered.name} must be one SELECT", definition.location,
                           hint="snapshot the rows of a query: select … from {{ source('…', '…') }}")
    if model_names(statement.expression) or data_calls(statement.expression):
        raise ConfigError(f"the snapshot {rendered.name} cannot hold ML.* calls", definition.location,
                          hint="call them in a table model it reads")
    return Node(
        name=rendered.name, path=definition.path,
        relative_path=Path(os.path.relpath(definition.path, settings.project_dir)), kind=NodeKind.MODEL,
        materialized=Materialization.SNAPSHOT, schema=snapshot_schema(rendered.config, settings.schema),
        tags=tuple(rendered.config.get("tags", ())), depends_on=tuple(rendered.refs),
        sources=tuple(rendered.sources), sql=statement.sql, dialect=rendered.dialect,
        source_sql=statement.source_sql, named=statement.named,
        # assertions are DuckDB SQL whatever the file's dialect: the toolkit's macros write them for the warehouse
        assertions=unique_names([a.map_sql(lambda text: resolve_markers(text, DEFAULT_DIALECT, relations))
                                 for a in rendered.assertions]),
        snapshot=settings_,
    )


def snapshot_selection(nodes: Mapping[str, Node]) -> list[str]:
    """The snapshots, and the YAML test nodes that test only snapshots: what `toolkit snapshot` builds."""
    snapshots = {name for name, node in nodes.items() if node.materialized is Materialization.SNAPSHOT}
    tests = {name for name, node in nodes.items() if node.tests_of and node.depends_on
             and set(node.depends_on) <= snapshots}
    return sorted(snapshots | tests)
