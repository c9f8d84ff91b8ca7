"""The PyTorch bit-exact reference model of a core (every :attr:`CoreConfig.arch`).

It performs the adds of the RTL in the RTL's order: the LUT build walks
:attr:`CoreConfig.plan` (``entry[src] +- a[act]``), the fetch negates by the key's sign, the
reduction walks :attr:`CoreConfig.tree` (``left + right``), and accumulation runs over input
tiles in increasing order (``acc + tile``), the first tile taken as is (see
:mod:`hwgen.description.schedule`). Independent lanes (tiles, LUTs, columns) are vectorised; the adds
that the hardware chains are chained here one by one. ``signflip`` cores are LUT cores with
mu = 1. ``mac`` cores replace build and fetch by the products ``a * w`` of each activation
with its weight operand (:func:`hwgen.description.key_encoding.weight_operands`); the tree then sums the
``tile_n`` products of each output.

Integer activations: tree nodes and accumulators wrap at the config's widths
(:meth:`CoreConfig.tree_width`, :attr:`CoreConfig.acc_width`), as the RTL's registers would,
but the widths are chosen so that nothing ever wraps: the result equals
``activations @ weights`` in int64 (the benches check this).
Floating-point activations: values are bit patterns (int64 tensors); every add is one
correctly rounded :func:`sim.fp_reference.fp_add` in the ``act`` format (LUT, tree) or the
``acc`` format (after the exact :func:`sim.fp_reference.fp_convert` of each tile sum); every
``mac`` product is one :func:`sim.fp_reference.fp_mul` in the ``act`` format, with its IEEE
special cases: ``inf * +0.0`` and ``NaN * w`` are NaN, ``-a * +0.0`` is ``-0``. A weight of 0
therefore does not always contribute nothing, unlike in a LUT core.
"""

from __future__ import annotations

import torch

from hwgen.description.config import CoreConfig
from hwgen.description.key_encoding import check_ternary

from . import fp_reference
from .key_encoding import encode_weights, weight_operands

__all__ = ["ReferenceModel"]


class _IntOps:
    """int64 lanes; ``wrap`` narrows to a two's-complement width as an RTL signal does."""

    def __init__(self, cfg: CoreConfig):
        self.acc_width = cfg.acc_width

    @staticmethod
    def wrap(a, width):
        half = 1 << (width - 1)
        return (a + half) % (2 * half) - half

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def neg(self, a):
        return -a

    def to_acc(self, a):
        return self.wrap(a, self.acc_width)

    def acc_add(self, a, b):
        return self.wrap(a + b, self.acc_width)


class _FPOps:
    """Bit-pattern lanes; each op rounds like one FP unit of the core."""

    def __init__(self, cfg: CoreConfig):
        self.fmt, self.acc_fmt = cfg.act_type.fmt, cfg.acc_type.fmt
        self.sign = 1 << (self.fmt.width - 1)

    @staticmethod
    def wrap(a, width):
        return a

    def add(self, a, b):
        return fp_reference.fp_add(a, b, self.fmt)

    def mul(self, a, b):
        return fp_reference.fp_mul(a, b, self.fmt)

    def sub(self, a, b):
        return fp_reference.fp_add(a, b ^ self.sign, self.fmt)

    def neg(self, a):
        return a ^ self.sign

    def to_acc(self, a):
        return a if self.acc_fmt == self.fmt else fp_reference.fp_convert(a, self.fmt, self.acc_fmt)

    def acc_add(self, a, b):
        return fp_reference.fp_add(a, b, self.acc_fmt)


