"""The search: Optuna studies over the design points of a study file, in one process or many.

Storage
    A SQLAlchemy URL (:func:`open_storage`): a SQLite file by default (embedded, no server,
    ``build/dse/<name>/study.db``), a PostgreSQL URL (``postgresql+psycopg://user@host/db``) for
    workers on many machines. The storage keeps the study's checked spec
    (:meth:`StudySpec.to_dict`, user attribute ``ternlut_spec``), so ``dse worker NAME --storage
    URL`` needs nothing else.

An exact trial budget with any number of workers
    The study's budget is a set of *slots* ``0 .. trials-1`` held in a companion study
    ``<name>.slots`` (:func:`slot_queue`): one waiting entry per slot (Optuna's trial queue, user
    attribute ``ternlut_slot``), enqueued by :func:`ensure_slots`. A worker claims an entry with the
    storage's compare-and-set from ``WAITING`` to ``RUNNING`` (what :meth:`optuna.Study.ask` does to
    its queue; only one worker can win an entry), runs one trial of the study for that slot (the
    sampler draws its parameters) and closes the entry with the trial's number. Workers never add
    slots, so the study finishes with exactly one finished trial per slot, however many race. Only
    ``dse run`` (the study's owner) adds slots. The queue is a study of its own so that the
    samplers, which read the study's unfinished trials on every draw, do not read the waiting slots.

Crashes lose nothing
    Each finished trial is committed when it is told. A worker killed mid-trial leaves its queue
    entry (and trial) ``RUNNING``; the next worker or ``dse run`` marks them ``FAIL`` (the trial is
    kept, for the record) and enqueues the slot again (:func:`recover_stale`): at once when the
    dead worker ran on the same host (its pid is gone), after :data:`GRACE_S` without a heartbeat
    otherwise, and after :data:`CLAIM_GRACE_S` when it died between claiming and naming itself
    (host and pid, system attribute ``ternlut_worker``); a study trial still running when the queue
    has nothing waiting or running is one whose worker died before naming itself: the last worker
    marks it ``FAIL`` before it stops (:func:`_fail_orphans`). Marking ``FAIL`` is a compare-and-set too,
    so exactly one process re-enqueues a slot; a worker that finds its slot's trial already
    finished (its holder died just before closing the entry) only closes the entry.

Invalid designs never reach the model: the validity check of the description
(:func:`dse.explore.points.score`) prunes them (trial state ``PRUNED``, the problem lines in the
user attribute ``problems``). Constraints are Optuna's (:meth:`optuna.trial.Trial.set_constraint`),
which every sampler here reads; metrics are in the user attribute ``metrics``.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from hwgen.description.config import ConfigError

from .points import design_table, score
from .spec import StudySpec, spec_from_dict

__all__ = ["StorageError", "StudyError", "open_storage", "create_study", "load_study_from",
           "ensure_slots", "recover_stale", "work", "make_sampler", "run_trial", "slot_counts",
           "HEARTBEAT_S", "GRACE_S", "SPEC_ATTR", "SLOT_ATTR", "BUDGET_ATTR", "WORKER_ATTR"]

#: Seconds between a worker's heartbeats while it runs a trial.
HEARTBEAT_S = 10
#: Seconds without a heartbeat after which a running trial of another host counts as dead.
GRACE_S = 60
#: Seconds after which a running trial that names no worker counts as dead (its worker died between
#: the claim and the two writes after it, which take milliseconds).
CLAIM_GRACE_S = 10
SPEC_ATTR, SLOT_ATTR, BUDGET_ATTR = "ternlut_spec", "ternlut_slot", "ternlut_trials"
WORKER_ATTR, RETRY_ATTR = "ternlut_worker", "ternlut_retry_of"
_POLL_S = 0.2


class StorageError(ConfigError):
    """The storage URL cannot be opened (one line, the password hidden)."""


class StudyError(ConfigError):
    """The study cannot be created, found or continued (one line)."""


def _shown(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as given
        return url


def open_storage(url: str):
    """An Optuna RDB storage with heartbeats (:data:`HEARTBEAT_S`, :data:`GRACE_S`) on ``url``.

    Raises :class:`StorageError` (one line naming the URL, password hidden) when it cannot be
    opened: a malformed URL, a missing driver, a server that does not answer or refuses."""
    import optuna
    from sqlalchemy.engine import make_url

    _quiet()
    shown = _shown(url)
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001
        raise StorageError([(f"--storage: {url!r} is not a storage URL (e.g. sqlite:///study.db or "
                            f"postgresql+psycopg://user@host/db)")]) from None
    kwargs = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).parent
            if not folder.is_dir():
                raise StorageError([f"--storage: folder {str(folder)!r} of {shown} does not exist"])
            kwargs = {"creator": functools.partial(_sqlite_connect, parsed.database)}
        else:
            kwargs = {"connect_args": {"timeout": 120}}
    elif parsed.get_backend_name() == "postgresql":
        kwargs = {"connect_args": {"connect_timeout": 10}, "pool_pre_ping": True}
    try:
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S,
                                          grace_period=GRACE_S,
                                          heartbeat_stale_trial_callback=_requeue)
    except Exception as exc:  # noqa: BLE001 - SQLAlchemy/driver errors of many kinds
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise StorageError([f"--storage: cannot open {shown}: {reason[0] if reason else type(exc).__name__}"]
                           ) from None


def _sqlite_connect(path: str):
    """A SQLite connection in write-ahead-log mode with ``synchronous=NORMAL``: a commit is not an
    fsync (a killed process loses nothing committed; a power cut may lose the last commits), and
    readers do not block the writer. Local disks only (WAL needs shared memory)."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=120, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def make_sampler(name: str, seed: int | None):
    """The Optuna sampler called ``name`` (:data:`dse.explore.spec.SAMPLERS`, not ``exhaustive``)."""
    import optuna

    s = optuna.samplers
    if name == "tpe":
        return s.TPESampler(seed=seed, multivariate=True, n_startup_trials=10)
    if name == "nsga2":
        return s.NSGAIISampler(seed=seed, population_size=50)
    if name == "gp":
        return s.GPSampler(seed=seed, deterministic_objective=True)
    if name == "random":
        return s.RandomSampler(seed=seed)
    if name == "qmc":
        return s.QMCSampler(seed=seed, scramble=True, warn_asynchronous_seeding=False,
                            warn_independent_sampling=False)
    raise StudyError([f"--sampler: {name!r} is not an Optuna sampler"])


