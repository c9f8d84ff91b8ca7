"""Lane arithmetic: the add / negate / delay primitives the datapath is built from.

One datapath (LUT builder, fetch, reduction tree, accumulator) serves integer and
floating-point cores; it asks a lane-arithmetic object for each operation:

* :class:`IntArith` -- exact two's-complement adds, combinational (latency 0); widths come
  from the config.
* :class:`FPArith` -- one :class:`hwgen.arith.FPAdd` per add (latency ``adder_stages``),
  negation by flipping the sign bit.

Everything here uses plain ``sync`` registers; the core stalls them with ``EnableInserter``.
"""

from __future__ import annotations

from amaranth import Module, Signal, Value, signed, unsigned

from ..arith import FPAdd, FPConvert
from ..config import CoreConfig

__all__ = ["IntArith", "FPArith", "lane_arith", "delay"]


def delay(m: Module, value: Value, cycles: int, name: str) -> Value:
    """``value`` delayed by ``cycles`` ``sync`` registers (``value`` itself when 0)."""
    for i in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{i + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


class IntArith:
    """Exact signed integer lanes; every add is combinational."""

    latency = 0

    def __init__(self, cfg: CoreConfig):
        self._cfg = cfg

    def shape(self, width: int):
        return signed(width)

    def add(self, m: Module, a: Value, b: Value, *, width: int, name: str, subtract: bool = False) -> Value:
        """``a + b`` (or ``a - b``) as a ``width``-bit signed signal."""
        out = Signal(signed(width), name=name)
        m.d.comb += out.eq(a - b if subtract else a + b)
        return out

    def neg(self, a: Value) -> Value:
        return -a

    def to_acc(self, m: Module, a: Value, name: str) -> Value:
        return a


class FPArith:
    """IEEE-style floating-point lanes of the config's ``act`` format (``acc`` for accumulation)."""

    def __init__(self, cfg: CoreConfig):
        self._cfg = cfg
        self._fmt = cfg.act_type.fmt
        self._acc_fmt = cfg.acc_type.fmt
        self.latency = cfg.adder_stages

    def shape(self, width: int):
        return unsigned(width)

    def add(self, m: Module, a: Value, b: Value, *, width: int, name: str, subtract: bool = False) -> Value:
        """``a + b`` (or ``a - b``) by one pipelined FP adder of the ``width``-bit format."""
        fmt = self._fmt if width == self._fmt.width else self._acc_fmt
        adder = FPAdd(fmt, self._cfg.adder_stages)
        m.submodules[name] = adder
        m.d.comb += [adder.a.eq(a), adder.b.eq(self.neg(b) if subtract else b)]
        return adder.o

    def neg(self, a: Value) -> Value:
        """Flip the sign bit (exact; NaN payloads are canonicalised by the next add)."""
        return a ^ (1 << (len(a) - 1))

    def to_acc(self, m: Module, a: Value, name: str) -> Value:
        """Exact widening to the accumulator format (combinational)."""
        if self._acc_fmt == self._fmt:
            return a
        conv = FPConvert(self._fmt, self._acc_fmt)
        m.submodules[name] = conv
        m.d.comb += conv.i.eq(a)
        return conv.o


def lane_arith(cfg: CoreConfig) -> IntArith | FPArith:
    """The lane arithmetic of ``cfg``'s activation type."""
    return FPArith(cfg) if cfg.is_fp else IntArith(cfg)
