"""The emitted Verilog of the core (every arch) equals the PyTorch reference bit for bit, in an HDL simulator.

Each configuration is built once (``build/cocotb/<sim>/<config>/``) and runs every cocotb test
of :mod:`sim.cocotb_bench.lut_core_tb` in one simulator process, one per standard scenario of the
shared checker (:data:`sim.check.SCENARIOS`): random shapes, zero weights, extreme activations,
backpressure and valid gaps, back-to-back jobs, and the unstalled cycle count against
:func:`hwgen.description.schedule.job_cycles`. Pick the simulator with ``--sim`` (two small
configurations always run on Icarus as well, :data:`ICARUS_CONFIGS`). The presets in
``designs/cores/`` are covered by ``test_presets_equivalence.py`` (``headline_core64_int8`` is
the same build).

The configurations together cover mu = 1..5, L and K that are not powers of two, L = 1,
reuse > 1 (the bench's shapes include M not a multiple of keys * reuse), pipeline = 0 and the
maximum ``1 + ceil(log2(L))``, integer widths 2..16, and floating-point fp16, bf16 and fp8 with
0..3 pipeline registers per adder and fp16/fp32 accumulators; small ``max_n`` / ``max_m`` keep
the jobs short. The headline designs are what ``hwgen emit --act int8 --core 64`` and
``hwgen emit --act fp16 --core 64`` generate (``cli_config``, with the cost model's mu; fp16 at
two pipeline depths, with the default ``max_n`` and ``max_m``: deep FP trees and FP
accumulation over 125 input tiles). The baselines: ``mac`` int8 (8 x 8 multipliers, a
generic tree narrowed into ternary-sized accumulators, pipeline registers) and fp16 (pipelined
multipliers and adders), ``signflip`` int8 and bf16.
"""

from __future__ import annotations

import pytest

from hwgen.description.config import CoreConfig
from ternlut.cli.hwgen import cli_config

