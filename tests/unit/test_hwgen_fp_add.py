"""FPAdd against the bit-exact reference sim.fp_reference.fp_add, and the reference against known values.

The helpers here (corner values, random vectors, batch simulation) are shared with the FPMul and FPConvert
tests. Each simulation evaluates a whole batch of vectors: combinational units settle after every
``ctx.set`` in a testbench, pipelined ones get one vector per clock cycle.
"""

import contextlib
import gc
import re
import warnings

import numpy as np
import pytest
import torch
from amaranth.hdl import EnableInserter, Fragment, Module, Signal, UnusedElaboratable
from amaranth.sim import Simulator

from hwgen.gateware.arith import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPAdd, FPFormat
from sim import fp_reference as ref

FORMATS = [FP16, BF16, FP32, FP8_E4M3, FP8_E5M2]
FORMAT_IDS = [f.name for f in FORMATS]
CLOCK_PERIOD_S = 1e-6
STAGES_RANGE_MSG = r"^`stages` must be in \[0, 8\] pipeline registers, got stages="


# Shared helpers ----------------------------------------------------------------------------------------


def corner_values(fmt):
    """Named corner bit patterns of ``fmt``: each class of value, positive and (where finite) negative."""
    m = fmt.man_bits
    one = fmt.bias << m
    half_ulp_one_exp = fmt.bias - m - 1  # biased exponent of 2**-(m+1), half an ulp of 1.0
    half_ulp_max_exp = fmt.exp_max - m - 2  # biased exponent of half an ulp of max_finite
    assert half_ulp_one_exp >= 1 and half_ulp_max_exp >= 1
    positive = {
        "zero": 0,
        "min_subnormal": fmt.min_subnormal,
        "subnormal_3": 3,
        "max_subnormal": fmt.man_mask,
        "min_normal": 1 << m,
        "min_normal_plus_ulp": (1 << m) + 1,
        "half": one - (1 << m),
        "one": one,
        "one_plus_ulp": one + 1,
        "one_and_half": one | (1 << (m - 1)),
        "two": one + (1 << m),
        "half_ulp_of_one": half_ulp_one_exp << m,
        "half_ulp_of_max": half_ulp_max_exp << m,
        "max_finite_minus_ulp": fmt.max_finite - 1,
        "max_finite": fmt.max_finite,
        "inf": fmt.inf,
    }
    values = dict(positive)
    values.update({f"-{k}": v | fmt.sign_mask for k, v in positive.items()})
    values.update(
        {
            "canonical_nan": fmt.canonical_nan,
            "nan_payload_1": fmt.inf | 1,  # signalling NaN
            "-nan_all_ones": fmt.sign_mask | fmt.inf | fmt.man_mask,
        }
    )
    return values


def corner_pairs(fmt):
    """Every ordered pair of corner values (covers +-0, inf - inf, NaN inputs, cancellation, ...)."""
    vals = list(corner_values(fmt).values())
    return [(a, b) for a in vals for b in vals]


