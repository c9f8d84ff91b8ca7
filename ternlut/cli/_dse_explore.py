"""The explorer's commands of ``dse``: ``run``, ``worker``, ``show`` and ``export``
(:mod:`dse.explore` does the work; these parse options, print and map errors to one line each)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from ._base import Command, CommandError, check_output_dir, check_writable, int_range

__all__ = ["RunCommand", "WorkerCommand", "ShowCommand", "ExportCommand", "EXPLORE_COMMANDS"]

_SAMPLERS = ("tpe", "nsga2", "gp", "random", "qmc", "exhaustive")
_SHOWN_PARAMS = ("arch", "act", "acc", "mu", "luts", "keys", "reuse", "pipeline", "adder_stages", "cores",
                 "bandwidth_gbps")
_SHOWN_METRICS = ("area_mm2", "tokens_per_s", "clock_mhz", "cycles_per_token", "bits_per_weight",
                  "bandwidth_needed_gbps", "bound")


def _explore():
    import dse.explore as explore

    return explore


def _errors(exc: Exception) -> CommandError:
    return CommandError("\n".join(getattr(exc, "problems", None) or [str(exc)]))


def _call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the explorer's user errors as one-line :class:`CommandError` s."""
    from hwgen.description.config import ConfigError

    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        raise _errors(exc) from None


def _add_storage(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--storage", default=None, metavar="URL",
                   help=("Optuna storage URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB "
                         f"({default})"))


def _pareto_table(res, top: int | None) -> pd.DataFrame:
    spec = res.spec
    cols = ["number"] + [c for c in _SHOWN_PARAMS if c in res.pareto and (c in spec.param_names or c in (
        "mu", "luts", "keys", "cores"))]
    metrics = [m for m, _ in spec.objectives] + [m for m in _SHOWN_METRICS if m not in dict(spec.objectives)]
    cols += [m for m in metrics if m in res.pareto]
    if "repeats" in res.pareto and (res.pareto["repeats"] > 1).any():
        cols.append("repeats")
    table = res.pareto[cols]
    return table.head(top) if top else table


def _print_result(res, *, top: int | None = 20) -> None:
    from dse.studies._common import print_table

    spec, c = res.spec, res.counts
    print(f"study {spec.name}: workload {spec.workload.name}, sampler {spec.sampler}, storage {res.storage}")
    objectives = ", ".join(f"{d} {m}" for m, d in spec.objectives)
    constraints = "; ".join(x.describe() for x in spec.constraints) or "none"
    print(f"  objectives  : {objectives}; constraints: {constraints}")
    if res.sweep:
        s = res.sweep
        print(f"  sweep       : {s['total']:,} designs, {s['valid']:,} valid, {s['feasible']:,} feasible, "
              f"Pareto set {s['pareto']} ({s['seconds']:.1f} s)")
        for name, cut in (s.get("cut_by") or {}).items():
            print(f"    constraint {name} cut {cut:,} valid designs")
    else:
        done = c["COMPLETE"] + c["PRUNED"]
        print(f"  trials      : {done} of {c['budget']} finished ({c['COMPLETE']} complete, "
              f"{c['PRUNED']} pruned as invalid configs), {c['RUNNING']} running, {c['WAITING']} waiting, "
              f"{c['FAIL']} failed "
              f"(retried); {res.ran_here} run here")
        print(f"  feasible    : {int(res.frame['feasible'].sum())} complete trials meet every constraint")
    if len(res.pareto):
        print_table(_pareto_table(res, top), f"Pareto set ({len(res.pareto)} designs"
                    + (f", first {top} shown" if top and len(res.pareto) > top else "") + "):")
    else:
        print("  no feasible design yet")
    if res.synth is not None and len(res.synth):
        print_table(res.synth, "Synthesised designs (one core; model prediction vs Yosys + OpenSTA):")
    if res.verify is not None and len(res.verify):
        print_table(res.verify, "Verified designs (the cocotb bench in Verilator, bit for bit against "
                                "the reference):")
    if res.paths:
        print("\nwrote " + ", ".join(str(p) for p in res.paths.values()))
    if len(res.pareto):
        print(f"export one: dse export {spec.name} --trial {int(res.pareto['number'].iloc[0])}"
              + (f" --storage '{res.storage}'" if not res.storage.startswith("sqlite:///build/dse/") else ""))


