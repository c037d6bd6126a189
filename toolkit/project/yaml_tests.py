"""YAML data tests as the toolkit's assertions (https://docs.getdbt.com/reference/resource-properties/data-tests).

A test names an assertion macro: dbt's four generic tests (`unique`, `not_null`, `accepted_values`,
`relationships`) are macros of the standard library under the same names, and so is every other toolkit
assertion; a project's own assertion macros work too, and a few dbt_utils tests map onto toolkit macros. A column's
test gets the column as its first argument. A test that reads another relation (`relationships: {to: ref('x')}`)
cannot audit its model before it is published, since that relation may be built after it (or from it), so it
becomes a node of its own that runs once both sides are built, as in dbt, and adds no edge to its model."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from toolkit.errors import ConfigError, Location, ToolkitError, did_you_mean
from toolkit.project.assertions import Assertion
from toolkit.project.properties import Freshness, TestSpec
from toolkit.project.render import Rendered, Renderer

# The first parameter of a column-level assertion macro, which a column's test fills with the column.
COLUMN_PARAMETERS = ("column", "label", "event_at")
ASSERTION_OPTIONS = ("severity", "error_if", "warn_if", "where", "dimension", "label")  # every assertion takes them
_PLAIN_CALL = re.compile(r"""^\s*(ref|source)\s*\(\s*((?:['"][^'"]*['"]\s*,?\s*){1,2})\)\s*$""")
_JINJA_CALL = re.compile(r"^\s*(ref|source)\s*\(.*\)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Alias:
    """A dbt package's test written with a toolkit macro: its name and how its arguments are renamed."""

    macro: str
    arguments: dict[str, str]


# https://github.com/dbt-labs/dbt-utils#generic-tests
ALIASES: dict[str, Alias] = {
    "dbt_utils.unique_combination_of_columns": Alias("unique_combination", {"combination_of_columns": "columns"}),
    "dbt_utils.expression_is_true": Alias("expression_is_true", {}),
    "dbt_utils.accepted_range": Alias("in_range", {"min_value": "min", "max_value": "max"}),
    "dbt_utils.not_null_proportion": Alias("null_fraction_at_most", {}),
}


# dbt arguments the toolkit's macro needs not: accepted_values quotes strings and leaves numbers as they are.
IGNORED_ARGUMENTS: dict[str, tuple[str, ...]] = {"accepted_values": ("quote",)}


@dataclass(frozen=True)
class YamlTest:
    """A test made an assertion: what rendering it referred to decides whether it audits its model (no refs or
    sources) or runs as a node of its own."""

    assertion: Assertion
    declared: Rendered  # refs and sources its arguments named


def yaml_test(renderer: Renderer, spec: TestSpec, context: str) -> YamlTest | None:
    """The assertion of one YAML test (None when its config says enabled: false)."""
    if spec.config.get("enabled", True) is False:
        return None
    alias = ALIASES.get(spec.test)
    name = alias.macro if alias else spec.test
    arguments = {(alias.arguments.get(key, key) if alias else key): value for key, value in spec.arguments.items()}
    for ignored in IGNORED_ARGUMENTS.get(name, ()):
        arguments.pop(ignored, None)
    macro = renderer.raw_macros.get(name)
    if macro is None:
        known = [*_assertion_macros(renderer), *ALIASES]
        raise ConfigError(f"{spec.where}: no test named {spec.test!r}{did_you_mean(spec.test, known)}",
                          spec.location,
                          hint="tests are assertion macros: unique, not_null, accepted_values, relationships, "
                               "in_range, … (the README lists them) or your own from macros/")
    first = macro.arguments[0] if macro.arguments else None
    positional: list[Any] = []
    if spec.column is not None:
        if first not in COLUMN_PARAMETERS:
            raise ConfigError(f"{spec.where}: {spec.test} tests a whole model, not a column",
                              spec.location, hint="list it under the model's own data_tests")
        positional = [spec.column]
    elif "column_name" in arguments and first in COLUMN_PARAMETERS:
        positional = [arguments.pop("column_name")]
    accepted = (*macro.arguments, *ASSERTION_OPTIONS)
    for key in arguments:
        if key not in accepted:
            raise ConfigError(f"{spec.where}: {spec.test} has no argument {key!r}{did_you_mean(key, accepted)}",
                              spec.location, hint=f"it takes {', '.join(macro.arguments) or 'no arguments'}")
    options = _options(spec)

    def call() -> str:
        values = {key: _value(renderer, value) for key, value in arguments.items()}
        return renderer.env.globals[name](*positional, **values, **options)

    try:
        declared = renderer.in_context(context, spec.path, call)
    except ToolkitError as error:
        raise type(error)(f"{spec.where}: {error.message}", spec.location, error.hint) from None
    assertion = renderer.declared_assertion(declared.sql)
    if assertion is None:
        raise ConfigError(f"{spec.where}: the macro {name} is not an assertion macro", spec.location,
                          hint="a test's macro returns assertion(…); see the README on writing assertions")
    return YamlTest(assertion, declared)


def freshness_tests(renderer: Renderer, freshness: Freshness, path: Path, where: str, context: str,
                    source: Callable[[], str]) -> list[Assertion]:
    """A source table's freshness as the `freshness` assertion: warn_after warns, error_after fails."""
    found = []
    for severity, interval in (("warn", freshness.warn_after), ("error", freshness.error_after)):
        if interval is None:
            continue
        label = f"freshness({freshness.loaded_at_field}, {severity}_after {interval})"

        def call(interval: str = interval, severity: str = severity, label: str = label) -> str:
            source()
            return renderer.env.globals["freshness"](freshness.loaded_at_field, max_age=interval,
                                                     severity=severity, label=label)

        try:
            declared = renderer.in_context(context, path, call)
        except ToolkitError as error:
            raise type(error)(f"{where}.freshness: {error.message}", Location(path), error.hint) from None
        found.append(renderer.declared_assertion(declared.sql))
    return found


def _options(spec: TestSpec) -> dict[str, Any]:
    options = {key: value for key, value in spec.config.items() if key in ("error_if", "warn_if", "where")}
    if "severity" in spec.config:
        options["severity"] = str(spec.config["severity"]).lower()  # dbt writes ERROR and WARN too
    if spec.label:
        options["label"] = spec.label
    return options


def _value(renderer: Renderer, value: Any) -> Any:
    """An argument as dbt reads it: `ref('x')` and `source('s', 't')` are Jinja calls; `{{ … }}` is rendered."""
    if isinstance(value, str):
        plain = _PLAIN_CALL.match(value)
        if plain:  # the common case, called without compiling a template
            function, arguments = plain[1], re.findall(r"['\"]([^'\"]*)['\"]", plain[2])
            return renderer.env.globals[function](*arguments)
        if _JINJA_CALL.match(value):
            return renderer.env.from_string("{{ " + value + " }}").render()
        if "{{" in value:
            return renderer.env.from_string(value).render()
    if isinstance(value, list):
        return [_value(renderer, item) for item in value]
    return value


def _assertion_macros(renderer: Renderer) -> list[str]:
    """Macro names that look like assertions: those of the standard assertions file and the project's."""
    return [name for name in renderer.raw_macros if not name.startswith("_")]


def test_node_name(test: str, target: str, column: str | None, taken: set[str]) -> str:
    """dbt's naming: `not_null_orders_order_id`, numbered when two tests would share a name."""
    base = re.sub(r"[^0-9A-Za-z_]+", "_", "_".join(part for part in (test.split(".")[-1], target, column) if part))
    name, number = base, 2
    while name.casefold() in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name.casefold())
    return name