def add_targeted_pairs(fmt):
    """Explicit adder corner cases, named: ``{name: (a, b)}``."""
    c = corner_values(fmt)
    s = fmt.sign_mask
    return {
        "cancel_to_plus_zero": (c["one_plus_ulp"], c["-one_plus_ulp"]),
        "cancel_subnormal": (c["max_subnormal"], c["-max_subnormal"]),
        "minus_zero_plus_minus_zero": (s, s),
        "plus_zero_plus_minus_zero": (0, s),
        "tie_to_even_down": (c["one"], c["half_ulp_of_one"]),
        "tie_to_even_up": (c["one_plus_ulp"], c["half_ulp_of_one"]),
        "tie_to_even_negative": (c["-one_plus_ulp"], c["-half_ulp_of_one"]),
        "sub_borrow_tie": (c["two"], c["-half_ulp_of_one"]),
        "largest_gap": (c["max_finite"], c["min_subnormal"]),
        "largest_gap_sub": (c["max_finite"], c["-min_subnormal"]),
        "largest_gap_neg": (c["-max_finite"], c["min_subnormal"]),
        "overflow_double_max": (c["max_finite"], c["max_finite"]),
        "overflow_tie_at_max": (c["max_finite"], c["half_ulp_of_max"]),
        "no_overflow_below_tie": (c["max_finite"], c["half_ulp_of_max"] - 1),
        "overflow_negative": (c["-max_finite"], c["-max_finite"]),
        "inf_minus_inf": (fmt.inf, fmt.inf | s),
        "inf_plus_inf": (fmt.inf, fmt.inf),
        "inf_plus_max": (fmt.inf | s, c["max_finite"]),
        "nan_plus_inf": (fmt.inf | 1, fmt.inf),
        "subnormal_result": (c["min_normal"], c["-min_subnormal"]),
        "subnormal_to_normal": (c["max_subnormal"], c["min_subnormal"]),
        "subnormal_sum": (c["min_subnormal"], c["subnormal_3"]),
        "normal_minus_normal_to_subnormal": (c["min_normal_plus_ulp"], c["-min_normal"]),
    }


def random_pairs(fmt, n, seed):
    """``n`` random pairs: a third uniform bit patterns, a third with close exponents and opposite signs
    (massive cancellation), a third with random exponent gaps."""
    g = torch.Generator().manual_seed(seed)
    w, m = fmt.width, fmt.man_bits
    a = torch.randint(0, 1 << w, (n,), generator=g)
    b = torch.randint(0, 1 << w, (n,), generator=g)
    k = n // 3
    near = torch.randint(0, 1 << (m + 2), (k,), generator=g)
    b[:k] = (a[:k] ^ fmt.sign_mask) ^ near
    gap = torch.randint(0, m + 6, (k,), generator=g) << m
    flip = torch.randint(0, 2, (k,), generator=g) << (w - 1)
    b[k : 2 * k] = torch.clamp(a[k : 2 * k] - gap, min=0) ^ flip
    return a.tolist(), b.tolist()


def simulate(dut, ports, rows, out, *, stall_seed=None):
    """Drive ``rows`` (tuples of ints, one per port of ``ports``) into ``dut`` one row per settle
    (combinational) or per clock cycle (``dut.latency`` > 0); return the values of ``out`` in order.
    With ``stall_seed`` the unit is wrapped in ``EnableInserter`` and random stall cycles with garbage
    inputs are inserted (the output must hold still)."""
    lat = dut.latency
    outputs = []
    top, en = dut, None
    if stall_seed is not None:
        en = Signal(init=1)
        top = Module()
        top.submodules.dut = EnableInserter(en)(dut)
    rng = np.random.default_rng(stall_seed)

    async def testbench(ctx):
        for i in range(len(rows) + lat):
            if en is not None:
                for _ in range(int(rng.integers(0, 3))):
                    held = ctx.get(out)
                    ctx.set(en, 0)
                    for port in ports:
                        ctx.set(port, int(rng.integers(0, 1 << min(len(port), 62))))
                    await ctx.tick()
                    assert ctx.get(out) == held, "output changed while stalled"
                ctx.set(en, 1)
            if i < len(rows):
                for port, value in zip(ports, rows[i], strict=True):
                    ctx.set(port, value)
            if i >= lat:
                outputs.append(ctx.get(out))
            if lat:
                await ctx.tick()

    sim = Simulator(top)
    if lat:
        sim.add_clock(CLOCK_PERIOD_S)
    sim.add_testbench(testbench)
    sim.run()
    return outputs


def simulate_binary(dut, a, b, *, stall_seed=None):
    """Run ``dut`` (ports a, b, o; ``dut.latency`` cycles) on the vectors; return the outputs in order
    (:func:`simulate`; with ``stall_seed``, random stall cycles with garbage inputs)."""
    return simulate(dut, [dut.a, dut.b], list(zip(a, b, strict=True)), dut.o, stall_seed=stall_seed)


