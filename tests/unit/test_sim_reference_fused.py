"""The fused reduction (``fp_reduce="fused"``) of the reference model: IEEE LUTs, one fused sum of each
output's fetched values into the accumulator format (the fused adder's own reference,
:func:`sim.fp_reference.fp_fused_sum`, is checked against exact fractions in ``test_hwgen_fp_fused``)."""

import numpy as np
import pytest
import torch

from hwgen.description.config import CoreConfig
from sim import fp_reference
from sim.reference import ReferenceModel


def _gemv(cfg, a_bits, w):
    return ReferenceModel(cfg).gemv(torch.tensor(a_bits), torch.tensor(w)).tolist()


def test_a_tile_is_the_fused_sum_of_the_fetched_lut_values():
    """One input tile, mu = 2: the output is ``fp_fused_sum`` of the L signed LUT entries (IEEE adds
    of each group in fp16) straight into fp32, with the core's guard bits and rounding."""
    cfg = CoreConfig(act="fp16", acc="fp32", fp_reduce="fused", fp_width=13, fp_round="rtz", mu=2, luts=4,
                     keys=2, max_n=8, max_m=2)
    assert cfg.fused_guard == 1
    rng = np.random.default_rng(2)
    for _ in range(30):
        a = fp_reference.to_bits(torch.from_numpy(rng.standard_normal(8) * 2.0 ** rng.integers(-6, 6, 8)),
                                 cfg.act_type.fmt)
        w = rng.integers(-1, 2, (8, 2))
        pairs = a.reshape(4, 2)
        leaves = []
        for j in range(2):  # each LUT's fetched value: w0 * a0 + w1 * a1 as one IEEE fp16 add
            signed = [torch.where(torch.from_numpy(w[0::2, j] < 0), pairs[:, 0] ^ 0x8000, pairs[:, 0]),
                      torch.where(torch.from_numpy(w[1::2, j] < 0), pairs[:, 1] ^ 0x8000, pairs[:, 1])]
            signed = [torch.where(torch.from_numpy(w[k::2, j] == 0), 0, s) for k, s in enumerate(signed)]
            leaves.append(fp_reference.fp_add(signed[0], signed[1], cfg.act_type.fmt))
        both = w[0::2] * w[1::2] != 0
        for j in range(2):  # an entry of one activation is that activation, not a +0 add
            only = ~both[:, j]
            single = torch.where(torch.from_numpy(w[0::2, j] != 0), 0, 1)
            picked = [(pairs[i, int(single[i])] ^ (0x8000 if w[2 * i + int(single[i]), j] < 0 else 0))
                      if w[2 * i + int(single[i]), j] != 0 else 0 for i in range(4)]
            leaves[j] = torch.where(torch.from_numpy(only), torch.tensor(picked), leaves[j])
        want = [int(fp_reference.fp_fused_sum(leaves[j], cfg.act_type.fmt, cfg.acc_type.fmt, guard=1,
                                              rounding="rtz")) for j in range(2)]
        assert _gemv(cfg, a.tolist(), w) == want


def test_a_tile_sum_cannot_overflow_fp16_before_fp32():
    kw = dict(act="fp16", acc="fp32", mu=1, luts=4, keys=1, max_n=4, max_m=1)
    a, w = [0x7BFF] * 4, [[1]] * 4
    fmt = CoreConfig(**kw).acc_type.fmt
    assert fp_reference.decode(torch.tensor(_gemv(CoreConfig(**kw), a, w)), fmt).item() == float("inf")
    fused = CoreConfig(fp_reduce="fused", **kw)
    assert fp_reference.decode(torch.tensor(_gemv(fused, a, w)), fmt).item() == 4 * 65504.0


@pytest.mark.parametrize("a, w, want", [
    ([0x7C00, 0xFC00, 0x3C00, 0x3C00], [[1], [1], [1], [1]], "nan"),   # +inf and -inf in one tile
    ([0x7C00, 0xFC00, 0x3C00, 0x3C00], [[1], [0], [1], [1]], "+inf"),  # a weight of 0 drops -inf
    ([0x7E01, 0x3C00, 0x3C00, 0x3C00], [[0], [1], [1], [-1]], 1.0),    # ... and a NaN
    ([0x7E01, 0x3C00, 0x3C00, 0x3C00], [[-1], [1], [1], [-1]], "nan"),
    ([0x8000, 0x8000, 0x8000, 0x8000], [[1], [1], [1], [1]], "+0"),    # IEEE: -0
])
def test_specials_and_zero(a, w, want):
    cfg = CoreConfig(act="fp16", fp_reduce="fused", mu=1, luts=4, keys=1, max_n=4, max_m=1)
    (y,) = _gemv(cfg, a, w)
    fmt = cfg.acc_type.fmt
    expected = {"nan": fmt.canonical_nan, "+inf": fmt.inf, "+0": 0}.get(want)
    if expected is None:
        expected = int(fp_reference.to_bits(torch.tensor([want]), fmt)[0])
    assert y == expected
