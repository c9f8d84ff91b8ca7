"""The PyTorch bit-exact reference model of a core (every :attr:`CoreConfig.arch`).

It performs the adds of the RTL in the RTL's order: the LUT build walks
:attr:`CoreConfig.plan` (``entry[src] +- a[act]``), the fetch negates by the key's sign, the
reduction walks :attr:`CoreConfig.tree` (``left + right``), and accumulation runs over input
tiles in increasing order (``acc + tile``), the first tile taken as is (see
:mod:`hwgen.description.schedule`; a NaN in it canonicalised where it can still carry an
activation's own payload, :attr:`CoreConfig.canonicalises_first_tile`). Independent lanes
(tiles, LUTs, columns) are vectorised; the adds
that the hardware chains are chained here one by one. ``signflip`` cores are LUT cores with
mu = 1. ``mac`` cores replace build and fetch by the products ``a * w`` of each activation
with its weight operand (:func:`hwgen.description.key_encoding.weight_operands`); the tree then sums the
``tile_n`` products of each output.

Integer activations: tree nodes and accumulators wrap at the config's widths
(:meth:`CoreConfig.tree_width`, :attr:`CoreConfig.acc_width`), as the RTL's registers would,
but the widths are chosen so that nothing ever wraps: the result equals
``activations @ weights`` in int64 (the benches check this).

Fast path: :meth:`ReferenceModel.prepare` checks and encodes a weight matrix once
(:class:`PreparedWeights`); :meth:`ReferenceModel.gemv` on prepared weights then only runs the
datapath, on the device of the prepared weights. It computes the same adds, in the same order, as
the stage methods, with cheaper lane types: fp16/bf16/fp32 lanes are float32 tensors holding values
of the format, rounded to the format after every add exactly as :func:`sim.fp_reference.fp_add`
does (NaNs are canonicalised once, at the output of the last add, which gives the same bits since
any add with a NaN operand is NaN); integer lanes are int32 where no value can exceed it, and a
node wraps only if a static bound on its value says it might.

Floating-point activations: values are bit patterns (int64 tensors); every add is one
correctly rounded :func:`sim.fp_reference.fp_add` in the ``act`` format (LUT, tree) or the
``acc`` format (after the exact :func:`sim.fp_reference.fp_convert` of each tile sum); every
``mac`` product is one :func:`sim.fp_reference.fp_mul` in the ``act`` format, with its IEEE
special cases: ``inf * +0.0`` and ``NaN * w`` are NaN, ``-a * +0.0`` is ``-0``. A weight of 0
therefore does not always contribute nothing, unlike in a LUT core.

Reduction modes (:attr:`CoreConfig.fp_reduce`): a ``blockfp`` core's activation rows are first
aligned to integers sharing the row's exponent (:meth:`ReferenceModel.align`); LUT build, fetch
and tree are then exact integer lanes, and each tile sum is converted with one rounding
(:func:`sim.fp_reference.int_to_fp`) before the accumulation. A ``fused`` core builds and fetches
IEEE LUT entries and sums each output's L fetched values with one
:func:`sim.fp_reference.fp_fused_sum` straight into the ``acc`` format.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from hwgen.description.config import CoreConfig
from hwgen.description.fp_format import BF16, FP16, FP32

from . import fp_reference
from .key_encoding import check_ternary_tensor, encode_weights_torch, weight_operands_torch

__all__ = ["ReferenceModel", "PreparedWeights"]

_NATIVE_FP = {FP16: torch.float16, BF16: torch.bfloat16, FP32: torch.float32}


class _IntOps:
    """int64 lanes; ``wrap`` narrows to a two's-complement width as an RTL signal does."""

    def __init__(self, cfg: CoreConfig):
        self.acc_width = cfg.acc_width

    @staticmethod
    def wrap(a, width):
        half = 1 << (width - 1)
        return (a + half) % (2 * half) - half

    def add(self, a, b):
        return a + b

    def sub(self, a, b):
        return a - b

    def mul(self, a, b):
        return a * b

    def neg(self, a):
        return -a

    def to_acc(self, a, row_exp=None):
        return self.wrap(a, self.acc_width)

    @staticmethod
    def first_tile(a):
        return a

    def acc_add(self, a, b):
        return self.wrap(a + b, self.acc_width)


