"""The standard macro library ships inside the package, so a plain (non-editable) install has it."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from conftest import REPO


def test_wheel_contains_the_standard_macros(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True, capture_output=True, cwd=tmp_path,
    )
    wheel, = tmp_path.glob("toolkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    macros = sorted(p.name for p in (REPO / "macros").glob("*.sql"))
    assert macros and all(f"toolkit/macros/{name}" in names for name in macros)
    sources = {p.relative_to(REPO).as_posix() for p in (REPO / "toolkit").rglob("*.py") if "__pycache__" not in p.parts}
    assert sources <= set(names), f"missing from the wheel: {sorted(sources - set(names))}"
    assert not any(name.startswith(("tests/", "models/", "benchmarks/")) for name in names)
    site_files = {p.relative_to(REPO).as_posix() for folder in ("templates", "assets")
                  for p in (REPO / "toolkit" / "docs" / folder).iterdir()}
    assert site_files and site_files <= set(names), f"missing from the wheel: {sorted(site_files - set(names))}"
