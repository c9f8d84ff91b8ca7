"""Vectorised cost evaluation of a whole table of designs (pandas DataFrame) at once.

Each term of :mod:`costmodel.model` depends on a few config fields. It is priced once per
distinct combination of those fields, on a *probe* :class:`CoreConfig` that has them (other
fields at values that keep it valid), and the result is scattered back to the rows and
multiplied by the term's copy count. Per-design quantities (the core term, the clock, the
cycles) are numpy expressions over per-row config properties obtained the same way. So the
scalar :func:`costmodel.estimate` and :func:`estimate_table` run the same code on the same
description; a unit test checks that they agree on random designs.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from hwgen.description.config import DEFAULT_MAX_M, DEFAULT_MAX_N, CoreConfig
from hwgen.description.schedule import job_cycles_array

from . import model
from .unit_costs import UnitCosts, load_unit_costs

__all__ = ["estimate_table", "CONFIG_COLUMNS"]

#: Config fields a table may hold, with the default used when a column is missing.
CONFIG_COLUMNS = {"arch": "lut", "act": None, "acc": "", "mu": None, "luts": None, "keys": None, "adder_stages": 0,
                  "pipeline": 0, "reuse": 1, "max_n": DEFAULT_MAX_N, "max_m": DEFAULT_MAX_M}


def _probe(fields: dict) -> CoreConfig:
    """A valid config with ``fields`` set; the rest chosen not to constrain them."""
    mu, luts = fields.get("mu", 1), fields.get("luts", 1)
    params = {"arch": fields.get("arch", "lut"), "act": fields["act"], "mu": mu, "luts": luts, "keys": 1,
              "max_n": max(fields.get("max_n", DEFAULT_MAX_N), mu * luts), "max_m": DEFAULT_MAX_M}
    for name in ("acc", "adder_stages", "pipeline", "reuse"):
        if name in fields:
            params[name] = fields[name]
    if "max_m" in fields:
        params["max_m"] = fields["max_m"]
    elif "reuse" in fields:
        params["max_m"] = max(DEFAULT_MAX_M, fields["reuse"])
    return CoreConfig(**params)


#: Priced terms by (term name, cost table, field values): a search evaluates the same terms over
#: and over, so each is priced once per process.
_CACHE: dict[tuple, object] = {}


def _per_group(df, fields: tuple[str, ...], name: str, fn, costs: UnitCosts):
    """``fn(probe)`` evaluated once per distinct ``fields`` combination: (values, row codes)."""
    codes, uniques = _factorize(df, fields)
    cache = _CACHE.setdefault((name, id(costs), fields), {})
    values = []
    for u in uniques:
        value = cache.get(u)
        if value is None:
            value = cache[u] = fn(_probe({f: _FIELD_DECODE[f](x) for f, x in zip(fields, u)}))
        values.append(value)
    return values, codes


#: Stable integer codes of the string columns (format names), shared by all calls.
_FORMAT_CODES: dict[str, int] = {}
_FORMAT_NAMES: list[str] = []


def _format_code(name: str) -> int:
    if name not in _FORMAT_CODES:
        _FORMAT_CODES[name] = len(_FORMAT_NAMES)
        _FORMAT_NAMES.append(name)
    return _FORMAT_CODES[name]


_STRING_FIELDS = ("arch", "act", "acc")
_FIELD_DECODE = {f: (lambda x: _FORMAT_NAMES[x]) if f in _STRING_FIELDS else int for f in CONFIG_COLUMNS}


def _encoded(df) -> dict[str, np.ndarray]:
    """Each config column as int64 codes (format names via :func:`_format_code`)."""
    enc = {}
    for f in CONFIG_COLUMNS:
        col = df[f]
        if f in _STRING_FIELDS:
            cats, inv = np.unique(col.astype(str).to_numpy(), return_inverse=True)
            enc[f] = np.array([_format_code(c) for c in cats], np.int64)[inv.reshape(-1)]
        else:
            enc[f] = col.to_numpy(np.int64)
    return enc


class _Rows:
    """The table being evaluated: dense int codes of its config columns (and the value of each
    code), and the row grouping per field set."""

    def __init__(self, df):
        self.codes = _encoded(df)
        self.dense: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for f, col in self.codes.items():
            values, dense = np.unique(col, return_inverse=True)
            self.dense[f] = (values, dense.reshape(-1))
        self.groups: dict[tuple[str, ...], tuple[np.ndarray, list[tuple]]] = {}
        self.size = len(df)


def _factorize(rows: _Rows, fields):
    """Row codes and the distinct ``fields`` combinations (tuples of int codes), memoised per call.

    Dense column codes are combined in mixed radix (pairwise re-densified if the product of the
    radices could overflow int64), then made dense once more."""
    if fields not in rows.groups:
        key = np.zeros(rows.size, np.int64)
        span = 1
        for f in fields:
            values, dense = rows.dense[f]
            radix = max(1, len(values))
            if span * radix >= 1 << 62:  # re-densify before the key could overflow
                _, key = np.unique(key, return_inverse=True)
                key = key.reshape(-1)
                span = int(key.max(initial=0)) + 1
            key = key * radix + dense
            span *= radix
        _, first, codes = np.unique(key, return_index=True, return_inverse=True)
        uniques = list(zip(*(rows.codes[f][first].tolist() for f in fields)))
        rows.groups[fields] = (codes.reshape(-1), uniques)
    return rows.groups[fields]


def _column(df, fields, name, fn, costs, dtype=float):
    values, codes = _per_group(df, fields, name, fn, costs)
    return np.asarray(values, dtype=dtype)[codes]


def estimate_table(designs, *, costs: UnitCosts | None = None, n=None, m=None):
    """Predicted area (um^2, total and by group), clock and throughput of every row of ``designs``.

    ``designs``: a DataFrame (or anything ``pandas.DataFrame`` accepts) with columns ``act``, ``mu``,
    ``luts``, ``keys`` and optionally the other :data:`CONFIG_COLUMNS`. Every row must be a valid
    config (validate with :class:`CoreConfig` when in doubt; the DSE draws only valid ones).
    ``n``, ``m``: GEMV shape (scalars or columns) for a ``cycles`` column. Returns a new DataFrame:
    the config columns, ``area_um2``, ``area_<group>_um2``, ``critical_path_ns``, ``fmax_mhz``,
    ``macs_per_cycle``, ``macs_per_cycle_per_mm2``, ``weight_bits_per_cycle`` and ``cycles``.
    """
    import pandas as pd

    c = costs or load_unit_costs()
    df = pd.DataFrame(designs).reset_index(drop=True).copy()
    for name, default in CONFIG_COLUMNS.items():
        if name not in df:
            if default is None:
                raise KeyError(f"designs need a {name!r} column")
            df[name] = default
        elif default is not None and df[name].isna().any():  # rows that leave the field unset
            df[name] = df[name].fillna(default)
        if isinstance(default, int) or default is None and name not in _STRING_FIELDS:
            df[name] = df[name].astype(np.int64)
    out = df[list(CONFIG_COLUMNS)].copy()
    rows = _Rows(df)
    luts, keys, mu = (df[k].to_numpy(np.int64) for k in ("luts", "keys", "mu"))
    groups = {g: np.zeros(len(df)) for g in model.GROUPS}
    for term, mult, fields in model.TERMS:
        if term is None:
            continue
        values, codes = _per_group(rows, ("arch", *fields), term.__name__, lambda p, t=term: t(p, c), c)
        count = mult(SimpleNamespace(luts=luts, keys=keys))
        for g in model.GROUPS:
            per = np.array([v.get(g, 0.0) for v in values])[codes]
            groups[g] += count * per
    view = _row_view(rows, c)
    core = model.core_terms(view, c)
    for g, a in core.items():
        groups[g] += a
    fit = model.whole_design_fit(c)
    for g in model.GROUPS:
        groups[g] *= fit.scale[g]
    groups["control"] += model.control_features(view) @ fit.control
    area = sum(groups.values())
    out["area_um2"] = area
    for g in model.GROUPS:
        out[f"area_{g}_um2"] = groups[g]
    out["critical_path_ns"] = _column(rows, ("arch", "act", "acc", "mu", "luts", "adder_stages", "pipeline", "max_n"),
                                      "critical_path_ns", lambda p: model.critical_path_ns(p, c), c)
    out["fmax_mhz"] = 1000.0 / out["critical_path_ns"]
    out["macs_per_cycle"] = view.tile_n * keys
    out["macs_per_cycle_per_mm2"] = out["macs_per_cycle"] / (area / 1e6)
    out["weight_bits_per_cycle"] = luts * keys * view.key_bits
    out["act_buffer_bits"] = view.max_tiles_n * view.tile_n * view.act_width
    if n is not None and m is not None:
        out["cycles"] = job_cycles_array(view.tile_n, keys, view.reuse, view.acc_latency, view.pipeline_latency, n, m)
    return out


def _row_view(rows: _Rows, costs: UnitCosts) -> SimpleNamespace:
    """Per-row config properties as numpy arrays (each from a probe keyed by the fields it needs)."""
    v = SimpleNamespace()
    for name in ("luts", "keys", "mu", "reuse", "max_n", "max_m", "adder_stages", "pipeline"):
        setattr(v, name, rows.codes[name])
    derived = {
        "act_width": (("act",), lambda p: p.act_width),
        "key_bits": (("act", "mu"), lambda p: p.key_bits),
        "tile_n": (("act", "mu", "luts"), lambda p: p.tile_n),
        "max_tiles_n": (("act", "mu", "luts", "max_n"), lambda p: p.max_tiles_n),
        "lut_build_latency": (("act", "mu", "adder_stages"), lambda p: p.lut_build_latency),
        "mul_latency": (("act", "adder_stages"), lambda p: p.mul_latency),
        "tree_latency": (("act", "luts", "adder_stages", "pipeline"), lambda p: p.tree_latency),
        "acc_latency": (("act", "adder_stages"), lambda p: p.acc_latency),
        "acc_width": (("act", "acc", "mu", "luts", "max_n"), lambda p: p.acc_width),
        "pipeline_latency": (("act", "mu", "luts", "adder_stages", "pipeline"), lambda p: p.pipeline_latency),
        "step_bits": (("act", "reuse"), lambda p: p.step_bits),
        "control_register_bits": (("act", "mu", "luts", "max_n", "max_m", "reuse", "adder_stages"),
                                  lambda p: p.control_registers.bits),
    }
    for name, (fields, fn) in derived.items():
        setattr(v, name, _column(rows, ("arch", *fields), name, fn, costs, np.int64))
    return v
