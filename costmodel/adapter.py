"""Cost of the adapter unit (:mod:`hwgen.description.adapter`): area, clock, cycles, weight traffic.

Area is priced from the calibrated units of the unit-cost table, counted from the description as
the generator builds it (:class:`hwgen.gateware.adapter.AdaptedCore`):

* ``lanes``: ``lanes`` multiply-accumulate lanes, each a multiplier of ``fmt`` (integer: 8 x 8), its
  widening converter to ``acc`` when the formats differ, an adder and a register of the lane
  accumulator (``acc``; integer: the exact width) and the adder's input selects (accumulate,
  reduce with a partner lane, add into the tile);
* ``operands``: each multiplier input's select among its sources (A or B words, ``x``, ``u_f``,
  ``b``); the chunk select from a row of ``x`` (a ``tile_n / chunk``-way multiplexer per chunk
  lane); when the core's ``act`` differs from ``fmt``, ``tile_n`` converters on the copy's write side;
* ``scale``: one ``acc`` multiplier and an ``acc -> fmt`` converter (integer: a 16-bit scale
  multiplier, a rounding shifter and an adder), the group's ``u`` (``u_entries`` values of the lane
  width) and the job's ``u_f`` (``max_rank`` values of ``fmt``) and their read selects;
* ``output``: the assembled output tile and the hold buffer's output register, each up lane's
  select of its output in the held tile, and for integer adapters the rounding shift, add and
  saturation per lane;
* ``vera_scale`` (``vera``): with ``fmt != acc`` an ``acc`` multiplier per up lane for ``b``;
  integer: the rounding of ``v`` to int8 per up lane (the lane's multiplier then scales it);
* ``generator`` (``vera``): in every lane the calibrated unit ``vera_lane``
  (:class:`hwgen.gateware.adapter.GeneratorLane`: ``mix32`` and the value), the lane's running
  column term (a 32-bit register, its adder and the select of its three updates); the row-key
  tables (``trees + max_rank`` keys) and the calibrated row-key unit ``vera_row_key``
  (:class:`hwgen.gateware.adapter.RowKeyUnit`, ``fmix32``) they share;
* ``control``: the counters, compares and selects of the job front end and the back end (the queue
  of job records is a memory, like the hold buffer).

The lanes' copy of ``x``, the hold buffer and the adapters of an ``onchip`` store are SRAM: reported
in bits (``sram_bits``), like the core's activation buffer, not in the standard-cell area.
``ternary-a`` adds no down-projection hardware (the core computes ``u`` in more output tiles: cycles,
not area).

Clock: a lane's multiplier and adder in one cycle (``fp_mul(fmt) + fp_add(acc)`` of the table, plus
a 2:1 multiplexer); the design runs at the slower of the core and the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hwgen.description.adapter import (
    INT_SHIFT_BITS,
    MAX_LANES,
    AdapterConfig,
    AdapterJob,
    adapter_group_cycles,
    adapter_hides,
    adapter_traffic_bits,
)
from hwgen.description.config import ConfigError
from hwgen.description.tree_plan import bit_length

from .model import area_terms, critical_path_ns
from .unit_costs import UnitCosts, load_unit_costs

__all__ = [
    "ADAPTER_GROUPS",
    "AdapterCost",
    "adapter_area_terms",
    "adapter_critical_path_ns",
    "estimate_adapter",
    "lane_choices",
    "hides",
    "smallest_hiding_lanes",
    "fastest_lanes",
]

ADAPTER_GROUPS = ("lanes", "operands", "scale", "output", "vera_scale", "generator", "control")


def _fp_area(c: UnitCosts, kind: str, fmt: str) -> float:
    unit = c.fp_add(fmt, 0) if kind == "add" else c.fp_mul(fmt, 0)
    return float(unit["area_um2"])


def _convert_area(c: UnitCosts, src: str, dst: str) -> float:
    return 0.0 if src == dst else float(c.fp_convert(src, dst)["area_um2"])


def _int_add(c: UnitCosts, width: int) -> float:
    return float(c.int_add_area(width, width, width))


def adapter_area_terms(adapter: AdapterConfig, costs: UnitCosts | None = None) -> dict[str, float]:
    """Standard-cell area of the adapter unit by :data:`ADAPTER_GROUPS`, um^2 (see the module
    docstring).

    Raises
    ------
    ConfigError
        If the unit-cost table has no unit the adapter needs (one line, naming it).
    """
    c = costs or load_unit_costs()
    try:
        return _area(adapter, c)
    except KeyError as exc:
        raise ConfigError([f"cannot price the adapter of {adapter.core.name}: {exc.args[0]}"]) from None


def _shifter(c: UnitCosts, width: int, stages: int) -> float:
    """A barrel shifter of ``width`` bits by a ``stages``-bit amount: ``stages`` rows of 2:1 multiplexers."""
    return width * stages * c.per_bit("mux2")


def _area(ad: AdapterConfig, c: UnitCosts) -> dict[str, float]:
    core, p, up_w = ad.core, ad.lanes, ad.up_width
    reg, mux = c.per_bit("reg"), c.per_bit("mux2")
    acc, fmt = core.acc_type.name, ad.fmt
    tern, vera = ad.variant == "ternary-a", ad.variant == "vera"
    area = dict.fromkeys(ADAPTER_GROUPS, 0.0)
    lane_w, acc_w, fbits = ad.lane_acc_width, core.acc_width, ad.fmt_bits
    # lanes: multiplier (and its widening converter), adder, register and the adder's input selects
    # (accumulate, reduce with a partner lane, add into the tile)
    if ad.is_int:
        lane = c.int_mul_area(8) + _int_add(c, lane_w) + lane_w * (reg + 2 * mux)
    else:
        lane = (_fp_area(c, "mul", fmt) + _convert_area(c, fmt, acc) + _fp_area(c, "add", acc)
                + lane_w * (reg + 2 * mux))
    area["lanes"] = p * lane
    # operands: each multiplier input selects among its sources; the chunk of an x row; x converted
    # into fmt as the copy is written
    area["operands"] = p * 2 * 2 * fbits * mux
    if not tern and ad.chunk < core.tile_n:
        area["operands"] += float(c.index_mux_area(core.tile_n // ad.chunk, fbits)) * ad.chunk
    if not tern and not ad.is_int and core.act != fmt:
        area["operands"] += core.tile_n * _convert_area(c, core.act, fmt)
    # scale unit and buffers: u (acc) for the group, u_f (fmt) for the job, and their read selects
    if ad.is_int:
        scale_unit = (c.int_mul_area(max(16, lane_w)) * (16 / max(16, lane_w))
                      + _shifter(c, lane_w + 16, INT_SHIFT_BITS) + _int_add(c, lane_w + 16))
    else:
        scale_unit = _fp_area(c, "mul", acc) + _convert_area(c, acc, fmt)
    buffers = (ad.u_entries * lane_w + ad.max_rank * fbits) * reg
    selects = float(c.index_mux_area(ad.u_entries, lane_w)) + float(c.index_mux_area(ad.max_rank, fbits))
    area["scale"] = scale_unit + buffers + selects
    # output: the assembled tile, each lane's select of its output in the held tile; integer: the
    # rounding shift, add and saturation per lane
    groups = -(-core.keys // up_w)
    area["output"] = (2 * core.keys * acc_w + 1) * reg  # the out tile, the hold buffer's output register
    area["output"] += up_w * float(c.index_mux_area(groups, acc_w)) if groups > 1 else 0.0
    if ad.is_int:
        area["output"] += up_w * (_shifter(c, lane_w, INT_SHIFT_BITS)
                                  + 2 * _int_add(c, max(acc_w, lane_w) + 2))
    if vera:
        if ad.is_int:  # v rounded to int8 for the lane's multiplier
            area["vera_scale"] = up_w * (_shifter(c, lane_w, INT_SHIFT_BITS) + _int_add(c, lane_w))
        elif fmt != acc:
            area["vera_scale"] = up_w * _fp_area(c, "mul", acc)
        lane_unit = float(c.vera_lane(fmt)["area_um2"])
        area["generator"] = (p * (lane_unit + _int_add(c, 32) + 32 * reg + 3 * 32 * mux)
                             + (ad.trees + ad.max_rank) * 32 * reg + float(c.vera_row_key()["area_um2"]))
    # control: the job front end and the back end's counters, compares and record queue
    counters = int(bit_length(core.max_n) + bit_length(ad.u_entries) * 3 + bit_length(core.max_m) * 2
                   + bit_length(ad.max_rank) * 2 + bit_length(core.max_tiles_n))
    area["control"] = counters * (reg + 2 * mux) + sum(
        _int_add(c, int(bit_length(v))) for v in (core.max_n, ad.u_entries, core.max_m, ad.max_rank,
                                                  core.max_tiles_m, ad.u_entries))
    return {g: float(a) for g, a in area.items()}


def adapter_critical_path_ns(adapter: AdapterConfig, costs: UnitCosts | None = None) -> float:
    """A lane's register-to-register path, ns: the multiplier and the adder of the table (the
    tree's 2:1 input multiplexers are not added; integer: 8 x 8 multiplier and the lane adder)."""
    c = costs or load_unit_costs()
    acc = adapter.core.acc_type.name
    if adapter.is_int:
        return float(c.int_mul_delay(8) + c.int_add_delay(adapter.lane_acc_width))
    mul = c.fp_mul(adapter.fmt, 0)["critical_path_ns"]
    add = c.fp_add(acc, 0)["critical_path_ns"]
    return float(mul + add)