def check_against_reference(fmt, hw_out, a, b, ref_fn):
    expected = ref_fn(torch.tensor(a), torch.tensor(b), fmt).tolist()
    bad = [
        f"a=0x{x:x} b=0x{y:x} hw=0x{h:x} ref=0x{r:x}"
        for x, y, h, r in zip(a, b, hw_out, expected, strict=True)
        if h != r
    ]
    assert not bad, f"{len(bad)} mismatches ({fmt.name}), first: " + "; ".join(bad[:8])


@contextlib.contextmanager
def raises_quietly(exc_type, match):
    """Like ``pytest.raises(exc_type, match=match)``, for component constructors: the half-built component,
    which Amaranth has already registered, is collected here so that its ``UnusedElaboratable`` warning
    does not surface in some later test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            yield
        except exc_type as exc:
            message = str(exc)
            exc.__traceback__ = None  # the traceback keeps the component's __init__ frame alive
        else:
            pytest.fail(f"DID NOT RAISE {exc_type.__name__}")
        gc.collect()
        assert re.search(match, message), f"{message!r} does not match {match!r}"


@pytest.fixture
def collect_unused():
    """Collect, after the test, components whose constructor raised (see ``raises_quietly``)."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        gc.collect()


def hex_list(values):
    return [f"0x{v:x}" for v in values]


# Reference model --------------------------------------------------------------------------------------

# (format, a, b, a + b), computed by hand.
ADD_KNOWN = [
    (FP16, 0x3C00, 0x3C00, 0x4000),  # 1 + 1 = 2
    (FP16, 0x3C00, 0x1000, 0x3C00),  # 1 + 2**-11: tie, to even (down)
    (FP16, 0x3C01, 0x1000, 0x3C02),  # (1 + 2**-10) + 2**-11: tie, to even (up)
    (FP16, 0x3C00, 0xBC00, 0x0000),  # 1 - 1 = +0
    (FP16, 0x8000, 0x8000, 0x8000),  # -0 + -0 = -0
    (FP16, 0x0000, 0x8000, 0x0000),  # +0 + -0 = +0
    (FP16, 0x0001, 0x0001, 0x0002),  # min subnormal doubled
    (FP16, 0x0400, 0x8001, 0x03FF),  # min normal - min subnormal = max subnormal
    (FP16, 0x7BFF, 0x7BFF, 0x7C00),  # 65504 + 65504 overflows
    (FP16, 0x7BFF, 0x4BFF, 0x7BFF),  # 65504 + 15.99 (below half an ulp, 16) -> 65504
    (FP16, 0x7BFF, 0x4C00, 0x7C00),  # 65504 + 16 (tie at max, odd -> up -> inf)
    (FP16, 0x7C00, 0xFC00, 0x7E00),  # inf - inf = canonical NaN
    (FP16, 0xFE01, 0x3C00, 0x7E00),  # NaN in -> canonical NaN
    (FP16, 0xFC00, 0x7BFF, 0xFC00),  # -inf + max = -inf
    (BF16, 0x3F80, 0x3F80, 0x4000),  # 1 + 1 = 2
    (BF16, 0x3F80, 0x3B80, 0x3F80),  # 1 + 2**-8: tie, to even (down)
    (BF16, 0x7F7F, 0x7F7F, 0x7F80),  # overflow
    (BF16, 0x0001, 0x8000, 0x0001),  # subnormal + -0
    (FP32, 0x3F800000, 0x33800000, 0x3F800000),  # 1 + 2**-24: tie, to even
    (FP32, 0x3F800001, 0x33800000, 0x3F800002),
    (FP32, 0x00800000, 0x80000001, 0x007FFFFF),
    (FP32, 0x7F800000, 0xFF800000, 0x7FC00000),
    (FP8_E4M3, 0x38, 0x38, 0x40),  # 1 + 1 = 2
    (FP8_E4M3, 0x38, 0x18, 0x38),  # 1 + 2**-4: tie, to even (down)
    (FP8_E4M3, 0x39, 0x18, 0x3A),  # 1.125 + 0.0625: tie, to even (up)
    (FP8_E4M3, 0x77, 0x77, 0x78),  # 240 + 240 = inf (IEEE-style E4M3)
    (FP8_E4M3, 0x77, 0x50, 0x78),  # 240 + 8: tie at max, odd -> inf
    (FP8_E4M3, 0x77, 0x4F, 0x77),  # 240 + 7.5 -> 240
    (FP8_E4M3, 0x01, 0x07, 0x08),  # subnormals sum to min normal 2**-6
    (FP8_E4M3, 0x78, 0xF8, 0x7C),  # inf - inf = canonical NaN
    (FP8_E5M2, 0x3C, 0x3C, 0x40),  # 1 + 1 = 2
    (FP8_E5M2, 0x3C, 0x30, 0x3C),  # 1 + 2**-3: tie, to even (down)
    (FP8_E5M2, 0x3D, 0x30, 0x3E),  # 1.25 + 2**-3: tie, to even (up)
    (FP8_E5M2, 0x7B, 0x7B, 0x7C),  # 57344 + 57344 = inf
    (FP8_E5M2, 0x84, 0x03, 0x81),  # -2**-14 + 3 * 2**-16 = -2**-16
]


