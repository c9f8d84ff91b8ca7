"""The explorer's commands (``dse run``, ``dse show``, ``dse export``, ``dse worker``): end to end over
SQLite files in temporary folders, their text and JSON output, the design file they export (read by
``hwgen cost`` and ``hwgen emit``), and their refusals: one ``dse <cmd>: error:`` line on stderr, exit
status 1, no traceback and nothing written."""

import contextlib
import io
import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest

from ternlut.cli.dse import main
from ternlut.cli.hwgen import main as hwgen_main

WORKLOAD = """name = "tiny"
source = "test"

[[gemv]]
name = "a"
n = 256
m = 128
count = 3

[[gemv]]
name = "b"
n = 128
m = 200
count = 2
"""
WEE_WORKLOAD = """name = "wee"
source = "test"

[[gemv]]
name = "a"
n = 16
m = 8
count = 2
"""
STUDY = """[study]
name = "{name}"
workload = "{workload}"
trials = {trials}
sampler = "{sampler}"
seed = 1

[fixed]
act = "int8"
bandwidth_gbps = 20.0

[space]
{space}

[objectives]
{objectives}

[constraints]
{constraints}
"""
# invalid corners (pipeline > 1 + ceil(log2(luts))) so that some trials are pruned
SPACE = """mu = [1, 2, 3, 4]
luts = { low = 1, high = 16, log = true }
keys = { low = 4, high = 32, step = 4 }
pipeline = [0, 1, 2, 3, 4, 5]
cores = [1, 2]"""
OBJECTIVES = 'area_mm2 = "minimize"\ntokens_per_s = "maximize"'
CONSTRAINTS = "area_mm2 = { max = 2.0 }"
# 2 x 3 x 3 x 3 = 54 designs, 6 invalid (luts 1 with pipeline 2); a 2 x 2 core at most 8 x 3 = 24 wide
WEE_SPACE = "mu = [2, 3]\nluts = [1, 2, 3]\nkeys = [2, 4, 8]\npipeline = [0, 1, 2]"
TRIALS = 24


def write_study(folder, name="cli", *, trials=TRIALS, sampler="tpe", space=SPACE, objectives=OBJECTIVES,
                constraints=CONSTRAINTS, wee=False, stem=None):
    (folder / "tiny.toml").write_text(WORKLOAD)
    (folder / "wee_workload.toml").write_text(WEE_WORKLOAD)
    path = folder / f"{stem or name}.toml"
    workload = "wee_workload.toml" if wee else "tiny.toml"
    path.write_text(STUDY.format(name=name, workload=workload, trials=trials, sampler=sampler, space=space,
                                 objectives=objectives, constraints=constraints))
    return path


def run_dse(argv):
    """``dse`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def refused(argv, line):
    """``dse`` refuses ``argv`` with exactly one line ``dse <command>: error: <line>`` (``line``: a regex)."""
    line = f"dse {argv[0]}: error: {line}"
    rc, out, err = run_dse(argv)
    assert (rc, out) == (1, ""), (rc, out, err)
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and re.fullmatch(line, lines[0]), err
    return lines[0]


QUIET = ["--no-progress", "--no-plot"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """``dse run`` of a TPE study of :data:`TRIALS` trials in SQLite: its folder, storage, output."""
    folder = tmp_path_factory.mktemp("cli")
    path = write_study(folder)
    url = f"sqlite:///{folder}/s.db"
    rc, out, err = run_dse(["run", path, "--storage", url, "--out", folder / "out", *QUIET])
    frame = pd.read_csv(folder / "out" / "trials.csv")
    return {"folder": folder, "file": path, "url": url, "rc": rc, "out": out, "err": err, "frame": frame}


def front_designs(frame: pd.DataFrame) -> pd.DataFrame:
    """The Pareto set's designs, each once (its first trial), by area then trial number."""
    params = [c for c in frame.columns if c.startswith("param_")]
    front = frame[frame["pareto"]].sort_values("number").drop_duplicates(subset=params)
    return front.sort_values(["area_mm2", "number"])


