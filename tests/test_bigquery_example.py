"""The example project rewritten in BigQuery's dialect (tests/bigquery_example/models: backtick `dataset.table`
names, BigQuery's functions, # comments, double-quoted strings, temporary functions, the same Jinja) builds to a
warehouse identical to the DuckDB example's: every published relation row for row, bit for bit, and the model
store's versions, metrics, training and feature info and fitted estimators."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import tomllib
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import REPO, invoke

from toolkit.config import load_settings
from toolkit.ml.store.artifact import load
from toolkit.project.load import load_project
from toolkit.warehouse.functions import register_functions

BIGQUERY_MODELS = Path(__file__).parent / "bigquery_example" / "models"

# The example's [tool.toolkit] in BigQuery's dialect: the model files name the warehouse's main schema as the
# dataset nycflights (`nycflights.flight_features`), the raw tables by their own schema (`raw.airports`).
BIGQUERY_PYPROJECT = """\
[tool.toolkit]
warehouse = "warehouse.duckdb"
models = "models"
macros = "macros"
schema = "main"
dialect = "bigquery"

[tool.toolkit.bigquery]
datasets = { nycflights = "main" }

[tool.toolkit.sources]
raw = ["flights", "weather", "planes", "airlines", "airports"]

[tool.toolkit.vars]
min_flights_per_plane = 1
"""


def _fingerprint_module():
    spec = importlib.util.spec_from_file_location("warehouse_fingerprint", REPO / "scripts" / "warehouse_fingerprint.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FINGERPRINT = _fingerprint_module()


def _project(folder: Path, models: Path, pyproject: str) -> Path:
    folder.mkdir()
    (folder / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    shutil.copy(REPO / "warehouse.duckdb.example", folder / "warehouse.duckdb.example")
    shutil.copytree(models, folder / "models")
    shutil.copytree(REPO / "macros", folder / "macros")
    return folder


def _build(folder: Path) -> Path:
    # The whole example, no --select: each build takes ~17 s on 2 idle cores, most of it training arrival_delay and
    # flight_delay, and leaving either out would leave a model kind (boosted trees, logistic regression) untested.
    result = invoke(folder, "build")
    assert result.exit_code == 0, result.output
    assert "0 failed, 0 errored, 0 skipped" in result.output, result.output
    return folder / "warehouse.duckdb"


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The DuckDB example and its BigQuery rewrite, each in a folder of its own."""
    root = tmp_path_factory.mktemp("bigquery_example")
    duck = _project(root / "duckdb", REPO / "models", (REPO / "pyproject.toml").read_text(encoding="utf-8"))
    bigquery = _project(root / "bigquery", BIGQUERY_MODELS, BIGQUERY_PYPROJECT)
    return duck, bigquery


@pytest.fixture(scope="module")
def warehouses(folders: tuple[Path, Path]) -> tuple[Path, Path]:
    """Both projects built once for the module."""
    return _build(folders[0]), _build(folders[1])


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=True)
    register_functions(con)  # a view may call FARM_FINGERPRINT
    return con


