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
           "native_bits", "canonical_nan", "int_to_fp", "ROUNDINGS", "bit_length", "fp_fused_sum"]

#: Rounding modes of :func:`int_to_fp`: to nearest, ties to even; toward zero (truncation).
ROUNDINGS = ("rne", "rtz")


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


def bit_length(values):
    """``int.bit_length`` of each element of a non-negative int64 tensor (0 for 0)."""
    x = torch.as_tensor(values).to(torch.int64)
    length = torch.zeros_like(x)
    for step in (32, 16, 8, 4, 2, 1):
        big = (x >> step) > 0
        length = length + big.to(torch.int64) * step
        x = torch.where(big, x >> step, x)
    return length + (x > 0).to(torch.int64)


def int_to_fp(values, scale_exp, fmt, rounding="rne"):
    """Bit patterns of ``values * 2**scale_exp`` in ``fmt``, rounded once.

    Parameters
    ----------
    values : integer tensor
        Signed integers, ``|value| < 2**62``.
    scale_exp : int or integer tensor
        Power of two of each value's unit (broadcasts with ``values``).
    fmt : FPFormat
        Result format.
    rounding : str
        ``"rne"``: to nearest, ties to even; overflow gives +-inf. ``"rtz"``: toward zero
        (truncation of the magnitude); overflow gives +-max_finite.

    Returns
    -------
    torch.Tensor
        int64 bit patterns. Subnormal results are kept; a zero value is ``+0``; a non-zero value
        that rounds to zero keeps its sign (``-0`` for a negative one), as IEEE 754 does.
    """
    _check_fmt(fmt)
    if rounding not in ROUNDINGS:
        raise ValueError(f"`rounding` must be one of {', '.join(ROUNDINGS)}, got rounding={rounding!r}")
    v = _as_int_tensor(values).to(torch.int64)
    k = torch.as_tensor(scale_exp, device=v.device).to(torch.int64)
    v, k = torch.broadcast_tensors(v, k)
    man = fmt.man_bits
    sign = (v < 0).to(torch.int64)
    mag = v.abs()
    top = bit_length(mag) - 1 + k  # unbiased exponent of the leading bit (meaningless for 0)
    biased = top + fmt.bias
    field = torch.clamp(biased, min=1)  # exponent field before a rounding carry (1: subnormal)
    shift = field - fmt.bias - man - k  # bits of ``mag`` below the result's unit in the last place
    left = torch.clamp(-shift, min=0, max=62)
    right = torch.clamp(shift, min=0, max=63)
    kept = torch.where(shift > 62, torch.zeros_like(mag), mag >> torch.clamp(right, max=62))
    if rounding == "rne":
        low = torch.clamp(right, max=62)
        rem = mag & ((torch.ones_like(mag) << low) - 1)
        half = torch.where(right > 0, torch.ones_like(mag) << torch.clamp(low - 1, min=0),
                           torch.zeros_like(mag))
        up = (right > 0) & (shift <= 62) & ((rem > half) | ((rem == half) & ((kept & 1) == 1)))
        kept = kept + up.to(torch.int64)
    sig = torch.where(shift < 0, mag << left, kept)
    enc = ((field - 1) << man) + sig
    limit = fmt.exp_max << man
    overflow_to = fmt.inf if rounding == "rne" else fmt.max_finite
    enc = torch.where(enc >= limit, torch.full_like(enc, overflow_to), enc)
    enc = torch.where(mag == 0, torch.zeros_like(enc), enc | (sign << (fmt.width - 1)))
    return enc


#: Limits of :func:`fp_fused_sum` (shared with :class:`hwgen.gateware.arith.FPFusedAdd`).
_FUSED_TERMS_RANGE = (1, 64)
_FUSED_GUARD_RANGE = (0, 16)


def _check_fused_args(fmt, out_fmt, terms, guard, sticky, rounding):
    _check_fmt(fmt)
    _check_fmt(out_fmt, "out_fmt")
    if out_fmt.exp_bits < fmt.exp_bits or out_fmt.man_bits < fmt.man_bits:
        raise ValueError(
            f"`out_fmt` must have exp_bits >= {fmt.exp_bits} and man_bits >= {fmt.man_bits} (those of "
            f"`fmt`), got out_fmt={out_fmt.name} (exp_bits={out_fmt.exp_bits}, man_bits={out_fmt.man_bits})"
        )
    lo, hi = _FUSED_TERMS_RANGE
    if not lo <= terms <= hi:
        raise ValueError(f"`terms` must be in [{lo}, {hi}], got terms={terms}")
    if not isinstance(guard, int) or isinstance(guard, bool):
        raise TypeError(f"`guard` must be an integer, not {guard!r}")
    lo, hi = _FUSED_GUARD_RANGE
    if not lo <= guard <= hi:
        raise ValueError(f"`guard` must be in [{lo}, {hi}] bits, got guard={guard}")
    if not isinstance(sticky, bool):
        raise TypeError(f"`sticky` must be a bool, not {sticky!r}")
    if rounding not in ROUNDINGS:
        raise ValueError(f"`rounding` must be one of {', '.join(ROUNDINGS)}, got rounding={rounding!r}")


