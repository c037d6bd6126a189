"""Arrays: APPROX_QUANTILES' boundaries, OFFSET / ORDINAL out of range, LIMIT in aggregates and GENERATE_ARRAY with
FLOAT64 steps
(https://cloud.google.com/bigquery/docs/reference/standard-sql/approximate_aggregate_functions#approx_quantiles,
https://cloud.google.com/bigquery/docs/reference/standard-sql/aggregate_functions#array_agg,
https://cloud.google.com/bigquery/docs/reference/standard-sql/array_functions)."""

from __future__ import annotations

from sqlglot import exp

from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.rules.common import BIGINT, DOUBLE, call, case, cast, fail, literal_int, number, static_type


def approx_quantiles(node: exp.ApproxQuantiles) -> exp.Expression:
    """APPROX_QUANTILES(x, n): n + 1 boundaries, the minimum to the maximum; here the exact ones, deterministic:
    the k-th is the ((count - 1) * k // n)-th smallest value (DuckDB's approx_quantile is a t-digest, which
    interpolates). NULLs are ignored, as BigQuery does by default."""
    if isinstance(node.parent, exp.RespectNulls):
        raise Untranslatable("APPROX_QUANTILES(… RESPECT NULLS) has no translation to DuckDB in the toolkit", node,
                             hint="drop RESPECT NULLS (NULLs are ignored), or count the NULLs separately")
    value, buckets = node.this, node.expression
    distinct = isinstance(value, exp.Distinct)
    if distinct:
        value, buckets = value.expressions[0], value.expressions[1]
    n = literal_int(buckets) if buckets is not None else None
    if n is None or n < 1:
        raise Untranslatable("APPROX_QUANTILES() needs a positive integer literal as its number of quantiles", node,
                             hint="write APPROX_QUANTILES(x, 100)")
    collected = exp.ArrayAgg(this=exp.Distinct(expressions=[value.copy()]) if distinct else value.copy())
    values = call("list_sort", exp.Filter(this=collected, expression=exp.Where(
        this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null())))))
    k = exp.to_identifier("k")
    position = exp.Add(this=exp.IntDiv(this=exp.Mul(this=exp.column("k"), expression=exp.paren(exp.Sub(
        this=call("len", values.copy()), expression=number(1)))), expression=number(n)), expression=number(1))
    positions = call("list_transform", call("range", number(0), number(n + 1)),
                     exp.Lambda(this=position, expressions=[k]))
    return call("list_select", values, positions)


def subscript(node: exp.Bracket) -> exp.Expression:
    """array[OFFSET(k)] / [ORDINAL(k)] out of range is an error on BigQuery, NULL with SAFE_; DuckDB gives NULL,
    and counts a negative index from the end."""
    offset = node.args.get("offset")
    if offset is None or len(node.expressions) != 1:
        return node
    array, index = node.this, node.expressions[0]
    base = int(offset)
    outside = exp.or_(exp.LT(this=index.copy(), expression=number(base)),
                      exp.GTE(this=index.copy(), expression=exp.Add(this=call("len", array.copy()),
                                                                        expression=number(base))))
    missing = exp.Null() if node.args.get("safe") else fail("array index out of bounds")
    element = call("list_extract", array, exp.Add(this=index, expression=number(1 - base)) if base != 1 else index)
    return case((exp.paren(outside), missing), default=element)


_LIMITED = (exp.ArrayAgg, exp.GroupConcat, exp.ArrayConcatAgg)
_NULLS = (exp.IgnoreNulls, exp.RespectNulls)


