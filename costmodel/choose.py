"""Pick the LUT group size ``mu`` the cost model rates best for a core (:func:`choose_mu`), or every
parameter left free for a clock target (:func:`choose_for_clock`), and resolve a design from a
design file and given options into one :class:`~hwgen.description.config.CoreConfig`.

For a square core (``core=C``: a C x C tile, ``luts = ceil(C / mu)``) the figure of merit is area
per *useful* MAC/cycle, ``area / (C * C)``: lanes wasted when mu does not divide C cost area
and do nothing. With explicit ``luts`` and ``keys`` it is area per MAC/cycle of the tile,
``area / (luts * mu * keys)``. The candidates are ``1..costs.max_mu``: the group sizes the
unit-cost table prices (the one mu range of the cost model).

With a clock target of F MHz, :func:`choose_for_clock` searches the parameters not given
(:data:`CLOCK_PARAMS`: FP ``adder_stages``, tree ``pipeline`` cuts, ``reuse`` and a free ``mu``) for
the least area per useful MAC/s among the candidates whose predicted critical path is at most
1000/F ns. A pipelined accumulate adder (``acc_latency = adder_stages`` of an FP core) makes an
input tile take ``max(reuse, acc_latency + 1)`` cycles (:mod:`hwgen.description.schedule`), so
useful MACs/cycle are the tile's times ``min(1, reuse / (acc_latency + 1))``; otherwise ``reuse``
only adds accumulators.

Example::

    >>> from costmodel import resolve_design
    >>> design = resolve_design({"act": "int8", "core": 64})
    >>> design.config.mu, design.mu_source  # doctest: +SKIP
    (3, "cost model's best: ... um^2 per MAC/cycle (vs mu=1: ..., ...)")
    >>> fast = resolve_design({"act": "fp16", "core": 16}, clock_mhz=100)
    >>> fast.clock_choice.describe()  # doctest: +SKIP
    '100 MHz: chose adder_stages=..., pipeline=..., reuse=..., mu=... (model: ... ns, slack +... ns; ...)'
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hwgen.description.arrays import ConfigArrays
from hwgen.description.config import (
    DEFAULT_CORE,
    FP_FORMATS,
    MAX_ADDER_STAGES,
    ConfigError,
    CoreConfig,
    core_config,
    default_mu,
    load_design,
    luts_for,
)
from hwgen.description.lut_plan import MAX_MU
from hwgen.description.tree_plan import tree_depth

from . import model
from .model import UnpricedError, estimate
from .unit_costs import UnitCosts, load_unit_costs

__all__ = ["MuChoice", "choose_mu", "mu_candidates", "ResolvedDesign", "resolve_design", "CLOCK_PARAMS",
           "MAX_CLOCK_REUSE", "ClockChoice", "ClockUnmetError", "choose_for_clock"]


def mu_candidates(costs: UnitCosts | None = None) -> tuple[int, ...]:
    """The group sizes a mu search considers: ``1..costs.max_mu`` (the unit-cost table's range;
    beyond it the table cannot price the fetchers), capped at the generator's ``MAX_MU``."""
    c = costs or load_unit_costs()
    return tuple(range(1, min(c.max_mu, MAX_MU) + 1))


@dataclass(frozen=True)
class MuChoice:
    """The chosen ``mu`` and the figure of merit of every candidate.

    Attributes
    ----------
    mu : int
        The chosen LUT group size (activations per LUT).
    area_per_mac_um2 : dict[int, float]
        Area per useful MAC/cycle of every valid candidate, in um^2.
    """

    mu: int
    area_per_mac_um2: dict[int, float]

    def describe(self) -> str:
        """One line: the chosen figure of merit against the other candidates'."""
        best = self.area_per_mac_um2[self.mu]
        others = ", ".join(f"mu={m}: {a:,.0f}" for m, a in sorted(self.area_per_mac_um2.items())
                           if m != self.mu)
        return f"cost model's best: {best:,.0f} um^2 per MAC/cycle (vs {others})"


