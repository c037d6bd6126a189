"""Charts as inline SVG, drawn by matplotlib: the page needs no JavaScript and no network to show them.

Each chart is a Figure of its own (no pyplot state), saved as SVG text with text kept as text (small and
searchable), no date in its metadata, and ids salted with the chart's own id so that many SVGs inline in one page
never share a clip path id."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT = 5.6, 3.2  # inches, at 72 SVG units per inch
PALETTE = ("#3b6ea5", "#e07b39", "#4a9a5b", "#b3475a", "#7d5ba6", "#8c6d46", "#c75fa0", "#6f6f6f")


def _figure(chart_id: str, height: float = HEIGHT, width: float = WIDTH) -> Any:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    figure.set_gid(chart_id)
    return figure


def _margins(figure: Any, left_chars: int = 6, bottom_chars: int = 0, right: float = 0.25) -> None:
    """Fixed margins sized for the longest tick label (a layout engine costs as much as drawing the chart)."""
    width, height = figure.get_size_inches()
    left = (0.55 + 0.062 * left_chars) / width
    bottom = (0.5 + 0.045 * bottom_chars) / height
    figure.subplots_adjust(left=min(left, 0.55), right=max(1 - right / width, 0.6), bottom=min(bottom, 0.5),
                           top=1 - 0.32 / height)


def _svg(figure: Any, chart_id: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart_id, "font.size": 8}):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    start = text.index("<svg")  # drop the XML prolog and DOCTYPE: the SVG goes inline into HTML
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text[start:], count=1, flags=re.DOTALL)
    return text.replace("<svg ", f'<svg class="chart" data-chart="{escape(chart_id)}" role="img" ', 1)


def _style(axes: Any, title: str, xlabel: str = "", ylabel: str = "") -> None:
    axes.set_title(title, fontsize=9, loc="left")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(alpha=0.25, linewidth=0.6)
    axes.set_axisbelow(True)


def bars(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float], xlabel: str = "") -> str:
    """Horizontal bars, the first label on top."""
    height = min(max(1.6, 0.9 + 0.22 * len(labels)), 7.0)
    figure = _figure(chart_id, height)
    axes = figure.add_subplot()
    positions = range(len(labels))
    axes.barh(list(positions), list(values), color=PALETTE[0])
    axes.set_yticks(list(positions), [str(label) for label in labels])
    axes.invert_yaxis()
    _style(axes, title, xlabel)
    _margins(figure, max((len(str(label)) for label in labels), default=4))
    return _svg(figure, chart_id)


def drift_bars(chart_id: str, title: str, labels: Sequence[str], values: Sequence[float],
               thresholds: Sequence[float], anomalies: Sequence[bool]) -> str:
    """Horizontal bars of each input's drift, red where it passes its threshold (drawn as a black tick)."""
    height = min(max(1.6, 0.9 + 0.26 * len(labels)), 7.0)
    figure = _figure(chart_id, height)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.barh(positions, list(values), color=[PALETTE[3] if a else PALETTE[0] for a in anomalies])
    axes.scatter(list(thresholds), positions, marker="|", s=180, color="black", label="threshold", zorder=3)
    axes.set_yticks(positions, [str(label) for label in labels])
    axes.invert_yaxis()
    axes.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(axes, title, "drift")
    _margins(figure, max((len(str(label)) for label in labels), default=4), right=0.9)
    return _svg(figure, chart_id)


