"""Spread the per-file work of a large project over the machine's cores, keeping the files' order.

Rendering and parsing a file are pure functions of the file and the project, so a project of many files is cut
into one contiguous chunk per core and each chunk handled in a forked worker; results (plain data: rendered text,
nodes without parse trees) come back in order, and the first error raised is that of the earliest file, as in a
sequential run. Small projects, and platforms without fork, run in the calling process."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from typing import Any

PARALLEL_FROM = 200  # files: below this, starting workers costs more than it saves

# The work of the current map, set just before the workers are forked (they inherit it) and cleared after.
_work: tuple[Callable[[Any], Any], Callable[[], Any]] | None = None


def map_in_order(
    function: Callable[[Any], Any], items: Sequence[Any], collect: Callable[[], Any] = lambda: None
) -> tuple[list[Any], list[Any]]:
    """`function` over `items`, in order; and what `collect()` returns in each process that did work (for state a
    worker gathers on the side, such as compiled templates)."""
    global _work
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < PARALLEL_FROM or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [function(item) for item in items], [collect()]
    size = -(-len(items) // workers)
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    _work = (function, collect)
    try:
        with multiprocessing.get_context("fork").Pool(len(chunks)) as pool:
            done = pool.map(_run_chunk, chunks, chunksize=1)
    finally:
        _work = None
    for _, _, error in done:  # the earliest chunk's error, whichever worker finished first
        if error is not None:
            raise error
    return [result for results, _, _ in done for result in results], [side for _, side, _ in done]


def _run_chunk(chunk: Sequence[Any]) -> tuple[list[Any], Any, BaseException | None]:
    function, collect = _work  # type: ignore[misc]
    results = []
    try:
        for item in chunk:
            results.append(function(item))
    except Exception as error:  # handed back so the parent raises the earliest one
        return results, None, error
    return results, collect(), None
