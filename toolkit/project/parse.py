"""Parse a rendered model file with sqlglot and decide what kind of node it is."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from toolkit.errors import Location, ProjectError
from toolkit.project.nodes import NodeKind
from toolkit.sql.bigquery import Untranslatable
from toolkit.sql.bigquery.functions import TempFunction, is_function_definition, read_function
from toolkit.sql.bigquery.names import Datasets
from toolkit.sql.bigquery.statements import refuse
from toolkit.sql.create_model import is_create_model
from toolkit.sql.dialect import DEFAULT_DIALECT, DIALECT, DIALECTS
from toolkit.sql.preprocessing import PreprocessingError, has_preprocessing, rewrite_scalar_preprocessing
from toolkit.sql.quiet import quiet_fallbacks
from toolkit.sql.translation import warehouse_statement


@dataclass(frozen=True)
class Statement:
    kind: NodeKind
    expression: exp.Expression  # in DuckDB's dialect, the warehouse's
    sql: str  # DuckDB SQL: a DuckDB file's text up to the statement's last token (line numbers stay the file's)
    source_sql: str  # the statement as written, in the file's dialect (a BigQuery file's with its temp functions)
    named: tuple[tuple[str, str], ...] = ()  # (schema, table) of every schema-qualified table it reads


def parse_model(sql: str, path: Path, dialect: str = DEFAULT_DIALECT, datasets: Datasets = Datasets()) -> Statement:
    """The one statement of a model file, classified; anything else is a clear error. A BigQuery-dialect file's
    statement (after its CREATE TEMP FUNCTIONs) comes back translated to DuckDB's."""
    try:
        parser = DIALECTS[dialect]()
        tokens = parser.tokenize(sql)
        # A comment after the last semicolon comes back as an exp.Semicolon of its own: not a statement.
        with quiet_fallbacks():
            expressions = [e for e in parser.parser().parse(tokens, sql)
                           if e is not None and not isinstance(e, exp.Semicolon)]
    except ParseError as error:
        raise _syntax_error(error, sql, path, dialect) from None
    except TokenError as error:
        raise _token_error(error, path) from None
    except RecursionError:  # sqlglot's parser recurses once per nesting level (parentheses, subqueries, CASE …)
        raise ProjectError("the SQL nests too deeply to be parsed (e.g. dozens of parentheses inside each other)",
                           Location(path), hint="flatten the expression: drop redundant parentheses, or compute "
                                                "parts in CTEs (WITH …) or in an upstream model") from None
    if not expressions:
        raise ProjectError("the model file contains no SQL statement", Location(path), hint="write one SELECT statement")
    return _READERS[dialect](expressions, tokens, _statement_text(sql, tokens), path, datasets)


def _duckdb_statement(expressions: list[exp.Expression], tokens: list, text: str, path: Path,
                      datasets: Datasets) -> Statement:
    """A DuckDB file: exactly one statement, kept as written."""
    if len(expressions) > 1:
        raise ProjectError(
            f"the model file contains {len(expressions)} statements; a model file holds exactly one",
            Location(path, _statement_line(tokens, 1)),
            hint=_SPLIT_HINT if not is_function_definition(expressions[0]) else
            "a DuckDB-dialect file defines no functions: write a Jinja macro under macros/, or set "
            "{{ config(dialect='bigquery') }} to use BigQuery's CREATE TEMP FUNCTION",
        )
    return _classified(expressions[0], text, text, path)


_SPLIT_HINT = "split it into several model files, or combine the statements with CTEs (WITH …)"


def _bigquery_statement(expressions: list[exp.Expression], tokens: list, text: str, path: Path,
                        datasets: Datasets) -> Statement:
    """A BigQuery file: its leading CREATE TEMP FUNCTIONs, then one statement, translated to DuckDB's dialect."""
    starts = _statement_starts(tokens)
    functions: dict[str, TempFunction] = {}
    try:
        for start in starts:
            refusal = refuse(start.text, start.line)
            if refusal is not None:
                raise refusal
        *definitions, statement = expressions
        for definition in definitions:
            if not is_function_definition(definition):
                raise ProjectError(
                    f"the model file contains {len(expressions)} statements; a model file holds one query or "
                    "CREATE MODEL, after any CREATE TEMP FUNCTIONs", Location(path, starts[-1].line), hint=_SPLIT_HINT)
            function = read_function(definition, functions)
            functions[function.name.casefold()] = function
        if is_function_definition(statement):
            raise ProjectError("the model file defines functions but holds no query that uses them",
                               Location(path, starts[-1].line), hint="write the SELECT after the functions")
        kind = _classify(statement, path)
        translated = warehouse_statement(statement, "bigquery", datasets, functions)
    except Untranslatable as error:
        raise ProjectError(error.message, Location(path, error.line, error.column), hint=error.hint) from None
    named = tuple(dict.fromkeys((table.db, table.name) for table in translated.find_all(exp.Table) if table.db))
    statement = _classified(translated, translated.sql(dialect=DIALECT), text, path, kind)  # one line: fast
    return replace(statement, named=named)


_READERS = {"duckdb": _duckdb_statement, "bigquery": _bigquery_statement}  # by dialect


def _classified(expression: exp.Expression, text: str, source: str, path: Path,
                kind: NodeKind | None = None) -> Statement:
    kind = kind or _classify(expression, path)
    if has_preprocessing(expression):
        expression, text = _preprocessing_rewritten(expression, kind, text, path)
    return Statement(kind=kind, expression=expression, sql=text, source_sql=source)


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


_HASH_COMMENT = re.compile(r"^\s*#", re.MULTILINE)

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


def _statement_starts(tokens: list) -> list:
    """The first token of each statement."""
    starts = [tokens[0]] if tokens and tokens[0].token_type != TokenType.SEMICOLON else []
    for previous, token in zip(tokens, tokens[1:]):
        if previous.token_type == TokenType.SEMICOLON and token.token_type != TokenType.SEMICOLON:
            starts.append(token)
    return starts


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


def _syntax_error(error: ParseError, sql: str, path: Path, dialect: str) -> ProjectError:
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
    if dialect == DEFAULT_DIALECT and ("`" in sql or _HASH_COMMENT.search(sql)):
        hint = (f"{hint}\n" if hint else "") + ("backticks and # comments are BigQuery's: write the file in BigQuery's "
                                                 "dialect with {{ config(dialect='bigquery') }} (or [tool.toolkit]."
                                                 "dialect = \"bigquery\"), or use DuckDB's \"quotes\" and -- comments")
    return ProjectError(f"SQL syntax error: {description}", Location(path, line, column), hint=hint)
