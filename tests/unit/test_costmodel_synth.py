"""The synthesis flow: Yosys (yowasp) + ABC on the OSU 0.18 um liberty, OpenSTA timing, the cache."""

from __future__ import annotations

import json
import shutil

import pytest

from costmodel import liberty as liberty_mod
from costmodel.liberty import LibertyError, cell_areas, nand2_area_um2, resolve_liberty
from costmodel.synth import SynthError, synthesize, verilog_top
from hwgen.gateware.calibration_units import IntAdd, RegisterBits, RegisterFanout
from hwgen.gateware.emit import to_verilog

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None and not liberty_mod.default_liberty,
                                reason="needs apt-get to fetch the default liberty")

ADD8 = to_verilog(IntAdd(8, 7, 7), "add8")



def test_default_liberty_has_the_osu_cells():
    areas = cell_areas(resolve_liberty(None))
    assert {"NAND2X1", "DFFPOSX1", "FAX1", "MUX2X1"} <= areas.keys()
    assert nand2_area_um2(resolve_liberty(None)) == areas["NAND2X1"] == 24.0


def test_synthesis_reports_area_cells_and_timing(synth_cache):
    report = synthesize(ADD8)
    assert report.top == "add8" and not report.cached
    areas = cell_areas(report.liberty)
    assert report.area_um2 == pytest.approx(sum(areas[c] * n for c, n in report.cells.items()))
    assert report.nand2_eq == pytest.approx(report.area_um2 / 24.0)
    assert report.sequential_area_um2 == 0 and report.memory_bits == 0
    if shutil.which("sta"):
        assert report.delay_source == "opensta" and 0.2 < report.critical_path_ns < 10
    again = synthesize(ADD8)
    assert again.cached and again.area_um2 == report.area_um2


def test_registers_are_sequential_area(synth_cache):
    report = synthesize(to_verilog(RegisterBits(16), "regs16"))
    assert report.cells.get("DFFPOSX1") == 16
    assert report.sequential_area_um2 == 16 * cell_areas(report.liberty)["DFFPOSX1"]


def test_a_corrupt_cache_entry_is_replaced(synth_cache):
    first = synthesize(ADD8)
    (entry,) = (synth_cache / "synth").glob("*.json")
    entry.write_text("{not json")
    second = synthesize(ADD8)
    assert not second.cached and second.area_um2 == first.area_um2
    assert json.loads(entry.read_text())["area_um2"] == first.area_um2


def test_a_failed_synthesis_leaves_no_cache_entry(synth_cache):
    with pytest.raises(SynthError, match="yosys failed"):
        synthesize("module broken(input a, output b); assign b = ; endmodule\n")
    with pytest.raises(SynthError, match="ran past"):
        synthesize(to_verilog(IntAdd(40, 39, 39), "add40"), timeout_s=0.01)
    assert not list((synth_cache / "synth").glob("*.json")) if (synth_cache / "synth").exists() else True


def test_bad_liberty_path_is_reported():
    with pytest.raises(LibertyError, match="--liberty: no such file"):
        synthesize(ADD8, liberty="/no/such/file.lib")


def test_top_is_the_module_nobody_instantiates():
    text = ("module leaf(input a, output b); assign b = a; endmodule\n"
            "module top(input x, output y); leaf u0 (.a(x), .b(y)); endmodule\n")
    assert verilog_top(text) == "top"
    with pytest.raises(SynthError, match="cannot tell the top"):
        verilog_top("module a(); endmodule\nmodule b(); endmodule\n")


@pytest.mark.skipif(shutil.which("sta") is None, reason="needs OpenSTA")
def test_register_fanout_is_buffered_delay_grows_with_log_of_loads(synth_cache):
    """One register driving 1, 16, 256, 4096 gates: each 16x more loads adds about the same delay
    (a buffer tree one level deeper), never the linear growth of an unbuffered flip-flop output
    (flow 3: 0.48, 0.91, 8.2, 125 ns)."""
    paths = [synthesize(to_verilog(RegisterFanout(n), f"fanout{n}")).critical_path_ns
             for n in (1, 16, 256, 4096)]
    steps = [b - a for a, b in zip(paths, paths[1:], strict=False)]
    assert all(0.05 < step < 0.6 for step in steps), paths
    assert max(steps) < 2.5 * min(steps), paths
    assert paths[-1] < 3 * paths[0], paths


@pytest.mark.skipif(shutil.which("sta") is None, reason="needs OpenSTA")
def test_io_paths_time_where_a_units_registers_cut_it(synth_cache):
    from hwgen.description.config import FP_FORMATS
    from hwgen.gateware.arith import FPAdd
    from hwgen.gateware.components.lane_arith import EnabledUnit

    piped = synthesize(to_verilog(EnabledUnit(FPAdd(FP_FORMATS["fp16"], 2)), "add2"), io_paths=True)
    into, out = piped.extra["input_to_register_ns"], piped.extra["register_to_output_ns"]
    assert max(into, out) == pytest.approx(piped.critical_path_ns, abs=1e-3) and into > 4 * out
    plain = synthesize(ADD8, io_paths=True)  # no registers: no such paths
    assert plain.extra == {"input_to_register_ns": None, "register_to_output_ns": None}
    assert not synthesize(ADD8).extra  # not asked: not timed, and a key of its own
