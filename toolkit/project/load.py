"""Load a project: discover → render → resolve refs → parse → nodes → graph."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlglot.errors

from toolkit.config import TOOLKIT_SCHEMAS, Settings
from toolkit.errors import ConfigError, Location, ProjectError, ToolkitError
from toolkit.project.assertions import Assertion, make_assertion, unique_names
from toolkit.project.context import package_macro_files
from toolkit.project.discover import MODEL_SUFFIX, macro_files, model_files, standard_macro_files
from toolkit.project.graph import Graph
from toolkit.project.incremental import incremental_keys_used, incremental_settings
from toolkit.project.nodes import HashSplit, Incremental, Materialization, Node, NodeKind
from toolkit.project.parallel import map_in_order
from toolkit.project.parse import Statement, parse_model
from toolkit.project.properties import load_properties, property_files
from toolkit.project.render import ASSERTION_FILE_KEYS, Rendered, Renderer, resolve_markers
from toolkit.project.seeds import seed_files
from toolkit.project.snapshot_nodes import (
    render_snapshots,
    snapshot_configs,
    snapshot_definitions,
    snapshot_node,
    snapshot_schema,
)
from toolkit.project.unit_run import prepare_unit_tests
from toolkit.project.unit_tests import UnitTest, read_unit_tests, unit_test_digest
from toolkit.project.yaml_nodes import (
    check_targets,
    configured,
    seed_nodes,
    with_properties,
    with_yaml_sources,
    yaml_additions,
)
from toolkit.sql.bigquery import Untranslatable
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.create_model import CreateModel, read_create_model
from toolkit.sql.dialect import DEFAULT_DIALECT
from toolkit.sql.ml_functions import data_calls, model_names
from toolkit.sql.quoting import parse, render
from toolkit.sql.translation import prepare_translation, warehouse_statement


@dataclass(frozen=True)
class Project:
    settings: Settings
    graph: Graph
    unit_tests: tuple[UnitTest, ...] = ()  # dbt's unit tests, run by `test --unit` and before their model builds

    @property
    def nodes(self) -> dict[str, Node]:
        return self.graph.nodes


def load_project(settings: Settings, vars: dict[str, Any] | None = None) -> Project:
    """Every model file rendered, parsed and placed in the DAG; the first problem raises a ToolkitError."""
    files = model_files(settings.models)
    singular = _singular_tests(settings, files)
    seeds = seed_files(settings.seeds_dir)
    _check_seed_names({**files, **singular}, seeds)
    properties = load_properties(property_files(settings.models, settings.seeds_dir, settings.snapshots_dir))
    settings = with_yaml_sources(settings, properties)
    check_targets(properties, files, seeds, settings)
    snapshots = snapshot_definitions(settings, properties, {**files, **seeds})
    pyproject = settings.project_dir / settings.config_file
    defaults = {name: configured(settings.model_configs, settings.models, path, properties.models.get(name), pyproject)
                for name, path in files.items()}
    defaults.update({name: {"materialized": Materialization.ASSERTION.value} for name in singular})
    files = {**files, **singular}
    seed_configs = {name: configured(settings.seed_configs, settings.seeds_dir, path, properties.seeds.get(name),
                                     pyproject) for name, path in seeds.items()}
    renderer = Renderer(
        settings,
        node_names=[*files, *seeds, *snapshots],
        vars={**settings.vars, **(vars or {})},
        standard_macros=standard_macro_files(),
        project_macros=macro_files(settings.macros),
        packages=package_macro_files(settings.project_dir),
    )
    rendered, compiled = map_in_order(lambda item: renderer.render(*item, defaults=defaults[item[0]]),
                                      list(files.items()),
                                      collect=renderer.template_cache.entries)
    for entries in compiled:
        renderer.template_cache.merge(entries)
    histories = render_snapshots(renderer, snapshots, snapshot_configs(settings, snapshots, properties))
    renderer.template_cache.save()
    if settings.project_name is not None:  # a dbt project: each node where dbt's generate_schema_name puts it
        for item in rendered:
            item.config["schema"] = renderer.schema_name(item.config.get("schema"))
        for name, config in seed_configs.items():
            config["schema"] = renderer.schema_name(config.get("schema"))
    relations = {r.name: (r.config.get("schema", settings.schema), r.name) for r in rendered}
    relations.update({name: (config.get("schema", settings.schema), name) for name, config in seed_configs.items()})
    relations.update({r.name: (snapshot_schema(r.config, settings.schema), r.name) for r in histories})
    added = yaml_additions(renderer, properties, settings, {r.name: r for r in [*rendered, *histories]}, relations,
                           {name.casefold() for name in relations})
    datasets = Datasets(settings.bigquery.project, settings.bigquery.datasets)
    prepare_translation({r.dialect for r in rendered})  # once, here: the parsing workers inherit what it loads
    nodes, _ = map_in_order(lambda r: _node(r, settings, relations, datasets), rendered)
    nodes += [snapshot_node(r, snapshots[r.name], settings, relations, datasets) for r in histories]
    nodes = [with_properties(node, properties, added, relations) for node in nodes]
    nodes += [*seed_nodes(seeds, seed_configs, properties, settings, added, relations), *added.test_nodes]
    for node in nodes:
        _check_relation(node, settings)
    by_name = {node.name: node for node in nodes}
    _check_model_refs(by_name)
    fixtures = (settings.tests or settings.project_dir / "tests") / "fixtures"
    unit_tests = prepare_unit_tests(renderer, read_unit_tests(properties.unit_tests, fixtures), files, defaults,
                                    relations, settings, datasets) if properties.unit_tests else ()
    for test in unit_tests:
        by_name[test.model] = replace(by_name[test.model], unit_tests=unit_test_digest(
            [t for t in unit_tests if t.model == test.model]))
    return Project(settings=settings, graph=Graph(_with_model_edges(_with_named_edges(by_name))),
                   unit_tests=unit_tests)


def _singular_tests(settings: Settings, models: dict[str, Path]) -> dict[str, Path]:
    """A dbt project's singular tests (https://docs.getdbt.com/docs/build/data-tests#singular-data-tests): each SQL
    file of its test-paths folder selects failing rows, an assertion file in all but its folder."""
    if settings.tests is None:
        return {}
    generic = settings.tests / "generic"
    if generic.is_dir() and any(generic.rglob(f"*{MODEL_SUFFIX}")):
        raise ConfigError(f"custom generic tests ({generic}) are not supported",
                          hint="write the test as an assertion macro in the macros folder: YAML tests name macros")
    tests = model_files(settings.tests)
    folded = {name.casefold(): path for name, path in models.items()}
    for name, path in tests.items():
        if name.casefold() in folded:
            raise ProjectError(f'the test {path} and the model file {folded[name.casefold()]} both define the node '
                               f'"{name}"', hint="node names are file stems and must be unique: rename one")
    return tests


def _check_seed_names(models: dict[str, Path], seeds: dict[str, Path]) -> None:
    folded = {name.casefold(): path for name, path in models.items()}
    for name, path in seeds.items():
        if name.casefold() in folded:
            raise ProjectError(f'the seed {path} and the model file {folded[name.casefold()]} both define the node '
                               f'"{name}"', hint="node names are file stems and must be unique: rename one")


def _check_model_refs(nodes: dict[str, Node]) -> None:
    """A model is not a table: a node that ref()s one without an ML.* call reading it would select from nothing."""
    for node in nodes.values():
        used = {m.casefold() for m in node.uses_models}
        for parent in node.depends_on:
            if nodes[parent].kind is NodeKind.ML_MODEL and parent.casefold() not in used:
                raise ProjectError(
                    f"{parent} is a model, not a table: it has no rows to select", Location(node.path),
                    hint="ask it with an ML.* function, e.g. SELECT * FROM ML.PREDICT(MODEL "
                         f"{{{{ ref('{parent}') }}}}, TABLE {{{{ ref('features') }}}}), or ML.EVALUATE(MODEL …)")


def _with_named_edges(nodes: dict[str, Node]) -> dict[str, Node]:
    """A BigQuery-dialect node that names another node's relation (`dataset.table`, as BigQuery SQL does instead
    of ref()) depends on it."""
    published = {(node.schema.casefold(), node.name.casefold()): name for name, node in nodes.items()
                 if node.kind is not NodeKind.ASSERTION}
    for name, node in nodes.items():
        named = [published.get((schema.casefold(), table.casefold())) for schema, table in node.named]
        missing = [parent for parent in dict.fromkeys(named) if parent and parent != name and parent not in node.depends_on]
        if missing:
            nodes[name] = replace(node, depends_on=(*node.depends_on, *missing))
    return nodes


def _with_model_edges(nodes: dict[str, Node]) -> dict[str, Node]:
    """A node whose ML.* calls name a model of the project depends on it, ref() or not."""
    models = {name.casefold(): name for name, node in nodes.items() if node.kind is NodeKind.ML_MODEL}
    for name, node in nodes.items():
        extra = [models[m.casefold()] for m in node.uses_models if m.casefold() in models]
        missing = [m for m in extra if m not in node.depends_on and m != name]
        if missing:
            nodes[name] = replace(node, depends_on=(*node.depends_on, *missing))
    return nodes


def _node(rendered: Rendered, settings: Settings, relations: dict[str, tuple[str, str]],
          datasets: Datasets) -> Node:
    sql = resolve_markers(rendered.sql, rendered.dialect, relations)
    statement = parse_model(sql, rendered.path, rendered.dialect, datasets)
    config = rendered.config
    materialized = Materialization(config.get("materialized", Materialization.TABLE.value))
    create_model = None
    try:
        if statement.kind is NodeKind.ML_MODEL:
            create_model = _create_model(rendered, statement)
            kind, assertions, materialized = NodeKind.ML_MODEL, [], Materialization.MODEL_STORE
        else:
            kind, assertions = _assertions(rendered, materialized, statement.sql)
        incremental, incremental_sql = _incremental(rendered, materialized, statement, relations, datasets)
    except ToolkitError as error:
        raise error.at(Location(rendered.path)) from None
    return Node(
        incremental=incremental,
        incremental_sql=incremental_sql,
        name=rendered.name,
        path=rendered.path,
        relative_path=Path(os.path.relpath(rendered.path, settings.project_dir)),
        kind=kind,
        materialized=materialized,
        schema=config.get("schema", settings.schema),
        tags=tuple(config.get("tags", ())),
        depends_on=tuple(rendered.refs),
        sources=tuple(rendered.sources),
        sql=statement.sql,
        dialect=rendered.dialect,
        source_sql=statement.source_sql,
        named=statement.named,
        # assertions are DuckDB SQL whatever the file's dialect: the toolkit's macros write them for the warehouse
        assertions=unique_names([a.map_sql(lambda text: resolve_markers(text, DEFAULT_DIALECT, relations))
                                 for a in assertions]),
        create_model=create_model,
        hash_splits=tuple(_hash_split(split, rendered, relations, datasets) for split in rendered.hash_splits),
        uses_models=tuple(model_names(statement.expression)),
        data_calls=tuple(data_calls(statement.expression)),
    )


def _incremental(rendered: Rendered, materialized: Materialization, statement: Statement,
                 relations: dict[str, tuple[str, str]], datasets: Datasets) -> tuple[Incremental | None, str]:
    """An incremental model's settings and its new rows' query (what it renders to with is_incremental() true)."""
    used = incremental_keys_used(rendered.config)
    if materialized is not Materialization.INCREMENTAL:
        if used:
            raise ConfigError(f"config({used[0]}=…) applies to incremental models only",
                              hint="add materialized='incremental' to config(), or remove it")
        return None, ""
    sql = resolve_markers(rendered.incremental_sql or rendered.sql, rendered.dialect, relations)
    increment = parse_model(sql, rendered.path, rendered.dialect, datasets)
    if any(model_names(tree.expression) or data_calls(tree.expression) for tree in (statement, increment)):
        raise ConfigError("an incremental model cannot hold ML.* calls", hint="call them in a table model it reads")
    return incremental_settings(rendered.config), increment.sql


def _hash_split(split: HashSplit, rendered: Rendered, relations: dict[str, tuple[str, str]],
                datasets: Datasets) -> HashSplit:
    """The split with its key as DuckDB SQL, for the split report."""
    key_sql = resolve_markers(split.key_sql, rendered.dialect, relations)
    if rendered.dialect == DEFAULT_DIALECT:  # the warehouse's own SQL already
        return replace(split, key_sql=key_sql)
    try:
        key_sql = render(warehouse_statement(parse(key_sql, rendered.dialect), rendered.dialect, datasets))
    except (Untranslatable, sqlglot.errors.ParseError) as error:
        raise ProjectError(f"hash_split(): its key {key_sql} cannot be read: {error}", Location(rendered.path),
                           hint="hash a column or a simple expression") from None
    return replace(split, key_sql=key_sql)


def _check_relation(node: Node, settings: Settings) -> None:
    """A node may not publish into the toolkit's state schema, nor over a declared source (schema and name compare
    case-insensitively, as in DuckDB); assertions publish nothing."""
    if node.kind is NodeKind.ASSERTION:
        return
    if node.schema.casefold() in {schema.casefold() for schema in TOOLKIT_SCHEMAS}:
        raise ProjectError(
            f"model {node.name} would be built in the schema {node.schema}, which holds the toolkit's own tables",
            Location(node.path),
            hint="give it another schema: config(schema=…) in the file, or [tool.toolkit].schema in pyproject.toml",
        )
    for source in settings.sources.values():
        for table in source.tables:
            if (source.schema.casefold(), table.casefold()) == (node.schema.casefold(), node.name.casefold()):
                verb = "would take the name of" if node.kind is NodeKind.ML_MODEL else "would replace"
                raise ProjectError(
                    f"model {node.name} {verb} the source {source.schema}.{table} declared in pyproject.toml "
                    "[tool.toolkit.sources]",
                    Location(node.path),
                    hint="rename the model file, or set another schema with config(schema=…)",
                )


def _create_model(rendered: Rendered, statement: Statement) -> CreateModel:
    """The CREATE MODEL of an ML model file, whose model must be the node itself."""
    for key in ("materialized", *ASSERTION_FILE_KEYS):
        if key in rendered.config:
            raise ConfigError(f"config({key}=…) does not apply to a CREATE MODEL file", hint="remove it")
    if rendered.assertions:
        raise ConfigError("config(assertions=…) does not apply to a CREATE MODEL file", hint="assert on its input model")
    create = read_create_model(statement.expression)
    from toolkit.ml.types.registry import validate_options  # scikit-learn loads only for projects with models

    validate_options(rendered.name, create.options)  # option typos stop the build before anything runs
    if create.name.casefold() != rendered.name.casefold():
        raise ProjectError(
            f'CREATE MODEL names "{create.name}", but this file defines the node "{rendered.name}"',
            hint=f"a model's name is its file's stem: write CREATE OR REPLACE MODEL {rendered.name} (or {{{{ this }}}}), "
            f"or rename the file to {create.name}.sql",
        )
    return create


def _assertions(rendered: Rendered, materialized: Materialization, sql: str) -> tuple[NodeKind, list[Assertion]]:
    """The node's kind and its assertions: those declared in config(), or for an assertion file its own."""
    file_keys = [key for key in ASSERTION_FILE_KEYS if key in rendered.config]
    if materialized is not Materialization.ASSERTION:
        if file_keys:
            raise ConfigError(
                f"config({file_keys[0]}=…) applies to assertion files (materialized='assertion') only",
                hint="on a model, give it to each assertion instead, e.g. not_null('x', severity='warn')",
            )
        return NodeKind.MODEL, rendered.assertions
    if rendered.assertions:
        raise ConfigError("an assertion file cannot declare assertions of its own", hint="remove config(assertions=…)")
    options = {key: rendered.config[key] for key in file_keys}
    own = make_assertion("assertion", failing_rows=sql, label=rendered.name, **options)
    return NodeKind.ASSERTION, [own]


def with_full_refresh(project: Project) -> Project:
    """`build --full-refresh`: every incremental model rebuilt whole, as dbt's flag does
    (https://docs.getdbt.com/reference/resource-configs/full_refresh)."""
    nodes = {name: replace(node, incremental=replace(node.incremental, full_refresh=True))
             if node.incremental is not None else node for name, node in project.nodes.items()}
    graph = Graph(nodes)
    graph.reference = project.graph.reference
    return replace(project, graph=graph)
