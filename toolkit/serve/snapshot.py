"""A snapshot of the warehouse's model store, loaded into memory: what the server answers with.

The server never holds the warehouse file. A snapshot attaches the file read-only for as long as it takes to copy
the store's `_toolkit` tables into an in-memory database (a fraction of a second), then detaches; while a build
holds the file's lock, it copies the file (and its write-ahead log) aside and reads the copy instead. The models
are then loaded from the in-memory copy with the store's own `load_model` / `load_prediction` (checksums and
library versions checked), so a build can start, run and finish while the server keeps answering."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from toolkit.config import STATE_SCHEMA
from toolkit.errors import ConfigError, ModelError, ToolkitError, WarehouseError, did_you_mean
from toolkit.ml.compile import CompiledPrediction
from toolkit.ml.model import TrainedModel
from toolkit.ml.store.lifecycle import STORE_TABLES
from toolkit.ml.store.versions import load_model, load_prediction, model_names
from toolkit.ml.types.tasks import Task
from toolkit.sql.quoting import render

_ATTACHED = "__toolkit_served"


@dataclass(frozen=True)
class InputColumn:
    """A column an instance must carry: its name, DuckDB type (as at training) and the Arrow type it is read as."""

    name: str
    duckdb_type: str
    arrow_type: pa.DataType | None  # None: the type was not recorded, the value's own is used


@dataclass(frozen=True)
class ServedModel:
    """One model as served: its latest version, loaded, with what the endpoints describe."""

    trained: TrainedModel
    compiled: CompiledPrediction | None
    inputs: tuple[InputColumn, ...]
    versions: tuple[dict[str, Any], ...]  # {"version", "created_at", "model_type"} of every stored version
    path: str  # how a prediction runs: "compiled SQL", "Python (scikit-learn)", …
    older: OlderVersions | None = field(default=None, compare=False, repr=False)  # the other stored versions

    @property
    def name(self) -> str:
        return self.trained.name

    @property
    def version(self) -> int:
        return self.trained.version or 0

    @property
    def identity(self) -> tuple[str, int, datetime]:
        """What tells this model version from any other, also from one of the same name and number trained after a
        DROP MODEL (which numbers versions from 1 again): the name as given, the version and when it was trained."""
        return self.trained.name, self.version, self.trained.created_at


class OlderVersions:
    """The snapshot's other stored versions, loaded on demand from its in-memory copy of the store (not the
    warehouse file) and kept for the `capacity` most recently used ones."""

    def __init__(self, store: duckdb.DuckDBPyConnection, capacity: int = 8) -> None:
        self._store, self._capacity = store, capacity
        self._loaded: OrderedDict[tuple[str, int], ServedModel] = OrderedDict()
        self._lock = threading.Lock()  # one connection: one load at a time

    def load(self, name: str, version: int) -> ServedModel:
        """Version `version` of model `name` (raises ToolkitError when it cannot be loaded)."""
        key = (name.casefold(), version)
        with self._lock:
            served = self._loaded.get(key)
            if served is None:
                trained = load_model(self._store, name, version)
                compiled = load_prediction(self._store, trained)
                served = ServedModel(trained, compiled, _inputs(self._store, trained),
                                     tuple(_versions(self._store, name)), prediction_path(trained, compiled), self)
                self._loaded[key] = served
                while len(self._loaded) > self._capacity:
                    self._loaded.popitem(last=False)
            self._loaded.move_to_end(key)
            return served


@dataclass(frozen=True)
class Unservable:
    """A stored model that could not be loaded (an incompatible artifact, a changed checksum, …)."""

    name: str
    version: int
    reason: str


@dataclass(frozen=True)
class Snapshot:
    """The models of one reading of the store, immutable: a reload builds a new one and swaps it in."""

    models: dict[str, ServedModel]  # by lower-cased name
    unservable: dict[str, Unservable]
    loaded_at: datetime = field(default_factory=datetime.now)
    source: str = "warehouse"  # "warehouse" (attached read-only) or "copy" (the file was locked by a writer)

    def find(self, name: str) -> ServedModel | None:
        return self.models.get(name.casefold())

    def fingerprint(self) -> tuple[tuple[str, int], ...]:
        return tuple(sorted((key, model.version) for key, model in self.models.items()))


class StoreLocked(WarehouseError):
    """A writer holds the warehouse, and the caller asked not to read a copy of the file."""


def read_store(warehouse: Path, copy_when_locked: bool = True) -> tuple[duckdb.DuckDBPyConnection, str]:
    """An in-memory database holding a copy of the warehouse's model store; how it was read. While a writer holds
    the file, the store is read from a copy of it (or StoreLocked is raised, without `copy_when_locked`)."""
    if not warehouse.is_file():
        raise WarehouseError(f"warehouse {warehouse} does not exist", hint="run `toolkit build` first")
    memory = duckdb.connect(":memory:")
    try:
        _copy_store(memory, warehouse)
        return memory, "warehouse"
    except duckdb.Error as error:
        # Another process's writer holds the file's lock; this process's own connection to it is a handle conflict.
        held = isinstance(error, duckdb.ResourceInUseException) or (isinstance(error, duckdb.IOException)
                                                                      and "lock" in str(error).lower())
        if not held:
            memory.close()
            raise WarehouseError(f"cannot read the model store of {warehouse}: {error}") from None
    if not copy_when_locked:
        memory.close()
        raise StoreLocked(f"warehouse {warehouse} is being written", hint="it is read once the writer is done")
    with tempfile.TemporaryDirectory(prefix="toolkit-serve-") as folder:  # a writer holds the file: read a copy
        copy = Path(folder) / warehouse.name
        try:
            shutil.copyfile(warehouse, copy)
            wal = warehouse.with_name(warehouse.name + ".wal")
            if wal.is_file():
                shutil.copyfile(wal, copy.with_name(copy.name + ".wal"))
            _copy_store(memory, copy)
        except (duckdb.Error, OSError) as error:
            memory.close()
            raise WarehouseError(f"cannot read the model store of {warehouse} while it is being written: {error}",
                                 hint="retry when the build has finished (POST /v1/admin:reload)") from None
    return memory, "copy"


def _copy_store(memory: duckdb.DuckDBPyConnection, path: Path) -> None:
    attach = exp.Attach(this=exp.alias_(exp.Literal.string(str(path)), _ATTACHED),
                        expressions=[exp.AttachOption(this=exp.var("READ_ONLY"))])
    memory.execute(render(attach))
    try:
        present = {row[0] for row in memory.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = ?",
            [_ATTACHED, STATE_SCHEMA]).fetchall()}
        memory.execute(render(exp.Create(this=exp.Table(this=exp.to_identifier(STATE_SCHEMA)), kind="SCHEMA",
                                         exists=True)))
        for table in STORE_TABLES:
            if table in present:
                source = exp.select("*").from_(_store_table(table, _ATTACHED))
                memory.execute(render(exp.Create(this=_store_table(table), kind="TABLE", expression=source)))
    finally:
        memory.execute(render(exp.Detach(this=exp.to_identifier(_ATTACHED))))


def _store_table(table: str, catalog: str | None = None) -> exp.Table:
    return exp.Table(this=exp.to_identifier(table), db=exp.to_identifier(STATE_SCHEMA),
                     catalog=exp.to_identifier(catalog) if catalog else None)


def load_snapshot(warehouse: Path, only: list[str] | None = None, copy_when_locked: bool = True) -> Snapshot:
    """Every stored model's latest version (or the `only` ones, which must exist), loaded into memory."""
    store, source = read_store(warehouse, copy_when_locked)
    older = OlderVersions(store)  # keeps the in-memory store open for as long as the snapshot is used
    kept = False
    try:
        names = sorted(model_names(store), key=str.casefold)
        if only:
            known = {n.casefold(): n for n in names}
            unknown = [n for n in only if n.casefold() not in known]
            if unknown:
                raise ConfigError(f"--models: no model named {unknown[0]} in the model store of {warehouse}"
                                  f"{did_you_mean(unknown[0], names)}", hint="`toolkit models` lists the models")
            names = [known[n.casefold()] for n in only]
        models: dict[str, ServedModel] = {}
        unservable: dict[str, Unservable] = {}
        for name in names:
            versions = _versions(store, name)
            try:
                trained = load_model(store, name)
                compiled = load_prediction(store, trained)
            except ToolkitError as error:
                unservable[name.casefold()] = Unservable(name, versions[-1]["version"], str(error))
                continue
            models[name.casefold()] = ServedModel(trained, compiled, _inputs(store, trained), tuple(versions),
                                                  prediction_path(trained, compiled), older)
        kept = True
        return Snapshot(models, unservable, source=source)
    finally:
        if not kept:
            store.close()


