"""The README's pictures of the terminal: the tour's commands run on a small flights project in an 80-column
terminal, recorded by rich (`Console(record=True, width=80)` → SVG) and photographed by headless Chromium (Debian's
chromium and chromedriver, driven by selenium). `pytest tests/test_terminal_screenshots.py --update-screenshots`
rewrites docs/images/terminal-*.png; without the flag the pictures are still rendered and checked, into target/."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
from conftest import REPO, write_files
from rich.console import Console
from rich.text import Text

WIDTH = 80
SHOTS = REPO / "target" / "terminal-screenshots"  # for a person to look at
README_IMAGES = REPO / "docs" / "images"
PREDICT = "SELECT * FROM ML.PREDICT(MODEL flight_delay, (SELECT * FROM flight_features LIMIT 5))"
# What the README shows: a picture name, the command line as typed, and the toolkit arguments it runs.
COMMANDS = [
    ("terminal-build.png", "toolkit build", ("build",)),
    ("terminal-ls.png", "toolkit ls", ("ls",)),
    ("terminal-models.png", "toolkit models", ("models",)),
    ("terminal-predict.png", f'toolkit query "{PREDICT}"', ("query", PREDICT)),
]

FILES = {
    "pyproject.toml": '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["flights"]\n',
    "models/staging/stg_flights.sql": (
        "{{ config(materialized='view', tags=['staging'], assertions=[not_null('flight_id')]) }}\n"
        "select flight_id, flight_date, carrier, origin, dest, dep_hour, distance, temp, wind_speed, "
        "arr_delay from {{ source('raw', 'flights') }}\n"),
    "models/features/flight_features.sql": (
        "{{ config(materialized='table', tags=['features'], assertions=[unique('flight_id'), "
        "accepted_values('split', ['train', 'eval', 'test'])]) }}\n"
        "select *, arr_delay > 15 as is_delayed, {{ hash_split('flight_date', train=0.8, eval=0.1, test=0.1) }} "
        "as split from {{ ref('stg_flights') }}\n"),
    "models/ml/flight_delay.sql": (
        "CREATE OR REPLACE MODEL flight_delay OPTIONS (model_type = 'logistic_reg', "
        "input_label_cols = ['is_delayed'], max_iterations = 20)\n"
        "AS SELECT carrier, origin, dest, dep_hour, distance, temp, wind_speed, is_delayed "
        "FROM {{ ref('flight_features') }} WHERE split = 'train'\n"),
    "models/predictions/flight_delay_predictions.sql": (
        "select * from ML.PREDICT(MODEL {{ ref('flight_delay') }}, "
        "(select * from {{ ref('flight_features') }} where split = 'test'))\n"),
}


def _flights(rows: int = 3000) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    hours = rng.integers(5, 23, rows)
    wind = rng.gamma(2.0, 5.0, rows).round(1)
    return {
        "flight_id": np.array([f"2013-{i % 12 + 1:02d}-{i % 28 + 1:02d}/EWR/UA{i}" for i in range(rows)]),
        "flight_date": np.datetime64("2013-01-01") + rng.integers(0, 365, rows).astype("timedelta64[D]"),
        "carrier": rng.choice(["UA", "B6", "EV", "DL", "AA", "MQ"], rows),
        "origin": rng.choice(["EWR", "JFK", "LGA"], rows),
        "dest": rng.choice(["ATL", "ORD", "LAX", "BOS", "MCO", "SFO"], rows),
        "dep_hour": hours,
        "distance": rng.integers(200, 2600, rows).astype(float),
        "temp": rng.normal(55, 18, rows).round(1),
        "wind_speed": wind,
        "arr_delay": (rng.normal(0, 25, rows) + 2.5 * (hours - 12) + wind).round(),
    }


@pytest.fixture(scope="module")
def flights_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pandas as pd

    folder = write_files(tmp_path_factory.mktemp("terminal") / "project", FILES)
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.register("generated", pd.DataFrame(_flights()))
    con.execute("create schema raw; create table raw.flights as select * from generated")
    con.close()
    return folder


def _start_at_80_columns(folder: Path, *args: str) -> subprocess.Popen:
    """The command as an 80-column colour terminal runs it (rich told by FORCE_COLOR that it writes to a terminal,
    and by TTY_INTERACTIVE=0 not to animate the live lines, which leave nothing once a node is done)."""
    env = {name: value for name, value in os.environ.items() if name != "NO_COLOR"}
    env.update(COLUMNS=str(WIDTH), FORCE_COLOR="1", TTY_INTERACTIVE="0", TERM="xterm-256color", COLORTERM="truecolor")
    return subprocess.Popen([sys.executable, "-m", "toolkit", *args], cwd=folder, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _shown(process: subprocess.Popen) -> Text:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stdout + stderr
    return Text.from_ansi((stderr + stdout).rstrip("\n"))


def _run_the_tour(folder: Path) -> dict[str, Text]:
    """Each command's output; those that can run side by side do (ls reads no warehouse, the readers share it)."""
    started = {name: _start_at_80_columns(folder, *args) for name, _, args in COMMANDS[:2]}  # build, ls
    shown = {name: _shown(process) for name, process in started.items()}
    started = {name: _start_at_80_columns(folder, *args) for name, _, args in COMMANDS[2:]}  # models, query
    return {**shown, **{name: _shown(process) for name, process in started.items()}}


