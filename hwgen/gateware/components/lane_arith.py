"""Lane arithmetic: the add / multiply / negate / delay primitives the datapath is built from.

One datapath (LUT builder and fetch, or multipliers; reduction tree, accumulator) serves
integer and floating-point cores; it asks a lane-arithmetic object for each operation:

* :class:`IntArith` -- exact two's-complement adds and full-width products, combinational
  (latency 0); widths come from the config.
* :class:`FPArith` -- one :class:`hwgen.gateware.arith.FPAdd` per add (latency ``adder_stages``), one
  :class:`hwgen.gateware.arith.FPMul` per product (latency :attr:`CoreConfig.mul_latency`), negation
  by flipping the sign bit.

Everything here uses plain ``sync`` registers; the core stalls them with ``EnableInserter``.

For Verilog, a core can instead share one module per repeated structure (:class:`SharedUnits`):
every floating-point add becomes an ``Instance`` of, e.g., ``<core>__fp_add_fp16_s2``, whose
registers take the stall enable ``en`` as a port, and the fetch stage of every LUT an instance
of ``<core>__fetch``; each module is written once. A 64 x 64 fp16 core has about 1,600 adders
and 22 identical fetch stages of 64 lanes: sharing keeps its Verilog, its emission time and its
simulator build small. The Amaranth simulator cannot run instances, so it uses the inline form;
both forms elaborate the same components.
"""

from __future__ import annotations

from amaranth import (
    ClockSignal,
    EnableInserter,
    Instance,
    Module,
    Mux,
    ResetSignal,
    Signal,
    Value,
    signed,
    unsigned,
)
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

from hwgen.description.config import CoreConfig

from ..arith import FPAdd, FPConvert, FPFormat, FPFromInt, FPMul

__all__ = ["IntArith", "FPArith", "SharedUnits", "EnabledUnit", "lane_arith", "acc_arith", "delay",
           "flat_signal"]


def flat_signal(layout: data.Layout, name: str) -> data.View:
    """A signal of ``layout`` as a view over one plain signal.

    Amaranth writes a debug wire for every field of a signal whose shape is a layout: thousands
    for the keys words of a 64 x 64 core, which cost emission time and Verilog size. The view
    reads and writes the same bits without them."""
    return data.View(layout, Signal(layout.size, name=name))


def delay(m: Module, value: Value, cycles: int, name: str) -> Value:
    """``value`` delayed by ``cycles`` ``sync`` registers (``value`` itself when 0); a view of a
    layout stays a view (over plain registers, see :func:`flat_signal`)."""
    for i in range(cycles):
        if isinstance(value, data.View):
            reg = flat_signal(value.shape(), f"{name}_d{i + 1}")
        else:
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

    def mul(self, m: Module, a: Value, b: Value, *, name: str) -> Value:
        """``a * b``, the full signed product (:attr:`CoreConfig.product_width` bits)."""
        out = Signal(signed(self._cfg.product_width), name=name)
        m.d.comb += out.eq(a * b)
        return out

    def neg(self, a: Value) -> Value:
        return -a

    def to_acc(self, m: Module, a: Value, name: str) -> Value:
        """``a`` at :attr:`CoreConfig.acc_width` bits. Only a ``mac`` tree (sized for generic
        weights) can be wider; narrowing it is exact for ternary weights (see ``acc_width``)."""
        if len(a) <= self._cfg.acc_width:
            return a
        out = Signal(signed(self._cfg.acc_width), name=name)
        m.d.comb += out.eq(a)
        return out