@pytest.mark.parametrize(("fmt", "a", "b", "expected"), ADD_KNOWN)
def test_reference_add_known(fmt, a, b, expected):
    got = int(ref.fp_add(torch.tensor([a]), torch.tensor([b]), fmt)[0])
    assert got == expected, f"{fmt.name}: 0x{a:x} + 0x{b:x} = 0x{got:x}, expected 0x{expected:x}"


def test_reference_add_matches_numpy_fp16():
    a, b = random_pairs(FP16, 60_000, seed=11)
    pairs = corner_pairs(FP16)
    a += [p[0] for p in pairs]
    b += [p[1] for p in pairs]
    an = np.array(a, dtype=np.uint16).view(np.float16)
    bn = np.array(b, dtype=np.uint16).view(np.float16)
    with np.errstate(all="ignore"):
        sn = an + bn
    expected = np.where(np.isnan(sn), FP16.canonical_nan, sn.view(np.uint16).astype(np.int64))
    got = ref.fp_add(torch.tensor(a), torch.tensor(b), FP16).numpy()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fmt", [FP16, BF16, FP32], ids=["fp16", "bf16", "fp32"])
def test_reference_add_native_matches_generic(fmt):
    # The native torch path (fp16/bf16 via fp32, fp32 natively) and the generic float64 + integer-RNE path
    # (used for fp8) are independent implementations; they must agree bit for bit.
    a, b = random_pairs(fmt, 60_000, seed=12)
    pairs = corner_pairs(fmt)
    a = torch.tensor(a + [p[0] for p in pairs])
    b = torch.tensor(b + [p[1] for p in pairs])
    generic = ref.encode(ref.decode(a, fmt) + ref.decode(b, fmt), fmt)
    assert torch.equal(ref.fp_add(a, b, fmt), generic)


def test_reference_nan_is_canonical():
    for fmt in FORMATS:
        nan_in = torch.tensor([fmt.inf | 1, fmt.sign_mask | fmt.inf | fmt.man_mask])
        assert ref.fp_add(nan_in, torch.tensor([0, 0]), fmt).tolist() == [fmt.canonical_nan] * 2


def test_reference_rejects_float_bits():
    with pytest.raises(TypeError, match=r"^bit patterns must be an integer tensor, not torch\.float32$"):
        ref.fp_add(torch.tensor([1.0]), torch.tensor([1]), FP16)


