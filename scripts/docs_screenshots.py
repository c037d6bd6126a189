"""The README's pictures of the docs site, taken of the example project (this repository): builds it when its
warehouse has no run yet, copies the project into a temporary folder named `example` (the site is titled after
its project's folder), generates the site there, times it, and photographs the lineage graph and the flight_delay
model report in headless Chromium (Debian's chromium and chromedriver, driven by selenium).

    python scripts/docs_screenshots.py        # writes docs/images/docs-lineage.png and docs-model.png
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO / "docs" / "images"
# The whole graph in the picture (on the page it scrolls sideways at its own size): scaled to the page's width.
FIT_GRAPH = """document.querySelector('main').style.maxWidth = 'none';
const graph = document.querySelector('svg.lineage');
graph.setAttribute('width', '100%'); graph.removeAttribute('height');"""
PROJECT_FILES = ("pyproject.toml", "models", "macros", "warehouse.duckdb")


def _toolkit(folder: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "toolkit", *args], cwd=folder, check=True)
    return time.perf_counter() - started


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,760", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def _save(browser, name: str) -> None:
    from PIL import Image

    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    shot.quantize(colors=64).save(IMAGES / name, optimize=True)  # a palette PNG, well under 100 KB
    print(f"wrote docs/images/{name} ({(IMAGES / name).stat().st_size:,} bytes)")


def main() -> None:
    if not (REPO / "target" / "run_results.json").is_file():
        print(f"built in {_toolkit(REPO, 'build'):.1f}s")
    with tempfile.TemporaryDirectory() as scratch:
        example = Path(scratch) / "example"
        example.mkdir()
        for name in PROJECT_FILES:
            copy = shutil.copytree if (REPO / name).is_dir() else shutil.copyfile
            copy(REPO / name, example / name)
        seconds = _toolkit(example, "docs", "generate")
        print(f"docs generate took {seconds:.1f}s (wall, on this machine as loaded now)")
        _photograph(example / "target" / "docs")


def _photograph(site: Path) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    browser = _browser()
    try:
        browser.set_window_size(1600, 620)
        browser.get((site / "index.html").as_uri())
        browser.execute_script(FIT_GRAPH)
        _save(browser, "docs-lineage.png")
        browser.set_window_size(1100, 760)
        browser.get((site / "models" / "flight_delay.html").as_uri())
        browser.execute_script("document.getElementById('roc').scrollIntoView()")
        _save(browser, "docs-model.png")
    finally:
        browser.quit()


if __name__ == "__main__":
    main()