def _quiet() -> None:
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message=".*Heartbeat of storage.*")
    warnings.filterwarnings("ignore", message=".*heartbeat_interval.*")


def create_study(spec: StudySpec, storage, *, sampler: str | None = None, seed: int | None = None):
    """The study of ``spec`` in ``storage``: created (its spec stored), or loaded when it exists with
    the same search (:meth:`StudySpec.search_key`); :class:`StudyError` when a study of that name
    searches something else."""
    import optuna

    _quiet()
    sampler_obj = make_sampler(sampler or spec.sampler, spec.seed if seed is None else seed)
    try:
        study = optuna.create_study(storage=storage, study_name=spec.name, directions=spec.directions,
                                    sampler=sampler_obj)
        study.set_user_attr(SPEC_ATTR, spec.to_dict())
        return study
    except optuna.exceptions.DuplicatedStudyError:
        pass
    study = optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler_obj)
    seed = spec.seed if seed is None else seed
    if seed is not None:  # resuming: a seed of its own, so that the sampler does not redraw the past
        offset = len(study.get_trials(deepcopy=False))
        study.sampler = make_sampler(sampler or spec.sampler, (seed + offset) % 2**32)
    stored = _stored_spec(study)
    if stored.search_key() != spec.search_key():
        mine, theirs = spec.search_key(), stored.search_key()
        table = next(k for k in mine if mine[k] != theirs.get(k))
        raise StudyError([(f"study {spec.name!r} already exists in this storage with a different [{table}]; "
                          f"give the study another name, or another --storage")])
    return study