class EnabledUnit(wiring.Component):
    """A component as a stand-alone module with a stall enable: the component's own members
    (``a``, ``b``, ``o`` of an adder or multiplier, ``i``, ``o`` of a converter, ...) and ``en``
    when it has registers, which ``en`` then stalls.

    Parameters
    ----------
    unit : wiring.Component
        The wrapped component; an FP unit's registers are known from its ``latency``.
    registered : bool, optional
        Whether ``unit`` has registers (default: ``unit.latency > 0``).
    inner_en : Signal, optional
        A signal that ``en`` drives: the ``en`` of the :class:`SharedUnits` instances inside ``unit``.
    """

    def __init__(self, unit: wiring.Component, *, registered: bool | None = None,
                 inner_en: Signal | None = None):
        self._unit = unit
        self._registered = unit.latency > 0 if registered is None else registered
        self._inner_en = inner_en
        members = dict(unit.signature.members.items())
        if self._registered:
            members["en"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        unit = self._unit
        m.submodules.unit = EnableInserter(self.en)(unit) if self._registered else unit
        for name, member in unit.signature.members.items():
            if member.flow == wiring.Out:
                m.d.comb += getattr(self, name).eq(getattr(unit, name))
            else:
                m.d.comb += getattr(unit, name).eq(getattr(self, name))
        if self._inner_en is not None:
            m.d.comb += self._inner_en.eq(self.en if self._registered else 0)
        return m


class SharedUnits:
    """Repeated structures as instances of one module per kind: floating-point units (stalled by
    :attr:`en`) and the combinational fetch stage of a LUT.

    Parameters
    ----------
    prefix : str
        Module-name prefix (the core's name), so that several cores can share one Verilog file.

    Attributes
    ----------
    en : Signal
        Stall enable of every unit register; the core drives it.
    modules : dict[str, wiring.Component]
        The module of each kind used so far, by module name (filled during elaboration).
    """

    def __init__(self, prefix: str, modules: dict[str, wiring.Component] | None = None):
        self.prefix = prefix
        self.en = Signal(name="unit_en")
        self.modules: dict[str, wiring.Component] = {} if modules is None else modules

    def inner(self) -> SharedUnits:
        """The same module table with a fresh :attr:`en`: for the units inside a shared module,
        whose own ``en`` port drives it (see :class:`EnabledUnit`)."""
        return SharedUnits(self.prefix, self.modules)

    def instance(self, m: Module, kind: str, make_module, name: str, *, registered: bool = False,
                 **ports: Value) -> None:
        """Instantiate the module ``<prefix>__<kind>`` (made by ``make_module()`` on first use)
        as ``name``; ``ports`` are Amaranth ``Instance`` port arguments (``i_a=...``, ``o_o=...``).
        A ``registered`` module also gets the clock, the reset and the stall enable :attr:`en`."""
        module = f"{self.prefix}__{kind}"
        if module not in self.modules:
            self.modules[module] = make_module()
        if registered:
            ports.update(i_clk=ClockSignal(), i_rst=ResetSignal(), i_en=self.en)
        m.submodules[name] = Instance(module, **ports)

    def _instance(self, m: Module, kind: str, make_unit, latency: int, out_width: int, name: str,
                  **inputs: Value) -> Value:
        out = Signal(out_width, name=name)
        ports = {f"i_{port}": value for port, value in inputs.items()}
        self.instance(m, kind, lambda: EnabledUnit(make_unit()), name, registered=latency > 0,
                      o_o=out, **ports)
        return out

    def add(self, m: Module, fmt: FPFormat, stages: int, a: Value, b: Value, name: str) -> Value:
        """``a + b``: an instance of the ``fp_add_<fmt>_s<stages>`` module (latency ``stages``)."""
        return self._instance(m, f"fp_add_{fmt.name}_s{stages}", lambda: FPAdd(fmt, stages), stages,
                              fmt.width, name, a=a, b=b)

    def mul(self, m: Module, fmt: FPFormat, stages: int, a: Value, b: Value, name: str) -> Value:
        """``a * b``: an instance of the ``fp_mul_<fmt>_s<stages>`` module (latency ``stages``)."""
        return self._instance(m, f"fp_mul_{fmt.name}_s{stages}", lambda: FPMul(fmt, stages), stages,
                              fmt.width, name, a=a, b=b)

    def from_int(self, m: Module, make_unit, kind: str, out_width: int, i: Value, e: Value,
                 name: str) -> Value:
        """An integer-to-FP conversion: an instance of the combinational module ``kind`` made by
        ``make_unit()`` (an :class:`hwgen.gateware.arith.FPFromInt`)."""
        return self._instance(m, kind, make_unit, 0, out_width, name, i=i, e=e)

    def fused(self, m: Module, make_unit, kind: str, stages: int, out_width: int, a: Value,
              name: str) -> Value:
        """A fused multi-term sum: an instance of the module ``kind`` made by ``make_unit()`` (an
        :class:`hwgen.gateware.arith.FPFusedAdd` of latency ``stages``), terms ``a``."""
        return self._instance(m, kind, make_unit, stages, out_width, name, a=a)

    def convert(self, m: Module, src: FPFormat, dst: FPFormat, a: Value, name: str) -> Value:
        """``a`` converted to ``dst``: an instance of the combinational ``fp_convert_<src>_<dst>`` module."""
        return self._instance(m, f"fp_convert_{src.name}_{dst.name}", lambda: FPConvert(src, dst), 0,
                              dst.width, name, i=a)


class FPArith:
    """IEEE-style floating-point lanes of the config's ``act`` format (``acc`` for accumulation).

    With ``units`` the adders and converters are :class:`SharedUnits` instances; without, inline
    components (stalled by the ``EnableInserter`` around the datapath).
    """

    def __init__(self, cfg: CoreConfig, units: SharedUnits | None = None):
        self._cfg = cfg
        self._fmt = cfg.act_type.fmt
        self._acc_fmt = cfg.acc_type.fmt
        self._units = units
        self.latency = cfg.adder_stages

    def shape(self, width: int):
        return unsigned(width)

    def add(self, m: Module, a: Value, b: Value, *, width: int, name: str, subtract: bool = False) -> Value:
        """``a + b`` (or ``a - b``) by one pipelined FP adder of the ``width``-bit format."""
        fmt = self._fmt if width == self._fmt.width else self._acc_fmt
        b = self.neg(b) if subtract else b
        if self._units is not None:
            return self._units.add(m, fmt, self._cfg.adder_stages, a, b, name)
        adder = FPAdd(fmt, self._cfg.adder_stages)
        m.submodules[name] = adder
        m.d.comb += [adder.a.eq(a), adder.b.eq(b)]
        return adder.o

    def mul(self, m: Module, a: Value, b: Value, *, name: str) -> Value:
        """``a * b`` by one FP multiplier of the ``act`` format, pipelined like the adders
        (latency :attr:`CoreConfig.mul_latency`)."""
        stages = self._cfg.mul_latency
        if self._units is not None:
            return self._units.mul(m, self._fmt, stages, a, b, name)
        mul = FPMul(self._fmt, stages)
        m.submodules[name] = mul
        m.d.comb += [mul.a.eq(a), mul.b.eq(b)]
        return mul.o

    def neg(self, a: Value) -> Value:
        """Flip the sign bit (exact; NaN payloads are canonicalised by the next add)."""
        return a ^ (1 << (len(a) - 1))

    def canonical_nan(self, a: Value) -> Value:
        """``a`` (an accumulator-format value) with any NaN replaced by the canonical NaN
        (combinational; see :attr:`CoreConfig.canonicalises_first_tile`)."""
        fmt = self._acc_fmt
        is_nan = ((a & fmt.exp_mask) == fmt.exp_mask) & ((a & fmt.man_mask) != 0)
        return Mux(is_nan, fmt.canonical_nan, a)

    def from_tile_sum(self, m: Module, a: Value, row_exp: Value, name: str) -> Value:
        """Block-FP: the integer tile sum ``a`` of a row with shared exponent field ``row_exp``,
        converted with one rounding (``fp_round``) to the accumulator format (combinational); the
        canonical NaN when ``row_exp`` is all ones (the row held an infinity or NaN)."""
        cfg, fmt = self._cfg, self._acc_fmt

        def make_unit():
            return FPFromInt(len(a), len(row_exp), fmt, cfg.tile_sum_scale, cfg.fp_round)

        if self._units is not None:
            kind = f"fp_from_int{len(a)}_{fmt.name}_{cfg.fp_round}_o{-cfg.tile_sum_scale}"
            value = self._units.from_int(m, make_unit, kind, fmt.width, a, row_exp, name)
        else:
            unit = make_unit()
            m.submodules[name] = unit
            m.d.comb += [unit.i.eq(a), unit.e.eq(row_exp)]
            value = unit.o
        return Mux(row_exp == cfg.act_type.fmt.exp_max, fmt.canonical_nan, value)

    def to_acc(self, m: Module, a: Value, name: str) -> Value:
        """Exact widening to the accumulator format (combinational)."""
        if self._acc_fmt == self._fmt:
            return a
        if self._units is not None:
            return self._units.convert(m, self._fmt, self._acc_fmt, a, name)
        conv = FPConvert(self._fmt, self._acc_fmt)
        m.submodules[name] = conv
        m.d.comb += conv.i.eq(a)
        return conv.o


def lane_arith(cfg: CoreConfig, units: SharedUnits | None = None) -> IntArith | FPArith:
    """The lane arithmetic of ``cfg``'s LUT build, fetch and tree (``units``: share FP unit
    modules): integer for integer and block-FP cores (:attr:`CoreConfig.int_lanes`)."""
    return IntArith(cfg) if cfg.int_lanes else FPArith(cfg, units)


def acc_arith(cfg: CoreConfig, units: SharedUnits | None = None) -> IntArith | FPArith:
    """The arithmetic of ``cfg``'s accumulators: floating point for every FP core (block-FP too)."""
    return FPArith(cfg, units) if cfg.is_fp else IntArith(cfg)
