"""Floating-point arithmetic gateware (Amaranth 0.5), parameterised by exponent and mantissa widths.

The adder, multiplier and converter follow IEEE 754 semantics generically (round to nearest even,
subnormals, infinities); the integer-to-FP converter and the fused multi-term adder round once, to
nearest even or toward zero, the latter after a truncating alignment (see their docstrings). Every
unit returns one canonical NaN; see :mod:`hwgen.description.fp_format`. Bit-exact software reference:
:mod:`sim.fp_reference`.
"""

from hwgen.description.fp_format import BF16, FP8_E4M3, FP8_E5M2, FP16, FP32, FPFormat

from .fp_add import FPAdd
from .fp_convert import FPConvert
from .fp_fused import FPFromInt, FPFusedAdd
from .fp_mul import FPMul

__all__ = [
    "FPFormat",
    "FP16",
    "BF16",
    "FP32",
    "FP8_E4M3",
    "FP8_E5M2",
    "FPAdd",
    "FPMul",
    "FPConvert",
    "FPFromInt",
    "FPFusedAdd",
]
