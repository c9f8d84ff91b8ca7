"""The adapted core's RTL in Amaranth's simulator against the adapter reference, bit for bit: every
variant, integer and floating point, ranks 1 to the maximum, several lane layouts, ragged shapes,
shared-input groups, adapter switching, jobs with the adapter off, back-pressure, run-time errors,
and the cycle counts of the description's schedule."""

from __future__ import annotations

import random
import zlib

import numpy as np
import pytest

from hwgen.description.adapter import AdapterConfig, AdapterJob, adapter_group_cycles
from hwgen.description.config import core_config
from sim.adapter_bench import (
    AdaptedBench,
    AdaptedGroup,
    AdaptedJob,
    expected,
    random_groups,
    random_weights,
    words,
)
from sim.reference import ReferenceModel

CORES = {
    "fp16": dict(act="fp16", core=4, mu=2, max_n=40, max_m=24),
    "fp16_fp32": dict(act="fp16", acc="fp32", core=4, mu=2, max_n=40, max_m=24),
    "int8": dict(act="int8", core=4, mu=2, max_n=40, max_m=24),
}
CASES = [  # (core, variant, adapter options)
    ("fp16", "lora", dict(chunk=2, lanes=4, max_rank=6)),
    ("fp16", "lora", dict(chunk=8, lanes=8, max_rank=3)),  # one row of 8 = two activation rows
    ("fp16", "lora", dict(chunk=1, lanes=3, max_rank=4)),
    ("fp16_fp32", "lora", dict(chunk=4, lanes=8, max_rank=5, fmt="bf16")),  # x and u narrowed to bf16
    ("fp16", "vera", dict(chunk=2, lanes=6, max_rank=6, seed=99)),
    ("fp16_fp32", "vera", dict(chunk=4, lanes=4, max_rank=4, seed=5)),
    ("fp16", "ternary-a", dict(lanes=3, max_rank=6)),
    ("int8", "lora", dict(chunk=2, lanes=4, max_rank=6)),
    ("int8", "vera", dict(chunk=4, lanes=8, max_rank=5, seed=7)),
    ("int8", "ternary-a", dict(lanes=4, max_rank=5)),
    # A and B in the on-chip store: loaded by load jobs, replayed by the jobs that name them
    ("fp16", "lora", dict(chunk=2, lanes=4, max_rank=6, storage="onchip", resident=3)),
    ("int8", "ternary-a", dict(lanes=4, max_rank=5, storage="onchip", resident=3)),
]


def _adapter(core: str, variant: str, options: dict, **more) -> AdapterConfig:
    return AdapterConfig(
        core=core_config(**CORES[core]), variant=variant, **{"resident": 2, **options, **more}
    )


def _check(results, want, groups) -> None:
    assert len(results) == len(want) == sum(len(g.jobs) for g in groups)
    for i, (got, exp) in enumerate(zip(results, want, strict=True)):
        assert got.y == exp, f"job {i}: outputs differ"
        assert got.last == tuple([False] * (len(got.last) - 1) + [True]), f"job {i}: last flags"
        assert not any(got.error), f"job {i}: error flag"


@pytest.mark.parametrize(
    ("core", "variant", "options"),
    CASES,
    ids=[f"{c}-{v}-{'-'.join(f'{k}{x}' for k, x in o.items())}" for c, v, o in CASES],
)
def test_random_groups_match_the_reference_with_backpressure(core, variant, options) -> None:
    adapter = _adapter(core, variant, options)
    rng = np.random.default_rng(zlib.crc32(f"{core}-{variant}-{sorted(options.items())}".encode()))
    groups = random_groups(adapter, rng, groups=4, off_every=5)
    ranks = {
        len(j.weights.d) if variant == "vera" else len(j.weights.a)
        for g in groups
        for j in g.jobs
        if j.weights is not None
    }
    assert 1 in ranks or adapter.max_rank in ranks
    stream = words(adapter, groups, random.Random(1))
    want = expected(adapter, groups)
    bench = AdaptedBench(adapter)
    _check(bench.run(stream), want, groups)
    _check(bench.run(stream, in_gaps=0.35, out_stall=0.35, seed=2), want, groups)
    core_only = [
        ReferenceModel(adapter.core).gemv(np.asarray(g.x), np.asarray(j.w)).tolist()
        for g in groups
        for j in g.jobs
    ]
    adapted = [
        w != c
        for w, c, j in zip(want, core_only, [j for g in groups for j in g.jobs], strict=True)
        if j.weights is not None
    ]
    assert sum(adapted) > len(adapted) / 2, "the adapted jobs' outputs differ from the core's"


