"""The design-space explorer: Optuna studies over core configs and system parameters, per token
of a real LLM workload, embedded (SQLite) by default and distributed over PostgreSQL.

The Python API mirrors the ``dse`` commands:

* :func:`run` (``dse run STUDY.toml``): create or resume a study, run its trials here, write the
  results;
* :func:`work` (``dse worker NAME --storage URL``): join a study from its storage and run
  trials until its budget is spent (also its queued synthesis and verification jobs);
* :func:`show` (``dse show NAME``): read a study into a table and write the results again;
* :func:`export` (``dse export NAME --trial N | --best METRIC``): a design file for ``hwgen emit``.

Modules: :mod:`~dse.explore.spec` (study files), :mod:`~dse.explore.metrics` (per-token
metrics), :mod:`~dse.explore.points` (validity, metrics and constraints of design points),
:mod:`~dse.explore.search` (storage, exact budgets, workers), :mod:`~dse.explore.sweep` (the
exhaustive sweep), :mod:`~dse.explore.pareto`, :mod:`~dse.explore.results` (tables, plot,
export) and :mod:`~dse.explore.jobs` (synthesis and cocotb verification of the best designs through the
storage).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hwgen.description.config import ConfigError

from . import search
from .points import design_table, score
from .results import export_design, pareto_rows, pick_trial, trials_frame, write_results
from .spec import StudySpec, load_study, spec_from_dict

__all__ = ["RunResult", "run", "work", "show", "export", "precheck", "load_study", "StudySpec",
           "default_out", "study_name", "PRECHECK_POINTS"]

#: Random design points :func:`precheck` scores before a study starts.
PRECHECK_POINTS = 20_000


def study_name(spec: StudySpec, sampler: str | None = None) -> str:
    """The name of ``spec``'s study when run with ``sampler``: ``<name>-<sampler>`` for a sampler
    other than the file's (another sampler, another study), else the file's name."""
    return f"{spec.name}-{sampler}" if sampler is not None and sampler != spec.sampler else spec.name


def default_out(name: str) -> Path:
    """``build/dse/<name>``: the default folder of a study's results (and SQLite storage)."""
    return Path("build") / "dse" / name


@dataclass
class RunResult:
    """What :func:`run`, :func:`show` and :func:`work` report.

    Attributes
    ----------
    spec : StudySpec
    storage : str
        The storage URL (password hidden).
    frame : pandas.DataFrame
        Every trial (:func:`dse.explore.results.trials_frame`).
    pareto : pandas.DataFrame
        The Pareto set, best first in the first objective.
    counts : dict
        Trials by state and the budget (:func:`dse.explore.search.slot_counts`).
    paths : dict
        Files written (CSV, Parquet, PNG).
    ran_here : int
        Trials (or sweep points) this call evaluated.
    sweep : dict or None
        The exhaustive sweep's counts and seconds.
    synth : pandas.DataFrame or None
        Predicted vs synthesised area and clock of the synthesised designs.
    verify : pandas.DataFrame or None
        The cocotb verification of designs: passed or not.
    """

    spec: StudySpec
    storage: str
    frame: pd.DataFrame
    pareto: pd.DataFrame
    counts: dict
    paths: dict = field(default_factory=dict)
    ran_here: int = 0
    sweep: dict | None = None
    synth: pd.DataFrame | None = None
    verify: pd.DataFrame | None = None


