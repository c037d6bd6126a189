"""CompiledPrediction: a model's ML.PREDICT as DuckDB SQL (or why it has none), checked against scikit-learn.

`compile_prediction` runs at the end of every training: it compiles the model, refuses SQL over the size limit,
and runs the SQL and the Python path on a sample of the eval rows (the training rows without an eval split); any
difference beyond 1e-9 relative (1e-12 absolute near zero), or any other label or centroid id, keeps the model on
the Python path, with the reason recorded and reported by the build."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from functools import cached_property

import duckdb
import pyarrow as pa
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from toolkit.errors import ConfigError
from toolkit.ml.compile.parity import compare
from toolkit.ml.compile.query import INPUT_PLACEHOLDER, THRESHOLD_PLACEHOLDER, prediction_query
from toolkit.ml.compile.sql import NotCompilable, TooLarge, check_size, number, size
from toolkit.ml.inference.trees import node_count
from toolkit.ml.model import TrainedModel
from toolkit.ml.types.tasks import DEFAULT_THRESHOLD
from toolkit.sql.dialect import DIALECT, Toolkit
from toolkit.sql.quoting import parse, render, verbatim
from toolkit.warehouse.farmhash_sql import MACRO_NAME

MAX_SQL_BYTES = 8 * 2**20  # a model whose SQL would be larger predicts in Python
# DuckDB evaluates a nested CASE node by node for every vector of 2,048 rows, while scikit-learn walks each row down
# its trees in compiled code: beyond this many tree nodes ML.PREDICT is faster in scikit-learn, round trip included
# (benchmarks/bench_inference.py), so it keeps the Python path; the SQL still serves the table macro and export.
MAX_TREE_NODES_IN_PREDICT = 1_500
PARITY_ROWS = 2_000
COMPILED, PYTHON, FALLBACK = "compiled", "python", "fallback"
FINGERPRINT_MACRO = MACRO_NAME  # the pure-SQL FARM_FINGERPRINT stored in the warehouse


@dataclass(frozen=True)
class CompiledPrediction:
    status: str  # COMPILED; PYTHON: the compiler does not cover the model; FALLBACK: compiled, but not used
    reason: str | None = None  # why the model predicts in Python
    sql: str | None = None  # the DuckDB template (placeholders for the input and the threshold); None unless COMPILED
    sql_bytes: int = 0
    parity_rows: int = 0  # eval rows the SQL was checked on
    max_relative_error: float | None = None
    tree_nodes: int = 0  # the nodes of all its trees
    macro_sql: str | None = field(default=None, compare=False)  # the table macro's body (not stored)
    # whether the SQL reads the threshold placeholder, found on the tree it was rendered from (not stored: parsing
    # the SQL back tells the same, in seconds for large tree ensembles)
    threshold_placeholder: bool | None = field(default=None, compare=False)

    @property
    def compiled(self) -> bool:
        return self.status == COMPILED and self.sql is not None

    @property
    def used_by_predict(self) -> bool:
        """Whether ML.PREDICT runs the SQL (else the Python path: not compiled, or trees faster in scikit-learn)."""
        return self.compiled and self.tree_nodes <= MAX_TREE_NODES_IN_PREDICT

    @property
    def takes_threshold(self) -> bool:
        """Whether the prediction depends on a threshold (binary classifiers)."""
        if self.sql is None:
            return False
        if self.threshold_placeholder is not None:
            return self.threshold_placeholder
        return _reads_threshold(self.template)

    @cached_property
    def template(self) -> exp.Expression:
        """The prediction query as a tree, with its input and threshold placeholders (read once per model)."""
        return parse(self.sql)

    def query_for(self, input_sql: str, threshold: float | None = None) -> exp.Expression:
        """The prediction query over `input_sql` (any query, kept as written)."""
        threshold = number(DEFAULT_THRESHOLD if threshold is None else threshold)
        return _filled(self.template, exp.Subquery(this=verbatim(input_sql)), threshold)

    def sql_for(self, input_sql: str, threshold: float | None = None) -> str:
        return render(self.query_for(input_sql, threshold))

    @property
    def path(self) -> str:
        """How ML.PREDICT runs the model, for `toolkit models`."""
        if self.used_by_predict:
            return "SQL"
        if self.compiled:
            return f"Python, faster on {self.tree_nodes:,} tree nodes (the macro runs the SQL)"
        return f"Python: {self.reason}"

    def summary(self) -> str:
        """One line for the build's output."""
        if self.compiled:
            checked = f", checked on {self.parity_rows:,} rows" if self.parity_rows else ""
            slower = "" if self.used_by_predict else (
                f"; ML.PREDICT runs scikit-learn, faster on {self.tree_nodes:,} tree nodes")
            return f"SQL {size(self.sql_bytes)}{checked}{slower}"
        return f"predicts in Python: {self.reason}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("macro_sql")
        data.pop("threshold_placeholder")
        return data

    @classmethod
    def from_dict(cls, data: dict) -> CompiledPrediction:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def compile_sql(trained: TrainedModel, *, dialect: str, input_table: str, threshold: float | None = None,
                limit: int = MAX_SQL_BYTES) -> str:
    """The model's prediction query over `input_table` in another SQL dialect, keeping the input columns the model
    reads (raises NotCompilable, or sqlglot's UnsupportedError for what the dialect cannot express)."""
    if threshold is not None and not math.isfinite(threshold):  # else NotCompilable blames the fitted model
        raise ConfigError(f"model {trained.name}: threshold = {threshold} is not a finite number",
                          hint="give a threshold between 0 and 1, e.g. 0.5")
    query = prediction_query(trained, limit=limit, passthrough=trained.input_columns)
    threshold = number(DEFAULT_THRESHOLD if threshold is None else threshold)
    query = _filled(query, exp.to_table(input_table, dialect=dialect), threshold)
    sql = query.sql(dialect=dialect, pretty=True, unsupported_level=ErrorLevel.RAISE)
    check_size(len(sql), limit)
    return sql


