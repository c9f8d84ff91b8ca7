"""cocotb bench of the adapted core (:class:`hwgen.gateware.adapter.AdaptedCore`): the emitted Verilog
against :class:`sim.adapter_reference.AdapterReference`, bit for bit.

The stimulus (shared-input groups of jobs, every stream's words) and the expected outputs come from
:mod:`sim.adapter_bench`, as for the Amaranth-simulator tests; the stream drivers and the output
monitor (stream rules checked) are those of :mod:`sim.cocotb_bench.lut_core_tb`.

Parameters come from the environment (set by :func:`sim.runner.run_cocotb` with ``adapter=``):
``TERNLUT_ADAPTER`` (``json.dumps(adapter.to_dict())``) and ``TERNLUT_SEED``.
"""

from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.triggers import Event, RisingEdge, SimTimeoutError, with_timeout

from hwgen.description.adapter import AdapterConfig, AdapterJob, adapter_group_cycles
from hwgen.description.lanes import unpack_lanes
from hwgen.description.schedule import tiles
from sim.adapter_bench import AdaptedGroup, AdaptedJob, expected, random_groups, random_weights, words
from sim.cocotb_bench.lut_core_tb import PERIOD_NS, EdgeClock, StreamSink, StreamSource

ADAPTER_ENV = "TERNLUT_ADAPTER"
SEED_ENV = "TERNLUT_SEED"

__all__ = ["ADAPTER_ENV", "load_adapter_config", "AdaptedTestbench"]


def load_adapter_config() -> AdapterConfig:
    """The adapter under test, from :data:`ADAPTER_ENV`."""
    return AdapterConfig.from_dict(json.loads(os.environ[ADAPTER_ENV]))


