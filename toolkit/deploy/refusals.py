"""What will not run on BigQuery, found before anything is written: DuckDB-only syntax and functions, types
BigQuery lacks (HUGEINT/INT128 arithmetic), and what sqlglot reports it cannot generate. Each problem names the
file and, where the SQL carries one, the line."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.tokens import TokenType

from toolkit.deploy.catalog import BIGQUERY_FUNCTIONS, DATE_PARTS, TYPES
from toolkit.deploy.dialect import DeployBigQuery
from toolkit.errors import Location
from toolkit.sql.ml_nodes import MLFunction, MLPreprocess
from toolkit.warehouse.farmhash_sql import MACRO_NAME as FINGERPRINT_MACRO

_INT64_MAX = 2**63 - 1
_FUNCTION_HINT = "rewrite it with functions both engines have (see BigQuery's function list), or write the file in " \
                 "BigQuery's dialect with {{ config(dialect='bigquery') }}"
_HINTS = {
    FINGERPRINT_MACRO: "call FARM_FINGERPRINT(…), which BigQuery has built in (and the warehouse too)",
    "row": "name the fields: STRUCT(a, b), or struct_pack(a := a, b := b)",
}
# DuckDB-only syntax sqlglot passes through to BigQuery unchanged → what it is.
_SYNTAX: dict[type[exp.Expression], str] = {
    exp.Columns: "COLUMNS(…), DuckDB's star expression",
    exp.Comprehension: "a list comprehension [… FOR x IN …]",
    exp.Lambda: "a lambda (x -> …), e.g. of list_transform or list_filter",
    exp.Describe: "DESCRIBE",
    exp.RegexpFullMatch: "regexp_full_match with options",
}


@dataclass(frozen=True)
class Problem:
    """Something in a node that would not run on BigQuery."""

    location: Location
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.location}: {self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


def version_problems(tree: exp.Expression) -> list[tuple[exp.Expression, str, str | None]]:
    """(node, what, hint) for each ML.* call selecting a model version, STRUCT(n AS version): a toolkit
    extension, as BigQuery keeps one version of a model and has no such setting."""
    found: list[tuple[exp.Expression, str, str | None]] = []
    for call in tree.find_all(MLFunction):
        struct = call.args.get("settings")
        fields = struct.expressions if isinstance(struct, exp.Struct) else []
        if any(isinstance(f, (exp.PropertyEQ, exp.Alias)) and f.name.lower() == "version" for f in fields):
            found.append((call, f"ML.{call.name.upper()}(… STRUCT(… AS version)) selects a stored model version, a "
                                "toolkit extension: BigQuery keeps only the model's latest training and has no "
                                "version setting", "leave version out of the STRUCT; on BigQuery, keep an older "
                                                   "model under a name of its own"))
    return found


# CREATE MODEL options of the toolkit's own (TOOLKIT_…), which BigQuery ML rejects as unknown → what to do instead.
_OPTION_HINTS = {
    "TOOLKIT_FALSE_NEGATIVE_COST": "on BigQuery, tune towards one of its objectives (e.g. HPARAM_TUNING_OBJECTIVES = "
                                   "['LOG_LOSS']) without the costs, and decide with the cost_optimal_threshold macro",
}
_OPTION_HINTS["TOOLKIT_FALSE_POSITIVE_COST"] = _OPTION_HINTS["TOOLKIT_FALSE_NEGATIVE_COST"]


def extension_problems(tree: exp.Expression) -> list[tuple[exp.Expression, str, str | None]]:
    """(node, what, hint) for each toolkit extension in either dialect: a STRUCT(n AS version) setting, and each
    CREATE MODEL option of the toolkit's own (TOOLKIT_DESCENT_CHUNK_ROWS, the costs of TOOLKIT_EXPECTED_COST)."""
    found = version_problems(tree)
    for create in tree.find_all(exp.Create):
        properties = create.args.get("properties")
        if str(create.args.get("kind") or "").upper() != "MODEL" or properties is None:
            continue
        for option in properties.expressions:
            name = option.name.upper() if isinstance(option, exp.Property) else ""
            if name.startswith("TOOLKIT_"):
                found.append((option, f"CREATE MODEL option {name} is the toolkit's own, not BigQuery ML's, which "
                                      "rejects it", _OPTION_HINTS.get(name, f"remove {name} from the OPTIONS")))
    return found


