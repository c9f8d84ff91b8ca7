"""The GEMV schedule of a LUT core: step order, stream lengths and cycle counts.

A job computes ``y = a @ W`` for N activations and an N x M ternary matrix. With
``T = ceil(N / tile_n)`` input tiles, ``O = ceil(M / tile_m)`` output tiles and
``R = reuse``, output tiles are processed in blocks of up to R::

    for b in range(ceil(O / R)):                  # output block: R*keys accumulators
        for t in range(T):                        # input tile: (re)build the L LUTs
            for o in range(b*R, min((b+1)*R, O)): # output tile: one step, one key word
                acc[o] (+)= tree(fetch(LUT_t, keys[t, o]))

One step takes one cycle and one key word; the LUTs are rebuilt when ``o == b*R``.
Accumulation over ``t`` is in increasing order, the first tile's value is taken as is (no
add to zero). Output tile ``o`` leaves the core after step ``(T - 1, o)``.
"""

from __future__ import annotations

import math

import numpy as np

from .config import CoreConfig

__all__ = ["tiles", "steps", "job_cycles", "job_interval", "PIPELINE_OVERHEAD"]

#: Cycles from the last key word accepted to its output tile transferred, without extra
#: pipeline registers: the activation-buffer read / LUT build stage, the fetch-reduce-
#: accumulate stage and the output register.
PIPELINE_OVERHEAD = 3


def tiles(cfg: CoreConfig, n: int, m: int) -> tuple[int, int]:
    """``(T, O)``: input and output tiles of an ``n`` x ``m`` GEMV."""
    return math.ceil(n / cfg.tile_n), math.ceil(m / cfg.tile_m)


def steps(cfg: CoreConfig, n: int, m: int) -> np.ndarray:
    """The step order as an int array of shape ``(T * O, 2)``: rows ``(t, o)``."""
    t_count, o_count = tiles(cfg, n, m)
    rows = []
    for b in range(0, o_count, cfg.reuse):
        block = range(b, min(b + cfg.reuse, o_count))
        for t in range(t_count):
            rows.extend((t, o) for o in block)
    return np.array(rows, dtype=np.int64).reshape(-1, 2)


def job_cycles(cfg: CoreConfig, n: int, m: int) -> int:
    """Cycles of one job with all streams always valid/ready.

    Counted from the cycle the job descriptor is accepted to the cycle the last output tile
    is transferred, both inclusive-exclusive as ``last - first``: T cycles to load the
    activation rows, one cycle per step (T * O), and the pipeline latency.
    """
    t_count, o_count = tiles(cfg, n, m)
    return t_count + t_count * o_count + cfg.pipeline + PIPELINE_OVERHEAD


def job_interval(cfg: CoreConfig, n: int, m: int) -> int:
    """Cycles between the acceptance of back-to-back jobs of the same shape (the pipeline
    drain of one job overlaps the next job's activation load)."""
    t_count, o_count = tiles(cfg, n, m)
    return t_count + t_count * o_count + 1
