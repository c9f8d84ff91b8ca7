"""The explorer's adapter parameters (``adapter``, ``adapter_rank``, ``adapter_lanes``, ...): study-file
checks (one line per problem), per-token metrics with an adapter against the adapter-overhead study's
figures computed independently from the scalar cost models, invalid adapters pruned with the
adapter's own message, the export, the example study, and studies without adapter parameters
unchanged."""

import math
import re
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

import dse.explore as explore
from costmodel import estimate, load_unit_costs
from costmodel.adapter import estimate_adapter, smallest_hiding_lanes
from dse.explore.metrics import ADAPTER_METRICS, DEFAULT_SRAM_BITS_PER_UM2, ENERGY_METRICS, evaluate
from dse.explore.points import design_table, score
from dse.explore.results import export_design, trials_frame
from dse.explore.search import run_trial
from dse.explore.spec import load_study, spec_from_dict
from hwgen.description.adapter import AdapterConfig, AdapterJob, adapter_problems, load_adapter
from hwgen.description.config import ConfigError, CoreConfig, load_design
from hwgen.description.schedule import tiles
from hwgen.description.workload import PROJECTIONS, load_workload

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "designs" / "studies" / "bitnet2b_fp16_lora16.toml"
BITNET = load_workload(REPO / "designs" / "workloads" / "bitnet_b158_2b4t.toml")
FP16_CORE = load_design(REPO / "designs" / "cores" / "fp16_core64.toml")
# A small layer with every projection tagged: spaces stay cheap to price.
TINY_GEMVS = [("q", 128, 128), ("k", 128, 32), ("v", 128, 32), ("o", 128, 128), ("gate", 128, 256),
              ("up", 128, 256), ("down", 256, 128)]
TINY = {"name": "tiny_layer", "source": "test",
        "gemv": [{"name": f"{p}_proj", "n": n, "m": m, "count": 2, "projection": p}
                 for p, n, m in TINY_GEMVS]}
FIXED = {"act": "fp16", "acc": "fp32", "keys": 16, "adapter": "lora", "adapter_rank": 4}
SPACE = {"mu": [2], "luts": [4, 8], "adapter_lanes": [0, 8, 5]}
OBJECTIVES = {"area_mm2": "minimize", "tokens_per_s": "maximize"}


def study_doc(*, fixed=None, space=None, objectives=None, constraints=None, workload=None):
    wl = TINY if workload is None else workload
    return {"study": {"name": "ad", "workload": wl, "trials": 5, "seed": 1},
            "fixed": FIXED if fixed is None else fixed, "space": SPACE if space is None else space,
            "objectives": OBJECTIVES if objectives is None else objectives,
            "constraints": {} if constraints is None else constraints}


# --- study files -----------------------------------------------------------------------------------

def test_spec_reads_the_adapter_keys_fills_their_defaults_and_round_trips():
    spec = spec_from_dict(study_doc(
        fixed={"act": "fp16", "acc": "fp32", "keys": 16, "adapter_rank": 4, "adapter_fmt": "fp16"},
        space={"mu": [2], "luts": [4, 8], "adapter_lanes": {"low": 0, "high": 64, "step": 8},
               "adapter_chunk": [0, 4, 8], "adapter": ["none", "lora", "vera"],
               "adapter_storage": ["stream", "onchip"]}))
    assert spec.adapters == ("none", "lora", "vera") and spec.may_adapt
    assert {k: spec.fixed[k] for k in ("adapter_rank", "adapter_fmt", "adapter_hold", "adapter_share")} == {
        "adapter_rank": 4, "adapter_fmt": "fp16", "adapter_hold": 0, "adapter_share": 3}
    lanes = next(p for p in spec.space if p.name == "adapter_lanes")
    assert (lanes.kind, lanes.low, lanes.high, lanes.step) == ("int", 0, 64, 8)
    back = spec_from_dict(spec.to_dict())
    assert back == spec and back.search_key() == spec.search_key()
    assert back.workload.gemvs[0].projection == "q"  # the stored workload keeps what the adapter needs


