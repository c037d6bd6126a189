"""The dialect model files are written in: DuckDB's SQL, extended sqlglot's way (tables of overrides)
with BigQuery ML's statements and functions."""

from __future__ import annotations

from sqlglot.dialects.duckdb import DuckDB
from sqlglot.tokens import TokenType


class Toolkit(DuckDB):
    """DuckDB plus BigQuery ML's forms. Each addition overrides one of DuckDB's tables."""

    class Tokenizer(DuckDB.Tokenizer):
        # CREATE MODEL: `model` stays usable as an ordinary identifier elsewhere.
        KEYWORDS = {**DuckDB.Tokenizer.KEYWORDS, "MODEL": TokenType.MODEL}

    class Parser(DuckDB.Parser):
        # CREATE MODEL … OPTIONS(key = value, …); TRANSFORM(…) is already a property of the base parser.
        PROPERTY_PARSERS = {**DuckDB.Parser.PROPERTY_PARSERS, "OPTIONS": lambda self: self._parse_with_property()}

    class Generator(DuckDB.Generator):
        pass


DIALECT = Toolkit
