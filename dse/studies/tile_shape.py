"""Tall or wide? The best tile shape at a fixed number of weights per cycle, per activation type.

A tile reads ``n`` activations (``luts * mu``, the tile height) and writes ``K`` outputs
(``keys``, the read-out width) per cycle, ``W = n * K`` ternary weights. At fixed W, a wide tile
(K >> n) shares each LUT among many fetchers but needs K accumulators; a tall tile (n >> K)
builds more LUTs and feeds fewer, longer reduction trees. The study sweeps n = 4, 8, ..., W/4
(K = W / n) for W = 4096 (64x64) and 1024 (32x32), every mu in 1..6 for each shape (the best
mu is chosen per shape and reported), for int4, int8, fp16 and bf16 (floating point with fp32
accumulators, ``adder_stages = 0``; ``pipeline = 0``, ``reuse = 1``, ``max_n = max_m = 8192``).

The shape is ``log2(K / n)`` with n the *useful* height (``luts = ceil(n / mu)``; idle lanes
when mu does not divide n are paid for, see :mod:`dse.studies._common`), and the figure of merit
is ``area_per_mac_um2`` = area / W. The seed paper claims that FP16 favours wide read-out
(K > L*mu) and INT8 tall tiles (L*mu > K); the conclusion checks that against the model. As a
sensitivity, the floating-point formats are also priced with accumulators in the activation
format (``acc = act``, e.g. fp16/fp16), which is what the seed paper's generator has (it has no
wider FP accumulator): K accumulators per tile are what a wide tile pays for, and an fp32
accumulator costs more than an fp16 one.

Run ``python -m dse.studies.tile_shape [--out DIR] [--quick]``. Prints a table, writes
``tile_shape.csv`` (every design; ``best_mu`` marks the best mu per shape, ``best_shape`` the
best shape per act and W) and ``tile_shape.png`` to ``--out`` (default ``build/studies/tile_shape``).
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd

from ._common import (
    ACTS,
    FP_ACC,
    MUS,
    acc_for,
    argmin_rows,
    fmt_area,
    output_dir,
    parser,
    price,
    print_table,
    pyplot,
    save_figure,
    tile_grid,
)

__all__ = ["WEIGHTS", "shapes", "variants", "sweep", "conclusion", "main"]

#: Weights per cycle of the shapes compared (64x64 and 32x32).
WEIGHTS = (4096, 1024)
#: Smallest tile height and width swept.
MIN_EDGE = 4


def shapes(weights: int, min_edge: int = MIN_EDGE) -> list[tuple[int, int]]:
    """(n, K) with ``n * K == weights``, both powers of two and at least ``min_edge``, tall to wide."""
    top = int(math.log2(weights))
    if 1 << top != weights:
        raise ValueError(f"`weights` must be a power of two, got weights={weights}")
    low = int(math.log2(min_edge))
    return [(1 << i, weights >> i) for i in range(top - low, low - 1, -1)]


def variants(acts=ACTS) -> list[tuple[str, str]]:
    """(act, acc) pairs: every act with the studies' accumulator (:func:`acc_for`), then the
    floating-point acts with ``acc = act`` (the seed generator's choice)."""
    main = [(a, acc_for(a)) for a in acts]
    return main + [(a, a) for a, acc in main if acc and acc != a]


def sweep(acts=ACTS, weights=WEIGHTS, mus=MUS) -> pd.DataFrame:
    """Every (W, act, acc, shape, mu) design (see :func:`variants`), priced, with ``format``
    (``act`` or ``act/acc``), ``log2_k_over_n``, ``best_mu`` (least area per MAC/cycle over mu at
    that shape) and ``best_shape`` (least over shapes, at its best mu)."""
    parts = []
    for w in weights:
        t = price(tile_grid(variants(acts), shapes(w), mus))
        t.insert(0, "weights_per_cycle", w)
        parts.append(t)
    table = pd.concat(parts, ignore_index=True)
    table.insert(1, "format", [a if not c else f"{a}/{c}" for a, c in zip(table.act, table.acc, strict=True)])
    table["log2_k_over_n"] = np.log2(table["keys"] / table["n"]).round().astype(int)
    key = ["weights_per_cycle", "format", "n", "mu"]
    best_mu = argmin_rows(table, ["weights_per_cycle", "format", "n"], "area_per_mac_um2")
    table["best_mu"] = table.set_index(key).index.isin(best_mu.set_index(key).index)
    best_shape = argmin_rows(best_mu, ["weights_per_cycle", "format"], "area_per_mac_um2")
    table["best_shape"] = table.set_index(key).index.isin(best_shape.set_index(key).index)
    return table


def _describe(log2_ratio: int) -> str:
    return "square" if log2_ratio == 0 else ("wide, K > L*mu" if log2_ratio > 0 else "tall, L*mu > K")


#: The seed paper's shape claims: (format, sign of log2(K/n) claimed, wording).
CLAIMS = ((f"fp16/{FP_ACC}", 1, "FP16 favours wide read-out (K > L*mu)"),
          ("fp16/fp16", 1, "FP16 favours wide read-out (K > L*mu)"),
          ("int8", -1, "INT8 favours L*mu > K"))


def _curves(table: pd.DataFrame):
    """(W, format) -> area per MAC/cycle at the best mu, indexed by log2(K/n), and the best row."""
    for (w, fmt), t in table.groupby(["weights_per_cycle", "format"], sort=False):
        yield w, fmt, t[t.best_mu].set_index("log2_k_over_n").sort_index()["area_per_mac_um2"], \
            t[t.best_shape].iloc[0]


def conclusion(table: pd.DataFrame) -> str:
    """One paragraph computed from ``table`` (the output of :func:`sweep`)."""
    sentences, best_of, near = [], {}, {}
    for w in table["weights_per_cycle"].unique():
        parts = []
        for w_, fmt, curve, b in _curves(table):
            if w_ != w:
                continue
            r = int(b.log2_k_over_n)
            best_of.setdefault(fmt, []).append(r)
            square = curve.get(0, float("nan"))
            near.setdefault(fmt, []).append((w, curve.get(-2, float("nan")) / square,
                                             curve.get(2, float("nan")) / square))
            parts.append(f"{fmt} {int(b.n)}x{int(b['keys'])} ({_describe(r)}, mu={int(b.mu)}, "
                         f"{fmt_area(b.area_per_mac_um2)} per MAC/cycle, "
                         f"square {square / b.area_per_mac_um2:.3f}x)")
        sentences.append(f"Best n x K at {w} weights/cycle: " + "; ".join(parts) + ".")
    checks = []
    for fmt, side, claim in CLAIMS:
        if fmt not in best_of:
            continue
        signs = {int(np.sign(r)) for r in best_of[fmt]}
        leans = {int(np.sign(tall - wide)) for _, tall, wide in near[fmt]}  # +1: wide neighbour cheaper
        if signs == {side}:
            verdict = "agrees"
        elif -side in signs:
            verdict = "disagrees"
        elif leans == {side}:
            verdict = "square is best, but the curve leans the claimed way"
        else:
            verdict = "not confirmed, square is best"
        detail = ", ".join(f"W={w}: 4:1 tall {tall:.3f}x, 1:4 wide {wide:.3f}x of square"
                           for w, tall, wide in near[fmt])
        checks.append(f"{claim} with {fmt}: {verdict} ({detail})")
    if checks:
        sentences.append("Seed-paper claims: " + "; ".join(checks) + ".")
    wide_same = best_of.get("fp16/fp16", [])
    wide_main = best_of.get(f"fp16/{FP_ACC}", [])
    if wide_same and wide_main and min(wide_same) > 0 >= max(wide_main):
        sentences.append(f"So the accumulator format decides the FP16 answer: a tile has K accumulators "
                         f"per n*K weights, and {FP_ACC} accumulators make wide tiles dearer than fp16 ones "
                         f"do (the seed generator accumulates in the activation format).")
    spread = max(abs(x - 1) for v in near.values() for _, tall, wide in v for x in (tall, wide) if x == x)
    sentences.append(f"Near square the curves are flat: 4:1 tall or wide tiles are within {spread:.1%} of "
                     f"square for every format (the sweep steps K/n by 4x, so optima between steps are "
                     f"not seen).")
    return " ".join(sentences)


def plot(table: pd.DataFrame, path) -> None:
    plt = pyplot()
    ws = list(table["weights_per_cycle"].unique())
    fig, axes = plt.subplots(1, len(ws), figsize=(6 * len(ws), 4.2), squeeze=False)
    for ax, w in zip(axes[0], ws, strict=True):
        tw = table[(table.weights_per_cycle == w) & table.best_mu]
        for i, (fmt, ta) in enumerate(tw.groupby("format", sort=False)):
            ta = ta.sort_values("log2_k_over_n")
            same_acc = ta.acc.iloc[0] == ta.act.iloc[0]
            (line,) = ax.plot(ta["log2_k_over_n"], ta["area_per_mac_um2"], marker="o", label=fmt,
                              linestyle="--" if same_acc else "-", color=f"C{i}")
            for r in ta.itertuples():
                ax.annotate(str(r.mu), (r.log2_k_over_n, r.area_per_mac_um2), textcoords="offset points",
                            xytext=(0, 5), fontsize=7, ha="center", color=line.get_color())
            b = ta[ta.best_shape]
            ax.plot(b["log2_k_over_n"], b["area_per_mac_um2"], marker="*", markersize=15, linestyle="none",
                    color=line.get_color())
        ax.axvline(0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        ax.set_xlabel("log2(K / (L*mu))   <- tall | wide ->")
        ax.set_ylabel("area per MAC/cycle (um^2)")
        ax.set_title(f"{w} weights/cycle ({int(math.isqrt(w))}x{int(math.isqrt(w))} equivalent)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(title="act[/acc]", fontsize=8, ncols=2)
    fig.suptitle("Tile shape at fixed weights per cycle (best mu per shape, labelled; star = best shape)")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parser("tile_shape", __doc__).parse_args(argv)
    table = sweep(weights=(1024,) if args.quick else WEIGHTS)
    out = output_dir(args.out)
    table.to_csv(out / "tile_shape.csv", index=False)
    plot(table, out / "tile_shape.png")
    wide = table[table.best_mu].pivot_table(index=["weights_per_cycle", "format"], columns="log2_k_over_n",
                                            values="area_per_mac_um2", sort=False)
    wide.columns = [f"{c:+d}" for c in wide.columns]
    print_table(wide.reset_index(), "area per MAC/cycle (um^2) at the best mu, by log2(K / (L*mu))")
    columns = ["weights_per_cycle", "format", "n", "keys", "log2_k_over_n", "mu", "luts", "tile_n",
               "area_um2", "area_per_mac_um2", "fmax_mhz"]
    print_table(table[table.best_mu][columns], "best mu per shape")
    print("\nconclusion: " + conclusion(table))
    print(f"\nwrote {out / 'tile_shape.csv'} and {out / 'tile_shape.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
