"""FPFromInt and FPFusedAdd against the bit-exact references sim.fp_reference.int_to_fp and fp_fused_sum, and
fp_fused_sum against an independent exact model (Python ints and fractions.Fraction) and known values.

The batch simulation follows test_hwgen_fp_add: combinational units settle after every ``ctx.set``,
pipelined ones get one vector per clock cycle. The exhaustive check of every fp8 E5M2 pair runs here in
Amaranth's simulator; larger exhaustive spaces are in ``scripts/verify_fp_fused_exhaustive.py`` (Verilator).
"""

import random
from fractions import Fraction

import pytest
import torch
from amaranth.hdl import Fragment, Value

from hwgen.gateware.arith import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPFormat, FPFromInt, FPFusedAdd
from hwgen.gateware.arith.fp_fused import ROUNDINGS
from sim import fp_reference as ref
from tests.unit import test_hwgen_fp_add
from tests.unit.test_hwgen_fp_add import STAGES_RANGE_MSG, corner_values, raises_quietly, simulate

collect_unused = test_hwgen_fp_add.collect_unused  # shared fixture


# Independent exact model -----------------------------------------------------------------------------


def round_fraction(value, fmt, rounding):
    """Bit pattern of the exact rational ``value`` rounded once to ``fmt`` (``"rne"`` or ``"rtz"``), written
    with Fractions only. Zero is ``+0``; a non-zero value rounding to zero keeps its sign."""
    if value == 0:
        return 0
    sign = 1 if value < 0 else 0
    a = abs(value)
    man, bias = fmt.man_bits, fmt.bias
    top = a.numerator.bit_length() - a.denominator.bit_length()  # floor(log2(a)) is top or top - 1
    if Fraction(2) ** top > a:
        top -= 1
    assert Fraction(2) ** top <= a < Fraction(2) ** (top + 1)
    exp = max(top, 1 - bias)  # unbiased exponent of the result's leading position (subnormal: 1 - bias)
    units = a / Fraction(2) ** (exp - man)  # in ulps of the result
    n = units.numerator // units.denominator
    rest = units - n
    if rounding == "rne" and (rest > Fraction(1, 2) or (rest == Fraction(1, 2) and n % 2 == 1)):
        n += 1
    if n >= 1 << (man + 1):  # rounding carried into a new binade
        n >>= 1
        exp += 1
    enc = ((exp + bias) << man) + (n - (1 << man)) if n >= 1 << man else n
    if enc >= fmt.inf:
        enc = fmt.inf if rounding == "rne" else fmt.max_finite
    return enc | (sign << (fmt.width - 1))


def fused_exact(terms, fmt, out_fmt=None, guard=3, sticky=False, rounding="rne"):
    """The fused-sum semantics spelled out for one vector of bit patterns, with Python ints and Fractions."""
    out_fmt = out_fmt or fmt
    fields = [fmt.fields(t) for t in terms]
    specials = [(s, m) for s, f, m in fields if f == fmt.exp_max]
    if any(m for _, m in specials) or {s for s, _ in specials} == {0, 1}:
        return out_fmt.canonical_nan
    if specials:
        return out_fmt.inf | (specials[0][0] << (out_fmt.width - 1))
    exps = [max(f, 1) for _, f, _ in fields]
    emax = max(exps)
    total = 0
    for (s, f, m), e in zip(fields, exps, strict=True):
        sig = ((1 << fmt.man_bits) if f else 0) | m
        wide = sig << guard
        shift = emax - e
        q = wide >> shift
        if sticky:
            q = 2 * q + (1 if q << shift != wide else 0)
        total += -q if s else q
    unit = Fraction(2) ** (emax - fmt.bias - fmt.man_bits - guard - int(sticky))
    return round_fraction(total * unit, out_fmt, rounding)


def exact_value(bits, fmt):
    """Exact value of a finite bit pattern, as a Fraction."""
    s, f, m = fmt.fields(bits)
    v = Fraction((f != 0) << fmt.man_bits | m) * Fraction(2) ** (max(f, 1) - fmt.bias - fmt.man_bits)
    return -v if s else v


# Test vectors ----------------------------------------------------------------------------------------


