"""cocotb bench of the core (:class:`hwgen.gateware.core.LutCore`, any ``arch``): a ``sim.check.Backend``.

Each cocotb test runs one standard scenario of :mod:`sim.check` (:data:`sim.check.SCENARIOS`:
job list, traffic, expected values from :class:`sim.reference.ReferenceModel` and the
bit-for-bit comparison all come from there). This module only drives the streams, after
cocotb's ``examples/matrix_multiplier`` bench: one :class:`StreamSource` per input stream
(``job``, ``act``, ``keys``; a ``mac`` core's ``keys`` words are its weight operands, see
:func:`hwgen.description.key_encoding.key_stream`), each in its own coroutine and independent of
the others, and a :class:`StreamSink` that monitors ``out`` (with optional random
backpressure), checks the stream rules and hands the output tiles to :class:`CocotbBackend`,
which splits them into :class:`sim.check.JobResult` per job.

Parameters come from the environment (set by :func:`sim.runner.run_cocotb`):

``TERNLUT_CFG``
    ``json.dumps(cfg.to_dict())`` of the :class:`~hwgen.description.config.CoreConfig` under test.
``TERNLUT_SEED``
    Integer seed; every scenario derives its own generators from it and its name.
``TERNLUT_REPORT`` (optional)
    Path of a JSON-lines file; one record per finished job is appended (shape, measured
    cycles, :func:`hwgen.description.schedule.job_cycles`).

Timing convention: signals are driven just after a rising edge and handshakes are sampled in
the ``ReadOnly`` phase after the falling edge, so a transfer sampled there happens on the next
rising edge. Edges are numbered from the clock start; a job's cycle count is
``edge(last output tile) - edge(job descriptor)``.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections import deque
from collections.abc import Callable, Sequence

import cocotb
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from hwgen.description.config import CoreConfig
from hwgen.description.schedule import job_cycles, tiles
from sim.check import (
    Backend,
    Job,
    JobResult,
    Traffic,
    input_words,
    output_lanes,
    run_scenario,
    scenario,
    timeout_cycles,
)

CFG_ENV = "TERNLUT_CFG"
SEED_ENV = "TERNLUT_SEED"
REPORT_ENV = "TERNLUT_REPORT"

#: Clock period, in ns.
PERIOD_NS = 10


def load_config() -> CoreConfig:
    """The configuration under test, from :data:`CFG_ENV`."""
    try:
        text = os.environ[CFG_ENV]
    except KeyError:
        raise RuntimeError(f"environment variable {CFG_ENV} (JSON of CoreConfig.to_dict()) is not set"
                           ) from None
    return CoreConfig(**json.loads(text))


def base_seed() -> int:
    """The run's seed, from :data:`SEED_ENV` (default 0)."""
    return int(os.environ.get(SEED_ENV, "0"))


# --------------------------------------------------------------------------------------------
# Bus functional models


class EdgeClock:
    """The bench clock; numbers the rising edges from its start (edge 0)."""

    def __init__(self, clk) -> None:
        self._clk = clk
        self._clock = Clock(clk, PERIOD_NS, unit="ns")
        self._t0_ns = 0.0

    def start(self) -> None:
        self._t0_ns = get_sim_time("ns")
        self._clock.start(start_high=True)

    def stop(self) -> None:
        self._clock.stop()

    def next_edge(self) -> int:
        """Index of the next rising edge, called between a falling and a rising edge."""
        return round((get_sim_time("ns") - self._t0_ns) / PERIOD_NS + 0.5)