class _BlockFPOps(_IntOps):
    """Block-FP cores: integer LUT and tree lanes (never wrapping), each tile sum converted with one
    rounding to the ``acc`` format and accumulated there (see :meth:`ReferenceModel.align`)."""

    def __init__(self, cfg: CoreConfig):
        super().__init__(cfg)
        self.acc_fmt, self.scale, self.rounding = cfg.acc_type.fmt, cfg.tile_sum_scale, cfg.fp_round
        self.nan_exp = cfg.act_type.fmt.exp_max

    def to_acc(self, a, row_exp=None):
        """Tile sums ``a`` ``(T, M)`` of rows with shared exponent fields ``row_exp`` ``(T,)``."""
        row_exp = torch.as_tensor(row_exp, device=a.device).reshape(-1, *([1] * (a.ndim - 1)))
        bits = fp_reference.int_to_fp(a, row_exp + self.scale, self.acc_fmt, self.rounding)
        return torch.where(row_exp == self.nan_exp, torch.full_like(bits, self.acc_fmt.canonical_nan), bits)

    def acc_add(self, a, b):
        return fp_reference.fp_add(a, b, self.acc_fmt)


class _FPOps:
    """Bit-pattern lanes; each op rounds like one FP unit of the core."""

    def __init__(self, cfg: CoreConfig):
        self.fmt, self.acc_fmt = cfg.act_type.fmt, cfg.acc_type.fmt
        self.sign = 1 << (self.fmt.width - 1)
        self.canonical_first = cfg.canonicalises_first_tile

    @staticmethod
    def wrap(a, width):
        return a

    def add(self, a, b):
        return fp_reference.fp_add(a, b, self.fmt)

    def mul(self, a, b):
        return fp_reference.fp_mul(a, b, self.fmt)

    def sub(self, a, b):
        return fp_reference.fp_add(a, b ^ self.sign, self.fmt)

    def neg(self, a):
        return a ^ self.sign

    def to_acc(self, a, row_exp=None):
        return a if self.acc_fmt == self.fmt else fp_reference.fp_convert(a, self.fmt, self.acc_fmt)

    def acc_add(self, a, b):
        return fp_reference.fp_add(a, b, self.acc_fmt)

    def first_tile(self, a):
        """A job's first tile sum as the accumulator takes it (see
        :attr:`CoreConfig.canonicalises_first_tile`)."""
        return fp_reference.canonical_nan(a, self.acc_fmt) if self.canonical_first else a


class _FusedOps(_FPOps):
    """Fused cores: IEEE LUT lanes; each output's fetched values summed by one fused adder straight
    into the ``acc`` format (:func:`sim.fp_reference.fp_fused_sum`), so tile sums need no conversion."""

    def __init__(self, cfg: CoreConfig):
        super().__init__(cfg)
        self.guard, self.rounding, self.sticky = cfg.fused_guard, cfg.fp_round, cfg.fp_sticky

    def fused_sum(self, values):
        """Values ``(..., L, M)`` (``act`` bit patterns) -> ``(..., M)`` (``acc`` bit patterns)."""
        return fp_reference.fp_fused_sum(values.transpose(-1, -2), self.fmt, self.acc_fmt, guard=self.guard,
                                         sticky=self.sticky, rounding=self.rounding)

    def to_acc(self, a, row_exp=None):
        return a

    def first_tile(self, a):
        return a