def tree_problems(tree: exp.Expression) -> list[tuple[exp.Expression, str, str | None]]:
    """(node, what, hint) for each construct of a (translated) DuckDB tree that BigQuery has no counterpart of."""
    found: list[tuple[exp.Expression, str, str | None]] = extension_problems(tree)
    for node in tree.walk(bfs=False):
        if type(node) in _SYNTAX:
            found.append((node, f"{_SYNTAX[type(node)]} is DuckDB-only", _FUNCTION_HINT))
        elif isinstance(node, (exp.PercentileCont, exp.PercentileDisc)) and not isinstance(node.parent, exp.Window):
            found.append((node, "quantile_cont/quantile_disc as an aggregate: BigQuery's PERCENTILE_CONT is a "
                                "window function only", "use APPROX_QUANTILES, or PERCENTILE_CONT(x, p) OVER ()"))
        elif isinstance(node, exp.Extract) and node.name.lower() not in DATE_PARTS:
            found.append((node, f"EXTRACT({node.name.upper()} FROM …) has no BigQuery date part of that name",
                          "extract one of " + ", ".join(sorted(DATE_PARTS))))
        elif isinstance(node, exp.DataType) and not isinstance(node.parent, exp.DataType):
            found += [(node, message, hint) for message, hint in _type_problems(node)]
        elif isinstance(node, exp.Literal) and not node.is_string and node.name.isdigit() \
                and int(node.name) > _INT64_MAX:
            found.append((node, f"the integer {node.name} is a HUGEINT: BigQuery's integers are 64-bit",
                          "use NUMERIC/BIGNUMERIC arithmetic (CAST(… AS DECIMAL(38, 0)))"))
    return found


def _type_problems(node: exp.DataType) -> list[tuple[str, str]]:
    problems = []
    for item in node.walk():
        if isinstance(item, exp.DataType) and not item.is_type(exp.DataType.Type.USERDEFINED):
            written = item.sql(dialect=DeployBigQuery)
            name = written.split("<")[0].split("(")[0].strip().lower()
            if name not in TYPES:
                problems.append((f"the type {item.sql(dialect='duckdb')} (on BigQuery {written}) does not exist "
                                 "there: HUGEINT/INT128 and unsigned arithmetic, MAP, UNION, … are DuckDB's",
                                 "cast to INT64, NUMERIC or BIGNUMERIC, FLOAT64, STRING, ARRAY or STRUCT"))
    return problems


_CREATE_MODEL_WORDS = ("options", "transform", "hparam_range", "hparam_candidates")


def unknown_functions(sql: str) -> list[str]:
    """The functions a generated BigQuery statement calls that BigQuery has not: names followed by `(`, not
    qualified (ML.PREDICT, SAFE.…), not an alias's column list (`AS t(a, b)`)."""
    tokens = DeployBigQuery().tokenize(sql)
    names = []
    for previous, token, following in zip([None, *tokens], tokens, [*tokens[1:], None]):
        if following is None or following.token_type != TokenType.L_PAREN or token.token_type != TokenType.VAR:
            continue
        if previous is not None and previous.token_type in (TokenType.DOT, TokenType.ALIAS):
            continue
        # OPTIONS(…), TRANSFORM(…) and the tuning search spaces of CREATE MODEL are syntax, not functions
        if token.text.lower() not in BIGQUERY_FUNCTIONS and token.text.lower() not in _CREATE_MODEL_WORDS:
            names.append(token.text)
    return list(dict.fromkeys(names))


def function_problem(name: str, tree: exp.Expression) -> tuple[exp.Expression | None, str, str]:
    """The refusal of a call to `name`, placed at the first node of `tree` generating it."""
    prefix = f"{name.upper()}("
    node = next((item for item in tree.walk(bfs=False) if isinstance(item, exp.Func)
                 and not isinstance(item, (MLFunction, MLPreprocess))
                 and item.sql(dialect=DeployBigQuery).upper().startswith(prefix)), None)
    what = "the toolkit's pure-SQL fingerprint macro" if name.lower() == FINGERPRINT_MACRO else f"{name}()"
    hint = _HINTS.get(name.lower(), _FUNCTION_HINT)
    return node, f"{what} is DuckDB's: BigQuery has no function {name.upper()}", hint
