"""The adapted core: a ternary core and its LoRA-family adapter unit (:mod:`hwgen.description.adapter`).

:class:`AdaptedCore` wraps a :class:`~hwgen.gateware.core.LutCore` (unchanged) with the adapter
unit the description defines: the lanes' copy of the activations, written as the core's ``act``
stream is accepted; ``lanes`` multiply-accumulate lanes that run the down-projection (passes of
``chunk``-lane groups, then a reduction along the description's tree), the scaling of ``u`` into
the adapter format, and per output tile the up-projection and the add into the core's tile; the
hold buffer the core's tiles wait in; and the job front end that checks every descriptor. Every
floating-point unit is combinational; integer sums are exact. The arithmetic and the order of every
operation are those of :class:`sim.adapter_reference.AdapterReference`.
"""

from __future__ import annotations

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwgen.description.adapter import INT_SCALE_BITS, AdapterConfig
from hwgen.description.config import FP_FORMATS, ConfigError
from hwgen.description.vera import GOLDEN, MIX32_ROUNDS, STEP, bound_exponent

from .arith import FPAdd, FPConvert, FPFromInt, FPMul
from .core import LutCore, act_layout, keys_layout, out_layout

__all__ = [
    "AdaptedCore",
    "adapted_job_layout",
    "adapted_out_layout",
    "weights_layout",
    "bvec_layout",
    "adapter_emit_problems",
    "adapted_name",
    "GeneratorLane",
    "RowKeyUnit",
]

_M32 = 0xFFFFFFFF


def adapted_job_layout(adapter: AdapterConfig) -> data.StructLayout:
    """Job descriptor: the core's ``n`` and ``m``, then :attr:`AdapterConfig.job_fields`."""
    core = adapter.core
    fields = {"n": unsigned(core.max_n.bit_length()), "m": unsigned(core.max_m.bit_length())}
    fields.update({name: unsigned(bits) for name, bits in adapter.job_fields})
    return data.StructLayout(fields)


def adapted_out_layout(adapter: AdapterConfig) -> data.StructLayout:
    """One output tile: the core's ``data`` and ``last``, and ``error`` (the job's descriptor was
    invalid: it ran with the adapter off)."""
    core_out = out_layout(adapter.core)
    return data.StructLayout({"data": core_out["data"].shape, "last": 1, "error": 1})


def weights_layout(adapter: AdapterConfig) -> data.ArrayLayout:
    """One word of the ``weights`` stream (``lora``, ``ternary-a``): ``lanes`` values of ``fmt``
    (integer: int8). Down-projection words (``lora``): for each pass, for each step, lane ``g *
    chunk + c`` holds ``A[row, i]`` of the pass's row ``g`` and input ``i = step * chunk + c``.
    Up-projection words: for each output tile, for each group of ``min(lanes, keys)`` outputs, for
    each rank row ``j``, lane ``p`` holds ``B[k, j]`` of output ``k = tile * keys + group *
    up_width + p``. Values past ``n``, ``m`` or the rows are ignored."""
    return data.ArrayLayout(unsigned(adapter.fmt_bits), adapter.lanes)


def bvec_layout(adapter: AdapterConfig) -> data.ArrayLayout:
    """One word of ``vera``'s ``bvec`` stream: the scales ``b`` of one output group (``up_width``
    values of ``acc``; integer: int8), one word per group of every tile."""
    return data.ArrayLayout(unsigned(adapter.b_bits), adapter.up_width)


def adapted_name(adapter: AdapterConfig) -> str:
    """Verilog module name of the adapted core: the core's, the variant, ``r<max_rank>`` and
    ``p<lanes>``, e.g. ``lut_fp16_mu3_66x64_lora_r16p96``."""
    return f"{adapter.core.name}_{adapter.variant.replace('-', '')}_r{adapter.max_rank}p{adapter.lanes}"


def adapter_emit_problems(adapter: AdapterConfig) -> list[str]:
    """Why the generator cannot emit ``adapter`` (one line each); empty when it can."""
    problems = list(adapter.core.emit_problems())
    return problems


def _fmix32(x):
    """The row-key finaliser (:func:`hwgen.description.vera.fmix32`) on a 32-bit value."""
    x = (x ^ (x >> 16))[:32]
    x = (x * 0x85EBCA6B)[:32]
    x = (x ^ (x >> 13))[:32]
    x = (x * 0xC2B2AE35)[:32]
    return (x ^ (x >> 16))[:32]


def _mix32(x):
    """:func:`hwgen.description.vera.mix32` on a 32-bit value (adds and shifts only)."""
    for left, right in MIX32_ROUNDS:
        x = (x + (x << left))[:32]
        x = (x ^ (x >> right))[:32]
    return x


def _rhu(value, shift):
    """``value / 2**shift`` rounded half up (``shift`` a signal; ``value`` signed)."""
    return Mux(shift == 0, value, ((value >> (shift - 1).as_unsigned()[: len(shift)]) + 1) >> 1)


