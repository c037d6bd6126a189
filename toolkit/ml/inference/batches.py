"""Batches of the Python path: input batches gathered into chunks whose design matrix takes about 64 MB, predicted
on every core at once (scikit-learn's tree walks and numpy's products release the GIL), and returned in order.
At most `workers + 1` chunks are in flight, so memory stays bounded however many rows stream through."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from toolkit.progress import Counter

CHUNK_BYTES = 64 * 2**20  # of design matrix per chunk
MIN_CHUNK_ROWS, MAX_CHUNK_ROWS = 65_536, 1_048_576


def chunk_rows(width: int, itemsize: int = 8) -> int:
    """Rows per chunk for a design matrix `width` columns wide."""
    return max(MIN_CHUNK_ROWS, min(MAX_CHUNK_ROWS, CHUNK_BYTES // max(1, width * itemsize)))


def chunks(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.Table]:
    """The batches gathered into tables of at least `rows` rows (the last may be shorter)."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield pa.Table.from_batches(pending)
            pending, count = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def in_parallel(function: Callable[[pa.Table], pa.RecordBatch], tables: Iterable[pa.Table],
                workers: int | None = None) -> Iterator[pa.RecordBatch]:
    """`function` of every table, computed on `workers` threads (default: one per core), yielded in order."""
    workers = workers or _cores()
    chunk = Counter("chunks")  # a step of the build's progress per chunk handed on
    with ThreadPoolExecutor(max_workers=workers) as pool:
        running: deque[Future] = deque()
        for table in tables:
            running.append(pool.submit(function, table))
            if len(running) > workers:
                yield chunk.counted(running.popleft().result())
        while running:
            yield chunk.counted(running.popleft().result())


def one_batch(table: pa.Table) -> pa.RecordBatch:
    batches = table.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
