"""The LUT build plan: the ordered list of 2-input adds that builds one ternary LUT.

A LUT over a group of ``mu`` activations ``a[0..mu-1]`` stores every signed sum
``sum_j w[j] * a[j]`` with ``w`` in {-1, 0, +1}^mu whose *most significant* non-zero
weight is +1. The weight vector ``w`` is identified with its balanced-ternary value

    v = sum_j w[j] * 3**j,        -E <= v <= E,   E = (3**mu - 1) // 2

so the stored half is ``v = 1..E`` and entry ``v`` holds the sum for ``w = trits(v)``.
Entry 0 (all weights zero) is the constant 0 and is not stored; ``v < 0`` is the negation
of entry ``-v``.

Entries ``v = 3**j`` are the activations themselves (no adder). Every other entry ``v``
removes its least significant non-zero trit ``w[l]`` (weight ``3**l``)::

    entry[v] = entry[v - w[l] * 3**l] + w[l] * a[l]

The source ``v - w[l] * 3**l`` keeps the top trit, so it is a stored entry with one fewer
non-zero weight: one adder per entry with two or more non-zero weights, i.e. exactly
``E - mu`` adders, the minimum for 2-input adders (each add creates at most one new entry
and the ``mu`` single-activation entries are free).

The plan is the single source of truth for the LUT order: the RTL generator, the
reference model and the cost model all walk :attr:`LutPlan.steps` in order.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

__all__ = ["LutStep", "LutPlan", "lut_plan", "lut_entries", "key_bits", "trits", "trit_array",
           "ternary_value", "MAX_MU"]

#: The largest supported LUT group size (3**8 = 6561 weight combinations).
MAX_MU = 8


def lut_entries(mu: int) -> int:
    """Number of stored entries, ``(3**mu - 1) // 2`` (1, 4, 13, 40, 121, ... for mu = 1, 2, ...)."""
    return (3**mu - 1) // 2


def key_bits(mu: int) -> int:
    """Bits per weight key, ``ceil(log2(3**mu))``: a sign bit and an index into entries 0..E."""
    return (3**mu - 1).bit_length()


def trits(v: int, mu: int) -> tuple[int, ...]:
    """Balanced-ternary digits of ``v`` (least significant first), each in {-1, 0, +1}.

    Raises ``ValueError`` if ``v`` needs more than ``mu`` digits.
    """
    digits, rest = trit_array(np.int64(v), mu)
    if rest != 0:
        raise ValueError(f"value {v} does not fit in {mu} balanced-ternary digits")
    return tuple(int(d) for d in digits)


def trit_array(values, mu: int) -> tuple[np.ndarray, np.ndarray]:
    """Balanced-ternary digits of integer ``values`` (any shape): ``(digits, rest)``, ``digits`` of
    shape ``(mu, *values.shape)``, least significant first, each in {-1, 0, +1}, and ``rest`` the
    part past ``mu`` digits (0 where the value fits): ``values == sum_j digits[j] * 3**j + rest * 3**mu``."""
    x = np.asarray(values, np.int64)
    digits = np.empty((mu, *x.shape), np.int64)
    for j in range(mu):
        digits[j] = (x + 1) % 3 - 1
        x = (x - digits[j]) // 3
    return digits, x


def ternary_value(weights: np.ndarray) -> np.ndarray:
    """The balanced-ternary value ``v = sum_j w[j] * 3**j`` of weight groups ``weights`` of shape
    ``(mu, ...)`` (``w[j]`` weights activation ``j`` of the group): the inverse of :func:`trit_array`."""
    w = np.asarray(weights, np.int64)
    return np.tensordot(3 ** np.arange(w.shape[0], dtype=np.int64), w, axes=1)


@dataclass(frozen=True)
class LutStep:
    """One adder of the LUT build: ``entry[dst] = entry[src] + sign * a[act]``.

    Attributes
    ----------
    dst : int
        Entry built by this step (1..E).
    src : int
        Already-built entry it starts from (1..E, built earlier in the plan or a single activation).
    act : int
        Index of the activation added or subtracted (0..mu-1).
    subtract : bool
        ``True`` for ``entry[src] - a[act]``, ``False`` for ``entry[src] + a[act]``.
    depth : int
        Adder depth of ``dst``: the number of adds on its longest path from the activations.
    """

    dst: int
    src: int
    act: int
    subtract: bool
    depth: int


@dataclass(frozen=True)
class LutPlan:
    """The build plan for one LUT of group size ``mu``.

    Attributes
    ----------
    mu : int
        Activations per LUT.
    entries : int
        Stored entries E = (3**mu - 1) / 2, indexed 1..E (entry 0 is the constant zero).
    singles : tuple[int, ...]
        ``singles[j]`` is the entry equal to activation ``a[j]`` (``3**j``); no adder.
    steps : tuple[LutStep, ...]
        The adds, in build order (each ``src`` is a single or an earlier ``dst``); E - mu of them.
    """

    mu: int
    entries: int
    singles: tuple[int, ...]
    steps: tuple[LutStep, ...]

    @property
    def adders(self) -> int:
        """Number of 2-input adders, E - mu."""
        return len(self.steps)

    @property
    def operand_groups(self) -> tuple[tuple[LutStep, ...], ...]:
        """Steps grouped by their operands ``(src, act)``, in plan order. Every group is an add/subtract
        pair ``src + a``, ``src - a`` (both signs of the removed trit), so synthesis shares the
        operand logic of the two (alignment, for floating point); the cost model prices pairs."""
        groups: dict[tuple[int, int], list[LutStep]] = {}
        for step in self.steps:
            groups.setdefault((step.src, step.act), []).append(step)
        return tuple(tuple(g) for g in groups.values())

    @property
    def depth(self) -> int:
        """Adder depth of the deepest entry (mu - 1)."""
        return max((s.depth for s in self.steps), default=0)

    def weights(self, v: int) -> tuple[int, ...]:
        """Ternary weights (least significant first) of entry ``v`` (any of -E..E)."""
        return trits(v, self.mu)

    def nonzeros(self, v: int) -> int:
        """Number of non-zero weights of entry ``v``: how many activations it sums."""
        return sum(1 for w in trits(v, self.mu) if w)


@functools.cache
def lut_plan(mu: int) -> LutPlan:
    """Build (and cache) the minimum-adder plan for group size ``mu``.

    Entries are built in order of increasing non-zero count, then increasing ``v``; every
    source is therefore built before it is used.
    """
    if not isinstance(mu, int) or isinstance(mu, bool):
        raise TypeError(f"`mu` must be an int, got {mu!r}")
    if not 1 <= mu <= MAX_MU:
        raise ValueError(f"`mu` must be in [1, {MAX_MU}], got mu={mu}")
    n_entries = lut_entries(mu)
    singles = tuple(3**j for j in range(mu))
    depth = {v: 0 for v in singles}
    order = sorted(range(1, n_entries + 1), key=lambda v: (sum(1 for w in trits(v, mu) if w), v))
    steps = []
    for v in order:
        if v in depth:
            continue
        w = trits(v, mu)
        low = next(j for j, wj in enumerate(w) if wj)
        src = v - w[low] * 3**low
        assert src in depth, (v, src)
        depth[v] = depth[src] + 1
        steps.append(LutStep(dst=v, src=src, act=low, subtract=w[low] < 0, depth=depth[v]))
    return LutPlan(mu=mu, entries=n_entries, singles=singles, steps=tuple(steps))
