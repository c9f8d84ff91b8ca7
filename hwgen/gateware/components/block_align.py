"""Block-FP alignment: a row of floating-point activations as signed integers sharing one exponent."""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from hwgen.description.config import CoreConfig

__all__ = ["BlockAligner", "buffer_layout"]


def buffer_layout(cfg: CoreConfig) -> data.Layout:
    """One activation-buffer row: the ``act`` row as it came (``tile_n`` lanes), or for a block-FP
    core ``lanes`` (``tile_n`` signed :attr:`CoreConfig.fp_width`-bit integers) and ``exp`` (the
    row's shared exponent field, :attr:`CoreConfig.row_exp_bits`)."""
    if not cfg.is_blockfp:
        return data.ArrayLayout(unsigned(cfg.act_width) if cfg.is_fp else signed(cfg.act_width), cfg.tile_n)
    return data.StructLayout({"lanes": data.ArrayLayout(signed(cfg.fp_width), cfg.tile_n),
                              "exp": unsigned(cfg.row_exp_bits)})


def _shift_right(m: Module, value, amount, name: str):
    """``value >> amount`` (zeros shifted in) as a logarithmic shifter: one 2:1 mux stage per bit of
    ``amount`` (amounts past ``len(value)`` give 0)."""
    width = len(value)
    for b in range(len(amount)):
        step = 1 << b
        shifted = value[step:] if step < width else Const(0, width)
        stage = Signal(width, name=f"{name}_s{b}")
        m.d.comb += stage.eq(Mux(amount[b], shifted, value))
        value = stage
    return value


class BlockAligner(wiring.Component):
    """Align one row of ``tile_n`` floating-point activations to the row's largest exponent
    (combinational), as :attr:`CoreConfig.fp_reduce` ``"blockfp"`` defines it.

    For activation ``i`` with exponent field ``f_i``, mantissa ``m_i`` and sign ``s_i``: ``e_i =
    max(f_i, 1)``, significand ``sig_i = [f_i != 0] * 2**M + m_i``; ``e_max = max_i e_i``; lane ``i``
    is ``+-floor(sig_i * 2**(W - 2 - M) / 2**(e_max - e_i))`` (``W``: ``fp_width``, ``M``: mantissa
    bits), the magnitude truncated and then negated for a negative sign. The exponent output is
    ``e_max``: all ones when any activation is an infinity or NaN (their field is the largest).

    Members
    -------
    a : In(ArrayLayout(unsigned(act_width), tile_n))
        The activation row, bit patterns of the ``act`` format.
    row : Out(buffer_layout(cfg))
        ``lanes`` (the aligned integers) and ``exp`` (the shared exponent field).
    """

    def __init__(self, cfg: CoreConfig):
        if not cfg.is_blockfp:
            raise ValueError(f"BlockAligner is for fp_reduce='blockfp', not {cfg.fp_reduce!r}")
        self._cfg = cfg
        super().__init__({
            "a": In(data.ArrayLayout(unsigned(cfg.act_width), cfg.tile_n)),
            "row": Out(buffer_layout(cfg)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        fmt, width = cfg.act_type.fmt, cfg.fp_width
        man, exp_bits = fmt.man_bits, fmt.exp_bits
        left, right = max(0, width - 2 - man), max(0, man + 2 - width)
        exps, sigs, signs = [], [], []
        for i in range(cfg.tile_n):
            a = self.a[i]
            field = a[man: man + exp_bits]
            e = Signal(exp_bits, name=f"e{i}")
            sig = Signal(man + 1, name=f"sig{i}")
            m.d.comb += [e.eq(Mux(field == 0, 1, field)), sig.eq(Cat(a[:man], field != 0))]
            exps.append(e)
            sigs.append(sig)
            signs.append(a[-1])
        # Largest exponent: a balanced tree of max.
        level, depth = exps, 0
        while len(level) > 1:
            nxt = []
            for j in range(0, len(level) - 1, 2):
                x = Signal(exp_bits, name=f"emax_l{depth}_{j // 2}")
                m.d.comb += x.eq(Mux(level[j] >= level[j + 1], level[j], level[j + 1]))
                nxt.append(x)
            if len(level) % 2:
                nxt.append(level[-1])
            level, depth = nxt, depth + 1
        emax = level[0]
        for i in range(cfg.tile_n):
            base = Cat(Const(0, left), sigs[i]) if left else sigs[i]  # sig * 2**left, W - 1 + right bits
            shift = Signal(range(fmt.exp_max + right + 1), name=f"shift{i}")
            m.d.comb += shift.eq(emax - exps[i] + right)
            q = Signal(width - 1, name=f"q{i}")
            m.d.comb += q.eq(_shift_right(m, base, shift, f"shr{i}"))
            m.d.comb += self.row.lanes[i].eq(Mux(signs[i], -q, q))
        m.d.comb += self.row.exp.eq(emax)
        return m
