"""The validated description of a core: one frozen dataclass read by every interpreter.

The Amaranth generator (:mod:`hwgen.gateware.core`), the PyTorch reference model (:mod:`sim.reference`)
and the cost model all take a :class:`CoreConfig` and nothing else. Parameters are
validated here, once; everything downstream trusts them.
"""

from __future__ import annotations

import keyword
import math
import re
import tomllib
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path

import numpy as np

from .fp_format import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPFormat
from .lut_plan import MAX_MU, LutPlan, key_bits, lut_plan
from .tree_plan import TreeNode, bit_length, tree_depth, tree_nodes, tree_plan

__all__ = [
    "ConfigError",
    "ActType",
    "ARCHS",
    "CoreConfig",
    "int_sum_width",
    "int_product_sum_width",
    "default_mu",
    "DEFAULT_CORE",
    "DEFAULT_MAX_N",
    "DEFAULT_MAX_M",
    "core_config",
    "load_design",
    "read_toml",
    "UnitConfig",
    "UNIT_KINDS",
    "luts_for",
    "Register",
    "ControlRegisters",
    "TreeLevelNode",
    "STEP_FLAGS",
    "PIPELINE_OVERHEAD",
    "MAX_NETLIST_BITS",
    "FORMATS",
    "ConfigArrays",
    "pipeline_cut_matrix",
    "design_name",
    "emit_problems_of",
]

#: Default tile edge of a design that gives neither ``core`` nor both ``luts`` and ``keys``
#: (``hwgen emit`` with no size option builds a 64 x 64 tile).
DEFAULT_CORE = 64
#: Default maximum GEMV input length (activations), enough for BitNet b1.58 2B4T (N <= 6912).
DEFAULT_MAX_N = 8192
#: Default maximum GEMV output length.
DEFAULT_MAX_M = 8192

MIN_INT_WIDTH, MAX_INT_WIDTH = 2, 16
MAX_LUTS = 4096
MAX_KEYS = 4096
MAX_DIM = 1 << 24
#: Floating-point activation / accumulator formats by name.
FP_FORMATS = {"fp16": FP16, "bf16": BF16, "fp32": FP32, "fp8e4m3": FP8_E4M3, "fp8e5m2": FP8_E5M2}
MAX_ADDER_STAGES = 8

#: Core architectures (:attr:`CoreConfig.arch`): the ternary LUT core and two baselines with
#: the same interfaces, schedule and reference semantics.
ARCHS = ("lut", "signflip", "mac")
#: Why ``mu`` is fixed at 1 for the baselines (used in the error message).
_MU1_REASON = {
    "signflip": "each weight selects +a, -a or 0: no LUT reuse",
    "mac": "no LUTs, one multiplier per weight; `luts` is the activations per cycle",
}


class ConfigError(ValueError):
    """One or more invalid parameters; ``problems`` holds one line per parameter."""

    def __init__(self, problems: list[str]):
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class ActType:
    """A number format of activations or accumulators.

    Attributes
    ----------
    kind : str
        ``"int"`` (two's complement) or ``"fp"`` (IEEE-754 style, see :mod:`hwgen.description.fp_format`).
    width : int
        Bits per value.
    name : str
        The format's name: ``int8``, ``fp16``, ``bf16``, ``fp32``, ``fp8e4m3``, ``fp8e5m2``.
    """

    kind: str
    width: int
    name: str

    @classmethod
    def parse(cls, text: str, param: str = "act") -> ActType:
        """Parse ``"int2"``..``"int16"`` or a floating-point name; raise ``ValueError`` naming the value."""
        m = re.fullmatch(r"int(\d+)", text) if isinstance(text, str) else None
        if m:
            width = int(m.group(1))
            if not MIN_INT_WIDTH <= width <= MAX_INT_WIDTH:
                raise ValueError(
                    f"`{param}` integer width must be in [{MIN_INT_WIDTH}, {MAX_INT_WIDTH}] bits, got {param}={text!r}"
                )
            return cls("int", width, text)
        if text in FP_FORMATS:
            return cls("fp", FP_FORMATS[text].width, text)
        raise ValueError(
            f"`{param}` must be one of int{MIN_INT_WIDTH}..int{MAX_INT_WIDTH}, {', '.join(FP_FORMATS)}, "
            f"got {param}={text!r}"
        )

    def __str__(self) -> str:
        return self.name

    @property
    def fmt(self) -> FPFormat:
        """The floating-point format (``kind == "fp"`` only)."""
        return FP_FORMATS[self.name]

    @property
    def min_value(self) -> int:
        """Most negative integer activation value."""
        return -(1 << (self.width - 1))

    @property
    def max_value(self) -> int:
        """Most positive integer activation value."""
        return (1 << (self.width - 1)) - 1


def int_sum_width(terms: int, act_width: int) -> int:
    """Signed width (bits) that holds any sum of ``terms`` ternary-weighted ``act_width``-bit values.

    Each term lies in [-2**(w-1), 2**(w-1)] (the most negative activation times -1), so the
    sum lies in [-terms * 2**(w-1), terms * 2**(w-1)]; the result is the smallest signed width
    whose maximum ``2**(B-1) - 1`` reaches ``terms * 2**(w-1)``. Ints, or numpy int64 arrays whose
    ``terms * 2**(w-1)`` stays below ``2**53``.
    """
    return bit_length(terms << (act_width - 1)) + 1


