"""Closing timing with the cost model (:func:`costmodel.choose_for_clock`, ``resolve_design(clock_mhz=F)``):
the choice meets the target in the model, leaves given parameters alone, never gets slower for a
tighter target, and is the least area per useful MAC/s of the candidates that meet it (checked by
brute force with :func:`costmodel.estimate`); and, where the synthesis tools are installed, the
model's verdict (met / missed) agrees with synthesis at the same clock target."""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import time

import pytest

from costmodel import (
    ClockChoice,
    ClockUnmetError,
    UnpricedError,
    choose_for_clock,
    estimate,
    load_unit_costs,
    resolve_design,
)
from costmodel import liberty as liberty_mod
from costmodel.choose import CLOCK_PARAMS, MAX_CLOCK_REUSE, mu_candidates
from hwgen.description.config import ConfigError, core_config
from hwgen.description.tree_plan import tree_depth

FP16_8 = {"act": "fp16", "core": 8, "max_n": 64, "max_m": 64}
INT8_16 = {"act": "int8", "core": 16, "max_n": 256, "max_m": 256}


def _brute_force(params: dict, clock_mhz: float) -> tuple[dict, float, int, int]:
    """Every candidate priced with :func:`estimate` one by one: (best chosen values, its area per
    useful MAC/cycle in um^2, candidates, meeting)."""
    c = load_unit_costs()
    fp = params["act"].startswith(("fp", "bf"))
    best, best_merit, candidates, meeting = None, math.inf, 0, 0
    for mu in mu_candidates(c):
        luts = math.ceil(params["core"] / mu)
        ranges = (range(9) if fp else (0,), range(2 + tree_depth(luts)), range(1, MAX_CLOCK_REUSE + 1))
        for stages, pipeline, reuse in itertools.product(*ranges):
            try:
                cfg = core_config(**params, mu=mu, adder_stages=stages, pipeline=pipeline, reuse=reuse)
            except ConfigError:
                continue
            report = estimate(cfg, costs=c)
            candidates += 1
            if report.critical_path_ns > 1000 / clock_mhz:
                continue
            meeting += 1
            useful = params["core"] ** 2 * min(1.0, reuse / (cfg.acc_latency + 1))
            merit = report.area_um2 / useful
            if merit < best_merit:
                best_merit = merit
                best = {"adder_stages": stages, "pipeline": pipeline, "reuse": reuse, "mu": mu}
    return best, best_merit, candidates, meeting


@pytest.mark.parametrize("params,clock_mhz", [(FP16_8, 60), (FP16_8, 150), (FP16_8, 250), (INT8_16, 120),
                                              (INT8_16, 250)])
def test_the_choice_is_the_least_area_per_useful_mac_s_that_meets_the_clock(params, clock_mhz):
    choice = choose_for_clock(params, clock_mhz)
    _, best_merit, candidates, meeting = _brute_force(params, clock_mhz)
    merit = choice.area_um2 / choice.useful_macs_per_cycle
    assert merit == pytest.approx(best_merit, rel=1e-9)
    assert (choice.candidates, choice.meeting) == (candidates, meeting)
    # the same figures as the cost model reports for the chosen core
    report = estimate(choice.config)
    assert report.critical_path_ns == choice.critical_path_ns
    assert report.area_um2 == pytest.approx(choice.area_um2)
    assert report.critical_path_ns <= 1000 / clock_mhz == choice.target_ns
    assert choice.slack_ns == pytest.approx(1000 / clock_mhz - report.critical_path_ns)
    assert choice.slack_ns >= 0
    assert choice.area_per_gmacs_um2 == pytest.approx(merit / (clock_mhz / 1000))


@pytest.mark.parametrize("params", [FP16_8, INT8_16, {"act": "bf16", "acc": "fp32", "core": 16},
                                    {"arch": "mac", "act": "fp16", "core": 4, "max_n": 16, "max_m": 16}])
def test_a_tighter_clock_never_gives_a_slower_design(params):
    previous = math.inf
    for clock_mhz in (20, 50, 80, 100, 120, 150, 200, 250, 300, 400):
        try:
            choice = choose_for_clock(params, clock_mhz)
        except ClockUnmetError:
            break
        assert choice.critical_path_ns <= previous
        previous = choice.critical_path_ns
    assert previous < math.inf


def test_useful_macs_count_the_cycles_a_pipelined_accumulator_waits():
    # reuse R with an accumulate adder of latency s issues min(R, s + 1) steps per s + 1 cycles
    for stages, reuse in itertools.product((0, 1, 3), (1, 2, 4)):
        params = {**FP16_8, "mu": 2, "adder_stages": stages, "pipeline": 0, "reuse": reuse}
        choice = choose_for_clock(params, 10)
        assert choice.chosen == {} and choice.candidates == 1
        assert choice.useful_macs_per_cycle == 64 * min(1, reuse / (stages + 1))


