"""What YAML properties and folder configs add to a project: configs merged under each file's own, YAML sources,
tests that audit their model, test nodes, and seed nodes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from toolkit.config import PYPROJECT, Settings, Source
from toolkit.errors import ConfigError, Location, ToolkitError, did_you_mean
from toolkit.project.assertions import Assertion, unique_names
from toolkit.project.folders import check_folder_configs, folder_config, merge_config
from toolkit.project.nodes import Materialization, Node, NodeKind
from toolkit.project.properties import MODEL_CONFIG_KEYS, SEED_CONFIG_KEYS, Properties, ResourceProperties
from toolkit.project.render import Rendered, Renderer, checked_config, resolve_markers
from toolkit.project.seeds import seed_node
from toolkit.project.yaml_tests import freshness_tests, test_node_name, yaml_test
from toolkit.sql.dialect import DEFAULT_DIALECT


def with_yaml_sources(settings: Settings, properties: Properties) -> Settings:
    """The settings with the YAML files' sources added to those of pyproject.toml."""
    if not properties.sources:
        return settings
    sources = dict(settings.sources)
    for declared in properties.sources:
        if declared.name in sources:
            raise ConfigError(f'the source "{declared.name}" is declared twice: in {PYPROJECT} or another YAML file, '
                              f"and in {declared.path}", Location(declared.path),
                              hint="declare each source once")
        sources[declared.name] = Source(declared.name, declared.schema, tuple(t.name for t in declared.tables))
    return replace(settings, sources=sources)


def check_targets(properties: Properties, models: Mapping[str, Path], seeds: Mapping[str, Path],
                  settings: Settings) -> None:
    """Every YAML entry names a file that exists, and every folder config a folder that does."""
    for kind, entries, files in (("models", properties.models, models), ("seeds", properties.seeds, seeds)):
        for name, entry in entries.items():
            if name not in files:
                raise ConfigError(f"{kind}[{name}]: no {kind[:-1]} file is called {name}"
                                  f"{did_you_mean(name, files)}", Location(entry.path),
                                  hint=f"a {kind[:-1]}'s name is its file's stem")
    config_file = settings.project_dir / settings.config_file
    check_folder_configs(settings.model_configs, settings.folder_section("models"), MODEL_CONFIG_KEYS,
                         settings.models, models, config_file)
    check_folder_configs(settings.seed_configs, settings.folder_section("seeds"), SEED_CONFIG_KEYS,
                         settings.seeds_dir, seeds, config_file)


def configured(tree: Mapping[str, Any], root: Path, path: Path, entry: ResourceProperties | None,
               pyproject: Path) -> dict[str, Any]:
    """A file's configs from its folders, then its YAML entry's `config:`, each value checked."""
    merged: dict[str, Any] = {}
    for config, where in ((folder_config(tree, root, path), pyproject),
                          (entry.config if entry else {}, entry.path if entry else pyproject)):
        try:
            checked = {key: checked_config(key, value) for key, value in config.items()
                       if key in MODEL_CONFIG_KEYS}
        except ToolkitError as error:
            raise error.at(Location(where)) from None
        merge_config(merged, {**config, **checked})
    return merged


@dataclass
class YamlAdditions:
    attached: dict[str, list[Assertion]] = field(default_factory=dict)  # node → tests auditing it
    test_nodes: list[Node] = field(default_factory=list)


