"""Bit-exact software reference for the floating-point units in :mod:`hwgen.gateware.arith`.

All functions take and return *bit-pattern* tensors: integer tensors (any integer dtype) whose values are the
unsigned bit patterns of a :class:`~hwgen.gateware.arith.FPFormat`. Results are ``torch.int64`` tensors with
values in ``[0, 2**fmt.width)``. Every NaN result is the format's canonical NaN
(:attr:`FPFormat.canonical_nan`). Everything is element-wise, vectorised over whole tensors, and broadcasts
like ``torch.add``.

How results are made correctly rounded (round to nearest, ties to even, subnormals kept):

* fp16 and bf16 ("native" formats): torch eager float32 arithmetic, then torch's RNE conversion to the
  format. Rounding twice is innocuous because float32's 24 bits >= 2p + 2 for p <= 11.
* fp32: torch eager float32 arithmetic (correctly rounded).
* any other format (fp8, custom): exact decode to float64, float64 arithmetic (innocuous double rounding,
  53 >= 2p + 2 for p <= 24; products of two significands of <= 24 bits are exact), then our own RNE rounding
  to the format with integer operations. torch's float8 dtypes are deliberately not used: their E4M3 is
  OCP E4M3FN, whose semantics differ from our IEEE-style E4M3.

Never use reductions (``sum``, ``matmul``) for reference arithmetic: they accumulate in blocked order.

Example
-------
>>> import torch
>>> from hwgen.description.fp_format import FP16
>>> hex(int(fp_add(torch.tensor([0x3C00]), torch.tensor([0x3C00]), FP16)[0]))  # 1.0 + 1.0
'0x4000'
"""

import torch

from hwgen.description.fp_format import BF16, FP16, FP32, FPFormat

__all__ = ["fp_add", "fp_mul", "fp_convert", "to_bits", "from_bits", "decode", "encode", "native_view",
           "native_bits", "canonical_nan"]


_NATIVE = {FP16: torch.float16, BF16: torch.bfloat16, FP32: torch.float32}
_SIGNED_INT = {16: torch.int16, 32: torch.int32}


def _check_fmt(fmt, param="fmt"):
    if not isinstance(fmt, FPFormat):
        raise TypeError(f"`{param}` must be an FPFormat, not {fmt!r}")


def _as_int_tensor(bits):
    bits = torch.as_tensor(bits)
    if bits.dtype.is_floating_point or bits.dtype.is_complex or bits.dtype == torch.bool:
        raise TypeError(f"bit patterns must be an integer tensor, not {bits.dtype}")
    return bits


def _bits64(bits, fmt):
    return _as_int_tensor(bits).to(torch.int64) & ((1 << fmt.width) - 1)


def _canonicalise(result_bits, is_nan, fmt):
    return torch.where(is_nan, torch.full_like(result_bits, fmt.canonical_nan), result_bits)


def canonical_nan(bits, fmt):
    """Bit patterns ``bits`` of ``fmt`` with every NaN replaced by the canonical NaN (int64)."""
    _check_fmt(fmt)
    bits = _bits64(bits, fmt)
    is_nan = ((bits & fmt.exp_mask) == fmt.exp_mask) & ((bits & fmt.man_mask) != 0)
    return _canonicalise(bits, is_nan, fmt)


def native_view(bits, fmt):
    """Reinterpret bit patterns (int16/int32 as-is, else any integer dtype, masked) as the native torch dtype
    of ``fmt`` (fp16, bf16 or fp32), on the same device; exact, NaN payloads included."""
    w = fmt.width
    if bits.dtype == _SIGNED_INT[w]:
        return bits.view(_NATIVE[fmt])
    bits = _bits64(bits, fmt)
    # Two's complement narrowing: the low w bits, as the signed w-bit integer (exact; no wrap-around).
    signed = bits - ((bits >> (w - 1)) << w)
    return signed.to(_SIGNED_INT[w]).view(_NATIVE[fmt])


def native_bits(values, fmt):
    """Bit patterns (int64, on the device of ``values``) of a tensor in the native dtype of ``fmt``, NaNs
    canonicalised."""
    w = fmt.width
    nan = fmt.canonical_nan - (1 << w) if fmt.canonical_nan >= (1 << (w - 1)) else fmt.canonical_nan
    bits = values.view(_SIGNED_INT[w])
    bits = torch.where(torch.isnan(values), nan, bits)
    return bits.to(torch.int64) & ((1 << w) - 1)


