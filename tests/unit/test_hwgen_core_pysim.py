"""The whole core in Amaranth's simulator: bit-exact GEMVs, stalls, back-to-back jobs, cycles.

Every arch (LUT core, signflip and mac baselines). Small configurations only; the presets and
the emitted Verilog run in tests/integration. Every job list goes through the shared checker
(:func:`sim.check.run_scenario`: reference model, bit-for-bit outputs and ``last`` flags).
"""

import asyncio
import collections
import dataclasses
import re

import numpy as np
import pytest
import torch

from hwgen.description.config import CoreConfig
from hwgen.description.schedule import job_interval
from sim.check import SCENARIOS, Job, JobResult, Scenario, Traffic, run_scenario, scenario
from sim.pysim_bench import PysimBackend
from sim.reference import ReferenceModel
from sim.stimulus import extreme_activations, random_gemv

CONFIGS = [
    dict(mu=1, luts=1, keys=1, max_n=6, max_m=5),
    dict(mu=2, luts=3, keys=5, max_n=40, max_m=30, reuse=2),
    dict(mu=3, luts=2, keys=3, max_n=30, max_m=20, reuse=3, pipeline=2),
    dict(mu=4, luts=3, keys=2, max_n=50, max_m=9, pipeline=3, act="int4"),
    dict(mu=5, luts=1, keys=3, max_n=12, max_m=7, pipeline=1, act="int3"),
]
# Floating point at every adder depth 0..3: L = 1, reuse below and above the accumulate latency,
# a wider accumulator, fp8.
FP_CONFIGS = [
    dict(act="fp16", mu=2, luts=3, keys=2, max_n=30, max_m=8),
    dict(act="fp16", acc="fp32", adder_stages=1, mu=3, luts=2, keys=2, max_n=24, max_m=8, reuse=2,
         pipeline=2),
    dict(act="bf16", adder_stages=3, mu=2, luts=1, keys=3, max_n=10, max_m=9, reuse=2),
    dict(act="fp16", adder_stages=2, mu=1, luts=5, keys=2, max_n=15, max_m=6, reuse=3, pipeline=4),
    dict(act="fp8e4m3", acc="fp16", adder_stages=1, mu=2, luts=2, keys=2, max_n=12, max_m=4),
    dict(act="fp8e5m2", adder_stages=3, mu=3, luts=1, keys=1, max_n=6, max_m=2, pipeline=1),
]
# Block floating point: widths below, at and above the significand (fp16: 12 bits), truncating and
# RNE conversions, fp32 and same-format accumulators, pipelined accumulate adders, reuse, mu 1..4,
# the sign-flip arch, fp8.
BLOCKFP_CONFIGS = [
    dict(act="fp16", acc="fp32", fp_reduce="blockfp", mu=3, luts=2, keys=3, max_n=30, max_m=8, reuse=2),
    dict(act="fp16", fp_reduce="blockfp", fp_width=8, fp_round="rtz", adder_stages=2, mu=2, luts=3,
         keys=2, max_n=24, max_m=8, reuse=3, pipeline=2),
    dict(act="bf16", acc="fp32", fp_reduce="blockfp", fp_width=32, adder_stages=1, mu=1, luts=3, keys=2,
         max_n=12, max_m=5, pipeline=1),
    dict(act="fp8e4m3", acc="fp16", fp_reduce="blockfp", fp_width=6, mu=4, luts=1, keys=2, max_n=12,
         max_m=4),
    dict(arch="signflip", act="bf16", fp_reduce="blockfp", fp_width=12, luts=4, keys=2, max_n=16, max_m=4),
]
# Fused reduction: the default guard (fp16 into fp32), no guard bits with truncation and a
# pipelined fused adder below the accumulate latency (reuse 3 > 2), one term (L = 1) into fp16.
FUSED_CONFIGS = [
    dict(act="fp16", acc="fp32", fp_reduce="fused", mu=3, luts=3, keys=2, max_n=30, max_m=8, reuse=2),
    dict(act="bf16", fp_reduce="fused", fp_width=9, fp_round="rtz", adder_stages=2, mu=2, luts=2, keys=2,
         max_n=16, max_m=6, reuse=3),
    dict(act="fp8e5m2", acc="fp16", fp_reduce="fused", fp_width=20, adder_stages=1, mu=1, luts=1, keys=2,
         max_n=6, max_m=4),
    dict(act="fp16", fp_reduce="fused", fp_width=12, fp_sticky=True, mu=2, luts=4, keys=2, max_n=16, max_m=4),
]
# The multiplier baseline: integer widths 4..16 (32-bit products), L = 1 and odd L, reuse, the
# maximum pipeline; floating point with multipliers and adders at depth 0..3, reuse below the
# accumulate latency, a wider accumulator, fp8.
MAC_CONFIGS = [
    dict(arch="mac", act="int8", luts=3, keys=5, max_n=40, max_m=30, reuse=2),
    dict(arch="mac", act="int4", luts=4, keys=2, max_n=20, max_m=9, pipeline=3),
    dict(arch="mac", act="int16", luts=1, keys=3, max_n=5, max_m=7, pipeline=1),
    dict(arch="mac", act="fp16", luts=3, keys=2, max_n=24, max_m=8),
    dict(arch="mac", act="fp16", acc="fp32", adder_stages=1, luts=2, keys=2, max_n=16, max_m=8, reuse=2,
         pipeline=2),
    dict(arch="mac", act="bf16", adder_stages=3, luts=3, keys=2, max_n=12, max_m=6, reuse=2),
    dict(arch="mac", act="fp8e4m3", acc="fp16", adder_stages=2, luts=2, keys=2, max_n=8, max_m=4),
]
# The sign-flip baseline (the LUT core at mu = 1): integer with reuse and a pipeline register, bf16.
SIGNFLIP_CONFIGS = [
    dict(arch="signflip", act="int8", luts=4, keys=3, max_n=20, max_m=9, reuse=2, pipeline=1),
    dict(arch="signflip", act="bf16", adder_stages=1, luts=3, keys=2, max_n=12, max_m=6),
]
ALL_CONFIGS = CONFIGS + FP_CONFIGS + BLOCKFP_CONFIGS + FUSED_CONFIGS + MAC_CONFIGS + SIGNFLIP_CONFIGS


