"""docs/interface.md against the code: its generated blocks, its formulas and its claims about
lanes past M and floating-point semantics.

The generated blocks (port and field tables, the key-order example) are made by
:mod:`hwgen.gateware.interface_doc`; after a change to the core or the schedule, rerun
``python scripts/interface_tables.py --write``.
"""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from amaranth.sim import Simulator

from hwgen.description.config import CoreConfig
from hwgen.description.key_encoding import encode_weights, key_stream
from hwgen.description.schedule import steps, tiles
from hwgen.gateware.core import LutCore, act_layout, job_layout, keys_layout, out_layout
from hwgen.gateware.interface_doc import KEY_ORDER_EXAMPLE, read_blocks, render_blocks, replace_blocks
from sim.reference import ReferenceModel

DOC = Path(__file__).resolve().parents[2] / "docs" / "interface.md"


def test_generated_blocks_match_the_code():
    found = read_blocks(DOC.read_text())
    for name, body in render_blocks().items():
        assert name in found, f"docs/interface.md has no generated block {name!r}"
        assert found[name] == body, (f"generated block {name!r} of docs/interface.md is out of date: "
                                     f"run python scripts/interface_tables.py --write")


def test_key_order_example_is_the_schedule():
    """The worked example's rows, read back from the document, are ``steps`` and ``key_stream``'s order."""
    kwargs, (n, m) = KEY_ORDER_EXAMPLE
    cfg = CoreConfig(**kwargs)
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \|", read_blocks(DOC.read_text())["key-order"], re.M)
    assert [int(s) for s, _, _ in rows] == list(range(len(rows)))
    order = steps(cfg, n, m)
    assert [[int(t), int(o)] for _, t, o in rows] == order.tolist()
    w = np.random.default_rng(0).integers(-1, 2, (n, m))
    keys = np.zeros((tiles(cfg, n, m)[0] * cfg.luts, tiles(cfg, n, m)[1] * cfg.keys), dtype=np.uint32)
    keys[: -(-n // cfg.mu), :m] = encode_weights(w, cfg.mu)
    for word, (t, o) in zip(key_stream(cfg, w), order, strict=True):
        block = keys[t * cfg.luts:(t + 1) * cfg.luts, o * cfg.keys:(o + 1) * cfg.keys]
        assert np.array_equal(word, block)


@pytest.mark.parametrize("kwargs", [
    dict(act="int8", mu=2, luts=32, keys=64),
    dict(act="int3", mu=5, luts=3, keys=7, max_n=100, max_m=9, reuse=2),
    dict(arch="signflip", act="bf16", luts=4, keys=3, max_n=8, max_m=1000),
    dict(arch="mac", act="int16", luts=2, keys=5, max_n=17, max_m=16),
    dict(arch="mac", act="fp8e4m3", acc="fp16", luts=3, keys=2, max_n=12, max_m=4),
], ids=["int8", "int3-mu5", "signflip-bf16", "mac-int16", "mac-fp8"])
def test_payload_formulas_of_the_document(kwargs):
    cfg = CoreConfig(**kwargs)
    w, nb = cfg.act_width, cfg.max_n.bit_length()
    job = job_layout(cfg)
    assert (job["n"].offset, job["n"].width) == (0, nb)
    assert (job["m"].offset, job["m"].width) == (nb, cfg.max_m.bit_length())
    assert act_layout(cfg).size == cfg.tile_n * w and act_layout(cfg).elem_shape.width == w
    assert cfg.key_bits == (w if cfg.is_mac else (3**cfg.mu - 1).bit_length())
    keys = keys_layout(cfg)
    assert keys.size == cfg.luts * cfg.keys * cfg.key_bits and keys.elem_shape.size == cfg.keys * cfg.key_bits
    out = out_layout(cfg)
    assert out["data"].offset == 0 and out["data"].shape.elem_shape.width == cfg.acc_width
    assert (out["last"].offset, out.size) == (cfg.keys * cfg.acc_width, cfg.keys * cfg.acc_width + 1)
    if not cfg.is_fp:
        assert cfg.acc_width == (cfg.max_n << (w - 1)).bit_length() + 1


def test_replace_blocks_needs_the_markers():
    with pytest.raises(ValueError, match=r"^no generated block named examples in the document$"):
        replace_blocks("# no markers\n", {"examples": "x"})


def _output_tiles(cfg, n, m, rows, words):
    """Every lane of every output tile of one job (the Amaranth simulator, all streams at full speed)."""
    dut = LutCore(cfg)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    tiles_out = []

    async def drive(ctx):
        for port, fills in ((dut.job, [((dut.job.p.n, n), (dut.job.p.m, m))]),
                            (dut.act, [[(dut.act.p[i], int(v)) for i, v in enumerate(row)] for row in rows]),
                            (dut.keys, [[(dut.keys.p[lut][k], int(word[lut, k])) for lut in range(cfg.luts)
                                         for k in range(cfg.keys)] for word in words])):
            for fill in fills:
                ctx.set(port.valid, 1)
                for signal, value in fill:
                    ctx.set(signal, value)
                await ctx.tick().until(port.ready)
            ctx.set(port.valid, 0)

    async def collect(ctx):
        ctx.set(dut.out.ready, 1)
        for _ in range(tiles(cfg, n, m)[1]):
            (payload,) = await ctx.tick().sample(dut.out.p).until(dut.out.valid)
            tiles_out.append(([payload.data[k] for k in range(cfg.keys)], payload.last))

    sim.add_testbench(drive, background=True)
    sim.add_testbench(collect)
    sim.run()
    return tiles_out


@pytest.mark.parametrize("act", ["int8", "fp16"])
def test_lanes_past_m_carry_the_keys_of_their_columns(act):
    """With key_stream's key-0 padding, lanes past M are 0 (+0.0, whatever the activations, here
    NaN past N and -0.0, inf, NaN below); with other keys, the dot product those keys encode."""
    cfg = CoreConfig(act=act, mu=2, luts=2, keys=3, max_n=16, max_m=16)
    n, m = 5, 4  # T = 2, O = 2: lanes 1 and 2 of tile 1 lie past M
    rng = np.random.default_rng(1)
    a = np.array([0x8000, 0x7C00, 0x7E00, 0x3C00, 0xC000]) if cfg.is_fp else rng.integers(-128, 128, n)
    rows = np.full(2 * cfg.tile_n, 0x7E01 if cfg.is_fp else 77)  # garbage past N
    rows[:n] = a
    rows = rows.reshape(2, cfg.tile_n)
    wide = rng.integers(-1, 2, (n, 2 * cfg.keys))
    model = ReferenceModel(cfg)
    for weights, expect_past_m in ((wide[:, :m], [0, 0]),
                                   (wide, model.gemv(torch.tensor(a), torch.tensor(wide)).tolist()[m:])):
        out = _output_tiles(cfg, n, m, rows, key_stream(cfg, weights))
        lanes = [x for data, _ in out for x in data]
        assert [last for _, last in out] == [0, 1]
        assert lanes[:m] == model.gemv(torch.tensor(a), torch.tensor(wide[:, :m])).tolist()
        assert lanes[m:] == expect_past_m


FP16_NAN, FP16_INF, FP16_NEG_ZERO, FP16_ONE, FP16_MAX = 0x7E00, 0x7C00, 0x8000, 0x3C00, 0x7BFF


def _fp16(**kwargs):
    return ReferenceModel(CoreConfig(act="fp16", max_n=16, max_m=16, **kwargs))


def test_fp_semantics_stated_in_the_document():
    """Each bullet of "Where this differs from an IEEE dot product" (the RTL matches the reference
    bit for bit, tests/unit/test_hwgen_core_pysim.py)."""
    lut = _fp16(mu=2, luts=2, keys=3)
    a = torch.tensor([FP16_NAN, FP16_ONE, FP16_INF, FP16_ONE])
    w = torch.tensor([[0, 1, 0], [1, 1, 1], [0, 0, 1], [1, 0, -1]])
    assert lut.gemv(a, w).tolist() == [0x4000, FP16_NAN, FP16_INF]  # NaN, inf with weight 0 ignored
    mac = _fp16(arch="mac", luts=2, keys=3)
    assert mac.gemv(a, w).tolist()[0] == FP16_NAN  # ... but not by the mac baseline
    specials = torch.tensor([FP16_NEG_ZERO, FP16_NAN, FP16_INF, FP16_NEG_ZERO, 0xC000])
    assert lut.gemv(specials, torch.zeros(5, 2, dtype=torch.int64)).tolist() == [0, 0]  # all-zero weights
    for n in (4, 8):  # T = 1 and T = 2: a -0.0 sum stays -0.0
        assert lut.gemv(torch.full((n,), FP16_NEG_ZERO), torch.ones(n, 1, dtype=torch.int64)).tolist() == [
            FP16_NEG_ZERO]
    pair, plus = torch.tensor([FP16_MAX, FP16_MAX]), torch.ones(2, 1, dtype=torch.int64)
    assert _fp16(acc="fp32", mu=1, luts=2, keys=1).gemv(pair, plus).tolist() == [0x7F800000]  # +inf
    assert _fp16(acc="fp32", mu=1, luts=1, keys=1).gemv(pair, plus).tolist() == [0x47FFE000]  # 131008.0
    single = _fp16(mu=1, luts=1, keys=1)
    # an activation reaches out unadded (L = 1, T = 1): its payload and sign are not kept either
    assert single.gemv(torch.tensor([0x7C01]), -plus[:1]).tolist() == [FP16_NAN]
    assert single.gemv(torch.tensor([0x7C01, FP16_ONE]), torch.tensor([[-1], [1]])).tolist() == [FP16_NAN]
