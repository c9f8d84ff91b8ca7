"""Regenerate the cost-model pins (``tests/data/pinned_cost_model.json``) after a deliberate change
of the model or of its unit-cost table (a recalibration).

The pinned designs and GEMVs stay as they are; every priced design's ``report`` (``estimate``)
and ``table`` row (``estimate_table`` at n = 2560, m = 6912) are recomputed with the current code
and table, and ``note`` records why. Unpriceable pins (``report: null``) stay unpriceable.

Run: ``python scripts/regen_cost_pins.py --why "recalibrated on flow 4 (issue 11)"``
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from costmodel import estimate, estimate_table
from hwgen.description import CoreConfig

PINS = Path(__file__).resolve().parent.parent / "tests" / "data" / "pinned_cost_model.json"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--why", required=True, help="what changed on purpose (appended to the pins' note)")
    args = p.parse_args(argv)
    pins = json.loads(PINS.read_text())
    gemvs = [tuple(g) for g in pins["gemvs"]]
    priced = [d for d in pins["designs"] if d["report"] is not None]
    table = estimate_table(pd.DataFrame([d["config"] for d in priced]), n=2560, m=6912)
    changed = 0
    for pin, (_, row) in zip(priced, table.iterrows(), strict=True):
        report = estimate(CoreConfig(**pin["config"]), gemvs=gemvs).to_dict()
        report["config"] = {k: report["config"][k] for k in pin["report"]["config"]}  # as pinned
        new_table = {column: (row[column].item() if hasattr(row[column], "item") else row[column])
                     for column in pin["table"]}
        changed += report != pin["report"] or any(
            not math.isclose(v, pin["table"][k], rel_tol=1e-12, abs_tol=1e-9) if isinstance(v, float)
            else v != pin["table"][k] for k, v in new_table.items())
        pin["report"], pin["table"] = report, new_table
    pins["note"] = pins["note"].rstrip(". ") + f". Reports and table rows regenerated: {args.why}"
    partial = PINS.with_suffix(".partial")
    partial.write_text(json.dumps(pins, indent=1) + "\n")
    partial.replace(PINS)
    print(f"{changed} of {len(priced)} priced pins changed; wrote {PINS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
