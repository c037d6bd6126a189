"""The dialect deploy scripts are written in: the toolkit's BigQuery dialect, plus BigQuery's ASSERT statement
and ML table functions reading a table with `TABLE name`, as BigQuery requires."""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from toolkit.sql.dialect import ToolkitBigQuery
from toolkit.sql.ml_nodes import MLFunction


class Assert(exp.Expression):
    """BigQuery's `ASSERT condition AS 'description'`: the script stops with the description when it is not TRUE."""

    arg_types = {"this": True, "description": False}


def _assert_sql(self: Any, expression: Assert) -> str:
    description = expression.args.get("description")
    suffix = f" AS {self.sql(description)}" if description is not None else ""
    return f"ASSERT {self.sql(expression, 'this')}{suffix}"


def _ml_function_sql(self: Any, expression: MLFunction) -> str:
    """ML.NAME(MODEL m, TABLE t | (query) [, STRUCT(…)]), a data function without MODEL: a table input keeps
    its TABLE keyword."""
    parts = [f"MODEL {self.sql(expression, 'model')}"] if expression.args.get("model") else []
    for source in [expression.args.get("input"), *(expression.args.get("inputs") or [])]:
        if source is not None:
            parts.append(f"TABLE {self.sql(source)}" if isinstance(source, exp.Table) else self.sql(source))
    if expression.args.get("settings") is not None:
        parts.append(self.sql(expression, "settings"))
    return f"{expression.name.upper()}({', '.join(parts)})"


class DeployBigQuery(ToolkitBigQuery):
    class Generator(ToolkitBigQuery.Generator):
        TRANSFORMS = {**ToolkitBigQuery.Generator.TRANSFORMS, Assert: _assert_sql, MLFunction: _ml_function_sql}
