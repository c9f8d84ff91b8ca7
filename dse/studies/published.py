"""Published ternary LUT designs re-evaluated: their area vs the least area at equal throughput.

For each preset in ``designs/published/*.toml`` (its ``[core]`` read with
:func:`hwgen.description.config.load_design`, its ``[source]`` printed), with ``T = luts * mu * keys``
MACs/cycle, the study sweeps every LUT core of the same activation / accumulator type,
``max_n``, ``max_m`` and ``reuse = 1``, with mu in 1..6, pipeline in 0..2 and K in 1..T, each
with the fewest LUTs that reach T MACs/cycle, ``L = ceil(T / (mu * K))``. That is exhaustive over
all (mu, L, K) with ``L * mu * K >= T``: area grows with L and with K, so a design with more LUTs
than it needs at its (mu, K) is never the smallest, and the preset (``L * mu * K == T``) is one of
the swept points. Two optima are reported:

* ``best``: least area with ``macs_per_cycle >= T`` (at least the preset's throughput per cycle;
  it may exceed it by a few MACs when mu does not divide the tile), any clock;
* ``best_clk``: the same with a model clock at least the preset's (so MACs per second do not
  drop either); here the pipeline registers can pay off.

Both keep the preset's ``max_n`` / ``max_m`` (the integer accumulator width depends on
``max_n``). For the preset and both optima the study also gives the cycles and the time of one
BitNet b1.58 2B4T decode step (``designs/workloads/bitnet_b158_2b4t.toml``, all ternary GEMVs
of one token; a preset with ``max_n`` below the workload's largest N is priced with it raised,
and flagged). Which preset parameters are assumptions rather than taken from the source
(``[source].assumed``) is printed with each preset: the results are only as good as they are.

Run ``python -m dse.studies.published [--out DIR] [--quick]``. Prints a table, writes
``published.csv`` (one row per preset) and ``published.png`` to ``--out`` (default
``build/studies/published``). ``--quick`` sweeps K over powers of two and divisors of T only.
"""

from __future__ import annotations

import math
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel import estimate, estimate_table
from hwgen.description.config import MAX_KEYS, MAX_LUTS, CoreConfig, core_config, load_design
from hwgen.description.tree_plan import tree_depth
from hwgen.description.workload import load_workload

from ._common import MUS, output_dir, parser, print_table, pyplot, save_figure

__all__ = ["PUBLISHED", "WORKLOAD", "candidates", "study_preset", "conclusion", "main"]

_DESIGNS = Path(__file__).resolve().parents[2] / "designs"
#: Folder of the published-design presets.
PUBLISHED = _DESIGNS / "published"
#: The decode-step workload the cycles are counted on.
WORKLOAD = _DESIGNS / "workloads" / "bitnet_b158_2b4t.toml"
#: Pipeline register stages swept.
PIPELINES = (0, 1, 2)
#: Config fields compared in ``changed``.
_FIELDS = ("mu", "luts", "keys", "pipeline", "reuse", "adder_stages")


def candidates(cfg: CoreConfig, *, mus=MUS, pipelines=PIPELINES, quick: bool = False) -> pd.DataFrame:
    """The swept designs for ``cfg`` (see the module docstring), as estimate_table rows."""
    target = cfg.tile_n * cfg.keys
    if quick:
        ks = [k for k in range(1, target + 1) if target % k == 0 or k & (k - 1) == 0]
    else:
        ks = list(range(1, target + 1))
    triples = {(mu, math.ceil(target / (mu * k)), k) for mu in mus for k in ks}
    triples.add((cfg.mu, cfg.luts, cfg.keys))
    grid = pd.DataFrame(sorted(triples), columns=["mu", "luts", "keys"])
    grid = grid[(grid.luts * grid.mu <= cfg.max_n) & (grid["keys"] <= cfg.max_m) & (grid.luts <= MAX_LUTS)
                & (grid["keys"] <= MAX_KEYS)]
    grid = grid.merge(pd.DataFrame({"pipeline": list(pipelines)}), how="cross")
    depth = np.array([tree_depth(x) for x in grid.luts])
    grid = grid[grid.pipeline <= 1 + depth].reset_index(drop=True)
    grid["act"] = cfg.act
    grid["acc"] = cfg.acc if cfg.is_fp else ""
    for name in ("adder_stages", "max_n", "max_m"):
        grid[name] = getattr(cfg, name)
    grid["reuse"] = 1
    return grid