def _relations(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    return con.execute("SELECT table_schema, table_name, table_type FROM information_schema.tables "
                       "ORDER BY ALL").fetchall()


def _columns(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[tuple[str, str]]:
    return con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall()


def _rows(con: duckdb.DuckDBPyConnection, schema: str, name: str, columns: list[str]) -> pa.Table:
    """The relation's `columns`, its rows ordered by all of them."""
    listed = ", ".join('"' + column.replace('"', '""') + '"' for column in columns)
    return con.sql(f'SELECT {listed} FROM "{schema}"."{name}" ORDER BY ALL').to_arrow_table()


def _first_difference(expected: pa.Table, actual: pa.Table) -> str:
    """The first row where the tables differ, with the values of the columns that differ there."""
    for i in range(min(expected.num_rows, actual.num_rows)):
        a, b = expected.slice(i, 1), actual.slice(i, 1)
        if not a.equals(b):
            return f"row {i}: " + ", ".join(f"{column} {a[column][0]} != {b[column][0]}"
                                            for column in expected.column_names if not a[column].equals(b[column]))
    return f"{expected.num_rows} rows != {actual.num_rows} rows"


def _compared(schema: str, name: str) -> bool:
    return (schema, name) not in FINGERPRINT.SKIPPED_TABLES


def test_the_bigquery_project_is_bigquery_sql(folders: tuple[Path, Path]) -> None:
    duck, bigquery = (load_project(load_settings(folder)) for folder in folders)
    assert sorted(bigquery.nodes) == sorted(duck.nodes)
    assert {node.dialect for node in bigquery.nodes.values()} == {"bigquery"}
    assert {node.dialect for node in duck.nodes.values()} == {"duckdb"}
    for name, node in bigquery.nodes.items():
        assert set(node.depends_on) == set(duck.nodes[name].depends_on), name  # by `dataset.table` or ref(), the same graph
    assert "`nycflights.flight_features`" in bigquery.nodes["route_profiles"].source_sql  # no ref()
    assert "EXCEPT (is_delayed, tailnum)" in bigquery.nodes["arrival_delay"].source_sql


def test_the_rewrite_has_every_model_file_of_the_example() -> None:
    files = sorted(path.relative_to(REPO / "models") for path in (REPO / "models").rglob("*.sql"))
    assert files == sorted(path.relative_to(BIGQUERY_MODELS) for path in BIGQUERY_MODELS.rglob("*.sql"))


def test_the_bigquery_settings_are_the_examples() -> None:
    example = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["toolkit"]
    rewrite = tomllib.loads(BIGQUERY_PYPROJECT)["tool"]["toolkit"]
    assert rewrite.pop("dialect") == "bigquery" and rewrite.pop("bigquery") == {"datasets": {"nycflights": "main"}}
    assert rewrite == example


def test_the_same_relations_are_published(warehouses: tuple[Path, Path]) -> None:
    duck, bigquery = (_connect(path) for path in warehouses)
    try:
        published = _relations(duck)
        assert published == _relations(bigquery)
        assert {name for schema, name, _ in published if schema == "main"} >= {
            "stg_flights", "flight_features", "flight_delay_predictions", "route_clusters_evaluation"}
    finally:
        duck.close()
        bigquery.close()


def test_every_relation_has_the_same_columns_and_rows(warehouses: tuple[Path, Path]) -> None:
    """Every relation of the warehouse, the model store's tables included, minus run bookkeeping and the columns
    that record when or how long something ran (scripts/warehouse_fingerprint.py's lists)."""
    duck, bigquery = (_connect(path) for path in warehouses)
    different = []
    try:
        for schema, name, _ in _relations(duck):
            if not _compared(schema, name):
                continue
            columns = _columns(duck, schema, name)
            assert columns == _columns(bigquery, schema, name), f"{schema}.{name}"
            kept = [column for column, _ in columns if column not in FINGERPRINT.SKIPPED_COLUMNS]
            expected, actual = _rows(duck, schema, name, kept), _rows(bigquery, schema, name, kept)
            # Arrow's equality: the same types, and every value equal, floats exactly (NaN would not be)
            if not expected.equals(actual):
                different.append(f"{schema}.{name} {_first_difference(expected, actual)}")
    finally:
        duck.close()
        bigquery.close()
    assert not different, "\n".join(different)


def _estimators(path: Path) -> dict[tuple[str, int], str]:
    """Per model version, the digest of its fitted estimator's learned state (the fingerprint script's)."""
    with _connect(path) as con:
        versions = con.execute("SELECT model_name, version, artifact, artifact_sha256, model_type "
                               "FROM _toolkit.model_versions ORDER BY 1, 2").fetchall()
    digests = {}
    for model, version, data, sha256, model_type in versions:
        h = hashlib.sha256()
        FINGERPRINT._digest(load(model, version, bytes(data), sha256, model_type), h)
        digests[model, version] = h.hexdigest()
    return digests


def test_the_models_are_the_same(warehouses: tuple[Path, Path]) -> None:
    """The fitted estimators, digest for digest, and the headline metrics the store records."""
    duck, bigquery = (_estimators(path) for path in warehouses)
    assert set(duck) == {("arrival_delay", 1), ("flight_delay", 1), ("route_clusters", 1), ("flight_delay_weather", 1),
                         ("flight_delay_tuned", 1)}
    assert bigquery == duck
    metrics = "SELECT model_name, split, metric, value FROM _toolkit.model_eval_metrics ORDER BY ALL"
    with _connect(warehouses[0]) as a, _connect(warehouses[1]) as b:
        expected = a.execute(metrics).fetchall()
        assert {model for model, *_ in expected} == {"arrival_delay", "flight_delay", "route_clusters",
                                                     "flight_delay_weather", "flight_delay_tuned"}
        assert expected == b.execute(metrics).fetchall()
        trials = "SELECT * EXCLUDE (artifact) FROM _toolkit.model_trials ORDER BY ALL"  # every trial, the same
        assert a.execute(trials).fetchall() == b.execute(trials).fetchall()
