"""The split report: how the train / eval / test splits of a built relation compare, computed inside DuckDB.

Only small aggregates come back to Python: rows per split, the label's distribution per split, one distance per
(feature, split) and a few counts about the split key. The distances are those of the `splits_are_balanced`
assertion: the report renders that very macro from the standard library (with max_distance=none, so every pair
is returned), so a report and a build always agree on the numbers."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import jinja2
import sqlglot
from jinja2.sandbox import SandboxedEnvironment
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlglot import exp

from toolkit.checks.evaluate import under_test_replaced
from toolkit.errors import ToolkitError, WarehouseError, did_you_mean
from toolkit.project.assertions import UNDER_TEST
from toolkit.project.discover import standard_macros_dir
from toolkit.project.nodes import Node, NodeKind
from toolkit.project.render import FILTERS, raise_error
from toolkit.sql.dialect import DIALECT
from toolkit.sql.quoting import column_ref, parse, parse_relation, render, substituted
from toolkit.warehouse.materialize import existing_kind

EXPECTED_SPLITS = ("train", "eval", "test")  # what hash_split() assigns
MIN_DISTINCT_KEYS = 10
KEYS_PER_BUCKET = 3
LARGE_DISTANCE = 0.1  # distances above this are highlighted in the table (splits_are_balanced's default)

_NUMERIC = re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|REAL|DOUBLE|DECIMAL(\(.*\))?)$")
_TEMPORAL = re.compile(r"^(DATE|TIME|TIMESTAMP.*|TIME WITH TIME ZONE)$")
_CATEGORICAL = re.compile(r"^(VARCHAR|BOOLEAN|ENUM\(.*\))$", re.DOTALL)  # as the macro's typeof() test


@dataclass(frozen=True)
class SplitReport:
    """Plain data: every section is a list of rows (dicts of str / int / float / bool / None)."""

    relation: str
    split_column: str
    rows: int
    reference: str | None  # the split the others are compared with: 'train', else the largest
    splits: list[dict[str, Any]]  # split (None for NULL), rows, share
    label: str | None = None
    label_kind: str | None = None  # 'categorical' | 'numeric'
    # categorical: split, value, rows, share; numeric: split, rows, nulls, mean, stddev, min, max
    label_distribution: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)  # feature, role, type, statistic ('ks' | 'linf')
    distances: list[dict[str, Any]] = field(default_factory=list)  # feature, split, reference, statistic, distance
    key: dict[str, Any] | None = None  # sql, columns, buckets, null_split, distinct, null_rows, null_rows_by_split
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


# --- the report ------------------------------------------------------------------------------------
def split_report(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    split_column: str,
    label: str | None = None,
    features: list[str] | None = None,
    key_sql: str | None = None,
    buckets: int | None = None,
    null_split: str | None = None,
) -> SplitReport:
    """Compare the splits of `relation` (a quoted relation name) by `split_column`.

    `key_sql`, `buckets` and `null_split` describe how the split was made: a node's recorded hash_split() gives
    all three, and then every one of train / eval / test is expected to have rows; from the command line only
    the key and maybe the bucket count are known; without a key the key checks are skipped."""
    columns = _columns(con, relation)
    split_column = _column(split_column, columns, relation, "split column", "pass --split-column")
    label = _column(label, columns, relation, "label column", None) if label is not None else None
    warnings: list[str] = []
    notes: list[str] = []
    key_columns = _key_columns(key_sql, columns) if key_sql else []

    if features is None:
        skip = {split_column.casefold(), (label or "").casefold(), *(c.casefold() for c in key_columns)}
        chosen = [name for name in columns if name.casefold() not in skip]
    else:
        chosen = list(dict.fromkeys(_column(f, columns, relation, "feature", None) for f in features))
        if split_column in chosen:
            raise ToolkitError(f'the split column "{split_column}" cannot be a feature', hint="leave it out of --features")
    compared, described = [], []  # the features, then the label: their distances between the splits
    for name, role in [(name, "feature") for name in chosen] + ([(label, "label")] if label and label not in chosen else []):
        statistic = _statistic(columns[name])
        if statistic is None:
            notes.append(f"{name} ({columns[name]}) is neither numeric, temporal nor categorical: not compared")
            continue
        compared.append(name)
        described.append({"feature": name, "role": role, "type": columns[name], "statistic": statistic})

    splits = _splits(con, relation, split_column)
    total = sum(row["rows"] for row in splits)
    named = [row for row in splits if row["split"] is not None]
    reference = _reference(named)
    if any(row["split"] is None for row in splits):
        notes.append("rows whose split is NULL are counted but left out of the distances")

    label_kind, distribution = None, []
    if label is not None:
        label_kind = "numeric" if _NUMERIC.match(columns[label]) else "categorical"
        distribution = _label_distribution(con, relation, split_column, label, columns[label])

    distances: list[dict[str, Any]] = []
    if len(named) < 2:
        notes.append("fewer than two splits: no distances to compare")
    elif compared:
        distances = _distances(con, relation, split_column, compared, [row["split"] for row in named], reference)

    key = None
    if key_sql:
        key = _key_checks(con, relation, split_column, key_sql, key_columns, buckets, null_split, warnings, notes)
        folded = {c.casefold() for c in key_columns}
        for name in chosen:
            if name.casefold() in folded or name.casefold() == key_sql.strip().casefold():
                warnings.append(
                    f"feature {name} is (part of) the split key {key_sql}: its distribution differs between the splits "
                    "by construction, and a model can learn which split a row is in; hash a column that is not a feature"
                )
    else:
        notes.append("no split key (the node has no hash_split(), and no --key was given): key checks skipped")
    if null_split is not None:  # a hash_split(): all three splits are expected
        present = {row["split"] for row in named}
        for name in EXPECTED_SPLITS:
            if name not in present:
                warnings.append(
                    f"split '{name}' has no rows: hash_split() assigns train, eval and test; a fraction of 0 or too "
                    "few distinct keys leaves one empty"
                )

    return SplitReport(
        relation=relation, split_column=split_column, rows=total, reference=reference, splits=splits,
        label=label, label_kind=label_kind, label_distribution=distribution, features=described,
        distances=distances, key=key, warnings=warnings, notes=notes,
    )


def node_split_report(
    con: duckdb.DuckDBPyConnection,
    node: Node,
    split_column: str = "split",
    label: str | None = None,
    features: list[str] | None = None,
    key_sql: str | None = None,
    buckets: int | None = None,
) -> SplitReport:
    """The report of a built node, using the node's recorded hash_split() when it has one (else `key_sql` and
    `buckets`, e.g. from the command line)."""
    if node.kind is not NodeKind.MODEL:
        raise ToolkitError(f"{node.name} is {'an assertion' if node.kind is NodeKind.ASSERTION else 'an ML model'}, "
                           "not a table or view: it has no splits to report")
    if existing_kind(con, node.schema, node.name) is None:
        raise WarehouseError(f"{node.qualified_name} is not built", hint=f"run `toolkit build --select {node.name}`")
    notes = []
    null_split = None
    if node.hash_splits:
        recorded = node.hash_splits[0]
        if key_sql is not None or buckets is not None:
            notes.append(f"--key/--buckets ignored: {node.name} records its hash_split() of {recorded.key_sql}")
        if len(node.hash_splits) > 1:
            notes.append(f"{node.name} calls hash_split() {len(node.hash_splits)} times; the key checks use the first")
        key_sql, buckets, null_split = recorded.key_sql, recorded.buckets, recorded.null_split
    report = split_report(con, node.relation, split_column, label, features, key_sql, buckets, null_split)
    return dataclasses.replace(report, notes=notes + report.notes)


# --- the sections ----------------------------------------------------------------------------------
def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, str]:
    """Column name → DuckDB type."""
    try:
        return {row[0]: row[1] for row in con.execute(f"DESCRIBE {relation}").fetchall()}
    except duckdb.Error as error:
        raise WarehouseError(f"cannot read {relation}: {error}", hint="build it first: toolkit build") from None


def _column(name: str, columns: dict[str, str], relation: str, what: str, hint: str | None) -> str:
    """The column's own spelling, compared case-insensitively as DuckDB does."""
    for column in columns:
        if column.casefold() == name.strip().casefold():
            return column
    raise ToolkitError(
        f'{what} "{name}" is not a column of {relation}{did_you_mean(name, columns)}',
        hint=(hint + "; " if hint else "") + "its columns are: " + ", ".join(columns),
    )


