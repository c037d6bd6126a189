"""The distances ML.VALIDATE_DATA_DRIFT and ML.VALIDATE_DATA_SKEW compare two distributions with, over counts by
bucket or value: L-infinity (the largest difference between the two relative frequencies of a value) and
Jensen–Shannon divergence (base-2 logarithm, so it lies in [0, 1]: scipy's `jensenshannon(p, q, base=2) ** 2`).
Also the equal-width bucket of a numerical value, as a sqlglot expression, numpy.histogram's buckets:
`num_buckets` buckets over [low, high], the last one closed; and a stored histogram's counts moved onto wider
buckets (`rebucketed`), values assumed uniform within a bucket, as TensorFlow Data Validation aligns two histograms
(tensorflow_data_validation/anomalies/metrics.cc, RebucketHistogram)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from sqlglot import exp


def _frequencies(base: Mapping, study: Mapping) -> tuple[list[float], list[float]]:
    keys = list(dict.fromkeys([*base, *study]))
    base_total, study_total = sum(base.values()), sum(study.values())
    return ([base.get(k, 0) / base_total for k in keys], [study.get(k, 0) / study_total for k in keys])


def l_infinity(base: Mapping, study: Mapping) -> float:
    """max over values of |p(value) - q(value)|, the frequencies relative to each side's non-NULL count."""
    p, q = _frequencies(base, study)
    return max(abs(a - b) for a, b in zip(p, q))


def jensen_shannon(base: Mapping, study: Mapping) -> float:
    """½ KL(p ‖ m) + ½ KL(q ‖ m) with m = (p + q) / 2, in bits."""
    p, q = _frequencies(base, study)
    divergence = 0.0
    for a, b in zip(p, q):
        m = (a + b) / 2
        if a > 0:
            divergence += 0.5 * a * math.log2(a / m)
        if b > 0:
            divergence += 0.5 * b * math.log2(b / m)
    return max(divergence, 0.0)


def bucket(value: exp.Expression, low: float, high: float, num_buckets: int) -> exp.Expression:
    """The equal-width bucket (0 … num_buckets - 1) of `value` over [low, high], as numpy.histogram assigns it:
    the index from the scaled value, then moved by one where the value lies on the other side of an edge
    (low + i * step, numpy.linspace's edges, compared exactly), the last bucket closed; every value in one
    bucket when low = high. NULL stays NULL. (The monitoring functions bucket value counts with numpy instead,
    `counts_in_buckets`; this SQL form is their reference in the tests.)"""
    if high <= low:
        return exp.If(this=exp.Is(this=value, expression=exp.Null()), true=exp.Null(), false=exp.Literal.number(0))
    step = (high - low) / num_buckets

    def number(x: float) -> exp.Expression:  # a DOUBLE (0.1 alone is a DECIMAL: slow, and not numpy's arithmetic)
        return exp.cast(exp.Literal.number(repr(float(x))), exp.DataType.build("DOUBLE"))

    def edge(index: exp.Expression) -> exp.Expression:
        return exp.Add(this=exp.Mul(this=index, expression=number(step)), expression=number(low))

    scaled = exp.Mul(this=exp.paren(exp.Sub(this=value.copy(), expression=number(low))),
                     expression=number(num_buckets / (high - low)))
    k = exp.cast(exp.Floor(this=scaled), exp.DataType.build("BIGINT"))
    below = exp.LT(this=value.copy(), expression=edge(k.copy()))
    above = exp.GTE(this=value.copy(), expression=edge(exp.paren(exp.Add(this=k.copy(),
                                                                        expression=exp.Literal.number(1)))))
    moved = exp.paren(exp.Add(this=exp.Sub(this=k.copy(), expression=exp.cast(below, exp.DataType.build("BIGINT"))),
                              expression=exp.cast(above, exp.DataType.build("BIGINT"))))
    # never below 0 (no value is below low); the largest values may reach num_buckets: the last bucket is closed.
    # A CASE, not LEAST: sqlglot writes DuckDB's LEAST inside a NULL test that repeats the whole expression.
    last = exp.Literal.number(num_buckets - 1)
    return exp.Case(ifs=[exp.If(this=exp.GTE(this=moved, expression=exp.Literal.number(num_buckets)), true=last)],
                    default=moved.copy())


def counts_in_buckets(values: np.ndarray, counts: np.ndarray, low: float, high: float, num_buckets: int) -> list[int]:
    """How many of the rows fall in each of `num_buckets` equal-width buckets over [low, high], from their distinct
    `values` (all within it) and `counts`: numpy.histogram's buckets, which `bucket` computes in SQL (every value
    in the first bucket when low = high)."""
    if high <= low:
        return [int(counts.sum())] + [0] * (num_buckets - 1)
    found, _ = np.histogram(values, bins=num_buckets, range=(low, high), weights=counts)
    return [int(c) for c in found]


def _edge(low: float, high: float, num_buckets: int, i: int) -> float:
    return high if i == num_buckets else i * ((high - low) / num_buckets) + low  # numpy.linspace's


def bucket_of(value: float, low: float, high: float, num_buckets: int) -> int:
    """The bucket `bucket` puts `value` in, in Python."""
    if high <= low:
        return 0
    k = math.floor((value - low) * (num_buckets / (high - low)))
    k += int(value >= _edge(low, high, num_buckets, k + 1)) - int(value < _edge(low, high, num_buckets, k))
    return min(max(k, 0), num_buckets - 1)


def rebucketed(counts: list[float], low: float, high: float, new_low: float, new_high: float) -> dict[int, float]:
    """Counts of equal-width buckets over [low, high] moved onto as many equal-width buckets over [new_low,
    new_high] ⊇ [low, high], each bucket's count shared in proportion to its overlap with the new ones (the
    values spread evenly within it); a histogram of one value (low = high) moves whole into that value's bucket.
    Over the same range, the counts come back unchanged."""
    n = len(counts)
    moved: dict[int, float] = {}
    if high <= low:
        moved[bucket_of(low, new_low, new_high, n)] = float(sum(counts))
        return moved
    if new_high <= new_low:
        return {0: float(sum(counts))}
    for i, count in enumerate(counts):
        if not count:
            continue
        a, b = _edge(low, high, n, i), _edge(low, high, n, i + 1)
        for j in range(max(bucket_of(a, new_low, new_high, n) - 1, 0), n):
            c, d = _edge(new_low, new_high, n, j), _edge(new_low, new_high, n, j + 1)
            if c >= b:
                break
            overlap = min(b, d) - max(a, c)
            if overlap > 0:
                moved[j] = moved.get(j, 0.0) + count * (overlap / (b - a))
    return moved
