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

import functools
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from hwgen.description.arrays import FORMATS, ConfigArrays
from hwgen.description.config import FP_ROUNDINGS, ConfigError, CoreConfig
from hwgen.description.lut_plan import lut_plan
from hwgen.description.schedule import job_cycles
from hwgen.description.tree_plan import bit_length, level_last_terms, level_values

from .energy import EnergyUnavailable, energy_of
from .unit_costs import UnitCosts, load_unit_costs

__all__ = ["GROUPS", "TERMS", "CostReport", "UnpricedError", "estimate", "area_terms", "area_groups",
           "core_terms", "critical_path_ns", "critical_path_array", "CRITICAL_PATH_FIELDS", "on_distinct",
           "control_features", "whole_design_fit", "WholeDesignFit", "critical_path_segments", "DelayFit",
           "delay_fit", "DELAY_BOUNDS"]

GROUPS = ("lut_build", "fetch", "multiply", "reduction", "accumulation", "registers", "control")


def control_features(v) -> np.ndarray:
    """Regressors of the control logic (FSM, counters, comparators, lane masks), one column each:
    ``[1, lane mask bits (tile_n * act_width), counter bits (of max_n and max_m), tile_n]``.
    ``v``: a :class:`ConfigArrays` (rows x 4) or a config (4)."""
    one = np.ones_like(np.asarray(v.tile_n, float))
    return np.stack([one, np.asarray(v.tile_n * v.act_width, float),
                     np.asarray(bit_length(v.max_n) + bit_length(v.max_m), float),
                     np.asarray(v.tile_n, float)], axis=-1)


def _each(fn, where, *keys) -> np.ndarray:
    """``float(fn(*key))`` once per distinct combination of the small non-negative int arrays ``keys``
    among the rows ``where``; 0.0 in the other rows. Prices unit lookups (FP units by format code,
    fetchers by mu) through the scalar interface of the unit-cost table."""
    keys = np.broadcast_arrays(*(np.asarray(k, np.int64) for k in keys))
    where = np.broadcast_to(np.asarray(where, bool), keys[0].shape)
    out = np.zeros(keys[0].shape)
    if not where.any():
        return out
    sub = [k[where] for k in keys]
    key = np.zeros(len(sub[0]), np.int64)
    for k in sub:
        key = key * (int(k.max()) + 1) + k
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    values = np.array([float(fn(*(int(k[i]) for k in sub))) for i in first.tolist()])
    out[where] = values[inverse.reshape(-1)]
    return out


# ------------------------------------------------------------------------------------------------
# Terms: (group -> area per copy, one entry per design), each a function of a few config fields.
# ``v`` is a :class:`ConfigArrays` (one row for :func:`estimate`, many for :func:`estimate_table`).
# ------------------------------------------------------------------------------------------------

@functools.cache
def _plan_counts(mu: int) -> tuple[int, int, tuple, tuple, int, int]:
    """The LUT build plan of ``mu``, counted for pricing: (add/subtract pairs, single adders,
    ((count, kind, nonzeros of dst, nonzeros of src), ...) of the adders by operand widths,
    ((count, nonzeros), ...) of the entries, steps, sum of the steps' depths)."""
    plan = lut_plan(mu)
    groups = plan.operand_groups
    adders = Counter(("pair" if len(g) == 2 else "sub" if g[0].subtract else "add",
                      plan.nonzeros(g[0].dst), plan.nonzeros(g[0].src)) for g in groups)
    entries = Counter(plan.nonzeros(e) for e in range(1, plan.entries + 1))
    pairs = sum(1 for g in groups if len(g) == 2)
    return (pairs, len(groups) - pairs, tuple((n, *k) for k, n in sorted(adders.items())),
            tuple((n, k) for k, n in sorted(entries.items())), len(plan.steps),
            sum(st.depth for st in plan.steps))