def _stored_spec(study, wait_s: float = 10.0) -> StudySpec:
    deadline = time.monotonic() + wait_s
    while SPEC_ATTR not in study.user_attrs:  # a study being created by another process
        if time.monotonic() > deadline:
            raise StudyError([f"study {study.study_name!r} has no ternlut study spec: not made by `dse run`"])
        time.sleep(_POLL_S)
    try:
        return spec_from_dict(study.user_attrs[SPEC_ATTR], where=f"stored study {study.study_name!r}")
    except ConfigError as exc:
        raise StudyError(exc.problems[:1]) from None


def load_study_from(name: str, storage, *, sampler: str | None = None, seed: int | None = None,
                    spec_seed: bool = True):
    """``(study, spec)`` of the existing study ``name``; :class:`StudyError` naming the studies the
    storage has when there is no such study. The sampler is seeded with ``seed``, else (with
    ``spec_seed``) the study's own seed, else not at all."""
    import optuna

    _quiet()
    names = [s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
             if "." not in s.study_name]  # not the companion queues (<name>.slots, <name>.synth)
    if name not in names:
        have = ", ".join(names) if names else "none"
        raise StudyError([f"no study {name!r} in this storage (studies: {have})"])
    study = optuna.load_study(study_name=name, storage=storage)
    spec = _stored_spec(study)
    study.sampler = make_sampler(sampler or (spec.sampler if spec.sampler != "exhaustive" else "tpe"),
                                 seed if seed is not None else spec.seed if spec_seed else None)
    return study, spec


QUEUE_SUFFIX = ".slots"


def slot_queue(study, *, create: bool = False):
    """The companion study ``<name>.slots`` that holds the study's slots, one waiting trial each
    (``None`` when it does not exist and ``create`` is false)."""
    import optuna

    name = study.study_name + QUEUE_SUFFIX
    try:
        if create:
            return optuna.create_study(storage=study._storage, study_name=name, load_if_exists=True)
        return optuna.load_study(study_name=name, storage=study._storage)
    except KeyError:
        return None


def slot_counts(study) -> dict[str, int]:
    """Trials by state (``COMPLETE``, ``PRUNED``, ``RUNNING``, ``FAIL``), slots not yet taken
    (``WAITING``) and the budget."""
    from optuna.trial import TrialState

    counts = {s.name: 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING,
                                  TrialState.WAITING, TrialState.FAIL)}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    queue = slot_queue(study)
    counts["WAITING"] = 0 if queue is None else len(queue.get_trials(deepcopy=False,
                                                                     states=(TrialState.WAITING,)))
    counts["budget"] = int(study.user_attrs.get(BUDGET_ATTR, 0))
    return counts


def ensure_slots(study, trials: int) -> int:
    """Enqueue a slot in the study's queue (:func:`slot_queue`) for every number in ``range(trials)``
    that has none yet; returns how many were added. The budget only grows (a smaller ``trials``
    adds nothing)."""
    queue = slot_queue(study, create=True)
    have = {t.user_attrs.get(SLOT_ATTR) for t in queue.get_trials(deepcopy=False)}
    budget = max(trials, int(study.user_attrs.get(BUDGET_ATTR, 0)))
    if budget != study.user_attrs.get(BUDGET_ATTR):
        study.set_user_attr(BUDGET_ATTR, budget)
    added = 0
    for slot in range(budget):
        if slot not in have:
            queue.enqueue_trial({}, user_attrs={SLOT_ATTR: slot}, skip_if_exists=False)
            added += 1
    return added


def _requeue(study, trial) -> None:
    """Enqueue a failed job again: a slot of a study's queue (a failed *trial* of a study is only
    kept: its slot comes back through the queue), or a synthesis job. The storage's callback for
    stale trials; called once per trial that a process moved to ``FAIL``."""
    slot = trial.user_attrs.get(SLOT_ATTR)
    if slot is None or SPEC_ATTR in study.user_attrs:
        return
    attrs = {k: v for k, v in trial.user_attrs.items() if k != RETRY_ATTR}
    study.enqueue_trial({}, user_attrs={**attrs, RETRY_ATTR: trial.number}, skip_if_exists=False)