NO_PROJECTIONS = {**TINY, "gemv": [{k: v for k, v in g.items() if k != "projection"} for g in TINY["gemv"]]}
ONE_CORE = {"mu": [2], "luts": [4]}


@pytest.mark.parametrize("change, message", [
    (dict(fixed={**FIXED, "adapter": "dora"}),
     r"\[fixed\] adapter: value 'dora' is not allowed \(one of none, lora, vera, ternary-a\)"),
    (dict(space={**ONE_CORE, "adapter_lanes": {"low": 0, "high": 5000}}),
     r"\[space\] adapter_lanes: range \[0, 5000\] leaves the allowed \[0, 4096\]"),
    (dict(space={**ONE_CORE, "adapter_share": [1, 5]}),
     r"\[space\] adapter_share: value 5 is not allowed \(an integer in \[1, 4\]\)"),
    (dict(space={**ONE_CORE, "adapter_fmt": ["fp8"]}),
     (r"\[space\] adapter_fmt: value 'fp8' is not allowed \(one of fp16, bf16, int8 or \"\" \(the core's "
      r"default\)\)")),
    (dict(space={**ONE_CORE, "adapter_storage": {"low": 0, "high": 1}}),
     r"\[space\] adapter_storage: a text parameter takes a list of values, not a range"),
    (dict(fixed={"act": "fp16", "keys": 16, "adapter_lanes": 8}, space=ONE_CORE),
     (r"adapter_lanes: adapter parameters need `adapter` \(lora, vera, ternary-a or none\) in \[fixed\] or "
      r"\[space\]")),
    (dict(fixed={"act": "fp16", "keys": 16, "adapter": "lora"}),
     (r"adapter_rank: required with an adapter, an integer in \[1, 256\] \(the workload 'tiny_layer' names "
      r"no \[adapter\] rank for adapter_rank = 0\)")),
    (dict(workload=NO_PROJECTIONS),
     (r"adapter: the workload 'tiny_layer' tags no GEMV with a `projection` it adapts \(q, k, v, o, gate, "
      r"up, down\): nothing to adapt \(set `projection` on its \[\[gemv\]\]\)")),
    (dict(objectives={"energy_uj_per_token": "minimize"}),
     (r"\[objectives\] energy_uj_per_token: energy is unavailable with an adapter: the adapter unit has no "
      r"energy model yet")),
    (dict(fixed={"act": "fp16", "keys": 16}, space=ONE_CORE, constraints={"adapter_area_mm2": {"max": 1.0}}),
     r"\[constraints\] adapter_area_mm2: an adapter metric needs `adapter` in \[fixed\] or \[space\]"),
])
def test_bad_adapter_keys_are_one_line_each(change, message):
    with pytest.raises(ConfigError) as exc:
        spec_from_dict(study_doc(**change))
    assert len(exc.value.problems) == 1, exc.value.problems
    assert exc.value.problems[0].startswith("study: ")
    assert re.search(message, exc.value.problems[0]), exc.value.problems[0]


def test_energy_stays_available_when_every_design_is_without_adapter():
    spec = spec_from_dict(study_doc(fixed={"act": "fp16", "keys": 16, "adapter": "none"}, space=ONE_CORE,
                                    objectives={"energy_uj_per_token": "minimize",
                                                "adapter_area_mm2": "minimize"}))
    assert not spec.may_adapt
    m = score(spec, design_table(spec, pd.DataFrame({"mu": [2], "luts": [4]}))).metrics
    assert np.isfinite(m["energy_uj_per_token"]).all() and (m["adapter_area_mm2"] == 0).all()


# --- metrics against the adapter-overhead study's figures -------------------------------------------

