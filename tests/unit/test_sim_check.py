"""The shared checker (:mod:`sim.check`) passes a correct backend and reports every kind of mismatch.

:class:`ModelBackend` is a third :class:`sim.check.Backend` in software (the reference model's
outputs, ``job_cycles`` cycles): with it the checker's own behaviour is tested without a
simulator. Sabotaged results (one flipped bit, a wrong ``last`` flag, a missing output, one
cycle too many) must each fail with a message that names the job, tile and lane.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
from collections.abc import Sequence

import numpy as np
import pytest

from hwgen.description.config import CoreConfig
from hwgen.description.schedule import job_cycles, tiles
from sim import (
    SCENARIOS,
    Backend,
    Job,
    JobResult,
    Mismatch,
    Scenario,
    Traffic,
    run_scenario,
    scenario,
    verify,
)
from sim.check import expected_outputs, input_words, output_lanes

INT_CFG = CoreConfig(act="int8", mu=2, luts=3, keys=5, max_n=40, max_m=30, reuse=2)
FP_CFG = CoreConfig(act="bf16", adder_stages=1, mu=2, luts=2, keys=2, max_n=12, max_m=6)


class ModelBackend(Backend):
    """Answers with the reference model: what a correct core would return."""

    def __init__(self, cfg: CoreConfig) -> None:
        self.cfg = cfg

    async def run_jobs(self, jobs: Sequence[Job], traffic: Traffic) -> list[JobResult]:
        results = []
        for job in jobs:
            o_count = tiles(self.cfg, *job.shape)[1]
            results.append(JobResult(y=expected_outputs(self.cfg, job),
                                     last=tuple(o == o_count - 1 for o in range(o_count)),
                                     cycles=job_cycles(self.cfg, *job.shape), accepted=0))
        return results


def _run(backend: Backend, sc: Scenario) -> list[JobResult]:
    return asyncio.run(run_scenario(backend, sc))


def _flip(results: list[JobResult], job: int, lane: int, bit: int) -> list[JobResult]:
    bad = list(results)
    y = list(bad[job].y)
    y[lane] ^= 1 << bit
    bad[job] = dataclasses.replace(bad[job], y=y)
    return bad


@pytest.mark.parametrize("cfg", [INT_CFG, FP_CFG], ids=["int8", "bf16"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_correct_backend_passes_every_scenario(cfg: CoreConfig, name: str) -> None:
    sc = scenario(cfg, name, seed=3)
    assert len(_run(ModelBackend(cfg), sc)) == len(sc.jobs)


def test_one_flipped_bit_is_reported_with_job_tile_lane_and_hex() -> None:
    sc = scenario(INT_CFG, "back_to_back_jobs", seed=1)
    results = asyncio.run(ModelBackend(INT_CFG).run_jobs(sc.jobs, sc.traffic))
    job = next(i for i, j in enumerate(sc.jobs) if j.shape[1] > INT_CFG.keys + 2)
    expected = results[job].y[INT_CFG.keys + 2]
    n, m = sc.jobs[job].shape
    bad = _flip(results, job, INT_CFG.keys + 2, 0)
    got = bad[job].y[INT_CFG.keys + 2]
    mask = (1 << INT_CFG.acc_width) - 1
    line = (f"back_to_back_jobs job {job} (n={n}, m={m}) output tile 1 lane 2 (y[7]): "
            f"expected {expected & mask:#06x} ({expected}), got {got & mask:#06x} ({got})")
    head = rf"^{INT_CFG.name}: 1 mismatch\(es\) against the reference model in back_to_back_jobs \(8 jobs, "
    with pytest.raises(Mismatch, match=head + r"Traffic\(.*\)\):\n  " + re.escape(line) + "$"):
        verify(INT_CFG, sc, bad)


def test_fp_results_compare_bit_patterns_not_values() -> None:
    """Two NaNs with different payloads, or +0 and -0, are different results."""
    fmt = FP_CFG.act_type.fmt
    jobs = (Job([fmt.canonical_nan, 0], [[1], [1]]), Job([fmt.sign_mask, fmt.sign_mask], [[1], [1]]))
    sc = Scenario("specials", jobs)
    results = _run(ModelBackend(FP_CFG), sc)
    assert results[0].y == [fmt.canonical_nan] and results[1].y == [0]  # NaN; -0 + -0 from a +0 accumulator
    with pytest.raises(Mismatch, match=r"specials job 0 \(n=2, m=1\) output tile 0 lane 0 \(y\[0\]\): "
                                       r"expected 0x7fc0, got 0x7fc1$"):
        verify(FP_CFG, sc, _flip(results, 0, 0, 0))
    with pytest.raises(Mismatch, match=r"specials job 1 \(n=2, m=1\) output tile 0 lane 0 \(y\[0\]\): "
                                       r"expected 0x0000, got 0x8000$"):
        verify(FP_CFG, sc, _flip(results, 1, 0, 15))


def test_last_flags_output_count_and_cycles_are_checked() -> None:
    sc = scenario(INT_CFG, "unstalled_cycle_count", seed=2)
    good = _run(ModelBackend(INT_CFG), sc)
    j = next(i for i, r in enumerate(good) if len(r.last) > 1)
    bad = list(good)
    bad[j] = dataclasses.replace(good[j], last=(True,) * len(good[j].last))
    with pytest.raises(Mismatch, match=rf"job {j} \(n=\d+, m=\d+\): `last` flags of the output tiles are "
                                       rf"\[1(, 1)+\], expected \[0(, 0)*, 1\]$"):
        verify(INT_CFG, sc, bad)
    bad[j] = dataclasses.replace(good[j], y=good[j].y[:-1])
    with pytest.raises(Mismatch, match=rf"job {j} \(n=\d+, m=(\d+)\): \d+ outputs, expected \1$"):
        verify(INT_CFG, sc, bad)
    bad[j] = dataclasses.replace(good[j], cycles=good[j].cycles + 1)
    with pytest.raises(Mismatch, match=rf"job {j} \(n=\d+, m=\d+\): \d+ cycles, expected job_cycles = \d+$"):
        verify(INT_CFG, sc, bad)
    verify(INT_CFG, dataclasses.replace(sc, exact_cycles=False), bad)  # cycles only where asked
    with pytest.raises(Mismatch, match=rf"^{INT_CFG.name}: 1 mismatch\(es\) .*\n  unstalled_cycle_count: "
                                       r"4 results for 5 jobs$"):
        verify(INT_CFG, sc, good[:-1])


def test_many_mismatches_are_counted_and_the_first_shown() -> None:
    sc = scenario(INT_CFG, "zero_weights", seed=1)
    good = _run(ModelBackend(INT_CFG), sc)
    bad = [dataclasses.replace(r, y=[v + 1 for v in r.y]) for r in good]
    total = sum(len(r.y) for r in good)
    with pytest.raises(Mismatch, match=rf"^{INT_CFG.name}: {total} mismatch\(es\) .*\n(  .*\n){{8}}"
                                       rf"  \.\.\. and {total - 8} more$"):
        verify(INT_CFG, sc, bad)


def test_sabotaged_pysim_result_is_reported() -> None:
    """A real backend's result with one flipped bit fails the check."""
    from sim.pysim_bench import PysimBackend

    cfg = CoreConfig(act="int4", mu=2, luts=2, keys=3, max_n=12, max_m=9)
    sc = scenario(cfg, "random_shapes", seed=1)
    backend = PysimBackend(cfg)
    results = _run(backend, sc)
    with pytest.raises(Mismatch, match=r"random_shapes job 0 \(n=\d+, m=\d+\) output tile 0 lane 0 "
                                       r"\(y\[0\]\): expected 0x[0-9a-f]+ \(-?\d+\), "
                                       r"got 0x[0-9a-f]+ \(-?\d+\)$"):
        verify(cfg, sc, _flip(results, 0, 0, 3))


