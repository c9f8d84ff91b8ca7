"""Studies that survive crashes and share work: real processes, real storages, nothing mocked.

* ``dse run`` killed with SIGKILL in the middle of a study on the embedded SQLite storage, then
  run again with the same command: the study ends with exactly its budget of finished trials, one
  per slot, and every trial finished before the kill is still there, unchanged.
* A worker killed while it holds a trial (claimed, not told; also killed between the claim and
  writing its name): the next run fails that trial, keeps it for the record and runs its slot
  again with the same parameters.
* A PostgreSQL server started on loopback (``postgres_url``), ``dse run`` plus three ``dse worker``
  processes on one study, one worker killed mid-study: exactly the budget of finished trials, none
  lost, none duplicated, every process did some of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

ROOT = Path(__file__).resolve().parents[2]
WORKLOAD = ROOT / "designs" / "workloads" / "bitnet_b158_2b4t.toml"


def _study_file(tmp_path: Path, name: str, trials: int, sampler: str = "tpe") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
[study]
name = "{name}"
workload = "{WORKLOAD}"
trials = {trials}
sampler = "{sampler}"
seed = 3

[fixed]
act = "int8"
bandwidth_gbps = 50.0

[space]
mu = [1, 2, 3, 4]
luts = {{ low = 1, high = 64, log = true }}
keys = {{ low = 8, high = 128, step = 8 }}
pipeline = [0, 1, 2, 3]
cores = {{ low = 1, high = 4 }}

[objectives]
area_mm2 = "minimize"
tokens_per_s = "maximize"

[constraints]
area_mm2 = {{ max = 20.0 }}
""")
    return path


def _dse(*args: str) -> list[str]:
    return [sys.executable, "-m", "ternlut.cli.dse", *args]


def _load(name: str, url: str):
    from dse.explore import search

    return search.load_study_from(name, search.open_storage(url))[0]


def _finished(study) -> list:
    from optuna.trial import TrialState

    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"process ended (exit {proc.returncode}) before {what}: {err[-2000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def _assert_exact(study, budget: int) -> None:
    """Exactly one finished trial per slot ``0 .. budget-1``; nothing running or waiting."""
    done = _finished(study)
    slots = sorted(t.user_attrs["ternlut_slot"] for t in done)
    assert slots == list(range(budget)), "finished trials must cover every slot exactly once"
    left = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING))
    assert left == []
    from dse.explore import search

    queue = search.slot_queue(study)
    assert queue.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)) == []
    closed = queue.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    assert sorted(j.user_attrs["ternlut_slot"] for j in closed) == list(range(budget))
    assert sorted(int(j.value) for j in closed) == sorted(t.number for t in done), \
        "each slot entry is closed with the number of the trial that ran it"
    numbers = [t.number for t in study.get_trials(deepcopy=False)]
    assert len(numbers) == len(set(numbers))


def _snapshot(study) -> dict[int, tuple]:
    return {t.number: (t.state.name, dict(t.params), tuple(t.values or ())) for t in _finished(study)}


def test_killed_run_resumes_without_losing_a_trial(tmp_path: Path) -> None:
    budget = 120
    study_file = _study_file(tmp_path, "killed", budget, sampler="random")
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    cmd = _dse("run", str(study_file), "--storage", url, "--out", str(tmp_path / "out"), "--no-progress",
               "--no-plot")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: (tmp_path / "killed.db").exists() and _has_finished(url, 30), 120,
                  "30 finished trials", proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    before = _snapshot(_load("killed", url))
    assert 30 <= len(before) < budget, "the kill must land in the middle of the study"

    again = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    study = _load("killed", url)
    _assert_exact(study, budget)
    after = _snapshot(study)
    assert {n: after[n] for n in before} == before, "trials finished before the kill must survive unchanged"
    assert f"{budget} of {budget} finished" in again.stdout


def _has_finished(url: str, count: int) -> bool:
    try:
        return len(_finished(_load("killed", url))) >= count
    except Exception:  # noqa: BLE001 - the study may not exist yet
        return False


