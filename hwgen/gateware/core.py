"""The ternary-weight core (integer or floating-point activations): streams in, GEMV results out.

One core serves every :attr:`CoreConfig.arch`: the LUT core and its ``signflip`` baseline (the
LUT core at mu = 1) fetch signed LUT entries; the ``mac`` baseline multiplies activations by
full-width weight operands instead. Everything else (FSM, activation buffer, backpressure,
accumulator hazards, reduction tree, accumulation) is shared.
"""

from __future__ import annotations

from amaranth import Array, Cat, EnableInserter, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwgen.description.config import MAX_NETLIST_BITS, ConfigError, CoreConfig, Register

from .components.block_align import BlockAligner, buffer_layout
from .components.fetch import Fetcher, fetch_layouts
from .components.lane_arith import SharedUnits, acc_arith, delay, flat_signal, lane_arith
from .components.lut_builder import LutBuilder
from .components.multipliers import Multipliers
from .components.reduction_tree import ReductionTree

__all__ = [
    "LutCore", "job_layout", "act_layout", "keys_layout", "out_layout", "step_layout", "MAX_NETLIST_BITS",
]


def _lane(cfg: CoreConfig, width: int):
    """A datapath lane (LUT entry, operand) of ``width`` bits: signed for integer lanes."""
    return lane_arith(cfg).shape(width)


def _io_lane(cfg: CoreConfig, width: int):
    """A stream or accumulator lane of ``width`` bits: an FP bit pattern, or a signed integer."""
    return acc_arith(cfg).shape(width)


def job_layout(cfg: CoreConfig) -> data.StructLayout:
    """Job descriptor: ``n`` activations (1..max_n) and ``m`` outputs (1..max_m); ``n`` in the LSBs."""
    return data.StructLayout({"n": unsigned(cfg.max_n.bit_length()), "m": unsigned(cfg.max_m.bit_length())})


def act_layout(cfg: CoreConfig) -> data.ArrayLayout:
    """One activation row: ``tile_n`` lanes (signed integers or FP bit patterns); lane ``l*mu + j``
    is activation ``j`` of LUT ``l``."""
    return data.ArrayLayout(_io_lane(cfg, cfg.act_width), cfg.tile_n)


def keys_layout(cfg: CoreConfig) -> data.ArrayLayout:
    """One word of the ``keys`` stream: ``[l][k]`` is the key of LUT ``l`` for output lane ``k``
    (see :mod:`hwgen.description.key_encoding`); for ``mac`` cores, the weight operand of activation lane
    ``l`` for output lane ``k``, in the ``act`` format (:attr:`CoreConfig.key_bits` = act width)."""
    lane = _io_lane(cfg, cfg.key_bits) if cfg.is_mac else unsigned(cfg.key_bits)
    return data.ArrayLayout(data.ArrayLayout(lane, cfg.keys), cfg.luts)


def out_layout(cfg: CoreConfig) -> data.StructLayout:
    """One output tile: ``keys`` lanes of ``acc_width`` bits and ``last`` (final tile of the job)."""
    return data.StructLayout({"data": data.ArrayLayout(_io_lane(cfg, cfg.acc_width), cfg.keys), "last": 1})


def step_layout(cfg: CoreConfig) -> data.StructLayout:
    """What travels with each step through the pipeline: :attr:`CoreConfig.step_fields`."""
    return data.StructLayout({name: unsigned(width) for name, width in cfg.step_fields})


def _register(reg: Register) -> Signal:
    """The signal of one control register of the description."""
    return Signal(signed(reg.width) if reg.signed else unsigned(reg.width), name=reg.name)


