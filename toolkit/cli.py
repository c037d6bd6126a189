"""The `toolkit` command line. Only the toolkit's own errors are caught: their message goes to stderr
and the exit code is 2 (usage or project) or 1 (a node failed); anything else is a bug with a traceback."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click
import duckdb
from rich.console import Console
from rich.text import Text
from sqlglot import exp

from toolkit import __version__
from toolkit.config import Settings, load_settings
from toolkit.display.consoles import output_width, stderr_console, stdout_console
from toolkit.display.fit import print_rows
from toolkit.display.listings import print_models, print_nodes
from toolkit.display.monitoring import print_monitoring
from toolkit.display.results import DEFAULT_MAX_ROWS, FORMATS, render_rows
from toolkit.display.runs import print_failures, print_summary, reporter_for
from toolkit.errors import ConfigError, ToolkitError, WarehouseError
from toolkit.project.load import Project, load_project
from toolkit.project.manifest import Reference
from toolkit.project.nodes import Node, NodeKind
from toolkit.project.seeds import seed_selection
from toolkit.runner import (
    RunResult,
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

console = stdout_console()  # sized by the terminal (COLUMNS when set); unbounded when piped
errors = stderr_console()

EXPORT_DIALECTS = ["duckdb", "bigquery", "snowflake", "postgres"]  # `toolkit compile --model … --dialect`
# Exit codes, decided by the command, not by the error: a build whose nodes failed exits EXIT_FAILED; any error
# that stops a command before or instead of its work (arguments, settings, project, warehouse, a query's model)
# exits EXIT_USAGE.
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
SELECTOR_OPTIONS = ("--select", "-s", "--exclude")


def spread_selectors(args: list[str]) -> list[str]:
    """`--select a b --exclude c` as `--select a --select b --exclude c`: dbt's habit of naming several selectors
    after one option, besides one quoted string (`--select "a b"`) and repeating the option; all are a union
    (https://docs.getdbt.com/reference/node-selection/set-operators/)."""
    spread: list[str] = []
    current: str | None = None  # the selector option the bare words that follow belong to
    waiting = False  # the option was just given, its own value is still to come
    for position, arg in enumerate(args):
        if arg == "--":
            return spread + args[position:]
        if arg in SELECTOR_OPTIONS:
            current, waiting = arg, True
            spread.append(arg)
        elif arg.startswith(tuple(f"{option}=" for option in SELECTOR_OPTIONS if option.startswith("--"))):
            current, waiting = arg.partition("=")[0], False
            spread.append(arg)
        elif current is not None and not arg.startswith("-"):
            spread += [arg] if waiting else [current, arg]
            waiting = False
        else:
            current, waiting = None, False
            spread.append(arg)
    return spread


class _Command(click.Command):
    """A command whose --select and --exclude take several words, when it has no positional arguments to confuse."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        names = {param.name for param in self.params}
        if "select" in names and not any(isinstance(param, click.Argument) for param in self.params):
            args = spread_selectors(args)
        return super().parse_args(ctx, args)


class _Cli(click.Group):
    command_class = _Command

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
                  help="The folder whose pyproject.toml holds [tool.toolkit] (or a dbt project's dbt_project.yml).")
    @click.option("--warehouse", type=click.Path(dir_okay=False, path_type=Path), default=None,
                  help="The DuckDB file to use instead of [tool.toolkit].warehouse.")
    @click.option("--vars", "vars_json", default=None, metavar="JSON",
                  help='Project variables as a JSON object, overriding [tool.toolkit.vars]: \'{"k": 1}\'.')
    @click.option("--profiles-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                  help="In a dbt project: the folder of profiles.yml (default: $DBT_PROFILES_DIR, the project "
                  "folder, ~/.dbt).")
    @functools.wraps(function)
    def wrapper(project_dir: Path, warehouse: Path | None, vars_json: str | None, profiles_dir: Path | None,
                **kwargs: Any) -> Any:
        profile_target = None
        if "target" in kwargs:  # --target duckdb|bigquery, or a dbt project's profile target (dev, prod, …)
            if kwargs["target"] not in (None, *TARGETS):
                profile_target = kwargs["target"]
            kwargs["target"] = "bigquery" if kwargs["target"] == "bigquery" else "duckdb"
        settings = load_settings(project_dir, warehouse, profile_target,
                                 profiles_dir.resolve() if profiles_dir else None)
        return function(settings=settings, vars=_parse_vars(vars_json), **kwargs)

    return wrapper


def _selection_options(function: Callable) -> Callable:
    @click.option("--select", "-s", multiple=True, metavar="SELECTOR",
                  help="name, +name, name+, tag:x, path:models/sub; several after one --select, quoted together, "
                  "or --select repeated.")
    @click.option("--exclude", multiple=True, metavar="SELECTOR", help="Selectors to leave out (as --select).")
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
    @click.option("--target", default=None, metavar="duckdb|bigquery|NAME",
                  help="bigquery: BigQuery SQL (compile: under target/bigquery/; build: run there); in a dbt "
                  "project, NAME picks the profile's target (default: duckdb, the warehouse).")
    @click.option("--project", "bigquery_project", metavar="ID", default=None,
                  help="With --target bigquery: the BigQuery project, instead of [tool.toolkit.bigquery].project.")
    @functools.wraps(function)
    def wrapper(**kwargs: Any) -> Any:
        return function(**kwargs)

    return wrapper


def _output_option(function: Callable) -> Callable:
    return click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True,
                        help="json: the results as one JSON document on stdout.")(function)


def _state_option(function: Callable) -> Callable:
    return click.option("--state", "state", type=click.Path(path_type=Path), default=None, metavar="PATH",
                        help="An earlier build's target folder (manifest.json, run_results.json) for state:modified "
                        "and result:… selectors (default: target/, the last build's).")(function)


def _selected(project: Project, select: tuple[str, ...], exclude: tuple[str, ...], state: Path | None) -> list[str]:
    """The selection, `state:` and `result:` selectors compared with --state (or the last build's target/)."""
    from toolkit.project.manifest import read_reference

    if state is not None or any(":" in s and s.strip("+").split(":")[0] in ("state", "result")
                                for arg in (*select, *exclude) for s in arg.split()):
        project.graph.reference = read_reference(state or project.settings.target, required=state is not None)
    return project.graph.select(select, exclude)


@cli.command()
@_project_options
@_selection_options
@_state_option
@_target_options
@click.option("--dry-run", is_flag=True, help="With --target bigquery: check each statement with a dry-run job.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models whole instead of adding to them.")
@click.option("--defer", is_flag=True, help="With --state: refs to nodes neither selected nor built here read the "
              "relations of the warehouse that state's build wrote.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="Nodes built at once (default: [tool.toolkit].threads, 1).")
@click.option("--skip-unchanged/--no-skip-unchanged", default=None,
              help="Keep nodes whose SQL, config and inputs are unchanged since their last build (default: "
              "[tool.toolkit].skip_unchanged, true).")
@_output_option
def build(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
          state: Path | None, target: str, bigquery_project: str | None, dry_run: bool, full_refresh: bool,
          defer: bool, threads: int | None, skip_unchanged: bool | None, output: str) -> None:
    """Render, order and build the project's nodes in the warehouse (or on BigQuery, --target bigquery)."""
    from toolkit.project.load import with_full_refresh

    project = load_project(settings, vars)
    selected = _selected(project, select, exclude, state)
    if full_refresh:
        project = with_full_refresh(project)
    if defer and state is None:
        raise ToolkitError("--defer reads the relations of another build", hint="name it with --state PATH "
                           "(the target folder of that build)")
    if skip_unchanged is not None:
        settings = replace(settings, skip_unchanged=skip_unchanged)
    if threads is not None:
        settings = replace(settings, threads=threads)
    if dry_run and target != "bigquery":
        raise ToolkitError("--dry-run checks statements on BigQuery", hint="add --target bigquery")
    if target == "bigquery":
        _build_on_bigquery(project, selected, bigquery_project, dry_run)
        return
    if not selected:
        _say(output, "Nothing to build: the selection matched no nodes.")
        return
    if copy_example_if_missing(settings.warehouse, settings.example_warehouse):
        _say(output, f"Created {_shown(settings.warehouse)} from {_shown(settings.example_warehouse)}.")
    _run_and_report(settings, project, selected, "build", output, named=project.graph.named(select),
                    defer=project.graph.reference if defer else None)


@cli.command()
@_project_options
@_selection_options
@_state_option
@click.option("--unit", is_flag=True, help="Run the selected models' unit tests (unit_tests: in YAML) instead.")
@_output_option
def test(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
         state: Path | None, unit: bool, output: str) -> None:
    """Run the selected nodes' assertions against the published tables, building nothing."""
    project = load_project(settings, vars)
    selected = _selected(project, select, exclude, state)
    if unit:
        _run_unit_tests(settings, project, selected, output)
        return
    if not any(project.nodes[name].assertions for name in selected):
        _say(output, "Nothing to test: the selected nodes declare no assertions"
                     + (" (their unit tests run with --unit)." if project.unit_tests else "."))
        return
    if not settings.warehouse.is_file():
        raise WarehouseError(f"warehouse {settings.warehouse} does not exist", hint="run `toolkit build` first")
    _run_and_report(settings, project, selected, "test", output)


@cli.command(name="split-report")
@_project_options
@click.argument("node")
@click.option("--split-column", default="split", show_default=True, help="The column naming each row's split.")
@click.option("--label", default=None, metavar="COLUMN", help="The label column: its distribution per split.")
@click.option("--features", default=None, metavar="A,B", help="Columns to compare (default: all but split, label, key).")
@click.option("--key", "key_sql", default=None, metavar="SQL", help="The split key, when the node has no hash_split().")
@click.option("--buckets", type=click.IntRange(min=1), default=None, help="Hash buckets of the split, with --key.")
@click.option("--format", "--output", "output", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
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


def _run_and_report(settings: Settings, project: Project, selected: list[str], command: str, output: str,
                    named: set[str] | None = None,
                    finish: Callable[[duckdb.DuckDBPyConnection, RunResult], Path] | None = None,
                    defer: Reference | None = None) -> None:
    """Build or test with live progress; then the summary (a table, or with --output json the run's results as
    run_results.json holds them, the progress then going to stderr)."""
    shown = errors if output == "json" else console
    con = open_writer(settings.warehouse, settings.lock_timeout)
    try:
        for leftover in drop_leftovers(con):
            shown.print(f"Removed {leftover}, left behind by an interrupted build.")
        if defer is not None:
            project = _deferred(con, project, selected, defer, shown)
        if command == "build":
            check_sources(con, project, selected)
            check_replaceable(con, project, selected)
            _report_orphans(con, project, shown)
            on = f" on {settings.threads} threads" if settings.threads > 1 else ""
            shown.print(f"Building {len(selected)} node(s) in {_shown(settings.warehouse)}{on}")
        with reporter_for(shown) as reporter:
            outcome = run(con, project, selected, reporter, command=command, reuse=settings.skip_unchanged,
                          named=named or set(), threads=settings.threads)
        try:
            results_path = save_results(con, outcome, settings.target)
            if command == "build":
                _write_manifest(project, outcome.run_id, {r.node for r in outcome.results})
            if finish is not None:
                results_path = finish(con, outcome)
        except ToolkitError:
            print_summary(shown, errors, outcome)  # what the run did, though it could not be recorded
            raise
    finally:
        con.close()
    if output == "json":
        print_failures(errors, outcome)
        click.echo(json.dumps(outcome.to_json(), indent=2))
    else:
        print_summary(console, errors, outcome)
        console.print(f"Results: {_shown(results_path)} and the _toolkit tables of the warehouse")
    if outcome.failed:
        sys.exit(EXIT_FAILED)


def _deferred(con: duckdb.DuckDBPyConnection, project: Project, selected: list[str], reference: Reference,
              shown: Console) -> Project:
    from toolkit.project.graph import Graph
    from toolkit.warehouse.defer import deferred_nodes

    nodes, deferred = deferred_nodes(con, project.nodes, selected, reference)
    if not deferred:
        return project
    shown.print(f"Deferred to {reference.warehouse}: {', '.join(deferred)} (not selected, not built here)")
    graph = Graph(nodes)
    graph.reference = project.graph.reference
    return replace(project, graph=graph)


def _write_manifest(project: Project, run_id: str, built: set[str]) -> None:
    """target/manifest.json; a node this build did not select keeps the checksum of the build that last did, so
    state:modified means "changed since it was last built"."""
    from toolkit.project.manifest import manifest, read_reference, write_manifest

    settings = project.settings
    before = read_reference(settings.target).checksums or {}
    kept: dict[str, str | None] = {name: before.get(name) for name in project.nodes if name not in built}
    document = manifest(project.nodes, project.graph.parents, settings.package_name, settings.warehouse, run_id,
                        kept)
    try:
        write_manifest(settings.target, document)
    except OSError as error:
        raise ToolkitError(f"the build is published, but manifest.json could not be written: "
                           f"{error.strerror or error}", hint="free disk space, or make the target folder writable"
                           ) from None


def _say(output: str, message: str) -> None:
    """A remark of a command: on stdout, or on stderr when stdout holds JSON."""
    (errors if output == "json" else console).print(message)


def _report_orphans(con: duckdb.DuckDBPyConnection, project: Project, shown: Console) -> None:
    from toolkit.ml.store.lifecycle import drop_hint

    for model in orphaned_models(con, project):
        shown.print(f"Model {model} is orphaned: it is in the model store, but no CREATE MODEL file of the project "
                    f"trains it any more; ML.* calls still read it. Remove it with: {drop_hint(model)}",
                    style="yellow")


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
        if node.snapshot is not None:  # a snapshot file may hold several; a YAML one has no SQL file
            path = path.with_name(f"{node.name}.sql")
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
@_state_option
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def ls(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
       state: Path | None, output: str) -> None:
    """List the nodes with their kind, materialization and dependencies."""
    project = load_project(settings, vars)
    nodes = [project.nodes[name] for name in _selected(project, select, exclude, state)]
    if output == "json":
        click.echo(json.dumps([_node_json(node) for node in nodes], indent=2))
        return
    print_nodes(console, nodes)


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


def _result_options(function: Callable) -> Callable:
    """How `show` and `query` print rows: DuckDB's box at the console's width, or a text format for scripts."""
    @click.option("--format", "--output", "output", type=click.Choice(FORMATS), default="table", show_default=True,
                  help="table: DuckDB's box, middle columns elided to fit; csv, json, jsonl, markdown: every row.")
    @click.option("--max-width", type=click.IntRange(min=20), default=None,
                  help="The table's width (default: the terminal's, COLUMNS when set, unbounded when piped).")
    @click.option("--max-rows", type=click.IntRange(min=1), default=None,
                  help=f"Rows the table shows, its first and last halves (default {DEFAULT_MAX_ROWS}).")
    @functools.wraps(function)
    def wrapper(**kwargs: Any) -> Any:
        return function(**kwargs)

    return wrapper


@cli.command()
@_project_options
@click.argument("node")
@click.option("--limit", "-n", type=click.IntRange(min=0), default=10, show_default=True)
@_result_options
def show(settings: Settings, vars: dict[str, Any], node: str, limit: int, output: str, max_width: int | None,
         max_rows: int | None) -> None:
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
        shown = exp.select("*").from_(parse_relation(target.relation)).limit(limit)
        text = _rendered(con, render(shown), output, max_width, max_rows or max(limit, 1),
                         hint=f"build it: toolkit build --select {target.name}")
    finally:
        con.close()
    if output == "table":
        console.print(Text(f"{target.schema}.{target.name}", style="italic"))
    click.echo(text, nl=False)


@cli.command()
@_project_options
@click.argument("sql")
@_result_options
@click.option("--dialect", type=click.Choice(list(DIALECTS)), default=None,
              help="The SQL dialect of the statement (default: the project's [tool.toolkit].dialect).")
def query(settings: Settings, vars: dict[str, Any], sql: str, output: str, max_width: int | None,
          max_rows: int | None, dialect: str | None) -> None:
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
    max_rows = max_rows or DEFAULT_MAX_ROWS
    con = open_reader(settings.warehouse, settings.lock_timeout)
    try:
        if statement is None:
            text = _rendered(con, sql, output, max_width, max_rows)
        else:
            from toolkit.ml.functions.apply import applied_ml_calls  # scikit-learn loads only when a model is applied

            with applied_ml_calls(con, statement) as applied:
                text = _rendered(con, applied.sql, output, max_width, max_rows)
    finally:
        con.close()
    if text is not None:
        click.echo(text, nl=False)


def _rendered(con: duckdb.DuckDBPyConnection, sql: str, output: str, max_width: int | None, max_rows: int,
              hint: str | None = None) -> str | None:
    """The rows of one read as `output` shows them; None for a statement that returns none."""
    try:
        relation = con.sql(_one_read(con, sql))
        if relation is None:
            return None
        return render_rows(relation, output, max_width or output_width(), max_rows)
    except duckdb.Error as error:
        raise WarehouseError(str(error), hint=hint) from None


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
    print_rows(console, [str(column[0]) for column in description], rows, title)


# --- models ------------------------------------------------------------------------------------------
@cli.command()
@_project_options
@click.option("--output", type=click.Choice(["table", "json"]), default="table", show_default=True)
def models(settings: Settings, vars: dict[str, Any], output: str) -> None:
    """List the trained models in the warehouse's model store, with their versions and metrics."""
    from toolkit.ml import list_models  # scikit-learn loads only for this command

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
    print_models(console, summaries)


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


@cli.command()
@_project_options
@_selection_options
@_output_option
def seed(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
         output: str) -> None:
    """Load the seeds folder's CSV files into their tables (and run their YAML tests); `build` loads them too."""
    project = load_project(settings, vars)
    chosen = set(project.graph.select(select, exclude))
    selected = [name for name in seed_selection(project.nodes) if name in chosen]
    if not selected:
        _say(output, f"Nothing to seed: no CSV file in {_shown(settings.seeds_dir)} is selected.")
        return
    _run_and_report(settings, project, project.graph.order(selected), "build", output)


# --- serve -------------------------------------------------------------------------------------------
@cli.command()
@_project_options
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--models", "only", default=None, metavar="A,B", help="Serve only these models (default: all).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes.")
@click.option("--watch", "watch_seconds", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Look for new model versions this often, in seconds (0: only on POST /v1/admin:reload).")
@click.option("--max-instances", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="Instances per request, at most.")
@click.option("--max-body-bytes", type=click.IntRange(min=1), default=1_048_576, show_default=True)
def serve(settings: Settings, vars: dict[str, Any], host: str, port: int, only: str | None, workers: int,
          watch_seconds: float, max_instances: int, max_body_bytes: int) -> None:
    """Serve every model of the warehouse over HTTP: POST /v1/models/<model>:predict answers as ML.PREDICT."""
    # imported here, so that other commands start without loading the ASGI stack
    from toolkit.serve.app import ServeOptions
    from toolkit.serve.server import serve as run_server

    models = tuple(name.strip() for name in (only or "").split(",") if name.strip())
    options = ServeOptions(settings.warehouse, models, max_instances, max_body_bytes, watch_seconds)
    run_server(options, host, port, workers)


# --- docs ------------------------------------------------------------------------------------------
@cli.group()
def docs() -> None:
    """The docs site: lineage, a page per node, a report per model (static HTML under target/docs/)."""


@docs.command(name="generate")
@_project_options
def docs_generate(settings: Settings, vars: dict[str, Any]) -> None:
    """Write the site to target/docs/ (it opens offline)."""
    from toolkit.docs import generate_docs

    site = generate_docs(load_project(settings, vars))
    console.print(f"Wrote {site.pages} pages ({site.models} model reports) to {_shown(site.folder)} in "
                  f"{site.seconds:.1f}s: open {_shown(site.folder / 'index.html')}", soft_wrap=True)


@docs.command(name="serve")
@_project_options
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="The port on 127.0.0.1 (0: any free one).")
def docs_serve(settings: Settings, vars: dict[str, Any], port: int) -> None:
    """Generate the site and serve it on 127.0.0.1."""
    from toolkit.docs import generate_docs, serve_docs

    site = generate_docs(load_project(settings, vars))
    serve_docs(site.folder, port, lambda url: console.print(f"Serving {_shown(site.folder)} on {url} (Ctrl+C stops)"))


# --- monitor -----------------------------------------------------------------------------------------
@cli.command()
@_project_options
@click.argument("model", required=False)
@click.option("--format", "--output", "output", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
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
    print_monitoring(console, found)


@cli.command()
@_project_options
@_output_option
def retry(settings: Settings, vars: dict[str, Any], output: str) -> None:
    """Run again what errored, failed or was skipped in the last build or test (target/run_results.json)."""
    from toolkit.project.manifest import read_reference, retry_selection

    project = load_project(settings, vars)
    reference = read_reference(settings.target)
    if reference.statuses is None:
        raise ToolkitError(f"nothing to retry: {_shown(settings.target / 'run_results.json')} does not exist",
                           hint="run `toolkit build` first")
    selected = retry_selection(project.graph.order(), reference)
    if not selected:
        _say(output, f"Nothing to retry: every node of the last {reference.command} succeeded.")
        return
    _say(output, f"Retrying {len(selected)} node(s) of the last {reference.command}: {', '.join(selected)}")
    _run_and_report(settings, project, selected, reference.command, output)


@cli.group()
def source() -> None:
    """Source tables: their freshness."""


@source.command(name="freshness")
@_project_options
@_selection_options
@_output_option
def source_freshness(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
                     output: str) -> None:
    """Check the freshness of the source tables whose YAML declares it; writes target/sources.json."""
    from toolkit.checks.freshness import freshness_nodes, newest_load, sources_document

    project = load_project(settings, vars)
    chosen = set(project.graph.select(select, exclude)) if select or exclude else set(project.nodes)
    selected = [name for name in freshness_nodes(project.nodes) if name in chosen]
    if not selected:
        _say(output, "Nothing to check: no selected source declares freshness (with a loaded_at_field) in its YAML.")
        return
    if not settings.warehouse.is_file():
        raise WarehouseError(f"warehouse {settings.warehouse} does not exist", hint="load the sources first")

    def write_sources(con: duckdb.DuckDBPyConnection, outcome: RunResult) -> Path:
        nodes = [project.nodes[name] for name in selected]
        verdicts = {r.node: (r.status.value, r.seconds, r.message) for r in outcome.results}
        document = sources_document(nodes, verdicts, {node.name: newest_load(con, node) for node in nodes},
                                    settings.package_name, outcome.run_id)
        path = settings.target / "sources.json"
        path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
        return path

    _run_and_report(settings, project, selected, "test", output, finish=write_sources)


# --- predict -----------------------------------------------------------------------------------------
@cli.command()
@_project_options
@click.argument("model")
@click.option("--json", "json_text", default=None, metavar="JSON",
              help='An instance {"column": value, …}, or a request body {"instances": […], "parameters": {…}}.')
@click.option("--file", "source", type=click.File("r"), default=None,
              help="JSON lines of instances or request bodies ('-': stdin, the default without --json).")
@click.option("--parameters", "parameters_json", default=None, metavar="JSON",
              help='The parameters of the instance lines, e.g. {"threshold": 0.3}.')
@click.option("--explain", is_flag=True, help="Answer as :explain (ML.EXPLAIN_PREDICT) instead of :predict.")
@click.option("--max-instances", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="Instances per request, at most.")
def predict(settings: Settings, vars: dict[str, Any], model: str, json_text: str | None, source: Any,
            parameters_json: str | None, explain: bool, max_instances: int) -> None:
    """Predict with MODEL as POST /v1/models/MODEL:predict would; one JSON line per prediction."""
    import json as json_module

    from toolkit.serve.oneoff import LineError, predict_lines

    try:
        parameters = json_module.loads(parameters_json) if parameters_json is not None else {}
    except ValueError as error:
        raise ConfigError(f"--parameters is not valid JSON: {error}", hint='e.g. --parameters \'{"threshold": 0.3}\'')
    if not isinstance(parameters, dict):
        raise ConfigError("--parameters must be a JSON object", hint='e.g. --parameters \'{"threshold": 0.3}\'')
    if json_text is not None and source is not None:
        raise ConfigError("give --json or --file, not both")
    lines = [json_text] if json_text is not None else (source or sys.stdin)
    try:
        for row in predict_lines(settings.warehouse, model, lines, parameters,
                                 verb="explain" if explain else "predict", max_instances=max_instances):
            click.echo(json_module.dumps(row))
    except LineError as error:
        click.echo(json_module.dumps(error.body()), err=True)
        raise SystemExit(1) from None


@cli.command()
@_project_options
@_selection_options
@_output_option
def snapshot(settings: Settings, vars: dict[str, Any], select: tuple[str, ...], exclude: tuple[str, ...],
             output: str) -> None:
    """Record the snapshots' changes in their history tables (and run their YAML tests); `build` runs them too."""
    from toolkit.project.snapshot_nodes import snapshot_selection

    project = load_project(settings, vars)
    chosen = set(project.graph.select(select, exclude))
    selected = [name for name in snapshot_selection(project.nodes) if name in chosen]
    if not selected:
        _say(output, f"Nothing to snapshot: no snapshot in {_shown(settings.snapshots_dir)} (or YAML) is selected.")
        return
    _run_and_report(settings, project, project.graph.order(selected), "build", output)


def _run_unit_tests(settings: Settings, project: Project, selected: list[str], output: str) -> None:
    """`test --unit`: each unit test of a selected model, on mock rows; exit code 1 when one does not pass."""
    from toolkit.project.unit_run import run_unit_test

    tests = [test for test in project.unit_tests if test.model in set(selected)]
    if not tests:
        _say(output, "Nothing to test: the selected models have no unit tests.")
        return
    con = (open_reader(settings.warehouse, settings.lock_timeout) if settings.warehouse.is_file()
           else duckdb.connect(":memory:"))  # the given rows take the inputs' column types when they are built
    try:
        results = [run_unit_test(con, test) for test in tests]
    finally:
        con.close()
    if output == "json":
        click.echo(json.dumps([{"unit_test": r.test.name, "model": r.test.model, "status": r.status,
                                "message": r.message, "seconds": round(r.seconds, 3),
                                "file": _shown(r.test.spec.path)} for r in results], indent=2))
    else:
        for r in results:
            style = {"pass": "green", "fail": "red", "error": "red"}[r.status]
            stdout_console().print(Text.assemble((f"{r.status.upper():5} ", style), (r.test.name, "bold"),
                                                 f" ({r.test.model}, {_shown(r.test.spec.path)})",
                                                 (f"  [{r.seconds:.2f}s]", "dim")))
            if r.message:
                stdout_console().print(Text(r.message), soft_wrap=True)
        passed = sum(r.status == "pass" for r in results)
        stdout_console().print(f"{passed} of {len(results)} unit tests passed.")
    if any(r.status != "pass" for r in results):
        sys.exit(1)


def main() -> None:
    cli(prog_name="toolkit")
