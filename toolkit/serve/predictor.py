"""Answer a request with ML.PREDICT / ML.EXPLAIN_PREDICT's own code: the functions of toolkit.ml.functions run
over the request's instances, registered as an Arrow relation on an in-memory DuckDB database.

Each model takes the path ML.PREDICT takes for it, so the answers are the same bits: a model compiled to SQL
runs its compiled query (`compiled_predict_query`) in DuckDB the first time a model version, input schema and
settings are seen, and afterwards the same query evaluated in Python — row by row (toolkit.serve.evaluate) for a
few instances, column-wise over numpy arrays (toolkit.serve.evaluate_columns) from COLUMNS_FROM — which gives
DuckDB's bits without DuckDB's planning (where the evaluator does not cover the query, DuckDB keeps running it); a model predicting in Python runs the registry's
function (`function_rows`), with its TRANSFORM applied in DuckDB first; a Python model without TRANSFORM skips
DuckDB and runs the registry's PREDICT on the Arrow table in-process (the fastest path for a few rows; the input
ML.PREDICT would stream from DuckDB is the same Arrow table). Every request thread has its own cursor."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from toolkit.errors import ToolkitError
from toolkit.ml.functions.apply import checked_predict_call, compiled_predict_query, function_rows
from toolkit.ml.functions.catalog import TABLE_FUNCTIONS, VERSION
from toolkit.ml.functions.support import naming
from toolkit.serve.evaluate import Unsupported
from toolkit.serve.evaluate_columns import COLUMNS_FROM, Evaluation, build_evaluation
from toolkit.serve.request import RequestError, instance_columns, instances_table, jsonable
from toolkit.serve.snapshot import ServedModel
from toolkit.sql.quoting import parse, render
from toolkit.warehouse.farmhash_sql import MACRO_NAME as FINGERPRINT_MACRO
from toolkit.warehouse.functions import register_functions

INPUT = "__toolkit_instances"
_INPUT_SQL = f'SELECT * FROM "{INPUT}"'
PREDICT, EXPLAIN = "PREDICT", "EXPLAIN_PREDICT"
_CACHED_QUERIES = 512  # a client sending every threshold there is fills no more than this
INLINE_INSTANCES = 100  # requests up to this size the evaluator answers on the event loop (Engine.begin)


class Engine:
    """The in-memory DuckDB database requests run on (no warehouse data: only the request's rows)."""

    def __init__(self, evaluate: bool = True, columns_from: int = COLUMNS_FROM) -> None:
        self.evaluate = evaluate  # compiled queries in Python where they can be (else always in DuckDB)
        self.columns_from = columns_from  # requests of this many rows or more evaluated column-wise
        self._programs: dict[tuple, Evaluation | None] = {}
        self._database = duckdb.connect(":memory:")
        threads = exp.Set(expressions=[exp.SetItem(this=exp.EQ(this=exp.column("threads"),
                                                               expression=exp.Literal.number(1)))])
        self._database.execute(render(threads))  # a few rows: no gain from more threads, only scheduling
        self._local = threading.local()
        self._sql: dict[tuple, tuple[exp.Expression, str]] = {}  # compiled queries (and as run), by model and settings
        self._checks: dict[tuple, dict[str, Any]] = {}  # checked settings, by model, version, input schema, settings
        self._tables: dict[tuple, str] = {}  # lookup tables made from compiled queries' VALUES, by model and index
        self._inline: dict[tuple, Evaluation] = {}  # by model, instance_columns' names and settings
        self._lock = threading.Lock()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._database.cursor()
            register_functions(cursor)
            # Compiled SQL calls FARM_FINGERPRINT as the warehouse's pure-SQL macro; here it is the vectorized UDF,
            # which gives the same bits (both are BigQuery's, tests/test_farmhash_sql.py) for a fraction of the
            # planning time.
            macro = exp.Create(this=exp.Anonymous(this=FINGERPRINT_MACRO, expressions=[exp.to_identifier("x")]),
                               kind="MACRO", replace=True,
                               properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
                               expression=exp.Anonymous(this="farm_fingerprint", expressions=[exp.column("x")]))
            cursor.execute(render(macro))
            self._local.cursor = cursor
        return cursor

    def _discard_cursor(self) -> None:
        cursor = getattr(self._local, "cursor", None)
        self._local.cursor = None
        if cursor is not None:
            try:
                cursor.close()
            except duckdb.Error:
                pass

    def answer(self, function: str, served: ServedModel, instances: Sequence[Mapping[str, Any]] | pa.Table,
               parameters: Mapping[str, Any]) -> tuple[ServedModel, list[dict[str, Any]]]:
        """The version that answered (`parameters.version`, else the served one) and its rows."""
        version = answering(served, parameters)
        return version, self.run(function, version, instances, parameters)

    def begin(self, function: str, served: ServedModel, instances: Sequence[Mapping[str, Any]],
              parameters: Mapping[str, Any]) -> tuple[list[dict[str, Any]] | None, Sequence[Mapping[str, Any]] | pa.Table]:
        """The rows where the Python evaluator answers at once: a compiled model's prediction of at most
        INLINE_INSTANCES instances by the served version, whose input schema and settings an earlier request has
        seen (tens to hundreds of microseconds of Python, less than handing the request to a worker thread costs);
        else None, and what to pass on to `answer` (in a worker thread: DuckDB, scikit-learn or loading a version
        may take a while) — the instances, or their table once read. Below `columns_from` instances (the row-wise
        evaluator) the instances are read to Python values without Arrow where instance_columns can."""
        compiled = served.compiled
        if (function != PREDICT or not self.evaluate or len(instances) > INLINE_INSTANCES or compiled is None
                or not compiled.used_by_predict):
            return None, instances
        settings: dict[str, Any] = {}
        if parameters:
            version = asked_version(parameters)
            if version is not None and version != served.version:
                return None, instances
            settings = _settings(served, parameters)
        _check_model(function, served)
        columns = instance_columns(served, instances) if len(instances) < self.columns_from else None
        if columns is not None:
            # The fields' names decide their types (each is an input column of the model): no schema to build.
            key = served.identity, columns.names, _settings_key(settings)
            evaluation = self._inline.get(key)
            if evaluation is None:
                evaluation = self._evaluation(served, _schema_key(columns.schema()), settings)
                if evaluation is not None and len(self._inline) < _CACHED_QUERIES:
                    self._inline[key] = evaluation
            return (None if evaluation is None else evaluation.run_json_checked(columns.values)), instances
        table = _table_of(served, instances)
        evaluation = self._evaluation(served, _schema_key(table.schema), settings)
        return (None if evaluation is None else evaluation.run_json_checked(table)), table

    def run(self, function: str, served: ServedModel, instances: Sequence[Mapping[str, Any]] | pa.Table,
            parameters: Mapping[str, Any]) -> list[dict[str, Any]]:
        """ML.`function`'s rows for the instances (or their table, as `begin` read it) with this version of the
        model, as JSON objects."""
        settings = _settings(served, parameters)
        _check_model(function, served)
        table = instances if isinstance(instances, pa.Table) else _table_of(served, instances)
        answered = self._evaluated(function, served, table, settings)
        if answered is not None:
            return answered
        cursor = self.cursor()
        try:
            cursor.register(INPUT, table)
            result = self._rows(cursor, function, served, table, settings)
            cursor.unregister(INPUT)
        except BaseException as error:
            self._discard_cursor()  # a failure can leave a result pending on it: the next request gets a new one
            if isinstance(error, ToolkitError):
                raise _request_error(error, parameters) from None
            if isinstance(error, duckdb.Error):  # e.g. a value TRANSFORM's SQL cannot cast
                raise RequestError(400, f"model {served.name}: the instances fail in DuckDB: {error}",
                                   "instances") from None
            raise
        if isinstance(result, pa.Table):
            return [{k: jsonable(v) for k, v in row.items()} for row in result.to_pylist()]
        names, rows = result
        return [{k: jsonable(v) for k, v in zip(names, row)} for row in rows]

    def _rows(self, cursor: duckdb.DuckDBPyConnection, function: str, served: ServedModel, table: pa.Table,
              settings: dict[str, Any]) -> pa.Table | tuple[list[str], list[tuple]]:
        """The function's rows: an Arrow table, or (column names, rows) from the compiled SQL."""
        trained = served.trained
        if function == PREDICT:
            compiled = served.compiled
            if compiled is not None and compiled.used_by_predict:
                checked = self._checked(cursor, served, table.schema, settings)
                key = _sql_key(served, checked)
                cached = self._sql.get(key)  # the query depends on the settings only: built once
                if cached is None:
                    query = compiled_predict_query(cursor, trained, compiled, _INPUT_SQL, settings)
                    cached = query, render(self._with_stored_lookups(cursor, query, served))
                    if len(self._sql) < _CACHED_QUERIES:
                        self._sql[key] = cached
                query, sql = cached
                program = self._program(key, query, table.schema)
                answered = program.run_checked(table) if program is not None else None
                if answered is not None:
                    return answered
                # Executed as a statement: the relation API binds a query once more before running it.
                rows = cursor.execute(sql).fetchall()
                return [column[0] for column in cursor.description], rows
            if trained.transform is None:
                return _in_process(trained, table, settings)
        return _table(function_rows(cursor, function, trained, _INPUT_SQL, settings, [], same_connection=True))


    def _evaluated(self, function: str, served: ServedModel, table: pa.Table,
                   settings: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The compiled prediction evaluated in Python, without DuckDB, once an earlier request of the same model,
        input schema and settings has made the checks and built the program; None: run the DuckDB path."""
        if function != PREDICT or not self.evaluate:
            return None
        evaluation = self._evaluation(served, _schema_key(table.schema), settings)
        return None if evaluation is None else evaluation.run_json_checked(table)

    def _evaluation(self, served: ServedModel, schema: bytes, settings: dict[str, Any]) -> Evaluation | None:
        """The program an earlier request of this model, input schema and settings built (None: none yet, or the
        evaluator does not cover the query)."""
        checked = self._checks.get(_check_key(served, schema, settings))
        return None if checked is None else self._programs.get((_sql_key(served, checked), schema))

    def _program(self, key: tuple, query: exp.Expression, schema: pa.Schema) -> Evaluation | None:
        """The compiled query as Python (toolkit.serve.evaluate row-wise, toolkit.serve.evaluate_columns
        column-wise for requests of `columns_from` rows or more), built once per query and input schema from the
        query as rendered for DuckDB, read back (its lookups still inline VALUES); None when it has something the
        evaluator does not cover (DuckDB runs it), or when the evaluator is switched off."""
        if not self.evaluate:
            return None
        key = (key, _schema_key(schema))
        if key in self._programs:
            return self._programs[key]
        try:
            program: Evaluation | None = build_evaluation(parse(render(query)), schema, INPUT, self.columns_from)
        except (Unsupported, RecursionError):  # RecursionError: nested too deeply for Python (DuckDB runs it)
            program = None
        if len(self._programs) < _CACHED_QUERIES:
            self._programs[key] = program
        return program

    def _checked(self, cursor: duckdb.DuckDBPyConnection, served: ServedModel, schema: pa.Schema,
                 settings: dict[str, Any]) -> dict[str, Any]:
        """ML.PREDICT's checks of the settings and the input's columns, made once per model version, input schema
        and settings (they depend on nothing else; with TRANSFORM they cost tens of milliseconds)."""
        key = _check_key(served, _schema_key(schema), settings)
        checked = self._checks.get(key)
        if checked is None:
            checked = checked_predict_call(cursor, served.trained, _INPUT_SQL, settings)
            if len(self._checks) < _CACHED_QUERIES:
                self._checks[key] = checked
        return checked

    def _with_stored_lookups(self, cursor: duckdb.DuckDBPyConnection, query: exp.Expression,
                             served: ServedModel) -> exp.Expression:
        """The query with each inline VALUES lookup (a long vocabulary's category → weights, toolkit.ml.compile.
        lookup) read from a table of the engine made from those same VALUES once: the same rows, joined the same
        way, without parsing and planning thousands of literals for every request."""
        query = query.copy()
        with self._lock:
            for index, values in enumerate(list(query.find_all(exp.Values))):
                name = self._tables.get((served.identity, index))
                if name is None:
                    name = f"__toolkit_lookup_{len(self._tables)}"
                    table = exp.Create(this=exp.to_table(name), kind="TABLE", replace=True,
                                       expression=exp.select("*").from_(values.copy()))
                    cursor.execute(render(table))
                    self._tables[(served.identity, index)] = name
                values.replace(exp.Table(this=exp.to_identifier(name), alias=values.args.get("alias")))
        return query


def _schema_key(schema: pa.Schema) -> bytes:
    """The input schema as a cache key: its IPC serialization (names, types, nullability), exact and cheap."""
    return schema.serialize().to_pybytes()


def _check_key(served: ServedModel, schema: bytes, settings: dict[str, Any]) -> tuple:
    return *served.identity, schema, _settings_key(settings)


def _settings_key(settings: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in settings.items()))


def _check_model(function: str, served: ServedModel) -> None:
    try:
        TABLE_FUNCTIONS[function].check_model(served.trained)
    except ToolkitError as error:
        raise RequestError(400, error.message, "model", error.hint) from None


def _table_of(served: ServedModel, instances: Sequence[Mapping[str, Any]]) -> pa.Table:
    try:
        return instances_table(served, instances)
    except UnicodeEncodeError:  # "\ud800": JSON's escapes allow text that is no Unicode
        raise RequestError(400, "a field name or value is not valid Unicode (a lone surrogate escape)",
                           "instances") from None


def _sql_key(served: ServedModel, checked: dict[str, Any]) -> tuple:
    return *served.identity, tuple(sorted(checked.items()))


def _in_process(trained, table: pa.Table, raw: dict[str, Any]) -> pa.Table:
    """The registry's PREDICT on the Arrow table itself, after the checks function_rows makes."""
    function = TABLE_FUNCTIONS[PREDICT]
    settings = function.checked_settings(raw, trained.name)
    function.check_model(trained)
    with naming(function.name, trained):
        schema = function.schema(trained, table.schema, settings)
        batches = list(function.run(trained, table.to_batches(), settings))
    return pa.Table.from_batches(batches, schema=schema)


def _table(result: pa.Table | pa.RecordBatchReader) -> pa.Table:
    return result if isinstance(result, pa.Table) else result.read_all()


def _settings(served: ServedModel, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The request's parameters as the function's STRUCT settings (`version` is resolved by `answering`)."""
    settings = dict(parameters)
    for key in [k for k in settings if k.lower() == VERSION]:
        settings.pop(key)
    return settings


def asked_version(parameters: Mapping[str, Any]) -> Any:
    """`parameters.version` (any case), None when not given."""
    return next((v for k, v in parameters.items() if k.lower() == VERSION), None)


def answering(served: ServedModel, parameters: Mapping[str, Any]) -> ServedModel:
    """The version that answers: the served (latest) one, or the stored one `parameters.version` names, loaded on
    demand (as ML.PREDICT's STRUCT(n AS version))."""
    version = asked_version(parameters)
    if version is None or version == served.version:
        return served
    known = [v["version"] for v in served.versions]
    if isinstance(version, bool) or not isinstance(version, int) or version not in known:
        raise RequestError(400, f"model {served.name} has no version {version!r}: its versions are "
                                f"{', '.join(map(str, known))}", "parameters.version",
                           hint="leave version out for the latest, or reload the server for a newer one")
    if served.older is None:
        raise RequestError(400, f"model {served.name}: only version {served.version} is served", "parameters.version")
    try:
        return served.older.load(served.name, version)
    except ToolkitError as error:
        raise RequestError(409, f"model {served.name} version {version} cannot be served: {error.message}",
                           "parameters.version", error.hint) from None


def _request_error(error: ToolkitError, parameters: Mapping[str, Any]) -> RequestError:
    """A toolkit error of the ML.* function as a 400 naming the parameter (or the instances) at fault."""
    text = error.message.lower()
    named = next((k for k in parameters if k.lower() in text), None)
    field = f"parameters.{named}" if named is not None else "instances"
    return RequestError(400, error.message, field, error.hint)
