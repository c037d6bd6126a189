"""Unit tests prepared (the model rendered with its overrides, its inputs replaced by CTEs) and run: the given rows
take the column types of the relations they stand for (a column not given is NULL, as in dbt), the expected rows
those of the model's output, and the two are compared as multisets over the columns `expect` names."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from toolkit.config import Settings
from toolkit.errors import ConfigError, ToolkitError, did_you_mean
from toolkit.project.nodes import NodeKind
from toolkit.project.parse import parse_model
from toolkit.project.render import Renderer, resolve_markers
from toolkit.project.unit_tests import (
    GIVEN_PREFIX,
    GivenInput,
    Rows,
    UnitTest,
    UnitTestSpec,
    literal_value,
    parse_input,
)
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.ml_functions import data_calls, model_names
from toolkit.sql.quoting import identifier, parse, relation, render

ACTUAL = "__toolkit_unit_actual"
ROWS = "__toolkit_rows"
MAX_DIFF_ROWS = 20


def prepare_unit_tests(renderer: Renderer, specs: list[UnitTestSpec], files: Mapping[str, Path],
                       defaults: Mapping[str, dict[str, Any]], relations: Mapping[str, tuple[str, str]],
                       settings: Settings, datasets: Datasets) -> tuple[UnitTest, ...]:
    return tuple(_prepared(renderer, spec, files, defaults, relations, settings, datasets) for spec in specs)


def _prepared(renderer: Renderer, spec: UnitTestSpec, files: Mapping[str, Path],
              defaults: Mapping[str, dict[str, Any]], relations: Mapping[str, tuple[str, str]],
              settings: Settings, datasets: Datasets) -> UnitTest:
    at = spec.location
    path = files.get(spec.model)
    if path is None:
        raise ConfigError(f"unit test {spec.name}: no model {spec.model!r}{did_you_mean(spec.model, files)}", at,
                          hint="model: names a model file's stem")
    with renderer.overridden(spec.vars, spec.macros, spec.env_vars):
        rendered = renderer.render(spec.model, path, defaults=defaults[spec.model])
    given, covered = [], set()
    for index, (label, rows) in enumerate(spec.given):
        kind, first, second = parse_input(label, spec)
        if kind == "this":
            schema, name = relations[spec.model]
            key: tuple = ("this",)
        elif kind == "ref":
            node = next((n for n in rendered.refs if n.casefold() == first.casefold()), None)
            if node is None:
                raise ConfigError(f"unit test {spec.name}: {spec.model} does not read {label}"
                                  f"{did_you_mean(first, rendered.refs)}", at,
                                  hint="given lists the refs and sources the model reads: " + _reads(rendered))
            schema, name = relations[node]
            key = ("ref", node)
        else:
            source = settings.sources.get(first)
            found = source is not None and (source.schema, second) in rendered.sources
            if not found:
                raise ConfigError(f"unit test {spec.name}: {spec.model} does not read {label}", at,
                                  hint="given lists the refs and sources the model reads: " + _reads(rendered))
            schema, name = source.schema, second
            key = ("source", source.schema, second)
        covered.add(key)
        given.append(GivenInput(label, f"{GIVEN_PREFIX}{index}", schema, name, rows))
    missing = [f"ref('{n}')" for n in rendered.refs if ("ref", n) not in covered]
    missing += [f"source({s!r}, {t!r})" for s, t in rendered.sources if ("source", s, t) not in covered]
    if missing:
        raise ConfigError(f"unit test {spec.name}: no rows given for {', '.join(missing)}, which {spec.model} reads",
                          at, hint=f"add - input: {missing[0]} with its rows (rows: [] for none)")
    statement = parse_model(resolve_markers(rendered.sql, rendered.dialect, relations), path, rendered.dialect,
                            datasets)
    if statement.kind is not NodeKind.MODEL or model_names(statement.expression) or data_calls(statement.expression):
        raise ConfigError(f"unit test {spec.name}: {spec.model} is not a SQL model without ML.* calls", at,
                          hint="unit tests test SELECT models; test an ML model's input and output tables instead")
    by_relation = {(g.schema.casefold(), g.name.casefold()): g.cte for g in given}

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.catalog:
            cte = by_relation.get((node.db.casefold(), node.name.casefold()))
            if cte is not None:
                alias = node.args.get("alias") or exp.TableAlias(this=identifier(node.name))
                return exp.Table(this=identifier(cte), alias=alias)
        return node

    query = render(statement.expression.copy().transform(substitute))
    return UnitTest(spec, query, tuple(given))


def _reads(rendered: Any) -> str:
    reads = [f"ref('{n}')" for n in rendered.refs] + [f"source('{s}', '{t}')" for s, t in rendered.sources]
    return ", ".join(reads) or "(nothing)"


@dataclass(frozen=True)
class UnitResult:
    test: UnitTest
    status: str  # pass, fail, error
    message: str
    seconds: float


def run_unit_test(con: duckdb.DuckDBPyConnection, test: UnitTest) -> UnitResult:
    started = time.perf_counter()
    try:
        status, message = _compare(con, test)
    except (duckdb.Error, ToolkitError) as error:
        status, message = "error", f"{type(error).__name__}: {error}".replace("ToolkitError: ", "")
    return UnitResult(test, status, message, time.perf_counter() - started)


def _compare(con: duckdb.DuckDBPyConnection, test: UnitTest) -> tuple[str, str]:
    expect = test.spec.expect
    ctes = [(g.cte, _given_query(con, g)) for g in test.given]
    model = exp.Subquery(this=parse(test.query), alias=exp.TableAlias(this=identifier(ACTUAL)))
    output = _columns(con, render(_with(exp.select("*").from_(model), ctes)))
    if expect.sql is not None:
        expected_query = parse(expect.sql)
        columns = [name for name, _ in _columns(con, render(_with(expected_query, ctes)))]
    else:
        columns = list(expect.columns)
    types = dict(output)
    folded = {name.casefold(): name for name in types}
    unknown = [c for c in columns if c.casefold() not in folded]
    if unknown:
        return "error", (f"expect names the column {unknown[0]!r}, which {test.model} does not give"
                         f"{did_you_mean(unknown[0], list(types))} (its columns: {', '.join(types)})")
    chosen = [folded[c.casefold()] for c in columns]
    actual_query = exp.select(*(exp.column(identifier(c)) for c in chosen)).from_(model)
    actual = con.execute(render(_with(actual_query, ctes))).fetchall()
    if expect.sql is None:
        expected_query = _values_query(expect, [types[c] for c in chosen], columns)
    expected = con.execute(render(_with(expected_query, ctes))).fetchall()
    missing, extra = Counter(map(tuple, expected)) - Counter(map(tuple, actual)), \
        Counter(map(tuple, actual)) - Counter(map(tuple, expected))
    if not missing and not extra:
        return "pass", ""
    return "fail", _diff(chosen, missing, extra, len(expected), len(actual))


def _with(query: exp.Expression, ctes: list[tuple[str, exp.Expression]]) -> exp.Expression:
    for name, cte in ctes:
        query = query.with_(identifier(name), as_=cte)
    return query


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {sql}").fetchall()]


def _given_query(con: duckdb.DuckDBPyConnection, given: GivenInput) -> exp.Expression:
    """The given rows with the columns and types of the relation they stand for, when it exists."""
    if given.rows.sql is not None:
        return parse(given.rows.sql)
    try:
        types = dict(_columns(con, render(relation(given.schema, given.name))))
    except duckdb.Error:
        types = {}  # not built yet: the values' own types
    folded = {name.casefold(): name for name in types}
    if types:
        for column in given.rows.columns:
            if column.casefold() not in folded:
                raise ConfigError(f"given {given.label}: the column {column!r} is not a column of "
                                  f"{given.schema}.{given.name}{did_you_mean(column, list(types))}")
        by_name = {folded[c.casefold()]: c for c in given.rows.columns}
        columns = list(types)
        return _values_query(given.rows, [types[c] for c in columns], columns, by_name)
    return _values_query(given.rows.typed(), [None] * len(given.rows.columns), list(given.rows.columns))


def _values_query(rows: Rows, types: list[str | None], columns: list[str],
                  given_as: Mapping[str, str] | None = None) -> exp.Expression:
    """SELECT CAST(c0 AS type) AS column … FROM (VALUES …) AS rows(c0, …); columns without values are NULLs of
    their type."""
    given_as = given_as if given_as is not None else {c: c for c in columns}
    position = {name.casefold(): i for i, name in enumerate(rows.columns)}

    def cell(column: str, kind: str | None, present: bool) -> exp.Expression:
        source = given_as.get(column)
        value = exp.column(f"c{position[source.casefold()]}", ROWS) if present and source is not None else exp.Null()
        return exp.alias_(exp.cast(value, kind, dialect="duckdb") if kind else value, identifier(column))

    if not rows.values:
        return exp.select(*(cell(c, t, False) for c, t in zip(columns, types))).where(exp.false())
    if not rows.columns:  # rows with no values given: as many rows of NULLs
        return exp.select(*(cell(c, t, False) for c, t in zip(columns, types))).from_(
            exp.Table(this=exp.func("range", exp.Literal.number(len(rows.values)))))
    values = exp.Values(expressions=[exp.Tuple(expressions=[literal_value(v) for v in row]) for row in rows.values],
                        alias=exp.TableAlias(this=identifier(ROWS),
                                             columns=[identifier(f"c{i}") for i in range(len(rows.columns))]))
    return exp.select(*(cell(c, t, True) for c, t in zip(columns, types))).from_(values)


def _diff(columns: list[str], missing: Counter, extra: Counter, expected: int, actual: int) -> str:
    lines = [f"expected {expected} rows, the model gave {actual} ({', '.join(columns)}; - expected, missing from "
             "the output; + in the output, not expected):"]
    for sign, rows in (("-", missing), ("+", extra)):
        for row, count in sorted(rows.items(), key=lambda item: repr(item[0])):
            lines += [f"  {sign} {_row(row)}"] * count
    if len(lines) > MAX_DIFF_ROWS + 1:
        lines = [*lines[:MAX_DIFF_ROWS + 1], f"  … and {len(lines) - MAX_DIFF_ROWS - 1} more"]
    return "\n".join(lines)


def _row(row: tuple[Any, ...]) -> str:
    return "(" + ", ".join("NULL" if v is None else repr(v) if isinstance(v, str) else str(v) for v in row) + ")"
