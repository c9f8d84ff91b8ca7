"""Cost commands: ``hwgen cost`` (the analytical model), ``hwgen synth`` (the synthesis flow) and the
``costmodel`` tool (``calibrate``, ``validate``).

``hwgen cost`` and ``hwgen synth`` take the same design options as ``hwgen emit``; they are
registered in :func:`ternlut.cli.hwgen.commands`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .hwgen import CommandError, EmitCommand, _versions
from hwgen.description.config import ConfigError, CoreConfig

__all__ = ["CostCommand", "SynthCommand", "costmodel_main"]


def _gemvs(args: argparse.Namespace) -> tuple[str, list[tuple[str, int, int, int]]]:
    """The GEMVs to count cycles for: ``--workload FILE`` or ``--n N --m M`` (or none)."""
    if args.workload and (args.n is not None or args.m is not None):
        raise CommandError("--workload and --n/--m are exclusive: give a workload file or one GEMV shape")
    if args.workload:
        from hwgen.description.workload import load_workload

        try:
            wl = load_workload(args.workload)
        except ConfigError as exc:
            raise CommandError("\n".join(f"--workload: {p}" for p in exc.problems)) from None
        return wl.name, [(g.name, g.n, g.m, g.count) for g in wl.gemvs]
    if (args.n is None) != (args.m is None):
        raise CommandError("--n and --m go together: give both (one GEMV of N inputs x M outputs)")
    if args.n is not None:
        bad = [f"--{k}: must be a positive integer, got {v}" for k, v in (("n", args.n), ("m", args.m)) if v < 1]
        if bad:
            raise CommandError("\n".join(bad))
        return f"gemv {args.n}x{args.m}", [("gemv", args.n, args.m, 1)]
    return "", []


def _check_fits(cfg: CoreConfig, gemvs: list[tuple[str, int, int, int]]) -> None:
    bad = [f"GEMV {name!r} has n={n} > max_n={cfg.max_n} (raise --max-n)" for name, n, _, _ in gemvs if n > cfg.max_n]
    bad += [f"GEMV {name!r} has m={m} > max_m={cfg.max_m} (raise --max-m)" for name, _, m, _ in gemvs if m > cfg.max_m]
    if bad:
        raise CommandError("\n".join(bad))


class CostCommand(EmitCommand):
    """``hwgen cost``: area, clock, throughput and cycles from the analytical model (no synthesis)."""

    name = "cost"
    help = "predict area, clock, throughput and cycles of a core with the cost model"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        self.add_design_arguments(p)
        p.add_argument("--workload", default=None, metavar="FILE",
                       help="count cycles for every GEMV of a workload file (designs/workloads/*.toml)")
        p.add_argument("--n", type=int, default=None, metavar="N", help="count cycles for one GEMV of N inputs ...")
        p.add_argument("--m", type=int, default=None, metavar="M", help="... and M outputs")
        p.add_argument("--table", default=None, metavar="JSON",
                       help="unit-cost table (default: the committed OSU 0.18 um table, designs/costs/osu018.json)")

    def run(self, args: argparse.Namespace) -> int:
        from costmodel import estimate, load_unit_costs

        cfg = self.config(args)
        workload, gemvs = _gemvs(args)
        _check_fits(cfg, gemvs)
        try:
            costs = load_unit_costs(args.table)
        except (FileNotFoundError, KeyError, ValueError) as exc:
            raise CommandError(f"--table: {exc}") from None
        report = estimate(cfg, gemvs=gemvs, costs=costs)
        doc = report.to_dict()
        doc["workload"] = workload or None
        doc["mu_choice"] = getattr(args, "mu_choice", None)
        doc["unit_costs"] = {"liberty": costs.liberty, "flow_version": costs.flow_version}
        if args.json:
            print(json.dumps({"command": "cost", **doc, "versions": _versions()}, indent=2))
            return 0
        print(f"{cfg.name}: {cfg.tile_n} x {cfg.tile_m} tile, {cfg.act}"
              + (f" -> {cfg.acc}" if cfg.is_fp and cfg.acc != cfg.act else "")
              + f", cost model on {costs.liberty} (flow {costs.flow_version})")
        if doc["mu_choice"]:
            print(f"  mu            : {cfg.mu} ({doc['mu_choice']})")
        print(f"  area          : {report.area_um2:,.0f} um^2 = {report.area_mm2:.3f} mm^2 "
              f"({report.nand2_eq:,.0f} NAND2 eq.); activation SRAM {report.act_buffer_bits:,} bits (not included)")
        for group, area in report.area_breakdown_um2.items():
            share = 100 * area / report.area_um2 if report.area_um2 else 0.0
            print(f"    {group:<13}: {area:>14,.0f} um^2  {share:5.1f} %")
        print(f"  clock         : critical path {report.critical_path_ns:.2f} ns -> {report.fmax_mhz:.0f} MHz (estimate)")
        print(f"  throughput    : {report.macs_per_cycle} ternary MACs/cycle = "
              f"{doc['macs_per_second'] / 1e9:.1f} GMAC/s; {doc['macs_per_cycle_per_mm2']:.1f} MACs/cycle/mm^2")
        print(f"  weight stream : {report.weight_bits_per_cycle} key bits per cycle")
        if gemvs:
            print(f"  cycles        : {report.cycles:,} for {workload}"
                  f" = {report.cycles / report.fmax_mhz:,.1f} us at {report.fmax_mhz:.0f} MHz; "
                  f"{report.effective_macs_per_cycle:.1f} useful MACs/cycle "
                  f"({100 * report.effective_macs_per_cycle / report.macs_per_cycle:.1f} % utilisation)")
            for g in report.gemvs:
                print(f"    {g['name']:<12} {g['n']:>6} x {g['m']:<6} x {g['count']:<3}: {g['cycles_each']:>9,} cycles each")
        return 0


class SynthCommand(EmitCommand):
    """``hwgen synth``: synthesise a design (or a Verilog file) and report area and timing."""

    name = "synth"
    help = "synthesise a core (or a Verilog file) with Yosys onto a liberty; report area and timing"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("verilog", nargs="?", default=None, metavar="FILE.v",
                       help="synthesise this Verilog file instead of a generated core")
        self.add_design_arguments(p)
        p.add_argument("--top", default=None, help="top module of FILE.v (default: the one not instantiated)")
        p.add_argument("--liberty", default=None, metavar="PATH",
                       help="standard-cell library (default: OSU 0.18 um from Debian's qflow-tech-osu018, "
                            "fetched on first use)")
        p.add_argument("--no-cache", action="store_true", help="synthesise even if a cached result exists")
        p.add_argument("--timeout", type=float, default=None, metavar="S", help="give up after S seconds")
        p.add_argument("--keep", default=None, metavar="DIR", help="copy the run folder (log, netlist) to DIR")

    def run(self, args: argparse.Namespace) -> int:
        from costmodel.liberty import LibertyError
        from costmodel.synth import SynthError, synthesize

        cfg = None
        if args.verilog:
            given = [flag for key, flag in self.flags.items() if getattr(args, key, None) is not None]
            if args.design:
                given.insert(0, "--design")
            if given:
                raise CommandError(f"FILE.v: {', '.join(given)} do(es) not apply to a Verilog file")
            path = Path(args.verilog)
            if not path.is_file():
                raise CommandError(f"FILE.v: no such file: {str(path)!r}")
            verilog = path.read_text()
        else:
            from hwgen.gateware.emit import emit_verilog

            cfg = self.config(args)
            verilog = emit_verilog(cfg)
        try:
            report = synthesize(verilog, top=args.top, liberty=args.liberty, use_cache=not args.no_cache,
                                timeout_s=args.timeout, keep_dir=Path(args.keep) if args.keep else None)
        except LibertyError as exc:
            raise CommandError(str(exc)) from None
        except SynthError as exc:
            raise CommandError(str(exc).splitlines()[0] + " (see --keep DIR for the log)") from None
        doc = report.to_dict()
        if cfg is not None:
            from costmodel import estimate

            predicted = estimate(cfg)
            doc["config"] = cfg.to_dict()
            doc["model_area_um2"] = predicted.area_um2
            doc["model_error_pct"] = 100 * (predicted.area_um2 - report.area_um2) / report.area_um2
        if args.json:
            print(json.dumps({"command": "synth", **doc, "versions": _versions()}, indent=2))
            return 0
        print(f"{report.top}: synthesised on {Path(report.liberty).name} in {report.seconds:.1f} s"
              + (" (cached)" if report.cached else ""))
        print(f"  area          : {report.area_um2:,.0f} um^2 = {report.area_um2 / 1e6:.3f} mm^2 "
              f"({report.nand2_eq:,.0f} NAND2 eq.), sequential {report.sequential_area_um2:,.0f} um^2")
        if report.memory_bits:
            print(f"  memories      : {report.memory_bits:,} bits kept as macros (not in the area)")
        if report.critical_path_ns:
            print(f"  timing        : critical path {report.critical_path_ns:.2f} ns -> {report.fmax_mhz:.0f} MHz "
                  f"({report.delay_source})")
        else:
            print("  timing        : not available (install OpenSTA: apt-get install opensta)")
        if cfg is not None:
            print(f"  cost model    : {doc['model_area_um2']:,.0f} um^2 ({doc['model_error_pct']:+.1f} %)")
        cells = sorted(report.cells.items(), key=lambda kv: -kv[1])
        print("  cells         : " + ", ".join(f"{name} {count}" for name, count in cells))
        return 0


def costmodel_main(argv: list[str] | None = None) -> int:
    """``costmodel calibrate | validate``: regenerate the unit-cost table; validate the model."""
    parser = argparse.ArgumentParser(prog="costmodel", description="Calibrate and validate the cost model.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cal = sub.add_parser("calibrate", help="synthesise every calibration unit and write the unit-cost table")
    cal.add_argument("-o", "--output", default="designs/costs/osu018.json", metavar="JSON")
    cal.add_argument("--liberty", default=None, metavar="PATH")
    cal.add_argument("--jobs", type=int, default=1, metavar="J", help="parallel syntheses (default: 1)")
    val = sub.add_parser("validate", help="predict and synthesise random unseen designs; report the errors")
    val.add_argument("--designs", type=int, default=30, metavar="K", help="designs to draw (default: 30)")
    val.add_argument("--seed", type=int, default=0)
    val.add_argument("--jobs", type=int, default=1, metavar="J", help="parallel syntheses (default: 1)")
    val.add_argument("--simulate", type=int, default=0, metavar="S",
                     help="also run the cocotb cycle count on the S smallest designs (default: 0)")
    val.add_argument("--max-area", type=float, default=None, metavar="UM2",
                     help="skip designs the model predicts larger (synthesis time grows with area)")
    val.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="give up on a design whose synthesis runs past S seconds (reported, not counted)")
    val.add_argument("-o", "--output", default="build/validation", metavar="DIR",
                     help="folder for validation.csv and validation.png (default: build/validation)")
    args = parser.parse_args(argv)
    if getattr(args, "jobs", 1) < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.command == "calibrate":
        from dse.calibration import calibrate

        table = calibrate(Path(args.output), liberty=args.liberty, jobs=args.jobs)
        print(f"wrote {args.output}: {len(table['samples'])} samples on {table['liberty']}")
        return 0
    if args.designs < 1:
        parser.error(f"--designs must be at least 1, got {args.designs}")
    from dse.validation import summarise, validate

    table = validate(args.designs, seed=args.seed, jobs=args.jobs, simulate=args.simulate,
                     out_dir=Path(args.output), max_area_um2=args.max_area, timeout_s=args.timeout)
    cols = ["name", "adder_stages", "pipeline", "reuse", "model_area_um2", "synth_area_um2", "area_error_pct",
            "model_critical_path_ns", "synth_critical_path_ns"]
    if args.simulate:
        cols += ["cycles_checked", "cycles_match"]
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:,.2f}".format):
        print(table[cols].to_string(index=False))
    s = summarise(table)
    if s["failed_syntheses"]:
        print(f"\n{s['failed_syntheses']} syntheses failed or timed out (see synth_error in the CSV)")
    print(f"\n{s['designs']} designs: area MAPE {s['area_mape_pct']:.2f} %, worst {s['area_worst_pct']:.2f} %, "
          f"{s['area_within_5pct']} within 5 %; critical path MAPE {s['cp_mape_pct']:.1f} %, "
          f"worst {s['cp_worst_pct']:.1f} %")
    if args.simulate:
        print(f"cycles: {s['simulated_jobs']} cocotb jobs on {s['simulated_designs']} designs, "
              f"{'all equal to the model' if s['cycles_all_match'] else 'MISMATCH'}")
    print(f"wrote {Path(args.output) / 'validation.csv'} and {Path(args.output) / 'validation.png'}")
    return 0 if not args.simulate or s["cycles_all_match"] else 1


if __name__ == "__main__":
    sys.exit(costmodel_main())
