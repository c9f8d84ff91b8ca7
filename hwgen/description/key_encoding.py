"""Weight keys: how a group of ``mu`` ternary weights is encoded for the LUT fetchers.

Bit layout of one key (``key_bits = ceil(log2(3**mu))`` bits)::

    bit  key_bits-1      : sign   (1 = negate the fetched entry)
    bits key_bits-2 .. 0 : index  (0 = the constant zero, 1..E = stored LUT entry)

The group ``w[0..mu-1]`` (``w[j]`` weights activation ``j`` of the group, i.e. input row
``g*mu + j``) has the balanced-ternary value ``v = sum_j w[j] * 3**j``; its key is
``index = |v|``, ``sign = v < 0``. The all-zero group is key 0 (sign 0). For mu = 5 a key is
8 bits, 1.6 bits per weight.

``mac`` cores take no keys: their ``keys`` stream carries full-width weight *operands* in
the activation format (:func:`weight_operands`): two's complement -1, 0, +1 in ``act_width``
bits for integer cores, and the bit patterns of -1.0, +0.0, +1.0 for floating-point cores
(fp16: ``0xBC00``, ``0x0000``, ``0x3C00``). The words are tiled like the keys, one row per
activation lane (``mu = 1``): :func:`weight_stream`.

All functions take and return numpy arrays; :mod:`sim.key_encoding` wraps them for torch.
"""

from __future__ import annotations

import numpy as np

from .config import CoreConfig
from .lut_plan import MAX_MU, key_bits, lut_entries, ternary_value, trit_array
from .schedule import steps

__all__ = ["key_bits", "encode_weights", "decode_keys", "key_stream", "check_ternary", "weight_operands",
           "weight_stream"]


def _check_mu(mu: int) -> None:
    if not isinstance(mu, int) or not 1 <= mu <= MAX_MU:
        raise ValueError(f"`mu` must be in [1, {MAX_MU}], got mu={mu!r}")


def check_ternary(weights: np.ndarray) -> np.ndarray:
    """Return ``weights`` as an int64 N x M array; raise ``ValueError`` unless 2-D with values in
    {-1, 0, 1}."""
    w = np.asarray(weights)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D N x M matrix, got shape {w.shape}")
    ok = np.isin(w, (-1, 0, 1))
    if not ok.all():
        where = tuple(int(i) for i in np.argwhere(~ok)[0])
        raise ValueError(f"weights must be ternary (-1, 0, +1); found {w[where].item()!r} at index {where}")
    wi = w.astype(np.int64)
    return wi


