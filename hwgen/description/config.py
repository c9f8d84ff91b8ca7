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
from pathlib import Path

import numpy as np

from .fp_format import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPFormat
from .lut_plan import LutPlan, key_bits, lut_plan
from .tree_plan import bit_length, pipeline_cut_matrix, tree_depth, tree_nodes, tree_plan

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
    "step_r_bits",
    "control_register_widths",
    "stream_widths",
    "design_name",
    "emit_problems_of",
    "FP_REDUCE_MODES",
    "FP_ROUNDINGS",
    "MIN_FP_WIDTH",
    "MAX_FP_WIDTH",
    "MAX_FUSED_TERMS",
    "MAX_FUSED_GUARD",
    "default_fp_width",
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

#: How a floating-point LUT core reduces (:attr:`CoreConfig.fp_reduce`): ``"ieee"``, every LUT entry
#: and tree node one rounded IEEE add in the ``act`` format; ``"blockfp"``, each activation row
#: aligned once to its largest exponent into ``fp_width``-bit integers, integer LUTs and tree, and
#: each tile sum converted (one rounding) to the ``acc`` format; ``"fused"``, IEEE LUTs, and the L
#: fetched values of an output summed by one fused multi-term adder (aligned to their largest
#: exponent as ``fp_width``-bit integers, one rounding into ``acc``).
FP_REDUCE_MODES = ("ieee", "blockfp", "fused")
#: Most terms of a fused multi-term adder (:class:`hwgen.gateware.arith.FPFusedAdd`): ``luts`` of a
#: ``fused`` core; and its guard bits below the significand.
MAX_FUSED_TERMS, MAX_FUSED_GUARD = 64, 16
#: Roundings of a tile sum's conversion (:attr:`CoreConfig.fp_round`): to nearest, ties to even;
#: toward zero.
FP_ROUNDINGS = ("rne", "rtz")
#: Range of :attr:`CoreConfig.fp_width`, the signed width of a block-FP aligned activation.
MIN_FP_WIDTH, MAX_FP_WIDTH = 2, 32

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
                    f"`{param}` integer width must be in [{MIN_INT_WIDTH}, {MAX_INT_WIDTH}] bits, "
                    f"got {param}={text!r}"
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


def step_r_bits(reuse):
    """Bits of the step tag's field ``r`` (the output tile within a block of ``reuse``):
    ``max(1, bit_length(reuse - 1))``. Ints or numpy arrays."""
    return np.maximum(1, bit_length(np.asarray(reuse) - 1))


def control_register_widths(max_n, max_m, max_tiles_n, reuse, acc_latency) -> dict[str, tuple]:
    """``name -> (width, signed, count)`` of the control registers (:class:`ControlRegisters`), from
    the config properties of the same names; ints or numpy arrays (widths and counts then arrays).
    The one derivation behind :attr:`CoreConfig.control_registers` and the cost model's count."""
    n_bits, m_bits = bit_length(max_n), bit_length(max_m)
    row_bits = np.maximum(1, bit_length(np.asarray(max_tiles_n) - 1))
    r_bits = step_r_bits(reuse)
    return {
        "n_rem": (n_bits + 1, False, 1),
        "row": (row_bits, False, 1),
        "last_row": (row_bits, False, 1),
        "m_job": (m_bits, False, 1),
        "block_rem": (m_bits + 2, True, 1),
        "tile_rem": (m_bits + 2, True, 1),
        "r": (r_bits, False, 1),
        "fsm_state": ((len(FSM_STATES) - 1).bit_length(), False, 1),
        "in_flight": (len(STEP_FLAGS) + r_bits, False, acc_latency),
    }


def stream_widths(max_n, max_m, tile_n, act_width, luts, keys, key_bits, acc_width) -> dict[str, object]:
    """Payload bits of each stream (:attr:`CoreConfig.stream_bits`), from the config properties of
    the same names; ints or numpy arrays."""
    return {
        "job": bit_length(max_n) + bit_length(max_m),
        "act": tile_n * act_width,
        "keys": luts * keys * key_bits,
        "out": keys * acc_width + 1,
    }


