"""Results of a study: every trial as a table, the Pareto set, the Pareto plot, design export.

:func:`trials_frame` reads the study's storage into a pandas DataFrame, one row per trial:
``number``, ``state``, ``slot``, the parameters, every metric, the ``constraint_<name>`` values
(``<= 0``: met), ``feasible``, ``pareto`` (feasible, complete and not dominated in the study's
objectives) and ``problems`` (why a pruned design is invalid). :func:`write_results` saves it as
CSV and Parquet and draws the Pareto plot with reference designs marked
(:func:`reference_designs`: the presets of ``designs/published/`` and the seed paper's square
tiles 8, 32, 64 and 96, each priced with the study's own fixed system parameters).
:func:`export_design` writes a trial's core as a design file that ``hwgen emit --design`` reads.
Files are written to a temporary name and renamed, so an interrupted write leaves no half file.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from costmodel.table import CONFIG_COLUMNS
from hwgen.description.config import ConfigError, load_design, luts_for

from .metrics import ADAPTER_PARAMS, METRICS, NO_ADAPTER
from .pareto import pareto_mask
from .points import design_table, score
from .spec import StudySpec

__all__ = ["trials_frame", "pareto_rows", "write_results", "reference_designs", "plot_pareto",
           "export_design", "core_fields", "adapter_fields", "atomic_write", "pick_trial", "PAPER_CORES"]

#: Square tile edges the seed paper synthesised.
PAPER_CORES = (8, 32, 64, 96)
_PUBLISHED = Path(__file__).resolve().parents[2] / "designs" / "published"


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` and rename the temporary file to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def trials_frame(study, spec: StudySpec) -> pd.DataFrame:
    """One row per trial of ``study`` (see the module docstring), ordered by trial number."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row = {"number": t.number, "state": t.state.name, "slot": t.user_attrs.get("ternlut_slot")}
        row.update({f"param_{k}": v for k, v in t.params.items()})
        row.update(t.user_attrs.get("metrics", {}))
        for name, value in t.constraints.items():
            row[f"constraint_{name}"] = value
        row["problems"] = "\n".join(t.user_attrs.get("problems", []))
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["number", "state", "slot", "problems"])
    cons = [c for c in frame.columns if c.startswith("constraint_")]
    complete = frame["state"] == "COMPLETE"
    feasible = complete.copy()
    for c in cons:
        feasible &= frame[c].fillna(np.inf) <= 0
    frame["feasible"] = feasible.to_numpy(bool)
    frame["pareto"] = False
    objectives = [m for m, _ in spec.objectives]
    if feasible.any() and all(m in frame for m in objectives):
        sub = frame.loc[feasible, objectives].to_numpy(float)
        frame.loc[feasible, "pareto"] = pareto_mask(sub, spec.directions)
    return frame.sort_values("number").reset_index(drop=True)