def _lut_build(v: ConfigArrays, c: UnitCosts) -> dict[str, np.ndarray]:
    """One LUT: the plan's adders, its output registers and (FP) the operand / entry alignment delays;
    for ``mac``, one activation lane's operand register. Block-FP LUTs are integer LUTs of
    ``fp_width``-bit lanes."""
    reg, w, fp, mac = c.per_bit("reg"), v.lane_width, ~v.int_lanes, v.is_mac
    build = np.zeros(len(v))
    regs = np.where(mac, w * reg, 0.0)  # no LUT: the activation lane's operand register
    for mu in np.unique(v.mu[~mac]).tolist():
        rows = ~mac & (v.mu == mu)
        pairs, singles, adders, entries, steps, depths = _plan_counts(mu)
        lat, lbl = v.adder_stages, v.lut_build_latency
        fp_rows = rows & fp
        if fp_rows.any():
            pair_area = _each(lambda a, s: c.fp_add(FORMATS[a], s, pair=True)["area_um2"], fp_rows,
                              v.act, lat)
            single_area = _each(lambda a, s: c.fp_add(FORMATS[a], s)["area_um2"], fp_rows, v.act, lat)
            area = pairs * pair_area + singles * single_area
            # one tapped delay line per activation, then each built entry delayed to the common latency
            delay_bits = (mu * lbl + steps * lbl - lat * depths) * w
            build = np.where(fp_rows, area + delay_bits * reg, build)
            regs = np.where(fp_rows, (lut_plan(mu).entries * w) * reg, regs)
        int_rows = rows & ~fp
        if int_rows.any():
            area = np.zeros(len(v))
            for count, kind, dst, src in adders:
                widths = (v.sum_width(dst), v.sum_width(src), w)
                adder = c.int_add_area(*widths, kind == "sub", pair=kind == "pair")
                area = area + count * np.asarray(adder, float)
            bits = sum(count * v.sum_width(k) for count, k in entries)
            build = np.where(int_rows, area, build)
            regs = np.where(int_rows, bits * reg, regs)
    return {"lut_build": build, "registers": regs}


def _fetch_or_multiply(v: ConfigArrays, c: UnitCosts) -> dict[str, np.ndarray]:
    """One fetch lane of one LUT, or (``mac``) one multiplier of one activation lane."""
    fp, mac = v.is_fp, v.is_mac
    multiply = (_each(lambda a, s: c.fp_mul(FORMATS[a], s)["area_um2"], mac & fp, v.act, v.mul_latency)
                + _each(lambda w: c.int_mul_area(w), mac & ~fp, v.act_width))
    fetch = _each(lambda f, mu, w: c.fetch_area("fetch_fp" if f else "fetch_int", mu, w), ~mac, ~v.int_lanes,
                  v.mu, v.lut_width)
    return {"multiply": multiply, "fetch": fetch}


def _tree_lane(v: ConfigArrays, c: UnitCosts) -> dict[str, np.ndarray]:
    """The reduction tree of one output lane: adders, FP pass-through delays, cut registers.

    Level ``d`` of the tree over ``L`` leaves (:func:`~hwgen.description.tree_plan.level_values`)
    adds the pairs of level ``d - 1``: full adders of two ``2**(d-1)``-leaf values, and possibly a
    last one that takes the short last value; an odd last value passes through (FP: delayed by the
    adder's stages)."""
    reg, fp, luts = c.per_bit("reg"), ~v.int_lanes, v.luts
    lat = np.where(fp, v.adder_stages, 0)
    fp_add = _each(lambda a, s: c.fp_add(FORMATS[a], s)["area_um2"], fp, v.act, v.adder_stages)
    cuts, depth = v.pipeline_cuts, v.tree_depth
    reduction = np.zeros(len(v))
    registers = np.where(cuts[:, 0], (luts * v.tree_width(1)) * reg, 0.0)  # leaves: LUT values, or products
    for d in range(1, cuts.shape[1]):
        on = d <= depth
        half = 1 << (d - 1)
        prev, last = level_values(luts, d - 1), level_last_terms(luts, d - 1)
        adders, odd = prev // 2, prev % 2 == 1
        short = ~odd & (last < half)  # the last adder takes the short last value
        if fp.all():
            adds = adders * fp_add
        else:
            w_half = v.tree_width(half)
            full_area = c.int_add_area(v.tree_width(2 * half), w_half, w_half)
            full = (adders - short) * np.asarray(full_area, float)
            part = np.where(short, c.int_add_area(v.tree_width(half + last), w_half, v.tree_width(last)), 0.0)
            adds = np.where(fp, adders * fp_add, full + part)
        through = np.where(odd, lat * v.tree_width(last) * reg, 0.0)
        reduction = reduction + np.where(on, adds + through, 0.0)
        count, last_d = level_values(luts, d), level_last_terms(luts, d)
        bits = (count - 1) * v.tree_width(2 * half) + v.tree_width(last_d)
        registers = registers + np.where(on & cuts[:, d], bits * reg, 0.0)
    fused = v.is_fused
    if fused.any():  # one fused adder instead of the tree (no pipeline cuts: `pipeline` is 0)
        area = _each(lambda a, b, n, g, r, s, st: c.fp_fused(FORMATS[a], FORMATS[b], n, g, FP_ROUNDINGS[r], s,
                                                             bool(st))["area_um2"],
                     fused, v.act, v.acc, luts, v.fused_guard, v.fp_round, v.adder_stages, v.fp_sticky)
        reduction = np.where(fused, area, reduction)
        registers = np.where(fused, 0.0, registers)
    return {"reduction": reduction, "registers": registers}