def random_terms(fmt, n, terms, seed, *, specials=True):
    """``n`` vectors of ``terms`` bit patterns: a quarter uniform (specials included when ``specials``), the
    rest finite with exponents in a narrow random window (alignment, cancellation, carries), a third of
    those with a second term forced to nearly cancel the first."""
    rng = random.Random(seed)
    vecs = []
    for k in range(n):
        if specials and k % 4 == 0:
            vecs.append([rng.randrange(1 << fmt.width) for _ in range(terms)])
            continue
        base = rng.randrange(0, fmt.exp_max)
        span = rng.choice((0, 1, 3, fmt.man_bits + 4, fmt.exp_max))
        vec = []
        for _ in range(terms):
            f = min(fmt.exp_max - 1, max(0, base + rng.randint(-span, span)))
            vec.append(fmt.pack(rng.randrange(2), f, rng.randrange(1 << fmt.man_bits)))
        if terms >= 2 and k % 3 == 0:
            vec[1] = (vec[0] ^ fmt.sign_mask) ^ rng.randrange(1 << min(fmt.man_bits, 4))
        vecs.append(vec)
    return vecs


def corner_terms(fmt, terms, seed):
    """Vectors made of corner values (zeros, subnormals, max, inf, NaN, ...), padded with zeros or more
    corners, in a random arrangement."""
    rng = random.Random(seed)
    corners = list(corner_values(fmt).values())
    vecs = [[v] + [0] * (terms - 1) for v in corners]
    if terms >= 2:
        vecs += [[a, b] + [0] * (terms - 2) for a in corners for b in corners]
        vecs += [[rng.choice(corners) for _ in range(terms)] for _ in range(200)]
    return vecs


# Simulation helpers -----------------------------------------------------------------------------------


def pack(vec, width):
    return sum(v << (k * width) for k, v in enumerate(vec))


def simulate_fused(dut, vecs, **kwargs):
    a = Value.cast(dut.a)
    return simulate(dut, [a], [(pack(v, dut.fmt.width),) for v in vecs], dut.o, **kwargs)


def simulate_from_int(dut, ints, exps):
    """FPFromInt on (i, e) pairs; ``i`` as a signed Python int."""
    mask = (1 << dut.width) - 1
    if not dut.exp_width:  # no e port
        return simulate(dut, [dut.i], [(i & mask,) for i in ints], dut.o)
    return simulate(dut, [dut.i, dut.e], [(i & mask, e) for i, e in zip(ints, exps, strict=True)], dut.o)


def mismatches(got, expected, labels):
    """``label: got=.. expected=..`` for each differing position."""
    rows = zip(got, expected, labels, strict=True)
    return [f"{lab} got=0x{g:x} expected=0x{x:x}" for g, x, lab in rows if g != x]


def assert_no_mismatches(got, expected, labels, what):
    bad = mismatches(got, expected, labels)
    assert not bad, f"{len(bad)} of {len(got)} mismatches ({what}), first: " + "; ".join(bad[:6])


def vec_labels(vecs):
    return ["[" + ",".join(f"0x{v:x}" for v in vec) + "]" for vec in vecs]


# Reference fp_fused_sum --------------------------------------------------------------------------------