def test_given_parameters_are_never_changed(tmp_path):
    design = tmp_path / "d.toml"
    design.write_text('[core]\nact = "fp16"\nluts = 8\nkeys = 16\nadder_stages = 3\nmax_n = 64\nmax_m = 64\n')
    resolved = resolve_design({"reuse": 1}, design_file=design, clock_mhz=200)
    cfg, choice = resolved.config, resolved.clock_choice
    assert (cfg.adder_stages, cfg.reuse) == (3, 1)
    assert choice.chosen == {"pipeline": cfg.pipeline, "mu": cfg.mu}
    assert resolved.mu_source.startswith("cost model's best for clock_mhz 200: ")
    # a given mu is kept and named as without a clock target
    resolved = resolve_design({**FP16_8, "mu": 2}, clock_mhz=100, option_names={"mu": "--mu"})
    assert (resolved.config.mu, resolved.mu_source) == (2, "--mu")
    assert "mu" not in resolved.clock_choice.chosen
    # fixed= keeps what it names and searches the rest, whatever params holds
    choice = choose_for_clock({**FP16_8, "adder_stages": 0, "pipeline": 0}, 150,
                              fixed={"act", "core", "max_n", "max_m", "pipeline"})
    assert choice.config.pipeline == 0 and set(choice.chosen) == {"adder_stages", "reuse", "mu"}
    # integer cores and the baselines search only what applies to them
    assert set(choose_for_clock(INT8_16, 100).chosen) == {"pipeline", "reuse", "mu"}
    mac = resolve_design({"arch": "mac", "act": "int8", "core": 4}, clock_mhz=100)
    assert set(mac.clock_choice.chosen) == {"pipeline", "reuse"}
    assert mac.mu_source == "fixed at 1 for arch mac"
    assert tuple(choice.chosen) == tuple(k for k in CLOCK_PARAMS if k in choice.chosen)


def test_without_a_clock_nothing_changes():
    for params in (FP16_8, INT8_16, {"act": "int8", "core": 64}):
        plain, explicit = resolve_design(params), resolve_design(params, clock_mhz=None)
        assert plain == explicit and plain.clock_choice is None and explicit.clock_choice is None
        assert plain.mu_source == explicit.mu_source and plain.mu_choice == explicit.mu_choice


@pytest.mark.parametrize("clock_mhz", [0, -5, math.nan, math.inf, "100", True, None])
def test_a_clock_that_is_not_a_positive_number_is_refused(clock_mhz):
    with pytest.raises(ConfigError) as info:
        choose_for_clock(FP16_8, clock_mhz)
    assert len(info.value.problems) == 1
    got = re.escape(repr(clock_mhz))
    assert re.fullmatch(rf"`clock_mhz` must be a positive number of MHz, got clock_mhz={got}",
                        info.value.problems[0])


def test_an_unreachable_clock_names_the_fastest_design_and_its_clock():
    with pytest.raises(ClockUnmetError) as info:
        resolve_design({"act": "int8", "core": 64}, clock_mhz=900, option_names={"clock_mhz": "--clock-mhz"})
    (line,) = info.value.problems
    match = re.fullmatch(r"--clock-mhz 900: no design meets 1\.111 ns; the fastest with the given parameters "
                         r"reaches (\d+\.\d) MHz \(pipeline=\d, reuse=1, mu=\d\)", line)
    assert match, line
    # the clock it names is met, by the design it names
    reach = float(match.group(1))
    choice = choose_for_clock({"act": "int8", "core": 64, **info.value.fastest}, reach)
    assert choice.chosen == {} and choice.slack_ns >= 0
    # with nothing left to choose there is nothing to name
    given = {"act": "fp16", "core": 64, "mu": 4, "adder_stages": 0, "pipeline": 0, "reuse": 1}
    with pytest.raises(ClockUnmetError, match=(r"^clock_mhz 100: no design meets 10\.000 ns; the fastest "
                                               r"with the given parameters reaches \d+\.\d MHz$")):
        choose_for_clock(given, 100)


def test_invalid_and_unpriced_candidates():
    # every candidate invalid: the first one's problems, as without a clock target
    with pytest.raises(ConfigError, match=r"^`max_n` must be at least the tile height"):
        choose_for_clock({"act": "int8", "core": 64, "mu": 2, "max_n": 32}, 100)
    # a mu the table cannot price: say how to build it without the cost model
    with pytest.raises(UnpricedError) as info:
        resolve_design({"act": "int8", "core": 64, "mu": 7}, clock_mhz=100,
                       option_names={"mu": "--mu", "clock_mhz": "--clock-mhz"})
    assert re.fullmatch(r"`mu` must be in \[1, 6\] for the cost model \(.*\), got mu=7 \(leave out "
                        r"--clock-mhz to build it without the cost model's choice\)", info.value.problems[0])


