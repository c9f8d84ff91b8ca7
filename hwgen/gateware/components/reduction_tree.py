"""Reduction stage: a balanced adder tree over the L leaves (LUT values or products), with optional
pipeline registers."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.config import CoreConfig

from ..arith import FPFusedAdd
from .lane_arith import EnabledUnit, SharedUnits, delay, flat_signal, lane_arith

__all__ = ["ReductionTree", "TreeLane"]


def _leaves(cfg: CoreConfig, count: int) -> data.ArrayLayout:
    """``count`` tree leaves (fetched LUT values or ``mac`` products) as one word."""
    return data.ArrayLayout(lane_arith(cfg).shape(cfg.tree_width(1)), count)


class TreeLane(wiring.Component):
    """The tree of one output lane: the ``luts`` leaves of lane ``k`` summed along
    :attr:`CoreConfig.tree_levels`, with the registers of :attr:`CoreConfig.pipeline_cuts`
    (see :class:`ReductionTree`); latency :attr:`CoreConfig.tree_latency` cycles. A ``fused``
    core sums them with one :class:`hwgen.gateware.arith.FPFusedAdd` into the ``acc`` format
    instead (its ``adder_stages`` registers are the latency).

    Members
    -------
    values : In(ArrayLayout(leaf lane, luts))
        ``values[l]``: the leaf of LUT ``l`` (``mac``: of activation lane ``l``).
    sum : Out(tree lane)
        Their sum, ``cfg.tree_latency`` cycles later.
    """

    def __init__(self, cfg: CoreConfig, units: SharedUnits | None = None):
        self._cfg = cfg
        self._units = units
        arith = lane_arith(cfg)
        super().__init__({
            "values": In(_leaves(cfg, cfg.luts)),
            "sum": Out(arith.shape(cfg.tile_sum_width)),
        })

    def _fused(self, m: Module) -> None:
        cfg = self._cfg
        act, acc = cfg.act_type.fmt, cfg.acc_type.fmt

        def make_unit():
            return FPFusedAdd(act, cfg.luts, acc, guard=cfg.fused_guard, sticky=cfg.fp_sticky,
                              rounding=cfg.fp_round, stages=cfg.adder_stages)

        if self._units is not None:
            sticky = "s" if cfg.fp_sticky else ""
            kind = (f"fp_fused{cfg.luts}_{act.name}_{acc.name}_g{cfg.fused_guard}{sticky}_{cfg.fp_round}"
                    f"_s{cfg.adder_stages}")
            total = self._units.fused(m, make_unit, kind, cfg.adder_stages, acc.width, self.values.as_value(),
                                      "fused")
        else:
            m.submodules.fused = unit = make_unit()
            m.d.comb += unit.a.eq(self.values)
            total = unit.o
        m.d.comb += self.sum.eq(total)

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        if cfg.is_fused:
            self._fused(m)
            return m
        cuts = cfg.pipeline_cuts
        arith = lane_arith(cfg, self._units)

        def stage(level, cut, label):
            """Register every node when ``cut``; else pass through."""
            if not cut:
                return level
            regs = [Signal.like(v, name=f"{label}_n{i}") for i, v in enumerate(level)]
            m.d.sync += [r.eq(v) for r, v in zip(regs, level, strict=True)]
            return regs

        # level[i] holds the value of node i of the previous level
        level = stage([self.values[lut] for lut in range(cfg.luts)], cuts[0], "fetch")
        for d, nodes in enumerate(cfg.tree_levels, start=1):
            new_level = []
            for i, node in enumerate(nodes):
                if node.adds:
                    left, right = (level[j] for j in node.inputs)
                    new_level.append(arith.add(m, left, right, width=node.width, name=f"sum_d{d}_n{i}"))
                else:
                    new_level.append(delay(m, level[node.inputs[0]], arith.latency, f"pass_d{d}_n{i}"))
            level = stage(new_level, cuts[d], f"tree{d}")
        m.d.comb += self.sum.eq(level[0])
        return m


class ReductionTree(wiring.Component):
    """Sum the ``luts`` leaves of each of the ``keys`` lanes along :attr:`CoreConfig.tree_levels`:
    one :class:`TreeLane` per output lane.

    The leaves are the fetched LUT values or, in a ``mac`` core, the products of the ``luts``
    activation lanes; a node that sums ``t`` leaves is :meth:`CoreConfig.tree_width` ``(t)``
    bits wide (leaves: ``tree_width(1)``).

    Registers sit where :attr:`CoreConfig.pipeline_cuts` says: ``cuts[0]`` on the inputs (after
    the fetch or the multipliers), ``cuts[d]`` after tree level ``d``; pipelined floating-point
    adders add ``adder_stages`` per level (a value passing a level unadded is delayed as much).
    The latency is :attr:`CoreConfig.tree_latency` cycles. A ``tag`` of any shape travels with
    the data, delayed as much. Registers are plain ``sync`` registers: stall the tree by
    wrapping it in ``EnableInserter``. With ``units`` (Verilog), the lanes are instances of one
    shared ``<core>__tree_lane`` module, stalled by ``units.en``.

    Members
    -------
    values : In(ArrayLayout(leaf lane, keys).size).array(luts)
        ``values[l]``, an ``ArrayLayout(leaf lane, keys)`` word: ``[k]`` is LUT ``l``'s signed value
        (``mac``: lane ``l``'s product) for lane ``k``.
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
            # (plain ports, viewed in elaborate: see flat_signal)
            "values": In(_leaves(cfg, cfg.keys).size).array(cfg.luts),
            "tag": In(tag_shape),
            "sums": Out(data.ArrayLayout(arith.shape(cfg.tile_sum_width), cfg.keys)),
            "tag_out": Out(tag_shape),
        })

    def _shared_lane(self) -> EnabledUnit:
        inner = self._units.inner()
        return EnabledUnit(TreeLane(self._cfg, inner), registered=self._cfg.tree_latency > 0,
                           inner_en=inner.en)

    def elaborate(self, platform):
        m = Module()
        cfg, units = self._cfg, self._units
        values = [_leaves(cfg, cfg.keys)(v) for v in self.values]
        for k in range(cfg.keys):
            leaves = flat_signal(_leaves(cfg, cfg.luts), f"lane{k}_values")
            m.d.comb += [leaves[lut].eq(values[lut][k]) for lut in range(cfg.luts)]
            if units is None:
                m.submodules[f"lane{k}"] = lane = TreeLane(cfg)
                m.d.comb += [lane.values.eq(leaves), self.sums[k].eq(lane.sum)]
            else:
                units.instance(m, "tree_lane", self._shared_lane, f"lane{k}", registered=cfg.tree_latency > 0,
                               i_values=leaves, o_sum=self.sums[k])
        m.d.comb += self.tag_out.eq(delay(m, self.tag, cfg.tree_latency, "tag"))
        return m