def _clamp(value, lo, hi, width):
    return Mux(value < lo, Const(lo, signed(width)), Mux(value > hi, Const(hi, signed(width)), value))


class RowKeyUnit(wiring.Component):
    """The VeRA row key's finaliser, ``fmix32`` (:mod:`hwgen.description.vera`), combinational:
    ``o = fmix32(i)``. One per adapter unit, shared by every row."""

    def __init__(self):
        super().__init__({"i": In(32), "o": Out(32)})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(_fmix32(self.i))
        return m


class GeneratorLane(wiring.Component):
    """One lane's VeRA value (:mod:`hwgen.description.vera`): ``mix32(key + colterm)`` and its value
    in ``fmt``: the top bits as an odd integer times ``2**(e - 4 - (M + 1))`` (floating point; ``e``
    is ``4 -`` the bound's exponent) or the top byte (``int8``). Combinational.

    Members
    -------
    key : In(32)
        The row's key (``row_key`` of the matrix and row).
    colterm : In(32)
        ``0x7FEB352D * (col + 1)`` of the lane's column (the lane keeps it as a running sum).
    e : In(3)
        ``4 - e`` of the bound ``2**-e`` (floating point only).
    value : Out(bits of fmt)
        The element's value, a bit pattern of ``fmt`` (``int8``: the byte).
    """

    def __init__(self, fmt: str):
        self._fmt = fmt
        ports = {"key": In(32), "colterm": In(32), "value": Out(8 if fmt == "int8" else 16)}
        if fmt != "int8":
            ports["e"] = In(3)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        word = Signal(32)
        m.d.comb += word.eq(_mix32((self.key + self.colterm)[:32]))
        if self._fmt == "int8":
            m.d.comb += self.value.eq(word[24:32])
            return m
        fmt = FP_FORMATS[self._fmt]
        man = fmt.man_bits
        odd = Signal(signed(man + 3))
        m.d.comb += odd.eq(Cat(Const(1, 1), word[31 - man : 32]) - (1 << (man + 1)))
        m.submodules.conv = conv = FPFromInt(man + 3, 3, fmt, -(man + 1) - 4)
        m.d.comb += [conv.i.eq(odd), conv.e.eq(self.e), self.value.eq(conv.o)]
        return m


