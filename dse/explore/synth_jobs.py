"""Synthesis of a study's best designs, dispatched through the study's storage.

``dse run --synth-top N`` (or ``dse show --synth-top N``) picks N designs spread evenly along the
Pareto set (both ends included, in the order of the first objective) and queues one synthesis job
each in a companion study ``<name>.synth`` of the same storage, with the same exact-budget queue
as the search (:mod:`dse.explore.search`): every ``dse worker`` on any machine claims jobs from
it, and a job is synthesised once. A job emits the core's Verilog, synthesises one core with the
project flow (:func:`costmodel.synth.synthesize`: Yosys + the liberty + OpenSTA) and stores the
synthesised area and critical path beside the model's prediction for that one core.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodel.table import CONFIG_COLUMNS

from . import search
from .spec import StudySpec

__all__ = ["synth_study_name", "pick_for_synthesis", "queue_synth", "work_synth", "synth_table", "MAX_SYNTH"]

#: Most designs one ``--synth-top`` queues.
MAX_SYNTH = 50
_CONFIG_ATTR, _TRIAL_ATTR = "config", "design_trial"


def synth_study_name(name: str) -> str:
    return f"{name}.synth"


def pick_for_synthesis(pareto: pd.DataFrame, count: int) -> pd.DataFrame:
    """``count`` rows spread evenly along ``pareto`` (already in first-objective order)."""
    if count >= len(pareto):
        return pareto
    index = np.unique(np.round(np.linspace(0, len(pareto) - 1, count)).astype(int))
    return pareto.iloc[index]


def _config_of(row: pd.Series) -> dict:
    cfg = {}
    for key in CONFIG_COLUMNS:
        if key == "name" or key not in row:
            continue
        value = row[key]
        if key in ("arch", "act", "acc"):
            cfg[key] = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
        else:
            cfg[key] = int(value)
    return cfg


def _synth_study(rdb, name: str, create: bool):
    import optuna

    try:
        if create:
            return optuna.create_study(storage=rdb, study_name=synth_study_name(name), direction="minimize",
                                       load_if_exists=True)
        return optuna.load_study(study_name=synth_study_name(name), storage=rdb)
    except KeyError:
        return None


def queue_synth(rdb, spec: StudySpec, rows: pd.DataFrame) -> int:
    """Queue a synthesis job for each trial of ``rows`` not queued before; returns how many."""
    jobs = _synth_study(rdb, spec.name, create=True)
    have = {t.user_attrs.get(_TRIAL_ATTR) for t in jobs.get_trials(deepcopy=False)}
    added = 0
    for _, row in rows.iterrows():
        number = int(row["number"])
        if number in have:
            continue
        jobs.enqueue_trial({}, user_attrs={_TRIAL_ATTR: number, _CONFIG_ATTR: _config_of(row),
                                           search.SLOT_ATTR: len(have) + added,
                                           "predicted_area_um2": float(row["area_um2"]),
                                           "predicted_critical_path_ns": float(row["critical_path_ns"])})
        added += 1
    return added


def _run_job(study, spec, trial) -> None:
    from optuna.trial import TrialState

    from costmodel.synth import SynthError, synthesize
    from hwgen.description.config import CoreConfig
    from hwgen.gateware.emit import emit_verilog

    cfg = CoreConfig(**{k: v for k, v in trial.user_attrs[_CONFIG_ATTR].items()})
    try:
        report = synthesize(emit_verilog(cfg))
    except SynthError as exc:
        trial.set_user_attr("problems", [str(exc)])
        study.tell(trial, state=TrialState.FAIL)
        return
    trial.set_user_attr("synth_area_um2", report.area_um2)
    trial.set_user_attr("synth_critical_path_ns", report.critical_path_ns)
    trial.set_user_attr("synth_seconds", report.seconds)
    study.tell(trial, report.area_um2)


def work_synth(study, spec: StudySpec, rdb, *, on_job=None) -> int:
    """Run the queued synthesis jobs of ``spec``'s study until none is left; returns how many ran here."""
    jobs = _synth_study(rdb, spec.name, create=False)
    if jobs is None:
        return 0
    return search.work(jobs, spec, evaluate=_run_job, on_trial=on_job, jobs=True)


def synth_table(rdb, spec: StudySpec) -> pd.DataFrame | None:
    """Predicted vs synthesised area and critical path of every synthesis job (``None``: no jobs)."""
    jobs = _synth_study(rdb, spec.name, create=False)
    if jobs is None:
        return None
    rows = []
    for t in jobs.get_trials(deepcopy=False):
        a = t.user_attrs
        cfg = a.get(_CONFIG_ATTR, {})
        row = {"trial": a.get(_TRIAL_ATTR), "state": t.state.name, "mu": cfg.get("mu"),
               "luts": cfg.get("luts"), "keys": cfg.get("keys"),
               "predicted_area_um2": a.get("predicted_area_um2"),
               "synth_area_um2": a.get("synth_area_um2"),
               "predicted_critical_path_ns": a.get("predicted_critical_path_ns"),
               "synth_critical_path_ns": a.get("synth_critical_path_ns")}
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in ("predicted_area_um2", "synth_area_um2", "predicted_critical_path_ns",
                "synth_critical_path_ns"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["area_error_pct"] = 100 * (frame["predicted_area_um2"] / frame["synth_area_um2"] - 1)
    frame["critical_path_error_pct"] = 100 * (frame["predicted_critical_path_ns"]
                                              / frame["synth_critical_path_ns"] - 1)
    return frame.sort_values("trial").reset_index(drop=True)
