"""A query's rows in the format asked for. `table` is DuckDB's own box renderer (the one its CLI draws): middle
columns elided (`…`) to fit the width, the first and last rows when there are more than `max_rows`, a footer with
the row count. The text formats hold DuckDB's own text of each value (`true`/`false`, `[1, 2]`, `{'a': 1}`), as
its CSV writer does; JSON is DuckDB's `to_json` of each row. The DuckDB CLI's output modes (duckbox, line,
csv, json, jsonlines, markdown): https://duckdb.org/docs/stable/clients/cli/output_formats"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Callable

import duckdb
from rich.cells import cell_len

DEFAULT_MAX_ROWS = 40  # as the DuckDB CLI: the first and last 20 rows of a longer result
BOX_LIMIT = 10_000  # the rows DuckDB's renderer reads at most; a longer result's count shows as "? rows"
NULL = "NULL"
EXPLAIN_COLUMNS = ["explain_key", "explain_value"]


def render_table(relation: duckdb.DuckDBPyRelation, max_width: int, max_rows: int = DEFAULT_MAX_ROWS) -> str:
    """The rows as DuckDB's box, with a row count under it when DuckDB's own footer gives none; a plan of EXPLAIN
    as its text, as the DuckDB CLI prints it. Narrower than the least box DuckDB draws (it keeps a few columns
    whatever the width), the rows as the DuckDB CLI's line mode writes them: one `column = value` a line."""
    if relation.columns == EXPLAIN_COLUMNS:
        return "".join(f"{plan.rstrip()}\n" for _key, plan in relation.fetchall())
    held = relation.limit(BOX_LIMIT).materialize()  # one execution: the box and the count read the same rows
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):  # DuckDB's Python relation prints its box with print()
        held.show(max_width=max_width, max_rows=max(max_rows, 1), null_value=NULL)
    box = captured.getvalue().rstrip("\n")
    count = held.shape[0]
    if max(map(cell_len, box.splitlines()), default=0) > max_width:
        return _line_mode(held, max_width, max_rows, count)
    if not _footer(box):
        box += f"\n  {_rows(count)}"
    return box + "\n"


def _rows(count: int) -> str:
    return f"{count:,} {'row' if count == 1 else 'rows'}" if count < BOX_LIMIT else f"more than {BOX_LIMIT - 1:,} rows"


def _line_mode(held: duckdb.DuckDBPyRelation, max_width: int, max_rows: int, count: int) -> str:
    names = held.columns
    label = max(map(len, names))
    room = max(max_width - label - 3, 8)
    lines: list[str] = []
    for row in _as_text(held.limit(max_rows)):
        for name, value in zip(names, row):
            text = NULL if value is None else value
            pieces = [text[start:start + room] for start in range(0, len(text), room)] or [""]
            lines.append(f"{name:>{label}} = {pieces[0]}")
            lines += [" " * (label + 3) + piece for piece in pieces[1:]]
        lines.append("")
    shown = min(count, max_rows)
    lines.append(_rows(count) + (f" ({shown} shown)" if shown < count else ""))
    return "\n".join(lines) + "\n"


def _footer(box: str) -> list[str]:
    lines = box.split("\n")
    closing = max((index for index, line in enumerate(lines) if line.startswith("└")), default=len(lines))
    return [line for line in lines[closing + 1:] if line.strip()]


def _as_text(relation: duckdb.DuckDBPyRelation) -> list[tuple[str | None, ...]]:
    """Every value as DuckDB writes it as text; NULL stays None."""
    return relation.select("CAST(COLUMNS(*) AS VARCHAR)").fetchall()


def render_csv(relation: duckdb.DuckDBPyRelation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(relation.columns)
    writer.writerows(tuple("" if value is None else value for value in row) for row in _as_text(relation))
    return out.getvalue()


def _json_rows(relation: duckdb.DuckDBPyRelation) -> list[str]:
    return [row[0] for row in relation.set_alias("__row").select("to_json(__row)").fetchall()]


def render_json(relation: duckdb.DuckDBPyRelation) -> str:
    rows = _json_rows(relation)
    return "[\n" + ",\n".join(f"  {row}" for row in rows) + "\n]\n" if rows else "[]\n"


def render_jsonl(relation: duckdb.DuckDBPyRelation) -> str:
    return "".join(f"{row}\n" for row in _json_rows(relation))


def _markdown_cell(value: str | None) -> str:
    return "" if value is None else value.replace("\\", "\\\\").replace("|", "\\|").replace("\n", "<br>")


def render_markdown(relation: duckdb.DuckDBPyRelation) -> str:
    """A GitHub table of DuckDB's text of each value; numbers right-aligned, NULL an empty cell."""
    numeric = [_is_numeric(str(kind)) for kind in relation.types]
    lines = ["| " + " | ".join(_markdown_cell(name) for name in relation.columns) + " |",
             "|" + "|".join("---:" if right else "---" for right in numeric) + "|"]
    lines += ["| " + " | ".join(_markdown_cell(value) for value in row) + " |" for row in _as_text(relation)]
    return "\n".join(lines) + "\n"


NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL")


def _is_numeric(kind: str) -> bool:
    return kind.upper().split("(")[0] in NUMERIC_TYPES


# Every format of `--format`, and how it writes a relation's rows (the table also needs the width and row cap).
TEXT_FORMATS: dict[str, Callable[[duckdb.DuckDBPyRelation], str]] = {
    "csv": render_csv, "json": render_json, "jsonl": render_jsonl, "markdown": render_markdown,
}
FORMATS = ["table", *TEXT_FORMATS]


def render_rows(relation: duckdb.DuckDBPyRelation, output: str, max_width: int, max_rows: int) -> str:
    if output == "table":
        return render_table(relation, max_width, max_rows)
    return TEXT_FORMATS[output](relation)
