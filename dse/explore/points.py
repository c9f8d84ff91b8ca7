"""Design points of a study: parameter values -> a design table -> validity, metrics, constraints.

One path for every sampler: an Optuna trial is a one-row table, the exhaustive sweep a table of
every point of the space. :func:`design_table` fills in the fixed parameters and the smallest
``max_n`` / ``max_m`` that run the workload; :func:`score` checks validity once
(:func:`hwgen.description.validity.check_columns`, the rules the generator enforces), prices the
valid rows (:func:`dse.explore.metrics.evaluate`) and adds one column per constraint, ``<= 0``
where met (Optuna's convention), scaled by the bound so that violations of different metrics are
comparable. A design with an adapter (:data:`dse.explore.metrics.ADAPTER_PARAMS`) is valid only when
its adapter can be built beside its core (:func:`dse.explore.metrics.adapter_row_problems`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from costmodel import load_unit_costs
from costmodel.table import CONFIG_COLUMNS
from hwgen.description.arrays import FORMATS
from hwgen.description.validity import check_columns

from .metrics import ADAPTER_DEFAULTS, NO_ADAPTER, adapter_row_problems, evaluate, needed_max_m
from .spec import StudySpec

__all__ = ["design_table", "Scored", "score", "constraint_columns", "DESIGN_COLUMNS"]

#: Columns that describe a design point: the core config and the system parameters.
DESIGN_COLUMNS = (*[c for c in CONFIG_COLUMNS], "cores", "bandwidth_gbps", "clock_mhz", "sram_bits_per_um2")


def design_table(spec: StudySpec, params: pd.DataFrame) -> pd.DataFrame:
    """The design points of ``params`` (one column per free parameter): fixed values added,
    ``max_n`` / ``max_m`` (unless given) the smallest that run the workload in one job per core.

    Parameters that do not apply to a point take their "not applicable" value, so that a space
    mixing reduction modes stays valid: ``fp_reduce`` is ``"ieee"`` for integer activations,
    ``fp_width`` 0 and ``fp_round`` ``"rne"`` in ``"ieee"``, ``fp_sticky`` false unless ``"fused"``,
    and ``pipeline`` 0 in ``"fused"`` (the fused adder is pipelined by ``adder_stages``); without an
    adapter (``adapter = "none"``) the other adapter parameters take their defaults, and
    ``adapter_chunk`` is 0 for ``"ternary-a"`` (no down-projection trees)."""
    table = params.reset_index(drop=True).copy()
    for key, value in spec.fixed.items():
        if key not in table:
            table[key] = [value] * len(table) if isinstance(value, str) else value
    if "fp_reduce" in table and "act" in table:
        integer = table["act"].astype(str).str.startswith("int").to_numpy()
        table["fp_reduce"] = np.where(integer, "ieee", table["fp_reduce"].astype(object))
    mode = table["fp_reduce"].to_numpy() if "fp_reduce" in table else np.full(len(table), "ieee", object)
    blockfp = (mode == "blockfp") | (mode == "fused")
    if "pipeline" in table:
        table["pipeline"] = np.where(mode == "fused", 0, table["pipeline"])
    if "fp_sticky" in table:
        table["fp_sticky"] = np.where(mode == "fused", table["fp_sticky"].astype(object), False)
    if "fp_width" in table:
        table["fp_width"] = np.where(blockfp, table["fp_width"], 0)
    if "fp_round" in table:
        table["fp_round"] = np.where(blockfp, table["fp_round"].astype(object), "rne")
    if "adapter" in table:
        variant = table["adapter"].to_numpy(object)
        off = (variant == NO_ADAPTER) | (variant == "")
        for key, default in ADAPTER_DEFAULTS.items():
            if key != "adapter" and key in table and off.any():
                table[key] = np.where(off, default, table[key].to_numpy(object))
                if not isinstance(default, str):
                    table[key] = table[key].astype(np.int64)
        if "adapter_chunk" in table:
            chunk = np.where(variant == "ternary-a", 0, table["adapter_chunk"])
            table["adapter_chunk"] = chunk.astype(np.int64)
    wl = spec.workload
    if "max_n" not in table:
        tile_n = np.asarray(table["luts"], np.int64) * np.asarray(table["mu"], np.int64)
        table["max_n"] = np.maximum(wl.max_n, tile_n)
    if "max_m" not in table:
        keys = np.asarray(table["keys"], np.int64)
        table["max_m"] = np.maximum(needed_max_m(keys, np.asarray(table["cores"], np.int64), wl), keys)
    if "name" in table:
        table = table.drop(columns="name")
    return table


@dataclass(frozen=True)
class Scored:
    """The outcome of :func:`score`.

    Attributes
    ----------
    valid : numpy.ndarray
        Per design point: a valid config.
    problems : dict[int, list[str]]
        Problem lines of the invalid points (by position).
    metrics : pandas.DataFrame
        One row per *valid* point (in order): the design columns, the metrics and one
        ``constraint_<name>`` column per constraint (``<= 0``: met).
    feasible : numpy.ndarray
        Per row of ``metrics``: every constraint met.
    """

    valid: np.ndarray
    problems: dict[int, list[str]]
    metrics: pd.DataFrame
    feasible: np.ndarray


def constraint_columns(spec: StudySpec, metrics: pd.DataFrame) -> dict[str, np.ndarray]:
    """``constraint_<name>``: the scaled violation of each constraint (``<= 0`` where met)."""
    out = {}
    for c in spec.constraints:
        x = metrics[c.metric].to_numpy(float)
        v = np.full(len(x), -np.inf)
        if c.max is not None:
            v = np.maximum(v, (x - c.max) / max(abs(c.max), 1e-12))
        if c.min is not None:
            v = np.maximum(v, (c.min - x) / max(abs(c.min), 1e-12))
        out[f"constraint_{c.name}"] = v
    return out


def score(spec: StudySpec, table: pd.DataFrame) -> Scored:
    """Validity, metrics and constraints of every design point of ``table`` (:func:`design_table`)."""
    config = table[[c for c in CONFIG_COLUMNS if c in table]]
    check = check_columns(config)
    valid = check.valid.copy()
    problems = dict(check.problems)
    wl = spec.workload
    short_n = np.flatnonzero(valid & (check.arrays.max_n < wl.max_n))
    need_m = needed_max_m(check.arrays.keys, np.asarray(table["cores"], np.int64), wl)
    short_m = np.flatnonzero(valid & (check.arrays.max_m < need_m))
    longest = max(wl.gemvs, key=lambda g: g.n)
    for i in short_n.tolist():
        problems[i] = [(f"`max_n` must cover the workload's longest input ({longest.name}: n = {wl.max_n}), "
                       f"got max_n={int(check.arrays.max_n[i])}")]
    for i in short_m.tolist():
        problems.setdefault(i, []).append(
            f"`max_m` must be at least {int(need_m[i])} outputs (the busiest core's share of the workload's "
            f"widest GEMV), got max_m={int(check.arrays.max_m[i])}")
    valid[short_n] = False
    valid[short_m] = False
    fused = np.flatnonzero(valid & check.arrays.is_fused)
    if fused.size:  # a fused core the unit-cost table has no fused adder for: not priceable
        costs = load_unit_costs()
        for i in fused.tolist():
            lines = costs.unpriced_reduce("fused", FORMATS[check.arrays.act[i]], FORMATS[check.arrays.acc[i]])
            if lines:
                problems.setdefault(i, []).extend(lines)
                valid[i] = False
    if "adapter" in table:  # the adapter beside each core: buildable, per row
        for i, lines in adapter_row_problems(table, wl, rows=np.flatnonzero(valid).tolist()).items():
            problems.setdefault(i, []).extend(lines)
            valid[i] = False
    rows = table[valid].reset_index(drop=True)
    if len(rows):
        metrics = evaluate(rows, spec.workload)  # ``clock_mhz``: the clock run at, not the target
    else:
        metrics = pd.DataFrame(columns=list(DESIGN_COLUMNS) + [k for k in ADAPTER_DEFAULTS if k in table])
    cons = constraint_columns(spec, metrics) if len(rows) else {f"constraint_{c.name}": np.zeros(0)
                                                                 for c in spec.constraints}
    for name, values in cons.items():
        metrics[name] = values
    feasible = np.ones(len(metrics), bool)
    for values in cons.values():
        feasible &= values <= 0
    return Scored(valid, problems, metrics, feasible)
