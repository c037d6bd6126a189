"""SQL: the project's dialect (DuckDB, extended with BigQuery ML's forms) and quoting helpers."""