def test_scenarios_are_deterministic_and_unknown_names_are_refused() -> None:
    for name in SCENARIOS:
        a, b = scenario(INT_CFG, name, seed=7), scenario(INT_CFG, name, seed=7)
        assert a.traffic == b.traffic and len(a.jobs) == len(b.jobs)
        assert all(np.array_equal(x.activations, y.activations) and np.array_equal(x.weights, y.weights)
                   for x, y in zip(a.jobs, b.jobs, strict=True))
    with pytest.raises(ValueError, match=r"^unknown scenario 'nope' \(known: random_shapes, zero_weights, "
                                         r"extreme_activations, backpressure_and_gaps, back_to_back_jobs, "
                                         r"unstalled_cycle_count\)$"):
        scenario(INT_CFG, "nope")


def test_wire_words_round_trip() -> None:
    job = Job(np.arange(-5, 6), np.ones((11, 7)))
    words = input_words(INT_CFG, job, random.Random(0))
    assert words.job == 11 | 7 << INT_CFG.max_n.bit_length()
    assert len(words.act) == tiles(INT_CFG, 11, 7)[0] and words.act[0] & 0xFF == 0xFB  # -5, two's complement
    lanes = [-3, 2, 0, 1, -(1 << (INT_CFG.acc_width - 1))]
    width = INT_CFG.acc_width
    payload = sum((v & ((1 << width) - 1)) << (k * width) for k, v in enumerate(lanes))
    assert output_lanes(INT_CFG, payload | 1 << (5 * INT_CFG.acc_width)) == (lanes, True)
    with pytest.raises(ValueError, match=r"^job shape n=41, m=1 outside \[1, 40\] x \[1, 30\]$"):
        input_words(INT_CFG, Job(np.zeros(41), np.zeros((41, 1))), random.Random(0))
