"""Floating-point adder (round to nearest, ties to even) and the gateware helpers shared by the FP units."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .fp_format import FPFormat

__all__ = ["FPAdd"]


MAX_STAGES = 8


def _check_fmt(fmt, param="fmt"):
    if not isinstance(fmt, FPFormat):
        raise TypeError(f"`{param}` must be an FPFormat, not {fmt!r}")


def _check_stages(stages):
    if not isinstance(stages, int) or isinstance(stages, bool):
        raise TypeError(f"`stages` must be an integer, not {stages!r}")
    if not 0 <= stages <= MAX_STAGES:
        raise ValueError(f"`stages` must be in [0, {MAX_STAGES}] pipeline registers, got stages={stages}")


def _ones(width):
    return Const((1 << width) - 1, width)


def _wire(m, value, name):
    """Name ``value`` with a combinational signal (keeps the simulator from duplicating shared logic)."""
    value = Value.cast(value)
    sig = Signal(value.shape(), name=name)
    m.d.comb += sig.eq(value)
    return sig


def _lzc(m, value, name="lzc"):
    """Count the leading zeros of ``value`` (unsigned), as a balanced tree. Returns ``len(value)`` for 0."""
    width = len(value)
    n = 1 << max(1, (width - 1).bit_length())
    if n > width:  # pad at the bottom with ones: the count then saturates at `width`
        value = Cat(_ones(n - width), value)

    def rec(v, path):
        if len(v) == 2:
            return ~(v[0] | v[1]), ~v[1]
        half = len(v) // 2
        zero_lo, cnt_lo = rec(v[:half], path + "l")
        zero_hi, cnt_hi = rec(v[half:], path + "h")
        zero_hi = _wire(m, zero_hi, f"{name}_{path}_zh")
        zero = _wire(m, zero_hi & zero_lo, f"{name}_{path}_z")
        count = _wire(m, Mux(zero_hi, Cat(cnt_lo, Const(1, 1)), Cat(cnt_hi, Const(0, 1))), f"{name}_{path}_c")
        return zero, count

    zero, count = rec(value, "t")
    return _wire(m, Mux(zero, width, count), name)


def _shift_right_sticky(m, value, amount, max_amount, name="shr"):
    """Shift ``value`` right by ``amount`` (capped at ``max_amount``); return ``(shifted, sticky)``.

    ``sticky`` is the OR of all bits shifted out. ``max_amount`` must be >= ``len(value)`` for the cap to be
    harmless, since a shift by ``len(value)`` already moves every bit out.
    """
    width = len(value)
    value = _wire(m, value, f"{name}_in")
    capped = _wire(m, Mux(amount > max_amount, max_amount, amount), f"{name}_amount")
    shifted = _wire(m, value >> capped, f"{name}_out")
    lost_mask = ~(_ones(width) << capped)[:width]
    sticky = _wire(m, (value & lost_mask).any(), f"{name}_sticky")
    return shifted, sticky


def _round_pack(m, fmt, norm, exp, sticky_in, *, may_underflow):
    """Round a normalised significand to ``fmt`` (RNE) and assemble the bit pattern.

    Parameters
    ----------
    norm : Value
        Significand, at least ``fmt.man_bits + 2`` bits wide, whose top bit has weight ``2**(exp - bias)``.
        Either its top bit is set, or ``exp`` is 1 (a subnormal or zero result).
    exp : Value
        Biased exponent of the top bit of ``norm``. May be < 1 only if ``may_underflow``.
    sticky_in : Value
        OR of any non-zero bits below ``norm`` that were already discarded.

    Returns
    -------
    (bits, overflow) : the result without its sign bit (``width - 1`` bits) and whether it rounds to infinity
    (in which case ``bits`` is meaningless).
    """
    man = fmt.man_bits
    width = len(norm)
    assert width >= man + 2
    if may_underflow:
        # Right-shift into the subnormal range: by 1 - exp, and a shift by man + 2 moves every bit below
        # the guard position, so larger shifts are equivalent.
        exp = _wire(m, exp, "rnd_exp_in")
        under = _wire(m, exp < 1, "rnd_under")
        amount = Mux(under, 1 - exp, 0)[: (man + 2).bit_length() + 1]
        amount = Mux(under & (exp < -(man + 1)), man + 2, amount)
        norm, lost = _shift_right_sticky(m, norm, amount, man + 2, name="rnd_shr")
        sticky_in = sticky_in | lost
        exp = Mux(under, 1, exp)
    norm = _wire(m, norm, "rnd_norm")
    q = norm[width - man - 1 :]
    guard = norm[width - man - 2]
    sticky = norm[: width - man - 2].any() | sticky_in if width - man - 2 > 0 else sticky_in
    round_up = _wire(m, guard & (sticky | q[0]), "rnd_up")
    # (exp - 1) << man plus the significand including its hidden bit: a hidden bit of 1 adds the missing 1 to
    # the exponent field, a hidden bit of 0 leaves a subnormal at exponent field 0, and a rounding carry out
    # of the significand moves into the exponent field by itself.
    exp_m1 = (exp - 1)[: fmt.exp_bits + 2]
    enc = _wire(m, (Cat(Const(0, man), exp_m1) + q + round_up)[: fmt.exp_bits + man + 3], "rnd_enc")
    # `exp_m1` is truncated: exponents at or beyond exp_max (a wider source format) overflow in any case.
    overflow = _wire(m, (enc >= (fmt.exp_max << man)) | (exp >= fmt.exp_max), "rnd_overflow")
    return enc[: fmt.width - 1], overflow


class _Pipeline:
    """Distributes ``stages`` registers over ``cuts`` internal cut points plus the output.

    Registers are plain ``sync`` flip-flops without enables, so ``EnableInserter`` can stall the whole unit.
    """

    def __init__(self, m, stages, cuts, name):
        slots = cuts + 1
        counts = [stages // slots] * slots
        extra = stages % slots
        for i in range(extra):
            counts[((2 * i + 1) * slots) // (2 * extra)] += 1
        assert sum(counts) == stages
        self._m = m
        self._counts = counts
        self._name = name

    def cut(self, slot, **values):
        out = {}
        for key, value in values.items():
            value = _wire(self._m, value, f"{self._name}_c{slot}_{key}")
            for k in range(self._counts[slot]):
                reg = Signal(value.shape(), name=f"{self._name}_s{slot}_{k}_{key}")
                self._m.d.sync += reg.eq(value)
                value = reg
            out[key] = value
        return out


class FPAdd(wiring.Component):
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

    def __init__(self, fmt, stages=0):
        _check_fmt(fmt)
        _check_stages(stages)
        self._fmt = fmt
        self._stages = stages
        super().__init__({"a": In(fmt.width), "b": In(fmt.width), "o": Out(fmt.width)})

    @property
    def fmt(self):
        return self._fmt

    @property
    def stages(self):
        return self._stages

    @property
    def latency(self):
        """Latency, in cycles of the ``sync`` domain."""
        return self._stages

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