def small_multiples(chart_id: str, title: str, panels: Mapping[str, Mapping[str, float | None]]) -> str:
    """One small bar panel per metric (each on its own scale), a bar per split, its value written above it."""
    count = max(len(panels), 1)
    columns = min(count, 4)
    rows = math.ceil(count / columns)
    figure = _figure(chart_id, 0.5 + 1.7 * rows, WIDTH if columns < 4 else 7.2)
    figure.suptitle(title, fontsize=9, x=0.01, ha="left")
    splits = list(dict.fromkeys(split for values in panels.values() for split in values))
    colours = {split: PALETTE[i % len(PALETTE)] for i, split in enumerate(splits)}
    for index, (metric, values) in enumerate(panels.items()):
        axes = figure.add_subplot(rows, columns, index + 1)
        names = list(values)
        heights = [math.nan if values[n] is None else values[n] for n in names]
        drawn = axes.bar(names, heights, color=[colours[n] for n in names])
        axes.bar_label(drawn, labels=["" if math.isnan(h) else f"{h:.3g}" for h in heights], fontsize=7)
        axes.set_title(metric, fontsize=8)
        axes.spines[["top", "right", "left"]].set_visible(False)
        axes.set_yticks([])  # each bar is labelled with its value: no y scale to draw
        axes.tick_params(labelsize=7)
        axes.margins(y=0.25)
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.12 / rows, top=1 - 0.45 / (0.5 + 1.7 * rows),
                           hspace=0.7, wspace=0.45)
    return _svg(figure, chart_id)


def lines(chart_id: str, title: str, series: Mapping[str, tuple[Sequence[float], Sequence[float | None]]],
          xlabel: str, ylabel: str = "", diagonal: bool = False, square: bool = False, integer_x: bool = False) -> str:
    """One line per series; `diagonal` draws the y = x reference of a ROC curve."""
    figure = _figure(chart_id, HEIGHT, HEIGHT + 0.8 if square else WIDTH)
    axes = figure.add_subplot()
    for index, (name, (xs, ys)) in enumerate(series.items()):
        marker = "o" if len(xs) <= 30 else None
        axes.plot(list(xs), [math.nan if y is None else y for y in ys], label=name, marker=marker, markersize=3,
                  linewidth=1.4, color=PALETTE[index % len(PALETTE)])
    if diagonal:
        axes.plot([0, 1], [0, 1], linestyle="--", linewidth=0.8, color="#999999")
    if square:
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
    if len(series) > 1:
        axes.legend(fontsize=7, frameon=False)
    if integer_x:
        from matplotlib.ticker import MaxNLocator

        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    _style(axes, title, xlabel, ylabel)
    _margins(figure)
    return _svg(figure, chart_id)


def heatmap(chart_id: str, title: str, rows: Sequence[str], columns: Sequence[str],
            values: Sequence[Sequence[float | None]], xlabel: str = "", ylabel: str = "",
            diverging: bool = False) -> str:
    """A matrix as coloured cells with each value written in its cell (when there are few enough)."""
    import numpy as np

    matrix = np.array([[math.nan if v is None else float(v) for v in row] for row in values], dtype=float)
    row_chars = max((len(str(r)) for r in rows), default=2) + 2
    column_chars = max((len(str(c)) for c in columns), default=0) if len(columns) > 4 else 1
    height = min(max(2.0, 0.9 + 0.045 * column_chars + 0.28 * len(rows)), 7.5)
    width = min(max(3.4, 0.55 + 0.062 * row_chars + 0.75 * len(columns) + 1.3), 8.0)
    figure = _figure(chart_id, height, width)
    axes = figure.add_subplot()
    finite = matrix[np.isfinite(matrix)]
    if diverging:
        bound = float(np.abs(finite).max()) if finite.size else 1.0
        image = axes.imshow(matrix, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
    else:
        image = axes.imshow(matrix, cmap="Blues", aspect="auto")
    figure.colorbar(image, ax=axes, shrink=0.8)
    axes.set_xticks(range(len(columns)), [str(c) for c in columns], rotation=30 if len(columns) > 4 else 0,
                    ha="right" if len(columns) > 4 else "center")
    axes.set_yticks(range(len(rows)), [str(r) for r in rows])
    if matrix.size <= 120:
        middle = float(np.nanmean(finite)) if finite.size else 0.0
        for (i, j), value in np.ndenumerate(matrix):
            if math.isfinite(value):
                dark = abs(value) > abs(middle) * 1.5 if diverging else value > middle
                text = f"{value:,.0f}" if value.is_integer() and abs(value) >= 1000 else f"{value:.3g}"
                axes.text(j, i, text, ha="center", va="center", fontsize=7,
                          color="white" if dark else "black")
    axes.set_title(title, fontsize=9, loc="left")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    _margins(figure, row_chars, column_chars, right=0.9)
    return _svg(figure, chart_id)