def _recorded_svg(command_line: str, output: Text) -> tuple[str, str]:
    """The prompt and the output recorded by an 80-column rich console: (SVG, the recorded text)."""
    console = Console(record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor",
                      highlight=False)
    console.print(Text("$ ", style="bold green") + Text(command_line, style="bold"), soft_wrap=False)
    console.print(output, soft_wrap=True, no_wrap=True, overflow="ignore", crop=False)
    console.print()  # a blank last line: the window's frame would clip the underscores of the last
    text = console.export_text(clear=False)
    svg = console.export_svg(title=command_line.split('"')[0].strip())
    return re.sub(r"@font-face \{.*?\}", "", svg, flags=re.S), text


def _svg_size(svg: str) -> tuple[float, float]:
    width, height = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', svg).groups()
    return float(width), float(height)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1200,1000", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def _photograph(browser, svg: str, folder: Path, name: str) -> Path:
    """The SVG at its own size in a blank page, its element's screenshot as a PNG of few colours."""
    from PIL import Image
    from selenium.webdriver.common.by import By

    width, height = _svg_size(svg)
    page = folder / f"{name}.html"
    sized = svg.replace("<svg ", f'<svg width="{width}" height="{height}" ', 1)
    page.write_text(f'<!doctype html><html><body style="margin:0;background:#fff">{sized}</body></html>',
                    encoding="utf-8")
    browser.set_window_size(int(width) + 40, int(height) + 200)
    browser.get(page.as_uri())
    shot = Image.open(io.BytesIO(browser.find_element(By.TAG_NAME, "svg").screenshot_as_png))
    path = folder / name
    shot.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)  # a palette PNG: 10-40 KB
    return path


def test_the_tour_is_readable_at_80_columns_and_pictured(flights_project: Path, browser, request, tmp_path) -> None:
    from PIL import Image

    update = request.config.getoption("--update-screenshots")
    SHOTS.mkdir(parents=True, exist_ok=True)
    outputs = _run_the_tour(flights_project)
    for name, command_line, args in COMMANDS:
        shown = outputs[name]
        assert bool(shown.spans) == (args[0] != "query"), command_line  # styled as on a terminal; DuckDB's box is not
        output = shown.plain
        assert " START " not in output  # a terminal shows a live line instead, gone once the node is done
        lines = output.splitlines()
        assert len(lines) >= 4, output
        too_wide = [line for line in lines if len(line) > WIDTH]
        assert not too_wide, f"{command_line}: lines wider than {WIDTH} columns: {too_wide}"
        assert "…" not in "".join(line for line in lines if "flight_delay" in line and "│" not in line)
        svg, recorded = _recorded_svg(command_line, shown)
        assert not re.search(r"url\(\"?https?:", svg)  # nothing to fetch: the fonts rich names come from a CDN
        assert recorded.splitlines()[-len(lines) - 1:-1] == lines  # every line recorded under the prompt, none cut
        assert all(len(line) <= WIDTH for line in recorded.splitlines())
        png = _photograph(browser, svg, tmp_path, name)
        with Image.open(png) as image:
            width, height = image.size
            # the picture is the 80-column console's SVG at its own size: rich sizes it from the columns
            assert (width, height) == tuple(round(v) for v in _svg_size(svg)), name
            darkest, lightest = image.convert("L").getextrema()
            assert lightest - darkest > 100  # text drawn, not a blank frame
        assert 1_000 < png.stat().st_size < 100_000, (name, png.stat().st_size)
        (SHOTS / name).write_bytes(png.read_bytes())
        if update:
            (README_IMAGES / name).write_bytes(png.read_bytes())
    # the box of ML.PREDICT elides middle columns and counts rows as DuckDB's renderer does
    assert "5 rows" in output and "…" in output
