"""The split report (toolkit.checks.split_report, what `toolkit split-report` prints) on the page of each built node
that calls hash_split(): rows per split, the label's distribution per split, each feature's distance from the
reference split. The label is the one a model trained downstream of the node predicts, when the node has it."""

from __future__ import annotations

from typing import Any

import duckdb

from toolkit.checks.split_report import SplitReport, node_split_report
from toolkit.docs import charts
from toolkit.docs.collect import NodeDoc
from toolkit.docs.report import Section, Table
from toolkit.errors import ToolkitError
from toolkit.project.load import Project
from toolkit.project.nodes import NodeKind

CATEGORICAL_TYPES = ("BOOLEAN", "VARCHAR")
SPLIT_COLUMN = "split"  # the column hash_split() is selected as in the standard macros' examples


def split_reports(con: duckdb.DuckDBPyConnection, project: Project,
                  nodes: dict[str, NodeDoc]) -> dict[str, SplitReport]:
    """The report of every built node with a hash_split() and a `split` column; others are left out."""
    reports: dict[str, SplitReport] = {}
    for name, node in project.nodes.items():
        columns = {column.name.lower(): column.type for column in nodes[name].columns}
        if node.kind is not NodeKind.MODEL or not node.hash_splits or SPLIT_COLUMN not in columns:
            continue
        labels = [label for label in _downstream_labels(project, name) if label.lower() in columns]
        # a class label first: its distribution per split is a chart, a number's only a table
        labels.sort(key=lambda label: columns[label.lower()] not in CATEGORICAL_TYPES)
        label = labels[0] if labels else None
        try:
            reports[name] = node_split_report(con, node, SPLIT_COLUMN, label)
        except ToolkitError:  # e.g. a split column of another type: the command line says why
            continue
    return reports


def _downstream_labels(project: Project, name: str) -> list[str]:
    labels: list[str] = []
    for model in sorted(project.graph.descendants(name)):
        create = project.nodes[model].create_model
        if create is not None:
            value = create.options.get("input_label_cols") or []
            labels += [value] if isinstance(value, str) else list(value)
    return labels


def split_section(name: str, report: SplitReport) -> Section:
    splits = [_name(s["split"]) for s in report.splits]
    made = [charts.bars(f"{name}-split-rows", "Rows per split", splits, [s["rows"] for s in report.splits], "rows")]
    tables = [Table(("split", "rows", "share"), [(_name(s["split"]), s["rows"], s["share"]) for s in report.splits])]
    if report.label and report.label_kind == "categorical" and report.label_distribution:
        values = list(dict.fromkeys(_name(d["value"]) for d in report.label_distribution))
        share = {(_name(d["split"]), _name(d["value"])): d["share"] for d in report.label_distribution}
        matrix = [[share.get((split, value)) for value in values] for split in splits]
        made.append(charts.heatmap(f"{name}-split-label", f"Share of each {report.label} value per split", splits,
                                   values, matrix, report.label, "split"))
        tables.append(Table((f"split \\ {report.label}", *values), [(s, *m) for s, m in zip(splits, matrix)]))
    if report.distances:
        features = list(dict.fromkeys(d["feature"] for d in report.distances))
        compared = list(dict.fromkeys(_name(d["split"]) for d in report.distances))
        distance = {(d["feature"], _name(d["split"])): d["distance"] for d in report.distances}
        matrix = [[distance.get((feature, split)) for split in compared] for feature in features]
        made.append(charts.heatmap(f"{name}-split-distances", f"Distance from {report.reference} (KS / L∞)",
                                   features, compared, matrix, "split", "feature"))
        tables.append(Table(("feature", *compared), [(f, *m) for f, m in zip(features, matrix)],
                            summary=f"the distances of {len(features)} features"))
    note = " ".join(report.warnings + report.notes)
    return Section("splits", f"Splits ({report.split_column})", made, tables, note=note)


def _name(value: Any) -> str:
    return "NULL" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
