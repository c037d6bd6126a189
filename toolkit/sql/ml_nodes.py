"""BigQuery ML's functions as sqlglot nodes: the names, the `MLFunction` and `MLPreprocess` nodes and their parsers
(registered in the dialect's FUNCTION_PARSERS). Imports no dialect, so the dialect can import it."""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.tokens import TokenType

from toolkit.errors import did_you_mean

# The table functions, by name without the ML. prefix.
TABLE_FUNCTION_NAMES = (
    "PREDICT", "EVALUATE", "CONFUSION_MATRIX", "ROC_CURVE", "TRAINING_INFO", "FEATURE_INFO", "WEIGHTS",
    "CENTROIDS", "FEATURE_IMPORTANCE", "EXPLAIN_PREDICT", "GLOBAL_EXPLAIN", "TRANSFORM", "ADVANCED_WEIGHTS",
    "PRINCIPAL_COMPONENTS", "PRINCIPAL_COMPONENT_INFO", "DETECT_ANOMALIES", "TRIAL_INFO",
)
# The table functions over data, not a model: their first argument is a table, `TABLE t` or `(query)`.
DATA_FUNCTION_NAMES = ("DESCRIBE_DATA", "VALIDATE_DATA_DRIFT")
# The monitoring functions over a model and data, written like the table functions: ML.<this>(MODEL m, TABLE t, …).
MODEL_DATA_FUNCTION_NAMES = ("VALIDATE_DATA_SKEW",)


# The preprocessing functions, by name without the ML. prefix: scalar ones, and analytic ones (written with OVER ()).
SCALAR_PREPROCESSING_NAMES = (
    "BUCKETIZE", "FEATURE_CROSS", "HASH_BUCKETIZE", "NORMALIZER", "POLYNOMIAL_EXPAND", "NGRAMS",
    "DISTANCE", "LP_NORM",
)
ANALYTIC_PREPROCESSING_NAMES = (
    "QUANTILE_BUCKETIZE", "STANDARD_SCALER", "MIN_MAX_SCALER", "MAX_ABS_SCALER", "ROBUST_SCALER",
    "ONE_HOT_ENCODER", "LABEL_ENCODER", "IMPUTER", "MULTI_HOT_ENCODER", "BAG_OF_WORDS", "TF_IDF",
)
PREPROCESSING_NAMES = SCALAR_PREPROCESSING_NAMES + ANALYTIC_PREPROCESSING_NAMES
ML_NAMES = TABLE_FUNCTION_NAMES + DATA_FUNCTION_NAMES + MODEL_DATA_FUNCTION_NAMES + PREPROCESSING_NAMES

# BigQuery ML's functions the toolkit does not emulate, with what they need that it lacks: named as such, not as typos.
_REMOTE = "a remote model on Vertex AI or a Cloud AI service"
NOT_EMULATED_FUNCTIONS = {
    **dict.fromkeys(("GENERATE_TEXT", "GENERATE_EMBEDDING", "GENERATE_TEXT_EMBEDDING", "GENERATE_TABLE",
                     "UNDERSTAND_TEXT", "TRANSLATE", "PROCESS_DOCUMENT", "TRANSCRIBE", "ANNOTATE_IMAGE"), _REMOTE),
    **dict.fromkeys(("FORECAST", "EXPLAIN_FORECAST", "ARIMA_EVALUATE", "ARIMA_COEFFICIENTS", "HOLIDAY_INFO"),
                    "an ARIMA_PLUS time-series model"),
    "RECOMMEND": "a MATRIX_FACTORIZATION model",
    "RECONSTRUCTION_LOSS": "an AUTOENCODER model",
    "GET_INSIGHTS": "a CONTRIBUTION_ANALYSIS model",
    **dict.fromkeys(("TFDV_DESCRIBE", "TFDV_VALIDATE"),
                    "TensorFlow Data Validation's statistics; ML.DESCRIBE_DATA, ML.VALIDATE_DATA_DRIFT and "
                    "ML.VALIDATE_DATA_SKEW make the same checks"),
    **dict.fromkeys(("FEATURES_AT_TIME", "ENTITY_FEATURES_AT_TIME"), "BigQuery's feature-store tables"),
    **dict.fromkeys(("DECODE_IMAGE", "CONVERT_COLOR_SPACE", "CONVERT_IMAGE_TYPE", "RESIZE_IMAGE"),
                    "images in object tables, for imported TensorFlow models"),
}


class MLFunction(exp.Expression):
    """ML.<this>(MODEL <model> [, <input>] [, <settings>]); ML.ROC_CURVE's thresholds may come as an array
    instead, `[0.4, 0.5]` or GENERATE_ARRAY(0.4, 0.6, 0.01), as BigQuery writes them. A data function
    (DATA_FUNCTION_NAMES) has no model: ML.<this>(<input> [, <inputs>…] [, <settings>]), its inputs after the
    first (ML.VALIDATE_DATA_DRIFT's study table) in `inputs`."""

    arg_types = {"this": True, "model": False, "input": False, "inputs": False, "settings": False, "array": False}


