"""Every preset in ``designs/cores/`` equals the reference model bit for bit, through the shared checker.

For each ``designs/cores/*.toml`` (found by glob, so a new preset is covered without editing
this file) and each of the six standard scenarios of :mod:`sim.check` (one test item per pair),
one backend runs the scenario's jobs and :func:`sim.check.run_scenario` compares every output
with :class:`sim.ReferenceModel`.

The backend is picked per preset (:data:`PLANS`; a preset not listed runs in Amaranth's
simulator) to keep the default run affordable on 2 cores. Measured on 2 shared cores:

* Amaranth's simulator costs elaboration (3 s for a 64 x 64 int8 core, 55 s for fp16) plus
  about 25 ms per cycle of a 64 x 64 core with random data: the six scenarios take 49 s for
  ``int8_bitnet2b_mu3`` and 60 to 95 s for the 64 x 64 int8 cores (see :data:`PLANS`).
* Verilator costs a C++ build (about 100 s for the 64 x 64 fp16 LUT core) and then simulates the
  six scenarios in seconds. The headlines ``int8_core64`` and ``fp16_core64`` are built anyway by
  ``test_lut_core_cocotb.py::test_lut_core_matches_reference[headline_core64_int8]`` (and
  ``[headline_core64_fp16_s0]``), in the same build directory
  (:func:`sim.runner.build_dir_name`), so they run there.

The default run (21 items, 10 skipped as slow) took 113 s with the headline already built.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hwgen.description.config import core_config, load_design
from sim.check import SCENARIOS, run_scenario, scenario

PRESETS = sorted((Path(__file__).resolve().parents[2] / "designs" / "cores").glob("*.toml"))


#: The scenarios whose random weights make every key word differ (most of the cost in
#: Amaranth's simulator): they include the jobs with M = max_m = 8192 (128 output tiles).
BUSY = ("random_shapes", "backpressure_and_gaps")


@dataclass(frozen=True)
class Plan:
    """How a preset is checked.

    Attributes
    ----------
    backend : str
        ``"pysim"`` (Amaranth's simulator) or ``"hdl"`` (the emitted Verilog in the ``--sim``
        simulator, via cocotb; one simulator run serves all scenarios).
    slow : dict
        Scenario name (or ``"*"``: all) -> why it runs only with ``--run-slow``.
    """

    backend: str = "pysim"
    slow: dict[str, str] = field(default_factory=dict)


_PYSIM_64 = "Amaranth's simulator, about 45 s per scenario on a 64 x 64 int8 core"
PLANS = {
    # Reuses the Verilator build of the cocotb regression (same config, same build directory):
    # about 15 s of simulation for all six scenarios when that build exists, 82 s more when not.
    "int8_core64": Plan("hdl"),
    # 64 x 64 int8 baselines in Amaranth's simulator: 4 scenarios in about 25 s each; the busy
    # two take 45 s (signflip) to 50 s (mac) more each.
    "int8_signflip64": Plan(slow={name: _PYSIM_64 for name in BUSY}),
    "int8_mac64": Plan(slow={name: _PYSIM_64 for name in BUSY}),
    # The Verilator build of the cocotb regression's `headline_core64_fp16_s0` (same config, same
    # build directory): about 15 s of simulation with that build, 100 s more without. (In Amaranth's
    # simulator the six scenarios did not finish within 13 minutes.)
    "fp16_core64": Plan("hdl"),
}


def _params() -> list:
    params = []
    for path in PRESETS:
        plan = PLANS.get(path.stem, Plan())
        for name in SCENARIOS:
            marks = [pytest.mark.cocotb] if plan.backend == "hdl" else []
            why = plan.slow.get(name, plan.slow.get("*"))
            if why:
                marks.append(pytest.mark.slow(reason=why))
            params.append(pytest.param(path, plan, name, id=f"{path.stem}-{name}", marks=marks))
    return params


def test_plans_name_existing_presets_and_scenarios() -> None:
    assert PRESETS, "no designs/cores/*.toml found"
    assert set(PLANS) <= {p.stem for p in PRESETS}
    assert all(plan.backend in ("pysim", "hdl") for plan in PLANS.values())
    assert all(set(plan.slow) <= {*SCENARIOS, "*"} for plan in PLANS.values())


class _Last:
    """Keeps the backend (or HDL run) of the last preset: the items of one preset are adjacent,
    so each preset is elaborated (or simulated) once."""

    key: object = None
    value: object = None

    @classmethod
    def get(cls, key: object, make):
        if cls.key != key:
            cls.key, cls.value = None, None  # free the previous preset's simulator first
            cls.value, cls.key = make(), key
        return cls.value


@pytest.mark.parametrize("path, plan, name", _params())
def test_preset_matches_reference(path: Path, plan: Plan, name: str, cocotb_seed: int,
                                  request: pytest.FixtureRequest) -> None:
    cfg = core_config(**load_design(path))
    if plan.backend == "pysim":
        from sim.pysim_bench import PysimBackend

        backend = _Last.get(("pysim", cfg), lambda: PysimBackend(cfg))
        asyncio.run(run_scenario(backend, scenario(cfg, name, cocotb_seed)))
        return
    from sim.runner import run_cocotb

    hdl_sim = request.getfixturevalue("hdl_sim")  # skips when the simulator is missing
    build_root = request.getfixturevalue("cocotb_build_root")
    emitted_verilog = request.getfixturevalue("emitted_verilog")

    def run():  # every scenario in one simulator process; the checker runs in the cocotb tests
        return run_cocotb(cfg, sim=hdl_sim, seed=cocotb_seed, build_root=build_root,
                          verilog=emitted_verilog(cfg), check=False)

    result = _Last.get((hdl_sim, cfg, cocotb_seed), run)
    (test,) = [t for t in result.tests if t.name == f"test_{name}"]
    assert test.passed, f"{cfg.name} on {hdl_sim}, {name}: {test.message}"
