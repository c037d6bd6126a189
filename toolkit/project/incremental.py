"""Incremental models' configs (https://docs.getdbt.com/docs/build/incremental-models): `unique_key`,
`incremental_strategy` (https://docs.getdbt.com/docs/build/incremental-strategy), `on_schema_change`
(https://docs.getdbt.com/docs/build/incremental-models#what-if-the-columns-of-my-incremental-model-change) and
`full_refresh`, checked as config() receives them and read into the node's `Incremental`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from toolkit.errors import ConfigError, did_you_mean
from toolkit.project.nodes import Incremental

STRATEGIES = ("append", "delete+insert", "merge")
ON_SCHEMA_CHANGE = ("ignore", "fail", "append_new_columns", "sync_all_columns")
INCREMENTAL_KEYS = ("unique_key", "incremental_strategy", "on_schema_change", "full_refresh")
_KEYED = ("delete+insert", "merge")  # the strategies that match new rows to old ones by unique_key


def checked_incremental_config(key: str, value: Any) -> Any:
    if key == "unique_key":
        keys = [value] if isinstance(value, str) else value
        if not isinstance(keys, (list, tuple)) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise ConfigError(f"config(unique_key={value!r}) must be a column name or a list of them",
                              hint="e.g. unique_key='order_id' or unique_key=['order_id', 'line']")
        return tuple(keys)
    choices = {"incremental_strategy": STRATEGIES, "on_schema_change": ON_SCHEMA_CHANGE}.get(key)
    if choices is not None:
        if value not in choices:
            raise ConfigError(f"config({key}={value!r}) is not one of {', '.join(choices)}"
                              f"{did_you_mean(str(value), choices)}")
        return value
    if not isinstance(value, bool):
        raise ConfigError(f"config(full_refresh={value!r}) must be true or false")
    return value


def incremental_settings(config: Mapping[str, Any]) -> Incremental:
    """The node's incremental settings; dbt-duckdb's default strategy: delete+insert with a unique_key, else
    append."""
    unique_key = tuple(config.get("unique_key", ()))
    strategy = config.get("incremental_strategy") or ("delete+insert" if unique_key else "append")
    if strategy in _KEYED and not unique_key:
        raise ConfigError(f"incremental_strategy='{strategy}' needs a unique_key to match new rows to old ones",
                          hint="add unique_key='<column>' to config(), or use incremental_strategy='append'")
    return Incremental(unique_key=unique_key, strategy=strategy,
                       on_schema_change=config.get("on_schema_change", "ignore"),
                       full_refresh=bool(config.get("full_refresh", False)))


def incremental_keys_used(config: Mapping[str, Any]) -> list[str]:
    return [key for key in INCREMENTAL_KEYS if key in config]
