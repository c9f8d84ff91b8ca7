"""The design-space explorer's library (``dse.explore``): per-token metrics against an independent
computation from the schedule and the scalar cost model, study-file checks (one line per problem),
the Pareto set against brute force, the exhaustive sweep against per-point scoring, the Optuna
search over SQLite (exact slot budget, resume, reproducibility, pruning, constraints, samplers),
the results files and the design export."""

import contextlib
import itertools
import math
import re
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

import dse.explore as explore
import dse.explore.points as points_mod
from costmodel import estimate, resolve_design
from costmodel.table import CONFIG_COLUMNS
from dse.explore import metrics as metrics_mod
from dse.explore.metrics import evaluate
from dse.explore.pareto import hypervolume_2d, pareto_mask
from dse.explore.points import design_table, score
from dse.explore.results import export_design, pick_trial, write_results
from dse.explore.search import StudyError
from dse.explore.spec import MAX_EXHAUSTIVE, load_study, spec_from_dict
from dse.explore.sweep import sweep
from hwgen.description.config import MAX_LUTS, ConfigError, CoreConfig, load_design
from hwgen.description.schedule import job_cycles
from hwgen.description.validity import check_columns
from hwgen.description.workload import Gemv, Workload

REPO = Path(__file__).resolve().parents[2]
# Two small GEMVs: spaces stay small and every design is cheap to price.
GEMVS = [{"name": "a", "n": 256, "m": 128, "count": 3}, {"name": "b", "n": 128, "m": 200, "count": 2}]
WORKLOAD = Workload("tiny", tuple(Gemv(**g) for g in GEMVS), source="test")
WORKLOAD_TOML = "\n".join(['name = "tiny"', 'source = "test"'] + [
    f'\n[[gemv]]\nname = "{g["name"]}"\nn = {g["n"]}\nm = {g["m"]}\ncount = {g["count"]}'
    for g in GEMVS]) + "\n"
# A space with invalid corners: pipeline > 1 + ceil(log2(luts)) for the smallest luts.
SPACE = {"mu": [1, 2, 3, 4, 5], "luts": {"low": 1, "high": 32, "log": True},
         "keys": {"low": 4, "high": 64, "step": 4}, "reuse": [1, 2], "pipeline": [0, 1, 2, 3, 4, 5, 6],
         "cores": {"low": 1, "high": 4}}
OBJECTIVES = {"area_mm2": "minimize", "tokens_per_s": "maximize"}
AREA_MAX = 5.0


def study_doc(name="t", *, trials=20, sampler="tpe", seed=1, fixed=None, space=None, objectives=None,
              constraints=None, workload=None):
    """A study document as :func:`spec_from_dict` reads it (the workload inline unless given)."""
    return {"study": {"name": name, "workload": workload if workload is not None else
                      {"name": "tiny", "source": "test", "gemv": [dict(g) for g in GEMVS]},
                      "trials": trials, "sampler": sampler, "seed": seed},
            "fixed": {"act": "int8"} if fixed is None else fixed,
            "space": SPACE if space is None else space,
            "objectives": OBJECTIVES if objectives is None else objectives,
            "constraints": {"area_mm2": {"max": AREA_MAX}} if constraints is None else constraints}


def _config_of(point) -> CoreConfig:
    """The config of a design-table row, every column converted by hand (not by the code under test)."""
    strings = ("arch", "act", "acc", "fp_reduce", "fp_round")
    return CoreConfig(**{k: (str(point[k]) if k in strings else bool(point[k]) if k == "fp_sticky"
                             else int(point[k])) for k in CONFIG_COLUMNS})


def make_spec(**kwargs):
    return spec_from_dict(study_doc(**kwargs))


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    return repr(v)


def write_study(folder, doc, stem="study"):
    """Write ``doc`` as a study file (and the tiny workload file it names) in ``folder``."""
    (folder / "tiny.toml").write_text(WORKLOAD_TOML)
    doc = {**doc, "study": {**doc["study"]}}
    if isinstance(doc["study"].get("workload"), dict):
        doc["study"]["workload"] = "tiny.toml"
    lines = []
    for table, entries in doc.items():
        lines.append(f"[{table}]")
        lines += [f"{k} = {toml_value(v)}" for k, v in entries.items() if v is not None]
        lines.append("")
    path = folder / f"{stem}.toml"
    path.write_text("\n".join(lines))
    return path


def brute_pareto(values, directions) -> np.ndarray:
    """O(n^2): a row is on the front when no row is <= in every objective and < in one."""
    v = np.asarray(values, float) * np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    out = np.ones(len(v), bool)
    for i in range(len(v)):
        out[i] = not ((v <= v[i]).all(axis=1) & (v < v[i]).any(axis=1)).any()
    return out