@dataclass(frozen=True)
class AdapterCost:
    """Predicted cost of an adapter unit running a workload's groups.

    ``area_um2``: standard cells of the adapter (``area_breakdown_um2`` by :data:`ADAPTER_GROUPS`);
    ``core_area_um2``: the core's, for the ratio; ``sram_bits``: the copy of ``x``, the hold buffer
    and the ``onchip`` store (``x_bits``, ``hold_bits``, ``store_bits``); ``critical_path_ns``: the
    adapter's lane path;
    ``core_cycles`` / ``cycles``: per token without and with the adapter (groups x count);
    ``traffic_bits``: adapter weight bits read per token; ``groups``: per group its jobs
    ((n, m, rank)), count, and cycles without and with the adapter.
    """

    adapter: dict
    area_um2: float
    area_breakdown_um2: dict[str, float]
    core_area_um2: float
    x_bits: int
    hold_bits: int
    store_bits: int
    critical_path_ns: float
    core_critical_path_ns: float
    core_cycles: int
    cycles: int
    traffic_bits: int
    groups: list[dict] = field(default_factory=list)

    @property
    def sram_bits(self) -> int:
        return self.x_bits + self.hold_bits + self.store_bits

    @property
    def added_cycles(self) -> int:
        return self.cycles - self.core_cycles

    @property
    def hides(self) -> bool:
        """Whether every group takes at most its last tile's add latency more than the core."""
        return all(g["hides"] for g in self.groups)

    @property
    def area_ratio(self) -> float:
        """Adapter standard-cell area over the core's."""
        return self.area_um2 / self.core_area_um2

    def to_dict(self) -> dict[str, object]:
        return {
            "adapter": self.adapter,
            "area_um2": self.area_um2,
            "area_breakdown_um2": self.area_breakdown_um2,
            "core_area_um2": self.core_area_um2,
            "area_ratio": self.area_ratio,
            "x_bits": self.x_bits,
            "hold_bits": self.hold_bits,
            "store_bits": self.store_bits,
            "sram_bits": self.sram_bits,
            "critical_path_ns": self.critical_path_ns,
            "core_critical_path_ns": self.core_critical_path_ns,
            "core_cycles": self.core_cycles,
            "cycles": self.cycles,
            "added_cycles": self.added_cycles,
            "hides": self.hides,
            "traffic_bits": self.traffic_bits,
            "groups": self.groups,
        }


