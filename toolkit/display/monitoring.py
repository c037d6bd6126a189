"""`toolkit monitor`: the latest verdict of each monitored feature, one table per gate run, with its recent trend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from toolkit.display.fit import Cell, left, print_fitted, right

MONITOR_COLUMNS = [left("feature"), left("metric", drop=2), right("threshold"), right("value"), left("verdict"),
                   left("trend (oldest first)", wrap=True, drop=1)]
TREND_RUNS = 5  # the last runs shown in the trend


def _record(row: Sequence[Cell]) -> list[Text]:
    feature, metric, threshold, value, verdict, trend = map(str, row)
    return [Text(f"{feature}: {verdict}", style="bold"), Text(f"{metric} {value} (threshold {threshold})"),
            Text(f"trend: {trend}", style="dim")]


def print_monitoring(console: Console, report: Mapping[str, Any]) -> None:
    """The report of toolkit.ml.monitor.history.report: its latest rows grouped by table, gate and run."""
    if not report["latest"]:
        console.print("No monitoring results yet: add a no_data_skew or no_data_drift gate and run `toolkit build`.")
        return
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in report["latest"]:
        groups.setdefault((row["table"], row["gate"], row["model"], row["version"], row["recorded_at"]), []).append(row)
    for (node, gate, model, version, at), rows in groups.items():
        compared = f", model {model} version {version}" if model else ""
        cells = [(row["input"], row["metric"], f"{row['threshold']:g}", f"{row['value']:.4f}",
                  "ANOMALY" if row["is_anomaly"] else "ok", " → ".join(f"{v:.4f}" for v in row["trend"][-TREND_RUNS:]))
                 for row in rows]
        print_fitted(console, MONITOR_COLUMNS, cells, title=f"{node}: {gate}{compared}, {at[:19].replace('T', ' ')}",
                     record=_record)
