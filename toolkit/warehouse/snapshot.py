"""Snapshots applied atomically: a type-2 history of a query's rows, as dbt's snapshot materialization keeps it
(https://docs.getdbt.com/docs/build/snapshots, https://docs.getdbt.com/reference/snapshot-configs).

The first build creates the table: the query's rows with `dbt_scd_id` (an md5 of the unique key and the
updated_at value, as dbt's `snapshot_hash_arguments`), `dbt_updated_at` and `dbt_valid_from` (the row's
updated_at: its column for `strategy='timestamp'`, the snapshot's time for `'check'` unless updated_at is set),
and `dbt_valid_to` NULL (or `dbt_valid_to_current`). Each later build compares the query's rows with the current
ones (dbt_valid_to NULL) by `unique_key`:
- a new key gets a row;
- a changed row (timestamp: its updated_at is newer than the current row's dbt_valid_from; check: a check_cols
  value differs, NULLs compared as values, or a check column is new to the table) closes the current row
  (dbt_valid_to = the new row's updated_at) and gets a new one;
- a key gone from the query (a hard delete) is kept as it is (`hard_deletes='ignore'`), closed at the snapshot's
  time (`'invalidate'`, or the older `invalidate_hard_deletes=true`), or closed and followed by a row with
  `dbt_is_deleted = 'True'` (`'new_record'`; a key that comes back then gets a new row).
As in dbt's merge, a new row whose dbt_scd_id the table already holds is not inserted again. Columns new to the
query are added to the table; gone ones stay, NULL in new rows. Everything happens in one explicit transaction,
audited before it commits: an error, a failed assertion or an interrupted run leaves the previous history intact."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

import duckdb
from sqlglot import exp

from toolkit.errors import WarehouseError
from toolkit.project.nodes import Materialization, Node
from toolkit.sql.quoting import column_ref, identifier, literal, parse, relation, render, verbatim
from toolkit.warehouse.connection import applied
from toolkit.warehouse.materialize import TEMPORARY_PREFIX, existing_kind
from toolkit.warehouse.state import ensure_state_tables, record_published

META = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")  # dbt's names of a history's columns
IS_DELETED = "dbt_is_deleted"


@dataclass(frozen=True)
class MetaColumns:
    """The names of the columns a snapshot adds: dbt's, or those of its snapshot_meta_column_names."""

    scd_id: str = "dbt_scd_id"
    updated_at: str = "dbt_updated_at"
    valid_from: str = "dbt_valid_from"
    valid_to: str = "dbt_valid_to"
    is_deleted: str = IS_DELETED

    @classmethod
    def of(cls, node: Node) -> MetaColumns:
        renamed = dict(node.snapshot.meta_columns) if node.snapshot else {}
        return cls(**{field: renamed.get(f"dbt_{field}", default) for field, default in asdict(cls()).items()})

    @property
    def history(self) -> tuple[str, str, str, str]:
        """The four every history table has."""
        return self.scd_id, self.updated_at, self.valid_from, self.valid_to