def _acc_lane(v: ConfigArrays, c: UnitCosts) -> dict[str, np.ndarray]:
    """One output lane's accumulation: conversion, adder, first-tile mux and delay, R accumulators.
    Block-FP: the conversion is the tile sum's integer-to-FP converter and the NaN mux of a row
    that held an infinity or NaN."""
    reg, w, fp, bfp = c.per_bit("reg"), v.acc_width, v.is_fp, v.is_blockfp
    convert = _each(lambda a, b: c.fp_convert(FORMATS[a], FORMATS[b])["area_um2"],
                    fp & ~bfp & ~v.is_fused & (v.acc != v.act), v.act, v.acc)
    convert = convert + _each(lambda sw, a, r: c.fp_from_int(sw, FORMATS[a], FP_ROUNDINGS[r])["area_um2"],
                              bfp, v.tree_width(v.luts), v.acc, v.fp_round)
    convert = convert + np.where(bfp, c.per_bit("mux2") * w, 0.0)
    fp_add = _each(lambda a, s: c.fp_add(FORMATS[a], s)["area_um2"], fp, v.acc, v.adder_stages)
    int_add = np.asarray(c.int_add_area(w, w, np.minimum(v.tree_width(v.luts), w)), float)
    area = np.where(fp, convert + fp_add, int_add)
    area = area + c.per_bit("mux2") * w  # first input tile: take the tile sum as is
    area = area + v.acc_latency * w * reg  # ... delayed to meet the adder's result
    area = area + np.where(v.reuse > 1, np.asarray(c.index_mux_area(v.reuse, w), float), 0.0)
    area = area + v.reuse * w * reg
    return {"accumulation": area}


def core_terms(v, c: UnitCosts) -> dict[str, object]:
    """Once per core: key/step pipeline registers (issue, build delays, tree and accumulator tags),
    output register and control registers. ``v``: a :class:`ConfigArrays`."""
    reg = c.per_bit("reg")
    key_bits = v.luts * v.keys * v.key_bits
    tag = v.step_bits
    stages = 2 + v.lut_build_latency  # s1, build delays, s2
    # the tag passes the multipliers, every tree register (cuts and FP adder stages: tree_latency)
    # and the accumulate adder
    pipeline_bits = stages * (key_bits + tag) + (v.mul_latency + v.tree_latency + v.acc_latency) * tag
    out_bits = v.keys * v.acc_width + 2
    # block-FP: the row exponent stored with the LUTs and carried to the converters
    exp_bits = (1 + v.mul_latency + v.tree_latency) * v.row_exp_bits
    out = {"registers": (pipeline_bits + out_bits + exp_bits) * reg, "control": v.control_register_bits * reg}
    bfp = v.is_blockfp
    if bfp.any():  # the aligner of the activation rows, in front of the LUT build
        align = c.block_align_area(v.act_exp_bits, v.act_man_bits, v.fp_width, v.tile_n)
        out["lut_build"] = np.where(bfp, align, 0.0)
    return out


