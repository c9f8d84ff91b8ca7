"""Per-token system metrics of a table of designs: a core config plus system parameters, run on a
workload (the ternary GEMVs of one decode token).

A design point is a core config (:class:`~hwgen.description.config.CoreConfig` fields) plus the
system parameters of :data:`SYSTEM_PARAMS`:

* ``cores`` identical cores share each GEMV's outputs: the ``O = ceil(m / keys)`` output tiles are
  dealt out whole, so the busiest core runs ``ceil(O / cores)`` of them; every core reads the whole
  activation vector and holds its own activation buffer (``max_n`` activations).
* ``clock_mhz``: 0 runs every design at the cost model's ``fmax_mhz``; a positive value is a fixed
  target (the study adds the constraint ``fmax_mhz >= clock_mhz``, see :mod:`dse.explore.spec`).
* ``bandwidth_gbps``: weight memory bandwidth in GB/s (10^9 bytes per second) shared by all cores.
* ``sram_bits_per_um2``: density of the activation SRAM, bits per um^2 of die, periphery included.
  The default, 0.1 bit/um^2 (10 um^2 per bit), is a stated assumption for a 0.18 um process: a
  6-transistor bit cell of about 4.5 um^2 at roughly 45 % array efficiency. It is not a macro
  compiler's figure; pass a measured one when you have it.

Per token (batch 1 decode), with exact schedule arithmetic (:mod:`hwgen.description.schedule`):

* ``cycles_per_token``: the sum over GEMVs of ``count * job_cycles`` of the busiest core. GEMVs run
  one after the other, each as one job (no overlap of one job's pipeline drain with the next job:
  the layers of a decoder depend on each other).
* ``weight_bits_per_token``: key (``mac``: weight) words streamed, ``T * O`` steps of
  ``luts * keys * key_bits`` bits per GEMV run (the key encoding sets bits per weight, so ``mu``
  matters here; ragged tiles stream padding). The cores together stream each word once.
* ``tokens_per_s``: a roofline, ``1 / max(compute time, weight streaming time)``; ``bound`` says
  which one limits.
* ``area_mm2``: standard cells of all cores (the cost model) plus their activation SRAM.

Prefill (many tokens sharing one weight stream) is not offered: the core's schedule streams the
key words once per activation vector, so B tokens cost B decode steps.
* ``energy_uj_per_token``: all cores, each ``cycles_per_token`` cycles of dynamic energy (the cost
  model's, :mod:`costmodel.energy`, under the calibration's stated activity) plus leakage over the
  token's time; cycles a memory-bound core waits for weights cost leakage only (their clock
  power is not counted). ``energy_pj_per_mac``: per ternary MAC of the workload;
  ``power_mw``: the average over the token. A unit-cost table without power data offers none
  of them (:func:`unavailable`).

Adapter (optional, :data:`ADAPTER_PARAMS`): a LoRA-family unit beside each core
(:mod:`hwgen.description.adapter`, priced by :mod:`costmodel.adapter`), in a design table as the
columns ``adapter`` (``"lora"``, ``"vera"``, ``"ternary-a"``, or ``"none"``: no adapter),
``adapter_rank`` (the rank every adapted projection runs at, and the unit's ``max_rank``; 0: the
workload's ``[adapter] rank``), ``adapter_lanes`` (0: the fewest lanes that hide the adapter,
:func:`costmodel.adapter.smallest_hiding_lanes`, which also picks the chunk unless
``adapter_chunk`` names one; for an adapter that no lane count hides, the fewest lanes within 1 %
of the fewest cycles, :func:`costmodel.adapter.fastest_lanes`, as the adapter-overhead study does:
``adapter_hides`` says which),
``adapter_chunk``, ``adapter_fmt``, ``adapter_storage``, ``adapter_hold`` and ``adapter_share``
(:class:`~hwgen.description.adapter.AdapterConfig`'s ``chunk``, ``fmt``, ``storage``, ``hold`` and
``share``; 0 / ``""``: its defaults). The adapted projections are the workload's
``[adapter] targets``, else every GEMV the workload tags with a ``projection``
(:func:`adapter_targets`); projections that read the same input share one down-projection pass,
``adapter_share`` of them at most (a longer group is split). Each core has its own unit, which
runs the busiest core's share of every GEMV's outputs (and the whole down-projection). Adapters
are priced row by row (:func:`costmodel.adapter.estimate_adapter`, cached by design); rows
without adapter stay on the vectorised path. With an adapter:

* ``cells_mm2`` / ``sram_mm2`` / ``area_mm2`` add every core's unit: its standard cells and its SRAM
  (the lanes' copy of ``x``, the hold buffer and, ``onchip``, the resident adapters: the busiest
  core's share of B, all of A) at ``sram_bits_per_um2``;
* ``critical_path_ns`` / ``fmax_mhz`` are the slower of the core and the adapter's lane path, so
  ``clock_mhz`` (unless fixed) and the ``clock`` constraint cover the adapter too;
* ``cycles_per_token`` is the busiest core's with its adapter (the hold buffer's stalls, ternary-A's
  extra output tiles); ``weight_bits_per_token`` adds the adapter weights streamed
  (``adapter_storage = "stream"``; A is read once for all cores); ``tokens_per_s`` and every
  metric derived from these follow;
* the energy metrics are NaN: the adapter unit has no energy model yet, and the core's energy alone
  would understate the design's (a study that may place an adapter cannot ask for them,
  :func:`unavailable`).

``adapter_area_mm2``, ``adapter_traffic_bits_per_token``, ``adapter_added_cycles`` and
``adapter_hides`` (:data:`ADAPTER_METRICS`) report the adapter itself (0, 0, 0 and 1 without one),
and the adapter columns its parameters as built (``adapter_rank``, ``adapter_lanes``,
``adapter_chunk``, ``adapter_hold`` and ``adapter_fmt`` resolved). A table without an ``adapter``
column gets none of these columns, and its metrics are exactly those of a core without adapter.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel import UnitCosts, estimate_table, load_unit_costs
from costmodel.adapter import (
    AdapterCost,
    adapter_area_terms,
    adapter_critical_path_ns,
    estimate_adapter,
    fastest_lanes,
    smallest_hiding_lanes,
)
from costmodel.table import CONFIG_COLUMNS
from hwgen.description.adapter import (
    AdapterConfig,
    AdapterJob,
    adapter_problems,
    adapter_traffic_bits,
)
from hwgen.description.config import ConfigError, CoreConfig
from hwgen.description.schedule import job_cycles_array, tile_counts
from hwgen.description.validity import check_columns
from hwgen.description.workload import PROJECTIONS, Workload

__all__ = ["Metric", "METRICS", "ENERGY_METRICS", "ADAPTER_METRICS", "unavailable", "SYSTEM_PARAMS",
           "SYSTEM_DEFAULTS", "ADAPTER_PARAMS", "ADAPTER_DEFAULTS", "NO_ADAPTER", "DEFAULT_SRAM_BITS_PER_UM2",
           "evaluate", "needed_max_m", "adapter_targets", "adapter_row_problems", "AdapterFigures"]

#: Assumed activation-SRAM density of the default (0.18 um) liberty, bits per um^2 (see above).
DEFAULT_SRAM_BITS_PER_UM2 = 0.1


@dataclass(frozen=True)
class Metric:
    """A column of :func:`evaluate` that a study may optimise or constrain.

    Attributes
    ----------
    name : str
        Column name, unit-suffixed.
    unit : str
        Unit for tables and plot axes.
    better : str
        ``"minimize"`` or ``"maximize"``: the natural direction (plots and ``dse export --best``).
    doc : str
        One line.
    """

    name: str
    unit: str
    better: str
    doc: str


#: The metrics, by name, in table order.
METRICS = {m.name: m for m in (
    Metric("area_mm2", "mm^2", "minimize", "standard cells of all cores plus their activation SRAM"),
    Metric("cells_mm2", "mm^2", "minimize", "standard cells of all cores (cost model)"),
    Metric("sram_mm2", "mm^2", "minimize", "activation SRAM of all cores at sram_bits_per_um2"),
    Metric("tokens_per_s", "tokens/s", "maximize", "decode tokens per second (roofline of compute and "
                                                   "weight streaming)"),
    Metric("tokens_per_s_per_mm2", "tokens/s/mm^2", "maximize", "tokens/s per mm^2 of area_mm2"),
    Metric("token_latency_us", "us", "minimize", "time per token, 1e6 / tokens_per_s"),
    Metric("cycles_per_token", "cycles", "minimize", "clock cycles of one token's GEMVs (busiest core)"),
    Metric("clock_mhz", "MHz", "maximize", "clock the design runs at (fmax_mhz, or the fixed target)"),
    Metric("fmax_mhz", "MHz", "maximize", "cost model's maximum clock"),
    Metric("critical_path_ns", "ns", "minimize", "cost model's critical path"),
    Metric("weight_bits_per_token", "bits", "minimize", "key/weight bits streamed per token"),
    Metric("bits_per_weight", "bits", "minimize", "weight_bits_per_token per ternary weight of the workload"),
    Metric("bandwidth_needed_gbps", "GB/s", "minimize", "weight bandwidth that keeps the cores busy"),
    Metric("macs_per_cycle", "MACs/cycle", "maximize", "ternary MACs per cycle of all cores (peak)"),
    Metric("macs_per_cycle_per_mm2", "MACs/cycle/mm^2", "maximize", "macs_per_cycle per mm^2 of area_mm2"),
    Metric("utilisation", "", "maximize", "useful MACs per peak MAC over the token's cycles"),
    Metric("gmacs_per_s", "GMAC/s", "maximize", "useful ternary MACs per second at tokens_per_s"),
    Metric("cores", "", "minimize", "cores (a system parameter)"),
    Metric("bandwidth_gbps", "GB/s", "minimize", "weight memory bandwidth (a system parameter)"),
    Metric("energy_uj_per_token", "uJ", "minimize", "energy of one token, all cores (cost model, stated "
                                                    "activity; NaN with an adapter: no energy model yet)"),
    Metric("energy_pj_per_mac", "pJ", "minimize", "energy_uj_per_token per ternary MAC of the workload (NaN "
                                                  "with an adapter)"),
    Metric("power_mw", "mW", "minimize", "average power over the token, all cores (NaN with an adapter)"),
    Metric("adapter_area_mm2", "mm^2", "minimize", "adapter units of all cores, standard cells plus their "
                                                   "SRAM (part of area_mm2; 0 without adapter)"),
    Metric("adapter_traffic_bits_per_token", "bits", "minimize", "adapter weight bits streamed per token "
                                                                 "(part of weight_bits_per_token)"),
    Metric("adapter_added_cycles", "cycles", "minimize", "cycles the adapter adds to cycles_per_token "
                                                         "(busiest core)"),
    Metric("adapter_hides", "", "maximize", "1 when the adapter hides (every shared-input group within its "
                                            "add latency of the core alone), else 0"),
)}

#: The metrics that need the energy model.
ENERGY_METRICS = ("energy_uj_per_token", "energy_pj_per_mac", "power_mw")
#: The metrics of the adapter unit (columns only of designs with an ``adapter`` column).
ADAPTER_METRICS = ("adapter_area_mm2", "adapter_traffic_bits_per_token", "adapter_added_cycles",
                   "adapter_hides")
#: Why a study that may place an adapter cannot ask for the energy metrics.
ADAPTER_ENERGY_REASON = ("energy is unavailable with an adapter: the adapter unit has no energy model yet "
                         "(the core's energy alone would understate the design's)")


def unavailable(costs: UnitCosts | None = None, *, adapter: bool = False) -> dict[str, str]:
    """Metrics a study may not ask for with the unit-cost table ``costs`` (default: the committed
    one), with the reason: the energy metrics when the table has no power data, or when a design
    may place an adapter (``adapter``; the adapter unit has no energy model yet)."""
    from costmodel.energy import EnergyUnavailable, energy_fit

    try:
        energy_fit(costs or load_unit_costs())
    except EnergyUnavailable as exc:
        return dict.fromkeys(ENERGY_METRICS, f"energy is unavailable: {exc}")
    if adapter:
        return dict.fromkeys(ENERGY_METRICS, ADAPTER_ENERGY_REASON)
    return {}

#: System parameters of a design point (besides the core config), with their allowed ranges.
SYSTEM_PARAMS = {
    "cores": ("int", 1, 4096, "identical cores sharing each GEMV's outputs"),
    "bandwidth_gbps": ("float", 1e-3, 1e6, "weight memory bandwidth, GB/s"),
    "clock_mhz": ("float", 0.0, 1e5, "fixed clock target in MHz (0: each design at its fmax_mhz)"),
    "sram_bits_per_um2": ("float", 1e-4, 100.0, "activation SRAM density, bits per um^2"),
}
#: Defaults of the system parameters.
SYSTEM_DEFAULTS = {"cores": 1, "bandwidth_gbps": 50.0, "clock_mhz": 0.0,
                   "sram_bits_per_um2": DEFAULT_SRAM_BITS_PER_UM2}

#: Adapter parameters of a design point (see the module docstring), with the
#: :class:`~hwgen.description.adapter.AdapterConfig` field each sets.
ADAPTER_PARAMS = {"adapter": "variant", "adapter_rank": "max_rank", "adapter_lanes": "lanes",
                  "adapter_chunk": "chunk", "adapter_fmt": "fmt", "adapter_storage": "storage",
                  "adapter_hold": "hold", "adapter_share": "share"}
#: The value of ``adapter`` that places no adapter.
NO_ADAPTER = "none"
#: Defaults of the adapter parameters (and their values where no adapter is placed): no adapter; rank 0:
#: the workload's; lanes 0: the fewest that hide the adapter; chunk, hold 0 and fmt "": the unit's defaults.
ADAPTER_DEFAULTS = {"adapter": NO_ADAPTER, "adapter_rank": 0, "adapter_lanes": 0, "adapter_chunk": 0,
                    "adapter_fmt": "", "adapter_storage": "stream", "adapter_hold": 0, "adapter_share": 3}


def needed_max_m(keys, cores, workload: Workload) -> np.ndarray:
    """The smallest ``max_m`` that runs every GEMV of ``workload`` in one job per core:
    ``ceil(ceil(m / keys) / cores) * keys`` over the GEMVs (arrays broadcast)."""
    keys, cores = np.asarray(keys, np.int64), np.asarray(cores, np.int64)
    out = np.zeros(np.broadcast(keys, cores).shape, np.int64)
    for m in workload.ms.tolist():
        tiles = -(-m // keys)  # output tiles of the GEMV, ceil(m / keys)
        out = np.maximum(out, -(-tiles // cores) * keys)
    return out


def adapter_targets(workload: Workload) -> tuple[str, ...]:
    """The projections an adapter adapts: the workload's ``[adapter] targets``, else all seven
    (every GEMV tagged with a ``projection``)."""
    return tuple(workload.adapter_targets) or PROJECTIONS


@dataclass(frozen=True)
class AdapterFigures:
    """The adapter of one design as built and priced (see the module docstring).

    ``adapter``: the unit of one core (lanes, chunk, hold and fmt resolved); ``cost``: its
    :class:`~costmodel.adapter.AdapterCost` on the busiest core's share of the workload;
    ``traffic_bits``: adapter weight bits streamed per token for all cores; ``area_um2`` and
    ``critical_path_ns``: one unit's standard cells and lane path, unrounded (as the core's figures
    of :func:`costmodel.estimate_table`; ``cost`` rounds them for reports)."""

    adapter: AdapterConfig
    cost: AdapterCost
    traffic_bits: int
    area_um2: float
    critical_path_ns: float


#: Adapter options of :func:`~hwgen.description.adapter.adapter_problems`'s lines -> the study parameter.
_OPTION_PARAM = {"adapter": "adapter", "rank": "adapter_rank", "lanes": "adapter_lanes",
                 "chunk": "adapter_chunk", "adapter_fmt": "adapter_fmt", "adapter_storage": "adapter_storage",
                 "hold": "adapter_hold", "share": "adapter_share"}
#: Per-row adapter results by design (cleared when another unit-cost table is used, or when full).
_CACHE: dict = {"costs": None, "rows": {}}
_CACHE_SIZE = 50_000
#: ``adapter_lanes = 0`` for an adapter that no lane count hides: the fewest lanes within this fraction
#: of the fewest cycles (as :func:`costmodel.adapter.fastest_lanes` and the adapter-overhead study).
AUTO_SLACK = 0.01


def _adapter_line(line: str) -> str:
    """An adapter problem line prefixed by the study parameter it is about."""
    m = re.match(r"`(\w+)`", line)
    return f"{_OPTION_PARAM.get(m.group(1), 'adapter') if m else 'adapter'}: {line}"


def _plain(value: object, default: object) -> object:
    """A table cell as a plain Python value (``default`` for a missing one)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return default
    if isinstance(default, int) and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _core_kwargs(row: dict) -> tuple:
    """The :class:`CoreConfig` arguments of a design row (missing cells: the config's defaults)."""
    out = []
    for key in CONFIG_COLUMNS:
        value = _plain(row.get(key), None)
        if value is None:
            continue
        if key in ("arch", "act", "acc", "fp_reduce", "fp_round"):
            value = str(value)
        else:
            value = bool(value) if key == "fp_sticky" else int(value)
        out.append((key, value))
    return tuple(out)