def _this_host() -> str:
    return socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover_stale(study) -> int:
    """Fail the running trials of dead workers (see the module docstring) and, in a queue, enqueue
    their slots or jobs again; returns how many this call recovered."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    host = _this_host()
    recovered = 0
    now = datetime.datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.system_attrs.get(WORKER_ATTR)
        if not worker:  # died between the claim and naming itself (a few ms), or not ours
            started = t.datetime_start
            if started is None or (now - started).total_seconds() < CLAIM_GRACE_S:
                continue
        else:
            w_host, _, w_pid = worker.rpartition(":")
            if w_host != host or not w_pid.isdigit() or _pid_alive(int(w_pid)):
                continue
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL):
                _requeue(study, storage.get_trial(t._trial_id))
                recovered += 1
        except optuna.exceptions.UpdateFinishedTrialError:
            pass
    before = len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,)))
    optuna.storages.fail_stale_trials(study)  # other hosts: heartbeat older than GRACE_S
    return recovered + len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))) - before


def _fail_orphans(study) -> int:
    """Mark ``FAIL`` the study's trials still ``RUNNING`` once its queue has no entry waiting or
    running; returns how many. A study trial runs only while its worker holds the slot's queue entry
    (``RUNNING``), so with none held no worker is alive for them: these are trials whose worker died
    after :meth:`optuna.Study.ask` and before naming itself, which :func:`recover_stale` would only
    fail after :data:`CLAIM_GRACE_S` (their slots came back through the queue and ran again)."""
    import optuna
    from optuna.trial import TrialState

    failed = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
            failed += bool(study._storage.set_trial_state_values(t._trial_id, state=TrialState.FAIL))
    return failed


def _claim(study) -> int | None:
    """The id of a waiting trial this process moved to ``RUNNING``, or ``None``."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    for t in storage.get_all_trials(study._study_id, deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(t._trial_id, state=TrialState.RUNNING):
                if _beats(storage):
                    storage.record_heartbeat(t._trial_id)  # before the name: a named trial has a heartbeat
                storage.set_trial_system_attr(t._trial_id, WORKER_ATTR, f"{_this_host()}:{os.getpid()}")
                return t._trial_id
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


def _beats(storage) -> bool:
    return callable(getattr(storage, "record_heartbeat", None))


@contextlib.contextmanager
def _heartbeat(storage, trial_id: int):
    """Record a heartbeat of the trial now and every :data:`HEARTBEAT_S` until the block ends (storages
    without heartbeats, e.g. Optuna's in-memory one: nothing)."""
    if not _beats(storage):
        yield
        return
    storage.record_heartbeat(trial_id)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_S):
            with contextlib.suppress(Exception):
                storage.record_heartbeat(trial_id)

    thread = threading.Thread(target=beat, daemon=True, name=f"heartbeat-{trial_id}")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run_trial(study, spec: StudySpec, trial) -> None:
    """Draw the trial's parameters, score the design point and tell the study (``PRUNED`` with the
    problem lines when the design is not valid)."""
    from optuna.trial import TrialState

    params = {p.name: p.suggest(trial) for p in spec.space}
    scored = score(spec, design_table(spec, pd.DataFrame([params])))
    if not scored.valid[0]:
        trial.set_user_attr("problems", scored.problems.get(0, []))
        study.tell(trial, state=TrialState.PRUNED)
        return
    row = scored.metrics.iloc[0]
    metrics = {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()
               if not k.startswith("constraint_")}
    trial.set_user_attr("metrics", metrics)
    for c in spec.constraints:
        trial.set_constraint(c.name, float(row[f"constraint_{c.name}"]))
    values = [float(row[m]) for m, _ in spec.objectives]
    if not all(math.isfinite(v) for v in values):
        trial.set_user_attr("problems", [f"non-finite objective values {values}"])
        study.tell(trial, state=TrialState.FAIL)
        return
    study.tell(trial, values)


