"""LUT builder: the adds of :attr:`CoreConfig.plan` as combinational integer logic."""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..config import CoreConfig

__all__ = ["LutBuilder"]


class LutBuilder(wiring.Component):
    """Build the E stored entries of one LUT from ``mu`` activations (purely combinational).

    Entry ``v`` (1..E) is computed at its own width :meth:`CoreConfig.entry_width` by the
    plan step that names it, then sign-extended to :attr:`CoreConfig.lut_width`; one adder
    per plan step, ``E - mu`` in all.

    Members
    -------
    a : In(ArrayLayout(signed(act_width), mu))
        The activation group, ``a[j]`` weighted by ``3**j`` in the entry index.
    entries : Out(ArrayLayout(signed(lut_width), E))
        ``entries[v - 1]`` holds entry ``v``.
    """

    def __init__(self, cfg: CoreConfig):
        self._cfg = cfg
        super().__init__({
            "a": In(data.ArrayLayout(signed(cfg.act_width), cfg.mu)),
            "entries": Out(data.ArrayLayout(signed(cfg.lut_width), cfg.plan.entries)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, plan = self._cfg, self._cfg.plan
        built = {}
        for j, v in enumerate(plan.singles):
            built[v] = self.a[j]
        for step in plan.steps:
            entry = Signal(signed(cfg.entry_width(step.dst)), name=f"entry{step.dst}")
            src, act = built[step.src], self.a[step.act]
            m.d.comb += entry.eq(src - act if step.subtract else src + act)
            built[step.dst] = entry
        for v in range(1, plan.entries + 1):
            m.d.comb += self.entries[v - 1].eq(built[v])
        return m
