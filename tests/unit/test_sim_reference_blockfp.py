"""The block-FP reduction (``fp_reduce="blockfp"``) of the reference model against an independent model
written from :attr:`CoreConfig.fp_reduce`'s definition with Python integers and fractions, its
exactness conditions, and its special cases."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from hwgen.description.config import CoreConfig
from sim import fp_reference
from sim.reference import ReferenceModel


def _decode(bits: int, fmt) -> tuple[int, int, int]:
    """(sign, effective exponent, significand) of a finite bit pattern."""
    sign = bits >> (fmt.width - 1) & 1
    field = bits >> fmt.man_bits & fmt.exp_max
    sig = (bits & fmt.man_mask) | ((field != 0) << fmt.man_bits)
    return sign, max(field, 1), sig


def independent_tile_sums(cfg: CoreConfig, rows: list[list[int]], w: np.ndarray) -> list:
    """Each row's aligned integers (``floor(sig * 2**(W - 2 - M) / 2**(e_max - e))``, signed after
    truncation) weighted by ``w``: ``(S, k)`` per output for the value ``S * 2**k``, ``k = e_max - bias
    - W + 2``; ``None`` for a row with an infinity or NaN."""
    fmt, width = cfg.act_type.fmt, cfg.fp_width
    out = []
    for t, row in enumerate(rows):
        decoded = [_decode(int(b), fmt) for b in row]
        if any((b >> fmt.man_bits & fmt.exp_max) == fmt.exp_max for b in row):
            out.append(None)
            continue
        emax = max(e for _, e, _ in decoded)
        lanes = []
        for sign, e, sig in decoded:
            q = (Fraction(sig) * Fraction(2) ** (width - 2 - fmt.man_bits - (emax - e))).__floor__()
            lanes.append(-q if sign else q)
        k = emax - fmt.bias - width + 2
        block = w[t * cfg.tile_n:(t + 1) * cfg.tile_n]
        out.append([(sum(q * int(block[i, j]) for i, q in enumerate(lanes)), k) for j in range(w.shape[1])])
    return out


def _round(value: tuple[int, int], cfg: CoreConfig) -> int:
    """``S * 2**k`` rounded once to the acc format (through the integer converter of the reference,
    whose own tests check it against exact fractions)."""
    total, k = value
    return int(fp_reference.int_to_fp(torch.tensor([total]), k, cfg.acc_type.fmt, cfg.fp_round)[0])


def _one_tile(cfg, a_bits, w):
    model = ReferenceModel(cfg)
    return model.gemv(torch.tensor(a_bits), torch.tensor(w)).tolist()


@pytest.mark.parametrize("kw", [
    dict(act="fp16", acc="fp32", fp_width=20),
    dict(act="fp16", acc="fp16", fp_width=9, fp_round="rtz"),
    dict(act="bf16", acc="fp32", fp_width=12),
    dict(act="fp8e5m2", acc="fp16", fp_width=6),
])
def test_one_tile_equals_the_definition(kw):
    """One input tile: the output is the definition's exact tile sum, rounded once."""
    cfg = CoreConfig(fp_reduce="blockfp", mu=2, luts=4, keys=3, max_n=8, max_m=3, **kw)
    rng = np.random.default_rng(7)
    fmt = cfg.act_type.fmt
    for _ in range(40):
        n = int(rng.integers(1, cfg.tile_n + 1))
        # exponents spread over many binades, some subnormals and zeros; no infinities or NaNs
        fields = rng.integers(0, fmt.exp_max, size=n)
        bits = ((rng.integers(0, 2, size=n) << (fmt.width - 1)) | (fields << fmt.man_bits)
                | rng.integers(0, 1 << fmt.man_bits, size=n))
        w = rng.integers(-1, 2, size=(n, 3))
        want = [_round(s, cfg) for s in independent_tile_sums(cfg, [bits.tolist()], w)[0]]
        assert _one_tile(cfg, bits.tolist(), w) == want


