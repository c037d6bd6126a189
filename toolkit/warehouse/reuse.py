"""Reusing what an earlier build published: a node whose fingerprint is the one recorded at its last successful
build, and whose relation (or model version) is still there, is not built again.

A node's fingerprint is a sha256 of its definition checksum (toolkit/project/fingerprint.py), the outputs of the
nodes it depends on, and the data version of every other relation it reads (sources, tables named directly): a
row count and an order-independent sum of row hashes, with the columns and their types. A node's output is its
fingerprint, except an incremental model's (the data version of its table after the run: its rows depend on its
history) and an ML model's (the model version it trained). When anything cannot be pinned down (a table function,
a volatile function such as random() or now(), an ML.* call) the node has no fingerprint: it is built every time,
and with it everything downstream. Fingerprints live in `_toolkit.node_state`, one row per node."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
from sqlglot import exp

from toolkit.config import STATE_SCHEMA
from toolkit.project.fingerprint import Relation, definition_checksum, read_relations
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.sql.quoting import relation, render
from toolkit.warehouse.connection import transaction

_DDL = f"""CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.node_state (
    node VARCHAR PRIMARY KEY,
    fingerprint VARCHAR,
    output VARCHAR,
    checksum VARCHAR NOT NULL,
    inputs JSON,
    status VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
)"""
PUBLISHED = ("success", "warn")


@dataclass(frozen=True)
class Recorded:
    fingerprint: str | None
    output: str | None
    checksum: str
    inputs: list[Relation] | None
    status: str


def ensure_node_state(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
    con.execute(_DDL)


def recorded_states(con: duckdb.DuckDBPyConnection) -> dict[str, Recorded]:
    ensure_node_state(con)
    rows = con.execute(f"SELECT node, fingerprint, output, checksum, inputs, status FROM {STATE_SCHEMA}.node_state"
                       ).fetchall()
    return {node: Recorded(fingerprint, output, checksum,
                           None if inputs is None or json.loads(inputs) is None
                           else [tuple(r) for r in json.loads(inputs)], status)
            for node, fingerprint, output, checksum, inputs, status in rows}


def data_version(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    """Rows, a sum of row hashes and the column types of `schema.name`; None when it cannot be read."""
    table = relation(schema, name)
    counted = exp.select(exp.Count(this=exp.Star()), exp.Sum(this=exp.func("hash", exp.column("__t")))).from_(
        table.as_("__t"))
    try:
        rows, total = con.execute(render(counted)).fetchall()[0]
        columns = con.execute(render(exp.Describe(this=relation(schema, name)))).fetchall()
    except duckdb.Error:
        return None
    return hashlib.sha256(json.dumps([rows, str(total), [c[:2] for c in columns]]).encode()).hexdigest()


class NodeStates:
    """This run's fingerprints and outputs, what the last builds recorded, and the reuse verdicts."""

    def __init__(self, con: duckdb.DuckDBPyConnection, nodes: Mapping[str, Node],
                 parents: Mapping[str, Sequence[str]], run_id: str, enabled: bool = True):
        self.con, self.nodes, self.parents, self.run_id, self.enabled = con, nodes, parents, run_id, enabled
        self.recorded = recorded_states(con)
        self.outputs: dict[str, str | None] = {}
        self._versions: dict[tuple[str, str], str | None] = {}
        self._checksums: dict[str, str] = {}
        self._inputs: dict[str, list[Relation] | None] = {}
        self.fingerprints: dict[str, str | None] = {}  # this run's, by node
        self._pending: list[tuple] = []
        rows = con.execute("SELECT table_schema, table_name, table_type FROM information_schema.tables "
                           "WHERE table_catalog = current_database()").fetchall()
        self._relations = {(schema.casefold(), name.casefold()): kind for schema, name, kind in rows}

    def fingerprint(self, node: Node) -> str | None:
        self.fingerprints[node.name] = fingerprint = self._fingerprint(node)
        return fingerprint

    def _fingerprint(self, node: Node) -> str | None:
        checksum = definition_checksum(node)
        self._checksums[node.name] = checksum
        recorded = self.recorded.get(node.name)
        if recorded is not None and recorded.checksum == checksum:
            inputs = recorded.inputs  # the same SQL reads the same relations: no need to parse it again
        else:
            own = {(self.nodes[p].schema.casefold(), p.casefold()) for p in node.depends_on
                   if p in self.nodes and self.nodes[p].kind is not NodeKind.ML_MODEL}
            inputs = read_relations(node, own)
        self._inputs[node.name] = inputs
        if inputs is None:
            return None
        upstream = []
        for parent in sorted(self.parents.get(node.name, ())):
            output = self.output_of(parent)
            if output is None:
                return None
            upstream.append((parent, output))
        versions = []
        for schema, name in inputs:
            version = self._version(schema, name)
            if version is None:
                return None
            versions.append((schema.casefold(), name.casefold(), version))
        return hashlib.sha256(json.dumps([checksum, upstream, sorted(versions)]).encode()).hexdigest()

    def output_of(self, name: str) -> str | None:
        if name in self.outputs:
            return self.outputs[name]
        recorded = self.recorded.get(name)
        return recorded.output if recorded is not None and recorded.status in PUBLISHED else None

    def _version(self, schema: str, name: str) -> str | None:
        key = (schema.casefold(), name.casefold())
        if key not in self._versions:
            self._versions[key] = data_version(self.con, schema, name)
        return self._versions[key]

    def reusable(self, node: Node, fingerprint: str | None) -> bool:
        """Whether the published relation (or model version) is what building `node` again would give."""
        recorded = self.recorded.get(node.name)
        if (not self.enabled or fingerprint is None or node.stateful or recorded is None
                or recorded.fingerprint != fingerprint or recorded.status != "success"):
            return False
        if node.kind is NodeKind.ML_MODEL:
            if node.create_model is not None and node.create_model.if_not_exists:
                return False  # CREATE MODEL IF NOT EXISTS keeps the model itself, and says so
            return recorded.output is not None and recorded.output.endswith(f":v{self.model_version(node.name)}")
        if node.kind is NodeKind.ASSERTION:
            return True
        kind = self._relations.get((node.schema.casefold(), node.name.casefold()))
        return kind is not None and (kind == "VIEW") == (node.materialized is Materialization.VIEW)

    def reused(self, node: Node) -> None:
        self.outputs[node.name] = self.output_of(node.name)

    def finished(self, node: Node, fingerprint: str | None, status: str) -> None:
        """Note a node's build: its output for the nodes downstream, its state for the next build."""
        if status not in PUBLISHED:
            self.outputs[node.name] = None  # what is published is not this run's: nothing downstream is reused
            return
        output = fingerprint or uuid.uuid4().hex
        if node.stateful:  # its rows depend on its history: its output is its table's data
            output = data_version(self.con, node.schema, node.name) or uuid.uuid4().hex
        elif node.kind is NodeKind.ML_MODEL:
            output = f"{output}:v{self.model_version(node.name)}"
        self.outputs[node.name] = output
        inputs = self._inputs.get(node.name)
        self._pending.append((node.name, fingerprint, output, self._checksums.get(node.name, ""),
                              json.dumps(inputs), status, self.run_id))

    def model_version(self, name: str) -> int | None:
        try:
            rows = self.con.execute(f"SELECT max(version) FROM {STATE_SCHEMA}.model_versions "
                                    "WHERE lower(model_name) = lower(?)", [name]).fetchall()
        except duckdb.CatalogException:
            return None
        return rows[0][0]

    def save(self) -> None:
        """Record the fingerprints of the nodes this run built (reused nodes keep theirs)."""
        if not self._pending:
            return
        with transaction(self.con):
            self.con.executemany(
                f"INSERT OR REPLACE INTO {STATE_SCHEMA}.node_state (node, fingerprint, output, checksum, inputs, "
                "status, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)", self._pending)
        self._pending = []
