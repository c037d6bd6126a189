"""The `toolkit` command line. Only the toolkit's own errors are caught: their message goes to stderr
and the exit code is 2 (usage or project) or 1 (a node failed); anything else is a bug with a traceback."""

from __future__ import annotations

import csv
import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import duckdb
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlglot import exp

from toolkit import __version__
from toolkit.config import Settings, load_settings
from toolkit.errors import ToolkitError, WarehouseError
from toolkit.project.load import Project, load_project
from toolkit.project.nodes import Node, NodeKind
from toolkit.runner import (
    NodeResult,
    RunResult,
    Status,
    check_replaceable,
    check_sources,
    orphaned_models,
    run,
    save_results,
)
from toolkit.scaffold import init_project
from toolkit.sql.bigquery import Untranslatable
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.dialect import DEFAULT_DIALECT, DIALECT, DIALECTS
from toolkit.sql.ml_functions import data_calls, model_names
from toolkit.sql.preprocessing import has_preprocessing, rewrite_scalar_preprocessing
from toolkit.sql.quoting import parse_relation, render
from toolkit.sql.read_only import drop_model_statement, read_statement, refused
from toolkit.sql.translation import warehouse_statement
from toolkit.warehouse.connection import copy_example_if_missing, damaged, open_reader, open_writer
from toolkit.warehouse.materialize import drop_leftovers

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

STATUS_STYLE = {
    Status.SUCCESS: ("OK", "green"), Status.WARN: ("WARN", "yellow"), Status.FAIL: ("FAIL", "red"),
    Status.ERROR: ("ERROR", "red"), Status.SKIPPED: ("SKIP", "dim"),
}
TABLE_ROWS = 100  # rows `toolkit query` shows as a table
EXPORT_DIALECTS = ["duckdb", "bigquery", "snowflake", "postgres"]  # `toolkit compile --model … --dialect`
# Exit codes, decided by the command, not by the error: a build whose nodes failed exits EXIT_FAILED; any error
# that stops a command before or instead of its work (arguments, settings, project, warehouse, a query's model)
# exits EXIT_USAGE.
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
VERDICT_STYLE = {"pass": ("PASS", "green"), "warn": ("WARN", "yellow"), "fail": ("FAIL", "red"), "error": ("ERROR", "red")}


class _Cli(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ToolkitError, duckdb.IOException) as error:
            if isinstance(error, duckdb.IOException):  # a damaged file is the user's to mend; anything else is a bug
                error = damaged(error) or error
                if not isinstance(error, ToolkitError):
                    raise
            errors.print(Text("error: ", style="bold red") + Text(str(error)), soft_wrap=True)
            ctx.exit(EXIT_USAGE)
        except KeyboardInterrupt:
            errors.print(Text("interrupted: the relations being built were not published", style="yellow"))
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="toolkit")
def cli() -> None:
    """SQL-first machine learning in an embedded DuckDB warehouse."""


def _project_options(function: Callable) -> Callable:
    @click.option("--project-dir", type=click.Path(file_okay=False, path_type=Path), default=".", show_default=True,
                  help="The folder whose pyproject.toml holds [tool.toolkit].")
    @click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="The DuckDB file to use instead of [tool.toolkit].warehouse.")
    @click.option("--vars", "vars_json", default=None, metavar="JSON",
                  help='Project variables as a JSON object, overriding [tool.toolkit.vars]: \'{"k": 1}\'.')
    @functools.wraps(function)
    def wrapper(project_dir: Path, warehouse: Path | None, vars_json: str | None, **kwargs: Any) -> Any:
        settings = load_settings(project_dir, warehouse)
        return function(settings=settings, vars=_parse_vars(vars_json), **kwargs)

    return wrapper


def _selection_options(function: Callable) -> Callable:
    @click.option("--select", "-s", multiple=True, metavar="SELECTOR",
                  help="name, +name, name+, tag:x, path:models/sub; repeat or separate with spaces.")
    @click.option("--exclude", multiple=True, metavar="SELECTOR", help="Selectors to leave out.")
    @functools.wraps(function)
    def wrapper(**kwargs: Any) -> Any:
        return function(**kwargs)

    return wrapper


