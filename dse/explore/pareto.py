"""Pareto sets and hypervolumes of objective tables (plain numpy).

Objectives are columns of an ``(n, k)`` array with a direction each; internally every objective is
turned into one to minimise (maximised ones negated). A point is on the Pareto front when no other
point is at least as good in every objective and better in one. Equal points are all kept.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_minimised", "pareto_mask", "hypervolume_2d"]

_CHUNK = 2048


def as_minimised(values, directions) -> np.ndarray:
    """``values`` (n x k) with the ``"maximize"`` columns negated."""
    values = np.asarray(values, float).reshape(len(values), -1)
    sign = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return values * sign


def pareto_mask(values, directions) -> np.ndarray:
    """Per row of ``values`` (n x k): on the Pareto front of the rows.

    Rows are visited in lexicographic order of the minimised objectives, so a row can only be
    dominated by rows before it; each chunk of rows is compared with the front found so far and
    with itself, which keeps the work near ``n * front size``."""
    v = as_minimised(values, directions)
    n = len(v)
    mask = np.zeros(n, bool)
    if n == 0:
        return mask
    order = np.lexsort(v.T[::-1])
    front = np.zeros((0, v.shape[1]))
    for start in range(0, n, _CHUNK):
        idx = order[start:start + _CHUNK]
        chunk = v[idx]
        if len(front):
            le = (front[None, :, :] <= chunk[:, None, :]).all(axis=2)
            lt = (front[None, :, :] < chunk[:, None, :]).any(axis=2)
            keep = ~(le & lt).any(axis=1)
            idx, chunk = idx[keep], chunk[keep]
        if len(chunk):
            le = (chunk[None, :, :] <= chunk[:, None, :]).all(axis=2)
            lt = (chunk[None, :, :] < chunk[:, None, :]).any(axis=2)
            keep = ~(le & lt).any(axis=1)
            idx, chunk = idx[keep], chunk[keep]
        mask[idx] = True
        front = np.concatenate([front, chunk])
    return mask


def hypervolume_2d(values, directions, reference) -> float:
    """Area dominated by the points of ``values`` (n x 2) and bounded by ``reference`` (a point
    worse than every point in both objectives, in the objectives' own units and directions)."""
    v = as_minimised(values, directions)
    ref = as_minimised(np.asarray(reference, float)[None, :], directions)[0]
    v = v[(v < ref).all(axis=1)]
    if not len(v):
        return 0.0
    v = v[pareto_mask(v, ("minimize", "minimize"))]
    v = v[np.argsort(v[:, 0])]
    widths = np.diff(np.append(v[:, 0], ref[0]))
    heights = ref[1] - np.minimum.accumulate(v[:, 1])
    return float((widths * heights).sum())
