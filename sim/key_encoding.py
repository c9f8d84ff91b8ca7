"""Torch front-ends of :mod:`hwgen.description.key_encoding` (one implementation, in numpy)."""

from __future__ import annotations

import torch

from hwgen.description import key_encoding as _np_keys
from hwgen.description.config import CoreConfig

__all__ = ["encode_weights", "decode_keys", "key_stream", "weight_operands", "weight_stream"]


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
