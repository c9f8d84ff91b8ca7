"""The one checker of the core: stimulus -> :class:`~sim.reference.ReferenceModel` -> bit-for-bit comparison.

Every simulation backend (Amaranth's simulator in :mod:`sim.pysim_bench`, cocotb + Verilator or
Icarus in :mod:`sim.cocotb_bench.lut_core_tb`) implements :class:`Backend`: it pushes a list of
:class:`Job` through one core and returns one :class:`JobResult` per job. Everything else is
here and shared: the standard :func:`scenario` job lists (built from :mod:`sim.stimulus`), the
payload words on the ports (:func:`input_words`, with garbage in lanes past N, and
:func:`output_lanes`), the expected outputs
(:func:`expected_outputs`), the comparison (:func:`verify`: every output lane, the ``last`` flag of
every output tile and, where the scenario asks for it, the cycle count of every job) and the
cycle bounds for hang detection (:func:`timeout_cycles` for a whole job list,
:func:`idle_cycles_limit` for a deadlock: no transfer on any stream).

Example
-------
>>> import asyncio
>>> from hwgen.description.config import CoreConfig
>>> from sim.check import run_scenario, scenario
>>> from sim.pysim_bench import PysimBackend
>>> cfg = CoreConfig(mu=2, luts=2, keys=3, max_n=12, max_m=9)
>>> results = asyncio.run(run_scenario(PysimBackend(cfg), scenario(cfg, "random_shapes", seed=1)))
>>> len(results)
8
"""

from __future__ import annotations

import math
import random
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from hwgen.description.config import CoreConfig
from hwgen.description.key_encoding import key_stream
from hwgen.description.lanes import pack_lanes, unpack_lanes
from hwgen.description.schedule import job_cycles, tiles

from .reference import ReferenceModel
from .stimulus import act_range, extreme_activations, random_gemv

__all__ = [
    "Job",
    "JobResult",
    "Traffic",
    "Scenario",
    "Backend",
    "Mismatch",
    "SCENARIOS",
    "scenario",
    "random_shapes",
    "activation_rows",
    "Words",
    "input_words",
    "output_lanes",
    "expected_outputs",
    "timeout_cycles",
    "idle_cycles_limit",
    "mismatches",
    "verify",
    "run_scenario",
]

#: How many problems a :class:`Mismatch` message lists (it always gives the total).
SHOWN = 8


