"""Multiply stage of a ``mac`` core: ``keys`` products of one activation lane."""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.config import CoreConfig

from .lane_arith import SharedUnits, lane_arith

__all__ = ["Multipliers"]


class Multipliers(wiring.Component):
    """The ``keys`` multipliers of one activation lane (the ``mac`` counterpart of :class:`Fetcher`).

    Generic multipliers: the weights are full-width operands in the ``act`` format, so nothing
    in the hardware knows (or can exploit) that the core is fed ternary weights. Integer
    products are the full signed ``a * w`` of :attr:`CoreConfig.product_width` = 2 x act width
    bits (combinational); floating-point products are :class:`hwgen.gateware.arith.FPMul` of the ``act``
    format (IEEE semantics: ``inf * 0`` is NaN, ``-a * +0`` is ``-0``), with
    :attr:`CoreConfig.mul_latency` pipeline registers.

    Members
    -------
    a : In(act lane)
        The activation (signed integer or FP bit pattern).
    weights : In(ArrayLayout(act lane, keys))
        One weight operand per output lane (see :func:`hwgen.description.key_encoding.weight_operands`).
    products : Out(ArrayLayout(product lane, keys))
        ``a * weights[k]``, ``cfg.mul_latency`` cycles after ``a`` and ``weights``.
    """

    def __init__(self, cfg: CoreConfig, units: SharedUnits | None = None):
        assert cfg.is_mac, "Multipliers belong to mac cores"
        self._cfg = cfg
        self._units = units
        arith = lane_arith(cfg)
        super().__init__({
            "a": In(arith.shape(cfg.act_width)),
            "weights": In(data.ArrayLayout(arith.shape(cfg.act_width), cfg.keys)),
            "products": Out(data.ArrayLayout(arith.shape(cfg.product_width), cfg.keys)),
        })

    def elaborate(self, platform):
        m = Module()
        arith = lane_arith(self._cfg, self._units)
        for k in range(self._cfg.keys):
            product = arith.mul(m, self.a, self.weights[k], name=f"product{k}")
            m.d.comb += self.products[k].eq(product)
        return m
