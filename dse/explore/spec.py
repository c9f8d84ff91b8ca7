"""Study files: what a design-space search evaluates, over which space, for which objectives.

A study file is TOML (worked examples in ``designs/studies/``)::

    [study]
    name = "bitnet2b-int8"                        # the study's name in its storage
    workload = "../workloads/bitnet_b158_2b4t.toml"  # relative to this file
    trials = 300                                  # finished trials the study runs to
    sampler = "tpe"                               # tpe, nsga2, gp, random, qmc, exhaustive
    seed = 1

    [fixed]                                       # parameters that do not vary
    act = "int8"
    bandwidth_gbps = 50

    [space]                                       # the free parameters
    mu = [1, 2, 3, 4]                             # a list: these values
    luts = { low = 4, high = 128, log = true }    # an integer range (``step``, ``log``)
    bandwidth_gbps = { low = 10.0, high = 100.0 } # a float range (floats in low or high)

    [objectives]                                  # one or several metrics
    area_mm2 = "minimize"
    tokens_per_s = "maximize"

    [constraints]                                 # metric bounds: max, min or both
    area_mm2 = { max = 20 }

Parameters are the :class:`~hwgen.description.config.CoreConfig` fields (``max_n`` and
``max_m`` default to the smallest that run the workload) and the system parameters of
:data:`dse.explore.metrics.SYSTEM_PARAMS`; metrics are :data:`dse.explore.metrics.METRICS`.
A fixed ``clock_mhz`` above 0 adds the constraint ``fmax_mhz >= clock_mhz`` (named ``clock``).

Optionally an adapter beside each core (:data:`dse.explore.metrics.ADAPTER_PARAMS`, fixed or in
``[space]`` like the others)::

    [fixed]
    adapter = "lora"            # lora, vera, ternary-a, or none (no key: no adapter)
    adapter_rank = 16           # the rank the workload runs at (the unit's max_rank); 0: the
                                # workload's [adapter] rank
    [space]
    adapter_lanes = [0, 66, 132]   # 0: the fewest lanes that hide the adapter (picks the chunk too)
    adapter_chunk = [0, 6, 22]     # 0: the core's tile_n (with adapter_lanes = 0: any chunk)
    # also adapter_fmt ("": the core's default), adapter_storage (stream, onchip),
    # adapter_hold (0: one job's output tiles) and adapter_share (1..4)

The adapted projections are the workload's ``[adapter] targets``, else every GEMV it tags with a
``projection``. Naming any adapter parameter needs ``adapter``; the others then take their
defaults (:data:`dse.explore.metrics.ADAPTER_DEFAULTS`). A design whose adapter cannot be built
beside its core is invalid (pruned) with the adapter's own problem lines, prefixed by the
parameter. The adapter has no energy model yet: a study that may place one cannot ask for the
energy metrics. The adapter's figures are in :mod:`dse.explore.metrics`.

:func:`load_study` reads and checks a file; :meth:`StudySpec.to_dict` / :func:`spec_from_dict` give
the JSON-able form that the study's storage keeps, so a worker needs only the storage URL.
Every problem is one line naming the key, its value and what is allowed (:class:`ConfigError`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from costmodel import load_unit_costs
from hwgen.description.adapter import (
    ADAPTER_FORMATS,
    ADAPTER_STORAGE,
    ADAPTER_VARIANTS,
    MAX_LANES,
    MAX_RANK,
    MAX_SHARE,
)
from hwgen.description.config import (
    ARCHS,
    FP_REDUCE_MODES,
    FP_ROUNDINGS,
    MAX_ADDER_STAGES,
    MAX_FP_WIDTH,
    MAX_KEYS,
    MAX_LUTS,
    ConfigError,
    read_toml,
)
from hwgen.description.workload import Gemv, Workload, load_workload

from .metrics import (
    ADAPTER_DEFAULTS,
    ADAPTER_METRICS,
    ADAPTER_PARAMS,
    METRICS,
    NO_ADAPTER,
    SYSTEM_DEFAULTS,
    SYSTEM_PARAMS,
    adapter_targets,
    unavailable,
)

__all__ = ["Param", "Constraint", "StudySpec", "load_study", "spec_from_dict", "SAMPLERS", "DEFAULT_SAMPLER",
           "PARAMS", "MAX_TRIALS", "MAX_EXHAUSTIVE"]

#: Samplers by name (``exhaustive``: the vectorised sweep of an enumerable space).
SAMPLERS = ("tpe", "nsga2", "gp", "random", "qmc", "exhaustive")
DEFAULT_SAMPLER = "tpe"
#: Largest trial budget of one study.
MAX_TRIALS = 1_000_000
#: Largest space the exhaustive sweep enumerates.
MAX_EXHAUSTIVE = 20_000_000

_STRING_PARAMS = ("arch", "act", "acc", "fp_reduce", "fp_round")
#: Searchable parameters: name -> (kind, low, high) for numbers, (``"str"`` or ``"bool"``, None, None)
#: for text and true/false.
PARAMS: dict[str, tuple[str, float | None, float | None]] = {
    "arch": ("str", None, None), "act": ("str", None, None), "acc": ("str", None, None),
    "adder_stages": ("int", 0, MAX_ADDER_STAGES), "mu": ("int", 1, 8), "luts": ("int", 1, MAX_LUTS),
    "keys": ("int", 1, MAX_KEYS), "reuse": ("int", 1, 4096), "pipeline": ("int", 0, 64),
    "max_n": ("int", 1, 1 << 24), "max_m": ("int", 1, 1 << 24),
    "fp_reduce": ("str", None, None), "fp_width": ("int", 0, MAX_FP_WIDTH), "fp_round": ("str", None, None),
    "fp_sticky": ("bool", None, None),
    **{name: (kind, lo, hi) for name, (kind, lo, hi, _) in SYSTEM_PARAMS.items()},
    "adapter": ("str", None, None), "adapter_rank": ("int", 0, MAX_RANK),
    "adapter_lanes": ("int", 0, MAX_LANES), "adapter_chunk": ("int", 0, 1 << 24),
    "adapter_fmt": ("str", None, None), "adapter_storage": ("str", None, None),
    "adapter_hold": ("int", 0, 1 << 24), "adapter_share": ("int", 1, MAX_SHARE),
}
#: Values of the text adapter parameters.
_ADAPTER_CHOICES = {"adapter": (NO_ADAPTER, *ADAPTER_VARIANTS), "adapter_fmt": ("", *ADAPTER_FORMATS),
                    "adapter_storage": ADAPTER_STORAGE}
_DEFAULTS = {"arch": "lut", "act": "int8", "acc": "", "adder_stages": 0, "reuse": 1, "pipeline": 0,
             "fp_reduce": "ieee", "fp_width": 0, "fp_round": "rne", "fp_sticky": False,
             **SYSTEM_DEFAULTS}
_TABLES = ("study", "fixed", "space", "objectives", "constraints")
_STUDY_KEYS = ("name", "workload", "trials", "sampler", "seed", "storage")
_RANGE_KEYS = ("low", "high", "step", "log")


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: object) -> bool:
    return (isinstance(x, int | float) and not isinstance(x, bool)) and math.isfinite(x)


@dataclass(frozen=True)
class Param:
    """One free parameter: a list of ``choices``, or a range ``[low, high]`` of ``kind`` int or float
    (``step``: grid spacing, ``log``: sample the logarithm)."""

    name: str
    choices: tuple = ()
    kind: str = "categorical"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    @property
    def enumerable(self) -> bool:
        """Whether :meth:`values` can list the parameter (lists, integer ranges, stepped floats)."""
        return self.kind != "float" or self.step is not None

    def values(self) -> list:
        """Every value, in order (the exhaustive sweep)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        count = int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return [self.low + i * self.step for i in range(count)]

    def size(self) -> int:
        if self.kind == "categorical":
            return len(self.choices)
        if self.kind == "int":
            return (int(self.high) - int(self.low)) // int(self.step or 1) + 1
        return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1 if self.step else 0

    def distribution(self):
        """The Optuna distribution of the parameter."""
        import optuna.distributions as d

        if self.kind == "categorical":
            return d.CategoricalDistribution(list(self.choices))
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return d.FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def suggest(self, trial):
        """The parameter's value in an Optuna ``trial`` (drawn by its sampler, or the queued value)."""
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1),
                                     log=self.log)
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)

    def to_dict(self) -> object:
        if self.kind == "categorical":
            return list(self.choices)
        out = {"low": self.low, "high": self.high}
        if self.step is not None:
            out["step"] = self.step
        if self.log:
            out["log"] = True
        return out


