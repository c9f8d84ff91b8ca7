"""Which LUT group size mu gives the least area per MAC/cycle, per activation type and core size?

A larger mu lets one LUT serve more activations (fewer LUTs, fetchers and tree adders per
weight) but its build grows as (3^mu - 1)/2 entries. The study prices square C x C tiles
(``keys = C``, ``luts = ceil(C / mu)``) for C in 8, 16, 32, 64, 128 and mu in 1..6, for int4,
int8, fp16 and bf16 activations (floating point with fp32 accumulators, ``adder_stages = 0``;
``pipeline = 0``, ``reuse = 1``, ``max_n = max_m = 8192``).

The figure of merit is ``area_per_mac_um2`` = area / (C * C): the area per *useful* MAC per
cycle. When mu does not divide C, the core has ``luts * mu - C`` idle lanes; they are paid for
but not counted as throughput. ``area_delay_um2_ns`` (that times the critical path) is also
reported, because mu changes the clock; the best mu is chosen by area alone.

Run ``python -m dse.studies.best_mu [--out DIR] [--quick]``. Prints a table, writes
``best_mu.csv`` (every design; ``is_best`` marks the best mu per act and size) and
``best_mu.png`` to ``--out`` (default ``build/studies/best_mu``).
"""

from __future__ import annotations

import sys

import pandas as pd

from costmodel import GROUPS
from hwgen.description.lut_plan import lut_entries

