"""Adapter overhead: area, tokens/s and weight traffic of LoRA, VeRA and ternary-A units beside a core.

For BitNet b1.58 2B4T decode (``designs/workloads/bitnet_b158_2b4t.toml``, all seven projections
adapted, q/k/v and gate/up sharing one down-projection pass) on the 64-wide fp16 and int8 cores
(``designs/cores/fp16_core64.toml``, ``int8_core64.toml``), the cost model
(:mod:`costmodel.adapter`) prices: no adapter; ``lora`` at rank 8, 16 and 64; ``vera`` and
``ternary-a`` at rank 16, ``vera`` also at 64. Each adapter runs with the fewest lanes that hide it
(every shared-input group within its last tile's add latency of the core alone) and the smallest
hold buffer that still hides it, and, where hiding costs more area than the 1 % tokens/s budget needs, with
the fewest lanes within that budget.

Per design: standard-cell area of core and adapter, SRAM (activation buffer, hold buffer, on-chip
adapters) at the explorer's assumed density (:data:`dse.explore.metrics.DEFAULT_SRAM_BITS_PER_UM2`),
the clock (the slower of the core's and the adapter lanes' paths), cycles per token, weight bits per
token (the core's keys and the adapter's weights) and tokens/s as the explorer's roofline
(``1 / max(compute time, weight streaming time)`` at ``--bandwidth-gbps``). The targets of the
adapter issue are checked and printed: ``lora`` r = 16 within 1 % of the tokens/s and 10 % of the
area of the core without adapter; ``vera``'s adapter weight traffic within 2 % of ``lora``'s.

Run ``python -m dse.studies.adapter_overhead`` or ``dse study adapter-overhead``; writes
``adapter_overhead.csv`` and ``adapter_overhead.png`` into ``--out``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from costmodel import estimate, load_unit_costs
from costmodel.adapter import estimate_adapter, fastest_lanes, lane_choices, smallest_hiding_lanes
from dse.explore.metrics import DEFAULT_SRAM_BITS_PER_UM2, SYSTEM_DEFAULTS
from hwgen.description.adapter import AdapterConfig, AdapterJob
from hwgen.description.config import CoreConfig, load_design
from hwgen.description.schedule import tiles
from hwgen.description.workload import PROJECTIONS, Workload, load_workload

from ._common import StudyParser, output_dir, pyplot, save_figure

__all__ = ["VARIANTS", "CORES", "WORKLOAD", "run", "main"]

ROOT = Path(__file__).resolve().parents[2]
CORES = ("designs/cores/fp16_core64.toml", "designs/cores/int8_core64.toml")
WORKLOAD = "designs/workloads/bitnet_b158_2b4t.toml"
#: (label, variant, rank) of the adapters priced; ``None``: no adapter.
VARIANTS = (
    ("none", None, 0),
    ("lora r8", "lora", 8),
    ("lora r16", "lora", 16),
    ("lora r64", "lora", 64),
    ("vera r16", "vera", 16),
    ("vera r64", "vera", 64),
    ("ternary-a r16", "ternary-a", 16),
)
#: Tokens/s the targets allow an adapter to cost, and area.
TOKENS_BUDGET, AREA_BUDGET = 0.01, 0.10
#: The share of lora's weight traffic vera may have.
TRAFFIC_BUDGET = 0.02


def _groups(workload: Workload, rank: int) -> list[tuple[int, list[AdapterJob]]]:
    return [
        (count, [AdapterJob(*job) for job in jobs])
        for count, jobs in workload.adapter_groups(rank, PROJECTIONS)
    ]


def _core_weight_bits(core: CoreConfig, workload: Workload) -> int:
    steps = sum(g.count * tiles(core, g.n, g.m)[0] * tiles(core, g.n, g.m)[1] for g in workload.gemvs)
    return steps * core.luts * core.keys * core.key_bits


def _row(label, core, report, cost, workload, bandwidth_gbps, sram_density) -> dict:
    """One design's figures: the core's ``report`` plus, when ``cost`` is given, its adapter."""
    cells = report.area_um2 + (cost.area_um2 if cost else 0.0)
    sram = report.act_buffer_bits + (cost.sram_bits if cost else 0)
    path_ns = max(report.critical_path_ns, cost.critical_path_ns if cost else 0.0)
    cycles = report.cycles + (cost.added_cycles if cost else 0)  # the core alone, plus what the adapter adds
    core_bits = _core_weight_bits(core, workload)
    adapter_bits = cost.traffic_bits if cost else 0
    compute_s = cycles * path_ns * 1e-9
    memory_s = (core_bits + adapter_bits) / (8e9 * bandwidth_gbps)
    return {
        "core": core.name,
        "adapter": label,
        "lanes": cost.adapter["lanes"] if cost else 0,
        "chunk": cost.adapter["chunk"] if cost else 0,
        "hold": cost.adapter["hold"] if cost else 0,
        "hides": cost.hides if cost else True,
        "cells_mm2": cells / 1e6,
        "adapter_cells_mm2": (cost.area_um2 / 1e6) if cost else 0.0,
        "sram_kbit": sram / 1e3,
        "area_mm2": cells / 1e6 + sram / sram_density / 1e6,
        "clock_mhz": 1000.0 / path_ns,
        "cycles_per_token": cycles,
        "adapter_traffic_mbit": adapter_bits / 1e6,
        "weight_mbit_per_token": (core_bits + adapter_bits) / 1e6,
        "tokens_per_s": 1.0 / max(compute_s, memory_s),
        "bound": "memory" if memory_s > compute_s else "compute",
    }


def smallest_hold(adapter: AdapterConfig, groups, costs):
    """The adapter's cost at the smallest hold buffer with which it still hides (bisection: fewer
    tiles held only stall the core more)."""
    lo, hi = 1, adapter.hold
    while lo < hi:
        mid = (lo + hi) // 2
        if estimate_adapter(adapter.replace(hold=mid), groups, costs=costs).hides:
            hi = mid
        else:
            lo = mid + 1
    return estimate_adapter(adapter.replace(hold=lo), groups, costs=costs)


def _within_budget(adapter: AdapterConfig, groups, base_tps: float, row_of, costs):
    """The adapter at the fewest lanes (keeping its chunk) whose tokens/s is within
    :data:`TOKENS_BUDGET` of ``base_tps`` (bisection below its lanes: tokens/s only falls as lanes
    do)."""
    choices = [p for c, p in lane_choices(adapter) if c == adapter.chunk and p <= adapter.lanes]
    lo, hi = 0, len(choices) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        row = row_of(estimate_adapter(adapter.replace(lanes=choices[mid]), groups, costs=costs))
        if row["tokens_per_s"] >= (1 - TOKENS_BUDGET) * base_tps:
            hi = mid
        else:
            lo = mid + 1
    return estimate_adapter(adapter.replace(lanes=choices[lo]), groups, costs=costs)


def run(
    cores=CORES,
    workload_path: str = WORKLOAD,
    *,
    bandwidth_gbps: float = SYSTEM_DEFAULTS["bandwidth_gbps"],
    sram_density: float = DEFAULT_SRAM_BITS_PER_UM2,
    variants=VARIANTS,
) -> pd.DataFrame:
    """The study's table: one row per (core, adapter, lanes choice)."""
    costs = load_unit_costs()
    workload = load_workload(ROOT / workload_path if not Path(workload_path).is_absolute() else workload_path)
    gemvs = [(g.name, g.n, g.m, g.count) for g in workload.gemvs]
    rows = []
    for path in cores:
        core = CoreConfig(**load_design(ROOT / path if not Path(path).is_absolute() else path))
        report = estimate(core, gemvs=gemvs, costs=costs)

        def row_of(cost, label="", core=core, report=report):
            return _row(label, core, report, cost, workload, bandwidth_gbps, sram_density)

        base = row_of(None, "none")
        rows.append({**base, "lanes_choice": "-"})
        for label, variant, rank in variants:
            if variant is None:
                continue
            adapter = AdapterConfig(core=core, variant=variant, max_rank=rank)
            groups = _groups(workload, rank)
            found = smallest_hiding_lanes(adapter, groups)
            choice = "hides" if found is not None else "within 1 % of its fewest cycles (does not hide)"
            found = found or fastest_lanes(adapter, groups)
            hiding = estimate_adapter(found, groups, costs=costs)
            if hiding.hides:
                hiding = smallest_hold(found, groups, costs)
            rows.append({**row_of(hiding, label), "lanes_choice": choice})
            ad = AdapterConfig.from_dict({"core": core.to_dict(), **hiding.adapter})
            budget = _within_budget(ad, groups, base["tokens_per_s"], row_of, costs)
            if budget.adapter["lanes"] < hiding.adapter["lanes"]:
                rows.append({**row_of(budget, label), "lanes_choice": "within 1 % tokens/s"})
    table = pd.DataFrame(rows)
    for _, part in table.groupby("core", sort=False):
        base = part[part["adapter"] == "none"].iloc[0]
        idx = part.index
        table.loc[idx, "area_overhead_pct"] = 100 * (part["area_mm2"] / base["area_mm2"] - 1)
        table.loc[idx, "cells_overhead_pct"] = 100 * (part["cells_mm2"] / base["cells_mm2"] - 1)
        table.loc[idx, "tokens_loss_pct"] = 100 * (1 - part["tokens_per_s"] / base["tokens_per_s"])
    return table