def _json(res) -> dict:
    keep = ["number"] + [f"param_{p}" for p in res.spec.param_names]
    records = res.pareto.drop(columns=[c for c in res.pareto.columns if c.startswith("param_")
                                       and c not in keep], errors="ignore")
    return {"study": res.spec.name, "storage": res.storage, "spec": res.spec.to_dict(), "counts": res.counts,
            "ran_here": res.ran_here, "sweep": res.sweep,
            "pareto": records.to_dict(orient="records"),
            "synth": None if res.synth is None else res.synth.to_dict(orient="records"),
            "verify": None if res.verify is None else res.verify.to_dict(orient="records"),
            "files": {k: str(v) for k, v in res.paths.items()}}


class RunCommand(Command):
    """``dse run STUDY.toml``: create or resume a study and run it here."""

    name = "run"
    help = "run (or resume) a design-space study from a study file"
    example = ("dse run designs/studies/bitnet2b_int8.toml\n"
               "dse run designs/studies/bitnet2b_int8.toml --storage postgresql+psycopg://me@db/ternlut\n"
               "dse run designs/studies/bitnet2b_int8.toml --sampler exhaustive   # the exact front")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("study", metavar="STUDY.toml", help="study file (see designs/studies/)")
        _add_storage(p, "default: the file's storage, else sqlite:///OUT/study.db")
        p.add_argument("--trials", type=int_range(1, 1_000_000), default=None, metavar="N",
                       help="finished trials to reach (default: the file's trials); resuming with a larger "
                            "N extends the study")
        p.add_argument("--sampler", choices=_SAMPLERS, default=None,
                       help="override the file's sampler (exhaustive: sweep every design, vectorised)")
        p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=None, metavar="N",
                       help="override the file's sampler seed")
        p.add_argument("--out", default=None, metavar="DIR",
                       help="results folder (default: build/dse/<study name>)")
        p.add_argument("--synth-top", type=int_range(0, 50), default=0, metavar="N",
                       help="then synthesise N designs spread along the Pareto set and compare them "
                            "with the model")
        p.add_argument("--verify-top", type=int_range(0, 50), default=0, metavar="N",
                       help="then run the cocotb regression (Verilator) on N designs spread along the "
                            "Pareto set")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.add_argument("--no-plot", action="store_true", help="do not draw pareto.png")
        p.add_argument("--no-check", action="store_true",
                       help="skip the pre-check (a random sample of the space must hold a valid design "
                            "that meets the constraints, else the run is refused before it starts)")

    def run(self, args: argparse.Namespace) -> int:
        explore = _explore()
        spec = _call(explore.load_study, args.study)
        out = Path(args.out) if args.out else explore.default_out(explore.study_name(spec, args.sampler))
        check_output_dir(out, "--out")
        res = _call(explore.run, spec, storage=args.storage, trials=args.trials, sampler=args.sampler,
                    seed=args.seed, out=out, progress=not args.no_progress, plot=not args.no_plot,
                    synth_top=args.synth_top, verify_top=args.verify_top, check=not args.no_check)
        if args.json:
            self.print_json(_json(res))
        else:
            _print_result(res)
        return 0


class WorkerCommand(Command):
    """``dse worker NAME --storage URL``: join a study and run its trials (any machine)."""

    name = "worker"
    help = "join a study in a shared storage and run its waiting trials, synthesis and verification jobs"
    example = "dse worker bitnet2b-int8 --storage postgresql+psycopg://me@db.example/ternlut"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="NAME", help="the study's name (as `dse run` created it)")
        _add_storage(p, "default: sqlite:///build/dse/NAME/study.db")
        p.add_argument("--max-trials", type=int_range(1), default=None, metavar="N",
                       help="stop after N trials (default: until none is waiting)")
        p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=None, metavar="N",
                       help="this worker's sampler seed (default: none, so that workers draw "
                            "different designs)")
        p.add_argument("--no-synth", action="store_true", help="do not take synthesis or verification jobs")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")

    def run(self, args: argparse.Namespace) -> int:
        explore = _explore()
        storage = args.storage or _call(explore._default_url, args.name)
        ran = _call(explore.work, args.name, storage, max_trials=args.max_trials, seed=args.seed,
                    progress=not args.no_progress, synth=not args.no_synth)
        if args.json:
            self.print_json({"study": args.name, "ran_here": ran})
        else:
            print(f"worker: ran {ran} trials of study {args.name}")
        return 0