def _parse_vars(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ToolkitError(f"--vars is not valid JSON: {error}", hint='pass an object, e.g. --vars \'{"k": 1}\'') from None
    if not isinstance(value, dict):
        raise ToolkitError("--vars must be a JSON object", hint='e.g. --vars \'{"k": 1}\'')
    return value


# --- build -----------------------------------------------------------------------------------------
TARGETS = ["duckdb", "bigquery"]  # where `compile` and `build` put the project: the warehouse, or BigQuery itself


def _target_options(function: Callable) -> Callable:
    @click.option("--target", type=click.Choice(TARGETS), default="duckdb", show_default=True,
                  help="bigquery: BigQuery SQL (compile: under target/bigquery/; build: run there).")
    @click.option("--project", "bigquery_project", metavar="ID", default=None,
                  help="With --target bigquery: the BigQuery project, instead of [tool.toolkit.bigquery].project.")
    @functools.wraps(function)
    def wrapper(**kwargs: Any) -> Any:
        return function(**kwargs)

    return wrapper


@cli.command()
@_project_options
@_selection_options
@_target_options
@click.option("--dry-run", is_flag=True, help="With --target bigquery: check each statement with a dry-run job.")
def build(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
          target: str, bigquery_project: str | None, dry_run: bool) -> None:
    """Render, order and build the project's nodes in the warehouse (or on BigQuery, --target bigquery)."""
    project = load_project(settings, vars)
    selected = project.graph.select(select, exclude)
    if dry_run and target != "bigquery":
        raise ToolkitError("--dry-run checks statements on BigQuery", hint="add --target bigquery")
    if target == "bigquery":
        _build_on_bigquery(project, selected, bigquery_project, dry_run)
        return
    if not selected:
        console.print("Nothing to build: the selection matched no nodes.")
        return
    if copy_example_if_missing(settings.warehouse, settings.example_warehouse):
        console.print(f"Created {_shown(settings.warehouse)} from {_shown(settings.example_warehouse)}.")
    _run_and_report(settings, project, selected, "build")


@cli.command()
@_project_options
@_selection_options
def test(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...]) -> None:
    """Run the selected nodes' assertions against the published tables, building nothing."""
    project = load_project(settings, vars)
    selected = project.graph.select(select, exclude)
    if not any(project.nodes[name].assertions for name in selected):
        console.print("Nothing to test: the selected nodes declare no assertions.")
        return
    if not settings.warehouse.is_file():
        raise WarehouseError(f"warehouse {settings.warehouse} does not exist", hint="run `toolkit build` first")
    _run_and_report(settings, project, selected, "test")


@cli.command(name="split-report")
@_project_options
@click.argument("node")
@click.option("--split-column", default="split", show_default=True, help="The column naming each row's split.")
@click.option("--label", default=None, metavar="COLUMN", help="The label column: its distribution per split.")
@click.option("--features", default=None, metavar="A,B", help="Columns to compare (default: all but split, label, key).")
@click.option("--key", "key_sql", default=None, metavar="SQL", help="The split key, when the node has no hash_split().")
@click.option("--buckets", type=click.IntRange(min=1), default=None, help="Hash buckets of the split, with --key.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def split_report(
    settings: Settings, vars: dict[str, Any], node: str, split_column: str, label: str | None,
    features: str | None, key_sql: str | None, buckets: int | None, output: str,
) -> None:
    """Compare the splits of a built node: rows, label and feature distributions, split-key warnings."""
    from toolkit.checks.split_report import node_split_report, print_report

    project = load_project(settings, vars)
    target = project.nodes[project.graph.resolve(node)]
    chosen = None if features is None else [name.strip() for name in features.split(",") if name.strip()]
    con = open_reader(settings.warehouse, settings.lock_timeout)
    try:
        report = node_split_report(con, target, split_column, label, chosen, key_sql, buckets)
    finally:
        con.close()
    if output == "json":
        click.echo(report.to_json())
    else:
        print_report(report, console)


