"""The lineage graph as an SVG whose boxes link to the node pages.

Layout: longest-path layering (a node sits one layer right of its furthest upstream node, so sources come first
and predictions last), then within each layer a few barycentre sweeps, which order each node by the mean position
of its neighbours in the layer before (then after) and so remove most edge crossings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

BOX_HEIGHT, CHAR_WIDTH, MIN_BOX_WIDTH = 30, 7, 120  # a box is as wide as the longest name
LAYER_GAP, ROW_GAP, MARGIN = 64, 14, 12
SWEEPS = 4
KIND_COLOURS = {  # fill of a node's box by its kind
    "source": "#e8eef5", "model": "#eef6ea", "assertion": "#fbefe0", "ml_model": "#efe8f6", "ml_call": "#fbe8ec",
}


def layers(upstream: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """The nodes (in `upstream`'s order, which is a topological one) in layers by longest path from a source,
    each layer ordered to reduce crossings."""
    depth: dict[str, int] = {}
    for name, parents in upstream.items():
        depth[name] = 1 + max((depth[p] for p in parents if p in depth), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in upstream:
        grouped[depth[name]].append(name)
    downstream: dict[str, list[str]] = {name: [] for name in upstream}
    for name, parents in upstream.items():
        for parent in parents:
            if parent in downstream:
                downstream[parent].append(name)
    for sweep in range(SWEEPS):
        forward = sweep % 2 == 0
        indices = range(1, len(grouped)) if forward else range(len(grouped) - 2, -1, -1)
        for index in indices:
            neighbour_layer = grouped[index - 1] if forward else grouped[index + 1]
            position = {name: i for i, name in enumerate(neighbour_layer)}
            links = upstream if forward else downstream

            def barycentre(name: str, current: list[str] = grouped[index]) -> float:
                known = [position[n] for n in links[name] if n in position]
                return sum(known) / len(known) if known else current.index(name)

            grouped[index] = sorted(grouped[index], key=barycentre)
    return grouped


def lineage_svg(upstream: Mapping[str, Sequence[str]], kinds: Mapping[str, str], links: Mapping[str, str]) -> str:
    """The graph as inline SVG: a box per node (filled by `kinds`, linking to `links`), a curve per edge."""
    grouped = layers(upstream)
    box_width = max([MIN_BOX_WIDTH, *(CHAR_WIDTH * len(name) + 16 for name in upstream)])
    tallest = max((len(layer) for layer in grouped), default=0)
    height = 2 * MARGIN + tallest * BOX_HEIGHT + max(tallest - 1, 0) * ROW_GAP
    width = 2 * MARGIN + len(grouped) * box_width + max(len(grouped) - 1, 0) * LAYER_GAP
    where: dict[str, tuple[float, float]] = {}
    for index, layer in enumerate(grouped):
        x = MARGIN + index * (box_width + LAYER_GAP)
        used = len(layer) * BOX_HEIGHT + max(len(layer) - 1, 0) * ROW_GAP
        top = (height - used) / 2
        for row, name in enumerate(layer):
            where[name] = (x, top + row * (BOX_HEIGHT + ROW_GAP))
    parts = [f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage graph">',
             '<defs><marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#8a8a8a"/></marker></defs>']
    for name, parents in upstream.items():
        for parent in parents:
            if parent not in where:
                continue
            (x1, y1), (x2, y2) = where[parent], where[name]
            start_x, start_y, end_x, end_y = x1 + box_width, y1 + BOX_HEIGHT / 2, x2, y2 + BOX_HEIGHT / 2
            bend = (end_x - start_x) / 2
            parts.append(f'<path class="edge" data-from="{escape(parent)}" data-to="{escape(name)}" '
                         f'd="M{start_x:.1f},{start_y:.1f} C{start_x + bend:.1f},{start_y:.1f} '
                         f'{end_x - bend:.1f},{end_y:.1f} {end_x:.1f},{end_y:.1f}" fill="none" stroke="#a0a0a0" '
                         'stroke-width="1.2" marker-end="url(#arrow)"/>')
    for name, (x, y) in where.items():
        kind = kinds.get(name, "model")
        parts.append(
            f'<a class="node" href="{escape(links[name])}" data-node="{escape(name)}"><title>{escape(name)} '
            f'({escape(kind)})</title><rect x="{x}" y="{y:.1f}" width="{box_width}" height="{BOX_HEIGHT}" rx="6" '
            f'fill="{KIND_COLOURS.get(kind, "#ffffff")}" stroke="#6b7c93"/><text x="{x + box_width / 2}" '
            f'y="{y + BOX_HEIGHT / 2 + 4:.1f}" text-anchor="middle" font-size="12" '
            f'font-family="sans-serif">{escape(name)}</text></a>')
    parts.append("</svg>")
    return "".join(parts)
