"""Tables that fit the console without cutting a name: wrap the columns that hold lists or prose at their spaces,
leave out the least needed columns when that is not enough, and fall back to one record per line when even the
needed ones do not fit. Nothing is ever ellipsised (`…`): a cell is shown whole or its column is not shown."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

Cell = str | Text


@dataclass(frozen=True)
class Column:
    header: str
    align: str = "left"
    wrap: bool = False  # may break at its spaces (lists, metrics, messages); a name never does
    drop: int | None = None  # None: always shown; otherwise left out, lowest first, when the table is too wide


def left(header: str, *, wrap: bool = False, drop: int | None = None) -> Column:
    return Column(header, "left", wrap, drop)


def right(header: str, *, drop: int | None = None) -> Column:
    return Column(header, "right", False, drop)


def _plain(cell: Cell) -> str:
    return cell.plain if isinstance(cell, Text) else cell


def _least_width(column: Column, cells: Sequence[Cell]) -> int:
    """The narrowest the column can be with no word cut: its longest word when it wraps, else its longest line."""
    texts = [column.header, *map(_plain, cells)]
    if column.wrap:
        return max((cell_len(word) for text in texts for word in text.split()), default=1)
    return max(cell_len(line) for text in texts for line in (text.splitlines() or [""]))


def _table_width(widths: Sequence[int]) -> int:
    return sum(widths) + 3 * len(widths) + 1  # one space of padding each side, a border between and around


def _table(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], title: str | None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column.header, justify=column.align, no_wrap=not column.wrap, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _folded(segment: Text, first: int, room: int) -> list[Text]:
    """`segment` in pieces of at most `first` then `room` cells, broken after a space where it can be."""
    pieces, start, limit = [], 0, first
    text = segment.plain
    while len(text) - start > limit:
        cut = text.rfind(" ", start, start + limit + 1)
        end = cut + 1 if cut > start else start + limit
        piece = segment[start:end]
        piece.rstrip()  # in place
        pieces.append(piece)
        start, limit = end, room
    return [*pieces, segment[start:]]


def record_lines(segments: Sequence[Text], width: int, indent: int = 4) -> Text:
    """`segments` on one line, two spaces apart, continuing on indented lines where the next would overflow `width`:
    a segment is broken only when it is wider than a whole line (then after its spaces, each piece indented)."""
    room = max(width - indent, 1)
    line, used = Text(), 0
    for index, segment in enumerate(segment for segment in segments if segment.plain):
        pieces = _folded(segment, width if index == 0 else room, room)
        for piece in pieces:
            if used and used + 2 + piece.cell_len > width:
                line += Text("\n" + " " * indent)
                used = indent
            elif used:
                line += Text("  ")
                used += 2
            line += piece
            used += piece.cell_len
    return line


Record = Callable[[Sequence[Cell]], Sequence[Text]]


def fitted(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int, *, title: str | None = None,
    record: Record | None = None,
) -> RenderableType:
    """The table with as many of `columns` as fit `width`, leaving out those of lowest `drop` first; when even the
    always-shown columns do not fit, one record per row (the segments `record(row)` gives), else the table."""
    least = [_least_width(column, [row[index] for row in rows]) for index, column in enumerate(columns)]
    shown = list(range(len(columns)))
    droppable = sorted((column.drop, index) for index, column in enumerate(columns) if column.drop is not None)
    while _table_width([least[index] for index in shown]) > width and droppable:
        shown.remove(droppable.pop(0)[1])
    if _table_width([least[index] for index in shown]) > width and record is not None:
        lines = [Text(title, style="italic")] if title else []
        return Group(*lines, *(record_lines(record(row), width) for row in rows))
    table = _table([columns[index] for index in shown], [[row[index] for index in shown] for row in rows], title)
    left_out = [columns[index].header for index in range(len(columns)) if index not in shown]
    if not left_out:
        return table
    note = Text(f"(not shown at {width} columns: {', '.join(left_out)}; --output json has all)", style="dim")
    return Group(table, note)


def print_fitted(console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], *,
                 title: str | None = None, record: Record | None = None) -> None:
    console.print(fitted(columns, rows, console.width, title=title, record=record))


def print_rows(console: Console, names: Sequence[str], rows: Sequence[Sequence[object]], title: str | None = None,
               ) -> None:
    """Rows of a cursor as a table fitting the console, values wrapped rather than cut, and their count."""
    columns = [left(name, wrap=True) for name in names]
    print_fitted(console, columns, [["NULL" if value is None else str(value) for value in row] for row in rows],
                 title=title)
    console.print(f"{len(rows)} row(s)", style="dim")