class AdaptedTestbench:
    """Drivers of every input stream and the ``out`` monitor around one adapted core."""

    def __init__(self, dut, adapter: AdapterConfig, *, gap: float = 0.0, stall: float = 0.0, seed: int = 0):
        self.dut, self.adapter = dut, adapter
        self.rng = random.Random(seed)
        self.clock = EdgeClock(dut.clk)
        names = ["job", "act", "keys", "scales"] + (["bvec"] if adapter.variant == "vera" else ["weights"])
        self.drivers = {}
        for name in names:
            payload = getattr(dut, f"{name}__payload")
            self.drivers[name] = StreamSource(
                name,
                self.clock,
                dut.clk,
                getattr(dut, f"{name}__valid"),
                getattr(dut, f"{name}__ready"),
                payload,
                len(payload),
                random.Random(self.rng.random()),
                gap,
            )
        self.out = StreamSink(
            "out",
            self.clock,
            dut.clk,
            dut.out__valid,
            dut.out__ready,
            dut.out__payload,
            random.Random(self.rng.random()),
            stall,
        )
        self.drivers["job"].add_callback(
            lambda edge, is_load: None if is_load else self.accepted.append(edge)
        )
        self.out.add_callback(self._on_tile)
        self.accepted: list[int] = []
        self.tiles: list[tuple[int, int]] = []
        self.expected_tiles = 0
        self.done = Event()

    def _on_tile(self, edge: int, payload: int) -> None:
        self.tiles.append((edge, payload))
        if len(self.tiles) > self.expected_tiles:
            raise AssertionError(f"an output tile beyond the jobs' at edge {edge}")
        if len(self.tiles) == self.expected_tiles:
            self.done.set()

    async def run(self, stream, limit_cycles: int = 400_000):
        """Send ``stream`` (:class:`sim.adapter_bench.StreamWords`), wait for every tile and return
        per job ``(y, last, error, accepted edge, last tile's edge)``."""
        core = self.adapter.core
        self.expected_tiles = sum(tiles(core, n, m)[1] for n, m in stream.shapes)
        dut = self.dut
        dut.rst.value = 1
        for drv in self.drivers.values():
            drv._valid.value = 0
        dut.out__ready.value = 0
        self.clock.start()
        for _ in range(4):
            await RisingEdge(dut.clk)
        dut.rst.value = 0
        for name, drv in self.drivers.items():
            for i, word in enumerate(getattr(stream, name)):
                drv.send(word, tag=stream.job_loads[i] if name == "job" else None)
            drv.start()
        self.out.start()
        try:
            await with_timeout(self.done.wait(), limit_cycles * PERIOD_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(
                f"hang: {len(self.tiles)} of {self.expected_tiles} tiles; jobs accepted {len(self.accepted)}"
            ) from None
        for _ in range(4):
            await RisingEdge(dut.clk)
        for drv in self.drivers.values():
            drv.stop()
        self.out.stop()
        self.clock.stop()
        results, i = [], 0
        bits = core.keys * core.acc_width
        for index, (n, m) in enumerate(stream.shapes):
            y, last, err, edge = [], [], [], 0
            for _ in range(tiles(core, n, m)[1]):
                edge, word = self.tiles[i]
                i += 1
                y += unpack_lanes(word & ((1 << bits) - 1), core.keys, core.acc_width, signed=not core.is_fp)
                last.append(bool((word >> bits) & 1))
                err.append(bool((word >> (bits + 1)) & 1))
            results.append((y[:m], tuple(last), tuple(err), self.accepted[index], edge))
        return results


def _check(results, want, bad=()) -> None:
    for i, ((y, last, err, _, _), exp) in enumerate(zip(results, want, strict=True)):
        assert y == exp, f"job {i}: outputs differ from the reference"
        assert last == tuple([False] * (len(last) - 1) + [True]), f"job {i}: last flags {last}"
        assert all(err) == any(err) == (i in bad), f"job {i}: error flags {err}"


def _seed() -> int:
    return int(os.environ.get(SEED_ENV, "0"))


@cocotb.test()
async def test_random_groups(dut) -> None:
    """Shared-input groups of ragged shapes, ranks 1, max_rank / 2 and max_rank, adapters switching
    between the resident ids, every fourth job with the adapter off; all streams at full speed."""
    adapter = load_adapter_config()
    groups = random_groups(adapter, np.random.default_rng(_seed()), groups=4, off_every=4)
    stream = words(adapter, groups, random.Random(_seed()))
    _check(await AdaptedTestbench(dut, adapter, seed=_seed()).run(stream), expected(adapter, groups))


@cocotb.test()
async def test_backpressure_and_gaps(dut) -> None:
    """The same kind of groups with random input gaps and output backpressure on every stream."""
    adapter = load_adapter_config()
    groups = random_groups(adapter, np.random.default_rng(_seed() + 1), groups=4, off_every=3)
    stream = words(adapter, groups, random.Random(_seed() + 1))
    tb = AdaptedTestbench(dut, adapter, gap=0.3, stall=0.3, seed=_seed() + 1)
    _check(await tb.run(stream), expected(adapter, groups))


@cocotb.test()
async def test_error_flag_and_recovery(dut) -> None:
    """A descriptor naming an adapter beyond ``resident`` runs the core alone with ``error`` set on
    its tiles; the jobs around it are adapted as usual."""
    adapter = load_adapter_config()
    rng = np.random.default_rng(_seed() + 2)
    core = adapter.core
    groups = random_groups(adapter, rng, groups=3)
    groups = [AdaptedGroup(g.x, g.jobs[:1]) for g in groups]
    bad_id = (1 << int(adapter.resident).bit_length()) - 1
    if bad_id <= adapter.resident:  # resident fills its field: ask for a rank beyond the maximum instead
        bad = {1: {"rank": (1 << int(adapter.max_rank).bit_length()) - 1}}
    else:
        bad = {1: {"adapter": bad_id}}
    if bad[1].get("rank", 0) and bad[1]["rank"] <= adapter.max_rank:
        bad = {1: {"down": (1 << int(adapter.u_entries).bit_length()) - 1}}
    jobs = [g.jobs[0] for g in groups]
    if jobs[1].weights is None:  # the flagged job must be one that asks for the adapter
        n, m = len(groups[1].x), jobs[1].w.shape[1]
        jobs[1] = AdaptedJob(jobs[1].w, 1, random_weights(adapter, 1, n, m, rng))
        groups[1] = AdaptedGroup(groups[1].x, (jobs[1],))
    del core
    stream = words(adapter, groups, random.Random(_seed()), bad=bad)
    _check(
        await AdaptedTestbench(dut, adapter, seed=_seed()).run(stream),
        expected(adapter, groups, bad=[1]),
        bad=(1,),
    )


@cocotb.test()
async def test_unstalled_cycles(dut) -> None:
    """One group on an idle unit, every stream at full speed: exactly the cycles of
    :func:`hwgen.description.adapter.adapter_group_cycles`."""
    adapter = load_adapter_config()
    groups = random_groups(adapter, np.random.default_rng(_seed() + 3), groups=1)
    stream = words(adapter, groups, random.Random(_seed()))
    results = await AdaptedTestbench(dut, adapter, seed=_seed()).run(stream)
    _check(results, expected(adapter, groups))
    jobs = []
    for job in groups[0].jobs:
        rank = (
            0
            if job.weights is None
            else (len(job.weights.d) if adapter.variant == "vera" else len(job.weights.a))
        )
        jobs.append(AdapterJob(len(groups[0].x), job.w.shape[1], rank))
    if any(j.rank for j in jobs) and adapter.storage == "stream":  # (onchip: the loads come first)
        measured, model = results[-1][4] - results[0][3], adapter_group_cycles(adapter, jobs)[1]
        assert measured == model, f"{measured} cycles, the schedule says {model}"
