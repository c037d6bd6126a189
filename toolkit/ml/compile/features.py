"""The model's inputs as SQL: TRANSFORM's outputs over the raw columns, then each automatic-preprocessing feature
as one column, exactly as `toolkit.ml.features.preprocess` computes it in numpy:

- numeric: CAST to DOUBLE (TIMESTAMP: epoch seconds), NULL and NaN → the training mean, then (x - center) / scale;
  a float32 design (random forests) rounds the result to FLOAT, as scikit-learn's trees read it;
- categorical: the canonical category text (strings as they are, BOOL 'true'/'false', DATE ISO, BLOB lower hex,
  TIMESTAMP parts as numbers in UTC), left NULL for NULL; the model's lookup maps it to weights or codes;
- arrays: a multi-hot ARRAY<STRING> as it is, a sparse ARRAY<STRUCT<index, value>> with its fields named
  `index` and `value`; the linear models sum their entries' weights (toolkit.ml.compile.linear)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from toolkit.ml.compile.sql import NotCompilable, call, case, cast, column, number, paren
from toolkit.ml.features.preprocess import CATEGORICAL, MULTI_HOT, NUMERIC, Feature
from toolkit.ml.features.transform import INPUT_ALIAS, PREFIX
from toolkit.ml.model import TrainedModel
from toolkit.sql.dialect import DIALECT

INPUT = INPUT_ALIAS  # the alias of the input rows in every layer
HELPER = "__toolkit_"  # the prefix of every column the compiled query adds and drops again
_FLOATING = ("DOUBLE", "FLOAT", "REAL")
_EPOCH = {"TIMESTAMP": ("epoch_us", 1e6), "TIMESTAMP WITH TIME ZONE": ("epoch_us", 1e6),
          "TIMESTAMP_NS": ("epoch_ns", 1e9), "TIMESTAMP_MS": ("epoch_ms", 1e3),
          "TIMESTAMP_S": ("epoch_ms", 1e3)}  # whole seconds × 1000, divided back exactly
_PARTS = {"DOM": "dayofmonth", "MOY": "month", "HOD": "hour", "MOH": "minute", "WOY": "week", "YEAR": "year"}


@dataclass(frozen=True)
class PreparedFeature:
    """One preprocessing feature as the column `name` of the features layer."""

    feature: Feature
    name: str
    expression: exp.Expression
    counts: dict[str, int] | None = None  # training counts of a categorical feature's most frequent categories


def transform_layer(trained: TrainedModel, source: exp.Expression) -> tuple[exp.Expression, list[str]]:
    """The input rows with TRANSFORM's feature outputs beside them as `__transform__<name>` (the source itself
    without TRANSFORM), and the names of the columns it added."""
    fitted = trained.transform
    if fitted is None:
        return source, []
    items: list[exp.Expression] = [exp.Column(this=exp.Star(), table=exp.to_identifier(INPUT, quoted=True))]
    added = []
    for name, sql in fitted.columns:
        if name not in fitted.features:
            continue
        try:
            expression = sqlglot.parse_one(sql, read=DIALECT)
        except sqlglot.errors.SqlglotError as error:
            raise NotCompilable(f"TRANSFORM output {name} could not be parsed: {error}") from None
        parameters = {p.name for fn in expression.find_all(exp.Lambda) for p in fn.expressions}
        for ref in expression.find_all(exp.Column):  # qualify the raw columns TRANSFORM reads
            if not ref.table and ref.name not in parameters:
                ref.set("table", exp.to_identifier(INPUT, quoted=True))
        items.append(exp.alias_(expression, PREFIX + name, quoted=True, copy=False))
        added.append(PREFIX + name)
    select = exp.Select(expressions=items).from_(aliased(source, INPUT), copy=False)
    return exp.Subquery(this=select), added


def aliased(source: exp.Expression, alias: str) -> exp.Expression:
    """`<source> AS "alias"` (the source itself, not a copy): a table or a subquery."""
    source.set("alias", exp.TableAlias(this=exp.to_identifier(alias, quoted=True)))
    return source


def feature_sources(trained: TrainedModel) -> dict[str, exp.Expression]:
    """Where each feature column of the model is read: the raw column, or TRANSFORM's output (a STRUCT output's
    fields flattened into `<output>_<field>`, as the training rows were)."""
    if trained.transform is None:
        return {c["name"]: column(INPUT, c["name"]) for c in trained.feature_schema}
    sources: dict[str, exp.Expression] = {}
    fitted = trained.transform
    types = dict(zip(fitted.names, fitted.types)) if fitted.types else {}
    for name in fitted.features:
        _flatten(name, column(INPUT, PREFIX + name), types.get(name), sources)
    return sources


def _flatten(name: str, ref: exp.Expression, type_sql: str | None, out: dict[str, exp.Expression]) -> None:
    data_type = exp.DataType.build(type_sql, dialect="duckdb") if type_sql else None
    if data_type is None or data_type.this != exp.DataType.Type.STRUCT:
        out[name] = ref
        return
    for field in data_type.expressions:
        field_name = field.name
        _flatten(f"{name}_{field_name}", call("struct_extract", ref, exp.Literal.string(field_name)),
                 field.args["kind"].sql(dialect="duckdb"), out)


def prepared_features(trained: TrainedModel) -> list[PreparedFeature]:
    """Every preprocessing feature as one SQL expression over the (transformed) input."""
    sources = feature_sources(trained)
    types = {c["name"].lower(): c["type"].upper() for c in trained.feature_schema}
    float32 = trained.preprocessor.dtype == "float32"
    prepared = []
    for i, feature in enumerate(trained.preprocessor.features):
        source = _source(sources, feature.column)
        duck_type = types.get(feature.column.lower(), "")
        if feature.kind == NUMERIC:
            expression = _numeric(feature, source, duck_type, float32)
        elif feature.kind == CATEGORICAL:
            expression = _category_text(feature, source, duck_type)
        else:
            expression = _array(feature, source, duck_type)
        stats = trained.data_stats.get(feature.column) if feature.part is None else None
        counts = stats.get("counts") if stats and stats.get("kind") == "categorical" else None
        prepared.append(PreparedFeature(feature, f"{HELPER}f{i}", expression, counts))
    return prepared


def _source(sources: dict[str, exp.Expression], name: str) -> exp.Expression:
    for key, value in sources.items():
        if key.lower() == name.lower():
            return value.copy()
    raise NotCompilable(f"the input column {name} is not among the model's features")


def _numeric(feature: Feature, source: exp.Expression, duck_type: str, float32: bool) -> exp.Expression:
    if feature.part == "EPOCH":
        function, per_second = _EPOCH.get(duck_type, (None, None))
        if function is None:
            raise NotCompilable(f"feature {feature.column} has type {duck_type}")
        value = exp.Div(this=cast(call(function, source), "DOUBLE"), expression=number(per_second))
    else:
        value = cast(source, "DOUBLE")
    if duck_type.startswith(_FLOATING):  # NaN counts as missing, as in numpy
        value = case([(call("isnan", value.copy()), exp.Null())], value)
    x: exp.Expression = exp.Coalesce(this=value, expressions=[number(feature.mean)])
    if feature.center != 0.0:
        x = exp.Sub(this=x, expression=number(feature.center))
    if feature.scale != 1.0:
        x = exp.Div(this=paren(x) if feature.center != 0.0 else x, expression=number(feature.scale))
    if float32:
        x = cast(cast(x, "FLOAT"), "DOUBLE")
    return x


def _array(feature: Feature, source: exp.Expression, duck_type: str) -> exp.Expression:
    """A multi-hot ARRAY<STRING> as it is; a sparse ARRAY<STRUCT<index, value>> with its fields renamed to
    `index` and `value` (their case may differ)."""
    if feature.kind == MULTI_HOT:
        if duck_type != "VARCHAR[]":
            raise NotCompilable(f"feature {feature.column} has type {duck_type}")
        return source
    data_type = exp.DataType.build(duck_type, dialect="duckdb")
    fields = {f.name.lower(): f.name for f in data_type.expressions[0].expressions}
    entry = exp.to_identifier("e")
    renamed = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(name, quoted=True), expression=cast(
        exp.Dot(this=entry.copy(), expression=exp.to_identifier(fields[name], quoted=True)), kind))
        for name, kind in (("index", "BIGINT"), ("value", "DOUBLE"))])
    return call("list_transform", source, exp.Lambda(this=renamed, expressions=[entry]))


def _category_text(feature: Feature, source: exp.Expression, duck_type: str) -> exp.Expression:
    if feature.part is not None:  # a TIMESTAMP part, in UTC
        moment = call("timezone", exp.Literal.string("UTC"), source) if "TIME ZONE" in duck_type else source
        if feature.part == "DOW":  # Monday 0 … Sunday 6
            part = exp.Sub(this=call("isodow", moment), expression=exp.Literal.number("1"))
        else:
            part = call(_PARTS[feature.part], moment)
        return cast(part, "VARCHAR")
    if duck_type == "VARCHAR":
        return source
    if duck_type in ("BOOLEAN", "DATE") or duck_type.startswith("ENUM"):
        return cast(source, "VARCHAR")
    if duck_type == "BLOB":
        return call("lower", call("hex", source))
    raise NotCompilable(f"feature {feature.column} has type {duck_type}")
