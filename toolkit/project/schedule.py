"""Running a DAG's nodes on several threads: a node starts once every parent it has among the chosen nodes is
done; ties start in the given order (so one thread runs them exactly in that order). An `exclusive` node runs
alone: it waits for the running nodes to finish, and nothing starts while it runs (ML nodes, whose reproducible
statistics pin the database to one thread for a while)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

Result = TypeVar("Result")


def run_in_dag_order(order: Sequence[str], parents: Mapping[str, Sequence[str]], threads: int,
                     work: Callable[[str, int], Result], exclusive: Callable[[str], bool] = lambda name: False,
                     interrupt: Callable[[], None] = lambda: None) -> dict[str, Result]:
    """`work(name, worker)` for every name of `order` (a topological order), at most `threads` at once; `worker`
    numbers the thread (0 … threads-1), for per-thread resources. The results by name. The first exception a
    node raises stops new starts and is raised once the running nodes finish; Ctrl-C calls `interrupt` (which
    should stop the running nodes' work) and is raised once they have stopped."""
    chosen = set(order)
    waiting = {name: {p for p in parents.get(name, ()) if p in chosen} for name in order}
    pending = list(order)
    results: dict[str, Result] = {}
    free_workers = list(range(threads))[::-1]
    running: dict[Future, tuple[str, int]] = {}
    failure: BaseException | None = None
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="toolkit-node") as pool:
        while pending or running:
            alone = any(exclusive(name) for name, _ in running.values())
            while failure is None and pending and free_workers and not alone:
                ready = next((name for name in pending if not waiting[name]), None)
                if ready is None or (exclusive(ready) and running):
                    break
                pending.remove(ready)
                worker = free_workers.pop()
                running[pool.submit(work, ready, worker)] = (ready, worker)
                alone = exclusive(ready)
            if not running:
                break
            try:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
            except KeyboardInterrupt:
                interrupt()
                raise
            for future in done:
                name, worker = running.pop(future)
                free_workers.append(worker)
                try:
                    results[name] = future.result()
                except BaseException as error:  # noqa: BLE001 - re-raised below, after the others finish
                    failure = failure or error
                for child in order:
                    waiting[child].discard(name)
    if failure is not None:
        raise failure
    return results
