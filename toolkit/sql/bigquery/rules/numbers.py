"""Numbers: FLOAT64 literals, INT64 arithmetic, division, rounding and the domain errors of BigQuery's
mathematical functions (https://cloud.google.com/bigquery/docs/reference/standard-sql/mathematical_functions,
https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#floating_point_literals)."""

from __future__ import annotations

from sqlglot import exp

from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.rules.common import (
    BIGINT,
    DOUBLE,
    case,
    cast,
    fail,
    is_fail,
    is_float_text,
    literal_int,
    number,
    static_type,
)

_INT32 = 2**31 - 1
# where a number is syntax, not a value
_SYNTAX_PARENTS = (exp.DataType, exp.DataTypeParam, exp.TableSample, exp.Interval, exp.Limit, exp.Offset, exp.Bracket)


def float_literal(node: exp.Literal) -> exp.Expression:
    """`1.5` is FLOAT64 on BigQuery, DECIMAL(2,1) in DuckDB: so 0.1 + 0.2 is 0.30000000000000004, not 0.3.
    CAST(literal AS DOUBLE) is what toolkit.sql.literals.constant reads as a float, so OPTIONS stay readable."""
    if node.is_string or not is_float_text(node.this) or isinstance(node.parent, _SYNTAX_PARENTS):
        return node
    if isinstance(node.parent, exp.Cast) and node.parent.to.is_type(*exp.DataType.REAL_TYPES):
        return node
    return cast(node, DOUBLE)


def int64_operands(node: exp.Binary) -> exp.Expression:
    """An integer literal is INT64 on BigQuery, INTEGER (32 bits) in DuckDB: 100000 * 100000 overflows there.
    Only beside another number (DuckDB has no DATE + BIGINT)."""
    for key, other in (("this", "expression"), ("expression", "this")):
        operand = node.args.get(key)
        value = literal_int(operand) if operand is not None else None
        if value is not None and abs(value) <= _INT32 and _is_number(node.args.get(other)):
            node.set(key, cast(operand, BIGINT))
    return node


def _is_number(node: exp.Expression | None) -> bool:
    if isinstance(node, (exp.Paren, exp.Neg)):
        return _is_number(node.this)
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        return _is_number(node.this) or _is_number(node.expression)
    return node is not None and static_type(node) in ("BIGINT", "DOUBLE", "DECIMAL")


def divide(node: exp.Div) -> exp.Expression:
    """x / y: an error on BigQuery when y is 0 (FLOAT64 too), ±inf or NaN in DuckDB. SAFE_DIVIDE gives NULL."""
    divisor = node.expression
    value = literal_int(divisor)
    if value is not None and value != 0:
        return node
    guarded = case((exp.EQ(this=divisor.copy(), expression=number(0)), fail("division by zero")), default=divisor)
    node.set("expression", guarded)
    return node


def ieee_divide(node: exp.Anonymous) -> exp.Expression:
    """IEEE_DIVIDE(x, y): x / y in FLOAT64 that never fails (inf, -inf, NaN): DuckDB's DOUBLE division."""
    x, y = node.expressions
    return exp.paren(exp.Div(this=cast(x, DOUBLE), expression=cast(y, DOUBLE)), copy=False)


def round_(node: exp.Round) -> exp.Expression:
    """ROUND(x[, n[, mode]]): half away from zero, as DuckDB's round; ROUND_HALF_EVEN is DuckDB's round_even."""
    mode = node.args.get("truncate")
    if mode is None:
        return node
    name = mode.name.upper() if isinstance(mode, exp.Literal) else ""
    if name == "ROUND_HALF_AWAY_FROM_ZERO":
        node.set("truncate", None)
        return node
    if name == "ROUND_HALF_EVEN":
        decimals = node.args.get("decimals") or number(0)
        return exp.Anonymous(this="round_even", expressions=[node.this, decimals])
    raise Untranslatable("ROUND() takes the rounding mode 'ROUND_HALF_AWAY_FROM_ZERO' or 'ROUND_HALF_EVEN' as a "
                         "literal", node, hint="write ROUND(x, digits, 'ROUND_HALF_EVEN')")


def _guard(node: exp.Expression, bad: exp.Expression, name: str) -> exp.Expression:
    """node, or BigQuery's error where `bad` holds (DuckDB returns NaN or -inf there instead)."""
    return case((bad, fail(f"{name}: argument out of range")), default=node)


def _le_zero(x: exp.Expression) -> exp.Expression:
    return exp.LTE(this=x.copy(), expression=number(0))


def ln(node: exp.Ln) -> exp.Expression:
    """LN(x), LOG(x): an error for x <= 0 on BigQuery."""
    return _guard(node, _le_zero(node.this), "LN")


def log10(node: exp.Log) -> exp.Expression:
    return _guard(node, _le_zero(node.this), "LOG10")


def log(node: exp.Log) -> exp.Expression:
    """LOG(x, base), read by sqlglot as Log(base, x): an error for x <= 0, base <= 0 or base = 1."""
    if node.expression is None:
        return _guard(node, _le_zero(node.this), "LOG")
    base, x = node.this, node.expression
    bad = exp.or_(_le_zero(x), _le_zero(base), exp.EQ(this=base.copy(), expression=number(1)))
    return _guard(node, exp.paren(bad), "LOG")


def sqrt(node: exp.Sqrt) -> exp.Expression:
    return _guard(node, exp.LT(this=node.this.copy(), expression=number(0)), "SQRT")


def safe(node: exp.SafeFunc) -> exp.Expression:
    """SAFE.f(…): NULL where f raises an error. The rules' own errors become NULL; DuckDB's (a failed cast, an
    overflow) are caught by TRY, which DuckDB refuses around a volatile function such as RAND()."""
    inner = node.this.transform(lambda item: exp.Null() if is_fail(item) else item)
    return exp.Try(this=inner)


RULES = {
    exp.Literal: float_literal,
    exp.Add: int64_operands,
    exp.Sub: int64_operands,
    exp.Mul: int64_operands,
    exp.Div: divide,
    exp.Round: round_,
    exp.Ln: ln,
    exp.Log: log,
    exp.Sqrt: sqrt,
    exp.SafeFunc: safe,
}

ANONYMOUS = {"IEEE_DIVIDE": ieee_divide}