def pareto_rows(frame: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """The designs of the Pareto set of ``frame``, sorted by the first objective (best first).

    A sampler may draw one design more than once (a discrete space): each design is listed once,
    as its first trial, with ``repeats`` counting the trials that drew it."""
    first, direction = spec.objectives[0]
    front = frame[frame["pareto"]].sort_values("number")
    keys = [f"param_{p}" for p in spec.param_names if f"param_{p}" in front]
    if keys and len(front):
        key = front[keys].astype(str).agg("|".join, axis=1)
        front = front.assign(repeats=key.map(key.value_counts()).to_numpy())
        front = front[~key.duplicated()]
    else:
        front = front.assign(repeats=1)
    order = front.sort_values([first, "number"], ascending=[direction == "minimize", True])
    return order.reset_index(drop=True)


def _reference_points(spec: StudySpec) -> list[tuple[str, dict]]:
    """(label, config) of the published presets and the paper's square tiles, in ``spec``'s act."""
    refs = []
    for path in sorted(_PUBLISHED.glob("*.toml")):
        try:
            refs.append((path.stem, load_design(path)))
        except ConfigError:
            continue
    act = spec.fixed.get("act", "int8")
    acc = spec.fixed.get("acc", "")
    for c in PAPER_CORES:
        for mu in (2, 3):
            refs.append((f"paper {c}x{c} mu{mu}", {"arch": "lut", "act": act, "acc": acc, "mu": mu,
                                                   "luts": luts_for(c, mu), "keys": c}))
    return refs


def reference_designs(spec: StudySpec) -> pd.DataFrame:
    """The reference designs (:func:`_reference_points`) with the study's metrics, one core each and
    the study's fixed system parameters; designs that cannot run the workload are left out."""
    rows = []
    for label, cfg in _reference_points(spec):
        point = {k: v for k, v in cfg.items() if k in CONFIG_COLUMNS and k not in ("max_n", "max_m", "name")}
        point["cores"] = spec.fixed.get("cores", 1) if isinstance(spec.fixed.get("cores"), int) else 1
        for k in ("bandwidth_gbps", "clock_mhz", "sram_bits_per_um2"):
            if k in spec.fixed:
                point[k] = spec.fixed[k]
        rows.append((label, point))
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame([p for _, p in rows])
    fixed = StudySpec(**{**spec.__dict__, "fixed": {k: v for k, v in spec.fixed.items()
                                                    if k not in CONFIG_COLUMNS}})
    table = design_table(fixed, table)
    scored = score(spec, table)
    labels = [label for (label, _), ok in zip(rows, scored.valid, strict=True) if ok]
    out = scored.metrics.copy()
    out.insert(0, "label", labels)
    return out


def _axis(metric: str) -> str:
    unit = METRICS[metric].unit
    return f"{metric} ({unit})" if unit else metric


#: Most points of an exhaustive sweep drawn behind its front.
CLOUD_POINTS = 20_000


def plot_pareto(frame: pd.DataFrame, spec: StudySpec, path: Path,
                references: pd.DataFrame | None = None, cloud: pd.DataFrame | None = None) -> None:
    """Scatter of every complete trial in the first two objectives (one objective: against
    ``area_mm2``, or ``tokens_per_s`` when the objective is area), the Pareto set joined by a line,
    infeasible trials faded, reference designs marked and labelled. ``cloud``: the valid points of
    an exhaustive sweep (a random :data:`CLOUD_POINTS` of them drawn faintly behind)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = spec.objectives[0][0]
    if len(spec.objectives) > 1:
        y = spec.objectives[1][0]
    else:
        y = "tokens_per_s" if x == "area_mm2" else "area_mm2"
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    done = frame[frame["state"] == "COMPLETE"] if "state" in frame else frame
    if cloud is not None and x in cloud and y in cloud and len(cloud) and x in done and len(done):
        span = [done[x].max()] + [c.max for c in spec.constraints if c.metric == x and c.max is not None]
        near = cloud[cloud[x] <= 1.5 * max(span)]  # the neighbourhood of the front, not the far corners
        some = near.sample(min(len(near), CLOUD_POINTS), random_state=0)
        ax.scatter(some[x], some[y], s=3, c="0.85", rasterized=True,
                   label=f"swept designs ({len(cloud):,}; {len(some):,} near the front drawn)")
    if x in done and y in done:
        bad = done[~done["feasible"]]
        ok = done[done["feasible"]]
        ax.scatter(bad[x], bad[y], s=8, c="0.8", label=f"infeasible ({len(bad)})")
        ax.scatter(ok[x], ok[y], s=10, c="tab:blue", alpha=0.5, label=f"feasible ({len(ok)})")
        front = ok[ok["pareto"]].sort_values(x)
        ax.plot(front[x], front[y], "-o", c="tab:red", ms=4, label=f"Pareto set ({len(front)})")
    if references is not None and len(references):
        ax.scatter(references[x], references[y], marker="*", s=90, c="black", label="reference designs")
        for _, r in references.iterrows():
            ax.annotate(r["label"], (r[x], r[y]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    for c in spec.constraints:
        if c.metric == x and c.max is not None:
            ax.axvline(c.max, ls="--", c="tab:green", lw=1, label=c.describe())
        if c.metric == y and c.min is not None:
            ax.axhline(c.min, ls="--", c="tab:green", lw=1, label=c.describe())
    for name, axis in ((x, "x"), (y, "y")):
        values = done[name] if name in done else pd.Series(dtype=float)
        if len(values) and values.min() > 0 and values.max() / values.min() > 30:
            (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    ax.set_xlabel(_axis(x))
    ax.set_ylabel(_axis(y))
    ax.set_title(f"{spec.name}: {spec.workload.name}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


def write_results(frame: pd.DataFrame, spec: StudySpec, out_dir: Path, *,
                  plot: bool = True) -> dict[str, Path]:
    """Save ``trials.csv``, ``trials.parquet``, ``pareto.csv`` and ``pareto.png`` in ``out_dir`` (an
    exhaustive sweep's ``points.parquet`` there is drawn behind its front)."""
    out_dir = Path(out_dir)
    paths = {"csv": out_dir / "trials.csv", "parquet": out_dir / "trials.parquet",
             "pareto_csv": out_dir / "pareto.csv"}
    atomic_write(paths["csv"], lambda tmp: frame.to_csv(tmp, index=False))
    atomic_write(paths["parquet"], lambda tmp: _parquet(frame, tmp))
    atomic_write(paths["pareto_csv"], lambda tmp: pareto_rows(frame, spec).to_csv(tmp, index=False))
    if plot:
        paths["png"] = out_dir / "pareto.png"
        points = out_dir / "points.parquet"
        cloud = pd.read_parquet(points) if spec.sampler == "exhaustive" and points.is_file() else None
        plot_pareto(frame, spec, paths["png"], reference_designs(spec), cloud)
    return paths


def _text_or_none(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v if isinstance(v, str) else str(v)


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    clean = frame.copy()
    for col in clean.columns:  # mixed object columns (e.g. acc "" with NaN) as strings
        if clean[col].dtype == object:
            clean[col] = clean[col].map(_text_or_none)
    clean.to_parquet(path, index=False)


def pick_trial(frame: pd.DataFrame, spec: StudySpec, *, number: int | None = None,
               best: str | None = None) -> pd.Series:
    """The trial ``number``, or the feasible complete trial best in metric ``best`` (ties: the
    Pareto-set member first, then the lower number). :class:`ConfigError` when there is none."""
    if number is not None:
        hit = frame[frame["number"] == number]
        if hit.empty:
            raise ConfigError([(f"--trial: no trial {number} in study {spec.name!r} "
                               f"(trials 0..{int(frame['number'].max()) if len(frame) else -1})")])
        row = hit.iloc[0]
        if row["state"] != "COMPLETE":
            why = f": {row['problems'].splitlines()[0]}" if row.get("problems") else ""
            raise ConfigError([f"--trial: trial {number} is {row['state']}, not a complete design{why}"])
        return row
    if best not in METRICS:
        raise ConfigError([f"--best: unknown metric {best!r} (allowed: {', '.join(METRICS)})"])
    pool = frame[frame["feasible"]]
    if pool.empty or best not in pool:
        raise ConfigError([f"--best: study {spec.name!r} has no feasible complete trial yet"])
    ascending = METRICS[best].better == "minimize"
    order = pool.sort_values([best, "pareto", "number"], ascending=[ascending, False, True])
    return order.iloc[0]


def core_fields(row: pd.Series) -> dict:
    """The :class:`~hwgen.description.config.CoreConfig` arguments of a trial's row (the config
    columns it has; an empty ``acc``, missing cells and ``name`` left out, so they take the config's
    defaults)."""
    core = {}
    for key in CONFIG_COLUMNS:
        if key == "name" or key not in row or row[key] is None:
            continue
        value = row[key]
        if isinstance(value, float) and math.isnan(value):
            continue
        if key in ("arch", "act", "acc", "fp_reduce", "fp_round"):
            if key == "acc" and not value:
                continue
            core[key] = str(value)
        elif key == "fp_sticky":
            core[key] = bool(value)
        else:
            core[key] = int(value)
    return core


def adapter_fields(row: pd.Series) -> dict:
    """The :class:`~hwgen.description.adapter.AdapterConfig` arguments (but ``core``) of a trial's
    row as built (lanes, chunk, hold and fmt resolved), or ``{}`` when the design has no adapter."""
    variant = row.get("adapter") if "adapter" in row else None
    if not isinstance(variant, str) or variant in (NO_ADAPTER, ""):
        return {}
    out = {}
    for name, field in ADAPTER_PARAMS.items():
        value = row.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        out[field] = str(value) if field in ("variant", "fmt", "storage") else int(value)
    return out


def export_design(row: pd.Series, spec: StudySpec, path: Path) -> Path:
    """Write trial ``row``'s core as a design file (``[core]`` table) that ``hwgen emit --design``
    reads, with its adapter as built (``[adapter]``) when it has one; its system parameters and
    metrics go in as comments and a ``[study]`` provenance table."""
    core = core_fields(row)
    lines = [f"# Trial {int(row['number'])} of study {spec.name!r} (workload {spec.workload.name}).",
             f"# Written by `dse export`; emit with `hwgen emit --design {Path(path).name}`.",
             "# Per-token metrics of the study's model (all cores):"]
    cores = int(row["cores"]) if "cores" in row else 1
    if cores > 1:
        lines.insert(2, f"# The design point is {cores} of these cores sharing each GEMV's output tiles "
                        "([study] cores); [core] describes one.")
    for m, _ in spec.objectives:
        lines.append(f"#   {m} = {row[m]:.6g}")
    for m in ("area_mm2", "tokens_per_s", "clock_mhz", "cycles_per_token", "bandwidth_needed_gbps"):
        if m in row and all(m != o for o, _ in spec.objectives):
            lines.append(f"#   {m} = {row[m]:.6g}")
    lines += ["", "[core]"]
    for key, value in core.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f'{key} = "{value}"' if isinstance(value, str) else f"{key} = {value}")
    adapter = adapter_fields(row)
    if adapter:  # the adapter as built beside the core (hwgen.description.adapter.load_adapter reads it)
        lines += ["", "[adapter]"] + [f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}"
                                      for k, v in adapter.items()]
    lines += ["", "[study]", f'name = "{spec.name}"', f"trial = {int(row['number'])}"]
    for key in ("cores", "bandwidth_gbps", "clock_mhz", "sram_bits_per_um2"):
        if key in row:
            value = row[key]
            lines.append(f"{key} = {int(value) if key == 'cores' else float(value)!r}")
    text = "\n".join(lines) + "\n"
    atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return Path(path)
