"""Drive a :class:`hwgen.gateware.core.LutCore` in Amaranth's Python simulator (no external tools).

The fast path for unit tests of small cores; the cocotb + Verilator bench
(:mod:`sim.runner`) checks the emitted Verilog of large ones. Both push the same streams:
a job descriptor, activation rows and :func:`hwgen.description.key_encoding.key_stream` words.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from hwgen.description.config import CoreConfig
from hwgen.gateware.core import LutCore
from hwgen.description.key_encoding import key_stream
from hwgen.description.schedule import tiles

from .stimulus import act_range

__all__ = ["Job", "JobResult", "run_jobs"]


@dataclass(frozen=True)
class Job:
    """One GEMV: ``activations`` (N,) ints (bit patterns for FP cores) and ``weights`` (N, M) ternary.

    ``weights`` may have extra rows past N (up to the last input tile): their keys are sent,
    and the core must ignore them because it zeroes activation lanes past N.
    """

    activations: np.ndarray
    weights: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, m)`` as sent in the job descriptor."""
        return len(self.activations), self.weights.shape[1]


@dataclass(frozen=True)
class JobResult:
    """Outputs ``y`` (M ints), ``cycles`` from job acceptance to the last output transfer, and
    ``accepted``, the cycle the job descriptor was accepted."""

    y: list[int]
    cycles: int
    accepted: int


def run_jobs(cfg: CoreConfig, jobs: list[Job], *, seed: int = 0, out_stall: float = 0.0,
             in_gaps: float = 0.0, max_cycles: int = 1_000_000) -> list[JobResult]:
    """Run ``jobs`` back to back; ``out_stall`` / ``in_gaps`` are per-cycle probabilities of
    holding ``out.ready`` / the input ``valid`` signals low. Lanes past N carry random garbage."""
    dut = LutCore(cfg)
    rng = random.Random(seed)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    now = [0]
    accepted: list[int] = []
    results: list[JobResult] = []

    async def clock(ctx):
        async for _ in ctx.tick():
            now[0] += 1
            if now[0] > max_cycles:
                raise TimeoutError(f"no progress after {max_cycles} cycles")

    async def put(ctx, port, fill):
        while rng.random() < in_gaps:
            await ctx.tick()
        ctx.set(port.valid, 1)
        fill()
        await ctx.tick().until(port.ready)
        accepted_at = now[0]
        ctx.set(port.valid, 0)
        return accepted_at

    async def drive_jobs(ctx):
        for job in jobs:
            n, m = job.shape

            def fill(n=n, m=m):
                ctx.set(dut.job.p.n, n)
                ctx.set(dut.job.p.m, m)

            accepted.append(await put(ctx, dut.job, fill))

    async def drive_acts(ctx):
        for job in jobs:
            n, m = job.shape
            t_count = tiles(cfg, n, m)[0]
            lo, hi = act_range(cfg)
            rows = np.array([rng.randint(lo, hi) for _ in range(t_count * cfg.tile_n)])
            rows[:n] = job.activations
            for t in range(t_count):
                row = rows[t * cfg.tile_n:(t + 1) * cfg.tile_n]
                await put(ctx, dut.act, lambda row=row: [ctx.set(dut.act.p[i], int(v)) for i, v in enumerate(row)])

    async def drive_keys(ctx):
        for job in jobs:
            for word in key_stream(cfg, job.weights):
                def fill(word=word):
                    for lut in range(cfg.luts):
                        for k in range(cfg.keys):
                            ctx.set(dut.keys.p[lut][k], int(word[lut, k]))
                await put(ctx, dut.keys, fill)

    async def collect(ctx):
        for index, job in enumerate(jobs):
            n, m = job.shape
            o_count = tiles(cfg, n, m)[1]
            y: list[int] = []
            for o in range(o_count):
                while rng.random() < out_stall:
                    await ctx.tick()
                ctx.set(dut.out.ready, 1)
                (payload,) = await ctx.tick().sample(dut.out.p).until(dut.out.valid)
                ctx.set(dut.out.ready, 0)
                if payload.last != (o == o_count - 1):
                    raise AssertionError(f"job {index}: `last` is {payload.last} on output tile {o} of {o_count}")
                y.extend(payload.data[k] for k in range(cfg.keys))
            results.append(JobResult(y=y[:m], cycles=now[0] - accepted[index], accepted=accepted[index]))

    sim.add_process(clock)
    for driver in (drive_jobs, drive_acts, drive_keys):
        sim.add_testbench(driver, background=True)
    sim.add_testbench(collect)
    sim.run()
    return results