def estimate_adapter(
    adapter: AdapterConfig, groups: list[tuple[int, list[AdapterJob]]], *, costs: UnitCosts | None = None
) -> AdapterCost:
    """Area, clock, cycles and traffic of ``adapter`` on ``groups`` ((count, jobs) each: a
    workload's shared-input groups, :meth:`~hwgen.description.workload.Workload.adapter_groups`).

    Raises
    ------
    ConfigError
        If a group needs more ``share`` or ``max_rank`` than the adapter has, or a unit is unpriced.
    """
    c = costs or load_unit_costs()
    area = adapter_area_terms(adapter, c)
    core_area = sum(area_terms(adapter.core, c).values())
    rows, core_total, total, traffic = [], 0, 0, 0
    for count, group in groups:
        base, with_adapter = adapter_group_cycles(adapter, group)
        rows.append(
            {
                "jobs": [(j.n, j.m, j.rank) for j in group],
                "count": count,
                "core_cycles": base,
                "cycles": with_adapter,
                "added_cycles": with_adapter - base,
                "hides": adapter_hides(adapter, group),
            }
        )
        core_total += count * base
        total += count * with_adapter
        traffic += count * sum(adapter_traffic_bits(adapter, j.n, j.m, j.rank) for j in group)
    return AdapterCost(
        adapter=adapter.params(),
        area_um2=round(sum(area.values()), 1),
        area_breakdown_um2={g: round(a, 1) for g, a in area.items()},
        core_area_um2=round(core_area, 1),
        x_bits=adapter.x_bits,
        hold_bits=adapter.hold_bits,
        store_bits=adapter.store_bits,
        critical_path_ns=round(adapter_critical_path_ns(adapter, c), 3),
        core_critical_path_ns=round(critical_path_ns(adapter.core, c), 3),
        core_cycles=core_total,
        cycles=total,
        traffic_bits=traffic,
        groups=rows,
    )


