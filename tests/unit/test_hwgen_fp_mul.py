"""FPMul against the bit-exact reference sim.fp_reference.fp_mul, and the reference against known values."""

import numpy as np
import pytest
import torch

from hwgen.gateware.arith import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPFormat, FPMul
from sim import fp_reference as ref
from tests.unit import test_hwgen_fp_add
from tests.unit.test_hwgen_fp_add import (
    FORMAT_IDS,
    FORMATS,
    STAGES_RANGE_MSG,
    check_against_reference,
    corner_pairs,
    corner_values,
    hex_list,
    raises_quietly,
    simulate_binary,
)

collect_unused = test_hwgen_fp_add.collect_unused  # shared fixture


def mul_targeted_pairs(fmt):
    """Explicit multiplier corner cases, named: ``{name: (a, b)}``."""
    c = corner_values(fmt)
    return {
        "underflow_tie_to_zero": (c["min_subnormal"], c["half"]),
        "underflow_tie_to_even_up": (c["min_subnormal"], c["one_and_half"]),
        "underflow_1_5_ulp": (c["subnormal_3"], c["half"]),
        "underflow_negative_zero": (c["min_subnormal"], c["-half"]),
        "underflow_total": (c["min_subnormal"], c["min_subnormal"]),
        "normal_to_subnormal": (c["min_normal"], c["half"]),
        "subnormal_to_normal": (c["max_subnormal"], c["two"]),
        "subnormal_times_large": (c["min_subnormal"], c["max_finite"]),
        "overflow": (c["max_finite"], c["two"]),
        "overflow_square": (c["-max_finite"], c["max_finite"]),
        "zero_times_inf": (0, fmt.inf),
        "inf_times_minus_zero": (fmt.inf, fmt.sign_mask),
        "inf_times_negative": (fmt.inf, c["-min_subnormal"]),
        "minus_zero_times_one": (fmt.sign_mask, c["one"]),
        "nan_times_zero": (fmt.inf | 1, 0),
        "ulp_square": (c["one_plus_ulp"], c["one_plus_ulp"]),
    }


def mul_random_pairs(fmt, n, seed):
    """``n`` random pairs: a third uniform, a third with products near 1, a third near the subnormal range."""
    g = torch.Generator().manual_seed(seed)
    w, m, bias = fmt.width, fmt.man_bits, fmt.bias
    a = torch.randint(0, 1 << w, (n,), generator=g)
    b = torch.randint(0, 1 << w, (n,), generator=g)
    k = n // 3
    ea = torch.randint(1, fmt.exp_max, (2 * k,), generator=g)
    spread = torch.randint(-(m + 3), m + 4, (2 * k,), generator=g)
    target = torch.cat([torch.full((k,), 2 * bias), torch.full((k,), bias)])  # biased exponent sum
    eb = torch.clamp(target - ea + spread, 0, fmt.exp_max - 1)
    sign = torch.randint(0, 2, (2 * k, 2), generator=g) << (w - 1)
    a[: 2 * k] = (ea << m) | (a[: 2 * k] & fmt.man_mask) | sign[:, 0]
    b[: 2 * k] = (eb << m) | (b[: 2 * k] & fmt.man_mask) | sign[:, 1]
    return a.tolist(), b.tolist()


# Reference model --------------------------------------------------------------------------------------

# (format, a, b, a * b), computed by hand.
MUL_KNOWN = [
    (FP16, 0x3C00, 0x4000, 0x4000),  # 1 * 2 = 2
    (FP16, 0x3E00, 0x3E00, 0x4080),  # 1.5 * 1.5 = 2.25
    (FP16, 0x3C01, 0x3C01, 0x3C02),  # (1 + 2**-10)**2 = 1 + 2**-9 + 2**-20 -> 1 + 2**-9
    (FP16, 0x0001, 0x3800, 0x0000),  # min_sub * 0.5: tie, to even (0)
    (FP16, 0x0001, 0x3E00, 0x0002),  # min_sub * 1.5: tie, to even (2 * min_sub)
    (FP16, 0x0003, 0x3800, 0x0002),  # 3 * min_sub * 0.5: tie, to even
    (FP16, 0x0001, 0xB800, 0x8000),  # underflow keeps the sign
    (FP16, 0x1400, 0x1400, 0x0010),  # 2**-10 * 2**-10 = 2**-20 = 16 * min_sub
    (FP16, 0x0400, 0x3800, 0x0200),  # min normal * 0.5 = subnormal
    (FP16, 0x03FF, 0x4000, 0x07FE),  # max subnormal * 2 = normal
    (FP16, 0x7BFF, 0x4000, 0x7C00),  # overflow
    (FP16, 0x7C00, 0x0000, 0x7E00),  # inf * 0 = canonical NaN
    (FP16, 0x8000, 0x3C00, 0x8000),  # -0 * 1 = -0
    (FP16, 0xFC00, 0xBC00, 0x7C00),  # -inf * -1 = inf
    (BF16, 0x3F80, 0x3F80, 0x3F80),  # 1 * 1
    (BF16, 0x0001, 0x3F00, 0x0000),  # min_sub * 0.5 -> 0
    (BF16, 0x7F7F, 0x4000, 0x7F80),  # overflow
    (FP32, 0x3F800000, 0x40000000, 0x40000000),
    (FP32, 0x00000001, 0x3F000000, 0x00000000),
    (FP32, 0x00000003, 0x3F000000, 0x00000002),
    (FP8_E4M3, 0x38, 0x38, 0x38),  # 1 * 1
    (FP8_E4M3, 0x3C, 0x3C, 0x41),  # 1.5 * 1.5 = 2.25
    (FP8_E4M3, 0x01, 0x30, 0x00),  # min_sub * 0.5 -> 0
    (FP8_E4M3, 0x01, 0x3C, 0x02),  # min_sub * 1.5 -> 2 * min_sub
    (FP8_E4M3, 0x77, 0x40, 0x78),  # 240 * 2 = inf (IEEE-style E4M3)
    (FP8_E4M3, 0x78, 0x00, 0x7C),  # inf * 0 = canonical NaN
    (FP8_E5M2, 0x3C, 0x40, 0x40),  # 1 * 2
    (FP8_E5M2, 0x3E, 0x3E, 0x40),  # 1.5 * 1.5 = 2.25: tie between 2 and 2.5, to even (2)
    (FP8_E5M2, 0x01, 0x38, 0x00),  # min_sub * 0.5 -> 0
    (FP8_E5M2, 0x7B, 0x40, 0x7C),  # overflow
]