def _run_and_report(settings: Settings, project: Project, selected: list[str], command: str) -> None:
    con = open_writer(settings.warehouse, settings.lock_timeout)
    try:
        for leftover in drop_leftovers(con):
            console.print(f"Removed {leftover}, left behind by an interrupted build.")
        if command == "build":
            check_sources(con, project, selected)
            check_replaceable(con, project, selected)
            _report_orphans(con, project)
            console.print(f"Building {len(selected)} node(s) in {_shown(settings.warehouse)}")
        outcome = run(con, project, selected, _ConsoleReporter(), command=command)
        try:
            results_path = save_results(con, outcome, settings.target)
        except ToolkitError:
            _print_summary(outcome)  # what the run did, though it could not be recorded
            raise
    finally:
        con.close()
    _print_summary(outcome)
    console.print(f"Results: {_shown(results_path)} and the _toolkit tables of the warehouse")
    if outcome.failed:
        sys.exit(EXIT_FAILED)


def _report_orphans(con: duckdb.DuckDBPyConnection, project: Project) -> None:
    from toolkit.ml.store.lifecycle import drop_hint

    for model in orphaned_models(con, project):
        console.print(f"Model {model} is orphaned: it is in the model store, but no CREATE MODEL file of the project "
                      f"trains it any more; ML.* calls still read it. Remove it with: {drop_hint(model)}",
                      style="yellow")


class _ConsoleReporter:
    """One line per node as it finishes, with a spinner while it builds."""

    def __init__(self) -> None:
        self._status: Any = None

    def node_started(self, node: Node, index: int, total: int) -> None:
        self._status = console.status(f"[{index}/{total}] building {node.name} …")
        self._status.start()

    def node_finished(self, result: NodeResult, index: int, total: int) -> None:
        if self._status is not None:
            self._status.stop()
        label, style = STATUS_STYLE[result.status]
        width = len(str(total))
        line = Text(f"{index:>{width}}/{total} ") + Text(f"{label:<5}", style=style) + Text(f" {result.node}")
        details = f"{result.rows:,} rows, " if result.rows is not None else ""
        if result.assertions:
            passed = sum(a.status == "pass" for a in result.assertions)
            details += f"{passed}/{len(result.assertions)} assertions passed, "
        if result.status is Status.SUCCESS and result.message:
            details += f"{result.message}, "  # e.g. a trained model's version and metrics
        if result.status is not Status.SKIPPED:
            line += Text(f"  [{details}{result.seconds:.2f}s]", style="dim")
        console.print(line)
        for assertion in result.assertions:
            if assertion.status != "pass":
                label, style = VERDICT_STYLE[assertion.status]
                console.print(Text("      ") + Text(f"{label:<5}", style=style) + Text(f" {assertion.message}"))


def _print_summary(outcome: RunResult) -> None:
    table = Table(title="Summary", title_justify="left")
    for column, justify in (("node", "left"), ("status", "left"), ("rows", "right"), ("seconds", "right")):
        table.add_column(column, justify=justify)
    for result in outcome.results:
        label, style = STATUS_STYLE[result.status]
        rows = "" if result.rows is None else f"{result.rows:,}"
        table.add_row(result.node, Text(label, style=style), rows, f"{result.seconds:.2f}")
    console.print(table)
    _print_assertions(outcome)
    for result in outcome.results:
        if result.status in (Status.ERROR, Status.FAIL):
            errors.print(Text(f"{result.node} failed: ", style="bold red") + Text(result.message or ""), soft_wrap=True)
    counts = {status: sum(r.status is status for r in outcome.results) for status in Status}
    seconds = (outcome.finished_at - outcome.started_at).total_seconds() if outcome.finished_at else 0.0
    console.print(
        f"Done in {seconds:.2f}s: {counts[Status.SUCCESS]} succeeded, {counts[Status.WARN]} warned, "
        f"{counts[Status.FAIL]} failed, {counts[Status.ERROR]} errored, {counts[Status.SKIPPED]} skipped."
    )