def encode_weights(weights: np.ndarray, mu: int) -> np.ndarray:
    """Encode an N x M ternary matrix into ``ceil(N / mu)`` x M keys (uint32).

    Row group ``g`` covers input rows ``g*mu .. g*mu + mu - 1``; rows past N count as zero weights.
    """
    _check_mu(mu)
    w = check_ternary(weights)
    n, m = w.shape
    groups = -(-n // mu)
    padded = np.zeros((groups * mu, m), dtype=np.int64)
    padded[:n] = w
    v = ternary_value(padded.reshape(groups, mu, m).transpose(1, 0, 2))
    sign = (v < 0).astype(np.int64) << (key_bits(mu) - 1)
    return (sign | np.abs(v)).astype(np.uint32)


def decode_keys(keys: np.ndarray, mu: int, n: int | None = None) -> np.ndarray:
    """Invert :func:`encode_weights`: ``G x M`` keys to an ``n x M`` int8 ternary matrix (n defaults
    to G*mu)."""
    _check_mu(mu)
    k = np.asarray(keys).astype(np.int64)
    if k.ndim != 2:
        raise ValueError(f"keys must be a 2-D G x M array, got shape {k.shape}")
    bits = key_bits(mu)
    mag = k & ((1 << (bits - 1)) - 1)
    invalid = (k >> bits != 0) | (mag > lut_entries(mu))
    if np.any(invalid):
        bad = tuple(int(i) for i in np.argwhere(invalid)[0])
        raise ValueError(f"key {int(k[bad])} at index {bad} is not a valid key for mu={mu}")
    digits, _ = trit_array(np.where(k >> (bits - 1) == 1, -mag, mag), mu)
    out = digits.transpose(1, 0, 2).astype(np.int8).reshape(-1, k.shape[1])
    if n is None:
        return out
    if np.any(out[n:]):
        raise ValueError(f"keys encode non-zero weights past row n={n}")
    return out[:n]


def _tile_words(cfg: CoreConfig, groups: np.ndarray, n: int, m: int) -> np.ndarray:
    """Tile a ``G x M`` matrix of per-(row group, column) stream elements into step order,
    ``(T*O, luts, keys)``; groups and columns past the matrix are 0."""
    order = steps(cfg, n, m)
    t_count = int(order[:, 0].max()) + 1
    o_count = int(order[:, 1].max()) + 1
    grid = np.zeros((t_count * cfg.luts, o_count * cfg.keys), dtype=groups.dtype)
    grid[: groups.shape[0], :m] = groups
    tiled = grid.reshape(t_count, cfg.luts, o_count, cfg.keys).transpose(0, 2, 1, 3)
    return tiled[order[:, 0], order[:, 1]]


def key_stream(cfg: CoreConfig, weights: np.ndarray) -> np.ndarray:
    """The words of the ``keys`` stream of one job, in step order: shape ``(T*O, luts, keys)``.

    Word ``s`` carries, for step ``(t, o)`` of :func:`hwgen.description.schedule.steps`, the key of row
    group ``t*luts + l`` and column ``o*keys + k`` at ``[s, l, k]``; groups and columns past
    the matrix are key 0. On the wire, element ``(l, k)`` occupies bits
    ``[(l*keys + k) * key_bits, +key_bits)`` of the ``keys`` stream payload. Keys are uint32;
    for a ``mac`` core the words are its weight operands (:func:`weight_stream`, int64).
    """
    if cfg.is_mac:
        return weight_stream(cfg, weights)
    w = check_ternary(weights)
    n, m = w.shape
    return _tile_words(cfg, encode_weights(w, cfg.mu), n, m)


def weight_operands(cfg: CoreConfig, weights: np.ndarray) -> np.ndarray:
    """A ``mac`` core's operands for an N x M ternary matrix: N x M int64 values in the ``act`` format.

    Integer cores: the weights themselves (-1, 0, +1; sent in two's complement). Floating-point
    cores: the bit patterns of -1.0, +0.0 (for 0) and +1.0.
    """
    w = check_ternary(weights)
    if not cfg.is_fp:
        return w
    fmt = cfg.act_type.fmt
    one = fmt.pack(0, fmt.bias, 0)
    return np.select([w > 0, w < 0], [one, one | fmt.sign_mask], 0).astype(np.int64)


def weight_stream(cfg: CoreConfig, weights: np.ndarray) -> np.ndarray:
    """The weight words of a ``mac`` core for one job, in step order: ``(T*O, tile_n, keys)`` int64.

    Tiled as :func:`key_stream`: word ``s`` (step ``(t, o)``) carries the operand of input row
    ``t*tile_n + l`` and column ``o*keys + k`` at ``[s, l, k]``; rows and columns past the
    matrix are 0 (+0.0). On the wire, element ``(l, k)`` occupies bits
    ``[(l*keys + k) * act_width, +act_width)`` of the ``keys`` stream payload.

    Raises ``ValueError`` if ``cfg`` is not a ``mac`` core.
    """
    if not cfg.is_mac:
        raise ValueError(f"weight_stream is for arch='mac' cores, got arch={cfg.arch!r} (use key_stream)")
    ops = weight_operands(cfg, weights)
    n, m = ops.shape
    return _tile_words(cfg, ops, n, m)
