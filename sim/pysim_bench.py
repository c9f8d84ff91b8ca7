"""Drive a :class:`hwgen.gateware.core.LutCore` in Amaranth's Python simulator (no external tools).

:class:`PysimBackend` is the :class:`sim.check.Backend` for Amaranth's simulator: the fast path
for unit tests and, since its cost is mostly elaboration, for the 64 x 64 presets too. The
cocotb bench (:mod:`sim.cocotb_bench.lut_core_tb`) is the other backend; it checks the emitted
Verilog. Both push the same streams and :mod:`sim.check` compares what they return.
"""

from __future__ import annotations

import contextlib
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from amaranth.hdl import Value
from amaranth.sim import Simulator

from hwgen.description.config import CoreConfig
from hwgen.description.schedule import tiles
from hwgen.gateware.core import LutCore

from .check import (
    Backend,
    Job,
    JobResult,
    Traffic,
    Words,
    idle_cycles_limit,
    input_words,
    output_lanes,
    timeout_cycles,
)

__all__ = ["PysimBackend"]


@contextlib.contextmanager
def _long_int_strings() -> Iterator[None]:
    """Lift Python's limit on int -> str conversion: the simulator compiles masks of wide signals
    (a 64 x 64 ``mac`` core's 32768-bit ``keys`` payload) to Python source as decimal literals."""
    saved = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        yield
    finally:
        sys.set_int_max_str_digits(saved)


@dataclass
class _Batch:
    """The job list of one :meth:`PysimBackend.run_jobs` call and what the testbenches saw of it."""

    jobs: Sequence[Job]
    words: list[Words]
    traffic: Traffic
    max_cycles: int
    max_idle_cycles: int
    rng: random.Random
    now: int = 0
    last_transfer: int = 0
    accepted: list[int] = field(default_factory=list)
    results: list[JobResult] = field(default_factory=list)


class PysimBackend(Backend):
    """Runs jobs on ``LutCore(cfg)`` in Amaranth's simulator.

    The simulator is built on the first call (that is most of the cost: about 3 s for a 64 x 64
    int8 core, 55 s for the fp16 one, on one core) and reset for each later call.

    Parameters
    ----------
    cfg : CoreConfig
        The core to elaborate (every ``arch``).
    """

    def __init__(self, cfg: CoreConfig) -> None:
        self.cfg = cfg
        self._sim: Simulator | None = None
        self._batch: _Batch | None = None

    async def run_jobs(self, jobs: Sequence[Job], traffic: Traffic) -> list[JobResult]:
        """Run ``jobs`` on the reset core (see :meth:`sim.check.Backend.run_jobs`).

        Raises
        ------
        TimeoutError
            If the jobs are not done within :func:`sim.check.timeout_cycles`, or no stream moves
            for :func:`sim.check.idle_cycles_limit` cycles (a deadlock, reported at once).
        AssertionError
            If the core sends an output tile after the last job's final tile.
        """
        return self.run(jobs, traffic)

    def run(self, jobs: Sequence[Job], traffic: Traffic) -> list[JobResult]:
        """The synchronous body of :meth:`run_jobs`."""
        limit = timeout_cycles(self.cfg, jobs, traffic)
        rng = random.Random(traffic.seed)
        words = [input_words(self.cfg, job, rng) for job in jobs]
        self._batch = _Batch(jobs, words, traffic, limit, idle_cycles_limit(self.cfg, traffic), rng)
        if self._sim is None:
            self._sim = self._build()
        else:
            self._sim.reset()
        with _long_int_strings():
            self._sim.run()
        return self._batch.results

    def _build(self) -> Simulator:
        """The simulator with a clock counter, three input drivers and the output collector, all of
        which read the current :class:`_Batch` when they (re)start."""
        cfg = self.cfg
        dut = LutCore(cfg)
        with _long_int_strings():
            sim = Simulator(dut)
        sim.add_clock(1e-8)

        async def clock(ctx):  # no `async for ... in ctx.tick()`: asyncio.run would close that generator
            b = self._batch
            while True:
                await ctx.tick()
                b.now += 1
                if b.now > b.max_cycles:
                    raise TimeoutError(f"{cfg.name}: {len(b.results)} of {len(b.jobs)} jobs done after "
                                       f"{b.max_cycles} cycles")
                if b.now - b.last_transfer > b.max_idle_cycles and len(b.results) < len(b.jobs):
                    raise TimeoutError(f"{cfg.name}: deadlock: no stream transfer for {b.max_idle_cycles} "
                                       f"cycles (cycle {b.now}), {len(b.results)} of {len(b.jobs)} jobs done")

        async def wait_turn(ctx, b, index):
            if b.traffic.one_at_a_time:
                while len(b.results) < index:
                    await ctx.tick()

        async def put(ctx, b, port, payload, word):
            while b.rng.random() < b.traffic.in_gaps:
                await ctx.tick()
            ctx.set(port.valid, 1)
            ctx.set(payload, word)
            await ctx.tick().until(port.ready)
            ctx.set(port.valid, 0)
            b.last_transfer = b.now
            return b.now

        ports = {name: Value.cast(getattr(dut, name).p) for name in ("job", "act", "keys", "out")}

        def driver(name):
            port = getattr(dut, name)

            async def drive(ctx):
                b = self._batch
                for index, words in enumerate(b.words):
                    await wait_turn(ctx, b, index)
                    if name == "job":
                        b.accepted.append(await put(ctx, b, port, ports[name], words.job))
                        continue
                    for word in getattr(words, name):
                        await put(ctx, b, port, ports[name], word)

            return drive

        async def collect(ctx):
            b = self._batch
            for index, job in enumerate(b.jobs):
                n, m = job.shape
                y: list[int] = []
                last: list[bool] = []
                for _ in range(tiles(cfg, n, m)[1]):
                    while b.rng.random() < b.traffic.out_stall:
                        await ctx.tick()
                    ctx.set(dut.out.ready, 1)
                    (payload,) = await ctx.tick().sample(ports["out"]).until(dut.out.valid)
                    ctx.set(dut.out.ready, 0)
                    b.last_transfer = b.now
                    lanes, is_last = output_lanes(cfg, payload)
                    y += lanes
                    last.append(is_last)
                b.results.append(JobResult(y=y[:m], last=tuple(last), cycles=b.now - b.accepted[index],
                                           accepted=b.accepted[index]))
            # Nothing may follow the last tile: watch ``out`` (ready high) while a step issued last
            # could still reach it.
            ctx.set(dut.out.ready, 1)
            for _ in range(cfg.pipeline_latency + 4):
                *_, valid = await ctx.tick().sample(dut.out.valid)  # (clk, rst, valid)
                if valid:
                    raise AssertionError(f"{cfg.name}: an output tile after the last job's final tile "
                                         f"(cycle {b.now})")
            ctx.set(dut.out.ready, 0)

        sim.add_process(clock)
        for name in ("job", "act", "keys"):
            sim.add_testbench(driver(name), background=True)
        sim.add_testbench(collect)
        return sim