def _statistic(column_type: str) -> str | None:
    if _CATEGORICAL.match(column_type):
        return "linf"
    if _NUMERIC.match(column_type) or _TEMPORAL.match(column_type):
        return "ks"
    return None


_SPLIT_ORDER = "CASE split WHEN 'train' THEN 0 WHEN 'eval' THEN 1 WHEN 'test' THEN 2 ELSE 3 END, split NULLS LAST"


def _splits(con: duckdb.DuckDBPyConnection, relation: str, split_column: str) -> list[dict[str, Any]]:
    rows = con.execute(render(substituted(
        "SELECT split, rows, rows / sum(rows) OVER () AS share FROM (SELECT CAST(__split__ AS VARCHAR)"
        f" AS split, count(*) AS rows FROM __relation__ GROUP BY ALL) ORDER BY {_SPLIT_ORDER}",
        __split__=column_ref(split_column), __relation__=parse_relation(relation),
    ))).fetchall()
    return [{"split": split, "rows": count, "share": share} for split, count, share in rows]


def _reference(named: list[dict[str, Any]]) -> str | None:
    """'train' if there is one, else the largest split (ties: the first name), as the macro chooses."""
    if any(row["split"] == "train" for row in named):
        return "train"
    ranked = sorted(named, key=lambda row: (-row["rows"], row["split"]))
    return ranked[0]["split"] if ranked else None


