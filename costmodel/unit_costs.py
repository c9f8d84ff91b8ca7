"""The unit-cost table: synthesised areas (um^2) and delays (ns) of each primitive, and the fits
the model prices components with.

The table (``designs/costs/<liberty>.json``, written by ``costmodel calibrate``) holds raw
samples only. Loading it fits, by least squares:

* integer adders / subtractors: ``area = c0 + c1 * full_bits + c2 * ext_bits`` where
  ``full_bits`` is the narrower operand's width and ``ext_bits`` the rest of the result (those
  bits only propagate a carry and a sign); delay linear in the result width;
* registers, 2:1 muxes: per bit; index muxes: per bit and way;
* fetchers: per LUT group size ``mu``, linear in the lane width (integer and FP separately);
* integer multipliers interpolated over the width.

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

__all__ = ["UnitCosts", "load_unit_costs", "DEFAULT_TABLE"]

#: The committed table of the default liberty (OSU 0.18 um).
DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "designs" / "costs" / "osu018.json"


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

    def fp_mul(self, fmt: str, stages: int) -> dict:
        """FP multiplier of ``fmt`` with ``stages`` registers (``mac`` baseline)."""
        return self._lookup("fp_mul", {"fmt": fmt, "stages": stages})

    def int_mul_area(self, width: int) -> float:
        """Signed ``width`` x ``width`` multiplier (full product), interpolated over the sampled widths."""
        rows = sorted(self._of("int_mul"), key=lambda r: r["width"])
        return float(np.interp(width, [r["width"] for r in rows], [r["area_um2"] for r in rows]))

    def int_mul_delay(self, width: int) -> float:
        rows = sorted(self._of("int_mul"), key=lambda r: r["width"])
        delays = [r["critical_path_ns"] or 0.0 for r in rows]
        return float(np.interp(width, [r["width"] for r in rows], delays))

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
_MEASURED = ("kind", "area_um2", "critical_path_ns", "seconds")


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
