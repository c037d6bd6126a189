"""CREATE MODEL … TRANSFORM(…): fitted once on the training split, saved with the model, re-applied in DuckDB to
every input an ML.* function reads, so training and serving compute the features with the same SQL.

- Fitting (`fit`): the raw training query's rows are registered in DuckDB with the role the split gave each row;
  `toolkit.sql.preprocessing.fit_transform_sql` computes the statistics of the analytic ML functions
  (ML.STANDARD_SCALER(x) OVER (), …) on the TRAINING rows only and inlines them, giving one DuckDB expression over
  the raw columns per TRANSFORM output. That projection is applied to all rows (training, eval and test) in DuckDB;
  the role column travels with the rows, so no row order is assumed.
- The label, DATA_SPLIT_COL and KMEANS_INIT_COL pass through TRANSFORM unchanged (`passthrough`); they are never
  features. Every other output is a feature.
- Serving: the functions' input query is wrapped as
  `SELECT __input.*, <expr> AS "__transform__<name>", … FROM (<input>) AS __input` (`select_sql`), so the model
  reads the `__transform__` columns while the raw columns pass through (ML.PREDICT returns the raw input columns).
- What the automatic preprocessing sees (`model_features`): the feature outputs, with STRUCT outputs
  (ML.FEATURE_CROSS, ML.POLYNOMIAL_EXPAND) flattened into one column per field, named `<output>_<field>`
  (recursively for nested structs); ARRAY<STRUCT<index, value>> (ML.ONE_HOT_ENCODER) stays one sparse column
  (toolkit.ml.features.preprocess: one design column per index seen in training, holding `value`); ARRAY<STRING>
  (ML.NGRAMS) is multi-hot. The same function flattens the training rows and every served batch."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from sqlglot import exp

from toolkit.errors import ModelError
from toolkit.ml.types.splits import TRAIN
from toolkit.sql.dialect import DIALECT
from toolkit.sql.quoting import column_ref, identifier, render, table_ref, verbatim
from toolkit.warehouse.connection import one_thread

PREFIX = "__transform__"  # the TRANSFORM outputs beside the raw input columns, as the ML.* functions read them
ROLE_COLUMN = "__toolkit_role"
INPUT_ALIAS = "__input"
_names = itertools.count(1)


@dataclass(frozen=True)
class FittedTransform:
    """A TRANSFORM clause with its statistics fitted: (output name, DuckDB SQL over the raw columns) per output."""

    columns: tuple[tuple[str, str], ...]
    inputs: tuple[str, ...]  # the raw columns the features read: what an input must have at prediction
    passthrough: tuple[str, ...] = ()  # outputs passed through unchanged, never features (label, split, init)
    types: tuple[str, ...] = ()  # each output's DuckDB type at training
    input_types: tuple[str, ...] = ()  # each input's DuckDB type at training (empty for models trained before)

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def features(self) -> list[str]:
        """The outputs the model learns from: all but the passed-through label, split and init columns."""
        through = {p.lower() for p in self.passthrough}
        return [name for name in self.names if name.lower() not in through]

    def select_sql(self, source_sql: str, prefix: str = "", *, keep_input: bool = False,
                   features_only: bool = False, carry: Sequence[str] = ()) -> str:
        """`SELECT <expr> AS "<prefix><name>", … FROM (<source_sql>) AS __input`: with `keep_input` the raw columns
        (`__input.*`) come first, then the raw columns named in `carry`; with `features_only` the passed-through
        outputs are left out."""
        wanted = set(self.features) if features_only else set(self.names)
        alias = exp.to_identifier(INPUT_ALIAS)
        every = exp.Column(this=exp.Star(), table=alias.copy())
        items: list[exp.Expression] = [every.copy()] if keep_input else []
        items += [exp.column(identifier(c), table=alias.copy()) for c in carry]
        items += [exp.alias_(verbatim(sql), identifier(prefix + name)) for name, sql in self.columns if name in wanted]
        source = exp.Subquery(this=verbatim(f"{source_sql}\n"), alias=exp.TableAlias(this=alias.copy()))
        return render(exp.select(*(items or [every])).from_(source))

    def missing_inputs(self, names: Iterable[str]) -> list[str]:
        """The raw columns the features read that are not among `names` (compared ignoring case)."""
        have = {n.lower() for n in names}
        return [c for c in self.inputs if c.lower() not in have]

    def mistyped_inputs(self, types: Mapping[str, str]) -> list[tuple[str, str, str]]:
        """(column, its type in `types`, its type at training) for each raw input whose type is of another kind
        than at training — text where a number was, say, which DuckDB would fail to cast row by row."""
        given = {name.lower(): kind for name, kind in types.items()}
        return [(name, given[name.lower()], trained) for name, trained in zip(self.inputs, self.input_types)
                if name.lower() in given and _type_family(given[name.lower()]) != _type_family(trained)]

    def inputs_read(self, column: str) -> list[str]:
        """The raw inputs (of `inputs`, in their order) read by the feature output a preprocessed `column` comes
        from: the output of that name, or the STRUCT output it was flattened from (`<output>_<field>`)."""
        by_lower = {name.lower(): sql for name, sql in self.columns if name in self.features}
        key = column.lower()
        while key not in by_lower and "_" in key:
            key = key.rsplit("_", 1)[0]
        if key not in by_lower:
            return []
        try:
            read = {c.parts[0].name.lower() for c in sqlglot.parse_one(by_lower[key], read=DIALECT).find_all(exp.Column)}
        except sqlglot.errors.SqlglotError:
            return list(self.inputs)
        return [c for c in self.inputs if c.lower() in read]

    def to_dict(self) -> dict:
        return {"columns": [list(c) for c in self.columns], "inputs": list(self.inputs),
                "passthrough": list(self.passthrough), "types": list(self.types),
                "input_types": list(self.input_types)}

    @classmethod
    def from_dict(cls, data: dict) -> FittedTransform:
        return cls(tuple((name, sql) for name, sql in data["columns"]), tuple(data["inputs"]),
                   tuple(data.get("passthrough", ())), tuple(data.get("types", ())),
                   tuple(data.get("input_types", ())))


_FAMILIES = {"VARCHAR": "text", "BLOB": "bytes", "BOOLEAN": "boolean", "DATE": "time", "TIME": "time",
             "TIMESTAMP": "time", "INTERVAL": "interval", "UUID": "text"}


def _type_family(duck_type: str) -> str:
    """The kind of a DuckDB type that casts between its members without failing: numbers, text, times, …"""
    if duck_type.endswith("]") or duck_type.startswith(("STRUCT", "MAP", "UNION")):
        return duck_type  # nested types must match exactly
    head = duck_type.split("(")[0].split(" ")[0]
    return _FAMILIES.get(head, "number" if head not in ("NULL", '"NULL"') else "null")


def fit(con: duckdb.DuckDBPyConnection, raw: pa.Table, roles: np.ndarray, transform: Sequence[str], *, model: str,
        label: str | None, passthrough: Sequence[str] = ()) -> tuple[FittedTransform, pa.Table, np.ndarray]:
    """Fit `transform` on the training rows of `raw` (role TRAIN = 0) and apply it to every row, in DuckDB.

    The transformed table holds TRANSFORM's outputs in order, then the label and `passthrough` columns that are
    not outputs (carried from the raw rows, e.g. the split column); the roles are returned in its row order."""
    from toolkit.sql.preprocessing import expand_stars, fit_transform_sql, transform_inputs

    transform = expand_stars(transform, raw.column_names, where=f"CREATE MODEL {model}")
    through = [c for c in (label, *passthrough) if c is not None]
    name = f"__toolkit_transform_{next(_names)}"
    con.register(name, raw.append_column(ROLE_COLUMN, pa.array(np.asarray(roles, np.int8))))
    try:
        rows = exp.select(exp.Star(except_=[column_ref(ROLE_COLUMN)])).from_(table_ref(name))
        training = render(exp.Subquery(this=rows.where(column_ref(ROLE_COLUMN).eq(TRAIN))))
        with one_thread(con):  # statistics (averages, deviations, quantiles) bit for bit the same on every build
            columns = tuple((str(n), str(sql)) for n, sql in fit_transform_sql(
                con, training, list(transform), model=model, label=label, passthrough=list(passthrough)))
        outputs = {n.lower(): sql for n, sql in columns}
        _check_passthrough(model, label, passthrough, outputs)
        fitted = FittedTransform(columns, (), tuple(n for n, _ in columns if n.lower() in {t.lower() for t in through}))
        carried = [c for c in through if c.lower() not in outputs]
        everything = render(exp.select("*").from_(table_ref(name)))
        raw_relation = con.sql(everything)
        raw_types = {name.lower(): str(kind) for name, kind in zip(raw_relation.columns, raw_relation.types)}
        relation = con.sql(fitted.select_sql(everything, carry=[*carried, ROLE_COLUMN]))
        types = dict(zip(relation.columns, (str(t) for t in relation.types)))
        table = relation.to_arrow_table()
    except duckdb.Error as error:
        raise ModelError(f"TRANSFORM(…) failed in DuckDB: {error}",
                         hint="check TRANSFORM's expressions against the columns of the query after AS",
                         model=model) from None
    finally:
        con.unregister(name)
    roles_out = np.asarray(table.column(ROLE_COLUMN).to_numpy(), np.int8)
    table = table.select([*fitted.names, *carried])
    inputs = _feature_inputs(list(transform_inputs(list(transform))), fitted, through)
    fitted = FittedTransform(columns, tuple(inputs), fitted.passthrough, tuple(types[n] for n in fitted.names),
                             tuple(raw_types.get(c.lower(), "") for c in inputs))
    return fitted, table, roles_out


def _check_passthrough(model: str, label: str | None, passthrough: Sequence[str], outputs: dict[str, str]) -> None:
    """The label must be an output, and it and the split / init columns (when output) the bare raw column."""
    if label is not None and label.lower() not in outputs:
        raise ModelError(f"TRANSFORM(…) does not output the label column '{label}'",
                         hint=f"list {label} in TRANSFORM(…) unchanged (not renamed, not computed): the label "
                              "passes through TRANSFORM", model=model)
    for column in (label, *passthrough):
        if column is None or column.lower() not in outputs:
            continue
        if _bare_column(outputs[column.lower()]) != column.lower():
            role = "label" if column == label else "column"
            raise ModelError(f"TRANSFORM(…) changes the {role} '{column}'; it must pass through "
                             "unchanged", hint=f"write {column} alone in TRANSFORM(…), and compute a new feature "
                                               "under another name", model=model)


def _bare_column(sql: str) -> str | None:
    """The column name when `sql` is just a column reference (lower case), else None."""
    try:
        node = sqlglot.parse_one(sql, read=DIALECT)
    except sqlglot.errors.SqlglotError:
        return None
    while isinstance(node, (exp.Paren, exp.Alias)):
        node = node.this
    if isinstance(node, exp.Column) and (not node.table or node.table == INPUT_ALIAS):
        return node.name.lower()
    return None


def _feature_inputs(all_inputs: list[str], fitted: FittedTransform, through: list[str]) -> list[str]:
    """TRANSFORM's raw inputs, less the passed-through columns that no feature expression reads."""
    through_lower = {t.lower() for t in through}
    read = set()
    for name, sql in fitted.columns:
        if name not in fitted.features:
            continue
        try:
            read |= {c.parts[0].name.lower() for c in sqlglot.parse_one(sql, read=DIALECT).find_all(exp.Column)}
        except sqlglot.errors.SqlglotError:
            read |= through_lower
    return [c for c in all_inputs if c.lower() not in through_lower or c.lower() in read]


