"""The reduction-tree plan: which pairs are added at each level of a balanced adder tree.

Level ``d`` takes the values of level ``d - 1`` (level 0 is the ``n`` inputs) and adds
neighbours ``(0, 1), (2, 3), ...``; an odd last value passes through unchanged. There are
``ceil(log2(n))`` levels and exactly ``n - 1`` adders. The order matters for floating
point; the RTL and the reference model both walk this plan.

The tree has closed forms per level, which :func:`level_values` and :func:`level_last_terms` give for
ints or numpy arrays of ``n`` (the cost model prices a table of designs with them): level ``d`` has
``ceil(n / 2**d)`` values; each sums ``2**d`` inputs except possibly the last one, and the last value
of level ``d - 1`` passes through level ``d`` when level ``d - 1`` has an odd count.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["pipeline_cut_matrix", "tree_plan", "tree_nodes", "tree_depth", "TreeNode", "bit_length",
           "level_values", "level_last_terms"]


def bit_length(x):
    """``int.bit_length`` of an int (returns an int), or elementwise of a numpy array of ints of
    magnitude below ``2**53`` (returns int64)."""
    if isinstance(x, (int, np.integer)):
        return int(x).bit_length()
    return np.frexp(np.asarray(x, np.float64))[1].astype(np.int64)


@dataclass(frozen=True)
class TreeNode:
    """A node of :func:`tree_nodes`: the indices of the previous level's values it adds (two) or
    passes on (one), and how many of the ``n`` inputs it sums."""

    inputs: tuple[int, ...]
    terms: int


@functools.cache
def tree_plan(n: int) -> tuple[tuple[tuple[int, ...], ...], ...]:
    """Levels of a balanced tree over ``n`` values.

    Each level is a tuple of nodes; a node is ``(i, j)`` (add values ``i`` and ``j`` of the
    previous level) or ``(i,)`` (pass value ``i`` through). The last level has one node.
    """
    if n < 1:
        raise ValueError(f"a reduction tree needs at least 1 input, got n={n}")
    levels = []
    width = n
    while width > 1:
        level = tuple((i, i + 1) if i + 1 < width else (i,) for i in range(0, width, 2))
        levels.append(level)
        width = len(level)
    return tuple(levels)


@functools.cache
def tree_nodes(n: int) -> tuple[tuple[TreeNode, ...], ...]:
    """:func:`tree_plan` with each node's count of summed inputs (``terms``): a node of level ``d``
    sums ``2**d`` inputs, except the last node of a level, which may sum fewer."""
    terms = [1] * n
    levels = []
    for level in tree_plan(n):
        terms = [sum(terms[i] for i in node) for node in level]
        levels.append(tuple(TreeNode(node, t) for node, t in zip(level, terms, strict=True)))
    return tuple(levels)


def tree_depth(n):
    """Adder levels of the tree over ``n`` inputs, ``ceil(log2(n))`` (an int or a numpy array)."""
    return bit_length(n - 1)


def level_values(n, d):
    """Values at level ``d`` of the tree over ``n`` inputs (level 0: the inputs), ``ceil(n / 2**d)``;
    ints or numpy int64 arrays (``d`` <= 62)."""
    return -((-n) >> d)


def level_last_terms(n, d):
    """Inputs summed by the last value of level ``d`` (every other value of the level sums ``2**d``),
    ``n - (ceil(n / 2**d) - 1) * 2**d``; ints or numpy int64 arrays."""
    return n - ((level_values(n, d) - 1) << d)


def pipeline_cut_matrix(depth, pipeline) -> np.ndarray:
    """:attr:`CoreConfig.pipeline_cuts` of many designs: a bool array of shape ``(rows, 1 + max(depth))``,
    row ``r`` holding the ``1 + depth[r]`` cuts of that design (then ``False``). ``depth``: tree
    levels, ``ceil(log2(luts))``; ``pipeline``: registers (``<= depth + 1``); ints or int arrays.

    Register ``i`` of ``P`` closes segment ``floor((i + 1) * (D + 2) / (P + 1)) - 1`` of the ``D + 2``.
    """
    depth = np.atleast_1d(np.asarray(depth, np.int64))
    pipeline = np.broadcast_to(np.asarray(pipeline, np.int64), depth.shape)
    cuts = np.zeros((depth.size, int(depth.max(initial=0)) + 1), bool)
    rows = np.arange(depth.size)
    for i in range(int(pipeline.max(initial=0))):
        on = i < pipeline
        cuts[rows[on], ((i + 1) * (depth[on] + 2) // (pipeline[on] + 1) - 1)] = True
    return cuts
