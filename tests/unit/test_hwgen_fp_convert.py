"""FPConvert against sim.fp_reference.fp_convert; to_bits/from_bits/encode against known values, numpy and
torch's own conversions."""

import math

import numpy as np
import pytest
import torch
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hwgen.gateware.arith import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPConvert
from sim import fp_reference as ref
from tests.unit import test_hwgen_fp_add
from tests.unit.test_hwgen_fp_add import corner_values, raises_quietly

collect_unused = test_hwgen_fp_add.collect_unused  # shared fixture

WIDENING = [
    (FP16, FP32),
    (BF16, FP32),
    (FP8_E4M3, FP16),
    (FP8_E4M3, FP32),
    (FP8_E5M2, FP16),
    (FP8_E5M2, FP32),
    (FP8_E4M3, BF16),
    (FP8_E5M2, BF16),
]
NARROWING = [
    (FP32, FP16),
    (FP32, BF16),
    (FP16, BF16),
    (BF16, FP16),
    (FP16, FP8_E4M3),
    (FP16, FP8_E5M2),
    (FP32, FP8_E4M3),
    (BF16, FP8_E5M2),
]


def _ids(pairs):
    return [f"{s.name}-{d.name}" for s, d in pairs]


def simulate_unary(dut, values):
    out = []

    async def testbench(ctx):
        for v in values:
            ctx.set(dut.i, v)
            out.append(ctx.get(dut.o))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    return out


def convert_inputs(src, dst, n_random, seed):
    """Source bit patterns: every pattern for 8-bit sources; otherwise corners, random patterns and values at,
    next to and exactly between neighbouring ``dst`` grid points (rounding ties, overflow, underflow)."""
    if src.width <= 8:
        return list(range(1 << src.width))
    g = torch.Generator().manual_seed(seed)
    values = list(corner_values(src).values())
    values += torch.randint(0, 1 << src.width, (n_random,), generator=g).tolist()
    d = torch.randint(0, dst.inf, (n_random,), generator=g)  # positive finite dst patterns
    d = torch.cat([d, torch.tensor([dst.max_finite, 0, 1, dst.man_mask])])
    lo, hi = ref.decode(d, dst), ref.decode(d + 1, dst)  # d + 1 may be inf: the overflow boundary
    hi = torch.where(torch.isinf(hi), lo + (lo - ref.decode(d - 1, dst)), hi)
    sign = torch.randint(0, 2, d.shape, generator=g) << (src.width - 1)
    for v in (lo, (lo + hi) / 2):
        s = ref.encode(v, src)
        for neighbour in (s, s + 1, torch.clamp(s - 1, min=0)):
            values += (neighbour | sign).tolist()
    return values


def check_convert(src, dst, values):
    hw = simulate_unary(FPConvert(src, dst), values)
    expected = ref.fp_convert(torch.tensor(values), src, dst).tolist()
    rows = zip(values, hw, expected, strict=True)
    bad = [f"i=0x{v:x} hw=0x{h:x} ref=0x{r:x}" for v, h, r in rows if h != r]
    assert not bad, f"{len(bad)} mismatches ({src.name}->{dst.name}), first: " + "; ".join(bad[:8])


# Reference model --------------------------------------------------------------------------------------


def test_to_bits_known():
    values = torch.tensor(
        [1.0, -2.0, 65504.0, 65519.0, 65520.0, 1e-8, math.nan, -0.0, 2.0**-24, 2.0**-25, 3 * 2.0**-25]
    )
    expected = [0x3C00, 0xC000, 0x7BFF, 0x7BFF, 0x7C00, 0x0000, 0x7E00, 0x8000, 0x0001, 0x0000, 0x0002]
    assert ref.to_bits(values, FP16).tolist() == expected
    e4m3 = torch.tensor([240.0, 247.0, 248.0, 2.0**-9, 2.0**-10, 1.5 * 2.0**-9, -math.inf, 1.0])
    assert ref.to_bits(e4m3, FP8_E4M3).tolist() == [0x77, 0x77, 0x78, 0x01, 0x00, 0x02, 0xF8, 0x38]
    e5m2 = torch.tensor([57344.0, 61440.0, 2.0**-16, 1.0, -1.5])
    assert ref.to_bits(e5m2, FP8_E5M2).tolist() == [0x7B, 0x7C, 0x01, 0x3C, 0xBE]


