"""Software models and simulation benches of the core.

The public API: :class:`ReferenceModel` (the bit-exact PyTorch model of every ``CoreConfig``)
and the one checker of :mod:`sim.check`, which runs a job list on a :class:`Backend` and compares
its outputs with the reference model bit for bit. The backends live in :mod:`sim.pysim_bench`
(Amaranth's simulator) and :mod:`sim.cocotb_bench` (cocotb, run by :mod:`sim.runner`); they are
not imported here, so ``import sim`` needs neither Amaranth nor cocotb.
"""

from .check import (
    SCENARIOS,
    Backend,
    Job,
    JobResult,
    Mismatch,
    Scenario,
    Traffic,
    activation_rows,
    expected_outputs,
    mismatches,
    run_scenario,
    scenario,
    verify,
)
from .reference import ReferenceModel

__all__ = [
    "ReferenceModel",
    "Backend",
    "Job",
    "JobResult",
    "Mismatch",
    "SCENARIOS",
    "Scenario",
    "Traffic",
    "activation_rows",
    "expected_outputs",
    "mismatches",
    "run_scenario",
    "scenario",
    "verify",
]