def _study_figures(core: CoreConfig, variant: str | None, rank: int, **options) -> dict:
    """One design's figures as the adapter-overhead study combines them (dse/studies/adapter_overhead.py),
    computed here from the scalar cost models: core report, estimate_adapter, smallest_hiding_lanes."""
    costs = load_unit_costs()
    report = estimate(core, gemvs=[(g.name, g.n, g.m, g.count) for g in BITNET.gemvs], costs=costs)
    cost = None
    if variant is not None:
        groups = [(count, [AdapterJob(*j) for j in jobs])
                  for count, jobs in BITNET.adapter_groups(rank, PROJECTIONS)]
        unit = AdapterConfig(core=core, variant=variant, max_rank=rank, **options)
        if not options.get("lanes"):
            unit = smallest_hiding_lanes(unit, groups)
        cost = estimate_adapter(unit, groups, costs=costs)
    cells = report.area_um2 + (cost.area_um2 if cost else 0.0)
    sram = report.act_buffer_bits + (cost.sram_bits if cost else 0)
    path_ns = max(report.critical_path_ns, cost.critical_path_ns if cost else 0.0)
    cycles = report.cycles + (cost.added_cycles if cost else 0)  # the core alone, plus what the adapter adds
    steps = sum(g.count * tiles(core, g.n, g.m)[0] * tiles(core, g.n, g.m)[1] for g in BITNET.gemvs)
    bits = steps * core.luts * core.keys * core.key_bits + (cost.traffic_bits if cost else 0)
    seconds = max(cycles * path_ns * 1e-9, bits / (8e9 * 50.0))
    density = DEFAULT_SRAM_BITS_PER_UM2
    return {"cells_mm2": cells / 1e6, "sram_mm2": sram / density / 1e6,
            "area_mm2": cells / 1e6 + sram / density / 1e6, "clock_mhz": 1000.0 / path_ns,
            "cycles_per_token": cycles, "weight_bits_per_token": bits, "tokens_per_s": 1.0 / seconds,
            "adapter_area_mm2": (cost.area_um2 + cost.sram_bits / density) / 1e6 if cost else 0.0,
            "adapter_traffic_bits_per_token": cost.traffic_bits if cost else 0,
            "adapter_added_cycles": cost.added_cycles if cost else 0,
            "adapter_hides": int(cost.hides) if cost else 1,
            "adapter_lanes": cost.adapter["lanes"] if cost else 0,
            "adapter_chunk": cost.adapter["chunk"] if cost else 0}


# A pipelined fp16 core (fp32 accumulation) whose adapter lanes are slower than the core.
FAST_CORE = dict(arch="lut", act="fp16", acc="fp32", mu=2, luts=4, keys=16, adder_stages=3, pipeline=3,
                 reuse=4, max_n=8192, max_m=8192)
ROWS = [  # (core, adapter columns of the design table, the study's (variant, rank, AdapterConfig options))
    (FP16_CORE, {}, (None, 0, {})),
    (FP16_CORE, {"adapter": "lora", "adapter_rank": 16}, ("lora", 16, {})),
    (FP16_CORE, {"adapter": "lora", "adapter_rank": 16, "adapter_lanes": 66, "adapter_chunk": 22,
                 "adapter_hold": 40}, ("lora", 16, {"lanes": 66, "chunk": 22, "hold": 40})),
    (FP16_CORE, {"adapter": "lora", "adapter_rank": 16, "adapter_lanes": 132, "adapter_storage": "onchip"},
     ("lora", 16, {"lanes": 132, "storage": "onchip"})),
    (FAST_CORE, {"adapter": "lora", "adapter_rank": 8, "adapter_lanes": 64, "adapter_chunk": 8},
     ("lora", 8, {"lanes": 64, "chunk": 8})),
]