def fp_fused_sum(bits, fmt, out_fmt=None, guard=3, sticky=False, rounding="rne"):
    """Bit patterns of the fused (single-rounding, truncated-alignment) sum of ``terms`` values of ``fmt``.

    This is the reference of :class:`hwgen.gateware.arith.FPFusedAdd`. It is *not* the correctly rounded sum:
    every term is aligned to the largest exponent with ``guard`` extra bits, and the bits shifted out below
    them are truncated (or, with ``sticky``, ORed into one extra bit per term) before one exact integer sum
    and one final rounding.

    1. Each term has sign ``s``, exponent field ``f`` and mantissa ``m``; its effective exponent is
       ``e = max(f, 1)`` and its significand ``sig = (f != 0) << M | m`` (``M = fmt.man_bits``).
    2. Specials: any NaN, or both ``+inf`` and ``-inf``, give the canonical NaN of ``out_fmt``; otherwise
       any infinity gives that infinity in ``out_fmt``. Specials take no part in steps 3-5.
    3. ``emax`` is the largest ``e`` of the finite terms (1 if there are none). Each term is aligned:
       ``q = floor(sig * 2**guard / 2**(emax - e))``. With ``sticky``, ``q = 2 * q + j``, where ``j`` is 1
       if any bit of ``sig * 2**guard`` was shifted out, else 0 (jamming).
    4. ``S = sum(-q if s else q)``, exactly.
    5. The result is ``int_to_fp(S, emax - bias - M - guard - sticky, out_fmt, rounding)``: rounded once
       (``"rne"``: to nearest, ties to even, overflow to +-inf; ``"rtz"``: toward zero, overflow to
       +-max_finite), subnormals kept. An exact zero sum is ``+0``, even when every term is ``-0`` (IEEE 754
       would give ``-0`` there); a non-zero sum that rounds to zero keeps its sign.

    Parameters
    ----------
    bits : integer tensor, shape (..., terms)
        Bit patterns of ``fmt``; the last dimension holds the terms of one sum, ``terms`` in [1, 64].
    fmt : FPFormat
        Format of the terms.
    out_fmt : FPFormat, optional
        Format of the result (default ``fmt``); needs ``exp_bits`` and ``man_bits`` at least those of ``fmt``.
    guard : int
        Extra alignment bits below each significand, in [0, 16].
    sticky : bool
        Jam the shifted-out bits of each term into one more bit.
    rounding : str
        ``"rne"`` or ``"rtz"`` (see :data:`ROUNDINGS`).

    Returns
    -------
    torch.Tensor
        int64 bit patterns of ``out_fmt``, shape ``bits.shape[:-1]``.

    Examples
    --------
    >>> import torch
    >>> from hwgen.description.fp_format import FP16
    >>> hex(int(fp_fused_sum(torch.tensor([0x3C00, 0x3C00, 0x3C00]), FP16)))  # 1 + 1 + 1
    '0x4200'
    """
    if out_fmt is None:
        out_fmt = fmt
    b = _as_int_tensor(bits)
    if b.dim() == 0:
        raise ValueError("`bits` must have a last dimension holding the terms, got a 0-dimensional tensor")
    _check_fused_args(fmt, out_fmt, b.shape[-1], guard, sticky, rounding)
    b = _bits64(b, fmt)
    man = fmt.man_bits
    sign = (b >> (fmt.width - 1)) & 1
    field = (b >> man) & fmt.exp_max
    frac = b & fmt.man_mask
    special = field == fmt.exp_max
    is_nan = special & (frac != 0)
    is_inf = special & (frac == 0)
    e = torch.clamp(field, min=1)
    sig = frac | ((field != 0).to(torch.int64) << man)
    emax = torch.where(special, torch.ones_like(e), e).amax(dim=-1, keepdim=True)  # integer max: exact
    # sig * 2**guard < 2**41, so shifts beyond 41 all give 0; specials' shifts are meaningless (masked).
    shift = torch.clamp(emax - e, min=0, max=62)
    x = sig << guard
    q = x >> shift
    if sticky:
        lost = (x & ((torch.ones_like(x) << shift) - 1)) != 0
        q = 2 * q + lost.to(torch.int64)
    q = torch.where(special, torch.zeros_like(q), q)
    total = torch.where(sign == 1, -q, q).sum(dim=-1)  # int64 sum of < 64 terms below 2**42: exact
    scale = emax.squeeze(-1) - fmt.bias - man - guard - int(sticky)
    out = int_to_fp(total, scale, out_fmt, rounding)
    pos_inf = (is_inf & (sign == 0)).any(dim=-1)
    neg_inf = (is_inf & (sign == 1)).any(dim=-1)
    nan = is_nan.any(dim=-1) | (pos_inf & neg_inf)
    out = torch.where(pos_inf, torch.full_like(out, out_fmt.inf), out)
    out = torch.where(neg_inf, torch.full_like(out, out_fmt.inf | out_fmt.sign_mask), out)
    return torch.where(nan, torch.full_like(out, out_fmt.canonical_nan), out)
