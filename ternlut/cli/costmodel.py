"""The ``costmodel`` command line: ``calibrate`` (regenerate the unit-cost table by synthesis) and
``validate`` (predict and synthesise random unseen designs, report the errors).

Commands are :class:`~ternlut.cli._base.Command` classes registered in :data:`COMMANDS`;
``hwgen cost`` and ``hwgen synth``, which price or synthesise one design, are in :mod:`ternlut.cli.hwgen`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hwgen.description.config import ConfigError
from hwgen.description.lut_plan import MAX_MU

from ._base import (
    Command,
    CommandError,
    atomic_write,
    check_output_dir,
    check_writable,
    config_problems,
    int_range,
    make_main,
    positive_float,
)

__all__ = ["main", "COMMANDS", "CalibrateCommand", "ValidateCommand"]


class CalibrateCommand(Command):
    """``costmodel calibrate``: synthesise every calibration unit and core, write the unit-cost table."""

    name = "calibrate"
    help = "synthesise every calibration unit and write the unit-cost table"
    example = "costmodel calibrate --jobs 8 -o designs/costs/osu018.json"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("-o", "--output", default="designs/costs/osu018.json", metavar="JSON",
                       help="unit-cost table to write, atomically (default: %(default)s)")
        p.add_argument("--liberty", default=None, metavar="PATH",
                       help="standard-cell library (default: OSU 0.18 um from Debian's qflow-tech-osu018, "
                            "fetched on first use)")
        p.add_argument("--jobs", type=int_range(1), default=1, metavar="J",
                       help="parallel syntheses (default: %(default)s)")
        p.add_argument("--max-mu", type=int_range(1, MAX_MU), default=None, metavar="M",
                       help=f"calibrate fetchers for mu 1..M, at most {MAX_MU}: the mu range of the table "
                            "and of every mu search (default: that of hwgen.gateware.calibration_units, 6)")
        p.add_argument("--update", action="store_true",
                       help="keep the samples of the table at -o and synthesise only the units and cores it "
                            "lacks (same liberty and flow version)")

    def run(self, args: argparse.Namespace) -> int:
        import json

        from costmodel.liberty import LibertyError
        from dse.calibration import calibrate, table_text

        output = Path(args.output)
        check_writable(output, "-o", make_parents=True)
        base = None
        if args.update:
            try:
                base = json.loads(output.read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--update: cannot read the table {str(output)!r}: {exc}") from None
        try:  # calibrate() resolves the liberty before any synthesis
            table = calibrate(liberty=args.liberty, jobs=args.jobs, max_mu=args.max_mu, update=base)
        except (LibertyError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        atomic_write(output, table_text(table), "-o", make_parents=True)
        if args.json:
            self.print_json({"output": str(output), "samples": len(table["samples"]),
                             "liberty": table["liberty"], "liberty_sha256": table["liberty_sha256"],
                             "flow_version": table["flow_version"]})
            return 0
        print(f"wrote {output}: {len(table['samples'])} samples on {table['liberty']}")
        return 0


class ValidateCommand(Command):
    """``costmodel validate``: draw random unseen designs, synthesise them, compare with the model."""

    name = "validate"
    help = "predict and synthesise random unseen designs; report the errors"
    example = "costmodel validate --designs 30 --jobs 8 --max-area 2e6 -o build/validation"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--designs", type=int_range(1), default=30, metavar="K",
                       help="designs to draw (default: %(default)s)")
        p.add_argument("--seed", type=int_range(0), default=0, metavar="SEED",
                       help="seed of the random draw (default: %(default)s)")
        p.add_argument("--jobs", type=int_range(1), default=1, metavar="J",
                       help="parallel syntheses (default: %(default)s)")
        p.add_argument("--simulate", type=int_range(0), default=0, metavar="S",
                       help="also run the cocotb cycle count on the S smallest designs; needs Verilator "
                            "(default: %(default)s)")
        p.add_argument("--max-area", type=positive_float("um^2"), default=None, metavar="UM2",
                       help="skip designs the model predicts larger than UM2 um^2 (synthesis time grows "
                            "with area; default: no limit)")
        p.add_argument("--timeout", type=positive_float("seconds"), default=None, metavar="S",
                       help="give up on a design whose synthesis runs past S seconds (reported, not counted; "
                            "default: no limit)")
        p.add_argument("--fp-reduce", choices=("ieee", "blockfp", "fused"), default="ieee",
                       help="blockfp: draw block-FP cores only (fp16/bf16, aligned width 8..32, either "
                            "rounding); fused: fused-reduction cores only (fp16/bf16, 0..8 guard bits, "
                            "either rounding); ieee: the standard draw of integer and IEEE FP cores "
                            "(default: %(default)s)")
        p.add_argument("--large", type=int_range(0), default=0, metavar="K",
                       help="also K integer cores with both tile sides in 32..64, beyond --max-area "
                            "(default: %(default)s)")
        p.add_argument("-o", "--output", default="build/validation", metavar="DIR",
                       help="folder for validation.csv and validation.png (default: %(default)s)")

    def run(self, args: argparse.Namespace) -> int:
        from costmodel.liberty import LibertyError
        from dse.validation import summarise, validate

        out_dir = Path(args.output)
        check_output_dir(out_dir, "-o")
        if args.simulate:
            from sim.runner import simulator_available

            if not simulator_available("verilator"):
                raise CommandError(f"--simulate: the cycle count needs Verilator, which is not installed; "
                                   f"got --simulate {args.simulate} (use 0)")
        try:
            table = validate(args.designs, seed=args.seed, jobs=args.jobs, simulate=args.simulate,
                             out_dir=out_dir, max_area_um2=args.max_area, timeout_s=args.timeout,
                             fp_reduce=args.fp_reduce, large=args.large)
        except ConfigError as exc:
            raise config_problems(exc, {"max_area_um2": "--max-area"}) from None
        except LibertyError as exc:
            raise CommandError(str(exc)) from None
        summary = summarise(table)
        status = 0 if not args.simulate or summary["cycles_all_match"] else 1
        csv, png = out_dir / "validation.csv", out_dir / "validation.png"
        if args.json:
            self.print_json({"summary": summary, "csv": str(csv), "png": str(png), "seed": args.seed,
                             "exit_status": status})
            return status
        cols = ["name", "adder_stages", "pipeline", "reuse", "model_area_um2", "synth_area_um2",
                "area_error_pct", "model_critical_path_ns", "synth_critical_path_ns", "cp_error_pct",
                "model_energy_pj_per_cycle", "synth_energy_pj_per_cycle", "energy_error_pct"]
        if args.simulate:
            cols += ["cycles_checked", "cycles_match"]
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_columns", 20,
                               "display.float_format", "{:,.2f}".format):
            print(table[cols].to_string(index=False))
        s = summary
        if s["failed_syntheses"]:
            print(f"\n{s['failed_syntheses']} syntheses failed or timed out (see synth_error in the CSV)")
        print(f"\n{s['designs']} designs: area MAPE {s['area_mape_pct']:.2f} %, "
              f"worst {s['area_worst_pct']:.2f} %, {s['area_within_5pct']} within 5 %; "
              f"critical path MAPE {s['cp_mape_pct']:.1f} %, worst {s['cp_worst_pct']:.1f} %; "
              f"energy per cycle MAPE {s['energy_mape_pct']:.1f} %, worst {s['energy_worst_pct']:.1f} %")
        if args.simulate:
            print(f"cycles: {s['simulated_jobs']} cocotb jobs on {s['simulated_designs']} designs, "
                  f"{'all equal to the model' if s['cycles_all_match'] else 'MISMATCH'}")
        print(f"wrote {csv} and {png}")
        return status


#: The registered commands, in help order.
COMMANDS = (CalibrateCommand(), ValidateCommand())

main = make_main("costmodel", "Calibrate and validate the cost model.", COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
