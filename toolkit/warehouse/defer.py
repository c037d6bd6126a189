"""`build --defer --state PATH` (https://docs.getdbt.com/reference/node-selection/defer): a selected node that refs
a node neither selected nor built in this warehouse reads that node's relation from the warehouse of the build
that wrote PATH/manifest.json instead, attached read-only. Only such refs are redirected: a parent built here is
read here, as in dbt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from toolkit.errors import WarehouseError
from toolkit.project.manifest import Reference
from toolkit.project.nodes import Node, NodeKind
from toolkit.sql.dialect import DIALECT
from toolkit.sql.quoting import identifier, render
from toolkit.warehouse.connection import database_path
from toolkit.warehouse.materialize import existing_kind

DEFERRED_CATALOG = "toolkit_deferred"


def deferred_nodes(con: duckdb.DuckDBPyConnection, nodes: Mapping[str, Node], selected: Sequence[str],
                   reference: Reference) -> tuple[dict[str, Node], list[str]]:
    """The nodes with the selected ones' refs to missing, unselected parents redirected to the state's warehouse
    (attached as DEFERRED_CATALOG), and the parents deferred to."""
    chosen = set(selected)
    missing = {parent for name in selected for parent in nodes[name].depends_on
               if parent not in chosen and nodes[parent].kind is NodeKind.MODEL
               and existing_kind(con, nodes[parent].schema, parent) is None}
    deferrable = sorted(p for p in missing if (reference.deferred.get(p) or {}).get("relation_name"))
    if not deferrable:
        return dict(nodes), []
    _attach(con, reference)
    redirected = {(nodes[p].schema.casefold(), p.casefold()) for p in deferrable}
    changed = dict(nodes)
    for name in selected:
        node = nodes[name]
        if not set(node.depends_on) & set(deferrable):
            continue
        changed[name] = replace(node, sql=_redirected(node.sql, redirected),
                                incremental_sql=_redirected(node.incremental_sql, redirected) if node.incremental_sql
                                else "", depends_on=tuple(p for p in node.depends_on if p not in deferrable))
    return changed, deferrable


def _attach(con: duckdb.DuckDBPyConnection, reference: Reference) -> None:
    path = reference.warehouse
    if path is None or Path(path).resolve() == Path(database_path(con)).resolve():
        raise WarehouseError(f"--defer: the manifest in {reference.folder} names no other warehouse to read from",
                             hint="point --state at the target folder of a build of another warehouse")
    attach = exp.Attach(this=exp.Alias(this=exp.Literal.string(path), alias=identifier(DEFERRED_CATALOG)),
                        exists=True, expressions=[exp.AttachOption(this=exp.var("READ_ONLY"))])
    try:
        con.execute(render(attach))
    except duckdb.Error as error:
        raise WarehouseError(f"--defer: cannot attach the state's warehouse {path}: {error}",
                             hint="it must exist and not be open for writing by another process") from None


def _redirected(sql: str, relations: set[tuple[str, str]]) -> str:
    tree = sqlglot.parse_one(sql, read=DIALECT)

    def redirect(node: exp.Expression) -> exp.Expression:
        if (isinstance(node, exp.Table) and not node.catalog and isinstance(node.this, exp.Identifier)
                and (node.db.casefold(), node.name.casefold()) in relations):
            node.set("catalog", identifier(DEFERRED_CATALOG))
        return node

    return tree.transform(redirect).sql(dialect=DIALECT)
