"""A model page's sections: each a heading, its charts (inline SVG) and its tables, from a ModelDoc.

A section appears only when the model has its data: a ROC curve for a binary classifier, centroids for KMEANS,
feature importance for trees, global explanation when the model was trained with ENABLE_GLOBAL_EXPLAIN."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from toolkit.docs import charts
from toolkit.docs.collect import DRIFT_COLUMNS, NodeDoc
from toolkit.docs.models import ModelDoc

METRIC_NAMES = {"JENSEN_SHANNON_DIVERGENCE": "JS", "L_INFTY": "L∞"}  # drift metrics, short in chart labels
TOP_FEATURES = 20  # bars shown of feature importance, explanation and weights


@dataclass(frozen=True)
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    summary: str = ""  # shown folded under this summary line when set


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    charts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    note: str = ""


def model_sections(model: ModelDoc) -> list[Section]:
    """Every section that applies to the model, in page order."""
    return [section for build in SECTIONS if (section := build(model)) is not None]


def _chart_id(model: ModelDoc, name: str) -> str:
    return f"{model.name}-{name}"


def _options(model: ModelDoc) -> Section:
    rows = [(key, _text(value)) for key, value in sorted(model.options.items()) if value is not None]
    return Section("options", "Options", tables=[Table(("option", "value"), rows)])


def _split(model: ModelDoc) -> Section:
    sizes = {role: model.split.get(f"{role}_rows") or 0 for role in ("training", "eval", "test")}
    sizes = {role: rows for role, rows in sizes.items() if rows or role == "training"}
    chart = charts.bars(_chart_id(model, "split"), "Rows per split", list(sizes), list(sizes.values()), "rows")
    rows = [(key, _text(value)) for key, value in model.split.items()]
    return Section("split", "Split", [chart], [Table(("setting", "value"), rows)])


def _metrics(model: ModelDoc) -> Section | None:
    if not model.metrics:
        return None
    splits = list(model.metrics)
    names = list(dict.fromkeys(name for values in model.metrics.values() for name in values))
    rows = [(name, *(model.metrics[split].get(name) for split in splits)) for name in names]
    panels = {name: {split: model.metrics[split].get(name) for split in splits} for name in names}
    chart = charts.small_multiples(_chart_id(model, "metrics"), "Metrics per split", panels)
    return Section("metrics", "Metrics per split", [chart], [Table(("metric", *splits), rows)])


def _training(model: ModelDoc) -> Section | None:
    if not model.iterations:
        return None
    steps = [row["iteration"] for row in model.iterations]
    series = {"training loss": (steps, [row["loss"] for row in model.iterations])}
    if any(row["eval_loss"] is not None for row in model.iterations):
        series["evaluation loss"] = (steps, [row["eval_loss"] for row in model.iterations])
    chart = charts.lines(_chart_id(model, "loss"), "Loss per iteration", series, "iteration", "loss",
                         integer_x=True)
    columns = ("iteration", "loss", "eval_loss", "learning_rate", "duration_ms")
    table = Table(columns, [[r[c] for c in columns] for r in model.iterations])
    return Section("training", "Training", [chart], [table])


def _roc(model: ModelDoc) -> Section | None:
    rows = model.functions.get("ROC_CURVE")
    if not rows:
        return None
    ordered = sorted(rows, key=lambda r: (r["false_positive_rate"], r["recall"]))
    roc = charts.lines(_chart_id(model, "roc"), "ROC curve",
                       {"ROC": ([0.0, *(r["false_positive_rate"] for r in ordered), 1.0],
                                [0.0, *(r["recall"] for r in ordered), 1.0])},
                       "false positive rate", "true positive rate (recall)", diagonal=True, square=True)
    points = [(r["recall"], _precision(r)) for r in sorted(rows, key=lambda r: (r["recall"], -r["threshold"]))
              if _precision(r) is not None]
    precision_recall = charts.lines(_chart_id(model, "pr"), "Precision–recall curve",
                                    {"PR": ([p[0] for p in points], [p[1] for p in points])},
                                    "recall", "precision", square=True)
    columns = ("threshold", "recall", "false_positive_rate", "precision", "true_positives", "false_positives",
               "true_negatives", "false_negatives")
    table = Table(columns, [(r["threshold"], r["recall"], r["false_positive_rate"], _precision(r),
                             *(r[c] for c in columns[4:])) for r in rows], summary=f"the {len(rows)} points")
    return Section("roc", "ROC and precision–recall curves", [roc, precision_recall], [table],
                   note=f"ML.ROC_CURVE over the {model.latest.metrics_split} rows kept at training ({len(rows)} "
                        "thresholds).")


def _precision(row: dict[str, Any]) -> float | None:
    predicted = row["true_positives"] + row["false_positives"]
    return row["true_positives"] / predicted if predicted else None


def _confusion(model: ModelDoc) -> Section | None:
    rows = model.functions.get("CONFUSION_MATRIX")
    if not rows:
        return None
    predicted = [name for name in rows[0] if name != "expected_label"]
    expected = [_text(row["expected_label"]) for row in rows]
    matrix = [[row[name] for name in predicted] for row in rows]
    chart = charts.heatmap(_chart_id(model, "confusion"), "Confusion matrix", expected, predicted, matrix,
                           "predicted label", "expected label")
    return Section("confusion", "Confusion matrix", [chart], [Table(("expected \\ predicted", *predicted),
                                                                  [(e, *m) for e, m in zip(expected, matrix)])])


def _importance(model: ModelDoc) -> Section | None:
    made: list[str] = []
    tables: list[Table] = []
    rows = model.functions.get("FEATURE_IMPORTANCE")
    if rows:
        top = sorted(rows, key=lambda r: -(r["importance_gain"] or 0))[:TOP_FEATURES]
        made.append(charts.bars(_chart_id(model, "importance"), "Feature importance (gain)",
                                [r["feature"] for r in top], [r["importance_gain"] or 0 for r in top], "gain"))
        columns = ("feature", "importance_weight", "importance_gain", "importance_cover")
        tables.append(Table(columns, [[r[c] for c in columns] for r in rows]))
    rows = model.functions.get("GLOBAL_EXPLAIN")
    if rows:
        top = rows[:TOP_FEATURES]
        made.append(charts.bars(_chart_id(model, "explain"), "Global explanation (attribution)",
                                [r["feature"] for r in top], [r["attribution"] for r in top], "attribution"))
        tables.append(Table(("feature", "attribution"), [(r["feature"], r["attribution"]) for r in rows],
                            summary="ML.GLOBAL_EXPLAIN's rows"))
    rows = model.functions.get("WEIGHTS")
    if rows:
        weights = [(r["processed_input"], _weight(r)) for r in rows if r["processed_input"] != "__INTERCEPT__"]
        top = sorted((w for w in weights if w[1] is not None), key=lambda w: -abs(w[1]))[:TOP_FEATURES]
        made.append(charts.bars(_chart_id(model, "weights"), "Weights, standardized (largest category weight)",
                                [w[0] for w in top], [w[1] for w in top], "weight"))
        tables.append(Table(("processed_input", "weight (largest category weight)"), weights,
                            summary="ML.WEIGHTS(STRUCT(TRUE AS standardize))'s weights"))
    if not made:
        return None
    return Section("importance", "Feature importance and explanation", made, tables)


def _weight(row: dict[str, Any]) -> float | None:
    """A numeric input's weight, or a categorical input's category weight of largest magnitude."""
    if row.get("weight") is not None:
        return row["weight"]
    categories = [c["weight"] for c in row.get("category_weights") or [] if c.get("weight") is not None]
    return max(categories, key=abs) if categories else None


def _centroids(model: ModelDoc) -> Section | None:
    rows = [r for r in model.functions.get("CENTROIDS") or [] if r["numerical_value"] is not None]
    if not rows:
        return None
    ids = sorted({r["centroid_id"] for r in rows})
    features = list(dict.fromkeys(r["feature"] for r in rows))
    value = {(r["centroid_id"], r["feature"]): r["numerical_value"] for r in rows}
    matrix = [[value.get((i, f)) for f in features] for i in ids]
    chart = charts.heatmap(_chart_id(model, "centroids"), "Centroids (standardized numeric features)",
                           [str(i) for i in ids], features, matrix, "feature", "centroid", diverging=True)
    return Section("centroids", "Centroids", [chart], [Table(("centroid", *features), [(i, *m) for i, m in
                                                                                     zip(ids, matrix)])])


def _components(model: ModelDoc) -> Section | None:
    rows = model.functions.get("PRINCIPAL_COMPONENT_INFO")
    if not rows:
        return None
    ids = [r["principal_component_id"] for r in rows]
    chart = charts.lines(_chart_id(model, "components"), "Explained variance by component",
                         {"explained variance ratio": (ids, [r["explained_variance_ratio"] for r in rows]),
                          "cumulative": (ids, [r["cumulative_explained_variance_ratio"] for r in rows])},
                         "principal component", integer_x=True)
    columns = ("principal_component_id", "eigenvalue", "explained_variance_ratio", "cumulative_explained_variance_ratio")
    return Section("components", "Principal components", [chart],
                   [Table(columns, [[r[c] for c in columns] for r in rows])])


def _features(model: ModelDoc) -> Section | None:
    rows = model.functions.get("FEATURE_INFO")
    if not rows:
        return None
    columns = ("input", "min", "max", "mean", "median", "stddev", "category_count", "null_count")
    return Section("features", "Features", tables=[Table(columns, [[r.get(c) for c in columns] for r in rows])])


def _versions(model: ModelDoc) -> Section:
    names = [name for name, value in model.latest.metrics.items() if value is not None][:4]
    numbers = [v.version for v in model.versions]
    chart = charts.lines(_chart_id(model, "versions"), "Metrics per version",
                         {name: (numbers, [v.metrics.get(name) for v in model.versions]) for name in names},
                         "version", integer_x=True)
    rows = [(v.version, v.created_at, v.training_rows, v.eval_rows, v.metrics_split,
             *(v.metrics.get(name) for name in names)) for v in reversed(model.versions)]
    return Section("versions", "Versions", [chart], [Table(("version", "trained", "training rows", "eval rows",
                                                            "split", *names), rows)])


def node_sections(node: NodeDoc) -> list[Section]:
    """A node page's charts: the drift its ML.VALIDATE_DATA_DRIFT call found, when it published that."""
    if not node.drift:
        return []
    rows = [r for r in node.drift if r["value"] is not None]
    labels = [f"{r['input']} ({METRIC_NAMES.get(r['metric'], r['metric'])})" for r in rows]
    chart = charts.drift_bars(f"{node.name}-drift", "Drift per input", labels,
                              [r["value"] for r in rows], [r["threshold"] for r in rows],
                              [bool(r["is_anomaly"]) for r in rows])
    return [Section("drift", "Drift (ML.VALIDATE_DATA_DRIFT)", [chart],
                    [Table(DRIFT_COLUMNS, [[r[c] for c in DRIFT_COLUMNS] for r in node.drift])])]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value)
    return str(value)


SECTIONS: tuple[Callable[[ModelDoc], Section | None], ...] = (
    _metrics, _training, _roc, _confusion, _importance, _centroids, _components, _split, _features, _options,
    _versions,
)