def choose_mu(params: Mapping[str, object], *, costs: UnitCosts | None = None) -> MuChoice:
    """Best ``mu`` for the :func:`hwgen.description.config.core_config` arguments ``params`` (without ``mu``).

    Parameters
    ----------
    params : Mapping[str, object]
        Keyword arguments of :func:`~hwgen.description.config.core_config`, without ``mu``.
    costs : UnitCosts, optional
        Unit-cost table (default: :func:`costmodel.load_unit_costs`); its ``max_mu`` bounds the search.

    Raises
    ------
    ConfigError
        When no candidate makes a valid config (the first candidate's problems); candidates that
        make an invalid config (e.g. ``max_n`` below the tile) are skipped.
    """
    c = costs or load_unit_costs()
    merit: dict[int, float] = {}
    first_error = None
    for mu in mu_candidates(c):
        try:
            cfg = core_config(**params, mu=mu)
        except ConfigError as exc:
            first_error = first_error or exc
            continue
        square = params.get("core") and "luts" not in params
        useful = params["core"] ** 2 if square else cfg.tile_n * cfg.tile_m
        merit[mu] = estimate(cfg, costs=c).area_um2 / useful
    if not merit:
        raise first_error
    return MuChoice(min(merit, key=merit.get), merit)


#: The parameters a clock target chooses when they are not given, in the order they are reported:
#: ``adder_stages`` (floating-point cores only, 0..8), ``pipeline`` (0..1 + ceil(log2(luts))),
#: ``reuse`` (1..:data:`MAX_CLOCK_REUSE`) and ``mu`` (``lut`` cores, :func:`mu_candidates`).
CLOCK_PARAMS = ("adder_stages", "pipeline", "reuse", "mu")
#: The largest ``reuse`` (output tiles per LUT build) a clock search tries.
MAX_CLOCK_REUSE = 4


def _check_clock(clock_mhz: object) -> float:
    if isinstance(clock_mhz, bool) or not isinstance(clock_mhz, numbers.Real) or not (
            math.isfinite(clock_mhz) and clock_mhz > 0):
        raise ConfigError([f"`clock_mhz` must be a positive number of MHz, got clock_mhz={clock_mhz!r}"])
    return float(clock_mhz)


def _values(values: Mapping[str, int]) -> str:
    return ", ".join(f"{name}={value}" for name, value in values.items())


@dataclass(frozen=True, kw_only=True)
class ClockChoice:
    """The parameters a clock target chose (:func:`choose_for_clock`) and the model's figures of the core.

    Attributes
    ----------
    clock_mhz : float
        The clock target, in MHz.
    chosen : dict[str, int]
        The value chosen for each free parameter (of :data:`CLOCK_PARAMS`, in that order); empty when
        every parameter searched was given.
    config : CoreConfig
        The chosen core.
    critical_path_ns : float
        Its predicted critical path (as :attr:`costmodel.CostReport.critical_path_ns`), in ns.
    area_um2 : float
        Its predicted standard-cell area, in um^2.
    useful_macs_per_cycle : float
        Its useful ternary MACs per cycle in steady state (MAC/cycle; see the module docstring).
    candidates : int
        Candidates priced: valid configs the unit-cost table prices.
    meeting : int
        Candidates whose predicted critical path is at most :attr:`target_ns`.
    """

    clock_mhz: float
    chosen: dict[str, int]
    config: CoreConfig = field(compare=False)
    critical_path_ns: float
    area_um2: float
    useful_macs_per_cycle: float
    candidates: int
    meeting: int

    @property
    def target_ns(self) -> float:
        """The clock period, ``1000 / clock_mhz``, in ns."""
        return 1000.0 / self.clock_mhz

    @property
    def slack_ns(self) -> float:
        """Predicted slack, ``target_ns - critical_path_ns``, in ns (>= 0)."""
        return self.target_ns - self.critical_path_ns

    @property
    def area_per_gmacs_um2(self) -> float:
        """Area per useful GMAC/s at the target clock, in um^2 (the figure of merit)."""
        return self.area_um2 / (self.useful_macs_per_cycle * self.clock_mhz / 1000.0)

    def describe(self) -> str:
        """One line: the target, what was chosen, the predicted critical path and slack, and how
        many candidates meet the target."""
        what = f"chose {_values(self.chosen)}" if self.chosen else "nothing left to choose"
        return (f"{self.clock_mhz:g} MHz: {what} (model: {self.critical_path_ns:.2f} ns, slack "
                f"{self.slack_ns:+.2f} ns; {self.meeting} of {self.candidates} candidates meet it)")

    def to_dict(self) -> dict[str, object]:
        """The ``clock`` object of the CLI's JSON documents (times in ns, areas in um^2)."""
        return {"target_mhz": self.clock_mhz, "target_ns": self.target_ns, "chosen": dict(self.chosen),
                "predicted_critical_path_ns": self.critical_path_ns,
                "predicted_slack_ns": round(self.slack_ns, 3), "met": True, "candidates": self.candidates,
                "meeting": self.meeting, "useful_macs_per_cycle": self.useful_macs_per_cycle,
                "area_um2": self.area_um2, "area_per_useful_gmacs_um2": self.area_per_gmacs_um2}


