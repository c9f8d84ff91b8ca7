"""The analytical cost model: scalar and vectorised paths agree, cycles add up over the GEMVs,
the breakdown adds up, and the model tracks the calibration cores."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from costmodel import GROUPS, estimate, estimate_table, load_unit_costs
from hwgen.description.config import CoreConfig
from hwgen.description.schedule import block_issue_cycles
from hwgen.description.tree_plan import tree_depth


def _random_params(rng: np.random.Generator) -> dict:
    act = str(rng.choice(["int4", "int8", "int16", "fp16", "bf16", "fp8e4m3"]))
    arch = str(rng.choice(["lut"] * 4 + ["signflip", "mac"]))
    mu = int(rng.integers(1, 7)) if arch == "lut" else 1
    luts, keys = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    params = {"arch": arch, "act": act, "mu": mu, "luts": luts, "keys": keys,
              "reuse": int(rng.integers(1, 5)),
              "pipeline": int(rng.integers(0, 2 + tree_depth(luts))),
              "max_n": int(max(rng.choice([300, 4096, 8192]), mu * luts)),
              "max_m": int(rng.choice([500, 8192]))}
    if not act.startswith("int"):
        params["adder_stages"] = int(rng.integers(0, 4))
        params["acc"] = str(rng.choice([act, "fp32"]))
    return params


def test_table_equals_scalar_estimate():
    rng = np.random.default_rng(7)
    params = [_random_params(rng) for _ in range(120)]
    shapes = [(int(rng.integers(1, 9000)), int(rng.integers(1, 9000))) for _ in params]
    table = pd.DataFrame(params)
    table["n"], table["m"] = [s[0] for s in shapes], [s[1] for s in shapes]
    out = estimate_table(table.drop(columns=["n", "m"]), n=table.n.to_numpy(), m=table.m.to_numpy())
    for i, (p, (n, m)) in enumerate(zip(params, shapes, strict=True)):
        cfg = CoreConfig(**p)
        report = estimate(cfg, gemvs=[("g", n, m, 1)])
        assert out.area_um2[i] == pytest.approx(report.area_um2, abs=0.1), p
        for g in GROUPS:
            assert out[f"area_{g}_um2"][i] == pytest.approx(report.area_breakdown_um2[g], abs=0.1), (p, g)
        assert out.critical_path_ns[i] == pytest.approx(report.critical_path_ns, abs=1e-3), p
        assert out.cycles[i] == report.cycles, p
        assert out.macs_per_cycle[i] == cfg.tile_n * cfg.tile_m
        assert out.act_buffer_bits[i] == report.act_buffer_bits


def test_block_issue_cycles_is_the_block_loop():
    for t_count in (1, 2, 7):
        for o_count in (1, 3, 8, 13):
            for reuse in (1, 2, 3, 5):
                for lat in (0, 1, 4):
                    loop = sum(min(reuse, o_count - b) + (t_count - 1) * max(min(reuse, o_count - b), lat + 1)
                               for b in range(0, o_count, reuse))
                    assert block_issue_cycles(t_count, o_count, reuse, lat) == loop


def test_breakdown_sums_and_report_fields():
    cfg = CoreConfig(act="fp16", mu=4, luts=16, keys=64)
    r = estimate(cfg, gemvs=[("q", 2560, 2560, 30), ("down", 6912, 2560, 30)])
    assert sum(r.area_breakdown_um2.values()) == pytest.approx(r.area_um2, rel=1e-6)
    assert all(a >= 0 for a in r.area_breakdown_um2.values())
    # The report sums its GEMVs times their counts (the per-job cycles are checked against cocotb-measured
    # counts in test_costmodel_validate and the cocotb regression, not against the formula itself).
    one = [estimate(cfg, gemvs=[(name, n, m, 1)]).cycles
           for name, n, m in (("q", 2560, 2560), ("down", 6912, 2560))]
    assert r.cycles == 30 * sum(one) and all(c > 0 for c in one)
    assert r.macs_per_cycle == 64 * 64 and r.weight_bits_per_cycle == 16 * 64 * cfg.key_bits
    d = r.to_dict()
    for key in ("area_um2", "area_breakdown_um2", "cycles", "macs_per_cycle", "critical_path_ns"):
        assert key in d
    assert d["macs_per_second"] == pytest.approx(r.macs_per_cycle * 1e9 / r.critical_path_ns)


def test_area_grows_with_every_dimension():
    base = dict(act="int8", mu=3, luts=4, keys=8)
    a0 = estimate(CoreConfig(**base)).area_um2
    for change in ({"luts": 8}, {"keys": 16}, {"reuse": 4}, {"pipeline": 2}, {"act": "int16"}):
        assert estimate(CoreConfig(**{**base, **change})).area_um2 > a0, change


def test_fp16_costs_more_than_int8_and_lut_sharing_is_cheaper_than_signflip_at_fp16():
    int8 = estimate(CoreConfig(act="int8", mu=4, luts=8, keys=32)).area_um2
    fp16 = estimate(CoreConfig(act="fp16", mu=4, luts=8, keys=32)).area_um2
    assert fp16 > 2 * int8
    mu1 = estimate(CoreConfig(act="fp16", mu=1, luts=32, keys=32)).area_um2
    assert fp16 < mu1


def test_calibration_cores_in_sample_within_10_percent():
    costs = load_unit_costs()
    for sample in costs.cores():
        cfg = CoreConfig(**sample["config"])
        err = (estimate(cfg, costs=costs).area_um2 - sample["area_um2"]) / sample["area_um2"]
        assert abs(err) < 0.10, (cfg.name, err)
    assert len(costs.cores()) >= 20


def test_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="costmodel calibrate"):
        load_unit_costs(tmp_path / "none.json")
    assert not math.isnan(load_unit_costs().nand2_area_um2)


def test_delay_fit_is_in_its_bounds_and_fits_the_calibration_cores():
    from costmodel.model import DELAY_BOUNDS, delay_fit

    c = load_unit_costs()
    fit = delay_fit(c)
    values = (fit.chain, fit.build_chain, fit.overhead_ns, fit.control_ns)
    assert all(lo <= x <= hi for x, (lo, hi) in zip(values, DELAY_BOUNDS, strict=True))
    assert fit.cores == len(c.cores()) and fit.mape_pct < 10
    # the control segment's slope is the register-fanout units' buffer-tree delay per doubling
    assert fit.control_per_log2_ns == c.fanout_delay_per_log2_ns and 0.02 < fit.control_per_log2_ns < 0.2


def test_a_pipelined_adder_is_entered_by_its_input_path_and_left_by_its_output_path():
    """An fp16 adder of 2 stages is cut unevenly (its first register sits deep inside): a path
    into it costs its input-to-register delay, not the half of its delay an even split gives."""
    from costmodel.model import critical_path_segments, delay_fit
    from hwgen.description.arrays import ConfigArrays

    c = load_unit_costs()
    add = c.fp_add("fp16", 2)
    assert add["input_to_register_ns"] > 0.8 * add["critical_path_ns"] > add["register_to_output_ns"]
    cfg = CoreConfig(act="fp16", mu=2, luts=4, keys=2, adder_stages=2)
    segments = critical_path_segments(ConfigArrays.of(cfg), c)[0] @ delay_fit(c).vector()
    assert segments.max() >= add["input_to_register_ns"]
    assert estimate(cfg).critical_path_ns > 8.19 / 3 + 1  # more than the even split and a fetch