def compile_prediction(con: duckdb.DuckDBPyConnection, trained: TrainedModel, sample: pa.Table | None, *,
                       limit: int = MAX_SQL_BYTES) -> CompiledPrediction:
    """Compile `trained` and check the SQL against the Python path on `sample` (raw input rows)."""
    try:
        query = prediction_query(trained, limit=limit)
        sql = query.sql(dialect=DIALECT, copy=False)
        check_size(len(sql), limit)
    except TooLarge as reason:  # compilable, but too large: the build warns
        return CompiledPrediction(FALLBACK, str(reason))
    except NotCompilable as reason:
        return CompiledPrediction(PYTHON, str(reason))
    nodes = node_count(trained.estimator)
    compiled = CompiledPrediction(COMPILED, sql=sql, sql_bytes=len(sql), tree_nodes=nodes,
                                  macro_sql=_macro_body(query), threshold_placeholder=_reads_threshold(query))
    if sample is None or sample.num_rows == 0:
        return compiled

    def sql_for(input_sql: str) -> str:  # what `compiled.sql_for` gives, without parsing `sql` back
        return _rendered(query, exp.Subquery(this=verbatim(input_sql)), number(DEFAULT_THRESHOLD), DIALECT)

    try:
        mismatch, max_error = compare(con, trained, sql_for, sample)
    except duckdb.Error as error:
        return CompiledPrediction(FALLBACK, f"its SQL failed in DuckDB: {error}", sql_bytes=len(sql))
    if mismatch:
        return CompiledPrediction(FALLBACK, f"its SQL differs from scikit-learn: {mismatch}", sql_bytes=len(sql),
                                  parity_rows=sample.num_rows, max_relative_error=max_error)
    return CompiledPrediction(COMPILED, sql=sql, sql_bytes=len(sql), parity_rows=sample.num_rows,
                              max_relative_error=max_error, tree_nodes=nodes, macro_sql=compiled.macro_sql,
                              threshold_placeholder=compiled.threshold_placeholder)


class _QueryTable(exp.Expression, exp.Func):
    """DuckDB's `query_table(name)`: the table a table macro's parameter names."""


class _MacroDialect(Toolkit):
    """The toolkit's DuckDB, writing FARM_FINGERPRINT as the pure-SQL macro stored in the warehouse."""

    class Generator(Toolkit.Generator):
        TRANSFORMS = {**Toolkit.Generator.TRANSFORMS,
                      exp.FarmFingerprint: lambda self, e: self.func(FINGERPRINT_MACRO, *e.expressions),
                      _QueryTable: lambda self, e: f"query_table({self.sql(e, 'this')})"}


def _reads_threshold(query: exp.Expression) -> bool:
    return any(column.name == THRESHOLD_PLACEHOLDER and not column.table for column in query.find_all(exp.Column))


def _filled(query: exp.Expression, table: exp.Expression, threshold: exp.Expression) -> exp.Expression:
    """`query` with its input placeholder replaced by `table` (keeping the placeholder's alias) and its threshold
    placeholder by `threshold`."""

    def fill(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name == INPUT_PLACEHOLDER:
            return exp.alias_(table.copy(), node.alias, table=True, quoted=True) if node.alias else table.copy()
        if isinstance(node, exp.Column) and node.name == THRESHOLD_PLACEHOLDER and not node.table:
            return threshold.copy()
        return node

    return query.transform(fill)


def _rendered(query: exp.Expression, table: exp.Expression, threshold: exp.Expression, dialect) -> str:
    """`_filled(query, table, threshold)` rendered in `dialect`, without copying the tree: the placeholders are
    swapped for their values while it renders and put back after (a large model's tree — a lookup of thousands of
    categories — takes seconds to deep-copy)."""
    swapped = []
    for node in list(query.find_all(exp.Table, exp.Column)):
        if isinstance(node, exp.Table) and node.name == INPUT_PLACEHOLDER:
            value = exp.alias_(table.copy(), node.alias, table=True, quoted=True) if node.alias else table.copy()
        elif isinstance(node, exp.Column) and node.name == THRESHOLD_PLACEHOLDER and not node.table:
            value = threshold.copy()
        else:
            continue
        node.replace(value)
        swapped.append((node, value))
    try:
        return query.sql(dialect=dialect, copy=False)
    finally:
        for node, value in reversed(swapped):
            value.replace(node)


def _macro_body(query: exp.Select) -> str:
    """The query for the warehouse's table macro: the input is `query_table(input)`, the threshold the macro's
    parameter, and FARM_FINGERPRINT the pure-SQL one stored in the warehouse (no Python at all)."""
    table = exp.Table(this=_QueryTable(this=exp.column("input")))
    return _rendered(query, table, exp.column("threshold"), _MacroDialect)