# --- what the model reads ---------------------------------------------------------------------------------------------
def has_prefixed(names: Iterable[str]) -> bool:
    return any(n.startswith(PREFIX) for n in names)


def raw_columns(schema_or_batch: pa.Schema | pa.RecordBatch | pa.Table) -> list[int]:
    """Positions of the raw input columns (not the `__transform__` ones)."""
    names = schema_or_batch.names if isinstance(schema_or_batch, pa.Schema) else schema_or_batch.schema.names
    return [i for i, n in enumerate(names) if not n.startswith(PREFIX)]


def without_prefixed(data: pa.RecordBatch | pa.Schema) -> pa.RecordBatch | pa.Schema:
    """The raw input columns only: what the ML.* functions pass through."""
    if isinstance(data, pa.Schema):
        return pa.schema([data.field(i) for i in raw_columns(data)])
    if not has_prefixed(data.schema.names):
        return data
    keep = raw_columns(data)
    return pa.RecordBatch.from_arrays([data.column(i) for i in keep], schema=pa.schema([data.schema.field(i)
                                                                                          for i in keep]))


def outputs_of(fitted: FittedTransform, table: pa.Table, model: str) -> pa.Table:
    """The feature outputs of TRANSFORM for the rows of `table`: its `__transform__` columns when it has them
    (as the ML.* functions stream them), else computed from its raw columns in an in-memory DuckDB."""
    if not has_prefixed(table.column_names):
        table = apply_in_memory(fitted, table, model)
    by_name = {n: i for i, n in enumerate(table.column_names)}
    missing = [n for n in fitted.features if PREFIX + n not in by_name]
    if missing:
        raise ModelError(f"the TRANSFORM output(s) {', '.join(missing)} are missing from the input",
                         hint="let ML.* apply the model's TRANSFORM to the raw input columns", model=model)
    return pa.table([table.column(by_name[PREFIX + n]) for n in fitted.features], names=fitted.features)