@dataclass(frozen=True)
class Constraint:
    """``min <= metric <= max`` (either bound may be ``None``); ``name`` is how Optuna stores it."""

    name: str
    metric: str
    min: float | None = None
    max: float | None = None

    def describe(self) -> str:
        if self.metric == "fmax_mhz" and self.name == "clock":
            return f"fmax_mhz >= clock_mhz = {self.min:g}"
        parts = ([f"{self.metric} >= {self.min:g}"] if self.min is not None else []) + (
            [f"{self.metric} <= {self.max:g}"] if self.max is not None else [])
        return " and ".join(parts)


@dataclass(frozen=True)
class StudySpec:
    """A checked study file (see the module docstring).

    Attributes
    ----------
    name : str
        Study name in the storage.
    workload : Workload
        The GEMVs of one token (embedded: the storage keeps the shapes, not the path).
    fixed : dict
        Fixed parameters, every default filled in except ``mu``, ``max_n`` and ``max_m``.
    space : tuple of Param
        Free parameters, in file order.
    objectives : tuple of (metric, direction)
        ``direction`` ``"minimize"`` or ``"maximize"``.
    constraints : tuple of Constraint
        Including ``clock`` when ``clock_mhz`` is fixed above 0.
    trials : int
        Finished trials (complete or pruned) the study runs to; the exhaustive sweep ignores it.
    sampler : str
        One of :data:`SAMPLERS`.
    seed : int or None
        Sampler seed.
    storage : str or None
        Storage URL of the file (the command line's ``--storage`` wins).
    """

    name: str
    workload: Workload
    fixed: dict = field(hash=False)
    space: tuple[Param, ...]
    objectives: tuple[tuple[str, str], ...]
    constraints: tuple[Constraint, ...] = ()
    trials: int = 100
    sampler: str = DEFAULT_SAMPLER
    seed: int | None = None
    storage: str | None = None

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.space)

    @property
    def adapters(self) -> tuple[str, ...]:
        """The adapter variants the study's designs may place (``()``: no adapter parameters;
        ``"none"`` among them: designs without adapter)."""
        if "adapter" in self.fixed:
            return (self.fixed["adapter"],)
        return next((tuple(p.choices) for p in self.space if p.name == "adapter"), ())

    @property
    def may_adapt(self) -> bool:
        """Whether some design of the study places an adapter."""
        return any(v != NO_ADAPTER for v in self.adapters)

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    def space_size(self) -> int:
        return math.prod(p.size() for p in self.space)

    def to_dict(self) -> dict:
        """The JSON-able form (with the workload's GEMVs inline); :func:`spec_from_dict` reads it."""
        wl = self.workload
        workload = {"name": wl.name, "source": wl.source,
                    "gemv": [{"name": g.name, "n": g.n, "m": g.m, "count": g.count,
                              **({"projection": g.projection} if g.projection else {})} for g in wl.gemvs]}
        if wl.adapter_rank:
            workload["adapter"] = {"rank": wl.adapter_rank, "targets": list(wl.adapter_targets)}
        constraints = {}
        for c in self.constraints:
            if c.name == "clock":
                continue
            constraints[c.metric] = {k: v for k, v in (("min", c.min), ("max", c.max)) if v is not None}
        return {
            "study": {"name": self.name, "trials": self.trials, "sampler": self.sampler, "seed": self.seed,
                      "workload": workload},
            "fixed": dict(self.fixed),
            "space": {p.name: p.to_dict() for p in self.space},
            "objectives": dict(self.objectives),
            "constraints": constraints,
        }

    def search_key(self) -> dict:
        """What must match for two specs to be the same study (everything but budget, sampler and seed;
        the workload's projections and adapter only when the study has adapter parameters: they
        change no metric of a study without, which keeps the key of studies stored before)."""
        d = self.to_dict()
        d["study"] = {k: v for k, v in d["study"].items() if k in ("name", "workload")}
        if not self.adapters:
            wl = d["study"]["workload"]
            gemvs = [{k: v for k, v in g.items() if k != "projection"} for g in wl["gemv"]]
            d["study"]["workload"] = {"name": wl["name"], "source": wl["source"], "gemv": gemvs}
        return d


