"""CREATE TEMP FUNCTION with a SQL body, BigQuery's file-scoped functions: each call is replaced by the body with
its arguments cast to the parameters' types (and the result to RETURNS' type), which is what a DuckDB macro does
when it is bound. A body may call the functions defined before it. JavaScript (and any other LANGUAGE), persistent
functions and table functions are refused by name.
(https://cloud.google.com/bigquery/docs/user-defined-functions#sql-udf-structure)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from toolkit.sql.bigquery.refusal import Untranslatable

_HINT = ("write the logic as a SQL expression: CREATE TEMP FUNCTION f(x FLOAT64) AS (x * 2); or as a Jinja macro "
         "under macros/, {% macro f(x) %}({{ x }} * 2){% endmacro %}, called as {{ f('col') }}")


@dataclass(frozen=True)
class TempFunction:
    name: str
    parameters: tuple[tuple[str, exp.DataType | None], ...]  # (name, type); None for ANY TYPE
    returns: exp.DataType | None
    body: exp.Expression

    def call(self, node: exp.Func, arguments: list[exp.Expression]) -> exp.Expression:
        """The body with each parameter replaced by its argument."""
        if len(arguments) != len(self.parameters):
            raise Untranslatable(
                f"{self.name}() takes {len(self.parameters)} argument{'s' * (len(self.parameters) != 1)} "
                f"({', '.join(name for name, _ in self.parameters)}), not {len(arguments)}", node,
                hint=f"call it as {self.name}({', '.join(name for name, _ in self.parameters)})")
        values = {}
        for (name, type_), argument in zip(self.parameters, arguments):
            values[name.casefold()] = exp.Cast(this=argument, to=type_.copy()) if type_ else exp.paren(argument)

        def substitute(item: exp.Expression) -> exp.Expression:
            if isinstance(item, exp.Column) and not item.table and item.name.casefold() in values:
                return values[item.name.casefold()].copy()
            return item

        body = self.body.copy().transform(substitute, copy=False)
        return exp.Cast(this=body, to=self.returns.copy()) if self.returns else exp.paren(body, copy=False)


def is_function_definition(statement: exp.Expression) -> bool:
    return isinstance(statement, exp.Create) and str(statement.args.get("kind", "")).upper() == "FUNCTION"


def read_function(statement: exp.Create, earlier: dict[str, TempFunction]) -> TempFunction:
    """A CREATE TEMP FUNCTION statement as a TempFunction (its body already expanded over `earlier`)."""
    signature = statement.this
    name = signature.this.name if isinstance(signature, exp.UserDefinedFunction) else signature.name
    properties = statement.args.get("properties")
    items = properties.expressions if properties else []
    if not any(isinstance(item, exp.TemporaryProperty) for item in items):
        raise Untranslatable(f"CREATE FUNCTION {name} would create a persistent function; a model file may "
                             "define temporary ones only", statement, hint=f"write CREATE TEMP FUNCTION {name}(…) AS (…)")
    language = next((item for item in items if isinstance(item, exp.LanguageProperty)), None)
    if language is not None and language.name.upper() != "SQL":
        raise Untranslatable(f"CREATE TEMP FUNCTION {name} is written in {language.name}: only SQL functions run "
                             "in the warehouse", statement, hint=_HINT)
    if not isinstance(signature, exp.UserDefinedFunction):
        raise Untranslatable(f"CREATE TEMP FUNCTION {name} has no parameter list", statement, hint=_HINT)
    returns = next((item for item in items if isinstance(item, exp.ReturnsProperty)), None)
    if returns is not None and returns.args.get("is_table"):
        raise Untranslatable(f"{name} is a table function; only scalar SQL functions are supported", statement,
                             hint="compute the table in a model of its own and ref() it")
    body = statement.expression
    if body is None or isinstance(body, exp.Literal) or isinstance(body, exp.Query):
        raise Untranslatable(f"CREATE TEMP FUNCTION {name} needs a SQL expression in parentheses after AS",
                             statement, hint=_HINT)
    parameters = []
    for definition in signature.expressions:
        type_ = definition.args.get("kind")
        parameters.append((definition.name, None if _is_any_type(type_) else type_))
    function = TempFunction(name=name, parameters=tuple(parameters),
                            returns=returns.this if returns is not None and isinstance(returns.this, exp.DataType)
                            else None, body=body.this if isinstance(body, exp.Paren) else body)
    return TempFunction(function.name, function.parameters, function.returns, expand(function.body, earlier))


def _is_any_type(type_: exp.Expression | None) -> bool:
    """`x ANY TYPE` (a templated parameter), which sqlglot reads as VARIANT."""
    return not isinstance(type_, exp.DataType) or type_.is_type(exp.DataType.Type.VARIANT)


def expand(tree: exp.Expression, functions: dict[str, TempFunction]) -> exp.Expression:
    """`tree` with every call of a temporary function replaced by its body (in place), innermost calls first, so
    an argument that is itself a call arrives expanded."""
    if not functions:
        return tree
    calls = [(node, function) for node in tree.find_all(exp.Func)
             if (function := functions.get(_called_name(node).casefold())) is not None]
    for node, function in reversed(calls):  # breadth first, reversed: the deepest calls first
        arguments = list(node.expressions) if isinstance(node, exp.Anonymous) else list(node.iter_expressions())
        expanded = function.call(node, arguments)
        if node is tree:
            return expanded
        node.replace(expanded)
    return tree


def _called_name(node: exp.Func) -> str:
    """The name a call is written with (a temporary function named like a built-in one shadows it, as in
    BigQuery)."""
    if isinstance(node, exp.Anonymous):
        return str(node.this)
    return node.meta.get("bigquery_name") or node.sql_name()
