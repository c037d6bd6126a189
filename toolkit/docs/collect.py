"""What the docs site shows of the project and the warehouse's catalog, read once into plain records.

The warehouse is opened read-only: columns and types come from DuckDB's catalog (information_schema.columns),
run statuses and assertion verdicts from the `_toolkit` state tables (toolkit.warehouse.state). A warehouse that
does not exist yet, or was never built, gives nodes without columns or statuses."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
from sqlglot import exp

from toolkit.config import STATE_SCHEMA
from toolkit.project.load import Project
from toolkit.project.nodes import Node, NodeKind
from toolkit.sql.quoting import column_ref, relation, render

SOURCE = "source"  # the kind of a graph node that is a source table, not a model file
SAMPLE_ROWS = 5  # failing rows shown per assertion
DRIFT_COLUMNS = ("input", "metric", "threshold", "value", "is_anomaly")  # ML.VALIDATE_DATA_DRIFT's output
DRIFT_ROWS = 100  # rows of a drift table charted on its node's page


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class RunStatus:
    status: str
    rows: int | None
    seconds: float
    message: str | None
    started_at: str


@dataclass(frozen=True)
class AssertionResult:
    assertion: str
    test: str
    severity: str
    status: str
    failing_rows: int | None
    message: str | None
    samples: list[dict[str, Any]]


@dataclass(frozen=True)
class NodeDoc:
    """One node of the lineage graph: a model file's node, or a source table it reads."""

    name: str  # unique in the graph: a node's name, or `schema.table` for a source
    kind: str  # a NodeKind value, or SOURCE
    materialized: str
    relation: str
    path: str
    tags: tuple[str, ...]
    upstream: tuple[str, ...]  # names of the graph nodes it reads
    sql: str
    columns: list[Column] = field(default_factory=list)
    run: RunStatus | None = None
    assertions: list[AssertionResult] = field(default_factory=list)
    uses_models: tuple[str, ...] = ()
    data_calls: tuple[str, ...] = ()
    drift: list[dict[str, Any]] = field(default_factory=list)  # the ML.VALIDATE_DATA_DRIFT rows it published

    @property
    def slug(self) -> str:
        return slug(self.name)


def slug(name: str) -> str:
    """A page's file name for a node or model name: lower case, anything but letters, digits, `-`, `_` and `.` as
    `_` (a source keeps its dot, `raw.iris`, so it never shares a page with a node named `raw_iris`)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name.lower())


def collect_nodes(project: Project, con: duckdb.DuckDBPyConnection | None) -> dict[str, NodeDoc]:
    """Every node and source of the project, in the project's build order (sources first)."""
    columns = _catalog_columns(con) if con is not None else {}
    runs = _latest_runs(con) if con is not None and _has_table(con, "run_results") else {}
    verdicts = _latest_assertions(con) if con is not None and _has_table(con, "assertion_results") else {}
    docs: dict[str, NodeDoc] = {}
    ordered = [project.nodes[name] for name in project.graph.order()]
    published = {(node.schema.casefold(), node.name.casefold()) for node in ordered}
    sources = {node.name: _read_tables(node, published) for node in ordered}
    for schema, table in sorted({source for read in sources.values() for source in read}):
        name = f"{schema}.{table}"
        docs[name] = NodeDoc(name=name, kind=SOURCE, materialized="source", relation=name, path="", tags=(),
                             upstream=(), sql="", columns=columns.get((schema.lower(), table.lower()), []))
    for node in ordered:
        docs[node.name] = NodeDoc(
            name=node.name, kind=node.kind.value, materialized=node.materialized.value, relation=node.qualified_name,
            path=node.relative_path.as_posix(), tags=node.tags,
            upstream=tuple(dict.fromkeys([*node.depends_on, *(f"{s}.{t}" for s, t in sources[node.name])])),
            sql=node.sql, columns=[] if node.kind is NodeKind.ML_MODEL else
            columns.get((node.schema.lower(), node.name.lower()), []),
            run=runs.get(node.name.lower()), assertions=verdicts.get(node.name.lower(), []),
            uses_models=node.uses_models, data_calls=node.data_calls,
        )
        if con is not None and "VALIDATE_DATA_DRIFT" in node.data_calls:
            docs[node.name] = replace(docs[node.name], drift=_drift_rows(con, node, docs[node.name].columns))
    return docs


def _drift_rows(con: duckdb.DuckDBPyConnection, node: Node, columns: list[Column]) -> list[dict[str, Any]]:
    """The drift results a node published, when its table kept ML.VALIDATE_DATA_DRIFT's columns."""
    if not set(DRIFT_COLUMNS) <= {column.name.lower() for column in columns}:
        return []
    select = exp.select(*(column_ref(name) for name in DRIFT_COLUMNS)).from_(
        relation(node.schema, node.name)).limit(DRIFT_ROWS)
    return [dict(zip(DRIFT_COLUMNS, row)) for row in con.execute(render(select)).fetchall()]


def _read_tables(node: Node, published: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The source tables a node reads: `source()` calls and tables named directly that no node publishes."""
    return [*node.sources, *(n for n in node.named if (n[0].casefold(), n[1].casefold()) not in published)]


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    rows = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [STATE_SCHEMA, table]).fetchall()
    return rows[0][0] > 0


def _catalog_columns(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], list[Column]]:
    rows = con.execute(
        "SELECT lower(table_schema), lower(table_name), column_name, data_type FROM information_schema.columns "
        "WHERE table_schema <> ? ORDER BY table_schema, table_name, ordinal_position", [STATE_SCHEMA]).fetchall()
    found: dict[tuple[str, str], list[Column]] = {}
    for schema, table, column, data_type in rows:
        found.setdefault((schema, table), []).append(Column(column, data_type))
    return found


def _latest_runs(con: duckdb.DuckDBPyConnection) -> dict[str, RunStatus]:
    rows = con.execute(
        f"SELECT lower(node), status, rows, seconds, message, started_at FROM {STATE_SCHEMA}.run_results "
        "QUALIFY row_number() OVER (PARTITION BY lower(node) ORDER BY started_at DESC) = 1").fetchall()
    return {node: RunStatus(status, rows_, seconds, message, started.isoformat(sep=" ", timespec="seconds"))
            for node, status, rows_, seconds, message, started in rows}


def _latest_assertions(con: duckdb.DuckDBPyConnection) -> dict[str, list[AssertionResult]]:
    """Each node's assertion verdicts of the latest run that checked them."""
    rows = con.execute(
        f"SELECT lower(a.node), a.assertion, a.test, a.severity, a.status, a.failing_rows, a.message, a.samples "
        f"FROM {STATE_SCHEMA}.assertion_results a JOIN {STATE_SCHEMA}.runs r USING (run_id) "
        "QUALIFY row_number() OVER (PARTITION BY lower(a.node), a.assertion ORDER BY r.started_at DESC) = 1 "
        "ORDER BY a.assertion").fetchall()
    found: dict[str, list[AssertionResult]] = {}
    for node, assertion, test, severity, status, failing, message, samples in rows:
        sample_rows = json.loads(samples) if samples else []
        found.setdefault(node, []).append(AssertionResult(assertion, test, severity, status, failing, message,
                                                          sample_rows[:SAMPLE_ROWS]))
    return found
