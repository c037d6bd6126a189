"""TRANSFORM(…) of a CREATE MODEL: checked, its analytic functions fitted on the training rows, and turned into plain
DuckDB expressions over the raw columns, their statistics inlined as literals — applying TRANSFORM to any rows later
(evaluation, test, prediction input) is then a projection `SELECT <expression> AS <name>, … FROM <rows>`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from toolkit.errors import ProjectError
from toolkit.sql.dialect import DIALECT
from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing.arguments import SIGNATURES, bind
from toolkit.sql.preprocessing.functions import ANALYTIC, Analytic, accepts
from toolkit.sql.preprocessing.rewrite import check_placement, rewrite_scalar_preprocessing
from toolkit.sql.preprocessing.stars import expand_stars, has_star

_ROW = "__toolkit_row"  # a column added to tell an aggregate apart from a row-wise expression


@dataclass
class _Item:
    """One entry of the TRANSFORM list."""

    sql: str  # as written
    tree: exp.Expression  # the expression, without its alias
    name: str  # the output column


@dataclass
class _Fit:
    """One analytic call of an item, to be fitted."""

    item: _Item
    window: exp.Window
    analytic: Analytic
    args: dict[str, Any]
    input: exp.Expression  # the input expression, scalar preprocessing rewritten
    type: str = ""
    values: list[Any] = field(default_factory=list)


def transform_inputs(transform: Sequence[str]) -> list[str]:
    """The raw columns TRANSFORM reads, in order of appearance, each once (DuckDB names are case-insensitive)."""
    seen: dict[str, str] = {}
    for text in transform:
        tree = _parse(text, "TRANSFORM")
        for node in tree.walk(bfs=False):
            if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
                name = node.parts[0].name
                seen.setdefault(name.casefold(), name)
    return list(seen.values())


def fit_transform_sql(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    transform: Sequence[str],
    *,
    model: str,
    label: str | None,
    passthrough: Sequence[str] = (),
) -> list[tuple[str, str]]:
    """(output name, DuckDB expression) for each TRANSFORM entry, in order. `relation` (a quoted relation name or a
    `(SELECT …)`) holds the training rows with their raw columns; every analytic function's statistics are computed
    on it, in one query, and inlined. Raises ProjectError naming the model and the entry at fault."""
    where = f"CREATE MODEL {model}"
    if has_star(transform):
        transform = expand_stars(transform, _describe(con, _from(relation, exp.Star())), where=where)
    items = [_item(text, where) for text in transform]
    _check_names(items, where, label, passthrough)
    fits = [fit for item in items for fit in _analytic_calls(item, where)]
    if fits:
        _describe_inputs(con, relation, fits, where)
        _fit(con, relation, fits, where)
        for fit in fits:
            fitted = fit.analytic.apply(fit.input, fit.args, fit.type, fit.values)
            if fit.window is fit.item.tree:
                fit.item.tree = fitted
            else:
                fit.window.replace(fitted)
    outputs = []
    for item in items:
        try:
            item.tree = rewrite_scalar_preprocessing(item.tree)
        except ProjectError as error:
            raise _error(where, item, error.message, error.hint) from None
        outputs.append((item.name, item.tree.sql(dialect=DIALECT)))
    _check_projection(con, relation, items, where)
    return outputs


# --- the TRANSFORM list ----------------------------------------------------------------------------------------
def _parse(text: str, where: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(text, read=DIALECT)
    except (ParseError, TokenError) as error:
        raise ProjectError(f"{where}: cannot read the TRANSFORM entry `{text}`: {error}") from None


def _error(where: str, item: _Item, message: str, hint: str | None = None) -> ProjectError:
    return ProjectError(f"{where}: TRANSFORM entry `{item.sql}`: {message}", hint=hint)


def _item(text: str, where: str) -> _Item:
    tree = _parse(text, where)
    if isinstance(tree, exp.Star) or (isinstance(tree, exp.Column) and isinstance(tree.this, exp.Star)):
        raise ProjectError(f"{where}: the TRANSFORM entry `{text}` reads every column of a table",
                           hint="write * alone (every column of the query), or name the columns")
    if isinstance(tree, exp.Alias):
        return _Item(text, tree.this, tree.alias)
    if isinstance(tree, exp.Column):
        return _Item(text, tree, tree.name)
    raise ProjectError(f"{where}: the TRANSFORM entry `{text}` has no name",
                       hint=f"name its output column: {text} AS <name>")


def _check_names(items: list[_Item], where: str, label: str | None, passthrough: Sequence[str]) -> None:
    """Output names are distinct; the label is an output, passed through unchanged; a column named in OPTIONS
    (DATA_SPLIT_COL, KMEANS_INIT_COL) need not be one, but is neither renamed nor computed when it is."""
    by_name: dict[str, list[_Item]] = {}
    for item in items:
        by_name.setdefault(item.name.casefold(), []).append(item)
    for same in by_name.values():
        if len(same) > 1:
            raise ProjectError(f"{where}: TRANSFORM outputs the column {same[0].name} {len(same)} times: "
                               + ", ".join(f"`{item.sql}`" for item in same),
                               hint="give each TRANSFORM output a name of its own")
    roles = ([(label, "label", True)] if label else []) + [(c, "column named in OPTIONS", False) for c in passthrough]
    for column, role, required in roles:
        key = column.casefold()
        plain = [item for item in items if isinstance(item.tree, exp.Column) and len(item.tree.parts) == 1
                 and item.tree.name.casefold() == key]
        if any(item.name.casefold() == key for item in plain):
            continue
        if key in by_name:
            raise ProjectError(f"{where}: the {role} `{column}` must pass through TRANSFORM unchanged, but "
                               f"`{by_name[key][0].sql}` computes it",
                               hint=f"write {column} as it is in TRANSFORM(…); give the computed column another name")
        if plain:
            raise ProjectError(f"{where}: the {role} `{column}` must keep its name, but `{plain[0].sql}` renames it",
                               hint=f"write {column} without AS in TRANSFORM(…)")
        if not required:  # the split is decided on the query's rows: the column need not be an output
            continue
        raise ProjectError(f"{where}: the {role} `{column}` is missing from TRANSFORM(…)",
                           hint=f"add {column} to TRANSFORM(…): only its outputs reach the model")


def _analytic_calls(item: _Item, where: str) -> list[_Fit]:
    """The item's analytic calls, after checking that nothing TRANSFORM refuses is in it and that every
    preprocessing call's settings are valid."""
    for node in item.tree.walk():
        if isinstance(node, exp.Window) and not (isinstance(node.this, MLPreprocess) and node.this.is_analytic):
            if isinstance(node.this, MLPreprocess):
                break  # check_placement says what is wrong with OVER on a scalar function
            raise _error(where, item, f"the window function {node.sql(dialect=DIALECT)} is not allowed in TRANSFORM",
                         "only ML.* analytic functions take OVER () in TRANSFORM: compute other window functions "
                         "in the model's query")
        if isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Window):
            raise _error(where, item, f"the aggregate {node.sql(dialect=DIALECT)} is not allowed in TRANSFORM",
                         "TRANSFORM works row by row: aggregate in the model's query, or use an ML.* analytic "
                         "function such as ML.STANDARD_SCALER(x) OVER ()")
        if isinstance(node, (exp.Subquery, exp.Query)):
            raise _error(where, item, "a subquery is not allowed in TRANSFORM",
                         "TRANSFORM reads the columns of the model's query: join what you need there")
    fits = []
    for call in item.tree.find_all(MLPreprocess):
        try:
            check_placement(call, in_transform=True)
            args = bind(call)  # the settings of every call are checked before any row is read
            if not call.is_analytic:
                continue
            window = call.parent
            inner = next((c for c in call.find_all(MLPreprocess) if c is not call and c.is_analytic), None)
            if inner is not None:
                raise ProjectError(f"{inner.parent.sql(dialect=DIALECT)} is inside another analytic function",
                                   hint="analytic functions do not nest: write them as separate TRANSFORM entries")
            name = call.name.upper()
            source = rewrite_scalar_preprocessing(args[SIGNATURES[name][0].name])
        except ProjectError as error:
            raise _error(where, item, error.message, error.hint) from None
        fits.append(_Fit(item, window, ANALYTIC[name], args, source))
    return fits


