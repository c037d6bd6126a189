"""Large projects load in forked workers: the same nodes, the same first error, the template cache kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_files

from toolkit.config import load_settings
from toolkit.errors import ProjectError
from toolkit.project import parallel
from toolkit.project.load import load_project


def chain(count: int) -> dict[str, str]:
    files = {"models/m0.sql": "{{ config(tags=['first']) }}select 1 as x, {{ surrogate_key(['1']) }} as k"}
    for i in range(1, count):
        files[f"models/layer_{i % 3}/m{i}.sql"] = (
            f"{{{{ config(materialized='view', assertions=[not_null('x')]) }}}}\n"
            f"select x + {i} as x from {{{{ ref('m{i - 1}') }}}}"
        )
    return files


def snapshot(root: Path) -> dict:
    nodes = load_project(load_settings(root)).nodes
    return {name: (node.sql, node.depends_on, node.kind, node.materialized, node.tags, node.assertions)
            for name, node in nodes.items()}


def test_parallel_and_sequential_loading_agree(tmp_path, monkeypatch):
    root = write_files(tmp_path, chain(40))
    sequential = snapshot(root)
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 2)
    assert snapshot(root) == sequential
    assert list(snapshot(root)) == list(sequential)  # the same order


def test_the_first_error_is_the_earliest_files_with_its_location(tmp_path, monkeypatch):
    files = chain(40)
    files["models/layer_1/m10.sql"] = "select x from {{ ref('nope') }}"
    files["models/layer_2/m20.sql"] = "select {{ undefined_thing }}"
    root = write_files(tmp_path, files)
    with pytest.raises(ProjectError) as sequential:
        load_project(load_settings(root))
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 2)
    with pytest.raises(ProjectError) as in_workers:
        load_project(load_settings(root))
    assert str(in_workers.value) == str(sequential.value)
    assert in_workers.value.location == sequential.value.location
    assert in_workers.value.hint == sequential.value.hint


def test_workers_compiled_templates_reach_the_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "PARALLEL_FROM", 2)
    root = write_files(tmp_path, chain(30))
    settings = load_settings(root)
    load_project(settings)
    from toolkit.project.template_cache import SingleFileBytecodeCache

    cache = SingleFileBytecodeCache(settings.target / "jinja-cache.bin")
    assert len(cache._stored) >= 30  # every model file's compiled template, from both workers
