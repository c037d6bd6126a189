"""Snapshots (https://docs.getdbt.com/docs/build/snapshots): their files, their `{% snapshot name %}` blocks and
their configs (https://docs.getdbt.com/reference/snapshot-configs), checked as config() or YAML receives them and
read into the node's `Snapshot`.

A snapshot file of the snapshots folder holds one or more blocks `{% snapshot name %} {{ config(…) }} select …
{% endsnapshot %}` (dbt's legacy form); each block is a node named by the block. dbt ≥ 1.9 also defines snapshots in
YAML (`snapshots: [{name, relation: source('raw', 'orders'), config: {…}}]`), read in snapshot_nodes.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.parser import Parser

from toolkit.errors import ConfigError, Location, ProjectError, did_you_mean
from toolkit.project.nodes import Snapshot

SNAPSHOT_SUFFIX = ".sql"
STRATEGIES = ("timestamp", "check")
HARD_DELETES = ("ignore", "invalidate", "new_record")
# Keys only snapshots take (unique_key is shared with incremental models, schema and tags with every node).
SNAPSHOT_KEYS = ("strategy", "updated_at", "check_cols", "hard_deletes", "invalidate_hard_deletes", "target_schema",
                 "dbt_valid_to_current", "target_database", "database", "snapshot_meta_column_names")
META_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to", "dbt_is_deleted")
SNAPSHOT_CONFIG_KEYS = ("unique_key", "schema", "tags", *SNAPSHOT_KEYS)  # every key a snapshot's config takes
REFUSED = {
    "materialized": "a snapshot is always a history table: remove materialized",
    "alias": "a snapshot's table takes its name: rename the block (or the YAML entry)",
}
_BLOCK = re.compile(r"\{%-?\s*snapshot\s+([A-Za-z_][A-Za-z0-9_]*)\s*-?%\}")


@dataclass(frozen=True)
class SnapshotBlock:
    """Where a `{% snapshot name %}` block starts."""

    name: str
    path: Path
    line: int

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)


def snapshot_blocks(folder: Path) -> dict[str, SnapshotBlock]:
    """Snapshot name → its block, from every .sql file of the snapshots folder (a missing folder: none)."""
    if not folder.is_dir():
        return {}
    found: dict[str, SnapshotBlock] = {}
    for path in sorted(folder.rglob(f"*{SNAPSHOT_SUFFIX}"), key=str):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        text = path.read_text(encoding="utf-8-sig", errors="replace")
        blocks = list(_BLOCK.finditer(text))
        if not blocks:
            raise ProjectError("a file of the snapshots folder holds no {% snapshot name %} block", Location(path),
                               hint="wrap its query: {% snapshot name %} {{ config(unique_key='id', "
                                    "strategy='timestamp', updated_at='updated_at') }} select … {% endsnapshot %}")
        for match in blocks:
            block = SnapshotBlock(match[1], path, text.count("\n", 0, match.start()) + 1)
            clash = next((other for name, other in found.items() if name.casefold() == block.name.casefold()), None)
            if clash is not None:
                raise ProjectError(f'two snapshot blocks are called "{block.name}": {clash.location} and '
                                   f"{block.location}", block.location, hint="snapshot names must be unique")
            found[block.name] = block
    return found


class BlockState:
    """The block being rendered, and its body once rendered."""

    def __init__(self, name: str):
        self.name = name
        self.body: str | None = None


class SnapshotBlocks(Extension):
    """`{% snapshot name %}…{% endsnapshot %}`: while the snapshot `name` renders (render_block), the block's body is
    captured as its SQL; every other block renders to nothing, and so does a block outside the snapshots folder."""

    tags = {"snapshot"}

    def __init__(self, environment: Any):
        super().__init__(environment)
        environment.extend(snapshot_state=None)

    def parse(self, parser: Parser) -> nodes.Node:
        lineno = next(parser.stream).lineno
        name = parser.stream.expect("name").value
        body = parser.parse_statements(("name:endsnapshot",), drop_needle=True)
        call = self.call_method("block", [nodes.Const(name)], lineno=lineno)
        return nodes.CallBlock(call, [], [], body, lineno=lineno)

    def block(self, name: str, caller: Callable[[], str]) -> str:
        state: BlockState | None = self.environment.snapshot_state
        if state is None:
            raise ProjectError(f"{{% snapshot {name} %}}: snapshot blocks belong in files of the snapshots folder",
                               hint="move the block into snapshots/ (or the [tool.toolkit].snapshots folder)")
        if state.name == name:
            state.body = caller()
        return ""


def render_block(environment: Any, block: SnapshotBlock, render: Callable[[], str]) -> str:
    """The SQL of `block`: its body as rendered by `render()` (which renders the whole file), preceded by as many
    newlines as the file has before it, so that DuckDB's "LINE n" is the file's line n."""
    state = environment.snapshot_state = BlockState(block.name)
    try:
        render()
    finally:
        environment.snapshot_state = None
    if state.body is None:
        raise ProjectError(f"the block {{% snapshot {block.name} %}} did not render", block.location,
                           hint="a snapshot block may not sit inside {% if %} or a macro")
    return "\n" * (block.line - 1) + state.body


def checked_snapshot_config(key: str, value: Any) -> Any:
    """A snapshot config's value, checked (unique_key and schema are checked with the other nodes' keys)."""
    if key in ("strategy", "hard_deletes"):
        choices = STRATEGIES if key == "strategy" else HARD_DELETES
        if value not in choices:
            raise ConfigError(f"config({key}={value!r}) is not one of {', '.join(choices)}"
                              f"{did_you_mean(str(value), choices)}")
        return value
    if key == "check_cols":
        if value == "all":
            return value
        if not isinstance(value, (list, tuple)) or not value or not all(isinstance(c, str) and c for c in value):
            raise ConfigError(f"config(check_cols={value!r}) must be 'all' or a list of column names"
                              f"{did_you_mean(value, ['all']) if isinstance(value, str) else ''}",
                              hint="e.g. check_cols=['status', 'amount'] or check_cols='all'")
        return tuple(value)
    if key == "snapshot_meta_column_names":
        return _meta_column_names(value)
    if key == "invalidate_hard_deletes":
        if not isinstance(value, bool):
            raise ConfigError(f"config(invalidate_hard_deletes={value!r}) must be true or false")
        return value
    if not isinstance(value, str) or not value.strip():
        what = {"updated_at": "a column name", "dbt_valid_to_current": "a SQL expression, e.g. \"timestamp "
                "'9999-12-31'\"", "target_schema": "a schema name"}.get(key, "a database name")
        raise ConfigError(f"config({key}={value!r}) must be {what}")
    return value


def check_database(config: Mapping[str, Any], database: str) -> None:
    """`target_database` (or `database`) may only name the warehouse's own database: the toolkit builds in one."""
    for key in ("target_database", "database"):
        value = config.get(key)
        if value is not None and value.casefold() != database.casefold():
            raise ConfigError(f"config({key}={value!r}): the toolkit builds in one warehouse, whose database is "
                              f"{database}", hint=f"remove {key} (or set it to {database!r})")