#: (term, copies, :class:`ConfigArrays` fields it depends on). ``copies(v)`` counts identical copies.
TERMS = (
    (_lut_build, lambda v: v.luts, ("arch", "act", "mu", "adder_stages", "fp_reduce", "fp_width")),
    (_fetch_or_multiply, lambda v: v.luts * v.keys, ("arch", "act", "mu", "adder_stages", "fp_reduce",
                                                      "fp_width")),
    (_tree_lane, lambda v: v.keys, ("arch", "act", "acc", "mu", "luts", "adder_stages", "pipeline",
                                    "fp_reduce", "fp_width", "fp_round", "fp_sticky")),
    (_acc_lane, lambda v: v.keys, ("arch", "act", "acc", "mu", "luts", "adder_stages", "reuse", "max_n",
                                   "fp_reduce", "fp_width", "fp_round")),
)

#: The fields the critical path depends on.
CRITICAL_PATH_FIELDS = ("arch", "act", "acc", "mu", "luts", "keys", "adder_stages", "pipeline", "max_n",
                        "fp_reduce", "fp_width", "fp_round", "fp_sticky")


def _dense_key(v: ConfigArrays, names: tuple[str, ...]) -> np.ndarray:
    """One int64 per row, equal for rows equal in ``names`` (mixed radix, re-densified before overflow)."""
    key = np.zeros(len(v), np.int64)
    span = 1
    for name in names:
        col = getattr(v, name)
        radix = int(col.max(initial=0)) + 1
        if span * radix >= 1 << 62:
            _, key = np.unique(key, return_inverse=True)
            key = key.reshape(-1).astype(np.int64)
            span = int(key.max(initial=0)) + 1
        key = key * radix + col
        span *= radix
    return key


def on_distinct(fn, v: ConfigArrays, names: tuple[str, ...]):
    """``fn(v)`` evaluated once per distinct combination of the fields ``names`` and spread back to
    the rows (``fn`` returns an array or a dict of arrays, one entry per row)."""
    if len(v) <= 1:
        return fn(v)
    _, first, inverse = np.unique(_dense_key(v, names), return_index=True, return_inverse=True)
    if len(first) > len(v) // 2:  # mostly distinct: not worth the gather
        return fn(v)
    inverse = inverse.reshape(-1)
    out = fn(v.take(first))
    if isinstance(out, dict):
        return {k: np.asarray(a)[inverse] for k, a in out.items()}
    return np.asarray(out)[inverse]


def area_groups(v: ConfigArrays, costs: UnitCosts, *, raw: bool = False) -> dict[str, np.ndarray]:
    """Area by group (um^2), one entry per design of ``v``: the component sums scaled by
    :func:`whole_design_fit`, plus the fitted control logic (``raw=True``: the component sums
    alone, control registers only). Each term is priced once per distinct combination of its fields."""
    total = {g: np.zeros(len(v)) for g in GROUPS}
    for term, copies, names in TERMS:
        part = on_distinct(lambda u, t=term: t(u, costs), v, names)
        k = copies(v)
        for g, a in part.items():
            total[g] = total[g] + k * a
    for g, a in core_terms(v, costs).items():
        total[g] = total[g] + a
    if raw:
        return total
    fit = whole_design_fit(costs)
    out = {g: fit.scale[g] * a for g, a in total.items()}
    out["control"] = out["control"] + control_features(v) @ fit.control
    return out


def area_terms(cfg: CoreConfig, costs: UnitCosts, *, raw: bool = False) -> dict[str, float]:
    """Area by group (um^2) of ``cfg``: :func:`area_groups` of its one row."""
    return {g: float(a[0]) for g, a in area_groups(ConfigArrays.of(cfg), costs, raw=raw).items()}


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


def whole_design_fit(costs: UnitCosts) -> WholeDesignFit:
    """Fit :class:`WholeDesignFit` to the calibration cores of ``costs`` (once per table: the fit is
    kept on ``costs`` and dies with it; a stand-in table without :meth:`UnitCosts.memo` refits)."""
    memo = getattr(costs, "memo", None)
    if memo is None:
        return _fit_whole_design(costs)
    return memo("whole_design_fit", lambda: _fit_whole_design(costs))


