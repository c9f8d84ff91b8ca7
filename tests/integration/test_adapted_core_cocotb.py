"""The emitted Verilog of the adapted core equals the adapter reference bit for bit, in an HDL simulator.

Each configuration is built once and runs every cocotb test of
:mod:`sim.cocotb_bench.adapted_core_tb`: random shared-input groups (ragged shapes, ranks 1,
``max_rank / 2`` and ``max_rank``, adapters switching between two resident ids, jobs with the
adapter off), the same with random input gaps and output backpressure on every stream, a bad
descriptor (error flag, the core's outputs) between adapted jobs, and the unstalled cycle count
against :func:`hwgen.description.adapter.adapter_group_cycles`. The configurations cover every
variant on floating-point and integer cores, ranks up to 16 (1, 8, 16), lane layouts of one and
several trees, a chunk of two activation rows, fp32 accumulators with a bf16 adapter, A and B in
the on-chip store (load jobs, then jobs that replay them), and both simulators.
"""

from __future__ import annotations

import pytest

from hwgen.description.adapter import AdapterConfig
from hwgen.description.config import core_config

FP16 = dict(act="fp16", core=4, mu=2, max_n=40, max_m=24)
CONFIGS = {  # name: (core, adapter options, simulator: None = --sim, else always this one)
    "lora_fp16_r16_c2p4": (FP16, dict(variant="lora", max_rank=16, chunk=2, lanes=4), None),
    "lora_fp16_fp32_bf16_r6_c4p8": (dict(FP16, acc="fp32"), dict(variant="lora", max_rank=6, chunk=4, lanes=8,
                                                                  fmt="bf16"), "icarus"),
    "vera_fp16_r16_c2p6": (FP16, dict(variant="vera", max_rank=16, chunk=2, lanes=6, seed=1234), None),
    "ternary_a_fp16_r8_p3": (FP16, dict(variant="ternary-a", max_rank=8, lanes=3), None),
    "lora_int8_r8_c8p8": (dict(FP16, act="int8"), dict(variant="lora", max_rank=8, chunk=8, lanes=8), None),
    "vera_int8_r6_c4p8": (dict(FP16, act="int8"), dict(variant="vera", max_rank=6, chunk=4, lanes=8, seed=7),
                          "icarus"),
    "ternary_a_int8_r5_p4": (dict(FP16, act="int8"), dict(variant="ternary-a", max_rank=5, lanes=4), None),
    "lora_int8_onchip_r6_c2p4": (dict(FP16, act="int8"), dict(variant="lora", max_rank=6, chunk=2, lanes=4,
                                                              storage="onchip", resident=3), None),
}
BENCH_TESTS = {"test_random_groups", "test_backpressure_and_gaps", "test_error_flag_and_recovery",
               "test_unstalled_cycles"}


@pytest.mark.cocotb
@pytest.mark.parametrize("name", CONFIGS)
def test_adapted_core_matches_reference(name: str, hdl_sim: str, cocotb_seed: int, cocotb_build_root) -> None:
    from sim.runner import SimulatorMissing, run_cocotb, simulator_available

    core_args, options, sim = CONFIGS[name]
    sim = sim or hdl_sim
    if not simulator_available(sim):
        raise SimulatorMissing(f"{sim} is not installed")
    core = core_config(**core_args)
    adapter = AdapterConfig(core=core, **{"resident": 2, **options})
    result = run_cocotb(core, sim=sim, seed=cocotb_seed, build_root=cocotb_build_root, adapter=adapter)
    print(result.summary())
    assert result.passed
    assert {t.name for t in result.tests} == BENCH_TESTS
