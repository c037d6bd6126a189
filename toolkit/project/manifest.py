"""target/manifest.json, written by every build in the shape of dbt's manifest
(https://docs.getdbt.com/reference/artifacts/manifest-json), and the state a later command compares against:
`state:modified`, `state:new`, `result:error` … (https://docs.getdbt.com/reference/node-selection/methods#state,
https://docs.getdbt.com/reference/node-selection/methods#result) and `toolkit retry`
(https://docs.getdbt.com/reference/commands/retry).

A node's checksum is its definition checksum (toolkit/project/fingerprint.py): the rendered SQL and config, so a
changed macro or var marks the nodes it changes modified, where dbt compares file contents."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from toolkit import __version__
from toolkit.errors import ConfigError, Location
from toolkit.project.fingerprint import definition_checksum
from toolkit.project.nodes import Materialization, Node, NodeKind

MANIFEST = "manifest.json"
RUN_RESULTS = "run_results.json"
MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json"


@dataclass(frozen=True)
class Reference:
    """What an earlier build left: its nodes' checksums (manifest.json) and its nodes' statuses (run_results.json)."""

    folder: Path
    checksums: dict[str, str] | None = None  # None: no manifest there
    statuses: dict[str, str] | None = None  # None: no run results there
    command: str = "build"
    deferred: dict[str, dict[str, Any]] = field(default_factory=dict)  # node → its manifest entry
    warehouse: str | None = None  # the DuckDB file that build wrote


def resource_type(node: Node) -> str:
    if node.kind is NodeKind.ASSERTION:
        return "test"
    return {Materialization.SEED: "seed", Materialization.SNAPSHOT: "snapshot"}.get(node.materialized, "model")


def _snapshot_config(node: Node) -> dict[str, Any]:
    """A snapshot's configs under dbt's names (https://docs.getdbt.com/reference/snapshot-configs)."""
    if node.snapshot is None:
        return {}
    keys = node.snapshot.unique_key
    return {"unique_key": keys[0] if len(keys) == 1 else list(keys), "strategy": node.snapshot.strategy,
            "updated_at": node.snapshot.updated_at, "hard_deletes": node.snapshot.hard_deletes,
            "check_cols": "all" if node.snapshot.check_cols is None else list(node.snapshot.check_cols),
            "dbt_valid_to_current": node.snapshot.valid_to_current,
            "snapshot_meta_column_names": dict(node.snapshot.meta_columns)}


def unique_id(node: Node, package: str) -> str:
    return f"{resource_type(node)}.{package}.{node.name}"


def manifest(nodes: Mapping[str, Node], parents: Mapping[str, Any], package: str, warehouse: Path,
             run_id: str, kept: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """The manifest of `nodes`; `kept`: node → the checksum to record instead of its own (a node not built;
    None: never built)."""
    kept = kept or {}
    ids = {name: unique_id(node, package) for name, node in nodes.items()}
    entries = {}
    for name, node in nodes.items():
        entries[ids[name]] = {
            "unique_id": ids[name], "name": name, "resource_type": resource_type(node), "package_name": package,
            "original_file_path": node.relative_path.as_posix(), "path": node.relative_path.as_posix(),
            "database": warehouse.stem, "schema": node.schema, "alias": name,
            "relation_name": None if node.kind is NodeKind.ASSERTION else node.relation,
            "config": {"materialized": node.materialized.value, "schema": node.schema, "tags": list(node.tags),
                       **_snapshot_config(node)},
            "tags": list(node.tags), "description": node.description,
            "depends_on": {"nodes": [ids[p] for p in node.depends_on if p in ids]},
            "checksum": {"name": "sha256", "checksum": kept[name] if name in kept else definition_checksum(node)},
            "compiled_code": node.sql, "toolkit_kind": node.kind.value,
        }
    return {
        "metadata": {"dbt_schema_version": MANIFEST_SCHEMA, "generated_at": _now(), "invocation_id": run_id,
                     "toolkit_version": __version__, "warehouse": str(warehouse)},
        "nodes": entries, "sources": {},
        "parent_map": {ids[name]: [ids[p] for p in parents.get(name, ()) if p in ids] for name in nodes},
    }


def write_manifest(target: Path, document: dict[str, Any]) -> Path:
    path = target / MANIFEST
    target.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(document, indent=1, default=str) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def read_reference(folder: Path, required: bool = False) -> Reference:
    """The state in `folder` (a target folder, or a manifest.json in it); with `required`, a folder without a
    manifest is an error naming it."""
    folder = folder.parent if folder.suffix == ".json" else folder
    manifest_document = _read(folder / MANIFEST)
    if manifest_document is None and required:
        raise ConfigError(f"--state {folder}: no {MANIFEST} there", Location(folder),
                          hint="point it at the target folder of an earlier build (a copy of target/)")
    checksums, deferred = None, {}
    if manifest_document is not None:
        checksums, deferred = {}, {}
        for entry in manifest_document.get("nodes", {}).values():
            name = entry.get("name")
            checksum = (entry.get("checksum") or {}).get("checksum")
            if isinstance(name, str) and checksum is not None:  # None: listed, never built
                checksums[name] = str(checksum)
                deferred[name] = entry
    results = _read(folder / RUN_RESULTS)
    statuses, command = None, "build"
    if results is not None:
        statuses = {}
        for result in results.get("results", []):
            name = result.get("node") or str(result.get("unique_id", "")).rpartition(".")[2]
            statuses[name] = str(result.get("toolkit_status") or result.get("status"))
        command = str(results.get("command") or (results.get("args") or {}).get("which") or "build")
    warehouse = ((manifest_document or {}).get("metadata") or {}).get("warehouse")
    return Reference(folder, checksums, statuses, command, deferred, warehouse if isinstance(warehouse, str) else None)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path.name} cannot be read: {error}", Location(path),
                          hint="rebuild to write it again, or point --state at another folder") from None
    return document if isinstance(document, dict) else None


def _now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


RETRIED = ("error", "fail", "skipped")  # the statuses `toolkit retry` runs again


def retry_selection(order: list[str], reference: Reference) -> list[str]:
    """The nodes of the last run that errored, failed or were skipped and that the project still has, in order."""
    statuses = reference.statuses or {}
    return [name for name in order if statuses.get(name) in RETRIED]