def _param(name: str, value: object, problems: list[str]) -> Param | None:
    kind, lo, hi = PARAMS[name]
    if name == "mu":  # a range must stay within the mu the unit-cost table prices, as a list must
        hi = load_unit_costs().max_mu
    where = f"[space] {name}"
    if isinstance(value, list):
        if not value:
            problems.append(f"{where}: an empty list of values (give at least one)")
            return None
        bad = [x for x in value if not _value_ok(name, x)]
        if bad:
            problems.append(f"{where}: value {bad[0]!r} is not allowed ({_allowed(name)})")
            return None
        if len(set(map(repr, value))) != len(value):
            problems.append(f"{where}: repeated values in {value!r}")
            return None
        return Param(name, tuple(value))
    if not isinstance(value, dict):
        problems.append(f"{where}: must be a list of values or a range {{ low = ..., high = ... }}, "
                        f"got {value!r}")
        return None
    if kind in ("str", "bool"):
        problems.append(f"{where}: a {'text' if kind == 'str' else 'true/false'} parameter takes a list of "
                        f"values, not a range")
        return None
    unknown = sorted(set(value) - set(_RANGE_KEYS))
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(unknown)} in the range (allowed: "
                        f"{', '.join(_RANGE_KEYS)})")
        return None
    low, high, step, log = value.get("low"), value.get("high"), value.get("step"), value.get("log", False)
    if not (_is_number(low) and _is_number(high)):
        problems.append(f"{where}: a range needs numbers low and high, got low={low!r}, high={high!r}")
        return None
    is_float = kind == "float" or isinstance(low, float) or isinstance(high, float) or isinstance(step, float)
    if kind == "int" and is_float:
        problems.append(f"{where}: an integer parameter needs integer low/high/step, got {value!r}")
        return None
    if low > high:
        problems.append(f"{where}: inverted range, low={low!r} > high={high!r}")
        return None
    if not (lo <= low and high <= hi):
        problems.append(f"{where}: range [{low}, {high}] leaves the allowed [{lo}, {hi}]")
        return None
    if not isinstance(log, bool):
        problems.append(f"{where}: `log` must be true or false, got log={log!r}")
        return None
    if step is not None and (not _is_number(step) or step <= 0):
        problems.append(f"{where}: `step` must be a positive number, got step={step!r}")
        return None
    if log and (low <= 0 or (step is not None and step != 1)):
        problems.append(f"{where}: a log range needs low > 0 and no step, got {value!r}")
        return None
    if kind == "int" and step is not None and (high - low) % step:
        problems.append(f"{where}: high - low = {high - low} is not a multiple of step={step}")
        return None
    return Param(name, kind="float" if is_float else "int", low=low, high=high,
                 step=None if log else step, log=log)