def yaml_additions(renderer: Renderer, properties: Properties, settings: Settings, rendered: Mapping[str, Rendered],
                   relations: Mapping[str, tuple[str, str]], taken: set[str]) -> YamlAdditions:
    """The YAML tests of models, seeds and sources: each audits its node unless it reads another relation."""
    added = YamlAdditions()
    for entry in [*properties.models.values(), *properties.seeds.values(), *properties.snapshots.values()]:
        tags = tuple(rendered[entry.name].config.get("tags", ())) if entry.name in rendered else ()
        for spec in entry.tests:
            name = test_node_name(spec.test, entry.name, spec.column, set(taken))  # taken once it is a node
            made = yaml_test(renderer, spec, name)
            if made is None:
                continue
            declared = made.declared
            if not declared.refs and not declared.sources:
                added.attached.setdefault(entry.name, []).append(made.assertion)
                continue
            taken.add(name.casefold())
            parents = (entry.name, *(ref for ref in declared.refs if ref != entry.name))
            added.test_nodes.append(_test_node(name, entry.path, settings, [made.assertion], relations, parents,
                                               tuple(declared.sources), relations[entry.name], entry.name, tags))
    for source in properties.sources:
        for table in source.tables:
            where = f"sources[{source.name}].tables[{table.name}]"
            relation = (source.schema, table.name)
            if table.freshness is not None:
                name = test_node_name("source_freshness", f"{source.name}_{table.name}", None, taken)
                made = freshness_tests(renderer, table.freshness, source.path, where, name,
                                       lambda s=source.name, t=table.name: renderer.env.globals["source"](s, t))
                added.test_nodes.append(_test_node(name, source.path, settings, made, relations, (), (relation,),
                                                   relation, f"{source.name}.{table.name}", ()))
            for spec in table.tests:
                name = test_node_name(f"source_{spec.test}", f"{source.name}_{table.name}", spec.column, taken)
                made = yaml_test(renderer, spec, name)
                if made is not None:
                    added.test_nodes.append(_test_node(
                        name, source.path, settings, [made.assertion], relations, tuple(made.declared.refs),
                        tuple(dict.fromkeys((relation, *made.declared.sources))), relation,
                        f"{source.name}.{table.name}", ()))
    return added


def _test_node(name: str, path: Path, settings: Settings, assertions: list[Assertion],
               relations: Mapping[str, tuple[str, str]], parents: tuple[str, ...],
               sources: tuple[tuple[str, str], ...], tested: tuple[str, str], tests_of: str,
               tags: tuple[str, ...]) -> Node:
    resolved = [a.map_sql(lambda text: resolve_markers(text, DEFAULT_DIALECT, dict(relations))) for a in assertions]
    return Node(
        name=name, path=path, relative_path=Path(os.path.relpath(path, settings.project_dir)),
        kind=NodeKind.ASSERTION, materialized=Materialization.ASSERTION, schema=tested[0], tags=tags,
        depends_on=parents, sources=sources, sql="SELECT 1", assertions=unique_names(resolved),
        tested=tested, tests_of=tests_of,
    )


def seed_nodes(seeds: Mapping[str, Path], configs: Mapping[str, dict[str, Any]], properties: Properties,
               settings: Settings, added: YamlAdditions, relations: Mapping[str, tuple[str, str]]) -> list[Node]:
    nodes = []
    for name, path in seeds.items():
        entry = properties.seeds.get(name)
        assertions = [a.map_sql(lambda text: resolve_markers(text, DEFAULT_DIALECT, dict(relations)))
                      for a in added.attached.get(name, [])]
        nodes.append(seed_node(name, path, settings, configs[name], entry.description if entry else "",
                               tuple(entry.columns.items()) if entry else (), unique_names(assertions)))
    return nodes


def with_properties(node: Node, properties: Properties, added: YamlAdditions,
                    relations: Mapping[str, tuple[str, str]]) -> Node:
    """The model (or snapshot) node with its YAML description, column descriptions and the tests that audit it."""
    entries = properties.snapshots if node.materialized is Materialization.SNAPSHOT else properties.models
    entry = entries.get(node.name)
    if entry is None:
        return node
    tests = [a.map_sql(lambda text: resolve_markers(text, DEFAULT_DIALECT, dict(relations)))
             for a in added.attached.get(node.name, [])]
    if tests and node.kind is not NodeKind.MODEL:
        what = "a CREATE MODEL file has no rows" if node.kind is NodeKind.ML_MODEL else "an assertion file has no rows"
        raise ConfigError(f"models[{node.name}]: {what} to test", Location(entry.path),
                          hint="declare the tests on the model it reads")
    return replace(node, description=entry.description, columns=tuple(entry.columns.items()),
                   assertions=unique_names([*node.assertions, *tests]))