def test_from_bits_known():
    assert ref.from_bits(torch.tensor([0x0001, 0x7BFF, 0xC000, 0x8000]), FP16).tolist() == [
        2.0**-24, 65504.0, -2.0, -0.0
    ]
    assert ref.from_bits(torch.tensor([0x77, 0x01, 0x08]), FP8_E4M3).tolist() == [240.0, 2.0**-9, 2.0**-6]
    assert ref.from_bits(torch.tensor([0x7B, 0x01]), FP8_E5M2).tolist() == [57344.0, 2.0**-16]
    special = ref.from_bits(torch.tensor([0x7C00, 0xFC00, 0x7E00]), FP16)
    assert special[0] == math.inf and special[1] == -math.inf and math.isnan(special[2])


def test_to_bits_rejects_integers():
    with pytest.raises(TypeError, match=r"^values must be a floating-point tensor, not torch\.int64$"):
        ref.to_bits(torch.tensor([1]), FP16)


def test_reference_fp16_round_trip_and_numpy():
    bits = torch.arange(1 << 16)
    as_fp32 = ref.fp_convert(bits, FP16, FP32)
    expected = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    expected = np.where(np.isnan(expected), FP32.canonical_nan, expected.view(np.uint32).astype(np.int64))
    np.testing.assert_array_equal(as_fp32.numpy(), expected)
    back = ref.fp_convert(as_fp32, FP32, FP16)
    is_nan = ((bits & 0x7C00) == 0x7C00) & ((bits & 0x3FF) != 0)
    assert torch.equal(back, torch.where(is_nan, FP16.canonical_nan, bits))


def test_reference_fp32_narrowing_matches_numpy_and_torch():
    vals = convert_inputs(FP32, FP16, 20_000, seed=31) + convert_inputs(FP32, BF16, 20_000, seed=32)
    bits = np.array(vals, dtype=np.uint32)
    f32 = bits.view(np.float32)
    with np.errstate(all="ignore"):
        h = f32.astype(np.float16)
    expected = np.where(np.isnan(h), FP16.canonical_nan, h.view(np.uint16).astype(np.int64))
    np.testing.assert_array_equal(ref.fp_convert(torch.tensor(vals), FP32, FP16).numpy(), expected)
    b = torch.from_numpy(f32.copy()).to(torch.bfloat16)
    expected = torch.where(torch.isnan(b), BF16.canonical_nan, b.view(torch.int16).to(torch.int64) & 0xFFFF)
    assert torch.equal(ref.fp_convert(torch.tensor(vals), FP32, BF16), expected)


# Hardware ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("src", "dst"), WIDENING, ids=_ids(WIDENING))
def test_convert_widening(src, dst):
    values = convert_inputs(src, dst, 400, seed=src.width)
    check_convert(src, dst, values)
    # Widening is exact: converting back gives the input (NaNs aside).
    there = torch.tensor(ref.fp_convert(torch.tensor(values), src, dst).tolist())
    back = ref.fp_convert(there, dst, src)
    is_nan = torch.tensor([src.is_nan(v) for v in values])
    assert torch.equal(back, torch.where(is_nan, src.canonical_nan, torch.tensor(values)))


@pytest.mark.parametrize(("src", "dst"), NARROWING, ids=_ids(NARROWING))
def test_convert_narrowing(src, dst):
    check_convert(src, dst, convert_inputs(src, dst, 400, seed=src.width + dst.width))


def test_convert_known_fp32_to_fp16():
    values = [0x3F800000, 0x477FE000, 0x477FF000, 0x33800000, 0x33000000, 0x33C00000, 0x7FC00001, 0xFF800000]
    # 1.0, 65504, 65520 (tie -> inf), 2**-24, 2**-25 (tie -> 0), 1.5 * 2**-24 (tie -> 2), NaN, -inf
    expected = [0x3C00, 0x7BFF, 0x7C00, 0x0001, 0x0000, 0x0002, 0x7E00, 0xFC00]
    assert simulate_unary(FPConvert(FP32, FP16), values) == expected


def test_convert_ports_and_errors(collect_unused):
    dut = FPConvert(FP8_E4M3, FP32)
    Fragment.get(dut, None)  # elaborates without error (and marks the component as used)
    assert (len(dut.i), len(dut.o), dut.latency) == (8, 32, 0)
    assert dut.src == FP8_E4M3 and dut.dst == FP32
    with raises_quietly(TypeError, match=r"^`dst` must be an FPFormat, not 'fp32'$"):
        FPConvert(FP16, "fp32")
