"""LUT builder and fetch stage in Amaranth's simulator, against the reference model."""

import itertools
import random

import pytest
import torch
from amaranth.sim import Simulator

from hwgen.description.config import CoreConfig
from hwgen.gateware.components.fetch import Fetcher
from hwgen.gateware.components.lut_builder import LutBuilder
from sim.reference import ReferenceModel


def _settle(dut, testbench):
    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()


@pytest.mark.parametrize("mu,act", [
    (1, "int8"), (2, "int8"), (3, "int4"), (4, "int8"), (5, "int2"), (3, "int16"),
])
def test_lut_builder_matches_reference(mu, act):
    cfg = CoreConfig(act=act, mu=mu, luts=1, keys=1, max_n=mu, max_m=1)
    model = ReferenceModel(cfg)
    lo, hi = cfg.act_type.min_value, cfg.act_type.max_value
    rng = random.Random(mu)
    groups = [[lo] * mu, [hi] * mu, [lo, hi] * mu]
    groups = [g[:mu] for g in groups] + [[rng.randint(lo, hi) for _ in range(mu)] for _ in range(20)]
    if mu <= 2:  # exhaustive over a small format too
        groups += [list(g) for g in itertools.product(range(lo, hi + 1, max(1, (hi - lo) // 7)), repeat=mu)]
    dut = LutBuilder(cfg)

    async def testbench(ctx):
        for group in groups:
            for j, a in enumerate(group):
                ctx.set(dut.a[j], a)
            expected = model.build_luts(torch.tensor(group))
            got = [ctx.get(dut.entries[i]) for i in range(cfg.plan.entries)]
            assert got == expected[1:].tolist(), f"group {group}"

    _settle(dut, testbench)


@pytest.mark.parametrize("mu,keys", [(1, 3), (2, 5), (3, 4), (4, 2)])
def test_fetch_matches_reference(mu, keys):
    cfg = CoreConfig(act="int8", mu=mu, luts=1, keys=keys, max_n=mu, max_m=keys)
    model = ReferenceModel(cfg)
    rng = random.Random(mu)
    dut = Fetcher(cfg)
    index_bits = cfg.key_bits - 1

    async def testbench(ctx):
        for _ in range(10):
            group = torch.tensor([rng.randint(-128, 127) for _ in range(mu)])
            luts = model.build_luts(group)
            for i in range(cfg.plan.entries):
                ctx.set(dut.entries[i], int(luts[i + 1]))
            # every index (valid and past E) with both signs, spread over the lanes
            codes = [(s << index_bits) | i for s in (0, 1) for i in range(1 << index_bits)]
            for start in range(0, len(codes), keys):
                chunk = (codes[start:start + keys] + [0] * keys)[:keys]
                for k, code in enumerate(chunk):
                    ctx.set(dut.keys[k], code)
                for k, code in enumerate(chunk):
                    index, neg = code & ((1 << index_bits) - 1), code >> index_bits
                    value = int(luts[index]) if index <= cfg.plan.entries else 0
                    assert ctx.get(dut.values[k]) == (-value if neg else value), f"key {code:#x}"

    _settle(dut, testbench)