def test_metrics_with_and_without_adapter_equal_the_studys_figures():
    table = pd.DataFrame([{**core, "cores": 1, "bandwidth_gbps": 50.0, **ad} for core, ad, _ in ROWS])
    table["adapter"] = table["adapter"].fillna("none")
    out = evaluate(table, BITNET)
    for i, (core, _, (variant, rank, options)) in enumerate(ROWS):
        want = _study_figures(CoreConfig(**core), variant, rank, **options)
        for name, value in want.items():  # the scalar reports round paths to 1 ps and areas to 0.1 um^2
            got = out[name].iloc[i]
            assert got == (value if isinstance(value, int) else pytest.approx(value, rel=1e-4)), (i, name)
        energy = out.loc[i, list(ENERGY_METRICS)].to_numpy(float)
        assert np.isnan(energy).all() if variant else np.isfinite(energy).all()
    core_mhz = 1000.0 / estimate(CoreConfig(**FAST_CORE)).critical_path_ns
    assert out["clock_mhz"].iloc[4] == out["fmax_mhz"].iloc[4] < core_mhz  # the adapter lanes' path
    assert out["adapter_hides"].iloc[1] == 1 and out["adapter_added_cycles"].iloc[1] > 0
    # the row without adapter is exactly what the table without adapter columns gives
    plain = evaluate(table.iloc[[0]].drop(columns=[c for c in table if c.startswith("adapter")]), BITNET)
    assert not set(ADAPTER_METRICS) & set(plain)
    pd.testing.assert_frame_equal(out.iloc[[0]][list(plain.columns)].reset_index(drop=True), plain)


def test_multi_core_adapters_run_the_busiest_share_and_read_a_once():
    fixed = {**FIXED, "mu": 2, "adapter_lanes": 8, "adapter_chunk": 8}
    spec = spec_from_dict(study_doc(fixed=fixed, space={"luts": [4], "cores": [1, 2]}))
    m = score(spec, design_table(spec, pd.DataFrame({"luts": [4, 4], "cores": [1, 2]}))).metrics
    one, two = m.iloc[0], m.iloc[1]
    assert two["adapter_traffic_bits_per_token"] == one["adapter_traffic_bits_per_token"]  # A once, B split
    assert two["adapter_area_mm2"] > one["adapter_area_mm2"]  # a unit per core
    assert two["cycles_per_token"] < one["cycles_per_token"]


# --- validity, trials and export ---------------------------------------------------------------------

def test_invalid_adapter_rows_are_pruned_with_the_adapters_message():
    spec = spec_from_dict(study_doc(space={**SPACE, "adapter_fmt": ["", "int8"]}))
    params = pd.DataFrame({"mu": [2] * 4, "luts": [4, 4, 8, 4], "adapter_lanes": [0, 5, 0, 8],
                           "adapter_fmt": ["", "", "", "int8"]})
    table = design_table(spec, params)
    scored = score(spec, table)
    assert scored.valid.tolist() == [True, False, True, False]
    core = CoreConfig(arch="lut", act="fp16", acc="fp32", mu=2, luts=4, keys=16, max_n=256, max_m=256)
    lanes = adapter_problems(core, {"variant": "lora", "max_rank": 4, "lanes": 5})
    assert scored.problems[1] == [f"adapter_lanes: {line}" for line in lanes] == [
        "adapter_lanes: `lanes` must be a multiple of chunk=8 (trees of chunk lanes), got lanes=5"]
    fmt = adapter_problems(core, {"variant": "lora", "max_rank": 4, "fmt": "int8"})
    assert scored.problems[3] == [f"adapter_fmt: {line}" for line in fmt]
    with pytest.raises(ConfigError, match=r"^row 0: adapter_lanes: `lanes` must be a multiple of chunk=8"):
        evaluate(table.iloc[[1]], spec.workload)

    study = optuna.create_study(directions=spec.directions)
    study.enqueue_trial({"mu": 2, "luts": 4, "adapter_lanes": 5, "adapter_fmt": ""})
    run_trial(study, spec, study.ask())
    trial = study.get_trials()[0]
    assert trial.state.name == "PRUNED" and trial.user_attrs["problems"] == scored.problems[1]


def test_a_trial_with_an_adapter_exports_it_as_built(tmp_path):
    spec = spec_from_dict(study_doc())
    study = optuna.create_study(directions=spec.directions)
    study.enqueue_trial({"mu": 2, "luts": 4, "adapter_lanes": 0})
    run_trial(study, spec, study.ask())
    row = trials_frame(study, spec).iloc[0]
    assert row["state"] == "COMPLETE" and row["param_adapter_lanes"] == 0 and row["adapter_lanes"] > 0
    path = export_design(row, spec, tmp_path / "design.toml")
    adapter = AdapterConfig(core=CoreConfig(**load_design(path)), **load_adapter(path))
    built = {"variant": "lora", "max_rank": 4, "lanes": row["adapter_lanes"], "chunk": row["adapter_chunk"],
             "hold": row["adapter_hold"], "fmt": "fp16"}
    assert adapter.params() == {**adapter.params(), **built}


