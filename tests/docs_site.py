"""A small built project for the docs site's tests: iris with a binary classifier, a multi-class tree model with
global explanation, KMEANS, a prediction table and a failing assertion; and a parser for the generated HTML."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import duckdb
from conftest import IRIS_PYPROJECT, invoke, write_files

FILES = {
    "pyproject.toml": IRIS_PYPROJECT,
    "models/staging/iris_features.sql": (
        "{{ config(materialized='table', tags=['staging'], assertions=["
        "accepted_values('species', ['setosa', 'versicolor'], severity='warn')]) }}\n"
        "select *, {{ hash_split('flower_id', train=0.6, eval=0.2, test=0.2) }} as split\n"
        "from (select row_number() over () as flower_id, *, species = 'virginica' as is_virginica "
        "from {{ source('raw', 'iris') }})\n"),
    "models/ml/virginica.sql": (
        "CREATE OR REPLACE MODEL virginica OPTIONS (model_type = 'logistic_reg', "
        "input_label_cols = ['is_virginica'], data_split_method = 'no_split')\n"
        "AS SELECT sepal_length, sepal_width, is_virginica FROM {{ ref('iris_features') }}\n"),
    "models/ml/species_trees.sql": (
        "CREATE OR REPLACE MODEL species_trees OPTIONS (model_type = 'boosted_tree_classifier', "
        "input_label_cols = ['species'], data_split_method = 'no_split', max_iterations = 5, "
        "enable_global_explain = TRUE)\n"
        "AS SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM {{ ref('iris_features') }}\n"),
    "models/ml/flower_clusters.sql": (
        "CREATE OR REPLACE MODEL flower_clusters OPTIONS (model_type = 'kmeans', num_clusters = 3)\n"
        "AS SELECT petal_length, petal_width, sepal_length FROM {{ ref('iris_features') }}\n"),
    "models/ml/flower_components.sql": (
        "CREATE OR REPLACE MODEL flower_components OPTIONS (model_type = 'pca', num_principal_components = 3)\n"
        "AS SELECT sepal_length, sepal_width, petal_length, petal_width FROM {{ ref('iris_features') }}\n"),
    "models/predictions/virginica_predictions.sql": (
        "select * from ML.PREDICT(MODEL {{ ref('virginica') }}, (select * from {{ ref('iris_features') }}))\n"),
    "models/monitoring/species_drift.sql": (
        "select * from ML.VALIDATE_DATA_DRIFT((select sepal_length, species from {{ ref('iris_features') }} "
        "where flower_id <= 100), (select sepal_length, species from {{ ref('iris_features') }} "
        "where flower_id > 100), STRUCT(0.05 AS numerical_default_threshold))\n"),
}
MODELS = ("virginica", "species_trees", "flower_clusters", "flower_components")
# The charts each model's page must show (data-chart="<model>-<name>").
CHARTS = {
    "virginica": ("metrics", "loss", "roc", "pr", "confusion", "weights", "split", "versions"),
    "species_trees": ("metrics", "loss", "confusion", "importance", "explain", "split", "versions"),
    "flower_clusters": ("metrics", "loss", "centroids", "split", "versions"),
    "flower_components": ("metrics", "loss", "components", "split", "versions"),
}


def built_iris_project(folder: Path) -> Path:
    """The project written into `folder`, its warehouse holding raw.iris, built (the assertion warns), and model
    virginica trained twice."""
    from sklearn.datasets import load_iris

    write_files(folder, FILES)
    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"]
    frame["species"] = frame["target"].map(dict(enumerate(load_iris().target_names)))
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("create schema raw; create table raw.iris as select * exclude (target) from frame")
    con.close()
    result = invoke(folder, "build")
    assert result.exit_code == 0, result.output
    result = invoke(folder, "build", "--select", "virginica")  # a second version of one model
    assert result.exit_code == 0, result.output
    return folder


class Page(HTMLParser):
    """A generated page's links, element ids, chart ids and tables (each a list of rows of cell texts)."""

    def __init__(self, text: str):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.charts: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "id" in found:
            self.ids.add(found["id"] or "")
        if tag == "a" and found.get("href"):
            self.links.append(found["href"] or "")
        if tag == "svg" and found.get("data-chart"):
            self.charts.append(found["data-chart"] or "")
        if tag == "path" and found.get("data-from"):
            self.edges.append((found["data-from"] or "", found.get("data-to") or ""))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def table_starting(self, header: str) -> list[list[str]]:
        """The first table whose first header cell is `header`."""
        return next(table for table in self.tables if table and table[0][0] == header)


def read_page(path: Path) -> Page:
    return Page(path.read_text(encoding="utf-8"))