class _Datapath(wiring.Component):
    """Everything after step issue; all registers are plain ``sync`` (the core stalls them with
    ``EnableInserter``). Latency from ``step`` to ``out_valid``: 2 + lut_build_latency +
    mul_latency + tree_latency + acc_latency cycles."""

    def __init__(self, cfg: CoreConfig, units: SharedUnits | None):
        self._cfg = cfg
        self._units = units
        super().__init__({
            "step": In(step_layout(cfg)),
            "key": In(keys_layout(cfg).size),  # a keys_layout word (a plain port: see flat_signal)
            "row": In(buffer_layout(cfg)),  # the activation-buffer row of the step, one cycle after ``step``
            "out_valid": Out(1),
            "out": Out(out_layout(cfg)),
        })

    def _lut_registers(self, m: Module, load: Value) -> list[list[Signal]]:
        """Build the LUTs from the activation row; ``regs[l][v - 1]`` holds entry ``v`` of LUT ``l``."""
        cfg = self._cfg
        lanes = self.row.lanes if cfg.is_blockfp else self.row
        luts = []
        for lut in range(cfg.luts):
            builder = LutBuilder(cfg, self._units)
            m.submodules[f"lut_builder{lut}"] = builder
            m.d.comb += builder.a.eq(Cat(lanes[lut * cfg.mu + j] for j in range(cfg.mu)))
            regs = [Signal(_lane(cfg, cfg.entry_width(v)), name=f"lut{lut}_e{v}")
                    for v in range(1, cfg.plan.entries + 1)]
            with m.If(load):
                m.d.sync += [reg.eq(builder.entries[i]) for i, reg in enumerate(regs)]
            luts.append(regs)
        return luts

    def _fetch(self, m: Module, luts: list[list[Signal]], key: Value) -> list[Value]:
        """The tree leaves of a LUT core: ``keys`` signed fetches from each LUT."""
        cfg = self._cfg
        leaves = []
        for lut, regs in enumerate(luts):
            if self._units is None:
                fetch = Fetcher(cfg)
                m.submodules[f"fetch{lut}"] = fetch
                m.d.comb += [fetch.entries[i].eq(reg) for i, reg in enumerate(regs)]
                m.d.comb += fetch.keys.eq(key[lut])
                leaves.append(fetch.values)
            else:  # one fetch module, written once
                entries_layout, values_layout = fetch_layouts(cfg)
                entries = flat_signal(entries_layout, f"fetch{lut}_entries")
                values = flat_signal(values_layout, f"fetch{lut}_values")
                m.d.comb += [entries[i].eq(reg) for i, reg in enumerate(regs)]
                self._units.instance(m, "fetch", lambda: Fetcher(cfg), f"fetch{lut}",
                                     i_entries=entries, i_keys=key[lut], o_values=values)
                leaves.append(values)
        return leaves

    def _operand_registers(self, m: Module, load: Value) -> list[Signal]:
        """``mac``: hold the activation row (what a LUT of mu = 1 stores) for the multipliers."""
        cfg = self._cfg
        regs = [Signal(_lane(cfg, cfg.act_width), name=f"operand{lane}") for lane in range(cfg.luts)]
        with m.If(load):
            m.d.sync += [reg.eq(self.row[lane]) for lane, reg in enumerate(regs)]
        return regs

    def _multiply(self, m: Module, operands: list[Signal], weights: Value) -> list[Value]:
        """The tree leaves of a ``mac`` core: ``keys`` products of each activation lane."""
        leaves = []
        for lane, reg in enumerate(operands):
            mul = Multipliers(self._cfg, self._units)
            m.submodules[f"mul{lane}"] = mul
            m.d.comb += [mul.a.eq(reg), mul.weights.eq(weights[lane])]
            leaves.append(mul.products)
        return leaves

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        arith = acc_arith(cfg, self._units)

        # Stage 1: the buffer read completes; LUT build (lut_build_latency cycles) into the LUT
        # registers (mac: the row into the operand registers), once per output block.
        s1 = Signal(step_layout(cfg))
        s1_key = flat_signal(keys_layout(cfg), "s1_key")
        m.d.sync += [s1.eq(self.step), s1_key.eq(self.key)]  # s1_key: a keys_layout view
        built = delay(m, s1, cfg.lut_build_latency, "build_step")
        built_key = delay(m, s1_key, cfg.lut_build_latency, "build_key")
        load = built.valid & built.load_lut
        stored = self._operand_registers(m, load) if cfg.is_mac else self._lut_registers(m, load)
        if cfg.is_blockfp:  # the row's shared exponent, stored with its LUTs
            row_exp = Signal(cfg.row_exp_bits, name="row_exp")
            built_exp = delay(m, self.row.exp, cfg.lut_build_latency, "build_exp")
            with m.If(load):
                m.d.sync += row_exp.eq(built_exp)

        # Stage 2: fetch or multiply (mul_latency cycles), reduction tree (tree_latency cycles),
        # accumulate (acc_latency cycles).
        s2 = Signal(step_layout(cfg))
        s2_key = flat_signal(keys_layout(cfg), "s2_key")
        m.d.sync += [s2.eq(built), s2_key.eq(built_key)]

        m.submodules.tree = tree = ReductionTree(cfg, step_layout(cfg), self._units)
        m.d.comb += tree.tag.eq(delay(m, s2, cfg.mul_latency, "mul_step"))
        leaves = self._multiply(m, stored, s2_key) if cfg.is_mac else self._fetch(m, stored, s2_key)
        m.d.comb += [tree.values[i].eq(leaf) for i, leaf in enumerate(leaves)]

        tag = tree.tag_out
        acc_lane = data.ArrayLayout(_lane(cfg, cfg.acc_width), cfg.tile_m)
        acc = Array(Signal(acc_lane, name=f"acc{i}") for i in range(cfg.reuse))
        done = delay(m, tag, cfg.acc_latency, "acc_step")
        total = Signal(acc_lane)
        if cfg.is_blockfp:  # the exponent travels with its step through the tree
            tile_exp = delay(m, row_exp, cfg.mul_latency + cfg.tree_latency, "tile_exp")
        for k in range(cfg.tile_m):
            if cfg.is_blockfp:
                x = arith.from_tile_sum(m, tree.sums[k], tile_exp, f"to_acc{k}")
            elif cfg.is_fused:  # the fused adder rounds into the accumulator format
                x = tree.sums[k]
            else:
                x = arith.to_acc(m, tree.sums[k], f"to_acc{k}")
            summed = arith.add(m, acc[tag.r][k], x, width=cfg.acc_width, name=f"acc_add{k}")
            first = delay(m, x, cfg.acc_latency, f"first{k}")
            if cfg.canonicalises_first_tile:
                first = arith.canonical_nan(first)
            m.d.comb += total[k].eq(Mux(done.first, first, summed))

        m.d.sync += self.out_valid.eq(done.valid & done.last_t)
        with m.If(done.valid & done.last_t):
            m.d.sync += [self.out.data.eq(total), self.out.last.eq(done.last)]
        with m.Elif(done.valid):
            m.d.sync += acc[done.r].eq(total)
        return m


