"""The adapter reference (:mod:`sim.adapter_reference`) against independent models of the arithmetic of
:mod:`hwgen.description.adapter`, and VeRA's matrix generator (:mod:`hwgen.description.vera`).

Floating point: a slow scalar model built from the :mod:`sim.fp_reference` primitives walks the down
engine's tree and the chunk and rank accumulations one rounded operation at a time. Integer: exact
numpy int64 sums and Python-integer rounding. VeRA: a pure-Python transcription of the generator's
definition and a few pinned words and values of seed 7.
"""

import math

import numpy as np
import pytest
import torch

from hwgen.description.adapter import AdapterConfig
from hwgen.description.config import FP_FORMATS, core_config
from hwgen.description.vera import (
    bound_exponent,
    vera_bits,
    vera_fields,
    vera_matrices,
    vera_values,
    vera_words,
)
from sim import fp_reference
from sim.adapter_reference import AdapterReference, AdapterWeights, rhu, vera_torch, vera_weights
from sim.reference import ReferenceModel

FP16_CORE = dict(act="fp16", core=8, mu=2, max_n=64, max_m=64)
INT8_CORE = dict(act="int8", core=8, mu=2, max_n=64, max_m=64)


# --- the slow scalar model (floating point) ---


def _t(v):
    return torch.tensor(v, dtype=torch.int64)


def _mul(p, q, fmt):
    return int(fp_reference.fp_mul(_t(p), _t(q), fmt))


def _add(p, q, fmt):
    return int(fp_reference.fp_add(_t(p), _t(q), fmt))


def _conv(p, src, dst):
    return p if src == dst else int(fp_reference.fp_convert(_t(p), src, dst))