# Classes the configurations above leave out, each cheap (small keys): the fp16 headline's tree
# depth (L = 22, here at mu = 2 for speed) with pipelined adders; FP accumulation over many input
# tiles (bf16 into fp32, 64 tiles of 4); integer mu = 6, 7, 8; FP LUT builders at mu = 4 and 5;
# fp32 activations. Each runs the standard scenarios of :mod:`sim.check` named with it on one
# elaborated core (mu = 8 spends most of its ~40 s elaborating the LUT builder and key fetch).
COVERAGE_CONFIGS = {
    "fp16_l22_mu2_s1_p2": (dict(act="fp16", adder_stages=1, mu=2, luts=22, keys=1, max_n=50, max_m=3,
                                pipeline=2),
                           ("random_shapes", "extreme_activations", "backpressure_and_gaps",
                            "unstalled_cycle_count")),
    "bf16_fp32acc_n256_tile4": (dict(act="bf16", acc="fp32", adder_stages=1, mu=2, luts=2, keys=2,
                                     max_n=256, max_m=5),
                                ("random_shapes", "extreme_activations", "back_to_back_jobs")),
    "int4_mu6": (dict(act="int4", mu=6, luts=1, keys=1, max_n=14, max_m=3), SCENARIOS),
    "int3_mu7_r2_p1": (dict(act="int3", mu=7, luts=1, keys=2, max_n=16, max_m=5, reuse=2, pipeline=1),
                       SCENARIOS),
    "int2_mu8": (dict(act="int2", mu=8, luts=1, keys=1, max_n=18, max_m=3),
                 ("random_shapes", "extreme_activations")),
    "fp16_mu4_s1": (dict(act="fp16", adder_stages=1, mu=4, luts=2, keys=1, max_n=20, max_m=3),
                    ("random_shapes", "extreme_activations", "backpressure_and_gaps")),
    "bf16_mu5_p1": (dict(act="bf16", mu=5, luts=1, keys=2, max_n=12, max_m=4, pipeline=1),
                    ("random_shapes", "extreme_activations", "unstalled_cycle_count")),
    "fp32_s2_r2": (dict(act="fp32", adder_stages=2, mu=2, luts=2, keys=2, max_n=12, max_m=5, reuse=2),
                   SCENARIOS),
    "fp16_bfp16_fp32acc_s1": (dict(BLOCKFP_CONFIGS[0], adder_stages=1), SCENARIOS),
    "fp16_fused_l5_s3": (dict(act="fp16", acc="fp32", fp_reduce="fused", adder_stages=3, mu=2, luts=5, keys=2,
                              max_n=40, max_m=5), SCENARIOS),
    "bf16_bfp9_rtz_p1": (dict(act="bf16", fp_reduce="blockfp", fp_width=9, fp_round="rtz", mu=2, luts=2,
                              keys=2, max_n=20, max_m=5, pipeline=1),
                         ("random_shapes", "extreme_activations", "back_to_back_jobs")),
}