def test_the_definition_check_can_fail():
    """A sabotage: the independent model with one guard bit fewer disagrees with the reference."""
    cfg = CoreConfig(act="fp16", acc="fp32", fp_reduce="blockfp", fp_width=12, mu=1, luts=4, keys=1,
                     max_n=4, max_m=1)
    narrower = CoreConfig(**{**cfg.to_dict(), "fp_width": 11, "name": ""})
    values = torch.tensor([1.0, 2.0 ** -9 * 1.5, 3.0, 2.0 ** -11])
    bits = fp_reference.to_bits(values, cfg.act_type.fmt).tolist()
    w = np.ones((4, 1), dtype=np.int64)
    good = [_round(s, cfg) for s in independent_tile_sums(cfg, [bits], w)[0]]
    bad = [_round(s, narrower) for s in independent_tile_sums(narrower, [bits], w)[0]]
    assert _one_tile(cfg, bits, w) == good != bad


def test_exact_when_rows_span_few_binades():
    """Alignment is exact for non-zero activations within ``W - M - 2`` binades of the row's
    largest, and the conversion for tile sums of at most 24 bits (fp32): the output is then the
    exact sum of the tile."""
    cfg = CoreConfig(act="fp16", acc="fp32", fp_reduce="blockfp", fp_width=16, mu=2, luts=32, keys=4,
                     max_n=64, max_m=4)
    assert cfg.fp_width - cfg.act_type.fmt.man_bits - 2 == 4 and cfg.tree_width(cfg.luts) - 1 <= 24
    rng = np.random.default_rng(3)
    for _ in range(20):
        top = int(rng.integers(-8, 8))
        sign = rng.choice([-1.0, 1.0], 64)
        values = sign * 2.0 ** rng.integers(top - 4, top + 1, 64) * rng.uniform(1, 2, 64)
        bits = fp_reference.to_bits(torch.tensor(values), cfg.act_type.fmt)
        exact = fp_reference.from_bits(bits, cfg.act_type.fmt, dtype=torch.float64)
        w = torch.from_numpy(rng.integers(-1, 2, (64, 4)))
        y = ReferenceModel(cfg).gemv(bits, w)
        want = fp_reference.encode(exact @ w.to(torch.float64), cfg.acc_type.fmt)  # exact in float64
        assert torch.equal(y, want)


def test_a_tile_sum_cannot_overflow_fp16_before_fp32():
    """Four 65504s in one fp16 tile: IEEE adds overflow to +inf in fp16 even with an fp32
    accumulator; block-FP tile sums are integers, converted once into fp32."""
    kw = dict(act="fp16", acc="fp32", mu=2, luts=2, keys=1, max_n=4, max_m=1)
    a = [0x7BFF] * 4
    w = [[1]] * 4
    fmt = CoreConfig(**kw).acc_type.fmt
    ieee = fp_reference.decode(torch.tensor(_one_tile(CoreConfig(**kw), a, w)), fmt)
    blockfp = fp_reference.decode(torch.tensor(_one_tile(CoreConfig(fp_reduce="blockfp", **kw), a, w)), fmt)
    assert ieee.item() == float("inf") and blockfp.item() == 4 * 65504.0


@pytest.mark.parametrize("special", [0x7C00, 0xFC00, 0x7E00, 0x7C01])
def test_a_row_with_an_infinity_or_nan_gives_nan(special):
    """Every output of a job whose row held an infinity or NaN is the canonical NaN, whatever its
    weights (a weight of 0 included); the other job's rows do not see it."""
    cfg = CoreConfig(act="fp16", acc="fp32", fp_reduce="blockfp", mu=1, luts=2, keys=3, max_n=4, max_m=3)
    a = [0x3C00, special, 0x4000, 0x4200]
    w = [[1, 0, -1], [0, 0, 0], [1, 1, 1], [0, 1, 0]]
    assert _one_tile(cfg, a, w) == [cfg.acc_type.fmt.canonical_nan] * 3
    assert _one_tile(cfg, [0x3C00, 0, 0x4000, 0x4200], w) != [cfg.acc_type.fmt.canonical_nan] * 3


