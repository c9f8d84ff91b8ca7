"""Reduction stage: a balanced adder tree over the L leaves (LUT values or products), with optional
pipeline registers."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.config import CoreConfig

from .lane_arith import SharedUnits, delay, lane_arith

__all__ = ["ReductionTree"]


class ReductionTree(wiring.Component):
    """Sum the ``luts`` leaves of each of the ``keys`` lanes along :attr:`CoreConfig.tree_levels`.

    The leaves are the fetched LUT values or, in a ``mac`` core, the products of the ``luts``
    activation lanes; a node that sums ``t`` leaves is :meth:`CoreConfig.tree_width` ``(t)``
    bits wide (leaves: ``tree_width(1)``).

    Registers sit where :attr:`CoreConfig.pipeline_cuts` says: ``cuts[0]`` on the inputs (after
    the fetch or the multipliers), ``cuts[d]`` after tree level ``d``; pipelined floating-point
    adders add ``adder_stages`` per level (a value passing a level unadded is delayed as much).
    The latency is :attr:`CoreConfig.tree_latency` cycles. A ``tag`` of any shape travels with
    the data, delayed as much. Registers are plain ``sync`` registers: stall the tree by
    wrapping it in ``EnableInserter``.

    Members
    -------
    values : In(ArrayLayout(leaf lane, keys)).array(luts)
        ``values[l][k]``: LUT ``l``'s signed value (``mac``: lane ``l``'s product) for lane ``k``.
    tag : In(tag_shape)
        Side information aligned with ``values``.
    sums : Out(ArrayLayout(tree lane, keys))
        The lane sums, ``cfg.tree_latency`` cycles later.
    tag_out : Out(tag_shape)
        ``tag``, delayed by the same registers.
    """

    def __init__(self, cfg: CoreConfig, tag_shape, units: SharedUnits | None = None):
        self._cfg = cfg
        self._units = units
        arith = lane_arith(cfg)
        super().__init__({
            # one signal per leaf: Amaranth 0.5 netlists cap a signal at 65535 bits, which a single
            # luts x keys x product signal of a 64 x 64 mac core (65536 bits) would exceed
            "values": In(data.ArrayLayout(arith.shape(cfg.tree_width(1)), cfg.keys)).array(cfg.luts),
            "tag": In(tag_shape),
            "sums": Out(data.ArrayLayout(arith.shape(cfg.tree_width(cfg.luts)), cfg.keys)),
            "tag_out": Out(tag_shape),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        cuts = cfg.pipeline_cuts
        arith = lane_arith(cfg, self._units)

        def stage(level, tag, cut, label):
            """Register every lane of every node (and the tag) when ``cut``; else pass through."""
            if not cut:
                return level, tag
            regs = []
            for i, lanes in enumerate(level):
                reg_lanes = [Signal.like(s, name=f"{label}_n{i}_k{k}") for k, s in enumerate(lanes)]
                m.d.sync += [r.eq(s) for r, s in zip(reg_lanes, lanes, strict=True)]
                regs.append(reg_lanes)
            tag_reg = Signal.like(tag, name=f"{label}_tag")
            m.d.sync += tag_reg.eq(tag)
            return regs, tag_reg

        # level[i] holds the lane values of node i of the previous level
        level = [[self.values[lut][k] for k in range(cfg.keys)] for lut in range(cfg.luts)]
        level, tag = stage(level, self.tag, cuts[0], "fetch")
        for d, nodes in enumerate(cfg.tree_levels, start=1):
            new_level = []
            for i, node in enumerate(nodes):
                if not node.adds:
                    new_level.append([delay(m, v, arith.latency, f"pass_d{d}_n{i}_k{k}")
                                      for k, v in enumerate(level[node.inputs[0]])])
                    continue
                left, right = (level[j] for j in node.inputs)
                new_level.append([
                    arith.add(m, left[k], right[k], width=node.width, name=f"sum_d{d}_n{i}_k{k}")
                    for k in range(cfg.keys)
                ])
            tag = delay(m, tag, arith.latency, f"tag_d{d}")
            level, tag = stage(new_level, tag, cuts[d], f"tree{d}")
        m.d.comb += [self.sums[k].eq(level[0][k]) for k in range(cfg.keys)]
        m.d.comb += self.tag_out.eq(tag)
        return m
