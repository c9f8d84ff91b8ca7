"""Regenerate a unit-cost table: synthesise every calibration unit (and a few tiny calibration
cores for the control logic) alone, and write the raw results as JSON.

The fits (per-bit costs, adder width laws, the control term) are made by
:mod:`costmodel.unit_costs` when the table is loaded, so the table holds measurements only.
Designs used here are never used for validation (:mod:`dse.validation` skips them).

Run: ``costmodel calibrate [--liberty PATH] [-o designs/costs/osu018.json] [--jobs N] [--max-mu M]``
(:mod:`ternlut.cli.costmodel` writes the table atomically).
"""

from __future__ import annotations

import datetime
import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from costmodel.liberty import liberty_digest, nand2_area_um2, resolve_liberty
from costmodel.synth import FLOW_VERSION, synthesize
from hwgen.description.config import CoreConfig
from hwgen.gateware.calibration_units import calibration_units
from hwgen.gateware.emit import emit_verilog, to_verilog

from .progress import progress_bar

__all__ = ["CALIBRATION_CORES", "calibrate", "table_text"]

#: Sample fields that are measurements, not parameters.
_MEASURED = ("area_um2", "critical_path_ns", "seconds", "power", "input_to_register_ns",
             "register_to_output_ns")

#: Calibration cores: tiny ones that pin down the control logic (FSM, counters, lane masks),
#: mid-size ones (L, K up to 16) from which the model learns how much whole-design synthesis
#: saves on each component group by optimising across component boundaries, and three large
#: integer tiles (32 x 32 to 48 x 48) so that no fitted term is only seen on small cores.
CALIBRATION_CORES: tuple[dict[str, object], ...] = tuple(
    {"act": act, "mu": mu, "luts": luts, "keys": keys, "reuse": reuse, "max_n": max_n, "max_m": max_m,
     "adder_stages": stages if act.startswith(("fp", "bf")) else 0}
    for act in ("int4", "int8", "fp16", "bf16")
    for (mu, luts, keys, reuse, max_n, max_m, stages) in (
        (1, 1, 1, 1, 64, 64, 0),
        (2, 2, 2, 2, 512, 256, 1),
        (1, 4, 3, 1, 4096, 1024, 0),
        (3, 1, 1, 3, 96, 4096, 2),
    )
) + tuple(
    {"act": act, "acc": acc, "mu": mu, "luts": luts, "keys": keys, "reuse": reuse, "pipeline": pipeline,
     "adder_stages": stages, "max_n": 2048, "max_m": 2048}
    for (act, acc, mu, luts, keys, reuse, pipeline, stages) in (
        ("int4", "", 2, 16, 2, 2, 2, 0),
        ("int4", "", 4, 2, 16, 1, 0, 0),
        ("int8", "", 3, 12, 4, 3, 3, 0),
        ("int8", "", 2, 4, 12, 1, 1, 0),
        ("int8", "", 5, 3, 6, 2, 0, 0),
        ("int8", "", 1, 16, 8, 1, 4, 0),
        ("fp16", "fp32", 2, 8, 2, 2, 2, 1),
        ("fp16", "", 3, 2, 8, 1, 0, 0),
        ("bf16", "", 2, 10, 1, 3, 3, 2),
        ("bf16", "fp32", 3, 1, 10, 1, 0, 1),
        # large tiles (the model's delay terms must not be extrapolated from small cores alone)
        ("int8", "", 2, 16, 32, 1, 3, 0),
        ("int4", "", 1, 40, 40, 1, 6, 0),
        ("int8", "", 3, 16, 48, 2, 0, 0),
    )
) + tuple(
    {"arch": "mac", "act": act, "mu": 1, "luts": luts, "keys": keys, "adder_stages": stages, "max_n": 1024,
     "max_m": 1024}
    for (act, luts, keys, stages) in (
        ("int8", 4, 4, 0), ("int4", 6, 3, 0), ("fp16", 2, 2, 1), ("bf16", 3, 1, 0),
    )
)


