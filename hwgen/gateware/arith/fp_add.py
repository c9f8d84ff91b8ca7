"""Floating-point adder (round to nearest, ties to even)."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal

from ._common import _BinaryUnit, _lzc, _Pipeline, _round_pack, _shift_right_sticky, _wire

__all__ = ["FPAdd"]


class FPAdd(_BinaryUnit):
    """Floating-point adder: ``o = a + b``, IEEE 754 semantics, round to nearest, ties to even.

    Subnormal inputs and results are supported (never flushed). ``inf - inf`` and any NaN input give the
    canonical NaN (:attr:`FPFormat.canonical_nan`). An exact zero sum is ``+0``, except ``-0 + -0 = -0``.
    Subtract by flipping the sign bit of ``b``.

    The datapath is a single-path adder: magnitude compare and swap, alignment shifter with
    guard/round/sticky bits, one adder/subtractor, leading-zero count and normalisation shift (limited at
    the minimum exponent, so subnormal results fall out directly), rounding.

    Parameters
    ----------
    fmt : FPFormat
        Number format of ``a``, ``b`` and ``o``.
    stages : int
        Number of pipeline registers, in [0, 8] (default 0: purely combinational). The latency is
        ``stages`` cycles of the ``sync`` domain; results do not depend on ``stages``. The registers have
        no enable of their own: wrap the adder in :class:`amaranth.hdl.EnableInserter` to stall it.

    Members
    -------
    a : In(fmt.width)
        First operand, as a bit pattern.
    b : In(fmt.width)
        Second operand, as a bit pattern.
    o : Out(fmt.width)
        Sum, as a bit pattern, ``stages`` cycles after ``a`` and ``b``.

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
        man, ew, w = fmt.man_bits, fmt.exp_bits, fmt.width
        pipe = _Pipeline(m, self._stages, cuts=3, name="add")

        # Phase 0: classify, order by magnitude, align the smaller operand.
        a, b = self.a, self.b
        swap = _wire(m, b[: w - 1] > a[: w - 1], "swap")
        x = _wire(m, Mux(swap, b, a), "x")
        y = _wire(m, Mux(swap, a, b), "y")
        sx, ex, mx = x[w - 1], x[man : w - 1], x[:man]
        sy, ey, my = y[w - 1], y[man : w - 1], y[:man]
        x_nan = (ex == fmt.exp_max) & mx.any()
        y_nan = (ey == fmt.exp_max) & my.any()
        x_inf = (ex == fmt.exp_max) & ~mx.any()
        y_inf = (ey == fmt.exp_max) & ~my.any()
        is_nan = x_nan | y_nan | (x_inf & y_inf & (sx != sy))
        ex_eff = _wire(m, Mux(ex == 0, 1, ex), "ex_eff")
        ey_eff = _wire(m, Mux(ey == 0, 1, ey), "ey_eff")
        sig_x = Cat(mx, ex != 0)
        sig_y = Cat(my, ey != 0)
        gap = (ex_eff - ey_eff)[:ew]  # >= 0 after the swap
        x_ext = Cat(Const(0, 3), sig_x)  # significand, guard, round, sticky positions
        y_shifted, y_sticky = _shift_right_sticky(m, Cat(Const(0, 3), sig_y), gap, man + 4, name="align")
        y_ext = y_shifted | y_sticky  # sticky jammed into the LSB
        p = pipe.cut(
            0, x_ext=x_ext, y_ext=y_ext, sub=sx ^ sy, sx=sx, sy=sy, ex_eff=ex_eff, is_nan=is_nan, x_inf=x_inf
        )

        # Phase 1: add or subtract the aligned significands (|x| >= |y|, so the difference is >= 0).
        y_ops = Mux(p["sub"], ~p["y_ext"], p["y_ext"])
        total = p["x_ext"] + y_ops + p["sub"]
        z = _wire(m, Cat(total[: man + 4], total[man + 4] & ~p["sub"]), "z")  # man + 5 bits
        p = pipe.cut(1, z=z, is_zero=~z.any(), **{k: p[k] for k in ("sx", "sy", "ex_eff", "is_nan", "x_inf")})

        # Phase 2: normalise. The top bit of `z` has exponent ex_eff + 1; the left shift is limited to
        # ex_eff so that the exponent stays >= 1 (a limit bit ORed into the LZC input does this).
        zw = man + 5
        limit_bit = Const(1 << (zw - 1), zw) >> p["ex_eff"]
        shift = _lzc(m, p["z"] | limit_bit)
        norm = (p["z"] << shift)[:zw]
        exp = (p["ex_eff"] + 1 - shift)[: ew + 1]
        p = pipe.cut(2, norm=norm, exp=exp, **{k: p[k] for k in ("sx", "sy", "is_zero", "is_nan", "x_inf")})

        # Phase 3: round and assemble.
        bits, overflow = _round_pack(m, fmt, p["norm"], p["exp"], Const(0, 1), may_underflow=False)
        result = Signal(w)
        with m.If(p["is_nan"]):
            m.d.comb += result.eq(fmt.canonical_nan)
        with m.Elif(p["x_inf"] | overflow):
            m.d.comb += result.eq(Cat(Const(fmt.inf, w - 1), p["sx"]))
        with m.Elif(p["is_zero"]):
            m.d.comb += result.eq(Cat(Const(0, w - 1), p["sx"] & p["sy"]))
        with m.Else():
            m.d.comb += result.eq(Cat(bits, p["sx"]))
        p = pipe.cut(3, result=result)
        m.d.comb += self.o.eq(p["result"])
        return m