def _ids(kwargs):
    return "-".join(f"{a}{b}" for a, b in kwargs.items())


def _random_jobs(cfg, shapes, rng):
    return [Job(*random_gemv(cfg, rng, n, m)) for n, m in shapes]


def _check(cfg: CoreConfig, jobs: list[Job], traffic: Traffic | None = None, *,
           exact_cycles: bool = False) -> list[JobResult]:
    """Run ``jobs`` in Amaranth's simulator and check them against the reference model."""
    scenario = Scenario("pysim", tuple(jobs), traffic or Traffic(), exact_cycles=exact_cycles)
    return asyncio.run(run_scenario(PysimBackend(cfg), scenario))


# an aborted simulation leaves its testbench coroutines unfinished; Python warns when it collects them
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pysim_bench_reports_a_deadlock_at_once(monkeypatch):
    """A job whose last key word never comes: the bench stops after
    :func:`sim.check.idle_cycles_limit` idle cycles, not after the whole job list's time bound."""
    import sim.pysim_bench as bench
    from sim.check import idle_cycles_limit, input_words, timeout_cycles

    cfg = CoreConfig(**CONFIGS[1])
    jobs = _random_jobs(cfg, [(cfg.max_n, cfg.max_m)] * 3, np.random.default_rng(3))
    traffic = Traffic(in_gaps=0.3, out_stall=0.4, seed=2)

    def short_of_one_key_word(cfg, job, rng):
        words = input_words(cfg, job, rng)
        return dataclasses.replace(words, keys=words.keys[:-1])

    monkeypatch.setattr(bench, "input_words", short_of_one_key_word)
    backend = PysimBackend(cfg)
    with pytest.raises(TimeoutError, match="deadlock: no stream transfer"):
        backend.run(jobs[:1], traffic)
    assert backend._batch.now < timeout_cycles(cfg, jobs[:1], traffic) // 4
    assert backend._batch.now - backend._batch.last_transfer == idle_cycles_limit(cfg, traffic) + 1


# an aborted simulation leaves its testbench coroutines unfinished; Python warns when it collects them
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_pysim_bench_rejects_a_tile_after_the_last_job(monkeypatch):
    """A core that sends one output tile more than the bench expects (here: the bench expects one
    fewer) fails, even when that tile comes after the last job."""
    import sim.pysim_bench as bench
    from hwgen.description.schedule import tiles

    cfg = CoreConfig(**CONFIGS[1])
    monkeypatch.setattr(bench, "tiles", lambda cfg, n, m: (tiles(cfg, n, m)[0], tiles(cfg, n, m)[1] - 1))
    jobs = _random_jobs(cfg, [(cfg.tile_n, 2 * cfg.keys)], np.random.default_rng(4))
    with pytest.raises(AssertionError, match="an output tile after the last job's final tile"):
        PysimBackend(cfg).run(jobs, Traffic())


