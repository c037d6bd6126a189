"""Incremental models (https://docs.getdbt.com/docs/build/incremental-models) applied atomically: in one explicit
transaction, the model's new rows (its query with is_incremental() true) are built under a temporary name, the
table's columns follow `on_schema_change`, the rows go in by the strategy (`append`, `delete+insert`, `merge`), the
table is audited, and the transaction commits only when the audit passes: a failure, an error or an interrupted
run leaves the previous table as it was, and nobody else ever sees a half-applied increment."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb
from sqlglot import exp

from toolkit.errors import WarehouseError
from toolkit.project.nodes import Node
from toolkit.sql.quoting import column_ref, identifier, relation, render, verbatim
from toolkit.warehouse.connection import applied
from toolkit.warehouse.materialize import TEMPORARY_PREFIX
from toolkit.warehouse.state import ensure_state_tables, record_published

NEW_ROWS_SUFFIX = "__new"


class Increment:
    """An incremental model's table with its new rows applied, inside an open transaction (see `incremented`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, node: Node):
        self.con, self.node = con, node
        self.target = relation(node.schema, node.name)
        self.relation = render(self.target)
        self.published = False
        self.added = 0  # rows the query gave

    def apply(self) -> None:
        settings = self.node.incremental
        assert settings is not None
        new = relation(self.node.schema, f"{TEMPORARY_PREFIX}{self.node.name}{NEW_ROWS_SUFFIX}")
        self.con.execute(render(exp.Create(this=new, kind="TABLE", replace=True,
                                           expression=exp.Paren(this=verbatim(f"{self.node.incremental_sql}\n")))))
        self.added = self.con.execute(render(exp.select(exp.Count(this=exp.Star())).from_(new.copy()))).fetchall()[0][0]
        columns = self._reconciled(new, settings.on_schema_change)
        missing = [key for key in settings.unique_key if key.casefold() not in {c.casefold() for c in columns}]
        if missing:
            raise WarehouseError(f"unique_key {missing[0]} is not a column of both the table and the query's new "
                                 f"rows (they share: {', '.join(columns)})", hint="name a column the query returns")
        if settings.strategy == "merge":
            self._check_one_row_per_key(new, settings.unique_key)
        for statement in STRATEGIES[settings.strategy](self.target, new, columns, settings.unique_key):
            self.con.execute(render(statement))
        self.con.execute(render(exp.Drop(tables=[new.copy()], kind="TABLE")))

    def _check_one_row_per_key(self, new: exp.Table, keys: tuple[str, ...]) -> None:
        """A merge takes one new row per key: which of two would win is undefined."""
        grouped = exp.select(*(column_ref(k) for k in keys), exp.Count(this=exp.Star())).from_(new.copy()).group_by(
            *(column_ref(k) for k in keys)).having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
        duplicate = self.con.execute(render(grouped.limit(1))).fetchall()
        if duplicate:
            *values, copies = duplicate[0]
            shown = ", ".join(f"{k} = {v!r}" for k, v in zip(keys, values))
            raise WarehouseError(f"the new rows hold {copies} rows for the unique_key {shown}: a merge takes one",
                                 hint="deduplicate the query's new rows, or use incremental_strategy='delete+insert'")

    def _reconciled(self, new: exp.Table, policy: str) -> list[str]:
        """The columns the new rows fill, after the table's columns follow `policy` (dbt's on_schema_change)."""
        old = _columns(self.con, self.target)
        incoming = _columns(self.con, new)
        added = [c for c in incoming if c.casefold() not in {o.casefold() for o in old}]
        removed = [c for c in old if c.casefold() not in {i.casefold() for i in incoming}]
        if (added or removed) and policy == "fail":
            raise WarehouseError(f"the query's columns changed: new {', '.join(added) or 'none'}; gone "
                                 f"{', '.join(removed) or 'none'} (on_schema_change='fail')",
                                 hint="set on_schema_change='append_new_columns' or 'sync_all_columns', or rebuild "
                                      "it once with config(full_refresh=true)")
        if policy in ("append_new_columns", "sync_all_columns"):
            for column in added:
                self.con.execute(render(exp.Alter(this=self.target.copy(), kind="TABLE", actions=[
                    exp.ColumnDef(this=identifier(column), kind=exp.DataType.build(incoming[column], dialect="duckdb"))])))
        if policy == "sync_all_columns":
            for column in removed:
                self.con.execute(render(exp.Alter(this=self.target.copy(), kind="TABLE", actions=[
                    exp.Drop(tables=[column_ref(column)], kind="COLUMN")])))
        kept = [c for c in old if c not in removed or policy == "ignore"]
        shared = [c for c in kept if c.casefold() in {i.casefold() for i in incoming}]
        return shared + (added if policy in ("append_new_columns", "sync_all_columns") else [])

    def publish(self) -> None:
        record_published(self.con, self.node.schema, self.node.name, self.node.name)
        self.published = True


