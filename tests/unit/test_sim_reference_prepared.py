"""Prepared weights and the fast datapath of :class:`sim.reference.ReferenceModel`: bit-identical to the
stage methods (build_luts, fetch, reduce, accumulate) run one after the other, on any device."""

import numpy as np
import pytest
import torch

from hwgen.description import key_encoding as np_keys
from hwgen.description.config import CoreConfig
from sim.key_encoding import check_ternary_tensor, encode_weights_torch, weight_operands_torch
from sim.reference import PreparedWeights, ReferenceModel
from sim.stimulus import extreme_activations, random_gemv


def staged_gemv(model: ReferenceModel, a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The GEMV through the public stage methods, with numpy-encoded keys or operands."""
    cfg = model.cfg
    a = a.to(torch.int64)
    n, m = w.shape
    if cfg.is_mac:
        ops = torch.from_numpy(np_keys.weight_operands(cfg, w.numpy()))
        t_count = -(-n // cfg.tile_n)
        padded = torch.zeros(t_count * cfg.tile_n, dtype=torch.int64)
        padded[:n] = a
        wp = torch.zeros((t_count * cfg.tile_n, m), dtype=torch.int64)
        wp[:n] = ops
        products = model.multiply(padded.reshape(t_count, cfg.tile_n, 1), wp.reshape(t_count, cfg.tile_n, m))
        return model.accumulate(model.reduce(products))
    keys = torch.from_numpy(np_keys.encode_weights(w.numpy(), cfg.mu).astype(np.int64))
    return staged_keys(model, a, keys)


def staged_keys(model: ReferenceModel, a: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    cfg = model.cfg
    groups, m = keys.shape
    t_count = -(-groups // cfg.luts)
    padded = torch.zeros(t_count * cfg.luts * cfg.mu, dtype=torch.int64)
    padded[: a.shape[0]] = a
    k = torch.zeros((t_count * cfg.luts, m), dtype=torch.int64)
    k[:groups] = keys
    row_exp = None
    if cfg.is_blockfp:
        padded, row_exp = model.align(padded.reshape(t_count, cfg.tile_n))
    luts = model.build_luts(padded.reshape(t_count, cfg.luts, cfg.mu))
    return model.accumulate(model.reduce(model.fetch(luts, k.reshape(t_count, cfg.luts, m))), row_exp)


CONFIGS = [
    dict(act="int2", mu=1, luts=1, keys=2),
    dict(act="int4", mu=4, luts=3, keys=2),
    dict(act="int8", mu=2, luts=8, keys=3),
    dict(act="int16", mu=8, luts=2, keys=2),
    dict(act="fp16", mu=1, luts=1, keys=2),  # no add in the tree: fetched bits pass through
    dict(act="fp16", mu=3, luts=7, keys=3),
    dict(act="fp16", acc="fp32", mu=2, luts=3, keys=2),
    dict(act="bf16", mu=5, luts=2, keys=3),
    dict(act="fp32", mu=2, luts=5, keys=2),
    dict(act="fp8e4m3", mu=3, luts=3, keys=2),
    dict(act="fp8e5m2", acc="fp16", mu=2, luts=1, keys=2),
    dict(arch="signflip", act="bf16", luts=4, keys=3),
    dict(act="fp16", acc="fp32", fp_reduce="blockfp", mu=3, luts=7, keys=3),
    dict(act="bf16", fp_reduce="blockfp", fp_width=8, fp_round="rtz", mu=2, luts=1, keys=2),  # no tree add
    dict(act="fp8e4m3", acc="fp16", fp_reduce="blockfp", fp_width=32, mu=1, luts=5, keys=2),
    dict(act="fp16", acc="fp32", fp_reduce="fused", mu=3, luts=7, keys=3),
    dict(act="bf16", fp_reduce="fused", fp_width=9, fp_round="rtz", mu=2, luts=1, keys=2),  # one term
    dict(act="fp16", fp_reduce="fused", fp_width=12, fp_sticky=True, mu=1, luts=6, keys=2),
    dict(arch="mac", act="fp16", luts=5, keys=3),
    dict(arch="mac", act="int8", luts=4, keys=2),
]


@pytest.mark.parametrize("kw", CONFIGS, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_prepared_gemv_equals_stages(kw):
    cfg = CoreConfig(max_n=120, max_m=12, **kw)
    model = ReferenceModel(cfg)
    gen = np.random.default_rng(5)
    for n, m in [(1, 1), (cfg.tile_n + 1, 5), (120, 12)]:
        for trial in range(3):
            a, w = random_gemv(cfg, gen, n, m)
            if trial == 1:
                a = gen.choice(np.array(extreme_activations(cfg), dtype=np.int64), size=n)
            if trial == 2 and cfg.is_fp:  # arbitrary bit patterns: signalling NaNs, payloads, -0
                a = gen.integers(0, 1 << cfg.act_width, size=n)
            a, w = torch.from_numpy(a), torch.from_numpy(w)
            want = staged_gemv(model, a, w)
            prepared = model.prepare(w)
            assert isinstance(prepared, PreparedWeights) and (prepared.n, prepared.m) == (n, m)
            assert torch.equal(model.gemv(a, prepared), want)
            assert torch.equal(model.gemv(a, w), want)


def test_gemv_keys_reads_invalid_indices_as_zero():
    """Keys past E (never made by the encoder) read a zero, negated by the sign bit, as in fetch."""
    cfg = CoreConfig(act="fp16", mu=2, luts=2, keys=1, max_n=8, max_m=8)
    model = ReferenceModel(cfg)
    sign = 1 << (cfg.key_bits - 1)
    keys = torch.tensor([[0, 5, sign | 6, sign | 7, 3, sign, 4, sign | 1],
                         [sign | 7, 7, 6, 1, 0, sign | 4, 7, sign | 7]])
    a = torch.tensor([0x3C00, 0x4000, 0x8000, 0x0001])
    assert torch.equal(model.gemv_keys(a, keys), staged_keys(model, a, keys))


@pytest.mark.parametrize("mu", range(1, 9))
def test_torch_key_encoding_equals_numpy(mu):
    gen = np.random.default_rng(mu)
    for n, m in [(1, 1), (mu + 1, 3), (37, 11), (100, 7)]:
        w = gen.integers(-1, 2, size=(n, m)).astype(np.int8)
        got = encode_weights_torch(torch.from_numpy(w), mu)
        assert got.dtype == torch.int32
        assert np.array_equal(got.numpy(), np_keys.encode_weights(w, mu).astype(np.int64))


def test_torch_operands_and_checks_equal_numpy():
    w = np.array([[1, 0], [-1, 1]])
    for act in ("int8", "fp16", "bf16"):
        cfg = CoreConfig(arch="mac", act=act, luts=2, keys=1, max_n=4, max_m=4)
        assert np.array_equal(weight_operands_torch(cfg, torch.from_numpy(w)).numpy(),
                              np_keys.weight_operands(cfg, w))
    for bad in (np.array([[0, 2]]), np.array([[0.5, 1.0]]), np.zeros(3)):
        with pytest.raises(ValueError) as want:
            np_keys.check_ternary(bad)
        with pytest.raises(ValueError) as got:
            check_ternary_tensor(torch.from_numpy(bad))
        assert str(got.value) == str(want.value)


def test_prepared_checks():
    cfg = CoreConfig(act="int4", mu=2, luts=1, keys=1, max_n=4, max_m=4)
    model = ReferenceModel(cfg)
    prepared = model.prepare(torch.ones(3, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"^activations must have shape \(3,\) to match weights, got \(4,\)"):
        model.gemv(torch.zeros(4, dtype=torch.int64), prepared)
    with pytest.raises(ValueError, match=r"^activations must be in \[-8, 7\] for act=int4$"):
        model.gemv(torch.tensor([0, 8, 0]), prepared)
    with pytest.raises(ValueError, match=r"^GEMV shape N=5, M=1 must be in"):
        model.prepare(torch.ones(5, 1))
    other = ReferenceModel(CoreConfig(act="int4", mu=3, luts=1, keys=1, max_n=4, max_m=4))
    with pytest.raises(ValueError, match="were prepared for core"):
        other.gemv(torch.zeros(3, dtype=torch.int64), prepared)


def _device_roundtrip(device: str):
    """Prepare and run on ``device``; results (moved to the CPU) for a few cores."""
    out = []
    gen = np.random.default_rng(11)
    for kw in (dict(act="fp16", mu=3, luts=7, keys=3), dict(act="int8", mu=2, luts=8, keys=3),
               dict(act="bf16", acc="fp32", mu=1, luts=1, keys=2), dict(act="fp8e4m3", mu=2, luts=3, keys=2),
               dict(arch="mac", act="fp16", luts=5, keys=3)):
        cfg = CoreConfig(max_n=200, max_m=30, **kw)
        model = ReferenceModel(cfg)
        a, w = random_gemv(cfg, gen, 200, 30)
        a, w = torch.from_numpy(a).to(device), torch.from_numpy(w).to(device)
        prepared = model.prepare(w)
        assert prepared.device == torch.device(device)
        y = model.gemv(a, prepared)
        assert y.device == torch.device(device) and y.dtype == torch.int64
        assert torch.equal(model.gemv(a.cpu(), prepared).cpu(), y.cpu())  # activations follow the weights
        out.append((y.cpu(), staged_gemv(model, a.cpu(), w.cpu())))
    return out


def test_device_path_on_explicit_cpu():
    for y, want in _device_roundtrip("cpu"):
        assert torch.equal(y, want)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_equals_cpu_bit_for_bit():
    for (y_cuda, want), (y_cpu, _) in zip(_device_roundtrip("cuda"), _device_roundtrip("cpu"), strict=True):
        assert torch.equal(y_cuda, want)
        assert torch.equal(y_cuda, y_cpu)
