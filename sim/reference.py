"""The PyTorch bit-exact reference model of a LUT core.

It performs the adds of the RTL in the RTL's order: the LUT build walks
:attr:`CoreConfig.plan`, the reduction walks :attr:`CoreConfig.tree`, and accumulation runs
over input tiles in increasing order with the first tile taken as is (see
:mod:`hwgen.schedule`). Independent lanes (tiles, LUTs, columns) are vectorised; the adds
that the hardware chains are chained here one by one. For integer activations every add
is exact (the core's widths cannot overflow, see :attr:`CoreConfig.acc_width`), so the
result also equals ``activations @ weights`` in int64.
"""

from __future__ import annotations

import torch

from hwgen.config import CoreConfig
from hwgen.key_encoding import check_ternary

from .key_encoding import encode_weights

__all__ = ["ReferenceModel"]


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
            entries[step.dst] = src - a if step.subtract else src + a
        return torch.stack(entries, dim=-1)

    def fetch(self, luts: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Signed fetch: ``luts`` ``(..., E + 1)``, ``keys`` ``(..., M)`` -> ``(..., M)``."""
        sign_bit = self.cfg.key_bits - 1
        index = keys & ((1 << sign_bit) - 1)
        value = torch.gather(luts, -1, index)
        return torch.where((keys >> sign_bit) == 1, -value, value)

    def reduce(self, values: torch.Tensor) -> torch.Tensor:
        """Balanced-tree sum over dimension -2 (the L LUTs) in :attr:`CoreConfig.tree` order."""
        level = [values[..., i, :] for i in range(values.shape[-2])]
        for nodes in self.cfg.tree:
            level = [level[n[0]] + level[n[1]] if len(n) == 2 else level[n[0]] for n in nodes]
        return level[0]

    def accumulate(self, partials: torch.Tensor) -> torch.Tensor:
        """Sum over input tiles (dimension 0) in increasing order, the first taken as is."""
        acc = partials[0]
        for t in range(1, partials.shape[0]):
            acc = acc + partials[t]
        return acc

    # --- whole GEMVs ---

    def gemv_keys(self, activations: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """``y`` for N activations and ``ceil(N/mu) x M`` keys (from :func:`sim.key_encoding.encode_weights`)."""
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

    def gemv(self, activations: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """``y = activations @ weights`` as the core computes it (int64, shape ``(M,)``)."""
        w = torch.as_tensor(check_ternary(torch.as_tensor(weights).numpy()))
        a = torch.as_tensor(activations, dtype=torch.int64)
        if a.ndim != 1 or a.shape[0] != w.shape[0]:
            raise ValueError(f"activations must have shape ({w.shape[0]},) to match weights, got {tuple(a.shape)}")
        lo, hi = self.cfg.act_type.min_value, self.cfg.act_type.max_value
        if a.numel() and (a.min() < lo or a.max() > hi):
            raise ValueError(f"activations must be in [{lo}, {hi}] for act={self.cfg.act}")
        if not 1 <= a.shape[0] <= self.cfg.max_n or not 1 <= w.shape[1] <= self.cfg.max_m:
            raise ValueError(
                f"GEMV shape N={a.shape[0]}, M={w.shape[1]} must be in [1, max_n={self.cfg.max_n}] x "
                f"[1, max_m={self.cfg.max_m}]"
            )
        return self.gemv_keys(a, encode_weights(w, self.cfg.mu))
