"""Validity of core configs: one set of rules, checked on one config or on a whole table of designs.

:class:`~hwgen.description.config.CoreConfig` validates itself with :func:`config_problems`, and
:func:`check_table` checks every row of a pandas table of designs with the same :data:`RULES`. A rule
names the fields it reads, the fields that must have passed their own checks first (``needs``), a
predicate written with numpy operators (it takes Python scalars for one config and arrays for a
table), the one-line message it reports and the fields it marks bad. The facts the predicates read
(is a value an integer, what a format name parses to) come from one scalar function each, applied to
the distinct values of a string column.

A table has one column per :class:`CoreConfig` init field. A missing optional column, and a missing
cell (``None`` or NaN) of a field with a default, take the field's default; ``luts`` and ``keys`` have
none (a missing column is a ``KeyError``). A float column's whole numbers are read as integers (pandas
stores an integer column with missing cells as floats); any other value is checked as
:class:`CoreConfig` would check it.

Example::

    >>> import pandas as pd
    >>> check_table(pd.DataFrame({"mu": [2, 0], "luts": [4, 4], "keys": [8, 8]})).valid.tolist()
    [True, False]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from types import SimpleNamespace

import numpy as np

from .arrays import FORMATS, ConfigArrays, resolved_fp_width
from .config import (
    _MU1_REASON,
    _NAME_PROBLEM,
    ARCHS,
    FP_REDUCE_MODES,
    FP_ROUNDINGS,
    MAX_ADDER_STAGES,
    MAX_DIM,
    MAX_FP_WIDTH,
    MAX_FUSED_GUARD,
    MAX_FUSED_TERMS,
    MAX_KEYS,
    MAX_LUTS,
    MIN_FP_WIDTH,
    ActType,
    CoreConfig,
    _is_identifier,
    _is_int,
    default_mu,
    emit_problems_of,
)
from .lut_plan import MAX_MU
from .tree_plan import tree_depth

__all__ = ["Rule", "RULES", "INT_FIELDS", "config_problems", "check_table", "TableCheck", "check_columns"]

#: Integer fields: (lowest, highest, unit in the message), checked in this order.
INT_FIELDS = {
    "adder_stages": (0, MAX_ADDER_STAGES, " registers per adder"),
    "mu": (1, MAX_MU, ""),
    "luts": (1, MAX_LUTS, " LUTs"),
    "keys": (1, MAX_KEYS, " fetchers per LUT"),
    "max_n": (1, MAX_DIM, " activations"),
    "max_m": (1, MAX_DIM, " outputs"),
    "reuse": (1, MAX_DIM, " output tiles"),
    "pipeline": (0, 64, " register stages"),
}


@dataclass(frozen=True)
class Rule:
    """One validity rule of :class:`CoreConfig`.

    Attributes
    ----------
    fields : tuple[str, ...]
        Config fields it reads.
    needs : tuple[str, ...]
        Fields that must have passed every earlier rule that marks them bad; the rule is skipped
        (reports nothing) for a config where one has not.
    bad : Callable
        ``bad(v) -> bool``: whether the config breaks the rule. ``v`` holds the facts of
        :func:`_facts` (scalars for one config, arrays of one entry per row for a table); written
        with numpy operators so that it takes either.
    message : Callable or None
        ``message(row) -> str``: the problem, one line naming the parameter, its value and the
        allowed range, from one config's values (``row.<field>``). ``None``: the rule only marks.
    marks : tuple[str, ...]
        Fields it marks bad where it fires (later rules that need them are skipped).
    """

    fields: tuple[str, ...]
    needs: tuple[str, ...]
    bad: Callable
    message: Callable | None
    marks: tuple[str, ...] = ()


def _parse_problem(text: object, param: str) -> str:
    try:
        ActType.parse(text, param)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"{param}={text!r} parses")  # the rule fires only where parsing fails


def _int_rules(name: str, lo: int, hi: int, unit: str) -> tuple[Rule, ...]:
    return (
        Rule((name,), (name,), lambda v: ~getattr(v, f"int_{name}"),
             lambda r: f"`{name}` must be an integer, got {name}={getattr(r, name)!r}", (name,)),
        Rule((name,), (name,), lambda v: (getattr(v, name) < lo) | (getattr(v, name) > hi),
             lambda r: f"`{name}` must be in [{lo}, {hi}]{unit}, got {name}={getattr(r, name)}", (name,)),
    )


def _mu_rules() -> tuple[Rule, ...]:
    given = Rule(("arch", "mu"), (), lambda v: ~v.mu_given & v.arch_lut,
                 lambda r: (f"`mu` must be given for arch='lut': activations per LUT, in [1, {MAX_MU}] "
                            f"(costmodel.choose_mu picks the cost model's best, as `hwgen emit` does)"))
    unset = Rule(("mu",), (), lambda v: ~v.mu_given, None, ("mu",))  # (an unknown arch is reported once)
    return given, unset


def _fp_reduce_rules() -> tuple[Rule, ...]:
    """``fp_reduce``, ``fp_width``, ``fp_sticky`` and ``fp_round``: known values, FP LUT cores only,
    each mode's width range; a fused core's adder takes at most :data:`MAX_FUSED_TERMS` LUTs and no
    ``pipeline``."""
    blockfp, fused = FP_REDUCE_MODES.index("blockfp"), FP_REDUCE_MODES.index("fused")

    def fused_width(man_bits):
        return man_bits + 2, np.minimum(man_bits + 2 + MAX_FUSED_GUARD, MAX_FP_WIDTH)

    return (
        Rule(("fp_reduce",), (), lambda v: v.reduce_code < 0,
             lambda r: (f"`fp_reduce` must be one of {', '.join(FP_REDUCE_MODES)}, "
                        f"got fp_reduce={r.fp_reduce!r}")),
        Rule(("act", "fp_reduce"), (), lambda v: (v.reduce_code > 0) & (v.act_kind == 1),
             lambda r: (f"`fp_reduce` applies to floating-point activations only, got "
                        f"fp_reduce={r.fp_reduce!r} with act={r.act!r}")),
        Rule(("arch", "fp_reduce"), (), lambda v: (v.reduce_code > 0) & (v.arch_code == ARCHS.index("mac")),
             lambda r: (f"`fp_reduce` must be 'ieee' for arch='mac' (its tree sums products), got "
                        f"fp_reduce={r.fp_reduce!r}")),
        Rule(("fp_width",), ("fp_width",), lambda v: ~v.int_fp_width,
             lambda r: f"`fp_width` must be an integer, got fp_width={r.fp_width!r}", ("fp_width",)),
        Rule(("fp_reduce", "fp_width"), ("fp_width",),
             lambda v: (v.reduce_code == 0) & (v.fp_width != 0),
             lambda r: (f"`fp_width` applies to fp_reduce='blockfp' or 'fused' only (0 otherwise), got "
                        f"fp_width={r.fp_width!r} with fp_reduce={r.fp_reduce!r}")),
        Rule(("fp_reduce", "fp_width"), ("fp_width",),
             lambda v: (v.reduce_code == blockfp) & (v.fp_width != 0)
             & ((v.fp_width < MIN_FP_WIDTH) | (v.fp_width > MAX_FP_WIDTH)),
             lambda r: (f"`fp_width` must be in [{MIN_FP_WIDTH}, {MAX_FP_WIDTH}] bits per aligned "
                        f"activation (0: the format's default), got fp_width={r.fp_width!r}")),
        Rule(("act", "fp_reduce", "fp_width"), ("fp_width",),
             lambda v: (v.reduce_code == fused) & (v.act_kind == 2) & (v.fp_width != 0)
             & ((v.fp_width < fused_width(v.act_man)[0]) | (v.fp_width > fused_width(v.act_man)[1])),
             lambda r: ("`fp_width` must be in [{}, {}] bits for fp_reduce='fused' with act={!r} (sign, "
                        "significand and 0..{} guard bits; 0: the format's default), got fp_width={!r}"
                        .format(*(int(x) for x in fused_width(ActType.parse(r.act).fmt.man_bits)), r.act,
                                MAX_FUSED_GUARD, r.fp_width))),
        Rule(("fp_reduce", "luts"), ("luts",),
             lambda v: (v.reduce_code == fused) & (v.luts > MAX_FUSED_TERMS),
             lambda r: (f"`luts` must be in [1, {MAX_FUSED_TERMS}] for fp_reduce='fused' (terms of one fused "
                        f"adder), got luts={r.luts}")),
        Rule(("fp_reduce", "pipeline"), ("pipeline",), lambda v: (v.reduce_code == fused) & (v.pipeline != 0),
             lambda r: (f"`pipeline` must be 0 for fp_reduce='fused' (pipeline the fused adder with "
                        f"`adder_stages`), got pipeline={r.pipeline}")),
        Rule(("fp_sticky",), (), lambda v: ~v.bool_sticky,
             lambda r: f"`fp_sticky` must be true or false, got fp_sticky={r.fp_sticky!r}"),
        Rule(("fp_reduce", "fp_sticky"), (), lambda v: v.bool_sticky & v.sticky & (v.reduce_code != fused),
             lambda r: (f"`fp_sticky` applies to fp_reduce='fused' only (false otherwise), got "
                        f"fp_sticky={r.fp_sticky!r} with fp_reduce={r.fp_reduce!r}")),
        Rule(("fp_round",), (), lambda v: v.round_code < 0,
             lambda r: f"`fp_round` must be one of {', '.join(FP_ROUNDINGS)}, got fp_round={r.fp_round!r}"),
        Rule(("fp_reduce", "fp_round"), (), lambda v: (v.reduce_code == 0) & (v.round_code > 0),
             lambda r: (f"`fp_round` must be 'rne' with fp_reduce='ieee' (IEEE adders round to "
                        f"nearest even), got fp_round={r.fp_round!r}")),
    )


#: The rules of :class:`CoreConfig`, in the order of its problem lines.
RULES: tuple[Rule, ...] = (
    Rule(("arch",), (), lambda v: ~v.arch_known,
         lambda r: f"`arch` must be one of {', '.join(ARCHS)}, got arch={r.arch!r}"),
    Rule(("act",), (), lambda v: v.act_kind == 0, lambda r: _parse_problem(r.act, "act")),
    Rule(("act", "acc"), (), lambda v: (v.act_kind == 1) & ~v.acc_empty,
         lambda r: (f"`acc` applies to floating-point activations only (integer accumulators "
                    f"are sized from max_n), got acc={r.acc!r} with act={r.act!r}")),
    Rule(("act", "adder_stages"), (), lambda v: (v.act_kind == 1) & ~v.stages_zero,
         lambda r: (f"`adder_stages` applies to floating-point activations only (integer adders "
                    f"are combinational; use `pipeline`), got adder_stages={r.adder_stages!r}")),
    Rule(("act", "acc"), (), lambda v: (v.act_kind == 2) & (v.acc_kind == 0),
         lambda r: _parse_problem(r.acc or r.act, "acc")),
    Rule(("act", "acc"), (),
         lambda v: (v.act_kind == 2) & (v.acc_kind != 0)
         & ((v.acc_kind != 2) | (v.acc_exp < v.act_exp) | (v.acc_man < v.act_man)),
         lambda r: (f"`acc` must be a floating-point format at least as wide as act={r.act!r} "
                    f"in exponent and mantissa (e.g. 'fp32'), got acc={r.acc!r}")),
    *(rule for name, (lo, hi, unit) in INT_FIELDS.items()
      for rule in (*(_mu_rules() if name == "mu" else ()), *_int_rules(name, lo, hi, unit))),
    Rule(("arch", "mu"), ("mu",), lambda v: v.arch_baseline & (v.mu != 1),
         lambda r: f"`mu` must be 1 for arch={r.arch!r} ({_MU1_REASON[r.arch]}), got mu={r.mu}", ("mu",)),
    Rule(("mu", "luts", "max_n"), ("mu", "luts", "max_n"), lambda v: v.max_n < v.luts * v.mu,
         lambda r: (f"`max_n` must be at least the tile height luts*mu = {r.luts * r.mu} activations, "
                    f"got max_n={r.max_n}")),
    Rule(("keys", "max_m"), ("keys", "max_m"), lambda v: v.max_m < v.keys,
         lambda r: f"`max_m` must be at least the tile width keys = {r.keys} outputs, got max_m={r.max_m}"),
    Rule(("keys", "max_m", "reuse"), ("keys", "max_m", "reuse"),
         lambda v: (v.max_m >= v.keys) & (v.reuse > -(-v.max_m // v.keys)),
         lambda r: (f"`reuse` must be in [1, ceil(max_m/keys) = {math.ceil(r.max_m / r.keys)}] output tiles, "
                    f"got reuse={r.reuse}")),
    Rule(("luts", "pipeline"), ("luts", "pipeline"), lambda v: v.pipeline > 1 + tree_depth(v.luts),
         lambda r: (f"`pipeline` must be in [0, 1 + ceil(log2(luts)) = {1 + tree_depth(r.luts)}] "
                    f"register stages for luts={r.luts}, got pipeline={r.pipeline}")),
    *_fp_reduce_rules(),
    Rule(("name",), (), lambda v: ~v.name_ok, lambda r: _NAME_PROBLEM.format(name=r.name)),
)

# ------------------------------------------------------------------------------------------------
# Facts: one scalar function each (applied to the distinct values of a table's string columns)
# ------------------------------------------------------------------------------------------------

#: Fields of :class:`CoreConfig` a table may give, and the default of each (``luts``, ``keys``: none).
_DEFAULTS = {f.name: f.default for f in fields(CoreConfig) if f.init}
_REQUIRED = ("luts", "keys")
_STRING_FIELDS = ("arch", "act", "acc", "fp_reduce", "fp_round", "name")


def _arch_facts(arch: object) -> tuple[int, bool, bool]:
    """(code into ARCHS or -1, is "lut", is a baseline)."""
    known = isinstance(arch, str) and arch in ARCHS
    return (ARCHS.index(arch) if known else -1), arch == "lut", known and arch in _MU1_REASON


def _format_facts(text: object) -> tuple[int, int, int, int]:
    """(kind: 0 unparsable / 1 int / 2 fp, code into FORMATS or -1, exponent bits, mantissa bits)."""
    try:
        t = ActType.parse(text)
    except ValueError:
        return 0, -1, 0, 0
    if t.kind == "int":
        return 1, FORMATS.index(t.name), 0, 0
    return 2, FORMATS.index(t.name), t.fmt.exp_bits, t.fmt.man_bits


def _choice_code(choices: tuple[str, ...]):
    """A fact function: ``(index into choices or -1,)`` of a value."""
    return lambda x: (choices.index(x) if isinstance(x, str) and x in choices else -1,)


def _sticky_facts(x: object) -> tuple[bool, bool]:
    """(a bool, true) of an ``fp_sticky`` value."""
    ok = isinstance(x, bool | np.bool_)
    return ok, bool(x) if ok else False


def _name_ok(name: object) -> bool:
    return not name or _is_identifier(name)


def _facts_of(values: dict) -> SimpleNamespace:
    """The facts :data:`RULES` read, for one config's field values (``mu`` already defaulted)."""
    v = SimpleNamespace(**values)
    v.arch_code, arch_lut, arch_baseline = _arch_facts(v.arch)
    v.arch_known = np.bool_(v.arch_code >= 0)
    v.arch_lut, v.arch_baseline = np.bool_(arch_lut), np.bool_(arch_baseline)
    v.act_kind, v.act_code, v.act_exp, v.act_man = _format_facts(v.act)
    acc = v.acc or v.act
    v.acc_kind, v.acc_code, v.acc_exp, v.acc_man = _format_facts(acc)
    v.acc_empty, v.stages_zero = np.bool_(v.acc == ""), np.bool_(v.adder_stages == 0)
    v.mu_given = np.bool_(v.mu is not None)
    for name in INT_FIELDS:
        setattr(v, f"int_{name}", np.bool_(_is_int(getattr(v, name))))
    v.reduce_code = np.int64(_choice_code(FP_REDUCE_MODES)(v.fp_reduce)[0])
    v.round_code = np.int64(_choice_code(FP_ROUNDINGS)(v.fp_round)[0])
    v.int_fp_width = np.bool_(_is_int(v.fp_width))
    v.bool_sticky, v.sticky = (np.bool_(x) for x in _sticky_facts(v.fp_sticky))
    v.name_ok = np.bool_(_name_ok(v.name))
    return v


