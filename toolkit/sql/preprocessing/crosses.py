"""ML.FEATURE_CROSS, ML.POLYNOMIAL_EXPAND, ML.NGRAMS: scalar, combinations of a row's own values.

Combinations come in lexicographic order of the fields' positions, as BigQuery's documented output of
POLYNOMIAL_EXPAND(STRUCT(2 AS f1, 3 AS f2)) shows: f1, f1_f1, f1_f2, f2, f2_f2. NGRAMS likewise: by starting token,
then by length (['a', 'b', 'c'] with [2, 3] gives 'a#b', 'a#b#c', 'b#c')."""

from __future__ import annotations

from functools import reduce
from itertools import combinations, combinations_with_replacement

from sqlglot import exp

from toolkit.sql.ml_nodes import MLPreprocess
from toolkit.sql.preprocessing.arguments import bind
from toolkit.sql.preprocessing.build import as_double, as_varchar, number, string, struct, template, wrap


def feature_cross(call: MLPreprocess) -> exp.Expression:
    """ML.FEATURE_CROSS(STRUCT(a, b, c) [, degree]): a STRUCT with one field per combination of 2 to `degree`
    distinct fields (no single fields, no field crossed with itself), named a_b, its value 'x_y' (the fields' text
    joined with '_'; NULL when a part is NULL)."""
    args = bind(call)
    fields, degree = args["struct_categorical_features"], args["degree"]
    crosses = sorted(c for size in range(2, degree + 1) for c in combinations(range(len(fields)), size))
    return struct([
        ("_".join(fields[i].name for i in cross),
         reduce(lambda left, right: template(":l || '_' || :r", l=left, r=right),
                [as_varchar(fields[i].value) for i in cross]))
        for cross in crosses
    ])


def polynomial_expand(call: MLPreprocess) -> exp.Expression:
    """ML.POLYNOMIAL_EXPAND(STRUCT(a, b) [, degree]): a STRUCT of DOUBLE with every product of 1 to `degree`
    fields (repeats allowed), the original fields included, named a, a_a, a_b, …"""
    args = bind(call)
    fields, degree = args["struct_numerical_features"], args["degree"]
    terms = sorted(t for size in range(1, degree + 1) for t in combinations_with_replacement(range(len(fields)), size))
    return struct([
        ("_".join(fields[i].name for i in term),
         reduce(lambda left, right: exp.Mul(this=wrap(left), expression=wrap(right)),
                [as_double(fields[i].value) for i in term]))
        for term in terms
    ])


def ngrams(call: MLPreprocess) -> exp.Expression:
    """ML.NGRAMS(tokens, range [, separator]): every run of low to high consecutive tokens, joined by the separator
    (default ' '); NULL tokens → NULL."""
    args = bind(call)
    low, high = args["range"]
    return template(
        "FLATTEN(LIST_TRANSFORM(RANGE(1, LEN(:a) + 1), LAMBDA _tk_i : LIST_TRANSFORM("
        "LIST_FILTER(RANGE(:low, :high + 1), LAMBDA _tk_n : _tk_i + _tk_n - 1 <= LEN(:a)), "
        "LAMBDA _tk_n : ARRAY_TO_STRING(:a[_tk_i : _tk_i + _tk_n - 1], :separator))))",
        a=args["array_input"], low=number(low), high=number(high), separator=string(args["separator"]),
    )
