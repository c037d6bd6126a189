"""The SQL nodes toolkit.serve.evaluate covers, each as DuckDB evaluates it: a registry from sqlglot node type to
a builder of a Python closure and the static type of its result (`Node`, evaluate_types.py). The builders live by
responsibility: numbers and casts (evaluate_numeric), comparisons, logic and text (evaluate_logic), lists and
structs (evaluate_nested)."""

from __future__ import annotations

from collections.abc import Callable

from toolkit.serve.evaluate_logic import LOGIC_NODES
from toolkit.serve.evaluate_nested import NESTED_NODES
from toolkit.serve.evaluate_numeric import NUMERIC_NODES
from toolkit.serve.evaluate_types import Node

NODES: dict[type, Callable[..., Node]] = {**NUMERIC_NODES, **LOGIC_NODES, **NESTED_NODES}
