"""A fast subset of ``costmodel validate`` (the full run is quoted in the docs): a few small random
designs, none used for calibration, synthesised and compared with the model; the smallest one
also runs the cocotb cycle count, which must equal the model's exactly."""

from __future__ import annotations

import pandas as pd
import pytest

from dse.calibration import CALIBRATION_CORES
from dse.validation import draw_designs
from hwgen.description.config import CoreConfig
from sim.runner import simulator_available
from ternlut.cli.costmodel import costmodel_main


def test_draws_are_distinct_valid_and_never_calibration_cores():
    designs = draw_designs(40, seed=3, max_area_um2=2e6)
    names = {d.to_dict().__repr__() for d in designs}
    assert len(names) == 40
    calibration = {CoreConfig(**p).to_dict().__repr__() for p in CALIBRATION_CORES}
    assert not names & calibration
    assert {d.act for d in designs} == {"int4", "int8", "fp16", "bf16"}


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
