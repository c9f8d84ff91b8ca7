"""Are larger cores denser? Area density vs core size, and one big core vs several small ones.

For square C x C cores, C in 8, 16, 24, 32, 48, 64, 96, 128, at the best mu per (act, C)
(mu in 1..6, least area per useful MAC/cycle; see :mod:`dse.studies.best_mu`), the study
reports the area density in useful MACs/cycle/mm^2 (``density_macs_per_cycle_mm2``), the share of
the control logic (``control_share``: FSM, counters, lane masks, once per core) and the area per
useful MAC/cycle of each cost-model group (``<group>_per_mac_um2``), which shows where a larger
core saves: terms per output lane (accumulators) and per LUT shrink as 1/C per MAC, per-core
terms as 1/C^2, while the reduction tree per MAC grows slightly (C - 1 adders per C inputs).
Formats: int4, int8, fp16 and bf16 (floating point with fp32 accumulators, ``adder_stages = 0``;
``pipeline = 0``, ``reuse = 1``, ``max_n = max_m = 8192``).

Then, for each power-of-two size C, the same throughput (C*C MACs/cycle) from
``k = (C / c)^2`` cores of a smaller power-of-two size c (each at its own best mu): the
standard-cell area is ``k * area(c)``, so control, counters and output registers replicate k
times. The cores are assumed to split the outputs, so each needs the whole activation vector:
the activation SRAM (``act_buffer_bits``, not in the area) also replicates, k copies of
``max_n`` activations, unless one broadcast buffer feeds them all.

The model's clock (``fmax_mhz``, no pipeline registers) falls as the tree deepens, so the
density per second (``density_gmacs_per_s_mm2``) is reported too; the conclusion is about
density per cycle, the figure the seed paper compares at a fixed clock.

Run ``python -m dse.studies.core_size [--out DIR] [--quick]``. Prints a table, writes
``core_size.csv`` (one row per act and size), ``core_size_tiling.csv`` (k small cores vs one
big one) and ``core_size.png`` to ``--out`` (default ``build/studies/core_size``).
"""

from __future__ import annotations

import sys

import pandas as pd

from costmodel import GROUPS

from ._common import (
    ACTS,
    FP_ACC,
    MUS,
    argmin_rows,
    output_dir,
    parser,
    price,
    print_table,
    pyplot,
    save_figure,
    tile_grid,
)

__all__ = ["SIZES", "density", "tiling", "conclusion", "main"]

#: Square core sizes (tile edge C). The seed paper synthesised 8, 32, 64 and 96.
SIZES = (8, 16, 24, 32, 48, 64, 96, 128)


def density(acts=ACTS, sizes=SIZES, mus=MUS) -> pd.DataFrame:
    """One row per (act, size): the best-mu square core, its area, density and overhead share."""
    table = price(tile_grid(acts, [(c, c) for c in sizes], mus))
    best = argmin_rows(table, ["act", "n"], "area_per_mac_um2")
    best.insert(2, "size", best.pop("n"))
    best["area_mm2"] = best["area_um2"] / 1e6
    best["density_macs_per_cycle_mm2"] = best["useful_macs"] / best["area_mm2"]
    best["density_gmacs_per_s_mm2"] = best["density_macs_per_cycle_mm2"] * best["fmax_mhz"] / 1e3
    best["control_share"] = best["area_control_um2"] / best["area_um2"]
    for g in GROUPS:
        best[f"{g}_per_mac_um2"] = best[f"area_{g}_um2"] / best["useful_macs"]
    return best


