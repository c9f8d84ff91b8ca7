"""cocotb regression of the core (:class:`hwgen.gateware.core.LutCore`, any ``arch``) against the reference model.

The reference is :class:`sim.reference.ReferenceModel`, itself checked against ``a @ W`` in int64.

Structured like cocotb's ``examples/matrix_multiplier`` bench: one :class:`StreamSource` per
input stream (``job``, ``act``, ``keys``; a ``mac`` core's ``keys`` words are its weight
operands, see :func:`hwgen.description.key_encoding.key_stream`), each in its own coroutine and
independent of the others, a :class:`StreamSink` that monitors ``out`` (with optional random backpressure) and
checks the stream rules, a :class:`GemvModel` that turns a job into expected output tiles, and
an :class:`InOrderChecker` that compares every tile bit for bit.

Parameters come from the environment (set by :func:`sim.runner.run_cocotb`):

``TERNLUT_CFG``
    ``json.dumps(cfg.to_dict())`` of the :class:`~hwgen.description.config.CoreConfig` under test.
``TERNLUT_SEED``
    Integer seed; every test derives its own generators from it and its name.
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
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cocotb
import numpy as np
import torch
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, SimTimeoutError, with_timeout

from hwgen.description.config import CoreConfig
from hwgen.description.key_encoding import key_stream
from hwgen.description.lanes import pack_lanes, unpack_lanes
from hwgen.description.schedule import job_cycles, tiles
from sim.reference import ReferenceModel
from sim.stimulus import act_range, extreme_activations, random_gemv

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
# Transactions


@dataclass(frozen=True)
class Job:
    """One GEMV ``y = a @ w``: ``a`` int64 of shape (n,), ``w`` ternary int8 of shape (n, m)."""

    index: int
    a: torch.Tensor
    w: torch.Tensor

    @property
    def n(self) -> int:
        return int(self.a.shape[0])

    @property
    def m(self) -> int:
        return int(self.w.shape[1])

    def __repr__(self) -> str:
        return f"Job({self.index}, n={self.n}, m={self.m})"


@dataclass(frozen=True)
class ExpectedTile:
    """Output tile ``o`` of job ``job``: ``lanes[k]`` is ``y[o*keys + k]`` or ``None`` (don't care)."""

    job: Job
    o: int
    tiles: int
    lanes: tuple[int | None, ...]

    @property
    def last(self) -> bool:
        return self.o == self.tiles - 1


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
# Model and checker


class GemvModel:
    """Transaction-level model: a :class:`Job` in, its expected output tiles out."""

    def __init__(self, cfg: CoreConfig) -> None:
        self.cfg = cfg
        self.reference = ReferenceModel(cfg)
        self._callbacks: list[Callable[[ExpectedTile], None]] = []

    def add_output_callback(self, callback: Callable[[ExpectedTile], None]) -> None:
        self._callbacks.append(callback)

    def send_input(self, job: Job) -> torch.Tensor:
        """Compute ``y`` with the reference model (checked against ``a @ w`` in int64) and emit its tiles."""
        y = self.reference.gemv(job.a, job.w)
        if not self.cfg.is_fp:  # integer sums are exact: the model must also equal a @ W
            exact = job.a.to(torch.int64) @ job.w.to(torch.int64)
            assert y.dtype == torch.int64 and torch.equal(y, exact), (
                f"reference model disagrees with a @ W for {job}: first differences at "
                f"{torch.nonzero(y != exact).flatten()[:8].tolist()}")
        keys = self.cfg.keys
        _, o_count = tiles(self.cfg, job.n, job.m)
        values = y.tolist()
        for o in range(o_count):
            lanes = tuple(values[o * keys + k] if o * keys + k < job.m else None for k in range(keys))
            tile = ExpectedTile(job=job, o=o, tiles=o_count, lanes=lanes)
            for cb in self._callbacks:
                cb(tile)
        return y


class InOrderChecker:
    """Compares output tiles with the expected ones, in order, bit for bit (lanes < m and ``last``)."""

    def __init__(self, cfg: CoreConfig) -> None:
        self.cfg = cfg
        self.log = logging.getLogger("tb.checker")
        self._expected: deque[ExpectedTile] = deque()
        self._callbacks: list[Callable[[ExpectedTile, int], None]] = []
        self.checked = 0

    def add_callback(self, callback: Callable[[ExpectedTile, int], None]) -> None:
        """Call ``callback(tile, edge)`` after each matching tile."""
        self._callbacks.append(callback)

    @property
    def outstanding(self) -> int:
        return len(self._expected)

    def add_expected(self, tile: ExpectedTile) -> None:
        self._expected.append(tile)

    def add_actual(self, edge: int, payload: int) -> None:
        cfg = self.cfg
        if not self._expected:
            raise AssertionError(f"unexpected output tile at edge {edge}: payload {payload:#x}")
        exp = self._expected.popleft()
        data_bits = cfg.keys * cfg.acc_width
        lanes = unpack_lanes(payload & ((1 << data_bits) - 1), cfg.keys, cfg.acc_width, signed=not cfg.is_fp)
        last = (payload >> data_bits) & 1
        pairs = enumerate(zip(exp.lanes, lanes, strict=True))
        wrong = [(k, exp.o * cfg.keys + k, e, a) for k, (e, a) in pairs if e is not None and e != a]
        if wrong or last != exp.last:
            shown = ", ".join(f"lane {k} (y[{i}]): expected {e}, got {a}" for k, i, e, a in wrong[:8])
            raise AssertionError(
                f"mismatch in {exp.job} output tile {exp.o} of {exp.tiles} at edge {edge}: "
                f"{len(wrong)} wrong lane(s){': ' + shown if shown else ''}"
                f"{'' if last == exp.last else f'; last: expected {int(exp.last)}, got {last}'}")
        self.checked += 1
        for cb in self._callbacks:
            cb(exp, edge)


# --------------------------------------------------------------------------------------------
# Testbench


@dataclass
class JobRecord:
    """Timing of one job: edges of the descriptor transfer and of the last output tile."""

    job: Job
    accepted: int | None = None
    done: int | None = None

    @property
    def cycles(self) -> int | None:
        if self.accepted is None or self.done is None:
            return None
        return self.done - self.accepted


class LutCoreTestbench:
    """Drivers, monitor, model and checker around one DUT instance.

    Parameters
    ----------
    dut : cocotb handle
        The top level (ports ``clk``, ``rst``, ``job__*``, ``act__*``, ``keys__*``, ``out__*``).
    cfg : CoreConfig
        The configuration the Verilog was emitted from.
    rng : random.Random
        Source of garbage lanes, idle payloads, gaps and stalls.
    gap : float
        Probability of an idle cycle before each input transfer (each input stream).
    stall : float
        Probability per cycle that ``out.ready`` is deasserted.
    """

    def __init__(self, dut, cfg: CoreConfig, rng: random.Random, *, gap: float = 0.0,
                 stall: float = 0.0, name: str = "tb") -> None:
        self.dut = dut
        self.cfg = cfg
        self.rng = rng
        self.name = name
        self.log = logging.getLogger(name)
        self.log.setLevel(logging.INFO)
        self.clock = EdgeClock(dut.clk)
        self.n_bits = cfg.max_n.bit_length()
        m_bits = cfg.max_m.bit_length()
        self.job_drv = StreamSource("job", self.clock, dut.clk, dut.job__valid, dut.job__ready,
                                    dut.job__payload, self.n_bits + m_bits, random.Random(rng.random()), gap)
        self.act_drv = StreamSource("act", self.clock, dut.clk, dut.act__valid, dut.act__ready,
                                    dut.act__payload, cfg.tile_n * cfg.act_width,
                                    random.Random(rng.random()), gap)
        self.keys_drv = StreamSource("keys", self.clock, dut.clk, dut.keys__valid, dut.keys__ready,
                                     dut.keys__payload, cfg.luts * cfg.keys * cfg.key_bits,
                                     random.Random(rng.random()), gap)
        self.out_mon = StreamSink("out", self.clock, dut.clk, dut.out__valid, dut.out__ready,
                                  dut.out__payload, random.Random(rng.random()), stall)
        self.model = GemvModel(cfg)
        self.checker = InOrderChecker(cfg)
        self.model.add_output_callback(self.checker.add_expected)
        self.out_mon.add_callback(self.checker.add_actual)
        self.records: list[JobRecord] = []
        self.job_drv.add_callback(self._on_job_accepted)
        self.checker.add_callback(self._on_tile_checked)
        self._idle = Event()
        self._idle.set()

    # --- wiring callbacks ---

    def _on_job_accepted(self, edge: int, tag: object) -> None:
        self.records[tag].accepted = edge

    def _on_tile_checked(self, tile: ExpectedTile, edge: int) -> None:
        if tile.last:
            rec = self.records[tile.job.index]
            rec.done = edge
            self.log.info("%r: %s cycles (job_cycles = %d)", tile.job, rec.cycles,
                          job_cycles(self.cfg, tile.job.n, tile.job.m))
        if self.checker.outstanding == 0:
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

    def make_job(self, a: np.ndarray | Sequence[int], w: np.ndarray) -> Job:
        job = Job(index=len(self.records), a=torch.as_tensor(np.asarray(a, dtype=np.int64)),
                  w=torch.as_tensor(np.asarray(w, dtype=np.int8)))
        self.records.append(JobRecord(job))
        return job

    def submit(self, a: np.ndarray | Sequence[int], w: np.ndarray) -> Job:
        """Queue one job on all three input streams and its expected tiles in the checker."""
        cfg = self.cfg
        job = self.make_job(a, w)
        n, m = job.n, job.m
        if not (1 <= n <= cfg.max_n and 1 <= m <= cfg.max_m):
            raise ValueError(f"job shape n={n}, m={m} outside [1, {cfg.max_n}] x [1, {cfg.max_m}]")
        self._idle.clear()
        self.model.send_input(job)
        self.job_drv.send(n | (m << self.n_bits), tag=job.index)
        t_count, _ = tiles(cfg, n, m)
        lo, hi = act_range(cfg)
        a_list = job.a.tolist()
        for t in range(t_count):
            row = [a_list[i] if i < n else self.rng.randint(lo, hi)  # lanes >= n: garbage
                   for i in range(t * cfg.tile_n, (t + 1) * cfg.tile_n)]
            self.act_drv.send(pack_lanes(row, cfg.act_width), tag=(job.index, t))
        for s, word in enumerate(key_stream(cfg, job.w.numpy())):
            self.keys_drv.send(pack_lanes(word.reshape(-1).tolist(), cfg.key_bits), tag=(job.index, s))
        return job

    def timeout_cycles(self, jobs: Sequence[Job]) -> int:
        """A generous cycle bound for ``jobs`` under this bench's gaps and stalls."""
        base = sum(job_cycles(self.cfg, j.n, j.m) + 2 * tiles(self.cfg, j.n, j.m)[0] for j in jobs)
        slow = 1 / (1 - self.job_drv.gap) / (1 - self.out_mon.stall)
        return int(4 * base * slow) + 200

    async def drain(self, jobs: Sequence[Job]) -> None:
        """Wait until every expected tile has been checked; fail with the bench state on a hang."""
        limit = self.timeout_cycles(jobs)
        try:
            await with_timeout(self._idle.wait(), limit * PERIOD_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"hang: no completion within {limit} cycles; {self.state()}") from None

    def state(self) -> str:
        """A one-line summary of progress, for hang reports."""
        open_jobs = [r.job for r in self.records if r.done is None]
        return (f"jobs accepted {self.job_drv.transfers}/{len(self.records)}, "
                f"act rows accepted {self.act_drv.transfers} ({self.act_drv.pending} pending), "
                f"key words accepted {self.keys_drv.transfers} ({self.keys_drv.pending} pending), "
                f"output tiles {self.out_mon.transfers} ({self.checker.outstanding} outstanding), "
                f"unfinished {open_jobs[:4]}")

    def report(self, test: str, *, unstalled: bool) -> list[dict[str, object]]:
        """Per-job timing records; also appended as JSON lines to :data:`REPORT_ENV` if set."""
        rows = []
        for r in self.records:
            rows.append({"test": test, "job": r.job.index, "n": r.job.n, "m": r.job.m,
                         "accepted_edge": r.accepted, "cycles": r.cycles,
                         "job_cycles": job_cycles(self.cfg, r.job.n, r.job.m), "unstalled": unstalled,
                         "gap": self.job_drv.gap, "stall": self.out_mon.stall})
        path = os.environ.get(REPORT_ENV)
        if path:
            with open(path, "a") as f:
                for row in rows:
                    f.write(json.dumps(row) + "\n")
        for row in rows:
            self.log.info("cycles %s", row)
        return rows


# --------------------------------------------------------------------------------------------
# Stimulus helpers


def rngs_for(name: str) -> tuple[random.Random, np.random.Generator]:
    """Deterministic generators for test ``name`` under the run's seed."""
    seed = base_seed()
    return random.Random(f"{seed}:{name}"), np.random.default_rng([seed, zlib.crc32(name.encode())])


def _not_multiple(gen: np.random.Generator, step: int, hi: int) -> int:
    """A value in [1, hi] that is not a multiple of ``step`` (if one exists)."""
    choices = [v for v in range(1, hi + 1) if v % step] or [hi]
    return int(choices[gen.integers(len(choices))])


def random_shapes(cfg: CoreConfig, gen: np.random.Generator) -> list[tuple[int, int]]:
    """Shapes covering the edges: N % tile_n != 0, M % keys != 0, M % (keys*reuse) != 0, 1, max."""
    small_n = min(cfg.max_n, 3 * cfg.tile_n)
    small_m = min(cfg.max_m, 3 * cfg.keys * cfg.reuse)
    block = cfg.keys * cfg.reuse
    return [
        (_not_multiple(gen, cfg.tile_n, small_n), _not_multiple(gen, cfg.keys, small_m)),
        (1, _not_multiple(gen, cfg.keys, small_m)),
        (_not_multiple(gen, cfg.tile_n, small_n), 1),
        (1, 1),
        (cfg.max_n, _not_multiple(gen, block, small_m)),
        (_not_multiple(gen, cfg.tile_n, small_n), cfg.max_m),
        (min(cfg.max_n, cfg.tile_n), min(cfg.max_m, cfg.keys)),
        (int(gen.integers(1, cfg.max_n, endpoint=True)), int(gen.integers(1, min(cfg.max_m, 4 * block),
                                                                         endpoint=True))),
    ]


async def _run_jobs(tb: LutCoreTestbench, gemvs: Sequence[tuple[np.ndarray, np.ndarray]], *,
                    one_at_a_time: bool) -> None:
    if one_at_a_time:
        for a, w in gemvs:
            job = tb.submit(a, w)
            await tb.drain([job])
    else:
        jobs = [tb.submit(a, w) for a, w in gemvs]
        await tb.drain(jobs)
    for _ in range(4):  # a few idle cycles: no spurious output may follow
        await RisingEdge(tb.dut.clk)
    assert tb.out_mon.transfers == tb.checker.checked, "spurious output tiles after the last job"


# --------------------------------------------------------------------------------------------
# Tests


@cocotb.test()
async def test_random_shapes(dut) -> None:
    """Random GEMVs, one job at a time: N, M not multiples of the tile, N or M = 1, N = max_n, M = max_m."""
    cfg = load_config()
    rng, gen = rngs_for("random_shapes")
    tb = LutCoreTestbench(dut, cfg, rng)
    await tb.start()
    await _run_jobs(tb, [random_gemv(cfg, gen, n, m) for n, m in random_shapes(cfg, gen)], one_at_a_time=True)
    tb.report("random_shapes", unstalled=True)
    tb.stop()


@cocotb.test()
async def test_zero_weights(dut) -> None:
    """All-zero weights give all-zero outputs, whatever the activations (including N = max_n);
    except in floating-point ``mac`` cores, where ``inf * +0.0`` is NaN and ``-a * +0.0`` is -0,
    as the reference model says."""
    cfg = load_config()
    rng, gen = rngs_for("zero_weights")
    tb = LutCoreTestbench(dut, cfg, rng)
    await tb.start()
    gemvs = []
    for n, m in [(cfg.max_n, min(cfg.max_m, cfg.keys * cfg.reuse + 1)), random_shapes(cfg, gen)[0], (1, 1)]:
        a, _ = random_gemv(cfg, gen, n, m)
        gemvs.append((a, np.zeros((n, m), dtype=np.int8)))
    await _run_jobs(tb, gemvs, one_at_a_time=True)
    tb.report("zero_weights", unstalled=True)
    tb.stop()


@cocotb.test()
async def test_extreme_activations(dut) -> None:
    """N = max_n activations all at one extreme value (see :func:`extreme_activations`) with all
    weights +1, then -1.

    Integer cores: ``max_n * min_value * -1`` is the largest output magnitude, so this proves the
    accumulator width. Floating-point cores: overflow to +-inf, subnormal sums and signed zeros.
    """
    cfg = load_config()
    rng, gen = rngs_for("extreme_activations")
    tb = LutCoreTestbench(dut, cfg, rng)
    await tb.start()
    n = cfg.max_n
    m = min(cfg.max_m, cfg.keys * cfg.reuse + max(1, cfg.keys // 2))
    gemvs = []
    for value in extreme_activations(cfg):
        for weight in (1, -1):
            gemvs.append((np.full(n, value, dtype=np.int64), np.full((n, m), weight, dtype=np.int8)))
    await _run_jobs(tb, gemvs, one_at_a_time=True)
    tb.report("extreme_activations", unstalled=True)
    tb.stop()


@cocotb.test()
async def test_backpressure_and_gaps(dut) -> None:
    """Random jobs queued back to back with random input valid gaps and random output backpressure."""
    cfg = load_config()
    rng, gen = rngs_for("backpressure_and_gaps")
    tb = LutCoreTestbench(dut, cfg, rng, gap=0.3, stall=0.4)
    await tb.start()
    shapes = random_shapes(cfg, gen)
    gen.shuffle(shapes)
    await _run_jobs(tb, [random_gemv(cfg, gen, n, m) for n, m in shapes], one_at_a_time=False)
    tb.report("backpressure_and_gaps", unstalled=False)
    tb.stop()


@cocotb.test()
async def test_back_to_back_jobs(dut) -> None:
    """Jobs of different shapes queued at once, no reset between them, all streams at full speed."""
    cfg = load_config()
    rng, gen = rngs_for("back_to_back_jobs")
    tb = LutCoreTestbench(dut, cfg, rng)
    await tb.start()
    shapes = random_shapes(cfg, gen)
    shapes = [shapes[3], shapes[0], shapes[0], shapes[4], shapes[1], shapes[3], shapes[2], shapes[7]]
    await _run_jobs(tb, [random_gemv(cfg, gen, n, m) for n, m in shapes], one_at_a_time=False)
    rows = tb.report("back_to_back_jobs", unstalled=False)
    starts = [r["accepted_edge"] for r in rows]
    tb.log.info("job acceptance intervals (edges): %s", [b - a for a, b in zip(starts, starts[1:])])
    tb.stop()


@cocotb.test()
async def test_unstalled_cycle_count(dut) -> None:
    """A single job on an idle core, inputs valid from the job's acceptance and out always ready,
    takes exactly :func:`hwgen.description.schedule.job_cycles` cycles (for several shapes, each alone)."""
    cfg = load_config()
    rng, gen = rngs_for("unstalled_cycle_count")
    tb = LutCoreTestbench(dut, cfg, rng)
    await tb.start()
    shapes = random_shapes(cfg, gen)
    shapes = [shapes[0], shapes[3], shapes[1], shapes[2], shapes[4]]
    await _run_jobs(tb, [random_gemv(cfg, gen, n, m) for n, m in shapes], one_at_a_time=True)
    rows = tb.report("unstalled_cycle_count", unstalled=True)
    wrong = [f"n={r['n']}, m={r['m']}: measured {r['cycles']}, job_cycles {r['job_cycles']}"
             for r in rows if r["cycles"] != r["job_cycles"]]
    assert not wrong, "cycle count differs from hwgen.description.schedule.job_cycles: " + "; ".join(wrong)
    tb.stop()


__all__ = ["CFG_ENV", "SEED_ENV", "REPORT_ENV", "LutCoreTestbench", "load_config"]
