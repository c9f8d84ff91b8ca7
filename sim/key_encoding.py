"""Torch front-ends of :mod:`hwgen.description.key_encoding` (the numpy implementation is the definition).

The ``*_torch`` functions compute the same on the device of their input, without numpy, for the
prepared weights of :meth:`sim.reference.ReferenceModel.prepare`; the tests check them against numpy.
"""

from __future__ import annotations

import torch

from hwgen.description import key_encoding as _np_keys
from hwgen.description.config import CoreConfig
from hwgen.description.lut_plan import MAX_MU, key_bits

__all__ = ["encode_weights", "decode_keys", "key_stream", "weight_operands", "weight_stream",
           "check_ternary_tensor", "encode_weights_torch", "weight_operands_torch"]


def _np(x: torch.Tensor):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def encode_weights(weights: torch.Tensor, mu: int) -> torch.Tensor:
    """Torch version of :func:`hwgen.description.key_encoding.encode_weights` (returns int64)."""
    return torch.from_numpy(_np_keys.encode_weights(_np(weights), mu).astype("int64"))


def decode_keys(keys: torch.Tensor, mu: int, n: int | None = None) -> torch.Tensor:
    """Torch version of :func:`hwgen.description.key_encoding.decode_keys` (returns int8)."""
    return torch.from_numpy(_np_keys.decode_keys(_np(keys), mu, n))


def key_stream(cfg: CoreConfig, weights: torch.Tensor) -> torch.Tensor:
    """Torch version of :func:`hwgen.description.key_encoding.key_stream` (returns int64)."""
    return torch.from_numpy(_np_keys.key_stream(cfg, _np(weights)).astype("int64"))


def weight_operands(cfg: CoreConfig, weights: torch.Tensor) -> torch.Tensor:
    """Torch version of :func:`hwgen.description.key_encoding.weight_operands` (returns int64)."""
    return torch.from_numpy(_np_keys.weight_operands(cfg, _np(weights)).astype("int64"))


def weight_stream(cfg: CoreConfig, weights: torch.Tensor) -> torch.Tensor:
    """Torch version of :func:`hwgen.description.key_encoding.weight_stream` (returns int64)."""
    return torch.from_numpy(_np_keys.weight_stream(cfg, _np(weights)).astype("int64"))


def check_ternary_tensor(weights: torch.Tensor) -> torch.Tensor:
    """Torch version of :func:`hwgen.description.key_encoding.check_ternary`: ``weights`` as an int8
    N x M tensor on its device (same ``ValueError`` messages).

    Parameters
    ----------
    weights : torch.Tensor
        A matrix of -1, 0, +1 (any real dtype) or anything :func:`torch.as_tensor` accepts.
    """
    w = torch.as_tensor(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D N x M matrix, got shape {tuple(w.shape)}")
    if w.dtype == torch.bool:
        return w.to(torch.int8)
    ok = (w == 0) | (w == 1) | (w == -1)
    if not bool(ok.all()):
        _np_keys.check_ternary(_np(w))  # raises, with the numpy message
        raise ValueError("weights must be ternary (-1, 0, +1)")
    return w.to(torch.int8)


def encode_weights_torch(weights: torch.Tensor, mu: int) -> torch.Tensor:
    """:func:`hwgen.description.key_encoding.encode_weights` in torch, on the device of ``weights``.

    Parameters
    ----------
    weights : torch.Tensor
        N x M ternary matrix (checked by :func:`check_ternary_tensor`).
    mu : int
        Weights per key, 1 to :data:`hwgen.description.lut_plan.MAX_MU`.

    Returns
    -------
    torch.Tensor
        ``ceil(N / mu)`` x M keys, int32 (the numpy function returns uint32; same values).
    """
    if not isinstance(mu, int) or not 1 <= mu <= MAX_MU:
        raise ValueError(f"`mu` must be in [1, {MAX_MU}], got mu={mu!r}")
    w = check_ternary_tensor(weights)
    n, m = w.shape
    groups = -(-n // mu)
    padded = torch.zeros((groups * mu, m), dtype=torch.int32, device=w.device)
    padded[:n] = w
    padded = padded.reshape(groups, mu, m)
    v = padded[:, 0]
    for j in range(1, mu):
        v = v + padded[:, j] * (3 ** j)
    return ((v < 0).to(torch.int32) << (key_bits(mu) - 1)) | v.abs()


def weight_operands_torch(cfg: CoreConfig, weights: torch.Tensor) -> torch.Tensor:
    """:func:`hwgen.description.key_encoding.weight_operands` in torch, on the device of ``weights``:
    N x M int64 operands in the ``act`` format (integers -1/0/+1, or bit patterns of -1.0/+0.0/+1.0)."""
    w = check_ternary_tensor(weights).to(torch.int64)
    if not cfg.is_fp:
        return w
    fmt = cfg.act_type.fmt
    one = fmt.pack(0, fmt.bias, 0)
    return torch.where(w > 0, one, torch.where(w < 0, one | fmt.sign_mask, 0))
