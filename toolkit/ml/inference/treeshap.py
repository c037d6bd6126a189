"""Exact path-dependent Tree SHAP (Lundberg, Erion & Lee, "Consistent individualized feature attribution for tree
ensembles", Algorithm 2), vectorised with numpy over rows and over leaves.

The value of a set S of players (input columns) for a row x is the path-dependent conditional expectation of the
tree: at a split on a player in S follow x, at any other split take the children's cover-weighted mean. A leaf
reached through the unique players U of its path adds v · Π_{j∈S} o_j(x) · Π_{j∈U∖S} z_j to it, where z_j is the
product of the cover fractions of j's splits on the path and o_j(x) ∈ {0, 1} says whether x satisfies all of them.
So player i's Shapley value from that leaf is

    v · (o_i − z_i) · Σ_k  k! (M − 1 − k)! / M!  ·  [t^k] Π_{j∈U∖{i}} (z_j + o_j t),      M = |U|,

which is what Algorithm 2's EXTEND / UNWIND compute along each path. Here the polynomial Π_{j∈U} (z_j + o_j t) is
built once per leaf and divided by each player's factor, for all rows and all leaves with the same M at once.
Several design-matrix columns of one input (a TIMESTAMP's parts) are one player: the attributions are the input
columns' Shapley values, not sums of their parts' values."""

from __future__ import annotations

from dataclasses import dataclass
from math import factorial

import numpy as np

from toolkit.ml.inference.trees import Tree

_CHUNK_ELEMENTS = 4_000_000  # rows × leaves × M floats per array, to bound memory


@dataclass(frozen=True)
class _LeafGroup:
    """The leaves of one tree whose paths have M unique players, as padded arrays."""

    leaf: np.ndarray  # L leaf node indices
    players: np.ndarray  # L × M input columns
    zero: np.ndarray  # L × M cover fractions z
    step_node: np.ndarray  # L × S ancestor split nodes (padded with 0)
    step_left: np.ndarray  # L × S the path goes left there
    step_slot: np.ndarray  # L × S which of the M players splits there
    step_valid: np.ndarray  # L × S False for padding
    step_slots: np.ndarray  # L × S × M one-hot of step_slot (zero for padding)
    weights: np.ndarray  # M Shapley weights k! (M − 1 − k)! / M!


@dataclass(frozen=True)
class PreparedTree:
    """A tree's leaf paths grouped for Tree SHAP; prepare once per tree and input mapping."""

    tree: Tree
    groups: tuple[_LeafGroup, ...]


def prepare(tree: Tree, sources: np.ndarray) -> PreparedTree:
    """Group the leaves by their number of unique players (`sources` maps design columns to input columns)."""
    by_size: dict[int, list[tuple[int, list[int], list[float], list[tuple[int, bool, int]]]]] = {}
    stack: list[tuple[int, list[tuple[int, bool]]]] = [(0, [])]
    while stack:
        node, path = stack.pop()
        if tree.is_leaf[node]:
            players: list[int] = []
            zero: list[float] = []
            steps: list[tuple[int, bool, int]] = []
            for parent, went_left in path:
                player = int(sources[tree.feature[parent]])
                child = tree.left[parent] if went_left else tree.right[parent]
                fraction = tree.cover[child] / tree.cover[parent] if tree.cover[parent] > 0 else 0.0
                if player not in players:
                    players.append(player)
                    zero.append(1.0)
                slot = players.index(player)
                zero[slot] *= fraction
                steps.append((parent, went_left, slot))
            if players:
                by_size.setdefault(len(players), []).append((node, players, zero, steps))
            continue
        stack.append((int(tree.right[node]), [*path, (node, False)]))
        stack.append((int(tree.left[node]), [*path, (node, True)]))
    return PreparedTree(tree, tuple(_group(size, leaves) for size, leaves in sorted(by_size.items())))


def _group(size: int, leaves: list) -> _LeafGroup:
    depth = max(len(steps) for *_, steps in leaves)
    count = len(leaves)
    step_node = np.zeros((count, depth), np.int64)
    step_left = np.zeros((count, depth), bool)
    step_slot = np.zeros((count, depth), np.int64)
    step_valid = np.zeros((count, depth), bool)
    for i, (_, _, _, steps) in enumerate(leaves):
        for s, (node, left, slot) in enumerate(steps):
            step_node[i, s], step_left[i, s], step_slot[i, s], step_valid[i, s] = node, left, slot, True
    slots = np.zeros((count, depth, size))
    slots[np.nonzero(step_valid) + (step_slot[step_valid],)] = 1.0
    weights = np.array([factorial(k) * factorial(size - 1 - k) / factorial(size) for k in range(size)])
    return _LeafGroup(np.array([leaf for leaf, *_ in leaves], np.int64),
                      np.array([players for _, players, _, _ in leaves], np.int64),
                      np.array([zero for _, _, zero, _ in leaves], np.float64),
                      step_node, step_left, step_slot, step_valid, slots, weights)