def snapshot_time() -> datetime:
    """The snapshot's time (UTC, without time zone): dbt_valid_from of the check strategy, dbt_valid_to of
    hard deletes."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _folded(names: list[str]) -> set[str]:
    return {name.casefold() for name in names}


class History:
    """A snapshot's table with this run's changes applied, inside an open transaction (see `snapshotted`)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, node: Node):
        assert node.snapshot is not None
        self.con, self.node, self.settings = con, node, node.snapshot
        self.names = MetaColumns.of(node)
        self.target = relation(node.schema, node.name)
        self.relation = render(self.target)
        self.now = exp.cast(literal(snapshot_time().isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
        self.published = False
        self.inserted = self.closed = 0
        self.source: dict[str, str] = {}  # the query's columns and their types

    def _temporary(self, suffix: str) -> exp.Table:
        return relation(self.node.schema, f"{TEMPORARY_PREFIX}{self.node.name}__{suffix}")

    def _run(self, statement: exp.Expression) -> list[tuple]:
        return self.con.execute(render(statement)).fetchall()

    def apply(self) -> None:
        self.con.execute(render(exp.Create(this=identifier(self.node.schema), kind="SCHEMA", exists=True)))
        rows = self._temporary("rows")
        self._run(exp.Create(this=rows, kind="TABLE", replace=True,
                             expression=exp.Paren(this=verbatim(f"{self.node.sql}\n"))))
        self.source = _columns(self.con, rows)
        self._check_query(rows)
        if existing_kind(self.con, self.node.schema, self.node.name) is not None:
            self._update(rows)
        else:
            self._create(rows)
        self._run(exp.Drop(tables=[rows.copy()], kind="TABLE"))

    # --- checks ----------------------------------------------------------------------------------
    def _check_query(self, rows: exp.Table) -> None:
        n = self.names
        settings, names = self.settings, list(self.source)
        needed = [*settings.unique_key, *([settings.updated_at] if settings.updated_at else []),
                  *(settings.check_cols or ())]
        missing = [column for column in needed if column.casefold() not in _folded(names)]
        if missing:
            role = ("unique_key" if missing[0] in settings.unique_key else
                    "updated_at" if missing[0] == settings.updated_at else "check_cols")
            hint = "name a column of the query"
            if role == "unique_key" and not missing[0].isidentifier():
                hint = ("unique_key takes column names: for a key of several columns write unique_key=['a', 'b'] "
                        "(or compute the expression as a column of the query)")
            raise WarehouseError(f"{role} names the column {missing[0]}, which the snapshot's query does not return "
                                 f"(it returns {', '.join(names)})", hint=hint)
        clashing = [column for column in names if column.casefold() in _folded([*n.history, n.is_deleted])]
        if clashing:
            raise WarehouseError(f"the snapshot's query returns {clashing[0]}, a column the snapshot adds itself",
                                 hint="rename or leave out that column")
        keys = [column_ref(key) for key in settings.unique_key]
        nulls = self._run(exp.select(exp.Count(this=exp.Star())).from_(rows.copy()).where(
            exp.or_(*(exp.Is(this=key.copy(), expression=exp.Null()) for key in keys))))[0][0]
        if nulls:
            raise WarehouseError(f"the snapshot's query returns {nulls} row(s) whose unique_key "
                                 f"({', '.join(settings.unique_key)}) is NULL", hint="filter them out or fix the key")
        twice = self._run(exp.select(*keys, exp.Count(this=exp.Star())).from_(rows.copy()).group_by(
            *(key.copy() for key in keys)).having(exp.GT(this=exp.Count(this=exp.Star()),
                                                         expression=exp.Literal.number(1))).limit(1))
        if twice:
            *values, copies = twice[0]
            shown = ", ".join(f"{k} = {v!r}" for k, v in zip(settings.unique_key, values))
            raise WarehouseError(f"the snapshot's query returns {copies} rows for the unique_key {shown}: "
                                 "a snapshot takes one row per key", hint="deduplicate the query, or widen unique_key")

    # --- the expressions of dbt's strategies -----------------------------------------------------
    def _updated_at(self, alias: str) -> exp.Expression:
        """The row's updated_at: its column, or (check without updated_at) the snapshot's time."""
        if self.settings.updated_at:
            return column_ref(self.settings.updated_at, alias)
        return self.now.copy()

    def _scd_id(self, parts: list[exp.Expression]) -> exp.Expression:
        """md5(coalesce(cast(a as varchar), '') || '|' || …), dbt's snapshot_hash_arguments."""
        pieces: list[exp.Expression] = []
        for part in parts:
            if pieces:
                pieces.append(literal("|"))
            pieces.append(exp.Coalesce(this=exp.cast(part, exp.DataType.Type.VARCHAR), expressions=[literal("")]))
        joined = pieces[0]
        for piece in pieces[1:]:
            joined = exp.DPipe(this=joined, expression=piece, safe=True)
        return exp.MD5(this=joined)

    def _valid_to_current(self, updated_at: exp.Expression) -> exp.Expression:
        """dbt_valid_to of a current row: NULL of updated_at's type, or dbt_valid_to_current."""
        empty = exp.Nullif(this=updated_at.copy(), expression=updated_at.copy())
        if self.settings.valid_to_current is None:
            return empty
        return exp.Coalesce(this=empty, expressions=[parse(self.settings.valid_to_current)])

    def _is_current(self, alias: str | None) -> exp.Expression:
        n = self.names
        valid_to = column_ref(n.valid_to, alias)
        current: exp.Expression = exp.Is(this=valid_to, expression=exp.Null())
        if self.settings.valid_to_current is not None:
            current = exp.or_(current, exp.EQ(this=valid_to.copy(), expression=parse(self.settings.valid_to_current)))
        return exp.paren(current)

    def _changed(self, existing: list[str]) -> exp.Expression:
        """dbt's row_changed, current row `c` against the query's row `s`."""
        n = self.names
        if self.settings.strategy == "timestamp":
            return exp.LT(this=column_ref(n.valid_from, "c"), expression=column_ref(self.settings.updated_at, "s"))
        columns = list(self.settings.check_cols or self.source)
        if any(column.casefold() not in _folded(existing) for column in columns):
            return exp.true()  # a check column new to the table: every row is a new version, as in dbt
        return exp.paren(exp.or_(*(exp.NullSafeNEQ(this=column_ref(c, "c"), expression=column_ref(c, "s"))
                                   for c in columns)))

    def _meta(self, alias: str, deleted: bool) -> dict[str, exp.Expression]:
        n = self.names
        updated_at = self._updated_at(alias)
        meta = {n.scd_id: self._scd_id([*(column_ref(k, alias) for k in self.settings.unique_key), updated_at]),
                n.updated_at: updated_at.copy(), n.valid_from: updated_at.copy(),
                n.valid_to: self._valid_to_current(updated_at)}
        if self.settings.hard_deletes == "new_record":
            meta[n.is_deleted] = literal("True" if deleted else "False")
        return meta

    # --- the first build and the later ones ------------------------------------------------------
    def _create(self, rows: exp.Table) -> None:
        meta = self._meta("s", False)
        select = exp.select(exp.Star(), *(value.as_(identifier(name)) for name, value in meta.items()))
        self._run(exp.Create(this=self.target.copy(), kind="TABLE",
                             expression=select.from_(rows.copy().as_("s"))))
        self.inserted = self._run(exp.select(exp.Count(this=exp.Star())).from_(rows.copy()))[0][0]

    def _update(self, rows: exp.Table) -> None:
        n = self.names
        old = self._reconciled()
        table = _columns(self.con, self.target.copy())
        inserts, closes = self._changes(rows, old, list(table),
                                        exp.DataType.build(_typed(table, n.valid_to), dialect="duckdb"))
        staged_inserts, staged_closes = self._temporary("inserts"), self._temporary("closes")
        for staged, selects in ((staged_inserts, inserts), (staged_closes, closes)):
            query = selects[0] if len(selects) == 1 else exp.union(*selects, distinct=False)
            self._run(exp.Create(this=staged.copy(), kind="TABLE", replace=True, expression=query))
        self._apply(staged_inserts, staged_closes, list(table))
        for staged in (staged_inserts, staged_closes):
            self._run(exp.Drop(tables=[staged.copy()], kind="TABLE"))

    def _reconciled(self) -> list[str]:
        """The table's columns before this run, once it has the query's new ones (and dbt_is_deleted)."""
        n = self.names
        old = list(_columns(self.con, self.target.copy()))
        if not _folded(list(n.history)) <= _folded(old):
            missing = [name for name in n.history if name.casefold() not in _folded(old)]
            raise WarehouseError(f"{self.node.qualified_name} is not a snapshot's table: it has no "
                                 f"{', '.join(missing)} column",
                                 hint=f"drop it if it may go (DROP TABLE {self.relation}), or rename the snapshot")
        if self.settings.hard_deletes == "new_record" and n.is_deleted.casefold() not in _folded(old):
            self._add_column(n.is_deleted, "VARCHAR")  # the rows kept so far are not deletion records
            self._run(exp.Update(this=self.target.copy(),
                                 expressions=[exp.EQ(this=column_ref(n.is_deleted), expression=literal("False"))]))
        for column in [c for c in self.source if c.casefold() not in _folded(old)]:
            self._add_column(column, self.source[column])
        return old

    def _changes(self, rows: exp.Table, old: list[str], columns: list[str],
                 valid_to_type: exp.DataType) -> tuple[list[exp.Select], list[exp.Select]]:
        """The queries of the rows to insert (with the table's `columns`) and of the current rows to close (their
        dbt_scd_id and dbt_valid_to), the query's rows `s` against the current ones `c`."""
        n = self.names
        keys = self.settings.unique_key
        current = exp.select(exp.Star()).from_(self.target.copy()).where(self._is_current(None))
        on = exp.and_(*(exp.EQ(this=column_ref(k, "c"), expression=column_ref(k, "s")) for k in keys))
        absent = lambda alias: exp.Is(this=column_ref(keys[0], alias), expression=exp.Null())  # noqa: E731
        deleted = (exp.EQ(this=column_ref(n.is_deleted, "c"), expression=literal("True"))
                   if self.settings.hard_deletes == "new_record" else None)
        changed = self._changed(old)
        if deleted is not None:  # a key that comes back after its deletion record gets a new row
            changed = exp.or_(changed, deleted.copy())
        joined = lambda kind: exp.select().from_(rows.copy().as_("s")).join(  # noqa: E731
            current.copy().subquery("c"), on=on.copy(), join_type=kind)
        # New keys and new versions, NULL in the columns the query no longer has …
        meta = self._meta("s", False)
        values = [meta.get(c, column_ref(c, "s") if c.casefold() in _folded(list(self.source)) else exp.Null())
                  for c in columns]
        inserts = [joined("LEFT").select(*(v.as_(identifier(c)) for c, v in zip(columns, values))).where(
            exp.or_(absent("c"), changed.copy()))]
        # … closing their current versions at the new version's updated_at …
        closes = [joined("INNER").select(column_ref(n.scd_id, "c").as_(n.scd_id),
                                         exp.cast(self._updated_at("s"), valid_to_type).as_(n.valid_to)).where(changed)]
        if self.settings.hard_deletes != "ignore":  # … and the keys gone from the query at the snapshot's time
            gone = exp.select().from_(current.subquery("c")).join(rows.copy().as_("s"), on=on, join_type="LEFT").where(
                exp.and_(absent("s"), *([exp.not_(deleted.copy())] if deleted is not None else [])))
            closes.append(gone.copy().select(column_ref(n.scd_id, "c").as_(n.scd_id),
                                             exp.cast(self.now.copy(), valid_to_type).as_(n.valid_to)))
            if deleted is not None:  # each followed by a deletion record
                record = {n.scd_id: self._scd_id([column_ref(n.scd_id, "c"), self.now.copy()]),
                          n.updated_at: self.now.copy(), n.valid_from: self.now.copy(),
                          n.valid_to: column_ref(n.valid_to, "c"), n.is_deleted: literal("True")}
                inserts.append(gone.select(*(record.get(c, column_ref(c, "c")).as_(identifier(c)) for c in columns)))
        return inserts, closes

    def _apply(self, inserts: exp.Table, closes: exp.Table, columns: list[str]) -> None:
        """dbt's merge on dbt_scd_id: current rows matched by a close get its dbt_valid_to; rows to insert whose
        dbt_scd_id the table does not hold go in."""
        n = self.names
        own = self.node.name
        matched = exp.EQ(this=column_ref(n.scd_id, own), expression=column_ref(n.scd_id, "x"))
        self.closed = self._run(exp.Update(
            this=self.target.copy(),
            expressions=[exp.EQ(this=column_ref(n.valid_to), expression=column_ref(n.valid_to, "x"))],
            from_=exp.From(this=closes.copy().as_("x")), where=exp.Where(this=exp.and_(matched, self._is_current(own)))
        ))[0][0]
        held = exp.select(exp.Literal.number(1)).from_(self.target.copy()).where(
            exp.EQ(this=column_ref(n.scd_id, own), expression=column_ref(n.scd_id, "i")))
        new = exp.select(*(column_ref(c, "i") for c in columns)).from_(inserts.copy().as_("i")).where(
            exp.not_(exp.Exists(this=held)))
        listed = exp.Schema(this=self.target.copy(), expressions=[identifier(c) for c in columns])
        self.inserted = self._run(exp.insert(new, listed))[0][0]

    def _add_column(self, name: str, kind: str) -> None:
        self._run(exp.Alter(this=self.target.copy(), kind="TABLE", actions=[
            exp.ColumnDef(this=identifier(name), kind=exp.DataType.build(kind, dialect="duckdb"))]))

    def publish(self) -> None:
        record_published(self.con, self.node.schema, self.node.name, self.node.name)
        self.published = True

    @property
    def summary(self) -> str:
        return f"snapshot ({self.settings.strategy}): {self.inserted} new row(s), {self.closed} closed"


@contextmanager
def snapshotted(con: duckdb.DuckDBPyConnection, node: Node) -> Iterator[History]:
    """Apply `node`'s snapshot to its table in a transaction: committed when published, rolled back otherwise."""
    ensure_state_tables(con)
    with applied(con, lambda: History(con, node)) as history:
        yield history


def is_history_table(con: duckdb.DuckDBPyConnection, node: Node) -> bool:
    """Whether the snapshot's relation is a table with a history's columns (one dbt built, say, which the snapshot
    goes on keeping)."""
    if existing_kind(con, node.schema, node.name) is not Materialization.TABLE:
        return False
    columns = _columns(con, relation(node.schema, node.name))
    return _folded(list(MetaColumns.of(node).history)) <= _folded(list(columns))


def _typed(columns: dict[str, str], name: str) -> str:
    return next(kind for column, kind in columns.items() if column.casefold() == name.casefold())


def _columns(con: duckdb.DuckDBPyConnection, table: exp.Table) -> dict[str, str]:
    """Column → DuckDB type, in the table's order."""
    rows = con.execute(render(exp.Describe(this=table.copy()))).fetchall()
    return {row[0]: row[1] for row in rows}

