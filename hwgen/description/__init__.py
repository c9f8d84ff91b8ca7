"""The design description: a validated config and everything derived from it (pure Python + numpy).

This is the ground floor of the project. The gateware (:mod:`hwgen.gateware`), the reference model
(:mod:`sim`) and the cost model (:mod:`costmodel`) read it; it imports none of them, nor Amaranth
or torch. Modules: :mod:`.config` (the configs and their validation), :mod:`.lut_plan` and
:mod:`.tree_plan` (the order of every add), :mod:`.schedule` (step order, cycle counts),
:mod:`.key_encoding` (the weight keys and stream words), :mod:`.lanes` (payload packing),
:mod:`.fp_format` (floating-point formats), :mod:`.workload` (LLM workloads).
"""

from .arrays import ConfigArrays
from .config import (
    ARCHS,
    DEFAULT_MAX_M,
    DEFAULT_MAX_N,
    UNIT_KINDS,
    ActType,
    ConfigError,
    CoreConfig,
    UnitConfig,
    core_config,
    load_design,
)
from .fp_format import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPFormat
from .key_encoding import decode_keys, encode_weights, key_stream, weight_operands, weight_stream
from .lut_plan import LutPlan, LutStep, lut_plan
from .schedule import job_cycles, job_interval
from .tree_plan import tree_plan
from .validity import check_table
from .workload import Gemv, Workload, load_workload

__all__ = [
    "ARCHS",
    "DEFAULT_MAX_M",
    "DEFAULT_MAX_N",
    "UNIT_KINDS",
    "ActType",
    "ConfigArrays",
    "ConfigError",
    "CoreConfig",
    "UnitConfig",
    "core_config",
    "load_design",
    "check_table",
    "FPFormat",
    "FP16",
    "BF16",
    "FP32",
    "FP8_E4M3",
    "FP8_E5M2",
    "encode_weights",
    "decode_keys",
    "key_stream",
    "weight_operands",
    "weight_stream",
    "LutPlan",
    "LutStep",
    "lut_plan",
    "tree_plan",
    "job_cycles",
    "job_interval",
    "Gemv",
    "Workload",
    "load_workload",
]
