"""Summarise the Pareto fronts of explorer studies (the tables of docs/findings.md, "Design-space
exploration").

For each study file given, reads its two studies from their default storages (run them first):
the sampler's (``dse run FILE``) and the exhaustive sweep's (``dse run FILE --sampler exhaustive``),
and prints one markdown table row per study: the exact front's size, its best tokens/s within the
constraints and the smallest design that reaches 90 % of it, what the front's designs are made of
(mu, tile, cores, bound), and how close the sampler's front came (hypervolume ratio, reference
point: the area budget and 0 tokens/s).

Run from the repository root (where ``build/dse`` is)::

    python scripts/summarise_fronts.py designs/studies/bitnet2b_*.toml
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _front(name: str):
    import dse.explore as explore

    res = explore.show(name, plot=False)
    return res.spec, res.frame, res.pareto


def _design(row) -> str:
    tile = f"{int(row['luts'] * row['mu'])}x{int(row['keys'])}"
    defaults = {"reuse": 1, "pipeline": 0, "adder_stages": 0}
    extra = "".join(f" {k}={int(row[k])}" for k, d in defaults.items() if k in row and int(row[k]) != d)
    return f"mu{int(row['mu'])} L{int(row['luts'])} {tile}{extra} x{int(row['cores'])}"


def summarise(path: Path) -> dict:
    """The summary of one study file (see the module docstring)."""
    from dse.explore.pareto import hypervolume_2d
    from dse.explore.spec import load_study

    spec = load_study(path)
    _, _, exact = _front(f"{spec.name}-exhaustive")
    _, frame, _ = _front(spec.name)
    budget = next((c.max for c in spec.constraints if c.metric == "area_mm2" and c.max is not None), None)
    reference = (budget if budget is not None else float(exact["area_mm2"].max()), 0.0)
    directions = spec.directions
    objectives = [m for m, _ in spec.objectives]
    hv_exact = hypervolume_2d(exact[objectives].to_numpy(float), directions, reference)
    done = frame[frame["feasible"]]
    hv_sampler = hypervolume_2d(done[objectives].to_numpy(float), directions, reference)
    best = exact["tokens_per_s"].max()
    knee = exact[exact["tokens_per_s"] >= 0.9 * best].sort_values("area_mm2").iloc[0]
    top = exact.sort_values("tokens_per_s").iloc[-1]
    return {
        "study": spec.name,
        "bandwidth_gbps": spec.fixed.get("bandwidth_gbps"),
        "front": len(exact),
        "best_tokens_per_s": best,
        "best_design": _design(top),
        "best_area_mm2": top["area_mm2"],
        "best_bound": top["bound"],
        "knee_design": _design(knee),
        "knee_area_mm2": knee["area_mm2"],
        "knee_tokens_per_s": knee["tokens_per_s"],
        "front_mu": dict(sorted(Counter(int(m) for m in exact["mu"]).items())),
        "front_cores": dict(sorted(Counter(int(c) for c in exact["cores"]).items())),
        "front_memory_bound": int((exact["bound"] == "memory").sum()),
        "sampler": spec.sampler,
        "sampler_trials": int(frame["state"].isin(["COMPLETE", "PRUNED"]).sum()),
        "hv_ratio": hv_sampler / hv_exact if hv_exact else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="study files (their studies must have been run)")
    args = p.parse_args(argv)
    rows = [summarise(f) for f in args.files]
    print("| study | GB/s | exact front | best tokens/s (design, mm^2, bound) | 90 % of it from "
          "(design, mm^2, tokens/s) | mu on the front | cores on the front | memory-bound on the front | "
          "sampler's HV ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        best = (f"{r['best_tokens_per_s']:.1f} ({r['best_design']}, {r['best_area_mm2']:.2f}, "
                f"{r['best_bound']})")
        knee = f"{r['knee_design']}, {r['knee_area_mm2']:.2f}, {r['knee_tokens_per_s']:.1f}"
        hv = f"{r['hv_ratio']:.4f} ({r['sampler']}, {r['sampler_trials']} trials)"
        print(f"| {r['study']} | {r['bandwidth_gbps']:g} | {r['front']} | {best} | {knee} | "
              f"{r['front_mu']} | {r['front_cores']} | {r['front_memory_bound']} | {hv} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
