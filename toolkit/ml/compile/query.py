"""A fitted model → the SQL of its ML.PREDICT: BigQuery's prediction columns, then the input's columns, with the
same names, types and values as the Python path (`toolkit.ml.inference.predict`).

The query reads its input from a placeholder table and a binary classifier's threshold from a placeholder
column; `CompiledPrediction.sql_for` puts an input query and a threshold in their place, and the warehouse's
table macro its parameters (toolkit.ml.compile.prediction)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from toolkit.ml.compile import linear, trees
from toolkit.ml.compile.features import HELPER, prepared_features, transform_layer
from toolkit.ml.compile.layers import Layers, ref
from toolkit.ml.compile.sql import NotCompilable, call, case, cast, integer, number, text
from toolkit.ml.inference.heads import NEAREST_CENTROIDS
from toolkit.ml.model import TrainedModel
from toolkit.ml.types.tasks import Family, Task

INPUT_PLACEHOLDER = "__toolkit_predict_input__"
THRESHOLD_PLACEHOLDER = "__toolkit_threshold__"
_LABEL_TYPES = {"bool": "BOOLEAN", "string": "VARCHAR", "large_string": "VARCHAR", "string_view": "VARCHAR",
                "int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT", "uint8": "UTINYINT",
                "uint16": "USMALLINT", "uint32": "UINTEGER", "uint64": "UBIGINT", "float": "FLOAT",
                "double": "DOUBLE", "date32[day]": "DATE"}


def prediction_query(trained: TrainedModel, *, limit: int, passthrough: Sequence[str] | None = None) -> exp.Select:
    """The model's ML.PREDICT over the placeholder input; raises NotCompilable (with the reason) for a model the
    compiler does not cover. `passthrough`: the input columns to keep (None: all of them)."""
    model_type = trained.model_type
    if not model_type.compilable:
        raise NotCompilable(model_type.not_compiled)
    family = model_type.family
    if trained.options.get("DISTANCE_TYPE") == "COSINE":
        raise NotCompilable("KMEANS with DISTANCE_TYPE 'COSINE'")
    source, added = transform_layer(trained, exp.Table(this=exp.to_identifier(INPUT_PLACEHOLDER, quoted=True)))
    layers = Layers(source, added)
    features = prepared_features(trained)
    layers.add([(f.name, f.expression) for f in features])
    estimator, task = trained.estimator, trained.model_type.task
    label = trained.label
    if task is Task.REGRESSION:
        if family is Family.BOOSTED_TREE:
            value = trees.boosted_regression(layers, features, estimator, limit)
        elif family is Family.RANDOM_FOREST:
            value = ref(trees.forest_outputs(layers, features, estimator, limit, 1)[0])
        else:
            value = linear.regression_value(layers, features, estimator)
        outputs = [(f"predicted_{label}", value)]
    elif task is Task.CLASSIFICATION:
        if family is Family.BOOSTED_TREE:
            probs = trees.boosted_probabilities(layers, features, estimator, limit)
        elif family is Family.RANDOM_FOREST:
            probs = trees.forest_outputs(layers, features, estimator, limit, len(trained.classes))
        else:
            probs = linear.logistic_probabilities(layers, features, estimator)
        outputs = _classes(trained, probs)
    elif task is Task.CLUSTERING:
        outputs = _clusters(layers, linear.centroid_distances(layers, features, estimator))
    else:
        components = linear.pca_components(layers, features, estimator)
        outputs = [(f"principal_component_{i + 1}", c) for i, c in enumerate(components)]
    return layers.finish(outputs, passthrough)


def _label_literals(trained: TrainedModel) -> list[exp.Expression]:
    duck_type = _LABEL_TYPES.get(trained.label_type or "")
    if duck_type is None:
        raise NotCompilable(f"a label of type {trained.label_type}")
    out = []
    for value in trained.classes:
        if isinstance(value, bool):
            literal: exp.Expression = exp.Boolean(this=value)
        elif isinstance(value, str):
            literal = text(value)
        elif isinstance(value, int):
            literal = integer(value)
        elif isinstance(value, float):
            literal = number(value)
        else:
            literal = text(str(value))
        out.append(cast(literal, duck_type) if duck_type not in ("BOOLEAN", "VARCHAR") else literal)
    return out


def _classes(trained: TrainedModel, probs: list[str]) -> list[tuple[str, exp.Expression]]:
    labels = _label_literals(trained)
    if len(probs) == 2:  # the positive class when its probability exceeds the threshold
        threshold = exp.column(exp.to_identifier(THRESHOLD_PLACEHOLDER, quoted=True))
        chosen = case([(exp.GT(this=ref(probs[1]), expression=threshold), labels[1].copy())], labels[0].copy())
    else:  # the most probable class, the first of equals (numpy's argmax)
        whens = []
        for i in range(len(probs) - 1):
            condition = None
            for j in range(i + 1, len(probs)):
                ge = exp.GTE(this=ref(probs[i]), expression=ref(probs[j]))
                condition = ge if condition is None else exp.And(this=condition, expression=ge)
            whens.append((condition, labels[i].copy()))
        chosen = case(whens, labels[-1].copy())
    entries = [_struct(("label", label.copy()), ("prob", ref(p))) for label, p in zip(labels, probs)]
    return [(f"predicted_{trained.label}", chosen),
            (f"predicted_{trained.label}_probs", exp.Array(expressions=entries))]


def _struct(*fields: tuple[str, exp.Expression]) -> exp.Struct:
    return exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(name), expression=value)
                                   for name, value in fields])


def _clusters(layers: Layers, distances: list[str]) -> list[tuple[str, exp.Expression]]:
    """centroid_id and the nearest centroids: the (distance, id) pairs sorted, the first min(k, 5) kept."""
    pairs = exp.Array(expressions=[_struct(("distance", ref(d)), ("centroid_id", cast(integer(j + 1), "BIGINT")))
                                   for j, d in enumerate(distances)])
    ranked = f"{HELPER}ranked"
    layers.add([(ranked, call("list_sort", pairs))])

    def nth(i: int, field: str) -> exp.Expression:  # written 1-based (offset 1): no dialect re-derives the index
        return exp.Dot(this=exp.Bracket(this=ref(ranked), expressions=[exp.Literal.number(i + 1)], offset=1),
                       expression=exp.to_identifier(field))

    nearest = exp.Array(expressions=[_struct(("centroid_id", nth(i, "centroid_id")), ("distance", nth(i, "distance")))
                                     for i in range(min(len(distances), NEAREST_CENTROIDS))])
    return [("centroid_id", nth(0, "centroid_id")), ("nearest_centroids_distance", nearest)]