H = 0x3C00  # fp16 1.0
# (fmt, out_fmt, guard, sticky, rounding, terms, expected), worked out by hand.
FUSED_KNOWN = [
    (FP16, None, 3, False, "rne", [H, H, H], 0x4200),  # 1 + 1 + 1 = 3
    (FP16, None, 3, False, "rne", [H, 0x1000, 0x1000], 0x3C01),  # 1 + 2**-11 + 2**-11 = 1 + 2**-10, exact
    (FP16, None, 0, False, "rne", [H, 0x1000, 0x1000], 0x3C00),  # guard 0: both 2**-11 truncated away
    (FP16, None, 1, False, "rne", [H, 0x1000, 0x1000], 0x3C01),  # one guard bit keeps them
    # 1 + 2**-11 (1 + 2**-10): the 2**-21 is truncated, leaving an exact tie, which goes to even (down) ...
    (FP16, None, 3, False, "rne", [H, 0x1001], 0x3C00),
    # ... unless it is jammed into a sticky bit: above the tie, up.
    (FP16, None, 3, True, "rne", [H, 0x1001], 0x3C01),
    (FP16, None, 3, False, "rne", [0x3C01, 0x1000], 0x3C02),  # tie, to even (up)
    (FP16, None, 3, False, "rtz", [0x3C01, 0x1000], 0x3C01),  # truncated
    (FP16, None, 3, False, "rtz", [0xBC01, 0x9000], 0xBC01),  # toward zero, negative
    (FP16, None, 3, False, "rne", [0x8000, 0x8000, 0x8000], 0x0000),  # all -0: +0 (IEEE would give -0)
    (FP16, None, 3, False, "rne", [0x8000], 0x0000),  # one term: -0 -> +0
    (FP16, None, 3, False, "rne", [0x3C01, 0xBC01], 0x0000),  # x - x = +0
    (FP16, None, 3, False, "rne", [0x7BFF, 0x7BFF], 0x7C00),  # overflow to inf
    (FP16, None, 3, False, "rtz", [0x7BFF, 0x7BFF], 0x7BFF),  # rtz overflow: max_finite
    (FP16, None, 3, False, "rtz", [0xFBFF, 0xFBFF], 0xFBFF),
    (FP16, FP32, 3, False, "rne", [0x7BFF] * 4, 0x487FE000),  # 4 * 65504 = 262016, exact in fp32
    (FP16, None, 3, False, "rne", [0x0001, 0x0001], 0x0002),  # subnormals
    (FP16, None, 3, False, "rne", [0x0400, 0x8001], 0x03FF),  # min normal - min subnormal = max subnormal
    (FP16, FP32, 3, False, "rne", [0x0001], 0x33800000),  # 2**-24 exact in fp32
    (FP16, None, 3, False, "rne", [0x7C00, H], 0x7C00),  # inf + 1
    (FP16, None, 3, False, "rne", [0xFC00, 0xFC00, 0x7BFF], 0xFC00),  # -inf - inf + max
    (FP16, None, 3, False, "rne", [0x7C00, 0xFC00], 0x7E00),  # inf - inf: NaN
    (FP16, None, 3, False, "rne", [0xFE01, 0x7C00], 0x7E00),  # NaN in: canonical NaN
    (FP16, FP32, 3, False, "rne", [0xFC00, H], 0xFF800000),  # -inf in fp32
    (FP16, FP32, 3, False, "rne", [0x7D00], 0x7FC00000),  # NaN in fp32
    (FP16, None, 3, False, "rne", [0x7C00, 0x7BFF, 0x7BFF], 0x7C00),  # specials out of the max exponent
    (BF16, FP32, 3, False, "rne", [0x3F80, 0x3F80], 0x40000000),  # bf16 1 + 1 = 2 in fp32
    (FP8_E4M3, None, 3, False, "rne", [0x38, 0x38, 0x38], 0x44),  # 1 + 1 + 1 = 3
    (FP8_E5M2, None, 3, False, "rne", [0x3C, 0x3C, 0x3C], 0x42),
]


@pytest.mark.parametrize(("fmt", "out_fmt", "guard", "sticky", "rounding", "terms", "expected"), FUSED_KNOWN)
def test_reference_fused_known(fmt, out_fmt, guard, sticky, rounding, terms, expected):
    got = int(ref.fp_fused_sum(torch.tensor(terms), fmt, out_fmt, guard, sticky, rounding))
    assert got == expected, f"{hex_list(terms)}: got 0x{got:x}, expected 0x{expected:x}"
    assert fused_exact(terms, fmt, out_fmt, guard, sticky, rounding) == expected


def hex_list(values):
    return [f"0x{v:x}" for v in values]


def test_reference_fused_exact_when_nothing_is_shifted_out():
    # Terms within `guard` binades of each other align exactly: the result is the correctly rounded sum.
    fmt = FP16
    rng = random.Random(3)
    vecs = []
    for _ in range(300):
        f0 = rng.randrange(1, 27)
        terms = [(rng.randrange(2), f0 + rng.randrange(4), rng.randrange(1024)) for _ in range(5)]
        vecs.append([fmt.pack(*fields) for fields in terms])
    got = ref.fp_fused_sum(torch.tensor(vecs), fmt, guard=3).tolist()
    expected = [round_fraction(sum(exact_value(t, fmt) for t in vec), fmt, "rne") for vec in vecs]
    assert_no_mismatches(got, expected, vec_labels(vecs), "exact sums")


