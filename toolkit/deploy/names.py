"""The warehouse's `schema.table` as BigQuery's `project.dataset.table`: a schema deploys to the dataset
`[tool.toolkit.bigquery] datasets` maps to it (or the dataset of its own name), in the deploy project (or, when
there is none, the client's default project, by naming `dataset.table` only)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlglot import exp

from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.ml_nodes import MLFunction


@dataclass(frozen=True)
class Target:
    """Where a project deploys: its datasets, the BigQuery project (None: the client's default) and the schema
    unqualified names are read from."""

    datasets: Datasets
    project: str | None = None
    default_schema: str = "main"

    def dataset(self, schema: str) -> str:
        return self.datasets.dataset_of(schema)

    def table(self, schema: str, name: str) -> exp.Table:
        """`project`.`dataset`.`name` (or `dataset`.`name`) of the relation `schema.name`."""
        return exp.Table(this=exp.to_identifier(name, quoted=True), db=self._db(schema), catalog=self._catalog())

    def _db(self, schema: str) -> exp.Identifier:
        return exp.to_identifier(self.dataset(schema), quoted=True)

    def _catalog(self) -> exp.Identifier | None:
        return exp.to_identifier(self.project, quoted=True) if self.project else None

    def to_datasets(self, tree: exp.Expression, names_are_datasets: bool = False) -> exp.Expression:
        """Every table and column qualifier of `tree` named in BigQuery. `names_are_datasets`: the tree is a
        BigQuery file's, whose qualifiers are datasets (read as schemas the way the loader reads them)."""
        ctes = {cte.alias_or_name.casefold() for cte in tree.find_all(exp.CTE)}

        def schema_of(db: exp.Identifier) -> str:
            return self.datasets.schema_of(db.name) if names_are_datasets else db.name

        def rename(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Table) and not isinstance(node.this, (MLFunction, exp.Func)):
                if node.args.get("db") is None and (node.name.casefold() in ctes
                                                    or isinstance(node.parent, exp.UserDefinedFunction)):
                    return node  # a CTE's name, or a temporary function's
                self._qualify(node, "catalog", "db", schema_of, names_are_datasets)
            elif isinstance(node, exp.Column) and node.args.get("db") is not None:
                self._qualify(node, "catalog", "db", schema_of, names_are_datasets)
            return node

        return tree.transform(rename, copy=False)

    def _qualify(self, node: exp.Expression, catalog_key: str, db_key: str,
                 schema_of: Callable[[exp.Identifier], str], keep_other: bool) -> None:
        db, catalog = node.args.get(db_key), node.args.get(catalog_key)
        node.meta.pop("quoted_table", None)  # `project.dataset.table` as written: quoted part by part, as generated
        node.set(db_key, self._db(schema_of(db) if db is not None else self.default_schema))
        # a BigQuery file may name a table of a project of its own choosing when the settings name none: it stays
        foreign = keep_other and catalog is not None and self.datasets.project is None
        if not foreign:
            node.set(catalog_key, self._catalog())