def _allowed(name: str) -> str:
    kind, lo, hi = PARAMS[name]
    if name in _ADAPTER_CHOICES:
        listed = ", ".join(v for v in _ADAPTER_CHOICES[name] if v)
        return f'one of {listed} or "" (the core\'s default)' if name == "adapter_fmt" else f"one of {listed}"
    if name == "adapter_rank":
        return f"an integer in [0, {MAX_RANK}] (0: the workload's [adapter] rank)"
    if name == "adapter_lanes":
        return f"an integer in [0, {MAX_LANES}] (0: the fewest lanes that hide the adapter)"
    if name == "arch":
        return f"one of {', '.join(ARCHS)}"
    if name == "fp_reduce":
        return f"one of {', '.join(FP_REDUCE_MODES)}"
    if name == "fp_round":
        return f"one of {', '.join(FP_ROUNDINGS)}"
    if name == "fp_sticky":
        return "true or false"
    if name in ("act", "acc"):
        derived = ' or "" (derived)' if name == "acc" else ""
        return f"a format name such as int8, fp16, bf16, fp32{derived}"
    if name == "mu":
        return f"an integer in [1, {load_unit_costs().max_mu}], the mu the unit-cost table prices"
    return f"{'an integer' if kind == 'int' else 'a number'} in [{lo}, {hi}]"