def _print_assertions(outcome: RunResult) -> None:
    audits = [a for result in outcome.results for a in result.assertions]
    if not audits:
        return
    table = Table(title="Assertions", title_justify="left")
    for column, justify in (("node", "left"), ("assertion", "left"), ("dimension", "left"), ("severity", "left"),
                            ("status", "left"), ("failing rows", "right")):
        table.add_column(column, justify=justify)
    for audit in audits:
        label, style = VERDICT_STYLE[audit.status]
        failing = "" if audit.failing_rows is None else f"{audit.failing_rows:,}"
        table.add_row(audit.node, audit.assertion, audit.dimension, audit.severity, Text(label, style=style), failing)
    console.print(table)
    for audit in audits:
        if audit.samples:
            console.print(Text(f"{audit.node} · {audit.assertion}: sample failing rows", style="bold"))
            for sample in audit.samples[:2]:
                console.print(Text("  " + json.dumps(sample, default=str), style="dim"), no_wrap=True, overflow="ellipsis")


# --- compile, ls -------------------------------------------------------------------------------------
@cli.command(name="compile")
@_project_options
@_selection_options
@click.option("--model", "model", metavar="NAME", help="Print this trained model's prediction SQL instead.")
@click.option("--dialect", type=click.Choice(EXPORT_DIALECTS), default="duckdb", show_default=True,
              help="With --model: the SQL dialect to print.")
@click.option("--input", "input_table", metavar="TABLE", default="input_rows", show_default=True,
              help="With --model: the table the prediction SQL reads.")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=None,
              help="With --model: a binary classifier's threshold (default 0.5).")
@_target_options
def compile_(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
             model: str | None, dialect: str, input_table: str, threshold: float | None, target: str,
             bigquery_project: str | None) -> None:
    """Write each node's rendered, parsed SQL to target/compiled/ (--target bigquery: as BigQuery SQL under
    target/bigquery/, with deploy.sql); with --model, print a trained model's ML.PREDICT as SQL for DuckDB,
    BigQuery, Snowflake or Postgres."""
    if model is not None:
        _print_model_sql(settings, model, dialect, input_table, threshold)
        return
    project = load_project(settings, vars)
    if target == "bigquery":
        _compile_for_bigquery(project, project.graph.select(select, exclude), bigquery_project)
        return
    root = settings.target / "compiled"
    selected = project.graph.select(select, exclude)
    for name in selected:
        node = project.nodes[name]
        path = root / node.relative_path
        path.parent.mkdir(parents=True, exist_ok=True)
        # a DuckDB file as written; another dialect's as the DuckDB SQL it translates to, laid out to be read
        sql = node.sql if node.dialect == DEFAULT_DIALECT else node.statement.sql(dialect=DIALECT, pretty=True)
        path.write_text(sql.rstrip() + "\n", encoding="utf-8")
    console.print(f"Compiled {len(selected)} node(s) into {_shown(root)}")


def _compile_for_bigquery(project: Project, selected: list[str], bigquery_project: str | None) -> None:
    from toolkit.deploy import compile_bigquery

    root = project.settings.target / "bigquery"
    deployment = compile_bigquery(project, selected, bigquery_project)  # refuses before anything is written
    deployment.write(root)
    console.print(f"Compiled {len(selected)} node(s) for BigQuery into {_shown(root)} "
                  f"({len(deployment.statements)} statements in {_shown(root / 'deploy.sql')})")


def _build_on_bigquery(project: Project, selected: list[str], bigquery_project: str | None, dry_run: bool) -> None:
    from toolkit.deploy import client, compile_bigquery

    deployment = compile_bigquery(project, selected, bigquery_project)
    connection = client.connect(bigquery_project or project.settings.bigquery.project)
    verb = "Dry-running" if dry_run else "Running"
    console.print(f"{verb} {len(deployment.statements)} statement(s) of {len(selected)} node(s) on BigQuery")

    def report(result: client.JobResult) -> None:
        label, style = ("ERROR", "red") if result.error else ("OK", "green")
        detail = result.error or (f"{result.bytes_processed:,} bytes" if result.bytes_processed is not None
                                  else ", ".join(json.dumps(row, default=str) for row in result.rows))
        console.print(Text(f"{label:<5}", style=style) + Text(f" {result.node}: {result.summary}  ")
                      + Text(detail, style="dim"), soft_wrap=True)

    client.run(deployment, connection, dry_run=dry_run, report=report)


