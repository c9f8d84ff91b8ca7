"""Integer-to-float conversion with a power-of-two scale, and a fused multi-term floating-point adder."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ._common import _check_fmt, _check_stages, _lzc, _Pipeline, _round_pack, _shift_right_sticky, _wire

__all__ = ["FPFromInt", "FPFusedAdd", "ROUNDINGS"]

#: Rounding modes: to nearest, ties to even; toward zero. Same as :data:`sim.fp_reference.ROUNDINGS`.
ROUNDINGS = ("rne", "rtz")

_INT_WIDTH_RANGE = (1, 64)
_EXP_WIDTH_RANGE = (0, 10)
_TERMS_RANGE = (1, 64)
_GUARD_RANGE = (0, 16)


def _check_int(value, param):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"`{param}` must be an integer, not {value!r}")


def _check_range(value, param, bounds, unit=""):
    _check_int(value, param)
    lo, hi = bounds
    if not lo <= value <= hi:
        raise ValueError(f"`{param}` must be in [{lo}, {hi}]{unit}, got {param}={value}")


def _check_rounding(rounding):
    if rounding not in ROUNDINGS:
        raise ValueError(f"`rounding` must be one of {', '.join(ROUNDINGS)}, got rounding={rounding!r}")


class FPFromInt(wiring.Component):
    """Combinational conversion of a signed integer times a power of two to a floating-point bit pattern.

    ``o`` is ``i * 2**(e + scale_offset)`` in ``fmt``, rounded once: exactly
    ``sim.fp_reference.int_to_fp(i, e + scale_offset, fmt, rounding)``. With ``rounding="rne"`` the value is
    rounded to nearest, ties to even, and values beyond the largest finite one become +-infinity; with
    ``"rtz"`` it is truncated toward zero and such values become +-max_finite. Subnormal results are kept.
    ``i = 0`` gives ``+0``; a non-zero value that rounds to zero keeps its sign (``-0`` if negative).

    The datapath takes sign and magnitude, counts the leading zeros of the magnitude, normalises it with a
    left shift, forms the biased exponent ``(width - 1 - lzc) + e + scale_offset + bias``, and rounds (with a
    right shift into the subnormal range when that exponent is below 1).

    Parameters
    ----------
    width : int
        Width of ``i``, in [1, 64] bits.
    exp_width : int
        Width of ``e``, in [0, 10] bits.
    fmt : FPFormat
        Format of ``o``.
    scale_offset : int
        Constant added to ``e`` to form the power-of-two scale (any integer; typically negative, e.g.
        ``-(fmt.bias + 20)``).
    rounding : str
        ``"rne"`` (default) or ``"rtz"``, see :data:`ROUNDINGS`.

    Members
    -------
    i : In(signed(width))
        Integer significand, two's complement.
    e : In(unsigned(exp_width))
        Scale exponent, without ``scale_offset``.
    o : Out(fmt.width)
        Result, as a bit pattern (combinational: latency 0).

    Raises
    ------
    TypeError
        If ``fmt`` is not an :class:`FPFormat`, or ``width``, ``exp_width`` or ``scale_offset`` is not an
        integer.
    ValueError
        If ``width`` or ``exp_width`` is out of range, or ``rounding`` is not one of :data:`ROUNDINGS`.
    """

    def __init__(self, width, exp_width, fmt, scale_offset, rounding="rne"):
        _check_range(width, "width", _INT_WIDTH_RANGE, " bits")
        _check_range(exp_width, "exp_width", _EXP_WIDTH_RANGE, " bits")
        _check_fmt(fmt)
        _check_int(scale_offset, "scale_offset")
        _check_rounding(rounding)
        self._width = width
        self._exp_width = exp_width
        self._fmt = fmt
        self._scale_offset = scale_offset
        self._rounding = rounding
        super().__init__({"i": In(signed(width)), "e": In(unsigned(exp_width)), "o": Out(fmt.width)})

    @property
    def width(self):
        return self._width

    @property
    def exp_width(self):
        return self._exp_width

    @property
    def fmt(self):
        return self._fmt

    @property
    def scale_offset(self):
        return self._scale_offset

    @property
    def rounding(self):
        return self._rounding

    @property
    def latency(self):
        """Latency, in cycles (always 0: the converter is combinational)."""
        return 0

    def elaborate(self, platform):
        m = Module()
        fmt, width = self._fmt, self._width
        man, w = fmt.man_bits, fmt.width
        sign = self.i[width - 1]
        mag = _wire(m, Mux(sign, -self.i, self.i)[:width], "mag")  # |-2**(width-1)| still fits unsigned
        lzc = _lzc(m, mag)
        norm = (mag << lzc)[:width]
        if width < man + 2:  # the rounding needs the kept bits and a guard bit
            norm = Cat(Const(0, man + 2 - width), norm)
        base = width - 1 + self._scale_offset + fmt.bias
        exp = _wire(m, base - lzc + self.e, "exp")  # biased exponent of the top bit of `norm`
        # The smallest exponent of a non-zero `i` is base - (width - 1) (lzc = width - 1, e = 0).
        may_underflow = base - (width - 1) < 1
        bits, overflow = _round_pack(m, fmt, norm, exp, Const(0, 1), may_underflow=may_underflow,
                                     rounding=self._rounding)
        overflow_bits = fmt.inf if self._rounding == "rne" else fmt.max_finite

        with m.If(~mag.any()):
            m.d.comb += self.o.eq(0)
        with m.Elif(overflow):
            m.d.comb += self.o.eq(Cat(Const(overflow_bits, w - 1), sign))
        with m.Else():
            m.d.comb += self.o.eq(Cat(bits, sign))
        return m


def _tree(m, values, op, name):
    """Reduce ``values`` with the binary ``op`` as a balanced tree of named wires."""
    level = 0
    while len(values) > 1:
        paired = [
            _wire(m, op(values[k], values[k + 1]), f"{name}_l{level}_{k // 2}")
            for k in range(0, len(values) - 1, 2)
        ]
        if len(values) % 2:
            paired.append(values[-1])
        values = paired
        level += 1
    return values[0]


class FPFusedAdd(wiring.Component):
    """Fused sum of ``terms`` floating-point values with one final rounding (truncated alignment).

    Every term is aligned to the largest exponent with ``guard`` extra bits, the bits shifted out below those
    are truncated (or jammed into one sticky bit per term), the aligned terms are summed exactly as
    integers, and the sum is normalised and rounded once to ``out_fmt``. This is *not* the correctly rounded
    sum (the truncation loses the low bits of small terms), but it is deterministic and order-independent,
    and exactly :func:`sim.fp_reference.fp_fused_sum`:

    1. Each term has sign ``s``, exponent field ``f`` and mantissa ``m``; its effective exponent is
       ``e = max(f, 1)`` and its significand ``sig = (f != 0) << M | m`` (``M = fmt.man_bits``).
    2. Specials: any NaN, or both ``+inf`` and ``-inf``, give the canonical NaN of ``out_fmt``; otherwise
       any infinity gives that infinity in ``out_fmt``. Specials take no part in the exponent maximum.
    3. ``emax`` is the largest ``e`` of the finite terms (1 if there are none). Each term is aligned:
       ``q = floor(sig * 2**guard / 2**(emax - e))``. With ``sticky``, ``q = 2 * q + j``, where ``j`` is 1
       if any bit of ``sig * 2**guard`` was shifted out, else 0.
    4. ``S = sum(-q if s else q)``, exactly.
    5. ``o = int_to_fp(S, emax - bias - M - guard - sticky, out_fmt, rounding)`` (one rounding, by an
       :class:`FPFromInt`): ``"rne"`` rounds to nearest, ties to even, overflow to +-inf; ``"rtz"``
       truncates, overflow to +-max_finite; subnormals are kept. An exact zero sum is ``+0``, **even when
       every term is** ``-0`` (IEEE 754 would give ``-0``); a non-zero sum that rounds to zero keeps its sign.

    With ``terms=1`` (and ``out_fmt`` at least as wide as ``fmt``) the unit is an exact format conversion,
    except that ``-0`` becomes ``+0``.

    The datapath: classification and a comparator tree for ``emax``; per term an alignment shifter
    (with a sticky OR when ``sticky``) and a conditional ones' complement; an adder tree that also adds the
    number of negative terms (completing the two's complements); an :class:`FPFromInt` for the leading-zero
    count, normalisation and rounding; the special-value override.

    Parameters
    ----------
    fmt : FPFormat
        Format of the terms.
    terms : int
        Number of terms, in [1, 64].
    out_fmt : FPFormat, optional
        Format of ``o`` (default ``fmt``); must have ``exp_bits >= fmt.exp_bits`` and
        ``man_bits >= fmt.man_bits``.
    guard : int
        Alignment bits kept below each significand, in [0, 16] (default 3).
    sticky : bool
        Jam the bits shifted out of each term into one extra low bit (default False).
    rounding : str
        ``"rne"`` (default) or ``"rtz"``, see :data:`ROUNDINGS`.
    stages : int
        Number of pipeline registers, in [0, 8] (default 0: purely combinational). The latency is
        ``stages`` cycles of the ``sync`` domain; results do not depend on ``stages``. The registers have
        no enable of their own: wrap the unit in :class:`amaranth.hdl.EnableInserter` to stall it.

    Members
    -------
    a : In(data.ArrayLayout(unsigned(fmt.width), terms))
        The terms, as bit patterns.
    o : Out(out_fmt.width)
        Sum, as a bit pattern, ``stages`` cycles after ``a``.

    Raises
    ------
    TypeError
        If ``fmt`` or ``out_fmt`` is not an :class:`FPFormat`, ``terms``, ``guard`` or ``stages`` is not an
        integer, or ``sticky`` is not a bool.
    ValueError
        If ``terms``, ``guard`` or ``stages`` is out of range, ``out_fmt`` is narrower than ``fmt`` in either
        field, or ``rounding`` is not one of :data:`ROUNDINGS`.
    """

    def __init__(self, fmt, terms, out_fmt=None, guard=3, sticky=False, rounding="rne", stages=0):
        _check_fmt(fmt)
        if out_fmt is None:
            out_fmt = fmt
        _check_fmt(out_fmt, "out_fmt")
        if out_fmt.exp_bits < fmt.exp_bits or out_fmt.man_bits < fmt.man_bits:
            raise ValueError(
                f"`out_fmt` must have exp_bits >= {fmt.exp_bits} and man_bits >= {fmt.man_bits} (those of "
                f"`fmt`), got out_fmt={out_fmt.name} "
                f"(exp_bits={out_fmt.exp_bits}, man_bits={out_fmt.man_bits})"
            )
        _check_range(terms, "terms", _TERMS_RANGE)
        _check_range(guard, "guard", _GUARD_RANGE, " bits")
        if not isinstance(sticky, bool):
            raise TypeError(f"`sticky` must be a bool, not {sticky!r}")
        _check_rounding(rounding)
        _check_stages(stages)
        self._fmt = fmt
        self._out_fmt = out_fmt
        self._terms = terms
        self._guard = guard
        self._sticky = sticky
        self._rounding = rounding
        self._stages = stages
        super().__init__({"a": In(data.ArrayLayout(unsigned(fmt.width), terms)), "o": Out(out_fmt.width)})

    @property
    def fmt(self):
        return self._fmt

    @property
    def out_fmt(self):
        return self._out_fmt

    @property
    def terms(self):
        return self._terms

    @property
    def guard(self):
        return self._guard

    @property
    def sticky(self):
        return self._sticky

    @property
    def rounding(self):
        return self._rounding

    @property
    def stages(self):
        return self._stages

    @property
    def latency(self):
        """Latency, in cycles of the ``sync`` domain."""
        return self._stages

    @property
    def sum_width(self):
        """Width of the signed integer sum ``S`` (and of the :class:`FPFromInt` input)."""
        return self._aligned_width + (self._terms - 1).bit_length() + 1

    @property
    def _aligned_width(self):
        return self._fmt.man_bits + 1 + self._guard + int(self._sticky)

    def elaborate(self, platform):
        m = Module()
        fmt, out_fmt, n = self._fmt, self._out_fmt, self._terms
        man, ew, w = fmt.man_bits, fmt.exp_bits, fmt.width
        pipe = _Pipeline(m, self._stages, cuts=3, name="fused")

        def decode(bits):
            return bits[w - 1], bits[man : w - 1], bits[:man]  # sign, exponent field, mantissa

        # Phase 0: classify, maximum exponent of the finite terms.
        terms = [self.a[k] for k in range(n)]
        exps, nan, pos_inf, neg_inf = [], [], [], []
        for k, bits in enumerate(terms):
            sign, field, frac = decode(bits)
            special = _wire(m, field == fmt.exp_max, f"t{k}_special")
            exps.append(_wire(m, Mux(special, 1, field | (field == 0)), f"t{k}_exp"))  # max(f, 1); specials 1
            nan.append(special & frac.any())
            pos_inf.append(special & ~frac.any() & ~sign)
            neg_inf.append(special & ~frac.any() & sign)
        emax = _tree(m, exps, lambda x, y: Mux(x > y, x, y)[:ew], "emax")
        any_pos_inf, any_neg_inf = Cat(*pos_inf).any(), Cat(*neg_inf).any()
        is_nan = Cat(*nan).any() | (any_pos_inf & any_neg_inf)
        is_inf = any_pos_inf | any_neg_inf
        p = pipe.cut(0, a=self.a.as_value(), emax=emax, is_nan=is_nan, is_inf=is_inf, inf_sign=any_neg_inf)

        # Phase 1: align every term to emax (truncating, or jamming into a sticky bit); ones' complement the
        # negative ones (the missing +1s are added in the sum as the count of negative terms).
        qw = self._aligned_width
        aligned, signs = {}, []
        for k in range(n):
            sign, field, frac = decode(p["a"][k * w : (k + 1) * w])
            exp = field | (field == 0)
            shift = (p["emax"] - exp)[:ew]  # >= 0 for finite terms; specials are overridden at the end
            x = Cat(Const(0, self._guard), frac, field != 0)  # sig * 2**guard
            if self._sticky:
                shifted, lost = _shift_right_sticky(m, x, shift, len(x), name=f"t{k}_align")
                q = Cat(lost, shifted)
            else:
                capped = Mux(shift > len(x), len(x), shift)[: len(x).bit_length()]
                q = x >> capped
            # (A special term's q is meaningless but bounded like any other; the result is overridden.)
            q = _wire(m, q, f"t{k}_q")
            qs = Cat(q, Const(0, 1)).as_signed()  # qw + 1 bits
            aligned[f"t{k}"] = _wire(m, Mux(sign, ~qs, qs), f"t{k}_ones")
            signs.append(sign)
        assert len(q) == qw
        negatives = _tree(m, [s.as_unsigned() for s in signs], lambda x, y: x + y, "neg")
        p = pipe.cut(
            1, negatives=negatives, **aligned, **{k: p[k] for k in ("emax", "is_nan", "is_inf", "inf_sign")}
        )

        # Phase 2: the exact integer sum.
        total = _tree(m, [p[f"t{k}"] for k in range(n)] + [p["negatives"]], lambda x, y: x + y, "sum")
        total = total[: self.sum_width].as_signed()  # |S| < terms * 2**qw: the truncation is exact
        p = pipe.cut(2, total=total, **{k: p[k] for k in ("emax", "is_nan", "is_inf", "inf_sign")})

        # Phase 3: normalise and round once, override specials.
        scale_offset = -(fmt.bias + man + self._guard + int(self._sticky))
        m.submodules.from_int = from_int = FPFromInt(
            self.sum_width, ew, out_fmt, scale_offset, rounding=self._rounding
        )
        m.d.comb += [from_int.i.eq(p["total"]), from_int.e.eq(p["emax"])]
        ow = out_fmt.width
        result = Signal(ow)
        with m.If(p["is_nan"]):
            m.d.comb += result.eq(out_fmt.canonical_nan)
        with m.Elif(p["is_inf"]):
            m.d.comb += result.eq(Cat(Const(out_fmt.inf, ow - 1), p["inf_sign"]))
        with m.Else():
            m.d.comb += result.eq(from_int.o)
        p = pipe.cut(3, result=result)
        m.d.comb += self.o.eq(p["result"])
        return m
