"""The multipliers of a ``mac`` core in Amaranth's simulator: generic products of any operands,
not only ternary weights (the core must not be simplifiable to sign flips)."""

import random

import pytest
import torch
from amaranth.sim import Simulator

from hwgen.description.config import CoreConfig
from hwgen.gateware.components.multipliers import Multipliers
from sim import fp_reference


@pytest.mark.parametrize("act", ["int2", "int8", "int16"])
def test_integer_products_are_full_width(act):
    cfg = CoreConfig(arch="mac", act=act, luts=1, keys=4, max_n=1, max_m=4)
    lo, hi = cfg.act_type.min_value, cfg.act_type.max_value
    rng = random.Random(act)
    pairs = [(lo, lo), (lo, hi), (hi, hi), (lo, -1), (hi, 0)]
    pairs += [(rng.randint(lo, hi), rng.randint(lo, hi)) for _ in range(40)]
    dut = Multipliers(cfg)

    async def testbench(ctx):
        for i in range(0, len(pairs), cfg.keys):
            chunk = pairs[i:i + cfg.keys]
            a = chunk[0][0]
            ctx.set(dut.a, a)
            for k, (_, w) in enumerate(chunk):
                ctx.set(dut.weights[k], w)
            assert [ctx.get(dut.products[k]) for k in range(len(chunk))] == [a * w for _, w in chunk]

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    assert cfg.product_width == 2 * cfg.act_width and lo * lo == 1 << (2 * cfg.act_width - 2)


@pytest.mark.parametrize("act,stages", [("fp16", 0), ("bf16", 2), ("fp8e5m2", 3)])
def test_fp_products_match_reference_after_mul_latency(act, stages):
    cfg = CoreConfig(arch="mac", act=act, adder_stages=stages, luts=1, keys=3, max_n=1, max_m=3)
    fmt = cfg.act_type.fmt
    rng = random.Random(act)
    specials = [0, fmt.sign_mask, fmt.inf, fmt.canonical_nan, fmt.min_subnormal, fmt.max_finite]
    words = [[rng.choice(specials) if rng.random() < 0.2 else rng.getrandbits(fmt.width) for _ in range(4)]
             for _ in range(60)]  # [a, w0, w1, w2] per cycle
    dut = Multipliers(cfg)
    outputs = []

    async def testbench(ctx):
        for word in words + [[0] * 4] * cfg.mul_latency:
            ctx.set(dut.a, word[0])
            for k in range(cfg.keys):
                ctx.set(dut.weights[k], word[1 + k])
            outputs.append([ctx.get(dut.products[k]) for k in range(cfg.keys)])  # inputs of mul_latency ago
            await (ctx.tick() if cfg.mul_latency else ctx.delay(1e-6))

    sim = Simulator(dut)
    if cfg.mul_latency:  # a combinational unit has no clock domain
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    a = torch.tensor([w[0] for w in words]).reshape(-1, 1)
    b = torch.tensor([w[1:] for w in words])
    assert outputs[cfg.mul_latency:] == fp_reference.fp_mul(a, b, fmt).tolist()