@pytest.mark.parametrize("kwargs", ALL_CONFIGS, ids=_ids)
def test_random_gemvs_with_stalls_back_to_back(kwargs):
    cfg = CoreConfig(**kwargs)
    rng = np.random.default_rng(1)
    shapes = [(1, 1), (cfg.max_n, cfg.max_m), (cfg.tile_n + 1, cfg.keys + 1),
              (cfg.max_n - 1, max(1, cfg.max_m - 1)), (3, cfg.max_m)]
    jobs = _random_jobs(cfg, shapes, rng)
    n, m = min(5, cfg.max_n), min(4, cfg.max_m)
    jobs.append(Job(random_gemv(cfg, rng, n, m)[0], np.zeros((n, m), dtype=int)))  # all-zero weights
    _check(cfg, jobs, Traffic(in_gaps=0.3, out_stall=0.4, seed=2))


@pytest.mark.parametrize("kwargs, names", COVERAGE_CONFIGS.values(), ids=COVERAGE_CONFIGS.keys())
def test_coverage_configs_standard_scenarios(kwargs, names):
    """Deep FP trees, many FP input tiles, mu = 6..8, FP LUTs at mu >= 4, fp32: the named standard
    scenarios of the shared checker, on one elaborated core."""
    cfg = CoreConfig(**kwargs)
    backend = PysimBackend(cfg)
    for name in names:
        asyncio.run(run_scenario(backend, scenario(cfg, name, seed=1)))


@pytest.mark.parametrize("kwargs", [*CONFIGS[1:3], MAC_CONFIGS[0], MAC_CONFIGS[2]],
                         ids=["cfg1", "cfg2", "mac-int8", "mac-int16"])
def test_extreme_activations_cannot_overflow(kwargs):
    cfg = CoreConfig(**kwargs)
    n, m = cfg.max_n, cfg.max_m
    lo, hi = extreme_activations(cfg)
    jobs = [Job(np.full(n, a), np.full((n, m), s)) for a in (lo, hi) for s in (1, -1)]
    results = _check(cfg, jobs)
    assert results[1].y[0] == -lo * n  # the largest magnitude, +max_n * 2**(w-1)


@pytest.mark.parametrize("kwargs", [*FP_CONFIGS[1:3], MAC_CONFIGS[4], MAC_CONFIGS[5]],
                         ids=["fp16-fp32acc", "bf16", "mac-fp16-fp32acc", "mac-bf16"])
def test_fp_extremes_overflow_subnormals_signed_zeros(kwargs):
    cfg = CoreConfig(**kwargs)
    model = ReferenceModel(cfg)
    n, m = cfg.max_n, 3
    jobs = [Job(np.full(n, a), np.full((n, m), s)) for a in extreme_activations(cfg) for s in (1, -1)]
    results = _check(cfg, jobs)
    values = [model.decode_outputs(torch.tensor(r.y))[0].item() for r in results]
    assert float("inf") in values and float("-inf") in values  # LUT entries / tree sums overflow
    assert any(0 < abs(v) < 2.0 ** (1 - cfg.act_type.fmt.bias) for v in values)  # a subnormal result


@pytest.mark.parametrize("kwargs", ALL_CONFIGS, ids=_ids)
def test_unstalled_cycle_count_matches_schedule(kwargs):
    cfg = CoreConfig(**kwargs)
    rng = np.random.default_rng(3)
    shapes = [(cfg.max_n, cfg.max_m), (1, 1), (cfg.tile_n + 1, cfg.keys + 1)]
    jobs = _random_jobs(cfg, shapes, rng)
    _check(cfg, jobs, exact_cycles=True)  # every job takes job_cycles


