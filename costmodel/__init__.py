"""Analytical cost model of ternary LUT cores (area, cycles, throughput, clock) and the synthesis
flow it is calibrated and validated against.

``costmodel.estimate(cfg)`` reads the same :class:`hwgen.description.config.CoreConfig` as the generator
and the reference model; ``costmodel.resolve_design(params)`` turns a design file and given options
into that config (choosing ``mu`` with :func:`choose_mu` when it is not given, or every free parameter
with :func:`choose_for_clock` for a clock target). This package never
imports Amaranth: the calibration and validation front-ends that emit Verilog live in :mod:`dse`.
"""

from .choose import (
    ClockChoice,
    ClockUnmetError,
    MuChoice,
    ResolvedDesign,
    choose_for_clock,
    choose_mu,
    resolve_design,
)
from .model import GROUPS, CostReport, UnpricedError, estimate
from .table import estimate_table
from .unit_costs import DEFAULT_TABLE, UnitCosts, load_unit_costs

__all__ = ["GROUPS", "CostReport", "UnpricedError", "estimate", "estimate_table", "UnitCosts",
           "load_unit_costs", "DEFAULT_TABLE", "MuChoice", "choose_mu", "ResolvedDesign", "resolve_design",
           "ClockChoice", "ClockUnmetError", "choose_for_clock"]
