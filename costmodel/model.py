"""The analytical cost model: area, cycles, throughput and critical path of a core, from its config.

Every count is read from the design description -- :class:`hwgen.description.config.CoreConfig` and the
LUT build plan / reduction tree it derives -- and priced with a :class:`UnitCosts` table. The
model is a sum of *terms*; each term depends on a few config fields and is multiplied by a count
of identical copies (per LUT, per fetch lane, per output lane, per core), which is what makes
:func:`estimate_table` fast: a term is priced once per distinct value of its fields.

Area groups (um^2): ``lut_build`` (the plan's adders and FP operand-alignment registers),
``fetch`` (entry select and sign flip), ``multiply`` (the multipliers of a ``mac`` baseline;
zero for LUT cores), ``reduction`` (tree adders, FP pass-through delays),
``accumulation`` (accumulator adders, converters, muxes and registers), ``registers`` (LUT,
key/step pipeline, tree cut and output registers) and ``control`` (FSM, counters, lane masks:
registers counted, logic fitted on the calibration cores). Each group's component sum is
scaled by a factor fitted on the calibration cores (:func:`whole_design_fit`): synthesis of a
flattened core optimises across component boundaries. The activation buffer is an SRAM macro: it
is reported in bits (``act_buffer_bits``), not in the standard-cell area.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace

import numpy as np

from hwgen.description.config import ConfigError, CoreConfig
from hwgen.description.schedule import job_cycles

from .unit_costs import UnitCosts, load_unit_costs

__all__ = ["GROUPS", "TERMS", "VIEW_FIELDS", "CostReport", "estimate", "area_terms", "core_terms", "config_view",
           "critical_path_ns", "control_features", "whole_design_fit", "WholeDesignFit"]

GROUPS = ("lut_build", "fetch", "multiply", "reduction", "accumulation", "registers", "control")


def _bit_length(x):
    """``int.bit_length`` for ints or numpy arrays of non-negative ints."""
    x = np.asarray(x, np.int64)
    return np.where(x > 0, np.floor(np.log2(np.maximum(x, 1))).astype(np.int64) + 1, 0)


def control_features(v) -> np.ndarray:
    """Regressors of the control logic (FSM, counters, comparators, lane masks), one column each:
    ``[1, lane mask bits (tile_n * act_width), counter bits (of max_n and max_m), tile_n]``.
    ``v``: a config or a :func:`config_view` of arrays."""
    one = np.ones_like(np.asarray(v.tile_n, float))
    return np.stack([one, np.asarray(v.tile_n * v.act_width, float),
                     np.asarray(_bit_length(v.max_n) + _bit_length(v.max_m), float),
                     np.asarray(v.tile_n, float)], axis=-1)


# ------------------------------------------------------------------------------------------------
# Terms: (group -> area per copy), each a function of a few config fields.
# ------------------------------------------------------------------------------------------------

def _lut_build(cfg: CoreConfig, c: UnitCosts) -> dict[str, float]:
    """One LUT: the plan's adders, its output registers and (FP) the operand / entry alignment delays;
    for ``mac``, one activation lane's operand register."""
    plan, reg = cfg.plan, c.per_bit("reg")
    out = {"lut_build": 0.0, "registers": 0.0}
    if cfg.is_mac:  # no LUT: the activation lane's operand register
        out["registers"] += cfg.act_width * reg
        return out
    if cfg.is_fp:
        lat = cfg.adder_stages
        for group in plan.operand_groups:
            out["lut_build"] += c.fp_add(cfg.act, lat, pair=len(group) == 2)["area_um2"] * (len(group) // 2 or 1)
        # one tapped delay line per activation, then each built entry delayed to the common latency
        delay_bits = cfg.mu * cfg.lut_build_latency * cfg.act_width
        delay_bits += sum(cfg.lut_build_latency - s.depth * lat for s in plan.steps) * cfg.act_width
        out["lut_build"] += delay_bits * reg
        out["registers"] += plan.entries * cfg.act_width * reg
    else:
        for group in plan.operand_groups:
            s = group[0]
            widths = (cfg.entry_width(s.dst), cfg.entry_width(s.src), cfg.act_width)
            if len(group) == 2:
                out["lut_build"] += float(c.int_add_area(*widths, pair=True))
            else:
                out["lut_build"] += float(c.int_add_area(*widths, s.subtract))
        out["registers"] += sum(cfg.entry_width(v) for v in range(1, plan.entries + 1)) * reg
    return out


def _fetch_or_multiply(cfg: CoreConfig, c: UnitCosts) -> dict[str, float]:
    """One fetch lane of one LUT, or (``mac``) one multiplier of one activation lane."""
    if cfg.is_mac:
        if cfg.is_fp:
            return {"multiply": c.fp_mul(cfg.act, cfg.mul_latency)["area_um2"]}
        return {"multiply": float(c.int_mul_area(cfg.act_width))}
    kind = "fetch_fp" if cfg.is_fp else "fetch_int"
    return {"fetch": float(c.fetch_area(kind, cfg.mu, cfg.lut_width))}


def _tree_lane(cfg: CoreConfig, c: UnitCosts) -> dict[str, float]:
    """The reduction tree of one output lane: adders, FP pass-through delays, cut registers."""
    reg, cuts = c.per_bit("reg"), cfg.pipeline_cuts
    lat = cfg.adder_stages if cfg.is_fp else 0
    out = {"reduction": 0.0, "registers": 0.0}
    fp_add = c.fp_add(cfg.act, cfg.adder_stages)["area_um2"] if cfg.is_fp else 0.0
    widths = [cfg.tree_width(1)] * cfg.luts  # leaves: LUT values, or mac products
    if cuts[0]:
        out["registers"] += sum(widths) * reg
    for d, nodes in enumerate(cfg.tree_levels, start=1):
        for node in nodes:
            if not node.adds:
                out["reduction"] += lat * widths[node.inputs[0]] * reg
            elif cfg.is_fp:
                out["reduction"] += fp_add
            else:
                out["reduction"] += float(c.int_add_area(node.width, *(widths[i] for i in node.inputs)))
        widths = [widths[node.inputs[0]] if not node.adds else node.width for node in nodes]
        if cuts[d]:
            out["registers"] += sum(widths) * reg
    return out


def _acc_lane(cfg: CoreConfig, c: UnitCosts) -> dict[str, float]:
    """One output lane's accumulation: conversion, adder, first-tile mux and delay, R accumulators."""
    reg, w = c.per_bit("reg"), cfg.acc_width
    area = 0.0
    if cfg.is_fp:
        if cfg.acc != cfg.act:
            area += c.fp_convert(cfg.act, cfg.acc)["area_um2"]
        area += c.fp_add(cfg.acc, cfg.adder_stages)["area_um2"]
    else:
        area += float(c.int_add_area(w, w, min(cfg.tree_width(cfg.luts), w)))
    area += c.per_bit("mux2") * w  # first input tile: take the tile sum as is
    area += cfg.acc_latency * w * reg  # ... delayed to meet the adder's result
    if cfg.reuse > 1:
        area += float(c.index_mux_area(cfg.reuse, w))
    area += cfg.reuse * w * reg
    return {"accumulation": area}


def config_view(cfg: CoreConfig) -> SimpleNamespace:
    """The per-design quantities of :func:`core_terms`, read from ``cfg`` (the vectorised path
    builds the same namespace with one array per field, :mod:`costmodel.table`)."""
    return SimpleNamespace(**{n: getattr(cfg, n) for n in VIEW_FIELDS},
                           control_register_bits=cfg.control_registers.bits)


#: The config properties :func:`core_terms` and :func:`control_features` read (besides the control
#: registers' bits).
VIEW_FIELDS = ("luts", "keys", "mu", "reuse", "max_n", "max_m", "adder_stages", "pipeline", "act_width", "key_bits",
               "tile_n", "max_tiles_n", "lut_build_latency", "mul_latency", "tree_latency", "acc_latency",
               "acc_width", "step_bits")


def core_terms(v, c: UnitCosts) -> dict[str, object]:
    """Once per core: key/step pipeline registers (issue, build delays, tree and accumulator tags),
    output register and control registers. ``v``: :func:`config_view` (scalars or arrays)."""
    reg = c.per_bit("reg")
    key_bits = v.luts * v.keys * v.key_bits
    tag = v.step_bits
    stages = 2 + v.lut_build_latency  # s1, build delays, s2
    # the tag passes the multipliers, every tree register (cuts and FP adder stages: tree_latency)
    # and the accumulate adder
    pipeline_bits = stages * (key_bits + tag) + (v.mul_latency + v.tree_latency + v.acc_latency) * tag
    out_bits = v.keys * v.acc_width + 2
    return {"registers": (pipeline_bits + out_bits) * reg, "control": v.control_register_bits * reg}


#: (term, multiplier, config fields it depends on). The multiplier counts identical copies.
TERMS = (
    (_lut_build, lambda cfg: cfg.luts, ("act", "mu", "adder_stages")),
    (_fetch_or_multiply, lambda cfg: cfg.luts * cfg.keys, ("act", "mu")),
    (_tree_lane, lambda cfg: cfg.keys, ("act", "mu", "luts", "adder_stages", "pipeline")),
    (_acc_lane, lambda cfg: cfg.keys, ("act", "acc", "mu", "luts", "adder_stages", "reuse", "max_n")),
    (None, None, None),  # core_terms: per design, from config_view
)


def area_terms(cfg: CoreConfig, costs: UnitCosts, *, raw: bool = False) -> dict[str, float]:
    """Area by group (um^2) of ``cfg``: the component sums scaled by :func:`whole_design_fit`, plus
    the fitted control logic (``raw=True``: the component sums alone, control registers only)."""
    total = dict.fromkeys(GROUPS, 0.0)
    for term, mult, _ in TERMS:
        part = core_terms(config_view(cfg), costs) if term is None else term(cfg, costs)
        k = 1 if term is None else mult(cfg)
        for g, a in part.items():
            total[g] += k * float(a)
    if raw:
        return total
    fit = whole_design_fit(costs)
    out = {g: fit.scale[g] * a for g, a in total.items()}
    out["control"] += float(control_features(config_view(cfg)) @ fit.control)
    return out


@dataclass(frozen=True)
class WholeDesignFit:
    """How whole-design synthesis relates to the component sums, fitted on the calibration cores.

    ``scale[group]``: the component sum of each group is multiplied by it (flattened synthesis
    optimises across component boundaries: a fetched value's sign flip merges into the adder
    that consumes it, registers absorb their enable logic, ...); ``control``: coefficients of the
    control logic over :func:`control_features`. Fitted by bounded least squares on relative
    errors (scales in [0.5, 1.5], control coefficients >= 0); a group without calibration data
    keeps scale 1.
    """

    scale: dict[str, float]
    control: np.ndarray
    cores: int


#: Bounds of the per-group scale factors.
SCALE_BOUNDS = (0.5, 1.5)


@lru_cache(maxsize=8)
def whole_design_fit(costs: UnitCosts) -> WholeDesignFit:
    """Fit :class:`WholeDesignFit` to the calibration cores of ``costs``."""
    from scipy.optimize import lsq_linear

    cores = costs.cores()
    if not cores:
        return WholeDesignFit(dict.fromkeys(GROUPS, 1.0), np.zeros(4), 0)
    raw = np.array([[area_terms(CoreConfig(**s["config"]), costs, raw=True)[g] for g in GROUPS] for s in cores])
    feats = np.array([control_features(config_view(CoreConfig(**s["config"]))) for s in cores])
    y = np.array([s["area_um2"] for s in cores])
    fitted = [i for i, g in enumerate(GROUPS) if np.count_nonzero(raw[:, i]) >= 3]
    fixed = [i for i in range(len(GROUPS)) if i not in fitted]
    target = y - raw[:, fixed].sum(axis=1)  # groups without data keep scale 1
    a = np.hstack([raw[:, fitted], feats]) / y[:, None]
    lo = [SCALE_BOUNDS[0]] * len(fitted) + [0.0] * feats.shape[1]
    hi = [SCALE_BOUNDS[1]] * len(fitted) + [np.inf] * feats.shape[1]
    sol = lsq_linear(a, target / y, bounds=(lo, hi)).x
    scale = dict.fromkeys(GROUPS, 1.0)
    for j, i in enumerate(fitted):
        scale[GROUPS[i]] = float(sol[j])
    return WholeDesignFit(scale, sol[len(fitted):], len(cores))


# ------------------------------------------------------------------------------------------------
# Critical path
# ------------------------------------------------------------------------------------------------

def critical_path_ns(cfg: CoreConfig, c: UnitCosts) -> float:
    """Estimated minimum clock period (ns): the slowest register-to-register segment.

    Segments: the LUT build (the plan's depth of chained adders, or one pipelined FP adder stage); fetch
    and reduction levels up to each pipeline cut; conversion and accumulate. A pipelined FP adder
    splits its delay evenly over its stages + 1 segments.
    """
    if cfg.is_fp:
        add_d = c.fp_add(cfg.act, 0)["critical_path_ns"]
        acc_d = c.fp_add(cfg.acc, 0)["critical_path_ns"]
        s = cfg.adder_stages
        build = cfg.plan.depth * add_d if s == 0 else 2 * add_d / (s + 1)
        conv = c.fp_convert(cfg.act, cfg.acc)["critical_path_ns"] if cfg.acc != cfg.act else 0.0
        level = [add_d] * len(cfg.tree)
        acc = conv + acc_d / (s + 1)
    else:
        s = 0
        build = cfg.plan.depth * float(c.int_add_delay(cfg.lut_width))
        level = [float(c.int_add_delay(cfg.tree_width(2 ** d))) for d in range(1, len(cfg.tree) + 1)]
        acc = float(c.int_add_delay(cfg.acc_width))
    if cfg.is_mac and cfg.is_fp:
        fetch = c.fp_mul(cfg.act, 0)["critical_path_ns"] / (cfg.mul_latency + 1)
    elif cfg.is_mac:
        fetch = c.int_mul_delay(cfg.act_width)
    else:
        fetch = c.fetch_delay("fetch_fp" if cfg.is_fp else "fetch_int", cfg.mu)
    segments = [build]
    cuts = cfg.pipeline_cuts
    current = fetch
    for d, delay in enumerate(level, start=1):
        if cuts[d - 1]:
            segments.append(current)
            current = 0.0
        if s:  # a pipelined adder ends the segment inside it
            segments.append(current + delay / (s + 1))
            current = delay / (s + 1)
        else:
            current += delay
    if cuts[-1]:  # after the last level (cuts has one entry per level, plus the inputs)
        segments.append(current)
        current = 0.0
    segments.append(current + acc)
    return float(max(segments))


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CostReport:
    """Predicted cost of one design.

    ``area_um2``: standard-cell area (um^2), ``area_breakdown_um2`` by :data:`GROUPS`;
    ``macs_per_cycle``: ternary MACs per cycle at full utilisation (``tile_n * tile_m``);
    ``critical_path_ns`` / ``fmax_mhz``: estimated clock; ``cycles``: for the GEMVs asked
    (``gemvs``: (name, n, m, count)); ``weight_bits_per_cycle``: key bits the memory system must
    deliver per cycle; ``act_buffer_bits``: the activation SRAM (not in the area).
    """

    config: dict
    area_um2: float
    area_breakdown_um2: dict[str, float]
    nand2_eq: float
    macs_per_cycle: int
    critical_path_ns: float
    weight_bits_per_cycle: int
    act_buffer_bits: int
    cycles: int | None = None
    gemvs: list[dict] = field(default_factory=list)

    @property
    def fmax_mhz(self) -> float:
        return 1000.0 / self.critical_path_ns

    @property
    def area_mm2(self) -> float:
        return self.area_um2 / 1e6

    @property
    def macs_per_cycle_per_mm2(self) -> float:
        return self.macs_per_cycle / self.area_mm2

    @property
    def effective_macs_per_cycle(self) -> float | None:
        """Useful MACs per cycle over the GEMVs asked (padding and pipeline fill included)."""
        if not self.cycles:
            return None
        return sum(g["n"] * g["m"] * g["count"] for g in self.gemvs) / self.cycles

    def to_dict(self) -> dict[str, object]:
        macs_s = self.macs_per_cycle * self.fmax_mhz * 1e6
        return {
            "config": self.config,
            "area_um2": self.area_um2,
            "area_mm2": self.area_mm2,
            "area_breakdown_um2": self.area_breakdown_um2,
            "nand2_eq": self.nand2_eq,
            "cycles": self.cycles,
            "gemvs": self.gemvs,
            "macs_per_cycle": self.macs_per_cycle,
            "effective_macs_per_cycle": self.effective_macs_per_cycle,
            "critical_path_ns": self.critical_path_ns,
            "fmax_mhz": self.fmax_mhz,
            "macs_per_second": macs_s,
            "macs_per_cycle_per_mm2": self.macs_per_cycle_per_mm2,
            "weight_bits_per_cycle": self.weight_bits_per_cycle,
            "act_buffer_bits": self.act_buffer_bits,
        }


def estimate(cfg: CoreConfig, *, gemvs: list[tuple[str, int, int, int]] | None = None,
             costs: UnitCosts | None = None) -> CostReport:
    """Predicted area, clock and cycles of ``cfg`` (``gemvs``: (name, n, m, count) to run).

    Raises
    ------
    ConfigError
        If the unit-cost table cannot price ``cfg`` (e.g. ``mu`` past the calibrated fetchers).
    """
    c = costs or load_unit_costs()
    problems = c.unpriced(cfg.mu)
    if problems:
        raise ConfigError(problems)
    groups = area_terms(cfg, c)
    area = sum(groups.values())
    nand2 = c.nand2_area_um2
    rows, total = [], 0
    for name, n, m, count in gemvs or []:
        cyc = job_cycles(cfg, n, m)
        rows.append({"name": name, "n": n, "m": m, "count": count, "cycles_each": cyc})
        total += cyc * count
    return CostReport(
        config=cfg.to_dict(),
        area_um2=round(area, 1),
        area_breakdown_um2={g: round(a, 1) for g, a in groups.items()},
        nand2_eq=round(area / nand2, 1),
        macs_per_cycle=cfg.tile_n * cfg.tile_m,
        critical_path_ns=round(critical_path_ns(cfg, c), 3),
        weight_bits_per_cycle=cfg.luts * cfg.keys * cfg.key_bits,
        act_buffer_bits=cfg.max_tiles_n * cfg.tile_n * cfg.act_width,
        cycles=total if gemvs else None,
        gemvs=rows,
    )
