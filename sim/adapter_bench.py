"""Drive a :class:`hwgen.gateware.adapter.AdaptedCore` in Amaranth's simulator and check it against
:class:`sim.adapter_reference.AdapterReference`.

A test describes groups of jobs that share one activation vector (:class:`AdaptedGroup`: the jobs
of a shared-input group, the first of which computes the stacked down-projection); :func:`words`
turns them into the words of every input stream, :class:`AdaptedBench` pushes them (with random
input gaps and output stalls) and collects each job's tiles, and :func:`expected` gives the
reference's outputs, job by job.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from amaranth.hdl import Value
from amaranth.sim import Simulator

from hwgen.description.adapter import AdapterConfig
from hwgen.description.key_encoding import key_stream
from hwgen.description.lanes import pack_lanes, unpack_lanes
from hwgen.description.schedule import tiles
from hwgen.gateware.adapter import AdaptedCore, adapted_job_layout

from .adapter_reference import AdapterReference, AdapterWeights, vera_weights
from .check import Job, activation_rows
from .pysim_bench import _long_int_strings

__all__ = [
    "AdaptedJob",
    "AdaptedGroup",
    "AdaptedResult",
    "StreamWords",
    "words",
    "expected",
    "AdaptedBench",
    "random_weights",
    "random_groups",
]


@dataclass(frozen=True)
class AdaptedJob:
    """One GEMV of a group: the ternary ``w`` (N x M), the adapter id (0: off) and, when on, the
    job's operands (:class:`~sim.adapter_reference.AdapterWeights`; ``vera``: ``d`` and ``bvec``)."""

    w: np.ndarray
    adapter: int = 0
    weights: AdapterWeights | None = None


@dataclass(frozen=True)
class AdaptedGroup:
    """Jobs reading one activation vector ``x`` (bit patterns or integers in the core's ``act``)."""

    x: np.ndarray
    jobs: tuple[AdaptedJob, ...]


@dataclass
class StreamWords:
    """The words of every input stream, in order, and each job's shape."""

    job: list[int] = field(default_factory=list)
    act: list[int] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)
    scales: list[int] = field(default_factory=list)
    weights: list[int] = field(default_factory=list)
    bvec: list[int] = field(default_factory=list)
    shapes: list[tuple[int, int]] = field(default_factory=list)
    job_loads: list[bool] = field(default_factory=list)  # per job word: a load job (no output tiles)


@dataclass(frozen=True)
class AdaptedResult:
    """One job's outputs (``m`` lanes), the ``last`` and ``error`` flags of its tiles, and the
    cycles of its descriptor's transfer and of its last tile's (from the run's start)."""

    y: list[int]
    last: tuple[bool, ...]
    error: tuple[bool, ...]
    accepted: int
    done: int


def _rank(adapter: AdapterConfig, job: AdaptedJob) -> int:
    if not job.adapter or job.weights is None:
        return 0
    w = job.weights
    return len(w.d) if adapter.variant == "vera" else int(np.asarray(w.a).shape[0])


def _matrices(adapter: AdapterConfig, job: AdaptedJob, n: int, m: int):
    """A (rank x n) and B (m x rank) as the unit uses them (``vera``: regenerated)."""
    rank = _rank(adapter, job)
    if adapter.variant == "vera":
        a, b = vera_weights(adapter, rank, n, m)
        return a.numpy(), b.numpy()
    return np.asarray(job.weights.a, dtype=np.int64), np.asarray(job.weights.b, dtype=np.int64)


