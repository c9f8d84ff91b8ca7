"""Power from the mapped netlist: OpenSTA ``report_power`` under a stated activity, and its place in the
synthesis flow (cache key, unavailable power)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import pytest

from costmodel import liberty as liberty_mod
from costmodel.liberty import resolve_liberty, timing_environment
from costmodel.power import (
    GEMV_PORTS,
    Activity,
    liberty_has_power,
    netlist_input_ports,
    parse_power_report,
    power_tcl,
    sta_netlist,
)
from costmodel.synth import FLOW_VERSION, _cache_key, synthesize

pytestmark = pytest.mark.skipif(shutil.which("apt-get") is None and not liberty_mod.default_liberty,
                                reason="needs apt-get to fetch the default liberty")
needs_sta = pytest.mark.skipif(shutil.which("sta") is None, reason="needs OpenSTA (`sta`)")

#: An 8-bit adder between registers, with a synchronous reset.
RADD8 = """module radd8(input clk, input rst, input [7:0] a, input [7:0] b, output reg [8:0] o);
  reg [7:0] ra, rb;
  always @(posedge clk) begin
    if (rst) begin ra <= 0; rb <= 0; o <= 0; end
    else begin ra <= a; rb <= b; o <= ra + rb; end
  end
endmodule
"""

#: OpenSTA 2.0.17 ``report_power -digits 6`` of an 8-bit registered adder (25 DFFPOSX1, 40 gates)
#: mapped by the flow, clock period 10 ns, ``set_power_activity -input -activity 0.1 -duty 0.5``.
CAPTURED = """\
Group                    Internal    Switching      Leakage        Total
                            Power        Power        Power        Power
------------------------------------------------------------------------
Sequential           5.914436e-04 1.413061e-05 4.018124e-09 6.055782e-04  88.7%
Combinational        5.777547e-05 1.955878e-05 3.391390e-09 7.733764e-05  11.3%
Macro                0.000000e+00 0.000000e+00 0.000000e+00 0.000000e+00   0.0%
Pad                  0.000000e+00 0.000000e+00 0.000000e+00 0.000000e+00   0.0%
------------------------------------------------------------------------
Total                6.492190e-04 3.368939e-05 7.409509e-09 6.829158e-04 100.0%
                            95.1%         4.9%         0.0%
