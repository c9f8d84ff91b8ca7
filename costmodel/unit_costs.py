"""The unit-cost table: synthesised areas (um^2) and delays (ns) of each primitive, and the fits
the model prices components with.

The table (``designs/costs/<liberty>.json``, written by ``costmodel calibrate``) holds raw
samples only. Loading it fits, by least squares:

* integer adders / subtractors: ``area = c0 + c1 * full_bits + c2 * ext_bits`` where
  ``full_bits`` is the narrower operand's width and ``ext_bits`` the rest of the result (those
  bits only propagate a carry and a sign); delay linear in the result width;
* registers, 2:1 muxes: per bit; index muxes: per bit and way;
* fetchers: per LUT group size ``mu``, linear in the lane width (integer and FP separately);
* integer multipliers interpolated over the width;
* block-FP aligners (:class:`hwgen.gateware.components.block_align.BlockAligner`): one fit over
  every sampled format, width and row length, on the structure's counts
  (:func:`block_align_features`): area linear in the lanes, their shifter bits x stages, their
  negators and the max-tree comparators; delay linear in the max tree's depth x exponent bits,
  the shifter stages and the width;
* integer-to-FP converters of tile sums: per (format, rounding), linear in the input width;
* fused multi-term adders (:class:`hwgen.gateware.arith.FPFusedAdd`): per (format, output format),
  area linear in ``[1, terms, terms * guard, terms * ceil(log2 terms)]`` and delay in
  ``[1, ceil(log2 terms), guard]``; truncation and pipeline registers as measured ratios.

The calibration cores in the same table feed :func:`costmodel.model.whole_design_fit` (per-group
scales and the control logic).

FP adders and converters are priced per (format, stages) exactly as measured.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

__all__ = ["UnitCosts", "load_unit_costs", "DEFAULT_TABLE", "block_align_features"]

#: The committed table of the default liberty (OSU 0.18 um).
DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "designs" / "costs" / "osu018.json"


def block_align_features(exp_bits, man_bits, width, tile_n) -> tuple[np.ndarray, np.ndarray]:
    """Regressors of a block-FP aligner's area and delay (ints or arrays; last axis: features).

    Area: ``[1, tile_n, tile_n * shifter bits * data stages, tile_n * lane bits, (tile_n - 1) *
    exp_bits]``: per lane a shifter of the bits that can be non-zero (the significand, moved by at
    most the exponent range) with one mux stage per bit of a shift within it, a negator of the lane's
    live bits; the max tree's comparators. Delay: ``[1, ceil(log2(tile_n)) * exp_bits, stages,
    width]``."""
    exp_bits, man_bits, width, tile_n = (np.asarray(x, float) for x in (exp_bits, man_bits, width, tile_n))
    right = np.maximum(0.0, man_bits + 2 - width)
    stages = np.floor(np.log2(2.0 ** exp_bits - 1 + right)) + 1
    # bits that can be non-zero: the significand moved by at most the exponent range
    live = man_bits + 1 + 2.0 ** exp_bits - 2 + right
    shifter = np.minimum(np.maximum(width - 1, man_bits + 1), live)
    lane = np.minimum(width - 1, live)
    data_stages = np.minimum(stages, np.floor(np.log2(shifter)) + 1)  # the rest only zero the lane
    one = np.ones_like(width * tile_n)
    area = np.stack([one, tile_n * one, tile_n * shifter * data_stages, tile_n * lane,
                     (tile_n - 1) * exp_bits], axis=-1)
    depth = np.ceil(np.log2(np.maximum(tile_n, 1)))
    delay = np.stack([one, depth * exp_bits * one, stages * one, width * one], axis=-1)
    return area, delay


def _fused_features(terms, guard) -> tuple[np.ndarray, np.ndarray]:
    """Area and delay regressors of a fused adder (see the module docstring)."""
    depth = float(np.ceil(np.log2(max(int(terms), 1))))
    return (np.array([1.0, terms, terms * guard, terms * depth], float),
            np.array([1.0, depth, guard], float))


def _lstsq(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(np.asarray(x, float), np.asarray(y, float), rcond=None)
    return coef


@dataclass(frozen=True, eq=False)
class UnitCosts:
    """Fitted unit costs of one liberty + flow version (areas um^2, delays ns)."""

    liberty: str
    flow_version: str
    nand2_area_um2: float
    samples: tuple[dict, ...]
    #: What is computed from this table once (e.g. :func:`costmodel.model.whole_design_fit`), by name:
    #: kept on the table so that it dies with it (see :meth:`memo`).
    _memo: dict[str, object] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, name: str, make: Callable[[], object]) -> object:
        """``make()``, computed once per table and kept under ``name`` for the table's lifetime."""
        if name not in self._memo:
            self._memo[name] = make()
        return self._memo[name]

    # -- indexes and fits (computed once per table) ----------------------------------------------
    @cached_property
    def _by_kind(self) -> dict[str, list[dict]]:
        index: dict[str, list[dict]] = {}
        for sample in self.samples:
            index.setdefault(sample["kind"], []).append(sample)
        return index

    @cached_property
    def _by_params(self) -> dict[tuple, dict]:
        return {(s["kind"], *sorted((k, v) for k, v in s.items() if k not in _MEASURED)): s
                for s in self.samples if s["kind"] != "core"}

    def _of(self, kind: str) -> list[dict]:
        rows = self._by_kind.get(kind, [])
        if not rows:
            raise KeyError(f"the unit-cost table for {self.liberty} has no {kind!r} samples; re-run "
                           "`costmodel calibrate`")
        return rows

    @cached_property
    def _int_fits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per integer adder kind: (area coefficients over [1, full_bits, ext_bits], delay over
        [1, width])."""
        fits = {}
        for kind in ("int_add", "int_sub", "int_addsub"):
            rows = self._of(kind)
            w = np.array([r["width"] for r in rows], float)
            full = np.minimum(w - 1, np.array([r["b"] for r in rows], float))
            area = _lstsq(np.c_[np.ones_like(w), full, w - full], [r["area_um2"] for r in rows])
            delay = _lstsq(np.c_[np.ones_like(w), w], [r["critical_path_ns"] or 0.0 for r in rows])
            fits[kind] = (area, delay)
        return fits

    @cached_property
    def _width_fits(self) -> dict[tuple, np.ndarray]:
        """``[intercept, slope]`` over the sampled widths, per ``(kind,)`` (registers, muxes) and per
        ``(kind, mu)`` (fetchers)."""
        groups: dict[tuple, list[dict]] = {}
        for r in self.samples:
            if r["kind"] in ("reg", "mux2"):
                groups.setdefault((r["kind"],), []).append(r)
            elif r["kind"] in ("fetch_int", "fetch_fp"):
                groups.setdefault((r["kind"], r["mu"]), []).append(r)
        return {key: _lstsq(np.c_[np.ones(len(rows)), [r["width"] for r in rows]],
                            [r["area_um2"] for r in rows])
                for key, rows in groups.items()}

    def _width_fit(self, *key) -> np.ndarray:
        if key not in self._width_fits:
            self._of(key[0])  # raises, naming the missing kind
            raise KeyError(f"the unit-cost table for {self.liberty} has no {key[0]} samples for mu={key[1]}")
        return self._width_fits[key]

    def int_add_area(self, width, a_width, b_width, subtract=False, *, pair=False):
        """Area of a ``width``-bit signed add/sub of ``a_width``/``b_width``-bit operands (arrays ok);
        ``pair``: an add and a subtract on the same operands."""
        coef, _ = self._int_fits["int_addsub" if pair else "int_sub" if subtract else "int_add"]
        full = np.minimum(np.minimum(a_width, b_width), width)
        return coef[0] + coef[1] * full + coef[2] * (np.asarray(width) - full)

    def int_add_delay(self, width):
        _, dcoef = self._int_fits["int_add"]
        return dcoef[0] + dcoef[1] * np.asarray(width)

    def per_bit(self, kind: str) -> float:
        """Area per bit of ``reg`` or ``mux2`` (slope over the sampled widths)."""
        return float(self._width_fit(kind)[1])

    def index_mux_area(self, ways, width):
        """``ways``-way read of ``width`` bits: area per (way - 1) x bit, from the samples."""
        rows = self._of("index_mux")
        per = np.mean([r["area_um2"] / ((r["ways"] - 1) * r["width"]) for r in rows])
        return per * (np.asarray(ways) - 1) * np.asarray(width)

    def fetch_area(self, kind: str, mu, width):
        """One fetch lane (entry select + sign flip) of a ``mu`` LUT at ``width`` bits."""
        coef = self._width_fit(kind, int(mu))
        return coef[0] + coef[1] * np.asarray(width)

    def fetch_delay(self, kind: str, mu: int) -> float:
        rows = [r for r in self._of(kind) if r["mu"] == mu]
        return float(max(r["critical_path_ns"] or 0.0 for r in rows))

    def fp_add(self, fmt: str, stages: int, *, pair: bool = False) -> dict:
        """FP adder of ``fmt`` with ``stages`` registers (``pair``: an add and a subtract on shared
        operands)."""
        return self._lookup("fp_addsub" if pair else "fp_add", {"fmt": fmt, "stages": stages})

    def fp_convert(self, src: str, dst: str) -> dict:
        return self._lookup("fp_convert", {"src": src, "dst": dst})

    def vera_lane(self, fmt: str) -> dict:
        """One lane of the VeRA generator (:class:`hwgen.gateware.adapter.GeneratorLane`) in ``fmt``."""
        return self._lookup("vera_lane", {"fmt": fmt})

    def vera_row_key(self) -> dict:
        """The VeRA row-key unit (:class:`hwgen.gateware.adapter.RowKeyUnit`, ``fmix32``)."""
        return self._lookup("vera_row_key", {})

    def fp_mul(self, fmt: str, stages: int) -> dict:
        """FP multiplier of ``fmt`` with ``stages`` registers (``mac`` baseline)."""
        return self._lookup("fp_mul", {"fmt": fmt, "stages": stages})

    @cached_property
    def _align_fit(self) -> tuple[np.ndarray, np.ndarray]:
        from hwgen.description.config import FP_FORMATS

        rows = self._of("block_align")
        fmts = [FP_FORMATS[r["act"]] for r in rows]
        area_x, delay_x = block_align_features([f.exp_bits for f in fmts], [f.man_bits for f in fmts],
                                               [r["width"] for r in rows], [r["tile_n"] for r in rows])
        return (_lstsq(area_x, [r["area_um2"] for r in rows]),
                _lstsq(delay_x, [r["critical_path_ns"] or 0.0 for r in rows]))

    def block_align_area(self, exp_bits, man_bits, width, tile_n):
        """Area of a block-FP aligner of ``tile_n`` lanes of a format with ``exp_bits`` / ``man_bits``
        into ``width``-bit integers (arrays ok)."""
        return block_align_features(exp_bits, man_bits, width, tile_n)[0] @ self._align_fit[0]

    def block_align_delay(self, exp_bits, man_bits, width, tile_n):
        """Delay (ns) through a block-FP aligner (arrays ok)."""
        return block_align_features(exp_bits, man_bits, width, tile_n)[1] @ self._align_fit[1]

    @cached_property
    def _from_int_fits(self) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in self._of("fp_from_int"):
            groups.setdefault((r["dst"], r["rounding"]), []).append(r)
        fits = {}
        for key, rows in groups.items():
            x = np.c_[np.ones(len(rows)), [r["width"] for r in rows]]
            fits[key] = (_lstsq(x, [r["area_um2"] for r in rows]),
                         _lstsq(x, [r["critical_path_ns"] or 0.0 for r in rows]))
        return fits

    def fp_from_int(self, width, dst: str, rounding: str) -> dict:
        """A tile sum's integer-to-FP converter: ``width``-bit input, ``dst`` format, ``rounding``
        (``area_um2`` and ``critical_path_ns``, linear fits over the sampled widths)."""
        fits = self._from_int_fits
        if (dst, rounding) not in fits:
            raise KeyError(f"the unit-cost table for {self.liberty} has no fp_from_int unit into {dst} "
                           f"({rounding}); re-run `costmodel calibrate --update`")
        area, delay = fits[(dst, rounding)]
        return {"area_um2": float(area[0] + area[1] * width),
                "critical_path_ns": float(delay[0] + delay[1] * width)}

    @cached_property
    def _fused_fits(self) -> dict[tuple[str, str], dict[str, object]]:
        groups: dict[tuple[str, str], list[dict]] = {}
        for r in self._of("fp_fused"):
            groups.setdefault((r["fmt"], r["out"]), []).append(r)
        fits = {}
        for key, rows in groups.items():
            base = [r for r in rows if r["rounding"] == "rne" and r["stages"] == 0 and not r.get("sticky")]
            area_x = np.array([_fused_features(r["terms"], r["guard"])[0] for r in base])
            delay_x = np.array([_fused_features(r["terms"], r["guard"])[1] for r in base])
            area = _lstsq(area_x, [r["area_um2"] for r in base])
            delay = _lstsq(delay_x, [r["critical_path_ns"] or 0.0 for r in base])
            ref = {(r["terms"], r["guard"]): r for r in base}
            rtz = [r["area_um2"] / ref[(r["terms"], r["guard"])]["area_um2"] for r in rows
                   if r["rounding"] == "rtz" and (r["terms"], r["guard"]) in ref]
            sticky = [(r["area_um2"] / ref[(r["terms"], r["guard"])]["area_um2"],
                       r["critical_path_ns"] / ref[(r["terms"], r["guard"])]["critical_path_ns"])
                      for r in rows if r.get("sticky") and (r["terms"], r["guard"]) in ref]
            staged = [(r["area_um2"] / ref[(r["terms"], r["guard"])]["area_um2"] - 1) / r["stages"]
                      for r in rows
                      if r["stages"] > 0 and r["rounding"] == "rne" and (r["terms"], r["guard"]) in ref]
            fits[key] = {"area": area, "delay": delay, "rtz": float(np.mean(rtz)) if rtz else 1.0,
                         "per_stage": float(np.mean(staged)) if staged else 0.0,
                         "sticky": tuple(np.mean(sticky, axis=0)) if sticky else (1.0, 1.0)}
        return fits

    def fused_formats(self) -> set[tuple[str, str]]:
        """The (format, output format) pairs whose fused adders the table prices."""
        return set(self._fused_fits) if self._by_kind.get("fp_fused") else set()

    def fp_fused(self, fmt: str, out: str, terms, guard, rounding: str, stages, sticky=False) -> dict:
        """A fused adder of ``terms`` ``fmt`` values into ``out`` with ``guard`` bits (and a sticky bit
        per term), ``rounding`` and ``stages`` registers (``area_um2``; ``critical_path_ns`` of the
        unpipelined unit)."""
        fits = self._fused_fits
        if (fmt, out) not in fits:
            raise KeyError(f"the unit-cost table for {self.liberty} has no fp_fused unit of {fmt} into "
                           f"{out}; re-run `costmodel calibrate --update`")
        fit = fits[(fmt, out)]
        area_x, delay_x = _fused_features(terms, guard)
        area = float(area_x @ fit["area"]) * (fit["rtz"] if rounding == "rtz" else 1.0)
        area_ratio, delay_ratio = fit["sticky"] if sticky else (1.0, 1.0)
        return {"area_um2": area * area_ratio * (1 + fit["per_stage"] * stages),
                "critical_path_ns": float(delay_x @ fit["delay"]) * delay_ratio}

    def int_mul_area(self, width: int) -> float:
        """Signed ``width`` x ``width`` multiplier (full product), interpolated over the sampled widths."""
        rows = sorted(self._of("int_mul"), key=lambda r: r["width"])
        return float(np.interp(width, [r["width"] for r in rows], [r["area_um2"] for r in rows]))

    def int_mul_delay(self, width: int) -> float:
        rows = sorted(self._of("int_mul"), key=lambda r: r["width"])
        delays = [r["critical_path_ns"] or 0.0 for r in rows]
        return float(np.interp(width, [r["width"] for r in rows], delays))

    @cached_property
    def fanout_delay_per_log2_ns(self) -> float:
        """Delay a buffered net adds per doubling of its fanout (ns): the slope of the
        register-fanout units' critical path over log2(loads); 0 for a table without them."""
        rows = self._by_kind.get("reg_fanout", [])
        if len(rows) < 2:
            return 0.0
        x = np.log2([r["loads"] for r in rows])
        y = np.array([r["critical_path_ns"] or 0.0 for r in rows])
        return float(np.polyfit(x, y, 1)[0])

    @cached_property
    def max_mu(self) -> int:
        """The largest LUT group size the table prices: fetchers are calibrated for ``mu`` in
        ``1..max_mu`` (both number kinds); the one range every mu search of the cost model uses."""
        kinds = ("fetch_int", "fetch_fp")
        priced = [{r["mu"] for r in self._of(kind)} for kind in kinds]
        common = set.intersection(*priced)
        return max(m for m in common if set(range(1, m + 1)) <= common)

    def unpriced(self, mu: int) -> list[str]:
        """Problems (one line each, naming the parameter) that keep the table from pricing a core
        with LUT group size ``mu``; empty when it can."""
        if mu <= self.max_mu:
            return []
        return [(f"`mu` must be in [1, {self.max_mu}] for the cost model (the unit-cost table prices "
                 f"fetchers up to mu={self.max_mu}; `costmodel calibrate` makes a larger one), got mu={mu}")]

    def unpriced_reduce(self, fp_reduce: str, act: str, acc: str) -> list[str]:
        """Problems (one line) that keep the table from pricing a core's reduction mode: a ``fused``
        core whose formats have no calibrated fused adder; empty when it can."""
        if fp_reduce != "fused" or (act, acc) in self.fused_formats():
            return []
        pairs = ", ".join(f"{a}->{b}" for a, b in sorted(self.fused_formats())) or "none"
        return [(f"`fp_reduce` 'fused' is priced for act->acc {pairs} (the unit-cost table's fused adders; "
                 f"`costmodel calibrate` makes more), got act={act!r}, acc={acc!r}")]

    def cores(self) -> list[dict]:
        """The calibration cores (config dict and synthesised area)."""
        return [s for s in self.samples if s["kind"] == "core"]

    def _lookup(self, kind: str, params: dict) -> dict:
        row = self._by_params.get((kind, *sorted(params.items())))
        if row is not None:
            return row
        raise KeyError(f"the unit-cost table for {self.liberty} has no {kind} unit with {params}; "
                       "re-run `costmodel calibrate`")


#: Sample fields that are measurements, not unit parameters.
_MEASURED = ("kind", "area_um2", "critical_path_ns", "seconds", "power", "input_to_register_ns",
             "register_to_output_ns")


@lru_cache(maxsize=8)
def _load(path: str) -> UnitCosts:
    data = json.loads(Path(path).read_text())
    return UnitCosts(liberty=data["liberty"], flow_version=data["flow_version"],
                     nand2_area_um2=data["nand2_area_um2"], samples=tuple(data["samples"]))


def load_unit_costs(path: str | Path | None = None) -> UnitCosts:
    """The unit-cost table at ``path`` (default: the committed OSU 0.18 um table)."""
    p = Path(path) if path is not None else DEFAULT_TABLE
    if not p.is_file():
        raise FileNotFoundError(f"no unit-cost table at {p}; run `costmodel calibrate -o {p}`")
    return _load(str(p.resolve()))
