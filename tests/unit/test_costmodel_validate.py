"""A fast subset of ``costmodel validate`` (the full run is quoted in the docs): a few small random
designs, none used for calibration, synthesised and compared with the model; the smallest one
also runs the cocotb cycle count, which must equal the model's exactly."""

from __future__ import annotations

import pandas as pd
import pytest

from dse import validation
from dse.calibration import CALIBRATION_CORES
from dse.validation import draw_designs
from hwgen.description.config import CoreConfig
from sim.runner import simulator_available
from ternlut.cli.costmodel import main as costmodel_main


def test_draws_are_distinct_valid_and_never_calibration_cores():
    # draw_designs excludes exact duplicates of a calibration core (after normalisation by CoreConfig),
    # so check exactly that, by plain dict comparison, not by the filter's own keys.
    designs = draw_designs(40, seed=3, max_area_um2=2e6)
    drawn = [d.to_dict() for d in designs]
    assert all(a != b for i, a in enumerate(drawn) for b in drawn[:i])
    calibration = [CoreConfig(**p).to_dict() for p in CALIBRATION_CORES]
    assert not [d for d in drawn if d in calibration]
    assert {d.act for d in designs} == {"int4", "int8", "fp16", "bf16"}


def test_draws_skip_a_design_that_is_a_calibration_core(monkeypatch):
    # The random draws above never come near a calibration core, so make some drawn designs calibration
    # cores (spelled as unnormalised parameters) and check that the same draw then leaves exactly them out.
    free = draw_designs(12, seed=5, max_area_um2=2e6)
    monkeypatch.setattr(validation, "CALIBRATION_CORES", ())
    assert draw_designs(12, seed=5, max_area_um2=2e6) == free
    taken = [free[1], free[4], free[7]]
    params = [{k: v for k, v in c.to_dict().items() if k not in ("arch", "name") and v not in ("", 0)}
              for c in taken]
    assert [CoreConfig(**p) for p in params] == taken
    monkeypatch.setattr(validation, "CALIBRATION_CORES", tuple(params))
    again = [d.to_dict() for d in draw_designs(12, seed=5, max_area_um2=2e6)]
    assert not [d for d in again if d in [c.to_dict() for c in taken]]
    kept = [c.to_dict() for c in free if c not in taken]
    assert again[:len(kept)] == kept


@pytest.mark.cocotb
@pytest.mark.skipif(not simulator_available("verilator"), reason="needs Verilator")
def test_validate_fast_subset(tmp_path, capsys):
    status = costmodel_main(["validate", "--designs", "3", "--seed", "11", "--max-area", "2e5",
                             "--simulate", "1", "--jobs", "2", "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 0, out
    table = pd.read_csv(tmp_path / "validation.csv")
    assert len(table) == 3 and table.synth_area_um2.notna().all()
    assert (table.area_error_pct.abs() < 15).all(), table[["name", "area_error_pct"]]
    simulated = table[table.cycles_checked > 0]
    assert len(simulated) == 1 and bool(simulated.cycles_match.iloc[0])
    assert (tmp_path / "validation.png").stat().st_size > 1000
    assert "area MAPE" in out


def test_blockfp_draws_are_block_fp_cores_and_leave_the_standard_draw_alone():
    blockfp = draw_designs(10, seed=4, max_area_um2=2e6, fp_reduce="blockfp")
    assert all(d.is_blockfp and d.act in ("fp16", "bf16") and 8 <= d.fp_width <= 32 for d in blockfp)
    assert {d.fp_round for d in blockfp} == {"rne", "rtz"}
    fused = draw_designs(6, seed=4, max_area_um2=2e6, fp_reduce="fused")
    assert all(d.is_fused and d.pipeline == 0 and 0 <= d.fused_guard <= 8 for d in fused)
    standard = draw_designs(10, seed=4, max_area_um2=2e6)
    assert standard == draw_designs(10, seed=4, max_area_um2=2e6, fp_reduce="ieee")
    assert not any(d.is_blockfp for d in standard)


def test_calibrate_update_keeps_the_table_and_synthesises_nothing_it_has(monkeypatch):
    """``costmodel calibrate --update`` on the committed table: every unit and core is there, so
    no synthesis runs and the samples come back as they were; a table of another flow is refused."""
    import json

    from costmodel.unit_costs import DEFAULT_TABLE
    from dse import calibration

    def no_synthesis(*args, **kwargs):
        raise AssertionError("synthesised a sample the table already has")

    monkeypatch.setattr(calibration, "synthesize", no_synthesis)
    table = json.loads(DEFAULT_TABLE.read_text())
    out = calibration.calibrate(update=table, progress=False)
    order = sorted(table["samples"], key=lambda s: (s["kind"], json.dumps(s, sort_keys=True)))
    assert out["samples"] == order
    with pytest.raises(ValueError, match="calibrate it whole"):
        calibration.calibrate(update={**table, "flow_version": "0"}, progress=False)


def test_large_draws_have_tiles_of_32_and_more_and_leave_the_standard_draw_alone():
    from dse.validation import LARGE_TILE, draw_large

    large = draw_large(6, seed=2)
    assert len({c.name for c in large}) == 6
    assert all(LARGE_TILE[0] <= c.tile_n <= LARGE_TILE[1] and LARGE_TILE[0] <= c.tile_m <= LARGE_TILE[1]
               for c in large)
    assert all(c.act in ("int4", "int8") and 1 <= c.mu <= 3 for c in large)
    assert [c.name for c in draw_large(6, seed=2)] == [c.name for c in large]  # reproducible
    standard = draw_designs(5, seed=2, max_area_um2=4e6)
    assert not {c.name for c in standard} & {c.name for c in large}
