"""The energy model: densities fitted on the calibration cores' power, the figures it prices, and
a table without power data pricing no energy (unavailable, never zero)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from costmodel import UnitCosts, estimate, estimate_table, load_unit_costs
from costmodel.energy import EnergyUnavailable, energy_fit
from costmodel.model import GROUPS, area_groups
from hwgen.description import CoreConfig
from hwgen.description.arrays import ConfigArrays

#: Densities (pJ per um^2 per cycle) a synthetic table's core power is made from.
DENSITY = {"lut_build": 2e-4, "fetch": 3e-4, "multiply": 2.5e-4, "reduction": 1.5e-4,
           "accumulation": 1e-4, "registers": 6e-4, "control": 0.5e-4}
LEAK_MW_PER_UM2 = 3e-9


def _table_with_power(costs: UnitCosts, density=DENSITY, period_ns: float = 7.0) -> UnitCosts:
    """The committed table with every core's power replaced by ``sum_g density_g * A_g`` at ``period_ns``."""
    samples = []
    cores = [s for s in costs.samples if s["kind"] == "core"]
    v = ConfigArrays.of(*(CoreConfig(**s["config"]) for s in cores))
    groups = area_groups(v, costs)
    for i, s in enumerate(cores):
        dyn_pj = sum(density[g] * groups[g][i] for g in GROUPS)
        area = sum(groups[g][i] for g in GROUPS)
        samples.append({**s, "power": {"dynamic_mw": dyn_pj / period_ns, "clock_ns": period_ns,
                                       "leakage_mw": LEAK_MW_PER_UM2 * area,
                                       "activity": {"input_toggle": 0.1}}})
    samples += [s for s in costs.samples if s["kind"] != "core"]
    return UnitCosts(liberty=costs.liberty, flow_version=costs.flow_version,
                     nand2_area_um2=costs.nand2_area_um2, samples=tuple(samples))


def _without_power(costs: UnitCosts) -> UnitCosts:
    samples = tuple({k: v for k, v in s.items() if k != "power"} for s in costs.samples)
    return UnitCosts(liberty=costs.liberty, flow_version=costs.flow_version,
                     nand2_area_um2=costs.nand2_area_um2, samples=samples)


def test_fit_recovers_the_densities_the_power_was_made_from():
    fit = energy_fit(_table_with_power(load_unit_costs()))
    for group, density in DENSITY.items():
        assert fit.dynamic_pj_per_um2[group] == pytest.approx(density, rel=1e-6), group
    assert fit.leakage_mw_per_um2 == pytest.approx(LEAK_MW_PER_UM2, rel=1e-9)
    assert fit.cores == len(load_unit_costs().cores()) and fit.activity == {"input_toggle": 0.1}


def test_estimate_prices_power_energy_per_cycle_per_mac_and_per_job():
    costs = _table_with_power(load_unit_costs())
    cfg = CoreConfig(act="int8", mu=2, luts=8, keys=16)
    report = estimate(cfg, gemvs=[("g", 2560, 640, 30)], costs=costs)
    area = report.area_breakdown_um2
    dyn = sum(DENSITY[g] * a for g, a in area.items())
    leak = LEAK_MW_PER_UM2 * sum(area.values())
    t = report.critical_path_ns
    assert report.energy_unavailable is None
    assert report.power_mw == pytest.approx(dyn / t + leak, rel=1e-3)
    assert report.energy_pj_per_cycle == pytest.approx(dyn + leak * t, rel=1e-3)
    doc = report.to_dict()
    assert doc["energy_pj_per_mac"] == pytest.approx(report.energy_pj_per_cycle / (16 * 16))
    assert doc["energy_uj"] == pytest.approx(report.energy_pj_per_cycle * report.cycles / 1e6)
    row = estimate_table(pd.DataFrame([cfg.to_dict()]), costs=costs).iloc[0]
    assert row.power_mw == pytest.approx(report.power_mw, rel=1e-3)
    assert row.energy_pj_per_mac == pytest.approx(doc["energy_pj_per_mac"], rel=1e-3)


def test_more_energy_for_a_bigger_core():
    costs = _table_with_power(load_unit_costs())
    small, big = (estimate(CoreConfig(act="int8", mu=2, luts=n, keys=n), costs=costs) for n in (4, 16))
    assert big.energy_pj_per_cycle > 4 * small.energy_pj_per_cycle


def test_a_table_without_power_data_prices_no_energy():
    costs = _without_power(load_unit_costs())
    with pytest.raises(EnergyUnavailable, match=r"power figures for 0 calibration cores, at least 8"):
        energy_fit(costs)
    report = estimate(CoreConfig(act="int8", mu=2, luts=4, keys=4), gemvs=[("g", 64, 64, 1)], costs=costs)
    assert report.power_mw is None and report.energy_pj_per_cycle is None
    assert report.to_dict()["energy_uj"] is None and report.to_dict()["energy_pj_per_mac"] is None
    assert "calibration cores" in report.energy_unavailable
    row = estimate_table(pd.DataFrame([{"mu": 2, "luts": 4, "keys": 4}]), costs=costs).iloc[0]
    assert np.isnan(row.power_mw) and np.isnan(row.energy_pj_per_mac)