def _slow_down(adapter, x, a):
    """u = A x: per rank row, lane c of ``chunk`` sums in ``acc`` the products (rounded to ``fmt``,
    +0 * +0 past n) of inputs c, c + chunk, ... in order, the first as is; the ``chunk`` partial sums
    are then added along the down engine's tree in ``acc``."""
    core, engine = adapter.core, adapter.down_engine
    act, fmt, acc = core.act_type.fmt, FP_FORMATS[adapter.fmt], core.acc_type.fmt
    lanes = adapter.chunk
    assert engine.luts == lanes
    xf = [_conv(v, act, fmt) for v in x]
    n = len(xf)
    steps = -(-n // lanes)
    u = []
    for row in a:
        partial = []
        for c in range(lanes):
            total = None
            for step in range(steps):
                i = step * lanes + c
                p = _conv(_mul(xf[i], row[i], fmt) if i < n else _mul(0, 0, fmt), fmt, acc)
                total = p if total is None else _add(total, p, acc)
            partial.append(total)
        level = partial
        for nodes in engine.tree_levels:
            level = [_add(level[nd.inputs[0]], level[nd.inputs[1]], acc) if len(nd.inputs) == 2
                     else level[nd.inputs[0]] for nd in nodes]
        (uj,) = level
        u.append(uj)
    return u


def _slow_rest(adapter, u, core_y, b, d, bvec=None):
    """Steps 2 to 4: u times d (one value: s; or a vector) in ``acc``, then to ``fmt``; v = B u one
    rounded product per rank term accumulated in ``acc``; then ``core + v`` (vera: ``core + b * v``)
    in ``acc``."""
    fmt, acc = FP_FORMATS[adapter.fmt], adapter.core.acc_type.fmt
    u_f = [_conv(_mul(d[j] if isinstance(d, list) else d, uj, acc), acc, fmt) for j, uj in enumerate(u)]
    y = []
    for k, row in enumerate(b):
        v = None
        for j, bkj in enumerate(row):
            p = _conv(_mul(u_f[j], bkj, fmt), fmt, acc)
            v = p if v is None else _add(v, p, acc)
        y.append(_add(core_y[k], v if bvec is None else _mul(bvec[k], v, acc), acc))
    return y


def _fp_bits(rng, shape, fmt, spread=(-6, 3)):
    """Random values of varied magnitude, a few +-0, as bit patterns of ``fmt``."""
    v = rng.standard_normal(shape) * 2.0 ** rng.integers(*spread, shape)
    v[rng.random(shape) < 0.05] = 0.0
    v[rng.random(shape) < 0.05] = -0.0
    return fp_reference.to_bits(torch.from_numpy(v), fmt)


def _job(rng, core, n, m):
    x = _fp_bits(rng, n, core.act_type.fmt) if core.is_fp else torch.from_numpy(rng.integers(-128, 128, n))
    w = torch.from_numpy(rng.integers(-1, 2, (n, m)))
    return x, w


def _lora_weights(rng, adapter, rank, n, m):
    fmt, acc = FP_FORMATS[adapter.fmt], adapter.core.acc_type.fmt
    a = _fp_bits(rng, (rank, n), fmt, (-4, 1))
    b = _fp_bits(rng, (m, rank), fmt, (-4, 1))
    s = int(fp_reference.to_bits(torch.tensor(0.37), acc))
    return a, b, s


# --- floating point ---


@pytest.mark.parametrize(("chunk", "lanes"), [(1, 3), (4, 8), (16, 16)])
@pytest.mark.parametrize("rank", [1, 4, 16])
def test_lora_fp16_matches_the_scalar_model(chunk, lanes, rank):
    adapter = AdapterConfig(core=core_config(**FP16_CORE), chunk=chunk, lanes=lanes, max_rank=16)
    ref = AdapterReference(adapter)
    rng = np.random.default_rng(100 * chunk + rank)
    n, m = 21, 12
    x, w = _job(rng, adapter.core, n, m)
    a, b, s = _lora_weights(rng, adapter, rank, n, m)
    y = ref.forward(x, w, AdapterWeights(a=a, b=b, s=s))
    core_y = ReferenceModel(adapter.core).gemv(x, w).tolist()
    u = _slow_down(adapter, x.tolist(), a.tolist())
    assert ref.down(x, a).tolist() == u
    assert y.tolist() == _slow_rest(adapter, u, core_y, b.tolist(), s)
    assert y.tolist() != core_y
    one_tree = AdapterReference(adapter.replace(lanes=chunk))  # P / C trees side by side: same bits
    assert torch.equal(one_tree.forward(x, w, AdapterWeights(a=a, b=b, s=s)), y)


def test_fp32_accumulators_with_an_fp16_adapter():
    core = core_config(act="fp16", acc="fp32", **{k: v for k, v in FP16_CORE.items() if k != "act"})
    adapter = AdapterConfig(core=core, chunk=2, lanes=4, max_rank=8)
    ref = AdapterReference(adapter)
    rng = np.random.default_rng(5)
    n, m, rank = 23, 10, 5
    x, w = _job(rng, core, n, m)
    a, b, s = _lora_weights(rng, adapter, rank, n, m)
    y = ref.forward(x, w, AdapterWeights(a=a, b=b, s=s))
    u = _slow_down(adapter, x.tolist(), a.tolist())
    assert max(u) >= 1 << 16  # fp32 bit patterns
    core_y = ReferenceModel(core).gemv(x, w).tolist()
    assert y.tolist() == _slow_rest(adapter, u, core_y, b.tolist(), s)


def test_bf16_adapter_on_an_fp16_core_converts_x():
    core = core_config(act="fp16", acc="fp32", **{k: v for k, v in FP16_CORE.items() if k != "act"})
    adapter = AdapterConfig(core=core, fmt="bf16", chunk=4, max_rank=4)
    ref = AdapterReference(adapter)
    rng = np.random.default_rng(6)
    n, m, rank = 17, 9, 3
    x, w = _job(rng, core, n, m)
    native = fp_reference.native_bits(fp_reference.native_view(x, FP_FORMATS["fp16"]).to(torch.bfloat16),
                                      FP_FORMATS["bf16"])
    assert torch.equal(ref.x_to_fmt(x), native)
    assert not torch.equal(ref.x_to_fmt(x), x)
    a, b, s = _lora_weights(rng, adapter, rank, n, m)
    u = _slow_down(adapter, x.tolist(), a.tolist())
    assert ref.down(x, a).tolist() == u
    core_y = ReferenceModel(core).gemv(x, w).tolist()
    assert ref.forward(x, w, AdapterWeights(a=a, b=b, s=s)).tolist() == _slow_rest(adapter, u, core_y,
                                                                                    b.tolist(), s)


def test_vera_regenerates_a_and_b_and_applies_d_and_b():
    core = core_config(act="fp16", acc="fp32", **{k: v for k, v in FP16_CORE.items() if k != "act"})
    adapter = AdapterConfig(core=core, variant="vera", seed=7, chunk=2, lanes=6, max_rank=8)
    ref = AdapterReference(adapter)
    rng = np.random.default_rng(7)
    n, m, rank = 20, 12, 4
    x, w = _job(rng, core, n, m)
    acc = core.acc_type.fmt
    d = fp_reference.to_bits(torch.from_numpy(rng.standard_normal(rank)), acc)
    bvec = fp_reference.to_bits(torch.from_numpy(rng.standard_normal(m) * 0.1), acc)
    core_y = ReferenceModel(core).gemv(x, w).tolist()
    results = []
    for fan_in in (20, 64):
        vera = adapter.replace(fan_in=fan_in)
        a_val, b_val = _py_vera(7, rank, n, m, "fp16", fan_in)
        a = [[int(v) for v in np.float16(row).view(np.uint16)] for row in a_val]
        b = [[int(v) for v in np.float16(row).view(np.uint16)] for row in b_val]
        assert len(b) == m and len(b[0]) == rank
        a_hw, b_hw = vera_weights(vera, rank, n, m)
        assert a_hw.tolist() == a and b_hw.tolist() == b
        y = AdapterReference(vera).forward(x, w, AdapterWeights(d=d, bvec=bvec))
        u = _slow_down(vera, x.tolist(), a)
        assert y.tolist() == _slow_rest(vera, u, core_y, b, d.tolist(), bvec.tolist())
        results.append(y)
    assert adapter.fan_in == core.max_n == 64
    assert torch.equal(ref.forward(x, w, AdapterWeights(d=d, bvec=bvec)), results[1])
    assert not torch.equal(results[0], results[1])  # A's bound follows fan_in: 2**-2 (20) vs 2**-3 (64)
    for _ in range(4):  # step 2 alone on full-precision u: one rounding in acc, then one to fp16
        u = fp_reference.to_bits(torch.from_numpy(rng.standard_normal(8)), acc)
        d = fp_reference.to_bits(torch.from_numpy(rng.standard_normal(8)), acc)
        want = [_conv(_mul(dj, uj, acc), acc, FP_FORMATS["fp16"]) for dj, uj in zip(d.tolist(), u.tolist(),
                                                                                      strict=True)]
        assert ref.to_fmt(u, d).tolist() == want


def test_ternary_a_down_projection_is_more_core_columns():
    core = core_config(**FP16_CORE)
    adapter = AdapterConfig(core=core, variant="ternary-a", max_rank=8)
    ref = AdapterReference(adapter)
    rng = np.random.default_rng(8)
    n, m, rank = 30, 12, 8
    x, w = _job(rng, core, n, m)
    a = torch.from_numpy(rng.integers(-1, 2, (rank, n)))
    both = ReferenceModel(core).gemv(x, torch.cat([w, a.T], dim=1))
    u = ref.down(x, a)
    assert torch.equal(u, both[m:])
    b, s = _lora_weights(rng, adapter, rank, n, m)[1:]
    y = ref.forward(x, w, AdapterWeights(a=a, b=b, s=s))
    assert y.tolist() == _slow_rest(adapter, u.tolist(), both[:m].tolist(), b.tolist(), s)
    assert y.tolist() != both[:m].tolist()


def test_ternary_a_rank_above_the_cores_max_m():
    core = core_config(act="int8", core=4, mu=2, max_n=16, max_m=4)
    ref = AdapterReference(AdapterConfig(core=core, variant="ternary-a", max_rank=10))
    rng = np.random.default_rng(9)
    x = torch.from_numpy(rng.integers(-128, 128, 16))
    a = torch.from_numpy(rng.integers(-1, 2, (10, 16)))
    assert ref.down(x, a).tolist() == (a.numpy() @ x.numpy()).tolist()


# --- integers ---


def _rhu_py(z, s):
    return (z + (1 << (s - 1))) >> s if s else z  # Python's >> floors, also for negative z


def _clamp(z, lo, hi):
    return min(hi, max(lo, z))


def _np_int_model(x, core_y, a, b, d, bvec, w, acc_width):
    """Integer steps 1 to 4 (``d``: s repeated for lora; ``bvec`` None for lora)."""
    u = a.astype(np.int64) @ x.astype(np.int64)
    u_f = np.array([_clamp(_rhu_py(int(uj) * int(dj), w.shift_u), -128, 127)
                    for uj, dj in zip(u, d, strict=True)])
    v = [int(vk) for vk in b.astype(np.int64) @ u_f]
    if bvec is not None:
        v = [_clamp(_rhu_py(vk, w.shift_v), -128, 127) * int(bk) for vk, bk in zip(v, bvec, strict=True)]
    half = 1 << (acc_width - 1)
    return [_clamp(int(c) + _rhu_py(vk, w.shift_s), -half, half - 1) for c, vk in zip(core_y, v, strict=True)]


@pytest.mark.parametrize("variant", ["lora", "vera"])
def test_int8_adapter_is_exact_at_any_lane_count(variant):
    core = core_config(**INT8_CORE)
    rng = np.random.default_rng(11)
    n, m, rank = 40, 16, 6
    x, w = _job(rng, core, n, m)
    core_y = ReferenceModel(core).gemv(x, w).numpy()
    if variant == "lora":
        a, b = rng.integers(-128, 128, (rank, n)), rng.integers(-128, 128, (m, rank))
        s = int(rng.integers(-2 ** 15, 2 ** 15))
        d, bvec = np.full(rank, s), None
        weights = AdapterWeights(a=torch.from_numpy(a), b=torch.from_numpy(b), s=s, shift_u=24, shift_s=3)
    else:
        a, b = (t.numpy() for t in vera_weights(AdapterConfig(core=core, variant="vera", seed=3), rank, n, m))
        d, bvec = rng.integers(-2 ** 15, 2 ** 15, rank), rng.integers(-128, 128, m)
        weights = AdapterWeights(d=torch.from_numpy(d), bvec=torch.from_numpy(bvec), shift_u=23, shift_v=6,
                                 shift_s=2)
    want = _np_int_model(x.numpy(), core_y, a, b, d, bvec, weights, core.acc_width)
    seed = 3 if variant == "vera" else 0
    for chunk, lanes in ((1, 3), (4, 8), (16, 32)):
        adapter = AdapterConfig(core=core, variant=variant, seed=seed, chunk=chunk, lanes=lanes, max_rank=8)
        assert AdapterReference(adapter).forward(x, w, weights).tolist() == want
    assert len(set(want)) > m // 2 and want != core_y.tolist()


def test_int8_down_projection_sums_exactly_beyond_the_ternary_accumulator():
    core = core_config(**INT8_CORE)
    adapter = AdapterConfig(core=core, max_rank=2)
    ref = AdapterReference(adapter)
    x, a = torch.full((64,), -128), torch.full((2, 64), -128)
    u = ref.down(x, a)
    assert u.tolist() == [64 * 128 * 128] * 2
    assert 64 * 128 * 128 >= 1 << (adapter.down_engine.acc_width - 1)  # the mac engine's acc would wrap
    assert ref.to_fmt(u, 1, shift_u=14).tolist() == [64, 64]


def test_int_rounding_is_half_up_then_clamped():
    core = core_config(**INT8_CORE)
    lora, vera = (AdapterReference(AdapterConfig(core=core, variant=v, seed=s)) for v, s in (("lora", 0),
                                                                                             ("vera", 1)))
    cases = {  # shift_u: (u, expected)
        0: ([127, 128, -128, -129, 0], [127, 127, -128, -128, 0]),
        1: ([-1, -3, -5, 1, 3, 5, 254, 255, 257, -256, -257, -259, -2],
            [0, -1, -2, 1, 2, 3, 127, 127, 127, -128, -128, -128, -1]),
        2: ([-6, -2, 6, -10, -9, -11], [-1, 0, 2, -2, -2, -3]),
        63: ([1 << 62, -(1 << 62), (1 << 62) - 1], [1, 0, 0]),
    }
    for shift, (u, want) in cases.items():
        assert lora.to_fmt(torch.tensor(u), 1, shift_u=shift).tolist() == want
        assert [_rhu_py(z, shift) for z in u] == rhu(torch.tensor(u), shift).tolist()
    assert lora.to_fmt(torch.tensor([3, -3, 100]), -3, shift_u=1).tolist() == [-4, 5, -128]  # s = -3
    assert vera.to_fmt(torch.tensor([3, 3, -3]), torch.tensor([-1, 1, 1]), shift_u=1).tolist() == [-1, 2, -1]
    top = (1 << (core.acc_width - 1)) - 1
    y = lora.apply(torch.tensor([top - 3, -top + 3, 0, 5, 7]), torch.tensor([10, -10, -3, -5, 3]), shift_s=1)
    assert y.tolist() == [top, -top - 1, -1, 3, 9]
    y = vera.apply(torch.tensor([top, -top - 1, 0, 0, 0]), torch.tensor([7, 7, 7, 1000, -1000]),
                   torch.tensor([-1, 1, -3, 127, 127]), shift_s=2)
    assert y.tolist() == [top - 2, -top + 1, -5, 4032, -4064]  # v8 = 7, 7, 7, 127, -128
    y = vera.apply(torch.zeros(3, dtype=torch.int64), torch.tensor([7, -7, -5]), 1, shift_v=1)
    assert y.tolist() == [4, -3, -2]


# --- adapter off, bad inputs ---


@pytest.mark.parametrize("spec", [FP16_CORE, INT8_CORE])
def test_adapter_off_returns_the_core_output(spec):
    core = core_config(**spec)
    ref = AdapterReference(AdapterConfig(core=core))
    x, w = _job(np.random.default_rng(12), core, 21, 9)
    assert torch.equal(ref.forward(x, w), ReferenceModel(core).gemv(x, w))
    assert torch.equal(ref.forward(x, w, None), ReferenceModel(core).gemv(x, w))


def _ones(*shape):
    return torch.ones(*shape, dtype=torch.int64)


def _raises(match, fn, *args, **kwargs):
    with pytest.raises(ValueError, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


def test_bad_inputs_raise_one_line_errors():
    core = core_config(**INT8_CORE)
    ref = AdapterReference(AdapterConfig(core=core, max_rank=16))
    vera = AdapterReference(AdapterConfig(core=core, variant="vera", seed=1, max_rank=16))
    rng = np.random.default_rng(13)
    x, w = _job(rng, core, 20, 12)
    a, b = _ones(4, 20), _ones(12, 4)

    def lora(**kw):
        return ref.forward(x, w, AdapterWeights(**{"a": a, "b": b, "s": 1, **kw}))

    lora()
    _raises(r"^`a` must have shape \(rank, 20\), got \(4, 21\)$", lora, a=_ones(4, 21))
    _raises(r"^`b` must have shape \(12, 4\), got \(12, 5\)$", lora, b=_ones(12, 5))
    _raises(r"^`b` must have shape \(12, 4\), got \(11, 4\)$", lora, b=_ones(11, 4))
    for rank in (0, 17):
        _raises(rf"^`rank` must be in \[1, 16\] \(the adapter's max_rank\), got rank={rank}$", lora,
                a=_ones(rank, 20), b=_ones(12, rank))
        vera_job = AdapterWeights(d=_ones(rank), bvec=_ones(12))
        _raises(rf"^`rank` must be in \[1, 16\] .*got rank={rank}$", vera.forward, x, w, vera_job)
    _raises(r"^`a` must hold int8 values in \[-128, 127\], got 128$", lora, a=torch.full((4, 20), 128))
    _raises(r"^`s` must hold 16-bit signed scales in \[-32768, 32767\], got 32768$", lora, s=1 << 15)
    _raises(r"^`bvec` must hold 8-bit signed scales in \[-128, 127\], got 128$", vera.forward, x, w,
            AdapterWeights(d=_ones(4), bvec=torch.full((12,), 128)))
    _raises(r"^`shift_v` is for int8 vera adapters", lora, shift_v=1)
    _raises(r"^`shift_u` must be an integer in \[0, 63\], got shift_u=64$", lora, shift_u=64)
    _raises(r"^`bvec` must have shape \(12,\), got \(11,\)$", vera.forward, x, w,
            AdapterWeights(d=_ones(4), bvec=_ones(11)))
    _raises(r"^`a` is not an operand of adapter=vera", vera.forward, x, w, AdapterWeights(a=a))
    _raises(r"^`d` is for adapter=vera, got it with adapter=lora$", lora, d=_ones(4))
    _raises(r"^`a` must be an integer tensor", lora, a=torch.full((4, 20), 1.0))
    fp = AdapterReference(AdapterConfig(core=core_config(**FP16_CORE)))
    _raises(r"^`s` must be one value, got shape \(2,\)$", fp.adapt, _ones(20), _ones(12),
            AdapterWeights(a=a, b=b, s=[1, 2]))


# --- VeRA's generator ---

_M32 = 0xFFFFFFFF


def _py_fmix32(x):
    x &= _M32
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & _M32
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & _M32
    return x ^ (x >> 16)


def _py_mix32(x):
    for left, right in ((10, 6), (3, 11), (15, 16)):
        x = (x + (x << left)) & _M32
        x ^= x >> right
    return x


def _py_word(seed, t, row, col):
    key = _py_fmix32(seed + 0x9E3779B9 * (2 * row + t + 1))
    return _py_mix32((key + 0x7FEB352D * (col + 1)) & _M32)


def _py_value(seed, t, row, col, fmt, fan_in):
    """Element ``col`` of generated row ``row``: the top bits of its word."""
    bits = 8 if fmt == "int8" else FP_FORMATS[fmt].man_bits + 1
    field = _py_word(seed, t, row, col) >> (32 - bits)
    if fmt == "int8":
        return field - 256 if field >= 128 else field
    odd = 2 * field + 1 - (1 << bits)
    return odd * 2.0 ** (-bits - math.floor(math.log2(fan_in) / 2 + 0.5))


def _py_vera(seed, rank, n, m, fmt, a_fan_in):
    """The generator's definition (module docstring of hwgen.description.vera), in plain Python:
    A's rows are its rank rows, B is generated transposed (rank rows of m outputs)."""
    a = [[_py_value(seed, 0, j, i, fmt, a_fan_in) for i in range(n)] for j in range(rank)]
    b = [[_py_value(seed, 1, j, k, fmt, rank) for j in range(rank)] for k in range(m)]
    return np.array(a), np.array(b)


def test_vera_golden_words_and_values_of_seed_7():
    assert vera_words(7, 0, 2, 2).tolist() == [[0x91EA54B1, 0x1DB5D730], [0x146E999B, 0xB12B9651]]
    assert vera_words(7, 1, 2, 2).tolist() == [[0x7EBF40DF, 0x4507E527], [0x989C8AF1, 0xF091B699]]
    a, b = vera_matrices(7, rank=2, n=3, m=3)
    assert a[0].tolist() == [0.070068359375, -0.384033203125, 0.354248046875]  # e = 1: (-1/2, 1/2)
    assert vera_bits(a, "fp16").ravel().tolist() == [0x2C7C, 0xB625, 0x35AB, 0xB6B9, 0x3226, 0x32EE]
    assert vera_bits(b, "fp16").ravel().tolist() == [0x9D40, 0x2E24, 0xB35E, 0x3709, 0x31E2, 0xB2A2]
    a, _ = vera_matrices(7, rank=2, n=5, m=3, fmt="bf16")
    assert vera_bits(a, "bf16").ravel().tolist() == [0x3D8C, 0xBEC5, 0x3EB5, 0xBE91, 0xBEBB,
                                                     0xBED7, 0x3E46, 0x3E5E, 0xBEC7, 0x3D84]
    a, b = vera_matrices(7, rank=2, n=5, m=3, fmt="int8")
    assert a.tolist() == [[-111, 29, -38, 55, 34], [20, -79, -73, 28, -112]]  # 0x91 = -111, 0x1D = 29
    assert b.tolist() == [[126, -104], [69, -16], [-81, 74]]


@pytest.mark.parametrize("fmt", ["fp16", "bf16", "int8"])
def test_vera_matches_its_definition(fmt):
    for seed, rank, n, m, fan_in in ((0, 3, 5, 4, 5), (7, 5, 9, 6, 1000), ((1 << 32) - 1, 2, 3, 7, 2)):
        a, b = vera_matrices(seed, rank, n, m, fmt, a_fan_in=fan_in)
        a_py, b_py = _py_vera(seed, rank, n, m, fmt, fan_in)
        assert np.array_equal(a, a_py) and np.array_equal(b, b_py)


def test_vera_smaller_layers_are_top_left_slices():
    big_a, big_b = vera_matrices(7, rank=8, n=64, m=48, a_fan_in=64)
    a, b = vera_matrices(7, rank=8, n=20, m=12, a_fan_in=64)
    assert np.array_equal(a, big_a[:8, :20]) and np.array_equal(b, big_b[:12, :8])
    a, _ = vera_matrices(7, rank=3, n=20, m=12, a_fan_in=64)  # A's bound does not depend on the rank
    assert np.array_equal(a, big_a[:3, :20])
    assert np.array_equal(vera_fields(7, 1, 3, 12, "fp16"), vera_fields(7, 1, 8, 48, "fp16")[:3, :12])  # B


@pytest.mark.parametrize("fmt", ["fp16", "bf16"])
def test_vera_values_are_exact_nonzero_bounded_and_uniform(fmt):
    fan_in = 256
    a, b = vera_matrices(11, rank=64, n=256, m=64, fmt=fmt, a_fan_in=fan_in)
    bound = 2.0 ** -bound_exponent(fan_in)
    assert bound == 2.0 ** -4
    dtype = torch.float16 if fmt == "fp16" else torch.bfloat16
    for values, top in ((a, bound), (b, 2.0 ** -bound_exponent(64))):
        assert np.all(values != 0) and np.all(np.abs(values) < top)
        t = torch.from_numpy(values)
        assert torch.equal(t.to(dtype).to(torch.float64), t)
        scaled = values.ravel() / top
        assert abs(scaled.mean()) < 0.03
        assert abs((scaled > 0).mean() - 0.5) < 0.03 and abs((np.abs(scaled) > 0.5).mean() - 0.5) < 0.03
        assert scaled.min() < -0.99 and scaled.max() > 0.99


def test_vera_int8_range_seeds_and_torch_front_end():
    a, b = vera_matrices(5, rank=16, n=128, m=32, fmt="int8")
    assert a.dtype == np.int64 and a.min() == -128 and a.max() == 127 and abs(a.mean()) < 3
    assert np.array_equal(vera_values(np.array([0, 0x7F, 0x80, 0xFF]), "int8", 1), [0, 127, -128, -1])
    assert not np.array_equal(vera_matrices(5, 4, 16, 8)[0], vera_matrices(6, 4, 16, 8)[0])
    core = core_config(**FP16_CORE)
    adapter = AdapterConfig(core=core, variant="vera", seed=5, max_rank=16)
    for source, fmt in ((adapter, "fp16"), (5, "bf16"), (5, "int8")):
        ta, tb = vera_torch(source, 4, 40, 24, None if source is adapter else fmt, a_fan_in=64)
        na, nb = vera_matrices(5, 4, 40, 24, fmt, a_fan_in=64)
        assert ta.dtype == torch.float32
        assert np.array_equal(ta.double().numpy(), na) and np.array_equal(tb.double().numpy(), nb)