def apply_in_memory(fitted: FittedTransform, table: pa.Table, model: str) -> pa.Table:
    """`table` (raw columns) with the feature outputs beside it as `__transform__` columns, computed by DuckDB."""
    from toolkit.warehouse.functions import register_functions

    missing = fitted.missing_inputs(table.column_names)
    if missing:
        raise missing_error(model, missing, fitted)
    con = duckdb.connect()
    try:
        register_functions(con)
        con.register("__toolkit_raw", table)
        return con.sql(fitted.select_sql("SELECT * FROM __toolkit_raw", PREFIX, keep_input=True,
                                         features_only=True)).to_arrow_table()
    except duckdb.Error as error:
        raise ModelError(f"applying its TRANSFORM failed in DuckDB: {error}",
                         hint="check the input columns' types against the training query's", model=model) from None
    finally:
        con.close()


def missing_error(model: str, missing: Sequence[str], fitted: FittedTransform, where: str | None = None) -> ModelError:
    return ModelError(f"{where or f'model {model}'}: the input has no column(s) {', '.join(missing)}, which the "
                      f"model's TRANSFORM reads (it reads {', '.join(fitted.inputs)})",
                      hint="select the raw columns the training query returned; TRANSFORM is applied to them")


def model_features(table: pa.Table, model: str, reserved: Iterable[str] = ()) -> pa.Table:
    """The columns the automatic preprocessing sees: STRUCT columns flattened into `<column>_<field>` (nested
    structs recursively); everything else as it is. A flattened name may not repeat a column (or `reserved`)."""
    if not any(pa.types.is_struct(t) for t in table.schema.types):
        return table
    names: list[str] = []
    arrays: list[pa.ChunkedArray] = []
    for name, column in zip(table.column_names, table.columns):
        for flat_name, flat in _flatten(name, column):
            names.append(flat_name)
            arrays.append(flat)
    taken = [n.lower() for n in names] + [r.lower() for r in reserved]
    clash = sorted({n for n in names if taken.count(n.lower()) > 1})
    if clash:
        raise ModelError(f"TRANSFORM's STRUCT outputs are flattened into columns named "
                         f"<output>_<field>, and '{clash[0]}' is taken twice",
                         hint="rename the TRANSFORM output or the struct field that clashes", model=model)
    return pa.table(arrays, names=names)


def _flatten(name: str, column: pa.ChunkedArray) -> list[tuple[str, pa.ChunkedArray]]:
    if not pa.types.is_struct(column.type):
        return [(name, column)]
    out = []
    struct_type = column.type
    fields = [chunk.flatten() for chunk in column.chunks]  # a NULL struct makes each of its fields NULL
    for i in range(struct_type.num_fields):
        field = struct_type.field(i)
        out += _flatten(f"{name}_{field.name}", pa.chunked_array([f[i] for f in fields], type=field.type))
    return out
