"""Floating-point reduction modes: area per MAC/cycle, clock and GEMV error of IEEE, block-FP and fused.

For each activation format (fp16, bf16) and square core (32 x 32, 64 x 64), every reduction mode
and parameter of :attr:`hwgen.description.config.CoreConfig.fp_reduce` is priced by the cost model
and run by the bit-exact reference model (:class:`sim.reference.ReferenceModel`, verified against
the RTL by the cocotb and Amaranth-simulator regressions) on BitNet-like data
(:func:`dse.studies.fp_accuracy.bitnet_like`: Gaussian hidden states with outlier channels,
absmax 127, absmean-ternarised weights), at BitNet b1.58 2B4T's GEMV input lengths:

* ``ieee``: every LUT entry and tree node an IEEE add in the ``act`` format, tile sums widened
  exactly to the accumulator (today's cores);
* ``blockfp``: each activation row aligned once to its largest exponent into ``fp_width``-bit
  integers (swept), integer LUTs and tree, one rounding (``rne``, and ``rtz`` at each width) per
  tile sum into the accumulator;
* ``fused``: IEEE LUTs, and each output's L fetched values summed by one fused adder (aligned to
  their largest exponent with 0, 2, 4 or 8 guard bits, one rounding into the accumulator).

All designs accumulate in fp32 with combinational adders; ``ieee`` also with the ``act`` format
accumulator (``acc = act``). ``mu`` is the cost model's best for each design (least area per
useful MAC/cycle). The error of a design is ``|y - y_fp64| / sum_n |a_n w_nm|`` over the sampled
output columns and both input lengths (worst and median), against the fp64 dot product of the
same rounded activations. The Pareto set of area per MAC/cycle vs worst error is marked per
(format, core). Energy is not modelled yet (the cost model has no energy term), so it is not
reported.

Run ``python -m dse.studies.fp_reduce`` or ``dse study fp-reduce`` (``--help`` for options).
Prints the table and the headline comparison; writes ``fp_reduce.csv`` and ``fp_reduce.png``
into ``--out`` (default ``out/studies``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from costmodel import choose_mu, estimate, load_unit_costs
from dse.explore.pareto import pareto_mask
from hwgen.description.config import DEFAULT_MAX_M, DEFAULT_MAX_N, FP_FORMATS, core_config
from sim.fp_reference import from_bits
from sim.reference import ReferenceModel

from ._common import StudyParser, output_dir, pyplot, save_figure
from .fp_accuracy import SHAPES, bitnet_like

__all__ = ["designs", "measure", "main", "WIDTHS", "FUSED_GUARDS"]

#: Aligned widths of the block-FP designs swept (bits, sign included).
WIDTHS = (8, 10, 12, 14, 16, 20, 24, 32)
#: Guard bits of the fused designs swept (their aligned width is the significand, its sign and these).
FUSED_GUARDS = (0, 2, 4, 8)


def designs(acts, cores, widths=WIDTHS, guards=FUSED_GUARDS) -> list[dict]:
    """The study's designs as :func:`core_config` arguments (without ``mu``), one dict each, with a
    ``mode`` label."""
    out = []
    for act in acts:
        for core in cores:
            base = {"act": act, "core": core, "max_n": DEFAULT_MAX_N, "max_m": DEFAULT_MAX_M}
            out.append({**base, "acc": act, "mode": f"ieee acc={act}"})
            out.append({**base, "acc": "fp32", "mode": "ieee"})
            for width in widths:
                for rounding in ("rne", "rtz"):
                    out.append({**base, "acc": "fp32", "fp_reduce": "blockfp", "fp_width": width,
                                "fp_round": rounding, "mode": f"blockfp {rounding}"})
            man = FP_FORMATS[act].man_bits
            for guard in guards:
                out.append({**base, "acc": "fp32", "fp_reduce": "fused", "fp_width": man + 2 + guard,
                            "mode": "fused"})
    return out


def _errors(model: ReferenceModel, data: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Relative errors of every sampled output over the data sets."""
    errs = []
    for x, w in data:
        bits = model.encode_activations(torch.from_numpy(x))
        a = from_bits(bits, model.cfg.act_type.fmt, dtype=torch.float64)
        wt = torch.from_numpy(w)
        exact = a @ wt.double()
        scale = a.abs() @ wt.abs().double()
        y = model.decode_outputs(model.gemv(bits, model.prepare(wt)))
        rel = (y - exact).abs() / scale.clamp_min(1e-300)
        errs.append(torch.where(torch.isfinite(y), rel, torch.inf).numpy())
    return np.concatenate(errs)


def measure(params: dict, data: list[tuple[np.ndarray, np.ndarray]], costs) -> dict:
    """Price one design (its cost-model-best mu) and measure its error on ``data``."""
    kwargs = {k: v for k, v in params.items() if k != "mode"}
    mu = choose_mu(kwargs, costs=costs).mu
    cfg = core_config(**kwargs, mu=mu)
    report = estimate(cfg, costs=costs)
    useful = params["core"] ** 2
    errs = _errors(ReferenceModel(cfg), data)
    return {
        "act": cfg.act, "core": params["core"], "mode": params["mode"], "acc": cfg.acc,
        "fp_width": cfg.fp_width, "fp_round": cfg.fp_round, "mu": cfg.mu, "name": cfg.name,
        "area_um2": report.area_um2, "area_per_mac_um2": report.area_um2 / useful,
        "fmax_mhz": report.fmax_mhz, "act_buffer_bits": report.act_buffer_bits,
        "max_rel_err": float(errs.max()), "median_rel_err": float(np.median(errs)),
        "nonfinite": int(np.isinf(errs).sum()),
    }