# Hardware ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_add_comb_random_and_corners(fmt):
    pairs = corner_pairs(fmt) + list(add_targeted_pairs(fmt).values())
    ra, rb = random_pairs(fmt, 1500, seed=fmt.width)
    a = [p[0] for p in pairs] + ra
    b = [p[1] for p in pairs] + rb
    check_against_reference(fmt, simulate_binary(FPAdd(fmt), a, b), a, b, ref.fp_add)


@pytest.mark.parametrize("stages", [1, 2])
@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_add_pipelined(fmt, stages):
    pairs = list(add_targeted_pairs(fmt).values())
    ra, rb = random_pairs(fmt, 300, seed=stages)
    a = [p[0] for p in pairs] + ra
    b = [p[1] for p in pairs] + rb
    dut = FPAdd(fmt, stages=stages)
    assert dut.latency == stages
    check_against_reference(fmt, simulate_binary(dut, a, b), a, b, ref.fp_add)


@pytest.mark.parametrize(("stages_a", "stages_b"), [(0, 3), (1, 5), (2, 8), (8, 0)])
def test_add_results_independent_of_stages(stages_a, stages_b):
    # Two different depths (a design compared with itself would prove nothing).
    assert stages_a != stages_b
    a, b = random_pairs(FP8_E4M3, 200, seed=5)
    dut_a, dut_b = FPAdd(FP8_E4M3, stages=stages_a), FPAdd(FP8_E4M3, stages=stages_b)
    assert (dut_a.latency, dut_b.latency) == (stages_a, stages_b)
    assert simulate_binary(dut_a, a, b) == simulate_binary(dut_b, a, b)


def test_add_stalls_with_enable_inserter():
    a, b = random_pairs(FP16, 150, seed=7)
    out = simulate_binary(FPAdd(FP16, stages=2), a, b, stall_seed=3)
    check_against_reference(FP16, out, a, b, ref.fp_add)


def test_add_targeted_results():
    # A few targeted cases with their expected results spelled out (fp16).
    cases = add_targeted_pairs(FP16)
    names = ["cancel_to_plus_zero", "minus_zero_plus_minus_zero", "tie_to_even_down", "tie_to_even_up",
             "overflow_tie_at_max", "no_overflow_below_tie", "inf_minus_inf", "subnormal_result"]
    expected = [0x0000, 0x8000, 0x3C00, 0x3C02, 0x7C00, 0x7BFF, 0x7E00, 0x03FF]
    a = [cases[n][0] for n in names]
    b = [cases[n][1] for n in names]
    assert hex_list(simulate_binary(FPAdd(FP16), a, b)) == hex_list(expected)


def test_add_ports_and_properties():
    dut = FPAdd(FP8_E5M2, stages=3)
    Fragment.get(dut, None)  # elaborates without error (and marks the component as used)
    assert (len(dut.a), len(dut.b), len(dut.o)) == (8, 8, 8)
    assert dut.fmt == FP8_E5M2 and dut.stages == 3 and dut.latency == 3


def test_add_rejects_bad_stages(collect_unused):
    with raises_quietly(ValueError, match=STAGES_RANGE_MSG + r"9$"):
        FPAdd(FP16, stages=9)
    with raises_quietly(ValueError, match=STAGES_RANGE_MSG + r"-1$"):
        FPAdd(FP16, stages=-1)
    with raises_quietly(TypeError, match=r"^`stages` must be an integer, not 1\.5$"):
        FPAdd(FP16, stages=1.5)


def test_add_rejects_bad_format(collect_unused):
    with raises_quietly(TypeError, match=r"^`fmt` must be an FPFormat, not 'fp16'$"):
        FPAdd("fp16")


def test_add_custom_format():
    fmt = FPFormat(exp_bits=3, man_bits=2)
    vals = list(range(1 << fmt.width))
    a = [x for x in vals for _ in vals]
    b = vals * len(vals)
    check_against_reference(fmt, simulate_binary(FPAdd(fmt), a, b), a, b, ref.fp_add)
