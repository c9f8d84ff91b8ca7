"""Workloads: the ternary GEMVs of one decode step (one token) of an LLM.

A :class:`Workload` lists :class:`Gemv` shapes, each with the number of times it runs per
token (e.g. once per decoder layer times the number of layers). It only describes shapes: a
core whose ``max_n`` / ``max_m`` is smaller than a GEMV runs it in pieces, which is the cost
model's business, not the workload's. Presets live in ``designs/workloads/*.toml`` and are
read by :func:`load_workload`::

    name = "bitnet_b158_2b4t"
    source = "https://huggingface.co/microsoft/bitnet-b1.58-2B-4T"

    [[gemv]]
    name = "q_proj"
    n = 2560        # inputs (activations)
    m = 2560        # outputs
    count = 30      # per token: 1 per layer x 30 layers
    projection = "q"  # optional: which projection of the layer (q, k, v, o, gate, up, down)

    [adapter]         # optional: the LoRA-family adapter the model runs with
    rank = 16
    targets = ["q", "k", "v", "o", "gate", "up", "down"]

Projections that read the same input (q, k, v; gate, up; :data:`SHARED_INPUT_GROUPS`) and follow
each other with the same ``count`` form a shared-input group (:meth:`Workload.adapter_groups`).

Values are validated once, when the dataclasses are built; invalid ones raise
:class:`hwgen.description.config.ConfigError` with one line per problem.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .config import MAX_DIM, ConfigError, read_toml

__all__ = ["Gemv", "Workload", "load_workload", "MAX_COUNT", "PROJECTIONS", "SHARED_INPUT_GROUPS",
           "MAX_ADAPTER_RANK"]

#: Largest number of times one GEMV may run per token.
MAX_COUNT = 1 << 24
#: The projections of a transformer layer (a GEMV's ``projection``; adapter targets).
PROJECTIONS = ("q", "k", "v", "o", "gate", "up", "down")
#: Projections that read the same input vector (one adapter down-projection pass serves them).
SHARED_INPUT_GROUPS = (("q", "k", "v"), ("gate", "up"))
#: Largest adapter rank a workload may name.
MAX_ADAPTER_RANK = 256

_GEMV_KEYS = ("name", "n", "m", "count")
_GEMV_OPTIONAL = ("projection",)
_FILE_KEYS = ("name", "source", "gemv", "adapter")
_ADAPTER_KEYS = ("rank", "targets")


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _name_problem(name: object, what: str) -> list[str]:
    if isinstance(name, str) and name.strip():
        return []
    return [f"`name` of a {what} must be a non-empty string, got name={name!r}"]


@dataclass(frozen=True)
class Gemv:
    """One ternary GEMV shape ``y = a @ W``: ``n`` activations in, ``m`` outputs out.

    Parameters
    ----------
    name : str
        Name of the layer, e.g. ``"q_proj"`` (non-empty, unique within a workload).
    n : int
        Inputs (activations, the reduction length N), in [1, 2**24].
    m : int
        Outputs (M), in [1, 2**24].
    count : int
        Times the GEMV runs per token (e.g. 1 per layer x the number of layers), in [1, 2**24].
    projection : str
        Which projection of a layer it is (:data:`PROJECTIONS`), or ``""``.

    Raises
    ------
    ConfigError
        One line per invalid parameter, naming its value and allowed range.
    """

    name: str
    n: int
    m: int
    count: int = 1
    projection: str = ""

    def __post_init__(self) -> None:
        problems = _name_problem(self.name, "GEMV")
        if self.projection != "" and self.projection not in PROJECTIONS:
            problems.append(f"`projection` must be one of {', '.join(PROJECTIONS)}, "
                            f"got projection={self.projection!r}")
        for field, value, unit in (("n", self.n, "activations"), ("m", self.m, "outputs")):
            if not _is_int(value) or not 1 <= value <= MAX_DIM:
                problems.append(f"`{field}` must be an integer in [1, {MAX_DIM}] {unit}, "
                                f"got {field}={value!r}")
        if not _is_int(self.count) or not 1 <= self.count <= MAX_COUNT:
            problems.append(f"`count` must be an integer in [1, {MAX_COUNT}] runs per token, "
                            f"got count={self.count!r}")
        if problems:
            raise ConfigError(problems)

    @property
    def weights(self) -> int:
        """Ternary weights of one run, ``n * m``."""
        return self.n * self.m

    @property
    def macs(self) -> int:
        """Ternary multiply-accumulates per token, ``n * m * count``."""
        return self.n * self.m * self.count


@dataclass(frozen=True)
class Workload:
    """The GEMVs of one token of a model.

    Parameters
    ----------
    name : str
        Workload name (non-empty); preset files use their file stem.
    gemvs : tuple of Gemv
        At least one GEMV, with unique names (a list is accepted and stored as a tuple).
    source : str
        Where the shapes come from (a model card or paper URL); may be empty for synthetic
        workloads such as :meth:`from_gemv`.
    adapter_rank : int
        Rank of the model's adapter, in [0, 256] (0: none named).
    adapter_targets : tuple of str
        Projections the adapter adapts (:data:`PROJECTIONS`, each present in ``gemvs``); empty
        with ``adapter_rank`` 0.

    Attributes
    ----------
    ns, ms, counts : numpy.ndarray
        Read-only int64 arrays of the GEMVs' ``n``, ``m`` and ``count``, in order, for
        vectorised cost evaluation, e.g. ``(np.ceil(w.ns / tile_n) * w.counts).sum()``.

    Raises
    ------
    ConfigError
        One line per problem (empty name, no GEMVs, a non-:class:`Gemv` entry, repeated names).

    Examples
    --------
    >>> w = Workload.from_gemv(2560, 6912)
    >>> w.total_macs, w.max_n, w.max_m
    (17694720, 2560, 6912)
    """

    name: str
    gemvs: tuple[Gemv, ...]
    source: str = ""
    adapter_rank: int = 0
    adapter_targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = _name_problem(self.name, "workload")
        if isinstance(self.adapter_targets, list):
            object.__setattr__(self, "adapter_targets", tuple(self.adapter_targets))
        gemvs = self.gemvs
        if isinstance(gemvs, list):
            gemvs = tuple(gemvs)
            object.__setattr__(self, "gemvs", gemvs)
        if not isinstance(gemvs, tuple):
            problems.append(f"`gemvs` must be a tuple of Gemv, got gemvs={gemvs!r}")
        elif not gemvs:
            problems.append("`gemvs` must hold at least one GEMV, got gemvs=()")
        else:
            bad = [i for i, g in enumerate(gemvs) if not isinstance(g, Gemv)]
            if bad:
                problems.append(f"`gemvs` must hold Gemv objects only, got {type(gemvs[bad[0]]).__name__} "
                                f"at index {bad[0]}")
            else:
                repeated = [n for n, c in Counter(g.name for g in gemvs).items() if c > 1]
                if repeated:
                    problems.append(f"GEMV names must be unique within a workload, got "
                                    f"{', '.join(repr(n) for n in repeated)} more than once")
        if not isinstance(self.source, str):
            problems.append(f"`source` must be a string (a URL), got source={self.source!r}")
        problems += self._adapter_problems()
        if problems:
            raise ConfigError(problems)

    def _adapter_problems(self) -> list[str]:
        rank, targets = self.adapter_rank, self.adapter_targets
        if not _is_int(rank) or not 0 <= rank <= MAX_ADAPTER_RANK:
            return [f"adapter `rank` must be an integer in [1, {MAX_ADAPTER_RANK}], got rank={rank!r}"]
        if not isinstance(targets, tuple) or not all(isinstance(t, str) for t in targets):
            return [f"adapter `targets` must be a list of projection names, got targets={targets!r}"]
        if (rank == 0) != (not targets):
            return [f"adapter `rank` and `targets` go together, got rank={rank} and targets={list(targets)}"]
        bad = [t for t in targets if t not in PROJECTIONS]
        if bad:
            return [(f"adapter `targets` must be among {', '.join(PROJECTIONS)}, got "
                    f"{', '.join(map(repr, bad))}")]
        present = {g.projection for g in self.gemvs if isinstance(g, Gemv)}
        missing = [t for t in targets if t not in present]
        if missing:
            return [(f"adapter `targets` {', '.join(map(repr, missing))} name no GEMV of the workload "
                    f"(set `projection` on its [[gemv]])")]
        return []

    def adapter_groups(self, rank: int | None = None, targets: tuple[str, ...] | None = None
                       ) -> list[tuple[int, list[tuple[int, int, int]]]]:
        """The GEMVs as shared-input groups for an adapter: ``[(count, [(n, m, rank), ...]), ...]``
        in order. Consecutive GEMVs whose projections belong to one of :data:`SHARED_INPUT_GROUPS`,
        with the same ``n`` and ``count``, form a group; every other GEMV is a group of its own.
        A GEMV's rank is ``rank`` (default :attr:`adapter_rank`) when its projection is among
        ``targets`` (default :attr:`adapter_targets`; when both are empty and ``rank`` is given:
        every GEMV), else 0."""
        rank = self.adapter_rank if rank is None else rank
        targets = self.adapter_targets if targets is None else tuple(targets)
        group_of = {p: i for i, g in enumerate(SHARED_INPUT_GROUPS) for p in g}
        groups: list[tuple[int, list[tuple[int, int, int]]]] = []
        last_key = None
        for g in self.gemvs:
            on = rank if (g.projection in targets or not targets) else 0
            key = (group_of.get(g.projection), g.n, g.count)
            if key[0] is not None and key == last_key:
                groups[-1][1].append((g.n, g.m, on))
            else:
                groups.append((g.count, [(g.n, g.m, on)]))
            last_key = key
        return groups

    @classmethod
    def from_gemv(cls, n: int, m: int, *, count: int = 1, name: str | None = None) -> Workload:
        """A workload of a single ``n`` x ``m`` GEMV (``count`` runs), named ``gemv_<n>x<m>``."""
        name = f"gemv_{n}x{m}" if name is None else name
        return cls(name=name, gemvs=(Gemv(name=name, n=n, m=m, count=count),), source="")

    def __len__(self) -> int:
        return len(self.gemvs)

    @property
    def total_macs(self) -> int:
        """Ternary multiply-accumulates per token (= ternary weights read per token)."""
        return sum(g.macs for g in self.gemvs)

    @property
    def max_n(self) -> int:
        """Largest input length N of any GEMV (activations)."""
        return max(g.n for g in self.gemvs)

    @property
    def max_m(self) -> int:
        """Largest output length M of any GEMV."""
        return max(g.m for g in self.gemvs)

    def _array(self, attr: str) -> np.ndarray:
        a = np.array([getattr(g, attr) for g in self.gemvs], dtype=np.int64)
        a.setflags(write=False)
        return a

    @cached_property
    def ns(self) -> np.ndarray:
        """Input lengths N, int64, one per GEMV (read-only)."""
        return self._array("n")

    @cached_property
    def ms(self) -> np.ndarray:
        """Output lengths M, int64, one per GEMV (read-only)."""
        return self._array("m")

    @cached_property
    def counts(self) -> np.ndarray:
        """Runs per token, int64, one per GEMV (read-only)."""
        return self._array("count")


def load_workload(path: str | Path) -> Workload:
    """Read a workload file (TOML): top-level ``name`` and ``source``, one ``[[gemv]]`` table per
    GEMV with ``name``, ``n``, ``m`` and ``count``.

    Raises
    ------
    ConfigError
        Naming the file, one line per problem: unreadable file, bad TOML, unknown or missing
        keys, no ``[[gemv]]`` table, an empty ``source``, invalid values (with the GEMV's index
        and name) and repeated GEMV names.
    """
    path = Path(path)
    where = f"workload file {str(path)!r}"
    doc = read_toml(path, "workload file")

    problems: list[str] = []
    unknown = sorted(set(doc) - set(_FILE_KEYS))
    if unknown:
        problems.append(f"{where}: unknown top-level key(s) {', '.join(unknown)} "
                        f"(allowed: {', '.join(_FILE_KEYS)})")
    for key, what in (("name", "string"), ("source", "string (a model card or paper URL)")):
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{where}: `{key}` must be a non-empty {what}, got {key}={value!r}")
    tables = doc.get("gemv")
    if tables is None or tables == []:
        problems.append(f"{where}: needs at least one [[gemv]] table")
        tables = []
    elif not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        problems.append(f"{where}: `gemv` must be an array of tables ([[gemv]]), got gemv={tables!r}")
        tables = []

    gemvs = []
    for i, table in enumerate(tables):
        label = f"{where}: gemv[{i}]" + (f" {table['name']!r}" if isinstance(table.get("name"), str) else "")
        unknown = sorted(set(table) - set(_GEMV_KEYS) - set(_GEMV_OPTIONAL))
        missing = [k for k in _GEMV_KEYS if k not in table]
        keys = ", ".join(_GEMV_KEYS)
        if unknown:
            keys = ", ".join(_GEMV_KEYS + _GEMV_OPTIONAL)
            problems.append(f"{label}: unknown key(s) {', '.join(unknown)} (allowed: {keys})")
        if missing:
            problems.append(f"{label}: missing key(s) {', '.join(missing)} (required: "
                            f"{', '.join(_GEMV_KEYS)})")
        if unknown or missing:
            continue
        try:
            gemvs.append(Gemv(**table))
        except ConfigError as exc:
            problems.extend(f"{label}: {p}" for p in exc.problems)
    adapter = doc.get("adapter", {})
    if not isinstance(adapter, dict):
        problems.append(f"{where}: `adapter` must be a table ([adapter]), got adapter={adapter!r}")
        adapter = {}
    unknown = sorted(set(adapter) - set(_ADAPTER_KEYS))
    if unknown:
        problems.append(f"{where}: [adapter]: unknown key(s) {', '.join(unknown)} (allowed: "
                        f"{', '.join(_ADAPTER_KEYS)})")
    if problems:
        raise ConfigError(problems)
    targets = adapter.get("targets", [])
    try:
        return Workload(name=doc["name"], gemvs=tuple(gemvs), source=doc["source"],
                        adapter_rank=adapter.get("rank", 0),
                        adapter_targets=tuple(targets) if isinstance(targets, list) else targets)
    except ConfigError as exc:
        raise ConfigError([f"{where}: {p}" for p in exc.problems]) from None