def default_fp_width(act: str) -> int:
    """The aligned width (bits, sign included) of a block-FP core that does not set ``fp_width``:
    the format's significand, its sign and 4 bits below it, ``man_bits + 6`` (fp16: 16, bf16: 13,
    fp8e4m3: 9, fp32: 29). Activations down to 2**-4 of their row's largest keep every significand
    bit (see :attr:`CoreConfig.fp_width`). The ``fp-reduce`` study (``docs/findings.md``) puts it at
    the knee of area vs error on BitNet-like data: a 64 x 64 fp16 core 2.3x smaller per MAC/cycle than
    the IEEE one, with a worst-case error 12x smaller."""
    return min(MAX_FP_WIDTH, FP_FORMATS[act].man_bits + 6)


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
    fp_reduce : str
        How a floating-point LUT core reduces (:data:`FP_REDUCE_MODES`); must be ``"ieee"`` for
        integer activations and for ``mac``:

        * ``"ieee"`` (default): every LUT entry and tree node is one IEEE add, rounded to the
          ``act`` format; each tile sum is converted exactly to ``acc``.
        * ``"blockfp"``: each activation row (``tile_n`` activations, one input tile) is aligned
          once, when it is loaded, to its largest exponent: activation ``i`` with significand
          ``sig_i`` (hidden bit included) and exponent ``e_i`` becomes the ``fp_width``-bit
          signed integer ``+-floor(sig_i * 2**(fp_width - 2 - man_bits) / 2**(e_max - e_i))``
          (the magnitude truncated, then signed). LUT build, fetch and tree are exact integer
          arithmetic on these (widths as for an integer core of ``fp_width``-bit activations); a
          tile sum ``S`` stands for ``S * 2**(e_max - bias - fp_width + 2)`` and is converted to
          ``acc`` with one rounding (``fp_round``), then accumulated in ``acc`` as in ``ieee``.
          A row holding an infinity or NaN gives NaN tile sums; a zero tile sum is ``+0``.
        * ``"fused"``: LUT build and fetch as in ``ieee``; the ``luts`` fetched values of an
          output (at most 64) are summed by one fused adder
          (:func:`sim.fp_reference.fp_fused_sum`): each aligned to their largest exponent as
          ``+-floor(sig * 2**(fp_width - 2 - man_bits) / 2**(e_max - e))``, summed exactly, and
          rounded once (``fp_round``) into ``acc``; any NaN, or infinities of both signs, give
          NaN, an infinity that infinity; a zero sum is ``+0``. ``pipeline`` must be 0: the
          fused adder's ``adder_stages`` registers are its pipeline.
    fp_width : int
        Bits of an aligned value, sign included; 0 (default) means :func:`default_fp_width` of
        ``act``. ``blockfp``: in [2, 32], an aligned activation; alignment is exact for a row whose
        non-zero activations lie within ``fp_width - man_bits - 2`` binades of its largest.
        ``fused``: in [man_bits + 2, man_bits + 18] (at most 32), an aligned LUT value: the
        significand, its sign and ``fp_width - man_bits - 2`` guard bits. Must be 0 in ``ieee``.
    fp_sticky : bool
        ``fused``: jam the bits shifted out of each aligned value into one more low bit (a sticky
        bit per term, so the one rounding sees that something was lost below the guard bits);
        must be False otherwise.
    fp_round : str
        Rounding of the one conversion into ``acc`` in ``blockfp`` and ``fused``: ``"rne"``
        (default; overflow to infinity) or ``"rtz"`` (toward zero; overflow to the largest finite
        value). Must be ``"rne"`` in ``ieee`` (IEEE adders round to nearest even).
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
    fp_reduce: str = "ieee"
    fp_width: int = 0
    fp_round: str = "rne"
    fp_sticky: bool = False
    name: str = ""
    act_type: ActType = field(init=False, repr=False, compare=False)
    acc_type: ActType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # one spelling per design: a baseline's mu is written out
        if self.mu is None and default_mu(self.arch) is not None:
            object.__setattr__(self, "mu", default_mu(self.arch))
        self._validate()
        if self.is_fp and not self.acc:  # one spelling per design: "" means "same as act"
            object.__setattr__(self, "acc", self.act)
        if self.fp_reduce in ("blockfp", "fused") and self.fp_width == 0:  # likewise: 0 means the default
            object.__setattr__(self, "fp_width", default_fp_width(self.act))
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
        return design_name(self.arch, self.act, self.acc, self.mu, self.tile_n, self.tile_m,
                           self.fp_reduce, self.fp_width, self.fp_round, self.fp_sticky)

    @property
    def is_fp(self) -> bool:
        """Floating-point activations."""
        return self.act_type.kind == "fp"

    @property
    def is_blockfp(self) -> bool:
        """A block-FP core (``fp_reduce == "blockfp"``): FP activations, integer LUTs and tree."""
        return self.fp_reduce == "blockfp"

    @property
    def is_fused(self) -> bool:
        """A fused-reduction core (``fp_reduce == "fused"``): one fused multi-term adder per output."""
        return self.fp_reduce == "fused"

    @property
    def fused_guard(self) -> int:
        """Guard bits of the fused adder below each aligned significand, ``fp_width - man_bits - 2``."""
        if not self.is_fused:
            raise ValueError(f"fused_guard is for fp_reduce='fused', not {self.fp_reduce!r}")
        return self.fp_width - self.act_type.fmt.man_bits - 2

    @property
    def tile_sum_width(self) -> int:
        """Bits of a tile sum as the reduction leaves it: the tree's root (:meth:`tree_width` of
        ``luts``), or in a ``fused`` core the ``acc`` format."""
        return self.acc_width if self.is_fused else self.tree_width(self.luts)

    @property
    def int_lanes(self) -> bool:
        """Whether LUT build, fetch and tree are integer arithmetic (integer or block-FP cores)."""
        return not self.is_fp or self.is_blockfp

    @property
    def lane_width(self) -> int:
        """Bits of an activation as the LUT builder reads it: ``fp_width`` (block-FP) or
        :attr:`act_width`."""
        return self.fp_width if self.is_blockfp else self.act_width

    @property
    def row_exp_bits(self) -> int:
        """Bits of a block-FP row's shared exponent (the ``act`` exponent field; all ones marks a
        row holding an infinity or NaN); 0 for other cores."""
        return self.act_type.fmt.exp_bits if self.is_blockfp else 0

    @property
    def buffer_row_bits(self) -> int:
        """Bits of one activation-buffer row: ``tile_n`` lanes of :attr:`lane_width` and the
        row's shared exponent (:attr:`row_exp_bits`)."""
        return self.tile_n * self.lane_width + self.row_exp_bits

    @property
    def tile_sum_scale(self) -> int:
        """Block-FP: a tile sum ``S`` of a row with shared exponent field ``e_max`` is
        ``S * 2**(e_max + tile_sum_scale)``, ``tile_sum_scale = -(bias + fp_width - 2)``."""
        if not self.is_blockfp:
            raise ValueError(f"tile_sum_scale is for fp_reduce='blockfp', not {self.fp_reduce!r}")
        return -(self.act_type.fmt.bias + self.fp_width - 2)

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
        return tuple(tuple(TreeLevelNode(node.inputs, node.terms, self.tree_width(node.terms))
                           for node in level) for level in tree_nodes(self.luts))

    @property
    def step_fields(self) -> tuple[tuple[str, int], ...]:
        """``(name, bits)`` of the step tag, in layout order (LSB first): the one-bit
        :data:`STEP_FLAGS`, then ``r``, the output tile within the block."""
        return (*((flag, 1) for flag in STEP_FLAGS), ("r", int(step_r_bits(self.reuse))))

    @property
    def step_bits(self) -> int:
        """Bits of the step tag."""
        return sum(width for _, width in self.step_fields)

    @property
    def control_registers(self) -> ControlRegisters:
        """The control logic's registers and their widths."""
        widths = control_register_widths(self.max_n, self.max_m, self.max_tiles_n, self.reuse,
                                         self.acc_latency)
        return ControlRegisters(**{name: Register(name, int(width), signed, int(count))
                                   for name, (width, signed, count) in widths.items()})

    @property
    def stream_bits(self) -> dict[str, int]:
        """Payload bits of each stream: ``job`` (``n`` and ``m``, ``bit_length(max_n)`` and
        ``bit_length(max_m)`` bits), ``act`` (``tile_n`` lanes), ``keys`` (``luts x keys`` elements
        of :attr:`key_bits`) and ``out`` (``keys`` lanes of :attr:`acc_width` bits and ``last``)."""
        widths = stream_widths(self.max_n, self.max_m, self.tile_n, self.act_width, self.luts, self.keys,
                               self.key_bits, self.acc_width)
        return {name: int(bits) for name, bits in widths.items()}

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
        """Width (bits) of a sum of ``terms`` activations: exact signed integer (of
        :attr:`lane_width`-bit lanes), or the activation format."""
        return int_sum_width(terms, self.lane_width) if self.int_lanes else self.act_width

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
        if not self.int_lanes:
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
        """Cycles from an activation row to its LUT entries: plan depth x ``adder_stages`` (0
        with integer lanes)."""
        return 0 if self.int_lanes else self.plan.depth * self.adder_stages

    @property
    def mul_latency(self) -> int:
        """Cycles through a multiplier of a ``mac`` core: ``adder_stages`` for floating point
        (the FP multipliers are pipelined like the adders), 0 for integers; 0 for LUT cores,
        whose fetch (a mux and a sign flip) takes its place and is combinational."""
        return self.adder_stages if self.is_mac else 0

    @property
    def tree_latency(self) -> int:
        """Cycles through the reduction tree: ``ceil(log2(luts)) * adder_stages + pipeline``
        (integer lanes: ``pipeline``; ``fused``: the fused adder's ``adder_stages``)."""
        if self.is_fused:
            return self.adder_stages + self.pipeline
        return (0 if self.int_lanes else tree_depth(self.luts) * self.adder_stages) + self.pipeline

    @property
    def canonicalises_first_tile(self) -> bool:
        """Whether the accumulator turns a NaN of a job's first tile sum into the canonical NaN.

        Every add and conversion returns the canonical NaN, so a tile sum is canonical once it
        has passed one. Only in a floating-point LUT core with one LUT (no tree add) and
        ``acc == act`` (no conversion) can a tile sum be a LUT entry that holds an activation as
        it came in (a group's single activations are stored, not added), sign-flipped by the
        fetch; a job of one input tile (taken as is, not added) would then emit that NaN's own
        payload and sign. Those cores canonicalise the first tile (the later ones pass an add).
        """
        return (self.is_fp and not self.is_mac and self.fp_reduce == "ieee" and self.luts == 1
                and self.acc_type == self.act_type)

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
            "fp_reduce": self.fp_reduce,
            "fp_width": self.fp_width,
            "fp_round": self.fp_round,
            "fp_sticky": self.fp_sticky,
            "lut_entries": 0 if self.is_mac else self.plan.entries,
            "adders_per_lut": 0 if self.is_mac else self.plan.adders,
            "multipliers": self.luts * self.keys if self.is_mac else 0,
            "product_width": self.product_width if self.is_mac else 0,
            "key_bits": self.key_bits,
            "acc_width": self.acc_width,
        }


def design_name(arch: str, act: str, acc: str, mu: int, tile_n: int, tile_m: int,
                fp_reduce: str = "ieee", fp_width: int = 0, fp_round: str = "rne",
                fp_sticky: bool = False) -> str:
    """:meth:`CoreConfig.default_name` of a design with these fields (``acc`` as resolved: ``act``
    or ``""`` when the accumulator is the activation format; ``fp_width`` resolved). A block-FP
    core adds ``_bfp<fp_width>`` (and ``rtz`` when it truncates) after the formats."""
    suffix = f"_{acc}" if acc and acc != act else ""
    if fp_reduce in ("blockfp", "fused"):
        mode = "bfp" if fp_reduce == "blockfp" else "fused"
        suffix += f"_{mode}{fp_width}" + ("s" if fp_sticky else "") + ("rtz" if fp_round == "rtz" else "")
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
        raise ConfigError([(f"design file {str(path)!r}: unknown key(s) {', '.join(unknown)} "
                            f"in [core] (allowed: {', '.join(allowed)})")])
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
