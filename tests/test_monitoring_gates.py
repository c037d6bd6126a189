"""The no_data_skew / no_data_drift gates in the build: they run ML.VALIDATE_DATA_SKEW / _DRIFT over the rows about
to be published; `error` keeps the previous predictions and skips what depends on them, `warn` publishes; every
run's distances go to _toolkit.monitoring_history; `toolkit monitor` prints the latest verdicts and the trend."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import sqlglot
from conftest import query

from toolkit.ml.functions.apply import applied_ml_calls
from toolkit.sql.dialect import DIALECT

PYPROJECT = '[tool.toolkit]\nlock_timeout = 1\n[tool.toolkit.sources]\nraw = ["training", "serving"]\n'
MODEL = """\
CREATE OR REPLACE MODEL m
OPTIONS (model_type = 'linear_reg', input_label_cols = ['y'], data_split_method = 'no_split')
AS SELECT x, s, y FROM {{ source('raw', 'training') }}
"""
SERVING = "SELECT range::DOUBLE {shift} AS x, 'v' || (range % {kinds}) AS s FROM range(300)"


def _predictions(gate: str) -> str:
    return (f"{{{{ config(assertions=[{gate}]) }}}}\n"
            "SELECT * FROM ML.PREDICT(MODEL m, (SELECT * FROM {{ source('raw', 'serving') }}))\n")


def _project(project, gate: str) -> Path:
    folder = project({"pyproject.toml": PYPROJECT, "models/m.sql": MODEL, "models/predictions.sql": _predictions(gate),
                      "models/downstream.sql": "SELECT count(*) AS n FROM {{ ref('predictions') }}\n"})
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("CREATE SCHEMA raw; CREATE TABLE raw.training AS SELECT range::DOUBLE AS x, 'v' || (range % 4) AS s, "
                "range * 0.5 + range % 7 AS y FROM range(300)")
    con.execute(f"CREATE TABLE raw.serving AS {SERVING.format(shift='', kinds=4)}")
    con.close()
    return folder


def _serve(folder: Path, shift: str, kinds: int) -> None:
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute(f"CREATE OR REPLACE TABLE raw.serving AS {SERVING.format(shift=shift, kinds=kinds)}")
    con.close()


def _statuses(folder: Path) -> dict[str, str]:
    run = query(folder / "warehouse.duckdb", "SELECT run_id FROM _toolkit.runs ORDER BY started_at DESC LIMIT 1")[0][0]
    return dict(query(folder / "warehouse.duckdb", f"SELECT node, status FROM _toolkit.run_results WHERE run_id = '{run}'"))


def _skew_now(folder: Path) -> list[tuple]:
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    try:
        statement = sqlglot.parse_one("SELECT input, value, is_anomaly FROM ML.VALIDATE_DATA_SKEW(MODEL m, "
                                      "(SELECT * FROM raw.serving), STRUCT(0.2 AS numerical_default_threshold))",
                                      dialect=DIALECT)
        with applied_ml_calls(con, statement) as applied:
            return con.sql(applied.sql).fetchall()
    finally:
        con.close()


def test_an_error_gate_keeps_the_previous_predictions_and_skips_dependants(project, toolkit) -> None:
    folder = _project(project, "no_data_skew(model='m', numerical_default_threshold=0.2)")
    first = toolkit(folder, "build")
    assert first.exit_code == 0, first.output
    warehouse = folder / "warehouse.duckdb"
    before = query(warehouse, "SELECT x, predicted_y FROM predictions ORDER BY x")
    _serve(folder, "+ 400", 1)  # December: every x beyond the training range, one category
    second = toolkit(folder, "build")
    assert second.exit_code != 0
    # the model's training rows did not change, so the rebuild keeps it (toolkit/warehouse/reuse.py)
    assert _statuses(folder) == {"m": "unchanged", "predictions": "fail", "downstream": "skipped"}
    assert query(warehouse, "SELECT x, predicted_y FROM predictions ORDER BY x") == before  # kept
    expected = _skew_now(folder)
    failing = sorted((name, value) for name, value, anomaly in expected if anomaly)
    assert [name for name, _ in failing] == ["s", "x"]
    (status, rows, samples), = query(warehouse, "SELECT status, failing_rows, samples FROM _toolkit.assertion_results "
                                                "WHERE node = 'predictions' ORDER BY rowid DESC LIMIT 1")
    assert (status, rows) == ("fail", 2)
    assert sorted((s["input"], s["value"]) for s in json.loads(samples)) == failing
    history = query(warehouse, "SELECT node, assertion, function, model_name, model_version, input, value, is_anomaly "
                               "FROM _toolkit.monitoring_history ORDER BY recorded_at, rowid")
    assert len(history) == 4 and {h[:4] for h in history} == {
        ("predictions", "no_data_skew(m)", "VALIDATE_DATA_SKEW", "m")}
    assert [h[4] for h in history] == [1, 1, 1, 1]  # the version compared with: the kept model's
    assert [(h[5], h[6], h[7]) for h in history[:2]] == [("x", 0.0, False), ("s", 0.0, False)]
    assert [(h[5], h[6], h[7]) for h in history[2:]] == expected

    shown = toolkit(folder, "monitor", "m")
    assert shown.exit_code == 0, shown.output
    assert "predictions" in shown.output and "ANOMALY" in shown.output and "0.0000 → " in shown.output
    data = json.loads(toolkit(folder, "monitor", "--format", "json").output)
    latest = {(row["input"], row["is_anomaly"]) for row in data["latest"]}
    assert latest == {("x", True), ("s", True)}
    assert {row["input"]: row["values"] for row in data["trend"]}["x"] == [0.0, dict((n, v) for n, v, _ in expected)["x"]]


def test_a_warn_drift_gate_publishes_and_reports(project, toolkit) -> None:
    folder = _project(project, "no_data_drift(baseline=source('raw', 'training'), columns=['x', 's'], "
                               "categorical_default_threshold=0.1, severity='warn')")
    assert toolkit(folder, "build").exit_code == 0
    _serve(folder, "* 2", 4)
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    assert _statuses(folder)["predictions"] == "warn"
    assert query(folder / "warehouse.duckdb", "SELECT max(x) FROM predictions") == [(598.0,)]  # published
    history = query(folder / "warehouse.duckdb", "SELECT function, model_name, input, is_anomaly FROM "
                                                 "_toolkit.monitoring_history ORDER BY recorded_at, rowid")
    assert history[-2:] == [("VALIDATE_DATA_DRIFT", None, "x", True), ("VALIDATE_DATA_DRIFT", None, "s", False)]
    tested = toolkit(folder, "test", "--select", "predictions")  # the published table, audited again
    assert tested.exit_code == 0 and _statuses(folder) == {"predictions": "warn"}
    assert query(folder / "warehouse.duckdb", "SELECT count(*) FROM _toolkit.monitoring_history") == [(6,)]


def test_a_gate_that_cannot_run_names_why_and_publishes_nothing(project, toolkit) -> None:
    folder = _project(project, "no_data_skew(model='m', severity='warn')")
    assert toolkit(folder, "build").exit_code == 0
    con = duckdb.connect(str(folder / "warehouse.duckdb"))
    con.execute("DELETE FROM _toolkit.model_data_statistics")  # as a model trained before statistics were kept
    con.execute("CREATE OR REPLACE TABLE raw.serving AS SELECT 1.0 AS x, 'v9' AS s")
    con.close()
    result = toolkit(folder, "build", "--select", "predictions")
    assert result.exit_code != 0
    assert "model m version 1 has no training statistics" in result.output
    assert query(folder / "warehouse.duckdb", "SELECT count(*) FROM predictions") == [(300,)]


def test_a_model_files_own_skew_call_is_recorded_too(project, toolkit) -> None:
    folder = _project(project, "not_null('x')")
    (folder / "models" / "skew.sql").write_text("SELECT * FROM ML.VALIDATE_DATA_SKEW(MODEL m, "
                                                "(SELECT * FROM {{ source('raw', 'serving') }}))\n")
    result = toolkit(folder, "build")
    assert result.exit_code == 0, result.output
    published = query(folder / "warehouse.duckdb", "SELECT input, value, is_anomaly FROM skew")
    history = query(folder / "warehouse.duckdb", "SELECT node, assertion, model_name, model_version, input, value, "
                                                 "is_anomaly FROM _toolkit.monitoring_history ORDER BY rowid")
    assert history == [("skew", "model file", "m", 1, *row) for row in published]