def _fit_whole_design(costs: UnitCosts) -> WholeDesignFit:
    from scipy.optimize import lsq_linear

    cores = costs.cores()
    if not cores:
        return WholeDesignFit(dict.fromkeys(GROUPS, 1.0), np.zeros(4), 0)
    v = ConfigArrays.of(*(CoreConfig(**s["config"]) for s in cores))
    raw = np.stack([a for a in area_groups(v, costs, raw=True).values()], axis=1)
    feats = control_features(v)
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
    """Estimated minimum clock period (ns) of ``cfg``: :func:`critical_path_array` of its one row."""
    return float(critical_path_array(ConfigArrays.of(cfg), c)[0])


#: Coefficients of a segment delay: ``[ns, chained integer adder delays (tree, accumulate),
#: chained LUT-build adder delays, control constant, control log2 fanout]``; :class:`DelayFit`
#: gives their values.
_COEFS = 5
_NONE = -1e9  # a segment a design does not have


def _seg(const=0.0, chained=0.0, build_chained=0.0) -> np.ndarray:
    """Coefficient rows (n x :data:`_COEFS`) of a sum of delays."""
    parts = np.broadcast_arrays(*(np.asarray(x, float) for x in (const, chained, build_chained)))
    zero = np.zeros_like(parts[0])
    return np.stack([*parts, zero, zero], axis=-1)


