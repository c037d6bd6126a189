"""Run a statement's ML.* calls: each becomes a relation on the connection, and the statement is rewritten to
read it. ML.PREDICT of a model compiled to SQL (toolkit.ml.compile) is a temporary view of that SQL over the
input; every other call is an Arrow relation. Row-wise functions stream: the input query is read batch by batch on
a cursor of its own while DuckDB consumes the predictions, so no more than a few chunks are held at once. An input
query DuckDB refuses is reported as the call's error, naming the function and the model.

A model trained with TRANSFORM(…) gets its saved TRANSFORM applied to the raw input inside DuckDB, in the same
streamed query: `SELECT __input.*, <fitted expression> AS "__transform__<name>", … FROM (<input>) AS __input`.
An input lacking a raw column TRANSFORM reads is refused, naming the column(s)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from toolkit.errors import ModelError, did_you_mean
from toolkit.ml.compile import CompiledPrediction
from toolkit.ml.features.transform import PREFIX, missing_error
from toolkit.ml.functions.catalog import TABLE_FUNCTIONS, TableFunction, model_version, trial_id
from toolkit.ml.functions.predict import keeps_input_columns
from toolkit.ml.functions.support import naming
from toolkit.ml.inference.predict import output_schema
from toolkit.ml.model import TrainedModel
from toolkit.ml.monitor import DATA_FUNCTIONS
from toolkit.ml.store.trials import trial_model, with_trials
from toolkit.ml.store.versions import load_model, load_prediction, model_exists, model_names, with_eval_scores
from toolkit.sql.dialect import DIALECT
from toolkit.sql.ml_functions import Applied, MLCall, ScalarSubquery, ml_calls
from toolkit.sql.quoting import column_ref, render, table_ref
from toolkit.warehouse.functions import register_functions

BATCH_ROWS = 65_536  # rows per Arrow batch read from the input query
_names = itertools.count(1)
_NESTED_CALL = "__toolkit_ml_"  # the prefix of the relations ML.* calls become


@contextmanager
def applied_ml_calls(con: duckdb.DuckDBPyConnection, statement: exp.Expression) -> Iterator[Applied]:
    """The statement's SQL, its ML.* calls replaced by relations registered on `con` for the duration of the
    block; the models and versions they used. A statement without calls comes back as it is."""
    calls = ml_calls(statement)
    if not calls:
        yield Applied(statement.sql(dialect=DIALECT))
        return
    statement = statement.copy()
    calls = ml_calls(statement)
    registered: list[str] = []
    views: list[str] = []
    cursors: list[duckdb.DuckDBPyConnection] = []
    models: dict[str, TrainedModel] = {}
    used = []
    results = []
    try:
        for call in calls:
            name = f"{_NESTED_CALL}{next(_names)}"
            if call.function in DATA_FUNCTIONS:  # a monitoring function: ML.DESCRIBE_DATA(TABLE t, …)
                result = _data_result(con, call)
                results.append((call.function, result))
                con.register(name, result)
                registered.append(name)
                call.node.replace(_replacement(name, call))
                metadata = result.schema.metadata or {}
                if b"model" in metadata:  # ML.VALIDATE_DATA_SKEW: the model version it compared with
                    used.append((metadata[b"model"].decode(), int(metadata[b"version"]), call.function))
                continue
            call = replace(call, settings=_resolved_settings(con, call))
            version = model_version(call.function, call.settings, call.model)
            trial = trial_id(call.function, call.settings, call.model)
            key = (call.model.casefold(), version, trial)
            trained = models.get(key) or _load(con, call.model, version)
            if trial is not None:
                trained = trial_model(con, trained, trial, call.function)
            models[key] = trained
            result = _result(con, call, trained, cursors)
            if isinstance(result, exp.Expression):  # compiled SQL: DuckDB computes the predictions itself
                view = exp.Create(this=table_ref(name), kind="VIEW", replace=True, expression=result,
                                  properties=exp.Properties(expressions=[exp.TemporaryProperty()]))
                con.execute(render(view))
                views.append(name)
            else:
                con.register(name, result)
                registered.append(name)
            call.node.replace(_replacement(name, call))
            used.append((trained.name, trained.version, call.function))
        yield Applied(statement.sql(dialect=DIALECT), used, results)
    finally:
        for name in registered:
            con.unregister(name)
        for name in views:
            con.execute(render(exp.Drop(tables=[table_ref(name)], kind="VIEW", exists=True)))
        for cursor in cursors:
            cursor.close()


def _resolved_settings(con: duckdb.DuckDBPyConnection, call: MLCall) -> dict[str, Any]:
    """The call's settings with each scalar subquery (STRUCT((SELECT …) AS threshold)) replaced by its one value,
    computed now: any ML.* call inside it has already been replaced by its rows (calls run innermost first)."""
    settings = dict(call.settings)
    for key, value in settings.items():
        if not isinstance(value, ScalarSubquery):
            continue
        where = f"ML.{call.function}(MODEL {call.model}, …): setting '{key}'"
        try:
            rows = con.sql(value.query.this.sql(dialect=DIALECT)).fetchall()
        except duckdb.Error as error:
            raise ModelError(f"{where}: its subquery failed: {error}", hint="check the subquery's SQL") from None
        if len(rows) != 1 or len(rows[0]) != 1:
            raise ModelError(f"{where}: its subquery returned {len(rows)} rows of {len(rows[0]) if rows else 0} "
                             "columns; a setting takes one value", hint="select one column of one row (LIMIT 1)")
        settings[key] = rows[0][0]
    return settings


def _replacement(name: str, call: MLCall) -> exp.Table:
    """The relation `name` in place of the call, under the call's alias (or the function's name)."""
    replacement = exp.to_table(name)
    alias = call.node.args.get("alias") if isinstance(call.node, exp.Table) else None
    replacement.set("alias", alias or exp.TableAlias(this=exp.to_identifier(call.function.lower())))
    return replacement


def _data_result(con: duckdb.DuckDBPyConnection, call: MLCall) -> pa.Table:
    """A data function's rows (toolkit.ml.monitor): its settings checked, its input bound, then run in DuckDB."""
    function = DATA_FUNCTIONS[call.function]
    settings = function.checked_settings(call.settings, call.model)
    inputs = [source for source in (call.input, *call.inputs) if source is not None]
    if len(inputs) != function.inputs:
        tables = ", ".join((["MODEL m"] if function.takes_model else []) + ["TABLE t"] * function.inputs)
        raise ModelError(f"ML.{call.function} takes {function.inputs} input table(s), not {len(inputs)}",
                         hint=f"ML.{call.function}({tables}, STRUCT(…)); each a TABLE t or a (SELECT …)")
    arguments: list = [call.model, model_version(call.function, call.settings, call.model)] \
        if function.takes_model else []
    for source in inputs:
        sql = _input_sql(source)
        arguments += [sql, _input_schema(con, f"ML.{call.function}", sql)]
    return function.run(con, *arguments, settings)


