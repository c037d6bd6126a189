"""`toolkit ls` and `toolkit models` as tables that fit the console, one record per line when it is narrow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from toolkit.display.fit import Cell, left, print_fitted, right
from toolkit.project.nodes import Node

if TYPE_CHECKING:
    from toolkit.ml.store.versions import ModelSummary

NODE_COLUMNS = [left("node"), left("kind"), left("materialized", drop=3), left("relation", drop=1),
                left("tags", wrap=True, drop=2), left("depends on", wrap=True), left("file", drop=4)]


def _dependencies(node: Node) -> str:
    return ", ".join(node.depends_on + tuple(f"{schema}.{table}" for schema, table in node.sources))


def _node_record(row: Sequence[Cell]) -> list[Text]:
    node, kind, materialized, _relation, tags, depends_on, path = map(str, row)
    segments = [Text(node, style="bold"), Text(f"{kind}, {materialized}")]
    if depends_on:
        segments.append(Text(f"← {depends_on}"))
    if tags:
        segments.append(Text(f"tags: {tags}", style="dim"))
    return [*segments, Text(path, style="dim")]


def print_nodes(console: Console, nodes: Sequence[Node]) -> None:
    rows = [(node.name, node.kind.value, node.materialized.value, node.qualified_name, ", ".join(node.tags),
             _dependencies(node), str(node.relative_path)) for node in nodes]
    print_fitted(console, NODE_COLUMNS, rows, record=_node_record)


MODEL_COLUMNS = [left("model"), left("type"), right("version", drop=4), left("trained", drop=1),
                 right("rows", drop=2), left("metrics"), left("ML.PREDICT", wrap=True, drop=3)]


def _model_record(row: Sequence[Cell]) -> list[Text]:
    model, model_type, version, trained, rows, metrics, prediction = map(str, row)
    return [Text(model, style="bold"), Text(model_type), Text(f"version {version}"), Text(f"{rows} rows"),
            Text(f"trained {trained}", style="dim"), *(Text(metric) for metric in metrics.splitlines()),
            Text(f"ML.PREDICT: {prediction}", style="dim")]


def print_models(console: Console, summaries: Sequence[ModelSummary]) -> None:
    from toolkit.ml.metrics import headline  # scikit-learn loads only for this command

    rows = []
    for s in summaries:
        version = f"{s.latest_version} of {s.versions}" if s.versions > 1 else str(s.latest_version)
        metrics = "\n".join(headline(s.metrics).split(", "))  # one metric a line: a name never parts from its value
        rows.append((s.name, s.model_type, version, s.created_at.strftime("%Y-%m-%d %H:%M"), f"{s.training_rows:,}",
                     metrics, s.prediction))
    print_fitted(console, MODEL_COLUMNS, rows, title="Models", record=_model_record)
