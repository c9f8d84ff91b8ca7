"""The reduction-tree plan: which pairs are added at each level of a balanced adder tree.

Level ``d`` takes the values of level ``d - 1`` (level 0 is the ``n`` inputs) and adds
neighbours ``(0, 1), (2, 3), ...``; an odd last value passes through unchanged. There are
``ceil(log2(n))`` levels and exactly ``n - 1`` adders. The order matters for floating
point; the RTL and the reference model both walk this plan.
"""

from __future__ import annotations

import functools

__all__ = ["tree_plan", "tree_depth"]


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


def tree_depth(n: int) -> int:
    """Adder levels of the tree over ``n`` inputs, ``ceil(log2(n))``."""
    return (n - 1).bit_length()
