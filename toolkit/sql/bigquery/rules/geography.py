"""Geography: BigQuery's ST_* functions need DuckDB's spatial extension, which a warehouse without the internet
cannot install (and its spherical distances differ from BigQuery's S2 geometry), so each is refused by name
(https://cloud.google.com/bigquery/docs/reference/standard-sql/geography_functions)."""

from __future__ import annotations

from sqlglot import exp

from toolkit.sql.bigquery.refusal import Untranslatable

_HINT = ("compute geography in BigQuery, or store longitude and latitude as FLOAT64 columns and write the "
         "formula (e.g. the haversine distance) in SQL; a DuckDB-dialect model file may LOAD spatial where it "
         "is installed")


def refuse(node: exp.Expression) -> exp.Expression:
    name = str(node.this) if isinstance(node, exp.Anonymous) else node.sql_name()
    raise Untranslatable(f"{name.upper()}() is a geography function: DuckDB's spatial extension is not "
                         "available to the toolkit", node, hint=_HINT)


def is_geography(name: str) -> bool:
    return name.upper().startswith("ST_")


def _geography_nodes() -> dict[type[exp.Expression], object]:
    """sqlglot's own nodes for ST_* functions (ST_DISTANCE, ST_POINT, …)."""
    found = {}
    for value in vars(exp).values():
        if isinstance(value, type) and issubclass(value, exp.Func) and value is not exp.Anonymous:
            try:
                names = value.sql_names()
            except Exception:  # noqa: BLE001 - a node without a name
                continue
            if any(is_geography(name) for name in names):
                found[value] = refuse
    return found


def data_type(node: exp.DataType) -> exp.Expression:
    if node.this == exp.DataType.Type.GEOGRAPHY:
        raise Untranslatable("GEOGRAPHY has no translation to DuckDB in the toolkit", node, hint=_HINT)
    return node


RULES = _geography_nodes()
