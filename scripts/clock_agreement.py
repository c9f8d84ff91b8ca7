"""Does the cost model's timing verdict hold after synthesis? For several designs and clock targets,
resolve each design as ``hwgen emit --clock-mhz F`` does (:func:`costmodel.resolve_design`), synthesise
the chosen core with F as the mapper's delay target (:func:`costmodel.synth.synthesize`,
``clock_ns = 1000 / F``) and compare the verdicts: met when the critical path is at most 1000/F ns.

The clocks of a design are fractions of two predicted fmax: the cheapest design's (the one chosen
at any slow clock) and the fastest design's the model knows for it (the parameters given fixed, the
rest free). Up to 1 the model meets them; above the fastest's no candidate does, and the fastest
design is synthesised at that clock (the model's verdict: missed).

Per row: design, F, the chosen parameters, model critical path and verdict, synthesised critical
path and verdict, whether they agree, and the slack error (synthesised slack - model slack, ns).
Prints the figures; no pass/fail (``tests/unit/test_clock_choice.py`` holds the CI check). Synthesis
results are cached (``$TERNLUT_CACHE``), so a second run is quick. ::

    python scripts/clock_agreement.py [--quick] [--json] [--out DIR] [--timeout S]

The full run synthesises 30 cores, the largest (fp16 -> fp32, 8 x 8) for minutes each on a busy
machine; ``--quick`` one tiny int4 core at two clocks (seconds).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: (label, :func:`hwgen.description.config.core_config` parameters given), int8 and fp16 of several sizes.
DESIGNS = (
    ("int8 4x4", {"act": "int8", "core": 4, "max_n": 64, "max_m": 64}),
    ("int8 16x16", {"act": "int8", "core": 16, "max_n": 256, "max_m": 256}),
    ("int8 32x32", {"act": "int8", "core": 32, "max_n": 512, "max_m": 512}),
    ("fp16 2x2", {"act": "fp16", "core": 2, "max_n": 16, "max_m": 16}),
    ("fp16 4x4", {"act": "fp16", "core": 4, "max_n": 64, "max_m": 64}),
    ("fp16->fp32 8x8", {"act": "fp16", "acc": "fp32", "core": 8, "max_n": 64, "max_m": 64}),
)
#: Clock targets: (reference design, fraction of its predicted fmax); above 1 of the fastest, the model
#: says missed.
FRACTIONS = (("cheapest", 0.5), ("cheapest", 0.9), ("fastest", 0.7), ("fastest", 1.0), ("fastest", 1.5))
#: ``--quick``: one tiny design at a clock met with 40 % slack and one twice the fastest fmax.
QUICK_DESIGNS = (("int4 2x2", {"act": "int4", "core": 2, "max_n": 16, "max_m": 8}),)
QUICK_FRACTIONS = (("cheapest", 0.6), ("fastest", 2.0))
#: Columns of the table and the CSV.
COLUMNS = ("design", "clock_mhz", "chosen", "model_critical_path_ns", "model_met", "synth_critical_path_ns",
           "synth_met", "agree", "slack_error_ns", "error")


def reference_mhz(params: dict) -> dict[str, float]:
    """Predicted fmax (MHz) with ``params`` fixed and the rest free: of the ``"cheapest"`` design (the
    least area per useful MAC/s, chosen at any slow clock) and of the ``"fastest"``."""
    from costmodel import ClockUnmetError, choose_for_clock

    cheapest = 1000.0 / choose_for_clock(params, 1e-3).critical_path_ns
    try:
        choose_for_clock(params, 1e6)
    except ClockUnmetError as exc:
        return {"cheapest": cheapest, "fastest": 1000.0 / exc.fastest_ns}
    raise AssertionError("a 1 THz clock met")


def clocks(params: dict, fractions: tuple[tuple[str, float], ...]) -> list[float]:
    """Clock targets (MHz) of a design, in increasing order without repeats: ``(reference, fraction)``
    of :func:`reference_mhz`, rounded down to 0.1 MHz (so that a fraction of 1 is still met)."""
    fmax = reference_mhz(params)
    return sorted({math.floor(10 * f * fmax[ref]) / 10 for ref, f in fractions})


def measure(label: str, params: dict, clock_mhz: float, *, timeout_s: float | None, use_cache: bool) -> dict:
    """One row: the design ``hwgen emit --clock-mhz`` makes (or, when the model meets no design, the
    fastest one), synthesised with the clock as target, and both verdicts."""
    from costmodel import ClockUnmetError, estimate, resolve_design
    from costmodel.synth import SynthError, synthesize
    from hwgen.gateware.emit import emit_verilog

    target_ns = 1000.0 / clock_mhz
    try:
        choice = resolve_design(params, clock_mhz=clock_mhz).clock_choice
        cfg, chosen, model_ns = choice.config, choice.chosen, choice.critical_path_ns
    except ClockUnmetError as exc:
        cfg = resolve_design({**params, **exc.fastest}).config
        chosen, model_ns = exc.fastest, estimate(cfg).critical_path_ns
    row = dict.fromkeys(COLUMNS)
    row.update(design=label, clock_mhz=clock_mhz, chosen=", ".join(f"{k}={v}" for k, v in chosen.items()),
               model_critical_path_ns=model_ns, model_met=model_ns <= target_ns, error="")
    try:
        report = synthesize(emit_verilog(cfg), clock_ns=target_ns, timeout_s=timeout_s, use_cache=use_cache)
    except SynthError as exc:
        row["error"] = str(exc).splitlines()[0]
        return row
    synth_ns = report.critical_path_ns
    if synth_ns is None:
        row["error"] = "no timing (install OpenSTA: apt-get install opensta)"
        return row
    row.update(synth_critical_path_ns=synth_ns, synth_met=synth_ns <= target_ns,
               agree=(synth_ns <= target_ns) == row["model_met"],
               slack_error_ns=round((target_ns - synth_ns) - (target_ns - model_ns), 3))
    return row


def _cell(value: object, fmt: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "met" if value else "missed"
    return format(value, fmt)


def print_table(rows: list[dict]) -> None:
    print(f"{'design':<16} {'F MHz':>7}  {'chosen':<40} {'model ns':>8} {'model':<6} {'synth ns':>8} "
          f"{'synth':<6} {'agree':<5} {'slack err ns':>12}")
    for r in rows:
        agree = "-" if r["agree"] is None else ("yes" if r["agree"] else "NO")
        print(f"{r['design']:<16} {r['clock_mhz']:>7.1f}  {r['chosen']:<40} "
              f"{_cell(r['model_critical_path_ns'], '.3f'):>8} {_cell(r['model_met']):<6} "
              f"{_cell(r['synth_critical_path_ns'], '.3f'):>8} {_cell(r['synth_met']):<6} {agree:<5} "
              f"{_cell(r['slack_error_ns'], '+.3f'):>12}" + (f"  ({r['error']})" if r["error"] else ""))
    print(summary_line(rows))


def summary_line(rows: list[dict]) -> str:
    done = [r for r in rows if r["agree"] is not None]
    if not done:
        return "no row synthesised"
    errors = [r["slack_error_ns"] for r in done]
    worst = max(errors, key=abs)
    return (f"verdicts agree on {sum(r['agree'] for r in done)} of {len(done)} rows; slack error "
            f"(synth - model) mean {sum(errors) / len(errors):+.3f} ns, largest {worst:+.3f} ns")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
    p.add_argument("--quick", action="store_true", help="one tiny int4 design at two clocks (seconds)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON document (rows, summary) instead of the table")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="also write DIR/clock_agreement.csv (created if missing)")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                   help="give up one synthesis after S seconds (default: %(default)s)")
    p.add_argument("--no-cache", action="store_true", help="synthesise even if a cached result exists")
    args = p.parse_args(argv)
    if not args.timeout > 0:
        p.error(f"--timeout: must be a positive number of seconds, got {args.timeout!r}")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        p.error(f"--out: {str(args.out)!r} is a file, expected a folder")

    from dse.progress import progress_bar

    designs, fractions = (QUICK_DESIGNS, QUICK_FRACTIONS) if args.quick else (DESIGNS, FRACTIONS)
    work = [(label, params, f) for label, params in designs for f in clocks(params, fractions)]
    rows = []
    bar = progress_bar(len(work), "clock agreement")
    for label, params, clock_mhz in work:
        bar.set_postfix_str(f"{label} @ {clock_mhz:g} MHz")
        rows.append(measure(label, params, clock_mhz, timeout_s=args.timeout, use_cache=not args.no_cache))
        bar.update()
    bar.close()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        with (args.out / "clock_agreement.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    if args.json:
        from ternlut.cli._base import versions

        done = [r for r in rows if r["agree"] is not None]
        print(json.dumps({"command": "clock_agreement", "rows": rows, "synthesised": len(done),
                          "agree": sum(r["agree"] for r in done), "summary": summary_line(rows),
                          "csv": str(args.out / "clock_agreement.csv") if args.out else None,
                          "versions": versions()}, indent=2))
    else:
        print_table(rows)
        if args.out is not None:
            print(f"wrote {args.out / 'clock_agreement.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
