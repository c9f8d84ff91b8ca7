"""estimate_table: the rows it refuses, the defaults it fills, and the caches it keeps (on the
unit-cost table, none of its own)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest

from costmodel import UnitCosts, estimate, estimate_table, load_unit_costs
from costmodel.model import whole_design_fit
from hwgen.description import ConfigError, CoreConfig


def _copy(costs: UnitCosts) -> UnitCosts:
    return UnitCosts(liberty=costs.liberty, flow_version=costs.flow_version,
                     nand2_area_um2=costs.nand2_area_um2, samples=costs.samples)


def test_invalid_rows_are_refused_by_index_label_and_problem():
    table = pd.DataFrame({"act": ["int8", "int8", "fp16"], "mu": [2, 0, 2], "luts": [4, 4, 4],
                          "keys": [4, 4, 4],
                          "pipeline": [0, 0, 9]}, index=[10, 11, 12])
    with pytest.raises(ConfigError) as info:
        estimate_table(table)
    assert info.value.problems == (
        "row 11: `mu` must be in [1, 8], got mu=0",
        ("row 12: `pipeline` must be in [0, 1 + ceil(log2(luts)) = 3] register stages for luts=4, "
         "got pipeline=9"),
    )


def test_unpriceable_rows_are_refused_and_only_the_first_rows_named():
    table = pd.DataFrame({"mu": [2] + [7] * 8, "luts": 4, "keys": 4})
    with pytest.raises(ConfigError) as info:
        estimate_table(table)
    lines = info.value.problems
    assert len(lines) == 6 and lines[0].startswith("row 1: `mu` must be in [1, 6] for the cost model (")
    assert lines[-1] == "... and 3 more rows that cannot be priced"


def test_missing_columns_take_the_config_defaults():
    out = estimate_table(pd.DataFrame({"arch": ["mac", "signflip"], "luts": [4, 6], "keys": [3, 5]}))
    cfgs = [CoreConfig(arch="mac", luts=4, keys=3), CoreConfig(arch="signflip", luts=6, keys=5)]
    for i, cfg in enumerate(cfgs):
        report = estimate(cfg)
        assert out.mu[i] == 1 and out.act[i] == "int8" and out.max_n[i] == cfg.max_n
        assert out.area_um2[i] == pytest.approx(report.area_um2, abs=0.05)
        assert out.critical_path_ns[i] == pytest.approx(report.critical_path_ns, abs=5e-4)


def test_pipelined_fp_mac_multipliers_are_priced_at_their_latency():
    """The multiplier term depends on adder_stages (mul_latency) for mac cores."""
    cfgs = [CoreConfig(arch="mac", act="fp16", luts=8, keys=8, adder_stages=s, max_n=64, max_m=64)
            for s in (0, 2)]
    out = estimate_table(pd.DataFrame([c.to_dict() for c in cfgs]))
    for i, cfg in enumerate(cfgs):
        multiply = estimate(cfg).area_breakdown_um2["multiply"]
        assert out.area_multiply_um2[i] == pytest.approx(multiply, abs=0.05)
    assert out.area_multiply_um2[1] > out.area_multiply_um2[0]


def test_empty_table():
    assert estimate_table(pd.DataFrame({"mu": [], "luts": [], "keys": []})).empty


def test_caches_live_on_the_unit_cost_table_and_die_with_it():
    costs = _copy(load_unit_costs())
    table = pd.DataFrame({"act": ["int8", "fp16"], "mu": [3, 2], "luts": [5, 4], "keys": [4, 4]})
    first = estimate_table(table, costs=costs)
    assert whole_design_fit(costs) is whole_design_fit(costs)
    again = _copy(costs)
    assert whole_design_fit(again) is not whole_design_fit(costs)
    pd.testing.assert_frame_equal(estimate_table(table, costs=again), first)
    ref = weakref.ref(costs)
    del costs
    gc.collect()
    assert ref() is None


def test_rows_equal_scalar_estimates_in_any_order():
    rng = np.random.default_rng(3)
    rows = [dict(act=str(rng.choice(["int8", "fp16", "bf16", "int4"])), mu=int(rng.integers(1, 7)),
                 luts=int(rng.integers(1, 70)), keys=int(rng.integers(1, 9))) for _ in range(60)]
    for row in rows[::3]:  # block FP at several widths and both roundings
        if not row["act"].startswith("int"):
            row.update(fp_reduce="blockfp", fp_width=int(rng.integers(8, 33)),
                       fp_round=str(rng.choice(["rne", "rtz"])), acc=str(rng.choice(["", "fp32"])))
    for row in rows[1::3]:  # fused adders: guard bits, roundings, pipeline registers
        if not row["act"].startswith("int"):
            man = {"fp16": 10, "bf16": 7}[row["act"]]
            row.update(fp_reduce="fused", fp_width=man + 2 + int(rng.integers(0, 9)),
                       fp_round=str(rng.choice(["rne", "rtz"])), acc=str(rng.choice(["", "fp32"])),
                       adder_stages=int(rng.integers(0, 4)))
    out = estimate_table(pd.DataFrame(rows))
    shuffled = estimate_table(pd.DataFrame(rows[::-1]))
    assert np.array_equal(out.area_um2.to_numpy(), shuffled.area_um2.to_numpy()[::-1])
    assert (out.fp_reduce == "blockfp").sum() >= 5 and (out.fp_reduce == "fused").sum() >= 5
    for i, row in enumerate(rows):
        report = estimate(CoreConfig(**row))
        assert out.area_um2[i] == pytest.approx(report.area_um2, abs=0.05)
        assert out.critical_path_ns[i] == pytest.approx(report.critical_path_ns, abs=5e-4)
        assert out.act_buffer_bits[i] == report.act_buffer_bits


def test_fused_cores_without_a_calibrated_fused_adder_are_refused_in_one_line():
    cfg = CoreConfig(act="fp8e4m3", fp_reduce="fused", mu=1, luts=2, keys=2)
    line = r"`fp_reduce` 'fused' is priced for act->acc .*fp16->fp32.*, got act='fp8e4m3', acc='fp8e4m3'$"
    with pytest.raises(ConfigError, match="^" + line):
        estimate(cfg)
    with pytest.raises(ConfigError, match="^row 0: " + line):
        estimate_table(pd.DataFrame([cfg.to_dict()]))
    from costmodel import resolve_design

    hint = r" \(or give --mu to build it without the cost model's"
    with pytest.raises(ConfigError, match=line[:-1] + hint):
        resolve_design({"act": "fp8e4m3", "fp_reduce": "fused", "core": 8}, option_names={"mu": "--mu"})
    assert resolve_design({"act": "fp8e4m3", "fp_reduce": "fused", "core": 8, "mu": 2}).config.mu == 2
