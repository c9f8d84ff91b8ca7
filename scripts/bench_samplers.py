"""Search quality of the design-space explorer: how close each Optuna sampler gets to the exhaustive
Pareto front, and how fast the exhaustive sweep is.

1. A space small enough to enumerate (:data:`SEARCH_STUDY`, 46,080 designs: BitNet b1.58 2B4T
   decode, int8 activations, 50 GB/s; minimise ``area_mm2``, maximise ``tokens_per_s``, subject
   to ``area_mm2 <= 20``) is swept exhaustively (:func:`dse.explore.sweep.sweep`); the
   hypervolume of its feasible Pareto front is the ground truth.
2. Each sampler runs one study per seed through the real trial loop
   (:func:`dse.explore.search.create_study`, :func:`~dse.explore.search.ensure_slots`,
   :func:`~dse.explore.search.work`) in an in-memory storage. The samplers are sequential, so
   the first ``k`` trials of a run are what a ``k``-trial study would have done: the
   hypervolume ratio (front of the feasible complete trials numbered below ``k`` / exhaustive
   front) is read off at every budget of one run.
3. The exhaustive sweep of a second space of 983,040 designs (:data:`SWEEP_STUDY`) is timed in a
   subprocess pinned to one CPU core (target: 1 million designs in under 30 s).

Hypervolumes use one reference point for every sampler, :data:`REFERENCE` = (area 20 mm^2, the
constraint bound; 0 tokens/s), in the objectives' own units. A hypervolume *ratio* does not
change when an objective is rescaled, so no normalisation is applied.

Usage::

    python scripts/bench_samplers.py                      # full run (tens of minutes)
    python scripts/bench_samplers.py --quick              # smoke check (seconds)
    python scripts/bench_samplers.py --samplers tpe random --seeds 3 --trials 300
    python scripts/bench_samplers.py --samplers tpe --tpe-variant univariate --no-sweep-timing
    python scripts/bench_samplers.py --out build/bench_samplers    # also CSV and PNG
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from dse.explore import search  # noqa: E402
from dse.explore.pareto import hypervolume_2d  # noqa: E402
from dse.explore.spec import StudySpec, spec_from_dict  # noqa: E402

WORKLOAD = str(ROOT / "designs" / "workloads" / "bitnet_b158_2b4t.toml")
_COMMON = {
    "fixed": {"arch": "lut", "act": "int8", "bandwidth_gbps": 50.0},
    "objectives": {"area_mm2": "minimize", "tokens_per_s": "maximize"},
    "constraints": {"area_mm2": {"max": 20.0}},
}
#: The enumerable space the samplers search (5 * 32 * 16 * 3 * 3 * 2 = 46,080 designs).
SEARCH_STUDY = {
    "study": {"name": "bench-samplers", "workload": WORKLOAD},
    "space": {"mu": [1, 2, 3, 4, 5], "luts": {"low": 1, "high": 32, "log": True},
              "keys": {"low": 16, "high": 256, "step": 16}, "reuse": [1, 2, 4], "pipeline": [0, 1, 2],
              "cores": {"low": 1, "high": 2}},
    **_COMMON,
}
#: The space of the sweep timing (5 * 128 * 32 * 3 * 4 * 4 = 983,040 designs).
SWEEP_STUDY = {
    "study": {"name": "bench-sweep", "workload": WORKLOAD},
    "space": {"mu": [1, 2, 3, 4, 5], "luts": {"low": 1, "high": 128, "log": True},
              "keys": {"low": 8, "high": 256, "step": 8}, "reuse": [1, 2, 4], "pipeline": [0, 1, 2, 3],
              "cores": {"low": 1, "high": 4}},
    **_COMMON,
}
#: Hypervolume reference point (area_mm2, tokens_per_s): the area bound and zero throughput.
REFERENCE = (20.0, 0.0)
SAMPLERS = ("tpe", "nsga2", "gp", "random", "qmc")
BUDGETS = (100, 300, 1000)
#: Target hypervolume ratio of the default sampler at the largest budget.
TARGET = 0.99
#: Seconds of one core the sweep of one million designs may take.
SWEEP_TARGET_S = 30.0
#: Seconds without a finished trial after which a study's state is reported (see :func:`_watchdog`).
STALL_S = 300.0
#: TPE settings tried by ``--tpe-variant`` (keyword arguments of ``optuna.samplers.TPESampler``);
#: ``default`` is :func:`dse.explore.search.make_sampler`'s sampler, unchanged.
TPE_VARIANTS: dict[str, dict | None] = {
    "default": None,
    "univariate": {"multivariate": False, "n_startup_trials": 10},
    "no-liar": {"multivariate": True, "n_startup_trials": 10, "constant_liar": False},
    "group": {"multivariate": True, "group": True, "n_startup_trials": 10},
    "startup30": {"multivariate": True, "n_startup_trials": 30},
    "ei96": {"multivariate": True, "n_startup_trials": 10, "n_ei_candidates": 96},
    "startup30-ei96": {"multivariate": True, "n_startup_trials": 30, "n_ei_candidates": 96},
}


def make_spec(doc: dict) -> StudySpec:
    """The checked :class:`StudySpec` of a study document (:data:`SEARCH_STUDY`, :data:`SWEEP_STUDY`)."""
    return spec_from_dict(doc, where="bench_samplers")


def describe_space(spec: StudySpec) -> str:
    """One line per free parameter, then the fixed ones, the objectives and the constraints."""
    lines = []
    for p in spec.space:
        if p.kind == "categorical":
            what = f"{list(p.choices)}"
        else:
            what = f"{p.low}..{p.high}" + (f" step {p.step}" if p.step else "") + (" (log)" if p.log else "")
        lines.append(f"  {p.name:<9} {what}  ({p.size()} values)")
    fixed = {k: spec.fixed[k] for k in ("arch", "act", "bandwidth_gbps") if k in spec.fixed}
    lines.append(f"  fixed     {fixed}")
    lines.append("  objectives " + ", ".join(f"{m} {d}" for m, d in spec.objectives))
    lines.append("  constraint " + "; ".join(c.describe() for c in spec.constraints))
    return "\n".join([f"{spec.space_size():,} designs ({spec.workload.name} decode):", *lines])


@dataclass(frozen=True)
class GroundTruth:
    """The exhaustive sweep of the search space.

    Attributes
    ----------
    hv : float
        Hypervolume of the feasible Pareto front at :data:`REFERENCE`.
    front : numpy.ndarray
        The front's (area_mm2, tokens_per_s) rows.
    total, valid, feasible : int
        Designs in the space, valid ones, feasible ones.
    seconds : float
        Wall time of the sweep.
    """

    hv: float
    front: np.ndarray
    total: int
    valid: int
    feasible: int
    seconds: float


def ground_truth(spec: StudySpec) -> GroundTruth:
    """Sweep ``spec``'s space; the hypervolume of its feasible Pareto front (:data:`REFERENCE`)."""
    from dse.explore.sweep import sweep

    result = sweep(spec)
    metrics = [m for m, _ in spec.objectives]
    front = result.front[metrics].to_numpy(float)
    hv = hypervolume_2d(front, spec.directions, REFERENCE)
    return GroundTruth(hv, front, result.total, result.valid, result.feasible, result.seconds)