def lane_choices(adapter: AdapterConfig, chunk: int | None = None) -> list[tuple[int, int]]:
    """The ``(chunk, lanes)`` pairs ``adapter`` may take, by lanes then chunk: ``(0, 1 .. keys)`` for
    ``ternary-a``; else every chunk (a divisor or multiple of ``tile_n`` up to ``max_n``; only
    ``chunk`` when given) with every multiple of it up to 4096 lanes."""
    core = adapter.core
    if adapter.variant == "ternary-a":
        return [(0, p) for p in range(1, core.keys + 1)]
    top = max(core.max_n, core.tile_n)
    chunks = [d for d in range(1, core.tile_n + 1) if core.tile_n % d == 0]
    chunks += list(range(2 * core.tile_n, top + 1, core.tile_n))
    if chunk:
        chunks = [c for c in chunks if c == chunk]
    return sorted(((c, p) for c in chunks for p in range(c, MAX_LANES + 1, c)), key=lambda cp: (cp[1], cp[0]))


def hides(adapter: AdapterConfig, groups: list[tuple[int, list[AdapterJob]]]) -> bool:
    """Whether ``adapter`` hides on every group (:func:`~hwgen.description.adapter.adapter_hides`)."""
    return all(adapter_hides(adapter, jobs) for _, jobs in groups)


def _total_cycles(adapter: AdapterConfig, groups) -> int:
    return sum(count * adapter_group_cycles(adapter, jobs)[1] for count, jobs in groups)


def _fewest(adapter: AdapterConfig, chunk: int, options: list[int], ok) -> AdapterConfig:
    """``adapter`` at the first of ``options`` (lanes of ``chunk``) for which ``ok`` holds; it holds
    for the last and, as lanes grow, from some on: a bisection."""
    lo, hi = 0, len(options) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(adapter.replace(chunk=chunk, lanes=options[mid])):
            hi = mid
        else:
            lo = mid + 1
    return adapter.replace(chunk=chunk, lanes=options[lo])


def _by_chunk(adapter: AdapterConfig, chunk: int | None) -> dict[int, list[int]]:
    by_chunk: dict[int, list[int]] = {}
    for c, lanes in lane_choices(adapter, chunk):
        by_chunk.setdefault(c, []).append(lanes)
    return by_chunk


def smallest_hiding_lanes(adapter: AdapterConfig, groups: list[tuple[int, list[AdapterJob]]], *,
                          chunk: int | None = None) -> AdapterConfig | None:
    """``adapter`` with the fewest lanes that hide it on ``groups`` (every group within its add
    latency of the core alone; :attr:`AdapterCost.hides`), and among those the largest chunk (the
    fewest trees; only ``chunk`` when given), or ``None`` when no lane count does. For each chunk
    cycles fall as lanes grow, so a bisection over its multiples finds its fewest."""
    best: AdapterConfig | None = None
    for c, options in _by_chunk(adapter, chunk).items():
        options = [p for p in options if best is None or p <= best.lanes]
        if not options or not hides(adapter.replace(chunk=c, lanes=options[-1]), groups):
            continue
        found = _fewest(adapter, c, options, lambda ad: hides(ad, groups))
        if best is None or (found.lanes, -found.chunk) < (best.lanes, -best.chunk):
            best = found
    return best


def fastest_lanes(adapter: AdapterConfig, groups: list[tuple[int, list[AdapterJob]]], *, slack: float = 0.01,
                  chunk: int | None = None) -> AdapterConfig:
    """``adapter`` with the fewest lanes whose cycles on ``groups`` are within ``slack`` (a fraction)
    of the fewest any lane count reaches (only ``chunk`` when given): for an adapter that no lane
    count hides, lanes past that only add area. For each chunk cycles fall as lanes grow, so a
    bisection finds its fewest."""
    by_chunk = _by_chunk(adapter, chunk)
    floor = min(_total_cycles(adapter.replace(chunk=c, lanes=options[-1]), groups)
                for c, options in by_chunk.items())
    target = floor * (1 + slack)
    best = None
    for c, options in by_chunk.items():
        if _total_cycles(adapter.replace(chunk=c, lanes=options[-1]), groups) > target:
            continue
        found = _fewest(adapter, c, options, lambda ad: _total_cycles(ad, groups) <= target)
        if best is None or (found.lanes, -found.chunk) < (best.lanes, -best.chunk):
            best = found
    return best
