"""The timing flow's fanout check: one register driving 1, 16, 256, 4096 gates.

Each design is :class:`hwgen.gateware.calibration_units.RegisterFanout` synthesised with the
project flow (:func:`costmodel.synth.synthesize`); the table gives the critical path (register
to register, through the register's fanout), the buffers the flow inserted and the area. With
the flow buffering register outputs the delay grows with the logarithm of the fanout (about
+0.22 ns per 16x on OSU 0.18 um); an unbuffered flip-flop driving the loads grows linearly.

Run: ``python scripts/fanout_timing.py [--loads 1 16 256 4096] [--json]``
"""

from __future__ import annotations

import argparse
import json
import math

from costmodel.synth import synthesize
from hwgen.gateware.calibration_units import RegisterFanout
from hwgen.gateware.emit import to_verilog


def fanout_rows(loads: list[int]) -> list[dict[str, object]]:
    """One row per fanout: loads, critical path (ns), buffer cells inserted, area (um^2)."""
    rows = []
    for n in loads:
        report = synthesize(to_verilog(RegisterFanout(n), f"fanout{n}"))
        buffers = sum(count for cell, count in report.cells.items() if cell.startswith(("BUF", "INV")))
        rows.append({"loads": n, "critical_path_ns": report.critical_path_ns, "buffers": buffers,
                     "area_um2": report.area_um2})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--loads", type=int, nargs="+", default=[1, 16, 256, 4096], metavar="N",
                   help="fanouts to synthesise (default: 1 16 256 4096)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = p.parse_args(argv)
    if min(args.loads) < 1:
        p.error(f"--loads: every fanout must be >= 1, got {min(args.loads)}")
    rows = fanout_rows(sorted(set(args.loads)))
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'loads':>6} {'log2':>5} {'critical path ns':>17} {'buffers':>8} {'area um^2':>11}")
    for r in rows:
        print(f"{r['loads']:>6} {math.log2(r['loads']):>5.0f} {r['critical_path_ns']:>17.3f} "
              f"{r['buffers']:>8} {r['area_um2']:>11,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
