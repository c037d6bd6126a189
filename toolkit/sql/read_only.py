"""What `toolkit query` may run: one statement that only reads, decided from its sqlglot tree; or DROP MODEL,
the one writing statement it accepts, as `bq query` does (toolkit.ml.store.lifecycle runs it)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from toolkit.errors import ToolkitError
from toolkit.sql.dialect import DEFAULT_DIALECT, DIALECT, DIALECTS
from toolkit.sql.quiet import quiet_fallbacks

# SELECT, WITH … SELECT, set operations, TABLE t, FROM t, (SELECT …); VALUES; DESCRIBE; SHOW TABLES; SUMMARIZE.
READS = (exp.Query, exp.Values, exp.Describe, exp.Show, exp.Summarize)
# Statements sqlglot keeps as a bare Command that only read: SHOW t (EXPLAIN is judged by what it explains).
READING_COMMANDS = frozenset({"SHOW"})
# Nodes that are statements of their own, or make one write; none may sit inside a read (an ML.* input included).
STATEMENTS = (
    exp.Into, exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.Command, exp.Attach, exp.Detach, exp.Install, exp.Set,
    exp.Pragma, exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Export, exp.Analyze, exp.Cache, exp.Uncache,
    exp.Refresh, exp.Grant, exp.Revoke, exp.TruncateTable, exp.LoadData, exp.Comment, exp.Declare,
)
HINT = ("build tables with a model file and `toolkit build`; remove a model with DROP MODEL m, the one writing "
        "statement it runs; for files, extensions and settings use the DuckDB CLI (duckdb <warehouse>)")


def read_statement(sql: str, dialect: str = DEFAULT_DIALECT) -> exp.Expression:
    """The one statement of `sql` (in `dialect`), parsed, when it only reads; otherwise a ToolkitError saying
    what it would do."""
    statements = _parsed(sql, dialect)
    if len(statements) != 1:
        raise refused(f"this SQL holds {len(statements)} statements")
    _check(statements[0])
    return statements[0]


def drop_model_statement(sql: str, dialect: str = DEFAULT_DIALECT) -> exp.Drop | None:
    """`sql` parsed when it is one DROP MODEL [IF EXISTS] statement of one model; None when it is anything else."""
    statements = _parsed(sql, dialect)
    if len(statements) != 1 or not _drops_model(statements[0]):
        if any(_drops_model(statement) for statement in statements):
            raise refused("DROP MODEL runs as a statement of its own")
        return None
    drop = statements[0]
    if len(drop.args.get("tables") or []) != 1:
        raise ToolkitError("DROP MODEL drops one model", hint="write one DROP MODEL statement per model")
    return drop


def _drops_model(statement: exp.Expression) -> bool:
    return isinstance(statement, exp.Drop) and str(statement.args.get("kind") or "").upper() == "MODEL"


def refused(reason: str) -> ToolkitError:
    """The refusal of a statement that is not one read, with `reason` saying why."""
    return ToolkitError(f"toolkit query runs one read-only statement; {reason}", hint=HINT)


def _check(statement: exp.Expression) -> None:
    if _command(statement) == "EXPLAIN":
        explained = _parsed(_explained_sql(statement))
        if len(explained) != 1:
            raise refused("EXPLAIN explains one statement")
        _check(explained[0])
        return
    if not isinstance(statement, READS) and _command(statement) not in READING_COMMANDS:
        raise refused(_effect(statement))
    inner = next((node for node in statement.walk() if node is not statement and isinstance(node, STATEMENTS)), None)
    if inner is not None:
        raise refused(_effect(inner))


def _explained_sql(command: exp.Expression) -> str:
    """The statement after EXPLAIN [ANALYZE]."""
    argument = command.expression
    text = argument.name if isinstance(argument, exp.Expression) else str(argument or "")
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(text)
    if tokens and tokens[0].token_type is TokenType.ANALYZE:
        return text[tokens[1].start:] if len(tokens) > 1 else ""
    return text


def _command(statement: exp.Expression) -> str | None:
    """The keyword of a statement sqlglot parsed as a bare Command (EXPLAIN, LOAD, CALL, …)."""
    return statement.name.upper() if isinstance(statement, exp.Command) else None


def _effect(statement: exp.Expression) -> str:
    """What the statement would do, for the refusal."""
    if isinstance(statement, exp.Copy):
        return "COPY … FROM loads a file into a table" if statement.args.get("kind") else "COPY … TO writes a file"
    if isinstance(statement, exp.Create):
        kind = statement.args.get("kind")
        return f"CREATE {kind} writes to the warehouse" if kind else "CREATE writes to the warehouse"
    effects = {
        exp.Insert: "INSERT changes rows", exp.Update: "UPDATE changes rows", exp.Delete: "DELETE changes rows",
        exp.Merge: "MERGE changes rows", exp.Drop: "DROP removes a relation", exp.Alter: "ALTER changes a relation",
        exp.Attach: "ATTACH opens another database", exp.Detach: "DETACH closes a database",
        exp.Install: "INSTALL downloads an extension", exp.Set: "SET changes a setting",
        exp.Pragma: "PRAGMA changes settings or runs a procedure", exp.Use: "USE changes the default schema",
        exp.Export: "EXPORT writes files", exp.Into: "SELECT … INTO creates a table",
    }
    for kind, effect in effects.items():
        if isinstance(statement, kind):
            return effect
    keyword = _command(statement)
    commands = {"LOAD": "LOAD loads an extension", "CALL": "CALL runs a procedure", "RESET": "RESET changes a setting"}
    if keyword is not None:
        return commands.get(keyword, f"{keyword} is not a read")
    return f"{statement.sql(dialect=DIALECT).split(maxsplit=1)[0].upper()} is not a read"  # e.g. CHECKPOINT


def _parsed(sql: str, dialect: str = DEFAULT_DIALECT) -> list[exp.Expression]:
    try:
        with quiet_fallbacks():
            return [statement for statement in sqlglot.parse(sql, read=DIALECTS[dialect]) if statement is not None]
    except ParseError as error:
        raise ToolkitError(f"SQL syntax error: {error.errors[0]['description'] if error.errors else error}") from None
    except TokenError as error:  # sqlglot says where tokenizing stopped ("Missing ' from 1:8") in the cause
        raise ToolkitError(f"SQL syntax error: {error.__cause__ or error}",
                           hint="is a quote or comment left open?") from None