def decode(bits, fmt):
    """Exact float64 values of the bit patterns ``bits`` in format ``fmt`` (NaNs become float64 NaN)."""
    _check_fmt(fmt)
    bits = _bits64(bits, fmt)
    man = fmt.man_bits
    sign = (bits >> (fmt.width - 1)) & 1
    exp = (bits >> man) & fmt.exp_max
    frac = bits & fmt.man_mask
    sig = frac | ((exp != 0).to(torch.int64) << man)
    scale_exp = torch.clamp(exp, min=1) - fmt.bias - man
    scale = ((scale_exp + 1023) << 52).view(torch.float64)  # 2**scale_exp, exact (always normal in float64)
    value = sig.to(torch.float64) * scale
    special = torch.where(frac == 0, torch.inf, torch.nan).to(torch.float64)
    value = torch.where(exp == fmt.exp_max, special, value)
    return torch.where(sign == 1, -value, value)


def encode(values, fmt):
    """Round float64 ``values`` to ``fmt`` (RNE, subnormals kept, overflow to inf); return bit patterns.

    The rounding is done with integer operations on the float64 encoding, so it is exact for every format.
    """
    _check_fmt(fmt)
    values = torch.as_tensor(values).to(torch.float64)
    man = fmt.man_bits
    raw = values.view(torch.int64)
    sign = (raw >> 63) & 1
    e64 = (raw >> 52) & 0x7FF
    sig = (raw & ((1 << 52) - 1)) | ((e64 != 0).to(torch.int64) << 52)
    # Biased target exponent of the leading significand bit position (bit 52).
    texp = torch.clamp(e64, min=1) - 1023 + fmt.bias
    shift = (52 - man) + torch.clamp(1 - texp, min=0)  # extra right shift for subnormal results
    shift = torch.clamp(shift, max=60)  # sig < 2**53, so any shift >= 54 already gives q = 0, rem < half
    q = sig >> shift
    rem = sig & ((torch.ones_like(sig) << shift) - 1)
    half = torch.ones_like(sig) << (shift - 1)
    round_up = (rem > half) | ((rem == half) & ((q & 1) == 1))
    q = q + round_up.to(torch.int64)
    enc = torch.where(texp >= 1, ((texp - 1) << man) + q, q)
    enc = torch.where(enc >= fmt.inf, torch.full_like(enc, fmt.inf), enc)  # overflow (RNE) goes to inf
    enc = torch.where(e64 == 0x7FF, torch.full_like(enc, fmt.inf), enc)  # +-inf (NaN fixed below)
    enc = enc | (sign << (fmt.width - 1))
    return _canonicalise(enc, torch.isnan(values), fmt)


def to_bits(values, fmt):
    """Round a float tensor (any float dtype) to ``fmt`` with RNE; return its bit patterns (int64)."""
    values = torch.as_tensor(values)
    if not values.dtype.is_floating_point:
        raise TypeError(f"values must be a floating-point tensor, not {values.dtype}")
    return encode(values.to(torch.float64), fmt)


def from_bits(bits, fmt, dtype=torch.float32):
    """Values of the bit patterns ``bits`` as a float tensor of ``dtype`` (exact for float32/float64)."""
    return decode(bits, fmt).to(dtype)


def _binary(op, a_bits, b_bits, fmt):
    """One correctly rounded ``op`` (torch.add or torch.mul) on bit patterns of ``fmt``.

    fp16/bf16 operands are exact in float32 and the float32 result rounds once more to the format,
    which is innocuous (24 >= 2p + 2); fp32 is native; other formats (p <= 24) are computed in
    float64 and rounded by :func:`encode`, again innocuous (53 >= 2p + 2).
    """
    _check_fmt(fmt)
    if fmt in _NATIVE:
        af = native_view(_as_int_tensor(a_bits), fmt).to(torch.float32)
        bf = native_view(_as_int_tensor(b_bits), fmt).to(torch.float32)
        return native_bits(op(af, bf).to(_NATIVE[fmt]), fmt)
    a, b = _bits64(a_bits, fmt), _bits64(b_bits, fmt)
    return encode(op(decode(a, fmt), decode(b, fmt)), fmt)


def fp_add(a_bits, b_bits, fmt):
    """Bit patterns of ``a + b`` in ``fmt``, correctly rounded (RNE), canonical NaN.

    Signed zeros follow IEEE 754 for RNE: ``x + (-x) = +0`` and ``-0 + -0 = -0``.
    """
    return _binary(torch.add, a_bits, b_bits, fmt)


def fp_mul(a_bits, b_bits, fmt):
    """Bit patterns of ``a * b`` in ``fmt``, correctly rounded (RNE), canonical NaN."""
    return _binary(torch.mul, a_bits, b_bits, fmt)


def fp_convert(bits, src, dst):
    """Convert bit patterns from format ``src`` to ``dst``: exact when ``dst`` can hold the value, RNE
    otherwise (overflow to inf), canonical NaN."""
    _check_fmt(src, "src")
    _check_fmt(dst, "dst")
    return encode(decode(bits, src), dst)