#: Units whose input-to-register and register-to-output paths are timed too (where a pipelined
#: unit's registers cut it: the delay model adds what comes before and after).
IO_PATH_KINDS = ("fp_add", "fp_mul")


def _unit_job(args):
    kind, params, verilog, liberty = args
    io_paths = kind in IO_PATH_KINDS and params.get("stages", 0) > 0
    report = synthesize(verilog, liberty=liberty, power=kind == "core", io_paths=io_paths)
    sample = {"kind": kind, **params, "area_um2": report.area_um2,
              "critical_path_ns": report.critical_path_ns, "seconds": report.seconds}
    if io_paths:
        sample.update(report.extra)
    if report.power is not None:  # cores: the power at fmax under the flow's stated activity
        sample["power"] = report.power
    return sample


def _sample_key(kind: str, params: dict) -> str:
    """What identifies a sample: its kind and parameters (a core's by its config)."""
    return json.dumps({"kind": kind, **params}, sort_keys=True, default=str)


def calibrate(*, liberty: str | Path | None = None, jobs: int = 1, progress: bool = True,
              max_mu: int | None = None, update: dict | None = None) -> dict:
    """Synthesise all calibration units and cores; return the unit-cost table (write it with
    :func:`table_text`).

    Parameters
    ----------
    liberty : str or Path, optional
        Standard-cell library (default: :func:`costmodel.liberty.default_liberty`).
    jobs : int
        Parallel syntheses.
    progress : bool
        Show a progress bar on stderr.
    max_mu : int, optional
        Largest LUT group size whose fetchers are calibrated (default: that of
        :func:`hwgen.gateware.calibration_units.calibration_units`).
    update : dict, optional
        An existing table of the same liberty and flow version: its samples are kept, and only
        the units and cores it lacks are synthesised (units and cores added since it was made).

    Raises
    ------
    costmodel.liberty.LibertyError
        When the liberty is missing or cannot be fetched (before any synthesis).
    """
    lib = resolve_liberty(liberty)
    samples = []
    if update is not None:
        if update.get("liberty_sha256") != liberty_digest(lib) or update.get("flow_version") != FLOW_VERSION:
            raise ValueError(f"the table to update was made on {update.get('liberty')!r} with flow "
                             f"{update.get('flow_version')!r}, not {lib.name!r} with flow {FLOW_VERSION!r}: "
                             "calibrate it whole")
        samples = list(update["samples"])
    have = {_sample_key(s["kind"], {"config": CoreConfig(**s["config"]).to_dict()} if s["kind"] == "core"
                        else {k: v for k, v in s.items() if k not in _MEASURED}) for s in samples}
    tasks = []
    for unit in calibration_units(**({} if max_mu is None else {"max_mu": max_mu})):
        if _sample_key(unit.kind, dict(unit.params)) not in have:
            tasks.append((unit.kind, dict(unit.params), lambda u=unit: to_verilog(u.build(), u.name),
                          str(lib)))
    for params in CALIBRATION_CORES:
        cfg = CoreConfig(**params)
        if _sample_key("core", {"config": cfg.to_dict()}) not in have:
            tasks.append(("core", {"config": cfg.to_dict()}, lambda c=cfg: emit_verilog(c), str(lib)))
    tasks = [(kind, params, verilog(), lib_path) for kind, params, verilog, lib_path in tasks]
    bar = progress_bar(len(tasks), "calibration syntheses", enabled=progress)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        for fut in as_completed([pool.submit(_unit_job, t) for t in tasks]):
            samples.append(fut.result())
            bar.update(1)
    bar.close()
    samples.sort(key=lambda s: (s["kind"], json.dumps(s, sort_keys=True, default=str)))
    return {
        "liberty": lib.name,
        "liberty_sha256": liberty_digest(lib),
        "flow_version": FLOW_VERSION,
        "nand2_area_um2": nand2_area_um2(lib),
        "generated": datetime.date.today().isoformat(),
        "samples": samples,
    }


def table_text(table: dict) -> str:
    """The unit-cost table as the JSON text of ``designs/costs/*.json`` (sorted keys, newline-terminated)."""
    return json.dumps(table, indent=1, sort_keys=True) + "\n"
