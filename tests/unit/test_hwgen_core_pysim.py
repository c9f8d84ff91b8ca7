"""The whole integer core in Amaranth's simulator: bit-exact GEMVs, stalls, back-to-back jobs, cycles.

Small configurations only; the emitted Verilog of large ones runs under cocotb (tests/integration).
"""

import numpy as np
import pytest
import torch

from hwgen.config import CoreConfig
from hwgen.schedule import job_cycles
from sim.pysim_bench import Job, run_jobs
from sim.reference import ReferenceModel

CONFIGS = [
    dict(mu=1, luts=1, keys=1, max_n=6, max_m=5),
    dict(mu=2, luts=3, keys=5, max_n=40, max_m=30, reuse=2),
    dict(mu=3, luts=2, keys=3, max_n=30, max_m=20, reuse=3, pipeline=2),
    dict(mu=4, luts=3, keys=2, max_n=50, max_m=9, pipeline=3, act="int4"),
    dict(mu=5, luts=1, keys=3, max_n=12, max_m=7, pipeline=1, act="int3"),
]


def _random_jobs(cfg, shapes, rng):
    lo, hi = cfg.act_type.min_value, cfg.act_type.max_value
    return [Job(rng.integers(lo, hi + 1, n), rng.integers(-1, 2, (n, m))) for n, m in shapes]


def _check(cfg, jobs, results):
    model = ReferenceModel(cfg)
    for job, result in zip(jobs, results, strict=True):
        n = job.shape[0]
        a, w = torch.from_numpy(job.activations).long(), torch.from_numpy(job.weights[:n]).long()
        expected = model.gemv(a, w)
        assert torch.equal(expected, a @ w)
        assert result.y == expected.tolist()


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: "-".join(f"{a}{b}" for a, b in k.items()))
def test_random_gemvs_with_stalls_back_to_back(kwargs):
    cfg = CoreConfig(**kwargs)
    rng = np.random.default_rng(1)
    shapes = [(1, 1), (cfg.max_n, cfg.max_m), (cfg.tile_n + 1, cfg.keys + 1),
              (cfg.max_n - 1, max(1, cfg.max_m - 1)), (3, cfg.max_m)]
    jobs = _random_jobs(cfg, shapes, rng)
    jobs.append(Job(np.full(5, 1), np.zeros((5, 4), dtype=int)))  # all-zero weights
    _check(cfg, jobs, run_jobs(cfg, jobs, seed=2, out_stall=0.4, in_gaps=0.3))


@pytest.mark.parametrize("kwargs", CONFIGS[1:3], ids=["cfg1", "cfg2"])
def test_extreme_activations_cannot_overflow(kwargs):
    cfg = CoreConfig(**kwargs)
    n, m = cfg.max_n, cfg.max_m
    lo, hi = cfg.act_type.min_value, cfg.act_type.max_value
    jobs = [Job(np.full(n, a), np.full((n, m), s)) for a in (lo, hi) for s in (1, -1)]
    results = run_jobs(cfg, jobs)
    _check(cfg, jobs, results)
    assert results[1].y[0] == -lo * n  # the largest magnitude, +max_n * 2**(w-1)


@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: "-".join(f"{a}{b}" for a, b in k.items()))
def test_unstalled_cycle_count_matches_schedule(kwargs):
    cfg = CoreConfig(**kwargs)
    rng = np.random.default_rng(3)
    shapes = [(cfg.max_n, cfg.max_m), (1, 1), (cfg.tile_n + 1, cfg.keys + 1)]
    jobs = _random_jobs(cfg, shapes, rng)
    results = run_jobs(cfg, jobs)
    _check(cfg, jobs, results)
    assert [r.cycles for r in results] == [job_cycles(cfg, n, m) for n, m in shapes]


def test_lanes_past_n_are_ignored_even_with_nonzero_keys():
    """Keys that weight rows past N (not from our encoder) must not pick up the garbage in those lanes."""
    cfg = CoreConfig(**CONFIGS[1])
    rng = np.random.default_rng(4)
    jobs = [Job(rng.integers(-128, 128, n), np.ones((cfg.tile_n * -(-n // cfg.tile_n), 7), dtype=int))
            for n in (1, 4, cfg.tile_n + 2)]
    _check(cfg, jobs, run_jobs(cfg, jobs, seed=5))