from ._common import (
    ACTS,
    FP_ACC,
    MUS,
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

__all__ = ["SIZES", "sweep", "conclusion", "main"]

#: Square core sizes (tile edge C, activations = outputs).
SIZES = (8, 16, 32, 64, 128)
#: The size the conclusion is written about.
MAIN_SIZE = 64
#: Relative area difference below which two mu are called tied in the conclusion.
TIE = 0.01


def sweep(acts=ACTS, sizes=SIZES, mus=MUS) -> pd.DataFrame:
    """Every (act, size, mu) square design, priced; ``is_best`` marks the least ``area_per_mac_um2``
    per (act, size)."""
    table = price(tile_grid(acts, [(c, c) for c in sizes], mus))
    table.insert(2, "size", table.pop("n"))
    best = argmin_rows(table, ["act", "size"], "area_per_mac_um2")
    key = ["act", "size", "mu"]
    table["is_best"] = table.set_index(key).index.isin(best.set_index(key).index)
    return table


def conclusion(table: pd.DataFrame, main_size: int = MAIN_SIZE) -> str:
    """One paragraph computed from ``table`` (the output of :func:`sweep`)."""
    sizes = sorted(table["size"].unique())
    size = main_size if main_size in sizes else sizes[-1]
    parts = []
    gains = {}
    for act in table["act"].unique():
        t = table[(table.act == act) & (table["size"] == size)].set_index("mu")
        mu_best = int(t["area_per_mac_um2"].idxmin())
        best = t.loc[mu_best, "area_per_mac_um2"]
        gains[act] = t.loc[1, "area_per_mac_um2"] / best if 1 in t.index else float("nan")
        ties = [int(m) for m in t.index if m != mu_best and t.loc[m, "area_per_mac_um2"] <= best * (1 + TIE)]
        tie = f", tied within {TIE:.0%} with mu={','.join(map(str, ties))}" if ties else ""
        mu_ad = int(t["area_delay_um2_ns"].idxmin())
        by_size = table[(table.act == act) & table.is_best].sort_values("size")
        per_size = ", ".join(f"{int(r.size)}:{int(r.mu)}" for r in by_size.itertuples())
        parts.append(f"{act} mu={mu_best} ({fmt_area(best)} per MAC/cycle{tie}; mu=1 needs {gains[act]:.2f}x "
                     f"that; by area x delay mu={mu_ad}; best mu by size {per_size})")
    text = (f"At {size}x{size}, the best mu is: " + "; ".join(parts) + ". ")
    fp = [a for a in gains if a.startswith(("fp", "bf"))]
    ints = [a for a in gains if a.startswith("int")]
    if fp and ints:
        fp_gain = min(gains[a] for a in fp)
        int_gain = max(gains[a] for a in ints)
        agree = fp_gain > int_gain
        text += (f"LUT reuse pays off {'more' if agree else 'less'} for floating point (at least "
                 f"{fp_gain:.2f}x over mu=1, accumulating in {FP_ACC}) than for integers (at most "
                 f"{int_gain:.2f}x), so the seed paper's claim that reuse pays off for FP16 with "
                 f"diminishing returns for INT8 {'holds' if agree else 'does not hold'} in our model. ")
    never = sorted(set(table.mu) - set(table[table.is_best].mu))
    if never:
        entries = ", ".join(f"{lut_entries(m)}" for m in never)
        ratio = [g.set_index("mu").loc[never, "area_per_mac_um2"].min() / g["area_per_mac_um2"].min()
                 for _, g in table.groupby(["act", "size"])]
        verb = "is" if len(never) == 1 else "are"
        text += (f"mu={','.join(map(str, never))} ({entries} LUT entries) {verb} "
                 f"never best at any act and size (the best of them costs {min(ratio):.2f}x to "
                 f"{max(ratio):.2f}x the best mu's area). ")
    groups = [f"area_{g}_um2" for g in GROUPS]
    steps, growers = [], set()
    for act in table["act"].unique():
        t = table[(table.act == act) & (table["size"] == size)].set_index("mu")
        mu_best = int(t["area_per_mac_um2"].idxmin())
        if mu_best + 1 not in t.index:
            continue
        delta = (t.loc[mu_best + 1, groups] - t.loc[mu_best, groups]) / (size * size)
        grows = delta.idxmax()
        growers.add(grows)
        steps.append(f"{act} {grows[5:-4]} +{delta[grows]:,.0f}, "
                     f"reduction {delta['area_reduction_um2']:+,.0f}")
    if steps:
        text += f"Going one mu past the best at {size}x{size} (um^2 per MAC/cycle): " + "; ".join(steps) + "."
        if growers == {"area_fetch_um2"}:
            text += (" The fetch muxes, which select among (3^mu - 1)/2 entries in every LUT for every "
                     "output lane, outgrow the tree adders that a larger group saves.")
    return text


def plot(table: pd.DataFrame, path) -> None:
    plt = pyplot()
    sizes = sorted(table["size"].unique())
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.2 * len(sizes), 3.6), sharey=True, squeeze=False)
    for ax, size in zip(axes[0], sizes, strict=True):
        for act in table["act"].unique():
            t = table[(table.act == act) & (table["size"] == size)].sort_values("mu")
            (line,) = ax.plot(t["mu"], t["area_per_mac_um2"], marker="o", label=act)
            b = t[t.is_best]
            ax.plot(b["mu"], b["area_per_mac_um2"], marker="*", markersize=14, color=line.get_color(),
                    linestyle="none")
        ax.set_yscale("log")
        ax.set_title(f"{size}x{size} core")
        ax.set_xlabel("LUT group size mu")
        ax.set_xticks(sorted(table["mu"].unique()))
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("area per useful MAC/cycle (um^2)")
    axes[0][-1].legend(title=f"act (FP: {FP_ACC} acc)", fontsize=8)
    fig.suptitle("Area per MAC/cycle vs LUT group size (OSU 0.18 um, star = best mu)")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parser("best_mu", __doc__).parse_args(argv)
    sizes = (16, 64) if args.quick else SIZES
    table = sweep(sizes=sizes)
    out = output_dir(args.out)
    columns = ["act", "acc", "size", "mu", "luts", "keys", "tile_n", "idle_lanes", "area_um2", "useful_macs",
               "area_per_mac_um2", "critical_path_ns", "fmax_mhz", "area_delay_um2_ns", "is_best"]
    table.to_csv(out / "best_mu.csv", index=False)
    plot(table, out / "best_mu.png")
    wide = table.pivot_table(index=["act", "size"], columns="mu", values="area_per_mac_um2", sort=False)
    wide.columns = [f"mu={m}" for m in wide.columns]
    best = table[table.is_best].set_index(["act", "size"])
    wide["best_mu"] = best["mu"]
    wide["fmax_mhz@best"] = best["fmax_mhz"]
    print_table(wide.reset_index(), "area per useful MAC/cycle (um^2) by mu; best mu per act and size")
    print_table(table[table["size"] == (MAIN_SIZE if MAIN_SIZE in sizes else sizes[-1])][columns],
                "all designs at the main size")
    print("\nconclusion: " + conclusion(table))
    print(f"\nwrote {out / 'best_mu.csv'} and {out / 'best_mu.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