def _load(con: duckdb.DuckDBPyConnection, name: str, version: int | None = None) -> TrainedModel:
    """Model `name`'s stored `version` (None: the latest)."""
    if not model_exists(con, name):
        raise ModelError(
            f"no model named {name} in the model store{did_you_mean(name, model_names(con))}",
            hint="train it with a CREATE MODEL file and `toolkit build`; `toolkit models` lists the models",
        )
    return load_model(con, name, version)


def _result(
    con: duckdb.DuckDBPyConnection, call: MLCall, trained: TrainedModel, cursors: list[duckdb.DuckDBPyConnection]
) -> pa.Table | pa.RecordBatchReader | exp.Expression:
    """The call's rows: Arrow, or for ML.PREDICT of a compiled model the query that computes them."""
    sql = _input_sql(call.input) if call.input is not None else None
    if call.function == "PREDICT" and sql is not None and trained.trial_id is None:  # a trial predicts in Python
        query = compiled_predict_query(con, trained, load_prediction(con, trained), sql, call.settings)
        if query is not None:
            return query
    function, settings, schema = _checked_call(con, call.function, trained, sql, call.settings)
    return _python_rows(con, function, trained, sql, schema, settings, cursors)


def compiled_predict_query(con: duckdb.DuckDBPyConnection, trained: TrainedModel, compiled: CompiledPrediction | None,
                           sql: str, raw_settings: Mapping[str, Any]) -> exp.Expression | None:
    """ML.PREDICT of a loaded model over the rows of query `sql` as the query DuckDB runs, when the model's
    compiled prediction (`compiled`, from load_prediction) is what ML.PREDICT uses; None when it predicts in
    Python. The settings and the input's columns are checked as on the Python path."""
    if compiled is None or not compiled.used_by_predict:
        return None
    settings = checked_predict_call(con, trained, sql, raw_settings)
    query = compiled.query_for(sql, settings.get("threshold"))
    if keeps_input_columns(trained, settings):
        return query
    names = output_schema(trained).names  # a PCA model's components alone, as on the Python path
    return exp.select(*(column_ref(name) for name in names)).from_(exp.Subquery(this=query))