@cli.command(name="ls")
@_project_options
@_selection_options
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def ls(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...], output: str) -> None:
    """List the nodes with their kind, materialization and dependencies."""
    project = load_project(settings, vars)
    nodes = [project.nodes[name] for name in project.graph.select(select, exclude)]
    if output == "json":
        click.echo(json.dumps([_node_json(node) for node in nodes], indent=2))
        return
    table = Table()
    for column in ("node", "kind", "materialized", "relation", "tags", "depends on", "file"):
        table.add_column(column)
    for node in nodes:
        table.add_row(
            node.name, node.kind.value, node.materialized.value, node.qualified_name,
            ", ".join(node.tags), ", ".join(node.depends_on + tuple(f"{s}.{t}" for s, t in node.sources)),
            str(node.relative_path),
        )
    console.print(table)


def _node_json(node: Node) -> dict[str, Any]:
    return {
        "name": node.name, "kind": node.kind.value, "materialized": node.materialized.value,
        "schema": node.schema, "tags": list(node.tags), "depends_on": list(node.depends_on),
        "sources": [f"{schema}.{table}" for schema, table in node.sources], "path": node.relative_path.as_posix(),
    }


# --- show, query -------------------------------------------------------------------------------------
def _print_model_sql(settings: Settings, model: str, dialect: str, input_table: str, threshold: float | None) -> None:
    from sqlglot.errors import SqlglotError

    from toolkit.ml import load_model  # scikit-learn loads only when a model is read
    from toolkit.ml.compile import NotCompilable, compile_sql

    con = open_reader(settings.warehouse, settings.lock_timeout)
    try:
        trained = load_model(con, model)
    finally:
        con.close()
    try:
        sql = compile_sql(trained, dialect=dialect, input_table=input_table, threshold=threshold)
    except NotCompilable as reason:
        raise ToolkitError(f"model {trained.name} has no SQL form: {reason}",
                           hint="ML.PREDICT runs it in Python; `toolkit models` shows how each model predicts",
                           ) from None
    except SqlglotError as error:
        raise ToolkitError(f"model {trained.name}'s prediction SQL cannot be written for {dialect}: {error}",
                           hint="print it for another dialect, or use the DuckDB warehouse's table macro") from None
    click.echo(sql.rstrip() + ";")
    errors.print(f"-- model {trained.name} version {trained.version} for {dialect}: {len(sql):,} bytes, "
                 f"reading {input_table}({', '.join(trained.input_columns)})", highlight=False)


@cli.command()
@_project_options
@click.argument("node")
@click.option("--limit", "-n", type=click.IntRange(min=0), default=10, show_default=True)
def show(settings: Settings, vars: dict[str, Any], node: str, limit: int) -> None:
    """Print the first rows of a built node."""
    project = load_project(settings, vars)
    target = project.nodes[project.graph.resolve(node)]
    if target.kind is NodeKind.ML_MODEL:
        raise ToolkitError(
            f"{target.name} is a trained model and publishes no rows",
            hint=f'`toolkit models` lists models; ask one with ML.* functions: '
            f'toolkit query "SELECT * FROM ML.EVALUATE(MODEL {target.name})"',
        )
    if target.kind is NodeKind.ASSERTION:
        raise ToolkitError(f"{target.name} is an assertion and publishes no rows",
                           hint=f"run it with `toolkit test --select {target.name}`")
    con = open_reader(settings.warehouse, settings.lock_timeout)
    try:
        hint = f"build it: toolkit build --select {target.name}"
        shown = exp.select("*").from_(parse_relation(target.relation)).limit(limit)
        cursor = _execute(con, render(shown), hint=hint)
        _print_table(cursor.description, cursor.fetchall(), title=f"{target.schema}.{target.name}")
    finally:
        con.close()


@cli.command()
@_project_options
@click.argument("sql")
@click.option("--format", "output", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--dialect", type=click.Choice(list(DIALECTS)), default=None,
              help="The SQL dialect of the statement (default: the project's [tool.toolkit].dialect).")
