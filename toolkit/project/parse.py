"""Parse a rendered model file with sqlglot and decide what kind of node it is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from toolkit.errors import Location, ProjectError
from toolkit.project.nodes import NodeKind
from toolkit.sql.create_model import is_create_model
from toolkit.sql.dialect import DIALECT
from toolkit.sql.preprocessing import PreprocessingError, has_preprocessing, rewrite_scalar_preprocessing


@dataclass(frozen=True)
class Statement:
    kind: NodeKind
    expression: exp.Expression
    sql: str  # the file's text up to the statement's last token: line numbers stay those of the file


def parse_model(sql: str, path: Path) -> Statement:
    """The one statement of a model file, classified; anything else is a clear error."""
    try:
        dialect = DIALECT()
        tokens = dialect.tokenize(sql)
        # A comment after the last semicolon comes back as an exp.Semicolon of its own: not a statement.
        expressions = [e for e in dialect.parser().parse(tokens, sql) if e is not None and not isinstance(e, exp.Semicolon)]
    except ParseError as error:
        raise _syntax_error(error, sql, path) from None
    except TokenError as error:
        raise _token_error(error, path) from None
    except RecursionError:  # sqlglot's parser recurses once per nesting level (parentheses, subqueries, CASE …)
        raise ProjectError("the SQL nests too deeply to be parsed (e.g. dozens of parentheses inside each other)",
                           Location(path), hint="flatten the expression: drop redundant parentheses, or compute "
                                                "parts in CTEs (WITH …) or in an upstream model") from None
    if not expressions:
        raise ProjectError("the model file contains no SQL statement", Location(path), hint="write one SELECT statement")
    if len(expressions) > 1:
        raise ProjectError(
            f"the model file contains {len(expressions)} statements; a model file holds exactly one",
            Location(path, _statement_line(tokens, 1)),
            hint="split it into several model files, or combine the statements with CTEs (WITH …)",
        )
    expression = expressions[0]
    kind, text = _classify(expression, path), _statement_text(sql, tokens)
    if has_preprocessing(expression):
        expression, text = _preprocessing_rewritten(expression, kind, text, path)
    return Statement(kind=kind, expression=expression, sql=text)


def _preprocessing_rewritten(expression: exp.Expression, kind: NodeKind, text: str,
                             path: Path) -> tuple[exp.Expression, str]:
    """ML.BUCKETIZE and the other scalar preprocessing functions as DuckDB SQL: in a query, whose SQL is then
    regenerated, and in the AS query of a CREATE MODEL (its TRANSFORM(…) is fitted when the model trains)."""
    try:
        if kind is NodeKind.MODEL:
            expression = rewrite_scalar_preprocessing(expression)
            return expression, expression.sql(dialect=DIALECT)
        query = expression.args.get("expression")
        if query is not None and has_preprocessing(query):
            expression = expression.copy()
            expression.set("expression", rewrite_scalar_preprocessing(query))
        return expression, text
    except PreprocessingError as error:
        raise error.at(Location(path, error.line, error.column)) from None


# Statements that return rows: SELECT and set operations, plus DuckDB's VALUES and PIVOT/UNPIVOT.
_QUERIES = (exp.Query, exp.Values, exp.Pivot)


def _classify(expression: exp.Expression, path: Path) -> NodeKind:
    if isinstance(expression, _QUERIES):
        return NodeKind.MODEL
    if is_create_model(expression):
        return NodeKind.ML_MODEL
    keyword = expression.key.upper()
    if isinstance(expression, exp.Command):
        keyword = str(expression.this).upper()
    article = "an" if keyword[:1] in "AEIOU" else "a"
    raise ProjectError(
        f"a model file must hold a query (SELECT …) or CREATE MODEL, but this one holds {article} {keyword} statement",
        Location(path),
        hint="the toolkit creates, replaces and drops the node's relation itself; write only the SELECT",
    )


def _statement_text(sql: str, tokens: list) -> str:
    """The text up to the last token that is not a semicolon (trailing comments would swallow
    whatever the toolkit appends)."""
    last = next(t for t in reversed(tokens) if t.token_type != TokenType.SEMICOLON)
    return sql[: last.end + 1]


def _statement_line(tokens: list, index: int) -> int | None:
    """The line where statement number `index` (from 0) starts."""
    seen = 0
    for previous, token in zip(tokens, tokens[1:]):
        if previous.token_type == TokenType.SEMICOLON and token.token_type != TokenType.SEMICOLON:
            seen += 1
            if seen == index:
                return token.line
    return None


def _token_error(error: TokenError, path: Path) -> ProjectError:
    """sqlglot says where tokenizing stopped ("Missing ' from 2:12") in the error's cause."""
    detail = str(error.__cause__ or error)
    where = re.search(r"(\d+):(\d+)", detail)
    location = Location(path, int(where[1]), int(where[2])) if where else Location(path)
    return ProjectError(f"SQL syntax error: {detail}", location, hint="is a quote or comment left open?")


def _syntax_error(error: ParseError, sql: str, path: Path) -> ProjectError:
    detail = error.errors[0] if error.errors else {}
    line, column = detail.get("line"), detail.get("col")
    description = detail.get("description") or str(error)
    description = description.split(". Line ")[0].split(" <Token")[0]
    if detail.get("highlight") and description.endswith(" got"):
        description += f" {detail['highlight']!r}"
    hint = None
    if line:
        text = sql.splitlines()[line - 1] if line <= len(sql.splitlines()) else ""
        pointer = " " * max((column or 1) - len(detail.get("highlight") or " "), 0) + "^"
        hint = f"near {detail.get('highlight')!r}:\n    {text}\n    {pointer}"
    return ProjectError(f"SQL syntax error: {description}", Location(path, line, column), hint=hint)