def checked_predict_call(con: duckdb.DuckDBPyConnection, trained: TrainedModel, sql: str,
                         raw_settings: Mapping[str, Any]) -> dict[str, Any]:
    """ML.PREDICT's settings, checked, after the Python path's checks of the model and of the input's columns."""
    function, settings, schema = _checked_call(con, "PREDICT", trained, sql, raw_settings)
    with naming(function.name, trained):
        function.schema(trained, schema, settings)
    return settings


def function_rows(con: duckdb.DuckDBPyConnection, name: str, trained: TrainedModel, sql: str | None,
                  raw_settings: Mapping[str, Any], cursors: list[duckdb.DuckDBPyConnection], *,
                  batch_rows: int | None = None, same_connection: bool = False) -> pa.Table | pa.RecordBatchReader:
    """ML.`name` of a loaded model over the rows of query `sql` (None: no input) with the call's STRUCT settings,
    in Python: a table, or a reader streaming the rows in batches of `batch_rows` (BATCH_ROWS) while the input
    streams on a cursor of its own (appended to `cursors`, which the caller closes). With `same_connection` the
    input is read on `con` itself (it sees what is registered on `con`), and the caller reads the whole result
    before `con` runs anything else."""
    function, settings, schema = _checked_call(con, name, trained, sql, raw_settings)
    return _python_rows(con, function, trained, sql, schema, settings, cursors, batch_rows, same_connection)


def _checked_call(con: duckdb.DuckDBPyConnection, name: str, trained: TrainedModel, sql: str | None,
                  raw_settings: Mapping[str, Any]) -> tuple[TableFunction, dict[str, Any], pa.Schema | None]:
    """The function, its settings checked, and the input's schema (None without input), after every check that
    needs no rows: the function exists and applies to the model, its input is given when required and not when
    refused, and the input's columns bind."""
    function = TABLE_FUNCTIONS.get(name)
    if function is None:
        raise ModelError(f"ML.{name} is not supported yet", hint="see the README for the ML.* functions")
    settings = function.checked_settings(raw_settings, trained.name)
    if trial_id(name, raw_settings, trained.name) is not None and not trained.options.search_space:
        raise ModelError(f"ML.{name}: model {trained.name} was trained without hyperparameter tuning "
                         "(NUM_TRIALS), so it has no trials to choose with trial_id",
                         hint="leave trial_id out of the STRUCT, or train with NUM_TRIALS")
    function.check_model(trained)
    if sql is None:
        if function.input == "required":
            raise ModelError(
                f"ML.{name} with model {trained.name} needs input rows",
                hint=f"ML.{name}(MODEL {trained.name}, (SELECT …)) or ML.{name}(MODEL {trained.name}, TABLE t)",
            )
        return function, settings, None
    if function.input == "none":
        raise ModelError(f"ML.{name} takes only the model: ML.{name}(MODEL {trained.name})")
    return function, settings, _input_schema(con, f"ML.{name} with model {trained.name}", sql, trained)


def _python_rows(con: duckdb.DuckDBPyConnection, function: TableFunction, trained: TrainedModel, sql: str | None,
                 schema: pa.Schema | None, settings: dict[str, Any], cursors: list[duckdb.DuckDBPyConnection],
                 batch_rows: int | None = None, same_connection: bool = False) -> pa.Table | pa.RecordBatchReader:
    """The function run in Python, over its input streamed on a cursor of its own (or on `con`)."""
    name = function.name
    if sql is None:
        if function.reads_eval_split(settings):
            trained = with_eval_scores(con, trained)
        if function.reads_trials:
            trained = with_trials(con, trained)
        return _as_relation(function.run(trained, None, settings), function, trained, None, settings)
    if same_connection:
        cursor = con
    else:
        cursor = con.cursor()  # its own connection, so the input streams while DuckDB reads the result
        register_functions(cursor)  # a cursor shares the database, not the connection's functions
        cursors.append(cursor)
    if trained.transform is not None:
        sql = _transformed_input(cursor, name, trained, sql, schema.names)
    try:
        reader = cursor.sql(sql).to_arrow_reader(batch_rows or BATCH_ROWS)
    except duckdb.Error as error:  # bound on the caller's connection, the input can still fail on its own cursor
        nested = _NESTED_CALL in str(error)
        raise ModelError(
            f"ML.{name} with model {trained.name}: "
            + ("its input reads another ML.* call's result (through a CTE), which a model that predicts in Python "
               "cannot stream yet" if nested else f"its input query failed in DuckDB: {error}"),
            hint="build the inner call's rows as a table of their own (a model file), and read that"
            if nested else "check the rows given after MODEL …") from None
    return _as_relation(function.run(trained, reader, settings), function, trained, reader.schema, settings)