def _auto_lanes(adapter: AdapterConfig, groups, chunk: int) -> AdapterConfig:
    """``adapter`` with the fewest lanes that hide it on ``groups``, or, when no lane count does,
    the fewest whose cycles are within :data:`AUTO_SLACK` of the fewest any lane count reaches
    (:func:`~costmodel.adapter.smallest_hiding_lanes`, :func:`~costmodel.adapter.fastest_lanes`),
    over every chunk (``chunk`` 0) or the multiples of ``chunk``."""
    chunk = chunk or None
    return (smallest_hiding_lanes(adapter, groups, chunk=chunk)
            or fastest_lanes(adapter, groups, slack=AUTO_SLACK, chunk=chunk))


def _resolve(core_kwargs: tuple, params: tuple, cores: int, workload: Workload,
             costs: UnitCosts) -> AdapterFigures | list[str]:
    """The adapter of one design (``params``: the :data:`ADAPTER_PARAMS` values, in order), or its
    problem lines."""
    p = dict(zip(ADAPTER_PARAMS, params, strict=True))
    core = CoreConfig(**dict(core_kwargs))
    rank = p["adapter_rank"]
    if _is_count(rank) and rank == 0:  # the workload's rank
        rank = workload.adapter_rank
        if rank == 0:
            return [(f"adapter_rank: required with adapter={p['adapter']} (the workload {workload.name!r} "
                     "names no adapter rank), an integer in [1, 256]")]
    options = {field: p[name] for name, field in ADAPTER_PARAMS.items()}
    options["max_rank"] = rank
    lanes, chunk = options["lanes"], options["chunk"]
    problems = adapter_problems(core, options)
    if problems:
        return [_adapter_line(line) for line in problems]
    share = options["share"]
    targets = adapter_targets(workload)
    full, per_core = [], []
    for count, jobs in workload.adapter_groups(rank, targets):
        full.append((count, [AdapterJob(*job) for job in jobs]))
        for start in range(0, len(jobs), share):  # at most ``share`` projections per down-projection pass
            part = []
            for n, m, r in jobs[start:start + share]:
                out_tiles = -(-m // core.keys)
                busiest = -(-out_tiles // cores) * core.keys  # the busiest core's outputs
                part.append(AdapterJob(n, min(m, busiest), r))
            per_core.append((count, part))
    if not any(j.rank for _, group in full for j in group):
        return [(f"adapter: the workload {workload.name!r} tags no GEMV with a `projection` the adapter "
                 f"targets ({', '.join(targets)}): nothing to adapt")]
    try:
        adapter = AdapterConfig(core=core, **options)
        if lanes == 0:
            adapter = _auto_lanes(adapter, per_core, chunk)
        cost = estimate_adapter(adapter, per_core, costs=costs)
    except ConfigError as exc:
        return [_adapter_line(line) for line in exc.problems]
    traffic = sum(count * adapter_traffic_bits(adapter, j.n, j.m, j.rank)
                  for count, group in full for j in group)
    area = float(sum(adapter_area_terms(adapter, costs).values()))
    return AdapterFigures(adapter, cost, int(traffic), area, float(adapter_critical_path_ns(adapter, costs)))


def _is_count(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _adapter_rows(designs: pd.DataFrame, workload: Workload, costs: UnitCosts | None,
                  rows=None) -> dict[int, AdapterFigures | list[str]]:
    """Per position of ``designs`` (or of ``rows`` among them) with an adapter: its
    :class:`AdapterFigures` or problem lines. Empty without an ``adapter`` column."""
    if "adapter" not in designs:
        return {}
    c = costs or load_unit_costs()
    if _CACHE["costs"] is not c:
        _CACHE["costs"], _CACHE["rows"] = c, {}
    cache = _CACHE["rows"]
    variants = designs["adapter"].to_numpy(object)
    cores = designs["cores"].to_numpy() if "cores" in designs else np.ones(len(designs), np.int64)
    positions = range(len(designs)) if rows is None else rows
    columns = [name for name in ADAPTER_PARAMS if name in designs]
    out = {}
    for i in positions:
        variant = _plain(variants[i], NO_ADAPTER)
        if variant in (NO_ADAPTER, ""):
            continue
        record = {k: designs[k].iat[i] for k in designs.columns if k in CONFIG_COLUMNS or k in columns}
        params = []
        for name, default in ADAPTER_DEFAULTS.items():
            params.append(_plain(record.get(name), default))
        key = (_core_kwargs(record), tuple(params), int(_plain(cores[i], 1)), workload)
        if key not in cache:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key] = _resolve(key[0], key[1], key[2], workload, c)
        out[i] = cache[key]
    return out


def adapter_row_problems(designs: pd.DataFrame, workload: Workload, *, costs: UnitCosts | None = None,
                         rows=None) -> dict[int, list[str]]:
    """Problem lines, by position, of the rows of ``designs`` (or of ``rows``, positions of valid
    configs) whose adapter cannot be built beside their core (the adapter's own lines of
    :func:`~hwgen.description.adapter.adapter_problems`, each prefixed by the study parameter it is
    about)."""
    return {i: r for i, r in _adapter_rows(designs, workload, costs, rows).items() if isinstance(r, list)}


def evaluate(designs: pd.DataFrame, workload: Workload, *, costs: UnitCosts | None = None) -> pd.DataFrame:
    """The per-token metrics of every row of ``designs`` running ``workload``.

    Parameters
    ----------
    designs : pandas.DataFrame
        Valid designs (filter with :func:`hwgen.description.validity.check_table` first): the
        :class:`CoreConfig` columns (``luts`` and ``keys`` required) and the :data:`SYSTEM_PARAMS`
        (a missing column or cell takes :data:`SYSTEM_DEFAULTS`, as the config columns take the
        config's defaults). ``max_n`` must cover the workload's longest
        input and ``max_m`` :func:`needed_max_m`. Optionally the :data:`ADAPTER_PARAMS` (an
        ``adapter`` column places adapters; a missing cell takes :data:`ADAPTER_DEFAULTS`).
    workload : Workload
        The GEMVs of one token.
    costs : UnitCosts, optional
        Unit-cost table of the cost model.

    Returns
    -------
    pandas.DataFrame
        The cost model's columns (:func:`costmodel.estimate_table`; ``area_um2`` is one core), the
        system parameters, every :data:`METRICS` column and ``bound`` (``"compute"`` or
        ``"memory"``), index 0..rows-1. With an ``adapter`` column, also the
        :data:`ADAPTER_PARAMS` as built; without, no :data:`ADAPTER_METRICS` column.

    Raises
    ------
    ConfigError
        For rows that are not valid configs (as :func:`costmodel.estimate_table`), or whose adapter
        cannot be built (:func:`adapter_row_problems`).
    ValueError
        For a row whose ``max_n`` / ``max_m`` cannot run the workload in one job per core.
    """
    designs = designs.reset_index(drop=True)
    config = designs[[c for c in CONFIG_COLUMNS if c in designs]]
    out = estimate_table(config, costs=costs)
    v = check_columns(config).arrays
    size = len(out)
    system = {name: (designs[name].fillna(default).to_numpy(float) if name in designs
                     else np.full(size, default, float)) for name, default in SYSTEM_DEFAULTS.items()}
    cores = system["cores"].astype(np.int64)
    short_n = v.max_n < workload.max_n
    short_m = v.max_m < needed_max_m(v.keys, cores, workload)
    if (short_n | short_m).any():
        i = int(np.flatnonzero(short_n | short_m)[0])
        raise ValueError(f"row {i}: max_n={int(v.max_n[i])} / max_m={int(v.max_m[i])} cannot run "
                         f"workload {workload.name!r} in one job per core")
    cycles = np.zeros(size, np.int64)
    steps = np.zeros(size, np.int64)
    for n, m, count in zip(workload.ns.tolist(), workload.ms.tolist(), workload.counts.tolist(), strict=True):
        t_count, o_count = tile_counts(v.tile_n, v.tile_m, n, m)
        busiest_m = -(-o_count // cores) * v.tile_m
        cycles += count * job_cycles_array(v.tile_n, v.tile_m, v.reuse, v.acc_latency, v.pipeline_latency,
                                           n, busiest_m)
        steps += count * t_count * o_count
    for name, values in system.items():
        out[name] = values
    core_path_ns = out["critical_path_ns"].to_numpy()
    adapter = _adapter_columns(designs, workload, costs, cores, system["sram_bits_per_um2"], core_path_ns,
                               out["fmax_mhz"].to_numpy())
    if adapter is not None:
        cycles = cycles + adapter["adapter_added_cycles"]
        out["critical_path_ns"] = adapter.pop("critical_path_ns")
        out["fmax_mhz"] = adapter.pop("fmax_mhz")
    clock = np.where(system["clock_mhz"] > 0, system["clock_mhz"], out["fmax_mhz"].to_numpy())
    weight_bits = steps * out["weight_bits_per_cycle"].to_numpy()
    if adapter is not None:
        weight_bits = weight_bits + adapter["adapter_traffic_bits_per_token"]
    compute_s = cycles / (clock * 1e6)
    memory_s = weight_bits / (8e9 * system["bandwidth_gbps"])
    time_s = np.maximum(compute_s, memory_s)
    cells_mm2 = cores * out["area_um2"].to_numpy() / 1e6
    sram_mm2 = cores * out["act_buffer_bits"].to_numpy() / system["sram_bits_per_um2"] / 1e6
    if adapter is not None:
        cells_mm2 = cells_mm2 + adapter.pop("cells_mm2")
        sram_mm2 = sram_mm2 + adapter.pop("sram_mm2")
    out["cycles_per_token"] = cycles
    out["clock_mhz"] = clock
    out["cells_mm2"] = cells_mm2
    out["sram_mm2"] = sram_mm2
    out["area_mm2"] = cells_mm2 + sram_mm2
    out["tokens_per_s"] = 1.0 / time_s
    out["tokens_per_s_per_mm2"] = out["tokens_per_s"] / out["area_mm2"]
    out["token_latency_us"] = time_s * 1e6
    out["bound"] = np.where(memory_s > compute_s, "memory", "compute")
    out["weight_bits_per_token"] = weight_bits
    out["bits_per_weight"] = weight_bits / workload.total_macs
    out["bandwidth_needed_gbps"] = weight_bits / compute_s / 8e9
    out["macs_per_cycle"] = cores * out["macs_per_cycle"].to_numpy()
    out["macs_per_cycle_per_mm2"] = out["macs_per_cycle"] / out["area_mm2"]
    out["utilisation"] = workload.total_macs / (cycles * out["macs_per_cycle"].to_numpy())
    out["gmacs_per_s"] = workload.total_macs * out["tokens_per_s"] / 1e9
    leak_mw = out["leakage_mw"].to_numpy()
    dyn_pj = out["energy_pj_per_cycle"].to_numpy() - leak_mw * core_path_ns
    energy_pj = cores * (dyn_pj * cycles + leak_mw * time_s * 1e9)  # mW x s = 1e9 pJ
    if adapter is not None:  # no energy model of the adapter unit yet: unavailable, not the core's alone
        energy_pj = np.where(adapter.pop("placed"), np.nan, energy_pj)
    out["energy_uj_per_token"] = energy_pj / 1e6
    out["energy_pj_per_mac"] = energy_pj / workload.total_macs
    out["power_mw"] = energy_pj * 1e-9 / time_s
    if adapter is not None:
        for name, values in adapter.items():
            out[name] = values
    return out


def _adapter_columns(designs: pd.DataFrame, workload: Workload, costs: UnitCosts | None, cores: np.ndarray,
                     density: np.ndarray, core_path_ns: np.ndarray, core_fmax: np.ndarray
                     ) -> dict[str, np.ndarray] | None:
    """The adapter's share of every row's figures (``None`` without an ``adapter`` column):
    ``cells_mm2``, ``sram_mm2`` (all cores), ``critical_path_ns`` / ``fmax_mhz`` (the slower of
    core and adapter), ``placed`` (an adapter in the row), the :data:`ADAPTER_METRICS` and the
    :data:`ADAPTER_PARAMS` as built. ``ConfigError`` for rows whose adapter cannot be built."""
    if "adapter" not in designs:
        return None
    size = len(designs)
    rows = _adapter_rows(designs, workload, costs)
    bad = [(i, r) for i, r in rows.items() if isinstance(r, list)]
    if bad:
        raise ConfigError([f"row {i}: {line}" for i, lines in bad[:5] for line in lines])
    params = {name: [default] * size for name, default in ADAPTER_DEFAULTS.items()}
    cells_um2, sram_bits, path_ns = np.zeros(size), np.zeros(size), np.zeros(size)
    added, traffic, hides_col = np.zeros(size, np.int64), np.zeros(size, np.int64), np.ones(size, np.int64)
    placed = np.zeros(size, bool)
    for i, figures in rows.items():
        ad, cost = figures.adapter, figures.cost
        for name, field in ADAPTER_PARAMS.items():
            params[name][i] = getattr(ad, field)
        cells_um2[i], sram_bits[i], path_ns[i] = figures.area_um2, cost.sram_bits, figures.critical_path_ns
        added[i], traffic[i], hides_col[i] = cost.added_cycles, figures.traffic_bits, int(cost.hides)
        placed[i] = True
    slower = path_ns > core_path_ns
    critical = np.where(slower, path_ns, core_path_ns)
    fmax = np.where(slower, 1000.0 / np.where(slower, path_ns, 1.0), core_fmax)
    cells_mm2 = cores * cells_um2 / 1e6
    sram_mm2 = cores * sram_bits / density / 1e6
    return {"cells_mm2": cells_mm2, "sram_mm2": sram_mm2, "critical_path_ns": critical, "fmax_mhz": fmax,
            "placed": placed, **{name: np.asarray(values, object if name in ("adapter", "adapter_fmt",
                                                                            "adapter_storage") else np.int64)
                                 for name, values in params.items()},
            "adapter_area_mm2": cells_mm2 + sram_mm2, "adapter_traffic_bits_per_token": traffic,
            "adapter_added_cycles": added, "adapter_hides": hides_col}
