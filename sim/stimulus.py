"""Stimulus shared by the benches: activations that exercise the datapath, per activation type.

Integer cores get uniform values over the whole range and the two extremes (which bound the
accumulator). Floating-point cores get bit patterns that exercise rounding: subnormal sums,
overflow to infinity, cancellation through +-1 weights, and arbitrary patterns (NaN, inf, -0).
"""

from __future__ import annotations

import numpy as np
import torch

from hwgen.description.config import CoreConfig

from . import fp_reference

__all__ = ["act_range", "random_fp_activations", "random_gemv", "extreme_activations"]


def act_range(cfg: CoreConfig) -> tuple[int, int]:
    """Inclusive range of the integers on an activation lane: values, or FP bit patterns."""
    if cfg.is_fp:
        return 0, (1 << cfg.act_width) - 1
    return cfg.act_type.min_value, cfg.act_type.max_value


def random_fp_activations(cfg: CoreConfig, gen: np.random.Generator, n: int) -> np.ndarray:
    """FP bit patterns that exercise rounding: one magnitude per job, drawn from tiny (subnormal
    results), unit and huge (overflow to inf), Gaussian values (cancellation through +-1 weights),
    and 2% arbitrary bit patterns (infinities, NaNs, subnormals, signed zeros)."""
    fmt = cfg.act_type.fmt
    min_normal = 2.0 ** (1 - fmt.bias)
    max_finite = (2 - 2.0 ** -fmt.man_bits) * 2.0 ** fmt.bias
    scale = [min_normal * 2.0 ** -(fmt.man_bits // 2), 1.0, max_finite / 4][int(gen.integers(3))]
    values = torch.from_numpy(gen.standard_normal(n) * scale)
    bits = fp_reference.to_bits(values, fmt).numpy()
    wild = gen.random(n) < 0.02
    bits[wild] = gen.integers(0, 1 << fmt.width, size=int(wild.sum()))
    return bits.astype(np.int64)


def random_gemv(cfg: CoreConfig, gen: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Activations (uniform over the integer range, or :func:`random_fp_activations`) and uniform
    ternary weights."""
    if cfg.is_fp:
        a = random_fp_activations(cfg, gen, n)
    else:
        lo, hi = act_range(cfg)
        a = gen.integers(lo, hi, size=n, endpoint=True, dtype=np.int64)
    w = gen.integers(-1, 1, size=(n, m), endpoint=True).astype(np.int8)
    return a, w


def extreme_activations(cfg: CoreConfig) -> list[int]:
    """Integer cores: the minimum and maximum value (the accumulator bound). Floating-point
    cores: the largest finite value (overflow to inf), the smallest subnormal (subnormal sums),
    the smallest normal of both signs, -0, and a NaN with a payload of its own (every output
    NaN must be the canonical one)."""
    if not cfg.is_fp:
        return [cfg.act_type.min_value, cfg.act_type.max_value]
    fmt = cfg.act_type.fmt
    sign = 1 << (fmt.width - 1)
    min_normal = 1 << fmt.man_bits
    return [fmt.max_finite, fmt.min_subnormal, min_normal | sign, sign, fmt.exp_mask | 1]