def test_run_prints_the_pareto_table(study):
    assert (study["rc"], study["err"]) == (0, "")
    out, frame, url = study["out"], study["frame"], study["url"]
    lines = out.splitlines()
    assert lines[0] == f"study cli: workload tiny, sampler tpe, storage {url}"
    assert lines[1] == "  objectives  : minimize area_mm2, maximize tokens_per_s; constraints: area_mm2 <= 2"
    complete, pruned = (frame["state"] == "COMPLETE").sum(), (frame["state"] == "PRUNED").sum()
    assert complete + pruned == TRIALS and pruned > 0
    assert lines[2] == (f"  trials      : {TRIALS} of {TRIALS} finished ({complete} complete, {pruned} "
                        f"pruned as invalid configs), 0 running, 0 waiting, 0 failed (retried); {TRIALS} run "
                        "here")
    assert lines[3] == f"  feasible    : {frame['feasible'].sum()} complete trials meet every constraint"
    front = front_designs(frame)
    assert f"Pareto set ({len(front)} designs):" in out
    header = next(line for line in lines if line.split()[:1] == ["number"])
    assert header.split()[:7] == ["number", "mu", "luts", "keys", "pipeline", "cores", "area_mm2"]
    rows = lines[lines.index(header) + 1:lines.index(header) + 1 + len(front)]
    assert [int(r.split()[0]) for r in rows] == list(front["number"])
    folder = study["folder"] / "out"
    assert f"wrote {folder / 'trials.csv'}, {folder / 'trials.parquet'}, {folder / 'pareto.csv'}" in out
    assert lines[-1] == f"export one: dse export cli --trial {front['number'].iloc[0]} --storage '{url}'"
    assert not (folder / "pareto.png").exists()


def test_run_json_is_one_document(tmp_path):
    path = write_study(tmp_path, trials=6, sampler="random")
    url = f"sqlite:///{tmp_path}/s.db"
    argv = ["run", path, "--storage", url, "--out", tmp_path / "out", *QUIET, "--json"]
    rc, out, err = run_dse(argv)
    assert (rc, err) == (0, "")
    doc = json.loads(out)
    assert doc["command"] == "run" and doc["study"] == "cli" and doc["ran_here"] == 6
    assert doc["counts"]["COMPLETE"] + doc["counts"]["PRUNED"] == 6 and doc["counts"]["budget"] == 6
    assert set(doc["files"]) == {"csv", "parquet", "pareto_csv"}
    assert all(Path(f).is_file() for f in doc["files"].values())
    frame = pd.read_csv(doc["files"]["csv"])
    front = front_designs(frame)
    assert [p["number"] for p in doc["pareto"]] == list(front["number"])
    assert all(isinstance(p["area_mm2"], float) and p["area_mm2"] <= 2.0 for p in doc["pareto"])
    assert doc["spec"]["space"]["mu"] == [1, 2, 3, 4]
    # resumed: nothing to run, still one document
    rc, out, _ = run_dse(argv)
    assert rc == 0 and json.loads(out)["ran_here"] == 0


def test_show(study, tmp_path):
    show = ["show", "cli", "--storage", study["url"], "--out", tmp_path / "show", "--no-plot"]
    rc, out, err = run_dse(show)
    assert (rc, err) == (0, "")
    assert out.splitlines()[:2] == study["out"].splitlines()[:2]
    assert f"{TRIALS} of {TRIALS} finished" in out and "; 0 run here" in out
    shown = pd.read_csv(tmp_path / "show" / "trials.csv")
    assert len(shown) == TRIALS and list(shown["number"]) == list(study["frame"]["number"])
    rc, out, _ = run_dse([*show, "--json"])
    assert rc == 0 and json.loads(out)["counts"]["budget"] == TRIALS


