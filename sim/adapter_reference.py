"""The bit-exact reference of the adapter unit (:class:`hwgen.description.adapter.AdapterConfig`).

It follows the data flow of :mod:`hwgen.description.adapter` step by step, on int64 tensors of bit
patterns (floating point) or integers, like :mod:`sim.reference`:

1. ``u = A x`` (:meth:`AdapterReference.down`). ``lora``/``vera``: ``x`` (in the core's ``act``
   encoding) is converted to the adapter format (RNE, :func:`sim.fp_reference.fp_convert`; integer:
   unchanged); lane ``c`` of a row's ``chunk`` lanes sums, in ``acc`` and in increasing ``i``, the
   products ``A[j, i] * x[i]`` rounded to ``fmt`` of ``i = c, c + chunk, ...`` (``ceil(n / chunk)``
   of them, +0 times +0 past ``n``; the first as is), and the ``chunk`` partial sums are added along
   :attr:`AdapterConfig.down_engine`'s ``tree_levels`` in ``acc``. The unit's ``lanes`` (``lanes /
   chunk`` rows side by side) do not change the bits. ``ternary-a``: the core's own GEMV of ``x``
   with the ternary ``A.T``, as more output columns.
2. ``u`` into the adapter format (:meth:`AdapterReference.to_fmt`):
   ``u_f = round_fmt(round_acc(d * u))`` with ``d = s`` for ``lora``/``ternary-a`` and the trained
   vector ``d`` for ``vera``; integer ``clamp(rhu(u * d / 2**shift_u), -128, 127)``.
3. ``v = B u_f`` (:meth:`AdapterReference.up`): the ``mac`` engine :attr:`AdapterConfig.up_engine`
   on ``B.T``, one rounded product per rank term accumulated in ``acc``, the first as is.
4. Add into the core's outputs (:meth:`AdapterReference.apply`): ``round_acc(core + v)``;
   ``vera`` ``round_acc(core + round_acc(b * v))``. Integer: ``clamp(core + rhu(v / 2**shift_s))``;
   ``vera`` ``v8 = clamp(rhu(v / 2**shift_v), -128, 127)``, ``clamp(core + rhu(v8 * b /
   2**shift_s))``; clamped to the core's :attr:`~hwgen.description.config.CoreConfig.acc_width`.

Integer adapters (``int8``) sum exactly (:attr:`AdapterConfig.u_width`, :attr:`AdapterConfig.v_width`
bits): ``u`` and ``v`` are plain int64 matrix-vector products, which any lane count and any order
reproduce. (The integer ``mac`` engine configs carry the accumulator width of ternary weights,
:func:`~hwgen.description.config.int_sum_width`, too narrow for int8 x int8 sums, so their
:class:`ReferenceModel` is not used here.)

VeRA's frozen A and B are regenerated from the adapter's seed (:func:`vera_weights`); a training
script must take them from :func:`vera_torch` so that its trained ``d`` and ``b`` run bit-exactly.

Example
-------
>>> from hwgen.description.config import core_config
>>> core = core_config(act="int8", core=4, mu=2, max_n=16, max_m=16)
>>> ref = AdapterReference(AdapterConfig(core=core, max_rank=2))
>>> x, w = torch.arange(4) - 2, torch.ones(4, 3, dtype=torch.int64)
>>> a, b = torch.ones(1, 4, dtype=torch.int64), torch.full((3, 1), 2)
>>> ref.forward(x, w).tolist(), ref.forward(x, w, AdapterWeights(a=a, b=b, s=3, shift_s=1)).tolist()
([-2, -2, -2], [-8, -8, -8])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from hwgen.description.adapter import INT_B_BITS, INT_SCALE_BITS, INT_SHIFT_BITS, AdapterConfig
from hwgen.description.config import FP_FORMATS
from hwgen.description.fp_format import FPFormat
from hwgen.description.vera import vera_bits, vera_matrices

from . import fp_reference
from .reference import ReferenceModel

__all__ = ["AdapterReference", "AdapterWeights", "vera_weights", "vera_torch", "rhu", "INT8_RANGE",
           "SCALE_RANGE", "B_RANGE", "SHIFT_RANGE"]

#: Range of an int8 adapter value (A, B, the scaled ``u_f``, ``vera``'s ``v8``).
INT8_RANGE = (-128, 127)
#: Range of an integer adapter's scales ``s`` and ``d`` (signed, INT_SCALE_BITS bits).
SCALE_RANGE = (-(1 << (INT_SCALE_BITS - 1)), (1 << (INT_SCALE_BITS - 1)) - 1)
#: Range of an integer ``vera`` adapter's output scales ``b`` (signed, INT_B_BITS bits).
B_RANGE = (-(1 << (INT_B_BITS - 1)), (1 << (INT_B_BITS - 1)) - 1)
#: Range of an integer adapter's shifts ``shift_u``, ``shift_v`` and ``shift_s``.
SHIFT_RANGE = (0, (1 << INT_SHIFT_BITS) - 1)


def rhu(z: torch.Tensor, shift: int) -> torch.Tensor:
    """``z / 2**shift`` rounded half up, ``floor((z + 2**(shift - 1)) / 2**shift)`` (``z`` for
    ``shift = 0``), on int64 tensors without overflow for any ``shift`` in :data:`SHIFT_RANGE`."""
    z = torch.as_tensor(z).to(torch.int64)
    if shift == 0:
        return z
    return ((z >> (shift - 1)) + 1) >> 1


@dataclass(frozen=True, kw_only=True, eq=False)
class AdapterWeights:
    """One job's adapter operands (the adapter a job names, resolved).

    Floating-point adapters take bit patterns (integer tensors): A and B in the adapter format
    ``fmt``; ``s``, ``d`` and ``bvec`` in the core's ``acc`` format. Integer adapters take integers:
    A and B in [-128, 127], ``s`` and ``d`` in :data:`SCALE_RANGE`, ``bvec`` in :data:`B_RANGE`.

    Attributes
    ----------
    a : tensor, optional
        ``lora``: A ``(rank, n)`` in ``fmt``; ``ternary-a``: A ``(rank, n)`` of -1, 0, +1;
        ``vera``: none (regenerated from the seed).
    b : tensor, optional
        ``lora``/``ternary-a``: B ``(m, rank)`` in ``fmt``; ``vera``: none.
    s : int or tensor, optional
        ``lora``/``ternary-a``: the adapter's scale (one value), applied to ``u`` (step 2).
    d : tensor, optional
        ``vera``: the trained down scales, length ``rank`` (the job's rank is its length).
    bvec : tensor, optional
        ``vera``: the trained output scales ``b``, length ``m``.
    shift_u, shift_s, shift_v : int
        Integer adapters: the power-of-two divisors of step 2 (``u``), step 4 (the add) and, for
        ``vera``, of ``v`` before its scale ``b``; in :data:`SHIFT_RANGE`.
    """

    a: object = None
    b: object = None
    s: object = None
    d: object = None
    bvec: object = None
    shift_u: int = 0
    shift_s: int = 0
    shift_v: int = 0


def _int_tensor(value: object, name: str) -> torch.Tensor:
    t = torch.as_tensor(value)
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise ValueError(f"`{name}` must be an integer tensor (bit patterns or integers), "
                         f"got dtype {t.dtype}")
    return t.to(torch.int64)


def _check_range(t: torch.Tensor, name: str, lo: int, hi: int, what: str) -> None:
    if t.numel():
        t_min, t_max = (int(v) for v in torch.aminmax(t))
        if t_min < lo or t_max > hi:
            bad = t_min if t_min < lo else t_max
            raise ValueError(f"`{name}` must hold {what} in [{lo}, {hi}], got {bad}")


def _check_shift(shift: object, name: str) -> int:
    lo, hi = SHIFT_RANGE
    if isinstance(shift, bool) or not isinstance(shift, int | np.integer) or not lo <= shift <= hi:
        raise ValueError(f"`{name}` must be an integer in [{lo}, {hi}], got {name}={shift!r}")
    return int(shift)


class AdapterReference:
    """Bit-exact model of the adapter path of ``adapter`` beside its core.

    Parameters
    ----------
    adapter : AdapterConfig
        The adapter unit (its core, variant, format, engines and seed).
    """

    def __init__(self, adapter: AdapterConfig):
        self.adapter = adapter
        self.core = adapter.core
        self.core_model = ReferenceModel(adapter.core)
        self._up = ReferenceModel(adapter.up_engine) if not adapter.is_int else None

    # --- formats and checks ---

    @property
    def fmt(self) -> FPFormat | None:
        """The adapter's floating-point format (``None`` for ``int8``)."""
        return None if self.adapter.is_int else FP_FORMATS[self.adapter.fmt]

    @property
    def acc_fmt(self) -> FPFormat | None:
        """The core's accumulator format (``None`` for an integer core)."""
        return self.core.acc_type.fmt if self.core.is_fp else None

    def encode_fmt(self, values: torch.Tensor) -> torch.Tensor:
        """Floating-point adapters: float values rounded (RNE) to ``fmt``, as bit patterns."""
        return fp_reference.to_bits(torch.as_tensor(values), self._need_fp("encode_fmt"))

    def encode_acc(self, values: torch.Tensor) -> torch.Tensor:
        """Floating-point adapters: float values rounded (RNE) to the ``acc`` format, as bit patterns
        (for ``s``, ``d`` and ``bvec``)."""
        self._need_fp("encode_acc")
        return fp_reference.to_bits(torch.as_tensor(values), self.acc_fmt)

    def _need_fp(self, what: str) -> FPFormat:
        if self.fmt is None:
            raise ValueError(f"{what} is for floating-point adapters, got adapter_fmt={self.adapter.fmt}")
        return self.fmt

    def _check_rank(self, rank: int) -> int:
        top = self.adapter.max_rank
        if not 1 <= rank <= top:
            raise ValueError(f"`rank` must be in [1, {top}] (the adapter's max_rank), got rank={rank}")
        return rank

    def _check_vector(self, value: object, name: str, length: int | None) -> torch.Tensor:
        t = _int_tensor(value, name)
        if t.ndim != 1 or (length is not None and t.shape[0] != length):
            want = f"({length},)" if length is not None else "(length,)"
            raise ValueError(f"`{name}` must have shape {want}, got {tuple(t.shape)}")
        return t

    def _check_scale_shape(self, value: object, name: str, length: int) -> torch.Tensor:
        """One value, or one per element (``length``)."""
        t = _int_tensor(value, name)
        if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != length):
            raise ValueError(f"`{name}` must be one value or have shape ({length},), got {tuple(t.shape)}")
        return t

    def _check_matrix(self, value: object, name: str, rows: int | None, cols: int | None) -> torch.Tensor:
        t = _int_tensor(value, name)
        ok = t.ndim == 2 and (rows is None or t.shape[0] == rows) and (cols is None or t.shape[1] == cols)
        if not ok:
            want = f"({'rank' if rows is None else rows}, {'rank' if cols is None else cols})"
            raise ValueError(f"`{name}` must have shape {want}, got {tuple(t.shape)}")
        return t

    def _check_values(self, t: torch.Tensor, name: str) -> None:
        """A, B or ``u_f`` values: bit patterns of ``fmt``, or int8 integers."""
        if self.adapter.is_int:
            _check_range(t, name, *INT8_RANGE, "int8 values")
        else:
            _check_range(t, name, 0, (1 << self.fmt.width) - 1, f"{self.adapter.fmt} bit patterns")

    def _check_scale(self, t: torch.Tensor, name: str, int_range: tuple[int, int] = SCALE_RANGE) -> None:
        """``s``, ``d`` or ``b``: bit patterns of ``acc``, or signed integers in ``int_range``."""
        if self.adapter.is_int:
            lo, hi = int_range
            _check_range(t, name, lo, hi, f"{(hi - lo).bit_length()}-bit signed scales")
        else:
            _check_range(t, name, 0, (1 << self.acc_fmt.width) - 1, f"{self.core.acc} bit patterns")

    def _check_acc(self, t: torch.Tensor, name: str) -> None:
        """Values in the core's accumulator: ``acc`` bit patterns, or integers of ``acc_width``."""
        width = self.core.acc_width
        if self.core.is_fp:
            _check_range(t, name, 0, (1 << width) - 1, f"{self.core.acc} bit patterns")
        else:
            _check_range(t, name, -(1 << (width - 1)), (1 << (width - 1)) - 1, f"{width}-bit integers")

    def _check_x(self, x: object) -> torch.Tensor:
        t = self._check_vector(x, "x", None)
        n, top = t.shape[0], self.core.max_n
        if not 1 <= n <= top:
            raise ValueError(f"`x` length n must be in [1, {top}] (the core's max_n), got n={n}")
        if self.core.is_fp:
            _check_range(t, "x", 0, (1 << self.core.act_width) - 1, f"{self.core.act} bit patterns")
        else:
            _check_range(t, "x", self.core.act_type.min_value, self.core.act_type.max_value,
                         f"{self.core.act} values")
        return t

    # --- the four steps ---

    def x_to_fmt(self, x: torch.Tensor) -> torch.Tensor:
        """Activations (the core's ``act`` encoding) as the down-projection reads them: converted to
        ``fmt`` (RNE) when the formats differ; integer adapters take them unchanged (int8 range)."""
        x = self._check_x(x)
        if self.adapter.is_int:
            _check_range(x, "x", *INT8_RANGE, "int8 values (the int8 adapter's multipliers)")
            return x
        act = self.core.act_type.fmt
        return x if act == self.fmt else fp_reference.fp_convert(x, act, self.fmt)

    def down(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Step 1, ``u = A x``: ``(rank,)`` int64 in ``acc`` (bit patterns) or exact integers.

        Parameters
        ----------
        x : tensor
            The ``n`` activations in the core's ``act`` encoding.
        a : tensor
            A ``(rank, n)``: ``fmt`` bit patterns / int8 (``lora``, ``vera``) or -1, 0, +1
            (``ternary-a``).
        """
        x = self._check_x(x)
        a = self._check_matrix(a, "a", None, x.shape[0])
        rank = self._check_rank(a.shape[0])
        if self.adapter.variant == "ternary-a":
            if not bool(((a >= -1) & (a <= 1)).all()):
                raise ValueError("`a` must be ternary (-1, 0, +1) for adapter=ternary-a")
            top = self.core.max_m  # more output columns of the core, at most max_m per GEMV call
            return torch.cat([self.core_model.gemv(x, a[j:j + top].T) for j in range(0, rank, top)])
        self._check_values(a, "a")
        xf = self.x_to_fmt(x)
        if self.adapter.is_int:
            return a @ xf
        return self._lane_sums(xf, a)

    def _lane_sums(self, xf: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """``lora``/``vera`` floating-point ``u`` (see the module docstring): per-lane sums over the
        steps, then the tree of the ``chunk`` partial sums."""
        chunk, fmt, acc = self.adapter.chunk, self.fmt, self.acc_fmt
        steps = -(-xf.shape[0] // chunk)
        x_pad = torch.zeros(steps * chunk, dtype=torch.int64)
        x_pad[: xf.shape[0]] = xf
        a_pad = torch.zeros((a.shape[0], steps * chunk), dtype=torch.int64)
        a_pad[:, : a.shape[1]] = a
        products = fp_reference.fp_mul(a_pad, x_pad.expand_as(a_pad), fmt)
        if fmt != acc:
            products = fp_reference.fp_convert(products, fmt, acc)
        products = products.reshape(a.shape[0], steps, chunk)
        partial = products[:, 0]
        for step in range(1, steps):
            partial = fp_reference.fp_add(partial, products[:, step], acc)
        level = [partial[:, c] for c in range(chunk)]
        for nodes in self.adapter.down_engine.tree_levels:
            level = [fp_reference.fp_add(level[nd.inputs[0]], level[nd.inputs[1]], acc) if len(nd.inputs) == 2
                     else level[nd.inputs[0]] for nd in nodes]
        return level[0]

    def to_fmt(self, u: torch.Tensor, d: torch.Tensor | int, shift_u: int = 0) -> torch.Tensor:
        """Step 2, ``u`` scaled into the adapter format: ``(rank,)`` int64, ``fmt`` bit patterns or
        int8.

        Floating point: ``round_fmt(round_acc(d * u))``; integer: ``clamp(rhu(u * d / 2**shift_u),
        -128, 127)``. ``d`` is one value (``lora``/``ternary-a``: the scale ``s``) or one per rank row
        (``vera``'s ``d``), ``acc`` bit patterns or integers in :data:`SCALE_RANGE`.
        """
        u = _int_tensor(u, "u")
        rank = self._check_rank(u.shape[0] if u.ndim == 1 else 0)
        d = self._check_scale_shape(d, "d", rank)
        self._check_scale(d, "d")
        shift_u = _check_shift(shift_u, "shift_u")
        if self.adapter.is_int:
            return torch.clamp(rhu(u * d, shift_u), *INT8_RANGE)
        if shift_u:
            raise ValueError(f"`shift_u` is for int8 adapters, got shift_u={shift_u} with "
                             f"adapter_fmt={self.adapter.fmt}")
        acc = self.acc_fmt
        return fp_reference.fp_convert(fp_reference.fp_mul(d, u, acc), acc, self.fmt)

    def up(self, u_f: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Step 3, ``v = B u_f``: ``(m,)`` int64 in ``acc`` (bit patterns) or exact integers.

        Parameters
        ----------
        u_f : tensor
            ``(rank,)`` from :meth:`to_fmt`.
        b : tensor
            B ``(m, rank)`` in ``fmt`` (bit patterns) or int8.
        """
        u_f = _int_tensor(u_f, "u_f")
        rank = self._check_rank(u_f.shape[0] if u_f.ndim == 1 else 0)
        self._check_values(u_f, "u_f")
        b = self._check_matrix(b, "b", None, rank)
        m, top = b.shape[0], self.core.max_m
        if not 1 <= m <= top:
            raise ValueError(f"`b` rows m must be in [1, {top}] (the core's max_m), got m={m}")
        self._check_values(b, "b")
        if self.adapter.is_int:
            return b @ u_f
        return self._up.gemv_weights(u_f, b.T)

    def apply(self, core_y: torch.Tensor, v: torch.Tensor, bvec: torch.Tensor | int | None = None, *,
              shift_s: int = 0, shift_v: int = 0) -> torch.Tensor:
        """Step 4, the add into the core's outputs: ``(m,)`` int64.

        Floating point: ``round_acc(core_y + v)``; ``vera`` (``bvec`` given, ``acc`` bit patterns)
        ``round_acc(core_y + round_acc(bvec * v))``. Integer: ``clamp(core_y + rhu(v /
        2**shift_s))``; ``vera`` ``v8 = clamp(rhu(v / 2**shift_v), -128, 127)`` and
        ``clamp(core_y + rhu(v8 * bvec / 2**shift_s))`` (``bvec`` in :data:`B_RANGE`); clamped to
        the core's ``acc_width``. ``bvec`` is one value or one per output.
        """
        core_y = self._check_vector(core_y, "core_y", None)
        self._check_acc(core_y, "core_y")
        m = core_y.shape[0]
        v = self._check_vector(v, "v", m)
        vera = self.adapter.variant == "vera"
        if vera and bvec is None:
            raise ValueError("`bvec` (one value or length m) is required for adapter=vera")
        if not vera and bvec is not None:
            raise ValueError(f"`bvec` is for adapter=vera, got it with adapter={self.adapter.variant}")
        if bvec is not None:
            bvec = self._check_scale_shape(bvec, "bvec", m)
            self._check_scale(bvec, "bvec", B_RANGE)
        shift_s, shift_v = _check_shift(shift_s, "shift_s"), _check_shift(shift_v, "shift_v")
        if shift_v and not (vera and self.adapter.is_int):
            raise ValueError(f"`shift_v` is for int8 vera adapters, got shift_v={shift_v} with "
                             f"adapter={self.adapter.variant}, adapter_fmt={self.adapter.fmt}")
        if self.core.is_fp:
            if shift_s:
                raise ValueError(f"`shift_s` is for int8 adapters, got shift_s={shift_s} with "
                                 f"adapter_fmt={self.adapter.fmt}")
            acc = self.acc_fmt
            if bvec is not None:
                v = fp_reference.fp_mul(bvec, v, acc)
            return fp_reference.fp_add(core_y, v, acc)
        if bvec is not None:
            v = torch.clamp(rhu(v, shift_v), *INT8_RANGE) * bvec
        half = 1 << (self.core.acc_width - 1)
        return torch.clamp(core_y + rhu(v, shift_s), -half, half - 1)

    # --- whole jobs ---

    def adapt(self, x: torch.Tensor, core_y: torch.Tensor, weights: AdapterWeights) -> torch.Tensor:
        """The adapter path of one job on the core's outputs ``core_y`` (``m``) for activations ``x``
        (``n``): steps 1 to 4 with the operands ``weights``."""
        if not isinstance(weights, AdapterWeights):
            raise ValueError(f"`weights` must be AdapterWeights, got {type(weights).__name__}")
        adapter, w = self.adapter, weights
        x = self._check_x(x)
        core_y = self._check_vector(core_y, "core_y", None)
        n, m = x.shape[0], core_y.shape[0]
        if adapter.variant == "vera":
            for name in ("a", "b", "s"):
                if getattr(w, name) is not None:
                    raise ValueError(f"`{name}` is not an operand of adapter=vera (A and B come from "
                                     "the seed)")
            if w.d is None or w.bvec is None:
                raise ValueError("adapter=vera needs `d` (length rank) and `bvec` (length m)")
            d = self._check_vector(w.d, "d", None)
            rank = self._check_rank(d.shape[0])
            a, b = vera_weights(adapter, rank, n, m)
            bvec = self._check_vector(w.bvec, "bvec", m)
        else:
            for name in ("d", "bvec"):
                if getattr(w, name) is not None:
                    raise ValueError(f"`{name}` is for adapter=vera, got it with adapter={adapter.variant}")
            if w.a is None or w.b is None or w.s is None:
                raise ValueError(f"adapter={adapter.variant} needs `a` (rank x n), `b` (m x rank) and `s`")
            a, b, bvec = w.a, w.b, None
            d = _int_tensor(w.s, "s")
            if d.numel() != 1:
                raise ValueError(f"`s` must be one value, got shape {tuple(d.shape)}")
            d = d.reshape(())
            self._check_scale(d, "s")
        a = self._check_matrix(a, "a", None, n)
        rank = self._check_rank(a.shape[0])
        self._check_matrix(b, "b", m, rank)
        u_f = self.to_fmt(self.down(x, a), d, w.shift_u)
        return self.apply(core_y, self.up(u_f, b), bvec, shift_s=w.shift_s, shift_v=w.shift_v)

    def forward(self, x: torch.Tensor, w: torch.Tensor,
                weights: AdapterWeights | None = None) -> torch.Tensor:
        """``y`` of one adapted GEMV job: the core's ``y = x @ w`` (:meth:`ReferenceModel.gemv`,
        ``w`` an N x M ternary matrix), then the adapter path with ``weights``; ``None`` runs the job
        with the adapter off (adapter id 0): the core's outputs, unchanged."""
        core_y = self.core_model.gemv(x, w)
        if weights is None:
            return core_y
        return self.adapt(x, core_y, weights)

def vera_weights(adapter: AdapterConfig, rank: int, n: int, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """VeRA's A ``(rank, n)`` and B ``(m, rank)`` as the hardware regenerates them from
    ``adapter.seed`` (A's bound from ``adapter.fan_in``), int64 tensors of ``adapter.fmt`` bit
    patterns (``int8``: the values)."""
    if adapter.variant != "vera":
        raise ValueError(f"vera_weights is for adapter=vera, got adapter={adapter.variant}")
    if not 1 <= rank <= adapter.max_rank:
        raise ValueError(f"`rank` must be in [1, {adapter.max_rank}] (the adapter's max_rank), "
                         f"got rank={rank}")
    a, b = vera_matrices(adapter.seed, rank, n, m, adapter.fmt, a_fan_in=adapter.fan_in)
    return (torch.from_numpy(vera_bits(a, adapter.fmt)), torch.from_numpy(vera_bits(b, adapter.fmt)))


def vera_torch(source: AdapterConfig | int, rank: int, n: int, m: int, fmt: str | None = None, *,
               a_fan_in: int | None = None,
               dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """VeRA's frozen A ``(rank, n)`` and B ``(m, rank)`` as float tensors of their exact values.

    A training script **must** take VeRA's A and B from this function (not from its framework's
    random generator): the hardware regenerates them from the seed bit for bit, so only ``d`` and
    ``b`` trained against these matrices run exactly on chip.

    Parameters
    ----------
    source : AdapterConfig or int
        The ``vera`` adapter (its ``seed`` and ``fmt``) or a seed in [0, 2**32).
    rank, n, m : int
        The layer's rank, input and output lengths.
    fmt : str, optional
        ``fp16``, ``bf16`` or ``int8``; default the adapter's ``fmt`` (``fp16`` for a seed).
    a_fan_in : int, optional
        The fan-in of A's bound: the largest input length of the model the matrices are shared by
        (default: the adapter's ``fan_in``; ``n`` for a seed); pass the hardware's value.
    dtype : torch.dtype
        Result dtype; float32 (default) holds every value exactly (so does bfloat16 for ``bf16``).
    """
    if isinstance(source, AdapterConfig):
        if source.variant != "vera":
            raise ValueError(f"vera_torch is for adapter=vera, got adapter={source.variant}")
        seed, fmt, a_fan_in = source.seed, fmt or source.fmt, a_fan_in or source.fan_in
    else:
        seed, fmt = int(source), fmt or "fp16"
    a, b = vera_matrices(seed, rank, n, m, fmt, a_fan_in=a_fan_in)
    return (torch.from_numpy(np.asarray(a, dtype=np.float64)).to(dtype),
            torch.from_numpy(np.asarray(b, dtype=np.float64)).to(dtype))
