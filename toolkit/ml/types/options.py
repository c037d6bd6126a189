"""Option specs and validated option sets of CREATE MODEL … OPTIONS(…).

An `OptionSpec` says what one option accepts (kind, default, range, allowed values) and which of its values the
toolkit refuses (with the reason). `ModelOptions` is the validated, complete set for one model: every option of
its model type with either the user's value or the default. Values arrive as parsed from SQL: str, int, float,
bool, lists of those, and (label, weight) pairs for CLASS_WEIGHTS."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from toolkit.errors import ConfigError

# A default that depends on the training data (e.g. NUM_CLUSTERS = log10(rows)); resolved at fit time.
FROM_DATA = "<from the data>"


@dataclass(frozen=True)
class OptionSpec:
    """One option: its kind, default, accepted range or values, and the values the toolkit refuses."""

    name: str
    kind: str
    default: Any = None
    low: float | None = None  # inclusive bounds for numbers (and for list elements)
    high: float | None = None
    low_exclusive: bool = False
    choices: tuple[str, ...] = ()  # enum values, upper case
    refused: Mapping[Any, str] = field(default_factory=dict)  # value -> why the toolkit refuses it
    only_default: str | None = None  # set: any non-default value is refused, with this reason
    doc: str = ""

    def accepts(self) -> str:
        """What this option accepts, for messages: 'an integer in [1, 100]', "one of 'A', 'B'"."""
        if self.kind == "enum":
            return "one of " + ", ".join(f"'{c}'" for c in self.choices)
        noun = {
            "int": "an integer", "float": "a number", "bool": "TRUE or FALSE", "str": "a string",
            "str_list": "an array of strings, e.g. ['a', 'b']", "int_list": "an array of integers, e.g. [64, 32]",
            "class_weights": "an array of (label, weight) pairs, e.g. [STRUCT('a', 0.5), STRUCT('b', 2.0)]",
        }[self.kind]
        if self.low is None and self.high is None:
            return noun
        low = "(" if self.low_exclusive else "["
        return f"{noun} in {low}{_num(self.low, '-inf')}, {_num(self.high, 'inf')}]"

    def coerce(self, model: str, value: Any) -> Any:
        """The value in canonical form (enums upper case, ints as int), or a ConfigError naming the option."""
        try:
            out = _COERCE[self.kind](self, value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"model {model}: option {self.name} = {_show(value)} is not valid; it accepts {self.accepts()}",
                hint=f"set {self.name} to {self.accepts()}" + (f" ({self.doc})" if self.doc else ""),
            ) from None
        reason = self.refused.get(out) if isinstance(out, (str, bool, int, float)) else None
        if reason is None and self.only_default is not None and out != self.default:
            reason = self.only_default
        if reason is not None:
            raise ConfigError(
                f"model {model}: option {self.name} = {_show(out)} is not supported by the toolkit: {reason}",
                hint=f"remove {self.name} or set it to {_show(self.default)}"
                if self.default not in (None, FROM_DATA) else f"remove {self.name}",
            )
        return out


def _num(value: float | None, missing: str) -> str:
    return missing if value is None else f"{value:g}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return repr(value)


def _in_range(spec: OptionSpec, number: float) -> None:
    if not math.isfinite(number):
        raise ValueError(number)
    if spec.low is not None and (number < spec.low or (spec.low_exclusive and number == spec.low)):
        raise ValueError(number)
    if spec.high is not None and number > spec.high:
        raise ValueError(number)


def _int(spec: OptionSpec, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise TypeError(value)
    _in_range(spec, value)
    return int(value)


def _float(spec: OptionSpec, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(value)
    _in_range(spec, float(value))
    return float(value)


def _bool(spec: OptionSpec, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(value)
    return value


def _enum(spec: OptionSpec, value: Any) -> str:
    if not isinstance(value, str) or value.upper() not in spec.choices:
        raise ValueError(value)
    return value.upper()


def _str(spec: OptionSpec, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(value)
    return value


def _str_list(spec: OptionSpec, value: Any) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, (list, tuple)) or not values or not all(isinstance(v, str) and v for v in values):
        raise TypeError(value)
    return tuple(values)


def _int_list(spec: OptionSpec, value: Any) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(value)
    return tuple(_int(spec, v) for v in value)


def _class_weights(spec: OptionSpec, value: Any) -> tuple[tuple[str, float], ...]:
    if isinstance(value, Mapping):
        value = list(value.items())
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(value)
    pairs = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(pair)
        label, weight = pair
        if isinstance(label, bool):
            label = "true" if label else "false"
        if not isinstance(label, (str, int, float)):
            raise TypeError(label)
        pairs.append((str(label), _float(spec, weight)))
    if len({label for label, _ in pairs}) != len(pairs):
        raise ValueError(value)
    return tuple(pairs)


_COERCE = {
    "int": _int, "float": _float, "bool": _bool, "enum": _enum, "str": _str,
    "str_list": _str_list, "int_list": _int_list, "class_weights": _class_weights,
}


@dataclass(frozen=True)
class ModelOptions:
    """Every option of one model: the user's values (`given`) and the defaults for the rest."""

    model: str
    model_type: str
    values: Mapping[str, Any]
    given: frozenset[str]
    # Hyperparameter tuning's search space, option → {"range": [min, max], "integer", "log"} or {"candidates": […]}
    # (toolkit.ml.types.hparams); empty without NUM_TRIALS.
    search_space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name.upper()]

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name.upper(), default)

    def is_set(self, name: str) -> bool:
        """Whether the user wrote this option (as opposed to taking its default)."""
        return name.upper() in self.given

    def to_json(self) -> str:
        data = {"model_type": self.model_type, "values": _jsonable(dict(self.values)), "given": sorted(self.given)}
        if self.search_space:  # absent without tuning: untuned models' stored options stay as they were
            data["search_space"] = _jsonable({k: dict(v) for k, v in self.search_space.items()})
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, model: str, text: str) -> ModelOptions:
        data = json.loads(text)
        values = {k: _from_jsonable(v) for k, v in data["values"].items()}
        return cls(model, data["model_type"], MappingProxyType(values), frozenset(data["given"]),
                   MappingProxyType(data.get("search_space", {})))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_from_jsonable(v) for v in value)
    return value