class ClockUnmetError(ConfigError):
    """No candidate of :func:`choose_for_clock` meets the clock target; the one problem names the
    fastest candidate.

    Attributes
    ----------
    clock_mhz : float
        The clock target, in MHz.
    fastest_ns : float
        The least predicted critical path of the candidates, in ns.
    fastest : dict[str, int]
        The free parameters' values of that candidate.
    """

    def __init__(self, clock_mhz: float, fastest_ns: float, fastest: Mapping[str, int], *,
                 name: str = "clock_mhz"):
        self.clock_mhz, self.fastest_ns, self.fastest, self.name = clock_mhz, fastest_ns, dict(fastest), name
        reach = math.floor(10000.0 / fastest_ns) / 10  # rounded down: a target of this much is met
        chosen = f" ({_values(self.fastest)})" if self.fastest else ""
        super().__init__([(f"{name} {clock_mhz:g}: no design meets {1000.0 / clock_mhz:.3f} ns; the fastest "
                           f"with the given parameters reaches {reach:.1f} MHz{chosen}")])

    def named(self, name: str) -> ClockUnmetError:
        """The same error with the target named ``name`` (e.g. ``"--clock-mhz"``)."""
        return ClockUnmetError(self.clock_mhz, self.fastest_ns, self.fastest, name=name)


def _pipeline_range(base: Mapping[str, object], mu: object) -> range:
    """``0..1 + ceil(log2(luts))`` for the ``luts`` the config of ``base`` and ``mu`` gets (``range(1)``
    when it cannot tell: the config is refused anyway)."""
    if mu is None:
        mu = default_mu(base.get("arch", "lut"))
    luts = base.get("luts")
    core = base.get("core")
    if luts is None and isinstance(core, int) and isinstance(mu, int) and core >= 1 and mu >= 1:
        luts = luts_for(core, mu)
    if not isinstance(luts, int) or isinstance(luts, bool) or luts < 1:
        return range(1)
    return range(2 + int(tree_depth(luts)))


