"""The exhaustive sweep (``--sampler exhaustive``): every point of an enumerable space, vectorised.

The space (lists, integer ranges, stepped float ranges) is enumerated in chunks of
:data:`CHUNK` points by mixed-radix index arithmetic; each chunk is one design table, checked for
validity and priced at once (:func:`dse.explore.points.score`). Every valid point's parameters,
objectives, constraint values and feasibility go into the sweep's table (``points.parquet``); its
Pareto set, the ground truth for the samplers, is also added to the Optuna study as complete
trials, so ``dse show`` and ``dse export`` treat it like any other study.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .pareto import pareto_mask
from .points import score
from .spec import StudySpec

__all__ = ["SweepResult", "sweep", "add_to_study", "CHUNK"]

#: Design points per vectorised chunk.
CHUNK = 250_000


@dataclass(frozen=True)
class SweepResult:
    """What :func:`sweep` found.

    Attributes
    ----------
    points : pandas.DataFrame
        One row per valid point: the free parameters, the objective metrics, the constraint
        columns, ``feasible`` and ``pareto``.
    front : pandas.DataFrame
        The Pareto set of the feasible points with every metric column.
    total, valid, feasible : int
        Points in the space, valid configs among them, and those meeting every constraint.
    seconds : float
        Wall time of the sweep.
    cut_by : dict[str, int]
        Per constraint: valid points that violate it.
    """

    points: pd.DataFrame
    front: pd.DataFrame
    total: int
    valid: int
    feasible: int
    seconds: float
    cut_by: dict


def _chunk_params(spec: StudySpec, start: int, stop: int) -> pd.DataFrame:
    values = [p.values() for p in spec.space]
    sizes = [len(v) for v in values]
    index = np.arange(start, stop, dtype=np.int64)
    cols = {}
    for p, vals, size in zip(reversed(spec.space), reversed(values), reversed(sizes), strict=True):
        digit = index % size
        index = index // size
        arr = np.array(vals, dtype=object if p.kind == "categorical" and any(isinstance(v, str) for v in vals)
                       else None)
        cols[p.name] = arr[digit]
    return pd.DataFrame({p.name: cols[p.name] for p in spec.space})


def sweep(spec: StudySpec, *, progress=None) -> SweepResult:
    """Enumerate and score every point of ``spec``'s space (see the module docstring).
    ``progress``: a callable taking the number of points just done (e.g. a tqdm bar's ``update``)."""
    from .points import design_table

    t0 = time.perf_counter()
    total = math.prod(p.size() for p in spec.space)
    objectives = [m for m, _ in spec.objectives]
    keep = [p.name for p in spec.space]
    parts, fronts = [], []
    valid = feasible = 0
    cut_by = {c.name: 0 for c in spec.constraints}
    for start in range(0, total, CHUNK):
        stop = min(total, start + CHUNK)
        params = _chunk_params(spec, start, stop)
        scored = score(spec, design_table(spec, params))
        m = scored.metrics
        valid += len(m)
        feasible += int(scored.feasible.sum())
        for c in spec.constraints:
            cut_by[c.name] += int((m[f"constraint_{c.name}"] > 0).sum()) if len(m) else 0
        if len(m):
            vparams = params[scored.valid].reset_index(drop=True)
            part = vparams.copy()
            for col in objectives + [f"constraint_{c.name}" for c in spec.constraints]:
                part[col] = m[col].to_numpy()
            part["feasible"] = scored.feasible
            parts.append(part)
            ok_idx = np.flatnonzero(scored.feasible)
            if len(ok_idx):
                sub = m.iloc[ok_idx]
                mask = pareto_mask(sub[objectives].to_numpy(float), spec.directions)
                front_part = sub[mask].reset_index(drop=True)
                for k in keep:
                    front_part[f"param_{k}"] = vparams[k].to_numpy()[ok_idx[mask]]
                fronts.append(front_part)
        if progress is not None:
            progress(stop - start)
    points = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keep + objectives)
    points["pareto"] = False
    if feasible:
        ok = points["feasible"].to_numpy(bool)
        points.loc[ok, "pareto"] = pareto_mask(points.loc[ok, objectives].to_numpy(float), spec.directions)
    front = pd.concat(fronts, ignore_index=True) if fronts else pd.DataFrame()
    if len(front):
        front = front[pareto_mask(front[objectives].to_numpy(float), spec.directions)].reset_index(drop=True)
    return SweepResult(points, front, total, valid, feasible, time.perf_counter() - t0, cut_by)


def add_to_study(study, spec: StudySpec, result: SweepResult) -> int:
    """Add the sweep's Pareto set to ``study`` as complete trials (parameters, metrics, constraints);
    returns how many. The sweep's counts go into the study's user attribute ``ternlut_sweep``."""
    import optuna

    dists = {p.name: p.distribution() for p in spec.space}
    trials = []
    for _, row in result.front.iterrows():
        params = {}
        for p in spec.space:
            value = row[f"param_{p.name}"]
            params[p.name] = value.item() if hasattr(value, "item") else value
        metrics = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()
                   if not k.startswith(("constraint_", "param_"))}
        system = {f"constraints:{c.name}": float(row[f"constraint_{c.name}"]) for c in spec.constraints}
        trials.append(optuna.trial.create_trial(
            params=params, distributions=dists, values=[float(row[m]) for m, _ in spec.objectives],
            user_attrs={"metrics": metrics, "ternlut_source": "exhaustive"}, system_attrs=system))
    study.add_trials(trials)
    study.set_user_attr("ternlut_sweep", {"total": result.total, "valid": result.valid,
                                          "feasible": result.feasible, "pareto": len(result.front),
                                          "seconds": round(result.seconds, 3)})
    return len(trials)