def precheck(spec: StudySpec, points: int = PRECHECK_POINTS, seed: int = 0) -> None:
    """Refuse a study that cannot find anything, before it touches the storage: score up to
    ``points`` random points of the space (all of a smaller space); :class:`ConfigError` with
    one line when none is valid, or none meets a constraint (naming the constraint that cuts
    everything, with the best value seen). A feasible region too small for the sample to hit is
    refused too: ``dse run --no-check`` (``check=False``) skips this."""
    rng = np.random.default_rng(seed)
    size = spec.space_size() if all(p.enumerable for p in spec.space) else None
    if size is not None and size <= points:
        from .sweep import _chunk_params

        params = _chunk_params(spec, 0, size)
    else:
        cols = {}
        for p in spec.space:
            if p.kind == "categorical":
                cols[p.name] = np.array(p.choices, dtype=object)[rng.integers(0, len(p.choices), points)]
            elif p.kind == "int":
                lo, hi, step = int(p.low), int(p.high), int(p.step or 1)
                if p.log:
                    draw = np.exp(rng.uniform(np.log(lo), np.log(hi), points))
                    cols[p.name] = np.clip(np.round(draw), lo, hi).astype(np.int64)
                else:
                    cols[p.name] = lo + step * rng.integers(0, (hi - lo) // step + 1, points)
            else:
                draw = rng.uniform(p.low, p.high, points)
                if p.step:
                    draw = np.minimum(p.low + p.step * np.round((draw - p.low) / p.step), p.high)
                cols[p.name] = draw
        for p in spec.space:  # the corners of every numeric range too
            if p.kind != "categorical":
                cols[p.name][:2] = (p.low, p.high)
        params = pd.DataFrame(cols)
    scored = score(spec, design_table(spec, params))
    if not scored.valid.any():
        lines = Counter(line for lines in scored.problems.values() for line in lines)
        common = lines.most_common(1)[0][0] if lines else "?"
        raise ConfigError([f"no valid design among {len(params):,} points of the space, e.g.: {common}"])
    if scored.feasible.any():
        return
    m = scored.metrics
    for c in spec.constraints:
        if (m[f"constraint_{c.name}"] > 0).all():
            best = m[c.metric].min() if c.max is not None else m[c.metric].max()
            raise ConfigError([(f"[constraints] {c.metric}: no design meets {c.describe()} (best of "
                                f"{len(m):,} valid points: {c.metric} = {best:.4g}); "
                                "relax it or widen [space]")])
    together = "; ".join(c.describe() for c in spec.constraints)
    raise ConfigError([(f"no design meets all of {together} together ({len(m):,} valid points scored); "
                        "relax one or widen [space]")])


def _finish(study, spec: StudySpec, storage_url: str, out: Path | None, *, plot: bool, ran: int,
            sweep: dict | None = None, rdb=None, synth_top: int = 0, verify_top: int = 0,
            progress: bool = False) -> RunResult:
    from .jobs import jobs_table, pick_spread, queue_jobs, work_jobs
    from .results import atomic_write

    frame = trials_frame(study, spec)
    pareto = pareto_rows(frame, spec)
    paths = write_results(frame, spec, out, plot=plot) if out is not None else {}
    tables = {}
    if rdb is not None:
        queued = 0
        for kind, top in (("synth", synth_top), ("verify", verify_top)):
            if top:
                queued += queue_jobs(rdb, spec, pick_spread(pareto, top), kind)
        if synth_top or verify_top:
            from dse.progress import progress_bar

            bar = progress_bar(queued, f"{spec.name} jobs", enabled=progress, unit="job")
            work_jobs(study, spec, rdb, on_job=lambda: bar.update(1))
            bar.close()
        for kind in ("synth", "verify"):
            tables[kind] = table = jobs_table(rdb, spec, kind)
            if table is not None and out is not None:
                paths[f"{kind}_csv"] = out / f"{kind}.csv"
                atomic_write(paths[f"{kind}_csv"], lambda tmp, t=table: t.to_csv(tmp, index=False))
    return RunResult(spec, search._shown(storage_url), frame, pareto, search.slot_counts(study),
                     paths, ran, sweep or study.user_attrs.get("ternlut_sweep"), tables.get("synth"),
                     tables.get("verify"))


def run(spec: StudySpec | str | Path, *, storage: str | None = None, trials: int | None = None,
        sampler: str | None = None, seed: int | None = None, out: str | Path | None = None,
        progress: bool = True, plot: bool = True, check: bool = True, synth_top: int = 0,
        verify_top: int = 0) -> RunResult:
    """Create or resume the study of ``spec`` (a :class:`StudySpec` or a study file), run its
    trials here until its budget of ``trials`` finished trials is spent, and write the results
    to ``out`` (default :func:`default_out`).

    ``storage``: a SQLAlchemy URL (default: the file's ``storage``, else a SQLite file in ``out``).
    ``sampler`` / ``seed`` override the file's; a sampler other than the file's runs a study of its
    own, named ``<name>-<sampler>`` (so that, e.g., the exhaustive front of a TPE study's space sits
    beside it, not in it). ``check``: run :func:`precheck` first.
    ``synth_top`` / ``verify_top``: then synthesise / verify in cocotb that many designs spread
    along the Pareto set (:mod:`dse.explore.jobs`).
    A study killed at any moment resumes with the same call (see :mod:`dse.explore.search`)."""
    spec = spec if isinstance(spec, StudySpec) else load_study(spec)
    file_storage = spec.storage
    if sampler is not None or seed is not None or trials is not None:
        doc = spec.to_dict()
        doc["study"] = {**doc["study"], "sampler": sampler or spec.sampler,
                        "seed": spec.seed if seed is None else seed, "trials": trials or spec.trials,
                        "name": study_name(spec, sampler)}
        spec = spec_from_dict(doc, where="options")
    out = Path(out) if out is not None else default_out(spec.name)
    if check:
        precheck(spec)
    url = storage or file_storage
    if url is None:
        out.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{out / 'study.db'}"
    rdb = search.open_storage(url)
    if spec.sampler == "exhaustive":
        return _run_sweep(spec, rdb, url, out, progress=progress, plot=plot, synth_top=synth_top,
                          verify_top=verify_top)
    study = search.create_study(spec, rdb)
    search.ensure_slots(study, spec.trials)
    bar = _bar(study, progress, spec.trials)
    try:
        ran = search.work(study, spec, on_trial=bar.refresh_from_storage if bar else None)
    finally:
        if bar:
            bar.close()
    return _finish(study, spec, url, out, plot=plot, ran=ran, rdb=rdb, synth_top=synth_top,
                   verify_top=verify_top, progress=progress)


def _run_sweep(spec, rdb, url, out: Path, *, progress: bool, plot: bool, synth_top: int,
               verify_top: int) -> RunResult:
    from .results import atomic_write
    from .sweep import add_to_study, sweep

    study = search.create_study(spec, rdb, sampler="random")
    done = study.user_attrs.get("ternlut_sweep")
    ran = 0
    if done is None:
        from dse.progress import progress_bar

        bar = progress_bar(spec.space_size(), f"{spec.name} sweep", enabled=progress, unit="design")
        result = sweep(spec, progress=bar.update)
        bar.close()
        atomic_write(out / "points.parquet", lambda tmp: result.points.to_parquet(tmp, index=False))
        add_to_study(study, spec, result)
        ran = result.total
        done = study.user_attrs.get("ternlut_sweep")
        done = {**done, "cut_by": result.cut_by}
    res = _finish(study, spec, url, out, plot=plot, ran=ran, sweep=done, rdb=rdb, synth_top=synth_top,
                  verify_top=verify_top, progress=progress)
    if (out / "points.parquet").exists():
        res.paths["points"] = out / "points.parquet"
    return res


class _StorageBar:
    """A tqdm bar of a study's finished trials, refreshed from the storage (counts every worker)."""

    def __init__(self, study, total: int):
        from dse.progress import progress_bar

        self.study = study
        self.bar = progress_bar(total, study.study_name, unit="trial")
        self.refresh_from_storage()

    def refresh_from_storage(self) -> None:
        from optuna.trial import TrialState

        done = len(self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
        self.bar.n = min(done, self.bar.total)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _bar(study, enabled: bool, total: int):
    return _StorageBar(study, total) if enabled else None


def work(name: str, storage: str, *, max_trials: int | None = None, seed: int | None = None,
         progress: bool = True, synth: bool = True) -> int:
    """Join study ``name`` in ``storage`` and run its waiting trials (and, with ``synth``, its queued
    synthesis and verification jobs) until none is left; returns how many this worker ran.
    ``seed``: this worker's sampler seed (default: none, so that workers sharing a study draw
    different designs)."""
    rdb = search.open_storage(storage)
    study, spec = search.load_study_from(name, rdb, seed=seed, spec_seed=False)
    bar = _bar(study, progress, max(int(study.user_attrs.get(search.BUDGET_ATTR, 0)), 1))
    try:
        ran = search.work(study, spec, on_trial=bar.refresh_from_storage if bar else None,
                          max_trials=max_trials)
    finally:
        if bar:
            bar.close()
    if synth and (max_trials is None or ran < max_trials):
        from .jobs import work_jobs

        ran += work_jobs(study, spec, rdb)
    return ran


def show(name: str, storage: str | None = None, *, out: str | Path | None = None, plot: bool = True,
         synth_top: int = 0, verify_top: int = 0, progress: bool = False) -> RunResult:
    """Read study ``name`` (default storage: the SQLite file of :func:`default_out`) into a
    :class:`RunResult` and, with ``out``, write its results there (``synth_top``, ``verify_top``: as
    :func:`run`)."""
    url = storage or _default_url(name)
    rdb = search.open_storage(url)
    study, spec = search.load_study_from(name, rdb)
    return _finish(study, spec, url, Path(out) if out is not None else None, plot=plot, ran=0, rdb=rdb,
                   synth_top=synth_top, verify_top=verify_top, progress=progress)


def _default_url(name: str) -> str:
    path = default_out(name) / "study.db"
    if not path.is_file():
        raise search.StudyError([(f"no study {name!r} in the default storage ({path} does not exist); "
                                 f"give --storage URL")])
    return f"sqlite:///{path}"


def export(name: str, path: str | Path, *, storage: str | None = None, trial: int | None = None,
           best: str | None = None) -> tuple[Path, pd.Series]:
    """Write trial ``trial`` (or the best feasible one in metric ``best``) of study ``name`` as a
    design file at ``path``; returns the path and the trial's row."""
    res = show(name, storage, plot=False)
    row = pick_trial(res.frame, res.spec, number=trial, best=best)
    return export_design(row, res.spec, Path(path)), row