FUSED_REF_CONFIGS = [
    # fmt, out_fmt, terms, guard, sticky, rounding
    (FP16, None, 2, 3, False, "rne"),
    (FP16, None, 5, 0, False, "rne"),
    (FP16, FP32, 22, 3, True, "rne"),
    (FP16, None, 7, 8, True, "rtz"),
    (BF16, FP32, 3, 16, False, "rtz"),
    (BF16, None, 64, 3, True, "rne"),
    (FP32, None, 4, 3, False, "rne"),
    (FP8_E4M3, FP16, 3, 0, True, "rne"),
    (FP8_E5M2, None, 7, 3, False, "rtz"),
    (FP8_E5M2, BF16, 1, 2, True, "rne"),
]


@pytest.mark.parametrize(("fmt", "out_fmt", "terms", "guard", "sticky", "rounding"), FUSED_REF_CONFIGS)
def test_reference_fused_matches_exact_model(fmt, out_fmt, terms, guard, sticky, rounding):
    vecs = random_terms(fmt, 400, terms, seed=terms * 31 + guard) + corner_terms(fmt, terms, seed=guard)[:300]
    got = ref.fp_fused_sum(torch.tensor(vecs), fmt, out_fmt, guard, sticky, rounding).tolist()
    expected = [fused_exact(v, fmt, out_fmt, guard, sticky, rounding) for v in vecs]
    assert_no_mismatches(got, expected, vec_labels(vecs), f"{fmt.name} terms={terms}")


def test_reference_fused_batch_shape_and_dtype():
    bits = torch.tensor([[[H, H], [H, 0x8000]], [[0, 0], [0x7C00, 0]]], dtype=torch.int32)
    out = ref.fp_fused_sum(bits, FP16)
    assert out.dtype == torch.int64 and out.shape == (2, 2)
    assert out.tolist() == [[0x4000, H], [0, 0x7C00]]


def test_reference_fused_rejects_bad_arguments():
    bits = torch.tensor([[H, H]])
    with pytest.raises(ValueError, match=r"^`guard` must be in \[0, 16\] bits, got guard=17$"):
        ref.fp_fused_sum(bits, FP16, guard=17)
    with pytest.raises(ValueError, match=r"^`rounding` must be one of rne, rtz, got rounding='rnd'$"):
        ref.fp_fused_sum(bits, FP16, rounding="rnd")
    with pytest.raises(ValueError, match=r"^`out_fmt` must have exp_bits >= 5 and man_bits >= 10 \(those "):
        ref.fp_fused_sum(bits, FP16, out_fmt=BF16)
    with pytest.raises(ValueError, match=r"^`terms` must be in \[1, 64\], got terms=65$"):
        ref.fp_fused_sum(torch.zeros(1, 65, dtype=torch.int64), FP16)
    with pytest.raises(ValueError, match=r"^`bits` must have a last dimension"):
        ref.fp_fused_sum(torch.tensor(5), FP16)
    with pytest.raises(TypeError, match=r"^`sticky` must be a bool, not 1$"):
        ref.fp_fused_sum(bits, FP16, sticky=1)
    with pytest.raises(TypeError, match=r"^bit patterns must be an integer tensor, not torch\.float32$"):
        ref.fp_fused_sum(torch.tensor([[1.0, 2.0]]), FP16)


def test_roundings_agree():
    assert ROUNDINGS == ref.ROUNDINGS


# FPFromInt --------------------------------------------------------------------------------------------


def from_int_configs(fmt):
    """(width, exp_width, scale_offset) covering underflow to zero, subnormals, normals and overflow."""
    b, man = fmt.bias, fmt.man_bits
    wide_e = (2 * b + 2 * (man + 4) + 8).bit_length()  # e alone spans zero to overflow
    return [
        (man + 4, wide_e, -(b + 2 * man + 8)),
        (64, 3, b - 62),  # 64-bit integers: large ones overflow the small formats, tiny ones underflow
        (man + 1, 2, -(b + man - 1)),  # just around the subnormal range
        (3, 10, -700),  # narrow integer, wide exponent: deep underflow to overflow
        (1, 0, 0),  # i in {-1, 0}, no exponent input
    ]


