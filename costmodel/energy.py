"""Energy and power of a core from the same component areas as its area model.

What the synthesis flow measures (:mod:`costmodel.power`): OpenSTA's power of the mapped netlist
at the design's own critical path, under the flow's stated activity (every data input port
toggling ``input_toggle`` times per cycle, propagated through the logic). Two parts behave
differently and are modelled apart:

- **dynamic energy per cycle** (pJ): internal and switching energy of the cells that toggle in a
  cycle. At a fixed activity it does not depend on the clock, and it is, group by group, close to
  proportional to the cells there are: ``E_dyn = sum_g k_g * A_g``, with ``A_g`` the area of
  group ``g`` (:data:`costmodel.model.GROUPS`, the fitted areas of :func:`area_groups`) and
  ``k_g`` its energy density in pJ per um^2 per cycle. The densities differ by group: registers
  pay their clock pins every cycle, adders pass the data's activity on, the control logic is
  mostly idle counters.
- **leakage** (mW): static, proportional to the standard-cell area: ``P_leak = lambda * A``.

Both are fitted on the calibration cores' synthesised power (non-negative least squares on
relative errors; a group without cores that use it gets the mean density of the others), so
a table without power data (another liberty, an old table) prices no energy: the figures are
*unavailable*, never zero. Power at a clock of period ``T`` ns is ``E_dyn / T + P_leak`` mW and
the energy of one cycle ``E_dyn + P_leak * T`` pJ (mW x ns = pJ).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.description.arrays import ConfigArrays
from hwgen.description.config import CoreConfig

from .unit_costs import UnitCosts

__all__ = ["EnergyFit", "EnergyUnavailable", "energy_fit", "energy_arrays", "energy_of"]


class EnergyUnavailable(LookupError):
    """The unit-cost table has no power data to price energy with (the reason, in one line)."""


@dataclass(frozen=True)
class EnergyFit:
    """Energy densities fitted on the calibration cores.

    Attributes
    ----------
    dynamic_pj_per_um2 : dict[str, float]
        Dynamic energy per clock cycle per um^2 of each area group, in pJ / um^2 (at the
        activity the cores were measured with).
    leakage_mw_per_um2 : float
        Leakage power per um^2 of standard cells, in mW / um^2.
    activity : dict
        The activity of the calibration's power figures (:class:`costmodel.power.Activity` as a dict).
    cores : int
        Calibration cores the fit used.
    """

    dynamic_pj_per_um2: dict[str, float]
    leakage_mw_per_um2: float
    activity: dict
    cores: int


def energy_fit(costs: UnitCosts) -> EnergyFit:
    """:class:`EnergyFit` of a unit-cost table (computed once per table).

    Raises
    ------
    EnergyUnavailable
        When fewer than 8 calibration cores carry a power figure.
    """
    fit = costs.memo("energy_fit", lambda: _fit(costs))
    if isinstance(fit, EnergyUnavailable):
        raise fit
    return fit


def _fit(costs: UnitCosts) -> EnergyFit | EnergyUnavailable:
    from scipy.optimize import lsq_linear

    from .model import GROUPS, area_groups

    cores = [s for s in costs.cores() if isinstance(s.get("power"), dict) and "dynamic_mw" in s["power"]]
    if len(cores) < 8:
        return EnergyUnavailable(
            f"the unit-cost table for {costs.liberty} (flow {costs.flow_version}) has power figures for "
            f"{len(cores)} calibration cores, at least 8 are needed; re-run `costmodel calibrate` on a "
            "liberty with power data")
    v = ConfigArrays.of(*(CoreConfig(**s["config"]) for s in cores))
    groups = area_groups(v, costs)
    areas = np.stack([groups[g] for g in GROUPS], axis=1)
    dyn = np.array([s["power"]["dynamic_mw"] * s["power"]["clock_ns"] for s in cores])
    leak = np.array([s["power"]["leakage_mw"] for s in cores])
    used = [i for i in range(len(GROUPS)) if np.count_nonzero(areas[:, i]) >= 3]
    sol = lsq_linear(areas[:, used] / dyn[:, None], np.ones(len(dyn)), bounds=(0.0, np.inf)).x
    density = dict.fromkeys(GROUPS, float(np.mean(sol)) if len(sol) else 0.0)
    for j, i in enumerate(used):
        density[GROUPS[i]] = float(sol[j])
    total = areas.sum(axis=1)
    lam = float(np.sum(leak * total) / np.sum(total * total))
    activity = cores[0]["power"].get("activity", {})
    return EnergyFit(density, lam, activity if isinstance(activity, dict) else {}, len(cores))


def energy_arrays(groups: dict[str, np.ndarray], critical_path_ns: np.ndarray,
                  costs: UnitCosts) -> dict[str, np.ndarray]:
    """Energy figures of designs from their area by group (um^2) and clock period (ns).

    Returns ``dynamic_pj_per_cycle``, ``leakage_mw``, ``power_mw`` (at the given period) and
    ``energy_pj_per_cycle`` (dynamic plus leakage over one period), one value per design.

    Raises
    ------
    EnergyUnavailable
        When the table has no power data.
    """
    fit = energy_fit(costs)
    dyn = sum(fit.dynamic_pj_per_um2[g] * np.asarray(a, float) for g, a in groups.items())
    area = sum(np.asarray(a, float) for a in groups.values())
    leak = fit.leakage_mw_per_um2 * area
    period = np.asarray(critical_path_ns, float)
    return {"dynamic_pj_per_cycle": dyn, "leakage_mw": leak, "power_mw": dyn / period + leak,
            "energy_pj_per_cycle": dyn + leak * period}


def energy_of(groups: dict[str, float], critical_path_ns: float, costs: UnitCosts) -> dict[str, float]:
    """:func:`energy_arrays` of one design (area by group in um^2, period in ns)."""
    out = energy_arrays({g: np.array([a]) for g, a in groups.items()}, np.array([critical_path_ns]), costs)
    return {k: float(a[0]) for k, a in out.items()}
