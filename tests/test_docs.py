"""`toolkit docs`: the generated site checked against the warehouse, scikit-learn and the project's own listing,
and opened in headless Chromium (Debian's chromium and chromedriver, driven by selenium)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pytest
from conftest import REPO, invoke, query, write_files
from docs_site import CHARTS, MODELS, built_iris_project, read_page
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score, roc_curve

from toolkit.docs import serve_docs
from toolkit.docs.lineage import layers
from toolkit.docs.serve import docs_server
from toolkit.errors import ToolkitError

SCREENSHOTS = REPO / "target" / "docs-screenshots"  # for a person to look at (the README's are of the example:
# scripts/docs_screenshots.py)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = built_iris_project(tmp_path_factory.mktemp("docs") / "project")
    result = invoke(folder, "docs", "generate")
    assert result.exit_code == 0, result.output
    assert "Wrote 13 pages (4 model reports)" in result.output
    return folder


def _docs(site: Path) -> Path:
    return site / "target" / "docs"


def _search_index(site: Path) -> list[dict[str, str]]:
    text = (_docs(site) / "assets" / "search-index.js").read_text()
    prefix = "window.TOOLKIT_SEARCH_INDEX = "
    assert text.startswith(prefix)
    return json.loads(text[len(prefix):].rstrip().rstrip(";"))


def test_every_model_page_has_each_chart(site: Path) -> None:
    for model in MODELS:
        page = read_page(_docs(site) / "models" / f"{model}.html")
        assert sorted(page.charts) == sorted(f"{model}-{chart}" for chart in CHARTS[model]), model
    text = (_docs(site) / "models" / "virginica.html").read_text()
    assert "<script" not in text.replace('<script src="../assets/search', "")  # the charts need no script
    assert not re.search(r"(src=|href=|url\()[\"']?(https?:)?//", text)  # nothing is fetched from a network


def test_links_resolve_to_pages_and_anchors(site: Path) -> None:
    root = _docs(site)
    pages = sorted(root.rglob("*.html"))
    assert len(pages) == 13
    checked = 0
    for page_path in pages:
        for link in read_page(page_path).links:
            parts = urlsplit(link)
            assert not parts.scheme, f"{page_path.name} links outside the site: {link}"
            target = (page_path.parent / parts.path).resolve() if parts.path else page_path
            assert target.is_file(), f"{page_path.relative_to(root)} links to missing {link}"
            if parts.fragment:
                assert parts.fragment in read_page(target).ids, f"{link} has no anchor {parts.fragment}"
            checked += 1
    assert checked > 50
    for entry in _search_index(site):
        path, _, fragment = entry["url"].partition("#")
        assert (root / path).is_file(), entry
        if fragment:
            assert fragment in read_page(root / path).ids, entry


def test_search_index_lists_every_column_of_the_warehouse(site: Path) -> None:
    catalog = query(site / "warehouse.duckdb", "SELECT table_schema, table_name, column_name, data_type "
                    "FROM information_schema.columns WHERE table_schema IN ('main', 'raw') "
                    "AND table_name IN ('iris', 'iris_features', 'virginica_predictions', 'species_drift') "
                    "ORDER BY table_schema, table_name, ordinal_position")
    node_of = {"iris": "raw.iris", "iris_features": "iris_features", "virginica_predictions": "virginica_predictions",
               "species_drift": "species_drift"}
    expected = [(node_of[table], column, data_type) for _, table, column, data_type in catalog]
    found = [(e["node"], e["name"], e["type"]) for e in _search_index(site) if e["kind"] == "column"]
    assert sorted(found) == sorted(expected)
    nodes = {e["name"] for e in _search_index(site) if e["kind"] != "column"}
    assert nodes == {"raw.iris", "iris_features", "virginica_predictions", "species_drift", *MODELS}


def test_node_page_shows_columns_run_status_and_failing_rows(site: Path) -> None:
    page = read_page(_docs(site) / "nodes" / "iris_features.html")
    described = query(site / "warehouse.duckdb", "DESCRIBE iris_features")
    columns = page.table_starting("#")
    assert [row[1:] for row in columns[1:]] == [[name, data_type] for name, data_type, *_ in described]
    text = (_docs(site) / "nodes" / "iris_features.html").read_text()
    status, = query(site / "warehouse.duckdb", "SELECT status FROM _toolkit.run_results WHERE node = 'iris_features'")
    assert status == ("warn",) and 'class="status status-warn">warn<' in text
    verdicts = page.table_starting("assertion")
    failing, = query(site / "warehouse.duckdb",
                     "SELECT count(*) FROM iris_features WHERE species NOT IN ('setosa', 'versicolor')")
    assert verdicts[1][3:] == ["warn", str(failing[0])]
    samples = page.table_starting("flower_id")
    species = samples[0].index("species")
    assert len(samples) > 1 and {row[species] for row in samples[1:]} == {"virginica"}
    assert '<span class="tag">staging</span>' in text
    assert "from (select row_number() over () as flower_id, *, species = &#39;virginica&#39; as is_virginica " \
           "from &#34;raw&#34;.&#34;iris&#34;)</code>" in text  # the rendered SQL, its source() resolved


def test_lineage_graph_has_every_dependency(site: Path) -> None:
    listed = json.loads(invoke(site, "ls", "--output", "json").output)
    expected = {(parent, node["name"]) for node in listed for parent in node["depends_on"] + node["sources"]}
    page = read_page(_docs(site) / "index.html")
    assert set(page.edges) == expected and len(page.edges) == len(expected)
    assert {link for link in page.links if link.startswith("nodes/")} == {
        f"nodes/{name}.html" for name in ("raw.iris", "iris_features", "virginica_predictions", "species_drift",
                                          *MODELS)}


def test_confusion_matrices_and_accuracy_agree_with_scikit_learn(site: Path) -> None:
    for model, label in (("virginica", "is_virginica"), ("species_trees", "species")):
        rows = json.loads(invoke(site, "query", f"SELECT {label}, predicted_{label} FROM ML.PREDICT(MODEL {model}, "
                                               "TABLE iris_features)", "--format", "json").output)
        truth, predicted = [r[label] for r in rows], [r[f"predicted_{label}"] for r in rows]
        classes = sorted(set(truth))
        page = read_page(_docs(site) / "models" / f"{model}.html")
        shown = page.table_starting("expected \\ predicted")
        cells = [[int(value.replace(",", "")) for value in row[1:]] for row in shown[1:]]
        assert cells == confusion_matrix(truth, predicted, labels=classes).tolist(), model
        metrics = page.table_starting("metric")
        accuracy = next(float(row[1]) for row in metrics if row[0] == "accuracy")
        assert accuracy == pytest.approx(accuracy_score(truth, predicted), abs=5e-5), model


def test_roc_curve_points_lie_on_scikit_learn_s_curve(site: Path) -> None:
    rows = query(site / "warehouse.duckdb", "SELECT is_virginica, [p.prob FOR p IN predicted_is_virginica_probs "
                 "IF p.label][1] FROM virginica_predictions")
    truth, scores = [r[0] for r in rows], [r[1] for r in rows]
    positives, negatives = sum(truth), len(truth) - sum(truth)
    fpr, tpr, _ = roc_curve(truth, scores, drop_intermediate=False)
    curve = {(round(f * negatives), round(t * positives)) for f, t in zip(fpr, tpr)}  # (false, true positives)
    page = read_page(_docs(site) / "models" / "virginica.html")
    shown = page.table_starting("threshold")
    assert shown[0][4:6] == ["true_positives", "false_positives"] and len(shown) > 50
    counts = [(int(row[5]), int(row[4])) for row in shown[1:]]
    assert set(counts) <= curve, sorted(set(counts) - curve)
    assert all(int(row[4]) + int(row[7]) == positives and int(row[5]) + int(row[6]) == negatives for row in shown[1:])
    points = sorted({(0, 0), (negatives, positives), *counts})
    area = sum((x2 - x1) * (y1 + y2) / 2 for (x1, y1), (x2, y2) in zip(points, points[1:])) / positives / negatives
    assert area == pytest.approx(roc_auc_score(truth, scores), abs=0.01)  # at most 101 thresholds: a close curve
    metrics = page.table_starting("metric")
    shown_auc = next(float(row[1]) for row in metrics if row[0] == "roc_auc")
    assert shown_auc == pytest.approx(roc_auc_score(truth, scores), abs=5e-5)


def test_drift_results_are_charted_on_their_node_page(site: Path) -> None:
    page = read_page(_docs(site) / "nodes" / "species_drift.html")
    assert page.charts == ["species_drift-drift"]
    shown = page.table_starting("input")
    stored = query(site / "warehouse.duckdb", "SELECT input, metric, threshold, value, is_anomaly FROM species_drift")
    assert len(shown) - 1 == len(stored) == 2
    for row, (name, metric, threshold, value, anomaly) in zip(shown[1:], stored):
        assert row[:2] == [name, metric] and float(row[2]) == pytest.approx(threshold, rel=1e-3)
        assert float(row[3]) == pytest.approx(value, rel=1e-3) and row[4] == str(anomaly).lower()
    species = query(site / "warehouse.duckdb", "SELECT flower_id <= 100, species, count(*) FROM iris_features "
                    "GROUP BY ALL")
    share = {(base, name): count / sum(c for b, _, c in species if b == base) for base, name, count in species}
    names = {name for _, name, _ in species}
    l_infinity = max(abs(share.get((True, n), 0) - share.get((False, n), 0)) for n in names)
    assert float(next(row for row in shown if row[0] == "species")[3]) == pytest.approx(l_infinity)


def test_the_split_report_is_charted_on_the_page_of_the_node_that_splits(site: Path) -> None:
    page = read_page(_docs(site) / "nodes" / "iris_features.html")
    assert page.charts == ["iris_features-split-rows", "iris_features-split-label", "iris_features-split-distances"]
    warehouse = site / "warehouse.duckdb"
    rows = dict(query(warehouse, "SELECT split, count(*) FROM iris_features GROUP BY split"))
    shown = page.table_starting("split")
    assert {row[0]: int(row[1]) for row in shown[1:]} == rows and len(rows) == 3
    shares = page.table_starting("split \\ species")
    counts = query(warehouse, "SELECT split, species, count(*) FROM iris_features GROUP BY ALL")
    for split, species, count in counts:
        column = shares[0].index(species)
        row = next(r for r in shares if r[0] == split)
        assert float(row[column]) == pytest.approx(count / rows[split], rel=1e-3)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 30), max_size=4), min_size=1, max_size=30))
def test_lineage_layers_are_longest_paths_from_the_sources(parents: list[list[int]]) -> None:
    upstream = {f"n{i}": [f"n{p}" for p in dict.fromkeys(ps) if p < i] for i, ps in enumerate(parents)}

    @functools.cache
    def longest(name: str) -> int:  # brute force: the longest path from a node without parents
        return max((1 + longest(parent) for parent in upstream[name]), default=0)

    grouped = layers(upstream)
    assert sorted(name for layer in grouped for name in layer) == sorted(upstream)
    assert {name: index for index, layer in enumerate(grouped) for name in layer} == {n: longest(n) for n in upstream}


def test_versions_table_lists_every_stored_version(site: Path) -> None:
    stored = query(site / "warehouse.duckdb", "SELECT model_name, version, strftime(created_at, '%Y-%m-%d %H:%M:%S'), "
                   "training_rows, eval_rows, metrics_split FROM _toolkit.model_versions ORDER BY version DESC")
    for model in MODELS:
        page = read_page(_docs(site) / "models" / f"{model}.html")
        shown = page.table_starting("version")
        expected = [[str(v), created, f"{rows:,}", f"{evaluated:,}", split]
                    for name, v, created, rows, evaluated, split in stored if name == model]
        assert [row[:5] for row in shown[1:]] == expected and len(expected) == (2 if model == "virginica" else 1)


def test_a_model_the_store_cannot_load_gets_no_report_and_the_site_the_rest(site: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    shutil.copytree(site, folder, ignore=shutil.ignore_patterns("target"))
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("UPDATE _toolkit.model_versions SET artifact_sha256 = repeat('0', 64) "
                "WHERE model_name = 'flower_clusters'")
    con.close()
    result = invoke(folder, "docs", "generate")
    assert result.exit_code == 0, result.output
    docs = folder / "target" / "docs"
    assert sorted(p.stem for p in (docs / "models").iterdir()) == ["flower_components", "species_trees", "virginica"]
    page = read_page(docs / "index.html")
    assert "models/flower_clusters.html" not in page.links
    assert "Models without a report" in (docs / "index.html").read_text()
    assert "<code>flower_clusters</code>: model flower_clusters" in (docs / "index.html").read_text()


def test_explained_variance_agrees_with_scikit_learn(site: Path) -> None:
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    rows = query(site / "warehouse.duckdb", "SELECT sepal_length, sepal_width, petal_length, petal_width "
                 "FROM iris_features")
    oracle = PCA(3).fit(StandardScaler().fit_transform(rows)).explained_variance_ratio_
    shown = read_page(_docs(site) / "models" / "flower_components.html").table_starting("principal_component_id")
    assert [int(row[0]) for row in shown[1:]] == [1, 2, 3]
    assert [float(row[2]) for row in shown[1:]] == pytest.approx(list(oracle), rel=1e-3)
    assert [float(row[3]) for row in shown[1:]] == pytest.approx(list(oracle.cumsum()), rel=1e-3)


def test_a_project_never_built_still_gets_its_lineage(project, toolkit) -> None:
    folder = project({"models/a.sql": "select 1 as x", "models/b.sql": "select x from {{ ref('a') }}"})
    result = toolkit(folder, "docs", "generate")
    assert result.exit_code == 0, result.output
    page = read_page(folder / "target" / "docs" / "index.html")
    assert page.edges == [("a", "b")]
    assert "has not been built yet" in (folder / "target" / "docs" / "index.html").read_text()
    assert not (folder / "warehouse.duckdb").exists()  # read-only: nothing is created


def test_docs_serve_prints_its_address_and_stops_on_ctrl_c(site: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "toolkit", "docs", "serve", "--port", "0"], cwd=site,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "200"},
                               # Ctrl-C's default, even when this run inherited SIGINT ignored (nohup, `&`)
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = []
        while not any("Serving" in line for line in lines):
            line = process.stdout.readline()
            assert line, f"the server stopped: {process.stderr.read()}"
            lines.append(line)
        url = re.search(r"http://127\.0\.0\.1:\d+/", lines[-1]).group(0)
        with urllib.request.urlopen(url + "models/virginica.html", timeout=10) as response:
            assert response.status == 200 and b'data-chart="virginica-roc"' in response.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_source_and_a_node_of_the_same_spelling_get_pages_of_their_own(project, toolkit) -> None:
    folder = project({"pyproject.toml": '[tool.toolkit]\n[tool.toolkit.sources]\nraw = ["x"]\n',
                      "models/raw_x.sql": "select * from {{ source('raw', 'x') }}"})
    assert toolkit(folder, "docs", "generate").exit_code == 0
    nodes = folder / "target" / "docs" / "nodes"
    assert sorted(p.name for p in nodes.iterdir()) == ["raw.x.html", "raw_x.html"]
    assert "<h1>raw.x " in (nodes / "raw.x.html").read_text() and "<h1>raw_x " in (nodes / "raw_x.html").read_text()


def test_a_folder_that_is_not_a_docs_site_is_never_deleted(project, toolkit) -> None:
    folder = project({"models/a.sql": "select 1 as x", "target/docs/notes.txt": "mine"})
    result = toolkit(folder, "docs", "generate")
    assert result.exit_code == 2 and "holds files that are not a docs site" in result.output
    assert (folder / "target" / "docs" / "notes.txt").read_text() == "mine"
    (folder / "target" / "docs" / "notes.txt").unlink()
    assert toolkit(folder, "docs", "generate").exit_code == 0  # an empty folder, then its own site, are replaced
    assert toolkit(folder, "docs", "generate").exit_code == 0


def test_serve_answers_on_localhost_and_refuses_a_taken_port(tmp_path: Path) -> None:
    write_files(tmp_path, {"index.html": "<h1>lineage</h1>"})
    server = docs_server(tmp_path, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            assert response.status == 200 and b"lineage" in response.read()
        with pytest.raises(ToolkitError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve_docs(tmp_path, port, lambda url: None)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


# --- in a real browser -------------------------------------------------------------------------------
CHART_SIZES = """return [...document.querySelectorAll('svg.chart')].map(svg => {
  const box = svg.getBoundingClientRect();
  return [svg.dataset.chart, box.width, box.height, svg.querySelectorAll('path, rect, text').length];
});"""
GRAPH_BOXES = """return [...document.querySelectorAll('svg.lineage a.node rect')].map(rect => {
  const box = rect.getBBox(); return [box.width, box.height]; });"""


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,760", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    yield driver
    driver.quit()


def _open(browser, path: Path) -> None:
    browser.get(path.as_uri())
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, f"console errors on {path.name}: {errors}"


def _screenshot(browser, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / name))


def test_the_site_renders_in_headless_chromium(site: Path, browser) -> None:
    from selenium.webdriver.common.by import By

    docs = _docs(site)
    index = read_page(docs / "index.html")
    _open(browser, docs / "index.html")
    boxes = browser.execute_script(GRAPH_BOXES)
    assert len(boxes) == 8 and all(width > 50 and height > 10 for width, height in boxes)
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg.lineage path.edge")) == len(index.edges) == 8
    _screenshot(browser, "docs-lineage.png")
    search = browser.find_element(By.ID, "search")
    search.send_keys("petal_w")
    results = browser.find_elements(By.CSS_SELECTOR, "#search-results a")
    expected = [e for e in _search_index(site) if "petal_w" in e["name"]]
    assert len(results) == len(expected) == 3
    assert sorted(r.text for r in results) == sorted(f"petal_widthcolumn of {e['node']} · {e['type']}"
                                                     for e in expected)
    results[0].click()
    assert browser.current_url.endswith(("nodes/raw.iris.html#col-petal_width",
                                         "nodes/iris_features.html#col-petal_width"))
    _open(browser, docs / "index.html")
    browser.find_element(By.CSS_SELECTOR, 'svg.lineage a.node[data-node="virginica"]').click()
    assert browser.current_url.endswith("nodes/virginica.html")
    for node, charts in (("species_drift", ["drift"]), ("iris_features", ["split-rows", "split-label",
                                                                          "split-distances"])):
        _open(browser, docs / "nodes" / f"{node}.html")
        sizes = browser.execute_script(CHART_SIZES)
        assert [size[0] for size in sizes] == [f"{node}-{chart}" for chart in charts]
        assert all(width > 150 and height > 80 and marks >= 5 for _, width, height, marks in sizes), sizes
    for model in MODELS:
        _open(browser, docs / "models" / f"{model}.html")
        sizes = browser.execute_script(CHART_SIZES)
        assert sorted(name for name, *_ in sizes) == sorted(f"{model}-{chart}" for chart in CHARTS[model])
        for name, width, height, marks in sizes:
            assert width > 150 and height > 80 and marks >= 5, (name, width, height, marks)
        if model == "virginica":
            browser.execute_script("document.getElementById('roc').scrollIntoView()")
            _screenshot(browser, "docs-model.png")
