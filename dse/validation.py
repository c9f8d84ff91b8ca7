"""Out-of-sample validation of the cost model: random designs, synthesised, against the prediction.

``costmodel validate`` draws designs at random from the whole space (activation int4 / int8 /
fp16 / bf16, mu 1..max_mu of the unit-cost table, L and K with tiles up to 64 x 64, tree
pipeline depths, FP adder stages and accumulators, reuse, buffer sizes), skipping the calibration
cores, synthesises each one with the same flow as the calibration, and compares its area and critical
path with :func:`costmodel.estimate`. With ``--simulate K`` the K smallest designs also run the cocotb
cycle-count test: the measured cycles of every job must equal the model's.

Writes ``validation.csv`` (one row per design) and ``validation.png`` (predicted vs synthesised
area) into the output folder and prints the table, the MAPE and the worst error.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from costmodel import estimate, load_unit_costs
from costmodel.synth import synthesize
from hwgen.description.config import FP_FORMATS, ConfigError, CoreConfig
from hwgen.description.tree_plan import tree_depth

from .calibration import CALIBRATION_CORES
from .progress import progress_bar

__all__ = ["draw_designs", "draw_large", "validate", "summarise"]

ACTS = ("int4", "int8", "fp16", "bf16")
#: Activation formats of a block-FP draw, and its aligned widths.
BLOCKFP_ACTS = ("fp16", "bf16")
BLOCKFP_WIDTHS = (8, 32)


#: Activation formats, tile sides, group sizes and the area cap (um^2, model) of the large designs
#: of a draw (``large=``): the group sizes the model picks for integer cores, and at most the size of
#: the 64 x 64 int8 headline core (larger ones exhaust the WebAssembly Yosys' memory).
LARGE_ACTS = ("int4", "int8")
LARGE_TILE = (32, 64)
LARGE_MU = (1, 3)
LARGE_MAX_AREA_UM2 = 15e6


def _calibration_keys() -> set[str]:
    """The calibration cores as config keys (a validation draw never takes one)."""
    return {json.dumps(CoreConfig(**p).to_dict(), sort_keys=True) for p in CALIBRATION_CORES}


def draw_large(count: int, *, seed: int = 0, exclude: set[str] = frozenset()) -> list[CoreConfig]:
    """``count`` distinct random integer cores with both tile sides in :data:`LARGE_TILE`, mu in
    :data:`LARGE_MU` and a predicted area under :data:`LARGE_MAX_AREA_UM2` (the shapes beyond the
    area cap of the standard draw, where the model used to drift).

    A separate random stream (seeded ``seed + 1_000_003``), so adding large designs leaves the
    standard draw of the same seed unchanged; ``exclude``: config keys already drawn."""
    rng = np.random.default_rng(seed + 1_000_003)
    costs = load_unit_costs()
    out, seen = [], set(exclude)
    lo, hi = LARGE_TILE
    while len(out) < count:
        act = LARGE_ACTS[rng.integers(len(LARGE_ACTS))]
        mu = int(rng.integers(LARGE_MU[0], LARGE_MU[1] + 1))
        luts = int(rng.integers(-(-lo // mu), hi // mu + 1))
        keys = int(rng.integers(lo, hi + 1))
        reuse = int(rng.integers(1, 5))
        cfg = CoreConfig(act=act, mu=mu, luts=luts, keys=keys, reuse=reuse,
                         pipeline=int(rng.integers(0, 2 + tree_depth(luts))),
                         max_n=max(4096, luts * mu), max_m=max(4096, keys * reuse))
        key = json.dumps(cfg.to_dict(), sort_keys=True)
        if key not in seen and estimate(cfg, costs=costs).area_um2 <= LARGE_MAX_AREA_UM2:
            seen.add(key)
            out.append(cfg)
    return out


def draw_designs(count: int, *, seed: int = 0, max_area_um2: float | None = None,
                 max_tile: int = 64, fp_reduce: str = "ieee") -> list[CoreConfig]:
    """``count`` distinct random designs, none of them a calibration core.

    ``max_area_um2`` rejects designs the model predicts larger (synthesis time grows with area);
    the draw itself is uniform over activation type, mu (``1..max_mu`` of the unit-cost table),
    pipeline depth and FP options, and log-uniform over the tile sides (1..``max_tile``).
    ``fp_reduce="blockfp"`` draws block-FP cores instead: activations :data:`BLOCKFP_ACTS`, the
    aligned width uniform in :data:`BLOCKFP_WIDTHS` and either rounding; ``"fused"`` fused cores
    (the same formats, 0..8 guard bits, either rounding, ``pipeline`` 0, at most 64 LUTs). The
    integer and ``ieee`` draw is unchanged by the option.

    Raises
    ------
    ConfigError
        When ``max_area_um2`` leaves too few designs to draw ``count`` of them.
    """
    rng = np.random.default_rng(seed)
    costs = load_unit_costs()
    calibration = _calibration_keys()
    seen, out = set(), []
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 200 * count:
            raise ConfigError([(
                f"`max_area_um2` leaves too few designs: could not draw {count} distinct designs "
                f"under {max_area_um2:g} um^2 in {200 * count} attempts (raise it or draw fewer), "
                f"got max_area_um2={max_area_um2:g}"
            )])
        blockfp = fp_reduce in ("blockfp", "fused")
        acts = BLOCKFP_ACTS if blockfp else ACTS
        act = acts[rng.integers(len(acts))]
        mu = int(rng.integers(1, costs.max_mu + 1))
        max_luts = max(1, max_tile // mu)
        luts = int(np.clip(round(math.exp(rng.uniform(0, math.log(max_luts)))), 1, max_luts))
        keys = int(np.clip(round(math.exp(rng.uniform(0, math.log(max_tile)))), 1, max_tile))
        fp = act.startswith(("fp", "bf"))
        params = {
            "act": act, "mu": mu, "luts": luts, "keys": keys,
            "pipeline": int(rng.integers(0, 2 + tree_depth(luts))),
            "reuse": int(rng.integers(1, 5)),
            "max_n": int(rng.choice([256, 1024, 4096, 8192])),
            "max_m": int(rng.choice([256, 1024, 4096, 8192])),
        }
        if fp:
            params["adder_stages"] = int(rng.integers(0, 4))
            params["acc"] = str(rng.choice([act, "fp32"]))
        if fp_reduce == "blockfp":
            params["fp_reduce"] = "blockfp"
            params["fp_width"] = int(rng.integers(BLOCKFP_WIDTHS[0], BLOCKFP_WIDTHS[1] + 1))
            params["fp_round"] = str(rng.choice(["rne", "rtz"]))
        elif fp_reduce == "fused":
            params["fp_reduce"] = "fused"
            params["fp_width"] = FP_FORMATS[act].man_bits + 2 + int(rng.integers(0, 9))
            params["fp_round"] = str(rng.choice(["rne", "rtz"]))
            params["pipeline"] = 0
        params["max_n"] = max(params["max_n"], luts * mu)
        params["max_m"] = max(params["max_m"], keys * params["reuse"])
        cfg = CoreConfig(**params)
        key = json.dumps(cfg.to_dict(), sort_keys=True)
        if key in seen or key in calibration:
            continue
        if max_area_um2 is not None and estimate(cfg, costs=costs).area_um2 > max_area_um2:
            continue
        seen.add(key)
        out.append(cfg)
    return out


def _synth_one(cfg_dict: dict, timeout_s: float | None) -> dict:
    from costmodel.synth import SynthError
    from hwgen.gateware.emit import emit_verilog

    cfg = CoreConfig(**cfg_dict)
    try:
        report = synthesize(emit_verilog(cfg), timeout_s=timeout_s, power=True)
    except SynthError as exc:
        return {"synth_error": str(exc).splitlines()[0]}
    power = report.power or {}
    return {"synth_area_um2": report.area_um2, "synth_critical_path_ns": report.critical_path_ns,
            "synth_seconds": report.seconds, "memory_bits": report.memory_bits,
            "synth_energy_pj_per_cycle": power.get("energy_pj_per_cycle", math.nan),
            "synth_power_mw": power.get("total_mw", math.nan)}


def _simulate(cfg: CoreConfig) -> list[dict]:
    from sim.runner import run_cocotb

    result = run_cocotb(cfg, testcase="test_unstalled_cycle_count", check=False)
    model = {}
    rows = []
    for job in result.jobs:
        shape = (job["n"], job["m"])
        if shape not in model:
            model[shape] = estimate(cfg, gemvs=[("job", *shape, 1)]).cycles
        rows.append({"n": job["n"], "m": job["m"], "measured": job["cycles"], "model": model[shape]})
    if not rows:
        raise RuntimeError(f"{cfg.name}: the cocotb run recorded no jobs:\n{result.summary()}")
    return rows


def validate(count: int = 30, *, seed: int = 0, jobs: int = 1, simulate: int = 0,
             out_dir: Path = Path("build/validation"), max_area_um2: float | None = None,
             timeout_s: float | None = None, progress: bool = True, fp_reduce: str = "ieee",
             large: int = 0):
    """Run the validation; returns the per-design table (pandas DataFrame).

    ``large``: also ``large`` designs of :func:`draw_large` (tiles of 32 x 32 and more, not
    subject to ``max_area_um2``).

    Results are written to ``validation.partial.csv`` as each synthesis finishes (and the synthesis
    cache keeps them), so an interrupted run loses nothing; a design whose synthesis fails or runs
    past ``timeout_s`` is reported in ``synth_error`` and left out of the error statistics."""
    import pandas as pd

    costs = load_unit_costs()
    designs = draw_designs(count, seed=seed, max_area_um2=max_area_um2, fp_reduce=fp_reduce)
    if large:
        designs += draw_large(large, seed=seed, exclude=_calibration_keys()
                              | {json.dumps(c.to_dict(), sort_keys=True) for c in designs})
    rows = []
    for i, cfg in enumerate(designs):
        rep = estimate(cfg, costs=costs)
        rows.append({"design": i, "name": cfg.name, "act": cfg.act, "acc": cfg.acc, "mu": cfg.mu,
                     "luts": cfg.luts, "keys": cfg.keys, "tile": f"{cfg.tile_n}x{cfg.tile_m}",
                     "adder_stages": cfg.adder_stages, "pipeline": cfg.pipeline, "reuse": cfg.reuse,
                     "fp_reduce": cfg.fp_reduce, "fp_width": cfg.fp_width, "fp_round": cfg.fp_round,
                     "max_n": cfg.max_n, "max_m": cfg.max_m, "model_area_um2": rep.area_um2,
                     "model_critical_path_ns": rep.critical_path_ns,
                     "model_energy_pj_per_cycle": (math.nan if rep.energy_pj_per_cycle is None
                                                   else rep.energy_pj_per_cycle),
                     "config": json.dumps(cfg.to_dict())})
    out_dir.mkdir(parents=True, exist_ok=True)
    bar = progress_bar(len(designs), "synthesising validation designs", enabled=progress)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_synth_one, cfg.to_dict(), timeout_s): i for i, cfg in enumerate(designs)}
        done = []
        for fut in as_completed(futures):
            rows[futures[fut]].update(fut.result())
            done.append(rows[futures[fut]])
            pd.DataFrame(done).to_csv(out_dir / "validation.partial.csv", index=False)
            bar.update(1)
    bar.close()
    table = pd.DataFrame(rows)
    for column in ("synth_area_um2", "synth_critical_path_ns", "synth_seconds", "synth_energy_pj_per_cycle",
                   "synth_error"):
        if column not in table:
            table[column] = math.nan if column != "synth_error" else ""
    table["area_error_pct"] = 100 * (table.model_area_um2 - table.synth_area_um2) / table.synth_area_um2
    table["cp_error_pct"] = (100 * (table.model_critical_path_ns - table.synth_critical_path_ns)
                             / table.synth_critical_path_ns)
    table["energy_error_pct"] = (100 * (table.model_energy_pj_per_cycle - table.synth_energy_pj_per_cycle)
                                 / table.synth_energy_pj_per_cycle)
    table["cycles_checked"] = 0
    table["cycles_match"] = pd.NA
    if simulate:
        order = table.dropna(subset=["synth_area_um2"]).sort_values("synth_area_um2").index[:simulate]
        bar = progress_bar(len(order), "cocotb cycle checks", enabled=progress, unit="design")
        for i in order:
            sims = _simulate(designs[i])
            table.loc[i, "cycles_checked"] = len(sims)
            table.loc[i, "cycles_match"] = all(r["measured"] == r["model"] for r in sims)
            table.loc[i, "cycles"] = "; ".join(f"{r['n']}x{r['m']}: {r['measured']}/{r['model']}"
                                               for r in sims)
            bar.update(1)
        bar.close()
    table.to_csv(out_dir / "validation.csv", index=False)
    _plot(table, out_dir / "validation.png")
    return table


def summarise(table) -> dict[str, float]:
    """MAPE and worst absolute error of area, critical path and energy per cycle (percent)."""
    err = table.area_error_pct.abs().dropna()
    cp = table.cp_error_pct.abs().dropna()
    energy = table.energy_error_pct.abs().dropna() if "energy_error_pct" in table else err.iloc[:0]
    checked = table[table.cycles_checked > 0]
    return {
        "designs": len(err),
        "failed_syntheses": int(table.synth_area_um2.isna().sum()),
        "area_mape_pct": float(err.mean()),
        "area_worst_pct": float(err.max()),
        "area_within_5pct": int((err <= 5).sum()),
        "cp_mape_pct": float(cp.mean()) if len(cp) else math.nan,
        "cp_worst_pct": float(cp.max()) if len(cp) else math.nan,
        "energy_mape_pct": float(energy.mean()) if len(energy) else math.nan,
        "energy_worst_pct": float(energy.max()) if len(energy) else math.nan,
        "simulated_designs": len(checked),
        "simulated_jobs": int(checked.cycles_checked.sum()) if len(checked) else 0,
        "cycles_all_match": bool(checked.cycles_match.all()) if len(checked) else None,
    }


def _plot(table, path: Path) -> None:
    """Predicted vs synthesised area, critical path and energy per cycle, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    table = table.dropna(subset=["synth_area_um2"])
    s = summarise(table)
    panels = [("area", "synth_area_um2", "model_area_um2", 1e-6, "area (mm², OSU 0.18 µm)",
               s["area_mape_pct"], s["area_worst_pct"]),
              ("critical path", "synth_critical_path_ns", "model_critical_path_ns", 1.0, "critical path (ns)",
               s["cp_mape_pct"], s["cp_worst_pct"]),
              ("energy", "synth_energy_pj_per_cycle", "model_energy_pj_per_cycle", 1.0,
               "energy per cycle at fmax (pJ)", s["energy_mape_pct"], s["energy_worst_pct"])]
    panels = [p for p in panels if p[1] in table and table[p[1]].notna().any()]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 5), squeeze=False)
    for ax, (what, synth, model, scale, label, mape, worst) in zip(axes[0], panels, strict=True):
        part = table.dropna(subset=[synth, model])
        for act, rows in part.groupby("act"):
            ax.scatter(rows[synth] * scale, rows[model] * scale, label=act, s=28)
        lo = min(part[synth].min(), part[model].min()) * scale * 0.8
        hi = max(part[synth].max(), part[model].max()) * scale * 1.25
        xs = np.geomspace(lo, hi, 50)
        ax.plot(xs, xs, "k-", lw=1, label="exact")
        band = 0.05 if what == "area" else 0.10
        ax.fill_between(xs, xs * (1 - band), xs * (1 + band), color="grey", alpha=0.25,
                        label=f"±{100 * band:.0f} %")
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers, not 10^x, and no crowded minor labels
            axis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
            axis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(f"synthesised {label}")
        ax.set_ylabel(f"predicted {label}")
        ax.set_title(f"{what}, {len(part)} unseen designs: MAPE {mape:.1f} %, worst {worst:.1f} %",
                     fontsize=9)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