def targets(table: pd.DataFrame) -> list[str]:
    """The issue's targets, one line each, met or not."""
    lines = []
    for core_name, part in table.groupby("core", sort=False):
        lora = part[(part["adapter"] == "lora r16")]
        for _, r in lora.iterrows():
            ok = r["tokens_loss_pct"] <= 100 * TOKENS_BUDGET and r["area_overhead_pct"] <= 100 * AREA_BUDGET
            lines.append(
                f"{core_name}: lora r16 ({r['lanes_choice']}, {r['lanes']} lanes): tokens/s "
                f"-{r['tokens_loss_pct']:.2f} % (target <= 1 %), area +{r['area_overhead_pct']:.1f} % "
                f"(target <= 10 %): {'met' if ok else 'NOT met'}"
            )
        for rank in (16, 64):
            first = part[part["lanes_choice"] != "within 1 % tokens/s"]
            vera, lo = first[first["adapter"] == f"vera r{rank}"], first[first["adapter"] == f"lora r{rank}"]
            if len(vera) and len(lo):
                share = vera.iloc[0]["adapter_traffic_mbit"] / lo.iloc[0]["adapter_traffic_mbit"]
                lines.append(f"{core_name}: vera r{rank} adapter traffic = {100 * share:.2f} % of lora "
                             f"r{rank}'s "
                             f"(target <= 2 %): {'met' if share <= TRAFFIC_BUDGET else 'NOT met'}")
    return lines