def _cfg(row, base: CoreConfig) -> CoreConfig:
    return core_config(arch=base.arch, act=base.act, acc=base.acc if base.is_fp else "",
                       adder_stages=int(row.adder_stages), mu=int(row.mu), luts=int(row.luts),
                       keys=int(row["keys"]),
                       max_n=base.max_n, max_m=base.max_m, reuse=int(row.reuse), pipeline=int(row.pipeline))


def _changed(a: CoreConfig, b: CoreConfig) -> str:
    diff = [f"{f} {getattr(a, f)}->{getattr(b, f)}" for f in _FIELDS if getattr(a, f) != getattr(b, f)]
    return ", ".join(diff) or "nothing"


def study_preset(path: Path, workload, *, quick: bool = False) -> dict:
    """One row of the study: the preset's cost, both optima, what changed and the decode cycles."""
    with Path(path).open("rb") as f:
        source = tomllib.load(f).get("source", {})
    preset = core_config(**load_design(path))
    flags = []
    if preset.max_n < workload.max_n or preset.max_m < workload.max_m:
        preset = core_config(**{**preset.to_dict(), "name": "", "max_n": max(preset.max_n, workload.max_n),
                                "max_m": max(preset.max_m, workload.max_m)})
        flags.append(f"max_n/max_m raised to {preset.max_n}/{preset.max_m} for the workload")
    target = preset.tile_n * preset.keys
    table = estimate_table(candidates(preset, quick=quick))
    gemvs = [(g.name, g.n, g.m, g.count) for g in workload.gemvs]
    # the preset's own row: the clock constraint compares the table's numbers with the table's numbers
    mine = table[(table[["mu", "luts", "keys", "pipeline"]]
                  == [preset.mu, preset.luts, preset.keys, preset.pipeline]).all(axis=1)]
    in_space = not mine.empty
    rep = estimate(preset, gemvs=gemvs)
    row = {
        "preset": Path(path).stem, "title": source.get("title", ""), "url": source.get("url", ""),
        "assumed": ",".join(source.get("assumed", [])), "act": preset.act, "macs_per_cycle": target,
        "preset_mu": preset.mu, "preset_luts": preset.luts, "preset_keys": preset.keys,
        "preset_pipeline": preset.pipeline, "preset_area_um2": rep.area_um2, "preset_fmax_mhz": rep.fmax_mhz,
        "preset_decode_cycles": rep.cycles, "preset_decode_ms": rep.cycles / rep.fmax_mhz / 1e3,
        "designs_swept": len(table), "preset_in_space": in_space, "flags": "; ".join(flags),
    }
    enough = table[table.macs_per_cycle >= target]
    fast = enough[enough.fmax_mhz >= mine.fmax_mhz.iloc[0]] if in_space else enough
    for tag, pool in (("best", enough), ("best_clk", fast)):
        b = pool.loc[pool.area_um2.idxmin()]
        cfg = _cfg(b, preset)
        r = estimate(cfg, gemvs=gemvs)
        row.update({
            f"{tag}_mu": cfg.mu, f"{tag}_luts": cfg.luts, f"{tag}_keys": cfg.keys,
            f"{tag}_pipeline": cfg.pipeline,
            f"{tag}_macs_per_cycle": cfg.tile_n * cfg.keys, f"{tag}_area_um2": r.area_um2,
            f"{tag}_fmax_mhz": r.fmax_mhz, f"{tag}_decode_cycles": r.cycles,
            f"{tag}_decode_ms": r.cycles / r.fmax_mhz / 1e3, f"{tag}_ratio": rep.area_um2 / r.area_um2,
            f"{tag}_changed": _changed(preset, cfg),
        })
    return row