_CLAIM_AND_DIE = """
import os, signal, sys
from optuna.trial import TrialState
from dse.explore import search
study, spec = search.load_study_from(sys.argv[1], search.open_storage(sys.argv[2]))
queue = search.slot_queue(study)
if sys.argv[3] == "named":  # a slot claimed and named, its trial started: killed mid-trial
    job_id = search._claim(queue)
    slot = study._storage.get_trial(job_id).user_attrs["ternlut_slot"]
    trial = study.ask()
    study._storage.set_trial_user_attr(trial._trial_id, "ternlut_slot", slot)
    study._storage.set_trial_system_attr(trial._trial_id, "ternlut_worker", search._this_host() + ":"
                                         + str(os.getpid()))
    print(trial._trial_id, flush=True)
elif sys.argv[3] == "asked":  # a slot claimed and named, its trial asked but not yet named: killed
    job_id = search._claim(queue)
    slot = study._storage.get_trial(job_id).user_attrs["ternlut_slot"]
    trial = study.ask()
    study._storage.set_trial_user_attr(trial._trial_id, "ternlut_slot", slot)
    print(trial._trial_id, flush=True)
else:  # killed between the claim's compare-and-set and the writes after it
    job_id = queue.get_trials(deepcopy=False, states=(TrialState.WAITING,))[0]._trial_id
    assert study._storage.set_trial_state_values(job_id, state=TrialState.RUNNING)
    print(-1, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("moment", ["named", "asked", "unnamed"])
def test_worker_killed_holding_a_trial_is_recovered(tmp_path: Path, moment: str) -> None:
    from dse.explore import search
    from dse.explore.spec import load_study

    budget = 12
    spec = load_study(_study_file(tmp_path, "held", budget, sampler="random"))
    url = f"sqlite:///{tmp_path / 'held.db'}"
    study = search.create_study(spec, search.open_storage(url))
    search.ensure_slots(study, budget)
    search.work(study, spec, max_trials=5)
    dead = subprocess.run([sys.executable, "-c", _CLAIM_AND_DIE, "held", url, moment], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert dead.returncode == -signal.SIGKILL, dead.stderr
    held_id = int(dead.stdout.split()[0])
    queue = search.slot_queue(_load("held", url))
    assert len(queue.get_trials(deepcopy=False, states=(TrialState.RUNNING,))) == 1

    cmd = _dse("run", str(tmp_path / "held.toml"), "--storage", url, "--out", str(tmp_path / "o"),
               "--no-progress", "--no-plot", "--json")
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    study = _load("held", url)
    _assert_exact(study, budget)
    failed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "FAIL"]
    if moment in ("named", "asked"):
        assert [t._trial_id for t in failed] == [held_id], "the dead worker's trial is kept, as FAIL"
        slot = failed[0].user_attrs["ternlut_slot"]
    else:
        assert failed == []
        slot = None
    dead_jobs = search.slot_queue(study).get_trials(deepcopy=False, states=(TrialState.FAIL,))
    assert len(dead_jobs) == 1, "the dead worker's slot entry is failed once and enqueued again"
    retry = [t for t in _finished(study) if t.user_attrs.get("ternlut_retry_of") == dead_jobs[0].number]
    assert len(retry) == 1
    assert slot is None or retry[0].user_attrs["ternlut_slot"] == slot


def test_postgres_four_processes_exact_count(tmp_path: Path, postgres_url: str) -> None:
    budget = 160
    study_file = _study_file(tmp_path, "shared", budget)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run_cmd = _dse("run", str(study_file), "--storage", postgres_url, "--out", str(tmp_path / "o"),
                   "--no-progress", "--no-plot")
    owner = subprocess.Popen(run_cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=env)
    workers: list[subprocess.Popen] = []
    try:
        _wait_for(lambda: _study_has_slots("shared", postgres_url, budget), 120, "the study and its slots",
                  owner)
        worker_cmd = _dse("worker", "shared", "--storage", postgres_url, "--no-progress", "--no-synth",
                          "--json")
        for _ in range(3):
            workers.append(subprocess.Popen(worker_cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True, env=env))
        victim = workers[0]
        victim_pid = victim.pid
        _wait_for(lambda: _ran_by(postgres_url, victim_pid) >= 3, 180, "the first worker's trials", victim)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
        out, err = owner.communicate(timeout=300)
        assert owner.returncode == 0, err
        for w in workers[1:]:
            w_out, w_err = w.communicate(timeout=300)
            assert w.returncode == 0, w_err
    finally:
        for p in (owner, *workers):
            if p.poll() is None:
                p.kill()
    study = _load("shared", postgres_url)
    _assert_exact(study, budget)
    done = _finished(study)
    pids = {t.system_attrs["ternlut_worker"].rpartition(":")[2] for t in done}
    assert len(pids) == 4, f"every process must have run trials, got {len(pids)} distinct workers"
    from dse.explore import search

    dead_jobs = search.slot_queue(study).get_trials(deepcopy=False, states=(TrialState.FAIL,))
    for job in dead_jobs:  # the killed worker's slot, if it held one, was run again ...
        retries = sum(d.user_attrs.get("ternlut_retry_of") == job.number for d in done)
        # ... unless it was killed after telling its trial and before closing the slot: then the
        # slot's next holder finds that trial finished and only closes the slot (no second trial)
        told = [d for d in done if d.user_attrs.get("ternlut_slot") == job.user_attrs["ternlut_slot"]
                and d.system_attrs["ternlut_worker"].endswith(f":{victim_pid}")]
        assert (retries, len(told)) in ((1, 0), (0, 1)), (retries, len(told))
    assert f"{budget} of {budget} finished" in out


def _study_has_slots(name: str, url: str, budget: int) -> bool:
    try:
        study = _load(name, url)
    except Exception:  # noqa: BLE001 - not created yet
        return False
    from dse.explore import search

    queue = search.slot_queue(study)
    slots = 0 if queue is None else len(queue.get_trials(deepcopy=False))
    return int(study.user_attrs.get("ternlut_trials", 0)) == budget and slots >= budget


def _ran_by(url: str, pid: int) -> int:
    study = _load("shared", url)
    return sum(1 for t in _finished(study) if t.system_attrs.get("ternlut_worker", "").endswith(f":{pid}"))


def test_synth_and_verify_top_run_through_the_storage(tmp_path: Path) -> None:
    """``--synth-top 2 --verify-top 1`` queues three jobs in the storage's job queue and runs them:
    the table compares the model with Yosys + OpenSTA, the cocotb bench passes on the verified
    design; asking again queues nothing new."""
    import json

    from sim.runner import simulator_available

    if not simulator_available("verilator"):
        pytest.skip("the verification jobs run Verilator, which is not installed")
    (tmp_path / "w.toml").write_text('name = "tiny"\nsource = "test"\n[[gemv]]\nname = "g"\nn = 32\nm = 16\n'
                                     'count = 1\n')
    study_file = tmp_path / "s.toml"
    study_file.write_text(f"""