def config_problems(values: dict) -> list[str]:
    """The problems of one config (``values``: its init fields, ``mu`` defaulted by
    :func:`~hwgen.description.config.default_mu`), one line each, in :data:`RULES` order; empty
    when valid. :class:`CoreConfig` raises them as one ``ConfigError``."""
    v = _facts_of(values)
    ok = dict.fromkeys((*INT_FIELDS, "fp_width"), True)
    problems = []
    for rule in RULES:
        if all(ok[n] for n in rule.needs) and rule.bad(v):
            if rule.message is not None:
                problems.append(rule.message(v))
            for n in rule.marks:
                ok[n] = False
    return problems


# ------------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class TableCheck:
    """The validity of every row of a table of designs (:func:`check_columns`).

    Attributes
    ----------
    valid : numpy.ndarray
        Per row: a valid config.
    problems : dict[int, list[str]]
        The problem lines of each invalid row (by position), as :class:`CoreConfig` reports them.
    arrays : ConfigArrays
        Every row's fields; meaningful for valid rows only (invalid fields hold placeholders).
    columns : dict[str, numpy.ndarray]
        The given values of every field, defaults filled in (``mu`` by :func:`default_mu`).
    """

    valid: np.ndarray
    problems: dict[int, list[str]]
    arrays: ConfigArrays
    columns: dict[str, np.ndarray]


