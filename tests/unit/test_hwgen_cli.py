import json
import os
import re
import subprocess
import sys

import pytest

from ternlut.cli.hwgen import main


def run(args, cwd):
    """Run ``hwgen`` in a subprocess (exit status, stdout, stderr), as a user would."""
    proc = subprocess.run([sys.executable, "-m", "ternlut.cli.hwgen", *args], cwd=cwd, capture_output=True,
                          text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_emit_writes_name_v_and_summary(tmp_path, capsys):
    os.chdir(tmp_path)
    assert main(["emit", "--act", "int4", "--core", "6", "--mu", "3", "--max-n", "24", "--max-m", "12"]) == 0
    out = capsys.readouterr().out
    path = tmp_path / "lut_int4_mu3_6x6.v"
    assert path.exists()
    text = path.read_text()
    assert "module lut_int4_mu3_6x6(" in text
    assert "wrote lut_int4_mu3_6x6.v" in out
    assert "13 entries, 10 adders per LUT (20 in all)" in out
    assert "6 activations x 6 outputs per cycle (2 LUTs x mu=3, 6 fetchers per LUT)" in out
    for port in ("job__payload", "act__payload", "keys__payload", "out__payload", "out__ready"):
        assert port in out and port in text


def test_emit_json(tmp_path, capsys):
    out_file = tmp_path / "x.v"
    assert main(["emit", "--core", "4", "--mu", "2", "--max-n", "8", "--max-m", "8",
                 "--name", "tiny", "-o", str(out_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] == str(out_file) and out_file.exists()
    assert doc["config"]["name"] == "tiny" and doc["summary"]["adders_per_lut"] == 2
    assert {p["name"] for p in doc["ports"]} >= {"clk", "rst", "keys__payload", "out__valid"}
    assert doc["versions"]["ternlut"]


@pytest.mark.parametrize("args,line", [
    (["--act", "fp17"], ("hwgen emit: error: --act: `act` must be one of int2..int16, fp16, bf16, fp32, "
                         "fp8e4m3, fp8e5m2, got act='fp17'")),
    (["--acc", "fp32"], ("hwgen emit: error: --acc: `acc` applies to floating-point activations only "
                         "(integer accumulators are sized from max_n), got acc='fp32' with act='int8'")),
    (["--act", "fp16", "--acc", "bf16"], ("hwgen emit: error: --acc: `acc` must be a floating-point format "
                                          "at least as wide as act='fp16' in exponent and mantissa (e.g. "
                                          "'fp32'), got acc='bf16'")),
    (["--adder-stages", "1"], ("hwgen emit: error: --adder-stages: `adder_stages` applies to floating-point "
                               "activations only (integer adders are combinational; use `pipeline`), got "
                               "adder_stages=1")),
    (["--act", "fp16", "--adder-stages", "9"], ("hwgen emit: error: --adder-stages: `adder_stages` must be "
                                                "in [0, 8] registers per adder, got adder_stages=9")),
    (["--unit", "fp-add", "--act", "int8"], ("hwgen emit: error: --act: `act` must be a floating-point "
                                             "format (fp16, bf16, fp32, fp8e4m3, fp8e5m2) for a "
                                             "floating-point unit, got act='int8'")),
    (["--unit", "fp-mul", "--mu", "3", "--core", "8"], ("hwgen emit: error: --unit: --core, --mu do(es) not "
                                                        "apply to a single unit (allowed: --act, "
                                                        "--adder-stages, --name, -o)")),
    (["--act", "int32"],
     "hwgen emit: error: --act: `act` integer width must be in [2, 16] bits, got act='int32'"),
    (["--mu", "0"], "hwgen emit: error: --mu: `mu` must be in [1, 8], got mu=0"),
    (["--mu", "12"], "hwgen emit: error: --mu: `mu` must be in [1, 8], got mu=12"),
    (["--luts", "0"], "hwgen emit: error: --luts: `luts` must be in [1, 4096] LUTs, got luts=0"),
    (["--keys", "-3"],
     "hwgen emit: error: --keys: `keys` must be in [1, 4096] fetchers per LUT, got keys=-3"),
    (["--max-n", "32"], ("hwgen emit: error: --max-n: `max_n` must be at least the tile height "
                         "luts*mu = 64 activations, got max_n=32")),
    (["--pipeline", "-1"], ("hwgen emit: error: --pipeline: `pipeline` must be in [0, 64] register stages, "
                            "got pipeline=-1")),
    (["--core", "0"],
     "hwgen emit: error: --core: `core` must be in [1, 4096] (tile edge, activations), got core=0"),
    (["--arch", "systolic"], ("hwgen emit: error: --arch: `arch` must be one of lut, signflip, mac, "
                              "got arch='systolic'")),
    (["--arch", "signflip", "--mu", "2"], ("hwgen emit: error: --mu: `mu` must be 1 for arch='signflip' "
                                           "(each weight selects +a, -a or 0: no LUT reuse), got mu=2")),
    (["--arch", "mac", "--mu", "4"], ("hwgen emit: error: --mu: `mu` must be 1 for arch='mac' (no LUTs, one "
                                      "multiplier per weight; `luts` is the activations per cycle), got "
                                      "mu=4")),
    (["--unit", "fp-mul", "--arch", "mac"], ("hwgen emit: error: --unit: --arch do(es) not apply to a single "
                                             "unit (allowed: --act, --adder-stages, --name, -o)")),
    (["--arch", "mac", "--act", "fp16", "--core", "64"], ("hwgen emit: error: cannot generate "
                                                          "mac_fp16_64x64: its input ports total 66594 bits "
                                                          "and its widest stream word (keys) is 65536 bits; "
                                                          "an Amaranth 0.5 netlist allows at most 65534 bits "
                                                          "for either (use fewer luts or keys)")),
    (["-o", "no/such/folder/x.v"], ("hwgen emit: error: -o: cannot write 'no/such/folder/x.v': "
                                    "folder 'no/such/folder' does not exist")),
])
def test_bad_input_one_line_nonzero_no_file(tmp_path, args, line):
    status, out, err = run(["emit", *args], tmp_path)
    assert status == 1
    assert err.strip() == line
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_leaves_nothing(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        # root may write into a read-only folder; /sys refuses everyone
        target = locked / "x.v" if not os.access(locked, os.W_OK) else "/sys/ternlut_test.v"
        status, _, err = run(["emit", "--core", "4", "-o", str(target)], tmp_path)
        assert status == 1
        assert err.strip().lower().endswith("permission denied")
        assert err.startswith(f"hwgen emit: error: -o: cannot write '{target}'")
        assert list(locked.iterdir()) == [] and not os.path.exists(target)
    finally:
        locked.chmod(0o700)


def test_output_is_a_directory(tmp_path):
    status, _, err = run(["emit", "--core", "4", "-o", str(tmp_path)], tmp_path)
    assert status == 1
    assert err.strip() == f"hwgen emit: error: -o: {str(tmp_path)!r} is a directory, expected a file path"


def test_help_documents_every_option_with_units(tmp_path):
    status, out, _ = run(["emit", "--help"], tmp_path)
    assert status == 0
    for option in ("--arch", "--act", "--core", "--mu", "--luts", "--keys", "--max-n", "--max-m", "--reuse",
                   "--pipeline", "--name", "--output", "--json"):
        assert option in out
    assert "activations" in out and "(default: 8192)" in out
    status, out, _ = run(["--help"], tmp_path)
    assert status == 0 and "emit" in out


def test_design_file_and_overrides(tmp_path, capsys):
    from pathlib import Path
    design = Path(__file__).parents[2] / "designs" / "cores" / "int8_bitnet2b_mu3.toml"
    out_file = tmp_path / "d.v"
    assert main(["emit", "--design", str(design), "--keys", "8", "--max-m", "64", "--reuse", "2",
                 "-o", str(out_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"] | {"name": None} == {"arch": "lut", "act": "int8", "acc": "", "adder_stages": 0,
                                              "mu": 3, "luts": 16, "keys": 8, "max_n": 6912, "max_m": 64,
                                              "reuse": 2, "pipeline": 2, "fp_reduce": "ieee", "fp_width": 0,
                                              "fp_round": "rne", "fp_sticky": False, "name": None}
    assert doc["summary"]["mu_source"] == f"design file {design}"


@pytest.mark.parametrize("content,line", [
    ("[core]\nmu = 3\nbogus = 1\n", ("design file 'd.toml': unknown key(s) bogus in [core] (allowed: acc, "
                                     "act, adder_stages, arch, fp_reduce, fp_round, fp_sticky, fp_width, "
                                     "keys, luts, max_m, max_n, mu, name, pipeline, reuse)")),
    ("mu = 3\n", "design file 'd.toml' has no [core] table"),
])
def test_bad_design_file(tmp_path, content, line):
    (tmp_path / "d.toml").write_text(content)
    status, _, err = run(["emit", "--design", "d.toml"], tmp_path)
    assert status == 1
    assert err.strip() == f"hwgen emit: error: {line}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.toml"]


@pytest.mark.parametrize("unit,act,stages", [("fp-add", "fp16", 0), ("fp-mul", "bf16", 2)])
def test_emit_unit(tmp_path, capsys, unit, act, stages):
    os.chdir(tmp_path)
    assert main(["emit", "--unit", unit, "--act", act, "--adder-stages", str(stages), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    name = f"{unit.replace('-', '_')}_{act}_s{stages}"
    assert doc["output"] == f"{name}.v" and doc["unit"]["latency_cycles"] == stages
    assert [p["name"] for p in doc["ports"]] == (["clk", "rst"] if stages else []) + ["a", "b", "o"]
    text = (tmp_path / f"{name}.v").read_text()
    assert f"module {name}(" in text


def test_emit_fp_core_summary(tmp_path, capsys):
    os.chdir(tmp_path)
    assert main(["emit", "--act", "fp16", "--acc", "fp32", "--adder-stages", "1", "--core", "2", "--mu", "2",
                 "--max-n", "8", "--max-m", "4"]) == 0
    out = capsys.readouterr().out
    assert "wrote lut_fp16_fp32_mu2_2x2.v" in out
    assert "FP adders     : 1 pipeline registers each; accumulate in fp32" in out
    assert "accumulators  : 1 x 2 x fp32" in out


def test_emit_mac_baseline_json(tmp_path, capsys):
    os.chdir(tmp_path)
    assert main(["emit", "--arch", "mac", "--act", "int8", "--core", "4", "--max-n", "16", "--max-m", "8",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["output"] == "mac_int8_4x4.v" and (tmp_path / "mac_int8_4x4.v").exists()
    assert (doc["config"]["arch"], doc["config"]["mu"], doc["config"]["luts"]) == ("mac", 1, 4)
    assert (doc["summary"]["multipliers"], doc["summary"]["product_width"]) == (16, 16)
    assert doc["summary"]["mu_source"] == "fixed at 1 for --arch mac"
    widths = {p["name"]: p["width"] for p in doc["ports"]}
    assert widths["keys__payload"] == 4 * 4 * 8  # full-width int8 weight operands
    assert widths["act__payload"] == 4 * 8


def test_emit_baseline_summaries(tmp_path, capsys):
    os.chdir(tmp_path)
    assert main(["emit", "--arch", "signflip", "--act", "bf16", "--core", "4", "--max-n", "8",
                 "--max-m", "4"]) == 0
    out = capsys.readouterr().out
    assert "wrote signflip_bf16_4x4.v" in out
    assert "mu            : 1 (fixed at 1 for --arch signflip)" in out
    assert "keys          : 2 bits per 1 weights" in out
    assert main(["emit", "--arch", "mac", "--act", "fp16", "--adder-stages", "2", "--core", "2",
                 "--max-n", "4", "--max-m", "2"]) == 0
    out = capsys.readouterr().out
    assert "wrote mac_fp16_2x2.v" in out
    assert "multipliers   : 4 x fp16 (16-bit products), tree over 2 products per output" in out
    assert "FP units      : 2 pipeline registers per adder and multiplier; accumulate in fp16" in out
    assert "keys          : one 16-bit weight operand (fp16 format) per weight" in out


def test_emit_mu_chosen_by_the_cost_model(tmp_path, capsys):
    from costmodel import resolve_design

    out_file = tmp_path / "c.v"
    assert main(["emit", "--act", "int4", "--core", "6", "--max-n", "24", "--max-m", "12",
                 "-o", str(out_file), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    resolved = resolve_design({"act": "int4", "core": 6, "max_n": 24, "max_m": 12})
    assert doc["config"] == resolved.config.to_dict()
    assert doc["summary"]["mu_source"] == resolved.mu_source == resolved.mu_choice.describe()


def test_cost_refuses_a_mu_the_table_cannot_price(tmp_path):
    status, out, err = run(["cost", "--act", "int8", "--core", "64", "--mu", "7"], tmp_path)
    assert status == 1 and out == ""
    assert re.fullmatch(r"hwgen cost: error: --mu: `mu` must be in \[1, 6\] for the cost model "
                        r"\(the unit-cost table prices fetchers up to mu=6; `costmodel calibrate` makes a "
                        r"larger one\), got mu=7\n", err)



def test_emit_and_cost_close_timing_with_clock_mhz(tmp_path, capsys):
    from costmodel import resolve_design

    os.chdir(tmp_path)
    argv = ["--act", "fp16", "--core", "4", "--max-n", "16", "--max-m", "16", "--clock-mhz", "200"]
    resolved = resolve_design({"act": "fp16", "core": 4, "max_n": 16, "max_m": 16}, clock_mhz=200,
                              option_names={"clock_mhz": "--clock-mhz"})
    choice = resolved.clock_choice
    assert main(["emit", *argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"] == resolved.config.to_dict() and (tmp_path / doc["output"]).exists()
    assert doc["clock"] == {**choice.to_dict(), "target_mhz": 200.0, "target_ns": 5.0, "met": True}
    assert set(doc["clock"]["chosen"]) == {"adder_stages", "pipeline", "reuse", "mu"}
    assert doc["clock"]["predicted_critical_path_ns"] <= 5.0
    assert doc["summary"]["mu_source"] == resolved.mu_source
    assert re.fullmatch(r"cost model's best for --clock-mhz 200: [\d,]+ um\^2 per useful GMAC/s, the least "
                        r"of the \d+ of \d+ candidates that meet 5\.000 ns", resolved.mu_source)
    assert main(["emit", *argv]) == 0
    out = capsys.readouterr().out
    assert f"  clock target  : {choice.describe()}\n" in out
    assert re.search(r"^  clock target  : 200 MHz: chose adder_stages=\d, pipeline=\d, reuse=\d, mu=\d "
                     r"\(model: \d+\.\d\d ns, slack \+\d+\.\d\d ns; \d+ of \d+ candidates meet it\)$",
                     out, re.M)
    assert main(["cost", *argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["clock"] == choice.to_dict() and doc["critical_path_ns"] == choice.critical_path_ns
    assert doc["config"] == resolved.config.to_dict() and doc["mu_choice"] is None
    assert main(["cost", *argv]) == 0
    assert f"  clock target  : {choice.describe()}\n" in capsys.readouterr().out


def test_clock_mhz_keeps_the_options_given(capsys):
    given = ["cost", "--act", "fp16", "--core", "8", "--pipeline", "1", "--reuse", "1", "--json"]
    assert main([*given, "--clock-mhz", "100"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["config"]["pipeline"], doc["config"]["reuse"]) == (1, 1)
    assert set(doc["clock"]["chosen"]) == {"adder_stages", "mu"}
    assert main(given) == 0
    assert "clock" not in json.loads(capsys.readouterr().out)


_POSITIVE = r"--clock-mhz: must be a positive number of MHz, got "


@pytest.mark.parametrize("args,pattern", [
    (["--clock-mhz", "0"], _POSITIVE + "'0'"),
    (["--clock-mhz", "-5"], _POSITIVE + "'-5'"),
    (["--clock-mhz", "fast"], _POSITIVE + "'fast'"),
    (["--act", "int8", "--core", "64", "--clock-mhz", "900"],
     (r"--clock-mhz 900: no design meets 1\.111 ns; the fastest with the given parameters reaches "
      r"\d+\.\d MHz \(pipeline=\d, reuse=1, mu=\d\)")),
    (["--act", "fp16", "--core", "8", "--adder-stages", "0", "--pipeline", "0", "--mu", "2", "--reuse", "1",
      "--clock-mhz", "1000"],
     (r"--clock-mhz 1000: no design meets 1\.000 ns; the fastest with the given parameters reaches "
      r"\d+\.\d MHz")),
])
def test_bad_clock_one_line_nonzero_no_file(tmp_path, args, pattern):
    status, out, err = run(["emit", *args], tmp_path)
    assert status == 1 and out == "" and "Traceback" not in err
    assert re.fullmatch(r"hwgen emit: error: " + pattern + r"\n", err), err
    assert list(tmp_path.iterdir()) == []
    status, out, err = run(["cost", *args, "--json"], tmp_path)
    assert status == 1 and re.fullmatch(r"hwgen cost: error: " + pattern + r"\n", err), err
    errors = json.loads(out)["errors"]
    assert len(errors) == 1 and re.fullmatch(pattern, errors[0])


def test_clock_mhz_does_not_apply_to_a_unit(tmp_path):
    status, _, err = run(["emit", "--unit", "fp-add", "--act", "fp16", "--clock-mhz", "100"], tmp_path)
    assert status == 1 and list(tmp_path.iterdir()) == []
    assert err == ("hwgen emit: error: --unit: --clock-mhz do(es) not apply to a single unit (allowed: "
                   "--act, --adder-stages, --name, -o)\n")