def aggregate_limit(node: exp.Expression) -> exp.Expression:
    """ARRAY_AGG, STRING_AGG and ARRAY_CONCAT_AGG(… LIMIT n) keep the first n inputs (after DISTINCT, IGNORE NULLS
    and ORDER BY); DuckDB's aggregates take no LIMIT: the first n elements of the list aggregated without one.
    STRING_AGG and ARRAY_CONCAT_AGG skip NULL inputs, ARRAY_AGG with IGNORE NULLS."""
    aggregate = node.this if isinstance(node, _NULLS) else node
    if not isinstance(aggregate, _LIMITED) or not isinstance(aggregate.this, exp.Limit):
        return node
    if aggregate is node and isinstance(node.parent, _NULLS):
        return node  # the rule of its IGNORE / RESPECT NULLS
    name = {exp.ArrayAgg: "ARRAY_AGG", exp.GroupConcat: "STRING_AGG", exp.ArrayConcatAgg: "ARRAY_CONCAT_AGG"}[
        type(aggregate)]
    limit = aggregate.this
    n = literal_int(limit.expression)
    if n is None or n < 0:
        raise Untranslatable(f"{name}(… LIMIT n) needs a non-negative integer literal", node,
                             hint=f"write {name}(x ORDER BY y LIMIT 10)")
    inputs = limit.this
    value = inputs.this if isinstance(inputs, exp.Order) else inputs
    value = value.expressions[0] if isinstance(value, exp.Distinct) else value
    collected: exp.Expression = exp.ArrayAgg(this=inputs)
    if not isinstance(aggregate, exp.ArrayAgg) or isinstance(node, exp.IgnoreNulls):
        collected = exp.Filter(this=collected, expression=exp.Where(
            this=exp.Not(this=exp.Is(this=value.copy(), expression=exp.Null()))))
    first = call("list_slice", collected, number(1), number(n))
    if isinstance(aggregate, exp.GroupConcat):
        return call("array_to_string", first, aggregate.args.get("separator") or exp.Literal.string(","))
    if isinstance(aggregate, exp.ArrayConcatAgg):
        return call("flatten", first)
    return first


def generate_array(node: exp.GenerateSeries) -> exp.Expression:
    """GENERATE_ARRAY(start, end, step): a step of 0 is an error; FLOAT64 bounds or steps give start + i * step
    (DuckDB's generate_series takes integers only)."""
    start, end, step = node.args["start"], node.args["end"], node.args.get("step") or number(1)
    zero = exp.EQ(this=step.copy(), expression=number(0))
    if not any(static_type(item) == "DOUBLE" for item in (start, end, step)):
        node.set("step", case((zero, fail("GENERATE_ARRAY: step cannot be 0")), default=step))
        return node
    count = exp.Add(this=cast(call("floor", exp.Div(this=exp.paren(exp.Sub(this=cast(end, DOUBLE),
                                                                         expression=start.copy())),
                                                    expression=step.copy())), BIGINT), expression=number(1))
    i = exp.to_identifier("i")
    element = exp.Add(this=cast(start, DOUBLE), expression=exp.Mul(this=exp.column("i"), expression=step.copy()))
    # one candidate past the quotient's count, then ZetaSQL's test (generate_array.h): keep start + i * step while it
    # has not passed end, so the quotient's rounding neither adds nor drops the last element
    candidates = call("list_transform", call("range", number(0), call("greatest", exp.Add(this=count, expression=number(1)),
                                                                      number(0))),
                      exp.Lambda(this=element, expressions=[i]))
    x = exp.column("x")
    within = case((exp.GT(this=step.copy(), expression=number(0)), exp.LTE(this=x.copy(), expression=cast(end, DOUBLE))),
                  default=exp.GTE(this=x.copy(), expression=cast(end, DOUBLE)))
    series = call("list_filter", candidates, exp.Lambda(this=within, expressions=[exp.to_identifier("x")]))
    return case((zero, fail("GENERATE_ARRAY: step cannot be 0")), default=series)


RULES = {exp.ApproxQuantiles: approx_quantiles, exp.Bracket: subscript, exp.GenerateSeries: generate_array,
         **dict.fromkeys((*_LIMITED, *_NULLS), aggregate_limit)}
