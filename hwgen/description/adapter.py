"""The adapter unit beside a core: LoRA-family side paths, described once.

An adapted layer computes ``y = W x + s * B (A x)`` at inference time (LoRA), with A (r x N) and
B (M x r) in a higher precision than the ternary W: the update cannot be merged into W without
leaving {-1, 0, +1}. The adapter unit sits beside the core (:class:`~.config.CoreConfig`), reads the
activations the core has already stored (x is fetched once), and adds its result into the core's
output tiles before they leave. :class:`AdapterConfig` is its validated description; the cost model
and the reference model (:mod:`sim.adapter_reference`) read it, and so will the generator.

Variants (:data:`ADAPTER_VARIANTS`)
    ``lora``: dense A and B, a scale ``s`` per adapter.
    ``vera``: A and B frozen, shared by every layer and regenerated on chip from a seed by
    :mod:`.vera` (no A or B traffic); per layer only the vectors ``d`` (length r) and ``b``
    (length M) are trained: ``y = W x + diag(b) B diag(d) A x``.
    ``ternary-a``: A in {-1, 0, +1}: the down-projection is ``r`` more output columns fetched from
    the LUTs the core has built (more fetch multiplexers and tree lanes, no LUT build, no
    multiplier); B dense as in ``lora``.

Data flow of one job (``n`` inputs, ``m`` outputs, rank ``r <= max_rank``)
    The unit has ``lanes`` identical multiply-accumulate lanes (P), each a multiplier of the
    adapter format ``fmt``, a converter to the core's accumulator format ``acc`` (exact: ``acc``
    is at least as wide) and an adder and register of ``acc`` (integer: 8 x 8 products, exact
    sums). A lane multiplies, rounds the product to ``fmt``, and adds it to its register, the
    first product of a sum taken as is. The same lanes serve the down-projection and then the
    up-projection, so no multiplier idles while the other projection runs.

    1. Down-projection ``u = A x`` (``R_d`` rank rows: ``r``, or the stacked ranks of a
       shared-input group). ``lora``/``vera``: the lanes form ``P / C`` groups of ``C`` lanes
       (``C`` = :attr:`AdapterConfig.chunk`), one rank row each, and run ``ceil(R_d / (P / C))``
       passes over ``x``. In a pass, step ``s`` gives lane ``c`` of a group the product
       ``A[j, i] * x[i]`` of ``i = s * C + c`` (``x`` converted to ``fmt`` to nearest even when the
       core's ``act`` differs; ``i >= n`` is +0 times +0): every lane sums ``ceil(n / C)``
       products. Then the ``C`` partial sums of each group are added along
       :func:`~.tree_plan.tree_plan` of ``C`` (``acc`` adds, by the lanes' adders, one tree level
       per cycle): ``u[j]``. A pass takes ``ceil(n / C) + ceil(log2 C)`` cycles
       (:meth:`AdapterConfig.down_cycles`); ``vera`` first spends ``P / C`` cycles on the rows'
       generator keys.
       ``ternary-a``: ``u`` is computed by the core itself, as ``E = ceil(R_d / keys)`` more output
       tiles placed first in the group's first job: their keys are A's (``A.T`` as N x R_d ternary
       columns, padded with zero keys), so ``u`` is bit for bit the core's own GEMV of those
       columns, fetched from the LUTs the core builds anyway (no LUT build, no multiplier, no fetch
       or tree of its own); it costs the job ``E`` output tiles of steps
       (:meth:`AdapterConfig.ternary_tiles`).
       The lanes read ``x`` from their own copy of the activation rows, written as the core's
       ``act`` stream is accepted (``x`` is fetched once; :attr:`AdapterConfig.x_rows`).
    2. Scale ``u`` into the adapter format (one scalar unit, one value per cycle):
       ``u_f[j] = round_fmt(round_acc(d[j] * u[j]))``, ``d[j] = s`` (one scale per adapter) for
       ``lora``/``ternary-a``, the trained vector ``d`` for ``vera``. Integer adapters
       (``int8``, integer cores): ``u_f[j] = clamp(rhu(u[j] * d[j] / 2**shift_u), -128, 127)``
       (``rhu``: round half up; ``d`` 16-bit signed, ``shift_u`` per adapter; ``lora``/``ternary-a``
       ``d[j] = s``).
    3. Up-projection ``v = B u_f``: each output tile in groups of ``min(P, keys)`` outputs
       (:attr:`AdapterConfig.up_width`), lane ``p`` taking output ``k`` of the group and summing
       ``B[k, j] * u_f[j]`` for ``j = 0 .. r-1`` (``r`` cycles): exactly
       :class:`sim.reference.ReferenceModel` of :attr:`AdapterConfig.up_engine` (a ``mac`` engine of
       one activation lane) on ``u_f @ B.T``. ``vera`` first spends ``r`` cycles of each job on the
       generator keys of B's rows.
    4. Add into the core's output tile (the lane's adder, one more cycle, once the tile has left
       the core; the finished tile leaves the unit when its last group is added):
       ``y[k] = round_acc(core[k] + v[k])``; ``vera`` first scales by its trained ``b``:
       ``y[k] = round_acc(core[k] + round_acc(b[k] * v[k]))`` (one more cycle, on the lane's
       multiplier when ``fmt`` is ``acc``). Integer: ``y[k] = clamp(core[k] + rhu(v[k] /
       2**shift_s))`` to the core's ``acc_width``; ``vera`` scales on the lane's 8 x 8 multiplier:
       ``v8 = clamp(rhu(v[k] / 2**shift_v), -128, 127)``, ``y[k] = clamp(core[k] + rhu(v8 * b[k] /
       2**shift_s))`` with ``b`` int8.
    A job with adapter id 0 runs with the adapter off: the core's outputs, unchanged.

Schedule
    The core's output tiles wait in a hold buffer of :attr:`AdapterConfig.hold` tiles (SRAM, like
    the activation buffer) until the lanes have added into them; the core stalls only when it is
    full. Projections that read the same input (q, k, v; gate, up) run as a group of back-to-back
    jobs sharing one down-projection pass (``share`` of them at most: ``u`` holds
    ``share * max_rank`` values): the group's first job computes the stacked ``u``, every job only
    its up-projection. :func:`adapter_group_cycles` simulates a group tile by tile; the adapter
    *hides* when the group takes no more cycles than the core alone.

Everything here is plain Python + numpy: the generator, the reference model and the cost model read
the same counts, widths, engines and cycles.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from .config import FP_FORMATS, ConfigError, CoreConfig, _is_int, int_product_sum_width, read_toml
from .schedule import job_cycles, job_interval, tiles
from .tree_plan import tree_depth

__all__ = [
    "ADAPTER_VARIANTS", "ADAPTER_FORMATS", "ADAPTER_STORAGE", "MAX_RANK", "MAX_RESIDENT", "MAX_SHARE",
    "MAX_LANES", "AdapterConfig", "adapter_problems", "default_adapter_fmt", "AdapterJob",
    "adapter_group_cycles", "adapter_hides", "tile_done_cycles", "load_adapter", "adapter_traffic_bits",
    "PROJECTIONS", "SHARED_INPUT_GROUPS", "INT_SCALE_BITS", "INT_B_BITS", "INT_SHIFT_BITS",
]

#: Adapter variants (``--adapter``).
ADAPTER_VARIANTS = ("lora", "vera", "ternary-a")
#: Number formats of A, B and the scaled down-projection: FP formats for FP cores, ``int8`` (with
#: power-of-two shifts) for integer cores.
ADAPTER_FORMATS = ("fp16", "bf16", "int8")
#: Where A and B come from: ``stream`` (read from memory with every job: weight traffic) or
#: ``onchip`` (the workload's adapters resident in on-chip SRAM: no traffic per token).
ADAPTER_STORAGE = ("stream", "onchip")
MAX_RANK = 256
MAX_RESIDENT = 255
MAX_LANES = 4096
#: Most projections sharing one down-projection pass (their A matrices stacked).
MAX_SHARE = 4
#: The projections of a transformer layer that workload files can adapt.
PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")
#: Projections that read the same input vector (one down-projection pass serves the group).
SHARED_INPUT_GROUPS = (("q", "k", "v"), ("gate", "up"))
#: Cycles from a tile leaving the core to the unit reading it from the hold buffer.
HOLD_LATENCY = 1
#: Integer adapters: bits of the scales ``d`` (and ``s``) and ``b`` (signed), and of a shift.
INT_SCALE_BITS, INT_B_BITS, INT_SHIFT_BITS = 16, 8, 6


@dataclass(frozen=True, kw_only=True)
class AdapterConfig:
    """The adapter unit of one core (see the module docstring for its arithmetic and schedule).

    Parameters
    ----------
    core : CoreConfig
        The core it sits beside (its activation buffer, output tiles and accumulator format).
    variant : str
        ``"lora"``, ``"vera"`` or ``"ternary-a"`` (:data:`ADAPTER_VARIANTS`).
    max_rank : int
        Largest rank r a job may use, in [1, 256].
    lanes : int
        Multiply-accumulate lanes P, in [1, 4096]: both projections for ``lora``/``vera`` (a multiple
        of ``chunk``), the up-projection for ``ternary-a`` (at most ``keys``); 0 means ``chunk``
        (``ternary-a``: ``keys``).
    chunk : int
        ``lora``/``vera``: activations C each down-projection tree reads per step, a divisor or a
        multiple of the core's ``tile_n`` (chunks align with its rows), at most ``max_n``; 0 means
        ``tile_n``. Sets the order of the down-projection's adds (the bits of ``u``). Must be 0
        for ``ternary-a``.
    fmt : str
        Adapter number format (:data:`ADAPTER_FORMATS`); ``""`` means the core's ``act`` for an
        fp16/bf16 core, fp16 for another FP core, ``int8`` for an integer core.
    resident : int
        Adapters the unit can switch between (multi-tenant; a job names one, or 0 for none), in
        [1, 255].
    storage : str
        ``"stream"`` or ``"onchip"`` (:data:`ADAPTER_STORAGE`): A and B read with every job, or held
        in an on-chip store of ``resident`` entries, each loaded once by a *load job* (descriptor
        field ``load``) with the ``weights`` words of one adapted job of that shape, and replayed by
        every later job that names it (:attr:`AdapterConfig.store_words`). ``vera`` has no A or B
        to store.
    share : int
        Most projections sharing one down-projection pass, in [1, 4] (3 covers q, k, v).
    hold : int
        Output tiles the hold buffer keeps, in [1, ceil(max_m / keys) * share]; 0 means
        ``ceil(max_m / keys)``.
    seed : int
        ``vera``: the seed of the shared A and B (:mod:`.vera`), in [0, 2**32); 0 otherwise.
    fan_in : int
        ``vera``: the fan-in of A's bound (:func:`~.vera.vera_matrices`), the largest input length
        of the model the matrices are shared by, in [1, 2**24]; 0 means ``max_n``. Must be 0
        otherwise.
    """

    core: CoreConfig
    variant: str = "lora"
    max_rank: int = 16
    lanes: int = 0
    chunk: int = 0
    fmt: str = ""
    resident: int = 1
    storage: str = "stream"
    share: int = 3
    hold: int = 0
    seed: int = 0
    fan_in: int = 0

    def __post_init__(self) -> None:
        problems = adapter_problems(self.core, self.params())
        if problems:
            raise ConfigError(problems)
        core = self.core
        if self.variant != "ternary-a" and self.chunk == 0:
            object.__setattr__(self, "chunk", core.tile_n)
        if self.lanes == 0:
            object.__setattr__(self, "lanes", core.keys if self.variant == "ternary-a" else self.chunk)
        if self.hold == 0:
            object.__setattr__(self, "hold", self.max_tiles_m)
        if not self.fmt:
            object.__setattr__(self, "fmt", default_adapter_fmt(core))
        if self.variant == "vera" and self.fan_in == 0:
            object.__setattr__(self, "fan_in", core.max_n)

    def params(self) -> dict[str, object]:
        """The adapter's own parameters (every init field but ``core``), JSON-serialisable."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init and f.name != "core"}

    def to_dict(self) -> dict[str, object]:
        """``{"core": core.to_dict(), **params()}``; ``AdapterConfig.from_dict(d) == self``."""
        return {"core": self.core.to_dict(), **self.params()}

    @classmethod
    def from_dict(cls, d: dict) -> AdapterConfig:
        rest = {k: v for k, v in d.items() if k != "core"}
        return cls(core=CoreConfig(**d["core"]), **rest)

    def replace(self, **changes) -> AdapterConfig:
        """A copy with ``changes`` (adapter parameters), validated."""
        return AdapterConfig(core=self.core, **{**self.params(), **changes})

    # --- derived structure ---

    @property
    def max_tiles_m(self) -> int:
        """Output tiles of the largest job, ``ceil(max_m / keys)``."""
        return -(-self.core.max_m // self.core.keys)

    @property
    def is_int(self) -> bool:
        """Integer adapter (``int8``, integer core): exact sums, power-of-two shifts."""
        return self.fmt == "int8"

    @property
    def fmt_bits(self) -> int:
        """Bits of one A or B value in ``fmt`` (``ternary-a``: of B; A is keys)."""
        return 8 if self.is_int else 16

    @property
    def b_bits(self) -> int:
        """Bits of one ``vera`` output scale ``b[k]``: ``acc`` (FP) or 8 (integer)."""
        return INT_B_BITS if self.is_int else self.core.acc_width

    @property
    def scale_bits(self) -> int:
        """Bits of one scale value ``s`` or ``d[j]``: ``acc`` (FP) or 16 (integer)."""
        return INT_SCALE_BITS if self.is_int else self.core.acc_width

    @property
    def u_entries(self) -> int:
        """Entries of the down-projection buffer: ``share * max_rank``."""
        return self.share * self.max_rank

    @property
    def u_width(self) -> int:
        """Bits of one down-projection value as accumulated: ``acc`` (FP); integer: the exact sum
        of ``max_n`` int8 x int8 products (``lora``/``vera``) or the core's ``acc_width``
        (``ternary-a``: the core's own sum)."""
        if not self.is_int or self.variant == "ternary-a":
            return self.core.acc_width
        return int(int_product_sum_width(self.core.max_n, 8))

    @property
    def lane_acc_width(self) -> int:
        """Bits of a lane's accumulator: ``acc`` (FP), or integer the wider of :attr:`u_width` and
        the exact sum of ``max_rank`` products (the up-projection, :attr:`v_width`)."""
        return max(self.u_width, self.v_width) if self.is_int else self.core.acc_width

    @property
    def v_width(self) -> int:
        """Bits of one up-projection value: ``acc`` (FP) or the exact sum of ``max_rank`` int8 x
        int8 products."""
        return self.core.acc_width if not self.is_int else int(int_product_sum_width(self.max_rank, 8))

    @property
    def hold_bits(self) -> int:
        """SRAM bits of the hold buffer: ``hold * keys * acc_width``."""
        return self.hold * self.core.keys * self.core.acc_width

    @property
    def store_words(self) -> int:
        """``onchip``: ``weights`` words one store entry holds, those of the largest adapted job: its
        group's down-projection (``lora``: ``ceil(u_entries / trees) * ceil(max_n / chunk)``) and its
        up-projection (``ceil(max_m / keys) * ceil(keys / up_width) * max_rank``); 0 for ``stream``."""
        if self.storage != "onchip":
            return 0
        down = 0
        if self.variant == "lora":
            down = -(-self.u_entries // self.trees) * -(-self.core.max_n // self.chunk)
        return down + self.max_tiles_m * -(-self.core.keys // self.up_width) * self.max_rank

    @property
    def store_bits(self) -> int:
        """SRAM bits of the ``onchip`` store: ``resident`` entries of :attr:`store_words` words of
        ``lanes`` values of ``fmt``; 0 for ``stream``."""
        return self.resident * self.store_words * self.lanes * self.fmt_bits

    @property
    def job_fields(self) -> tuple[tuple[str, int], ...]:
        """``(name, bits)`` of the fields the job descriptor gains, after ``n`` and ``m``:
        ``adapter`` (0: off, 1 .. resident), ``rank`` (1 .. max_rank), ``down`` (the rank rows of the
        shared-input group's down-projection, stacked in job order, on the group's first job; 0 on
        the others, which use the next ``rank`` rows of the last one), for integer adapters the
        shifts ``shift_u``, ``shift_s`` (and ``vera``'s ``shift_v``), and for an ``onchip`` store
        ``load`` (1: write this job's ``weights`` words into entry ``adapter``; the core does not
        run)."""
        out = [("adapter", int(self.resident).bit_length()), ("rank", int(self.max_rank).bit_length()),
               ("down", int(self.u_entries).bit_length())]
        if self.is_int:
            out += [("shift_u", INT_SHIFT_BITS), ("shift_s", INT_SHIFT_BITS)]
            if self.variant == "vera":
                out.append(("shift_v", INT_SHIFT_BITS))
        if self.storage == "onchip":
            out.append(("load", 1))
        return tuple(out)

    @property
    def down_engine(self) -> CoreConfig | None:
        """A ``mac`` config of the down-projection's lanes (``lora``/``vera``): ``chunk`` activation
        lanes of ``fmt`` (integer: int8), one output, ``acc`` accumulation; its ``tree_levels`` are
        the order of the partial sums' adds. ``None`` for ``ternary-a`` (the core computes ``u``)."""
        if self.variant == "ternary-a":
            return None
        return self._engine(luts=self.chunk, keys=1, max_n=self.core.max_n, max_m=self.u_entries, part="down")

    @property
    def up_engine(self) -> CoreConfig:
        """The up-projection as a ``mac`` engine: one activation lane (a rank term), ``up_width``
        outputs, inputs ``u_f`` in ``fmt``."""
        return self._engine(luts=1, keys=self.up_width, max_n=self.max_rank, max_m=self.core.max_m, part="up")

    def _engine(self, *, luts: int, keys: int, max_n: int, max_m: int, part: str) -> CoreConfig:
        core = self.core
        act = "int8" if self.is_int else self.fmt
        acc = "" if self.is_int else core.acc_type.name
        return CoreConfig(arch="mac", act=act, acc=acc, luts=luts, keys=keys, max_n=max_n,
                          max_m=max(max_m, keys), name=f"{core.name}_adapter_{part}")

    def down_rows(self, ranks: list[int]) -> int:
        """Rank rows of a group's down-projection for its jobs' ``ranks``: their sum (``vera``: the
        largest, its A being shared by every projection)."""
        return max(ranks, default=0) if self.variant == "vera" else sum(ranks)

    def down_cycles(self, n: int, rows: int) -> int:
        """Cycles of the ``lora``/``vera`` down-projection of ``rows`` rank rows over ``n`` inputs,
        until ``u`` is stored: ``ceil(rows / trees)`` passes of one cycle to read the first row of
        ``x``, ``ceil(n / chunk)`` steps, ``ceil(log2(chunk))`` reduction levels and one cycle to
        store the trees' sums (``vera``: and ``trees`` cycles of A's row keys first); 0 for
        ``ternary-a`` (the core computes ``u``, :meth:`ternary_tiles`)."""
        if rows == 0 or self.variant == "ternary-a":
            return 0
        passes = -(-rows // self.trees)
        keys = self.trees if self.variant == "vera" else 0
        return passes * (keys + 1 + -(-n // self.chunk) + int(tree_depth(self.chunk)) + 1)

    @property
    def trees(self) -> int:
        """Rank rows the down-projection works on at once, ``lanes // chunk`` (``ternary-a``: 0)."""
        return self.lanes // self.chunk if self.chunk else 0

    def prep_cycles(self, rank: int) -> int:
        """Cycles a job spends before its up-projection: one to start and ``rank`` to scale its rows
        of ``u`` into ``fmt`` (``vera``: with B's row keys alongside)."""
        return 1 + rank

    def add_latency(self, m: int, rank: int) -> int:
        """The fewest cycles a job of ``m`` outputs and rank ``rank`` can add to its last tile when
        the lanes are idle before it leaves the core: its read from the hold buffer, the first
        group's add (its ``v`` made ahead), each further group's ``rank`` cycles and add, and the
        cycle the tile leaves. A group *hides*
        the adapter when it takes at most this many cycles more than the core alone."""
        groups = -(-min(self.core.keys, m) // self.up_width)
        add = 1 + (self.variant == "vera")
        return HOLD_LATENCY + groups * add + (groups - 1) * rank + 1

    def ternary_tiles(self, rows: int) -> int:
        """``ternary-a``: output tiles the core computes for ``rows`` rank columns of ``u``,
        ``ceil(rows / keys)``; 0 for the other variants (and without rows)."""
        return -(-rows // self.core.keys) if self.variant == "ternary-a" else 0

    @property
    def up_width(self) -> int:
        """Outputs the up-projection accumulates at once, ``min(lanes, keys)``."""
        return min(self.lanes, self.core.keys)

    @property
    def x_rows(self) -> tuple[int, int]:
        """``(depth, lanes)`` of the lanes' copy of ``x`` (``lora``/``vera``): rows of ``max(chunk,
        tile_n)`` values of ``fmt`` (``chunk // tile_n`` activation rows each when ``chunk`` is a
        multiple of ``tile_n``), enough for ``max_n``; ``(0, 0)`` for ``ternary-a``."""
        if self.variant == "ternary-a":
            return 0, 0
        width = max(self.chunk, self.core.tile_n)
        return -(-self.core.max_n // width), width

    @property
    def x_bits(self) -> int:
        """SRAM bits of the copy of ``x``."""
        depth, width = self.x_rows
        return depth * width * self.fmt_bits

    def summary(self) -> dict[str, object]:
        """Parameters and derived sizes (for CLIs and reports)."""
        return {**self.params(), "u_entries": self.u_entries, "u_width": self.u_width,
                "v_width": self.v_width, "hold_bits": self.hold_bits, "job_fields": dict(self.job_fields)}


def default_adapter_fmt(core: CoreConfig) -> str:
    """``int8`` for an integer core; the core's ``act`` when it is fp16 or bf16; else fp16."""
    if not core.is_fp:
        return "int8"
    return core.act if core.act in ("fp16", "bf16") else "fp16"


def adapter_problems(core: CoreConfig, params: dict[str, object]) -> list[str]:
    """Why ``params`` (:class:`AdapterConfig` fields but ``core``) are not a valid adapter of
    ``core``: one line per problem, naming the option, the value and the allowed range."""
    p = {f.name: f.default for f in fields(AdapterConfig) if f.name != "core"}
    unknown = sorted(set(params) - set(p))
    if unknown:
        return [f"unknown adapter option(s) {', '.join(unknown)} (allowed: {', '.join(sorted(p))})"]
    p.update(params)
    problems = []
    variant = p["variant"]
    variant_ok = variant in ADAPTER_VARIANTS
    if not variant_ok:
        problems.append(f"`adapter` must be one of {', '.join(ADAPTER_VARIANTS)}, got adapter={variant!r}")
    rank = p["max_rank"]
    rank_ok = _is_int(rank) and 1 <= rank <= MAX_RANK
    if not rank_ok:
        problems.append(f"`rank` must be in [1, {MAX_RANK}], got rank={rank!r}")
    lanes, chunk = p["lanes"], p["chunk"]
    lanes_ok = _is_int(lanes) and (lanes == 0 or 1 <= lanes <= MAX_LANES)
    if variant == "ternary-a":
        if not (_is_int(lanes) and (lanes == 0 or 1 <= lanes <= core.keys)):
            problems.append(f"`lanes` must be in [1, {core.keys}] (up-projection outputs per cycle, at "
                            f"most the "
                            f"core's keys), got lanes={lanes!r}")
        if chunk != 0:
            problems.append(f"`chunk` is for adapter=lora or vera (the down-projection's trees), got "
                            f"chunk={chunk!r} "
                            "with adapter=ternary-a")
    elif variant_ok:
        top = max(core.max_n, core.tile_n)
        chunk_ok = _is_int(chunk) and (chunk == 0 or (1 <= chunk <= top and (core.tile_n % chunk == 0
                                                                              or chunk % core.tile_n == 0)))
        if not chunk_ok:
            problems.append(f"`chunk` must divide tile_n={core.tile_n} or be a multiple of it, at most {top} "
                            f"(activations per down-projection step, aligned with the core's rows), got "
                            f"chunk={chunk!r}")
        if not lanes_ok:
            problems.append(f"`lanes` must be in [1, {MAX_LANES}], got lanes={lanes!r}")
        elif chunk_ok and lanes and lanes % (chunk or core.tile_n):
            problems.append(f"`lanes` must be a multiple of chunk={chunk or core.tile_n} (trees of chunk "
                            f"lanes), "
                            f"got lanes={lanes}")
    fmt = p["fmt"]
    allowed = ("fp16", "bf16") if core.is_fp else ("int8",)
    if fmt and fmt not in allowed:
        kind = "floating-point" if core.is_fp else "integer"
        problems.append(f"`adapter_fmt` must be one of {', '.join(allowed)} for the {kind} core "
                        f"{core.name}, got adapter_fmt={fmt!r}")
    elif core.is_fp:
        fmt = fmt or default_adapter_fmt(core)
        acc = core.acc_type.fmt
        f = FP_FORMATS[fmt]
        if f.exp_bits > acc.exp_bits or f.man_bits > acc.man_bits:
            problems.append(f"`adapter_fmt` {fmt} needs an accumulator that holds every {fmt} value exactly "
                            f"(the lanes widen their products to it), got acc={core.acc_type.name}; use "
                            f"acc=fp32" + ("" if fmt == "fp16" else " or adapter_fmt=fp16"))
    elif core.act_width > 8:
        problems.append(f"an int8 adapter multiplies the core's activations as int8: it needs "
                        f"act=int2..int8, "
                        f"got act={core.act}")
    resident = p["resident"]
    if not (_is_int(resident) and 1 <= resident <= MAX_RESIDENT):
        problems.append(f"`resident` must be in [1, {MAX_RESIDENT}] (adapters to switch between), "
                        f"got resident={resident!r}")
    if p["storage"] not in ADAPTER_STORAGE:
        problems.append(f"`adapter_storage` must be one of {', '.join(ADAPTER_STORAGE)}, "
                        f"got adapter_storage={p['storage']!r}")
    elif p["storage"] == "onchip" and variant == "vera":
        problems.append("`adapter_storage` onchip holds A and B; adapter=vera regenerates them (nothing to "
                        "store): use adapter_storage=stream")
    share = p["share"]
    share_ok = _is_int(share) and 1 <= share <= MAX_SHARE
    if not share_ok:
        problems.append(f"`share` must be in [1, {MAX_SHARE}] (projections per down-projection pass), "
                        f"got share={share!r}")
    hold = p["hold"]
    top_hold = -(-core.max_m // core.keys) * (share if share_ok else MAX_SHARE)
    if not (_is_int(hold) and (hold == 0 or 1 <= hold <= top_hold)):
        problems.append(f"`hold` must be in [1, {top_hold}] (output tiles held), got hold={hold!r}")
    fan_in = p["fan_in"]
    if not (_is_int(fan_in) and 0 <= fan_in <= 1 << 24):
        problems.append(f"`fan_in` must be in [1, {1 << 24}], got fan_in={fan_in!r}")
    elif variant_ok and variant != "vera" and fan_in != 0:
        problems.append(f"`fan_in` is for adapter=vera (the bound of its shared A), got fan_in={fan_in} with "
                        f"adapter={variant}")
    seed = p["seed"]
    if not (_is_int(seed) and 0 <= seed < 1 << 32):
        problems.append(f"`seed` must be in [0, {(1 << 32) - 1}], got seed={seed!r}")
    elif variant_ok and variant != "vera" and seed != 0:
        problems.append(f"`seed` is for adapter=vera (its shared A and B), got seed={seed} with "
                        f"adapter={variant}")
    if variant == "ternary-a" and core.arch != "lut":
        problems.append(f"adapter=ternary-a fetches from the core's LUTs: it needs arch=lut, got "
                        f"arch={core.arch}")
    elif variant == "ternary-a" and core.is_blockfp:
        problems.append("adapter=ternary-a needs a core whose LUTs hold act-format values, not "
                        "fp_reduce=blockfp")
    return problems


@dataclass(frozen=True)
class AdapterJob:
    """One GEMV of a shared-input group: ``n`` x ``m``, adapter rank ``rank`` (0: adapter off)."""

    n: int
    m: int
    rank: int


def tile_done_cycles(core: CoreConfig, n: int, m: int) -> np.ndarray:
    """The cycle (from the job's start, :func:`~.schedule.job_cycles` semantics) at which each output
    tile of an ``n`` x ``m`` job leaves the core; the last equals ``job_cycles``."""
    t_count, o_count = tiles(core, n, m)
    reuse, gap = core.reuse, core.acc_latency + 1
    done = np.empty(o_count, np.int64)
    start = 0
    for b in range(0, o_count, reuse):
        width = min(reuse, o_count - b)
        row = max(width, gap)
        for o in range(b, b + width):
            done[o] = t_count + start + (t_count - 1) * row + (o - b) + 1 + core.pipeline_latency
        start += width + (t_count - 1) * row
    return done


def adapter_group_cycles(adapter: AdapterConfig, group: list[AdapterJob]) -> tuple[int, int]:
    """``(core cycles, cycles with the adapter)`` of a shared-input group of back-to-back jobs.

    The core runs the jobs one after the other (each :func:`~.schedule.job_cycles`; ``ternary-a``'s
    first job with its :meth:`~AdapterConfig.ternary_tiles` more output tiles, first), its tiles
    entering the hold buffer (a stall when :attr:`~AdapterConfig.hold` tiles wait). The lanes start
    once the first job's rows are loaded (``ternary-a``: once the core's ``u`` tiles have left it):
    the stacked down-projection, then tile by tile and group by group the up-projection (which
    needs ``u``, not the tile) and the add into the tile (once it has left the core). The group
    ends with its last tile.
    """
    core = adapter.core
    base = _back_to_back(core, [(j.n, j.m) for j in group])
    rows = adapter.down_rows([j.rank for j in group])
    if rows == 0:
        return base, base
    if len(group) > adapter.share or any(j.rank > adapter.max_rank for j in group):
        raise ConfigError([(f"a group of {len(group)} projections of ranks {[j.rank for j in group]} needs "
                           f"share >= {len(group)} and max_rank >= {max(j.rank for j in group)}")])
    extra = adapter.ternary_tiles(rows)  # ternary-a: u as the lead job's first output tiles
    lead = next(k for k, j in enumerate(group) if j.rank)  # the job that computes u
    natural, job_of_tile, offset, ready = [], [], 0, 0
    for k, job in enumerate(group):
        skip = extra if k == lead else 0
        done = tile_done_cycles(core, job.n, job.m + skip * core.keys) + offset
        if skip:
            ready = int(done[skip - 1]) + HOLD_LATENCY + 1  # the last u tile stored
        natural.extend(done[skip:].tolist())
        job_of_tile.extend([k] * (len(done) - skip))
        offset += job_interval(core, job.n, job.m + skip * core.keys)
    if not extra:
        ready = tiles(core, group[lead].n, group[lead].m)[0] + 1 + adapter.down_cycles(group[lead].n, rows)
    hold, shift, now = adapter.hold, 0, ready
    finish: list[int] = []
    for i, t in enumerate(natural):
        left = t + shift
        if i >= hold:  # the tile waits for a slot in the hold buffer
            left = max(left, finish[i - hold])
        shift = left - t
        left += HOLD_LATENCY
        job = group[job_of_tile[i]]
        if job.rank == 0:  # adapter off: the tile passes through
            now = max(now, left) + 1
            finish.append(now)
            continue
        if i == 0 or job_of_tile[i - 1] != job_of_tile[i]:
            now += (1 if i else 0) + adapter.prep_cycles(job.rank)  # record, start, scale u
        width = min(core.keys, job.m - core.keys * (i - job_of_tile.index(job_of_tile[i])))
        for _ in range(-(-width // adapter.up_width)):  # v of a group, then its add once the tile is there
            now = max(now + job.rank + (adapter.variant == "vera"), left) + 1
        now += 1  # the finished tile leaves
        finish.append(now)
    return base, max(finish[-1], natural[-1] + shift)


def _back_to_back(core: CoreConfig, shapes: list[tuple[int, int]]) -> int:
    """Cycles of back-to-back jobs on the core alone, from the first descriptor to the last tile:
    each job starts :func:`~.schedule.job_interval` after the one before."""
    return sum(job_interval(core, n, m) for n, m in shapes[:-1]) + job_cycles(core, *shapes[-1])


def adapter_hides(adapter: AdapterConfig, group: list[AdapterJob]) -> bool:
    """Whether the adapter hides on ``group``: at most :meth:`AdapterConfig.add_latency` of its last
    job more cycles than the core alone (:func:`adapter_group_cycles`)."""
    base, cycles = adapter_group_cycles(adapter, group)
    last = group[-1]
    return cycles - base <= (adapter.add_latency(last.m, last.rank) if last.rank else HOLD_LATENCY + 1)


def adapter_traffic_bits(adapter: AdapterConfig, n: int, m: int, rank: int) -> int:
    """Adapter weight bits read from memory for one job of rank ``rank`` (0: off).

    ``stream``: ``lora`` A and B (``rank * (n + m)`` values of ``fmt``) and ``s``; ``ternary-a``
    A as ternary keys (``rank`` columns of ``ceil(n / mu)`` keys of ``key_bits``), B and ``s``;
    ``vera`` only ``d`` and ``b`` (``rank + m`` scale values). ``onchip``: 0.
    """
    if rank == 0 or adapter.storage == "onchip":
        return 0
    return adapter_weight_bits(adapter, n, m, rank)


def adapter_weight_bits(adapter: AdapterConfig, n: int, m: int, rank: int) -> int:
    """Bits of one adapter's weights for an ``n`` x ``m`` projection of rank ``rank`` (see
    :func:`adapter_traffic_bits`), wherever they are kept."""
    core = adapter.core
    if adapter.variant == "vera":
        return rank * adapter.scale_bits + m * adapter.b_bits
    b_bits = rank * m * adapter.fmt_bits + adapter.scale_bits
    if adapter.variant == "ternary-a":
        return rank * -(-n // core.mu) * core.key_bits + b_bits
    return rank * n * adapter.fmt_bits + b_bits


def load_adapter(path: str | Path) -> dict[str, object] | None:
    """The ``[adapter]`` table of a design file as :class:`AdapterConfig` keyword arguments (every
    field but ``core``), or ``None`` when the file has none. ``ConfigError`` naming the file for an
    unreadable file, bad TOML or unknown keys; values are validated when the config is built."""
    path = Path(path)
    doc = read_toml(path, "design file")
    table = doc.get("adapter")
    if table is None:
        return None
    allowed = sorted(f.name for f in fields(AdapterConfig) if f.init and f.name != "core")
    if not isinstance(table, dict):
        raise ConfigError([f"design file {str(path)!r}: `adapter` must be a table ([adapter])"])
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise ConfigError([(f"design file {str(path)!r}: unknown key(s) {', '.join(unknown)} in [adapter] "
                           f"(allowed: {', '.join(allowed)})")])
    return dict(table)
