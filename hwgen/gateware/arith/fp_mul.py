"""Floating-point multiplier (round to nearest, ties to even)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal

from ._common import _BinaryUnit, _lzc, _Pipeline, _round_pack, _wire

__all__ = ["FPMul"]


class FPMul(_BinaryUnit):
    """Floating-point multiplier: ``o = a * b``, IEEE 754 semantics, round to nearest, ties to even.

    Subnormal inputs and results are supported (never flushed). ``0 * inf`` and any NaN input give the
    canonical NaN (:attr:`FPFormat.canonical_nan`). The sign of every other result, zeros and infinities
    included, is ``sign(a) XOR sign(b)``.

    The datapath is a ``(man_bits+1) x (man_bits+1)`` significand multiplier, a leading-zero count and
    normalisation shift (for subnormal inputs), a sticky right shift into the subnormal range, and rounding.

    Parameters
    ----------
    fmt : FPFormat
        Number format of ``a``, ``b`` and ``o``.
    stages : int
        Number of pipeline registers, in [0, 8] (default 0: purely combinational). The latency is
        ``stages`` cycles of the ``sync`` domain; results do not depend on ``stages``. The registers have
        no enable of their own: wrap the multiplier in :class:`amaranth.hdl.EnableInserter` to stall it.

    Members
    -------
    a : In(fmt.width)
        First operand, as a bit pattern.
    b : In(fmt.width)
        Second operand, as a bit pattern.
    o : Out(fmt.width)
        Product, as a bit pattern, ``stages`` cycles after ``a`` and ``b``.

    Raises
    ------
    TypeError
        If ``fmt`` is not an :class:`FPFormat` or ``stages`` is not an integer.
    ValueError
        If ``stages`` is outside [0, 8].
    """

    def elaborate(self, platform):
        m = Module()
        fmt = self._fmt
        man, w = fmt.man_bits, fmt.width
        pipe = _Pipeline(m, self._stages, cuts=2, name="mul")

        # Phase 0: classify and multiply the significands.
        sa, ea, ma = self.a[w - 1], self.a[man : w - 1], self.a[:man]
        sb, eb, mb = self.b[w - 1], self.b[man : w - 1], self.b[:man]
        a_special, b_special = ea == fmt.exp_max, eb == fmt.exp_max
        a_zero, b_zero = (ea == 0) & ~ma.any(), (eb == 0) & ~mb.any()
        a_nan, b_nan = a_special & ma.any(), b_special & mb.any()
        a_inf, b_inf = a_special & ~ma.any(), b_special & ~mb.any()
        is_nan = a_nan | b_nan | (a_inf & b_zero) | (b_inf & a_zero)
        is_inf = a_inf | b_inf
        sig_a = Cat(ma, ea != 0)
        sig_b = Cat(mb, eb != 0)
        # 2 * man + 2 bits; its top bit has the biased exponent exp_top.
        product = _wire(m, sig_a * sig_b, "product")
        exp_top = Mux(ea == 0, 1, ea) + Mux(eb == 0, 1, eb) - (fmt.bias - 1)
        p = pipe.cut(0, product=product, exp_top=exp_top, sign=sa ^ sb, is_nan=is_nan, is_inf=is_inf)

        # Phase 1: normalise (only subnormal inputs need more than one position).
        shift = _lzc(m, p["product"])
        norm = (p["product"] << shift)[: 2 * man + 2]
        exp = p["exp_top"] - shift
        p = pipe.cut(
            1,
            norm=norm,
            exp=exp,
            is_zero=~p["product"].any(),
            **{k: p[k] for k in ("sign", "is_nan", "is_inf")},
        )

        # Phase 2: shift into the subnormal range if needed, round and assemble.
        bits, overflow = _round_pack(m, fmt, p["norm"], p["exp"], Const(0, 1), may_underflow=True)
        result = Signal(w)
        with m.If(p["is_nan"]):
            m.d.comb += result.eq(fmt.canonical_nan)
        with m.Elif(p["is_inf"] | overflow):
            m.d.comb += result.eq(Cat(Const(fmt.inf, w - 1), p["sign"]))
        with m.Elif(p["is_zero"]):
            m.d.comb += result.eq(Cat(Const(0, w - 1), p["sign"]))
        with m.Else():
            m.d.comb += result.eq(Cat(bits, p["sign"]))
        p = pipe.cut(2, result=result)
        m.d.comb += self.o.eq(p["result"])
        return m
