"""Stand-alone components for cost-model calibration, each synthesised alone.

Each unit is the primitive exactly as the core instantiates it: the same Amaranth expression
(integer ``a + b`` at the plan's widths, ``Mux``, ``Array`` indexing), the same stall-enabled,
resettable registers (``EnableInserter`` around ``sync``), the same :class:`Fetcher` and the
same shared FP unit modules (:class:`EnabledUnit`). :func:`calibration_units` lists them with
the parameters the cost model keys them by.
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth import Array, EnableInserter, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.config import FP_FORMATS, CoreConfig

from .arith import FPAdd, FPConvert, FPFromInt, FPFusedAdd, FPMul
from .components.block_align import BlockAligner
from .components.fetch import Fetcher
from .components.lane_arith import EnabledUnit

__all__ = [
    "CalibrationUnit", "IntAdd", "IntAddSub", "IntMul", "FPAddSub", "RegisterBits", "Mux2", "IndexMux",
    "calibration_units",
]


class IntAdd(wiring.Component):
    """``o = a + b`` (or ``a - b``): signed, ``a_width`` / ``b_width``-bit operands, ``width``-bit result."""

    def __init__(self, width: int, a_width: int, b_width: int, subtract: bool = False):
        self._subtract = subtract
        super().__init__({"a": In(signed(a_width)), "b": In(signed(b_width)), "o": Out(signed(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(self.a - self.b if self._subtract else self.a + self.b)
        return m


class IntAddSub(wiring.Component):
    """``s = a + b`` and ``d = a - b`` on shared operands (a LUT-build step pair), widths as
    :class:`IntAdd`."""

    def __init__(self, width: int, a_width: int, b_width: int):
        super().__init__({"a": In(signed(a_width)), "b": In(signed(b_width)),
                          "s": Out(signed(width)), "d": Out(signed(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.s.eq(self.a + self.b), self.d.eq(self.a - self.b)]
        return m


class FPAddSub(wiring.Component):
    """``a + b`` and ``a - b`` by two FP adder modules on shared operands, as a LUT-build step pair
    appears in a flattened core (synthesis shares their operand logic)."""

    def __init__(self, fmt, stages: int):
        self._fmt, self._stages = fmt, stages
        members = {"a": In(fmt.width), "b": In(fmt.width), "s": Out(fmt.width), "d": Out(fmt.width)}
        if stages:
            members["en"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        sign = 1 << (self._fmt.width - 1)
        for name, b in (("s", self.b), ("d", self.b ^ sign)):
            unit = EnabledUnit(FPAdd(self._fmt, self._stages))
            m.submodules[name] = unit
            m.d.comb += [unit.a.eq(self.a), unit.b.eq(b), getattr(self, name).eq(unit.o)]
            if self._stages:
                m.d.comb += unit.en.eq(self.en)
        return m


class IntMul(wiring.Component):
    """``o = a * b``: the full signed product of two ``width``-bit operands (``2 * width`` bits)."""

    def __init__(self, width: int):
        super().__init__({"a": In(signed(width)), "b": In(signed(width)), "o": Out(signed(2 * width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(self.a * self.b)
        return m


class RegisterBits(wiring.Component):
    """``width`` resettable ``sync`` register bits stalled by ``en`` (as every datapath register)."""

    def __init__(self, width: int):
        super().__init__({"d": In(width), "en": In(1), "q": Out(width)})

    def elaborate(self, platform):
        m = Module()
        inner = Module()
        inner.d.sync += self.q.eq(self.d)
        m.submodules.regs = EnableInserter(self.en)(inner)
        return m


class RegisterFanout(wiring.Component):
    """One register (``r <= a``) whose output reaches ``loads`` gates: ``q <= d ^ {loads{r}}``.

    The timing flow's fanout check: the register-to-register delay through ``r`` should grow
    with the logarithm of ``loads`` (a buffer tree), not linearly (one overloaded flip-flop).
    """

    def __init__(self, loads: int):
        super().__init__({"a": In(1), "d": In(loads), "q": Out(loads)})
        self._loads = loads

    def elaborate(self, platform):
        m = Module()
        r = Signal()
        m.d.sync += [r.eq(self.a), self.q.eq(self.d ^ r.replicate(self._loads))]
        return m


class Mux2(wiring.Component):
    """``width``-bit 2:1 multiplexer."""

    def __init__(self, width: int):
        super().__init__({"s": In(1), "a": In(width), "b": In(width), "o": Out(width)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(Mux(self.s, self.a, self.b))
        return m


class IndexMux(wiring.Component):
    """``ways``-way read of ``width``-bit values by index (``Array`` indexing, as the accumulator read)."""

    def __init__(self, ways: int, width: int):
        self._ways = ways
        super().__init__({"i": In(unsigned(max(1, (ways - 1).bit_length()))),
                          "d": In(unsigned(width * ways)), "o": Out(width)})

    def elaborate(self, platform):
        m = Module()
        width = len(self.o)
        words = Array(self.d[k * width:(k + 1) * width] for k in range(self._ways))
        m.d.comb += self.o.eq(words[self.i])
        return m


@dataclass(frozen=True)
class CalibrationUnit:
    """One calibration synthesis: ``kind`` and its integer/format parameters, and how to build it."""

    kind: str
    params: tuple[tuple[str, object], ...]
    build: object  # () -> wiring.Component

    @property
    def name(self) -> str:
        """Module name, e.g. ``cal_int_add_w16_a15_b15``."""
        tail = "_".join(f"{k[0]}{v}" for k, v in self.params)
        return f"cal_{self.kind}_{tail}" if tail else f"cal_{self.kind}"


def _fetch_cfg(act: str, mu: int) -> CoreConfig:
    return CoreConfig(act=act, mu=mu, luts=1, keys=1, max_n=mu, max_m=1)


def _aligner_cfg(act: str, width: int, tile_n: int) -> CoreConfig:
    return CoreConfig(act=act, fp_reduce="blockfp", fp_width=width, mu=1, luts=tile_n, keys=1, max_n=tile_n,
                      max_m=1)


#: Formats of the VeRA generator lanes calibrated (one lane's word and value,
#: :class:`hwgen.gateware.adapter.GeneratorLane`).
VERA_FORMATS = ("fp16", "bf16", "int8")
#: Narrowing format conversions (rounding) that adapter units use: the accumulator back to the
#: adapter format, and activations between the 16-bit formats.
NARROWING_CONVERTS = (("fp32", "fp16"), ("fp32", "bf16"), ("fp16", "bf16"), ("bf16", "fp16"))
#: Block-FP units: activation formats, aligned widths and row lengths of the aligner samples, and
#: tile-sum widths of the integer-to-FP converters (the widths a 2..4096-activation tile sum of
#: 8..32-bit lanes spans).
BLOCKFP_ACTS = ("fp16", "bf16", "fp8e4m3", "fp32")
BLOCKFP_WIDTHS = (8, 12, 16, 20, 24, 32)
BLOCKFP_ROWS = (4, 16)
FROM_INT_WIDTHS = (12, 16, 24, 32, 40, 48)
#: Loads of the register-fanout units (the delay a buffer tree adds per level of fanout).
FANOUT_LOADS = (1, 4, 16, 64, 256, 1024, 4096)
#: Fused multi-term adders: term counts and guard bits sampled (per format and output format), and
#: the pipeline depths sampled at 8 terms with 4 guard bits.
FUSED_TERMS = (2, 4, 8, 16, 32)
FUSED_GUARDS = (0, 4, 8)
FUSED_STAGES = (1, 2, 3)


def calibration_units(*, max_mu: int = 6, max_stages: int = 8,
                      fp_formats: tuple[str, ...] = ("fp16", "bf16", "fp32", "fp8e4m3", "fp8e5m2"),
                      ) -> list[CalibrationUnit]:
    """Every unit the cost table is fitted from (a few hundred small syntheses).

    ``max_mu`` is the largest LUT group size whose fetchers are calibrated: the one place that
    decides the table's mu range (:attr:`costmodel.UnitCosts.max_mu`, which every mu search reads).
    """
    units: list[CalibrationUnit] = []

    def add(kind, build, **params):
        units.append(CalibrationUnit(kind, tuple(params.items()), build))

    for width in (3, 4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48):
        for b_width in sorted({width - 1, max(2, width // 2), 2}):
            for sub in (False, True):
                add("int_sub" if sub else "int_add",
                    lambda w=width, bw=b_width, s=sub: IntAdd(w, w - 1, bw, s), width=width, b=b_width)
    for width in (3, 4, 6, 8, 10, 12, 16, 20, 24):
        for b_width in sorted({width - 1, max(2, width // 2), 2}):
            add("int_addsub", lambda w=width, bw=b_width: IntAddSub(w, w - 1, bw), width=width, b=b_width)
    for width in (2, 3, 4, 6, 8, 10, 12, 16):
        add("int_mul", lambda w=width: IntMul(w), width=width)
    for width in (1, 8, 32, 64):
        add("reg", lambda w=width: RegisterBits(w), width=width)
        add("mux2", lambda w=width: Mux2(w), width=width)
    for loads in FANOUT_LOADS:
        add("reg_fanout", lambda n=loads: RegisterFanout(n), loads=loads)
    for ways in (2, 3, 4, 6, 8, 16):
        add("index_mux", lambda r=ways: IndexMux(r, 16), ways=ways, width=16)
    for mu in range(1, max_mu + 1):
        for act in ("int4", "int8", "int16"):
            add("fetch_int", lambda a=act, m=mu: Fetcher(_fetch_cfg(a, m)), mu=mu,
                width=_fetch_cfg(act, mu).lut_width)
        for act in ("fp8e4m3", "fp16", "fp32"):
            add("fetch_fp", lambda a=act, m=mu: Fetcher(_fetch_cfg(a, m)), mu=mu, width=FP_FORMATS[act].width)
    for fmt in fp_formats:
        for stages in range(max_stages + 1):
            add("fp_add", lambda f=FP_FORMATS[fmt], s=stages: EnabledUnit(FPAdd(f, s)),
                fmt=fmt, stages=stages)
        for stages in range(max_stages + 1):
            add("fp_mul", lambda f=FP_FORMATS[fmt], s=stages: EnabledUnit(FPMul(f, s)),
                fmt=fmt, stages=stages)
        for stages in range(max_stages + 1):
            add("fp_addsub", lambda f=FP_FORMATS[fmt], s=stages: FPAddSub(f, s), fmt=fmt, stages=stages)
    from .adapter import GeneratorLane, RowKeyUnit  # (the adapter unit's modules import this one's peers)

    for fmt in VERA_FORMATS:
        add("vera_lane", lambda f=fmt: GeneratorLane(f), fmt=fmt)
    add("vera_row_key", RowKeyUnit)
    for src in fp_formats:
        for dst in fp_formats:
            a, b = FP_FORMATS[src], FP_FORMATS[dst]
            widening = b.exp_bits >= a.exp_bits and b.man_bits >= a.man_bits
            if src != dst and (widening or (src, dst) in NARROWING_CONVERTS):
                add("fp_convert", lambda x=a, y=b: EnabledUnit(FPConvert(x, y)), src=src, dst=dst)
    for act in BLOCKFP_ACTS:
        for width in BLOCKFP_WIDTHS:
            for rows in BLOCKFP_ROWS:
                add("block_align", lambda a=act, w=width, r=rows: BlockAligner(_aligner_cfg(a, w, r)),
                    act=act, width=width, tile_n=rows)
    for dst in ("fp16", "bf16", "fp32"):
        fmt = FP_FORMATS[dst]
        for width in FROM_INT_WIDTHS:
            for rounding in ("rne", "rtz"):
                # a tile sum of an fp16 row at fp_width 20 (the scale only moves constants)
                add("fp_from_int", lambda w=width, f=fmt, r=rounding: FPFromInt(w, 5, f, -33, r),
                    width=width, dst=dst, rounding=rounding)
    for fmt in ("fp16", "bf16"):
        for out in (fmt, "fp32"):
            a, b = FP_FORMATS[fmt], FP_FORMATS[out]

            def fused(n, g, r="rne", s=0, sticky=False, a=a, b=b):
                return EnabledUnit(FPFusedAdd(a, n, b, guard=g, sticky=sticky, rounding=r, stages=s))

            for terms in FUSED_TERMS:
                for guard in FUSED_GUARDS:
                    add("fp_fused", lambda n=terms, g=guard, f=fused: f(n, g), fmt=fmt, out=out,
                        terms=terms, guard=guard, rounding="rne", stages=0)
            add("fp_fused", lambda f=fused: f(8, 4, "rtz"), fmt=fmt, out=out, terms=8, guard=4,
                rounding="rtz", stages=0)
            add("fp_fused", lambda f=fused: f(8, 4, sticky=True), fmt=fmt, out=out, terms=8, guard=4,
                rounding="rne", stages=0, sticky=True)
            for stages in FUSED_STAGES:
                add("fp_fused", lambda s=stages, f=fused: f(8, 4, s=s), fmt=fmt, out=out, terms=8, guard=4,
                    rounding="rne", stages=stages)
    return units