def choose_for_clock(params: Mapping[str, object], clock_mhz: float, *, costs: UnitCosts | None = None,
                     fixed: Collection[str] | None = None) -> ClockChoice:
    """The core of ``params`` with the least area per useful MAC/s of those predicted to meet ``clock_mhz``.

    Candidates: every combination of the free parameters of :data:`CLOCK_PARAMS` (FP
    ``adder_stages`` 0..8, ``pipeline`` 0..1 + ceil(log2(luts)), ``reuse`` 1..:data:`MAX_CLOCK_REUSE`,
    ``mu`` of a ``lut`` core in :func:`mu_candidates`); those that make an invalid config or one the
    unit-cost table cannot price are skipped. A candidate meets the target when its predicted
    critical path (:attr:`costmodel.CostReport.critical_path_ns`) is at most ``1000 / clock_mhz`` ns.
    Useful MAC/s are useful MACs per cycle (``C * C`` for a square ``core`` C, else
    ``tile_n * tile_m``; times ``min(1, reuse / (acc_latency + 1))``, see the module docstring) times
    the clock. Ties go to the shorter critical path, then to the smaller values.

    Parameters
    ----------
    params : Mapping[str, object]
        Keyword arguments of :func:`~hwgen.description.config.core_config` (``core``, or ``luts`` and
        ``keys``, are needed).
    clock_mhz : float
        The clock target, in MHz (> 0).
    costs : UnitCosts, optional
        Unit-cost table (default: :func:`costmodel.load_unit_costs`).
    fixed : Collection[str], optional
        The parameters never changed (default: every key of ``params``); a parameter of
        :data:`CLOCK_PARAMS` in ``params`` but not in ``fixed`` is searched.

    Returns
    -------
    ClockChoice

    Raises
    ------
    ClockUnmetError
        When no candidate meets the target (it names the fastest one and its clock).
    UnpricedError
        When the unit-cost table prices no candidate (the first one's problems).
    ConfigError
        For ``clock_mhz`` not a positive number, or when no candidate makes a valid config (the
        first one's problems).

    Example::

        >>> choice = choose_for_clock({"act": "fp16", "core": 8}, 150)
        >>> choice.slack_ns >= 0
        True
    """
    f = _check_clock(clock_mhz)
    c = costs or load_unit_costs()
    fixed = set(params) if fixed is None else set(fixed)
    base = {k: v for k, v in params.items() if k in fixed or k not in CLOCK_PARAMS}
    arch = base.get("arch", "lut")
    act = base.get("act", CoreConfig.__dataclass_fields__["act"].default)
    ranges: dict[str, object] = {}
    if "adder_stages" not in base and act in FP_FORMATS:
        ranges["adder_stages"] = range(MAX_ADDER_STAGES + 1)
    if "reuse" not in base:
        ranges["reuse"] = range(1, MAX_CLOCK_REUSE + 1)
    mus = mu_candidates(c) if "mu" not in base and arch == "lut" else (base.get("mu"),)
    free = [k for k in CLOCK_PARAMS if k in ranges or (k == "pipeline" and k not in base)
            or (k == "mu" and "mu" not in base and arch == "lut")]
    cfgs, first_error, first_unpriced = [], None, None
    for mu in mus:
        pipelines = _pipeline_range(base, mu) if "pipeline" not in base else (base["pipeline"],)
        for stages in ranges.get("adder_stages", (base.get("adder_stages"),)):
            for pipeline in pipelines:
                for reuse in ranges.get("reuse", (base.get("reuse"),)):
                    values = {"adder_stages": stages, "pipeline": pipeline, "reuse": reuse, "mu": mu}
                    try:
                        cfg = core_config(**{**base, **{k: v for k, v in values.items() if v is not None}})
                    except ConfigError as exc:
                        first_error = first_error or exc
                        continue
                    problems = (c.unpriced(cfg.mu)
                                + c.unpriced_reduce(cfg.fp_reduce, cfg.act, cfg.acc_type.name))
                    if problems:
                        first_unpriced = first_unpriced or UnpricedError(problems)
                        continue
                    cfgs.append(cfg)
    if not cfgs:
        raise first_unpriced or first_error
    v = ConfigArrays.of(*cfgs)
    # rounded as estimate() reports them, so that its critical path decides as here
    area = np.array([round(float(a), 1) for a in sum(model.area_groups(v, c).values())])
    path = model.on_distinct(lambda u: model.critical_path_array(u, c), v, model.CRITICAL_PATH_FIELDS)
    path = np.array([round(float(p), 3) for p in path])
    square = "core" in base and "luts" not in base
    issue = np.minimum(1.0, v.reuse / (v.acc_latency + 1))  # steps per cycle (schedule: max(R, lat + 1))
    useful = (base["core"] if square else v.tile_n) * v.tile_m * issue
    merit = area / useful
    meets = np.flatnonzero(path <= 1000.0 / f)
    if not len(meets):
        i = int(np.lexsort((merit, path))[0])
        raise ClockUnmetError(f, float(path[i]), {k: getattr(cfgs[i], k) for k in free})
    i = int(meets[np.lexsort((path[meets], merit[meets]))[0]])
    return ClockChoice(clock_mhz=f, chosen={k: getattr(cfgs[i], k) for k in free}, config=cfgs[i],
                       critical_path_ns=float(path[i]), area_um2=float(area[i]),
                       useful_macs_per_cycle=float(useful[i]), candidates=len(cfgs), meeting=len(meets))


@dataclass(frozen=True, kw_only=True)
class ResolvedDesign:
    """A design resolved from a design file and given options, and why its ``mu`` is what it is.

    Attributes
    ----------
    config : CoreConfig
        The core.
    mu_source : str
        Where ``mu`` came from: the name it was given under (``"given"``, or e.g. ``"--mu"``),
        ``"fixed at 1 for arch mac"`` (a baseline), ``"design file PATH"``, or the cost model's
        choice (:meth:`MuChoice.describe`).
    mu_choice : MuChoice or None
        The cost model's choice when it picked ``mu`` without a clock target, else ``None``.
    clock_choice : ClockChoice or None
        The cost model's choice for a clock target (``clock_mhz``), else ``None``.
    """

    config: CoreConfig
    mu_source: str
    mu_choice: MuChoice | None = field(default=None, compare=False)
    clock_choice: ClockChoice | None = field(default=None, compare=False)