def tpe_sampler(variant: str, seed: int):
    """The TPE sampler of ``variant`` (:data:`TPE_VARIANTS`); ``None`` for ``default``."""
    import optuna

    kwargs = TPE_VARIANTS[variant]
    return None if kwargs is None else optuna.samplers.TPESampler(seed=seed, **kwargs)


@dataclass
class StudyRun:
    """One study of one sampler and seed, run to its budget.

    Attributes
    ----------
    sampler, variant : str
        Sampler name; what differs from the explorer's own settings (``default``: nothing; a TPE
        variant of :data:`TPE_VARIANTS`; ``invalid=infeasible``: see :func:`tell_invalid_infeasible`).
    seed, trials : int
    seconds : float
        Wall time of :func:`dse.explore.search.work` (all trials).
    done_at : numpy.ndarray
        Seconds from the start when the ``i``-th trial finished.
    values : numpy.ndarray
        ``(trials, 2)`` objective values by trial number (NaN where not complete).
    feasible : numpy.ndarray
        By trial number: complete and meeting every constraint.
    invalid : numpy.ndarray
        By trial number: an invalid design (pruned, or told infeasible).
    design : list of tuple
        By trial number: the parameter values (distinct designs tried).
    """

    sampler: str
    variant: str
    seed: int
    trials: int
    seconds: float
    done_at: np.ndarray
    values: np.ndarray
    feasible: np.ndarray
    invalid: np.ndarray
    design: list = field(repr=False)

    def hv_ratio(self, budget: int, truth: GroundTruth, directions: list[str]) -> float:
        """Hypervolume of the feasible front of trials ``0 .. budget - 1`` over the exhaustive one."""
        ok = self.feasible[:budget]
        return hypervolume_2d(self.values[:budget][ok], directions, REFERENCE) / truth.hv

    def front_found(self, budget: int, truth: GroundTruth) -> int:
        """Points of the exhaustive Pareto front that a feasible trial among the first ``budget``
        matched (same objective values)."""
        got = self.values[:budget][self.feasible[:budget]]
        if not len(got):
            return 0
        return int(sum(np.isclose(got, point, rtol=1e-9, atol=0).all(axis=1).any() for point in truth.front))

    def counts(self, budget: int) -> dict[str, int]:
        """Feasible trials, invalid trials and distinct designs among the first ``budget`` trials."""
        return {"feasible": int(self.feasible[:budget].sum()), "invalid": int(self.invalid[:budget].sum()),
                "distinct": len(set(self.design[:budget]))}