def _piped(c: UnitCosts, kind: str, where, fmt, stages) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A pipelined FP unit's slowest segment, its input-to-first-register and last-register-to-output
    paths (ns, as synthesised alone; the whole delay in all three without stages)."""
    unit = c.fp_add if kind == "add" else c.fp_mul
    part = _each(lambda a, st: unit(FORMATS[a], st)["critical_path_ns"], where, fmt, stages)
    into = _each(lambda a, st: unit(FORMATS[a], st).get("input_to_register_ns")
                 or unit(FORMATS[a], st)["critical_path_ns"], where, fmt, stages)
    out = _each(lambda a, st: unit(FORMATS[a], st).get("register_to_output_ns")
                or unit(FORMATS[a], st)["critical_path_ns"], where, fmt, stages)
    return part, into, out


def critical_path_segments(v: ConfigArrays, c: UnitCosts) -> np.ndarray:
    """:func:`_segment_list` stacked: designs x segments x :data:`_COEFS`."""
    return np.stack(_segment_list(v, c), axis=1)


def _segment_list(v: ConfigArrays, c: UnitCosts) -> list[np.ndarray]:
    """Every register-to-register segment of every design of ``v``, as coefficient rows
    (designs x segments x :data:`_COEFS`) over ``[1, chain, build_chain, control_ns,
    control_per_log2_ns]``; a segment a design lacks is :data:`_NONE`.

    Segments: the LUT build (the plan's depth of chained adders, or the stages of pipelined FP
    adders); fetch and reduction levels up to each pipeline cut; conversion and accumulate; the
    block-FP aligner; the control logic (stall enables and counters: a constant plus the depth of
    the buffer tree that reaches every accumulator bit, ``log2(tile_n * keys * acc_width)``).
    Delays are the units' as synthesised alone. Integer adders chained within a segment overlap
    their carries: every adder after the first counts ``chain`` of its delay (``build_chain``
    in the LUT build, whose add/subtract pairs chain differently). A pipelined FP unit is its
    slowest segment where that stands alone, its input-to-register path where a path enters it
    and its register-to-output path where one leaves it: its registers cut it unevenly (an fp16
    adder with 2 stages: 5.2 ns in, 0.2 ns out), and the calibration times both.
    """
    n = len(v)
    fp, mac, bfp = ~v.int_lanes, v.is_mac, v.is_blockfp
    s = np.where(fp, v.adder_stages, 0)
    add_d = _each(lambda a: c.fp_add(FORMATS[a], 0)["critical_path_ns"], fp, v.act)
    part_d, in_d, out_d = _piped(c, "add", fp, v.act, s)
    acc_fp = v.is_fp
    acc_s = np.where(acc_fp, v.adder_stages, 0)
    acc_part, acc_in, _ = _piped(c, "add", acc_fp, v.acc, acc_s)
    conv = _each(lambda a, b: c.fp_convert(FORMATS[a], FORMATS[b])["critical_path_ns"],
                 fp & ~v.is_fused & (v.acc != v.act), v.act, v.acc)
    conv = conv + _each(lambda sw, a, r: c.fp_from_int(sw, FORMATS[a], FP_ROUNDINGS[r])["critical_path_ns"],
                        bfp, v.tree_width(v.luts), v.acc, v.fp_round)
    lut_add = np.asarray(c.int_add_delay(v.lut_width), float)
    segs = []
    # LUT build
    int_build = _seg(lut_add, build_chained=np.maximum(v.plan_depth - 1, 0) * lut_add)
    int_build = np.where((v.plan_depth > 0)[:, None], int_build, _seg(0.0))
    fp_build = np.where((s == 0)[:, None], _seg(v.plan_depth * add_d), _seg(part_d))
    segs.append(np.where(fp[:, None], fp_build, int_build))
    # chained pipelined adders of the build: the end of one and the start of the next
    chained_fp = fp & (s > 0) & (v.plan_depth > 1)
    segs.append(np.where(chained_fp[:, None], _seg(out_d + in_d), _NONE))
    if bfp.any():
        align = np.where(bfp, c.block_align_delay(v.act_exp_bits, v.act_man_bits, v.fp_width, v.tile_n),
                         _NONE)
        segs.append(_seg(align))
    mul_fp = mac & fp
    mul_part, _, mul_out = _piped(c, "mul", mul_fp, v.act, v.mul_latency)
    segs.append(np.where((mul_fp & (v.mul_latency > 0))[:, None], _seg(mul_part), _NONE))
    fetch = (np.where(mul_fp, mul_out, 0.0)
             + _each(lambda w: c.int_mul_delay(w), mac & ~fp, v.act_width)
             + _each(lambda f, mu: c.fetch_delay("fetch_fp" if f else "fetch_int", mu), ~mac, fp, v.mu))
    cuts, depth = v.pipeline_cuts, v.tree_depth
    current = _seg(fetch)
    has_adder = np.zeros(n, bool)  # an integer adder already in the current segment
    for d in range(1, cuts.shape[1]):
        on = d <= depth
        cut = on & cuts[:, d - 1]
        segs.append(np.where(cut[:, None], current, _NONE))
        current = np.where(cut[:, None], _seg(0.0), current)
        has_adder = has_adder & ~cut
        int_d = np.asarray(c.int_add_delay(v.tree_width(1 << d)), float)
        int_level = np.where(has_adder[:, None], _seg(chained=int_d), _seg(int_d))
        piped = on & (s > 0)  # a pipelined adder ends the segment inside it
        segs.append(np.where(piped[:, None], current + _seg(in_d), _NONE))
        segs.append(np.where(piped[:, None], _seg(part_d), _NONE))
        level = np.where(fp[:, None], _seg(add_d), int_level)
        current = np.where(piped[:, None], _seg(out_d), np.where(on[:, None], current + level, current))
        has_adder = np.where(on & ~fp, True, np.where(piped, False, has_adder))
    last = cuts[np.arange(n), depth]  # after the last level
    segs.append(np.where(last[:, None], current, _NONE))
    current = np.where(last[:, None], _seg(0.0), current)
    has_adder = has_adder & ~last
    int_acc = np.asarray(c.int_add_delay(v.acc_width), float)
    acc = np.where(acc_fp[:, None],
                   np.where((acc_s > 0)[:, None], _seg(conv + acc_in), _seg(conv + acc_part)),
                   np.where(has_adder[:, None], _seg(chained=int_acc), _seg(int_acc)))
    segs.append(current + acc)
    if acc_fp.any():  # the rest of a pipelined accumulate adder
        segs.append(np.where((acc_fp & (acc_s > 0))[:, None], _seg(acc_part), _NONE))
    fused = v.is_fused
    if fused.any():  # fetch, the fused adder (its stages split it evenly), accumulate
        fd = _each(lambda a, b, n_, g, r, st: c.fp_fused(FORMATS[a], FORMATS[b], n_, g, FP_ROUNDINGS[r], 0,
                                                         bool(st))["critical_path_ns"],
                   fused, v.act, v.acc, v.luts, v.fused_guard, v.fp_round, v.fp_sticky)
        part = fd / (s + 1)
        acc_c = conv + acc_part
        unpiped = fetch + fd + acc_c
        segs = [np.where(fused[:, None], _NONE, x) for x in segs]
        segs.append(np.where(fused[:, None], _seg(np.where(s == 0, unpiped, fetch + part)), _NONE))
        segs.append(np.where((fused & (s > 0))[:, None], _seg(part + acc_c), _NONE))
        segs.append(np.where(fused[:, None], np.where(fp[:, None], fp_build, int_build), _NONE))
    control = np.zeros((n, _COEFS))
    control[:, 3] = 1.0
    control[:, 4] = np.log2(np.maximum(v.tile_n * v.keys * v.acc_width, 1))
    segs.append(control)
    return segs


@dataclass(frozen=True)
class DelayFit:
    """The free terms of the critical-path model, fitted on the calibration cores.

    Attributes
    ----------
    chain, build_chain : float
        Share of an integer adder's delay counted for every adder after the first in a segment
        (of the tree and accumulate; of the LUT build).
    overhead_ns : float
        Added to every segment (clock-to-output and setup of its registers, not in the unit
        figures), ns.
    control_ns, control_per_log2_ns : float
        The control segment: ``control_ns + control_per_log2_ns * log2(tile_n * keys * acc_width)``,
        ns; ``control_per_log2_ns`` is not fitted on cores but measured: the delay a buffer tree
        adds per doubling of a register's fanout (:attr:`UnitCosts.fanout_delay_per_log2_ns`).
    cores : int
        Calibration cores the fit used (0: the defaults).
    mape_pct : float
        The fit's mean absolute error on those cores, percent.
    """

    chain: float = 1.0
    build_chain: float = 1.0
    overhead_ns: float = 0.0
    control_ns: float = 0.0
    control_per_log2_ns: float = 0.0
    cores: int = 0
    mape_pct: float = float("nan")

    def vector(self) -> np.ndarray:
        return np.array([1.0, self.chain, self.build_chain, self.control_ns, self.control_per_log2_ns])


#: Bounds of the fitted delay terms (chain, build_chain, overhead_ns, control_ns).
DELAY_BOUNDS = ((0.2, 1.0), (0.2, 1.0), (0.0, 1.0), (0.0, 20.0))


def delay_fit(costs: UnitCosts) -> DelayFit:
    """Fit :class:`DelayFit` to the calibration cores of ``costs`` (once per table): the
    parameters within :data:`DELAY_BOUNDS` with the least mean absolute relative error."""
    memo = getattr(costs, "memo", None)
    if memo is None:
        return _fit_delay(costs)
    return memo("delay_fit", lambda: _fit_delay(costs))


def _paths(segments: np.ndarray, x, per_log2: float) -> np.ndarray:
    chain, build_chain, overhead, c0 = x
    return (segments @ np.array([1.0, chain, build_chain, c0, per_log2])).max(axis=1) + overhead


def _fit_delay(costs: UnitCosts) -> DelayFit:
    from scipy.optimize import minimize

    cores = [s for s in costs.cores() if s.get("critical_path_ns")]
    per_log2 = costs.fanout_delay_per_log2_ns
    if len(cores) < 8:
        return DelayFit(control_per_log2_ns=per_log2)
    v = ConfigArrays.of(*(CoreConfig(**s["config"]) for s in cores))
    segments = critical_path_segments(v, costs)
    y = np.array([s["critical_path_ns"] for s in cores])

    def loss(x):
        return float(np.mean(np.abs(_paths(segments, x, per_log2) / y - 1)))

    best = None
    for start in ((1.0, 1.0, 0.0, 0.0), (0.6, 0.6, 0.2, 1.0), (0.4, 0.4, 0.4, 2.0)):
        res = minimize(loss, np.array(start), method="Powell", bounds=DELAY_BOUNDS)
        if best is None or res.fun < best.fun:
            best = res
    chain, build_chain, overhead, c0 = (float(x) for x in best.x)
    return DelayFit(chain, build_chain, overhead, c0, per_log2, len(cores), 100 * float(best.fun))


def critical_path_array(v: ConfigArrays, c: UnitCosts) -> np.ndarray:
    """Estimated minimum clock period (ns) of every design of ``v``: the slowest of
    :func:`critical_path_segments` under :func:`delay_fit`."""
    fit = delay_fit(c)
    vector = fit.vector()
    return np.maximum.reduce([segment @ vector for segment in _segment_list(v, c)]) + fit.overhead_ns


# ------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------

class UnpricedError(ConfigError):
    """A valid config the unit-cost table cannot price (a ``mu`` past its fetchers, a fused core
    without its fused adder); one line per problem, naming the parameter."""


@dataclass(frozen=True)
class CostReport:
    """Predicted cost of one design.

    ``area_um2``: standard-cell area (um^2), ``area_breakdown_um2`` by :data:`GROUPS`;
    ``macs_per_cycle``: ternary MACs per cycle at full utilisation (``tile_n * tile_m``);
    ``critical_path_ns`` / ``fmax_mhz``: estimated clock; ``cycles``: for the GEMVs asked
    (``gemvs``: (name, n, m, count)); ``weight_bits_per_cycle``: key bits the memory system must
    deliver per cycle; ``act_buffer_bits``: the activation SRAM (not in the area).
    Energy (:mod:`costmodel.energy`, at fmax, under the calibration's stated activity):
    ``power_mw`` (dynamic plus leakage), ``leakage_mw``, ``energy_pj_per_cycle``; all ``None``
    with ``energy_unavailable`` saying why when the unit-cost table has no power data.
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
    power_mw: float | None = None
    leakage_mw: float | None = None
    energy_pj_per_cycle: float | None = None
    energy_unavailable: str | None = None

    @property
    def energy_pj_per_mac(self) -> float | None:
        """Energy per ternary MAC at full utilisation, in pJ (energy per cycle / MACs per cycle)."""
        return None if self.energy_pj_per_cycle is None else self.energy_pj_per_cycle / self.macs_per_cycle

    @property
    def energy_uj(self) -> float | None:
        """Energy of the GEMVs asked (one decode token for a workload file), in uJ."""
        if self.energy_pj_per_cycle is None or not self.cycles:
            return None
        return self.energy_pj_per_cycle * self.cycles / 1e6

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
            "power_mw": self.power_mw,
            "leakage_mw": self.leakage_mw,
            "energy_pj_per_cycle": self.energy_pj_per_cycle,
            "energy_pj_per_mac": self.energy_pj_per_mac,
            "energy_uj": self.energy_uj,
            "energy_unavailable": self.energy_unavailable,
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
    problems = c.unpriced(cfg.mu) + c.unpriced_reduce(cfg.fp_reduce, cfg.act, cfg.acc_type.name)
    if problems:
        raise UnpricedError(problems)
    groups = area_terms(cfg, c)
    area = sum(groups.values())
    nand2 = c.nand2_area_um2
    critical = round(critical_path_ns(cfg, c), 3)
    try:
        energy, unavailable = energy_of(groups, critical, c), None
    except EnergyUnavailable as exc:
        energy, unavailable = {}, str(exc)
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
        critical_path_ns=critical,
        weight_bits_per_cycle=cfg.luts * cfg.keys * cfg.key_bits,
        act_buffer_bits=cfg.max_tiles_n * cfg.buffer_row_bits,
        cycles=total if gemvs else None,
        gemvs=rows,
        power_mw=_round(energy.get("power_mw"), 4),
        leakage_mw=_round(energy.get("leakage_mw"), 6),
        energy_pj_per_cycle=_round(energy.get("energy_pj_per_cycle"), 3),
        energy_unavailable=unavailable,
    )


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(x, digits)
