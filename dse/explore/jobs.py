"""Expensive checks of a study's best designs, dispatched through the study's storage.

``dse run --synth-top N`` / ``--verify-top N`` (or the same options of ``dse show``) pick N designs
spread evenly along the Pareto set (both ends included, in the order of the first objective) and
queue one job each in a companion study ``<name>.jobs`` of the same storage, with the same queue
as the search (:mod:`dse.explore.search`): every ``dse worker`` on any machine claims jobs from
it, a job runs once, and a job whose worker died is run again. Two kinds:

* ``synth``: emit the core's Verilog, synthesise one core with the project flow
  (:func:`costmodel.synth.synthesize`: Yosys + the liberty + OpenSTA) and store the synthesised
  area and critical path beside the model's prediction for that one core;
* ``verify``: run the cocotb regression bench on the core's Verilog in Verilator
  (:func:`sim.runner.run_cocotb`: every scenario checked bit for bit against the reference model)
  and store whether it passed, the tests run and the time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import search
from .results import core_fields
from .spec import StudySpec

__all__ = ["jobs_study_name", "pick_spread", "queue_jobs", "work_jobs", "jobs_table", "KINDS", "MAX_JOBS"]

#: Most designs one ``--synth-top`` or ``--verify-top`` queues.
MAX_JOBS = 50
#: Job kinds.
KINDS = ("synth", "verify")
_CONFIG_ATTR, _TRIAL_ATTR, _KIND_ATTR = "config", "design_trial", "kind"


def jobs_study_name(name: str) -> str:
    return f"{name}.jobs"


def pick_spread(pareto: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` rows spread evenly along ``pareto`` (already in first-objective order)."""
    if count >= len(pareto):
        return pareto
    index = np.unique(np.round(np.linspace(0, len(pareto) - 1, count)).astype(int))
    return pareto.iloc[index]


def _jobs_study(rdb, name: str, create: bool):
    import optuna

    try:
        if create:
            return optuna.create_study(storage=rdb, study_name=jobs_study_name(name), direction="minimize",
                                       load_if_exists=True)
        return optuna.load_study(study_name=jobs_study_name(name), storage=rdb)
    except KeyError:
        return None


def queue_jobs(rdb, spec: StudySpec, rows: pd.DataFrame, kind: str) -> int:
    """Queue a ``kind`` job for each trial of ``rows`` that has none yet; returns how many."""
    jobs = _jobs_study(rdb, spec.name, create=True)
    trials = jobs.get_trials(deepcopy=False)
    have = {(t.user_attrs.get(_KIND_ATTR), t.user_attrs.get(_TRIAL_ATTR)) for t in trials}
    added = 0
    for _, row in rows.iterrows():
        number = int(row["number"])
        if (kind, number) in have:
            continue
        jobs.enqueue_trial({}, user_attrs={_KIND_ATTR: kind, _TRIAL_ATTR: number,
                                           _CONFIG_ATTR: core_fields(row),
                                           search.SLOT_ATTR: len(trials) + added,
                                           "predicted_area_um2": float(row["area_um2"]),
                                           "predicted_critical_path_ns": float(row["critical_path_ns"])})
        added += 1
    return added


def _synth(trial, cfg) -> float:
    from costmodel.synth import synthesize
    from hwgen.gateware.emit import emit_verilog

    report = synthesize(emit_verilog(cfg))
    trial.set_user_attr("synth_area_um2", report.area_um2)
    trial.set_user_attr("synth_critical_path_ns", report.critical_path_ns)
    trial.set_user_attr("seconds", report.seconds)
    return report.area_um2


def _verify(trial, cfg) -> float:
    from sim.runner import run_cocotb

    result = run_cocotb(cfg, sim="verilator", check=False)
    trial.set_user_attr("verify_passed", result.passed)
    trial.set_user_attr("verify_tests", len(result.tests))
    trial.set_user_attr("verify_failed", [t.name for t in result.tests if not t.passed])
    trial.set_user_attr("seconds", round(result.build_s + result.test_s, 1))
    return 0.0 if result.passed else 1.0


def _run_job(study, spec, trial) -> None:
    from optuna.trial import TrialState

    from hwgen.description.config import CoreConfig

    cfg = CoreConfig(**dict(trial.user_attrs[_CONFIG_ATTR]))
    run = _synth if trial.user_attrs.get(_KIND_ATTR, "synth") == "synth" else _verify
    try:
        value = run(trial, cfg)
    except Exception as exc:  # noqa: BLE001 - a tool failure is the job's result, kept for the table
        trial.set_user_attr("problems", [f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0]}"])
        study.tell(trial, state=TrialState.FAIL)
        return
    study.tell(trial, value)


def work_jobs(study, spec: StudySpec, rdb, *, on_job=None) -> int:
    """Run the queued jobs of ``spec``'s study until none is left; returns how many ran here."""
    jobs = _jobs_study(rdb, spec.name, create=False)
    if jobs is None:
        return 0
    return search.work(jobs, spec, evaluate=_run_job, on_trial=on_job, jobs=True)


def jobs_table(rdb, spec: StudySpec, kind: str) -> pd.DataFrame | None:
    """The ``kind`` jobs of ``spec``'s study (``None``: none): the design, state, and for ``synth``
    predicted vs synthesised area and critical path (errors in %), for ``verify`` whether the
    cocotb bench passed."""
    jobs = _jobs_study(rdb, spec.name, create=False)
    if jobs is None:
        return None
    rows = []
    for t in jobs.get_trials(deepcopy=False):
        a = t.user_attrs
        if a.get(_KIND_ATTR, "synth") != kind:
            continue
        cfg = a.get(_CONFIG_ATTR, {})
        row = {"trial": a.get(_TRIAL_ATTR), "state": t.state.name, "mu": cfg.get("mu"),
               "luts": cfg.get("luts"), "keys": cfg.get("keys")}
        if kind == "synth":
            row.update({k: a.get(k) for k in ("predicted_area_um2", "synth_area_um2",
                                               "predicted_critical_path_ns", "synth_critical_path_ns")})
        else:
            row.update({"passed": a.get("verify_passed"), "tests": a.get("verify_tests"),
                        "failed": ", ".join(a.get("verify_failed", []))})
        row["seconds"] = a.get("seconds")
        row["problems"] = "; ".join(a.get("problems", []))
        rows.append(row)
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    if kind == "synth":
        for col in ("predicted_area_um2", "synth_area_um2", "predicted_critical_path_ns",
                    "synth_critical_path_ns"):
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
        frame["area_error_pct"] = 100 * (frame["predicted_area_um2"] / frame["synth_area_um2"] - 1)
        frame["critical_path_error_pct"] = 100 * (frame["predicted_critical_path_ns"]
                                                  / frame["synth_critical_path_ns"] - 1)
    return frame.sort_values("trial").reset_index(drop=True)