def _label_distribution(
    con: duckdb.DuckDBPyConnection, relation: str, split_column: str, label: str, column_type: str
) -> list[dict[str, Any]]:
    nodes = dict(__split__=column_ref(split_column), __label__=column_ref(label), __relation__=parse_relation(relation))
    if _NUMERIC.match(column_type):
        query = substituted(
            "SELECT * FROM (SELECT CAST(__split__ AS VARCHAR) AS split, count(*) AS rows,"
            " count(*) - count(__label__) AS nulls, avg(__label__)::DOUBLE AS mean,"
            " stddev_samp(__label__)::DOUBLE AS stddev, min(__label__)::DOUBLE AS min,"
            f" max(__label__)::DOUBLE AS max FROM __relation__ GROUP BY ALL) ORDER BY {_SPLIT_ORDER}", **nodes
        )
    else:
        value = "__label__" if column_type == "BOOLEAN" else "CAST(__label__ AS VARCHAR)"
        query = substituted(
            "SELECT split, value, rows, rows / sum(rows) OVER (PARTITION BY split) AS share FROM ("
            f"SELECT CAST(__split__ AS VARCHAR) AS split, {value} AS value, count(*) AS rows FROM __relation__"
            f" GROUP BY ALL) ORDER BY {_SPLIT_ORDER}, value NULLS LAST", **nodes
        )
    cursor = con.execute(render(query))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _distances(
    con: duckdb.DuckDBPyConnection, relation: str, split_column: str, features: list[str], splits: list[str],
    reference: str | None,
) -> list[dict[str, Any]]:
    """One row per (feature, split other than the reference), from the splits_are_balanced query."""
    cursor = con.execute(distance_sql(relation, split_column, features))
    found = {(feature, split): (statistic, distance) for feature, split, _, statistic, distance in cursor.fetchall()}
    rows = []
    for feature in features:
        for split in splits:
            if split == reference:
                continue
            statistic, distance = found.get((feature, split), (None, None))
            rows.append({"feature": feature, "split": split, "reference": reference, "statistic": statistic,
                         "distance": distance})
    return rows