class StreamSource:
    """Drives one ``amaranth.lib.stream`` input of the DUT from a queue of payload words.

    Follows the stream rules: ``valid`` never waits for ``ready`` and, once asserted, stays
    asserted with a stable payload until the transfer. With ``gap > 0`` each item is preceded
    by a random number of idle cycles (probability ``gap`` per cycle). While idle the payload
    carries random garbage, which the DUT must ignore.
    """

    def __init__(self, name: str, clock: EdgeClock, clk, valid, ready, payload, width: int,
                 rng: random.Random, gap: float = 0.0) -> None:
        self.name = name
        self.log = logging.getLogger(f"tb.{name}")
        self._clock = clock
        self._clk, self._valid, self._ready, self._payload = clk, valid, ready, payload
        self._width = width
        self._rng = rng
        self.gap = gap
        self._queue: deque[tuple[int, object]] = deque()
        self._callbacks: list[Callable[[int, object], None]] = []
        self._task = None
        self.transfers = 0

    def send(self, word: int, tag: object = None) -> None:
        """Queue a payload word; ``tag`` is passed to the callbacks when it is transferred."""
        if not 0 <= word < 1 << self._width:
            raise ValueError(f"{self.name}: payload {word:#x} does not fit in {self._width} bits")
        self._queue.append((word, tag))

    def add_callback(self, callback: Callable[[int, object], None]) -> None:
        """Call ``callback(edge, tag)`` for every transfer."""
        self._callbacks.append(callback)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._valid.value = 0
        self._task = cocotb.start_soon(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        holding = False
        fire_edge = None
        while True:
            await RisingEdge(self._clk)
            if fire_edge is not None:
                _, tag = self._queue.popleft()
                holding = False
                self.transfers += 1
                for cb in self._callbacks:
                    cb(fire_edge, tag)
            if not holding:
                if self._queue and (self.gap == 0 or self._rng.random() >= self.gap):
                    self._payload.value = self._queue[0][0]
                    self._valid.value = 1
                    holding = True
                else:
                    self._valid.value = 0
                    self._payload.value = self._rng.getrandbits(self._width)
            await FallingEdge(self._clk)
            await ReadOnly()
            fire_edge = None
            if holding:
                ready = str(self._ready.value)
                if ready not in ("0", "1"):
                    raise AssertionError(f"{self.name}: ready is {ready!r} while valid is asserted, "
                                         f"before edge {self._clock.next_edge()} (the transfer is undefined)")
                if ready == "1":
                    fire_edge = self._clock.next_edge()


class StreamSink:
    """Monitors the DUT's ``out`` stream, drives its ``ready`` and checks the producer's stream rules.

    With ``stall > 0``, ``ready`` is deasserted with probability ``stall`` each cycle. Every
    transfer calls the callbacks with ``(edge, payload)``. A producer that deasserts ``valid``
    or changes the payload before the transfer, or drives X/Z, fails the test.
    """

    def __init__(self, name: str, clock: EdgeClock, clk, valid, ready, payload,
                 rng: random.Random, stall: float = 0.0) -> None:
        self.name = name
        self.log = logging.getLogger(f"tb.{name}")
        self._clock = clock
        self._clk, self._valid, self._ready, self._payload = clk, valid, ready, payload
        self._rng = rng
        self.stall = stall
        self._callbacks: list[Callable[[int, int], None]] = []
        self._task = None
        self.transfers = 0

    def add_callback(self, callback: Callable[[int, int], None]) -> None:
        self._callbacks.append(callback)

    def start(self) -> None:
        self._ready.value = 0
        self._task = cocotb.start_soon(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self) -> None:
        waiting: int | None = None  # payload offered but not taken on the previous edge
        while True:
            await RisingEdge(self._clk)
            ready = self.stall == 0 or self._rng.random() >= self.stall
            self._ready.value = int(ready)
            await FallingEdge(self._clk)
            await ReadOnly()
            edge = self._clock.next_edge()
            valid = str(self._valid.value)
            if valid not in ("0", "1"):
                raise AssertionError(f"{self.name}: valid is {valid!r} before edge {edge}")
            if valid == "0":
                if waiting is not None:
                    raise AssertionError(f"{self.name}: valid deasserted before edge {edge} "
                                         f"without a transfer (stream rule 2)")
                continue
            try:
                payload = self._payload.value.to_unsigned()
            except ValueError:
                raise AssertionError(f"{self.name}: payload has X/Z bits while valid, before edge {edge}: "
                                     f"{self._payload.value}") from None
            if waiting is not None and payload != waiting:
                raise AssertionError(f"{self.name}: payload changed before edge {edge} without a transfer "
                                     f"(stream rule 2): {waiting:#x} -> {payload:#x}")
            if ready:
                waiting = None
                self.transfers += 1
                for cb in self._callbacks:
                    cb(edge, payload)
            else:
                waiting = payload


# --------------------------------------------------------------------------------------------
# The backend


class _Pending:
    """A submitted job: its output tiles so far and the edges of its transfers."""

    def __init__(self, index: int, job: Job, o_count: int) -> None:
        self.index, self.job, self.o_count = index, job, o_count
        self.y: list[int] = []
        self.last: list[bool] = []
        self.accepted: int | None = None


class LutCoreTestbench:
    """Drivers and monitor around one DUT instance, for one :class:`sim.check.Traffic`.

    Parameters
    ----------
    dut : cocotb handle
        The top level (ports ``clk``, ``rst``, ``job__*``, ``act__*``, ``keys__*``, ``out__*``).
    cfg : CoreConfig
        The configuration the Verilog was emitted from.
    traffic : Traffic
        Input gaps, output stalls and the seed of garbage payloads, gaps and stalls.
    """

    def __init__(self, dut, cfg: CoreConfig, traffic: Traffic) -> None:
        self.dut = dut
        self.cfg = cfg
        self.traffic = traffic
        self.rng = random.Random(traffic.seed)
        self.log = logging.getLogger("tb")
        self.log.setLevel(logging.INFO)
        self.clock = EdgeClock(dut.clk)
        job_bits = cfg.max_n.bit_length() + cfg.max_m.bit_length()
        gap, rng = traffic.in_gaps, self.rng
        self.job_drv = StreamSource("job", self.clock, dut.clk, dut.job__valid, dut.job__ready,
                                    dut.job__payload, job_bits, random.Random(rng.random()), gap)
        self.act_drv = StreamSource("act", self.clock, dut.clk, dut.act__valid, dut.act__ready,
                                    dut.act__payload, cfg.tile_n * cfg.act_width,
                                    random.Random(rng.random()), gap)
        self.keys_drv = StreamSource("keys", self.clock, dut.clk, dut.keys__valid, dut.keys__ready,
                                     dut.keys__payload, cfg.luts * cfg.keys * cfg.key_bits,
                                     random.Random(rng.random()), gap)
        self.out_mon = StreamSink("out", self.clock, dut.clk, dut.out__valid, dut.out__ready,
                                  dut.out__payload, random.Random(rng.random()), traffic.out_stall)
        self.job_drv.add_callback(self._on_job_accepted)
        self.out_mon.add_callback(self._on_output_tile)
        self._jobs: list[_Pending] = []
        self._open: deque[_Pending] = deque()
        self.results: dict[int, JobResult] = {}
        self._idle = Event()
        self._idle.set()

    # --- wiring callbacks ---

    def _on_job_accepted(self, edge: int, tag: object) -> None:
        self._jobs[tag].accepted = edge

    def _on_output_tile(self, edge: int, payload: int) -> None:
        if not self._open:
            raise AssertionError(f"unexpected output tile at edge {edge} (no job is open): "
                                 f"payload {payload:#x}")
        pending = self._open[0]
        lanes, last = output_lanes(self.cfg, payload)
        pending.y += lanes
        pending.last.append(last)
        if len(pending.last) < pending.o_count:
            return
        self._open.popleft()
        if pending.accepted is None:
            raise AssertionError(f"job {pending.index} ({pending.job}) finished at edge {edge} before its "
                                 f"descriptor was accepted")
        n, m = pending.job.shape
        self.results[pending.index] = JobResult(y=pending.y[:m], last=tuple(pending.last),
                                                cycles=edge - pending.accepted, accepted=pending.accepted)
        self.log.info("job %d %r: %d cycles (job_cycles = %d)", pending.index, pending.job,
                      edge - pending.accepted, job_cycles(self.cfg, n, m))
        if not self._open:
            self._idle.set()

    # --- lifecycle ---

    async def start(self, reset_cycles: int = 4) -> None:
        """Start the clock, hold reset for ``reset_cycles`` edges, then start drivers and monitor."""
        self.dut.rst.value = 1
        for handle in (self.dut.job__valid, self.dut.act__valid, self.dut.keys__valid, self.dut.out__ready):
            handle.value = 0
        self.clock.start()
        for _ in range(reset_cycles):
            await RisingEdge(self.dut.clk)
        self.dut.rst.value = 0
        for component in (self.job_drv, self.act_drv, self.keys_drv, self.out_mon):
            component.start()

    def stop(self) -> None:
        for component in (self.job_drv, self.act_drv, self.keys_drv, self.out_mon):
            component.stop()
        self.clock.stop()

    # --- stimulus ---

    def submit(self, job: Job) -> None:
        """Queue one job's :func:`sim.check.input_words` on the three input streams."""
        words = input_words(self.cfg, job, self.rng)
        index = len(self._jobs)
        pending = _Pending(index, job, tiles(self.cfg, *job.shape)[1])
        self._jobs.append(pending)
        self._open.append(pending)
        self._idle.clear()
        self.job_drv.send(words.job, tag=index)
        for t, word in enumerate(words.act):
            self.act_drv.send(word, tag=(index, t))
        for s, word in enumerate(words.keys):
            self.keys_drv.send(word, tag=(index, s))

    async def drain(self, jobs: Sequence[Job]) -> None:
        """Wait until every submitted job has all its output tiles; fail with the bench state on a hang."""
        limit = timeout_cycles(self.cfg, jobs, self.traffic)
        try:
            await with_timeout(self._idle.wait(), limit * PERIOD_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"hang: no completion within {limit} cycles; {self.state()}") from None

    def state(self) -> str:
        """A one-line summary of progress, for hang reports."""
        open_jobs = [(p.index, p.job) for p in self._open]
        return (f"jobs accepted {self.job_drv.transfers}/{len(self._jobs)}, "
                f"act rows accepted {self.act_drv.transfers} ({self.act_drv.pending} pending), "
                f"key words accepted {self.keys_drv.transfers} ({self.keys_drv.pending} pending), "
                f"output tiles {self.out_mon.transfers}, unfinished {open_jobs[:4]}")


class CocotbBackend(Backend):
    """Runs jobs on the DUT of the running cocotb test; each call resets the DUT.

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    cfg : CoreConfig
        The configuration the Verilog was emitted from.
    test : str
        Name of the records appended to :data:`REPORT_ENV`.
    """

    def __init__(self, dut, cfg: CoreConfig, test: str = "") -> None:
        self.dut = dut
        self.cfg = cfg
        self.test = test

    async def run_jobs(self, jobs: Sequence[Job], traffic: Traffic) -> list[JobResult]:
        tb = LutCoreTestbench(self.dut, self.cfg, traffic)
        await tb.start()
        try:
            if traffic.one_at_a_time:
                for job in jobs:
                    tb.submit(job)
                    await tb.drain([job])
            else:
                for job in jobs:
                    tb.submit(job)
                await tb.drain(jobs)
            for _ in range(4):  # a few idle cycles: a spurious output tile fails in the monitor
                await RisingEdge(self.dut.clk)
        finally:
            tb.stop()
        results = [tb.results[i] for i in range(len(jobs))]
        self.report(jobs, results, traffic)
        return results

    def report(self, jobs: Sequence[Job], results: Sequence[JobResult], traffic: Traffic) -> None:
        """Append per-job timing records to :data:`REPORT_ENV` (if set) and log them."""
        unstalled = traffic.unstalled and traffic.one_at_a_time
        rows = [{"test": self.test, "job": i, "n": j.shape[0], "m": j.shape[1],
                 "accepted_edge": r.accepted,
                 "cycles": r.cycles, "job_cycles": job_cycles(self.cfg, *j.shape), "unstalled": unstalled,
                 "gap": traffic.in_gaps, "stall": traffic.out_stall}
                for i, (j, r) in enumerate(zip(jobs, results, strict=True))]
        path = os.environ.get(REPORT_ENV)
        if path:
            with open(path, "a") as f:
                f.writelines(json.dumps(row) + "\n" for row in rows)
        log = logging.getLogger("tb")
        for row in rows:
            log.info("cycles %s", row)
        gaps = [b.accepted - a.accepted for a, b in zip(results, results[1:], strict=False)]
        log.info("job acceptance intervals (edges): %s", gaps)


# --------------------------------------------------------------------------------------------
# Tests: one per standard scenario of sim.check


async def _run(dut, name: str) -> None:
    cfg = load_config()
    await run_scenario(CocotbBackend(dut, cfg, test=name), scenario(cfg, name, base_seed()))


@cocotb.test()
async def test_random_shapes(dut) -> None:
    """Random GEMVs one job at a time: N, M not multiples of the tile, N or M = 1, N = max_n, M = max_m."""
    await _run(dut, "random_shapes")


@cocotb.test()
async def test_zero_weights(dut) -> None:
    """All-zero weights (see :data:`sim.check.SCENARIOS`)."""
    await _run(dut, "zero_weights")


@cocotb.test()
async def test_extreme_activations(dut) -> None:
    """N = max_n activations at one extreme value, all weights +1 then -1: the accumulator bound;
    FP overflow to inf, subnormal sums and signed zeros."""
    await _run(dut, "extreme_activations")


@cocotb.test()
async def test_backpressure_and_gaps(dut) -> None:
    """Random jobs queued back to back with random input valid gaps and random output backpressure."""
    await _run(dut, "backpressure_and_gaps")


@cocotb.test()
async def test_back_to_back_jobs(dut) -> None:
    """Jobs of different shapes queued at once, no reset between them, all streams at full speed."""
    await _run(dut, "back_to_back_jobs")


@cocotb.test()
async def test_unstalled_cycle_count(dut) -> None:
    """A single job on an idle core, inputs valid from the job's acceptance and out always ready,
    takes exactly :func:`hwgen.description.schedule.job_cycles` cycles (several shapes, each alone)."""
    await _run(dut, "unstalled_cycle_count")


__all__ = ["CFG_ENV", "SEED_ENV", "REPORT_ENV", "CocotbBackend", "LutCoreTestbench", "load_config"]