def test_export_trial_then_hwgen_cost(study, tmp_path, capsys):
    frame = study["frame"]
    number = int(frame.loc[frame["state"] == "COMPLETE", "number"].iloc[-1])
    design = tmp_path / "sub" / "core.toml"
    rc, out, err = run_dse(["export", "cli", "--storage", study["url"], "--trial", number, "--out", design])
    assert (rc, err) == (0, "")
    row = frame.set_index("number").loc[number]
    assert out.splitlines() == [
        (f"wrote {design}: trial {number} of cli (area_mm2 = {row['area_mm2']:.4g}, "
        f"tokens_per_s = {row['tokens_per_s']:.4g})"),
        f"emit it: hwgen emit --design {design}"]
    assert hwgen_main(["cost", "--design", str(design), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    cfg = doc["config"]
    assert (cfg["mu"], cfg["luts"], cfg["keys"], cfg["pipeline"]) == (
        row["mu"], row["luts"], row["keys"], row["pipeline"])
    assert doc["area_um2"] == pytest.approx(row["area_um2"], rel=1e-5)


def test_export_best(study, tmp_path):
    frame = study["frame"]
    feasible = frame[frame["feasible"]]
    want = int(feasible.loc[feasible["tokens_per_s"].idxmax(), "number"])
    rc, out, err = run_dse(["export", "cli", "--storage", study["url"], "--best", "tokens_per_s", "--out",
                            tmp_path / "best.toml", "--json"])
    assert (rc, err) == (0, "")
    doc = json.loads(out)
    assert doc["trial"] == want and doc["file"] == str(tmp_path / "best.toml")
    assert doc["metrics"]["tokens_per_s"] == feasible["tokens_per_s"].max()
    assert f"trial = {want}\n" in (tmp_path / "best.toml").read_text()


def test_export_of_a_pruned_trial_refuses(study, tmp_path):
    frame = study["frame"]
    number = int(frame.loc[frame["state"] == "PRUNED", "number"].iloc[0])
    refused(["export", "cli", "--storage", study["url"], "--trial", number, "--out", tmp_path / "x.toml"],
            rf"--trial: trial {number} is PRUNED, not a complete design: `pipeline` must be in "
            r"\[0, 1 \+ ceil\(log2\(luts\)\) = \d\] register stages for luts=\d+, got pipeline=\d")
    assert not (tmp_path / "x.toml").exists()
    refused(["export", "cli", "--storage", study["url"], "--trial", 999],
            rf"--trial: no trial 999 in study 'cli' \(trials 0\.\.{TRIALS - 1}\)")


def test_default_storage_in_build_dse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_study(tmp_path, name="home", trials=5, sampler="random")
    rc, out, err = run_dse(["run", path, *QUIET])
    assert (rc, err) == (0, "")
    assert (tmp_path / "build" / "dse" / "home" / "study.db").is_file()
    assert "storage sqlite:///build/dse/home/study.db" in out
    assert re.search(r"^export one: dse export home --trial \d+$", out, re.M)  # no --storage: the default
    rc, out, _ = run_dse(["show", "home", "--no-plot"])
    assert rc == 0 and "5 of 5 finished" in out
    rc, out, _ = run_dse(["export", "home", "--best", "area_mm2"])
    number = int(re.search(r"trial (\d+) of home", out).group(1))
    assert rc == 0 and (tmp_path / "build" / "dse" / "home" / f"trial{number}.toml").is_file()
    assert run_dse(["worker", "home", "--no-progress"])[:2] == (0, "worker: ran 0 trials of study home\n")
    refused(["worker", "nowhere", "--no-progress"],
            r"no study 'nowhere' in the default storage \(build/dse/nowhere/study\.db does not "
            r"exist\); give --storage URL")
    refused(["show", "nowhere"],
            r"no study 'nowhere' in the default storage \(build/dse/nowhere/study\.db does not "
            r"exist\); give --storage URL")


def test_exhaustive_sweep_then_emit_the_smallest(tmp_path, capsys):
    path = write_study(tmp_path, name="wee", space=WEE_SPACE, constraints="", wee=True, stem="study")
    url = f"sqlite:///{tmp_path}/s.db"
    out_dir = tmp_path / "out"
    argv = ["run", path, "--sampler", "exhaustive", "--storage", url, "--out", out_dir, *QUIET]
    rc, out, err = run_dse(argv)
    assert (rc, err) == (0, "")
    name = re.match(r"study (\S+): workload wee, sampler exhaustive, storage ", out).group(1)
    assert name in ("wee", "wee-exhaustive")  # another sampler than the file's may run a study of its own
    points = pd.read_parquet(tmp_path / "out" / "points.parquet")
    front = int(points["pareto"].sum())
    assert len(points) == 48 and points["feasible"].all()
    sweep_line = rf"^  sweep       : 54 designs, 48 valid, 48 feasible, Pareto set {front} \(\d+\.\d s\)$"
    assert re.search(sweep_line, out, re.M)
    assert f"Pareto set ({front} designs):" in out and str(tmp_path / "out" / "points.parquet") in out
    smallest = points.loc[points["area_mm2"].idxmin()]
    design = tmp_path / "wee.toml"
    rc, out, _ = run_dse(["export", name, "--storage", url, "--best", "area_mm2", "--out", design])
    assert rc == 0 and f"area_mm2 = {smallest['area_mm2']:.4g}" in out
    verilog = tmp_path / "wee.v"
    capsys.readouterr()
    assert hwgen_main(["emit", "--design", str(tmp_path / "wee.toml"), "-o", str(verilog)]) == 0
    text = verilog.read_text()
    assert re.search(r"^module \w+\(", text, re.M) and "endmodule" in text
    assert f"mu            : {smallest['mu']} (design file" in capsys.readouterr().out


# --- refusals --------------------------------------------------------------------------------------

def test_run_refuses_a_missing_study_file(tmp_path):
    missing = tmp_path / "nope.toml"
    refused(["run", missing, *QUIET], rf"study file '{re.escape(str(missing))}': No such file or directory")


@pytest.mark.parametrize("change,line", [
    ({"sampler": "cmaes"},
     r"\[study\] sampler: unknown sampler 'cmaes' \(allowed: tpe, nsga2, gp, random, qmc, exhaustive\)"),
    ({"objectives": 'speed = "maximize"'}, r"\[objectives\] speed: unknown metric \(allowed: area_mm2, .*\)"),
    ({"objectives": 'energy_pj = "minimize"'},
     r"\[objectives\] energy_pj: unknown metric \(allowed: area_mm2, .*\)"),
])
def test_run_refuses_a_bad_study_file(tmp_path, change, line):
    path = write_study(tmp_path, **change)
    refused(["run", path, "--storage", f"sqlite:///{tmp_path}/s.db", "--out", tmp_path / "out", *QUIET],
            rf"study file '{re.escape(str(path))}': {line}")
    assert not (tmp_path / "s.db").exists() and not (tmp_path / "out").exists()


def test_run_refuses_an_impossible_constraint_before_writing(tmp_path):
    path = write_study(tmp_path, constraints="area_mm2 = { max = 0.001 }")
    before = sorted(p.name for p in tmp_path.iterdir())
    refused(["run", path, "--storage", f"sqlite:///{tmp_path}/s.db", "--out", tmp_path / "out", *QUIET],
            r"\[constraints\] area_mm2: no design meets area_mm2 <= 0\.001 \(best of [\d,]+ valid "
            r"points: area_mm2 = [\d.e+-]+\); relax it or widen \[space\]")
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no storage file, no results folder


def test_run_no_check_runs_the_study_anyway(tmp_path):
    path = write_study(tmp_path, trials=4, sampler="random", constraints="area_mm2 = { max = 0.001 }")
    rc, out, err = run_dse(["run", path, "--storage", f"sqlite:///{tmp_path}/s.db", "--out", tmp_path / "out",
                            *QUIET, "--no-check"])
    assert (rc, err) == (0, "")
    assert "  feasible    : 0 complete trials meet every constraint" in out
    assert "no feasible design yet" in out


@pytest.mark.parametrize("url,line", [
    ("notaurl", (r"--storage: 'notaurl' is not a storage URL \(e\.g\. sqlite:///study\.db or "
                r"postgresql\+psycopg://user@host/db\)")),
    ("sqlite:////nonexistent/dir/x.db",
     r"--storage: folder '/nonexistent/dir' of sqlite:////nonexistent/dir/x\.db does not exist"),
])
def test_run_refuses_a_bad_storage_url(tmp_path, url, line):
    path = write_study(tmp_path, trials=3)
    refused(["run", path, "--storage", url, "--out", tmp_path / "out", *QUIET], line)
    assert not (tmp_path / "out").exists()


def test_a_storage_server_that_refuses_is_one_line_fast(tmp_path):
    t0 = time.monotonic()
    url = "postgresql+psycopg://nobody@127.0.0.1:1/x"
    refused(["show", "cli", "--storage", url, "--out", tmp_path / "o"],
            r"--storage: cannot open postgresql\+psycopg://nobody@127\.0\.0\.1:1/x: .*"
            r"(refused|failed).*")
    assert time.monotonic() - t0 < 15
    assert not (tmp_path / "o").exists()


def test_unknown_study_names_the_studies_present(study):
    refused(["show", "nope", "--storage", study["url"], "--out", study["folder"] / "nope"],
            r"no study 'nope' in this storage \(studies: cli\)")
    refused(["worker", "nope", "--storage", study["url"], "--no-progress"],
            r"no study 'nope' in this storage \(studies: cli\)")
    refused(["export", "nope", "--storage", study["url"], "--best", "area_mm2"],
            r"no study 'nope' in this storage \(studies: cli\)")
    assert not (study["folder"] / "nope").exists()


def test_run_refuses_another_space_under_the_same_name(study, tmp_path):
    path = write_study(tmp_path, space=SPACE.replace("cores = [1, 2]", "cores = [1, 2, 4]"))
    refused(["run", path, "--storage", study["url"], "--out", tmp_path / "out", *QUIET],
            r"study 'cli' already exists in this storage with a different \[space\]; give the "
            r"study another name, or another --storage")
    rc, out, _ = run_dse(["show", "cli", "--storage", study["url"], "--out", tmp_path / "show", "--no-plot"])
    assert rc == 0 and f"{TRIALS} of {TRIALS} finished" in out


def test_worker_joins_and_finishes_an_extended_budget(study, tmp_path):
    """A copy of the study with a larger budget: ``dse worker`` (here) runs exactly what is left."""
    import sqlite3

    src, dst = sqlite3.connect(study["folder"] / "s.db"), sqlite3.connect(tmp_path / "s.db")
    src.backup(dst)  # a consistent copy, whatever the journal mode (WAL keeps commits beside the file)
    src.close()
    dst.close()
    url = f"sqlite:///{tmp_path}/s.db"
    rc, out, _ = run_dse(["worker", "cli", "--storage", url, "--no-progress", "--json"])
    assert rc == 0 and json.loads(out)["ran_here"] == 0
    import optuna

    from dse.explore import search

    study_ = optuna.load_study(study_name="cli", storage=url)
    search.ensure_slots(study_, TRIALS + 3)
    rc, out, _ = run_dse(["worker", "cli", "--storage", url, "--no-progress", "--max-trials", "2"])
    assert (rc, out) == (0, "worker: ran 2 trials of study cli\n")
    rc, out, _ = run_dse(["worker", "cli", "--storage", url, "--no-progress"])
    assert (rc, out) == (0, "worker: ran 1 trials of study cli\n")
    slots = sorted(t.user_attrs["ternlut_slot"] for t in study_.get_trials() if t.state.name != "FAIL")
    assert slots == list(range(TRIALS + 3))


def test_dse_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "worker", "show", "export", "study"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M), command
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = capsys.readouterr().out
    assert "--storage URL" in out and "--sampler {tpe,nsga2,gp,random,qmc,exhaustive}" in out


def test_run_option_values_are_checked(tmp_path):
    path = write_study(tmp_path)
    refused(["run", path, "--trials", "0", *QUIET], r"--trials: must be in \[1, 1000000\], got 0")
    refused(["run", path, "--sampler", "cmaes", *QUIET],
            r"--sampler: invalid choice: 'cmaes' \(choose from .*\)")
    assert not (tmp_path / "build").exists()
