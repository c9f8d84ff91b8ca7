"""LUT builder: the adds of :attr:`CoreConfig.plan`, one adder per plan step."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.config import CoreConfig

from .lane_arith import SharedUnits, delay, lane_arith

__all__ = ["LutBuilder"]


class LutBuilder(wiring.Component):
    """Build the E stored entries of one LUT from ``mu`` activations.

    Entry ``v`` (1..E) is computed by the plan step that names it (one adder per step,
    ``E - mu`` in all), at :meth:`CoreConfig.entry_width` bits, and output at
    :attr:`CoreConfig.lut_width` bits (sign-extended for integers). With pipelined
    floating-point adders, a step of depth ``d`` starts ``(d - 1) * adder_stages`` cycles after
    the activations, which are delayed to meet it (one tapped delay line of ``lut_build_latency``
    registers per activation), and every entry is delayed to leave after
    :attr:`CoreConfig.lut_build_latency` cycles, so all entries of one group leave together.

    Members
    -------
    a : In(ArrayLayout(act lane, mu))
        The activation group, ``a[j]`` weighted by ``3**j`` in the entry index.
    entries : Out(ArrayLayout(LUT lane, E))
        ``entries[v - 1]`` holds entry ``v``, ``cfg.lut_build_latency`` cycles after ``a``.
    """

    def __init__(self, cfg: CoreConfig, units: SharedUnits | None = None):
        self._cfg = cfg
        self._units = units
        arith = lane_arith(cfg)
        super().__init__({
            "a": In(data.ArrayLayout(arith.shape(cfg.lane_width), cfg.mu)),
            "entries": Out(data.ArrayLayout(arith.shape(cfg.lut_width), cfg.plan.entries)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, plan = self._cfg, self._cfg.plan
        arith = lane_arith(cfg, self._units)
        lat = arith.latency
        # One delay line per activation, tapped where a step (or the aligned single entry) needs it.
        taps = []
        for j in range(cfg.mu):
            line = [self.a[j]]
            for i in range(cfg.lut_build_latency):
                reg = Signal.like(self.a[j], name=f"a{j}_d{i + 1}")
                m.d.sync += reg.eq(line[-1])
                line.append(reg)
            taps.append(line)
        built = {}  # entry -> (value, depth)
        for j, v in enumerate(plan.singles):
            built[v] = (self.a[j], 0)
        for step in plan.steps:
            src, src_depth = built[step.src]
            assert src_depth == step.depth - 1
            value = arith.add(m, src, taps[step.act][src_depth * lat], width=cfg.entry_width(step.dst),
                              name=f"entry{step.dst}", subtract=step.subtract)
            built[step.dst] = (value, step.depth)
        for v in range(1, plan.entries + 1):
            value, depth = built[v]
            if depth == 0:
                out = taps[plan.singles.index(v)][cfg.lut_build_latency]
            else:
                out = delay(m, value, cfg.lut_build_latency - depth * lat, f"entry{v}_align")
            m.d.comb += self.entries[v - 1].eq(out)
        return m