# --- queries on the training rows ------------------------------------------------------------------------------
def _from(relation: str, *columns: exp.Expression) -> exp.Select:
    return exp.select(*columns).from_(relation, dialect=DIALECT)


def _describe(con: duckdb.DuckDBPyConnection, query: exp.Select) -> list[str]:
    return [row[1] for row in con.execute(f"DESCRIBE {query.sql(dialect=DIALECT)}").fetchall()]


def _first_line(error: duckdb.Error) -> str:
    """DuckDB's message, with its suggestion ("Candidate bindings: …") when it has one."""
    lines = str(error).strip().splitlines()
    return " ".join([lines[0], *(line for line in lines[1:2] if line.startswith("Candidate"))])


def _describe_inputs(con: duckdb.DuckDBPyConnection, relation: str, fits: list[_Fit], where: str) -> None:
    """Each analytic input's DuckDB type, checked against what its function takes."""
    try:
        types = _describe(con, _from(relation, *(exp.alias_(f.input, f"_{i}") for i, f in enumerate(fits))))
    except duckdb.Error:
        for fit in fits:  # the first input at fault
            try:
                _describe(con, _from(relation, exp.alias_(fit.input, "_0")))
            except duckdb.Error as error:
                raise _error(where, fit.item, f"cannot read {fit.input.sql(dialect=DIALECT)} from the model's rows: "
                             f"{_first_line(error)}", "TRANSFORM reads the columns of the model's query") from None
        raise
    for fit, type_ in zip(fits, types):
        fit.type = type_
        takes = fit.analytic.takes(fit.args)
        if not accepts(takes, type_):
            call = fit.window.this
            raise _error(where, fit.item, f"ML.{call.name.upper()} takes {takes}, but "
                         f"{fit.input.sql(dialect=DIALECT)} is {type_}",
                         "CAST it in TRANSFORM or in the model's query")