def from_int_vectors(width, exp_width, scale_offset, fmt, n, seed):
    """Corner and random (i, e): all bit lengths, ties, the most negative integer, e at the ends of its range
    and where the result's exponent meets the subnormal and overflow boundaries."""
    rng = random.Random(seed)
    man = fmt.man_bits
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    e_max = (1 << exp_width) - 1
    ints = sorted(x for x in {0, 1, -1, 2, -2, 3, -3, lo, hi, lo + 1, hi - 1} if lo <= x <= hi)
    for length in range(1, width):
        mag = rng.randrange(1 << (length - 1), 1 << length)
        ints += [mag, -mag]
        if length >= man + 2:  # an exact tie, odd and even kept part
            cut = length - man - 1
            ints += [((mag >> cut) << cut) | (1 << (cut - 1)), -(((mag >> cut) << cut) | (1 << (cut - 1)))]
    # e making the top bit of a full-length integer land on the interesting exponents.
    interesting = [1 - fmt.bias - man - 2, 1 - fmt.bias - man, 1 - fmt.bias - 1, 1 - fmt.bias,
                   fmt.exp_max - 1 - fmt.bias, fmt.exp_max - fmt.bias]
    es = {0, e_max}
    for top in interesting:
        for length in (1, width // 2 + 1, width):
            e = top - (length - 1) - scale_offset
            es.update(x for x in (e - 1, e, e + 1) if 0 <= x <= e_max)
    es = sorted(es)
    few = len(ints) * len(es) <= n // 2  # every i with every e; else with 3 of them
    pairs = [(i, e) for i in ints for e in (es if few else rng.sample(es, min(3, len(es))))]
    while len(pairs) < n:
        length = rng.randrange(0, width + 1)
        mag = rng.randrange(1 << (length - 1), 1 << length) if length else 0
        i = max(lo, min(hi, -mag if rng.randrange(2) else mag))
        pairs.append((i, rng.choice(es) if rng.randrange(2) else rng.randint(0, e_max)))
    return [p[0] for p in pairs], [p[1] for p in pairs]


INT_TO_FP_LIMIT = 1 << 62  # int_to_fp takes |value| < 2**62


def from_int_expected(ints, exps, offset, fmt, rounding):
    """int_to_fp of each (i, e + offset); the exact model for the |i| >= 2**62 that int_to_fp does not take
    (64-bit FPFromInt inputs)."""
    clipped = [i if abs(i) < INT_TO_FP_LIMIT else 0 for i in ints]
    expected = ref.int_to_fp(torch.tensor(clipped), torch.tensor(exps) + offset, fmt, rounding).tolist()
    return [
        x if abs(i) < INT_TO_FP_LIMIT else round_fraction(i * Fraction(2) ** (e + offset), fmt, rounding)
        for i, e, x in zip(ints, exps, expected, strict=True)
    ]


@pytest.mark.parametrize("rounding", ROUNDINGS)
@pytest.mark.parametrize("fmt", [FP16, BF16, FP32, FP8_E4M3], ids=["fp16", "bf16", "fp32", "fp8e4m3"])
def test_from_int_against_reference(fmt, rounding):
    for index, (width, exp_width, offset) in enumerate(from_int_configs(fmt)):
        n = 700 if width > 1 else 4
        ints, exps = from_int_vectors(width, exp_width, offset, fmt, n, seed=index)
        dut = FPFromInt(width, exp_width, fmt, offset, rounding=rounding)
        got = simulate_from_int(dut, ints, exps)
        expected = from_int_expected(ints, exps, offset, fmt, rounding)
        labels = [f"i={i} e={e}" for i, e in zip(ints, exps, strict=True)]
        what = f"{fmt.name} {rounding} width={width} e={exp_width}+{offset}"
        assert_no_mismatches(got, expected, labels, what)


def test_from_int_vectors_cover_all_result_classes():
    # The vectors of test_from_int_against_reference reach zero, -0, subnormals, normals and overflow; on
    # them the exact model agrees with int_to_fp (which cross-checks the model used beyond 2**62).
    for fmt in (FP16, BF16, FP32, FP8_E4M3):
        classes = set()
        for index, (width, exp_width, offset) in enumerate(from_int_configs(fmt)):
            ints, exps = from_int_vectors(width, exp_width, offset, fmt, 700, seed=index)
            for rounding in ROUNDINGS:
                out = from_int_expected(ints, exps, offset, fmt, rounding)
                exact = [
                    round_fraction(i * Fraction(2) ** (e + offset), fmt, rounding)
                    for i, e in zip(ints, exps, strict=True)
                ]
                assert out == exact
                for bits, i in zip(out, ints, strict=True):
                    s, f, m = fmt.fields(bits)
                    if f == fmt.exp_max:
                        classes.add(f"overflow_{rounding}")
                    elif bits == fmt.max_finite | (s << (fmt.width - 1)) and rounding == "rtz":
                        classes.add("max_finite_rtz")
                    elif f == 0 and m == 0:
                        classes.add("-0" if s else ("+0 from 0" if i == 0 else "+0 rounded"))
                    elif f == 0:
                        classes.add("subnormal")
                    else:
                        classes.add("normal")
        assert classes >= {"overflow_rne", "max_finite_rtz", "-0", "+0 from 0", "+0 rounded", "subnormal",
                           "normal"}, (fmt.name, classes)


def test_from_int_known():
    # fp16: 3 * 2**0 = 3; -2**-24 = -min subnormal; 2**-25 ties to even (+0); +-3 * 2**-26 rounds up (keeping
    # the sign); -2**-26 rounds to -0; 0 -> +0; 127 * 2**-15 = 1.984375 * 2**-9; -128 * 2**-15 = -2**-8.
    dut = FPFromInt(8, 5, FP16, -30)
    got = simulate_from_int(dut, [3, -1, 1, 3, -3, -1, 0, 127, -128], [30, 6, 5, 4, 4, 4, 15, 15, 15])
    assert hex_list(got) == hex_list([0x4200, 0x8001, 0x0000, 0x0001, 0x8001, 0x8000, 0x0000, 0x1BF0, 0x9C00])


def test_from_int_ports_and_properties():
    dut = FPFromInt(20, 5, BF16, -147, rounding="rtz")
    Fragment.get(dut, None)
    assert (len(dut.i), len(dut.e), len(dut.o)) == (20, 5, 16)
    assert dut.i.shape().signed and not dut.e.shape().signed
    assert (dut.width, dut.exp_width, dut.fmt, dut.scale_offset, dut.rounding, dut.latency) == (
        20, 5, BF16, -147, "rtz", 0)


def test_from_int_rejects_bad_arguments(collect_unused):
    with raises_quietly(ValueError, match=r"^`width` must be in \[1, 64\] bits, got width=65$"):
        FPFromInt(65, 4, FP16, 0)
    with raises_quietly(ValueError, match=r"^`exp_width` must be in \[0, 10\] bits, got exp_width=11$"):
        FPFromInt(8, 11, FP16, 0)
    with raises_quietly(TypeError, match=r"^`scale_offset` must be an integer, not 1\.5$"):
        FPFromInt(8, 4, FP16, 1.5)
    with raises_quietly(TypeError, match=r"^`width` must be an integer, not True$"):
        FPFromInt(True, 4, FP16, 0)
    with raises_quietly(ValueError, match=r"^`rounding` must be one of rne, rtz, got rounding='rtn'$"):
        FPFromInt(8, 4, FP16, 0, rounding="rtn")
    with raises_quietly(TypeError, match=r"^`fmt` must be an FPFormat, not 'fp16'$"):
        FPFromInt(8, 4, "fp16", 0)


# FPFusedAdd -------------------------------------------------------------------------------------------

FUSED_HW_CONFIGS = [
    # fmt, out_fmt, terms, guard, sticky, rounding, stages, random vectors
    (FP16, None, 1, 3, False, "rne", 0, 200),
    (FP16, None, 2, 3, False, "rne", 0, 600),
    (FP16, None, 3, 0, False, "rtz", 2, 400),
    (FP16, FP32, 3, 3, True, "rne", 0, 400),
    (FP16, FP32, 22, 8, False, "rne", 5, 150),
    (FP16, None, 7, 8, True, "rtz", 0, 300),
    (BF16, FP32, 2, 0, True, "rtz", 0, 400),
    (BF16, FP32, 7, 3, False, "rne", 2, 300),
    (FP8_E5M2, None, 3, 3, True, "rne", 5, 400),
    (FP8_E5M2, FP16, 22, 0, False, "rtz", 0, 150),
    (FP8_E4M3, None, 7, 8, False, "rne", 0, 300),
    (FP32, None, 3, 3, False, "rne", 0, 300),
]


def _config_id(cfg):
    fmt, out_fmt, terms, guard, sticky, rounding, stages, _ = cfg
    out = f"-{out_fmt.name}" if out_fmt else ""
    return f"{fmt.name}{out}-t{terms}-g{guard}{'-sticky' if sticky else ''}-{rounding}-s{stages}"


@pytest.mark.parametrize("cfg", FUSED_HW_CONFIGS, ids=[_config_id(c) for c in FUSED_HW_CONFIGS])
def test_fused_against_reference(cfg):
    fmt, out_fmt, terms, guard, sticky, rounding, stages, n = cfg
    vecs = random_terms(fmt, n, terms, seed=terms + 7 * guard + stages)
    vecs += corner_terms(fmt, terms, seed=stages)[: n // 2 + 40]
    dut = FPFusedAdd(fmt, terms, out_fmt, guard=guard, sticky=sticky, rounding=rounding, stages=stages)
    assert dut.latency == stages
    got = simulate_fused(dut, vecs)
    expected = ref.fp_fused_sum(torch.tensor(vecs), fmt, out_fmt, guard, sticky, rounding).tolist()
    assert_no_mismatches(got, expected, vec_labels(vecs), _config_id(cfg))


def test_fused_known_in_hardware():
    cases = [c for c in FUSED_KNOWN if c[:5] == (FP16, None, 3, False, "rne") and len(c[5]) == 2]
    vecs = [c[5] for c in cases]
    assert hex_list(simulate_fused(FPFusedAdd(FP16, 2), vecs)) == hex_list([c[6] for c in cases])
    dut = FPFusedAdd(FP16, 2, guard=0)
    assert hex_list(simulate_fused(dut, [[H, 0x1000]])) == ["0x3c00"]  # guard 0: 1 + 2**-11 = 1
    assert hex_list(simulate_fused(FPFusedAdd(FP16, 2, sticky=True), [[H, 0x1001]])) == ["0x3c01"]
    assert hex_list(simulate_fused(FPFusedAdd(FP16, 4, FP32), [[0x7BFF] * 4])) == ["0x487fe000"]


def test_fused_results_independent_of_stages():
    vecs = random_terms(FP8_E4M3, 200, 5, seed=9)
    outs = [simulate_fused(FPFusedAdd(FP8_E4M3, 5, guard=2, sticky=True, stages=s), vecs) for s in (0, 3, 8)]
    assert outs[0] == outs[1] == outs[2]


def test_fused_stalls_with_enable_inserter():
    vecs = random_terms(FP16, 120, 3, seed=4)
    got = simulate_fused(FPFusedAdd(FP16, 3, stages=3), vecs, stall_seed=5)
    expected = ref.fp_fused_sum(torch.tensor(vecs), FP16).tolist()
    assert_no_mismatches(got, expected, vec_labels(vecs), "stalled")


def test_fused_ports_and_properties():
    dut = FPFusedAdd(FP16, 22, FP32, guard=8, sticky=True, rounding="rtz", stages=4)
    Fragment.get(dut, None)
    assert len(dut.a) == 22 and len(dut.a[0]) == 16 and len(Value.cast(dut.a)) == 22 * 16 and len(dut.o) == 32
    assert (dut.fmt, dut.out_fmt, dut.terms, dut.guard, dut.sticky, dut.rounding) == (
        FP16, FP32, 22, 8, True, "rtz")
    assert dut.stages == dut.latency == 4
    assert dut.sum_width == 11 + 8 + 1 + 5 + 1  # significand, guard, sticky, log2(terms), sign
    assert FPFusedAdd(FP16, 1).out_fmt == FP16


def test_fused_rejects_bad_arguments(collect_unused):
    with raises_quietly(ValueError, match=r"^`terms` must be in \[1, 64\], got terms=0$"):
        FPFusedAdd(FP16, 0)
    with raises_quietly(ValueError, match=r"^`terms` must be in \[1, 64\], got terms=65$"):
        FPFusedAdd(FP16, 65)
    with raises_quietly(ValueError, match=r"^`guard` must be in \[0, 16\] bits, got guard=-1$"):
        FPFusedAdd(FP16, 2, guard=-1)
    with raises_quietly(ValueError, match=r"^`out_fmt` must have exp_bits >= 5 and man_bits >= 10 \(those of "
                        r"`fmt`\), got out_fmt=bf16 \(exp_bits=8, man_bits=7\)$"):
        FPFusedAdd(FP16, 2, BF16)
    with raises_quietly(ValueError, match=r"^`rounding` must be one of rne, rtz, got rounding='up'$"):
        FPFusedAdd(FP16, 2, rounding="up")
    with raises_quietly(ValueError, match=STAGES_RANGE_MSG + r"9$"):
        FPFusedAdd(FP16, 2, stages=9)
    with raises_quietly(TypeError, match=r"^`sticky` must be a bool, not 0$"):
        FPFusedAdd(FP16, 2, sticky=0)
    with raises_quietly(TypeError, match=r"^`terms` must be an integer, not 2\.0$"):
        FPFusedAdd(FP16, 2.0)
    with raises_quietly(TypeError, match=r"^`out_fmt` must be an FPFormat, not 'fp32'$"):
        FPFusedAdd(FP16, 2, "fp32")


def test_fused_custom_format_all_triples():
    # A tiny format (e3m1, 5 bits): every triple of patterns, 32768 vectors, guard 1 with sticky.
    fmt = FPFormat(exp_bits=3, man_bits=1)
    vecs = [[k & 31, (k >> 5) & 31, k >> 10] for k in range(1 << 15)]
    got = simulate_fused(FPFusedAdd(fmt, 3, guard=1, sticky=True), vecs)
    expected = ref.fp_fused_sum(torch.tensor(vecs), fmt, guard=1, sticky=True).tolist()
    assert_no_mismatches(got, expected, vec_labels(vecs), "e3m1 triples")


# Exhaustive fp8 E5M2 pairs, and proof that the comparison catches a one-bit difference ----------------

ALL_PAIRS = [[k & 0xFF, k >> 8] for k in range(1 << 16)]


@pytest.fixture(scope="module")
def e5m2_pairs_hw():
    """FPFusedAdd(FP8_E5M2, terms=2) (guard 3, RNE) on every one of the 65,536 pairs."""
    return simulate_fused(FPFusedAdd(FP8_E5M2, 2), ALL_PAIRS)


def test_fused_e5m2_all_pairs(e5m2_pairs_hw):
    expected = ref.fp_fused_sum(torch.tensor(ALL_PAIRS), FP8_E5M2).tolist()
    assert len(e5m2_pairs_hw) == len(expected) == 65_536
    assert_no_mismatches(e5m2_pairs_hw, expected, vec_labels(ALL_PAIRS), "fp8e5m2 all pairs")


def test_fused_e5m2_all_pairs_sabotaged(e5m2_pairs_hw):
    # The same comparison flags a reference with one guard bit less, and a single flipped output bit.
    labels = vec_labels(ALL_PAIRS)
    wrong_guard = ref.fp_fused_sum(torch.tensor(ALL_PAIRS), FP8_E5M2, guard=2).tolist()
    assert mismatches(e5m2_pairs_hw, wrong_guard, labels)
    with pytest.raises(AssertionError, match=r"^[1-9]\d* of 65536 mismatches \(guard 2\), first: "):
        assert_no_mismatches(e5m2_pairs_hw, wrong_guard, labels, "guard 2")
    expected = ref.fp_fused_sum(torch.tensor(ALL_PAIRS), FP8_E5M2).tolist()
    flipped = list(e5m2_pairs_hw)
    flipped[12345] ^= 1
    one = f"{labels[12345]} got=0x{flipped[12345]:x} expected=0x{expected[12345]:x}"
    assert mismatches(flipped, expected, labels) == [one]


def test_fused_e4m3_pairs_one_binade_rtz_sticky():
    # fp8 E4M3, guard 0, sticky, RTZ: every pair whose first term is in [1, 2) or (-2, -1] (4096 pairs).
    firsts = [FP8_E4M3.pack(s, FP8_E4M3.bias, m) for s in (0, 1) for m in range(8)]
    vecs = [[a, b] for a in firsts for b in range(256)]
    got = simulate_fused(FPFusedAdd(FP8_E4M3, 2, guard=0, sticky=True, rounding="rtz"), vecs)
    expected = ref.fp_fused_sum(torch.tensor(vecs), FP8_E4M3, guard=0, sticky=True, rounding="rtz").tolist()
    assert_no_mismatches(got, expected, vec_labels(vecs), "e4m3 pairs")