def ceil_div(a, b):
    return -(-a // b)


# --- metrics ---------------------------------------------------------------------------------------

DESIGNS = [
    dict(act="int8", mu=3, luts=6, keys=16, reuse=1, pipeline=0, cores=1, bandwidth_gbps=50.0),
    dict(act="int8", mu=5, luts=4, keys=24, reuse=2, pipeline=1, cores=3, bandwidth_gbps=0.05),
    dict(act="int8", mu=1, luts=8, keys=8, reuse=4, pipeline=2, cores=2, bandwidth_gbps=1000.0),
    dict(act="fp16", acc="fp32", adder_stages=1, mu=2, luts=5, keys=12, reuse=1, pipeline=0, cores=5,
         bandwidth_gbps=20.0, sram_bits_per_um2=0.3),
    dict(act="int8", mu=4, luts=3, keys=40, reuse=3, pipeline=1, cores=1, bandwidth_gbps=50.0,
         clock_mhz=123.0),
    dict(act="int8", mu=2, luts=16, keys=64, reuse=1, pipeline=3, cores=1, bandwidth_gbps=0.2),
]


def smallest_max(d: dict, wl: Workload) -> tuple[int, int]:
    """The smallest ``max_n`` and ``max_m`` that run ``wl`` in one job per core."""
    cores = d.get("cores", 1)
    max_m = max(ceil_div(ceil_div(g.m, d["keys"]), cores) * d["keys"] for g in wl.gemvs)
    return max(wl.max_n, d["luts"] * d["mu"]), max(max_m, d["keys"])


def independent_metrics(d: dict, wl: Workload) -> dict:
    """The per-token metrics of design ``d`` from the scalar schedule and cost model."""
    cores = d.get("cores", 1)
    max_n, max_m = smallest_max(d, wl)
    cfg = CoreConfig(**{k: v for k, v in d.items() if k in CONFIG_COLUMNS}, max_n=max_n, max_m=max_m)
    rep = estimate(cfg)
    cycles = bits = 0
    for g in wl.gemvs:
        tiles_out = ceil_div(g.m, cfg.keys)
        busiest_m = ceil_div(tiles_out, cores) * cfg.keys
        cycles += g.count * job_cycles(cfg, g.n, busiest_m)
        bits += g.count * ceil_div(g.n, cfg.tile_n) * tiles_out * cfg.luts * cfg.keys * cfg.key_bits
    density = d.get("sram_bits_per_um2", 0.1)
    area = cores * rep.area_um2 / 1e6 + cores * rep.act_buffer_bits / density / 1e6
    return {"cfg": cfg, "report": rep, "cycles": cycles, "bits": bits, "area_mm2": area,
            "max_n": max_n, "max_m": max_m}


def test_evaluate_matches_schedule_and_scalar_cost_model():
    table = pd.DataFrame(DESIGNS)
    want = [independent_metrics(d, WORKLOAD) for d in DESIGNS]
    table["max_n"] = [w["max_n"] for w in want]
    table["max_m"] = [w["max_m"] for w in want]
    got = evaluate(table, WORKLOAD)
    assert len(got) == len(DESIGNS)
    bounds = set()
    for d, w, (_, r) in zip(DESIGNS, want, got.iterrows(), strict=True):
        rep = w["report"]
        assert r.cycles_per_token == w["cycles"]
        assert r.weight_bits_per_token == w["bits"]
        assert r.area_um2 == pytest.approx(rep.area_um2, rel=1e-5)
        assert r.fmax_mhz == pytest.approx(rep.fmax_mhz, rel=1e-3)
        fixed_clock = d.get("clock_mhz", 0.0)
        assert r.clock_mhz == (fixed_clock if fixed_clock > 0 else r.fmax_mhz)
        # the roofline, at the clock the design runs at
        compute_s = w["cycles"] / (r.clock_mhz * 1e6)
        memory_s = w["bits"] / (8e9 * d["bandwidth_gbps"])
        assert r.tokens_per_s == pytest.approx(1 / max(compute_s, memory_s), rel=1e-12)
        assert r.token_latency_us == pytest.approx(1e6 * max(compute_s, memory_s), rel=1e-12)
        assert r.bound == ("memory" if memory_s > compute_s else "compute")
        bounds.add(r.bound)
        assert r.area_mm2 == pytest.approx(w["area_mm2"], rel=1e-5)
        assert r.sram_mm2 == pytest.approx(d.get("cores", 1) * rep.act_buffer_bits
                                           / d.get("sram_bits_per_um2", 0.1) / 1e6, rel=1e-12)
        assert r.macs_per_cycle == d.get("cores", 1) * w["cfg"].tile_n * w["cfg"].tile_m
        assert r.bits_per_weight == pytest.approx(w["bits"] / WORKLOAD.total_macs, rel=1e-12)
        useful = WORKLOAD.total_macs / (w["cycles"] * r.macs_per_cycle)
        assert r.utilisation == pytest.approx(useful, rel=1e-12)
        if d.get("cores", 1) == 1:  # one core: the cost model's own cycle count of the workload
            gemvs = [(g.name, g.n, g.m, g.count) for g in WORKLOAD.gemvs]
            assert r.cycles_per_token == estimate(w["cfg"], gemvs=gemvs).cycles
    assert bounds == {"compute", "memory"}  # both sides of the roofline are exercised


def test_design_table_fills_smallest_max_n_and_max_m():
    spec = make_spec()
    params = pd.DataFrame([{k: v for k, v in d.items() if k in spec.param_names} for d in DESIGNS])
    table = design_table(spec, params)
    for d, (_, r) in zip(DESIGNS, table.iterrows(), strict=True):
        assert (r.max_n, r.max_m) == smallest_max(d, WORKLOAD)
        assert r.act == "int8" and r.bandwidth_gbps == 50.0 and r.clock_mhz == 0.0


@pytest.mark.parametrize("mu", [1, 2, 3, 4, 5, 6])
def test_bits_per_weight_is_the_key_encoding_for_aligned_shapes(mu):
    luts, keys = 8, 16
    wl = Workload.from_gemv(luts * mu * 50, keys * 200, count=7)
    got = evaluate(pd.DataFrame([dict(mu=mu, luts=luts, keys=keys, max_n=wl.max_n, max_m=wl.max_m)]), wl)
    assert got.bits_per_weight[0] == pytest.approx(math.ceil(math.log2(3**mu)) / mu, rel=1e-12)
    if mu == 5:
        assert got.bits_per_weight[0] == pytest.approx(1.6, rel=1e-12)


def test_evaluate_refuses_a_max_m_too_small_for_the_cores():
    table = pd.DataFrame([dict(mu=2, luts=4, keys=8, cores=2, max_n=256, max_m=64)])  # needs 104 for m=200
    line = r"^row 0: max_n=256 / max_m=64 cannot run workload 'tiny' in one job per core$"
    with pytest.raises(ValueError, match=line):
        evaluate(table, WORKLOAD)


# --- spec ------------------------------------------------------------------------------------------

def _set(doc, table, key, value):
    doc[table] = {**doc[table], key: value}
    return doc


def _drop(doc, table, key):
    doc[table] = {k: v for k, v in doc[table].items() if k != key}
    return doc


METRIC_LIST = re.escape(", ".join(metrics_mod.METRICS))


@pytest.mark.parametrize("change,line", [
    (lambda d: _set(d, "space", "speed", [1, 2]),
     r"\[space\] speed: unknown parameter \(allowed: arch, act, acc, adder_stages, mu, .*\)"),
    (lambda d: _set(d, "objectives", "joules", "minimize"),
     rf"\[objectives\] joules: unknown metric \(allowed: {METRIC_LIST}\)"),
    (lambda d: _set(d, "objectives", "area_mm2", "smallest"),
     r"\[objectives\] area_mm2: direction must be \"minimize\" or \"maximize\", got 'smallest'"),
    (lambda d: _set(d, "study", "sampler", "cmaes"),
     r"\[study\] sampler: unknown sampler 'cmaes' \(allowed: tpe, nsga2, gp, random, qmc, exhaustive\)"),
    (lambda d: _set(d, "space", "mu", []), r"\[space\] mu: an empty list of values \(give at least one\)"),
    (lambda d: _set(d, "space", "mu", [2, 9]),
     r"\[space\] mu: value 9 is not allowed \(an integer in \[1, 6\], the mu the unit-cost table prices\)"),
    (lambda d: _set(d, "space", "luts", {"low": 32, "high": 4}),
     r"\[space\] luts: inverted range, low=32 > high=4"),
    (lambda d: _set(d, "space", "luts", {"low": 0, "high": 8}),
     rf"\[space\] luts: range \[0, 8\] leaves the allowed \[1, {MAX_LUTS}\]"),
    (lambda d: _set(d, "space", "mu", {"low": 1, "high": 8}),
     r"\[space\] mu: range \[1, 8\] leaves the allowed \[1, 6\]"),
    (lambda d: _set(d, "space", "luts", {"low": 2.0, "high": 8}),
     r"\[space\] luts: an integer parameter needs integer low/high/step, got \{'low': 2\.0, 'high': 8\}"),
    (lambda d: _set(d, "space", "adder_stages", {"low": 0, "high": 4, "log": True}),
     (r"\[space\] adder_stages: a log range needs low > 0 and no step, got "
      r"\{'low': 0, 'high': 4, 'log': True\}")),
    (lambda d: _set(d, "space", "luts", {"low": 1, "high": 8, "size": 3}),
     r"\[space\] luts: unknown key\(s\) size in the range \(allowed: low, high, step, log\)"),
    (lambda d: _set(d, "space", "keys", {"low": 4, "high": 64, "step": 7}),
     r"\[space\] keys: high - low = 60 is not a multiple of step=7"),
    (lambda d: _set(d, "constraints", "area_mm2", {"min": 5, "max": 1}),
     r"\[constraints\] area_mm2: min=5 > max=1: nothing can meet it"),
    (lambda d: _set(d, "constraints", "area_mm2", {"below": 5}),
     r"\[constraints\] area_mm2: must be \{ max = X \}, \{ min = X \} or both, got \{'below': 5\}"),
    (lambda d: _drop(d, "study", "workload"),
     (r"\[study\] workload: missing \(the path of a workload file, e\.g\. "
     r"designs/workloads/bitnet_b158_2b4t\.toml\)")),
    (lambda d: _set(d, "fixed", "max_n", 100),
     r"\[fixed\] max_n: 100 is smaller than the workload's longest input \(a: n = 256\)"),
    (lambda d: _set(_set(d, "study", "sampler", "exhaustive"), "space", "bandwidth_gbps",
                    {"low": 10.0, "high": 100.0}),
     (r"\[study\] sampler: exhaustive needs every free parameter enumerable \(a list, an integer range or a "
     r"stepped float range\); bandwidth_gbps is not")),
    (lambda d: _set(d, "fixed", "luts", 4) and _set(d, "space", "luts", [4, 8]),
     r"parameter\(s\) luts both in \[fixed\] and \[space\]: give each once"),
    (lambda d: _set(d, "study", "trials", 0),
     r"\[study\] trials: must be an integer in \[1, 1000000\], got trials=0"),
    (lambda d: {**d, "extra": {}},
     r"unknown table\(s\) extra \(allowed: study, fixed, space, objectives, constraints\)"),
])
def test_spec_refuses_with_one_line(change, line):
    with pytest.raises(ConfigError) as exc:
        spec_from_dict(change(study_doc()))
    assert len(exc.value.problems) == 1, exc.value.problems
    assert re.fullmatch(f"study: {line}", exc.value.problems[0]), exc.value.problems[0]


def _no_power_table():
    from costmodel import UnitCosts, load_unit_costs

    c = load_unit_costs()
    return UnitCosts(liberty=c.liberty, flow_version=c.flow_version, nand2_area_um2=c.nand2_area_um2,
                     samples=tuple({k: v for k, v in s.items() if k != "power"} for s in c.samples))


def test_energy_metrics_are_refused_in_one_line_when_the_table_has_no_power_data(monkeypatch):
    table = _no_power_table()
    monkeypatch.setattr(metrics_mod, "load_unit_costs", lambda: table)
    doc = _set(_set(study_doc(), "objectives", "energy_uj_per_token", "minimize"),
               "constraints", "power_mw", {"max": 1.0})
    with pytest.raises(ConfigError) as exc:
        spec_from_dict(doc)
    reason = (r"energy is unavailable: the unit-cost table for osu018_stdcells\.lib \(flow \d+\) has power "
              r"figures for 0 calibration cores, at least 8 are needed; .*")
    assert re.fullmatch(rf"study: \[objectives\] energy_uj_per_token: {reason}", exc.value.problems[0])
    assert re.fullmatch(rf"study: \[constraints\] power_mw: {reason}", exc.value.problems[1])


def test_energy_metrics_add_dynamic_energy_per_cycle_and_leakage_over_the_token():
    from costmodel import load_unit_costs
    from costmodel.energy import EnergyUnavailable, energy_fit

    try:
        energy_fit(load_unit_costs())
    except EnergyUnavailable:
        pytest.skip("the committed unit-cost table has no power data")
    wl = WORKLOAD
    designs = pd.DataFrame([{"act": "int8", "mu": 2, "luts": 4, "keys": 8, "max_n": 4096, "max_m": 8192,
                             "cores": cores, "bandwidth_gbps": 1e4} for cores in (1, 2)])
    out = evaluate(designs, wl)
    row = out.iloc[0]
    dyn = row.energy_pj_per_cycle - row.leakage_mw * row.critical_path_ns
    time_s = 1 / row.tokens_per_s
    expected_pj = dyn * row.cycles_per_token + row.leakage_mw * time_s * 1e9
    assert row.energy_uj_per_token == pytest.approx(expected_pj / 1e6)
    assert row.energy_pj_per_mac == pytest.approx(expected_pj / wl.total_macs)
    assert row.power_mw == pytest.approx(expected_pj * 1e-9 / time_s)
    two = out.iloc[1]  # two cores: half the cycles each, twice the cores
    assert two.energy_uj_per_token == pytest.approx(row.energy_uj_per_token, rel=0.2)


def test_spec_refuses_an_exhaustive_space_too_large():
    doc = study_doc(sampler="exhaustive", fixed={"luts": 4, "keys": 8},
                    space={"mu": [1, 2], "max_n": {"low": 256, "high": 1 << 24}})
    size = 2 * ((1 << 24) - 256 + 1)
    assert size > MAX_EXHAUSTIVE
    with pytest.raises(ConfigError) as exc:
        spec_from_dict(doc)
    assert list(exc.value.problems) == [(f"study: [study] sampler: the space has {size:,} designs, more than "
                                         f"the exhaustive sweep's limit of {MAX_EXHAUSTIVE:,}")]


def test_study_file_problems_name_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    line = rf"^study file '{re.escape(str(missing))}': No such file or directory$"
    with pytest.raises(ConfigError, match=line):
        load_study(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[study\nname = 1\n")
    with pytest.raises(ConfigError) as exc:
        load_study(bad)
    assert len(exc.value.problems) == 1
    assert exc.value.problems[0].startswith(f"study file '{bad}' is not valid TOML: ")
    # a workload path that does not exist: one line, relative to the study file
    path = write_study(tmp_path, study_doc())
    path.write_text(path.read_text().replace('"tiny.toml"', '"gone.toml"'))
    with pytest.raises(ConfigError) as exc:
        load_study(path)
    assert list(exc.value.problems) == [(f"study file '{path}': [study] workload: workload file "
                                  f"'{tmp_path / 'gone.toml'}': No such file or directory")]


def test_spec_round_trips_through_to_dict(tmp_path):
    specs = [load_study(REPO / "designs" / "studies" / "bitnet2b_int8.toml"),
             load_study(write_study(tmp_path, study_doc(
                 fixed={"act": "int8", "clock_mhz": 150},
                 space={**SPACE, "bandwidth_gbps": {"low": 10, "high": 100.0},
                        "sram_bits_per_um2": {"low": 0.05, "high": 0.5, "log": True}},
                 constraints={"area_mm2": {"max": 9}, "tokens_per_s": {"min": 10, "max": 1e9}})))]
    assert [c.name for c in specs[1].constraints] == ["area_mm2", "tokens_per_s", "clock"]
    for spec in specs:
        back = spec_from_dict(spec.to_dict())
        assert back.search_key() == spec.search_key()
        assert back == spec
        assert back.fixed == spec.fixed and back.space == spec.space and back.constraints == spec.constraints


# --- pareto ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("n,directions,seed", [
    (3000, ("minimize", "maximize"), 1),
    (2500, ("maximize", "minimize", "minimize"), 2),
    (300, ("minimize",), 3),
])
def test_pareto_mask_equals_brute_force(n, directions, seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 40, size=(n, len(directions))).astype(float)  # many ties and duplicates
    values[n // 2:n // 2 + 50] = values[:50]
    assert np.array_equal(pareto_mask(values, directions), brute_pareto(values, directions))


def test_pareto_mask_with_a_front_larger_than_a_chunk():
    rng = np.random.default_rng(4)
    x = rng.permutation(4000).astype(float)
    values = np.column_stack([x, x + rng.integers(0, 2, 4000)])  # maximise the second: most are on the front
    values = np.concatenate([values, values[:100]])  # and some exact duplicates
    mask = pareto_mask(values, ("minimize", "maximize"))
    assert mask.sum() > 2048
    assert np.array_equal(mask, brute_pareto(values, ("minimize", "maximize")))


def test_pareto_mask_keeps_equal_points_across_chunks():
    rng = np.random.default_rng(5)
    best = np.array([[0.0, 10.0]])  # the single best point, 2500 times: more copies than one chunk holds
    others = np.column_stack([rng.uniform(1, 2, 1000), rng.uniform(0, 9, 1000)])
    values = np.concatenate([np.repeat(best, 2500, axis=0), others])
    mask = pareto_mask(values, ("minimize", "maximize"))
    assert mask[:2500].all() and not mask[2500:].any()
    assert np.array_equal(pareto_mask(values[::-1], ("minimize", "maximize")), mask[::-1])


def test_hypervolume_2d_of_a_staircase():
    pts = [(1, 3), (2, 2), (3, 1), (3, 3), (5, 0)]  # (3, 3) is dominated, (5, 0) is past the reference
    assert hypervolume_2d(pts, ("minimize", "minimize"), (4, 4)) == pytest.approx(6.0)
    # area down, tokens/s up: reference (3 mm^2, 0 tokens/s)
    assert hypervolume_2d([(1, 10), (2, 20)], ("minimize", "maximize"), (3, 0)) == pytest.approx(30.0)
    assert hypervolume_2d([(5, 5)], ("minimize", "minimize"), (4, 4)) == 0.0


# --- sweep -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def priced_rows():
    """A list that receives a copy of every table of designs the cost model prices in the block."""
    seen = []
    real = points_mod.evaluate

    def spy(rows, workload, **kw):
        seen.append(rows.copy())
        return real(rows, workload, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(points_mod, "evaluate", spy)
        yield seen


SWEEP_SPACE = {"mu": [1, 2, 3, 4, 5], "luts": {"low": 1, "high": 16},
               "keys": {"low": 4, "high": 64, "step": 4}, "pipeline": [0, 1, 2, 3], "cores": [1, 2]}


@pytest.fixture(scope="module")
def swept():
    spec = make_spec(sampler="exhaustive", space=SWEEP_SPACE, constraints={"area_mm2": {"max": 0.5}})
    with priced_rows() as seen:
        result = sweep(spec)
    return spec, result, pd.concat(seen, ignore_index=True)


def test_sweep_counts_and_invalid_points(swept):
    spec, result, priced = swept
    assert result.total == spec.space_size() == 5 * 16 * 16 * 4 * 2
    # pipeline > 1 + ceil(log2(luts)): (luts 1, pipeline 2 or 3) and (luts 2, pipeline 3), for every mu,
    # keys and cores
    invalid = 3 * 5 * 16 * 2
    assert result.valid == len(result.points) == result.total - invalid
    assert len(priced) == result.valid
    depth = np.ceil(np.log2(priced["luts"].to_numpy(float)))
    assert (priced["pipeline"] <= 1 + depth).all()  # invalid points were never priced
    assert result.feasible == int(result.points["feasible"].sum())
    assert 0 < result.feasible < result.valid
    assert result.cut_by == {"area_mm2": int((result.points["constraint_area_mm2"] > 0).sum())}
    assert (result.points["feasible"] == (result.points["area_mm2"] <= 0.5)).all()


def test_sweep_rows_equal_per_point_scoring(swept):
    spec, result, _ = swept
    rng = np.random.default_rng(0)
    cols = ["area_mm2", "tokens_per_s", "constraint_area_mm2"]
    for i in rng.choice(len(result.points), 25, replace=False):
        row = result.points.iloc[i]
        params = pd.DataFrame([{p: row[p].item() if hasattr(row[p], "item") else row[p]
                                for p in spec.param_names}])
        one = score(spec, design_table(spec, params))
        assert one.valid.tolist() == [True]
        for c in cols:
            assert one.metrics[c][0] == row[c], c
        assert bool(one.feasible[0]) == bool(row["feasible"])


def test_sweep_front_is_the_brute_force_pareto_set(swept):
    spec, result, _ = swept
    pts = result.points
    ok = pts[pts["feasible"]].reset_index(drop=True)
    brute = brute_pareto(ok[["area_mm2", "tokens_per_s"]].to_numpy(), spec.directions)
    want = {tuple(r) for r in ok.loc[brute, list(spec.param_names)].itertuples(index=False)}
    got = {tuple(r) for r in result.front[[f"param_{p}" for p in spec.param_names]].itertuples(index=False)}
    assert got == want and len(result.front) == len(want) > 1
    assert (pts["pareto"] == pts.index.isin(pts[pts["feasible"]].index[brute])).all()
    # the front's metric columns are those of its points
    for _, r in result.front.iterrows():
        assert r["mu"] == r["param_mu"] and r["luts"] == r["param_luts"] and r["cores"] == r["param_cores"]


# --- search and API --------------------------------------------------------------------------------

TRIALS = 30


def finished(study):
    return [t for t in study.get_trials(deepcopy=False) if t.state.name in ("COMPLETE", "PRUNED")]


def load(url, name="t"):
    return optuna.load_study(study_name=name, storage=url)


@pytest.fixture(scope="module")
def tpe_study(tmp_path_factory):
    """A TPE study of :data:`TRIALS` trials in SQLite, with every call to the cost model recorded."""
    folder = tmp_path_factory.mktemp("tpe")
    url = f"sqlite:///{folder}/s.db"
    spec = make_spec(trials=TRIALS)
    with priced_rows() as priced:
        res = explore.run(spec, storage=url, out=folder / "out", progress=False, plot=False)
    return {"spec": spec, "url": url, "res": res, "priced": priced, "folder": folder}


def test_run_spends_the_exact_slot_budget(tpe_study):
    res, study = tpe_study["res"], load(tpe_study["url"])
    assert res.ran_here == TRIALS
    assert res.counts == {"COMPLETE": res.counts["COMPLETE"], "PRUNED": TRIALS - res.counts["COMPLETE"],
                          "RUNNING": 0, "WAITING": 0, "FAIL": 0, "budget": TRIALS}
    done = finished(study)
    assert len(done) == len(study.get_trials()) == TRIALS
    assert sorted(t.user_attrs["ternlut_slot"] for t in done) == list(range(TRIALS))
    assert len(res.frame) == TRIALS and sorted(res.frame["slot"]) == list(range(TRIALS))


def test_invalid_designs_are_pruned_and_never_priced(tpe_study):
    res, study = tpe_study["res"], load(tpe_study["url"])
    pruned = [t for t in study.get_trials() if t.state.name == "PRUNED"]
    assert pruned, "the space has invalid corners; the study should have drawn some"
    for t in pruned:
        assert "metrics" not in t.user_attrs
        depth = math.ceil(math.log2(t.params["luts"]))
        assert t.params["pipeline"] > 1 + depth
        assert t.user_attrs["problems"] == [
            (f"`pipeline` must be in [0, 1 + ceil(log2(luts)) = {1 + depth}] register stages for "
            f"luts={t.params['luts']}, got pipeline={t.params['pipeline']}")]
    # precheck prices a sample of the space first (valid points only), then one row per complete trial
    assert sum(len(p) == 1 for p in tpe_study["priced"]) == res.counts["COMPLETE"]
    priced = pd.concat(tpe_study["priced"], ignore_index=True)
    assert check_columns(priced[[c for c in CONFIG_COLUMNS if c in priced]]).valid.all()
    frame = res.frame.set_index("number")
    assert frame.loc[[t.number for t in pruned], "area_mm2"].isna().all()


def test_constraints_are_optuna_constraints(tpe_study):
    res, study = tpe_study["res"], load(tpe_study["url"])
    frame = res.frame.set_index("number")
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    feasible = 0
    for t in complete:
        area = t.user_attrs["metrics"]["area_mm2"]
        assert t.constraints == {"area_mm2": pytest.approx((area - AREA_MAX) / AREA_MAX, rel=1e-12)}
        assert t.values == [area, t.user_attrs["metrics"]["tokens_per_s"]]
        assert bool(frame.loc[t.number, "feasible"]) == (area <= AREA_MAX)
        feasible += area <= AREA_MAX
    assert 0 < feasible < len(complete)
    assert not frame.loc[frame["state"] == "PRUNED", "feasible"].any()
    # the Pareto set of the frame: the brute-force front of its feasible trials
    ok = res.frame[res.frame["feasible"]]
    brute = brute_pareto(ok[["area_mm2", "tokens_per_s"]].to_numpy(), ("minimize", "maximize"))
    front = set(res.frame["number"][res.frame["pareto"]])
    assert set(ok["number"][brute]) == front == set(res.pareto["number"])
    assert list(res.pareto["area_mm2"]) == sorted(res.pareto["area_mm2"])


def test_resume_adds_nothing_then_exactly_the_new_budget(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    spec = make_spec(trials=12, sampler="random")
    assert explore.run(spec, storage=url, out=tmp_path / "out", progress=False, plot=False).ran_here == 12
    again = explore.run(spec, storage=url, out=tmp_path / "out", progress=False, plot=False)
    assert again.ran_here == 0 and len(again.frame) == 12
    more = explore.run(spec, storage=url, trials=22, out=tmp_path / "out", progress=False, plot=False)
    assert more.ran_here == 10
    assert more.counts["COMPLETE"] + more.counts["PRUNED"] == 22 and more.counts["budget"] == 22
    assert sorted(t.user_attrs["ternlut_slot"] for t in finished(load(url))) == list(range(22))
    # a smaller budget never shrinks the study
    fewer = explore.run(spec, storage=url, trials=5, out=tmp_path / "out", progress=False, plot=False)
    assert fewer.ran_here == 0 and fewer.counts["budget"] == 22


def test_same_seed_same_trials(tmp_path):
    runs = []
    for i, seed in enumerate((7, 7, 8)):
        url = f"sqlite:///{tmp_path}/s{i}.db"
        res = explore.run(make_spec(trials=12, seed=seed), storage=url, out=tmp_path / f"out{i}",
                          progress=False, plot=False)
        assert res.ran_here == 12
        runs.append([t.params for t in sorted(load(url).get_trials(), key=lambda t: t.number)])
    assert runs[0] == runs[1]  # past TPE's 10 random start-up trials too
    assert runs[2] != runs[0]


@pytest.mark.parametrize("sampler", ["random", "nsga2"])
def test_extending_a_study_draws_new_points(tmp_path, sampler):
    url = f"sqlite:///{tmp_path}/s.db"
    spec = make_spec(trials=5, sampler=sampler, seed=1)
    explore.run(spec, storage=url, out=tmp_path / "out", progress=False, plot=False)
    explore.run(spec, storage=url, trials=10, out=tmp_path / "out", progress=False, plot=False)
    trials = sorted(load(url).get_trials(), key=lambda t: t.number)
    first, then = [t.params for t in trials[:5]], [t.params for t in trials[5:]]
    assert len(then) == 5 and sum(p in first for p in then) <= 1  # 143,360 designs: a repeat is a fluke


def test_a_study_name_reused_for_another_space_refuses(tmp_path):
    url = f"sqlite:///{tmp_path}/s.db"
    explore.run(make_spec(trials=5, sampler="random"), storage=url, out=tmp_path / "out", progress=False,
                plot=False)
    other = make_spec(trials=9, sampler="random", space={**SPACE, "cores": {"low": 1, "high": 8}})
    with pytest.raises(StudyError) as exc:
        explore.run(other, storage=url, out=tmp_path / "out", progress=False, plot=False)
    assert list(exc.value.problems) == [("study 't' already exists in this storage with a different [space]; "
                                         "give the study another name, or another --storage")]
    study = load(url)
    assert len(study.get_trials()) == 5 and study.user_attrs["ternlut_trials"] == 5
    # another sampler, seed or budget is the same study
    assert explore.run(make_spec(trials=6, sampler="tpe", seed=3), storage=url, out=tmp_path / "out",
                       progress=False, plot=False).ran_here == 1


@pytest.mark.parametrize("default_storage", [False, True])
def test_precheck_refuses_an_impossible_constraint_before_the_storage(tmp_path, monkeypatch, default_storage):
    monkeypatch.chdir(tmp_path)
    spec = make_spec(constraints={"area_mm2": {"max": 0.001}})
    with pytest.raises(ConfigError) as exc:
        explore.run(spec, storage=None if default_storage else f"sqlite:///{tmp_path}/s.db",
                    out=None if default_storage else tmp_path / "out", progress=False, plot=False)
    assert len(exc.value.problems) == 1
    assert re.fullmatch(r"\[constraints\] area_mm2: no design meets area_mm2 <= 0\.001 \(best of [\d,]+ "
                        r"valid points: area_mm2 = [\d.e+-]+\); relax it or widen \[space\]",
                        exc.value.problems[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no storage file, no results folder


def test_precheck_refuses_a_space_without_valid_design():
    spec = make_spec(space={"luts": [1], "pipeline": [2], "mu": [2, 3]},
                     fixed={"act": "int8", "keys": 8})
    with pytest.raises(ConfigError) as exc:
        explore.precheck(spec)
    assert list(exc.value.problems) == [("no valid design among 2 points of the space, e.g.: `pipeline` must "
                                         "be in [0, 1 + ceil(log2(luts)) = 1] register stages for luts=1, "
                                         "got pipeline=2")]


@pytest.mark.parametrize("sampler,trials", [("nsga2", 8), ("random", 8), ("qmc", 8), ("gp", 12)])
def test_other_samplers_spend_the_budget(tmp_path, sampler, trials):
    url = f"sqlite:///{tmp_path}/s.db"
    space = {"mu": [2, 3, 4], "luts": {"low": 2, "high": 16}, "keys": {"low": 8, "high": 64, "step": 8},
             "bandwidth_gbps": {"low": 5.0, "high": 100.0}}
    spec = make_spec(trials=trials, sampler=sampler, space=space)
    res = explore.run(spec, storage=url, out=tmp_path / "out", progress=False, plot=False)
    assert res.ran_here == trials and res.counts["COMPLETE"] == trials
    study = load(url)
    assert sorted(t.user_attrs["ternlut_slot"] for t in finished(study)) == list(range(trials))
    assert all(5.0 <= t.params["bandwidth_gbps"] <= 100.0 for t in study.get_trials())


# --- results and export ----------------------------------------------------------------------------

def test_results_files(tpe_study):
    res = tpe_study["res"]
    out = tpe_study["folder"] / "out"
    assert res.paths == {"csv": out / "trials.csv", "parquet": out / "trials.parquet",
                         "pareto_csv": out / "pareto.csv"}
    csv = pd.read_csv(out / "trials.csv")
    parquet = pd.read_parquet(out / "trials.parquet")
    assert len(csv) == len(parquet) == TRIALS
    assert list(parquet["number"]) == list(csv["number"]) == list(range(TRIALS))
    assert np.allclose(parquet["area_mm2"], csv["area_mm2"], equal_nan=True)
    pareto = pd.read_csv(out / "pareto.csv")
    assert len(pareto) == int(res.frame["pareto"].sum()) > 0 and pareto["feasible"].all()
    assert not (out / "pareto.png").exists()


def test_pareto_plot_is_a_png(tpe_study, tmp_path):
    paths = write_results(tpe_study["res"].frame, tpe_study["spec"], tmp_path, plot=True)
    data = paths["png"].read_bytes()
    assert paths["png"] == tmp_path / "pareto.png"
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_export_design_is_the_trials_core(tpe_study, tmp_path):
    res, spec = tpe_study["res"], tpe_study["spec"]
    for _, row in res.frame[res.frame["state"] == "COMPLETE"].head(4).iterrows():
        params = pd.DataFrame([{p: row[f"param_{p}"] for p in spec.param_names}])
        point = design_table(spec, params).iloc[0]
        want = _config_of(point)
        path = export_design(row, spec, tmp_path / f"t{row['number']}.toml")
        assert load_design(path)["luts"] == want.luts
        assert resolve_design({}, design_file=path).config == want
        text = path.read_text()
        assert f"trial = {row['number']}" in text and f"cores = {int(row['cores'])}" in text


def test_pick_trial(tpe_study):
    res, spec = tpe_study["res"], tpe_study["spec"]
    frame = res.frame
    best = pick_trial(frame, spec, best="tokens_per_s")
    assert best["feasible"] and best["tokens_per_s"] == frame.loc[frame["feasible"], "tokens_per_s"].max()
    smallest = pick_trial(frame, spec, best="area_mm2")
    assert smallest["area_mm2"] == frame.loc[frame["feasible"], "area_mm2"].min()
    assert frame["tokens_per_s"].max() >= best["tokens_per_s"]
    pruned = int(frame.loc[frame["state"] == "PRUNED", "number"].iloc[0])
    with pytest.raises(ConfigError) as exc:
        pick_trial(frame, spec, number=pruned)
    assert len(exc.value.problems) == 1
    assert re.fullmatch(rf"--trial: trial {pruned} is PRUNED, not a complete design: `pipeline` must be in "
                        r"\[0, 1 \+ ceil\(log2\(luts\)\) = \d\] register stages for luts=\d+, "
                        r"got pipeline=\d", exc.value.problems[0])
    line = rf"^--trial: no trial 99 in study 't' \(trials 0\.\.{TRIALS - 1}\)$"
    with pytest.raises(ConfigError, match=line):
        pick_trial(frame, spec, number=99)
    with pytest.raises(ConfigError, match=r"^--best: unknown metric 'speed' \(allowed: area_mm2, "):
        pick_trial(frame, spec, best="speed")


def test_pareto_rows_lists_each_design_once_with_its_repeats():
    from dse.explore.results import pareto_rows

    spec = make_spec()
    frame = pd.DataFrame({
        "number": [0, 1, 2, 3, 4],
        "param_mu": [2, 2, 3, 2, 3], "param_luts": [4, 4, 2, 8, 2],
        "area_mm2": [1.0, 1.0, 0.5, 2.0, 0.5], "tokens_per_s": [10.0, 10.0, 5.0, 20.0, 5.0],
        "pareto": [True, True, True, True, True]})
    front = pareto_rows(frame, spec)
    assert list(front["number"]) == [2, 0, 3]  # by area; a repeated design shown as its first trial
    assert list(front["repeats"]) == [2, 2, 1]


STUDY_FILES = sorted((Path(__file__).parents[2] / "designs" / "studies").glob("*.toml"))


@pytest.mark.parametrize("path", STUDY_FILES, ids=lambda p: p.stem)
def test_shipped_study_files_load_and_can_find_designs(path):
    spec = load_study(path)
    assert spec.workload.name.startswith("bitnet_b158_2b4t")
    explore.precheck(spec, points=2000)  # some valid design meets the constraints


def test_shipped_study_names_are_unique():
    names = [load_study(p).name for p in STUDY_FILES]
    assert len(names) == len(set(names)) == len(STUDY_FILES) >= 5


def test_a_space_over_reduction_modes_has_no_invalid_mode_points():
    """``fp_reduce``, ``fp_width`` and ``fp_round`` in one space: a point where a parameter does not
    apply takes its "not applicable" value (ieee: width 0, rne; integer activations: ieee), so the
    exhaustive sweep prices every point and the block-FP ones differ by width."""
    space = {"act": ["int8", "fp16"], "fp_reduce": ["ieee", "blockfp", "fused"], "fp_width": [12, 16],
             "fp_round": ["rne", "rtz"], "mu": [2], "luts": [4], "keys": [8], "pipeline": [0, 1],
             "fp_sticky": [False, True]}
    spec = make_spec(fixed={"acc": ""}, space=space, constraints={})
    params = pd.DataFrame([dict(zip(space, values, strict=True)) for values in
                           itertools.product(*space.values())])
    table = design_table(spec, params)
    ieee = table["fp_reduce"] == "ieee"
    assert (table.loc[table["act"] == "int8", "fp_reduce"] == "ieee").all()
    assert (table.loc[ieee, "fp_width"] == 0).all() and (table.loc[ieee, "fp_round"] == "rne").all()
    assert (table.loc[table["fp_reduce"] == "fused", "pipeline"] == 0).all()
    assert not table.loc[table["fp_reduce"] != "fused", "fp_sticky"].any()
    assert set(table.loc[~ieee, "fp_width"]) == {12, 16}
    assert set(table.loc[~ieee, "fp_round"]) == {"rne", "rtz"}
    scored = score(spec, table)
    assert scored.valid.all(), scored.problems
    names = {tuple(_config_of(r).to_dict().items()) for _, r in table.iterrows()}
    # int8 and fp16 ieee at 2 pipeline depths; block FP (x 2 depths) and fused at 2 widths x 2 roundings
    assert len(names) == 2 * 2 + 4 * 2 + 4 * 2  # (fused with and without a sticky bit)
    result = sweep(spec)
    assert result.valid == result.total == len(params)