@contextmanager
def incremented(con: duckdb.DuckDBPyConnection, node: Node) -> Iterator[Increment]:
    """Apply `node`'s new rows to its table in a transaction: committed when published, rolled back otherwise."""
    ensure_state_tables(con)
    with applied(con, lambda: Increment(con, node)) as increment:
        yield increment


def _columns(con: duckdb.DuckDBPyConnection, table: exp.Table) -> dict[str, str]:
    """Column → DuckDB type, in the table's order."""
    rows = con.execute(render(exp.Describe(this=table.copy()))).fetchall()
    return {row[0]: row[1] for row in rows}


Statements = Callable[[exp.Table, exp.Table, list[str], tuple[str, ...]], list[exp.Expression]]


def _insert(target: exp.Table, new: exp.Table, columns: list[str]) -> exp.Insert:
    listed = exp.Schema(this=target.copy(), expressions=[identifier(c) for c in columns])
    return exp.insert(exp.select(*(column_ref(c) for c in columns)).from_(new.copy()), listed)


def _append(target: exp.Table, new: exp.Table, columns: list[str], keys: tuple[str, ...]) -> list[exp.Expression]:
    return [_insert(target, new, columns)]


def _matches(keys: tuple[str, ...], left: str, right: str) -> exp.Expression:
    return exp.and_(*(exp.EQ(this=column_ref(k, left), expression=column_ref(k, right)) for k in keys))


def _delete_insert(target: exp.Table, new: exp.Table, columns: list[str],
                   keys: tuple[str, ...]) -> list[exp.Expression]:
    """Rows whose key the new rows have go, then every new row goes in (dbt's delete+insert)."""
    existing = exp.select(exp.Literal.number(1)).from_(new.copy().as_("n")).where(
        _matches(keys, "n", target.name))
    delete = exp.Delete(this=target.copy(), where=exp.Where(this=exp.Exists(this=existing)))
    return [delete, _insert(target, new, columns)]


def _merge(target: exp.Table, new: exp.Table, columns: list[str], keys: tuple[str, ...]) -> list[exp.Expression]:
    """MERGE on the key: matched rows take the new values, the others go in."""
    others = [c for c in columns if c.casefold() not in {k.casefold() for k in keys}]
    whens = []
    if others:
        update = exp.Update(expressions=[exp.EQ(this=column_ref(c), expression=column_ref(c, "n")) for c in others])
        whens.append(exp.When(matched=True, then=update))
    insert = exp.Insert(this=exp.Tuple(expressions=[column_ref(c) for c in columns]),
                        expression=exp.Tuple(expressions=[column_ref(c, "n") for c in columns]))
    whens.append(exp.When(matched=False, then=insert))
    return [exp.Merge(this=target.copy().as_("t"), using=new.copy().as_("n"), on=_matches(keys, "t", "n"),
                      whens=exp.Whens(expressions=whens))]


STRATEGIES: dict[str, Statements] = {"append": _append, "delete+insert": _delete_insert, "merge": _merge}