class ShowCommand(Command):
    """``dse show NAME``: the study's state, Pareto set and files."""

    name = "show"
    help = "show a study's Pareto set and write its tables and plot"
    example = "dse show bitnet2b-int8\ndse show bitnet2b-int8 --synth-top 3 --verify-top 1"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="NAME", help="the study's name")
        _add_storage(p, "default: sqlite:///build/dse/NAME/study.db")
        p.add_argument("--out", default=None, metavar="DIR",
                       help="write trials.csv/.parquet, pareto.csv/.png there (default: build/dse/NAME)")
        p.add_argument("--top", type=int_range(1), default=20, metavar="N", help="Pareto rows printed (20)")
        p.add_argument("--synth-top", type=int_range(0, 50), default=0, metavar="N",
                       help="synthesise N designs spread along the Pareto set (queued in the storage)")
        p.add_argument("--verify-top", type=int_range(0, 50), default=0, metavar="N",
                       help="run the cocotb regression on N designs spread along the Pareto set")
        p.add_argument("--no-plot", action="store_true", help="do not draw pareto.png")

    def run(self, args: argparse.Namespace) -> int:
        explore = _explore()
        out = Path(args.out) if args.out else explore.default_out(args.name)
        check_output_dir(out, "--out")
        res = _call(explore.show, args.name, args.storage, out=out, plot=not args.no_plot,
                    synth_top=args.synth_top, verify_top=args.verify_top, progress=True)
        if args.json:
            self.print_json(_json(res))
        else:
            _print_result(res, top=args.top)
        return 0


class ExportCommand(Command):
    """``dse export NAME --trial N``: a design file for ``hwgen emit --design``."""

    name = "export"
    help = "write a study's trial as a design file that `hwgen emit --design` reads"
    example = ("dse export bitnet2b-int8 --trial 42 --out my_core.toml && hwgen emit --design my_core.toml\n"
               "dse export bitnet2b-int8 --best tokens_per_s")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("name", metavar="NAME", help="the study's name")
        _add_storage(p, "default: sqlite:///build/dse/NAME/study.db")
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument("--trial", type=int_range(0), default=None, metavar="N", help="the trial number")
        which.add_argument("--best", default=None, metavar="METRIC",
                           help="the feasible trial best in METRIC (e.g. tokens_per_s, area_mm2)")
        p.add_argument("--out", default=None, metavar="FILE",
                       help="design file to write (default: build/dse/NAME/trial<N>.toml)")

    def run(self, args: argparse.Namespace) -> int:
        explore = _explore()
        if args.out:
            check_writable(Path(args.out), "--out", make_parents=True)
        res = _call(explore.show, args.name, args.storage, plot=False)
        from dse.explore.results import export_design, pick_trial

        row = _call(pick_trial, res.frame, res.spec, number=args.trial, best=args.best)
        number = int(row["number"])
        path = Path(args.out) if args.out else explore.default_out(args.name) / f"trial{number}.toml"
        _call(export_design, row, res.spec, path)
        if args.json:
            self.print_json({"study": args.name, "trial": number, "file": str(path),
                             "metrics": {m: row[m] for m in explore.metrics.METRICS if m in row}})
        else:
            cores = int(row["cores"]) if "cores" in row else 1
            system = f"; the design point has {cores} such cores" if cores > 1 else ""
            print(f"wrote {path}: trial {number} of {args.name} "
                  f"({', '.join(f'{m} = {row[m]:.4g}' for m, _ in res.spec.objectives)}{system})")
            print(f"emit it: hwgen emit --design {path}", file=sys.stdout)
        return 0


#: The explorer's commands, in help order.
EXPLORE_COMMANDS = (RunCommand(), WorkerCommand(), ShowCommand(), ExportCommand())