def tree_shap(X: np.ndarray, prepared: PreparedTree, values: np.ndarray, n_inputs: int) -> np.ndarray:
    """Shapley values (rows × input columns) of one tree's output `values` (one per node) for the rows of X.
    They add up to the prediction minus values[0], the root's cover-weighted expectation. With `values` nodes × K
    (several outputs of the same tree: a forest classifier's class probabilities), K × rows × inputs, the paths'
    weights computed once for all K."""
    tree = prepared.tree
    columns = values[:, None] if values.ndim == 1 else values
    out = np.zeros((columns.shape[1], len(X), n_inputs))
    if tree.is_leaf[0] or len(X) == 0:
        return out[0] if values.ndim == 1 else out
    inner = np.flatnonzero(~tree.is_leaf)
    x = X[:, tree.feature[inner]]
    go_left = np.zeros((len(X), len(tree.is_leaf)), bool)
    go_left[:, inner] = np.where(np.isnan(x), tree.missing_left[inner], x <= tree.threshold[inner])
    for group in prepared.groups:
        leaves, size = len(group.leaf), group.players.shape[1]
        onehot = np.zeros((leaves * size, n_inputs))
        onehot[np.arange(leaves * size), group.players.ravel()] = 1.0
        step = max(1, _CHUNK_ELEMENTS // (leaves * (size + 1)))
        # each (leaf, player)'s share times the leaf's values, gathered per input: (leaves·M) × (outputs·inputs),
        # for blocks of outputs that bound its size
        block = max(1, _CHUNK_ELEMENTS // (leaves * size * n_inputs))
        blocks = [slice(first, first + block) for first in range(0, columns.shape[1], block)]
        for start in range(0, len(X), step):
            rows = slice(start, start + step)
            share = _group_shap(go_left[rows], group)
            share = share.reshape(share.shape[0], -1)
            for outputs in blocks:
                leaf_values = np.repeat(columns[group.leaf, outputs], size, axis=0)  # (leaves·M) × outputs
                gather = (leaf_values[:, :, None] * onehot[:, None, :]).reshape(leaves * size, -1)
                phi = (share @ gather).reshape(share.shape[0], -1, n_inputs)  # rows × outputs × inputs
                out[outputs, rows] += phi.transpose(1, 0, 2)
    return out[0] if values.ndim == 1 else out


def _group_shap(go_left: np.ndarray, group: _LeafGroup) -> np.ndarray:
    """rows × leaves × M: each leaf's share of each of its players' Shapley values, per unit of the leaf's value."""
    n, (leaves, size) = len(go_left), group.players.shape
    # o_j(x): x satisfies all of j's splits on the path, i.e. none of the path's steps at j fails.
    failed = (go_left[:, group.step_node] != group.step_left) & group.step_valid  # rows × leaves × steps
    failures = np.matmul(failed.astype(np.float64).transpose(1, 0, 2), group.step_slots).transpose(1, 0, 2)
    ones = failures == 0
    o = ones.astype(np.float64)
    z = np.broadcast_to(group.zero, o.shape)
    # Coefficients of Π_j (z_j + o_j t), lowest power first: rows × leaves × (M + 1).
    poly = np.zeros((n, leaves, size + 1))
    poly[..., 0] = 1.0
    for j in range(size):
        shifted = np.zeros_like(poly)
        shifted[..., 1:] = poly[..., :-1] * o[..., j:j + 1]
        poly = poly * z[..., j:j + 1] + shifted
    # Σ_k w_k [t^k] of the product divided by each player's factor (z_i + o_i t), all players at once.
    weights = group.weights
    if_one = np.zeros((n, leaves, size))  # o_i = 1: synthetic division from the top (|z_i| <= 1: stable)
    remainder = np.broadcast_to(poly[..., size:], if_one.shape)
    for k in range(size - 1, -1, -1):
        if_one += weights[k] * remainder
        remainder = poly[..., k:k + 1] - z * remainder
    with np.errstate(divide="ignore", invalid="ignore"):  # o_i = 0: the factor is the constant z_i
        if_zero = np.where(z > 0, (poly[..., :size] @ weights)[..., None] / z, 0.0)
    weighted = np.where(o > 0, if_one, if_zero)
    return (o - z) * weighted