def _group_words(adapter: AdapterConfig, group: AdaptedGroup, ranks: list[int], stacked: int):
    """The group's ``weights`` words (its down-projection's, then each job's up-projection's, as
    lists), its ``bvec`` words and each job's ``scales`` words."""
    core, fmt_bits, up_w = adapter.core, adapter.fmt_bits, adapter.up_width
    n = len(group.x)
    mats = [
        _matrices(adapter, j, n, j.w.shape[1]) if r else None for j, r in zip(group.jobs, ranks, strict=True)
    ]
    down: list[int] = []
    if adapter.variant == "lora" and stacked:
        a_all = np.concatenate([mt[0] for mt in mats if mt is not None], axis=0)
        trees, chunk = adapter.trees, adapter.chunk
        for p0 in range(0, stacked, trees):
            for s in range(-(-n // chunk)):
                lanes = [
                    int(a_all[p0 + g, s * chunk + c]) if p0 + g < stacked and s * chunk + c < n else 0
                    for g in range(trees)
                    for c in range(chunk)
                ]
                down.append(pack_lanes([v & ((1 << fmt_bits) - 1) for v in lanes], fmt_bits))
    ups: list[list[int]] = []
    bvec: list[int] = []
    scales: list[list[int]] = []
    for job, rank, mt in zip(group.jobs, ranks, mats, strict=True):
        words_up: list[int] = []
        ups.append(words_up)
        if not rank:
            scales.append([])
            continue
        w = job.weights
        d = np.asarray(w.d if adapter.variant == "vera" else [w.s] * rank, dtype=np.int64).reshape(-1)
        scales.append([int(v) & ((1 << adapter.scale_bits) - 1) for v in d])
        m = job.w.shape[1]
        for t in range(tiles(core, n, m)[1]):
            width = min(core.keys, m - t * core.keys)
            for g0 in range(0, width, up_w):
                if adapter.variant == "vera":
                    bv = np.asarray(w.bvec, dtype=np.int64).reshape(-1)
                    lanes = [int(bv[t * core.keys + g0 + p]) if g0 + p < width else 0 for p in range(up_w)]
                    bvec.append(pack_lanes([v & ((1 << adapter.b_bits) - 1) for v in lanes], adapter.b_bits))
                    continue
                for j in range(rank):
                    lanes = [
                        int(mt[1][t * core.keys + g0 + p, j]) if p < up_w and g0 + p < width else 0
                        for p in range(adapter.lanes)
                    ]
                    words_up.append(pack_lanes([v & ((1 << fmt_bits) - 1) for v in lanes], fmt_bits))
    return down, ups, bvec, scales


def _descriptor(layout, fields: dict) -> int:
    word = 0
    for name, f in layout:
        if name in fields:
            word |= (fields[name] & ((1 << f.shape.width) - 1)) << f.offset
    return word


def words(
    adapter: AdapterConfig,
    groups: Sequence[AdaptedGroup],
    rng: random.Random,
    *,
    bad: dict[int, dict] | None = None,
) -> StreamWords:
    """The input words of ``groups`` in order; ``bad`` replaces descriptor fields of the job with
    that index (0-based over all jobs), e.g. ``{3: {"adapter": 9}}``, for a run-time error. A
    group's first adapted job carries its down-projection (``down``, and for ``ternary-a`` the
    u tiles' keys). With an ``onchip`` store, each adapted job's words go to a load job before
    the group (skipped when its entry already holds the same operands and shape)."""
    core = adapter.core
    out = StreamWords()
    layout = adapted_job_layout(adapter)
    onchip = adapter.storage == "onchip"
    loaded: dict[int, tuple] = {}
    index = 0
    for group in groups:
        x = np.asarray(group.x, dtype=np.int64)
        n = len(x)
        ranks = [_rank(adapter, j) for j in group.jobs]
        # rows of the group's down-projection: stacked (vera: its A is shared, the largest rank)
        stacked = max(ranks) if adapter.variant == "vera" else sum(ranks)
        lead = next((k for k, r in enumerate(ranks) if r), None)  # the job that computes u
        indices = range(index, index + len(group.jobs))
        group_bad = any(i in (bad or {}) for i in indices)
        down, ups, bvec, scales = _group_words(adapter, group, ranks, stacked)
        if onchip and not group_bad:
            idents = [j.adapter for j, r in zip(group.jobs, ranks, strict=True) if r]
            if len(set(idents)) < len(idents):
                raise ValueError(f"an onchip group's jobs need entries of their own, got adapters {idents}")
            for k, job in enumerate(group.jobs):
                if not ranks[k]:
                    continue
                fields = {
                    "n": n,
                    "m": job.w.shape[1],
                    "adapter": job.adapter,
                    "rank": ranks[k],
                    "down": stacked if k == lead else 0,
                    "load": 1,
                }
                key = (id(job.weights), n, job.w.shape[1], ranks[k], fields["down"])
                if loaded.get(job.adapter) == key:
                    continue
                loaded[job.adapter] = key
                out.job.append(_descriptor(layout, fields))
                out.job_loads.append(True)
                out.weights += (down if k == lead else []) + ups[k]
        for k, job in enumerate(group.jobs):
            m = job.w.shape[1]
            rank = ranks[k]
            fields = {
                "n": n,
                "m": m,
                "adapter": job.adapter if rank else 0,
                "rank": rank,
                "down": stacked if k == lead else 0,
            }
            if adapter.is_int and job.weights is not None:
                fields.update(shift_u=job.weights.shift_u, shift_s=job.weights.shift_s)
                if adapter.variant == "vera":
                    fields["shift_v"] = job.weights.shift_v
            fields.update((bad or {}).get(index, {}))
            out.job.append(_descriptor(layout, fields))
            out.job_loads.append(False)
            out.shapes.append((n, m))
            w = job.w
            if adapter.variant == "ternary-a" and k == lead and index not in (bad or {}):
                extra = -(-stacked // core.keys) * core.keys
                a_cols = np.zeros((w.shape[0], extra), dtype=np.int8)
                rows = 0
                for j2, r2 in zip(group.jobs, ranks, strict=True):
                    if r2:
                        a_cols[:n, rows : rows + r2] = np.asarray(j2.weights.a).T
                        rows += r2
                w = np.concatenate([a_cols, w], axis=1)
            out.keys += [pack_lanes(word.reshape(-1).tolist(), core.key_bits) for word in key_stream(core, w)]
            out.act += [pack_lanes(row, core.act_width) for row in activation_rows(core, Job(x, w), rng)]
            index += 1
        if not stacked or group_bad:
            continue
        for job_scales in scales:
            out.scales += job_scales
        if not onchip:
            out.weights += down + [word for up in ups for word in up]
        out.bvec += bvec
    return out


def expected(
    adapter: AdapterConfig, groups: Sequence[AdaptedGroup], *, bad: Sequence[int] = ()
) -> list[list[int]]:
    """The reference's outputs of every job (a job in ``bad`` runs with the adapter off)."""
    ref = AdapterReference(adapter)
    out, index = [], 0
    for group in groups:
        x = torch.as_tensor(np.asarray(group.x, dtype=np.int64))
        for job in group.jobs:
            w = torch.as_tensor(np.asarray(job.w[: len(group.x)], dtype=np.int64))
            on = job.adapter and job.weights is not None and index not in bad
            out.append(ref.forward(x, w, job.weights if on else None).tolist())
            index += 1
    return out


class AdaptedBench:
    """Runs stream words on ``AdaptedCore(adapter)`` in Amaranth's simulator."""

    def __init__(self, adapter: AdapterConfig):
        self.adapter = adapter
        self.dut = AdaptedCore(adapter)
        with _long_int_strings():
            self.sim = Simulator(self.dut)
        self.sim.add_clock(1e-8)
        self._words: StreamWords | None = None
        self._ran = False
        self._setup()

    def _setup(self) -> None:
        dut, ad = self.dut, self.adapter
        core = ad.core
        state = self
        names = ["job", "act", "keys", "scales"] + (["bvec"] if ad.variant == "vera" else ["weights"])

        async def clock(ctx):
            while True:
                await ctx.tick()
                state.now += 1
                if state.now > state.max_cycles:
                    raise TimeoutError(
                        f"{len(state.results)} of {len(state._words.shapes)} jobs after "
                        f"{state.max_cycles} cycles"
                    )

        def driver(name):
            port = getattr(dut, name)
            payload = Value.cast(port.p)

            async def drive(ctx):
                for word in getattr(state._words, name):
                    while state.rng.random() < state.in_gaps:
                        await ctx.tick()
                    ctx.set(port.valid, 1)
                    ctx.set(payload, word)
                    await ctx.tick().until(port.ready)
                    ctx.set(port.valid, 0)
                    if name == "job" and not state._words.job_loads[len(state.job_sent)]:
                        state.accepted.append(state.now)
                    if name == "job":
                        state.job_sent.append(state.now)

            return drive

        out_payload = Value.cast(dut.out.p)

        async def collect(ctx):
            for index, (n, m) in enumerate(state._words.shapes):
                y, last, err = [], [], []
                for _ in range(tiles(core, n, m)[1]):
                    while state.rng.random() < state.out_stall:
                        await ctx.tick()
                    ctx.set(dut.out.ready, 1)
                    (word,) = await ctx.tick().sample(out_payload).until(dut.out.valid)
                    ctx.set(dut.out.ready, 0)
                    data_bits = core.keys * core.acc_width
                    y += unpack_lanes(
                        word & ((1 << data_bits) - 1), core.keys, core.acc_width, signed=not core.is_fp
                    )
                    last.append(bool((word >> data_bits) & 1))
                    err.append(bool((word >> (data_bits + 1)) & 1))
                state.results.append(
                    AdaptedResult(y[:m], tuple(last), tuple(err), state.accepted[index], state.now)
                )

        self.sim.add_process(clock)
        for name in names:
            self.sim.add_testbench(driver(name), background=True)
        self.sim.add_testbench(collect)

    def run(
        self,
        stream_words: StreamWords,
        *,
        in_gaps: float = 0.0,
        out_stall: float = 0.0,
        seed: int = 0,
        max_cycles: int = 200_000,
    ) -> list[AdaptedResult]:
        """Push ``stream_words`` and return each job's outputs, flags and cycles."""
        self._words = stream_words
        self.rng = random.Random(seed)
        self.in_gaps, self.out_stall, self.max_cycles = in_gaps, out_stall, max_cycles
        self.now, self.accepted, self.results, self.job_sent = 0, [], [], []
        with _long_int_strings():
            if self._ran:
                self.sim.reset()
            self._ran = True
            self.sim.run()
        return self.results


def random_weights(
    adapter: AdapterConfig, rank: int, n: int, m: int, rng: np.random.Generator
) -> AdapterWeights:
    """Random operands of one job of rank ``rank`` (varied magnitudes, a few zeros; integer: full
    int8 range and shifts that keep the sums in range)."""
    from hwgen.description.config import FP_FORMATS

    from . import fp_reference

    core = adapter.core

    def fp(shape, fmt, spread=(-4, 1)):
        v = np.asarray(rng.standard_normal(shape) * 2.0 ** rng.integers(*spread, shape))
        v[np.asarray(rng.random(shape)) < 0.05] = 0.0
        return fp_reference.to_bits(torch.from_numpy(np.asarray(v, dtype=np.float64)), fmt).numpy()

    if adapter.is_int:
        ints = dict(shift_u=int(rng.integers(6, 14)), shift_s=int(rng.integers(0, 6)))
        if adapter.variant == "vera":
            return AdapterWeights(
                d=rng.integers(-2000, 2000, rank),
                bvec=rng.integers(-128, 128, m),
                shift_v=int(rng.integers(0, 8)),
                **ints,
            )
        a = (
            rng.integers(-1, 2, (rank, n))
            if adapter.variant == "ternary-a"
            else rng.integers(-128, 128, (rank, n))
        )
        return AdapterWeights(
            a=a, b=rng.integers(-128, 128, (m, rank)), s=int(rng.integers(-3000, 3000)), **ints
        )
    acc = core.acc_type.fmt
    if adapter.variant == "vera":
        return AdapterWeights(d=fp(rank, acc, (-1, 3)), bvec=fp(m, acc))
    f = FP_FORMATS[adapter.fmt]
    a = rng.integers(-1, 2, (rank, n)) if adapter.variant == "ternary-a" else fp((rank, n), f)
    return AdapterWeights(a=a, b=fp((m, rank), f), s=int(fp((), acc, (-2, 2))))


def random_groups(
    adapter: AdapterConfig,
    rng: np.random.Generator,
    *,
    groups: int = 3,
    ranks: Sequence[int] | None = None,
    off_every: int = 0,
) -> list[AdaptedGroup]:
    """Random shared-input groups of 1..share jobs with ragged shapes (``n`` up to ``max_n``, ``m``
    up to ``max_m``), ranks drawn from ``ranks`` (default 1, max_rank and one between), adapter ids
    cycling over the resident ones (``onchip``: by position in the group, so that a group's jobs
    have entries of their own: ``resident >= share``); every ``off_every``-th job runs with the
    adapter off."""
    from . import fp_reference

    core = adapter.core
    ranks = list(ranks or sorted({1, adapter.max_rank, max(1, adapter.max_rank // 2)}))
    out, index = [], 0
    for _ in range(groups):
        n = int(rng.integers(1, core.max_n + 1))
        if core.is_fp:
            v = np.asarray(rng.standard_normal(n) * 2.0 ** rng.integers(-3, 3, n))
            x = fp_reference.to_bits(torch.from_numpy(v), core.act_type.fmt).numpy()
        else:
            x = rng.integers(core.act_type.min_value, core.act_type.max_value + 1, n)
        jobs, rows = [], 0
        for _ in range(int(rng.integers(1, adapter.share + 1))):
            m = int(rng.integers(1, core.max_m + 1))
            w = rng.integers(-1, 2, (n, m))
            rank = int(rng.choice(ranks))
            off = off_every and index % off_every == off_every - 1
            if off or rows + rank > adapter.u_entries:
                jobs.append(AdaptedJob(w))
            else:
                ident = 1 + (len(jobs) if adapter.storage == "onchip" else index) % adapter.resident
                jobs.append(AdaptedJob(w, ident, random_weights(adapter, rank, n, m, rng)))
                rows += rank
            index += 1
        lead = next((k for k, j in enumerate(jobs) if j.adapter), None)
        if adapter.variant == "ternary-a" and lead is not None:
            need = -(-rows // core.keys) * core.keys
            first = jobs[lead]
            jobs[lead] = AdaptedJob(
                first.w[:, : max(1, min(first.w.shape[1], core.max_m - need))],
                first.adapter,
                _trim(first.weights, core.max_m - need),
            )
        out.append(AdaptedGroup(x, tuple(jobs)))
    return out


def _trim(weights: AdapterWeights | None, m: int) -> AdapterWeights | None:
    """``weights`` for at most ``m`` outputs (a ``ternary-a`` first job leaves room for its u tiles)."""
    if weights is None:
        return None
    b = None if weights.b is None else np.asarray(weights.b)[:m]
    bvec = None if weights.bvec is None else np.asarray(weights.bvec)[:m]
    return AdapterWeights(
        a=weights.a,
        b=b,
        s=weights.s,
        d=weights.d,
        bvec=bvec,
        shift_u=weights.shift_u,
        shift_s=weights.shift_s,
        shift_v=weights.shift_v,
    )