@pytest.mark.parametrize("kwargs", [CONFIGS[1], MAC_CONFIGS[0]], ids=["lut", "mac"])
def test_lanes_past_n_are_ignored_even_with_nonzero_keys(kwargs):
    """Keys (mac: weights) for rows past N (not from our encoder) must not pick up the garbage in
    those lanes."""
    cfg = CoreConfig(**kwargs)
    rng = np.random.default_rng(4)
    jobs = [Job(rng.integers(-128, 128, n), np.ones((cfg.tile_n * -(-n // cfg.tile_n), 7), dtype=int))
            for n in (1, 4, cfg.tile_n + 2)]
    _check(cfg, jobs, Traffic(seed=5))


def _design_instances(text: str, top: str) -> collections.Counter:
    """How many times each module of the Verilog ``text`` occurs in the design under ``top``
    (instances counted through the hierarchy)."""
    children: dict[str, collections.Counter] = {}
    module = None
    for line in text.splitlines():
        if found := re.match(r"module (\\?\S+?) ?\(", line):
            module = found[1].lstrip("\\")
            children[module] = collections.Counter()
        elif found := re.match(r"  (\\?[\w.$]+) +(\\\S+|[\w$]+) *\($", line):
            children[module][found[1].lstrip("\\")] += 1
    total: collections.Counter = collections.Counter()

    def visit(name: str, copies: int) -> None:
        for child, count in children[name].items():
            total[child] += copies * count
            visit(child, copies * count)

    visit(top, 1)
    return total


def test_design_instances_counts_through_the_hierarchy():
    text = "\n".join([
        "module top(a);", "  \\top.mid  mid (", "  leaf \\l$0  (", "endmodule",
        "module \\top.mid (a);", "  leaf x0 (", "  leaf x1 (", "endmodule",
        "module leaf(a);", "endmodule",
    ])
    assert _design_instances(text, "top") == {"top.mid": 1, "leaf": 3}


def test_verilog_shares_one_module_per_fp_unit_kind():
    """The emitted Verilog of an FP core defines each unit, the fetch stage of a LUT and the tree of
    an output lane once, and instantiates them per add, LUT and lane."""
    from hwgen.gateware.emit import emit_verilog

    cfg = CoreConfig(**FP_CONFIGS[1])  # fp16 LUT/tree adders, fp32 accumulate adders, a converter
    text = emit_verilog(cfg)
    units = {f"{cfg.name}__fp_add_fp16_s1": 2 * 10 + 1 * 2,  # LUT adders (2 LUTs x E-mu) + tree (L-1) x K
             f"{cfg.name}__fp_add_fp32_s1": 2, f"{cfg.name}__fp_convert_fp16_fp32": 2,
             f"{cfg.name}__fetch": cfg.luts, f"{cfg.name}__tree_lane": cfg.keys}
    counts = _design_instances(text, cfg.name)
    for module, count in units.items():
        assert text.count(f"module {module}(") == 1
        assert counts[module] == count, module


@pytest.mark.parametrize("kwargs", [CONFIGS[1], FP_CONFIGS[2], MAC_CONFIGS[5]],
                         ids=["int", "fp-s3", "mac-fp-s3"])
def test_back_to_back_jobs_are_accepted_every_job_interval(kwargs):
    """With every stream at full speed, jobs of one shape are accepted :func:`job_interval` apart
    (the drain of one job overlaps the next job's activation load)."""
    cfg = CoreConfig(**kwargs)
    n, m = cfg.tile_n + 1, cfg.keys + 1
    jobs = _random_jobs(cfg, [(n, m)] * 4, np.random.default_rng(6))
    results = _check(cfg, jobs)
    starts = [r.accepted for r in results]
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [job_interval(cfg, n, m)] * 3


def test_mac_fp_inf_nan_subnormals_and_zero_weights():
    """FP mac cores multiply: inf or NaN times a zero weight (+0.0) is NaN, -a * +0.0 is -0, and
    subnormal products are kept; the core matches the reference, which differs from a LUT core's."""
    cfg = CoreConfig(**MAC_CONFIGS[5])  # bf16, 3-stage multipliers and adders
    fmt = cfg.act_type.fmt
    specials = [fmt.inf, fmt.inf | fmt.sign_mask, fmt.canonical_nan, fmt.sign_mask, fmt.min_subnormal,
                fmt.max_finite, fmt.pack(1, fmt.bias, 0)]
    n, m = len(specials), cfg.max_m
    rng = np.random.default_rng(7)
    w = rng.integers(-1, 2, (n, m))
    w[:, 0] = 0  # column 0: every product is 0 * a
    w[:, 1] = [0, 0, 0, 1, 1, 1, 1]  # column 1: the infinities and the NaN times 0
    a_mix = random_gemv(cfg, rng, cfg.max_n, m)[0]
    a_mix[::3] = rng.choice(specials, size=len(a_mix[::3]))
    jobs = [Job(np.array(specials), w), Job(a_mix, rng.integers(-1, 2, (cfg.max_n, m)))]
    results = _check(cfg, jobs, Traffic(in_gaps=0.2, out_stall=0.3, seed=8))
    nan = fmt.canonical_nan
    assert results[0].y[0] == nan and results[0].y[1] == nan  # inf * +0.0 = NaN
    lut = ReferenceModel(CoreConfig(**{**MAC_CONFIGS[5], "arch": "lut", "mu": 1}))
    assert lut.gemv(torch.tensor(specials), torch.from_numpy(w)).tolist()[1] != nan  # the LUT core skips them


@pytest.mark.parametrize("kwargs", [dict(act="bf16", mu=1), dict(act="fp16", mu=2, adder_stages=1)],
                         ids=["bf16-mu1", "fp16-mu2-s1"])
def test_nan_payloads_leave_as_the_canonical_nan(kwargs):
    """One LUT, no conversion: a NaN activation with its own payload (and its sign flip) reaches
    the output without an add in a one-tile job; the core emits the canonical NaN, as the
    reference says (:attr:`CoreConfig.canonicalises_first_tile`). Multi-tile jobs pass an add."""
    cfg = CoreConfig(**kwargs, luts=1, keys=2, max_n=12, max_m=2)
    assert cfg.canonicalises_first_tile
    fmt = cfg.act_type.fmt
    one = fmt.pack(0, fmt.bias, 0)
    payload_nan = fmt.exp_mask | 1
    jobs = []
    for n in (cfg.tile_n, cfg.max_n):
        for nan in (payload_nan, payload_nan | fmt.sign_mask):
            a = np.full(n, one)
            a[0] = nan
            w = np.zeros((n, 2), dtype=np.int8)
            w[0] = [1, -1]
            jobs.append(Job(a, w))
    results = _check(cfg, jobs)
    assert all(r.y == [fmt.canonical_nan] * 2 for r in results)


def test_signflip_verilog_is_the_lut_core_at_mu_1():
    """``arch="signflip"`` elaborates exactly the LUT core with mu = 1: identical Verilog under one name."""
    from hwgen.gateware.emit import emit_verilog

    for kwargs in SIGNFLIP_CONFIGS:
        signflip = CoreConfig(**kwargs, name="core")
        lut = CoreConfig(**{**kwargs, "arch": "lut", "mu": 1}, name="core")
        assert emit_verilog(signflip) == emit_verilog(lut)


def test_mac_verilog_has_full_width_weight_ports_and_shared_multipliers():
    """The weights reach generic multipliers as full-width operands (nothing decodes ternary keys);
    FP multipliers are written once and instantiated per product."""
    from hwgen.gateware.emit import build, core_verilog
    from hwgen.gateware.ports import port_table

    cfg = CoreConfig(**MAC_CONFIGS[4])  # fp16 x fp16 products, fp32 accumulation
    core = build(cfg, shared_units=True)
    text = core_verilog(core)
    ports = {p["name"]: p["width"] for p in port_table(core)}
    assert ports["keys__payload"] == cfg.tile_n * cfg.keys * 16
    units = {f"{cfg.name}__fp_mul_fp16_s1": cfg.tile_n * cfg.keys,  # one per weight and output
             f"{cfg.name}__fp_add_fp16_s1": (cfg.tile_n - 1) * cfg.keys,  # the trees
             f"{cfg.name}__fp_add_fp32_s1": cfg.keys, f"{cfg.name}__fp_convert_fp16_fp32": cfg.keys}
    counts = _design_instances(text, cfg.name)
    for module, count in units.items():
        assert text.count(f"module {module}(") == 1
        assert counts[module] == count, module