CONFIGS = {
    # mu = 1, L = 3 and K = 5 (not powers of two), reuse 2, no pipeline registers.
    "mu1_l3_k5_r2_p0": CoreConfig(act="int4", mu=1, luts=3, keys=5, max_n=40, max_m=40, reuse=2, pipeline=0),
    # L = 1 (no reduction tree); pipeline 1 is the maximum for L = 1.
    "mu2_l1_k7_p1max": CoreConfig(act="int8", mu=2, luts=1, keys=7, max_n=50, max_m=60, pipeline=1),
    # mu = 3, L = 5, reuse 3, pipeline 4 = 1 + ceil(log2(5)) (maximum).
    "mu3_l5_k6_r3_p4max": CoreConfig(act="int6", mu=3, luts=5, keys=6, max_n=100, max_m=90, reuse=3,
                                     pipeline=4),
    # mu = 4 with 2-bit activations, an intermediate pipeline depth.
    "mu4_l3_k3_int2_p2": CoreConfig(act="int2", mu=4, luts=3, keys=3, max_n=120, max_m=50, pipeline=2),
    # mu = 5 with 16-bit activations (widest LUT entries), reuse 2, pipeline 2 (maximum for L = 2).
    "mu5_l2_k4_int16_r2_p2max": CoreConfig(act="int16", mu=5, luts=2, keys=4, max_n=200, max_m=40, reuse=2,
                                           pipeline=2),
    # Floating point, every adder depth 0..3 (the core aligns its own data at each):
    # fp16 combinational adders, L = 3, K = 2.
    "fp16_mu2_l3_k2_s0": CoreConfig(act="fp16", mu=2, luts=3, keys=2, max_n=36, max_m=10),
    # fp16 with an fp32 accumulator, 1-stage adders, reuse 2 (= acc latency + 1), pipeline 2.
    "fp16_fp32_mu3_l2_k3_s1_r2_p2": CoreConfig(act="fp16", acc="fp32", adder_stages=1, mu=3, luts=2, keys=3,
                                               max_n=36, max_m=15, reuse=2, pipeline=2),
    # bf16, L = 1, 3-stage adders with reuse 2 < acc latency + 1 (the core spaces accumulator reads).
    "bf16_mu2_l1_k3_s3_r2": CoreConfig(act="bf16", adder_stages=3, mu=2, luts=1, keys=3, max_n=12, max_m=12,
                                       reuse=2),
    # fp16, mu = 1 (sign-flip, no LUT adders), L = 5 (odd tree), 2-stage adders, pipeline max.
    "fp16_mu1_l5_k2_s2_r3_p4max": CoreConfig(act="fp16", adder_stages=2, mu=1, luts=5, keys=2, max_n=20,
                                             max_m=12, reuse=3, pipeline=4),
    # fp8 E5M2 with an fp16 accumulator, 2-stage adders.
    "fp8e5m2_fp16_mu3_l2_k2_s2": CoreConfig(act="fp8e5m2", acc="fp16", adder_stages=2, mu=3, luts=2, keys=2,
                                            max_n=24, max_m=8),
    # fp8 E4M3 (IEEE-style, max finite 240) accumulated in fp8 itself, 1-stage adders.
    "fp8e4m3_mu2_l2_k2_s1": CoreConfig(act="fp8e4m3", adder_stages=1, mu=2, luts=2, keys=2, max_n=12,
                                       max_m=6),
    # Block floating point: fp16 rows aligned to 16-bit integers (the default), integer LUTs and
    # tree, tile sums rounded into fp32 and accumulated by 1-stage adders, reuse 2, pipeline 1;
    # bf16 aligned below its significand (9 bits), truncating conversion, sign-flip arch.
    "fp16_fp32_bfp16_mu3_l3_k3_s1_r2_p1": CoreConfig(act="fp16", acc="fp32", fp_reduce="blockfp",
                                                     adder_stages=1, mu=3, luts=3, keys=3, max_n=45,
                                                     max_m=15, reuse=2, pipeline=1),
    "signflip_bf16_bfp9rtz_l4_k2": CoreConfig(arch="signflip", act="bf16", fp_reduce="blockfp", fp_width=9,
                                              fp_round="rtz", luts=4, keys=2, max_n=20, max_m=8),
    # Fused reduction: one fused adder per output (default 4 guard bits) with 2 pipeline registers
    # into fp32, reuse 2; bf16 with no guard bits and truncation over an odd L = 5.
    "fp16_fp32_fused16_mu3_l3_k3_s2_r2": CoreConfig(act="fp16", acc="fp32", fp_reduce="fused", adder_stages=2,
                                                    mu=3, luts=3, keys=3, max_n=45, max_m=15, reuse=2),
    "bf16_fused9rtz_mu2_l5_k2": CoreConfig(act="bf16", fp_reduce="fused", fp_width=9, fp_round="rtz", mu=2,
                                           luts=5, keys=2, max_n=40, max_m=8),
    "fp16_fused12s_mu1_l4_k2_s1": CoreConfig(act="fp16", fp_reduce="fused", fp_width=12, fp_sticky=True,
                                             adder_stages=1, mu=1, luts=4, keys=2, max_n=24, max_m=6),
    # Baselines. mac int8, 8 x 8 multipliers; with max_n = 40 the 19-bit tree (sized for generic
    # weights) is wider than the 14-bit accumulators (sized for ternary weights); reuse 2, pipeline 2.
    "mac_int8_l8_k8_r2_p2": CoreConfig(arch="mac", act="int8", luts=8, keys=8, max_n=40, max_m=40, reuse=2,
                                       pipeline=2),
    # mac fp16 with 1-stage multipliers and adders, L = 3 (odd tree), reuse 2 (= acc latency + 1).
    "mac_fp16_l3_k2_s1_r2": CoreConfig(arch="mac", act="fp16", adder_stages=1, luts=3, keys=2, max_n=24,
                                       max_m=10, reuse=2),
    # signflip (the LUT core at mu = 1) int8 with a pipeline register, and bf16 with 2-stage adders.
    "signflip_int8_l4_k5_p1": CoreConfig(arch="signflip", act="int8", luts=4, keys=5, max_n=30, max_m=25,
                                         pipeline=1),
    "signflip_bf16_l3_k2_s2_r3": CoreConfig(arch="signflip", act="bf16", adder_stages=2, luts=3, keys=2,
                                            max_n=12, max_m=12, reuse=3),
    # The CLI's headline design, `hwgen emit --act int8 --core 64`: 64 x 64 tile, int8, mu as the
    # cost model picks it (2 with the committed table: 32 LUTs x 64 keys), default max_n / max_m.
    "headline_core64_int8": cli_config(["--act", "int8", "--core", "64"]),
    # `hwgen emit --act fp16 --core 64` (22 LUTs of mu = 3: a 21-adder tree per lane, 125 input
    # tiles at max_n) at two pipeline depths: combinational adders, and 2-stage adders with 2 extra
    # tree registers (LUT build 4, tree 12, accumulate 2 cycles). At most 3 minutes each on 2 cores,
    # most of it the Verilator build.
    "headline_core64_fp16_s0": cli_config(["--act", "fp16", "--core", "64"]),
    "headline_core64_fp16_s2_p2": cli_config(["--act", "fp16", "--core", "64", "--adder-stages", "2",
                                              "--pipeline", "2"]),
}
#: Run on Icarus whatever ``--sim`` says, so that the default run covers that path too (the emitted
#: Verilog as it is, in cocotb's default ``-g2012`` mode): an integer core with reuse
#: and a pipeline register, and an fp16 core with 1-stage adders; small, as Icarus is slow.
ICARUS_CONFIGS = {
    "icarus_int4_mu2_l2_k2_r2_p1": CoreConfig(act="int4", mu=2, luts=2, keys=2, max_n=12, max_m=8, reuse=2,
                                              pipeline=1),
    "icarus_fp16_mu2_l2_k2_s1": CoreConfig(act="fp16", adder_stages=1, mu=2, luts=2, keys=2, max_n=12,
                                           max_m=6),
}
PARAMS = [pytest.param(cfg, id=name) for name, cfg in CONFIGS.items()]


