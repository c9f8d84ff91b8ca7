"""Binary floating-point formats, described by their exponent and mantissa widths.

Every format follows IEEE 754 semantics generically:

* bit pattern ``sign | exponent (exp_bits) | mantissa (man_bits)``, exponent bias ``2**(exp_bits-1) - 1``;
* exponent all zeros encodes zero and subnormals (kept, never flushed);
* exponent all ones encodes infinity (mantissa zero) and NaN (mantissa non-zero).

This includes :data:`FP8_E4M3`, which is therefore the *IEEE-style* E4M3 (max finite 240, with infinities
and 2**3-1 NaN mantissas per sign), **not** the OCP ``E4M3FN`` variant (max finite 448, no infinities,
only ``S.1111.111`` is NaN) that ``torch.float8_e4m3fn`` implements. :data:`FP8_E5M2` coincides with OCP E5M2.

Canonical NaN
-------------
Every NaN produced by the arithmetic units (and by :mod:`sim.fp_reference`) is the single canonical NaN:
sign 0, exponent all ones, mantissa MSB 1, other mantissa bits 0 (a quiet NaN). Its bit pattern is
:attr:`FPFormat.canonical_nan`: ``0x7E00`` for fp16, ``0x7FC0`` for bf16, ``0x7FC00000`` for fp32,
``0x7C`` for fp8 E4M3 and ``0x7E`` for fp8 E5M2.
"""

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["FPFormat", "FP16", "BF16", "FP32", "FP8_E4M3", "FP8_E5M2"]


_EXP_BITS_RANGE = (2, 8)
_MAN_BITS_RANGE = (1, 23)


@dataclass(frozen=True, kw_only=True)
class FPFormat:
    """An IEEE-754-style binary floating-point format.

    Parameters
    ----------
    exp_bits : int
        Width of the exponent field, in bits. Must be in [2, 8].
    man_bits : int
        Width of the stored mantissa (fraction) field, in bits, without the implicit leading bit.
        Must be in [1, 23]. The precision is ``man_bits + 1`` bits.

    The limits keep every format no wider than binary32 in range and precision, which is what the
    bit-exact reference model (:mod:`sim.fp_reference`) can round correctly.

    Attributes
    ----------
    width : int
        Total width of a bit pattern, in bits (``1 + exp_bits + man_bits``).
    bias : int
        Exponent bias (``2**(exp_bits-1) - 1``).
    exp_max : int
        Largest biased exponent value (all ones), which encodes infinity and NaN.
    man_mask, exp_mask, sign_mask : int
        Masks of the mantissa, exponent and sign fields, in place in the bit pattern.
    canonical_nan : int
        Bit pattern of the canonical NaN (sign 0, exponent all ones, mantissa ``10...0``).
    inf : int
        Bit pattern of positive infinity.
    max_finite : int
        Bit pattern of the largest positive finite value.
    min_subnormal : int
        Bit pattern of the smallest positive subnormal value (``1``).

    Raises
    ------
    TypeError
        If a width is not an integer.
    ValueError
        If a width is outside its allowed range. All problems are listed in one message.
    """

    exp_bits: int
    man_bits: int

    FP16: ClassVar["FPFormat"]
    BF16: ClassVar["FPFormat"]
    FP32: ClassVar["FPFormat"]
    FP8_E4M3: ClassVar["FPFormat"]
    FP8_E5M2: ClassVar["FPFormat"]

    def __post_init__(self):
        self._validate()

    def _validate(self):
        type_problems = []
        value_problems = []
        for name, (lo, hi) in (("exp_bits", _EXP_BITS_RANGE), ("man_bits", _MAN_BITS_RANGE)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                type_problems.append(f"`{name}` must be an integer, not {value!r}")
            elif not lo <= value <= hi:
                value_problems.append(f"`{name}` must be in [{lo}, {hi}] bits, got {name}={value}")
        if type_problems:
            raise TypeError("; ".join(type_problems + value_problems))
        if value_problems:
            raise ValueError("; ".join(value_problems))

    # Derived quantities -----------------------------------------------------------------------

    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.man_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def exp_max(self) -> int:
        return (1 << self.exp_bits) - 1

    @property
    def man_mask(self) -> int:
        return (1 << self.man_bits) - 1

    @property
    def exp_mask(self) -> int:
        return self.exp_max << self.man_bits

    @property
    def sign_mask(self) -> int:
        return 1 << (self.width - 1)

    @property
    def canonical_nan(self) -> int:
        return self.exp_mask | (1 << (self.man_bits - 1))

    @property
    def inf(self) -> int:
        return self.exp_mask

    @property
    def max_finite(self) -> int:
        return self.exp_mask - 1

    @property
    def min_subnormal(self) -> int:
        return 1

    @property
    def name(self) -> str:
        """Preset name (``"fp16"``, ...) or ``"e{exp_bits}m{man_bits}"`` for other formats."""
        for name, fmt in _PRESETS.items():
            if fmt == self:
                return name
        return f"e{self.exp_bits}m{self.man_bits}"

    # Bit-pattern helpers (plain Python ints) --------------------------------------------------

    def fields(self, bits: int) -> tuple[int, int, int]:
        """Split a bit pattern into ``(sign, biased exponent, mantissa)``."""
        return (bits >> (self.width - 1)) & 1, (bits >> self.man_bits) & self.exp_max, bits & self.man_mask

    def pack(self, sign: int, exp: int, man: int) -> int:
        """Assemble a bit pattern from ``(sign, biased exponent, mantissa)`` fields."""
        return (sign << (self.width - 1)) | (exp << self.man_bits) | man

    def is_nan(self, bits: int) -> bool:
        _, e, m = self.fields(bits)
        return e == self.exp_max and m != 0

    @classmethod
    def parse(cls, value: str) -> "FPFormat":
        """Look up a preset by name.

        Parameters
        ----------
        value : str
            One of ``"fp16"``, ``"bf16"``, ``"fp32"``, ``"fp8e4m3"``, ``"fp8e5m2"`` (case-insensitive).

        Raises
        ------
        ValueError
            If ``value`` names no preset.

        Examples
        --------
        >>> FPFormat.parse("bf16") == FPFormat(exp_bits=8, man_bits=7)
        True
        """
        key = value.strip().lower() if isinstance(value, str) else value
        try:
            return _PRESETS[key]
        except (KeyError, TypeError):
            allowed = ", ".join(repr(n) for n in _PRESETS)
            raise ValueError(f"{value!r} is not a valid FP format name (try one of {allowed})") from None


FP16 = FPFormat(exp_bits=5, man_bits=10)
BF16 = FPFormat(exp_bits=8, man_bits=7)
FP32 = FPFormat(exp_bits=8, man_bits=23)
FP8_E4M3 = FPFormat(exp_bits=4, man_bits=3)
FP8_E5M2 = FPFormat(exp_bits=5, man_bits=2)

_PRESETS = {
    "fp16": FP16,
    "bf16": BF16,
    "fp32": FP32,
    "fp8e4m3": FP8_E4M3,
    "fp8e5m2": FP8_E5M2,
}

FPFormat.FP16 = FP16
FPFormat.BF16 = BF16
FPFormat.FP32 = FP32
FPFormat.FP8_E4M3 = FP8_E4M3
FPFormat.FP8_E5M2 = FP8_E5M2