def _key_checks(
    con: duckdb.DuckDBPyConnection, relation: str, split_column: str, key_sql: str, key_columns: list[str],
    buckets: int | None, null_split: str | None, warnings: list[str], notes: list[str],
) -> dict[str, Any]:
    key = {"sql": key_sql, "columns": key_columns, "buckets": buckets, "null_split": null_split}
    shown, key_sql = key_sql, _unqualified(key_sql)
    try:
        nodes = dict(__key__=exp.Paren(this=parse(key_sql)), __split__=column_ref(split_column),
                     __relation__=parse_relation(relation))
        distinct, nulls = con.execute(render(substituted(
            "SELECT count(DISTINCT __key__), count(*) FILTER (WHERE __key__ IS NULL) FROM __relation__", **nodes
        ))).fetchall()[0]
        where = con.execute(render(substituted(
            "SELECT * FROM (SELECT CAST(__split__ AS VARCHAR) AS split, count(*) AS rows"
            f" FROM __relation__ WHERE __key__ IS NULL GROUP BY ALL) ORDER BY {_SPLIT_ORDER}", **nodes
        ))).fetchall()
    except (duckdb.Error, sqlglot.errors.SqlglotError) as error:
        notes.append(f"the split key {shown} cannot be evaluated on {relation} (key checks skipped): "
                     f"{str(error).splitlines()[0]}")
        return {**key, "distinct": None, "null_rows": None, "null_rows_by_split": []}
    key.update(distinct=distinct, null_rows=nulls, null_rows_by_split=[{"split": s, "rows": n} for s, n in where])
    if distinct < MIN_DISTINCT_KEYS or (buckets is not None and distinct < KEYS_PER_BUCKET * buckets):
        enough = [f"at least {MIN_DISTINCT_KEYS}"]
        if buckets is not None:
            enough.append(f"{KEYS_PER_BUCKET} × {buckets} buckets = {KEYS_PER_BUCKET * buckets}")
        warnings.append(
            f"the split key {shown} has only {distinct:,} distinct value(s) (want {', and '.join(enough)}): "
            "the splits' shares will stray from the fractions, and each split rests on few keys"
        )
    elif buckets is None:
        notes.append("the number of buckets is unknown (give --buckets): the 3 keys per bucket check was skipped")
    if nulls:
        went = ", ".join(f"'{s}'" if s is not None else "NULL" for s, _ in where)
        rule = f" (null_split='{null_split}')" if null_split is not None else ""
        warnings.append(f"{nulls:,} row(s) have a NULL split key {shown}; they went to {went}{rule}")
    return key


# --- the split key ---------------------------------------------------------------------------------
def _unqualified(key_sql: str) -> str:
    """The key expression with table qualifiers dropped (`f.flight_date` → `flight_date`): the model's FROM
    aliases do not exist in the built relation, where the key's columns appear under their own names."""
    try:
        expression = sqlglot.parse_one(key_sql, read=DIALECT)
    except sqlglot.errors.ParseError:
        return key_sql
    for column in expression.find_all(exp.Column):
        for part in ("table", "db", "catalog"):
            column.set(part, None)
    return expression.sql(dialect=DIALECT)


def _key_columns(key_sql: str, columns: dict[str, str]) -> list[str]:
    """The relation's columns the key expression reads."""
    try:
        named = {column.name.casefold() for column in sqlglot.parse_one(key_sql, read=DIALECT).find_all(exp.Column)}
    except sqlglot.errors.ParseError:
        named = {word.casefold() for word in re.findall(r"\w+", key_sql)}
    return [column for column in columns if column.casefold() in named]


# --- the distance query: the splits_are_balanced macro ---------------------------------------------
def distance_sql(relation: str, split_column: str, features: Sequence[str], max_distance: float | None = None) -> str:
    """The failing-rows query of `splits_are_balanced(split_column, features, max_distance)` over `relation`:
    feature, split, reference, statistic, distance; with max_distance=None, every (feature, split) pair."""
    called = _standard_macro("splits_are_balanced")(
        split_column=split_column, features=list(features), max_distance=max_distance
    )
    return render(under_test_replaced(parse(json.loads(str(called))["failing_rows"]), parse_relation(relation)))