def _finished_in_slot(study, slot: int):
    """The finished trial of ``study`` that ran slot ``slot``, or ``None``."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)):
        if t.user_attrs.get(SLOT_ATTR) == slot:
            return t
    return None


def _run_slot(study, spec: StudySpec, queue, job_id: int, evaluate: Callable) -> bool:
    """Run the slot of the claimed queue entry ``job_id`` as a new trial of ``study`` and close the
    entry with the trial's number; returns whether a trial ran here (not when a dead worker had
    already finished the slot's trial)."""
    import optuna
    from optuna.trial import TrialState

    storage = study._storage
    job = storage.get_trial(job_id)
    slot = job.user_attrs[SLOT_ATTR]
    # only a re-enqueued slot can have a finished trial: its holder may have died after the tell
    done = _finished_in_slot(study, slot) if RETRY_ATTR in job.user_attrs else None
    if done is None:
        trial = study.ask()
        storage.set_trial_user_attr(trial._trial_id, SLOT_ATTR, slot)
        if RETRY_ATTR in job.user_attrs:
            storage.set_trial_user_attr(trial._trial_id, RETRY_ATTR, job.user_attrs[RETRY_ATTR])
        with _heartbeat(storage, trial._trial_id):
            storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR, f"{_this_host()}:{os.getpid()}")
            try:
                evaluate(study, spec, trial)
            except optuna.exceptions.UpdateFinishedTrialError:
                return False  # taken for dead by another worker: its slot went back to the queue
            except Exception:
                with contextlib.suppress(Exception):
                    study.tell(trial, state=TrialState.FAIL)
                with contextlib.suppress(Exception):
                    queue.tell(job.number, state=TrialState.FAIL)
                raise
        number = trial.number
    else:
        number = done.number
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        queue.tell(job.number, float(number))
    return done is None


def _run_job(queue, spec: StudySpec, job_id: int, evaluate: Callable) -> bool:
    """Run the claimed entry ``job_id`` of a job queue (synthesis) itself as the trial."""
    import optuna
    from optuna.trial import TrialState

    trial = optuna.Trial(queue, job_id)
    try:
        evaluate(queue, spec, trial)
    except optuna.exceptions.UpdateFinishedTrialError:
        return False
    except Exception:
        with contextlib.suppress(Exception):
            queue.tell(trial, state=TrialState.FAIL)
        raise
    return True


def work(study, spec: StudySpec, *, on_trial: Callable[[], None] | None = None,
         max_trials: int | None = None, evaluate: Callable | None = None, jobs: bool = False) -> int:
    """Claim slots of the study's queue and run one trial each until none is waiting or running (or
    ``max_trials`` ran here); returns how many ran here. ``on_trial`` is called after each trial
    (progress); ``evaluate(study, spec, trial)`` runs one trial (default :func:`run_trial`).
    ``jobs``: ``study`` is itself a queue of jobs (synthesis), each run as its own trial."""
    from optuna.trial import TrialState

    queue = study if jobs else slot_queue(study)
    if queue is None:
        return 0
    storage = study._storage
    ran = 0
    last_recover = 0.0
    while max_trials is None or ran < max_trials:
        if time.monotonic() - last_recover > 1.0:
            recover_stale(queue)
            if not jobs:
                recover_stale(study)
            last_recover = time.monotonic()
        job_id = _claim(queue)
        if job_id is None:
            busy = storage.get_all_trials(queue._study_id, deepcopy=False,
                                          states=(TrialState.RUNNING, TrialState.WAITING))
            if not busy:
                if not jobs:
                    _fail_orphans(study)
                break
            time.sleep(_POLL_S)
            last_recover = 0.0
            continue
        with _heartbeat(storage, job_id):
            if jobs:
                did = _run_job(queue, spec, job_id, evaluate or run_trial)
            else:
                did = _run_slot(study, spec, queue, job_id, evaluate or run_trial)
        ran += did
        if did and on_trial is not None:
            on_trial()
    return ran
