"""VeRA's shared random matrices, defined so that the hardware regenerates them bit for bit.

VeRA (``y = W x + diag(b) B diag(d) A x``) freezes A (r x n) and B (m x r) at random values shared
by every layer; only ``d`` and ``b`` are trained. A training framework draws them from its own
generator, which no hardware reproduces; here the generator is part of the design, and a training
script must use :func:`vera_matrices` so that its trained ``d`` and ``b`` run bit-exactly on chip.

Generator (counter-based: any element in any order, so any lane count computes the same matrices)
    All arithmetic is modulo 2**32. ``fmix32`` is the 32-bit finaliser
    ``x ^= x >> 16; x *= 0x85EBCA6B; x ^= x >> 13; x *= 0xC2B2AE35; x ^= x >> 16``; ``mix32`` a
    multiplier-free mixer of three add-shift rounds,
    ``x += x << 10; x ^= x >> 6; x += x << 3; x ^= x >> 11; x += x << 15; x ^= x >> 16``.
    For matrix ``t`` (0: A, indexed ``[j, i]`` = rank row, input; 1: B, indexed ``[k, j]`` =
    output, rank row) and seed ``S``::

        row_key(t, row) = fmix32(S + 0x9E3779B9 * (2 * row + t + 1))
        word(t, row, col) = mix32(row_key(t, row) + 0x7FEB352D * (col + 1))

    The hardware computes ``row_key`` once per row (one shared unit) and one ``word`` per lane and
    cycle: the lane's ``0x7FEB352D * (col + 1)`` is a running sum, its add to the row key one adder
    and ``mix32`` three, so a lane's generator costs five 32-bit adders. (Checked in the tests: the '
                                  'values' columns and rows
    are uncorrelated and a 64 x 2560 matrix has the singular values of an i.i.d. uniform one.)

Values
    Element ``col`` of row ``row`` of matrix ``t`` is ``word(t, row, col)``. A's rows are its rank
    rows (``A[j, i]``: row ``j``, col ``i``); B is generated transposed (``B[k, j]``: row ``j``, col
    ``k``), so in both projections a lane keeps its column while the rows change, and its
    ``0x7FEB352D * (col + 1)`` is a running sum over the steps.
    Floating-point formats with ``M`` fraction bits: ``q = word >> (31 - M)`` (the top ``M + 1``
    bits) gives the odd integer ``o = 2 q + 1 - 2**(M + 1)`` in ``(-2**(M+1), 2**(M+1))`` and the
    value ``o * 2**-(M + 1) * 2**-e``: uniform over ``(-2**-e, 2**-e)``, never zero, exact in the
    format. ``e = round(log2(fan_in) / 2)`` (half up): the Kaiming-uniform bound ``1 / sqrt(fan_in)``
    that VeRA uses, rounded to a power of two (``fan_in``: A's is the largest input length of the
    model the matrices are shared by, ``a_fan_in``; B's is the rank). ``int8``: ``word >> 24`` as a
    signed byte (the bound is carried by ``d`` and ``b`` and their shifts).
"""

from __future__ import annotations

import math

import numpy as np

from .fp_format import BF16, FP16

__all__ = ["MIX_CONSTANTS", "MIX32_ROUNDS", "fmix32", "mix32", "vera_words", "field_bits", "vera_fields",
           "vera_values", "vera_bits", "vera_matrices", "bound_exponent"]

_MASK = np.uint64(0xFFFFFFFF)
#: The two multipliers of ``fmix32`` (the row keys' shared unit multiplies by shifts and adds).
MIX_CONSTANTS = (0x85EBCA6B, 0xC2B2AE35)
GOLDEN, STEP = 0x9E3779B9, 0x7FEB352D
_FORMATS = {"fp16": FP16, "bf16": BF16}


def fmix32(x: np.ndarray) -> np.ndarray:
    """The 32-bit finaliser on uint64 arrays holding 32-bit values (see the module docstring)."""
    x = np.asarray(x, dtype=np.uint64) & _MASK
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x85EBCA6B)) & _MASK
    x ^= x >> np.uint64(13)
    x = (x * np.uint64(0xC2B2AE35)) & _MASK
    x ^= x >> np.uint64(16)
    return x


#: ``mix32``'s rounds: (left shift of the add, right shift of the xor).
MIX32_ROUNDS = ((10, 6), (3, 11), (15, 16))


