"""Assertions: SQL that finds failing rows, with a severity and thresholds on the failing-row count.

An assertion says how its failing rows are found in one of three ways, from cheapest to dearest:
- `failing_when`: a predicate over one row (`carrier IS NULL`): combined with the model's other such
  assertions into a single scan of the relation;
- `failing_count`: an aggregate over the whole relation (`count(x) - count(DISTINCT x)`): the same single scan;
- `failing_rows`: a whole query returning the failing rows (anti-joins, group-bys): a query of its own.
SQL refers to the relation under test through the `UNDER_TEST` marker, replaced at evaluation time by the
temporary relation being audited or by the published one."""

from __future__ import annotations

import enum
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from toolkit.errors import ConfigError, did_you_mean

# A quoted table name no model uses: the assertion SQL parses, and `under_test_relation` finds its table nodes.
UNDER_TEST_NAME = "__toolkit_under_test__"
UNDER_TEST = f'"{UNDER_TEST_NAME}"'
DIMENSIONS = ("accuracy", "completeness", "consistency", "timeliness", "distribution", "custom")


class Severity(enum.Enum):
    ERROR = "error"  # a failure keeps the previous version published and skips everything downstream
    WARN = "warn"  # a failure is reported; the build goes on


_OPERATORS: dict[str, Callable[[int, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, "!=": operator.ne, "<>": operator.ne,
    ">": operator.gt, "<": operator.lt, "==": operator.eq, "=": operator.eq,
}
_THRESHOLD = re.compile(r"^\s*(>=|<=|!=|<>|==|>|<|=)\s*(\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Threshold:
    """A condition on the failing-row count, written like dbt's `error_if='>100'`."""

    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not _THRESHOLD.match(self.text):
            raise ConfigError(
                f"threshold {self.text!r} is not a comparison with a number",
                hint="write it like '>0', '>=100', '<5' or '=0'",
            )

    def holds(self, count: int) -> bool:
        symbol, number = _THRESHOLD.match(self.text).groups()  # type: ignore[union-attr]
        return _OPERATORS[symbol](count, float(number))


@dataclass(frozen=True)
class Assertion:
    name: str  # unique within its node, e.g. "not_null(carrier)"
    test: str  # the macro (or "assertion" for a standalone file)
    dimension: str
    columns: tuple[str, ...] = ()  # columns of the relation under test it reads (checked to exist)
    failing_when: str | None = None
    failing_count: str | None = None
    failing_rows: str | None = None
    samples: str | None = None  # a query showing the offending values, for failing_count assertions
    severity: Severity = Severity.ERROR
    error_if: Threshold = field(default_factory=lambda: Threshold(">0"))
    warn_if: Threshold = field(default_factory=lambda: Threshold(">0"))
    error: str | None = None  # why it cannot run, found before it runs (its ML.* calls refused their input)

    @property
    def single_scan(self) -> bool:
        """Whether it is evaluated within the combined scan of the relation."""
        return self.failing_rows is None

    def verdict(self, count: int) -> str:
        """'fail', 'warn' or 'pass' for this failing-row count."""
        if self.severity is Severity.ERROR and self.error_if.holds(count):
            return "fail"
        if self.warn_if.holds(count):
            return "warn"
        return "pass"

    def map_sql(self, function: Callable[[str], str]) -> Assertion:
        """The same assertion with `function` applied to each of its SQL texts."""
        texts = {key: getattr(self, key) for key in ("failing_when", "failing_count", "failing_rows", "samples")}
        return replace(self, **{key: function(text) for key, text in texts.items() if text is not None})


_OPTIONS = ("columns", "failing_when", "failing_count", "failing_rows", "samples", "dimension",
            "severity", "error_if", "warn_if", "where", "label", "default_label", "default_dimension")


def make_assertion(test: str, **options: Any) -> Assertion:
    """Build an assertion from a macro's keyword arguments, validating each one."""
    for key in options:
        if key not in _OPTIONS:
            raise ConfigError(
                f"{test}(): unknown argument {key!r}{did_you_mean(key, _OPTIONS)}",
                hint="every assertion also takes severity='error'|'warn', error_if='>0', warn_if='>0'",
            )
    ways = [key for key in ("failing_when", "failing_count", "failing_rows") if options.get(key)]
    if len(ways) != 1:
        raise ConfigError(f"{test}(): give exactly one of failing_when, failing_count or failing_rows")
    severity = options.get("severity", "error")
    if severity not in {s.value for s in Severity}:
        raise ConfigError(
            f"{test}(): severity {severity!r} is not one of error, warn{did_you_mean(str(severity), ['error', 'warn'])}"
        )
    dimension = options.get("dimension") or options.get("default_dimension") or "custom"
    if dimension not in DIMENSIONS:
        raise ConfigError(f"{test}(): dimension {dimension!r} is not one of {', '.join(DIMENSIONS)}")
    columns = options.get("columns") or ()
    columns = (columns,) if isinstance(columns, str) else tuple(columns)
    failing_when = options.get("failing_when")
    where = options.get("where")
    if where:
        if not failing_when:
            raise ConfigError(f"{test}(): where= applies to row-by-row assertions only")
        failing_when = f"({where}) AND ({failing_when})"
    # `label` is the user's name for it; `default_label` the macro's, when the columns alone say too little.
    label = options.get("label") or options.get("default_label") or f"{test}({', '.join(columns)})"
    return Assertion(
        name=label,
        test=test,
        dimension=dimension,
        columns=columns,
        failing_when=failing_when,
        failing_count=options.get("failing_count"),
        failing_rows=options.get("failing_rows"),
        samples=options.get("samples"),
        severity=Severity(severity),
        error_if=_threshold(test, "error_if", options.get("error_if", ">0")),
        warn_if=_threshold(test, "warn_if", options.get("warn_if", ">0")),
    )


def _threshold(test: str, key: str, text: Any) -> Threshold:
    try:
        return Threshold(text)
    except ConfigError as error:
        raise ConfigError(f"{test}(): {key}={text!r} is not a threshold", hint=error.hint) from None


def unique_names(assertions: list[Assertion]) -> tuple[Assertion, ...]:
    """Number repeated names: not_null(a), not_null(a)#2."""
    seen: dict[str, int] = {}
    named = []
    for assertion in assertions:
        seen[assertion.name] = seen.get(assertion.name, 0) + 1
        if seen[assertion.name] > 1:
            assertion = replace(assertion, name=f"{assertion.name}#{seen[assertion.name]}")
        named.append(assertion)
    return tuple(named)
