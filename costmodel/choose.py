"""Pick the LUT group size ``mu`` the cost model rates best for a core, and resolve a design from a
design file and given options into one :class:`~hwgen.description.config.CoreConfig`.

For a square core (``core=C``: a C x C tile, ``luts = ceil(C / mu)``) the figure of merit is area
per *useful* MAC/cycle, ``area / (C * C)``: lanes wasted when mu does not divide C cost area
and do nothing. With explicit ``luts`` and ``keys`` it is area per MAC/cycle of the tile,
``area / (luts * mu * keys)``. The candidates are ``1..costs.max_mu``: the group sizes the
unit-cost table prices (the one mu range of the cost model).

Example::

    >>> from costmodel import resolve_design
    >>> design = resolve_design({"act": "int8", "core": 64})
    >>> design.config.mu, design.mu_source  # doctest: +SKIP
    (3, "cost model's best: ... um^2 per MAC/cycle (vs mu=1: ..., ...)")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hwgen.description.config import DEFAULT_CORE, ConfigError, CoreConfig, core_config, load_design
from hwgen.description.lut_plan import MAX_MU

from .model import UnpricedError, estimate
from .unit_costs import UnitCosts, load_unit_costs

__all__ = ["MuChoice", "choose_mu", "mu_candidates", "ResolvedDesign", "resolve_design"]


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
        The cost model's choice when it picked ``mu``, else ``None``.
    """

    config: CoreConfig
    mu_source: str
    mu_choice: MuChoice | None = field(default=None, compare=False)


def resolve_design(params: Mapping[str, object], *, design_file: str | Path | None = None,
                   costs: UnitCosts | None = None,
                   option_names: Mapping[str, str] | None = None) -> ResolvedDesign:
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
        How the caller names parameters in :attr:`ResolvedDesign.mu_source`, e.g.
        ``{"mu": "--mu", "arch": "--arch"}`` (default: ``"given"`` for ``mu``, ``"arch"`` for ``arch``).

    Raises
    ------
    ConfigError
        For an unreadable design file or an invalid config (one line per problem, naming the parameter).
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
    arch = merged.get("arch", "lut")
    choice = None
    if "mu" in given:
        source = names.get("mu", "given")
    elif arch != "lut":
        source = f"fixed at 1 for {names.get('arch', 'arch')} {arch}"
    elif merged.get("mu") is not None:
        source = f"design file {design_file}"
    else:
        try:
            choice = choose_mu({k: v for k, v in merged.items() if k != "mu"}, costs=costs)
        except UnpricedError as exc:  # the cost model cannot price it: say how to do without it
            mu = names.get("mu", "`mu`")
            raise UnpricedError([f"{line} (or give {mu} to build it without the cost model's choice)"
                                 for line in exc.problems]) from None
        merged["mu"] = choice.mu
        source = choice.describe()
    return ResolvedDesign(config=core_config(**merged), mu_source=source, mu_choice=choice)