def resolve_design(params: Mapping[str, object], *, design_file: str | Path | None = None,
                   costs: UnitCosts | None = None, option_names: Mapping[str, str] | None = None,
                   clock_mhz: float | None = None) -> ResolvedDesign:
    """The core that a design file and given parameters describe, as ``hwgen emit`` builds it.

    The ``[core]`` table of ``design_file`` is read first and ``params`` override it; a ``core``
    given in ``params`` replaces the file's ``luts`` and ``keys``. ``core`` defaults to
    :data:`~hwgen.description.config.DEFAULT_CORE` when neither ``core`` nor both ``luts`` and
    ``keys`` are set, and a ``lut`` core without ``mu`` gets :func:`choose_mu`'s.

    Parameters
    ----------
    params : Mapping[str, object]
        Given :func:`~hwgen.description.config.core_config` arguments; ``None`` values count as not given.
    design_file : str or Path, optional
        A TOML design file (:func:`~hwgen.description.config.load_design`).
    costs : UnitCosts, optional
        Unit-cost table for :func:`choose_mu` (default: :func:`costmodel.load_unit_costs`).
    option_names : Mapping[str, str], optional
        How the caller names parameters in :attr:`ResolvedDesign.mu_source` and in errors, e.g.
        ``{"mu": "--mu", "arch": "--arch", "clock_mhz": "--clock-mhz"}`` (default: ``"given"`` for
        ``mu``, the parameter's own name for the others).
    clock_mhz : float, optional
        A clock target, in MHz (> 0): choose the free parameters with :func:`choose_for_clock`.

    Raises
    ------
    ConfigError
        For an unreadable design file or an invalid config (one line per problem, naming the parameter).
    ClockUnmetError
        When no candidate meets ``clock_mhz`` (the target named as in ``option_names``).
    """
    names = dict(option_names or {})
    given = {key: value for key, value in params.items() if value is not None}
    merged = load_design(design_file) if design_file is not None else {}
    if "core" in given:  # a core size given replaces the file's L and K
        merged.pop("luts", None)
        merged.pop("keys", None)
    merged.update(given)
    if "core" not in merged and not {"luts", "keys"} <= merged.keys():
        merged["core"] = DEFAULT_CORE
    if clock_mhz is not None:
        return _resolve_for_clock(merged, given, design_file, costs, names, clock_mhz)
    choice = None
    source = _fixed_mu_source(given, merged, design_file, names)
    if source is None:
        try:
            choice = choose_mu({k: v for k, v in merged.items() if k != "mu"}, costs=costs)
        except UnpricedError as exc:  # the cost model cannot price it: say how to do without it
            mu = names.get("mu", "`mu`")
            raise UnpricedError([f"{line} (or give {mu} to build it without the cost model's choice)"
                                 for line in exc.problems]) from None
        merged["mu"] = choice.mu
        source = choice.describe()
    return ResolvedDesign(config=core_config(**merged), mu_source=source, mu_choice=choice)


def _fixed_mu_source(given: Mapping[str, object], merged: Mapping[str, object], design_file,
                     names: Mapping[str, str]) -> str | None:
    """Where ``mu`` comes from when nothing chooses it (given, fixed by the arch, the design file),
    or ``None`` when the cost model is to choose it."""
    arch = merged.get("arch", "lut")
    if "mu" in given:
        return names.get("mu", "given")
    if arch != "lut":
        return f"fixed at 1 for {names.get('arch', 'arch')} {arch}"
    if merged.get("mu") is not None:
        return f"design file {design_file}"
    return None


def _resolve_for_clock(merged: dict[str, object], given: Mapping[str, object], design_file, costs,
                       names: Mapping[str, str], clock_mhz: float) -> ResolvedDesign:
    """:func:`resolve_design` with a clock target: ``merged`` (file and given parameters) is fixed."""
    clock = names.get("clock_mhz", "clock_mhz")
    arch = merged.get("arch", "lut")
    try:
        choice = choose_for_clock(merged, clock_mhz, costs=costs)
    except ClockUnmetError as exc:
        raise exc.named(clock) from None
    except UnpricedError as exc:  # the choice needs the cost model: say how to do without it
        also_mu = f" and give {names.get('mu', '`mu`')}" if arch == "lut" and merged.get("mu") is None else ""
        hint = f"leave out {clock}{also_mu} to build it without the cost model's choice"
        raise UnpricedError([f"{line} ({hint})" for line in exc.problems]) from None
    source = _fixed_mu_source(given, merged, design_file, names)
    if source is None:
        source = (f"cost model's best for {clock} {choice.clock_mhz:g}: "
                  f"{choice.area_per_gmacs_um2:,.0f} um^2 per useful GMAC/s, the least of the "
                  f"{choice.meeting} of {choice.candidates} candidates that meet {choice.target_ns:.3f} ns")
    merged = {**merged, **choice.chosen}
    return ResolvedDesign(config=core_config(**merged), mu_source=source, clock_choice=choice)
