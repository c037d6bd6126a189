"""The rules' dispatches on an argument's type as DuckDB macros, registered on every connection the toolkit opens
(toolkit.warehouse.functions): where the tree does not say an argument's type, a rule calls the macro, and DuckDB,
which knows the type when it binds the call, keeps the one branch that applies. The SQL stays as small as the
user's, and is parsed and generated as fast."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from toolkit.sql.bigquery.rules import casts, strings
from toolkit.sql.dialect import DIALECT

_X = "x"

MACROS: dict[str, Callable[[exp.Expression], exp.Expression]] = {
    "bigquery_string": casts.string_dispatch,
    "bigquery_int64": lambda x: casts.int64_dispatch(x, safe=False),
    "bigquery_safe_int64": lambda x: casts.int64_dispatch(x, safe=True),
    "bigquery_timestamp": lambda x: casts.timestamp_dispatch(x, safe=False),
    "bigquery_safe_timestamp": lambda x: casts.timestamp_dispatch(x, safe=True),
    "bigquery_bytes": casts.bytes_dispatch,
    "bigquery_length": strings.length_dispatch,
    "bigquery_byte_length": strings.byte_length_dispatch,
}


def macro_statements() -> list[str]:
    """`CREATE OR REPLACE TEMPORARY MACRO name(x) AS …` for each macro."""
    return [exp.Create(this=exp.UserDefinedFunction(this=exp.to_table(name), expressions=[exp.to_identifier(_X)],
                                                    wrapped=True),
                       kind="MACRO", replace=True, expression=body(exp.column(_X)),
                       properties=exp.Properties(expressions=[exp.TemporaryProperty()])).sql(dialect=DIALECT)
            for name, body in MACROS.items()]