def mark_pareto(table: pd.DataFrame) -> pd.Series:
    """Per (act, core): the designs no other design beats in both area per MAC/cycle and worst error."""
    pareto = pd.Series(False, index=table.index)
    for _, group in table.groupby(["act", "core"]):
        points = group[["area_per_mac_um2", "max_rel_err"]].to_numpy()
        pareto[group.index] = pareto_mask(points, ("minimize", "minimize"))
    return pareto


def headline(table: pd.DataFrame) -> pd.DataFrame:
    """Per (act, core) and mode (``blockfp``, ``fused``): today's ``ieee`` core with fp32
    accumulation, the smallest design of the mode whose worst error is no larger, and the area ratio
    between them (NaN where no design of the mode is as accurate)."""
    rows = []
    for (act, core), group in table.groupby(["act", "core"]):
        ieee = group[group["mode"] == "ieee"].iloc[0]
        for mode in ("blockfp", "fused"):
            ok = group[group["mode"].str.startswith(mode) & (group.max_rel_err <= ieee.max_rel_err)]
            best = ok.loc[ok.area_per_mac_um2.idxmin()] if len(ok) else None
            rows.append({
                "act": act, "core": core, "mode": mode, "ieee_area_per_mac_um2": ieee.area_per_mac_um2,
                "ieee_max_rel_err": ieee.max_rel_err,
                "design": best["name"] if best is not None else "",
                "area_per_mac_um2": best.area_per_mac_um2 if best is not None else np.nan,
                "max_rel_err": best.max_rel_err if best is not None else np.nan,
                "area_ratio": ieee.area_per_mac_um2 / best.area_per_mac_um2 if best is not None else np.nan,
            })
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    keys = sorted(set(zip(table.act, table.core, strict=True)))
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 4.2), squeeze=False)
    styles = {"ieee": ("black", "s"), "blockfp rne": ("tab:blue", "o"), "blockfp rtz": ("tab:orange", "^"),
              "fused": ("tab:red", "v")}
    for ax, (act, core) in zip(axes[0], keys, strict=True):
        group = table[(table.act == act) & (table.core == core)]
        for mode, sub in group.groupby("mode"):
            color, marker = styles.get(mode, ("tab:gray", "D"))
            ax.scatter(sub.area_per_mac_um2, sub.max_rel_err, c=color, marker=marker, label=mode, s=28)
            if mode.startswith(("blockfp", "fused")):
                for r in sub.itertuples():
                    ax.annotate(str(r.fp_width), (r.area_per_mac_um2, r.max_rel_err), fontsize=6,
                                xytext=(3, 2), textcoords="offset points")
        front = group[group.pareto].sort_values("area_per_mac_um2")
        ax.step(front.area_per_mac_um2, front.max_rel_err, where="post", color="tab:green", lw=1,
                label="Pareto set")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{act}, {core} x {core}", fontsize=10)
        ax.set_xlabel("area per MAC/cycle (um^2)")
        ax.grid(alpha=0.3, which="both")
    axes[0][0].set_ylabel("worst |y - y_fp64| / sum|a w|")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("FP reduction modes on BitNet-like GEMVs (labels: aligned width)", fontsize=10)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = StudyParser(prog="python -m dse.studies.fp_reduce", description=__doc__.split("\n")[0])
    p.add_argument("--acts", default="fp16,bf16", help="activation formats (default: %(default)s)")
    p.add_argument("--cores", default="32,64", help="square core sizes (default: %(default)s)")
    p.add_argument("--widths", default=",".join(map(str, WIDTHS)),
                   help="block-FP aligned widths (default: %(default)s)")
    p.add_argument("--guards", default=",".join(map(str, FUSED_GUARDS)),
                   help="guard bits of the fused designs (default: %(default)s)")
    p.add_argument("--n", default=",".join(map(str, SHAPES)),
                   help="GEMV input lengths (default: %(default)s)")
    p.add_argument("--m", type=int, default=256,
                   help="output columns sampled per length (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the data (default: %(default)s)")
    p.add_argument("--out", default="out/studies", help="folder for CSV and PNG (default: %(default)s)")
    args = p.parse_args(argv)
    acts = args.acts.split(",")
    cores = [int(c) for c in args.cores.split(",")]
    widths = [int(w) for w in args.widths.split(",")]
    guards = [int(g) for g in args.guards.split(",")]
    lengths = [int(n) for n in args.n.split(",")]
    costs = load_unit_costs()
    data = [bitnet_like(n, args.m, seed=args.seed + i) for i, n in enumerate(lengths)]
    todo = designs(acts, cores, widths, guards)
    rows = []
    for i, params in enumerate(todo, 1):
        print(f"[{i}/{len(todo)}] {params['act']} {params['core']}x{params['core']} {params['mode']}"
              + (f" W={params['fp_width']}" if "fp_width" in params else ""), file=sys.stderr)
        rows.append(measure(params, data, costs))
    table = pd.DataFrame(rows)
    table["pareto"] = mark_pareto(table)
    out = output_dir(args.out)
    table.to_csv(out / "fp_reduce.csv", index=False)
    plot(table, out / "fp_reduce.png")
    cols = ["act", "core", "mode", "fp_width", "mu", "area_per_mac_um2", "fmax_mhz", "max_rel_err",
            "median_rel_err", "pareto"]
    with pd.option_context("display.width", 180, "display.float_format", "{:.4g}".format):
        print(table[cols].to_string(index=False))
        print("\nsmallest design of each mode no less accurate (worst error) than the ieee core with fp32 "
              "accumulation:")
        print(headline(table).to_string(index=False))
    print(f"\nwrote {out / 'fp_reduce.csv'} and {out / 'fp_reduce.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