"""



def test_the_report_is_parsed_in_mw():
    report = parse_power_report(CAPTURED, clock_ns=10.0, activity=Activity())
    assert (report.internal_mw, report.switching_mw, report.leakage_mw, report.total_mw) == (
        0.649219, 0.03368939, 7.409509e-06, 0.6829158)
    assert report.total_mw == pytest.approx(report.dynamic_mw + report.leakage_mw, rel=1e-6)
    assert report.energy_pj_per_cycle == pytest.approx(6.829158, rel=1e-6)  # mW x ns = pJ
    assert report.dynamic_energy_pj_per_cycle == pytest.approx((0.649219 + 0.03368939) * 10)
    d = report.to_dict()
    assert d["activity"] == {"input_toggle": 0.1, "input_duty": 0.5, "reset_ports": ["rst"],
                             "ports": [list(p) for p in GEMV_PORTS]}
    assert json.loads(json.dumps(d)) == d
    with pytest.raises(ValueError, match=r"^no `Total` row of a report_power table in the OpenSTA output$"):
        parse_power_report(CAPTURED.replace("Total ", "Tot "), clock_ns=10.0, activity=Activity())


def test_activity_names_every_bad_value():
    with pytest.raises(ValueError, match=r"^`input_toggle` must be in \[0, 2\] toggles per cycle, got "
                                         r"input_toggle=-0\.1; `input_duty` must be in \[0, 1\], got "
                                         r"input_duty=1\.5$"):
        Activity(input_toggle=-0.1, input_duty=1.5)
    with pytest.raises(TypeError):
        Activity(0.2)  # keyword only


def test_the_script_times_the_inputs_on_the_clock_and_holds_the_reset():
    env = timing_environment(resolve_liberty(None))
    tcl = power_tcl("radd8", liberty_name="cells.lib", env=env, clock_ns=2.5,
                    activity=Activity(input_toggle=0.3), input_ports=("clk", "rst", "a", "b"))
    assert "create_clock -name clk -period 2.5 [get_ports clk]" in tcl
    assert "set_input_delay 0 -clock clk [delete_from_list [all_inputs] [get_ports clk]]" in tcl
    assert f"set_load {env.load_pf} [all_outputs]" in tcl
    assert "set_power_activity -input -activity 0.3 -duty 0.5" in tcl
    assert "set_power_activity -input_ports [get_ports {rst}] -activity 0 -duty 0" in tcl
    assert tcl.endswith("report_power -digits 6\nexit\n")
    comb = power_tcl("add8", liberty_name="cells.lib", env=env, clock_ns=1, activity=Activity(),
                     input_ports=("a", "b"))
    assert "create_clock -name clk -period 1\n" in comb and "rst" not in comb


def test_the_netlist_is_rewritten_for_opensta():
    netlist = "\n".join([
        "module top(clk, a, y);",
        "  input clk;", "  input [3:0] a;", "  output [3:0] y;", "  wire [3:0] y;", "  wire [1:0] \\n.x ;",
        "  wire s;", "  wire [3:0] _0_;",
        "  reg [3:0] mem [7:0];",
        "  initial begin", "    mem[0] = 4'd0;", "  end",
        "  always @(posedge clk) begin", "    mem[a[2:0]] <= a;", "  end",
        "  reg [3:0] _5_;",
        "  always @(posedge clk) begin", "    if (s) begin", "      _5_ <= mem[a[2:0]];", "    end", "  end",
        "  assign _0_ = _5_;",
        "  assign { y[3:2], \\n.x [0], s } = { \\n.x , 2'h1 };",
        "  assign y[1:0] = a[1:0];",
        "endmodule",
    ])
    text, read_regs = sta_netlist(netlist)
    assert read_regs == ("_5_",)
    assert "mem" not in text and "always" not in text and "initial" not in text
    assert text.startswith("module top(_5_, clk, a, y);") and "  input [3:0] _5_;" in text
    split = [line for line in text.split("\n") if re.match(r"\s*assign (y\[[23]|\\n|s )", line)]
    assert split == ["  assign y[3] = \\n.x [1];", "  assign y[2] = \\n.x [0];", "  assign \\n.x [0] = 1'b0;",
                     "  assign s = 1'b1;"]
    assert "  assign y[1:0] = a[1:0];" in text
    assert netlist_input_ports(text) == ("clk", "a", "_5_")


def test_the_osu_liberty_has_power_data_and_a_stripped_copy_has_none(tmp_path):
    lib = resolve_liberty(None)
    assert liberty_has_power(lib)
    assert not liberty_has_power(_strip_power(lib, tmp_path / "nopower.lib"))


def _strip_power(lib, target):
    """A copy of the liberty without ``internal_power`` groups and ``cell_leakage_power``."""
    text = lib.read_text()
    out, pos = [], 0
    for m in re.finditer(r"\binternal_power\s*\(\s*\)\s*\{", text):
        if m.start() < pos:
            continue
        out.append(text[pos:m.start()])
        depth, i = 0, m.end() - 1
        while True:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        pos = i + 1
    out.append(text[pos:])
    target.write_text(re.sub(r"^\s*cell_leakage_power\s*:.*\n", "", "".join(out), flags=re.M))
    return target


@needs_sta
def test_a_registered_adder_draws_internal_switching_and_leakage_power(synth_cache):
    report = synthesize(RADD8, power=True)
    power = report.power
    assert power["clock_ns"] == report.critical_path_ns  # the power at fmax
    assert power["internal_mw"] > 0 and power["switching_mw"] > 0 and power["leakage_mw"] > 0
    parts = power["internal_mw"] + power["switching_mw"] + power["leakage_mw"]
    assert power["total_mw"] == pytest.approx(parts, rel=1e-5)
    assert power["energy_pj_per_cycle"] == pytest.approx(power["total_mw"] * power["clock_ns"], rel=1e-5)


@needs_sta
def test_more_input_activity_raises_dynamic_power_in_proportion(synth_cache):
    """OpenSTA propagates the input activity through the adder and the registers: the data part of the
    dynamic power (above what the clock alone draws, at zero input activity) is linear in it."""
    dynamic, leakage = {}, set()
    for toggle in (0.0, 0.1, 0.2):
        activity = Activity(input_toggle=toggle)
        power = synthesize(RADD8, clock_ns=5.0, power=True, power_activity=activity).power
        dynamic[toggle] = power["dynamic_mw"]
        leakage.add(power["leakage_mw"])
    assert dynamic[0.0] > 0  # the clock
    assert dynamic[0.2] > dynamic[0.1] > dynamic[0.0]
    assert dynamic[0.2] - dynamic[0.0] == pytest.approx(2 * (dynamic[0.1] - dynamic[0.0]), rel=0.01)
    assert len(leakage) == 1


@needs_sta
def test_half_the_period_doubles_dynamic_power_at_the_same_energy_per_cycle(synth_cache):
    slow = synthesize(RADD8, clock_ns=8.0, power=True)
    fast = synthesize(RADD8, clock_ns=4.0, power=True)
    assert fast.cells == slow.cells  # both targets are loose: the same netlist
    assert fast.power["clock_ns"] == 4.0 and slow.power["clock_ns"] == 8.0
    assert fast.power["dynamic_mw"] == pytest.approx(2 * slow.power["dynamic_mw"], rel=0.05)
    energy = "dynamic_energy_pj_per_cycle"
    assert fast.power[energy] == pytest.approx(slow.power[energy], rel=0.05)
    assert fast.power["leakage_mw"] == slow.power["leakage_mw"]


@needs_sta
def test_a_liberty_without_power_data_gives_unavailable_not_zero(synth_cache, tmp_path):
    lib = _strip_power(resolve_liberty(None), tmp_path / "nopower.lib")
    report = synthesize(RADD8, liberty=lib, power=True)
    assert report.critical_path_ns > 0  # timing still works
    assert report.power == {"unavailable": "the liberty nopower.lib has no power data "
                                           "(no internal_power groups, no cell leakage)"}


@needs_sta
def test_the_cache_keeps_power_and_no_power_apart(synth_cache):
    plain = synthesize(RADD8)
    assert plain.power is None
    with_power = synthesize(RADD8, power=True)
    assert not with_power.cached and with_power.power["total_mw"] > 0
    assert synthesize(RADD8, power=True, power_activity=Activity()).cached  # the default activity, stated
    other = synthesize(RADD8, power=True, power_activity=Activity(input_toggle=0.2))
    assert not other.cached and other.power["dynamic_mw"] > with_power.power["dynamic_mw"]
    again = synthesize(RADD8)
    assert again.cached and again.power is None
    assert len(list((synth_cache / "synth").glob("*.json"))) == 3


def test_an_entry_without_power_keeps_its_key_and_loads(synth_cache):
    """Entries written before the power field: the key without power is the one they were stored
    under, and their JSON (no ``power``) still loads."""
    parts = (FLOW_VERSION, "opensta", "radd8", "0" * 64, repr(None), RADD8)
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    assert _cache_key(RADD8, "radd8", "0" * 64, "opensta", None) == h.hexdigest()
    assert _cache_key(RADD8, "radd8", "0" * 64, "opensta", None, Activity()) != h.hexdigest()
    first = synthesize(RADD8)
    (entry,) = (synth_cache / "synth").glob("*.json")
    data = json.loads(entry.read_text())
    del data["power"]
    entry.write_text(json.dumps(data))
    old = synthesize(RADD8)
    assert old.cached and old.power is None and old.area_um2 == first.area_um2


def test_an_activity_without_power_is_refused():
    with pytest.raises(ValueError, match=r"^power_activity is given but power=False$"):
        synthesize(RADD8, power_activity=Activity())


def test_stream_ports_of_a_core_get_their_gemv_activity():
    from costmodel.liberty import resolve_liberty, timing_environment

    env = timing_environment(resolve_liberty(None))
    tcl = power_tcl("core", liberty_name="cells.lib", env=env, clock_ns=5, activity=Activity(),
                    input_ports=("clk", "rst", "keys__payload", "act__payload", "out__ready"))
    assert "set_power_activity -input_ports [get_ports {keys__payload}] -activity 0.5 -duty 0.5" in tcl
    assert "set_power_activity -input_ports [get_ports {act__payload}] -activity 0.01 -duty 0.5" in tcl
    assert "set_power_activity -input_ports [get_ports {out__ready}] -activity 0.0 -duty 1.0" in tcl
    assert "job__payload" not in tcl  # a port the design lacks
    with pytest.raises(ValueError, match=r"`ports`: keys needs toggles in \[0, 2\] and duty in \[0, 1\]"):
        Activity(ports=(("keys", 3.0, 0.5),))