def plot(table: pd.DataFrame, path: Path) -> None:
    plt = pyplot()
    cores = list(dict.fromkeys(table["core"]))
    fig, axes = plt.subplots(1, len(cores), figsize=(6.5 * len(cores), 4.2), squeeze=False)
    for ax, core_name in zip(axes[0], cores, strict=True):
        part = table[(table["core"] == core_name) & (table["adapter"] != "none")]
        for choice, marker in (("hides", "o"), (("within 1 % of its fewest cycles (does not "
                                                "hide)"), "^"), ("within 1 % tokens/s", "s")):
            sel = part[part["lanes_choice"] == choice]
            ax.scatter(sel["area_overhead_pct"], sel["tokens_loss_pct"], marker=marker, label=choice)
            for _, r in sel.iterrows():
                ax.annotate(
                    f"{r['adapter']} ({r['lanes']})",
                    (r["area_overhead_pct"], r["tokens_loss_pct"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
        ax.axvline(100 * AREA_BUDGET, color="grey", lw=0.8, ls="--")
        ax.axhline(100 * TOKENS_BUDGET, color="grey", lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_xlabel("area overhead, % (cells + SRAM; log scale)")
        ax.set_ylabel("tokens/s lost, %")
        ax.set_title(core_name)
        ax.legend(fontsize=7)
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    p = StudyParser(prog="python -m dse.studies.adapter_overhead", description=__doc__.split("\n")[0])
    p.add_argument(
        "--bandwidth-gbps",
        type=float,
        default=SYSTEM_DEFAULTS["bandwidth_gbps"],
        help="weight memory bandwidth, GB/s (default: %(default)s, the explorer's)",
    )
    p.add_argument("--out", default="out/studies", help="folder for CSV and PNG (default: %(default)s)")
    args = p.parse_args(argv)
    if not args.bandwidth_gbps > 0:
        p.error(f"--bandwidth-gbps: must be a positive number of GB/s, got {args.bandwidth_gbps}")
    table = run(bandwidth_gbps=args.bandwidth_gbps)
    out = output_dir(args.out)
    table.to_csv(out / "adapter_overhead.csv", index=False)
    plot(table, out / "adapter_overhead.png")
    cols = [
        "core",
        "adapter",
        "lanes_choice",
        "lanes",
        "chunk",
        "hold",
        "adapter_cells_mm2",
        "area_mm2",
        "area_overhead_pct",
        "clock_mhz",
        "cycles_per_token",
        "tokens_per_s",
        "tokens_loss_pct",
        "adapter_traffic_mbit",
        "bound",
    ]
    with pd.option_context(
        "display.width", 220, "display.max_columns", 30, "display.float_format", "{:.4g}".format
    ):
        print(table[cols].to_string(index=False))
    print()
    for line in targets(table):
        print(line)
    print(f"\nwrote {out / 'adapter_overhead.csv'} and {out / 'adapter_overhead.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