[study]
name = "syn"
workload = "{tmp_path / 'w.toml'}"
sampler = "exhaustive"
[fixed]
act = "int4"
[space]
mu = [1, 2]
luts = [1, 2, 4]
keys = [4, 8]
[objectives]
area_mm2 = "minimize"
tokens_per_s = "maximize"
""")
    url = f"sqlite:///{tmp_path / 's.db'}"
    cmd = _dse("run", str(study_file), "--storage", url, "--out", str(tmp_path / "o"), "--no-progress",
               "--no-plot", "--synth-top", "2", "--verify-top", "1", "--json")
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    rows = doc["synth"]
    assert len(rows) == 2 and all(r["state"] == "COMPLETE" for r in rows)
    pareto = {p["number"]: p for p in doc["pareto"]}
    for r in rows:
        predicted = pareto[r["trial"]]["area_um2"]
        assert r["predicted_area_um2"] == pytest.approx(predicted)
        assert r["synth_area_um2"] > 0 and r["synth_critical_path_ns"] > 0
        assert abs(r["area_error_pct"]) < 50  # the model is calibrated; a sign or unit slip is far off
    assert (tmp_path / "o" / "synth.csv").is_file()
    [check] = doc["verify"]
    assert check["state"] == "COMPLETE" and check["passed"] is True and check["tests"] >= 1, check
    assert check["trial"] == doc["pareto"][0]["number"], "spread along the front: the first design is one"
    again = subprocess.run(_dse("show", "syn", "--storage", url, "--synth-top", "2", "--no-plot", "--json"),
                           cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert len(json.loads(again.stdout)["synth"]) == 2, "the same designs are not queued twice"
    assert len(json.loads(again.stdout)["verify"]) == 1