def test_not_applicable_adapter_values_are_normalised():
    variants = ["none", "lora", "ternary-a"]
    spec = spec_from_dict(study_doc(fixed={k: v for k, v in FIXED.items() if k != "adapter"},
                                    space={**ONE_CORE, "adapter": variants, "adapter_chunk": [0, 4],
                                           "adapter_lanes": [0, 8]}))
    params = pd.DataFrame({"mu": [2] * 3, "luts": [4] * 3, "adapter": variants, "adapter_chunk": [4] * 3,
                           "adapter_lanes": [8] * 3})
    table = design_table(spec, params)
    assert table["adapter_chunk"].tolist() == [0, 4, 0] and table["adapter_lanes"].tolist() == [0, 8, 8]
    assert table["adapter_rank"].tolist() == [0, 4, 4]
    scored = score(spec, table)
    area = scored.metrics["adapter_area_mm2"]
    assert scored.valid.all() and area.iloc[0] == 0 and (area.iloc[1:] > 0).all()


# --- the example study and studies without adapter ---------------------------------------------------

def test_the_example_study_loads_prices_and_passes_the_precheck():
    spec = load_study(STUDY)
    assert spec.name == "bitnet2b-fp16-lora16" and spec.workload.name == "bitnet_b158_2b4t"
    fixed = spec.fixed
    assert (fixed["adapter"], fixed["adapter_rank"], fixed["act"], fixed["keys"]) == ("lora", 16, "fp16", 64)
    assert {"adapter_lanes", "adapter_chunk"} <= set(spec.param_names) and len(spec.param_names) >= 4
    assert spec.objectives == (("area_mm2", "minimize"), ("tokens_per_s", "maximize"))
    assert spec.trials <= 100 and spec.space_size() <= 200
    params = pd.DataFrame([{"mu": 2, "luts": 32, "reuse": 1, "adapter_lanes": 0, "adapter_chunk": 0}])
    m = score(spec, design_table(spec, params)).metrics
    assert m["adapter_hides"].iloc[0] == 1 and math.isfinite(m["tokens_per_s"].iloc[0])
    assert m["adapter_lanes"].iloc[0] > 0 and m["adapter_area_mm2"].iloc[0] > 0
    explore.precheck(spec)  # scores all of its space: adapters priced per design (cached)


def test_a_study_without_adapter_keys_prices_as_before():
    spec = load_study(REPO / "designs" / "studies" / "bitnet2b_fp16.toml")
    assert spec.adapters == () and not any(k.startswith("adapter") for k in spec.fixed)
    key = spec.search_key()["study"]["workload"]
    assert "adapter" not in key and all("projection" not in g for g in key["gemv"])  # as stored before
    rng = np.random.default_rng(3)
    params = pd.DataFrame({"mu": rng.choice([1, 2, 3], 6), "luts": rng.choice([4, 8, 22], 6),
                           "keys": rng.choice([16, 64], 6), "reuse": [1] * 6, "pipeline": [0] * 6,
                           "adder_stages": [0] * 6, "cores": rng.choice([1, 2], 6)})
    table = design_table(spec, params)
    scored = score(spec, table)
    assert scored.valid.all()
    rows = table[scored.valid].reset_index(drop=True)
    want = evaluate(rows, spec.workload)
    assert not set(ADAPTER_METRICS) & set(scored.metrics)
    got = scored.metrics[[c for c in scored.metrics if not c.startswith("constraint_")]]
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    # the adapter path with no adapter placed changes no metric either
    off = evaluate(rows.assign(adapter="none"), spec.workload)
    pd.testing.assert_frame_equal(off[list(want.columns)], want, check_exact=True)
    assert (off["adapter_hides"] == 1).all() and (off["adapter_traffic_bits_per_token"] == 0).all()
