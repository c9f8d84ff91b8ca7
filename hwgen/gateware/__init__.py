"""The Amaranth generator: the core, its components and the floating-point units, built from a
:class:`hwgen.description.CoreConfig` (it reads the description and derives nothing of its own)."""

from .arith import FPAdd, FPConvert, FPMul
from .core import LutCore
from .emit import build, build_unit, emit_verilog, to_verilog

__all__ = ["LutCore", "build", "build_unit", "emit_verilog", "to_verilog", "FPAdd", "FPMul", "FPConvert"]