@contextlib.contextmanager
def _watchdog(study, stamps: list[float], what: str, stall_s: float = STALL_S):
    """Report on stderr (once) when no trial of ``study`` finished for ``stall_s`` seconds: the
    trial counts by state, the first unfinished trial and every thread's stack. Stops nothing."""
    import faulthandler
    import threading

    stop = threading.Event()

    def watch() -> None:
        seen, since = -1, time.monotonic()
        while not stop.wait(5.0):
            if len(stamps) != seen:
                seen, since = len(stamps), time.monotonic()
            elif time.monotonic() - since > stall_s:
                print(f"bench_samplers: {what}: no trial finished for {stall_s:.0f} s after {seen} trials; "
                      f"{search.slot_counts(study)}", file=sys.stderr, flush=True)
                for t in study.get_trials(deepcopy=False):
                    if not t.state.is_finished():
                        print(f"  trial {t.number}: {t.state.name} system_attrs={t.system_attrs} "
                              f"user_attrs={t.user_attrs}", file=sys.stderr, flush=True)
                        break
                faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
                return

    thread = threading.Thread(target=watch, daemon=True, name="bench-watchdog")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def tell_invalid_infeasible(study, spec: StudySpec, trial) -> None:
    """A trial evaluator for :func:`dse.explore.search.work` (``--invalid infeasible``): a valid
    design goes to :func:`~dse.explore.search.run_trial` unchanged; an invalid one is told
    ``COMPLETE`` with every constraint violated (1.0) and :data:`REFERENCE` as its objective values,
    instead of ``PRUNED``, so that the samplers that only model complete trials (GP) see it."""
    import pandas as pd

    from dse.explore.points import design_table, score

    params = {p.name: p.suggest(trial) for p in spec.space}
    scored = score(spec, design_table(spec, pd.DataFrame([params])))
    if scored.valid[0]:
        search.run_trial(study, spec, trial)  # draws the same parameters again (the trial keeps them)
        return
    trial.set_user_attr("problems", scored.problems.get(0, []))
    for c in spec.constraints:
        trial.set_constraint(c.name, 1.0)
    study.tell(trial, list(REFERENCE))


