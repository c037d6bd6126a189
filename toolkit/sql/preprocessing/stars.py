"""`*`, `* EXCEPT (…)` and `* REPLACE (expr AS col, …)` in TRANSFORM(…), expanded into one entry per column.

BigQuery ML's TRANSFORM takes a select list, and the star stands for every column of the AS query, the label
included (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-syntax-create#transform):
`TRANSFORM(* EXCEPT (id), ML.STANDARD_SCALER(x) OVER () AS x_scaled)`. EXCEPT drops the columns it names, REPLACE
computes a column in its place under the same name; a column either names that the query lacks is an error."""

from __future__ import annotations

from collections.abc import Sequence

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from toolkit.errors import ProjectError
from toolkit.sql.dialect import DIALECT


def _star(tree: exp.Expression) -> exp.Star | None:
    if isinstance(tree, exp.Star):
        return tree
    if isinstance(tree, exp.Column) and isinstance(tree.this, exp.Star):
        return tree.this
    return None


def has_star(entries: Sequence[str]) -> bool:
    """Whether some TRANSFORM entry is a star."""
    return any(_star(_parse(text)) is not None for text in entries if "*" in text)


def _parse(text: str) -> exp.Expression:
    try:
        return sqlglot.parse_one(text, read=DIALECT)
    except (ParseError, TokenError):
        return exp.Null()  # reported where the entry is read


def _missing(where: str, clause: str, name: str, columns: Sequence[str]) -> ProjectError:
    return ProjectError(f"{where}: TRANSFORM(* {clause} (…)) names the column {name}, which the query after AS "
                        f"does not return; its columns are {', '.join(columns)}",
                        hint=f"name only columns of the query in * {clause} (…)")


def expand_stars(entries: Sequence[str], columns: Sequence[str], *, where: str) -> list[str]:
    """The TRANSFORM entries with each star replaced by the query's `columns` (in their order), less those EXCEPT
    names, with those REPLACE names computed. Entries without a star are returned unchanged."""
    by_key = {c.casefold(): c for c in columns}
    expanded: list[str] = []
    for text in entries:
        tree = _parse(text) if "*" in text else None
        star = _star(tree) if tree is not None else None
        if star is None:
            expanded.append(text)
            continue
        if star.args.get("rename") or star.args.get("ilike"):
            raise ProjectError(f"{where}: TRANSFORM takes * EXCEPT (…) and * REPLACE (…), not `{text}`",
                               hint="write * EXCEPT (columns) or * REPLACE (expression AS column)")
        dropped: set[str] = set()
        for column in star.args.get("except_") or []:
            name = column.name
            if name.casefold() not in by_key:
                raise _missing(where, "EXCEPT", name, columns)
            dropped.add(name.casefold())
        replaced: dict[str, exp.Expression] = {}
        for item in star.args.get("replace") or []:
            if not isinstance(item, exp.Alias):
                raise ProjectError(f"{where}: TRANSFORM(* REPLACE ({item.sql(dialect=DIALECT)})) does not name the "
                                   "column it replaces", hint="write * REPLACE (<expression> AS <column>)")
            if item.alias.casefold() not in by_key:
                raise _missing(where, "REPLACE", item.alias, columns)
            replaced[item.alias.casefold()] = item
        for key, name in by_key.items():
            if key in dropped:
                continue
            if key in replaced:
                expanded.append(exp.alias_(replaced[key].this, name, quoted=True).sql(dialect=DIALECT))
            else:
                expanded.append(exp.column(name, quoted=True).sql(dialect=DIALECT))
    return expanded
