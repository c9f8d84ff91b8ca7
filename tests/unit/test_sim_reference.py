import numpy as np
import pytest
import torch

from hwgen.description.config import CoreConfig
from sim.reference import ReferenceModel
from sim.stimulus import random_gemv


@pytest.mark.parametrize("mu", range(1, 7))
@pytest.mark.parametrize("act", ["int2", "int4", "int8", "int16"])
def test_gemv_equals_exact_matmul(mu, act):
    cfg = CoreConfig(act=act, mu=mu, luts=3, keys=5, max_n=300, max_m=40)
    model = ReferenceModel(cfg)
    gen = torch.Generator().manual_seed(mu)
    lo, hi = cfg.act_type.min_value, cfg.act_type.max_value
    for n, m in [(1, 1), (cfg.tile_n + 1, 7), (300, 40)]:
        a = torch.randint(lo, hi + 1, (n,), generator=gen)
        w = torch.randint(-1, 2, (n, m), generator=gen)
        assert torch.equal(model.gemv(a, w), a @ w)


def test_extremes_reach_the_accumulator_bound():
    cfg = CoreConfig(act="int8", mu=3, luts=2, keys=2, max_n=60, max_m=2)
    model = ReferenceModel(cfg)
    a = torch.full((60,), -128)
    for sign in (1, -1):
        y = model.gemv(a, torch.full((60, 2), sign))
        assert y.tolist() == [-128 * 60 * sign] * 2
        assert -(1 << (cfg.acc_width - 1)) <= y.min() and y.max() < (1 << (cfg.acc_width - 1))


def test_build_luts_matches_plan_weights():
    cfg = CoreConfig(mu=3, luts=1, keys=1, max_n=3, max_m=1)
    a = torch.tensor([5, -7, 11])
    entries = ReferenceModel(cfg).build_luts(a)
    for v in range(cfg.plan.entries + 1):
        w = cfg.plan.weights(v)
        assert entries[v] == sum(wj * aj for wj, aj in zip(w, a.tolist(), strict=True))


def test_fetch_applies_sign():
    cfg = CoreConfig(mu=2, luts=1, keys=1, max_n=2, max_m=1)
    model = ReferenceModel(cfg)
    luts = model.build_luts(torch.tensor([3, 10]))
    sign = 1 << (cfg.key_bits - 1)
    keys = torch.tensor([0, 1, 4, sign | 4, sign | 2])
    assert model.fetch(luts, keys).tolist() == [0, 3, 13, -13, -(10 - 3)]


def test_gemv_rejects_bad_input():
    model = ReferenceModel(CoreConfig(act="int4", mu=2, luts=1, keys=1, max_n=4, max_m=4))
    with pytest.raises(ValueError, match=r"^activations must be in \[-8, 7\] for act=int4$"):
        model.gemv(torch.tensor([8, 0]), torch.ones(2, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^GEMV shape N=5, M=1 must be in \[1, max_n=4\] x \[1, max_m=4\]$"):
        model.gemv(torch.zeros(5, dtype=torch.int64), torch.ones(5, 1, dtype=torch.int64))


@pytest.mark.parametrize("act", ["int2", "int8", "int16"])
def test_mac_gemv_equals_exact_matmul(act):
    cfg = CoreConfig(arch="mac", act=act, luts=5, keys=3, max_n=200, max_m=20)
    model = ReferenceModel(cfg)
    gen = torch.Generator().manual_seed(7)
    lo, hi = cfg.act_type.min_value, cfg.act_type.max_value
    for n, m in [(1, 1), (6, 4), (200, 20)]:
        a = torch.randint(lo, hi + 1, (n,), generator=gen)
        w = torch.randint(-1, 2, (n, m), generator=gen)
        assert torch.equal(model.gemv(a, w), a @ w)
    a = torch.full((200,), lo)  # the accumulator bound, through 2w-bit products and a generic tree
    assert model.gemv(a, -torch.ones(200, 1, dtype=torch.int64)).tolist() == [-lo * 200]


def test_mac_fp_products_follow_ieee_not_the_lut_core():
    """``inf * +0.0`` is NaN and ``-2 * +0.0`` is -0 in a mac core; a LUT core's zero weight adds nothing."""
    kw = dict(act="fp16", luts=2, keys=1, max_n=4, max_m=4)
    mac, lut = ReferenceModel(CoreConfig(arch="mac", **kw)), ReferenceModel(CoreConfig(mu=1, **kw))
    inf, neg_two, one = 0x7C00, 0xC000, 0x3C00
    cases = [  # activations, weights (one column), mac result, LUT result
        ([inf, one], [0, 1], 0x7E00, one),  # inf * 0 = NaN (canonical)
        ([neg_two, 0x8000], [0, 0], 0x8000, 0x0000),  # -2 * +0 = -0, -0 * +0 = -0; -0 + -0 = -0
        ([neg_two, one], [-1, 1], 0x4200, 0x4200),  # 2 + 1 = 3 in both
    ]
    for a, w, want_mac, want_lut in cases:
        a, w = torch.tensor(a), torch.tensor(w).reshape(-1, 1)
        assert mac.gemv(a, w).tolist() == [want_mac]
        assert lut.gemv(a, w).tolist() == [want_lut]


@pytest.mark.parametrize("act", ["int8", "bf16"])
def test_signflip_reference_is_lut_mu1(act):
    kw = dict(act=act, luts=3, keys=2, max_n=40, max_m=10)
    signflip, lut = CoreConfig(arch="signflip", **kw), CoreConfig(mu=1, **kw)
    gen = np.random.default_rng(3)
    for n, m in [(1, 1), (7, 3), (40, 10)]:
        a, w = random_gemv(signflip, gen, n, m)
        a, w = torch.from_numpy(a), torch.from_numpy(w)
        assert torch.equal(ReferenceModel(signflip).gemv(a, w), ReferenceModel(lut).gemv(a, w))


#: A quiet NaN with a payload of its own, and its negation, in bf16 and fp16.
_PAYLOAD_NANS = {"bf16": (0x7F81, 0xFF81), "fp16": (0x7C01, 0xFC01)}


@pytest.mark.parametrize("act", ["bf16", "fp16"])
@pytest.mark.parametrize("mu", [1, 2])
@pytest.mark.parametrize("tiles", [1, 3])
def test_outputs_carry_only_the_canonical_nan(act, mu, tiles):
    """A NaN activation reaches an L = 1 core's output through a stored entry and a sign flip,
    without an add (one input tile): the output is still the canonical NaN, on the prepared fast
    path and on the stage-by-stage path; a core with L = 2 or an fp32 accumulator gets it from
    its adder or converter."""
    for luts, acc in ((1, act), (2, act), (1, "fp32")):
        cfg = CoreConfig(act=act, acc=acc, mu=mu, luts=luts, keys=2, max_n=16, max_m=2)
        assert cfg.canonicalises_first_tile == (luts == 1 and acc == act)
        n = min(cfg.max_n, tiles * cfg.tile_n)
        a = torch.full((n,), 0x3C00 if act == "fp16" else 0x3F80, dtype=torch.int64)  # 1.0
        w = torch.zeros((n, 2), dtype=torch.int64)
        for nan_bits in _PAYLOAD_NANS[act]:
            a[0] = nan_bits
            w[0] = torch.tensor([1, -1])
            model = ReferenceModel(cfg)
            canonical = cfg.acc_type.fmt.canonical_nan
            assert model.gemv(a, w).tolist() == [canonical, canonical]
            assert model.gemv(a, model.prepare(w)).tolist() == [canonical, canonical]
