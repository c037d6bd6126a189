"""Inputs that used to end in a Python traceback: each is now an error that says what went wrong and where, with a
hint, printed by the real CLI (exit code 2, or the node's error and exit code 1)."""

from __future__ import annotations

import os
import pathlib

import duckdb
import pytest
from click.testing import Result
from conftest import query, run_toolkit

TABLE = "select range::DOUBLE AS x, range * 2.0 AS label from range(20)\n"


def linear_model(select: str, model: str = "m", model_type: str = "linear_reg", label: str = "label") -> str:
    return (f"CREATE OR REPLACE MODEL {model} OPTIONS (model_type = '{model_type}', "
            f"input_label_cols = ['{label}'], data_split_method = 'no_split')\nAS {select}\n")


def failed(result: Result, code: int, *expected: str) -> str:
    """The output of a command that failed cleanly with `code`, holding every `expected` text."""
    output = result.output
    assert result.exit_code == code, output
    assert "Traceback" not in output, output
    for text in expected:
        assert text in output, (text, output)
    return output


# --- 1. pyproject.toml ------------------------------------------------------------------------------


def test_pyproject_that_is_not_utf8(project, toolkit):
    folder = project({"models/a.sql": "select 1 as x\n"})
    (folder / "pyproject.toml").write_bytes(b"[tool.toolkit]\nlock_timeout = 1\n# \xff\xfe\n")
    failed(toolkit(folder, "build"), 2, "pyproject.toml: pyproject.toml is not UTF-8 text", "hint:", "UTF-8")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its permissions (see the next test)")
def test_pyproject_without_read_permission(project, toolkit):
    folder = project({"models/a.sql": "select 1 as x\n"})
    (folder / "pyproject.toml").chmod(0)
    try:
        failed(toolkit(folder, "build"), 2, "pyproject.toml cannot be read", "Permission denied", "hint:")
    finally:
        (folder / "pyproject.toml").chmod(0o644)


def test_pyproject_that_cannot_be_read(project, toolkit, monkeypatch):
    folder = project({"models/a.sql": "select 1 as x\n"})
    read_text = pathlib.Path.read_text

    def refused(path: pathlib.Path, *args, **kwargs) -> str:
        if path.name == "pyproject.toml":
            raise PermissionError(13, "Permission denied", str(path))
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", refused)
    failed(toolkit(folder, "build"), 2, "pyproject.toml cannot be read", "Permission denied", "hint:", "chmod")