def mix32(x: np.ndarray) -> np.ndarray:
    """The multiplier-free mixer of one element's word (see the module docstring), uint64 arrays."""
    x = np.asarray(x, dtype=np.uint64) & _MASK
    for left, right in MIX32_ROUNDS:
        x = (x + (x << np.uint64(left))) & _MASK
        x ^= x >> np.uint64(right)
    return x


def vera_words(seed: int, matrix: int, rows: int, cols: int) -> np.ndarray:
    """The ``rows x cols`` 32-bit words of matrix ``matrix`` (0: A, 1: B), uint64."""
    if not 0 <= seed < 1 << 32:
        raise ValueError(f"`seed` must be in [0, {(1 << 32) - 1}], got seed={seed!r}")
    row = np.arange(rows, dtype=np.uint64)
    key = fmix32((np.uint64(seed) + np.uint64(GOLDEN) * (np.uint64(2) * row + np.uint64(matrix + 1))) & _MASK)
    col = np.arange(cols, dtype=np.uint64)
    return mix32((key[:, None] + np.uint64(STEP) * (col[None, :] + np.uint64(1))) & _MASK)


def bound_exponent(fan_in: int) -> int:
    """``e`` of the bound ``2**-e``: ``round(log2(fan_in) / 2)`` (half up)."""
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return math.floor(math.log2(fan_in) / 2 + 0.5)


def field_bits(fmt: str) -> int:
    """Bits of one value's field: fraction bits + 1 (FP), 8 (``int8``)."""
    if fmt == "int8":
        return 8
    if fmt not in _FORMATS:
        raise ValueError(f"`fmt` must be one of fp16, bf16, int8, got fmt={fmt!r}")
    return _FORMATS[fmt].man_bits + 1


def vera_fields(seed: int, matrix: int, rows: int, cols: int, fmt: str) -> np.ndarray:
    """The ``rows x cols`` fields (int64, the top ``field_bits(fmt)`` bits of each word) of matrix
    ``matrix`` in its generated orientation (A: rank rows x inputs; B: rank rows x outputs)."""
    bits = field_bits(fmt)
    return (vera_words(seed, matrix, rows, cols) >> np.uint64(32 - bits)).astype(np.int64)


def vera_values(fields: np.ndarray, fmt: str, fan_in: int) -> np.ndarray:
    """The values of ``fields`` in ``fmt`` (float64, exact); ``int8``: int64 in [-128, 127]."""
    fields = np.asarray(fields, dtype=np.int64)
    bits = field_bits(fmt)
    if fmt == "int8":
        return fields - ((fields >> 7) << 8)
    odd = 2 * fields + 1 - (1 << bits)
    return np.ldexp(odd.astype(np.float64), -bits - bound_exponent(fan_in))


def vera_bits(values: np.ndarray, fmt: str) -> np.ndarray:
    """Bit patterns (int64) of :func:`vera_values` in ``fmt`` (``int8``: the values themselves)."""
    values = np.asarray(values)
    if fmt == "int8":
        return values.astype(np.int64)
    if fmt == "fp16":
        return values.astype(np.float16).view(np.uint16).astype(np.int64)
    if fmt == "bf16":
        return (values.astype(np.float32).view(np.uint32) >> np.uint32(16)).astype(np.int64)
    raise ValueError(f"`fmt` must be one of fp16, bf16, int8, got fmt={fmt!r}")


def vera_matrices(seed: int, rank: int, n: int, m: int, fmt: str = "fp16", *,
                  a_fan_in: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(A, B)``: A ``(rank, n)`` and B ``(m, rank)`` as the hardware regenerates them, float64
    holding exact ``fmt`` values (``int8``: int64). With the same ``a_fan_in`` and rank, the
    matrices of a smaller layer are the top-left slices of a larger one's (B's bound follows the
    rank). ``a_fan_in``: the largest input length of the model the matrices are shared by (default
    ``n``); a training script must pass the hardware's (:attr:`AdapterConfig.fan_in
    <hwgen.description.adapter.AdapterConfig.fan_in>`).

    Example
    -------
    >>> a, b = vera_matrices(7, rank=4, n=16, m=8)
    >>> a.shape, b.shape, float(abs(a).max()) < 2 ** -2
    ((4, 16), (8, 4), True)
    """
    a = vera_values(vera_fields(seed, 0, rank, n, fmt), fmt, a_fan_in or n)
    b = vera_values(vera_fields(seed, 1, rank, m, fmt), fmt, rank).T
    return a, b
