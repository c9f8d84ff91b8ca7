"""Helpers shared by the model-based architecture studies (``best_mu``, ``tile_shape``,
``core_size``, ``published``): the activation types swept, pricing of a grid of tiles with
:func:`costmodel.estimate_table`, the command-line skeleton, output folders, table printing and
the matplotlib setup.

Conventions of the studies (documented once here):

* Floating-point activations use **fp32 accumulators** (``acc = "fp32"``) and unpipelined adders
  (``adder_stages = 0``); integer accumulators are sized from ``max_n`` by the config.
* ``reuse = 1`` and ``pipeline = 0`` unless a study sweeps them: in the model, reuse only adds
  accumulators and pipeline only adds registers, so both cost area at equal MACs/cycle.
* ``max_n = max_m = 8192`` (the config defaults, enough for BitNet b1.58 2B4T, N <= 6912).
* A tile of ``n`` useful activations x ``K`` outputs with group size ``mu`` has
  ``luts = ceil(n / mu)`` LUTs, so ``tile_n = luts * mu >= n``: when ``mu`` does not divide ``n``
  the last LUT has idle lanes. Studies therefore divide the area by the *useful* MACs per cycle,
  ``n * K`` (``area_per_mac_um2``), not by the core's ``macs_per_cycle``: idle lanes are charged
  to the design that has them.
* Areas are um^2 of OSU 0.18 um standard cells, without the activation SRAM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel import estimate_table, load_unit_costs
from hwgen.description.config import DEFAULT_MAX_M, DEFAULT_MAX_N, ActType, luts_for

__all__ = ["ACTS", "FP_ACC", "MUS", "acc_for", "tile_grid", "price", "argmin_rows", "parser", "StudyParser",
           "output_dir", "print_table", "pyplot", "save_figure", "fmt_area"]

#: Activation types of the studies.
ACTS = ("int4", "int8", "fp16", "bf16")
#: Accumulator format of floating-point activations in the studies.
FP_ACC = "fp32"
#: LUT group sizes swept: ``1..max_mu``, the range the unit-cost table prices.
MUS = tuple(range(1, load_unit_costs().max_mu + 1))


def acc_for(act: str) -> str:
    """The ``acc`` field for ``act``: :data:`FP_ACC` for floating point, ``""`` (derived) for integers."""
    return FP_ACC if ActType.parse(act).kind == "fp" else ""


def tile_grid(acts, shapes, mus=MUS, **fields) -> pd.DataFrame:
    """Every (act, (n, K), mu) design: ``luts = ceil(n / mu)``, ``keys = K``.

    ``acts``: format names (accumulator from :func:`acc_for`) or ``(act, acc)`` pairs.
    ``shapes``: (useful tile height n in activations, width K in outputs) pairs. ``fields``
    override the other config columns (default: ``pipeline = 0``, ``reuse = 1``,
    ``max_n = max_m = 8192``). The result has the config columns plus ``n`` and ``useful_macs``.
    """
    rows = []
    for item in acts:
        act, acc = item if isinstance(item, tuple) else (item, acc_for(item))
        for n, k in shapes:
            for mu in mus:
                rows.append({"act": act, "acc": acc, "mu": mu, "luts": luts_for(n, mu), "keys": k,
                             "n": n})
    df = pd.DataFrame(rows)
    defaults = {"adder_stages": 0, "pipeline": 0, "reuse": 1, "max_n": DEFAULT_MAX_N, "max_m": DEFAULT_MAX_M}
    for name, value in {**defaults, **fields}.items():
        df[name] = value
    df["max_n"] = np.maximum(df["max_n"], df["luts"] * df["mu"])
    df["max_m"] = np.maximum(df["max_m"], df["keys"])
    df["useful_macs"] = df["n"] * df["keys"]
    return df


def price(grid: pd.DataFrame) -> pd.DataFrame:
    """``grid`` with the cost model's columns and ``tile_n``, ``idle_lanes`` (``tile_n - n``),
    ``area_per_mac_um2`` (area / useful MACs per cycle) and ``area_delay_um2_ns`` (that times
    the critical path: area per useful MAC per ns)."""
    priced = estimate_table(grid)
    out = grid.reset_index(drop=True).copy()
    for col in priced.columns:
        if col not in out:
            out[col] = priced[col].to_numpy()
    out["tile_n"] = out["luts"] * out["mu"]
    out["idle_lanes"] = out["tile_n"] - out["n"]
    out["area_per_mac_um2"] = out["area_um2"] / out["useful_macs"]
    out["area_delay_um2_ns"] = out["area_per_mac_um2"] * out["critical_path_ns"]
    return out


def argmin_rows(df: pd.DataFrame, by: list[str], column: str) -> pd.DataFrame:
    """The row minimising ``column`` in each ``by`` group (first one on ties), in group order."""
    return df.loc[df.groupby(by, sort=False)[column].idxmin()].reset_index(drop=True)


class StudyParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 1, as the CLIs' are
    (argparse's own: a usage block and status 2)."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message}\n")


def parser(name: str, doc: str) -> argparse.ArgumentParser:
    """The study's argument parser with ``--out`` (default ``build/studies/<name>``) and ``--quick``;
    a bad option is one line on stderr and exit status 1."""
    p = StudyParser(prog=f"python -m dse.studies.{name}", description=doc.strip().split("\n")[0])
    p.add_argument("--out", default=str(Path("build") / "studies" / name), metavar="DIR",
                   help="write the CSV and PNG to DIR (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="run a reduced sweep (seconds; for CI)")
    return p


def output_dir(path: str) -> Path:
    """Create and return the output folder."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    return out


def print_table(df: pd.DataFrame, title: str = "") -> None:
    """Print ``df`` without its index (floats to 4 significant digits)."""
    if title:
        print(f"\n{title}")
    with pd.option_context("display.width", 200, "display.max_columns", 50, "display.max_rows", 500,
                           "display.float_format", "{:.4g}".format):
        print(df.to_string(index=False))


def fmt_area(x: float) -> str:
    """An area in um^2, e.g. ``14,534 um^2``."""
    return f"{x:,.0f} um^2"


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Save ``fig`` as a PNG and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    import matplotlib.pyplot as plt

    plt.close(fig)