def _fit(con: duckdb.DuckDBPyConnection, relation: str, fits: list[_Fit], where: str) -> None:
    """Every statistic of every analytic call, in one query over the training rows."""
    aggregates = [(fit, fit.analytic.statistics(fit.input, fit.args, fit.type)) for fit in fits]
    columns = [exp.alias_(a, f"_{i}") for i, a in enumerate(a for _, group in aggregates for a in group)]
    try:
        row = list(con.execute(_from(relation, *columns).sql(dialect=DIALECT)).fetchone())
    except duckdb.Error as error:
        raise ProjectError(f"{where}: computing the statistics of TRANSFORM's analytic functions failed: "
                           f"{_first_line(error)}") from None
    for fit, group in aggregates:
        fit.values, row = row[: len(group)], row[len(group):]


def _check_projection(con: duckdb.DuckDBPyConnection, relation: str, items: list[_Item], where: str) -> None:
    """The fitted list binds on the model's rows as a row-wise projection (an aggregate DuckDB knows but sqlglot
    does not, or a misspelt column, shows here)."""
    rows = exp.select("*", exp.alias_(exp.Literal.number(1), _ROW)).from_(relation, dialect=DIALECT).subquery()

    def projection(chosen: list[_Item]) -> exp.Select:
        return exp.select(*(exp.alias_(item.tree, item.name, quoted=True) for item in chosen), _ROW).from_(rows)

    try:
        _describe(con, projection(items))
        return
    except duckdb.Error:
        pass
    for item in items:
        try:
            _describe(con, projection([item]))
        except duckdb.Error as error:
            message = _first_line(error)
            if "GROUP BY" in message:
                raise _error(where, item, "it aggregates, and TRANSFORM works row by row",
                             "aggregate in the model's query, or use an ML.* analytic function with OVER ()") from None
            raise _error(where, item, f"it cannot be computed on the model's rows: {message}",
                         "TRANSFORM reads the columns of the model's query") from None
    raise ProjectError(f"{where}: TRANSFORM(…) cannot be computed on the model's rows")
