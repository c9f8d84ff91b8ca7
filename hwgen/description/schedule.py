"""The GEMV schedule of a core (every ``arch``): step order, stream lengths and cycle counts.

A job computes ``y = a @ W`` for N activations and an N x M ternary matrix. With
``T = ceil(N / tile_n)`` input tiles, ``O = ceil(M / tile_m)`` output tiles and
``R = reuse``, output tiles are processed in blocks of up to R::

    for b in range(ceil(O / R)):                  # output block: R*keys accumulators
        for t in range(T):                        # input tile: (re)build the L LUTs
            for o in range(b*R, min((b+1)*R, O)): # output tile: one step, one key word
                acc[o] (+)= tree(fetch(LUT_t, keys[t, o]))

One step takes one cycle and one key word (``mac``: weight word); the LUTs are rebuilt
(``mac``: the operand registers reloaded) when ``o == b*R``.
Accumulation over ``t`` is in increasing order, the first tile's value is taken as is (no
add to zero). Output tile ``o`` leaves the core after step ``(T - 1, o)``. With a pipelined
accumulate adder (``acc_latency`` > 0), a step waits until the previous step on its
accumulator has left the adder: an input tile then takes ``max(R_b, acc_latency + 1)`` cycles.
"""

from __future__ import annotations

import numpy as np

from .config import PIPELINE_OVERHEAD, CoreConfig

__all__ = ["tiles", "tile_counts", "steps", "issue_cycles", "block_issue_cycles", "job_cycles",
           "job_cycles_array", "job_interval", "PIPELINE_OVERHEAD"]


def issue_cycles(cfg: CoreConfig, n: int, m: int) -> int:
    """Cycles to issue all steps of an ``n`` x ``m`` job with every key word available."""
    t_count, o_count = tiles(cfg, n, m)
    return int(block_issue_cycles(t_count, o_count, cfg.reuse, cfg.acc_latency))


def block_issue_cycles(t_count, o_count, reuse, acc_latency):
    """Issue cycles of ``T`` input x ``O`` output tiles in blocks of ``reuse`` (numpy arrays or ints).

    Each block of ``R_b`` output tiles takes ``R_b + (T - 1) * max(R_b, acc_latency + 1)``
    cycles: ``O // R`` full blocks and one partial block of ``O % R`` tiles.
    """
    t_count, o_count = np.asarray(t_count, np.int64), np.asarray(o_count, np.int64)
    reuse, acc_latency = np.asarray(reuse, np.int64), np.asarray(acc_latency, np.int64)
    full, rest = o_count // reuse, o_count % reuse
    per_full = reuse + (t_count - 1) * np.maximum(reuse, acc_latency + 1)
    per_rest = np.where(rest > 0, rest + (t_count - 1) * np.maximum(rest, acc_latency + 1), 0)
    return full * per_full + per_rest


def tiles(cfg: CoreConfig, n: int, m: int) -> tuple[int, int]:
    """``(T, O)``: input and output tiles of an ``n`` x ``m`` GEMV."""
    t_count, o_count = tile_counts(cfg.tile_n, cfg.tile_m, n, m)
    return int(t_count), int(o_count)


def tile_counts(tile_n, tile_m, n, m):
    """``(ceil(n / tile_n), ceil(m / tile_m))`` for ints or numpy arrays."""
    return -(-np.asarray(n, np.int64) // tile_n), -(-np.asarray(m, np.int64) // tile_m)


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
    is transferred (``last - first``): T cycles to load the activation rows, the issue of all
    steps (:func:`issue_cycles`, T * O without a pipelined accumulator) and the pipeline latency.
    """
    return int(job_cycles_array(cfg.tile_n, cfg.tile_m, cfg.reuse, cfg.acc_latency, cfg.pipeline_latency,
                                n, m))


def job_cycles_array(tile_n, tile_m, reuse, acc_latency, pipeline_latency, n, m):
    """:func:`job_cycles` of many designs and GEMV shapes at once: every argument an int or a numpy
    array (broadcast together) of the config property of the same name, ``n`` and ``m`` the GEMV
    shape. Returns int64 cycles."""
    t_count, o_count = tile_counts(tile_n, tile_m, n, m)
    return t_count + block_issue_cycles(t_count, o_count, reuse, acc_latency) + np.asarray(pipeline_latency)


def job_interval(cfg: CoreConfig, n: int, m: int) -> int:
    """Cycles between the acceptance of back-to-back jobs of the same shape (the pipeline
    drain of one job overlaps the next job's activation load)."""
    return tiles(cfg, n, m)[0] + issue_cycles(cfg, n, m) + 1
