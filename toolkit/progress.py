"""Progress of long work inside a node: training iterations, prediction chunks. Code that loops calls
`advance(...)` once a step; whoever runs the work (the build runner) installs a listener with `reporting(...)`
for as long as a node runs. Without a listener `advance` does nothing, so library code can call it anywhere.

The listener is process-wide, not per thread: ML.PREDICT's chunks are computed on worker threads and consumed on
whichever thread DuckDB reads the stream from, and each of those steps belongs to the node being built."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Step:
    """One step of long work: `done` of `total` (None when the total is not known) `unit`s, e.g. 12 of 50
    "iterations"; `rows` counts the rows handled so far when the steps are chunks of rows."""

    unit: str
    done: int
    total: int | None = None
    rows: int | None = None

    def describe(self) -> str:
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        return f"{self.unit} {count}" + (f" ({self.rows:,} rows)" if self.rows is not None else "")


Listener = Callable[[Step], None]
_lock = threading.Lock()
_listeners: list[Listener] = []


def advance(unit: str, done: int, total: int | None = None, rows: int | None = None) -> None:
    """Tell the current listener (if any) that `done` of `total` `unit`s are finished."""
    with _lock:
        listener = _listeners[-1] if _listeners else None
    if listener is not None:
        listener(Step(unit, done, total, rows))


@contextmanager
def reporting(listener: Listener) -> Iterator[None]:
    """Send every `advance` to `listener` until the block ends (the listener before it is restored after)."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


class Counter:
    """Numbers the steps of a stream whose total is unknown: `counter.step(rows)` once per chunk."""

    def __init__(self, unit: str) -> None:
        self.unit, self.done, self.rows = unit, 0, 0

    def step(self, rows: int) -> None:
        self.done += 1
        self.rows += rows
        advance(self.unit, self.done, None, self.rows)

    def counted(self, batch: Any) -> Any:
        """`batch` (anything with `num_rows`, e.g. a pyarrow RecordBatch) after counting it as one step."""
        self.step(batch.num_rows)
        return batch
