"""The DAG of nodes: topological order, cycle detection and dbt-style node selection."""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath

from toolkit.errors import ProjectError, did_you_mean
from toolkit.project.fingerprint import definition_checksum
from toolkit.project.manifest import Reference
from toolkit.project.nodes import Node, NodeKind

# state:<value>: whether a node is picked, from its checksum now and in the reference manifest (None: not there)
STATE_SELECTORS = {
    "modified": lambda now, before: before is None or before != now,
    "new": lambda now, before: before is None,
    "unmodified": lambda now, before: before is not None and before == now,
    "old": lambda now, before: before is not None,
}
RESULT_STATUSES = ("success", "warn", "fail", "error", "skipped", "unchanged")


class Graph:
    """Nodes and their `ref` edges. `order()` is deterministic: ties break by name."""

    def __init__(self, nodes: Mapping[str, Node]):
        self.nodes = dict(nodes)
        self.parents = {name: tuple(node.depends_on) for name, node in self.nodes.items()}
        self._gate_on_assertions()
        self.reference: Reference | None = None  # the earlier build `state:` and `result:` selectors compare with
        self.children: dict[str, list[str]] = {name: [] for name in self.nodes}
        for name, parents in self.parents.items():
            for parent in parents:
                self.children[parent].append(name)
        self._order = self._topological_order()

    def _gate_on_assertions(self) -> None:
        """An assertion file guards the data it reads: the other nodes that read the same data wait for it,
        so its failure skips them (unless they feed the assertion, which must then come first)."""
        children: dict[str, set[str]] = {name: set() for name in self.nodes}
        for name, parents in self.parents.items():
            for parent in parents:
                children.setdefault(parent, set()).add(name)
        for name, node in self.nodes.items():
            if node.kind is not NodeKind.ASSERTION:
                continue
            feeding = _reach(name, self.parents)
            guarded = {
                child
                for parent in node.depends_on
                for child in children.get(parent, ())
                if child != name and child not in feeding and self.nodes[child].kind is not NodeKind.ASSERTION
            }
            for child in guarded:
                self.parents[child] = (*self.parents[child], name)

    def _topological_order(self) -> list[str]:
        sorter = graphlib.TopologicalSorter({name: self.parents[name] for name in sorted(self.nodes)})
        try:
            sorter.prepare()
        except graphlib.CycleError as error:
            cycle = error.args[1]  # [a, b, …, a]: each node is a parent of the next one
            path = " -> ".join(reversed(cycle))  # now each node refs the next
            files = ", ".join(str(self.nodes[name].relative_path) for name in dict.fromkeys(cycle))
            raise ProjectError(
                f"the refs form a cycle: {path} (each node refs the next)", hint=f"remove one ref from these files to break it: {files}"
            ) from None
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order.extend(ready)
            sorter.done(*ready)
        return order

    def order(self, names: Iterable[str] | None = None) -> list[str]:
        """All nodes, or just `names`, in an order where every node follows the nodes it refs."""
        if names is None:
            return list(self._order)
        wanted = set(names)
        return [name for name in self._order if name in wanted]

    def ancestors(self, name: str) -> set[str]:
        return _reach(name, self.parents)

    def descendants(self, name: str) -> set[str]:
        return _reach(name, self.children)

    def resolve(self, name: str) -> str:
        """The node called `name`, compared case-insensitively as DuckDB does."""
        by_folded = {node.casefold(): node for node in self.nodes}
        if name.casefold() not in by_folded:
            raise ProjectError(f'no node named "{name}"{did_you_mean(name, self.nodes)}', hint="`toolkit ls` lists them")
        return by_folded[name.casefold()]

    def select(self, select: Iterable[str] = (), exclude: Iterable[str] = ()) -> list[str]:
        """Nodes picked by the selectors (all when there are none) minus the excluded ones, in order.

        Each argument may hold several space-separated selectors: `name`, `+name` (with ancestors),
        `name+` (with descendants), `tag:x`, `path:models/sub`, and the `+` forms of tag and path."""
        selectors = _split(select)
        chosen = set(self.nodes) if not selectors else set().union(*(self._pick(s) for s in selectors))
        excluded: set[str] = set().union(*(self._pick(s) for s in _split(exclude)))
        chosen -= excluded
        # A YAML test comes with the nodes it tests when all of them are chosen (dbt's "cautious" selection), and
        # goes with them unless named.
        tests = {name for name, node in self.nodes.items() if node.tests_of and node.depends_on}
        if not selectors:
            chosen -= {name for name in tests if not set(self.nodes[name].depends_on) <= chosen}
        chosen |= {name for name in tests if set(self.nodes[name].depends_on) <= chosen and name not in excluded}
        return self.order(chosen)

    def named(self, select: Iterable[str]) -> set[str]:
        """The nodes the selectors name (`x`, `+x`, `x+`), not those they reach by tag, path, state or the graph."""
        cores = [selector.strip("+") for selector in _split(select)]
        return {self.resolve(core) for core in cores if ":" not in core}

    def _pick(self, selector: str) -> set[str]:
        with_ancestors, with_descendants = selector.startswith("+"), selector.endswith("+")
        core = selector.strip("+")
        picked = self._match(core, selector)
        extra: set[str] = set()
        for name in picked:
            if with_ancestors:
                extra |= self.ancestors(name)
            if with_descendants:
                extra |= self.descendants(name)
        return picked | extra

    def _match(self, core: str, selector: str) -> set[str]:
        method, _, value = core.partition(":") if ":" in core else ("name", "", core)
        if method == "name":
            return {self.resolve(value)}
        if method == "tag":
            found = {name for name, node in self.nodes.items() if value in node.tags}
            if not found:
                tags = {tag for node in self.nodes.values() for tag in node.tags}
                raise ProjectError(f'--select/--exclude "{selector}": no node has tag "{value}"{did_you_mean(value, tags)}')
            return found
        if method == "path":
            prefix = PurePosixPath(value.rstrip("/"))
            found = {
                name
                for name, node in self.nodes.items()
                if PurePosixPath(node.relative_path.as_posix()).is_relative_to(prefix)
            }
            if not found:
                folders = {parent.as_posix() for node in self.nodes.values()
                           for parent in PurePosixPath(node.relative_path.as_posix()).parents if parent.name}
                files = {node.relative_path.as_posix() for node in self.nodes.values()}
                raise ProjectError(f'--select/--exclude "{selector}": no model file under "{value}"'
                                   f"{did_you_mean(value.rstrip('/'), folders | files)}",
                                   hint="path: takes a folder or a file relative to the project, "
                                        "e.g. path:models/staging")
            return found
        if method in ("state", "result"):
            return self._compared(method, value, selector)
        methods = ["tag", "path", "state", "result"]
        raise ProjectError(
            f'--select/--exclude "{selector}": unknown selector method "{method}"{did_you_mean(method, methods)}',
            hint="use name, +name, name+, tag:x, path:models/sub, state:modified or result:error",
        )

    def _compared(self, method: str, value: str, selector: str) -> set[str]:
        """state:modified … against the reference manifest; result:error … against the reference run results."""
        choices = STATE_SELECTORS if method == "state" else RESULT_STATUSES
        if value not in choices:
            raise ProjectError(f'--select/--exclude "{selector}": {method}:{value} is not one of '
                               f"{', '.join(f'{method}:{c}' for c in choices)}{did_you_mean(value, choices)}")
        reference = self.reference
        known = None if reference is None else (reference.checksums if method == "state" else reference.statuses)
        if known is None:
            what = "manifest.json" if method == "state" else "run_results.json"
            where = f" in {reference.folder}" if reference is not None else ""
            raise ProjectError(f'--select "{selector}" compares with an earlier build, but there is no {what}{where}',
                               hint="build once first (it writes target/), or pass --state with a saved copy of "
                                    "an earlier build's target folder")
        if method == "result":
            return {name for name in self.nodes if known.get(name) == value}
        compare = STATE_SELECTORS[value]
        return {name for name, node in self.nodes.items() if compare(definition_checksum(node), known.get(name))}


def _reach(start: str, edges: Mapping[str, Iterable[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(edges[start])
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(edges[name])
    return seen


def _split(arguments: Iterable[str]) -> list[str]:
    return [selector for argument in arguments for selector in argument.split()]