def tiling(dens: pd.DataFrame) -> pd.DataFrame:
    """For each act and power-of-two size C, k = (C/c)^2 cores of each power-of-two size c <= C."""
    rows = []
    for act, t in dens.groupby("act", sort=False):
        t = t.set_index("size")
        pow2 = [c for c in t.index if c & (c - 1) == 0]
        for big in pow2:
            for small in (c for c in pow2 if c <= big and big % c == 0):
                k = (big // small) ** 2
                rows.append({
                    "act": act, "acc": t.loc[small, "acc"], "target_size": big, "macs_per_cycle": big * big,
                    "core_size": small, "cores": k, "mu": int(t.loc[small, "mu"]),
                    "total_area_mm2": k * t.loc[small, "area_mm2"],
                    "area_vs_single": k * t.loc[small, "area_um2"] / t.loc[big, "area_um2"],
                    "control_area_mm2": k * t.loc[small, "area_control_um2"] / 1e6,
                    "act_buffer_bits_total": k * int(t.loc[small, "act_buffer_bits"]),
                })
    return pd.DataFrame(rows)


def conclusion(dens: pd.DataFrame, tiles: pd.DataFrame) -> str:
    """One paragraph computed from :func:`density` and :func:`tiling`."""
    parts, monotone = [], []
    for act, t in dens.groupby("act", sort=False):
        t = t.sort_values("size")
        d = t["density_macs_per_cycle_mm2"].to_numpy()
        lo, hi = t.iloc[0], t.iloc[-1]
        peak = t.loc[t["density_macs_per_cycle_mm2"].idxmax()]
        monotone.append(bool((d[1:] >= d[:-1]).all()))
        s = t["size"].to_numpy()
        half = t[t["size"] == hi["size"] // 2]
        last_gain = (hi.density_macs_per_cycle_mm2 / half.density_macs_per_cycle_mm2.iloc[0] - 1
                     if not half.empty else float("nan"))
        saved = {g: lo[f"{g}_per_mac_um2"] - hi[f"{g}_per_mac_um2"] for g in GROUPS}
        total = sum(saved.values())
        top = sorted(saved, key=saved.get, reverse=True)[:3]
        where = ", ".join(f"{g} {saved[g] / total:.0%}" for g in top)
        grew = [g for g in GROUPS if saved[g] < -0.005 * total]
        if grew:
            where += " (" + ", ".join(f"{g} grows {-saved[g] / total:.0%}" for g in grew) + ")"
        parts.append(f"{act} {lo.density_macs_per_cycle_mm2:,.0f} -> {hi.density_macs_per_cycle_mm2:,.0f} "
                     f"MACs/cycle/mm^2 from {int(s[0])} to {int(s[-1])} "
                     f"({hi.density_macs_per_cycle_mm2 / lo.density_macs_per_cycle_mm2:.2f}x; peak at "
                     f"{int(peak['size'])}; {int(hi['size']) // 2}->{int(hi['size'])} adds {last_gain:+.1%}; "
                     f"of the {total:,.0f} um^2 per MAC/cycle saved: {where}; control "
                     f"{lo.control_share:.1%} -> {hi.control_share:.1%} of the area)")
    text = "Density per cycle vs core size: " + "; ".join(parts) + ". "
    agree = "agrees with" if all(monotone) else "only partly agrees with"
    lead = ("Larger cores are denser for every format" if all(monotone)
            else "Density is not monotonic in the core size for every format")
    text += (f"{lead} (floating point with {FP_ACC} accumulators); this {agree} the seed paper's claim "
             f"that larger cores improve area density. ")
    big = tiles[(tiles.target_size == tiles.target_size.max()) & (tiles.cores > 1)]
    if not big.empty:
        per = []
        for act, t in big.groupby("act", sort=False):
            s = t.loc[t.core_size.idxmin()]
            c = int(s.core_size)
            per.append(f"{act} {s.area_vs_single:.2f}x with {int(s.cores)} {c}x{c} cores "
                       f"({s.control_area_mm2:.2f} mm^2 of it control)")
        size = int(big.target_size.iloc[0])
        text += (f"The throughput of one {size}x{size} core from many small cores costs: " + "; ".join(per)
                 + f" -- plus, if each core buffers the whole activation vector, {int(big.cores.max())}x the "
                   f"activation SRAM. ")
    fast = dens.loc[dens.groupby("act", sort=False)["density_gmacs_per_s_mm2"].idxmax()]
    largest = int(dens["size"].max())
    moves = "moves to smaller cores (deeper trees are slower)" if (fast["size"] < largest).all() else "is at"
    text += (f"Per second, at the model's unpipelined clock, the optimum {moves}: best size "
             + ", ".join(f"{r.act} {int(r.size)} ({r.density_gmacs_per_s_mm2:.3g} GMAC/s/mm^2)"
                         for r in fast.itertuples()) + ".")
    return text


def plot(dens: pd.DataFrame, tiles: pd.DataFrame, path) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.4))
    for act, t in dens.groupby("act", sort=False):
        t = t.sort_values("size")
        ax1.plot(t["size"], t["density_macs_per_cycle_mm2"], marker="o", label=act)
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xticks(sorted(dens["size"].unique()), [str(s) for s in sorted(dens["size"].unique())])
    ax1.set_xlabel("core size C (C x C tile, activations x outputs)")
    ax1.set_ylabel("density (useful MACs/cycle per mm^2)")
    ax1.set_title("Area density vs core size (best mu per point)")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(title=f"act (FP: {FP_ACC} acc)", fontsize=8)
    target = tiles.target_size.max()
    t = tiles[tiles.target_size == target]
    for act, ta in t.groupby("act", sort=False):
        ta = ta.sort_values("core_size")
        ax2.plot(ta["core_size"], ta["area_vs_single"], marker="o", label=act)
    ax2.axhline(1.0, color="grey", linestyle="--", linewidth=0.8)
    ax2.set_xscale("log", base=2)
    ax2.set_xticks(sorted(t["core_size"].unique()),
                   [f"{c}\n({(target // c) ** 2} cores)" for c in sorted(t["core_size"].unique())])
    ax2.set_xlabel("size of each core (number of cores)")
    ax2.set_ylabel(f"area / area of one {target}x{target} core")
    ax2.set_title(f"{target * target} MACs/cycle from k equal cores")
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(title="act", fontsize=8)
    fig.suptitle("Core size study (OSU 0.18 um standard cells, activation SRAM excluded)")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parser("core_size", __doc__).parse_args(argv)
    dens = density(sizes=(8, 16, 32, 64) if args.quick else SIZES)
    tiles = tiling(dens)
    out = output_dir(args.out)
    dens.to_csv(out / "core_size.csv", index=False)
    tiles.to_csv(out / "core_size_tiling.csv", index=False)
    plot(dens, tiles, out / "core_size.png")
    print_table(dens[["act", "acc", "size", "mu", "area_mm2", "density_macs_per_cycle_mm2", "fmax_mhz",
                      "density_gmacs_per_s_mm2", "control_share"]],
                "best-mu square cores")
    target = tiles.target_size.max()
    print_table(tiles[tiles.target_size == target], f"{target * target} MACs/cycle from k cores of size c")
    print("\nconclusion: " + conclusion(dens, tiles))
    print(f"\nwrote {out / 'core_size.csv'}, {out / 'core_size_tiling.csv'} and {out / 'core_size.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