def run_study(spec: StudySpec, sampler: str, seed: int, trials: int, variant: str = "default",
              invalid: str = "pruned") -> StudyRun:
    """Run ``trials`` trials of ``sampler`` (TPE: settings ``variant``) through the real trial loop;
    ``invalid``: ``pruned`` (the explorer's way) or ``infeasible`` (:func:`tell_invalid_infeasible`)."""
    import optuna
    from optuna.trial import TrialState

    study = search.create_study(spec, optuna.storages.InMemoryStorage(), sampler=sampler, seed=seed)
    if sampler == "tpe" and (custom := tpe_sampler(variant, seed)) is not None:
        study.sampler = custom
    if invalid == "infeasible":
        variant = "invalid=infeasible" if variant == "default" else f"{variant}, invalid=infeasible"
    search.ensure_slots(study, trials)
    stamps: list[float] = []
    start = time.perf_counter()
    evaluate = tell_invalid_infeasible if invalid == "infeasible" else None
    with _watchdog(study, stamps, f"{sampler} ({variant}) seed {seed}"):
        ran = search.work(study, spec, on_trial=lambda: stamps.append(time.perf_counter() - start),
                          evaluate=evaluate)
    seconds = time.perf_counter() - start
    if ran != trials:
        raise RuntimeError(f"{sampler} seed {seed}: ran {ran} trials, expected {trials}")
    values = np.full((trials, len(spec.objectives)), np.nan)
    feasible = np.zeros(trials, bool)
    bad = np.zeros(trials, bool)
    design: list = [None] * trials
    for t in study.get_trials(deepcopy=False):
        if t.number >= trials:
            continue
        design[t.number] = tuple(t.params.get(p.name) for p in spec.space)
        bad[t.number] = "problems" in t.user_attrs
        if t.state == TrialState.COMPLETE and not bad[t.number]:
            values[t.number] = t.values
            feasible[t.number] = all(v <= 0 for v in t.constraints.values())
    return StudyRun(sampler, variant, seed, trials, seconds, np.array(stamps), values, feasible, bad, design)


def curve_budgets(trials: int, budgets: tuple[int, ...]) -> list[int]:
    """Trial counts at which the plot's curves are read (``budgets`` among them)."""
    grid = {*range(10, 101, 10), *range(150, trials + 1, 50), *budgets, trials}
    return sorted(b for b in grid if b <= trials)


# --- the sweep timing (in a child process pinned to one core) ---------------------------------------------


def sweep_timing_child(repeat: int) -> dict:
    """Time :func:`dse.explore.sweep.sweep` of :data:`SWEEP_STUDY` ``repeat`` times in this process."""
    from dse.explore.sweep import sweep

    spec = make_spec(SWEEP_STUDY)
    runs = []
    for _ in range(repeat):
        result = sweep(spec)
        runs.append(result.seconds)
    return {"designs": result.total, "valid": result.valid, "feasible": result.feasible,
            "pareto": len(result.front), "seconds": runs, "cpus": sorted(os.sched_getaffinity(0))}