class ReferenceModel:
    """Bit-exact model of the core described by ``cfg``.

    Example
    -------
    >>> cfg = CoreConfig(act="int8", mu=2, luts=2, keys=3, max_n=16, max_m=16)
    >>> y = ReferenceModel(cfg).gemv(torch.tensor([1, 2, 3]), torch.tensor([[1], [0], [-1]]))
    >>> y.tolist()
    [-2]
    """

    def __init__(self, cfg: CoreConfig):
        self.cfg = cfg
        if cfg.is_blockfp:
            self.ops = _BlockFPOps(cfg)
        elif cfg.is_fused:
            self.ops = _FusedOps(cfg)
        else:
            self.ops = _FPOps(cfg) if cfg.is_fp else _IntOps(cfg)
        self._lanes_cache: _Lanes | None = None

    # --- the three datapath stages, exposed for unit tests of the RTL blocks ---

    def align(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Block-FP cores: activation rows ``(..., tile_n)`` (bit patterns) -> the aligned lanes
        ``(..., tile_n)`` (integers of ``fp_width`` bits) and each row's shared exponent field
        ``(...)`` (all ones for a row holding an infinity or NaN), as
        :class:`hwgen.gateware.components.block_align.BlockAligner` computes them (see
        :attr:`CoreConfig.fp_reduce`)."""
        cfg = self.cfg
        if not cfg.is_blockfp:
            raise ValueError(f"align is for fp_reduce='blockfp', not {cfg.fp_reduce!r}")
        fmt, width = cfg.act_type.fmt, cfg.fp_width
        man = fmt.man_bits
        rows = torch.as_tensor(rows).to(torch.int64)
        field = (rows >> man) & fmt.exp_max
        e = torch.clamp(field, min=1)
        sig = (rows & fmt.man_mask) | ((field != 0).to(torch.int64) << man)
        emax = e.amax(dim=-1)
        shift = emax.unsqueeze(-1) - e + max(0, man + 2 - width)
        q = (sig << max(0, width - 2 - man)) >> torch.clamp(shift, max=62)
        lanes = torch.where(((rows >> (fmt.width - 1)) & 1) == 1, -q, q)
        return lanes, emax  # an infinity's or NaN's field (all ones) is the largest

    def build_luts(self, groups: torch.Tensor) -> torch.Tensor:
        """LUT entries for activation groups ``(..., mu)`` -> ``(..., E + 1)``; entry 0 is zero."""
        plan = self.cfg.plan
        entries: list[torch.Tensor | None] = [None] * (plan.entries + 1)
        entries[0] = torch.zeros_like(groups[..., 0])
        for j, v in enumerate(plan.singles):
            entries[v] = groups[..., j]
        for step in plan.steps:
            a = groups[..., step.act]
            src = entries[step.src]
            entries[step.dst] = self.ops.sub(src, a) if step.subtract else self.ops.add(src, a)
        return torch.stack(entries, dim=-1)

    def fetch(self, luts: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """Signed fetch: ``luts`` ``(..., E + 1)``, ``keys`` ``(..., M)`` -> ``(..., M)``.

        Indices past E read zero, as in the RTL."""
        sign_bit = self.cfg.key_bits - 1
        index = keys & ((1 << sign_bit) - 1)
        valid = index <= self.cfg.plan.entries
        value = torch.gather(luts, -1, torch.where(valid, index, 0))
        value = torch.where(valid, value, 0)
        return torch.where((keys >> sign_bit) == 1, self.ops.neg(value), value)

    def multiply(self, activations: torch.Tensor, operands: torch.Tensor) -> torch.Tensor:
        """``mac`` products ``activations * operands`` (broadcasting), at :attr:`CoreConfig.product_width`."""
        return self.ops.wrap(self.ops.mul(activations, operands), self.cfg.product_width)

    def reduce(self, values: torch.Tensor) -> torch.Tensor:
        """Balanced-tree sum over dimension -2 (the L leaves: LUT values or ``mac`` products) along
        :attr:`CoreConfig.tree_levels`; each node at its width. ``fused`` cores: one fused sum of
        the L leaves into the ``acc`` format."""
        if self.cfg.is_fused:
            return self.ops.fused_sum(values)
        level = [values[..., i, :] for i in range(values.shape[-2])]
        for nodes in self.cfg.tree_levels:
            level = [self.ops.wrap(self.ops.add(level[node.inputs[0]], level[node.inputs[1]]), node.width)
                     if node.adds else level[node.inputs[0]] for node in nodes]
        return level[0]

    def accumulate(self, partials: torch.Tensor, row_exp: torch.Tensor | None = None) -> torch.Tensor:
        """Sum over input tiles (dimension 0) in increasing order in the accumulator format,
        the first taken as is (NaN canonicalised where :attr:`CoreConfig.canonicalises_first_tile`).
        Block-FP cores: ``partials`` are integer tile sums, converted with the rows' shared
        exponent fields ``row_exp`` ``(T,)`` (:meth:`align`)."""
        partials = self.ops.to_acc(partials, row_exp)
        acc = self.ops.first_tile(partials[0])
        for t in range(1, partials.shape[0]):
            acc = self.ops.acc_add(acc, partials[t])
        return acc

    # --- whole GEMVs ---

    def gemv_keys(self, activations: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        """``y`` for N activations and ``ceil(N/mu) x M`` keys (from
        :func:`sim.key_encoding.encode_weights`)."""
        if self.cfg.is_mac:
            raise ValueError("gemv_keys is for LUT cores; use gemv_weights for arch='mac'")
        a = torch.as_tensor(activations)
        keys = torch.as_tensor(keys, device=a.device)
        return self._run(a.to(torch.int64), self._prepare_keys(keys, a.shape[0]))

    def gemv_weights(self, activations: torch.Tensor, operands: torch.Tensor) -> torch.Tensor:
        """``mac`` cores: ``y`` for N activations and N x M weight operands (from
        :func:`sim.key_encoding.weight_operands`); rows past N are +0 times +0."""
        a = torch.as_tensor(activations)
        operands = torch.as_tensor(operands, device=a.device)
        return self._run(a.to(torch.int64), self._prepare_operands(operands))

    def encode_activations(self, values: torch.Tensor) -> torch.Tensor:
        """Floating-point cores: round float values to the ``act`` format (RNE); bit patterns (int64)."""
        if not self.cfg.is_fp:
            raise ValueError(f"encode_activations is for floating-point cores, got act={self.cfg.act}")
        return fp_reference.to_bits(torch.as_tensor(values), self.cfg.act_type.fmt)

    def decode_outputs(self, bits: torch.Tensor) -> torch.Tensor:
        """Floating-point cores: output bit patterns as float64 values (exact)."""
        return fp_reference.from_bits(bits, self.cfg.acc_type.fmt, dtype=torch.float64)

    def prepare(self, weights: torch.Tensor) -> PreparedWeights:
        """Check and encode an N x M ternary weight matrix once, for :meth:`gemv`.

        Parameters
        ----------
        weights : torch.Tensor
            N x M matrix of -1, 0, +1 (any integer or float dtype, or array-like). The prepared
            tensors live on its device.

        Returns
        -------
        PreparedWeights
            Keys (LUT cores) or weight operands (``mac`` cores), padded to whole input tiles.

        Raises
        ------
        ValueError
            If ``weights`` is not a ternary matrix or its shape exceeds ``max_n`` x ``max_m``.
        """
        w = check_ternary_tensor(weights)
        self._check_shape(w.shape[0], w.shape[1])
        return self._prepare_checked(w)

    def gemv(self, activations: torch.Tensor, weights: torch.Tensor | PreparedWeights) -> torch.Tensor:
        """``y = activations @ weights`` as the core computes it, shape ``(M,)``, int64.

        Integer cores: ``activations`` are integers in the ``act`` range and ``y`` the exact sums.
        Floating-point cores: ``activations`` are bit patterns of the ``act`` format (see
        :meth:`encode_activations`) and ``y`` the bit patterns of the ``acc`` format.
        ``weights`` is an N x M ternary matrix, or the :class:`PreparedWeights` of one (from
        :meth:`prepare`; then only the activations are checked, and ``y`` is computed on the
        prepared weights' device).
        """
        if isinstance(weights, PreparedWeights):
            if weights.cfg != self.cfg:
                raise ValueError(f"weights were prepared for core {weights.cfg.name!r}, "
                                 f"not {self.cfg.name!r}")
            a = self._check_activations(activations, weights.n, weights.device)
            return self._run(a, weights)
        w = check_ternary_tensor(weights)
        a = self._check_activations(activations, w.shape[0], w.device)
        self._check_shape(a.shape[0], w.shape[1])
        return self._run(a, self._prepare_checked(w))

    # --- the fast path ---

    def _check_activations(self, activations, n: int, device: torch.device) -> torch.Tensor:
        a = torch.as_tensor(activations)
        if a.is_floating_point():
            raise ValueError("activations must be integers (bit patterns for floating-point cores; "
                             "see encode_activations)")
        a = a.to(device=device, dtype=torch.int64)
        if a.ndim != 1 or a.shape[0] != n:
            raise ValueError(f"activations must have shape ({n},) to match weights, got {tuple(a.shape)}")
        if self.cfg.is_fp:
            lo, hi = 0, (1 << self.cfg.act_width) - 1
        else:
            lo, hi = self.cfg.act_type.min_value, self.cfg.act_type.max_value
        if a.numel():
            a_min, a_max = torch.aminmax(a)
            if a_min < lo or a_max > hi:
                kind = "bit patterns " if self.cfg.is_fp else ""
                raise ValueError(f"activations must be {kind}in [{lo}, {hi}] for act={self.cfg.act}")
        return a

    def _check_shape(self, n: int, m: int) -> None:
        if not 1 <= n <= self.cfg.max_n or not 1 <= m <= self.cfg.max_m:
            raise ValueError(
                f"GEMV shape N={n}, M={m} must be in [1, max_n={self.cfg.max_n}] x "
                f"[1, max_m={self.cfg.max_m}]"
            )

    def _prepare_checked(self, w: torch.Tensor) -> PreparedWeights:
        if self.cfg.is_mac:
            return self._prepare_operands(weight_operands_torch(self.cfg, w))
        return self._prepare_keys(encode_weights_torch(w, self.cfg.mu), w.shape[0])

    def _prepare_keys(self, keys: torch.Tensor, n: int) -> PreparedWeights:
        """Keys ``(G, M)`` -> flat indices ``(L, T, M)`` (int32) into the signed LUTs of all tiles,
        laid out ``(L, T, 2 (E + 2))``: entry ``e`` (``0 <= e <= E``) at ``e``, a zero at ``E + 1``
        (read by indices past E, as in :meth:`fetch`), and their negations at ``E + 2 + ...``."""
        cfg = self.cfg
        keys = keys.to(torch.int64)
        groups, m = keys.shape
        t_count = -(-groups // cfg.luts)
        k = torch.zeros((t_count * cfg.luts, m), dtype=torch.int64, device=keys.device)
        k[:groups] = keys
        k = k.reshape(t_count, cfg.luts, m).transpose(0, 1)  # (L, T, M)
        sign_bit = cfg.key_bits - 1
        half = cfg.plan.entries + 2
        index = k & ((1 << sign_bit) - 1)
        slot = torch.clamp(index, max=half - 1) + ((k >> sign_bit) == 1).to(torch.int64) * half
        base = torch.arange(cfg.luts * t_count, dtype=torch.int64, device=keys.device) * (2 * half)
        flat = slot + base.reshape(cfg.luts, t_count, 1)
        return PreparedWeights(self.cfg, n, m, t_count, flat.to(torch.int32).contiguous())

    def _prepare_operands(self, operands: torch.Tensor) -> PreparedWeights:
        cfg = self.cfg
        n, m = operands.shape
        t_count = -(-n // cfg.tile_n)
        w = torch.zeros((t_count * cfg.tile_n, m), dtype=torch.int64, device=operands.device)
        w[:n] = operands.to(torch.int64)
        return PreparedWeights(self.cfg, n, m, t_count, w.reshape(t_count, cfg.tile_n, m))

    def _run(self, a: torch.Tensor, prepared: PreparedWeights) -> torch.Tensor:
        """The datapath on checked int64 activations ``(N,)``: ``y`` ``(M,)`` int64."""
        cfg = self.cfg
        a = a.to(prepared.device)
        rows = prepared.t_count * (cfg.tile_n if cfg.is_mac else cfg.luts * cfg.mu)
        padded = torch.zeros(rows, dtype=torch.int64, device=a.device)
        padded[: a.shape[0]] = a
        if cfg.is_mac:
            products = self.multiply(padded.reshape(prepared.t_count, cfg.tile_n, 1), prepared.data)
            return self.accumulate(self.reduce(products))
        row_exp = None
        if cfg.is_blockfp:
            padded, row_exp = self.align(padded.reshape(prepared.t_count, cfg.tile_n))
        luts = self.build_luts(padded.reshape(prepared.t_count, cfg.luts, cfg.mu))  # (T, L, E+1)
        return self._lanes().gemv(luts, prepared, row_exp)

    def _lanes(self) -> _Lanes:
        if self._lanes_cache is None:
            self._lanes_cache = _Lanes(self)
        return self._lanes_cache


@dataclass(frozen=True, eq=False)
class PreparedWeights:
    """A weight matrix checked and encoded once for :meth:`ReferenceModel.gemv` (from
    :meth:`ReferenceModel.prepare`).

    Attributes
    ----------
    cfg : CoreConfig
        The core the weights were prepared for.
    n, m : int
        Matrix shape: N inputs (rows), M outputs (columns).
    t_count : int
        Input tiles T (``ceil(N / tile_n)``).
    data : torch.Tensor
        LUT cores: ``(L, T, M)`` int32 indices into the signed LUTs of all tiles (see
        ``ReferenceModel._prepare_keys``); ``mac`` cores: ``(T, tile_n, M)`` int64 weight operands
        (rows past N are +0).
    """

    cfg: CoreConfig
    n: int
    m: int
    t_count: int
    data: torch.Tensor

    @property
    def device(self) -> torch.device:
        """Device of the prepared tensors."""
        return self.data.device


class _Lanes:
    """Fetch, tree and accumulation of a LUT core on cheap lanes (see the module docstring).

    Per model: the tree's index tensors and wrap decisions, derived once from the config."""

    def __init__(self, model: ReferenceModel):
        cfg = self.cfg = model.cfg
        self.ops = model.ops
        self.fp_lanes = not cfg.int_lanes
        self.native = self.fp_lanes and cfg.act_type.fmt in _NATIVE_FP
        self.acc_native = cfg.is_fp and cfg.acc_type.fmt in _NATIVE_FP
        # Static bounds on |value| of every tree node (integer lanes), to skip wraps that cannot wrap.
        bound = [cfg.mu << (cfg.lane_width - 1)] * cfg.luts
        self.levels: list[tuple[list[int], list[int], list[int], list[int], list[int]]] = []
        # Which leaf a node passes through unchanged (None: the node is the output of an add).
        origin: list[int | None] = list(range(cfg.luts))
        widest = bound[0]
        for nodes in cfg.tree_levels:
            left, right, order = [], [], []
            adds = [node for node in nodes if node.adds]
            passes = [node for node in nodes if not node.adds]
            new_bound, new_origin, wraps = [], [], False
            for node in adds:
                left.append(node.inputs[0])
                right.append(node.inputs[1])
                b = bound[node.inputs[0]] + bound[node.inputs[1]]
                widest = max(widest, b)
                if b > (1 << (node.width - 1)) - 1:
                    wraps = True
                    b = 1 << (node.width - 1)
                new_bound.append(b)
                new_origin.append(None)
            for node in passes:
                new_bound.append(bound[node.inputs[0]])
                new_origin.append(origin[node.inputs[0]])
            position = {id(node): i for i, node in enumerate(adds + passes)}
            order = [position[id(node)] for node in nodes]
            passed = [node.inputs[0] for node in passes]
            widths = [node.width for node in adds] if wraps and not self.fp_lanes else []
            self.levels.append((left, right, passed, widths, order))
            bound = [new_bound[i] for i in order]
            origin = [new_origin[i] for i in order]
        self.root_leaf = None if cfg.is_fused else origin[0]
        self.int_dtype = torch.int32 if widest < (1 << 30) else torch.int64
        self.any_wrap = any(level[3] for level in self.levels)
        self._index_cache: dict[torch.device, list] = {}

    def _level_index(self, device: torch.device) -> list:
        """Per level: (left, right) as slices when they are the even / odd nodes, else index
        tensors; pass-through index tensor; wrap (half the range, int or per-node tensor; None:
        no wrap); output order (None when already in order)."""
        if device not in self._index_cache:
            out = []
            for left, right, passed, widths, order in self.levels:
                p = len(left)
                if left == list(range(0, 2 * p, 2)) and right == list(range(1, 2 * p, 2)):
                    lr = (slice(0, 2 * p, 2), slice(1, 2 * p, 2))
                else:
                    lr = tuple(torch.tensor(x, dtype=torch.int64, device=device) for x in (left, right))
                pt = torch.tensor(passed, dtype=torch.int64, device=device) if passed else None
                perm = None if order == list(range(len(order))) else torch.tensor(order, device=device)
                if not widths:
                    half = None  # no wrap can happen at this level
                elif len(set(widths)) == 1:
                    half = 1 << (widths[0] - 1)
                else:
                    half = torch.tensor([1 << (w - 1) for w in widths], device=device).reshape(-1, 1, 1)
                out.append((lr, pt, half, perm))
            self._index_cache[device] = out
        return self._index_cache[device]

    @staticmethod
    def _pick(x: torch.Tensor, sel) -> torch.Tensor:
        return x[sel] if isinstance(sel, slice) else x.index_select(0, sel)

    def _add(self, a: torch.Tensor, b: torch.Tensor, half) -> torch.Tensor:
        if self.fp_lanes:
            if not self.native:
                return self.ops.add(a, b)
            s = a + b
            dtype = _NATIVE_FP[self.cfg.act_type.fmt]
            return s if dtype == torch.float32 else s.to(dtype).to(torch.float32)
        s = a + b
        if half is not None:
            s = ((s + half) & (2 * half - 1)) - half
        return s

    def _signed_table(self, luts: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
        """Signed LUTs ``(L, T, 2 (E + 2))`` flattened (see ``ReferenceModel._prepare_keys``), as
        bit patterns or integers (``dtype`` None) or as lanes of ``dtype``."""
        padded = torch.cat([luts, torch.zeros_like(luts[..., :1])], dim=-1)
        table = torch.cat([padded, self.ops.neg(padded)], dim=-1).transpose(0, 1)
        if dtype is None:
            return table.reshape(-1)
        if self.native:
            table = fp_reference.native_view(table, self.cfg.act_type.fmt)
        return table.to(dtype).reshape(-1)

    def gemv(self, luts: torch.Tensor, prepared: PreparedWeights,
             row_exp: torch.Tensor | None = None) -> torch.Tensor:
        """``y`` from the LUTs ``(T, L, E + 1)`` (bit patterns or integers) of all tiles (block-FP:
        and the rows' shared exponent fields ``(T,)``)."""
        cfg = self.cfg
        flat = prepared.data
        if self.root_leaf is not None:  # no add on the way: the leaf's bits, as they are fetched
            table = self._signed_table(luts, None)
            partials = table.index_select(0, flat[self.root_leaf].reshape(-1)).reshape(flat.shape[1:])
            return self._accumulate(partials, row_exp)
        if cfg.is_fused:  # the leaves as bit patterns, into the fused adder
            table = self._signed_table(luts, None)
            x = table.index_select(0, flat.reshape(-1)).reshape(flat.shape)  # (L, T, M)
            return self._accumulate(self.ops.fused_sum(x.permute(1, 0, 2)), row_exp)
        if self.fp_lanes:
            dtype = torch.float32 if self.native else torch.int64
        else:
            dtype = self.int_dtype
        table = self._signed_table(luts, dtype)
        x = table.index_select(0, flat.reshape(-1)).reshape(flat.shape)  # leaves (L, T, M)
        if not self.fp_lanes and not self.any_wrap:
            # Integer adds that never wrap are associative: the tree sum is the plain sum (exact in
            # the lane type: it holds the root's bound).
            return self._accumulate(x.sum(dim=0, dtype=x.dtype).to(torch.int64), row_exp)
        for lr, pt, half, perm in self._level_index(x.device):
            parts = [self._add(self._pick(x, lr[0]), self._pick(x, lr[1]), half)]
            if pt is not None:
                parts.append(x.index_select(0, pt))
            x = parts[0] if len(parts) == 1 else torch.cat(parts)
            if perm is not None:
                x = x.index_select(0, perm)
        partials = x[0]
        if self.fp_lanes:
            if self.native:
                fmt = cfg.act_type.fmt
                partials = fp_reference.native_bits(partials.to(_NATIVE_FP[fmt]), fmt)
        else:
            partials = partials.to(torch.int64)
        return self._accumulate(partials, row_exp)

    def _accumulate(self, partials: torch.Tensor, row_exp: torch.Tensor | None = None) -> torch.Tensor:
        """Tile sums ``(T, M)`` (int64 bits or integers) -> ``y`` ``(M,)``, as
        :meth:`ReferenceModel.accumulate`."""
        cfg = self.cfg
        partials = self.ops.to_acc(partials, row_exp)
        if partials.shape[0] == 1:
            return self.ops.first_tile(partials[0])
        if not cfg.is_fp:  # wrapping adds at one width: wrap(sum) (modular arithmetic)
            return self.ops.wrap(partials.sum(dim=0), cfg.acc_width)
        if not self.acc_native:
            acc = self.ops.first_tile(partials[0])
            for t in range(1, partials.shape[0]):
                acc = self.ops.acc_add(acc, partials[t])
            return acc
        fmt = cfg.acc_type.fmt
        dtype = _NATIVE_FP[fmt]
        values = fp_reference.native_view(partials, fmt).to(torch.float32)
        acc = values[0]
        for t in range(1, values.shape[0]):
            acc = acc + values[t]
            if dtype != torch.float32:
                acc = acc.to(dtype).to(torch.float32)
        return fp_reference.native_bits(acc.to(dtype), fmt)
