"""Floating-point arithmetic gateware (Amaranth 0.5), parameterised by exponent and mantissa widths.

All units follow IEEE 754 semantics generically (round to nearest even, subnormals, infinities) and return
one canonical NaN; see :mod:`hwgen.description.fp_format`. Bit-exact software reference:
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