BENCH_TESTS = {
    "test_random_shapes", "test_zero_weights", "test_extreme_activations",
    "test_backpressure_and_gaps", "test_back_to_back_jobs", "test_unstalled_cycle_count",
}


def _run_and_check(cfg: CoreConfig, sim: str, seed: int, build_root, verilog: str) -> None:
    from sim.runner import run_cocotb

    result = run_cocotb(cfg, sim=sim, seed=seed, build_root=build_root, verilog=verilog)
    print(result.summary())
    assert result.passed
    assert {t.name for t in result.tests} >= BENCH_TESTS


@pytest.mark.cocotb
@pytest.mark.parametrize("cfg", PARAMS)
def test_lut_core_matches_reference(cfg: CoreConfig, hdl_sim: str, cocotb_seed: int, cocotb_build_root,
                                    emitted_verilog) -> None:
    _run_and_check(cfg, hdl_sim, cocotb_seed, cocotb_build_root, emitted_verilog(cfg))


@pytest.mark.cocotb
@pytest.mark.parametrize("cfg", ICARUS_CONFIGS.values(), ids=ICARUS_CONFIGS.keys())
def test_lut_core_matches_reference_on_icarus(cfg: CoreConfig, cocotb_seed: int, cocotb_build_root,
                                              emitted_verilog) -> None:
    """The same bench on Icarus, whatever ``--sim`` picks for the rest."""
    from sim.runner import simulator_available

    if not simulator_available("icarus"):
        pytest.skip("simulator 'icarus' (or cocotb) is not installed")
    _run_and_check(cfg, "icarus", cocotb_seed, cocotb_build_root, emitted_verilog(cfg))