class AdaptedCore(wiring.Component):
    """A ternary core with an adapter unit: ``y = W x`` plus the adapter's ``B (A x)`` path.

    Protocol, per job (as :class:`~hwgen.gateware.core.LutCore`, plus):

    1. ``job``: ``{n, m, adapter, rank, down, ...}`` (:func:`adapted_job_layout`). ``adapter = 0``
       runs the core alone. A shared-input group's first job names in ``down`` the stacked rank rows
       of the group (its own ``rank`` first, the later jobs' next, in job order); the later jobs
       give ``down = 0`` and take the next ``rank`` rows. An invalid descriptor (adapter beyond
       ``resident``, rank 0 or beyond ``max_rank``, ``down`` beyond ``share * max_rank`` or below
       the rows its jobs take, a ``ternary-a`` job too long for the core with its ``u`` tiles) runs
       the job with the adapter off and sets ``error`` on its tiles; the adapter then takes no
       ``weights``, ``scales`` or ``bvec`` for it.
    2. ``act``: as the core's; the unit keeps its own copy of ``x`` (``lora``/``vera``).
    3. ``keys``: as the core's; a ``ternary-a`` group's first job first streams the keys of
       ``ceil(down / keys)`` more output tiles: A's columns (``A.T``, ``down`` ternary columns,
       padded with zero keys), whose sums are ``u``.
    4. ``scales``: ``d[j]`` for each row of a group's down-projection, in row order (``lora`` and
       ``ternary-a``: the job's ``s`` for each of its rows), in the ``acc`` format (integer:
       16-bit signed).
    5. ``weights`` (``lora``, ``ternary-a``): A's words of the group's down-projection (``lora``),
       then for every adapted job its B words (:func:`weights_layout`). ``bvec`` (``vera``): the
       scales ``b`` of each output group (:func:`bvec_layout`).
    6. ``out``: the job's tiles with the adapter's result added, ``last`` on the final one and
       ``error`` as above.

    Raises
    ------
    ConfigError
        If the design cannot be generated (:func:`adapter_emit_problems`).
    """

    def __init__(self, adapter: AdapterConfig, *, shared_units: bool = False):
        problems = adapter_emit_problems(adapter)
        if problems:
            raise ConfigError(problems)
        self._ad = adapter
        self._core = LutCore(adapter.core, shared_units=shared_units)
        core = adapter.core
        ports = {
            "job": In(stream.Signature(adapted_job_layout(adapter))),
            "act": In(stream.Signature(act_layout(core))),
            "keys": In(stream.Signature(keys_layout(core))),
            "scales": In(stream.Signature(unsigned(adapter.scale_bits))),
            "out": Out(stream.Signature(adapted_out_layout(adapter))),
        }
        if adapter.variant == "vera":
            ports["bvec"] = In(stream.Signature(bvec_layout(adapter)))
        else:
            ports["weights"] = In(stream.Signature(weights_layout(adapter)))
        super().__init__(ports)

    @property
    def adapter(self) -> AdapterConfig:
        return self._ad

    @property
    def core(self) -> LutCore:
        """The core inside (its shared modules, with ``shared_units``: :attr:`LutCore.shared_units`)."""
        return self._core

    def elaborate(self, platform):  # noqa: C901 - one state machine, read top to bottom
        m = Module()
        ad = self._ad
        core_cfg = ad.core
        keys, tile_n = core_cfg.keys, core_cfg.tile_n
        P, up_w = ad.lanes, ad.up_width
        is_int, vera, tern = ad.is_int, ad.variant == "vera", ad.variant == "ternary-a"
        acc_w = core_cfg.acc_width
        fmt_bits = ad.fmt_bits
        fmt = None if is_int else FP_FORMATS[ad.fmt]
        acc_fmt = None if not core_cfg.is_fp else core_cfg.acc_type.fmt
        act_fmt = None if not core_cfg.is_fp else core_cfg.act_type.fmt
        lane_w = ad.lane_acc_width if is_int else acc_w
        n_w, m_w = core_cfg.max_n.bit_length(), core_cfg.max_m.bit_length()
        rows_w = max(1, ad.u_entries.bit_length())

        m.submodules.core = core = self._core

        # --- records of accepted jobs, front end -> back end ---
        rec_layout = data.StructLayout(
            {
                "n": unsigned(n_w),
                "m": unsigned(m_w),
                "use": 1,
                "err": 1,
                "rank": unsigned(rows_w),
                "down": unsigned(rows_w),
                "offset": unsigned(rows_w),
                "shift_u": 6,
                "shift_s": 6,
                "shift_v": 6,
                "load": 1,
                "entry": unsigned(max(1, int(ad.resident).bit_length())),
            }
        )
        m.submodules.records = records = SyncFIFOBuffered(width=rec_layout.size, depth=4)
        m.submodules.hold = hold = SyncFIFOBuffered(width=out_layout(core_cfg).size, depth=ad.hold)

        # --- front end: check the descriptor, start the core, queue the record ---
        j = self.job.p
        on = j.adapter != 0
        new_group = j.down != 0
        rows_avail = Signal(rows_w + 1)
        offset = Signal(rows_w + 1)
        start = Mux(new_group, 0, offset) if not vera else Const(0, 1)  # vera: A is shared, rows from 0
        avail = Mux(new_group, j.down, rows_avail)
        tern_tiles = sum((j.down > e * keys).as_unsigned() for e in range(-(-ad.u_entries // keys)))
        def above(field, top):  # a field beyond its maximum (never, when the maximum fills the field)
            return field > top if top < (1 << len(field)) - 1 else Const(0, 1)

        err = on & (above(j.adapter, ad.resident) | (j.rank == 0) | above(j.rank, ad.max_rank)
                    | above(j.down, ad.u_entries) | (start + j.rank > avail))
        if tern:
            err = err | (on & new_group & (j.m + tern_tiles * keys > core_cfg.max_m))
        onchip = ad.storage == "onchip"
        load = j.load if onchip else Const(0, 1)  # a load job: write its words into the store
        if onchip:  # a load names a valid entry and shape; the rows it would take are not checked
            err = Mux(load, ~on | above(j.adapter, ad.resident) | (j.rank == 0) | above(j.rank, ad.max_rank)
                      | above(j.down, ad.u_entries), err)
        use = Signal()
        m.d.comb += use.eq(on & ~err)
        x_job = use & new_group & ~load & (not tern)
        down_pending = Signal()  # a down-projection not done reading the copy of x
        can = records.w_rdy & ~(x_job & down_pending)
        m.d.comb += [
            core.job.valid.eq(self.job.valid & can & ~load),
            core.job.p.n.eq(j.n),
            core.job.p.m.eq(j.m + (Mux(use & new_group, tern_tiles * keys, 0) if tern else 0)),
            self.job.ready.eq(Mux(load, 1, core.job.ready) & can),
            records.w_en.eq(self.job.valid & self.job.ready),
        ]
        rec_in = data.View(rec_layout, records.w_data)
        m.d.comb += [
            rec_in.n.eq(j.n),
            rec_in.m.eq(j.m),
            rec_in.use.eq(use),
            rec_in.err.eq(err),
            rec_in.rank.eq(j.rank),
            rec_in.down.eq(Mux(use, j.down, 0)),
            rec_in.offset.eq(start),
            rec_in.load.eq(load),
            rec_in.entry.eq(j.adapter),
        ]
        if is_int:
            m.d.comb += [rec_in.shift_u.eq(j.shift_u), rec_in.shift_s.eq(j.shift_s)]
            if vera:
                m.d.comb += rec_in.shift_v.eq(j.shift_v)
        accepted = self.job.valid & self.job.ready
        x_active = Signal()
        with m.If(accepted & ~load):
            with m.If(use & new_group):
                m.d.sync += [rows_avail.eq(j.down), offset.eq(j.rank)]
            with m.Elif(use):
                m.d.sync += offset.eq(offset + j.rank)
            m.d.sync += x_active.eq(x_job)

        # --- activations: to the core, and into the lanes' copy of x ---
        m.d.comb += [
            core.act.valid.eq(self.act.valid),
            core.act.p.eq(self.act.p),
            self.act.ready.eq(core.act.ready),
            core.keys.valid.eq(self.keys.valid),
            core.keys.p.eq(self.keys.p),
            self.keys.ready.eq(core.keys.ready),
        ]
        x_rows_written = Signal(range(core_cfg.max_tiles_n + 1))
        x_wr_row = Signal(range(core_cfg.max_tiles_n + 1))  # memory row and activation row within it
        x_wr_sub = Signal(range(max(2, ad.chunk // tile_n if not tern else 1) + 1))
        with m.If(accepted & x_job):
            m.d.sync += [x_rows_written.eq(0), x_wr_row.eq(0), x_wr_sub.eq(0)]
        if not tern:
            depth, width = ad.x_rows
            per_row = max(1, ad.chunk // tile_n)  # activation rows per memory row
            m.submodules.x_mem = x_mem = Memory(
                shape=data.ArrayLayout(unsigned(fmt_bits), width), depth=depth, init=[]
            )
            wr = x_mem.write_port(granularity=tile_n) if per_row > 1 else x_mem.write_port()
            rd = x_mem.read_port(domain="sync")  # re-reads the current step's row unless it advances
            lanes_in = Signal(data.ArrayLayout(unsigned(fmt_bits), tile_n))
            for i in range(tile_n):
                lane = self.act.p[i]
                if is_int:
                    m.d.comb += lanes_in[i].eq(
                        lane.as_signed()[:8] if core_cfg.act_width >= 8 else lane.as_signed()
                    )
                elif act_fmt == fmt:
                    m.d.comb += lanes_in[i].eq(lane)
                else:
                    conv = FPConvert(act_fmt, fmt)
                    m.submodules[f"x_conv{i}"] = conv
                    m.d.comb += [conv.i.eq(lane), lanes_in[i].eq(conv.o)]
            x_write = x_active & self.act.valid & self.act.ready
            m.d.comb += wr.addr.eq(x_wr_row)
            if per_row > 1:
                m.d.comb += wr.data.eq(Cat(*([lanes_in.as_value()] * per_row)))
                m.d.comb += wr.en.eq(Mux(x_write, Const(1, per_row) << x_wr_sub, 0))
            else:
                m.d.comb += [wr.data.eq(lanes_in), wr.en.eq(x_write)]
            with m.If(x_write):
                m.d.sync += x_rows_written.eq(x_rows_written + 1)
                if per_row > 1:
                    with m.If(x_wr_sub == per_row - 1):
                        m.d.sync += [x_wr_sub.eq(0), x_wr_row.eq(x_wr_row + 1)]
                    with m.Else():
                        m.d.sync += x_wr_sub.eq(x_wr_sub + 1)
                else:
                    m.d.sync += x_wr_row.eq(x_wr_row + 1)

        # --- core tiles into the hold buffer ---
        m.d.comb += [hold.w_data.eq(core.out.p), hold.w_en.eq(core.out.valid), core.out.ready.eq(hold.w_rdy)]
        held = data.View(out_layout(core_cfg), hold.r_data)

        # --- the on-chip store of weights words (storage "onchip") ---
        st_ptr = Signal(range(max(2, ad.resident * ad.store_words + 1)))
        st_take = Signal()  # a stored word is used (or written) this cycle
        if onchip:
            m.submodules.store = store = Memory(shape=data.ArrayLayout(unsigned(fmt_bits), P),
                                                depth=ad.resident * ad.store_words, init=[])
            st_wr = store.write_port()
            st_rd = store.read_port(domain="sync")  # the word at st_ptr, one cycle after it is presented
            m.d.comb += [st_rd.addr.eq(Mux(st_take, st_ptr + 1, st_ptr)), st_rd.en.eq(1),
                         st_wr.addr.eq(st_ptr), st_wr.data.eq(self.weights.p)]
            with m.If(st_take):
                m.d.sync += st_ptr.eq(st_ptr + 1)

        # --- the back end's registers ---
        rec = Signal(rec_layout)
        m_rem = Signal(range(core_cfg.max_m + 1))  # outputs of the job from the current tile on
        grp = Signal(range(-(-keys // up_w) + 1))
        jrow = Signal(range(ad.max_rank + 1))
        lane_acc = [
            Signal(signed(lane_w) if is_int else unsigned(lane_w), name=f"lane_acc{p}") for p in range(P)
        ]
        u_acc = Array(
            Signal(signed(lane_w) if is_int else unsigned(lane_w), name=f"u{r}") for r in range(ad.u_entries)
        )
        uf = Array(
            Signal(signed(8) if is_int else unsigned(fmt_bits), name=f"uf{r}") for r in range(ad.max_rank)
        )
        out_reg = Signal(data.ArrayLayout(signed(acc_w) if not core_cfg.is_fp else unsigned(acc_w), keys))
        out_last = Signal()
        out_err = Signal()
        out_valid = Signal()
        m.d.comb += [
            self.out.valid.eq(out_valid),
            self.out.p.data.eq(out_reg),
            self.out.p.last.eq(out_last),
            self.out.p.error.eq(out_err),
        ]

        # --- lanes: multiplier (fmt), adder (acc), register ---
        mode = Signal(3)  # 0 idle, 1 multiply-accumulate, 2 reduce, 3 scale by b (vera), 4 add into the tile
        first = Signal()
        level = Signal(range(max(1, len(ad.down_engine.tree_levels) if not tern else 1) + 1))
        mul_a = [Signal(unsigned(fmt_bits) if not is_int else signed(8), name=f"mul_a{p}") for p in range(P)]
        mul_b = [Signal(unsigned(fmt_bits) if not is_int else signed(8), name=f"mul_b{p}") for p in range(P)]
        products = []
        for p in range(P):
            if is_int:
                prod = Signal(signed(16), name=f"prod{p}")
                m.d.comb += prod.eq(mul_a[p] * mul_b[p])
            else:
                mul = FPMul(fmt)
                m.submodules[f"lane_mul{p}"] = mul
                m.d.comb += [mul.a.eq(mul_a[p]), mul.b.eq(mul_b[p])]
                prod = mul.o
                if fmt != acc_fmt:
                    conv = FPConvert(fmt, acc_fmt)
                    m.submodules[f"lane_conv{p}"] = conv
                    m.d.comb += conv.i.eq(prod)
                    prod = conv.o
            products.append(prod)
        add_a = [Signal.like(lane_acc[p], name=f"add_a{p}") for p in range(P)]
        add_b = [Signal.like(lane_acc[p], name=f"add_b{p}") for p in range(P)]
        sums = []
        for p in range(P):
            if is_int:
                s = Signal(signed(lane_w + 1), name=f"sum{p}")
                m.d.comb += s.eq(add_a[p] + add_b[p])
            else:
                add = FPAdd(acc_fmt)
                m.submodules[f"lane_add{p}"] = add
                m.d.comb += [add.a.eq(add_a[p]), add.b.eq(add_b[p])]
                s = add.o
            sums.append(s)

        # reduction partners: level L adds lane (g, partner) into lane (g, c)
        partners: list[dict[int, int]] = []
        root = 0
        if not tern:
            where = list(range(ad.chunk))  # lane holding each value of the current level
            for nodes in ad.down_engine.tree_levels:
                pairs, nxt = {}, []
                for nd in nodes:
                    if len(nd.inputs) == 2:
                        pairs[where[nd.inputs[0]]] = where[nd.inputs[1]]
                    nxt.append(where[nd.inputs[0]])
                partners.append(pairs)
                where = nxt
            root = where[0]

        # lane operands per mode are set by the state machine below; accumulate / reduce here
        for p in range(P):
            with m.If(mode == 1):
                m.d.comb += [add_a[p].eq(lane_acc[p]), add_b[p].eq(products[p])]
                m.d.sync += lane_acc[p].eq(Mux(first, products[p], sums[p]))
            if partners:
                g, c = divmod(p, ad.chunk) if ad.chunk else (0, p)
                with m.If(mode == 2):
                    for lvl, pairs in enumerate(partners):
                        if c in pairs and g < ad.trees:
                            with m.If(level == lvl):
                                m.d.comb += [
                                    add_a[p].eq(lane_acc[p]),
                                    add_b[p].eq(lane_acc[g * ad.chunk + pairs[c]]),
                                ]
                                m.d.sync += lane_acc[p].eq(sums[p])

        # --- scale unit: u into the adapter format ---
        scale_u = Signal.like(lane_acc[0], name="scale_u")
        d_val = self.scales.p
        if is_int:
            scaled = Signal(signed(lane_w + INT_SCALE_BITS), name="scaled")
            m.d.comb += scaled.eq(scale_u * d_val.as_signed())
            u_scaled = _clamp(_rhu(scaled, rec.shift_u), -128, 127, lane_w + INT_SCALE_BITS)
        else:
            smul = FPMul(acc_fmt)
            m.submodules.scale_mul = smul
            m.d.comb += [smul.a.eq(d_val), smul.b.eq(scale_u)]
            u_scaled = smul.o
            if acc_fmt != fmt:
                sconv = FPConvert(acc_fmt, fmt)
                m.submodules.scale_conv = sconv
                m.d.comb += sconv.i.eq(smul.o)
                u_scaled = sconv.o

        # --- VeRA generators ---
        if vera:
            m.submodules.row_key = row_key = RowKeyUnit()
            key_mul, key_out = row_key.i, row_key.o
            keys_a = [Signal(32, name=f"key_a{g}") for g in range(ad.trees)]
            keys_b = Array(Signal(32, name=f"key_b{r}") for r in range(ad.max_rank))
            colterm = [Signal(32, name=f"colterm{p}") for p in range(P)]
            e_a = bound_exponent(ad.fan_in)
            gens = []
            for p in range(P):
                gen = GeneratorLane(ad.fmt)
                m.submodules[f"gen{p}"] = gen
                m.d.comb += gen.colterm.eq(colterm[p])
                gens.append(gen)
            rank_e = Signal(3)  # 4 - e of B's bound for the job's rank (rank <= 256: e <= 4)
            for r in range(1, ad.max_rank + 1) if not is_int else ():
                with m.If(rec.rank == r):
                    m.d.comb += rank_e.eq(4 - bound_exponent(r))

            def gen_value(m, p, for_b):
                """Lane ``p``'s generated value (B's when ``for_b``); its key is set by the caller."""
                if not is_int:
                    m.d.comb += gens[p].e.eq(rank_e if for_b else 4 - e_a)
                return gens[p].value

        # operands from the store (a job that names an onchip entry) or from the weights stream
        from_store = Signal()
        stored = st_rd.data if onchip else self.weights.p if not vera else None
        if onchip:
            m.d.comb += from_store.eq(rec.use & ~rec.load)

        # --- the back end's state machine ---
        step = Signal(range(core_cfg.max_n + 1))
        i_base = Signal(range(core_cfg.max_n + ad.chunk + 2 if not tern else 2))
        row_base = Signal(range(ad.u_entries + 1))
        g_scale = Signal(range(max(ad.trees, keys, ad.max_rank) + 1))
        x_row = Signal(range(max(1, ad.x_rows[0]) + 1))
        x_sub = Signal(range((max(1, tile_n // ad.chunk) if not tern else 1) + 1))
        last_tile = m_rem <= keys
        width = Mux(last_tile, m_rem, keys)
        groups = Signal(range(-(-keys // up_w) + 1))
        m.d.comb += groups.eq(sum((width > gi * up_w).as_unsigned() for gi in range(-(-keys // up_w))))
        with m.If(accepted & x_job):
            m.d.sync += down_pending.eq(1)
        if not tern:
            m.d.comb += [rd.addr.eq(x_row), rd.en.eq(1)]

        with m.FSM(name="adapter"):
            with m.State("IDLE"):
                m.d.comb += records.r_en.eq(1)
                with m.If(records.r_rdy):
                    r = data.View(rec_layout, records.r_data)
                    m.d.sync += [
                        rec.eq(records.r_data),
                        grp.eq(0),
                        jrow.eq(0),
                        m_rem.eq(r.m),
                        row_base.eq(0),
                        g_scale.eq(0),
                    ]
                    if onchip:
                        m.d.sync += [st_ptr.eq((r.entry - 1) * ad.store_words), i_base.eq(0)]
                    with m.If(r.load):
                        if onchip:
                            with m.If(r.use & (r.down != 0) & (ad.variant == "lora")):
                                m.next = "LOAD_DOWN"
                            with m.Elif(r.use):
                                m.next = "LOAD_UP"
                    with m.Elif(~r.use):
                        m.next = "PASS"
                    with m.Elif(r.down != 0):
                        m.next = "TERN_U" if tern else "WAIT_X"
                    with m.Else():
                        m.next = "UP_START"
            with m.State("PASS"):
                m.d.comb += [
                    self.out.valid.eq(hold.r_rdy),
                    self.out.p.data.eq(held.data),
                    self.out.p.last.eq(held.last),
                    self.out.p.error.eq(rec.err),
                    hold.r_en.eq(self.out.ready),
                ]
                with m.If(hold.r_rdy & self.out.ready):
                    m.d.sync += m_rem.eq(m_rem - keys)
                    with m.If(last_tile):
                        m.next = "IDLE"
            if not tern:
                with m.State("WAIT_X"):  # until the job's rows of x are in the copy
                    with m.If(x_rows_written * tile_n >= rec.n):
                        m.d.sync += row_base.eq(0)
                        m.next = "DOWN_KEYS" if vera else "DOWN_PRE"
                if vera:
                    with m.State("DOWN_KEYS"):
                        row = row_base + g_scale
                        m.d.comb += key_mul.eq((ad.seed + GOLDEN * (2 * row + 1))[:32])
                        for g in range(ad.trees):
                            with m.If(g_scale == g):
                                m.d.sync += keys_a[g].eq(key_out)
                        m.d.sync += g_scale.eq(g_scale + 1)
                        with m.If(g_scale == ad.trees - 1):
                            m.d.sync += g_scale.eq(0)
                            m.next = "DOWN_PRE"
                with m.State("DOWN_PRE"):
                    m.d.comb += [rd.addr.eq(0), rd.en.eq(1)]
                    m.d.sync += [step.eq(0), i_base.eq(0), x_row.eq(0), x_sub.eq(0)]
                    if vera:
                        for p in range(P):
                            m.d.sync += colterm[p].eq((STEP * (p % ad.chunk + 1)) & _M32)
                    m.next = "DOWN_MAC"
                with m.State("DOWN_MAC"):
                    advance = Signal()
                    m.d.comb += advance.eq(1 if vera else (from_store | self.weights.valid))
                    if not vera:
                        m.d.comb += self.weights.ready.eq(~from_store)
                        if onchip:
                            m.d.comb += st_take.eq(from_store & advance)
                    m.d.comb += [mode.eq(Mux(advance, 1, 0)), first.eq(step == 0)]
                    subs = max(1, tile_n // ad.chunk)
                    row_lanes = rd.data
                    for p in range(P):
                        g, c = divmod(p, ad.chunk)
                        if ad.chunk <= tile_n:
                            x_val = Array(row_lanes[q * ad.chunk + c] for q in range(subs))[x_sub]
                        else:
                            x_val = row_lanes[c]
                        inside = (i_base + c) < rec.n
                        if vera:
                            m.d.comb += gens[p].key.eq(keys_a[g])
                            a_val = gen_value(m, p, False)
                        else:
                            a_val = Mux(from_store, stored[p], self.weights.p[p])
                        m.d.comb += [mul_a[p].eq(Mux(inside, a_val, 0)), mul_b[p].eq(Mux(inside, x_val, 0))]
                    with m.If(advance):
                        last_sub = x_sub == subs - 1
                        next_row = Mux(last_sub, x_row + 1, x_row) if subs > 1 else x_row + 1
                        m.d.comb += [rd.addr.eq(next_row), rd.en.eq(1)]
                        m.d.sync += [
                            step.eq(step + 1),
                            i_base.eq(i_base + ad.chunk),
                            x_row.eq(next_row),
                            x_sub.eq(Mux(last_sub, 0, x_sub + 1) if subs > 1 else 0),
                        ]
                        if vera:
                            for p in range(P):
                                m.d.sync += colterm[p].eq((colterm[p] + (STEP * ad.chunk) % (1 << 32))[:32])
                        with m.If(i_base + ad.chunk >= rec.n):  # the pass's last step
                            m.d.sync += level.eq(0)
                            m.next = "REDUCE" if partners else "STORE"
                if partners:
                    with m.State("REDUCE"):
                        m.d.comb += mode.eq(2)
                        m.d.sync += level.eq(level + 1)
                        with m.If(level == len(partners) - 1):
                            m.next = "STORE"
                with m.State("STORE"):  # the pass's u rows, from the trees' roots
                    for g in range(ad.trees):
                        with m.If(row_base + g < rec.down):
                            m.d.sync += u_acc[row_base + g].eq(lane_acc[g * ad.chunk + root])
                    m.d.sync += row_base.eq(row_base + ad.trees)
                    with m.If(rec.down - row_base <= ad.trees):
                        m.d.sync += down_pending.eq(0)
                        m.next = "UP_START"
                    with m.Else():
                        m.next = "DOWN_KEYS" if vera else "DOWN_PRE"
            else:
                with m.State("TERN_U"):  # the core's u tiles, from the hold buffer
                    with m.If(hold.r_rdy):
                        m.d.comb += hold.r_en.eq(1)
                        for k in range(keys):
                            with m.If(row_base + k < rec.down):
                                m.d.sync += u_acc[row_base + k].eq(held.data[k])
                        m.d.sync += row_base.eq(row_base + keys)
                        with m.If(rec.down - row_base <= keys):
                            m.next = "UP_START"
            with m.State("UP_START"):
                m.d.sync += [grp.eq(0), jrow.eq(0), g_scale.eq(0), m_rem.eq(rec.m)]
                if vera:
                    for p in range(P):
                        m.d.sync += colterm[p].eq((STEP * (p + 1)) & _M32)
                m.next = "UP_PREP"
            with m.State("UP_PREP"):  # the job's rows of u scaled into the adapter format (vera: B's keys)
                m.d.comb += [scale_u.eq(u_acc[rec.offset + g_scale]), self.scales.ready.eq(1)]
                if vera:
                    m.d.comb += key_mul.eq((ad.seed + GOLDEN * (2 * g_scale + 2))[:32])
                with m.If(self.scales.valid):
                    m.d.sync += [uf[g_scale].eq(u_scaled), g_scale.eq(g_scale + 1)]
                    if vera:
                        m.d.sync += keys_b[g_scale].eq(key_out)
                    with m.If(g_scale == rec.rank - 1):
                        m.d.sync += g_scale.eq(0)
                        m.next = "UP_MAC"
            with m.State("UP_MAC"):
                advance = Signal()
                m.d.comb += advance.eq(1 if vera else (from_store | self.weights.valid))
                if not vera:
                    m.d.comb += self.weights.ready.eq(~from_store)
                    if onchip:
                        m.d.comb += st_take.eq(from_store & advance)
                m.d.comb += [mode.eq(Mux(advance, 1, 0)), first.eq(jrow == 0)]
                u_val = Signal.like(uf[0], name="u_val")
                b_key = Signal(32, name="b_key") if vera else None
                m.d.comb += u_val.eq(uf[jrow])
                if vera:
                    m.d.comb += b_key.eq(keys_b[jrow])
                for p in range(up_w):  # lanes past up_width idle (+0 times +0)
                    inside = grp * up_w + p < width
                    if vera:
                        m.d.comb += gens[p].key.eq(b_key)
                        b_val = gen_value(m, p, True)
                    else:
                        b_val = Mux(from_store, stored[p], self.weights.p[p])
                    m.d.comb += [mul_a[p].eq(Mux(inside, b_val, 0)), mul_b[p].eq(Mux(inside, u_val, 0))]
                with m.If(advance):
                    m.d.sync += jrow.eq(jrow + 1)
                    with m.If(jrow == rec.rank - 1):
                        m.d.sync += jrow.eq(0)
                        m.next = "UP_BMUL" if vera else "UP_ADD"
            if vera:
                with m.State("UP_BMUL"):
                    m.d.comb += self.bvec.ready.eq(1)
                    with m.If(self.bvec.valid):
                        for p in range(up_w):
                            b_p = self.bvec.p[p]
                            if is_int:
                                v8 = _clamp(_rhu(lane_acc[p], rec.shift_v), -128, 127, lane_w + 1)
                                m.d.sync += lane_acc[p].eq(v8[:8].as_signed() * b_p.as_signed())
                            elif fmt == acc_fmt:
                                m.d.comb += [mul_a[p].eq(b_p), mul_b[p].eq(lane_acc[p])]
                                m.d.sync += lane_acc[p].eq(products[p])
                            else:
                                bmul = FPMul(acc_fmt)
                                m.submodules[f"vera_bmul{p}"] = bmul
                                m.d.comb += [bmul.a.eq(b_p), bmul.b.eq(lane_acc[p])]
                                m.d.sync += lane_acc[p].eq(bmul.o)
                        m.next = "UP_ADD"
            with m.State("UP_ADD"):
                with m.If(hold.r_rdy):
                    n_groups = -(-keys // up_w)
                    for p in range(up_w):  # lane p adds into output grp * up_w + p of the tile
                        core_val = Array(held.data[min(gi * up_w + p, keys - 1)]
                                         for gi in range(n_groups))[grp]
                        if is_int:
                            total = core_val.as_signed() + _rhu(lane_acc[p], rec.shift_s)
                            half = 1 << (acc_w - 1)
                            result = _clamp(total, -half, half - 1, max(acc_w, lane_w) + 2)[:acc_w]
                        else:
                            m.d.comb += [add_a[p].eq(core_val), add_b[p].eq(lane_acc[p])]
                            result = sums[p]
                        for gi in range(n_groups):
                            if gi * up_w + p < keys:
                                with m.If(grp == gi):
                                    m.d.sync += out_reg[gi * up_w + p].eq(result)
                    m.d.sync += grp.eq(grp + 1)
                    with m.If(grp == groups - 1):
                        m.d.sync += [out_valid.eq(1), out_last.eq(last_tile), out_err.eq(0)]
                        m.next = "EMIT"
                    with m.Else():
                        m.next = "UP_MAC"
                        if vera:
                            for p in range(P):
                                m.d.sync += colterm[p].eq((colterm[p] + STEP * up_w)[:32])
            with m.State("EMIT"):
                with m.If(self.out.ready):
                    m.d.comb += hold.r_en.eq(1)
                    m.d.sync += [out_valid.eq(0), grp.eq(0), m_rem.eq(m_rem - keys)]
                    if vera:
                        full = -(-keys // up_w)
                        for p in range(P):
                            m.d.sync += colterm[p].eq((colterm[p] + STEP * (keys - (full - 1) * up_w))[:32])
                    with m.If(last_tile):
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "UP_MAC"
            if onchip:
                with m.State("LOAD_DOWN"):  # a load job's down-projection words, as DOWN_MAC takes them
                    m.d.comb += self.weights.ready.eq(1)
                    with m.If(self.weights.valid):
                        m.d.comb += [st_wr.en.eq(1), st_take.eq(1)]
                        m.d.sync += i_base.eq(i_base + ad.chunk)
                        with m.If(i_base + ad.chunk >= rec.n):
                            m.d.sync += [i_base.eq(0), row_base.eq(row_base + ad.trees)]
                            with m.If(rec.down - row_base <= ad.trees):
                                m.next = "LOAD_UP"
                with m.State("LOAD_UP"):  # then its up-projection words, as UP_MAC takes them
                    m.d.comb += self.weights.ready.eq(1)
                    with m.If(self.weights.valid):
                        m.d.comb += [st_wr.en.eq(1), st_take.eq(1)]
                        m.d.sync += jrow.eq(jrow + 1)
                        with m.If(jrow == rec.rank - 1):
                            m.d.sync += [jrow.eq(0), grp.eq(grp + 1)]
                            with m.If(grp == groups - 1):
                                m.d.sync += [grp.eq(0), m_rem.eq(m_rem - keys)]
                                with m.If(last_tile):
                                    m.next = "IDLE"
        return m