class ReferenceModel:
    """Bit-exact model of the core described by ``cfg``.

    Example
    -------
    >>> cfg = CoreConfig(act="int8", mu=2, luts=2, keys=3, max_n=16, max_m=16)
    >>> y = ReferenceModel(cfg).gemv(torch.tensor([1, 2, 3]), torch.tensor([[1], [0], [-1]]))
    >>> y.tolist()
    [-2]
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        self.ops = _FPOps(cfg) if cfg.is_fp else _IntOps(cfg)

    # --- the three datapath stages, exposed for unit tests of the RTL blocks ---

    def build_luts(self, groups: torch.Tensor) -> torch.Tensor:
        """LUT entries for activation groups ``(..., mu)`` -> ``(..., E + 1)``; entry 0 is zero."""
        plan = self.cfg.plan
        entries: list[torch.Tensor | None] = [None] * (plan.entries + 1)
        entries[0] = torch.zeros_like(groups[..., 0])
        for j, v in enumerate(plan.singles):
            entries[v] = groups[..., j]
        for step in plan.steps:
            a = groups[..., step.act]
            src = entries[step.src]
            entries[step.dst] = self.ops.sub(src, a) if step.subtract else self.ops.add(src, a)
        return torch.stack(entries, dim=-1)

    def fetch(self, luts: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Signed fetch: ``luts`` ``(..., E + 1)``, ``keys`` ``(..., M)`` -> ``(..., M)``.

        Indices past E read zero, as in the RTL."""
        sign_bit = self.cfg.key_bits - 1
        index = keys & ((1 << sign_bit) - 1)
        valid = index <= self.cfg.plan.entries
        value = torch.gather(luts, -1, torch.where(valid, index, 0))
        value = torch.where(valid, value, 0)
        return torch.where((keys >> sign_bit) == 1, self.ops.neg(value), value)

    def multiply(self, activations: torch.Tensor, operands: torch.Tensor) -> torch.Tensor:
        """``mac`` products ``activations * operands`` (broadcasting), at :attr:`CoreConfig.product_width`."""
        return self.ops.wrap(self.ops.mul(activations, operands), self.cfg.product_width)

    def reduce(self, values: torch.Tensor) -> torch.Tensor:
        """Balanced-tree sum over dimension -2 (the L leaves: LUT values or ``mac`` products) along
        :attr:`CoreConfig.tree_levels`; each node at its width."""
        level = [values[..., i, :] for i in range(values.shape[-2])]
        for nodes in self.cfg.tree_levels:
            level = [self.ops.wrap(self.ops.add(level[node.inputs[0]], level[node.inputs[1]]), node.width)
                     if node.adds else level[node.inputs[0]] for node in nodes]
        return level[0]

    def accumulate(self, partials: torch.Tensor) -> torch.Tensor:
        """Sum over input tiles (dimension 0) in increasing order in the accumulator format,
        the first taken as is."""
        partials = self.ops.to_acc(partials)
        acc = partials[0]
        for t in range(1, partials.shape[0]):
            acc = self.ops.acc_add(acc, partials[t])
        return acc

    # --- whole GEMVs ---

    def gemv_keys(self, activations: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """``y`` for N activations and ``ceil(N/mu) x M`` keys (from
        :func:`sim.key_encoding.encode_weights`)."""
        cfg = self.cfg
        a = torch.as_tensor(activations, dtype=torch.int64)
        n = a.shape[0]
        groups, m = keys.shape
        tile_groups = -(-groups // cfg.luts) * cfg.luts
        t_count = tile_groups // cfg.luts
        padded = torch.zeros(tile_groups * cfg.mu, dtype=torch.int64)
        padded[:n] = a
        k = torch.zeros((tile_groups, m), dtype=torch.int64)
        k[:groups] = torch.as_tensor(keys, dtype=torch.int64)
        luts = self.build_luts(padded.reshape(t_count, cfg.luts, cfg.mu))  # (T, L, E+1)
        fetched = self.fetch(luts, k.reshape(t_count, cfg.luts, m))  # (T, L, M)
        return self.accumulate(self.reduce(fetched))

    def gemv_weights(self, activations: torch.Tensor, operands: torch.Tensor) -> torch.Tensor:
        """``mac`` cores: ``y`` for N activations and N x M weight operands (from
        :func:`sim.key_encoding.weight_operands`); rows past N are +0 times +0."""
        cfg = self.cfg
        a = torch.as_tensor(activations, dtype=torch.int64)
        n, m = operands.shape
        t_count = -(-n // cfg.tile_n)
        padded = torch.zeros(t_count * cfg.tile_n, dtype=torch.int64)
        padded[: a.shape[0]] = a
        w = torch.zeros((t_count * cfg.tile_n, m), dtype=torch.int64)
        w[:n] = torch.as_tensor(operands, dtype=torch.int64)
        products = self.multiply(padded.reshape(t_count, cfg.tile_n, 1), w.reshape(t_count, cfg.tile_n, m))
        return self.accumulate(self.reduce(products))

    def encode_activations(self, values: torch.Tensor) -> torch.Tensor:
        """Floating-point cores: round float values to the ``act`` format (RNE); bit patterns (int64)."""
        if not self.cfg.is_fp:
            raise ValueError(f"encode_activations is for floating-point cores, got act={self.cfg.act}")
        return fp_reference.to_bits(torch.as_tensor(values), self.cfg.act_type.fmt)

    def decode_outputs(self, bits: torch.Tensor) -> torch.Tensor:
        """Floating-point cores: output bit patterns as float64 values (exact)."""
        return fp_reference.from_bits(bits, self.cfg.acc_type.fmt, dtype=torch.float64)

    def gemv(self, activations: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``y = activations @ weights`` as the core computes it, shape ``(M,)``, int64.

        Integer cores: ``activations`` are integers in the ``act`` range and ``y`` the exact sums.
        Floating-point cores: ``activations`` are bit patterns of the ``act`` format (see
        :meth:`encode_activations`) and ``y`` the bit patterns of the ``acc`` format.
        """
        w = torch.as_tensor(check_ternary(torch.as_tensor(weights).numpy()))
        a = torch.as_tensor(activations)
        if a.is_floating_point():
            raise ValueError("activations must be integers (bit patterns for floating-point cores; "
                             "see encode_activations)")
        a = a.to(torch.int64)
        if a.ndim != 1 or a.shape[0] != w.shape[0]:
            raise ValueError(f"activations must have shape ({w.shape[0]},) to match weights, "
                             f"got {tuple(a.shape)}")
        if self.cfg.is_fp:
            lo, hi = 0, (1 << self.cfg.act_width) - 1
        else:
            lo, hi = self.cfg.act_type.min_value, self.cfg.act_type.max_value
        if a.numel() and (a.min() < lo or a.max() > hi):
            kind = "bit patterns " if self.cfg.is_fp else ""
            raise ValueError(f"activations must be {kind}in [{lo}, {hi}] for act={self.cfg.act}")
        if not 1 <= a.shape[0] <= self.cfg.max_n or not 1 <= w.shape[1] <= self.cfg.max_m:
            raise ValueError(
                f"GEMV shape N={a.shape[0]}, M={w.shape[1]} must be in [1, max_n={self.cfg.max_n}] x "
                f"[1, max_m={self.cfg.max_m}]"
            )
        if self.cfg.is_mac:
            return self.gemv_weights(a, weight_operands(self.cfg, w))
        return self.gemv_keys(a, encode_weights(w, self.cfg.mu))