_ARRAYS = ("GENERATE_ARRAY", "ARRAY", "GENERATE_SERIES")


def parse_ml_function(parser: Any, name: str) -> MLFunction:
    """The arguments after `ML.NAME(`: MODEL name (a data function: its input instead), then a `(query)`,
    `TABLE t` or table name, then a STRUCT."""
    found: dict[str, exp.Expression] = {}
    if name in DATA_FUNCTION_NAMES:
        if parser._match(TokenType.MODEL):
            parser.raise_error(f"ML.{name} reads a table, not a model: ML.{name}(TABLE t | (SELECT …), STRUCT(…))")
        found["input"] = _parse_input(parser)
        model = None
    elif not parser._match(TokenType.MODEL):
        parser.raise_error(f"ML.{name} takes MODEL <name> as its first argument")
    else:
        model = parser._parse_table_parts()
    while parser._match(TokenType.COMMA):
        if parser._match(TokenType.STRUCT, advance=False) or parser._curr.text.upper() == "STRUCT":
            found["settings"] = parser._parse_bitwise()
        elif parser._match(TokenType.L_BRACKET, advance=False) or parser._curr.text.upper() in _ARRAYS:
            found["array"] = parser._parse_bitwise()
        elif model is None:
            found.setdefault("inputs", []).append(_parse_input(parser))
        else:
            found["input"] = _parse_input(parser)
    return parser.expression(MLFunction(this=exp.var(name), model=model, **found))


def _parse_input(parser: Any) -> exp.Expression:
    """`TABLE t`, `(query)` or a table name."""
    if parser._match(TokenType.TABLE):
        return parser._parse_table_parts()
    return parser._parse_table()


class MLPreprocess(exp.Expression, exp.Func):
    """ML.<this>(<expressions>): a preprocessing function call, arguments as written (positional or `name => value`).
    An analytic one is the `this` of an `exp.Window` holding its OVER ()."""

    arg_types = {"this": True, "expressions": False}

    @property
    def is_analytic(self) -> bool:
        return self.name.upper() in ANALYTIC_PREPROCESSING_NAMES


def parse_ml_preprocess(parser: Any) -> exp.Expression | None:
    """At `ML . NAME (` with NAME a preprocessing function: the call (with its OVER (…), if any); otherwise None
    and nothing consumed. Hooked in before the parser reads a column, where `ML.NAME(` would otherwise begin."""
    tokens, index = parser._tokens, parser._index
    if not (
        index + 3 < len(tokens)
        and tokens[index].text.upper() == "ML"
        and tokens[index].token_type in (TokenType.VAR, TokenType.IDENTIFIER)
        and tokens[index + 1].token_type == TokenType.DOT
        and tokens[index + 2].text.upper() in PREPROCESSING_NAMES
        and tokens[index + 3].token_type == TokenType.L_PAREN
    ):
        return None
    name = tokens[index + 2]
    parser._advance(4)
    arguments = [] if parser._match(TokenType.R_PAREN, advance=False) else parser._parse_csv(parser._parse_lambda)
    parser._match_r_paren()
    call = parser.expression(MLPreprocess(this=exp.var(name.text.upper()), expressions=arguments))
    call.update_positions(name)
    return parser._parse_column_ops(parser._parse_window(call))


def check_ml_prefix(parser: Any) -> None:
    """Before a function call: `ML.<unknown>(` is an error with a did-you-mean, not a mystery later; a
    preprocessing function where a table is expected is an error too."""
    tokens, index = parser._tokens, parser._index
    name = parser._curr
    if (
        index >= 2
        and tokens[index - 1].token_type == TokenType.DOT
        and tokens[index - 2].text.upper() == "ML"
        and parser._next is not None
        and parser._next.token_type == TokenType.L_PAREN
        and name.text.upper() not in TABLE_FUNCTION_NAMES + DATA_FUNCTION_NAMES + MODEL_DATA_FUNCTION_NAMES
    ):
        upper = name.text.upper()
        if upper in PREPROCESSING_NAMES:
            parser.raise_error(f"ML.{upper} is a preprocessing function: call it in a SELECT list or in "
                               "TRANSFORM(…), not where a table is expected")
        if upper in NOT_EMULATED_FUNCTIONS:
            parser.raise_error(f"ML.{upper} is a BigQuery ML function the toolkit does not emulate: it needs "
                               f"{NOT_EMULATED_FUNCTIONS[upper]}")
        known = [f"ML.{n}" for n in ML_NAMES]
        parser.raise_error(f"unknown function ML.{upper}{did_you_mean(f'ML.{upper}', known)}")
