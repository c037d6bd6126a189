"""The dialect model files are written in: DuckDB's SQL, extended sqlglot's way (tables of overrides)
with BigQuery ML's statements and functions as later features add them."""

from __future__ import annotations

from sqlglot.dialects.duckdb import DuckDB


class Toolkit(DuckDB):
    """DuckDB plus BigQuery ML's forms. Each addition overrides one of DuckDB's tables
    (`Parser.FUNCTIONS`, `Parser.STATEMENT_PARSERS`, `Generator.TRANSFORMS`, …)."""

    class Tokenizer(DuckDB.Tokenizer):
        pass

    class Parser(DuckDB.Parser):
        pass

    class Generator(DuckDB.Generator):
        pass


DIALECT = Toolkit