def prediction_path(trained: TrainedModel, compiled: CompiledPrediction | None) -> str:
    """The path ML.PREDICT takes for the model, which the server takes too (see toolkit.serve.predictor)."""
    if trained.model_type.task is Task.TRANSFORM:
        return "none (TRANSFORM_ONLY)"
    if compiled is not None and compiled.used_by_predict:
        return "compiled SQL (evaluated in Python, else DuckDB)"
    if trained.transform is not None:
        return "Python, TRANSFORM in DuckDB"
    return "Python (in-process)"


def _versions(store: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    rows = store.execute(f"SELECT version, created_at, model_type FROM {STATE_SCHEMA}.model_versions "
                         "WHERE lower(model_name) = lower(?) ORDER BY version", [name]).fetchall()
    return [{"version": r[0], "created_at": r[1].isoformat(), "model_type": r[2]} for r in rows]


def _inputs(store: duckdb.DuckDBPyConnection, trained: TrainedModel) -> tuple[InputColumn, ...]:
    """The raw columns an instance must have (TRANSFORM's inputs, or the feature columns), with their types."""
    if trained.transform is not None:
        inputs = trained.transform.inputs
        named = list(zip(inputs, trained.transform.input_types or [""] * len(inputs)))
    else:
        named = [(column["name"], column["type"]) for column in trained.feature_schema]
    return tuple(InputColumn(name, kind, _arrow_type(store, kind, trained.name)) for name, kind in named)


def _arrow_type(store: duckdb.DuckDBPyConnection, duckdb_type: str, model: str) -> pa.DataType | None:
    """The Arrow type DuckDB reads a column of `duckdb_type` as (what ML.PREDICT's input batches carry)."""
    if not duckdb_type:
        return None
    try:
        cast = exp.Cast(this=exp.null(), to=exp.DataType.build(duckdb_type, dialect="duckdb"))
        return store.sql(render(exp.select(exp.alias_(cast, "c")))).to_arrow_table().schema.field(0).type
    except (duckdb.Error, ValueError) as error:
        raise ModelError(f"model {model}: its input type {duckdb_type} cannot be read: {error}") from None
