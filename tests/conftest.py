"""Shared fixtures: small projects written into tmp_path, and the real CLI run on them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from toolkit.cli import cli

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = '[tool.toolkit]\nlock_timeout = 1\n'


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write `{"models/a.sql": "select 1", …}` under `root`; a pyproject.toml is added when missing."""
    files = {"pyproject.toml": PYPROJECT, **files}
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def project(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """A function writing a project into tmp_path/project and returning its folder."""
    return lambda files: write_files(tmp_path / "project", files)


@pytest.fixture
def toolkit() -> Callable[..., Result]:
    """Run the CLI in-process in a project folder: toolkit(folder, "build", "--select", "a")."""
    return invoke


IRIS_PYPROJECT = '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["iris"]\n'
IRIS_FEATURES = "select *, species = 'virginica' as is_virginica from {{ source('raw', 'iris') }}\n"
CLASSIFIER = """\
CREATE OR REPLACE MODEL iris_model
OPTIONS (model_type = 'logistic_reg', input_label_cols = ['species'], data_split_method = 'no_split')
AS SELECT sepal_length, sepal_width, petal_length, petal_width, species FROM {{ ref('iris_features') }}
"""


@pytest.fixture
def iris_project(project: Callable[[dict[str, str]], Path]) -> Path:
    """A project whose warehouse holds scikit-learn's iris table in raw.iris, and an iris_model file."""
    from sklearn.datasets import load_iris

    folder = project({"pyproject.toml": IRIS_PYPROJECT, "models/iris_features.sql": IRIS_FEATURES,
                      "models/iris_model.sql": CLASSIFIER})
    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "target"]
    frame["species"] = frame["target"].map(dict(enumerate(load_iris().target_names)))
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("create schema raw; create table raw.iris as select * exclude (target) from frame")
    con.close()
    return folder


def invoke(folder: Path, *args: str) -> Result:
    """The CLI in-process, for module-scoped fixtures (the `toolkit` fixture is per test)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def signed_fingerprint(text: str) -> int:
    """pyfarmhash's Fingerprint64 as BigQuery's signed INT64."""
    import farmhash
    import numpy as np

    return int(np.uint64(farmhash.fingerprint64(text)).view(np.int64))


def run_toolkit(folder: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI in a subprocess, as a user would (`python -m toolkit`)."""
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args], cwd=folder, capture_output=True, text=True, env=env, **kwargs
    )


def query(warehouse: Path, sql: str) -> list[tuple]:
    """Rows of `sql` read from a warehouse file (read-only, closed right after)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite the golden files of tests/golden/ from what the code produces now")
    parser.addoption("--update-screenshots", action="store_true", default=False,
                     help="rewrite the README's pictures of the terminal (docs/images/terminal-*.png)")