def test_describe_and_json_object():
    choice = choose_for_clock(FP16_8, 100)
    assert isinstance(choice, ClockChoice)
    pattern = (r"100 MHz: chose adder_stages=\d, pipeline=\d, reuse=\d, mu=\d \(model: \d+\.\d\d ns, slack "
               r"\+\d+\.\d\d ns; (\d+) of (\d+) candidates meet it\)")
    match = re.fullmatch(pattern, choice.describe())
    assert match and (int(match.group(1)), int(match.group(2))) == (choice.meeting, choice.candidates)
    doc = json.loads(json.dumps(choice.to_dict()))
    assert doc["chosen"] == choice.chosen and doc["met"] is True
    assert (doc["target_mhz"], doc["target_ns"]) == (100, 10)
    assert doc["predicted_critical_path_ns"] == choice.critical_path_ns
    assert doc["predicted_slack_ns"] == pytest.approx(10 - choice.critical_path_ns)


def test_a_search_of_a_thousand_candidates_is_fast():
    costs = load_unit_costs()
    choose_for_clock({"act": "fp16", "core": 64}, 100, costs=costs)  # fits the table once
    start = time.perf_counter()
    choice = choose_for_clock({"act": "fp16", "acc": "fp32", "core": 64}, 150, costs=costs)
    assert choice.candidates > 1000 and time.perf_counter() - start < 2.0


# ------------------------------------------------------------------------------------------------
# Model vs synthesis (Yosys + ABC with the clock as the mapper's target, OpenSTA)
# ------------------------------------------------------------------------------------------------

needs_synthesis = pytest.mark.skipif(
    (shutil.which("apt-get") is None and not liberty_mod.default_liberty) or shutil.which("sta") is None,
    reason="needs apt-get to fetch the default liberty and OpenSTA (sta) for timing")

TINY = {"act": "int4", "core": 2, "max_n": 16, "max_m": 8}



@needs_synthesis
def test_model_and_synthesis_agree_on_met_and_missed(synth_cache):
    from costmodel.synth import synthesize
    from hwgen.gateware.emit import emit_verilog

    # the fastest design the model knows, at twice its predicted fmax: the model says missed
    with pytest.raises(ClockUnmetError) as info:
        choose_for_clock(TINY, 5000)
    fastest = choose_for_clock({**TINY, **info.value.fastest}, 1)
    missed_mhz = 2 * 1000 / fastest.critical_path_ns
    # the cheapest design (the choice at any slow clock), at 60 % of its predicted fmax: met, 40 % slack
    cheapest = choose_for_clock(TINY, 1)
    met_mhz = 0.6 * 1000 / cheapest.critical_path_ns
    met = resolve_design(TINY, clock_mhz=met_mhz).clock_choice
    assert met.config == cheapest.config and met.slack_ns >= 0.39 * met.target_ns
    for cfg, clock_mhz, model_met in ((met.config, met_mhz, True), (fastest.config, missed_mhz, False)):
        assert (estimate(cfg).critical_path_ns <= 1000 / clock_mhz) is model_met
        report = synthesize(emit_verilog(cfg), clock_ns=1000 / clock_mhz, timeout_s=120)
        assert report.clock_target_ns == 1000 / clock_mhz
        assert (report.critical_path_ns <= 1000 / clock_mhz) is model_met, (cfg.name, clock_mhz, report)


@needs_synthesis
def test_synth_cli_reports_the_synthesised_slack(synth_cache, capsys):
    from ternlut.cli.hwgen import main

    argv = ["synth", "--act", "int4", "--core", "2", "--max-n", "16", "--max-m", "8", "--clock-mhz", "150"]
    assert main([*argv, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    clock = doc["clock"]
    choice = resolve_design(TINY, clock_mhz=150).clock_choice
    assert doc["config"] == choice.config.to_dict() and doc["clock_target_ns"] == pytest.approx(1000 / 150)
    assert clock["chosen"] == choice.chosen and clock["met"] is True
    assert clock["synth_critical_path_ns"] == doc["critical_path_ns"]
    assert clock["synth_slack_ns"] == pytest.approx(1000 / 150 - doc["critical_path_ns"], abs=1e-3)
    assert clock["synth_met"] is True
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  clock target  : 150 MHz: chose pipeline=\d, reuse=\d, mu=\d \(model: .*\)$", out,
                     re.M)
    assert re.search(r"^  timing        : critical path \d+\.\d\d ns -> \d+ MHz \(opensta\); slack "
                     r"\+\d+\.\d\d ns at 150 MHz: met \(model \+\d+\.\d\d ns\)$", out, re.M)
    # the flow's power at the target clock, beside the model's energy
    assert doc["power"]["clock_ns"] == pytest.approx(1000 / 150) and doc["power"]["total_mw"] > 0
    assert doc["model_energy_pj_per_cycle"] > 0 and doc["model_critical_path_ns"] > 0
    assert re.search(r"^  power         : [\d,]+\.\d\d mW at a 6\.67 ns clock \(leakage [\d.]+ uW\), "
                     r"[\d,.]+ pJ/cycle \(OpenSTA, stated activity: costmodel\.power\.Activity\)$", out, re.M)
