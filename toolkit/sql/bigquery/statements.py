"""The statements of a BigQuery script a model file cannot hold, refused by their first keyword with what to write
instead: a model file is one query (or CREATE MODEL), after any CREATE TEMP FUNCTIONs; the toolkit materializes it."""

from __future__ import annotations

from toolkit.sql.bigquery.refusal import Untranslatable

_SCRIPTING_HINT = ("a model file holds one query, which the toolkit materializes; put values in [tool.toolkit.vars] "
                   "and read them with {{ var('name') }}, and put steps in model files of their own, joined by ref()")
_DML_HINT = ("write the SELECT whose rows the table should hold: the toolkit creates and replaces the node's table "
             "itself, atomically")

# first keyword → (what it is, what to write instead)
REFUSED: dict[str, tuple[str, str]] = {
    **{keyword: (f"{keyword} (BigQuery scripting)", _SCRIPTING_HINT) for keyword in (
        "DECLARE", "SET", "BEGIN", "END", "IF", "LOOP", "WHILE", "REPEAT", "FOR", "BREAK", "LEAVE", "CONTINUE",
        "ITERATE", "RETURN", "RAISE", "CALL", "EXCEPTION")},
    "EXECUTE": ("EXECUTE IMMEDIATE (dynamic SQL)", "generate the SQL with Jinja instead: loops, macros and var()"),
    "ASSERT": ("ASSERT", "declare the check as an assertion: {{ config(assertions=[…]) }} or a file with "
                         "{{ config(materialized='assertion') }} that selects the failing rows"),
    **{keyword: (f"{keyword} (DML)", _DML_HINT) for keyword in ("INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE")},
    "EXPORT": ("EXPORT DATA", "build the table here; read it with any DuckDB client, or COPY it from the DuckDB CLI"),
    "LOAD": ("LOAD DATA", "declare the table as a source in [tool.toolkit.sources] and read it with source()"),
    "DROP": ("DROP", "delete the model file: the toolkit manages the relations of its nodes"),
    "ALTER": ("ALTER", "change the model file: the toolkit rebuilds the relation"),
}


def refuse(keyword: str, line: int | None) -> Untranslatable | None:
    """The refusal of a statement starting with `keyword`, or None when it is not one refused here."""
    found = REFUSED.get(keyword.upper())
    if found is None:
        return None
    what, hint = found
    return Untranslatable(f"{what} is not supported in a model file", hint=hint, line=line)
