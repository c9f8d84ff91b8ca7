"""Vectorised cost evaluation of a whole table of designs (pandas DataFrame) at once.

The table is checked with :func:`hwgen.description.validity.check_columns` (the rules of
:class:`~hwgen.description.config.CoreConfig`), read into a
:class:`~hwgen.description.arrays.ConfigArrays` (one array per config field, with the config's
derived properties as arrays), and priced by the same term functions as the scalar
:func:`costmodel.estimate`: each term once per distinct combination of the fields it depends on
(:data:`costmodel.model.TERMS`), over arrays. Nothing is cached between calls but what the unit-cost
table keeps for itself (:meth:`costmodel.unit_costs.UnitCosts.memo`).
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from hwgen.description.arrays import FORMATS
from hwgen.description.config import ConfigError, CoreConfig
from hwgen.description.schedule import job_cycles_array
from hwgen.description.validity import check_columns

from . import model
from .energy import EnergyUnavailable, energy_arrays
from .unit_costs import UnitCosts, load_unit_costs

__all__ = ["estimate_table", "CONFIG_COLUMNS", "MAX_REPORTED_ROWS"]

#: Config fields of the result, with the default a table that lacks the column gets (``mu``: the
#: arch's, :func:`~hwgen.description.config.default_mu`; ``luts`` and ``keys`` are required).
CONFIG_COLUMNS = {f.name: f.default for f in fields(CoreConfig) if f.init and f.name != "name"}
#: Rows named in the ``ConfigError`` of a table with rows that cannot be priced.
MAX_REPORTED_ROWS = 5

#: Config columns reported as given (text and true/false), not as the codes of the arrays.
_STRING_COLUMNS = ("arch", "act", "acc", "fp_reduce", "fp_round", "fp_sticky")


def estimate_table(designs, *, costs: UnitCosts | None = None, n=None, m=None):
    """Predicted area (um^2, total and by group), clock and throughput of every row of ``designs``.

    Parameters
    ----------
    designs : pandas.DataFrame
        One row per design, one column per :class:`CoreConfig` init field (anything
        ``pandas.DataFrame`` accepts). ``luts`` and ``keys`` are required; a missing column or cell
        of another field takes the field's default (see :mod:`hwgen.description.validity`).
    costs : UnitCosts, optional
        Unit-cost table (default: :func:`costmodel.load_unit_costs`).
    n, m : int or array, optional
        GEMV shape (scalars or one per row) for a ``cycles`` column.

    Returns
    -------
    pandas.DataFrame
        A new frame (index 0..rows-1): the :data:`CONFIG_COLUMNS`, ``area_um2``, ``area_<group>_um2``,
        ``critical_path_ns``, ``fmax_mhz``, ``macs_per_cycle``, ``macs_per_cycle_per_mm2``,
        ``weight_bits_per_cycle``, ``act_buffer_bits``, ``power_mw``, ``leakage_mw``, ``energy_pj_per_cycle``,
        ``energy_pj_per_mac`` (at fmax; NaN when the table has no power data, see
        :mod:`costmodel.energy`) and (with ``n`` and ``m``) ``cycles``.

    Raises
    ------
    ConfigError
        If any row is not a valid config, or one the unit-cost table cannot price (``mu`` past
        ``costs.max_mu``): the whole table is refused, and the error names the first
        :data:`MAX_REPORTED_ROWS` such rows (by index label) and their problems, one line each
        (``row 7: `mu` must be in [1, 8], got mu=0``). Filter a table first with
        :func:`hwgen.description.validity.check_table`.
    KeyError
        If there is no ``luts`` or ``keys`` column.
    """
    import pandas as pd

    c = costs or load_unit_costs()
    check = check_columns(designs)
    v = check.arrays
    problems = dict(check.problems)
    for i in np.flatnonzero(check.valid & (v.mu > c.max_mu)).tolist():
        problems[i] = c.unpriced(int(v.mu[i]))
    fused_formats = c.fused_formats() if v.is_fused.any() else set()
    for i in np.flatnonzero(check.valid & v.is_fused).tolist():
        act, acc = FORMATS[v.act[i]], FORMATS[v.acc[i]]
        if (act, acc) not in fused_formats:
            problems[i] = problems.get(i, []) + c.unpriced_reduce("fused", act, acc)
    if problems:
        labels = designs.index if isinstance(designs, pd.DataFrame) else range(len(v))
        rows = sorted(problems)
        lines = [f"row {labels[i]}: {line}" for i in rows[:MAX_REPORTED_ROWS] for line in problems[i]]
        if len(rows) > MAX_REPORTED_ROWS:
            lines.append(f"... and {len(rows) - MAX_REPORTED_ROWS} more rows that cannot be priced")
        raise ConfigError(lines)
    out = pd.DataFrame({name: check.columns[name] if name in _STRING_COLUMNS else getattr(v, name)
                        for name in CONFIG_COLUMNS})
    groups = model.area_groups(v, c)
    area = sum(groups.values())
    out["area_um2"] = area
    for g in model.GROUPS:
        out[f"area_{g}_um2"] = groups[g]
    out["critical_path_ns"] = model.on_distinct(lambda u: model.critical_path_array(u, c), v,
                                                model.CRITICAL_PATH_FIELDS)
    out["fmax_mhz"] = 1000.0 / out["critical_path_ns"]
    out["macs_per_cycle"] = v.tile_n * v.keys
    out["macs_per_cycle_per_mm2"] = out["macs_per_cycle"] / (area / 1e6)
    out["weight_bits_per_cycle"] = v.luts * v.keys * v.key_bits
    out["act_buffer_bits"] = v.max_tiles_n * v.buffer_row_bits
    try:
        energy = energy_arrays(groups, out["critical_path_ns"].to_numpy(), c)
    except EnergyUnavailable:  # a table without power data: NaN, never a made-up zero
        energy = {k: np.full(len(out), np.nan) for k in ("power_mw", "leakage_mw", "energy_pj_per_cycle")}
    out["power_mw"] = energy["power_mw"]
    out["leakage_mw"] = energy["leakage_mw"]
    out["energy_pj_per_cycle"] = energy["energy_pj_per_cycle"]
    out["energy_pj_per_mac"] = out["energy_pj_per_cycle"] / out["macs_per_cycle"]
    if n is not None and m is not None:
        out["cycles"] = job_cycles_array(v.tile_n, v.keys, v.reuse, v.acc_latency, v.pipeline_latency, n, m)
    return out
