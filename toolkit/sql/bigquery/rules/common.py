"""Building blocks the rules share: DuckDB calls, BigQuery's runtime errors, and dispatch on an argument's type.

Types are not known when rules run, so a rule that depends on one either reads it from the tree (a literal, a
CAST) or lets DuckDB choose: `typeof(x)` is constant for a column, so DuckDB folds a CASE over it when it binds.
Every branch of such a CASE must bind for every type, so branches re-read `x` from its text (`CAST(x AS VARCHAR)`
binds for any type and parses back exactly)."""

from __future__ import annotations

from sqlglot import exp

from toolkit.sql.ml_nodes import MLPreprocess

DOUBLE = exp.DataType.build("DOUBLE")
BIGINT = exp.DataType.build("BIGINT")
VARCHAR = exp.DataType.build("VARCHAR")
TIMESTAMP = exp.DataType.build("TIMESTAMP")
TIMESTAMPTZ = exp.DataType.build("TIMESTAMPTZ")
DATE = exp.DataType.build("DATE")
BLOB = exp.DataType.build("BLOB")

_FLOATS = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}
_INTEGERS = set(exp.DataType.INTEGER_TYPES)


def call(name: str, *args: exp.Expression) -> exp.Anonymous:
    """A DuckDB function call by name."""
    return exp.Anonymous(this=name, expressions=list(args))


def macro(name: str, argument: exp.Expression) -> exp.Anonymous:
    """A call of one of the toolkit's BigQuery macros (toolkit.sql.bigquery.macros), registered on every warehouse
    connection: a dispatch on the argument's type that DuckDB binds per call, written once instead of around every
    argument."""
    return call(name, argument)


def number(value: int) -> exp.Literal:
    return exp.Literal.number(value)


def string(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def cast(node: exp.Expression, to: exp.DataType) -> exp.Cast:
    return exp.Cast(this=node, to=to.copy())


def as_type(node: exp.Expression, to: exp.DataType) -> exp.Expression:
    """node as `to`: a copy of it when the tree says it is one already, else CAST(node AS to)."""
    if static_type(node) == type_name(to):
        return node.copy()
    return cast(node.copy(), to)


def reread(node: exp.Expression, to: exp.DataType) -> exp.Expression:
    """node as `to`, read from its text when the tree does not say it is one (a branch of a dispatch on type)."""
    if static_type(node) == type_name(to):
        return node.copy()
    return cast(text_of(node), to)


def fail(message: str) -> exp.Anonymous:
    """BigQuery's runtime error: DuckDB's error(message), which the SAFE. prefix turns into NULL."""
    return call("error", string(message))


def is_fail(node: exp.Expression) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this) == "error"


def case(*branches: tuple[exp.Expression, exp.Expression], default: exp.Expression | None = None) -> exp.Case:
    return exp.Case(ifs=[exp.If(this=when, true=then) for when, then in branches], default=default)


def typeof_is(node: exp.Expression, *names: str) -> exp.Expression:
    """typeof(node) IN (names), or starts_with(typeof(node), 'DECIMAL') for the name 'DECIMAL'."""
    kind = call("typeof", node.copy())
    tests: list[exp.Expression] = []
    for name in names:
        if name == "DECIMAL":
            tests.append(call("starts_with", kind.copy(), string("DECIMAL")))
        else:
            tests.append(exp.EQ(this=kind.copy(), expression=string(name)))
    result = tests[0]
    for test in tests[1:]:
        result = exp.Or(this=result, expression=test)
    return exp.paren(result, copy=False)


def text_of(node: exp.Expression) -> exp.Cast:
    """CAST(node AS VARCHAR): binds for every type; DuckDB's text parses back to the same value."""
    return cast(node.copy(), VARCHAR)


def static_type(node: exp.Expression) -> str | None:
    """The DuckDB type a node certainly has, read from the tree: 'DOUBLE', 'BIGINT', 'VARCHAR', 'BOOLEAN', 'BLOB',
    'DECIMAL', 'DATE', 'TIMESTAMP', 'TIMESTAMPTZ', … or None when only DuckDB knows."""
    if isinstance(node, (exp.Paren, exp.Neg)):
        return static_type(node.this)
    if isinstance(node, exp.Div):
        return "DOUBLE"
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        kinds = {static_type(node.this), static_type(node.expression)}
        return "DOUBLE" if "DOUBLE" in kinds else "BIGINT" if kinds == {"BIGINT"} else None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "VARCHAR"
        return "DOUBLE" if is_float_text(node.this) else "BIGINT"
    if isinstance(node, (exp.Boolean, exp.Predicate, exp.Connector, exp.Not)):  # TRUE, a = b, x IS NULL, p AND q
        return "BOOLEAN"
    if isinstance(node, exp.ByteString):
        return "BLOB"
    if isinstance(node, (exp.Cast, exp.TryCast)) and isinstance(node.to, exp.DataType):
        return type_name(node.to)
    if isinstance(node, exp.Window) and isinstance(node.this, MLPreprocess):
        return static_type(node.this)
    if isinstance(node, MLPreprocess):
        return PREPROCESSING_TYPES.get(node.name.upper())
    return None


# What BigQuery ML's preprocessing functions return, where it does not depend on the argument
# (https://cloud.google.com/bigquery/docs/reference/standard-sql/bigqueryml-preprocessing-functions).
PREPROCESSING_TYPES = {
    "BUCKETIZE": "VARCHAR", "QUANTILE_BUCKETIZE": "VARCHAR", "HASH_BUCKETIZE": "BIGINT", "LABEL_ENCODER": "BIGINT",
    "STANDARD_SCALER": "DOUBLE", "MIN_MAX_SCALER": "DOUBLE", "MAX_ABS_SCALER": "DOUBLE", "ROBUST_SCALER": "DOUBLE",
}


def type_name(type_: exp.DataType) -> str:
    kind = type_.this
    if kind in _FLOATS:
        return "DOUBLE"
    if kind in _INTEGERS:
        return "BIGINT"
    if kind in (exp.DataType.Type.DECIMAL, exp.DataType.Type.BIGDECIMAL):
        return "DECIMAL"
    if kind in exp.DataType.TEXT_TYPES:
        return "VARCHAR"
    if kind in (exp.DataType.Type.VARBINARY, exp.DataType.Type.BINARY, exp.DataType.Type.BLOB):
        return "BLOB"
    return kind.value


def is_float_text(text: str) -> bool:
    return any(mark in text for mark in ".eE")


def literal_int(node: exp.Expression) -> int | None:
    """The value of an integer literal (or its negation), else None."""
    if isinstance(node, exp.Neg):
        value = literal_int(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Paren):
        return literal_int(node.this)
    if isinstance(node, exp.Literal) and not node.is_string and not is_float_text(node.this):
        return int(node.this)
    return None
