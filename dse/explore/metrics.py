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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel import UnitCosts, estimate_table, load_unit_costs
from costmodel.table import CONFIG_COLUMNS
from hwgen.description.schedule import job_cycles_array, tile_counts
from hwgen.description.validity import check_columns
from hwgen.description.workload import Workload

__all__ = ["Metric", "METRICS", "ENERGY_METRICS", "unavailable", "SYSTEM_PARAMS", "SYSTEM_DEFAULTS",
           "DEFAULT_SRAM_BITS_PER_UM2", "evaluate", "needed_max_m"]

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
                                                    "activity)"),
    Metric("energy_pj_per_mac", "pJ", "minimize", "energy_uj_per_token per ternary MAC of the workload"),
    Metric("power_mw", "mW", "minimize", "average power over the token, all cores"),
)}

#: The metrics that need the energy model.
ENERGY_METRICS = ("energy_uj_per_token", "energy_pj_per_mac", "power_mw")


def unavailable(costs: UnitCosts | None = None) -> dict[str, str]:
    """Metrics a study may not ask for with the unit-cost table ``costs`` (default: the committed
    one), with the reason: the energy metrics when the table has no power data."""
    from costmodel.energy import EnergyUnavailable, energy_fit

    try:
        energy_fit(costs or load_unit_costs())
    except EnergyUnavailable as exc:
        return dict.fromkeys(ENERGY_METRICS, f"energy is unavailable: {exc}")
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


def needed_max_m(keys, cores, workload: Workload) -> np.ndarray:
    """The smallest ``max_m`` that runs every GEMV of ``workload`` in one job per core:
    ``ceil(ceil(m / keys) / cores) * keys`` over the GEMVs (arrays broadcast)."""
    keys, cores = np.asarray(keys, np.int64), np.asarray(cores, np.int64)
    out = np.zeros(np.broadcast(keys, cores).shape, np.int64)
    for m in workload.ms.tolist():
        tiles = -(-m // keys)  # output tiles of the GEMV, ceil(m / keys)
        out = np.maximum(out, -(-tiles // cores) * keys)
    return out


def evaluate(designs: pd.DataFrame, workload: Workload, *, costs: UnitCosts | None = None) -> pd.DataFrame:
    """The per-token metrics of every row of ``designs`` running ``workload``.

    Parameters
    ----------
    designs : pandas.DataFrame
        Valid designs (filter with :func:`hwgen.description.validity.check_table` first): the
        :class:`CoreConfig` columns (``luts`` and ``keys`` required) and the :data:`SYSTEM_PARAMS`
        (a missing column or cell takes :data:`SYSTEM_DEFAULTS`, as the config columns take the
        config's defaults). ``max_n`` must cover the workload's longest
        input and ``max_m`` :func:`needed_max_m`.
    workload : Workload
        The GEMVs of one token.
    costs : UnitCosts, optional
        Unit-cost table of the cost model.

    Returns
    -------
    pandas.DataFrame
        The cost model's columns (:func:`costmodel.estimate_table`; ``area_um2`` is one core), the
        system parameters, every :data:`METRICS` column and ``bound`` (``"compute"`` or
        ``"memory"``), index 0..rows-1.

    Raises
    ------
    ConfigError
        For rows that are not valid configs (as :func:`costmodel.estimate_table`).
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
    clock = np.where(system["clock_mhz"] > 0, system["clock_mhz"], out["fmax_mhz"].to_numpy())
    weight_bits = steps * out["weight_bits_per_cycle"].to_numpy()
    compute_s = cycles / (clock * 1e6)
    memory_s = weight_bits / (8e9 * system["bandwidth_gbps"])
    time_s = np.maximum(compute_s, memory_s)
    cells_mm2 = cores * out["area_um2"].to_numpy() / 1e6
    sram_mm2 = cores * out["act_buffer_bits"].to_numpy() / system["sram_bits_per_um2"] / 1e6
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
    dyn_pj = out["energy_pj_per_cycle"].to_numpy() - leak_mw * out["critical_path_ns"].to_numpy()
    energy_pj = cores * (dyn_pj * cycles + leak_mw * time_s * 1e9)  # mW x s = 1e9 pJ
    out["energy_uj_per_token"] = energy_pj / 1e6
    out["energy_pj_per_mac"] = energy_pj / workload.total_macs
    out["power_mw"] = energy_pj * 1e-9 / time_s
    return out