def test_ranks_one_mid_and_max_and_switching_adapters_back_to_back() -> None:
    adapter = _adapter("fp16", "lora", dict(chunk=4, lanes=8, max_rank=8))
    rng = np.random.default_rng(3)
    core = adapter.core
    import torch

    from sim import fp_reference

    x = fp_reference.to_bits(torch.from_numpy(rng.standard_normal(37)), core.act_type.fmt).numpy()
    jobs = []
    for k, (rank, ident) in enumerate(((1, 1), (4, 2), (8, 1), (0, 0), (8, 2))):
        w = rng.integers(-1, 2, (37, 19 + k))
        jobs.append(AdaptedJob(w, ident, random_weights(adapter, rank, 37, 19 + k, rng) if rank else None))
    groups = [AdaptedGroup(x, (job,)) for job in jobs]
    bench = AdaptedBench(adapter)
    _check(bench.run(words(adapter, groups, random.Random(0))), expected(adapter, groups), groups)


@pytest.mark.parametrize("bad", [{"adapter": 3}, {"rank": 9}, {"down": 0}, {"down": 31}])
def test_a_bad_descriptor_runs_the_core_alone_and_flags_the_job(bad) -> None:
    adapter = _adapter("int8", "lora", dict(chunk=2, lanes=4, max_rank=8, share=3))
    rng = np.random.default_rng(11)
    x = rng.integers(-128, 128, 21)
    jobs = [
        AdaptedJob(rng.integers(-1, 2, (21, 9 + k)), 1, random_weights(adapter, 3, 21, 9 + k, rng))
        for k in range(3)
    ]
    groups = [AdaptedGroup(x, (job,)) for job in jobs]
    bench = AdaptedBench(adapter)
    results = bench.run(words(adapter, groups, random.Random(0), bad={1: bad}))
    want = expected(adapter, groups, bad=[1])
    for i, (got, exp) in enumerate(zip(results, want, strict=True)):
        assert got.y == exp, f"job {i}"
        assert any(got.error) == (i == 1) and all(got.error) == (i == 1)


@pytest.mark.parametrize(
    ("core", "variant", "options", "shapes"),
    [
        ("fp16", "lora", dict(chunk=2, lanes=4, max_rank=8), [(40, 24, 4)]),
        ("fp16", "lora", dict(chunk=8, lanes=16, max_rank=8), [(40, 24, 4)]),
        ("fp16", "lora", dict(chunk=4, lanes=8, max_rank=8, share=3), [(33, 20, 3), (33, 7, 0), (33, 24, 2)]),
        ("fp16", "vera", dict(chunk=4, lanes=8, max_rank=8), [(40, 24, 6), (40, 12, 3)]),
        ("fp16", "ternary-a", dict(lanes=3, max_rank=8), [(17, 12, 5), (17, 24, 2)]),
        ("int8", "lora", dict(chunk=2, lanes=2, max_rank=8, hold=1), [(40, 24, 4)]),  # the hold buffer stalls
        ("int8", "ternary-a", dict(lanes=4, max_rank=8), [(40, 16, 8)]),
    ],
)
def test_cycles_are_the_descriptions_schedule(core, variant, options, shapes) -> None:
    adapter = _adapter(core, variant, options)
    rng = np.random.default_rng(0)
    n = shapes[0][0]
    import torch

    from sim import fp_reference

    x = (
        fp_reference.to_bits(torch.from_numpy(rng.standard_normal(n)), adapter.core.act_type.fmt).numpy()
        if adapter.core.is_fp
        else rng.integers(-100, 100, n)
    )
    jobs = tuple(
        AdaptedJob(
            rng.integers(-1, 2, (n, m)), 1 if r else 0, random_weights(adapter, r, n, m, rng) if r else None
        )
        for n, m, r in shapes
    )
    groups = [AdaptedGroup(x, jobs)]
    results = AdaptedBench(adapter).run(words(adapter, groups, random.Random(0)))
    _check(results, expected(adapter, groups), groups)
    model = adapter_group_cycles(adapter, [AdapterJob(n, m, r) for n, m, r in shapes])
    assert results[-1].done - results[0].accepted == model[1]


def test_onchip_entries_are_loaded_once_and_replayed_by_later_jobs() -> None:
    """Two adapters loaded into the store once; then jobs of their shape alternate between them,
    with a job that runs the adapter off between, and no more loads."""
    adapter = _adapter("int8", "lora", dict(chunk=2, lanes=4, max_rank=4, storage="onchip"))
    rng = np.random.default_rng(21)
    x = rng.integers(-128, 128, 13)
    w = [rng.integers(-1, 2, (13, 10)) for _ in range(2)]
    ops = [random_weights(adapter, 3, 13, 10, rng), random_weights(adapter, 4, 13, 10, rng)]
    order = [0, 1, 0, None, 1, 1]
    groups = [
        AdaptedGroup(x, (AdaptedJob(w[0], 0),) if k is None else (AdaptedJob(w[k], k + 1, ops[k]),))
        for k in order
    ]
    stream = words(adapter, groups, random.Random(0))
    assert sum(stream.job_loads) == 2
    _check(
        AdaptedBench(adapter).run(stream, in_gaps=0.2, out_stall=0.2, seed=4),
        expected(adapter, groups),
        groups,
    )
