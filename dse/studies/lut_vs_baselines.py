"""LUT core vs the signflip and multiplier (mac) baselines: area per activation type, model and synthesis.

For each activation type (fp16, bf16, int8, int4; FP accumulates in fp32) and a square tile,
compares the LUT core at the cost model's best mu with ``--arch signflip`` (no LUT reuse; the LUT
core at mu = 1) and ``--arch mac`` (a multiplier per weight, full-width weight operands). The
model prices the ``--tile`` (default 32 x 32, the seed paper's comparison); with ``--synth`` every
design at ``--synth-tile`` (default 8 x 8: synthesising 32 x 32 FP multiplier arrays takes hours on
a laptop) is also emitted and synthesised (OSU 0.18 um), next to the model's prediction for it.

    python -m dse.studies.lut_vs_baselines [--tile 32] [--synth] [--synth-tile 8] [--jobs 2] [--quick]
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from costmodel import estimate, resolve_design
from hwgen.description.config import CoreConfig

from ._common import ACTS, acc_for, output_dir, parser, print_table, pyplot, save_figure

__all__ = ["designs", "main"]

ARCHS = ("lut", "signflip", "mac")


def designs(act: str, tile: int) -> dict[str, CoreConfig]:
    """The three designs for ``act`` at a ``tile`` x ``tile`` tile, as ``hwgen emit --arch ARCH
    --act ACT --core TILE`` builds them (lut at the cost model's best mu, judged by area per
    useful MAC/cycle; the baselines at mu = 1)."""
    return {arch: resolve_design({"arch": arch, "act": act, "acc": acc_for(act), "core": tile}).config
            for arch in ARCHS}


def _synth(cfg_dict: dict) -> float:
    from costmodel.synth import synthesize
    from hwgen.gateware.emit import emit_verilog

    return synthesize(emit_verilog(CoreConfig(**cfg_dict))).area_um2


def _rows(tile: int, acts, synth: bool, jobs: int) -> pd.DataFrame:
    rows = []
    for act in acts:
        for arch, cfg in designs(act, tile).items():
            rows.append({"act": act, "arch": arch, "tile": f"{tile}x{tile}", "mu": cfg.mu, "luts": cfg.luts,
                         "keys": cfg.keys, "model_area_um2": estimate(cfg).area_um2, "config": cfg.to_dict()})
    df = pd.DataFrame(rows)
    if synth:
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            df["synth_area_um2"] = list(pool.map(_synth, df["config"]))
        df["model_error_pct"] = 100 * (df.model_area_um2 - df.synth_area_um2) / df.synth_area_um2
    for col in ("model_area_um2",) + (("synth_area_um2",) if synth else ()):
        lut = df[df.arch == "lut"].set_index("act")[col]
        df[col.replace("_area_um2", "_vs_lut")] = df[col] / df.act.map(lut)
    return df.drop(columns="config")


def _conclusion(df: pd.DataFrame, column: str, label: str) -> list[str]:
    lines = []
    for act, part in df.groupby("act", sort=False):
        r = part.set_index("arch")[column]
        order = " < ".join(r.sort_values().index)
        lines.append(f"{label} {act} {part.tile.iloc[0]}: mac / lut = {r['mac']:.2f}x, signflip / lut = "
                     f"{r['signflip']:.2f}x (smallest first: {order})")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = parser("lut_vs_baselines", __doc__)
    p.add_argument("--tile", type=int, default=32, help="model tile edge (default: %(default)s)")
    p.add_argument("--synth", action="store_true", help="also synthesise every design at --synth-tile")
    p.add_argument("--synth-tile", type=int, default=8, help="synthesised tile edge (default: %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="parallel syntheses (default: %(default)s)")
    a = p.parse_args(argv)
    for name in ("tile", "synth_tile", "jobs"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(a, name)}")
    out = output_dir(a.out)
    acts = ("fp16", "int8") if a.quick else ACTS
    model = _rows(4 if a.quick else a.tile, acts, synth=False, jobs=a.jobs)
    tables = [model]
    print_table(model,
                f"Cost model, {model.tile.iloc[0]} tile (um^2 of OSU 0.18 um cells; FP accumulates in fp32)")
    lines = _conclusion(model, "model_vs_lut", "model")
    if a.synth:
        synth = _rows(a.synth_tile, acts, synth=True, jobs=a.jobs)
        tables.append(synth)
        print_table(synth, f"Synthesised, {synth.tile.iloc[0]} tile, next to the model")
        lines += _conclusion(synth, "synth_vs_lut", "synthesis")
        lines.append("signflip and lut at mu = 1 are the same circuit; the lut column is at the best mu. "
                     f"Worst model error on these designs: {synth.model_error_pct.abs().max():.1f} %.")
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(out / "lut_vs_baselines.csv", index=False)
    _plot(table, out / "lut_vs_baselines.png")
    print("\nConclusion:")
    for line in lines:
        print("  " + line)
    print(f"\nwrote {out / 'lut_vs_baselines.csv'} and {out / 'lut_vs_baselines.png'}")
    return 0


def _plot(table: pd.DataFrame, path) -> None:
    plt = pyplot()
    panels = [("model_area_um2", t) for t in table.tile.unique()]
    if "synth_area_um2" in table:
        panels += [("synth_area_um2", t) for t in table.dropna(subset=["synth_area_um2"]).tile.unique()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (col, tile) in zip(axes[0], panels, strict=True):
        part = table[(table.tile == tile) & table[col].notna()]
        pivot = part.pivot(index="act", columns="arch", values=col).reindex(columns=list(ARCHS)) / 1e6
        pivot.plot.bar(ax=ax, rot=0)
        ax.set_ylabel("area (mm², OSU 0.18 µm cells)")
        ax.set_title(f"{'synthesised' if col.startswith('synth') else 'cost model'}, {tile} tile")
        ax.set_yscale("log")
    save_figure(fig, path)


if __name__ == "__main__":
    sys.exit(main())