def query(settings: Settings, vars: dict[str, Any], sql: str, output: str, dialect: str | None) -> None:
    """Run one read-only SQL statement against the warehouse; ML.PREDICT and the other ML.* functions work here too.
    DROP MODEL [IF EXISTS] m, the one writing statement, removes a model from the model store."""
    dialect = dialect or settings.dialect
    drop = drop_model_statement(sql, dialect)
    if drop is not None:
        _drop_model(settings, drop)
        return
    parsed = read_statement(sql, dialect)  # anything but a read is refused before the warehouse opens
    if dialect != DEFAULT_DIALECT:  # what runs is the DuckDB statement that gives that dialect's results
        parsed = _translated(parsed, dialect, settings)
        sql = parsed.sql(dialect=DIALECT)
    statement = _ml_statement(parsed)
    if statement is not None and not (model_names(statement) or data_calls(statement)):
        # only scalar ML.* preprocessing: plain SQL now
        sql, statement = statement.sql(dialect=DIALECT), None
    limit = TABLE_ROWS if output == "table" else None  # a terminal table shows the first rows only
    con = open_reader(settings.warehouse, settings.lock_timeout)
    try:
        if statement is None:
            columns, rows = _fetch(con, sql, limit)
        else:
            from toolkit.ml.functions.apply import applied_ml_calls  # scikit-learn loads only when a model is applied

            with applied_ml_calls(con, statement) as applied:
                columns, rows = _fetch(con, applied.sql, limit)
    finally:
        con.close()
    if columns is None:
        return
    if output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif output == "json":
        click.echo(json.dumps([dict(zip(columns, row)) for row in rows], default=str, indent=2))
    else:
        _print_table([(c,) for c in columns], rows[:TABLE_ROWS])
        if len(rows) > TABLE_ROWS:
            console.print(f"(only the first {TABLE_ROWS} rows are shown; --format csv or json prints all)", style="dim")


def _drop_model(settings: Settings, drop: exp.Drop) -> None:
    """DROP MODEL [IF EXISTS] m: every version and store row of the model, and its macro, in one transaction."""
    from toolkit.ml.store.lifecycle import drop_model

    name = drop.args["tables"][0].name  # models are named unqualified in the store, as in ML.* calls
    if not settings.warehouse.is_file():  # a writer would create an empty warehouse, which build would then keep
        raise WarehouseError(f"warehouse {settings.warehouse} does not exist: it has no model {name}",
                             hint="run `toolkit build` first")
    con = open_writer(settings.warehouse, settings.lock_timeout)
    try:
        dropped = drop_model(con, name, if_exists=bool(drop.args.get("exists")))
    finally:
        con.close()
    if dropped is not None:
        console.print(f"Dropped model {dropped.name} ({dropped.versions} version(s)).")


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, limit: int | None) -> tuple[list[str] | None, list[tuple]]:
    """The result's column names and rows: all of them, or `limit` + 1 to tell that there are more."""
    cursor = _execute(con, _one_read(con, sql))
    if cursor.description is None:
        return None, []
    rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit + 1)
    return [column[0] for column in cursor.description], rows


