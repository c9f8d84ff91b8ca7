"""Gateware helpers shared by the floating-point units: argument checks, leading-zero count,
sticky shifts, round-and-pack, pipeline-register placement, and the two-operand unit base."""

from amaranth.hdl import Cat, Const, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.fp_format import FPFormat

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


def _round_pack(m, fmt, norm, exp, sticky_in, *, may_underflow, rounding="rne"):
    """Round a normalised significand to ``fmt`` (RNE, or toward zero with ``rounding="rtz"``) and
    assemble the bit pattern.

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
    round_up = _wire(m, guard & (sticky | q[0]), "rnd_up") if rounding == "rne" else Const(0, 1)
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


class _BinaryUnit(wiring.Component):
    """Base of the two-operand units: ports ``a``, ``b``, ``o`` of ``fmt``, ``stages`` registers."""

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