def test_zero_sums_are_positive_zero_and_rounding_modes_differ():
    cfg = CoreConfig(act="fp16", fp_reduce="blockfp", fp_width=24, mu=1, luts=2, keys=2, max_n=2, max_m=2)
    neg_zero, one, tiny = 0x8000, 0x3C00, 0x0C00  # -0, 1.0, 2**-12
    assert _one_tile(cfg, [neg_zero, neg_zero], [[1, 1], [1, -1]]) == [0, 0]  # IEEE: -0 + -0 = -0
    assert _one_tile(cfg, [one, one], [[1, 1], [-1, -1]]) == [0, 0]
    # 1 + 2**-12 in fp16 is a tie that rounds (to even) and truncates to 1.0; 1 - 2**-12 is a tie that
    # rounds to 1.0 but truncates to the largest value below it
    rne = CoreConfig(**{**cfg.to_dict(), "name": ""})
    rtz = CoreConfig(**{**cfg.to_dict(), "fp_round": "rtz", "name": ""})
    assert _one_tile(rne, [one, tiny], [[1, 1], [1, -1]]) == [0x3C00, 0x3C00]
    assert _one_tile(rtz, [one, tiny], [[1, 1], [1, -1]]) == [0x3C00, 0x3BFF]


def _exact_int_to_fp(v: int, k: int, fmt, rounding: str) -> int:
    """``v * 2**k`` rounded to ``fmt`` by exact fractions (an independent model of ``int_to_fp``)."""
    if v == 0:
        return 0
    x = Fraction(abs(v)) * Fraction(2) ** k
    e = abs(v).bit_length() - 1 + k  # exponent of the leading bit
    quantum = max(e, 1 - fmt.bias) - fmt.man_bits
    scaled = x / Fraction(2) ** quantum
    q = scaled.__floor__()
    rem = scaled - q
    if rounding == "rne" and (rem > Fraction(1, 2) or (rem == Fraction(1, 2) and q % 2 == 1)):
        q += 1
    enc = ((max(e + fmt.bias, 1) - 1) << fmt.man_bits) + q
    if enc >= fmt.exp_max << fmt.man_bits:
        enc = fmt.inf if rounding == "rne" else fmt.max_finite
    return enc | ((v < 0) << (fmt.width - 1))


@pytest.mark.parametrize("rounding", ["rne", "rtz"])
@pytest.mark.parametrize("fmt_name", ["fp16", "bf16", "fp32", "fp8e4m3"])
def test_int_to_fp_matches_exact_fractions(fmt_name, rounding):
    """The tile sum's conversion (:func:`sim.fp_reference.int_to_fp`): normal, subnormal, overflowing
    and underflowing results, ties, up to 61-bit integers."""
    from hwgen.description.config import FP_FORMATS

    fmt = FP_FORMATS[fmt_name]
    rng = np.random.default_rng(11)
    values, scales = [], []
    for _ in range(2000):
        bits = int(rng.integers(0, 62))
        values.append(int(rng.integers(-(1 << bits), (1 << bits) + 1)))
        scales.append(int(rng.integers(-200, 200)))
    values += [1, -1, 3, 0, (1 << 61) - 1, 2049, 2051, 6, 7]  # ties (2049, 2051 in fp16), tiny, huge
    scales += [-160, -24, -26, 5, 60, 0, 0, -26, -27]
    got = fp_reference.int_to_fp(torch.tensor(values), torch.tensor(scales), fmt, rounding).tolist()
    want = [_exact_int_to_fp(v, k, fmt, rounding) for v, k in zip(values, scales, strict=True)]
    assert got == want