def conclusion(table: pd.DataFrame) -> str:
    """One paragraph computed from ``table`` (one row per preset)."""
    parts = []
    for r in table.itertuples():
        note = f"; assumed: {r.assumed}" if r.assumed else ""
        more = (f", {r.best_macs_per_cycle} MACs/cycle" if r.best_macs_per_cycle != r.macs_per_cycle else "")
        text = (f"{r.preset} ({r.act}, {r.macs_per_cycle} MACs/cycle{note}): "
                + ("already the least-area design" if r.best_changed == "nothing" else
                   f"{r.best_ratio:.2f}x the least area ({r.best_changed}{more})"))
        if r.best_clk_changed != r.best_changed:
            more = (f", {r.best_clk_macs_per_cycle} MACs/cycle"
                    if r.best_clk_macs_per_cycle != r.macs_per_cycle else "")
            text += (f"; {r.best_clk_ratio:.2f}x the least area at no lower clock "
                     f"({r.best_clk_changed}{more})"
                     if r.best_clk_changed != "nothing" else "; already the least area at no lower clock")
        parts.append(text)
    worst = table.loc[table.best_ratio.idxmax()]
    text = ("Preset area / least area at no less throughput per cycle: " + "; ".join(parts) + ". "
            f"Largest gain: {worst.preset}, {worst.best_ratio:.2f}x (the seed paper reports up to 1.2x for "
            f"the designs it re-evaluates). ")
    text += "The least-area mu: " + ", ".join(f"{r.preset} {r.best_mu}" for r in table.itertuples()) + ". "
    change = (table.best_decode_cycles / table.preset_decode_cycles - 1).abs()
    i = change.idxmax()
    text += (f"Decode cycles of a BitNet b1.58 2B4T token change by at most {change[i]:.2%} "
             f"({table.preset[i]}): "
             f"at equal MACs/cycle only tile padding differs; time per token follows the clock "
             + ", ".join(f"{r.preset} {r.preset_decode_ms:.1f} -> {r.best_decode_ms:.1f} ms (best), "
                         f"{r.best_clk_decode_ms:.1f} ms (best_clk)" for r in table.itertuples()) + ". ")
    defaults = {"arch", "reuse", "pipeline"}
    beyond = {r.preset: sorted(set(r.assumed.split(",")) - defaults) for r in table.itertuples() if r.assumed}
    if beyond:
        text += ("Assumed rather than taken from the source ([source].assumed), besides arch/reuse/pipeline: "
                 + "; ".join(f"{p} {', '.join(a) if a else 'nothing'}" for p, a in beyond.items()) + ".")
    return text


def plot(table: pd.DataFrame, path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    x = np.arange(len(table))
    series = (("preset_area_um2", "preset"), ("best_area_um2", "best, MACs/cycle >= preset"),
              ("best_clk_area_um2", "best, clock >= preset"))
    for off, (col, label) in zip((-0.27, 0, 0.27), series, strict=True):
        bars = ax.bar(x + off, table[col] / 1e6, width=0.27, label=label)
        if col != "preset_area_um2":
            for b, ratio in zip(bars, table["preset_area_um2"] / table[col], strict=True):
                ax.annotate(f"{ratio:.2f}x", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                            va="bottom", fontsize=7, textcoords="offset points", xytext=(0, 2))
    labels = [f"{r.preset}\n{r.act}, {r.macs_per_cycle} MAC/cyc{' *' if r.assumed else ''}"
              for r in table.itertuples()]
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("standard-cell area (mm^2, OSU 0.18 um)")
    ax.set_title("Published LUT designs vs the model's least area at no less throughput\n"
                 "(labels: preset area / best area; * = preset has assumed parameters)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3, which="both")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = parser("published", __doc__)
    p.add_argument("--designs", default=str(PUBLISHED), metavar="DIR",
                   help="read the presets from DIR/*.toml (default: %(default)s)")
    p.add_argument("--workload", default=str(WORKLOAD), metavar="FILE",
                   help="count decode cycles on the workload FILE (default: %(default)s)")
    args = p.parse_args(argv)
    workload = load_workload(args.workload)
    paths = sorted(Path(args.designs).glob("*.toml"))
    if not paths:
        print(f"published: no presets in {args.designs!r}", file=sys.stderr)
        return 1
    for path in paths:
        with path.open("rb") as f:
            src = tomllib.load(f).get("source", {})
        print(f"{path.stem}: {src.get('title', '?')} -- {src.get('url', '?')}"
              f"\n    assumed: {', '.join(src.get('assumed', [])) or 'none'}")
    table = pd.DataFrame([study_preset(path, workload, quick=args.quick) for path in paths])
    out = output_dir(args.out)
    table.to_csv(out / "published.csv", index=False)
    plot(table, out / "published.png")
    show = table[["preset", "act", "macs_per_cycle", "preset_area_um2", "best_area_um2",
                  "best_macs_per_cycle", "best_ratio", "best_changed", "best_clk_ratio", "best_clk_changed"]]
    print_table(show, "area at the preset's parameters vs the least area at no fewer MACs/cycle")
    print_table(table[["preset", "preset_decode_cycles", "best_decode_cycles", "best_clk_decode_cycles",
                       "preset_fmax_mhz", "best_fmax_mhz", "best_clk_fmax_mhz", "preset_decode_ms",
                       "best_decode_ms", "best_clk_decode_ms", "flags"]],
                f"one {workload.name} decode step ({workload.total_macs:,} MACs)")
    print("\nconclusion: " + conclusion(table))
    print(f"\nwrote {out / 'published.csv'} and {out / 'published.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
