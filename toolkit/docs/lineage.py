"""The lineage graph as an SVG whose boxes link to the node pages.

Layout (Sugiyama's method, in its simplest form): longest-path layering (a node sits one layer right of its
furthest upstream node, so sources come first and predictions last); an edge spanning several layers passes
through a waypoint in each layer between, so it runs between boxes, never through one; then within each layer a
few barycentre sweeps order each node (or waypoint) by the mean position of its neighbours in the layer before
(then after), which removes most edge crossings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

BOX_HEIGHT, CHAR_WIDTH, MIN_BOX_WIDTH = 30, 7, 120  # a box is as wide as the longest name
WAYPOINT_HEIGHT = 10  # the slot a long edge takes in a layer it crosses
LAYER_GAP, ROW_GAP, MARGIN = 64, 14, 12
SWEEPS = 4
KIND_COLOURS = {  # fill of a node's box by its kind
    "source": "#e8eef5", "model": "#eef6ea", "assertion": "#fbefe0", "ml_model": "#efe8f6", "ml_call": "#fbe8ec",
}


@dataclass(frozen=True)
class Waypoint:
    """Where edge parent → child crosses a layer between the two."""

    parent: str
    child: str
    layer: int


Slot = str | Waypoint


def _layout(upstream: Mapping[str, Sequence[str]]) -> list[list[Slot]]:
    depth: dict[str, int] = {}
    for name, parents in upstream.items():
        depth[name] = 1 + max((depth[p] for p in parents if p in depth), default=-1)
    grouped: list[list[Slot]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    before: dict[Slot, list[Slot]] = {name: [] for name in upstream}  # the slot each edge comes from, per slot
    after: dict[Slot, list[Slot]] = {name: [] for name in upstream}
    for name in upstream:
        grouped[depth[name]].append(name)
    for name, parents in upstream.items():
        for parent in parents:
            if parent not in depth:
                continue
            previous: Slot = parent
            for layer in range(depth[parent] + 1, depth[name]):
                waypoint = Waypoint(parent, name, layer)
                grouped[layer].append(waypoint)
                before[waypoint], after[waypoint] = [previous], []
                after[previous].append(waypoint)
                previous = waypoint
            before[name].append(previous)
            after[previous].append(name)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(grouped)) if forward else range(len(grouped) - 2, -1, -1)
        for index in indices:
            neighbour_layer = grouped[index - 1] if forward else grouped[index + 1]
            position = {slot: i for i, slot in enumerate(neighbour_layer)}
            links = before if forward else after
            current = {slot: i for i, slot in enumerate(grouped[index])}

            def barycentre(slot: Slot) -> float:
                known = [position[n] for n in links[slot] if n in position]
                return sum(known) / len(known) if known else current[slot]

            grouped[index] = sorted(grouped[index], key=barycentre)
    return grouped


def layers(upstream: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The nodes (in `upstream`'s order, which is a topological one) in layers by longest path from a source,
    each layer ordered to reduce crossings."""
    return [[slot for slot in layer if isinstance(slot, str)] for layer in _layout(upstream)]


def _height(slot: Slot) -> int:
    return BOX_HEIGHT if isinstance(slot, str) else WAYPOINT_HEIGHT


def lineage_svg(upstream: Mapping[str, Sequence[str]], kinds: Mapping[str, str], links: Mapping[str, str]) -> str:
    """The graph as inline SVG: a box per node (filled by `kinds`, linking to `links`), a curve per edge."""
    grouped = _layout(upstream)
    box_width = max([MIN_BOX_WIDTH, *(CHAR_WIDTH * len(name) + 16 for name in upstream)])
    used = [sum(_height(slot) for slot in layer) + max(len(layer) - 1, 0) * ROW_GAP for layer in grouped]
    height = 2 * MARGIN + max(used, default=0)
    width = 2 * MARGIN + len(grouped) * box_width + max(len(grouped) - 1, 0) * LAYER_GAP
    where: dict[Slot, tuple[float, float]] = {}  # top left corner
    for index, layer in enumerate(grouped):
        x = MARGIN + index * (box_width + LAYER_GAP)
        y = (height - used[index]) / 2
        for slot in layer:
            where[slot] = (x, y)
            y += _height(slot) + ROW_GAP
    parts = [f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage graph">',
             '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#8a8a8a"/></marker></defs>']
    waypoints: dict[tuple[str, str], list[Waypoint]] = {}
    for layer in grouped:
        for slot in layer:
            if isinstance(slot, Waypoint):
                waypoints.setdefault((slot.parent, slot.child), []).append(slot)
    for name, parents in upstream.items():
        for parent in parents:
            if parent not in where:
                continue
            # the edge enters and leaves each waypoint's layer at its middle height, straight across the layer
            points = [(where[parent][0] + box_width, where[parent][1] + BOX_HEIGHT / 2)]
            for waypoint in sorted(waypoints.get((parent, name), []), key=lambda w: w.layer):
                x, y = where[waypoint]
                points += [(x, y + WAYPOINT_HEIGHT / 2), (x + box_width, y + WAYPOINT_HEIGHT / 2)]
            points.append((where[name][0], where[name][1] + BOX_HEIGHT / 2))
            path = f"M{points[0][0]:.1f},{points[0][1]:.1f}"
            for index, ((x1, y1), (x2, y2)) in enumerate(zip(points, points[1:])):
                if index % 2:  # across a waypoint's layer
                    path += f" L{x2:.1f},{y2:.1f}"
                else:
                    bend = (x2 - x1) / 2
                    path += f" C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
            parts.append(f'<path class="edge" data-from="{escape(parent)}" data-to="{escape(name)}" d="{path}" '
                         'fill="none" stroke="#a0a0a0" stroke-width="1.2" marker-end="url(#arrow)"/>')
    for name in upstream:
        x, y = where[name]
        kind = kinds.get(name, "model")
        parts.append(
            f'<a class="node" href="{escape(links[name])}" data-node="{escape(name)}"><title>{escape(name)} '
            f'({escape(kind)})</title><rect x="{x}" y="{y:.1f}" width="{box_width}" height="{BOX_HEIGHT}" rx="6" '
            f'fill="{KIND_COLOURS.get(kind, "#ffffff")}" stroke="#6b7c93"/><text x="{x + box_width / 2}" '
            f'y="{y + BOX_HEIGHT / 2 + 4:.1f}" text-anchor="middle" font-size="12" '
            f'font-family="sans-serif">{escape(name)}</text></a>')
    parts.append("</svg>")
    return "".join(parts)