def _by_distinct(fn, column: np.ndarray) -> list[np.ndarray]:
    """``fn`` (returning a tuple) applied to each distinct value of ``column``: one array per item."""
    import pandas as pd

    try:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
    except TypeError:  # unhashable values: one call per row
        codes, uniques = np.arange(len(column)), column
    results = [fn(u) for u in uniques]
    if not results:
        return [np.zeros(0, np.int64)] * 4
    return [np.asarray(item)[codes] for item in zip(*results, strict=True)]


_PLACEHOLDER = 1
#: Magnitude past which an integer cell is clipped (it is out of every range; the message shows the cell).
_CLIP = 1 << 40


def _int_column(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 values, is an integer) of one column: placeholders where not an integer."""
    kind = values.dtype.kind
    if kind in "iu":
        return np.clip(values, -_CLIP, _CLIP).astype(np.int64), np.ones(len(values), bool)
    if kind == "f":
        whole = np.isfinite(values) & (values == np.floor(values))
        return np.where(whole, np.clip(values, -_CLIP, _CLIP), _PLACEHOLDER).astype(np.int64), whole
    if kind == "O":
        is_int = np.fromiter((_is_int(x) for x in values), bool, len(values))
        ints = np.array([max(-_CLIP, min(_CLIP, x)) if ok else _PLACEHOLDER
                         for x, ok in zip(values, is_int, strict=True)], np.int64)
        return ints, is_int
    return np.full(len(values), _PLACEHOLDER, np.int64), np.zeros(len(values), bool)  # bools, strings, ...


def _given(designs) -> tuple[dict[str, np.ndarray], int]:
    """Every init field's column as given, defaults filled in (missing cells too); whole numbers of
    float columns as ints."""
    import pandas as pd

    df = designs if isinstance(designs, pd.DataFrame) else pd.DataFrame(designs)
    size = len(df)
    columns = {}
    for name, default in _DEFAULTS.items():
        if name not in df:
            if name in _REQUIRED:
                raise KeyError(f"designs need a {name!r} column")
            dtype = np.int64 if _is_int(default) else bool if isinstance(default, bool) else object
            columns[name] = np.full(size, default, dtype=dtype)
            continue
        values = df[name].to_numpy()
        if values.dtype.kind == "f":
            values = np.array([None if x != x else int(x) if math.isfinite(x) and x == int(x) else x
                               for x in values.tolist()], dtype=object)
        if values.dtype.kind == "O":
            missing = pd.isna(values)
            if missing.any():
                values = values.copy()
                values[missing] = None if name in _REQUIRED else default
            if name not in _STRING_FIELDS and all(type(x) is int for x in values):
                values = values.astype(np.int64)  # (beyond int64, it stays object: out of every range)
        columns[name] = values
    return columns, size


def check_columns(designs) -> TableCheck:
    """Check every row of ``designs`` (a DataFrame, or anything ``pandas.DataFrame`` takes) against
    :data:`RULES`; see the module docstring for the columns. Raises ``KeyError`` for a missing
    ``luts`` or ``keys`` column."""
    columns, size = _given(designs)
    v = SimpleNamespace()
    arch = columns["arch"]
    v.arch_code, arch_lut, arch_baseline = _by_distinct(_arch_facts, arch)[:3]
    v.arch_known = v.arch_code >= 0
    v.arch_lut, v.arch_baseline = arch_lut.astype(bool), arch_baseline.astype(bool)
    mu = columns["mu"]
    if mu.dtype.kind == "O":  # unset mu: the arch's default (1 for the baselines)
        unset = np.fromiter((x is None for x in mu), bool, size)
        if unset.any():
            defaults = np.array([default_mu(a) if isinstance(a, str) else None for a in arch[unset]],
                                dtype=object)
            mu = mu.copy()
            mu[unset] = defaults
            columns["mu"] = mu
        v.mu_given = np.fromiter((x is not None for x in mu), bool, size)
    else:
        v.mu_given = np.ones(size, bool)
    for name in INT_FIELDS:
        value, is_int = _int_column(columns[name])
        setattr(v, name, value)
        setattr(v, f"int_{name}", is_int)
    v.act_kind, v.act_code, v.act_exp, v.act_man = _by_distinct(_format_facts, columns["act"])
    acc = columns["acc"]
    acc_set = _by_distinct(lambda x: (bool(x), x == ""), acc)
    acc_facts = _by_distinct(_format_facts, acc)
    v.acc_empty = acc_set[1].astype(bool)
    given = acc_set[0].astype(bool)  # `acc or act`: the accumulator format
    act_facts = (v.act_kind, v.act_code, v.act_exp, v.act_man)
    v.acc_kind, v.acc_code, v.acc_exp, v.acc_man = (np.where(given, a, b)
                                                    for a, b in zip(acc_facts, act_facts, strict=True))
    stages = columns["adder_stages"]
    if stages.dtype.kind == "O":  # Python equality, as CoreConfig compares
        v.stages_zero = np.fromiter((x == 0 for x in stages), bool, size)
    else:
        v.stages_zero = stages == 0
    v.reduce_code = _by_distinct(_choice_code(FP_REDUCE_MODES), columns["fp_reduce"])[0].astype(np.int64)
    v.round_code = _by_distinct(_choice_code(FP_ROUNDINGS), columns["fp_round"])[0].astype(np.int64)
    v.fp_width, v.int_fp_width = _int_column(columns["fp_width"])
    sticky = columns["fp_sticky"]
    if sticky.dtype.kind == "b":
        v.bool_sticky, v.sticky = np.ones(size, bool), sticky.astype(bool)
    else:  # element by element: pandas would factorize True and 1 as one value
        facts = np.array([_sticky_facts(x) for x in sticky], bool).reshape(size, 2)
        v.bool_sticky, v.sticky = facts[:, 0], facts[:, 1]
    v.name_ok = _by_distinct(lambda x: (_name_ok(x),), columns["name"])[0].astype(bool)
    ok = {n: np.ones(size, bool) for n in (*INT_FIELDS, "fp_width")}
    fired = []
    with np.errstate(all="ignore"):
        for rule in RULES:
            hit = np.asarray(rule.bad(v), bool)
            for n in rule.needs:
                hit = hit & ok[n]
            for n in rule.marks:
                ok[n] = ok[n] & ~hit
            fired.append(hit if rule.message is not None else np.zeros(size, bool))
    fired = np.stack(fired) if fired else np.zeros((0, size), bool)
    bad_rows = np.flatnonzero(fired.any(axis=0))
    problems = {}
    if bad_rows.size:
        raw = {n: c.tolist() if c.dtype.kind != "O" else c for n, c in columns.items()}
        for i in bad_rows.tolist():
            row = SimpleNamespace(**{n: c[i] for n, c in raw.items()})
            problems[i] = [rule.message(row) for rule, hit in zip(RULES, fired[:, i], strict=True) if hit]
    valid = ~fired.any(axis=0)
    reduce_code = np.maximum(v.reduce_code, 0)
    act_code = np.maximum(v.act_code, 0).astype(np.int64)
    arrays = ConfigArrays(arch=np.maximum(v.arch_code, 0).astype(np.int64),
                          act=act_code,
                          acc=np.where(v.act_kind == 1, v.act_code, np.maximum(v.acc_code, 0)).astype(
                              np.int64),
                          **{n: getattr(v, n) for n in INT_FIELDS},
                          fp_reduce=reduce_code,
                          fp_width=resolved_fp_width(reduce_code, v.fp_width, act_code),
                          fp_round=np.maximum(v.round_code, 0),
                          fp_sticky=(v.bool_sticky & v.sticky).astype(np.int64))
    return TableCheck(valid, problems, arrays, columns)


def check_table(designs):
    """Validity of every row of a table of designs, as a DataFrame with the table's index.

    Parameters
    ----------
    designs : pandas.DataFrame
        One column per :class:`CoreConfig` init field (see the module docstring for missing
        columns and cells).

    Returns
    -------
    pandas.DataFrame
        ``valid`` (bool: :class:`CoreConfig` accepts the row), ``problems`` (its problem lines,
        joined by newlines; ``""`` when valid), ``emittable`` (bool: valid and the generator can
        emit it, :meth:`CoreConfig.emit_problems`) and ``emit_problems`` (the generator's lines).

    Raises
    ------
    KeyError
        If there is no ``luts`` or ``keys`` column.
    """
    import pandas as pd

    check = check_columns(designs)
    size = len(check.valid)
    problems = np.full(size, "", dtype=object)
    for i, lines in check.problems.items():
        problems[i] = "\n".join(lines)
    emittable = check.valid.copy()
    emit = np.full(size, "", dtype=object)
    if check.valid.any():
        rows = np.flatnonzero(check.valid)
        too_wide = rows[~check.arrays.take(rows).emittable]
        emittable[too_wide] = False
        wide = check.arrays.take(too_wide)
        widths = {k: w.tolist() for k, w in wide.stream_bits.items()}
        for j, i in enumerate(too_wide.tolist()):
            name = check.columns["name"][i] or wide.name(j)
            emit[i] = "\n".join(emit_problems_of(name, {k: w[j] for k, w in widths.items()}))
    index = designs.index if isinstance(designs, pd.DataFrame) else None
    return pd.DataFrame({"valid": check.valid, "problems": problems, "emittable": emittable,
                         "emit_problems": emit}, index=index)
