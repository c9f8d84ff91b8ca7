"""Many designs at once: :class:`ConfigArrays`, one numpy array per config field, with the derived
properties of :class:`~hwgen.description.config.CoreConfig` as arrays (the cost model prices whole
tables of designs with it, and one-row instances for one design).

Where a property has an array-capable derivation in :mod:`.config` or :mod:`.tree_plan` (control
registers, stream widths, step tag, pipeline cuts, sum widths, names), both classes call it; the
rest are short formulas over the same fields, kept equal to the scalar properties by a test over
random configs (``tests/unit/test_description_validity.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np

from .config import (
    ARCHS,
    FP_FORMATS,
    FP_REDUCE_MODES,
    FP_ROUNDINGS,
    MAX_INT_WIDTH,
    MIN_INT_WIDTH,
    PIPELINE_OVERHEAD,
    STEP_FLAGS,
    ActType,
    CoreConfig,
    _too_wide,
    control_register_widths,
    default_fp_width,
    design_name,
    int_product_sum_width,
    int_sum_width,
    step_r_bits,
    stream_widths,
)
from .lut_plan import MAX_MU, key_bits, lut_plan
from .tree_plan import pipeline_cut_matrix, tree_depth

__all__ = ["FORMATS", "ConfigArrays", "resolved_fp_width"]


#: Every activation / accumulator format name, in code order: the codes of :class:`ConfigArrays`.
FORMATS = (*(f"int{w}" for w in range(MIN_INT_WIDTH, MAX_INT_WIDTH + 1)), *FP_FORMATS)


def _frozen(values) -> np.ndarray:
    out = np.array(values, np.int64)
    out.flags.writeable = False
    return out


#: Per format code: bits per value, 1 for floating point, exponent and mantissa bits (0 for integers).
_FORMAT_WIDTH = _frozen([ActType.parse(f).width for f in FORMATS])
_FORMAT_IS_FP = _frozen([f in FP_FORMATS for f in FORMATS]).astype(bool)
#: Per ``mu`` (index 0 unused): key bits and LUT build plan depth, from :mod:`.lut_plan`.
_KEY_BITS = _frozen([0] + [key_bits(m) for m in range(1, MAX_MU + 1)])
_PLAN_DEPTH = _frozen([0] + [lut_plan(m).depth for m in range(1, MAX_MU + 1)])
#: Per format code: exponent bits (0 for integers) and :func:`default_fp_width` (0 for integers).
_FORMAT_EXP_BITS = _frozen([FP_FORMATS[f].exp_bits if f in FP_FORMATS else 0 for f in FORMATS])
_FORMAT_MAN_BITS = _frozen([FP_FORMATS[f].man_bits if f in FP_FORMATS else 0 for f in FORMATS])
_DEFAULT_FP_WIDTH = _frozen([default_fp_width(f) if f in FP_FORMATS else 0 for f in FORMATS])
_BLOCKFP = FP_REDUCE_MODES.index("blockfp")
_FUSED = FP_REDUCE_MODES.index("fused")


def resolved_fp_width(fp_reduce, fp_width, act) -> np.ndarray:
    """:attr:`CoreConfig.fp_width` as the config resolves it: a block-FP row's 0 becomes
    :func:`default_fp_width` of its ``act``. Codes (``fp_reduce`` into :data:`FP_REDUCE_MODES`,
    ``act`` into :data:`FORMATS`), arrays."""
    fp_width = np.asarray(fp_width, np.int64)
    default = np.isin(np.asarray(fp_reduce), (_BLOCKFP, _FUSED)) & (fp_width == 0)
    return np.where(default, _DEFAULT_FP_WIDTH[act], fp_width)


@dataclass(frozen=True, eq=False)
class ConfigArrays:
    """The configs of many valid designs, one int64 numpy array per field, and :class:`CoreConfig`'s
    derived properties as array properties (same names, same values, one entry per design).

    Built from validated fields (:func:`hwgen.description.validity.config_arrays` for a table,
    :meth:`of` for one config). The cost model prices tables of designs with it, and the scalar
    path on one-row instances.

    Attributes
    ----------
    arch : numpy.ndarray
        Index into :data:`ARCHS`.
    act : numpy.ndarray
        Index into :data:`FORMATS` of the activation format.
    acc : numpy.ndarray
        Index into :data:`FORMATS` of the accumulator format (:attr:`CoreConfig.acc_type`: ``act``
        for integer cores).
    adder_stages, mu, luts, keys, max_n, max_m, reuse, pipeline : numpy.ndarray
        As in :class:`CoreConfig`.
    fp_reduce : numpy.ndarray
        Index into :data:`FP_REDUCE_MODES`.
    fp_width : numpy.ndarray
        :attr:`CoreConfig.fp_width`, resolved (the default of a block-FP row filled in).
    fp_round : numpy.ndarray
        Index into :data:`FP_ROUNDINGS`.
    fp_sticky : numpy.ndarray
        1 where :attr:`CoreConfig.fp_sticky`, else 0.
    """

    arch: np.ndarray
    act: np.ndarray
    acc: np.ndarray
    adder_stages: np.ndarray
    mu: np.ndarray
    luts: np.ndarray
    keys: np.ndarray
    max_n: np.ndarray
    max_m: np.ndarray
    reuse: np.ndarray
    pipeline: np.ndarray
    fp_reduce: np.ndarray
    fp_width: np.ndarray
    fp_round: np.ndarray
    fp_sticky: np.ndarray

    @classmethod
    def of(cls, *cfgs: CoreConfig) -> ConfigArrays:
        """The arrays of ``cfgs``, one row each."""
        columns = {f.name: [] for f in fields(cls)}
        for cfg in cfgs:
            codes = {"arch": ARCHS.index(cfg.arch), "act": FORMATS.index(cfg.act),
                     "acc": FORMATS.index(cfg.acc_type.name),
                     "fp_reduce": FP_REDUCE_MODES.index(cfg.fp_reduce),
                     "fp_round": FP_ROUNDINGS.index(cfg.fp_round), "fp_sticky": int(cfg.fp_sticky)}
            for name, column in columns.items():
                column.append(codes.get(name, getattr(cfg, name)))
        return cls(**{name: np.array(column, np.int64) for name, column in columns.items()})

    def __len__(self) -> int:
        return len(self.luts)

    def take(self, index) -> ConfigArrays:
        """The designs at ``index`` (an int array or a bool mask)."""
        return ConfigArrays(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def config(self, i: int) -> CoreConfig:
        """Design ``i`` as a :class:`CoreConfig` (default name)."""
        acc = FORMATS[self.acc[i]] if self.is_fp[i] else ""
        ints = {f: int(getattr(self, f)[i]) for f in ("adder_stages", "mu", "luts", "keys", "max_n", "max_m",
                                                      "reuse", "pipeline", "fp_width")}
        return CoreConfig(arch=ARCHS[self.arch[i]], act=FORMATS[self.act[i]], acc=acc, **ints,
                          fp_reduce=FP_REDUCE_MODES[self.fp_reduce[i]],
                          fp_round=FP_ROUNDINGS[self.fp_round[i]], fp_sticky=bool(self.fp_sticky[i]))

    def name(self, i: int) -> str:
        """:meth:`CoreConfig.default_name` of design ``i``."""
        fp = bool(self.is_fp[i])
        return design_name(ARCHS[self.arch[i]], FORMATS[self.act[i]], FORMATS[self.acc[i]] if fp else "",
                           int(self.mu[i]), int(self.tile_n[i]), int(self.keys[i]),
                           FP_REDUCE_MODES[self.fp_reduce[i]], int(self.fp_width[i]),
                           FP_ROUNDINGS[self.fp_round[i]], bool(self.fp_sticky[i]))

    # --- The derived properties of CoreConfig (see there) ---

    @cached_property
    def is_fp(self) -> np.ndarray:
        return _FORMAT_IS_FP[self.act]

    @cached_property
    def is_mac(self) -> np.ndarray:
        return self.arch == ARCHS.index("mac")

    @cached_property
    def act_width(self) -> np.ndarray:
        return _FORMAT_WIDTH[self.act]

    @property
    def tile_n(self) -> np.ndarray:
        return self.luts * self.mu

    @property
    def tile_m(self) -> np.ndarray:
        return self.keys

    @property
    def key_bits(self) -> np.ndarray:
        return np.where(self.is_mac, self.act_width, _KEY_BITS[self.mu])

    @property
    def max_tiles_n(self) -> np.ndarray:
        return -(-self.max_n // self.tile_n)

    @property
    def max_tiles_m(self) -> np.ndarray:
        return -(-self.max_m // self.tile_m)

    @cached_property
    def is_blockfp(self) -> np.ndarray:
        return self.fp_reduce == _BLOCKFP

    @cached_property
    def is_fused(self) -> np.ndarray:
        return self.fp_reduce == _FUSED

    @property
    def tile_sum_width(self) -> np.ndarray:
        return np.where(self.is_fused, self.acc_width, self.tree_width(self.luts))

    @cached_property
    def int_lanes(self) -> np.ndarray:
        return ~self.is_fp | self.is_blockfp

    @cached_property
    def lane_width(self) -> np.ndarray:
        return np.where(self.is_blockfp, self.fp_width, self.act_width)

    @property
    def act_exp_bits(self) -> np.ndarray:
        """Exponent bits of the ``act`` format (0 for integers)."""
        return _FORMAT_EXP_BITS[self.act]

    @property
    def act_man_bits(self) -> np.ndarray:
        """Mantissa bits of the ``act`` format (0 for integers)."""
        return _FORMAT_MAN_BITS[self.act]

    @property
    def fused_guard(self) -> np.ndarray:
        """:attr:`CoreConfig.fused_guard` of ``fused`` rows, 0 elsewhere."""
        return np.where(self.is_fused, self.fp_width - self.act_man_bits - 2, 0)

    @property
    def row_exp_bits(self) -> np.ndarray:
        return np.where(self.is_blockfp, _FORMAT_EXP_BITS[self.act], 0)

    @property
    def buffer_row_bits(self) -> np.ndarray:
        return self.tile_n * self.lane_width + self.row_exp_bits

    @cached_property
    def _int_width(self) -> np.ndarray:
        """``lane_width`` of rows with integer lanes, 2 for IEEE floating point (keeps the width
        formulas in range)."""
        return np.where(self.int_lanes, self.lane_width, 2)

    def sum_width(self, terms) -> np.ndarray:
        """Width (bits) of a sum of ``terms`` activations (:meth:`CoreConfig.entry_width` by nonzeros)."""
        return np.where(self.int_lanes, int_sum_width(terms, self._int_width), self.act_width)

    @property
    def lut_width(self) -> np.ndarray:
        return self.sum_width(self.mu)

    @property
    def product_width(self) -> np.ndarray:
        return np.where(self.is_fp, self.act_width, int_product_sum_width(1, np.where(self.is_fp, 2,
                                                                                       self.act_width)))

    def tree_width(self, terms) -> np.ndarray:
        """Width (bits) of a tree node that sums ``terms`` leaves (an int or an array per design)."""
        w = self._int_width
        terms = np.asarray(terms, np.int64)
        lut_or_mac = np.where(self.is_mac, int_product_sum_width(terms, w), int_sum_width(terms * self.mu, w))
        return np.where(self.int_lanes, lut_or_mac, self.act_width)

    @property
    def acc_width(self) -> np.ndarray:
        return np.where(self.is_fp, _FORMAT_WIDTH[self.acc],
                        int_sum_width(self.max_n, np.where(self.is_fp, 2, self.act_width)))

    @property
    def plan_depth(self) -> np.ndarray:
        """Adder depth of the LUT build plan (:attr:`LutPlan.depth`)."""
        return _PLAN_DEPTH[self.mu]

    @cached_property
    def tree_depth(self) -> np.ndarray:
        """Levels of the reduction tree, ``ceil(log2(luts))``."""
        return tree_depth(self.luts)

    @property
    def lut_build_latency(self) -> np.ndarray:
        return np.where(self.int_lanes, 0, self.plan_depth * self.adder_stages)

    @property
    def mul_latency(self) -> np.ndarray:
        return np.where(self.is_mac, self.adder_stages, 0)

    @property
    def tree_latency(self) -> np.ndarray:
        fp_tree = np.where(self.is_fused, self.adder_stages, self.tree_depth * self.adder_stages)
        return np.where(self.int_lanes, 0, fp_tree) + self.pipeline

    @property
    def acc_latency(self) -> np.ndarray:
        return self.adder_stages

    @property
    def pipeline_latency(self) -> np.ndarray:
        return (PIPELINE_OVERHEAD + self.lut_build_latency + self.mul_latency + self.tree_latency
                + self.acc_latency)

    @cached_property
    def pipeline_cuts(self) -> np.ndarray:
        """:func:`pipeline_cut_matrix`: shape ``(rows, 1 + max tree depth)``."""
        return pipeline_cut_matrix(self.tree_depth, self.pipeline)

    @property
    def step_bits(self) -> np.ndarray:
        """:attr:`CoreConfig.step_bits`: the one-bit flags and the field ``r``."""
        return len(STEP_FLAGS) + step_r_bits(self.reuse)

    @property
    def control_register_bits(self) -> np.ndarray:
        """:attr:`ControlRegisters.bits` of :attr:`CoreConfig.control_registers`."""
        widths = control_register_widths(self.max_n, self.max_m, self.max_tiles_n, self.reuse,
                                         self.acc_latency)
        return sum(width * count for width, _, count in widths.values())

    @property
    def stream_bits(self) -> dict[str, np.ndarray]:
        """:attr:`CoreConfig.stream_bits`."""
        return stream_widths(self.max_n, self.max_m, self.tile_n, self.act_width, self.luts, self.keys,
                             self.key_bits, self.acc_width)

    @property
    def emittable(self) -> np.ndarray:
        """Whether the generator can emit each design (:meth:`CoreConfig.emit_problems` is empty)."""
        return ~_too_wide(self.stream_bits)