def int_product_sum_width(terms: int, act_width: int) -> int:
    """Signed width (bits) that holds any sum of ``terms`` products of two ``act_width``-bit
    signed integers (a generic multiplier: weights are not assumed ternary).

    A product lies in [-2**(2w-2) + 2**(w-1), 2**(2w-2)] (the top value is ``min * min``), so
    one product needs ``2 * w`` bits and a sum of ``terms`` products the smallest signed width
    whose maximum reaches ``terms * 2**(2w-2)``. Ints, or numpy int64 arrays (as :func:`int_sum_width`).
    """
    return bit_length(terms << (2 * act_width - 2)) + 1


def luts_for(tile_n, mu):
    """LUTs (or, at ``mu = 1``, activation lanes) that cover ``tile_n`` activations in groups of
    ``mu``: ``ceil(tile_n / mu)``. Ints or numpy arrays; the tile is then ``luts * mu`` high, with
    ``luts * mu - tile_n`` idle lanes when ``mu`` does not divide ``tile_n``."""
    return -(-tile_n // mu)


#: One-bit fields of the step tag that travels down the pipeline with every step, in layout order
#: (LSB first): ``valid``; ``load_lut`` (first output tile of the block: rebuild the LUTs);
#: ``first`` (input tile 0: take the tile sum as is); ``last_t`` (last input tile: the accumulator
#: is complete); ``last`` (final output tile of the job). The field ``r`` follows them.
STEP_FLAGS = ("valid", "load_lut", "first", "last_t", "last")

#: Cycles from the last key word accepted to its output tile transferred, without pipelined adders
#: or extra registers: the activation-buffer read / LUT build stage, the fetch-reduce-accumulate
#: stage and the output register (see :attr:`CoreConfig.pipeline_latency`).
PIPELINE_OVERHEAD = 3

#: Amaranth 0.5 numbers the output bits of a netlist cell with 16 bits, and a module's inputs are
#: the outputs of one cell (bits 0 and 1 reserved): a core's input ports may total at most this
#: many bits, and no signal may be wider (:meth:`CoreConfig.emit_problems`).
MAX_NETLIST_BITS = (1 << 16) - 2

#: States of the core's control FSM (IDLE, LOAD, COMPUTE).
FSM_STATES = ("IDLE", "LOAD", "COMPUTE")


@dataclass(frozen=True)
class Register:
    """A register of the core's control logic.

    Attributes
    ----------
    name : str
        Signal name in the RTL.
    width : int
        Bits per copy.
    signed : bool
        Two's complement.
    count : int
        Copies (e.g. one step tag per in-flight accumulator update).
    """

    name: str
    width: int
    signed: bool = False
    count: int = 1

    @property
    def bits(self) -> int:
        """Flip-flop bits of all copies, ``width * count``."""
        return self.width * self.count


@dataclass(frozen=True)
class ControlRegisters:
    """The registers of the core's control (job descriptor, row loading, step issue, hazards), with
    widths derived from the config. The RTL declares exactly these; the cost model counts them.

    Attributes
    ----------
    n_rem : Register
        Activations not yet loaded, from the current row on (``bit_length(max_n) + 1`` bits).
    row : Register
        While loading: the next activation-buffer row to write; while computing: the input tile t.
    last_row : Register
        ``T - 1``, the last input tile of the job.
    m_job : Register
        Outputs of the job.
    block_rem : Register
        Outputs from the current output block's first tile on (signed, ``bit_length(max_m) + 2``).
    tile_rem : Register
        Outputs from the current output tile on (signed, as ``block_rem``).
    r : Register
        Output tile within the block (``bit_length(reuse - 1)`` bits, at least 1).
    fsm_state : Register
        The FSM's state (:data:`FSM_STATES`).
    in_flight : Register
        Step tags of the accumulator updates inside a pipelined accumulate adder
        (``acc_latency`` copies), for the read-after-write hazard check.
    """

    n_rem: Register
    row: Register
    last_row: Register
    m_job: Register
    block_rem: Register
    tile_rem: Register
    r: Register
    fsm_state: Register
    in_flight: Register

    @property
    def all(self) -> tuple[Register, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def bits(self) -> int:
        """Flip-flop bits of the control logic."""
        return sum(reg.bits for reg in self.all)


@dataclass(frozen=True)
class TreeLevelNode:
    """A node of the reduction tree of one output lane (see :func:`hwgen.description.tree_plan.tree_nodes`).

    Attributes
    ----------
    inputs : tuple[int, ...]
        Indices of the previous level's values it adds (two), or passes on unchanged (one).
    terms : int
        Leaves (LUT values, or ``mac`` products) it sums.
    width : int
        Bits of its value, :meth:`CoreConfig.tree_width` ``(terms)``.
    """

    inputs: tuple[int, ...]
    terms: int
    width: int

    @property
    def adds(self) -> bool:
        """An adder (two inputs), not a pass-through."""
        return len(self.inputs) == 2


def default_mu(arch: str) -> int | None:
    """The ``mu`` of a config that does not set it: 1 for the baselines (``"signflip"``, ``"mac"``),
    which require it; ``None`` for ``"lut"``, whose ``mu`` must be given. The description has no
    default group size of its own: the product's default is the cost model's choice
    (:func:`costmodel.choose_mu`), which the description cannot import."""
    return 1 if arch in _MU1_REASON else None


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_identifier(name: object) -> bool:
    return (isinstance(name, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", name) is not None
            and not keyword.iskeyword(name))


_NAME_PROBLEM = ("`name` must be a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*, at most 128 characters), "
                 "got name={name!r}")


@dataclass(frozen=True, kw_only=True)
class CoreConfig:
    """A ternary-weight GEMV core: the LUT core or one of its baselines (``arch``).

    Per cycle the core processes a tile of ``tile_n x tile_m = (luts * mu) x keys`` ternary
    weights: ``luts`` LUTs, each built from ``mu`` activations, are read by ``keys`` fetchers.
    A GEMV ``y = a @ W`` (``a``: N activations, ``W``: N x M) runs as ``ceil(N / tile_n)``
    input tiles times ``ceil(M / tile_m)`` output tiles; see :mod:`hwgen.description.schedule`.

    Parameters
    ----------
    arch : str
        Datapath architecture; all three share the interfaces, the schedule, the reduction tree
        and the accumulators:

        * ``"lut"``: the ternary LUT core (default).
        * ``"signflip"``: no LUT reuse; each weight selects +a, -a or 0 (a mux and a sign flip).
          This *is* the LUT core at ``mu = 1`` (one entry, the activation itself; 2-bit keys),
          so its RTL, reference and cost equal those of ``arch="lut", mu=1`` by construction.
        * ``"mac"``: a multiplier-based core: ``tile_n x keys`` multipliers of activations by
          full-width weight operands in the ``act`` format (the ``keys`` stream carries them,
          see :attr:`key_bits`), a reduction tree over ``tile_n`` products per output, and the
          same accumulation. It has no LUTs: ``luts`` is the activations per cycle.

        The baselines require ``mu = 1`` (the default for them), so ``tile_n = luts``.
    act : str
        Activation format: ``"int2"``..``"int16"`` (signed) or ``"fp16"``, ``"bf16"``, ``"fp32"``,
        ``"fp8e4m3"``, ``"fp8e5m2"`` (IEEE-754 style, see :mod:`hwgen.description.fp_format`).
    acc : str
        Accumulator and output format of a floating-point core: ``""`` (same as ``act``) or a format
        at least as wide in exponent and mantissa (e.g. ``"fp32"``), to which each tile sum is
        converted exactly before it is accumulated. Must be ``""`` for integer cores, whose
        accumulator width is derived (:attr:`acc_width`).
    adder_stages : int
        Pipeline registers inside every floating-point adder, in [0, 8]; must be 0 for integer
        cores (integer adders are combinational; use ``pipeline``).
    mu : int or None
        Activations per LUT, in [1, 8]; must be 1 for ``signflip`` and ``mac``, where ``None``
        (the default) means 1. A ``lut`` core must give it (or let :func:`costmodel.choose_mu`
        pick it, as ``hwgen emit`` does).
    luts : int
        LUTs in parallel (L), in [1, 4096]; for ``signflip`` and ``mac``, the activations per cycle.
    keys : int
        Fetchers per LUT (K), i.e. output lanes, in [1, 4096]; for ``mac``, the multipliers per
        activation lane.
    max_n : int
        Largest GEMV input length N (activations); at least ``luts * mu``. Sizes the activation
        buffer (``max_n`` activations) and the accumulator width.
    max_m : int
        Largest GEMV output length M; at least ``keys``.
    reuse : int
        Output tiles (of ``keys`` outputs) that share one built LUT before it is rebuilt, in
        [1, ceil(max_m / keys)]. Sets the accumulator count: ``reuse * keys``.
    pipeline : int
        Extra register stages between the LUT registers and the accumulators, in
        [0, 1 + ceil(log2(luts))]; see :attr:`pipeline_cuts`.
    name : str
        Verilog module name (a Verilog identifier).
    """

    arch: str = "lut"
    act: str = "int8"
    acc: str = ""
    adder_stages: int = 0
    mu: int | None = None
    luts: int
    keys: int
    max_n: int = DEFAULT_MAX_N
    max_m: int = DEFAULT_MAX_M
    reuse: int = 1
    pipeline: int = 0
    name: str = ""
    act_type: ActType = field(init=False, repr=False, compare=False)
    acc_type: ActType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mu is None and default_mu(self.arch) is not None:  # one spelling per design: mu is written out
            object.__setattr__(self, "mu", default_mu(self.arch))
        self._validate()
        if self.is_fp and not self.acc:  # one spelling per design: "" means "same as act"
            object.__setattr__(self, "acc", self.act)
        if not self.name:
            object.__setattr__(self, "name", self.default_name())

    def _validate(self) -> None:
        from .validity import config_problems  # (the rules read this module)

        problems = config_problems({f.name: getattr(self, f.name) for f in fields(self) if f.init})
        if problems:
            raise ConfigError(problems)
        act_type = ActType.parse(self.act)
        object.__setattr__(self, "act_type", act_type)
        acc_type = act_type if act_type.kind == "int" else ActType.parse(self.acc or self.act)
        object.__setattr__(self, "acc_type", acc_type)

    def default_name(self) -> str:
        """``lut_<act>[_<acc>]_mu<mu>_<tile_n>x<tile_m>``, e.g. ``lut_int8_mu4_64x64``,
        ``lut_fp16_fp32_mu3_...``; the baselines name their arch instead and leave out mu (always
        1): ``mac_int8_8x8``, ``signflip_bf16_16x4``."""
        return design_name(self.arch, self.act, self.acc, self.mu, self.tile_n, self.tile_m)

    @property
    def is_fp(self) -> bool:
        """Floating-point activations."""
        return self.act_type.kind == "fp"

    @property
    def is_mac(self) -> bool:
        """A multiplier-based core (``arch == "mac"``): its datapath multiplies instead of fetching."""
        return self.arch == "mac"

    # --- Derived structure (read by the generator, the reference model and the cost model) ---

    @property
    def plan(self) -> LutPlan:
        """The LUT build plan for ``mu``."""
        return lut_plan(self.mu)

    @property
    def tree(self) -> tuple[tuple[tuple[int, ...], ...], ...]:
        """The reduction-tree plan over the ``luts`` LUT outputs."""
        return tree_plan(self.luts)

    @property
    def tree_levels(self) -> tuple[tuple[TreeLevelNode, ...], ...]:
        """The reduction tree of one output lane, level by level: each node's inputs, the leaves it
        sums and its width. The RTL, the reference model and the cost model walk this."""
        return tuple(tuple(TreeLevelNode(node.inputs, node.terms, self.tree_width(node.terms)) for node in level)
                     for level in tree_nodes(self.luts))

    @property
    def step_fields(self) -> tuple[tuple[str, int], ...]:
        """``(name, bits)`` of the step tag, in layout order (LSB first): the one-bit
        :data:`STEP_FLAGS`, then ``r``, the output tile within the block."""
        return (*((flag, 1) for flag in STEP_FLAGS), ("r", max(1, (self.reuse - 1).bit_length())))

    @property
    def step_bits(self) -> int:
        """Bits of the step tag."""
        return sum(width for _, width in self.step_fields)

    @property
    def control_registers(self) -> ControlRegisters:
        """The control logic's registers and their widths."""
        n_bits, m_bits = self.max_n.bit_length(), self.max_m.bit_length()
        row_bits = max(1, (self.max_tiles_n - 1).bit_length())
        return ControlRegisters(
            n_rem=Register("n_rem", n_bits + 1),
            row=Register("row", row_bits),
            last_row=Register("last_row", row_bits),
            m_job=Register("m_job", m_bits),
            block_rem=Register("block_rem", m_bits + 2, signed=True),
            tile_rem=Register("tile_rem", m_bits + 2, signed=True),
            r=Register("r", dict(self.step_fields)["r"]),
            fsm_state=Register("fsm_state", (len(FSM_STATES) - 1).bit_length()),
            in_flight=Register("in_flight", self.step_bits, count=self.acc_latency),
        )

    @property
    def stream_bits(self) -> dict[str, int]:
        """Payload bits of each stream: ``job`` (``n`` and ``m``, ``bit_length(max_n)`` and
        ``bit_length(max_m)`` bits), ``act`` (``tile_n`` lanes), ``keys`` (``luts x keys`` elements
        of :attr:`key_bits`) and ``out`` (``keys`` lanes of :attr:`acc_width` bits and ``last``)."""
        return {
            "job": self.max_n.bit_length() + self.max_m.bit_length(),
            "act": self.tile_n * self.act_width,
            "keys": self.luts * self.keys * self.key_bits,
            "out": self.keys * self.acc_width + 1,
        }

    def emit_problems(self) -> list[str]:
        """Why the generator cannot emit this (valid) design, one line each; empty when it can.

        Amaranth 0.5 netlists limit a module's input ports to :data:`MAX_NETLIST_BITS` bits in all
        and any one signal to as many: the input streams' payloads, valids, ``out.ready``, ``clk``
        and ``rst`` must fit. The cost model and the reference model take such designs; only
        emission is refused."""
        return emit_problems_of(self.name, self.stream_bits)

    @property
    def act_width(self) -> int:
        """Bits per activation."""
        return self.act_type.width

    @property
    def tile_n(self) -> int:
        """Activations consumed per cycle, ``luts * mu``."""
        return self.luts * self.mu

    @property
    def tile_m(self) -> int:
        """Outputs produced per cycle, ``keys``."""
        return self.keys

    @property
    def key_bits(self) -> int:
        """Bits per element of the ``keys`` stream.

        LUT cores (and ``signflip``): a weight key of ``ceil(log2(3**mu))`` bits, a sign bit
        (MSB) and ``key_bits - 1`` index bits. ``mac`` cores: a full-width weight operand in the
        ``act`` format, ``act_width`` bits (see :func:`hwgen.description.key_encoding.weight_operands`).
        """
        return self.act_width if self.is_mac else key_bits(self.mu)

    @property
    def max_tiles_n(self) -> int:
        """Input tiles of the largest GEMV, ``ceil(max_n / tile_n)`` (activation-buffer rows)."""
        return math.ceil(self.max_n / self.tile_n)

    @property
    def max_tiles_m(self) -> int:
        """Output tiles of the largest GEMV, ``ceil(max_m / tile_m)``."""
        return math.ceil(self.max_m / self.tile_m)

    def _sum_width(self, terms: int) -> int:
        """Width (bits) of a sum of ``terms`` activations: exact signed integer, or the activation format."""
        return int_sum_width(terms, self.act_width) if not self.is_fp else self.act_width

    def entry_width(self, v: int) -> int:
        """Width (bits) of LUT entry ``v`` (it sums ``nonzeros(v)`` activations)."""
        return self._sum_width(self.plan.nonzeros(v))

    @property
    def lut_width(self) -> int:
        """Width (bits) of a fetched, signed LUT value: a sum of ``mu`` activations."""
        return self._sum_width(self.mu)

    @property
    def product_width(self) -> int:
        """Width (bits) of one multiplier product of a ``mac`` core: the full signed product of
        two ``act_width``-bit integers, ``2 * act_width`` (a generic multiplier does not know
        that the weights are ternary), or the ``act`` format for floating point."""
        return int_product_sum_width(1, self.act_width) if not self.is_fp else self.act_width

    def tree_width(self, terms: int) -> int:
        """Width (bits) of a tree node that sums ``terms`` leaves: LUT values (a sum of
        ``terms * mu`` activations), or for ``mac`` products (:func:`int_product_sum_width`,
        sized for generic weights). Floating point: the ``act`` format. ``tree_width(1)`` is
        the leaf width (:attr:`lut_width` or :attr:`product_width`)."""
        if self.is_fp:
            return self.act_width
        if self.is_mac:
            return int_product_sum_width(terms, self.act_width)
        return self._sum_width(terms * self.mu)

    @property
    def acc_width(self) -> int:
        """Accumulator / output width (bits).

        Integer cores: a GEMV of N <= ``max_n`` inputs sums at most ``max_n`` terms a[n] * w[n, m],
        each in [-2**(w-1), 2**(w-1)] (lanes past N are zeroed by the core), so no GEMV up to the
        maximum size can overflow: |y| <= max_n * 2**(w-1) < 2**(acc_width-1).
        ``mac`` cores have the same accumulators, safe for weights in {-1, 0, +1} (the only
        weights the core is specified for), although their tree is sized for generic weights
        (:meth:`tree_width`): a ternary tile sum, |s| <= tile_n * 2**(w-1), narrows to
        ``acc_width`` exactly. Generic weights could overflow them.
        Floating-point cores: the width of the ``acc`` format.
        """
        return int_sum_width(self.max_n, self.act_width) if not self.is_fp else self.acc_type.width

    # --- Latencies (cycles), read by the generator and by the schedule ---

    @property
    def lut_build_latency(self) -> int:
        """Cycles from an activation row to its LUT entries: plan depth x ``adder_stages``."""
        return self.plan.depth * self.adder_stages

    @property
    def mul_latency(self) -> int:
        """Cycles through a multiplier of a ``mac`` core: ``adder_stages`` for floating point
        (the FP multipliers are pipelined like the adders), 0 for integers; 0 for LUT cores,
        whose fetch (a mux and a sign flip) takes its place and is combinational."""
        return self.adder_stages if self.is_mac else 0

    @property
    def tree_latency(self) -> int:
        """Cycles through the reduction tree: ``ceil(log2(luts)) * adder_stages + pipeline``."""
        return tree_depth(self.luts) * self.adder_stages + self.pipeline

    @property
    def acc_latency(self) -> int:
        """Cycles through the accumulate adder; a step may not read an accumulator sooner than
        ``acc_latency + 1`` cycles after the previous step that updates it."""
        return self.adder_stages

    @property
    def pipeline_latency(self) -> int:
        """Cycles from a step's issue to its output tile's transfer (with ``out`` ready):
        :data:`PIPELINE_OVERHEAD` plus the build, multiply, tree and accumulate latencies."""
        return (PIPELINE_OVERHEAD + self.lut_build_latency + self.mul_latency + self.tree_latency
                + self.acc_latency)

    @property
    def pipeline_cuts(self) -> tuple[bool, ...]:
        """Where the ``pipeline`` registers go: ``cuts[0]`` after the fetch (``mac``: after the
        multipliers), ``cuts[d]`` after tree level d.

        The datapath after the LUT registers has ``D + 2`` combinational segments (fetch,
        ``D = ceil(log2(luts))`` tree levels, accumulate); register ``i`` of ``P`` closes the
        segment ``floor((i + 1) * (D + 2) / (P + 1)) - 1``, which spreads them evenly.
        """
        return tuple(bool(c) for c in pipeline_cut_matrix(tree_depth(self.luts), self.pipeline)[0])

    def to_dict(self) -> dict[str, object]:
        """The constructor arguments (JSON-serialisable); ``CoreConfig(**cfg.to_dict()) == cfg``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}

    def summary(self) -> dict[str, object]:
        """Parameters and derived sizes as a flat dict (for CLIs and reports)."""
        return {
            "name": self.name,
            "arch": self.arch,
            "act": self.act,
            "acc": self.acc_type.name if self.acc_type else "",
            "adder_stages": self.adder_stages,
            "mu": self.mu,
            "luts": self.luts,
            "keys": self.keys,
            "tile": f"{self.tile_n}x{self.tile_m}",
            "max_n": self.max_n,
            "max_m": self.max_m,
            "reuse": self.reuse,
            "pipeline": self.pipeline,
            "lut_entries": 0 if self.is_mac else self.plan.entries,
            "adders_per_lut": 0 if self.is_mac else self.plan.adders,
            "multipliers": self.luts * self.keys if self.is_mac else 0,
            "product_width": self.product_width if self.is_mac else 0,
            "key_bits": self.key_bits,
            "acc_width": self.acc_width,
        }


def design_name(arch: str, act: str, acc: str, mu: int, tile_n: int, tile_m: int) -> str:
    """:meth:`CoreConfig.default_name` of a design with these fields (``acc`` as resolved: ``act``
    or ``""`` when the accumulator is the activation format)."""
    suffix = f"_{acc}" if acc and acc != act else ""
    if arch != "lut":
        return f"{arch}_{act}{suffix}_{tile_n}x{tile_m}"
    return f"lut_{act}{suffix}_mu{mu}_{tile_n}x{tile_m}"


def emit_problems_of(name: str, widths: dict[str, int]) -> list[str]:
    """:meth:`CoreConfig.emit_problems` of the design ``name`` whose :attr:`CoreConfig.stream_bits` are
    ``widths``."""
    if not _too_wide(widths):
        return []
    inputs = widths["job"] + widths["act"] + widths["keys"] + 3 + 1 + 2  # valids, out.ready, clk, rst
    widest = max(widths, key=widths.get)
    return [(f"cannot generate {name}: its input ports total {inputs} bits and its widest stream "
             f"word ({widest}) is {widths[widest]} bits; an Amaranth 0.5 netlist allows at most "
             f"{MAX_NETLIST_BITS} bits for either (use fewer luts or keys)")]


#: Every activation / accumulator format name, in code order: the codes of :class:`ConfigArrays`.
FORMATS = (*(f"int{w}" for w in range(MIN_INT_WIDTH, MAX_INT_WIDTH + 1)), *FP_FORMATS)


def _frozen(values) -> np.ndarray:
    out = np.array(values, np.int64)
    out.flags.writeable = False
    return out


#: Per format code: bits per value, 1 for floating point, exponent and mantissa bits (0 for integers).
_FORMAT_WIDTH = _frozen([ActType.parse(f).width for f in FORMATS])
_FORMAT_IS_FP = _frozen([f in FP_FORMATS for f in FORMATS]).astype(bool)
#: Per ``mu`` (index 0 unused): key bits and LUT build plan depth, from :mod:`.lut_plan`.
_KEY_BITS = _frozen([0] + [key_bits(m) for m in range(1, MAX_MU + 1)])
_PLAN_DEPTH = _frozen([0] + [lut_plan(m).depth for m in range(1, MAX_MU + 1)])


def pipeline_cut_matrix(depth, pipeline) -> np.ndarray:
    """:attr:`CoreConfig.pipeline_cuts` of many designs: a bool array of shape ``(rows, 1 + max(depth))``,
    row ``r`` holding the ``1 + depth[r]`` cuts of that design (then ``False``). ``depth``: tree
    levels, ``ceil(log2(luts))``; ``pipeline``: registers (``<= depth + 1``); ints or int arrays.

    Register ``i`` of ``P`` closes segment ``floor((i + 1) * (D + 2) / (P + 1)) - 1`` of the ``D + 2``.
    """
    depth = np.atleast_1d(np.asarray(depth, np.int64))
    pipeline = np.broadcast_to(np.asarray(pipeline, np.int64), depth.shape)
    cuts = np.zeros((depth.size, int(depth.max(initial=0)) + 1), bool)
    rows = np.arange(depth.size)
    for i in range(int(pipeline.max(initial=0))):
        on = i < pipeline
        cuts[rows[on], ((i + 1) * (depth[on] + 2) // (pipeline[on] + 1) - 1)] = True
    return cuts


@dataclass(frozen=True, eq=False)
class ConfigArrays:
    """The configs of many valid designs, one int64 numpy array per field, and :class:`CoreConfig`'s
    derived properties as array properties (same names, same values, one entry per design).

    Built from validated fields (:func:`hwgen.description.validity.config_arrays` for a table,
    :meth:`of` for one config). The cost model prices tables of designs with it, and the scalar
    path on one-row instances.

    Attributes
    ----------
    arch : numpy.ndarray
        Index into :data:`ARCHS`.
    act : numpy.ndarray
        Index into :data:`FORMATS` of the activation format.
    acc : numpy.ndarray
        Index into :data:`FORMATS` of the accumulator format (:attr:`CoreConfig.acc_type`: ``act``
        for integer cores).
    adder_stages, mu, luts, keys, max_n, max_m, reuse, pipeline : numpy.ndarray
        As in :class:`CoreConfig`.
    """

    arch: np.ndarray
    act: np.ndarray
    acc: np.ndarray
    adder_stages: np.ndarray
    mu: np.ndarray
    luts: np.ndarray
    keys: np.ndarray
    max_n: np.ndarray
    max_m: np.ndarray
    reuse: np.ndarray
    pipeline: np.ndarray

    @classmethod
    def of(cls, *cfgs: CoreConfig) -> ConfigArrays:
        """The arrays of ``cfgs``, one row each."""
        columns = {f.name: [] for f in fields(cls)}
        for cfg in cfgs:
            codes = {"arch": ARCHS.index(cfg.arch), "act": FORMATS.index(cfg.act),
                     "acc": FORMATS.index(cfg.acc_type.name)}
            for name, column in columns.items():
                column.append(codes.get(name, getattr(cfg, name)))
        return cls(**{name: np.array(column, np.int64) for name, column in columns.items()})

    def __len__(self) -> int:
        return len(self.luts)

    def take(self, index) -> ConfigArrays:
        """The designs at ``index`` (an int array or a bool mask)."""
        return ConfigArrays(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def config(self, i: int) -> CoreConfig:
        """Design ``i`` as a :class:`CoreConfig` (default name)."""
        acc = FORMATS[self.acc[i]] if self.is_fp[i] else ""
        ints = {f: int(getattr(self, f)[i]) for f in ("adder_stages", "mu", "luts", "keys", "max_n", "max_m",
                                                      "reuse", "pipeline")}
        return CoreConfig(arch=ARCHS[self.arch[i]], act=FORMATS[self.act[i]], acc=acc, **ints)

    # --- The derived properties of CoreConfig (see there) ---

    @cached_property
    def is_fp(self) -> np.ndarray:
        return _FORMAT_IS_FP[self.act]

    @cached_property
    def is_mac(self) -> np.ndarray:
        return self.arch == ARCHS.index("mac")

    @cached_property
    def act_width(self) -> np.ndarray:
        return _FORMAT_WIDTH[self.act]

    @property
    def tile_n(self) -> np.ndarray:
        return self.luts * self.mu

    @property
    def tile_m(self) -> np.ndarray:
        return self.keys

    @property
    def key_bits(self) -> np.ndarray:
        return np.where(self.is_mac, self.act_width, _KEY_BITS[self.mu])

    @property
    def max_tiles_n(self) -> np.ndarray:
        return -(-self.max_n // self.tile_n)

    @property
    def max_tiles_m(self) -> np.ndarray:
        return -(-self.max_m // self.tile_m)

    @cached_property
    def _int_width(self) -> np.ndarray:
        """``act_width`` of integer rows, 2 for floating point (keeps the width formulas in range)."""
        return np.where(self.is_fp, 2, self.act_width)

    def sum_width(self, terms) -> np.ndarray:
        """Width (bits) of a sum of ``terms`` activations (:meth:`CoreConfig.entry_width` by nonzeros)."""
        return np.where(self.is_fp, self.act_width, int_sum_width(terms, self._int_width))

    @property
    def lut_width(self) -> np.ndarray:
        return self.sum_width(self.mu)

    @property
    def product_width(self) -> np.ndarray:
        return np.where(self.is_fp, self.act_width, int_product_sum_width(1, self._int_width))

    def tree_width(self, terms) -> np.ndarray:
        """Width (bits) of a tree node that sums ``terms`` leaves (an int or an array per design)."""
        w = self._int_width
        terms = np.asarray(terms, np.int64)
        lut_or_mac = np.where(self.is_mac, int_product_sum_width(terms, w), int_sum_width(terms * self.mu, w))
        return np.where(self.is_fp, self.act_width, lut_or_mac)

    @property
    def acc_width(self) -> np.ndarray:
        return np.where(self.is_fp, _FORMAT_WIDTH[self.acc], int_sum_width(self.max_n, self._int_width))

    @property
    def plan_depth(self) -> np.ndarray:
        """Adder depth of the LUT build plan (:attr:`LutPlan.depth`)."""
        return _PLAN_DEPTH[self.mu]

    @cached_property
    def tree_depth(self) -> np.ndarray:
        """Levels of the reduction tree, ``ceil(log2(luts))``."""
        return tree_depth(self.luts)

    @property
    def lut_build_latency(self) -> np.ndarray:
        return self.plan_depth * self.adder_stages

    @property
    def mul_latency(self) -> np.ndarray:
        return np.where(self.is_mac, self.adder_stages, 0)

    @property
    def tree_latency(self) -> np.ndarray:
        return self.tree_depth * self.adder_stages + self.pipeline

    @property
    def acc_latency(self) -> np.ndarray:
        return self.adder_stages

    @property
    def pipeline_latency(self) -> np.ndarray:
        return (PIPELINE_OVERHEAD + self.lut_build_latency + self.mul_latency + self.tree_latency
                + self.acc_latency)

    @cached_property
    def pipeline_cuts(self) -> np.ndarray:
        """:func:`pipeline_cut_matrix`: shape ``(rows, 1 + max tree depth)``."""
        return pipeline_cut_matrix(self.tree_depth, self.pipeline)

    @property
    def r_bits(self) -> np.ndarray:
        """Bits of the step tag's field ``r``, ``max(1, bit_length(reuse - 1))``."""
        return np.maximum(1, bit_length(self.reuse - 1))

    @property
    def step_bits(self) -> np.ndarray:
        return len(STEP_FLAGS) + self.r_bits

    @property
    def control_register_bits(self) -> np.ndarray:
        """:attr:`ControlRegisters.bits` of :attr:`CoreConfig.control_registers`."""
        n_bits, m_bits = bit_length(self.max_n), bit_length(self.max_m)
        row_bits = np.maximum(1, bit_length(self.max_tiles_n - 1))
        return (n_bits + 1 + 2 * row_bits + m_bits + 2 * (m_bits + 2) + self.r_bits
                + (len(FSM_STATES) - 1).bit_length() + self.step_bits * self.acc_latency)

    @property
    def stream_bits(self) -> dict[str, np.ndarray]:
        return {
            "job": bit_length(self.max_n) + bit_length(self.max_m),
            "act": self.tile_n * self.act_width,
            "keys": self.luts * self.keys * self.key_bits,
            "out": self.keys * self.acc_width + 1,
        }

    @property
    def emittable(self) -> np.ndarray:
        """Whether the generator can emit each design (:meth:`CoreConfig.emit_problems` is empty)."""
        return ~_too_wide(self.stream_bits)


def _too_wide(widths: dict):
    """Whether the input ports or any stream word exceed :data:`MAX_NETLIST_BITS` (ints or arrays)."""
    inputs = widths["job"] + widths["act"] + widths["keys"] + 3 + 1 + 2  # valids, out.ready, clk, rst
    widest = np.maximum.reduce([np.asarray(w) for w in widths.values()])
    return (inputs > MAX_NETLIST_BITS) | (widest > MAX_NETLIST_BITS)


def core_config(*, core: int | None = None, mu: int | None = None, luts: int | None = None,
                keys: int | None = None, **kwargs) -> CoreConfig:
    """Build a :class:`CoreConfig` from a square core size and optional overrides.

    ``core=C`` means a C x C tile: ``keys = C`` and ``luts = ceil(C / mu)``; explicit
    ``luts`` / ``keys`` win. ``mu`` defaults to :func:`default_mu` of ``arch`` (so ``luts = C``
    for ``signflip`` and ``mac``). ``max_n`` / ``max_m`` default to at least the tile.
    """
    problems = []
    if core is not None and (not _is_int(core) or not 1 <= core <= MAX_KEYS):
        problems.append(f"`core` must be in [1, {MAX_KEYS}] (tile edge, activations), got core={core!r}")
        core = None
    if core is None and (luts is None or keys is None):
        if not problems:
            problems.append("give `core` (tile edge) or both `luts` and `keys`")
        raise ConfigError(problems)
    if problems:
        raise ConfigError(problems)
    mu = default_mu(kwargs.get("arch", "lut")) if mu is None else mu
    if keys is None:
        keys = core
    if luts is None:
        luts = luts_for(core, mu) if _is_int(mu) and mu >= 1 else 1
    return CoreConfig(mu=mu, luts=luts, keys=keys, **kwargs)


def read_toml(path: Path, what: str) -> dict[str, object]:
    """The parsed TOML document at ``path``; ``ConfigError`` naming ``what`` (e.g. "design file") and
    the path when it cannot be read or parsed."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigError([f"{what} {str(path)!r}: {exc.strerror or exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{what} {str(path)!r} is not valid TOML: {exc}"]) from None


def load_design(path: str | Path) -> dict[str, object]:
    """Read the ``[core]`` table of a design file (TOML) as :class:`CoreConfig` keyword arguments.

    Raises ``ConfigError`` naming the file for unreadable files, bad TOML, a missing ``[core]``
    table or unknown keys; values are validated when the config is built.
    """
    path = Path(path)
    doc = read_toml(path, "design file")
    table = doc.get("core")
    if not isinstance(table, dict):
        raise ConfigError([f"design file {str(path)!r} has no [core] table"])
    allowed = sorted(f.name for f in fields(CoreConfig) if f.init)
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError([f"design file {str(path)!r}: unknown key(s) {', '.join(unknown)} "
                           f"in [core] (allowed: {', '.join(allowed)})"])
    return dict(table)


#: Stand-alone arithmetic units that ``hwgen emit --unit`` can write.
UNIT_KINDS = ("fp-add", "fp-mul")


@dataclass(frozen=True, kw_only=True)
class UnitConfig:
    """A single floating-point arithmetic unit with ports ``a``, ``b`` (inputs) and ``o``.

    Parameters
    ----------
    unit : str
        ``"fp-add"`` or ``"fp-mul"``.
    act : str
        Floating-point format: ``"fp16"``, ``"bf16"``, ``"fp32"``, ``"fp8e4m3"``, ``"fp8e5m2"``.
    adder_stages : int
        Pipeline registers inside the unit, in [0, 8]; the latency in cycles.
    name : str
        Verilog module name (default ``fp_add_fp16_s0`` style).
    """

    unit: str
    act: str = "fp16"
    adder_stages: int = 0
    name: str = ""
    act_type: ActType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if self.unit not in UNIT_KINDS:
            problems.append(f"`unit` must be one of {', '.join(UNIT_KINDS)}, got unit={self.unit!r}")
        act_type = None
        try:
            act_type = ActType.parse(self.act)
        except ValueError as exc:
            problems.append(str(exc))
        if act_type is not None and act_type.kind != "fp":
            problems.append(f"`act` must be a floating-point format ({', '.join(FP_FORMATS)}) for a "
                            f"floating-point unit, got act={self.act!r}")
        if not _is_int(self.adder_stages) or not 0 <= self.adder_stages <= MAX_ADDER_STAGES:
            problems.append(f"`adder_stages` must be in [0, {MAX_ADDER_STAGES}] registers per adder, "
                            f"got adder_stages={self.adder_stages!r}")
        if self.name and not _is_identifier(self.name):
            problems.append(_NAME_PROBLEM.format(name=self.name))
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "act_type", act_type)
        if not self.name:
            object.__setattr__(self, "name", f"{self.unit.replace('-', '_')}_{self.act}_s{self.adder_stages}")
