"""The dialect model files are written in: DuckDB's SQL, extended sqlglot's way (tables of overrides)
with BigQuery ML's statements and functions."""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType

from toolkit.sql.ml_nodes import (
    TABLE_FUNCTION_NAMES,
    MLFunction,
    MLPreprocess,
    check_ml_prefix,
    parse_ml_function,
    parse_ml_preprocess,
)


def _ml_parser(name: str) -> Any:
    return lambda parser: parse_ml_function(parser, name)


class Toolkit(DuckDB):
    """DuckDB plus BigQuery ML's forms. Each addition overrides one of DuckDB's tables."""

    class Tokenizer(DuckDB.Tokenizer):
        # CREATE MODEL: `model` stays usable as an ordinary identifier elsewhere.
        KEYWORDS = {**DuckDB.Tokenizer.KEYWORDS, "MODEL": TokenType.MODEL}

    class Parser(DuckDB.Parser):
        # CREATE MODEL … OPTIONS(key = value, …); TRANSFORM(…) is already a property of the base parser.
        PROPERTY_PARSERS = {**DuckDB.Parser.PROPERTY_PARSERS, "OPTIONS": lambda self: self._parse_with_property()}
        # ML.PREDICT(MODEL m, …) and the other table functions, each an MLFunction node.
        FUNCTION_PARSERS = {**DuckDB.Parser.FUNCTION_PARSERS, **{n: _ml_parser(n) for n in TABLE_FUNCTION_NAMES}}

        # ML.BUCKETIZE(…), ML.STANDARD_SCALER(…) OVER () and the other preprocessing functions, each an MLPreprocess
        # node: read where a column would begin, since `ML.` looks like a qualifier to the base parser.
        def _parse_column(self) -> exp.Expression | None:
            return parse_ml_preprocess(self) or super()._parse_column()

        def _parse_function(self, *args: Any, **kwargs: Any) -> exp.Expression | None:
            if self._curr is not None:
                check_ml_prefix(self)
            return super()._parse_function(*args, **kwargs)

    class Generator(DuckDB.Generator):
        TRANSFORMS = {
            **DuckDB.Generator.TRANSFORMS,
            MLFunction: lambda self, e: "{}(MODEL {}{}{})".format(
                e.name.upper(),
                self.sql(e, "model"),
                f", {self.sql(e, 'input')}" if e.args.get("input") else "",
                f", {self.sql(e, 'settings')}" if e.args.get("settings") else "",
            ),
            MLPreprocess: lambda self, e: f"ML.{e.name.upper()}({self.expressions(e, flat=True)})",
        }


DIALECT = Toolkit