@dataclass(frozen=True)
class Job:
    """One GEMV ``y = activations @ weights``.

    Parameters
    ----------
    activations : array-like of int, shape (N,)
        Integers in the ``act`` range, or bit patterns of the ``act`` format for FP cores.
    weights : array-like of {-1, 0, 1}, shape (R, M)
        Ternary weights, R >= N. Rows past N (up to the last input tile) are sent as keys but
        must not count: the core zeroes activation lanes past N.
    """

    activations: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "activations", np.asarray(self.activations, dtype=np.int64))
        object.__setattr__(self, "weights", np.asarray(self.weights, dtype=np.int8))
        if self.activations.ndim != 1 or self.weights.ndim != 2 or len(self.weights) < len(self.activations):
            raise ValueError(f"a job needs activations of shape (N,) and weights of shape (R >= N, M), got "
                             f"{self.activations.shape} and {self.weights.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, m)`` as sent in the job descriptor."""
        return len(self.activations), self.weights.shape[1]

    def __repr__(self) -> str:
        n, m = self.shape
        return f"Job(n={n}, m={m})"


@dataclass(frozen=True)
class JobResult:
    """What a backend observed for one job.

    Attributes
    ----------
    y : list of int
        The M output lanes: signed integers, or bit patterns of the ``acc`` format for FP cores.
    last : tuple of bool
        The ``last`` flag of each output tile of the job, in order.
    cycles : int
        Clock edges from the job descriptor's transfer to the last output tile's transfer.
    accepted : int
        The edge of the job descriptor's transfer (counted from the backend's start).
    """

    y: list[int]
    last: tuple[bool, ...]
    cycles: int
    accepted: int


@dataclass(frozen=True)
class Traffic:
    """How a backend drives the streams around the jobs.

    Attributes
    ----------
    in_gaps : float
        Probability of an idle cycle before each input transfer (each input stream).
    out_stall : float
        Probability per cycle that ``out.ready`` is low.
    one_at_a_time : bool
        Offer a job's inputs only after the previous job's last output tile (else back to back).
    seed : int
        Seed of the backend's randomness: gaps, stalls and the garbage in idle payloads and in
        activation lanes past N.
    """

    in_gaps: float = 0.0
    out_stall: float = 0.0
    one_at_a_time: bool = False
    seed: int = 0

    @property
    def unstalled(self) -> bool:
        """No gaps and no backpressure: every stream runs at full speed."""
        return self.in_gaps == 0 and self.out_stall == 0


@dataclass(frozen=True)
class Scenario:
    """A named job list with its traffic; ``exact_cycles``: every job must take
    :func:`hwgen.description.schedule.job_cycles` cycles."""

    name: str
    jobs: tuple[Job, ...]
    traffic: Traffic = field(default_factory=Traffic)
    exact_cycles: bool = False


class Mismatch(AssertionError):
    """A backend's outputs differ from the reference model's (or break the output protocol)."""


class Backend(ABC):
    """A way to run jobs on one core (after Glasgow's ``AbstractAssembly``).

    Implementations reset the core, push each job's :func:`input_words` on the ``job``, ``act``
    and ``keys`` streams as ``traffic`` says, split the ``out`` stream into jobs by
    :func:`hwgen.description.schedule.tiles` (:func:`output_lanes` of each tile), and raise on a
    hang or a stream-protocol violation.
    They do not compare values: :func:`verify` does.
    """

    #: The configuration of the core under test.
    cfg: CoreConfig

    @abstractmethod
    async def run_jobs(self, jobs: Sequence[Job], traffic: Traffic) -> list[JobResult]:
        """Run ``jobs`` on a freshly reset core; one :class:`JobResult` per job, in order."""


# --------------------------------------------------------------------------------------------
# Stimulus


def _not_multiple(gen: np.random.Generator, step: int, hi: int) -> int:
    """A value in [1, hi] that is not a multiple of ``step`` (if one exists)."""
    choices = [v for v in range(1, hi + 1) if v % step] or [hi]
    return int(choices[gen.integers(len(choices))])


def random_shapes(cfg: CoreConfig, gen: np.random.Generator) -> list[tuple[int, int]]:
    """Eight shapes covering the edges: N % tile_n != 0, M % keys != 0, M % (keys*reuse) != 0,
    N = 1, M = 1, N = max_n, M = max_m, one full tile, and a random one."""
    small_n = min(cfg.max_n, 3 * cfg.tile_n)
    small_m = min(cfg.max_m, 3 * cfg.keys * cfg.reuse)
    block = cfg.keys * cfg.reuse
    return [
        (_not_multiple(gen, cfg.tile_n, small_n), _not_multiple(gen, cfg.keys, small_m)),
        (1, _not_multiple(gen, cfg.keys, small_m)),
        (_not_multiple(gen, cfg.tile_n, small_n), 1),
        (1, 1),
        (cfg.max_n, _not_multiple(gen, block, small_m)),
        (_not_multiple(gen, cfg.tile_n, small_n), cfg.max_m),
        (min(cfg.max_n, cfg.tile_n), min(cfg.max_m, cfg.keys)),
        (int(gen.integers(1, cfg.max_n, endpoint=True)),
         int(gen.integers(1, min(cfg.max_m, 4 * block), endpoint=True))),
    ]


def _random_jobs(cfg: CoreConfig, gen: np.random.Generator,
                 shapes: Sequence[tuple[int, int]]) -> tuple[Job, ...]:
    return tuple(Job(*random_gemv(cfg, gen, n, m)) for n, m in shapes)


def _random_shapes_jobs(cfg: CoreConfig, gen: np.random.Generator, seed: int) -> Scenario:
    jobs = _random_jobs(cfg, gen, random_shapes(cfg, gen))
    return Scenario("random_shapes", jobs, Traffic(one_at_a_time=True, seed=seed))


def _zero_weights(cfg: CoreConfig, gen: np.random.Generator, seed: int) -> Scenario:
    jobs = []
    for n, m in [(cfg.max_n, min(cfg.max_m, cfg.keys * cfg.reuse + 1)), random_shapes(cfg, gen)[0], (1, 1)]:
        a, _ = random_gemv(cfg, gen, n, m)
        jobs.append(Job(a, np.zeros((n, m), dtype=np.int8)))
    return Scenario("zero_weights", tuple(jobs), Traffic(one_at_a_time=True, seed=seed))


def _extreme_activations(cfg: CoreConfig, gen: np.random.Generator, seed: int) -> Scenario:
    n = cfg.max_n
    m = min(cfg.max_m, cfg.keys * cfg.reuse + max(1, cfg.keys // 2))
    jobs = tuple(Job(np.full(n, value), np.full((n, m), weight))
                 for value in extreme_activations(cfg) for weight in (1, -1))
    return Scenario("extreme_activations", jobs, Traffic(one_at_a_time=True, seed=seed))


def _backpressure_and_gaps(cfg: CoreConfig, gen: np.random.Generator, seed: int) -> Scenario:
    shapes = random_shapes(cfg, gen)
    gen.shuffle(shapes)
    return Scenario("backpressure_and_gaps", _random_jobs(cfg, gen, shapes),
                    Traffic(in_gaps=0.3, out_stall=0.4, seed=seed))


def _back_to_back_jobs(cfg: CoreConfig, gen: np.random.Generator, seed: int) -> Scenario:
    s = random_shapes(cfg, gen)
    shapes = [s[3], s[0], s[0], s[4], s[1], s[3], s[2], s[7]]
    return Scenario("back_to_back_jobs", _random_jobs(cfg, gen, shapes), Traffic(seed=seed))


def _unstalled_cycle_count(cfg: CoreConfig, gen: np.random.Generator, seed: int) -> Scenario:
    s = random_shapes(cfg, gen)
    shapes = [s[0], s[3], s[1], s[2], s[4]]
    return Scenario("unstalled_cycle_count", _random_jobs(cfg, gen, shapes),
                    Traffic(one_at_a_time=True, seed=seed), exact_cycles=True)


_SCENARIOS = {
    "random_shapes": _random_shapes_jobs,
    "zero_weights": _zero_weights,
    "extreme_activations": _extreme_activations,
    "backpressure_and_gaps": _backpressure_and_gaps,
    "back_to_back_jobs": _back_to_back_jobs,
    "unstalled_cycle_count": _unstalled_cycle_count,
}
#: The standard scenarios, in order:
#:
#: ``random_shapes``
#:     Random GEMVs of the :func:`random_shapes`, one job at a time.
#: ``zero_weights``
#:     All-zero weights (N = max_n among them): zero outputs, except in FP ``mac`` cores, where
#:     ``inf * +0.0`` is NaN and ``-a * +0.0`` is -0, as the reference model says.
#: ``extreme_activations``
#:     N = max_n activations all at one :func:`sim.stimulus.extreme_activations` value, weights
#:     all +1, then all -1: the accumulator bound (integers); overflow to inf, subnormal sums and
#:     signed zeros (FP).
#: ``backpressure_and_gaps``
#:     The random shapes shuffled, back to back, with input gaps (0.3) and output stalls (0.4).
#: ``back_to_back_jobs``
#:     Jobs of different shapes queued at once, every stream at full speed.
#: ``unstalled_cycle_count``
#:     Jobs one at a time at full speed; each must take exactly ``job_cycles`` cycles.
SCENARIOS = tuple(_SCENARIOS)


def scenario(cfg: CoreConfig, name: str, seed: int = 0) -> Scenario:
    """The standard scenario ``name`` (one of :data:`SCENARIOS`) for ``cfg``, deterministic in ``seed``."""
    try:
        make = _SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
    key = f"{seed}:{name}"
    return make(cfg, np.random.default_rng([seed, zlib.crc32(name.encode())]), zlib.crc32(key.encode()))


def activation_rows(cfg: CoreConfig, job: Job, rng: random.Random) -> list[list[int]]:
    """The activation lanes of ``job``: one row of ``tile_n`` lanes per input tile; lanes past N
    carry random values from ``rng`` (the core must ignore them)."""
    n, m = job.shape
    t_count = tiles(cfg, n, m)[0]
    lo, hi = act_range(cfg)
    a = job.activations.tolist()
    flat = a + [rng.randint(lo, hi) for _ in range(t_count * cfg.tile_n - n)]
    return [flat[t * cfg.tile_n:(t + 1) * cfg.tile_n] for t in range(t_count)]


@dataclass(frozen=True)
class Words:
    """The payload words of one job on the input streams, as the ports carry them (LSB first)."""

    job: int
    act: list[int]
    keys: list[int]


def input_words(cfg: CoreConfig, job: Job, rng: random.Random) -> Words:
    """The ``job`` descriptor (``n``, then ``m`` at bit ``max_n.bit_length()``), the ``act`` rows of
    :func:`activation_rows` and the ``keys`` words of :func:`hwgen.description.key_encoding.key_stream`
    (element ``(l, k)`` at bits ``[(l*keys + k) * key_bits, +key_bits)``)."""
    n, m = job.shape
    if not (1 <= n <= cfg.max_n and 1 <= m <= cfg.max_m):
        raise ValueError(f"job shape n={n}, m={m} outside [1, {cfg.max_n}] x [1, {cfg.max_m}]")
    keys = [pack_lanes(word.reshape(-1).tolist(), cfg.key_bits) for word in key_stream(cfg, job.weights)]
    return Words(job=n | (m << cfg.max_n.bit_length()),
                 act=[pack_lanes(row, cfg.act_width) for row in activation_rows(cfg, job, rng)], keys=keys)


def output_lanes(cfg: CoreConfig, payload: int) -> tuple[list[int], bool]:
    """Split an ``out`` payload into its ``keys`` lanes (signed for integer cores, bit patterns for
    FP cores) and its ``last`` flag."""
    data_bits = cfg.keys * cfg.acc_width
    lanes = unpack_lanes(payload & ((1 << data_bits) - 1), cfg.keys, cfg.acc_width, signed=not cfg.is_fp)
    return lanes, bool((payload >> data_bits) & 1)


def idle_cycles_limit(cfg: CoreConfig, traffic: Traffic) -> int:
    """The most cycles a working core may go without a transfer on any stream under ``traffic``;
    a backend that sees more reports a deadlock at once instead of waiting for
    :func:`timeout_cycles`.

    Some stream moves at least once per ``pipeline_latency + acc_latency + 1`` cycles (the drain
    of the pipeline, a step held by the accumulator hazard) unless the bench itself withholds
    it: a run of ``r`` idle input cycles or stalled output cycles has probability ``p**r`` for
    ``p = max(in_gaps, out_stall)``; runs past 10^-15 of probability are not waited for."""
    p = max(traffic.in_gaps, traffic.out_stall)
    bench_run = math.ceil(math.log(1e-15) / math.log(p)) if p > 0 else 0
    return cfg.pipeline_latency + cfg.acc_latency + 1 + bench_run + 16


def timeout_cycles(cfg: CoreConfig, jobs: Sequence[Job], traffic: Traffic) -> int:
    """A generous bound on the cycles ``jobs`` may take under ``traffic``, for hang detection."""
    base = sum(job_cycles(cfg, *j.shape) + 2 * tiles(cfg, *j.shape)[0] for j in jobs)
    slow = 1 / (1 - traffic.in_gaps) / (1 - traffic.out_stall)
    return int(4 * base * slow) + 200


# --------------------------------------------------------------------------------------------
# Expected values and comparison


def expected_outputs(cfg: CoreConfig, job: Job, model: ReferenceModel | None = None) -> list[int]:
    """``y`` of ``job`` from the reference model (integer cores: also checked against ``a @ W`` in int64).

    Raises
    ------
    AssertionError
        If an integer core's reference result differs from the exact product.
    """
    model = ReferenceModel(cfg) if model is None else model
    n, _ = job.shape
    a = torch.from_numpy(job.activations)
    w = torch.from_numpy(job.weights[:n])
    y = model.gemv(a, w)
    if not cfg.is_fp:  # integer sums are exact: the model must also equal a @ W
        exact = a @ w.to(torch.int64)
        if y.dtype != torch.int64 or not torch.equal(y, exact):
            raise AssertionError(f"reference model disagrees with a @ W for {job}: first differences at "
                                 f"{torch.nonzero(y != exact).flatten()[:SHOWN].tolist()}")
    return y.tolist()


def _hex(cfg: CoreConfig, value: int) -> str:
    width = cfg.acc_width
    text = f"{value & ((1 << width) - 1):#0{2 + -(-width // 4)}x}"
    return text if cfg.is_fp else f"{text} ({value})"


def mismatches(cfg: CoreConfig, scenario: Scenario, results: Sequence[JobResult]) -> list[str]:
    """Every difference between ``results`` and the reference model, one line each (empty if none).

    Compares, for each job: every output lane bit for bit (FP: the bit patterns), the ``last``
    flags of its output tiles, and with ``scenario.exact_cycles`` its cycle count.
    """
    jobs = scenario.jobs
    if len(results) != len(jobs):
        return [f"{scenario.name}: {len(results)} results for {len(jobs)} jobs"]
    model = ReferenceModel(cfg)
    problems = []
    for index, (job, result) in enumerate(zip(jobs, results, strict=True)):
        n, m = job.shape
        where = f"{scenario.name} job {index} (n={n}, m={m})"
        o_count = tiles(cfg, n, m)[1]
        want_last = tuple(o == o_count - 1 for o in range(o_count))
        if tuple(result.last) != want_last:
            problems.append(f"{where}: `last` flags of the output tiles are {list(map(int, result.last))}, "
                            f"expected {list(map(int, want_last))}")
        if len(result.y) != m:
            problems.append(f"{where}: {len(result.y)} outputs, expected {m}")
            continue
        for i, (e, g) in enumerate(zip(expected_outputs(cfg, job, model), result.y, strict=True)):
            if e != g:
                problems.append(f"{where} output tile {i // cfg.keys} lane {i % cfg.keys} (y[{i}]): "
                                f"expected {_hex(cfg, e)}, got {_hex(cfg, g)}")
        if scenario.exact_cycles and result.cycles != job_cycles(cfg, n, m):
            problems.append(f"{where}: {result.cycles} cycles, expected job_cycles = {job_cycles(cfg, n, m)}")
    return problems


def verify(cfg: CoreConfig, scenario: Scenario, results: Sequence[JobResult]) -> None:
    """Raise :class:`Mismatch` listing the first :data:`SHOWN` of :func:`mismatches`, if any."""
    problems = mismatches(cfg, scenario, results)
    if problems:
        shown = "\n  ".join(problems[:SHOWN])
        more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        raise Mismatch(f"{cfg.name}: {len(problems)} mismatch(es) against the reference model in "
                       f"{scenario.name} ({len(scenario.jobs)} jobs, {scenario.traffic}):\n  {shown}{more}")


async def run_scenario(backend: Backend, scenario: Scenario) -> list[JobResult]:
    """Run ``scenario`` on ``backend`` and :func:`verify` the results; return them."""
    results = await backend.run_jobs(scenario.jobs, scenario.traffic)
    verify(backend.cfg, scenario, results)
    return results
