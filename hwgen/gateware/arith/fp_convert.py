"""Floating-point format conversion (exact when widening, round to nearest even when narrowing)."""

from amaranth.hdl import Cat, Const, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ._common import _check_fmt, _lzc, _round_pack, _wire

__all__ = ["FPConvert"]


class FPConvert(wiring.Component):
    """Combinational conversion of a bit pattern from format ``src`` to format ``dst``.

    Values that ``dst`` can represent convert exactly (every widening conversion, e.g. fp16, bf16 or fp8 to
    fp32, or fp8 to fp16). Other values are rounded to nearest, ties to even: subnormal results are kept and
    values beyond the largest finite ``dst`` value become infinity. Infinities and zeros keep their sign;
    every NaN becomes the canonical NaN of ``dst`` (:attr:`FPFormat.canonical_nan`).

    Parameters
    ----------
    src : FPFormat
        Format of ``i``.
    dst : FPFormat
        Format of ``o``.

    Members
    -------
    i : In(src.width)
        Input, as a bit pattern.
    o : Out(dst.width)
        Converted value, as a bit pattern (combinational: latency 0).

    Raises
    ------
    TypeError
        If ``src`` or ``dst`` is not an :class:`FPFormat`.
    """

    def __init__(self, src, dst):
        _check_fmt(src, "src")
        _check_fmt(dst, "dst")
        self._src = src
        self._dst = dst
        super().__init__({"i": In(src.width), "o": Out(dst.width)})

    @property
    def src(self):
        return self._src

    @property
    def dst(self):
        return self._dst

    @property
    def latency(self):
        """Latency, in cycles (always 0: the converter is combinational)."""
        return 0

    def elaborate(self, platform):
        m = Module()
        src, dst = self._src, self._dst
        sman, dman = src.man_bits, dst.man_bits
        w = dst.width
        sign, exp, frac = self.i[src.width - 1], self.i[sman : src.width - 1], self.i[:sman]
        is_special = exp == src.exp_max
        sig = Cat(frac, exp != 0)  # sman + 1 bits
        sig = _wire(m, sig, "sig")
        shift = _lzc(m, sig)  # non-zero only for subnormal inputs
        norm = (sig << shift)[: sman + 1]
        pad = max(0, dman + 2 - (sman + 1))
        norm = Cat(Const(0, pad), norm)
        # Biased dst exponent of the top bit of `norm`.
        exp_dst = (exp | (exp == 0)) - shift + (dst.bias - src.bias)
        # Only values below dst's smallest normal need the subnormal right shift.
        may_underflow = 1 - src.bias - sman < 1 - dst.bias
        bits, overflow = _round_pack(m, dst, norm, exp_dst, Const(0, 1), may_underflow=may_underflow)

        with m.If(is_special & frac.any()):
            m.d.comb += self.o.eq(dst.canonical_nan)
        with m.Elif(is_special | overflow):
            m.d.comb += self.o.eq(Cat(Const(dst.inf, w - 1), sign))
        with m.Elif(~sig.any()):
            m.d.comb += self.o.eq(Cat(Const(0, w - 1), sign))
        with m.Else():
            m.d.comb += self.o.eq(Cat(bits, sign))
        return m
