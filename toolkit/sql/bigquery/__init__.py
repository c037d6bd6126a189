"""BigQuery's SQL in a DuckDB warehouse: model files written in BigQuery's dialect are parsed with it
(`toolkit.sql.dialect.ToolkitBigQuery`) and translated here into statements DuckDB runs with BigQuery's results.

- `names`: backtick names (`project.dataset.table`) to the warehouse's schemas, and back for deploying;
- `functions`: CREATE TEMP FUNCTION with a SQL body, expanded where it is called, as a DuckDB macro is;
- `rules`: one small rule per place where DuckDB's semantics differ from BigQuery's (a table, by node type);
- `macros`: the rules' dispatches on an argument's type, as DuckDB macros registered on every connection;
- `refusal`: the error every rule raises for what has no faithful translation, with its line;
- `statements`: what stays unsupported (scripting, DML, JavaScript UDFs, …), refused by name with what to write;
- `translate`: the order the above run in, for one statement (`toolkit.sql.translation` picks it by dialect)."""

from toolkit.sql.bigquery.refusal import Untranslatable
from toolkit.sql.bigquery.translate import to_duckdb

__all__ = ["Untranslatable", "to_duckdb"]