class LutCore(wiring.Component):
    """A ternary-weight GEMV engine built from ``luts`` LUTs of ``mu`` activations and ``keys`` fetchers each
    (``arch="mac"``: ``luts`` activation lanes of ``keys`` multipliers each).

    A job computes ``y = a @ W`` (N activations, N x M ternary weights) following
    :mod:`hwgen.description.schedule`. Protocol, per job:

    1. ``job``: one descriptor ``{n, m}``; accepted when the core is idle (the previous job's
       pipeline may still be draining).
    2. ``act``: ``T = ceil(n / tile_n)`` activation rows, stored in the activation buffer
       (``max_tiles_n`` rows). Lanes at index >= n are ignored (zeroed).
    3. ``keys``: the ``T * O`` key words of :func:`hwgen.description.key_encoding.key_stream` (``mac``: weight
       words of full-width operands), accepted once all rows are loaded, one per cycle.
    4. ``out``: ``O = ceil(m / keys)`` output tiles in order; lanes >= m of the last tile carry
       the sums of whatever keys were sent for those columns (0 / +0.0 with the zero keys of
       ``key_stream``; see ``docs/interface.md``); ``last`` marks the job's final tile.

    Pipeline (all stages advance together; ``out`` backpressure stalls them all, missing key
    words insert bubbles): issue (buffer read address, key register) -> LUT build
    (``lut_build_latency``) into the LUT registers -> fetch, reduction tree (``tree_latency``),
    conversion to the accumulator format and accumulate (``acc_latency``) -> output register.
    A ``mac`` core loads the activation row into operand registers instead of building LUTs and
    multiplies (``mul_latency``) instead of fetching: tile_n x keys multipliers, then a tree over
    the tile_n products of each output.
    A step that reads an accumulator waits until the previous update of it has left the
    accumulate adder: only with pipelined FP adders, in a block of ``R_b <= acc_latency`` output
    tiles (``reuse <= adder_stages``, or the partial last block of a job).
    :func:`hwgen.description.schedule.job_cycles` gives the resulting cycle count.

    Integer cores: the ``reuse * keys`` accumulators are ``acc_width`` bits wide, enough for any
    GEMV up to ``max_n`` inputs (see :attr:`CoreConfig.acc_width`). Floating-point cores: every
    add (and ``mac`` product) is one rounding of the ``act`` (LUT, product, tree) or ``acc``
    (accumulation) format, in the order the reference model :mod:`sim.reference` follows.
    :attr:`CoreConfig.fp_reduce` changes the reduction: ``blockfp`` aligns each row as it is written
    into the activation buffer (:class:`~.components.block_align.BlockAligner`; the row's shared
    exponent is stored with it and with the LUTs), builds and reduces integer LUTs, and converts each
    tile sum with one rounding before the accumulate adder; ``fused`` replaces each output lane's
    tree by one :class:`~hwgen.gateware.arith.FPFusedAdd` that rounds straight into ``acc``.

    Raises
    ------
    ConfigError
        If the streams are too wide for an Amaranth 0.5 netlist (:meth:`CoreConfig.emit_problems`),
        e.g. the 65,536-bit weight words of a 64 x 64 fp16 ``mac`` core.
    """

    def __init__(self, cfg: CoreConfig, *, shared_units: bool = False):
        problems = cfg.emit_problems()
        if problems:
            raise ConfigError(problems)
        self._cfg = cfg
        self._units = SharedUnits(cfg.name) if shared_units else None
        super().__init__({
            "job": In(stream.Signature(job_layout(cfg))),
            "act": In(stream.Signature(act_layout(cfg))),
            "keys": In(stream.Signature(keys_layout(cfg))),
            "out": Out(stream.Signature(out_layout(cfg))),
        })

    @property
    def cfg(self) -> CoreConfig:
        return self._cfg

    @property
    def shared_units(self) -> SharedUnits | None:
        """The shared modules (``shared_units=True``): FP units and the fetch stage; filled when
        the core is elaborated."""
        return self._units

    def elaborate(self, platform):
        m = Module()
        cfg = self._cfg
        tile_n, tile_m, reuse = cfg.tile_n, cfg.tile_m, cfg.reuse
        regs = cfg.control_registers

        # All pipeline registers advance together; only output backpressure stalls them.
        advance = Signal()
        m.d.comb += advance.eq(~self.out.valid | self.out.ready)

        # --- Activation buffer (block-FP: rows aligned as they are written) ---
        m.submodules.act_buf = act_buf = Memory(shape=buffer_layout(cfg), depth=cfg.max_tiles_n, init=[])
        wr = act_buf.write_port()
        rd = act_buf.read_port(domain="sync")

        # --- Control: job descriptor, row loading, step issue ---
        n_rem, row, last_row, m_job = (
            _register(reg) for reg in (regs.n_rem, regs.row, regs.last_row, regs.m_job)
        )
        block_rem, tile_rem, r = (_register(reg) for reg in (regs.block_rem, regs.tile_rem, regs.r))

        issue = Signal(step_layout(cfg))
        issue_key = flat_signal(keys_layout(cfg), "issue_key")

        # A step that adds to accumulator r may issue only acc_latency + 1 cycles after the
        # previous step of the same r (the read-modify-write loop through the pipelined adder).
        hazard = Signal()
        in_flight = [Signal(step_layout(cfg), name=f"{regs.in_flight.name}{i}")
                     for i in range(regs.in_flight.count)]
        with m.If(advance):
            m.d.sync += [dst.eq(src) for dst, src in zip(in_flight, [issue, *in_flight], strict=False)]
        m.d.comb += hazard.eq(~(row == 0) & Cat(s.valid & (s.r == r) for s in in_flight).any()
                              if in_flight else 0)

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.job.ready.eq(1)
                with m.If(self.job.valid):
                    m.d.sync += [
                        n_rem.eq(self.job.p.n),
                        m_job.eq(self.job.p.m),
                        row.eq(0),
                    ]
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += self.act.ready.eq(1)
                lanes = Signal(act_layout(cfg))
                for i in range(tile_n):
                    m.d.comb += lanes[i].eq(Mux(n_rem > i, self.act.p[i], 0))
                data = lanes
                if cfg.is_blockfp:
                    m.submodules.aligner = aligner = BlockAligner(cfg)
                    m.d.comb += aligner.a.eq(lanes)
                    data = aligner.row
                m.d.comb += [wr.addr.eq(row), wr.data.eq(data), wr.en.eq(self.act.valid)]
                with m.If(self.act.valid):
                    m.d.sync += [n_rem.eq(n_rem - tile_n), row.eq(row + 1)]
                    with m.If(n_rem <= tile_n):
                        m.d.sync += [
                            last_row.eq(row),
                            row.eq(0),
                            r.eq(0),
                            block_rem.eq(m_job),
                            tile_rem.eq(m_job),
                        ]
                        m.next = "COMPUTE"
            with m.State("COMPUTE"):
                m.d.comb += self.keys.ready.eq(advance & ~hazard)
                block_end = (r == reuse - 1) | (tile_rem <= tile_m)
                m.d.comb += [
                    issue.valid.eq(self.keys.valid & ~hazard),
                    issue.load_lut.eq(r == 0),
                    issue.first.eq(row == 0),
                    issue.last_t.eq(row == last_row),
                    issue.last.eq((row == last_row) & (tile_rem <= tile_m)),
                    issue.r.eq(r),
                    issue_key.eq(self.keys.p),
                ]
                with m.If(self.keys.valid & self.keys.ready):
                    with m.If(~block_end):
                        m.d.sync += [r.eq(r + 1), tile_rem.eq(tile_rem - tile_m)]
                    with m.Elif(row != last_row):
                        m.d.sync += [r.eq(0), tile_rem.eq(block_rem), row.eq(row + 1)]
                    with m.Elif(tile_rem > tile_m):  # next output block
                        m.d.sync += [
                            r.eq(0),
                            row.eq(0),
                            block_rem.eq(tile_rem - tile_m),
                            tile_rem.eq(tile_rem - tile_m),
                        ]
                    with m.Else():
                        m.next = "IDLE"

        m.d.comb += [rd.addr.eq(row), rd.en.eq(advance)]

        m.submodules.datapath = datapath = EnableInserter(advance)(_Datapath(cfg, self._units))
        if self._units is not None:
            m.d.comb += self._units.en.eq(advance)
        m.d.comb += [datapath.step.eq(issue), datapath.key.eq(issue_key), datapath.row.eq(rd.data)]
        m.d.comb += [self.out.valid.eq(datapath.out_valid), self.out.p.eq(datapath.out)]
        return m