@pytest.mark.parametrize(("fmt", "a", "b", "expected"), MUL_KNOWN)
def test_reference_mul_known(fmt, a, b, expected):
    got = int(ref.fp_mul(torch.tensor([a]), torch.tensor([b]), fmt)[0])
    assert got == expected, f"{fmt.name}: 0x{a:x} * 0x{b:x} = 0x{got:x}, expected 0x{expected:x}"


def test_reference_mul_matches_numpy_fp16():
    a, b = mul_random_pairs(FP16, 60_000, seed=21)
    pairs = corner_pairs(FP16)
    a += [p[0] for p in pairs]
    b += [p[1] for p in pairs]
    an = np.array(a, dtype=np.uint16).view(np.float16)
    bn = np.array(b, dtype=np.uint16).view(np.float16)
    with np.errstate(all="ignore"):
        pn = an * bn
    expected = np.where(np.isnan(pn), FP16.canonical_nan, pn.view(np.uint16).astype(np.int64))
    got = ref.fp_mul(torch.tensor(a), torch.tensor(b), FP16).numpy()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("fmt", [FP16, BF16, FP32], ids=["fp16", "bf16", "fp32"])
def test_reference_mul_native_matches_generic(fmt):
    a, b = mul_random_pairs(fmt, 60_000, seed=22)
    pairs = corner_pairs(fmt)
    a = torch.tensor(a + [p[0] for p in pairs])
    b = torch.tensor(b + [p[1] for p in pairs])
    generic = ref.encode(ref.decode(a, fmt) * ref.decode(b, fmt), fmt)
    assert torch.equal(ref.fp_mul(a, b, fmt), generic)


# Hardware ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_mul_comb_random_and_corners(fmt):
    pairs = corner_pairs(fmt) + list(mul_targeted_pairs(fmt).values())
    ra, rb = mul_random_pairs(fmt, 1500, seed=fmt.width + 1)
    a = [p[0] for p in pairs] + ra
    b = [p[1] for p in pairs] + rb
    check_against_reference(fmt, simulate_binary(FPMul(fmt), a, b), a, b, ref.fp_mul)


@pytest.mark.parametrize("stages", [1, 2])
@pytest.mark.parametrize("fmt", FORMATS, ids=FORMAT_IDS)
def test_mul_pipelined(fmt, stages):
    pairs = list(mul_targeted_pairs(fmt).values())
    ra, rb = mul_random_pairs(fmt, 300, seed=10 + stages)
    a = [p[0] for p in pairs] + ra
    b = [p[1] for p in pairs] + rb
    dut = FPMul(fmt, stages=stages)
    assert dut.latency == stages
    check_against_reference(fmt, simulate_binary(dut, a, b), a, b, ref.fp_mul)


@pytest.mark.parametrize("stages", [3, 8])
def test_mul_results_independent_of_stages(stages):
    a, b = mul_random_pairs(FP8_E5M2, 200, seed=6)
    assert simulate_binary(FPMul(FP8_E5M2, stages=stages), a, b) == simulate_binary(FPMul(FP8_E5M2), a, b)


def test_mul_stalls_with_enable_inserter():
    a, b = mul_random_pairs(BF16, 150, seed=8)
    out = simulate_binary(FPMul(BF16, stages=2), a, b, stall_seed=4)
    check_against_reference(BF16, out, a, b, ref.fp_mul)


def test_mul_targeted_results():
    cases = mul_targeted_pairs(FP16)
    names = ["underflow_tie_to_zero", "underflow_tie_to_even_up", "underflow_negative_zero", "overflow",
             "zero_times_inf", "inf_times_negative", "minus_zero_times_one", "normal_to_subnormal"]
    expected = [0x0000, 0x0002, 0x8000, 0x7C00, 0x7E00, 0xFC00, 0x8000, 0x0200]
    a = [cases[n][0] for n in names]
    b = [cases[n][1] for n in names]
    assert hex_list(simulate_binary(FPMul(FP16), a, b)) == hex_list(expected)


def test_mul_custom_format():
    fmt = FPFormat(exp_bits=3, man_bits=2)
    vals = list(range(1 << fmt.width))
    a = [x for x in vals for _ in vals]
    b = vals * len(vals)
    check_against_reference(fmt, simulate_binary(FPMul(fmt), a, b), a, b, ref.fp_mul)


def test_mul_rejects_bad_arguments(collect_unused):
    with raises_quietly(ValueError, match=STAGES_RANGE_MSG + r"12$"):
        FPMul(FP16, stages=12)
    with raises_quietly(TypeError, match=r"^`fmt` must be an FPFormat, not None$"):
        FPMul(None)