def _one_read(con: duckdb.DuckDBPyConnection, sql: str) -> duckdb.Statement:
    """`sql` as DuckDB's own parser reads it, which must agree with sqlglot's verdict: one SELECT or EXPLAIN."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as error:
        raise WarehouseError(str(error)) from None
    if len(statements) != 1:
        raise refused(f"DuckDB reads {len(statements)} statements in this SQL")
    if statements[0].type not in (duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN):
        raise refused(f"DuckDB parses it as a {statements[0].type.name} statement")
    return statements[0]


def _translated(statement: exp.Expression, dialect: str, settings: Settings) -> exp.Expression:
    try:
        datasets = Datasets(settings.bigquery.project, settings.bigquery.datasets)
        return warehouse_statement(statement, dialect, datasets)
    except Untranslatable as error:
        raise ToolkitError(error.message, hint=error.hint) from None


def _ml_statement(statement: exp.Expression) -> exp.Expression | None:
    """The parsed query, scalar ML.* preprocessing rewritten, when it calls ML.* functions; None when it does not
    (it then runs exactly as written)."""
    if has_preprocessing(statement):
        statement = rewrite_scalar_preprocessing(statement)
    elif not (model_names(statement) or data_calls(statement)):
        return None
    return statement


def _execute(con: duckdb.DuckDBPyConnection, sql: str | duckdb.Statement,
             hint: str | None = None) -> duckdb.DuckDBPyConnection:
    try:
        return con.execute(sql)
    except duckdb.Error as error:
        raise WarehouseError(str(error), hint=hint) from None


def _print_table(description: Any, rows: list[tuple], title: str | None = None) -> None:
    table = Table(title=title, title_justify="left")
    for column in description:
        table.add_column(str(column[0]))
    for row in rows:
        table.add_row(*("NULL" if value is None else str(value) for value in row))
    console.print(table)
    console.print(f"{len(rows)} row(s)", style="dim")


# --- models ------------------------------------------------------------------------------------------
@cli.command()
@_project_options
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def models(settings: Settings, vars: dict[str, Any], output: str) -> None:
    """List the trained models in the warehouse's model store, with their versions and metrics."""
    from toolkit.ml import list_models  # scikit-learn loads only for this command
    from toolkit.ml.metrics import headline

    con = open_reader(settings.warehouse, settings.lock_timeout)
    try:
        summaries = list_models(con)
    finally:
        con.close()
    if output == "json":
        click.echo(json.dumps([{**asdict(s), "created_at": s.created_at.isoformat()} for s in summaries], indent=2))
        return
    if not summaries:
        console.print("No trained models yet: add a CREATE MODEL file and run `toolkit build`.")
        return
    table = Table(title="Models", title_justify="left")
    for column, justify in (("model", "left"), ("type", "left"), ("version", "right"), ("trained", "left"),
                            ("rows", "right"), ("metrics", "left"), ("ML.PREDICT", "left")):
        table.add_column(column, justify=justify, no_wrap=column in ("model", "type"))
    for s in summaries:
        version = f"{s.latest_version} of {s.versions}" if s.versions > 1 else str(s.latest_version)
        table.add_row(s.name, s.model_type, version, s.created_at.strftime("%Y-%m-%d %H:%M"), f"{s.training_rows:,}",
                      headline(s.metrics), s.prediction)
    console.print(table)


# --- init --------------------------------------------------------------------------------------------
@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--dialect", type=click.Choice(list(DIALECTS)), default=DEFAULT_DIALECT, show_default=True,
              help="The SQL dialect its model files are written in.")
def init(directory: Path, dialect: str) -> None:
    """Create a new project in DIRECTORY that builds out of the box."""
    written = init_project(directory, dialect)
    console.print(f"Created a toolkit project in {directory} ({len(written)} files). Next:")
    console.print(f"  cd {directory} && toolkit build")


def _shown(path: Path) -> str:
    """A path relative to the current folder when it is inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --- monitor -----------------------------------------------------------------------------------------
@cli.command()
@_project_options
@click.argument("model", required=False)
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def monitor(settings: Settings, vars: dict[str, Any], model: str | None, output: str) -> None:
    """The latest verdicts of the data skew and drift gates (of MODEL's only), each feature with its trend."""
    from toolkit.ml.monitor.history import report  # scikit-learn loads only for this command

    con = open_reader(settings.warehouse, settings.lock_timeout)
    try:
        found = report(con, model)
    finally:
        con.close()
    if output == "json":
        click.echo(json.dumps(found, indent=2))
        return
    if not found["latest"]:
        console.print("No monitoring results yet: add a no_data_skew or no_data_drift gate and run `toolkit build`.")
        return
    groups: dict[tuple, list[dict]] = {}
    for row in found["latest"]:
        groups.setdefault((row["table"], row["gate"], row["model"], row["version"], row["recorded_at"]), []).append(row)
    for (node, gate, model_name, version, at), rows in groups.items():
        compared = f", model {model_name} version {version}" if model_name else ""
        table = Table(title=f"{node}: {gate}{compared}, {at[:19].replace('T', ' ')}", title_justify="left")
        for column in ("feature", "metric", "threshold", "value", "verdict", "trend (oldest first)"):
            table.add_column(column, justify="right" if column in ("threshold", "value") else "left")
        for row in rows:
            table.add_row(row["input"], row["metric"], f"{row['threshold']:g}", f"{row['value']:.4f}",
                          "ANOMALY" if row["is_anomaly"] else "ok", " → ".join(f"{v:.4f}" for v in row["trend"][-5:]))
        console.print(table)


def main() -> None:
    cli(prog_name="toolkit")