def _one_core() -> None:
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def sweep_timing(repeat: int) -> dict:
    """Run :func:`sweep_timing_child` in a fresh interpreter pinned to one CPU core (one thread per
    math library too); its figures plus the core it ran on."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, __file__, "--sweep-child", str(repeat)], capture_output=True,
                          text=True, env=env, cwd=ROOT, preexec_fn=_one_core)
    if done.returncode != 0:
        raise SystemExit(f"bench_samplers: error: the sweep timing failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- report -----------------------------------------------------------------------------------------------


def _median(xs: list[float]) -> float:
    return float(np.median(xs)) if xs else math.nan


def summarise(runs: list[StudyRun], truth: GroundTruth, directions: list[str],
              budgets: tuple[int, ...]) -> list[dict]:
    """Per sampler (and TPE variant): median, min and max HV ratio per budget, trials/s, counts."""
    rows = []
    keys = list(dict.fromkeys((r.sampler, r.variant) for r in runs))
    for sampler, variant in keys:
        mine = [r for r in runs if (r.sampler, r.variant) == (sampler, variant)]
        trials = min(r.trials for r in mine)
        row = {"sampler": sampler, "variant": variant, "seeds": [r.seed for r in mine], "trials": trials,
               "hv": {}, "seconds": [round(r.seconds, 3) for r in mine]}
        for b in budgets:
            if b > trials:
                row["hv"][b] = None
                continue
            ratios = [r.hv_ratio(b, truth, directions) for r in mine]
            row["hv"][b] = {"median": _median(ratios), "min": min(ratios), "max": max(ratios), "all": ratios}
        total_s = sum(r.seconds for r in mine)
        row["trials_per_s"] = sum(r.trials for r in mine) / total_s
        row["ms_per_trial"] = 1e3 * total_s / sum(r.trials for r in mine)
        row["counts"] = {k: _median([r.counts(trials)[k] for r in mine]) for k in ("feasible", "invalid",
                                                                                       "distinct")}
        row["front_found"] = _median([r.front_found(trials, truth) for r in mine])
        row["front_size"] = len(truth.front)
        rows.append(row)
    return rows


def _label(row: dict) -> str:
    return row["sampler"] if row["variant"] == "default" else f"{row['sampler']} ({row['variant']})"


def _cell(hv: dict | None) -> str:
    if hv is None:
        return "n/a"
    return f"{hv['median']:.4f} [{hv['min']:.3f}, {hv['max']:.3f}]"


def verdicts(rows: list[dict], budgets: tuple[int, ...]) -> list[str]:
    """PASS/FAIL lines: the default sampler's target at the largest budget, and beating random
    (the median HV ratio higher at every budget both reached)."""
    lines = []
    tpe = next((r for r in rows if (r["sampler"], r["variant"]) == ("tpe", "default")), None)
    random_row = next((r for r in rows if (r["sampler"], r["variant"]) == ("random", "default")), None)
    top = budgets[-1]
    if tpe is None or tpe["hv"][top] is None:
        lines.append(f"- target: tpe median HV ratio >= {TARGET} at {top:,} trials: not measured")
    else:
        got = tpe["hv"][top]["median"]
        lines.append(f"- target: tpe median HV ratio >= {TARGET} at {top:,} trials: "
                     f"{'PASS' if got >= TARGET else 'FAIL'} ({got:.4f})")
    for row in rows:
        if row is random_row or random_row is None:
            continue
        parts, ok, compared = [], True, 0
        for b in budgets:
            mine, theirs = row["hv"][b], random_row["hv"][b]
            if mine is None or theirs is None:
                parts.append(f"{b:,}: n/a")
                continue
            ok &= mine["median"] > theirs["median"]
            compared += 1
            parts.append(f"{b:,}: {mine['median']:.4f} vs {theirs['median']:.4f}")
        verdict = "not measured" if not compared else "PASS" if ok else "FAIL"
        lines.append(f"- {_label(row)} better than random at every budget: {verdict} "
                     f"({'; '.join(parts)})")
    return lines


def markdown_table(rows: list[dict], budgets: tuple[int, ...]) -> str:
    """Rows = samplers; median [min, max] HV ratio per budget, trials/s and trial counts."""
    head = ["sampler", "seeds", *[f"HV ratio @ {b:,}" for b in budgets], "trials/s", "ms/trial",
            "front designs found", "feasible / invalid / distinct (median)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        c = r["counts"]
        cells = [_label(r) + ("" if r["trials"] >= budgets[-1] else f" (budget {r['trials']:,})"),
                 str(len(r["seeds"])), *[_cell(r["hv"][b]) for b in budgets], f"{r['trials_per_s']:.1f}",
                 f"{r['ms_per_trial']:.1f}", f"{r['front_found']:.0f} of {r['front_size']}",
                 f"{c['feasible']:.0f} / {c['invalid']:.0f} / {c['distinct']:.0f} of {r['trials']:,}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(out: Path, runs: list[StudyRun], truth: GroundTruth, directions: list[str],
                  budgets: tuple[int, ...]) -> list[Path]:
    """``runs.csv`` (one row per sampler, seed and budget) and ``hv_ratio.png`` (median curves)."""
    import csv

    out.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = out / "runs.csv", out / "hv_ratio.png"
    curves: dict[str, dict[int, list[float]]] = {}
    with csv_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sampler", "variant", "seed", "budget", "hv_ratio", "seconds", "feasible", "invalid",
                    "distinct", "front_found"])
        for r in runs:
            label = r.sampler if r.variant == "default" else f"{r.sampler} ({r.variant})"
            for b in curve_budgets(r.trials, budgets):
                ratio = r.hv_ratio(b, truth, directions)
                curves.setdefault(label, {}).setdefault(b, []).append(ratio)
                c = r.counts(b)
                w.writerow([r.sampler, r.variant, r.seed, b, f"{ratio:.6f}", f"{r.done_at[b - 1]:.3f}",
                            c["feasible"], c["invalid"], c["distinct"], r.front_found(b, truth)])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, by_budget in curves.items():
        xs = sorted(by_budget)
        ax.plot(xs, [_median(by_budget[x]) for x in xs], marker=".", label=label)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="exhaustive = 1.0")
    ax.axhline(TARGET, color="grey", linestyle=":", linewidth=1, label=f"target {TARGET}")
    ax.set_xscale("log")
    ax.set_xlabel("trials")
    ax.set_ylabel("median hypervolume ratio")
    ax.set_title(f"{truth.total:,}-design space, ref. point {REFERENCE}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    plt.close(fig)
    return [csv_path, png_path]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=BUDGETS[-1], help="trials per study (default 1000)")
    parser.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS), metavar="N",
                        help="trial counts the table reads the HV ratio at (default 100 300 1000; "
                             "--trials is always one)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per sampler, 0 .. N-1 (default 5)")
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLERS), choices=SAMPLERS, metavar="NAME",
                        help=f"samplers to run (default: {' '.join(SAMPLERS)})")
    parser.add_argument("--gp-trials", type=int, default=None, metavar="N",
                        help="a smaller budget for gp (slow: its cost per trial grows with the trials seen)")
    parser.add_argument("--tpe-variant", nargs="+", default=["default"], choices=list(TPE_VARIANTS),
                        metavar="NAME", help=f"TPE settings to run: {', '.join(TPE_VARIANTS)} (default: "
                                             "default, the explorer's own)")
    parser.add_argument("--invalid", nargs="+", default=["pruned"], choices=("pruned", "infeasible"),
                        help="how invalid designs are told: pruned (the explorer's way, default) and/or "
                             "infeasible (complete, every constraint violated; an experiment)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke check: 2 seeds x 40 trials (budgets 10 20 40), no gp unless "
                             "--samplers names it, one sweep-timing run")
    parser.add_argument("--sweep-repeat", type=int, default=2,
                        help="sweeps timed, the best counts (default 2)")
    parser.add_argument("--no-sweep-timing", action="store_true", help="skip the one-core sweep timing")
    parser.add_argument("--out", type=Path, help="write runs.csv and hv_ratio.png to this folder")
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of the table")
    parser.add_argument("--sweep-child", type=int, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.sweep_child is not None:
        print(json.dumps(sweep_timing_child(opts.sweep_child)))
        return
    if opts.quick:
        opts.trials, opts.seeds, opts.sweep_repeat, opts.budgets = 40, 2, 1, [10, 20, 40]
        if "--samplers" not in (argv if argv is not None else sys.argv[1:]):
            opts.samplers = [s for s in opts.samplers if s != "gp"]
    for name in ("trials", "seeds", "sweep_repeat"):
        if getattr(opts, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: must be at least 1")
    if min(opts.budgets) < 1:
        parser.error("--budgets: every budget must be at least 1")
    budgets = tuple(sorted({b for b in opts.budgets if b <= opts.trials} | {opts.trials}))
    gp_trials = min(opts.gp_trials or opts.trials, opts.trials)
    wall0 = time.perf_counter()

    spec = make_spec(SEARCH_STUDY)
    truth = ground_truth(spec)
    log = sys.stderr
    print(f"exhaustive: {truth.total:,} designs, {truth.valid:,} valid, {truth.feasible:,} feasible, "
          f"{len(truth.front)} on the front, HV {truth.hv:.4f} ({truth.seconds:.2f} s)", file=log, flush=True)

    runs: list[StudyRun] = []
    plan = [(s, v, how) for s in opts.samplers for v in (opts.tpe_variant if s == "tpe" else ["default"])
            for how in opts.invalid]
    for sampler, variant, how in plan:
        trials = gp_trials if sampler == "gp" else opts.trials
        for seed in range(opts.seeds):
            run = run_study(spec, sampler, seed, trials, variant, how)
            runs.append(run)
            ratio = run.hv_ratio(trials, truth, spec.directions)
            print(f"{sampler:>6} {run.variant:<18} seed {seed}: {trials:,} trials in {run.seconds:7.1f} s, "
                  f"HV ratio {ratio:.4f}", file=log, flush=True)

    timing = None if opts.no_sweep_timing else sweep_timing(opts.sweep_repeat)
    rows = summarise(runs, truth, spec.directions, budgets)
    paths = write_outputs(opts.out, runs, truth, spec.directions, budgets) if opts.out else []
    wall = time.perf_counter() - wall0

    if opts.json:
        exhaustive = {"total": truth.total, "valid": truth.valid, "feasible": truth.feasible,
                      "front": len(truth.front), "hv": truth.hv, "seconds": truth.seconds}
        print(json.dumps({"space": spec.to_dict()["space"], "reference": REFERENCE, "exhaustive": exhaustive,
                          "budgets": budgets, "samplers": rows, "sweep_timing": timing,
                          "verdicts": verdicts(rows, budgets), "files": [str(p) for p in paths],
                          "wall_s": wall}, indent=1, default=str))
        return
    print("## Sampler search quality\n")
    print("Search space: " + describe_space(spec))
    print(f"\nExhaustive sweep: {truth.valid:,} valid, {truth.feasible:,} feasible, {len(truth.front)} "
          f"designs on the feasible Pareto front, hypervolume {truth.hv:.4f} mm^2 * tokens/s at the "
          f"reference point (area_mm2, tokens_per_s) = {REFERENCE} (the area bound, zero throughput; raw "
          f"units: the ratio does not depend on scaling).")
    print(f"\nEach cell: median [min, max] over seeds 0..{opts.seeds - 1} of (HV of the feasible complete "
          f"trials among the first N trials) / exhaustive HV. Real trial loop (search.create_study, "
          f"ensure_slots, work), in-memory storage. trials/s: all trials of the sampler's runs / their "
          f"wall time. Front designs found, feasible trials, invalid trials (pruned, or told "
          f"infeasible) and distinct designs: medians at the "
          f"sampler's full budget.")
    if gp_trials < opts.trials and "gp" in opts.samplers:
        print(f"\nNOTE: gp ran {gp_trials:,} trials per seed, not {opts.trials:,} (its cost per trial grows "
              f"with the trials seen); n/a above {gp_trials:,}.")
    print()
    print(markdown_table(rows, budgets))
    print()
    print("\n".join(verdicts(rows, budgets)))
    if timing is not None:
        best = min(timing["seconds"])
        rate = timing["designs"] / best
        per_million = 1e6 / rate
        print(f"\n## Exhaustive sweep timing (one CPU core: {timing['cpus']})\n")
        print("Sweep space: " + describe_space(make_spec(SWEEP_STUDY)))
        print(f"\nsweep(): {timing['designs']:,} designs ({timing['valid']:,} valid, {timing['feasible']:,} "
              f"feasible, {timing['pareto']} on the front) in "
              + ", ".join(f"{s:.2f} s" for s in timing["seconds"])
              + f"; best {best:.2f} s = {rate:,.0f} designs/s = {per_million:.1f} s per million designs")
        print(f"- target: 1 million designs in under {SWEEP_TARGET_S:.0f} s on one core: "
              f"{'PASS' if per_million < SWEEP_TARGET_S else 'FAIL'} ({per_million:.1f} s)")
    if paths:
        print("\nwrote " + ", ".join(str(p) for p in paths))
    print(f"\nwall time {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