def _value_ok(name: str, x: object) -> bool:
    kind, lo, hi = PARAMS[name]
    if kind == "bool":
        return isinstance(x, bool)
    if kind == "str":
        if not isinstance(x, str):
            return False
        if name in _ADAPTER_CHOICES:
            return x in _ADAPTER_CHOICES[name]
        if name == "arch":
            return x in ARCHS
        if name == "fp_reduce":
            return x in FP_REDUCE_MODES
        if name == "fp_round":
            return x in FP_ROUNDINGS
        if name == "acc" and x == "":
            return True
        from hwgen.description.config import ActType

        try:
            ActType.parse(x)
        except (ConfigError, ValueError):
            return False
        return True
    if name == "mu":
        return _is_int(x) and 1 <= x <= load_unit_costs().max_mu
    if kind == "int":
        return _is_int(x) and lo <= x <= hi
    return _is_number(x) and lo <= x <= hi


def _values_of(name: str, fixed: dict, space_in: dict) -> list:
    """The values a parameter may take: its fixed value, its list, or its integer range (``[]`` for
    anything else)."""
    if name in fixed:
        return [fixed[name]]
    value = space_in.get(name)
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and _is_int(value.get("low")) and _is_int(value.get("high")):
        step = value.get("step", 1)
        return list(range(value["low"], value["high"] + 1, step if _is_int(step) and step > 0 else 1))
    return []


def _workload(value: object, base: Path | None, problems: list[str]) -> Workload | None:
    if isinstance(value, str):
        path = Path(value)
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            return load_workload(path)
        except ConfigError as exc:
            problems.extend(f"[study] workload: {p}" for p in exc.problems)
            return None
    if isinstance(value, dict):  # inline (the storage's copy)
        try:
            gemvs = tuple(Gemv(**g) for g in value.get("gemv", []))
            adapter = value.get("adapter") if isinstance(value.get("adapter"), dict) else {}
            return Workload(name=value.get("name", ""), gemvs=gemvs, source=value.get("source", ""),
                            adapter_rank=adapter.get("rank", 0),
                            adapter_targets=tuple(adapter.get("targets", ())))
        except (ConfigError, TypeError) as exc:
            problems.append(f"[study] workload: {exc}")
            return None
    problems.append(f"[study] workload: must be the path of a workload file (designs/workloads/*.toml), "
                    f"got {value!r}")
    return None


