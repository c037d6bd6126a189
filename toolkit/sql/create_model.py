"""CREATE [OR REPLACE] MODEL name [TRANSFORM(…)] OPTIONS(…) AS query: the parts a model node needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from toolkit.errors import ProjectError
from toolkit.sql.dialect import DIALECT
from toolkit.sql.literals import NotConstant, constant


@dataclass(frozen=True)
class CreateModel:
    name: str  # the model's own name, as written (unqualified)
    options: dict[str, Any]  # option name (lower case) → plain Python value
    transform: tuple[str, ...]  # TRANSFORM's select list as DuckDB SQL, empty when absent
    query: str  # the AS query as DuckDB SQL
    if_not_exists: bool


def is_create_model(expression: exp.Expression) -> bool:
    return isinstance(expression, exp.Create) and str(expression.args.get("kind", "")).upper() == "MODEL"


def read_create_model(statement: exp.Create) -> CreateModel:
    """The statement's name, options, TRANSFORM list and query."""
    table = statement.this
    query = statement.expression
    if query is None:
        raise ProjectError("CREATE MODEL needs AS followed by the training query", hint="CREATE MODEL m OPTIONS(…) AS SELECT …")
    if isinstance(query, exp.Subquery):
        query = query.this
    options: dict[str, Any] = {}
    transform: tuple[str, ...] = ()
    properties = statement.args.get("properties")
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.TransformModelProperty):
            transform = tuple(e.sql(dialect=DIALECT) for e in prop.expressions)
        elif isinstance(prop, exp.Property):
            key = prop.name.lower()
            if key in options:
                raise ProjectError(f"option {key.upper()} is given twice in OPTIONS(…)", hint="keep one of them")
            options[key] = option_value(prop.args["value"], key)
        else:
            raise ProjectError(
                f"CREATE MODEL does not take {prop.sql(dialect=DIALECT)!r}",
                hint="write CREATE [OR REPLACE] MODEL name [TRANSFORM(…)] OPTIONS(…) AS SELECT …",
            )
    return CreateModel(
        name=table.name,
        options=options,
        transform=transform,
        query=query.sql(dialect=DIALECT),
        if_not_exists=bool(statement.args.get("exists")),
    )


def option_value(node: exp.Expression, key: str) -> Any:
    """An OPTIONS value as Python: strings, numbers, booleans, NULL, arrays, and STRUCT('a', 0.2) as a tuple."""
    try:
        return constant(node)
    except NotConstant:
        raise ProjectError(
            f"OPTIONS({key.upper()} = {node.sql(dialect=DIALECT)}): only literals, arrays and STRUCTs are accepted",
            hint="write strings in quotes, numbers, TRUE/FALSE, ['a', 'b'] or [STRUCT('a', 0.2)]",
        ) from None
