"""The same files and data give the same warehouse, bit for bit: the example built five times from scratch, and its
models retrained five times, with DuckDB's default threads (whose row order and partial sums vary from run to run)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from conftest import REPO, query, run_toolkit

BUILDS = 5
MODELS = ("flight_delay", "arrival_delay", "route_clusters")


def _fingerprint_module():
    spec = importlib.util.spec_from_file_location("warehouse_fingerprint", REPO / "scripts" / "warehouse_fingerprint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _example(folder: Path) -> Path:
    folder.mkdir()
    for name in ("pyproject.toml", "warehouse.duckdb.example"):
        shutil.copy(REPO / name, folder / name)
    for name in ("models", "macros"):
        shutil.copytree(REPO / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("builds")
    warehouses = []
    for i in range(BUILDS):
        folder = _example(root / f"build_{i}")
        result = run_toolkit(folder, "build")
        assert result.returncode == 0, result.stdout + result.stderr
        warehouses.append(folder / "warehouse.duckdb")
    return warehouses


def test_five_builds_from_scratch_are_identical(builds):
    fingerprint = _fingerprint_module().fingerprint
    first = fingerprint(str(builds[0]))
    assert any(key.startswith("estimator ") for key in first) and "main.flight_delay_predictions" in first
    for other in builds[1:]:
        again = fingerprint(str(other))
        assert again.keys() == first.keys()
        differing = [key for key in first if again[key] != first[key]]
        assert not differing, f"{other.parent.name} differs from build_0 in {differing}"
    # the stored artifacts too, byte for byte (their checksums, and so the versions' checksums)
    digests = "SELECT model_name, artifact_sha256, version_sha256 FROM _toolkit.model_versions ORDER BY model_name"
    assert all(query(other, digests) == query(builds[0], digests) for other in builds[1:])


def test_retrained_models_are_identical(builds):
    """Five more versions of each model on the same warehouse: the same parameters, statistics and metrics."""
    folder = builds[0].parent
    for _ in range(BUILDS - 1):
        result = run_toolkit(folder, "build", "--select", " ".join(MODELS))
        assert result.returncode == 0, result.stdout + result.stderr
    fingerprint = _fingerprint_module()
    columns = ("preprocessing", "transform", "compiled", "estimator_params", "metrics", "test_metrics", "split",
               "data_fingerprint", "classes", "feature_schema", "artifact_sha256")
    for model in MODELS:
        rows = query(builds[0], f"SELECT version, {', '.join(columns)} FROM _toolkit.model_versions "
                                f"WHERE model_name = '{model}' ORDER BY version")
        assert [row[0] for row in rows] == list(range(1, BUILDS + 1))
        assert all(row[1:] == rows[0][1:] for row in rows), model
        info = query(builds[0], "SELECT * EXCLUDE (model_name) FROM _toolkit.model_feature_info "
                                f"WHERE model_name = '{model}' ORDER BY version, rowid")
        by_version = {v: [row[1:] for row in info if row[0] == v] for v in range(1, BUILDS + 1)}
        assert by_version[1] and all(rows == by_version[1] for rows in by_version.values()), model
    digests = {key: value for key, value in fingerprint.fingerprint(str(builds[0])).items()
               if key.startswith("estimator ")}
    for model in MODELS:
        assert len({digests[f"estimator {model} version {v}"] for v in range(1, BUILDS + 1)}) == 1, model