def _meta_column_names(value: Any) -> dict[str, str]:
    """dbt's snapshot_meta_column_names: {dbt_valid_from: start_date, …}, each a distinct column name."""
    if not isinstance(value, Mapping):
        raise ConfigError(f"config(snapshot_meta_column_names={value!r}) maps dbt's column names to yours",
                          hint="e.g. {'dbt_valid_from': 'start_date', 'dbt_valid_to': 'end_date'}")
    for key, name in value.items():
        if key not in META_COLUMNS:
            raise ConfigError(f"snapshot_meta_column_names: {key!r} is not one of {', '.join(META_COLUMNS)}"
                              f"{did_you_mean(str(key), META_COLUMNS)}")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"snapshot_meta_column_names: {key} must be renamed to a column name, not {name!r}")
    names = {key: value.get(key, key) for key in META_COLUMNS}
    if len({name.casefold() for name in names.values()}) < len(names):
        raise ConfigError(f"snapshot_meta_column_names gives two columns one name: {names}")
    return dict(value)


def refuse_snapshot_key(key: str) -> None:
    if key in REFUSED:
        raise ConfigError(f"config({key}=…) is not supported for snapshots", hint=REFUSED[key])


def snapshot_settings(config: Mapping[str, Any]) -> Snapshot:
    """The snapshot's settings from its merged configs; a missing or contradictory one is an error (the caller
    places it at the block or the YAML entry)."""
    strategy = config.get("strategy")
    unique_key = tuple(config.get("unique_key") or ())
    if not unique_key:
        raise ConfigError("the snapshot has no unique_key: it names the column (or columns) that identify a row",
                          hint="add unique_key='id' to its config()")
    if strategy is None:
        raise ConfigError("the snapshot has no strategy: 'timestamp' (rows with a newer updated_at changed) or "
                          "'check' (rows whose check_cols differ changed)",
                          hint="add strategy='timestamp', updated_at='updated_at' (or strategy='check', "
                               "check_cols='all') to its config()")
    updated_at, check_cols = config.get("updated_at"), config.get("check_cols")
    if strategy == "timestamp":
        if updated_at is None:
            raise ConfigError("strategy='timestamp' needs updated_at, the column of each row's last change",
                              hint="add updated_at='<timestamp column>' to its config(), or use strategy='check'")
        if check_cols is not None:
            raise ConfigError("check_cols applies to strategy='check' only", hint="remove check_cols")
    elif check_cols is None:
        raise ConfigError("strategy='check' needs check_cols, the columns whose change makes a new version",
                          hint="add check_cols=['status', …] (or check_cols='all') to its config()")
    hard_deletes = config.get("hard_deletes")
    if config.get("invalidate_hard_deletes"):
        if hard_deletes not in (None, "invalidate"):
            raise ConfigError(f"invalidate_hard_deletes=true contradicts hard_deletes='{hard_deletes}'",
                              hint="keep hard_deletes (invalidate_hard_deletes is its older form)")
        hard_deletes = "invalidate"
    return Snapshot(unique_key=unique_key, strategy=strategy, updated_at=updated_at,
                    check_cols=None if check_cols in (None, "all") else tuple(check_cols),
                    hard_deletes=hard_deletes or "ignore", valid_to_current=config.get("dbt_valid_to_current"),
                    meta_columns=tuple((config.get("snapshot_meta_column_names") or {}).items()))