@functools.cache
def _standard_macro(name: str) -> Any:
    """A macro of the standard assertions library, rendered in a bare sandbox whose `assertion()` returns its
    options as JSON (instead of registering an assertion with a project)."""
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False, extensions=["jinja2.ext.do"])
    env.globals.update(assertion=_assertion_options, under_test=UNDER_TEST, raise_error=raise_error)
    env.filters.update(FILTERS)  # the project renderer's own filters
    source = (standard_macros_dir() / "assertions.sql").read_text(encoding="utf-8")
    return getattr(env.from_string(source).make_module(), name)


def _assertion_options(test: str, **options: Any) -> str:
    return json.dumps(options)


# --- printing --------------------------------------------------------------------------------------
def print_report(report: SplitReport, console: Console) -> None:
    """Rich tables for the sections, then the warnings in yellow and the notes dimmed."""
    console.print(Text(f"Split report of {report.relation}", style="bold")
                  + Text(f"  split column {report.split_column}, {report.rows:,} rows, reference split "
                         f"{_shown(report.reference)}", style="dim"))
    table = Table(title="Rows per split", title_justify="left")
    for column in ("split", "rows", "share"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for row in report.splits:
        table.add_row(_shown(row["split"]), f"{row['rows']:,}", f"{row['share']:.4f}")
    console.print(table)
    if report.label is not None:
        console.print(_label_table(report))
    if report.distances:
        console.print(_distance_table(report))
    if report.key is not None:
        key = report.key
        text = f"Split key {key['sql']}"
        if key["buckets"] is not None:
            text += f", {key['buckets']} buckets"
        if key["null_split"] is not None:
            text += f", NULL keys to '{key['null_split']}'"
        if key.get("distinct") is not None:
            text += f": {key['distinct']:,} distinct values, {key['null_rows']:,} NULL"
        console.print(text)
    for warning in report.warnings:
        console.print(Text("warning: ", style="bold yellow") + Text(warning, style="yellow"))
    for note in report.notes:
        console.print(Text(f"note: {note}", style="dim"))


def _label_table(report: SplitReport) -> Table:
    splits = [row["split"] for row in report.splits]
    if report.label_kind == "numeric":
        table = Table(title=f"Label {report.label} per split", title_justify="left")
        for column in ("split", "rows", "nulls", "mean", "stddev", "min", "max"):
            table.add_column(column, justify="left" if column == "split" else "right")
        for row in report.label_distribution:
            table.add_row(_shown(row["split"]), f"{row['rows']:,}", f"{row['nulls']:,}",
                          *("n/a" if row[k] is None else f"{row[k]:.6g}" for k in ("mean", "stddev", "min", "max")))
        return table
    table = Table(title=f"Label {report.label}: shares per split", title_justify="left")
    table.add_column("value")
    for split in splits:
        table.add_column(_shown(split), justify="right")
    shares = {(row["split"], row["value"]): row["share"] for row in report.label_distribution}
    for value in dict.fromkeys(row["value"] for row in report.label_distribution):
        table.add_row(_shown(value), *(_number(shares.get((split, value), 0.0)) for split in splits))
    return table


def _distance_table(report: SplitReport) -> Table:
    splits = list(dict.fromkeys(row["split"] for row in report.distances))
    table = Table(title=f"Distance to '{report.reference}'", title_justify="left",
                  caption="ks: Kolmogorov-Smirnov statistic; linf: largest difference of a category's share",
                  caption_justify="left")
    for column in ("feature", "type", "statistic"):
        table.add_column(column)
    for split in splits:
        table.add_column(split, justify="right")
    distance = {(row["feature"], row["split"]): row["distance"] for row in report.distances}
    for feature in report.features:
        cells = []
        for split in splits:
            value = distance.get((feature["feature"], split))
            cells.append(Text(_number(value), style="yellow" if value is not None and value > LARGE_DISTANCE else ""))
        name = feature["feature"] + (" (label)" if feature["role"] == "label" else "")
        table.add_row(name, feature["type"], feature["statistic"], *cells)
    return table


def _shown(value: Any) -> str:
    return "NULL" if value is None else str(value)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"
