"""Pick the LUT group size ``mu`` the cost model rates best for a core, when the user does not.

For a square core (``core=C``: a C x C tile, ``luts = ceil(C / mu)``) the figure of merit is area
per *useful* MAC/cycle, ``area / (C * C)``: lanes wasted when mu does not divide C cost area
and do nothing. With explicit ``luts`` and ``keys`` it is area per MAC/cycle of the tile,
``area / (luts * mu * keys)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwgen.description.config import ConfigError, core_config
from hwgen.description.lut_plan import MAX_MU

from .model import estimate
from .unit_costs import UnitCosts, load_unit_costs

__all__ = ["MuChoice", "choose_mu", "MU_CANDIDATES"]

#: Group sizes considered (beyond 6 the LUT's 3^mu / 2 entries outgrow any saving).
MU_CANDIDATES = tuple(range(1, min(6, MAX_MU) + 1))


@dataclass(frozen=True)
class MuChoice:
    """The chosen ``mu`` and the figure of merit of every candidate (um^2 per useful MAC/cycle)."""

    mu: int
    area_per_mac_um2: dict[int, float]

    def describe(self) -> str:
        best = self.area_per_mac_um2[self.mu]
        others = ", ".join(f"mu={m}: {a:,.0f}" for m, a in sorted(self.area_per_mac_um2.items()) if m != self.mu)
        return f"cost model's best: {best:,.0f} um^2 per MAC/cycle (vs {others})"


def choose_mu(params: dict, *, costs: UnitCosts | None = None) -> MuChoice:
    """Best ``mu`` for the :func:`hwgen.description.config.core_config` arguments ``params`` (without ``mu``).

    Candidates that make an invalid config (e.g. ``max_n`` below the tile) are skipped; raises
    :class:`ConfigError` when none is valid (the first candidate's problems).
    """
    c = costs or load_unit_costs()
    merit: dict[int, float] = {}
    first_error = None
    for mu in MU_CANDIDATES:
        try:
            cfg = core_config(**params, mu=mu)
        except ConfigError as exc:
            first_error = first_error or exc
            continue
        useful = params["core"] ** 2 if params.get("core") and "luts" not in params else cfg.tile_n * cfg.tile_m
        merit[mu] = estimate(cfg, costs=c).area_um2 / useful
    if not merit:
        raise first_error
    return MuChoice(min(merit, key=merit.get), merit)
