"""Fetch stage: ``keys`` signed reads of one LUT."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.config import CoreConfig

from .lane_arith import lane_arith

__all__ = ["Fetcher", "fetch_layouts"]


def fetch_layouts(cfg: CoreConfig) -> tuple[data.ArrayLayout, data.ArrayLayout]:
    """The LUT (``entries``: E lanes) and the fetched values (``values``: ``keys`` lanes) of one
    LUT, at :attr:`CoreConfig.lut_width` bits."""
    lane = lane_arith(cfg).shape(cfg.lut_width)
    return data.ArrayLayout(lane, cfg.plan.entries), data.ArrayLayout(lane, cfg.keys)


class Fetcher(wiring.Component):
    """The ``keys`` fetchers of one LUT (combinational).

    Each key (see :mod:`hwgen.description.key_encoding`) selects entry ``index`` (0 is the constant zero,
    all-zero bits, i.e. +0.0 for floating point; indices past E also read zero) and negates it
    when its sign bit is set. Integer negation cannot overflow: entries lie in the symmetric
    range +-mu * 2**(act_width-1). Floating-point negation flips the sign bit.

    Members
    -------
    entries : In(ArrayLayout(signed(lut_width), E))
        The LUT, ``entries[v - 1]`` = entry ``v``.
    keys : In(ArrayLayout(unsigned(key_bits), keys))
        One key per output lane.
    values : Out(ArrayLayout(signed(lut_width), keys))
        The signed LUT values.
    """

    def __init__(self, cfg: CoreConfig):
        self._cfg = cfg
        entries, values = fetch_layouts(cfg)
        super().__init__({
            "entries": In(entries),
            "keys": In(data.ArrayLayout(unsigned(cfg.key_bits), cfg.keys)),
            "values": Out(values),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        arith = lane_arith(cfg)
        index_bits = cfg.key_bits - 1
        for k in range(cfg.keys):
            key = self.keys[k]
            value = Signal(arith.shape(cfg.lut_width), name=f"value{k}")
            with m.Switch(key[:index_bits]):
                for v in range(1, cfg.plan.entries + 1):
                    with m.Case(v):
                        m.d.comb += value.eq(self.entries[v - 1])
            m.d.comb += self.values[k].eq(Mux(key[index_bits], arith.neg(value), value))
        return m