def _input_schema(con: duckdb.DuckDBPyConnection, where: str, sql: str,
                  trained: TrainedModel | None = None) -> pa.Schema:
    """The input query's columns, bound without running it: a query DuckDB refuses is reported as the call's, and
    so is a column name given twice (binding a LIMIT would rename the second x to x_1, reading the rows does not),
    and a raw column of another kind than TRANSFORM read at training (DuckDB would fail casting it, row by row)."""
    try:
        relation = con.sql(sql)
        names, schema = relation.columns, relation.limit(0).to_arrow_table().schema
        types = dict(zip(names, (str(kind) for kind in relation.types)))
    except duckdb.Error as error:
        raise ModelError(f"{where}: its input query failed in DuckDB: {error}",
                         hint="check the rows given after MODEL …: (SELECT …), TABLE t or a table name") from None
    lowered = [name.lower() for name in names]
    repeated = next((name for name in names if lowered.count(name.lower()) > 1), None)
    if repeated is not None:
        raise ModelError(f"{where}: the input returns column '{repeated}' more than once",
                         hint="give each column of the input its own name (AS), or select it once")
    mistyped = trained.transform.mistyped_inputs(types) if trained is not None and trained.transform else []
    if mistyped:
        column, given, expected = mistyped[0]
        raise ModelError(f"{where}: column '{column}' is {given} in the input but was {expected} in training",
                         hint=f"CAST it to {expected} (TRANSFORM reads it as it was at training)")
    return schema


def _as_relation(result, function, trained, input_schema, settings) -> pa.Table | pa.RecordBatchReader:
    if isinstance(result, pa.Table):
        return result
    schema = function.schema(trained, input_schema, settings)
    return pa.RecordBatchReader.from_batches(schema, result)


def _transformed_input(cursor: duckdb.DuckDBPyConnection, function: str, trained: TrainedModel, sql: str,
                       columns: list[str]) -> str:
    """The input query (with `columns`) and the model's TRANSFORM outputs beside its raw columns (as
    `__transform__<name>`)."""
    where = f"ML.{function} with model {trained.name}"
    missing = trained.transform.missing_inputs(columns)
    if missing:
        raise missing_error(trained.name, missing, trained.transform, where)
    wrapped = trained.transform.select_sql(sql, PREFIX, keep_input=True, features_only=True)
    try:
        cursor.sql(wrapped).columns  # binds the expressions: a type error is reported here, naming the model
    except duckdb.Error as error:
        raise ModelError(f"{where}: applying the model's TRANSFORM to the input failed: {error}",
                         hint="give the raw columns the types they had in the training query") from None
    return wrapped


def _input_sql(node: exp.Expression) -> str:
    """The input as a query of its own: `(SELECT …)` as it is, a table name as SELECT * FROM it, with the CTEs of
    the enclosing statement it reads (it runs apart from that statement)."""
    if isinstance(node, exp.Subquery):
        query = node.this.copy()
    elif isinstance(node, exp.Query):
        query = node.copy()
    else:
        query = exp.select("*").from_(node.copy())
    visible = _visible_ctes(node)
    needed: dict[str, exp.CTE] = {}

    def reads(expression: exp.Expression) -> None:
        for table in expression.find_all(exp.Table):
            name = table.name.casefold()
            if not table.db and name in visible and name not in needed:
                needed[name] = visible[name]
                reads(visible[name].this)

    reads(query)
    if not needed:
        return query.sql(dialect=DIALECT)
    order = list(visible)  # a CTE may read only those defined before it: keep their order
    own = query.args.get("with_")
    ctes = [needed[name].copy() for name in order if name in needed] + (own.expressions if own else [])
    query.set("with_", exp.With(expressions=ctes))
    return query.sql(dialect=DIALECT)


def _visible_ctes(node: exp.Expression) -> dict[str, exp.CTE]:
    """The CTEs `node` may read, by lower-cased name, in order of definition: every enclosing query's, an inner
    one shadowing an outer one of the same name, and within a CTE only those defined before it."""
    scopes: list[list[exp.CTE]] = []
    previous, current, entered = node, node.parent, None
    while current is not None:
        if isinstance(current, exp.With):
            index = next((i for i, cte in enumerate(current.expressions) if cte is previous), len(current.expressions))
            scopes.append(current.expressions[:index])
            entered = current
        elif isinstance(current, exp.Query) and current.args.get("with_") is not None:
            if current.args["with_"] is not entered:
                scopes.append(current.args["with_"].expressions)
        previous, current = current, current.parent
    visible: dict[str, exp.CTE] = {}
    for scope in reversed(scopes):  # outermost first, so inner ones shadow
        for cte in scope:
            visible.pop(cte.alias.casefold(), None)
            visible[cte.alias.casefold()] = cte
    return visible
