"""BigQuery's `project.dataset.table` names and the warehouse's `schema.table`: datasets map to schemas through
`[tool.toolkit.bigquery] datasets` (a dataset not listed is the schema of its own name); the project, when given,
is the only one a model file may name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.ml_nodes import MLFunction


@dataclass(frozen=True)
class Datasets:
    """How BigQuery's names meet the warehouse's: `project` (None: any), and dataset → schema."""

    project: str | None = None
    schemas: Mapping[str, str] = field(default_factory=dict)

    def schema_of(self, dataset: str) -> str:
        return self.schemas.get(dataset, dataset)

    def dataset_of(self, schema: str) -> str:
        """The dataset a schema deploys to (the mapping is one to one, checked with the settings)."""
        return next((dataset for dataset, mapped in self.schemas.items() if mapped == schema), schema)


def in_schema(node: exp.Table | exp.Column, datasets: Datasets) -> exp.Expression:
    """A `project.dataset.table` (or `dataset.table`) name, or a column qualified by one, as `schema.table`; a
    table function's name (ML.PREDICT's `ML`) stays."""
    if isinstance(node, exp.Column) and not node.args.get("db"):
        return node
    if isinstance(node, exp.Table) and isinstance(node.this, MLFunction):
        return node
    _rename_parts(node, "catalog", "db", datasets)
    return node


def _rename_parts(node: exp.Expression, catalog_key: str, db_key: str, datasets: Datasets) -> None:
    catalog, db = node.args.get(catalog_key), node.args.get(db_key)
    if catalog is not None:
        if datasets.project is not None and catalog.name != datasets.project:
            raise Untranslatable(
                f"`{catalog.name}.{db.name if db else ''}…` names the project {catalog.name}, but this project's "
                f"BigQuery project is {datasets.project}", node,
                hint="name tables by dataset (`dataset.table`), or set [tool.toolkit.bigquery].project")
        node.set(catalog_key, None)
    if db is not None:
        node.set(db_key, exp.to_identifier(datasets.schema_of(db.name), quoted=True))