def spec_from_dict(doc: dict, *, base: Path | None = None, where: str = "study") -> StudySpec:
    """Check a parsed study document (a study file's tables, or :meth:`StudySpec.to_dict`).

    ``base``: the folder relative workload paths start from. Raises :class:`ConfigError`, one line
    per problem, each prefixed by ``where``."""
    problems: list[str] = []
    unknown = sorted(set(doc) - set(_TABLES))
    if unknown:
        problems.append(f"unknown table(s) {', '.join(unknown)} (allowed: {', '.join(_TABLES)})")
    for table in _TABLES:
        if table in doc and not isinstance(doc[table], dict):
            problems.append(f"[{table}] must be a table, got {doc[table]!r}")
    if problems:
        raise ConfigError([f"{where}: {p}" for p in problems])
    study = doc.get("study", {})
    fixed_in, space_in = doc.get("fixed", {}), doc.get("space", {})
    objectives_in, constraints_in = doc.get("objectives", {}), doc.get("constraints", {})

    unknown = sorted(set(study) - set(_STUDY_KEYS))
    if unknown:
        problems.append(f"[study]: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(_STUDY_KEYS)})")
    name = study.get("name")
    if not isinstance(name, str) or not name.strip() or any(c in name for c in "/\\.\n"):
        problems.append(f"[study] name: must be a non-empty string without slashes or dots, "
                        f"got name={name!r}")
    workload = _workload(study.get("workload"), base, problems) if "workload" in study else None
    if "workload" not in study:
        problems.append("[study] workload: missing (the path of a workload file, e.g. "
                        "designs/workloads/bitnet_b158_2b4t.toml)")
    trials = study.get("trials", 100)
    if not _is_int(trials) or not 1 <= trials <= MAX_TRIALS:
        problems.append(f"[study] trials: must be an integer in [1, {MAX_TRIALS}], got trials={trials!r}")
    sampler = study.get("sampler", DEFAULT_SAMPLER)
    if sampler not in SAMPLERS:
        problems.append(f"[study] sampler: unknown sampler {sampler!r} (allowed: {', '.join(SAMPLERS)})")
    seed = study.get("seed")
    if seed is not None and (not _is_int(seed) or not 0 <= seed < 2**32):
        problems.append(f"[study] seed: must be an integer in [0, 2^32), got seed={seed!r}")
    storage = study.get("storage")
    if storage is not None and (not isinstance(storage, str) or not storage):
        problems.append(f"[study] storage: must be a storage URL, got storage={storage!r}")

    for table, entries in (("fixed", fixed_in), ("space", space_in)):
        for key in entries:
            if key not in PARAMS:
                problems.append(f"[{table}] {key}: unknown parameter (allowed: {', '.join(PARAMS)})")
    both = sorted(set(fixed_in) & set(space_in))
    if both:
        problems.append(f"parameter(s) {', '.join(both)} both in [fixed] and [space]: give each once")
    fixed = {}
    for key, value in fixed_in.items():
        if key in PARAMS and not _value_ok(key, value):
            problems.append(f"[fixed] {key}: value {value!r} is not allowed ({_allowed(key)})")
        fixed[key] = float(value) if PARAMS.get(key, ("",))[0] == "float" and _is_number(value) else value
    space = tuple(p for key, value in space_in.items() if key in PARAMS
                  if (p := _param(key, value, problems)) is not None)
    for key, default in _DEFAULTS.items():
        if key not in fixed and key not in space_in:
            fixed[key] = default
    named = [k for k in ADAPTER_PARAMS if k in fixed_in or k in space_in]
    if named and "adapter" not in named:
        problems.append(f"{', '.join(named)}: adapter parameters need `adapter` "
                        f"({', '.join(ADAPTER_VARIANTS)} or {NO_ADAPTER}) in [fixed] or [space]")
    elif named:
        for key, default in ADAPTER_DEFAULTS.items():
            if key not in fixed and key not in space_in:
                fixed[key] = default
    variants = ((fixed_in["adapter"],) if "adapter" in fixed_in else
                tuple(space_in["adapter"]) if isinstance(space_in.get("adapter"), list) else ())
    may_adapt = any(v != NO_ADAPTER for v in variants)
    if may_adapt and workload is not None:
        targets = adapter_targets(workload)
        if not any(g.projection in targets for g in workload.gemvs):
            problems.append(f"adapter: the workload {workload.name!r} tags no GEMV with a `projection` it "
                            f"adapts ({', '.join(targets)}): nothing to adapt (set `projection` on its "
                            "[[gemv]])")
        ranks = _values_of("adapter_rank", fixed, space_in)
        if workload.adapter_rank == 0 and 0 in ranks:
            problems.append(f"adapter_rank: required with an adapter, an integer in [1, {MAX_RANK}] (the "
                            f"workload {workload.name!r} names no [adapter] rank for adapter_rank = 0)")
    if workload is not None:
        for key, need, what in (("max_n", workload.max_n, "input"),):
            if _is_int(fixed.get(key)) and fixed[key] < need:
                g = max(workload.gemvs, key=lambda g: g.n)
                problems.append(f"[fixed] {key}: {fixed[key]} is smaller than the workload's longest {what} "
                                f"({g.name}: n = {need})")
        if _is_int(fixed.get("max_m")) and fixed["max_m"] < 1:
            problems.append("[fixed] max_m: must be positive")

    objectives = []
    missing = unavailable(adapter=may_adapt)
    if not named:
        missing.update(dict.fromkeys(ADAPTER_METRICS,
                                     "an adapter metric needs `adapter` in [fixed] or [space]"))
    if not objectives_in:
        problems.append(f"[objectives]: give at least one metric = \"minimize\" or \"maximize\" (metrics: "
                        f"{', '.join(METRICS)})")
    for metric, direction in objectives_in.items():
        if metric in missing:
            problems.append(f"[objectives] {metric}: {missing[metric]}")
        elif metric not in METRICS:
            problems.append(f"[objectives] {metric}: unknown metric (allowed: {', '.join(METRICS)})")
        elif direction not in ("minimize", "maximize"):
            problems.append(f"[objectives] {metric}: direction must be \"minimize\" or \"maximize\", "
                            f"got {direction!r}")
        else:
            objectives.append((metric, direction))
    constraints = []
    for metric, bound in constraints_in.items():
        if metric in missing:
            problems.append(f"[constraints] {metric}: {missing[metric]}")
            continue
        if metric not in METRICS:
            problems.append(f"[constraints] {metric}: unknown metric (allowed: {', '.join(METRICS)})")
            continue
        if not isinstance(bound, dict) or not bound or set(bound) - {"min", "max"} or not all(
                _is_number(x) for x in bound.values()):
            problems.append(f"[constraints] {metric}: must be {{ max = X }}, {{ min = X }} or both, "
                            f"got {bound!r}")
            continue
        if "min" in bound and "max" in bound and bound["min"] > bound["max"]:
            problems.append(f"[constraints] {metric}: min={bound['min']} > max={bound['max']}: "
                            "nothing can meet it")
            continue
        constraints.append(Constraint(metric, metric, bound.get("min"), bound.get("max")))
    clock = fixed.get("clock_mhz")
    if _is_number(clock) and clock > 0:
        constraints.append(Constraint("clock", "fmax_mhz", min=float(clock)))
    if sampler == "exhaustive":
        unlisted = [p.name for p in space if not p.enumerable]
        if unlisted:
            problems.append(f"[study] sampler: exhaustive needs every free parameter enumerable (a list, an "
                            f"integer range or a stepped float range); {', '.join(unlisted)} is not")
        elif space and math.prod(p.size() for p in space) > MAX_EXHAUSTIVE:
            problems.append(f"[study] sampler: the space has {math.prod(p.size() for p in space):,} designs, "
                            f"more than the exhaustive sweep's limit of {MAX_EXHAUSTIVE:,}")
    if not space:
        problems.append("[space]: no free parameter (give at least one, e.g. luts = { low = 4, high = 128 })")
    for key in ("luts", "keys"):
        if key not in fixed and key not in space_in:
            problems.append(f"{key}: required, in [fixed] or [space]")
    if "mu" not in fixed and "mu" not in space_in:
        problems.append("mu: required for LUT cores, in [fixed] or [space] (1 for signflip and mac)")
    if problems:
        raise ConfigError([f"{where}: {p}" for p in problems])
    return StudySpec(name=name, workload=workload, fixed=fixed, space=space, objectives=tuple(objectives),
                     constraints=tuple(constraints), trials=trials, sampler=sampler, seed=seed,
                     storage=storage)


def load_study(path: str | Path) -> StudySpec:
    """Read and check a study file; :class:`ConfigError` naming the file, one line per problem."""
    path = Path(path)
    doc = read_toml(path, "study file")
    return spec_from_dict(doc, base=path.parent, where=f"study file {str(path)!r}")
