"""`toolkit docs generate`: the static site under target/docs/, which works from file:// with no network.

    index.html                 the lineage graph (each box links to its node page), the nodes and the models
    nodes/<node>.html          rendered SQL, columns and types, tags, latest run, assertion results
    models/<model>.html        the model report: metrics, loss, ROC / PR, confusion matrix, importance, centroids, …
    assets/                    style.css, search.js and search-index.js (the search index as a script, since
                               browsers refuse to fetch() a JSON file next to a page opened from file://)

Charts are inline SVG drawn by matplotlib (toolkit.docs.charts); the only script is the search box's."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import jinja2

from toolkit import __version__
from toolkit.checks.split_report import SplitReport
from toolkit.docs.collect import SOURCE, NodeDoc, collect_nodes, slug
from toolkit.docs.lineage import lineage_svg
from toolkit.docs.models import ModelDoc, collect_model, stored_models
from toolkit.docs.report import Section, model_sections, node_sections
from toolkit.docs.splits import split_reports, split_section
from toolkit.errors import ToolkitError
from toolkit.project.load import Project
from toolkit.warehouse.connection import open_reader

HERE = Path(__file__).resolve().parent
ASSETS = ("style.css", "search.js")
LEGEND = (("source", "source"), ("model", "table or view"), ("assertion", "assertion"), ("ml_model", "model"),
          ("ml_call", "ML.* results"))


@dataclass(frozen=True)
class Site:
    folder: Path
    pages: int
    models: int
    seconds: float


def _headline(metrics: dict[str, Any]) -> str:
    from toolkit.ml.metrics import headline

    return headline(metrics)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                     undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    environment.filters.update(slug=slug, headline=_headline, cell=_cell)
    return environment


def generate_site(project: Project, folder: Path) -> Site:
    """Write the site for `project` into `folder` (replaced whole), reading its warehouse read-only."""
    started = time.perf_counter()
    settings = project.settings
    con = open_reader(settings.warehouse, settings.lock_timeout) if settings.warehouse.is_file() else None
    try:
        nodes = collect_nodes(project, con)
        models, unreadable, drawn, splits = (_read_models_and_splits(con, project, nodes) if con is not None
                                             else ([], {}, {}, {}))
        built = con is not None and any(node.run is not None for node in nodes.values())
    finally:
        if con is not None:
            con.close()
    if folder.exists():
        if any(folder.iterdir()) and not (folder / "assets" / "search-index.js").is_file():
            raise ToolkitError(f"{folder} holds files that are not a docs site, which generating would delete",
                               hint="move them away, or set [tool.toolkit].target to another folder")
        shutil.rmtree(folder)
    (folder / "assets").mkdir(parents=True)
    (folder / "nodes").mkdir()
    (folder / "models").mkdir()
    for asset in ASSETS:
        shutil.copyfile(HERE / "assets" / asset, folder / "assets" / asset)
    environment = _environment()
    common = {"project_name": settings.project_dir.resolve().name, "version": __version__,
              "warehouse": settings.warehouse.name, "generated_at": datetime.now().strftime("%Y-%m-%d %H:%M")}
    kinds = {name: _graph_kind(node) for name, node in nodes.items()}
    graph = lineage_svg({name: node.upstream for name, node in nodes.items()}, kinds,
                        {name: f"nodes/{node.slug}.html" for name, node in nodes.items()})
    _write(folder / "index.html", environment.get_template("index.html").render(
        **common, root="", title="Lineage", graph=graph, nodes=list(nodes.values()), models=models, built=built,
        legend=LEGEND, unreadable=unreadable))
    model_pages = {model.name.lower() for model in models}
    downstream: dict[str, list[str]] = {name: [] for name in nodes}
    for name, node in nodes.items():
        for parent in node.upstream:
            downstream.setdefault(parent, []).append(name)
    template = environment.get_template("node.html")
    for name, node in nodes.items():
        model = name if node.kind == "ml_model" and name.lower() in model_pages else None
        _write(folder / "nodes" / f"{node.slug}.html", template.render(
            **common, root="../", title=name, node=node, downstream=downstream[name], model=model,
            model_pages=model_pages,
            sections=node_sections(node) + ([split_section(name, splits[name])] if name in splits else [])))
    template = environment.get_template("model.html")
    for model in models:
        node_page = slug(model.name) if model.name in nodes else None
        _write(folder / "models" / f"{slug(model.name)}.html", template.render(
            **common, root="../", title=model.name, model=model, sections=drawn[model.name], node_page=node_page))
    _write(folder / "assets" / "search-index.js",
           "window.TOOLKIT_SEARCH_INDEX = " + json.dumps(search_index(nodes, models), indent=0) + ";\n")
    return Site(folder, 1 + len(nodes) + len(models), len(models), time.perf_counter() - started)


def _read_models_and_splits(con: duckdb.DuckDBPyConnection, project: Project, nodes: dict[str, NodeDoc]
                            ) -> tuple[list[ModelDoc], dict[str, str], dict[str, list[Section]], dict[str, SplitReport]]:
    """The model reports with their charts drawn, and the split reports, side by side: the split reports are a few
    scans DuckDB runs in its own threads (on a cursor of their own, without the GIL) while Python loads the models
    and matplotlib draws their charts."""
    cursor = con.cursor()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            splits = pool.submit(split_reports, cursor, project, nodes)
            models, unreadable = _models(con, project)
            drawn = {model.name: model_sections(model) for model in models}
            return models, unreadable, drawn, splits.result()
    finally:
        cursor.close()


def _models(con: duckdb.DuckDBPyConnection, project: Project) -> tuple[list[ModelDoc], dict[str, str]]:
    """The stored models the project trains, in the project's order (a stored model without a file is left out),
    and why a model could not be read (e.g. trained with another scikit-learn): it gets no report, not no site."""
    stored = {name.lower(): name for name in stored_models(con)}
    wanted = [stored[name.lower()] for name, node in project.nodes.items()
              if node.kind.value == "ml_model" and name.lower() in stored]
    models: list[ModelDoc] = []
    unreadable: dict[str, str] = {}
    for name in wanted:
        try:
            models.append(collect_model(con, name))
        except ToolkitError as error:
            unreadable[name] = error.message + (f" ({error.hint})" if error.hint else "")
    return models, unreadable


def _graph_kind(node: NodeDoc) -> str:
    if node.kind == SOURCE or node.kind in ("assertion", "ml_model"):
        return node.kind
    return "ml_call" if node.uses_models or node.data_calls else "model"


def search_index(nodes: dict[str, NodeDoc], models: list[ModelDoc]) -> list[dict[str, str]]:
    """One entry per node, model and column: its name, kind and page (relative to the site's root)."""
    entries: list[dict[str, str]] = []
    for node in nodes.values():
        entries.append({"name": node.name, "kind": node.kind, "url": f"nodes/{node.slug}.html"})
        for column in node.columns:
            entries.append({"name": column.name, "kind": "column", "node": node.name, "type": column.type,
                            "url": f"nodes/{node.slug}.html#col-{column.name}"})
    for model in models:
        entries.append({"name": model.name, "kind": f"model report ({model.model_type})",
                        "url": f"models/{slug(model.name)}.html"})
    return entries


def _write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
