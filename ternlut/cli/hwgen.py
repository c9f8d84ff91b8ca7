"""The ``hwgen`` command line: ``emit`` (Verilog of a core), ``cost`` (the cost model), ``synth`` (synthesis).

Commands are :class:`~ternlut.cli._base.Command` classes registered in :data:`COMMANDS` (the one
place to add a command); :func:`~ternlut.cli._base.make_main` gives each ``--json`` and its
example in ``--help``. The design options they share are in :mod:`ternlut.cli._design_options`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hwgen.description.config import UNIT_KINDS, ConfigError, CoreConfig, UnitConfig

from . import _design_options as design
from ._adapter_options import ADAPTER_FLAGS, adapter_targets, add_adapter_arguments, resolve_adapter
from ._base import (
    Command,
    CommandError,
    atomic_write,
    check_output_dir,
    check_writable,
    config_problems,
    int_range,
    make_main,
    make_parser,
    positive_float,
)

__all__ = ["main", "COMMANDS", "cli_config", "EmitCommand", "CostCommand", "SynthCommand"]

PROG = "hwgen"
DESCRIPTION = "Generate ternary-weight LUT accelerator cores (Verilog via Amaranth)."


def _print_ports(ports: list[dict[str, object]]) -> None:
    print("  ports:")
    for port in ports:
        print(f"    {port['direction']:<6} {port['name']:<16} {port['width']:>6} bits  {port['doc']}")


#: One line per ``--arch`` baseline for the emit summary.
_ARCH_DOCS = {
    "signflip": "no LUT reuse: each weight selects +a, -a or 0; the LUT core at mu=1",
    "mac": "a multiplier per weight and output; full-width weight operands on the keys stream",
}


class EmitCommand(Command):
    """``hwgen emit``: write the Verilog of a LUT core (or of one FP unit) and print its summary."""

    name = "emit"
    help = "write the Verilog of a ternary LUT core"
    example = ("hwgen emit --act int8 --core 64 -o lut_int8.v\n"
               "hwgen emit --act fp16 --core 64 --clock-mhz 100")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        design.add_design_arguments(p)
        design.add_clock_argument(p)
        p.add_argument("--unit", default=None, choices=UNIT_KINDS,
                       help="emit a single floating-point unit (ports a, b, o) of the --act format "
                            "instead of a core")
        p.add_argument("-o", "--output", default=None, metavar="PATH",
                       help="Verilog file to write (default: ./NAME.v)")
        add_adapter_arguments(p)

    def unit_config(self, args: argparse.Namespace) -> UnitConfig:
        """The stand-alone unit of ``--unit``; core options are refused, not ignored."""
        core_only = [option for option in design.given_options(args)
                     if option not in ("--act", "--adder-stages", "--name")]
        if args.clock_mhz is not None:
            core_only.append(design.CLOCK_FLAG)
        if core_only:
            raise CommandError(f"--unit: {', '.join(core_only)} do(es) not apply to a single unit "
                               f"(allowed: --act, --adder-stages, --name, -o)")
        try:
            return UnitConfig(unit=args.unit, act=args.act or "fp16", adder_stages=args.adder_stages or 0,
                              name=args.name or "")
        except ConfigError as exc:
            raise design.config_error(exc, {"unit": "--unit"}) from None

    def _write(self, args: argparse.Namespace, path: Path, text: str, module: str, doc: dict) -> bool:
        """Write the Verilog; with ``--json`` print ``doc`` as the command's JSON document and return
        True, else print the ``wrote ...`` line and return False (the caller prints its summary)."""
        atomic_write(path, text, "-o")
        if args.json:
            self.print_json({"output": str(path), **doc})
            return True
        print(f"wrote {path} ({len(text.splitlines())} lines of Verilog, module {module})")
        return False

    def run_unit(self, args: argparse.Namespace) -> int:
        from hwgen.gateware.emit import build_unit, to_verilog
        from hwgen.gateware.ports import port_table

        ucfg = self.unit_config(args)
        path = Path(args.output) if args.output else Path(f"{ucfg.name}.v")
        check_writable(path, "-o")
        unit = build_unit(ucfg)
        op = "a + b" if ucfg.unit == "fp-add" else "a * b"
        docs = {"a": f"operand a, {ucfg.act} bit pattern", "b": f"operand b, {ucfg.act} bit pattern",
                "o": f"{op}, {ucfg.act} bit pattern, {ucfg.adder_stages} cycles later"}
        ports = port_table(unit, clocked=ucfg.adder_stages > 0, docs=docs)
        unit_doc = {"unit": ucfg.unit, "act": ucfg.act, "adder_stages": ucfg.adder_stages, "name": ucfg.name,
                    "latency_cycles": ucfg.adder_stages}
        text = to_verilog(unit, ucfg.name)
        if self._write(args, path, text, ucfg.name, {"unit": unit_doc, "ports": ports}):
            return 0
        print(f"  unit          : {ucfg.unit} on {ucfg.act} (IEEE-754 style, round to nearest even, "
              f"subnormals kept, canonical NaN)")
        print(f"  latency       : {ucfg.adder_stages} cycles ({ucfg.adder_stages} pipeline registers)")
        _print_ports(ports)
        return 0

    def run_adapted(self, args: argparse.Namespace, adapter) -> int:
        """``--adapter``: the core with its adapter unit (:class:`hwgen.gateware.adapter.AdaptedCore`)."""
        from hwgen.gateware.adapter import AdaptedCore, adapted_name, adapter_emit_problems
        from hwgen.gateware.emit import adapted_verilog
        from hwgen.gateware.ports import port_table

        if args.lanes == "auto":
            raise CommandError("--lanes: auto needs a workload: find the lanes with hwgen cost --workload "
                               "FILE --lanes auto, then give them here")
        problems = adapter_emit_problems(adapter)
        if problems:
            raise CommandError("\n".join(f"--adapter: {p}" for p in problems))
        name = adapted_name(adapter)
        path = Path(args.output) if args.output else Path(f"{name}.v")
        check_writable(path, "-o")
        adapted = AdaptedCore(adapter, shared_units=True)
        ports = port_table(adapted)
        text = adapted_verilog(adapted)
        doc = {"config": adapter.core.to_dict(), "adapter": adapter.params(), "summary": adapter.summary(),
               "ports": ports}
        if self._write(args, path, text, name, doc):
            return 0
        cfg = adapter.core
        print(f"  core          : {cfg.name} ({cfg.tile_n} x {cfg.tile_m} tile, {cfg.act})")
        extra = (f" ({adapter.trees} trees of {adapter.chunk})" if adapter.chunk else
                 " (u from the core's own tiles)")
        print(f"  adapter       : {adapter.variant}, rank <= {adapter.max_rank}, {adapter.lanes} lanes"
              f"{extra}, {adapter.fmt}, {adapter.resident} resident, hold {adapter.hold} tiles, "
              f"share {adapter.share}")
        _print_ports(ports)
        return 0

    def run(self, args: argparse.Namespace) -> int:
        from hwgen.gateware.emit import build, core_verilog
        from hwgen.gateware.ports import port_table

        if args.unit:
            return self.run_unit(args)
        resolved = design.resolve(args)
        cfg = resolved.config
        adapter = resolve_adapter(args, cfg)
        if adapter is not None:
            return self.run_adapted(args, adapter)
        path = Path(args.output) if args.output else Path(f"{cfg.name}.v")
        check_writable(path, "-o")
        try:
            core = build(cfg, shared_units=True)
        except ValueError as exc:  # e.g. the weight words of a wide --arch mac core
            raise CommandError(str(exc)) from None
        ports = port_table(core)
        text = core_verilog(core)
        summary = {**cfg.summary(), "mu_source": resolved.mu_source}
        doc = {"config": cfg.to_dict(), "summary": summary, "ports": ports}
        if resolved.clock_choice is not None:
            doc["clock"] = resolved.clock_choice.to_dict()
        if self._write(args, path, text, cfg.name, doc):
            return 0
        if cfg.arch != "lut":
            print(f"  arch          : {cfg.arch} ({_ARCH_DOCS[cfg.arch]})")
        if cfg.is_mac:
            print(f"  tile          : {cfg.tile_n} activations x {cfg.tile_m} outputs per cycle "
                  f"({cfg.luts} activation lanes x {cfg.keys} multipliers)")
            print(f"  multipliers   : {cfg.luts * cfg.keys} x {cfg.act} ({cfg.product_width}-bit products), "
                  f"tree over {cfg.tile_n} products per output")
        else:
            print(f"  tile          : {cfg.tile_n} activations x {cfg.tile_m} outputs per cycle "
                  f"({cfg.luts} LUTs x mu={cfg.mu}, {cfg.keys} fetchers per LUT)")
            print(f"  mu            : {cfg.mu} ({resolved.mu_source})")
            print(f"  LUT           : {cfg.plan.entries} entries, {cfg.plan.adders} adders per LUT "
                  f"({cfg.plan.adders * cfg.luts} in all), build depth {cfg.plan.depth}")
        print(f"  activations   : {cfg.act}, buffer {cfg.max_tiles_n} rows x {cfg.tile_n} "
              f"(max_n={cfg.max_n})")
        if cfg.is_blockfp:
            print(f"  block FP      : each row aligned to its largest exponent into {cfg.fp_width}-bit "
                  f"integers (buffer rows of {cfg.buffer_row_bits} bits); integer LUTs and tree; tile sums "
                  f"rounded ({cfg.fp_round}) into {cfg.acc_type}, accumulated by adders with "
                  f"{cfg.adder_stages} pipeline registers")
        elif cfg.is_fused:
            sticky = " and a sticky bit" if cfg.fp_sticky else ""
            print(f"  fused adders  : one per output over the {cfg.luts} fetched values, aligned to "
                  f"{cfg.fp_width} bits ({cfg.fused_guard} guard bits{sticky}), rounded ({cfg.fp_round}) "
                  f"into "
                  f"{cfg.acc_type}; {cfg.adder_stages} pipeline registers in every FP unit")
        elif cfg.is_fp and cfg.is_mac:
            print(f"  FP units      : {cfg.adder_stages} pipeline registers per adder and multiplier; "
                  f"accumulate in {cfg.acc_type}")
        elif cfg.is_fp:
            print(f"  FP adders     : {cfg.adder_stages} pipeline registers each; "
                  f"accumulate in {cfg.acc_type}")
        if cfg.is_mac:
            print(f"  keys          : one {cfg.key_bits}-bit weight operand ({cfg.act} format) per weight")
        else:
            print(f"  keys          : {cfg.key_bits} bits per {cfg.mu} weights")
        if cfg.is_fp:
            print(f"  accumulators  : {cfg.reuse} x {cfg.keys} x {cfg.acc_type}; max_m={cfg.max_m}")
        else:
            print(f"  accumulators  : {cfg.reuse} x {cfg.keys} x {cfg.acc_width} bits (no overflow up to "
                  f"N={cfg.max_n}); max_m={cfg.max_m}")
        print(f"  pipeline      : {cfg.pipeline} extra stages")
        if resolved.clock_choice is not None:
            print(f"  clock target  : {resolved.clock_choice.describe()}")
        _print_ports(ports)
        return 0


def _gemvs(args: argparse.Namespace) -> tuple[str, list[tuple[str, int, int, int]]]:
    """The GEMVs to count cycles for: ``--workload FILE`` or ``--n N --m M`` (or none)."""
    if args.workload and (args.n is not None or args.m is not None):
        raise CommandError("--workload and --n/--m are exclusive: give a workload file or one GEMV shape")
    if args.workload:
        from hwgen.description.workload import load_workload

        try:
            wl = load_workload(args.workload)
        except ConfigError as exc:
            raise CommandError("\n".join(f"--workload: {p}" for p in exc.problems)) from None
        return wl.name, [(g.name, g.n, g.m, g.count) for g in wl.gemvs]
    if (args.n is None) != (args.m is None):
        raise CommandError("--n and --m go together: give both (one GEMV of N inputs x M outputs)")
    if args.n is not None:
        bad = [f"--{k}: must be a positive integer, got {v}"
               for k, v in (("n", args.n), ("m", args.m)) if v < 1]
        if bad:
            raise CommandError("\n".join(bad))
        return f"gemv {args.n}x{args.m}", [("gemv", args.n, args.m, 1)]
    return "", []


def _check_fits(cfg: CoreConfig, gemvs: list[tuple[str, int, int, int]]) -> None:
    bad = [f"GEMV {name!r} has n={n} > max_n={cfg.max_n} (raise --max-n)"
           for name, n, _, _ in gemvs if n > cfg.max_n]
    bad += [f"GEMV {name!r} has m={m} > max_m={cfg.max_m} (raise --max-m)"
            for name, _, m, _ in gemvs if m > cfg.max_m]
    if bad:
        raise CommandError("\n".join(bad))


def _table_problem(path: str | None, exc: BaseException) -> CommandError:
    """A unit-cost table that cannot be read or used, as one line (``--table: ...`` when given)."""
    from costmodel import DEFAULT_TABLE

    where = "--table: " if path is not None else ""
    shown = repr(str(path if path is not None else DEFAULT_TABLE))
    if isinstance(exc, FileNotFoundError):
        return CommandError(f"{where}{exc}")
    if isinstance(exc, OSError):
        return CommandError(f"{where}cannot read {shown}: {exc.strerror or exc}")
    if isinstance(exc, KeyError) and exc.args:
        reason = exc.args[0] if " " in str(exc.args[0]) else f"missing field {exc.args[0]!r}"
    else:
        reason = str(exc)
    return CommandError(f"{where}{shown} is not a usable unit-cost table: {reason}")


def _load_costs(path: str | None):
    """The unit-cost table of ``--table`` (default: the committed one), checked before any work."""
    from costmodel import load_unit_costs

    try:
        costs = load_unit_costs(path)
        costs.unpriced(1)  # reads the fetchers' mu range: a broken table fails here, not mid-estimate
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise _table_problem(path, exc) from None
    return costs


class CostCommand(Command):
    """``hwgen cost``: area, clock, throughput and cycles from the analytical model (no synthesis)."""

    name = "cost"
    help = "predict area, clock, throughput and cycles of a core with the cost model"
    example = ("hwgen cost --act fp16 --acc fp32 --core 64 "
               "--workload designs/workloads/bitnet_b158_2b4t.toml\n"
               "hwgen cost --act fp16 --core 64 --clock-mhz 100")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        design.add_design_arguments(p)
        design.add_clock_argument(p)
        p.add_argument("--workload", default=None, metavar="FILE",
                       help="count cycles for every GEMV of a workload file (designs/workloads/*.toml)")
        p.add_argument("--n", type=int_range(), default=None, metavar="N",
                       help="count cycles for one GEMV of N inputs ...")
        p.add_argument("--m", type=int_range(), default=None, metavar="M", help="... and M outputs")
        p.add_argument("--table", default=None, metavar="JSON",
                       help="unit-cost table, also used to choose mu (default: the committed OSU 0.18 um "
                            "table, designs/costs/osu018.json)")
        add_adapter_arguments(p)

    def run(self, args: argparse.Namespace) -> int:
        from costmodel import estimate

        costs = _load_costs(args.table)
        resolved = design.resolve(args, costs=costs)
        cfg = resolved.config
        workload, gemvs = _gemvs(args)
        _check_fits(cfg, gemvs)
        adapter = resolve_adapter(args, cfg)
        try:
            report = estimate(cfg, gemvs=gemvs, costs=costs)
        except ConfigError as exc:  # e.g. a mu the table does not price
            raise design.config_error(exc) from None
        except (KeyError, ValueError, TypeError) as exc:
            raise _table_problem(args.table, exc) from None
        doc = report.to_dict()
        doc["workload"] = workload or None
        doc["mu_choice"] = resolved.mu_choice.describe() if resolved.mu_choice else None
        doc["mu_source"] = resolved.mu_source
        if resolved.clock_choice is not None:
            doc["clock"] = resolved.clock_choice.to_dict()
        doc["unit_costs"] = {"liberty": costs.liberty, "flow_version": costs.flow_version}
        doc["energy_uj_per_token"] = doc["energy_uj"] if args.workload else None
        adapter_cost = _adapter_cost(args, adapter, gemvs, costs) if adapter is not None else None
        doc["adapter"] = adapter_cost.to_dict() if adapter_cost is not None else None
        if args.json:
            self.print_json(doc)
            return 0
        print(f"{cfg.name}: {cfg.tile_n} x {cfg.tile_m} tile, {cfg.act}"
              + (f" -> {cfg.acc}" if cfg.is_fp and cfg.acc != cfg.act else "")
              + (f", block FP ({cfg.fp_width}-bit lanes, {cfg.fp_round})" if cfg.is_blockfp else "")
              + (f", fused adders ({cfg.fp_width}-bit alignment, {cfg.fp_round})" if cfg.is_fused else "")
              + f", cost model on {costs.liberty} (flow {costs.flow_version})")
        if doc["mu_choice"]:
            print(f"  mu            : {cfg.mu} ({doc['mu_choice']})")
        print(f"  area          : {report.area_um2:,.0f} um^2 = {report.area_mm2:.3f} mm^2 "
              f"({report.nand2_eq:,.0f} NAND2 eq.); activation SRAM {report.act_buffer_bits:,} bits "
              f"(not included)")
        for group, area in report.area_breakdown_um2.items():
            share = 100 * area / report.area_um2 if report.area_um2 else 0.0
            print(f"    {group:<13}: {area:>14,.0f} um^2  {share:5.1f} %")
        print(f"  clock         : critical path {report.critical_path_ns:.2f} ns -> "
              f"{report.fmax_mhz:.0f} MHz (estimate)")
        if resolved.clock_choice is not None:
            print(f"  clock target  : {resolved.clock_choice.describe()}")
        print(f"  throughput    : {report.macs_per_cycle} ternary MACs/cycle = "
              f"{doc['macs_per_second'] / 1e9:.1f} GMAC/s; "
              f"{doc['macs_per_cycle_per_mm2']:.1f} MACs/cycle/mm^2")
        print(f"  weight stream : {report.weight_bits_per_cycle} key bits per cycle")
        if report.energy_unavailable:
            print(f"  power, energy : unavailable ({report.energy_unavailable})")
        else:
            print(f"  power         : {report.power_mw:,.1f} mW at {report.fmax_mhz:.0f} MHz "
                  f"(leakage {1000 * report.leakage_mw:,.2f} uW); "
                  f"{report.energy_pj_per_cycle:,.1f} pJ/cycle = "
                  f"{doc['energy_pj_per_mac']:.3f} pJ per ternary MAC (estimate, stated activity)")
        if gemvs:
            print(f"  cycles        : {report.cycles:,} for {workload}"
                  f" = {report.cycles / report.fmax_mhz:,.1f} us at {report.fmax_mhz:.0f} MHz; "
                  f"{report.effective_macs_per_cycle:.1f} useful MACs/cycle "
                  f"({100 * report.effective_macs_per_cycle / report.macs_per_cycle:.1f} % utilisation)")
            for g in report.gemvs:
                print(f"    {g['name']:<12} {g['n']:>6} x {g['m']:<6} x {g['count']:<3}: "
                      f"{g['cycles_each']:>9,} cycles each")
            if report.energy_uj is not None:
                per = "per token" if args.workload else "for the GEMV"
                print(f"  energy        : {report.energy_uj:,.1f} uJ {per} (at fmax)")
        if adapter_cost is not None:
            _print_adapter(adapter_cost, bool(gemvs))
        return 0


def _adapter_cost(args: argparse.Namespace, adapter, gemvs: list[tuple[str, int, int, int]], costs):
    """The cost model's :class:`~costmodel.adapter.AdapterCost` of ``adapter`` on the GEMVs asked
    (``--lanes auto``: the fewest lanes that hide it); with no GEMVs, its area and clock only."""
    from costmodel.adapter import estimate_adapter, smallest_hiding_lanes
    from hwgen.description.adapter import AdapterJob

    targets = adapter_targets(args)
    groups: list = []
    if args.workload:
        from hwgen.description.workload import load_workload

        wl = load_workload(args.workload)
        rank = wl.adapter_rank or adapter.max_rank
        if rank > adapter.max_rank:
            raise CommandError(f"--rank: the workload's adapter has rank {rank}, above --rank "
                               f"{adapter.max_rank}")
        present = {g.projection for g in wl.gemvs}
        missing = [t for t in targets or () if t not in present]
        if missing:
            raise CommandError(f"--targets: {', '.join(missing)} name no GEMV of {wl.name} (its [[gemv]] "
                               "tables need `projection`)")
        raw = wl.adapter_groups(rank, targets if targets is not None else (wl.adapter_targets or None))
        groups = [(count, [AdapterJob(*job) for job in jobs]) for count, jobs in raw]
    elif gemvs:
        groups = [(count, [AdapterJob(n, m, adapter.max_rank)]) for _, n, m, count in gemvs]
    elif targets is not None:
        raise CommandError("--targets: needs --workload (the projections are named there)")
    try:
        if args.lanes == "auto":
            if not groups:
                raise CommandError("--lanes: auto needs --workload or --n/--m (the lanes that hide it there)")
            adapter = smallest_hiding_lanes(adapter, groups) or adapter
        if adapter.share < max((len(jobs) for _, jobs in groups), default=1):
            need = max(len(jobs) for _, jobs in groups)
            raise CommandError(f"--share: the workload has {need} projections reading one input; "
                               f"give --share {need} or more (got {adapter.share})")
        return estimate_adapter(adapter, groups, costs=costs)
    except ConfigError as exc:
        raise config_problems(exc, ADAPTER_FLAGS) from None


def _print_adapter(cost, with_cycles: bool) -> None:
    a = cost.adapter
    print(f"  adapter       : {a['variant']}, rank <= {a['max_rank']}, {a['lanes']} lanes"
          + (f" ({a['lanes'] // a['chunk']} trees of {a['chunk']})" if a["chunk"] else "")
          + f", {a['fmt']}, {a['resident']} resident, {a['storage']}")
    print(f"    area        : {cost.area_um2:,.0f} um^2 = {100 * cost.area_ratio:.1f} % of the core; "
          f"SRAM {cost.sram_bits:,} bits (x {cost.x_bits:,}, hold {cost.hold_bits:,}, store "
          f"{cost.store_bits:,}; "
          "not included)")
    for group, area in cost.area_breakdown_um2.items():
        if area:
            print(f"      {group:<13}: {area:>12,.0f} um^2")
    print(f"    clock       : lane path {cost.critical_path_ns:.2f} ns (core "
          f"{cost.core_critical_path_ns:.2f} ns)")
    if with_cycles:
        pct = 100 * cost.added_cycles / cost.core_cycles if cost.core_cycles else 0.0
        print(f"    cycles      : {cost.cycles:,} (+{cost.added_cycles:,} = +{pct:.2f} %); "
              + ("hides" if cost.hides else "does not hide") + f"; weight traffic {cost.traffic_bits:,} bits")


class SynthCommand(Command):
    """``hwgen synth``: synthesise a design (or a Verilog file) and report area and timing."""

    name = "synth"
    help = "synthesise a core (or a Verilog file) with Yosys onto a liberty; report area and timing"
    example = ("hwgen synth --act int8 --core 8 --mu 2 --max-n 64 --max-m 64 --keep build/synth\n"
               "hwgen synth --act fp16 --core 4 --max-n 64 --max-m 64 --clock-mhz 150")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("verilog", nargs="?", default=None, metavar="FILE.v",
                       help="synthesise this Verilog file instead of a generated core")
        design.add_design_arguments(p)
        design.add_clock_argument(p, "; synthesise with F as the mapper's delay target and report the "
                                     "slack (also for FILE.v)")
        p.add_argument("--top", default=None, help="top module of FILE.v (default: the one not instantiated)")
        p.add_argument("--liberty", default=None, metavar="PATH",
                       help="standard-cell library (default: OSU 0.18 um from Debian's qflow-tech-osu018, "
                            "fetched on first use)")
        p.add_argument("--no-cache", action="store_true", help="synthesise even if a cached result exists")
        p.add_argument("--timeout", type=positive_float("seconds"), default=None, metavar="S",
                       help="give up after S seconds")
        p.add_argument("--keep", default=None, metavar="DIR",
                       help="copy the run folder (log, netlist) to DIR")

    def _read_verilog(self, args: argparse.Namespace) -> str:
        given = design.given_options(args)
        if given:
            raise CommandError(f"FILE.v: {', '.join(given)} do(es) not apply to a Verilog file")
        path = Path(args.verilog)
        if not path.is_file():
            raise CommandError(f"FILE.v: no such file: {str(path)!r}")
        try:
            return path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not a UTF-8 text file"
            raise CommandError(f"FILE.v: cannot read {str(path)!r}: {reason}") from None

    def run(self, args: argparse.Namespace) -> int:
        from costmodel.liberty import LibertyError
        from costmodel.synth import SynthError, synthesize

        cfg = choice = None
        if args.verilog:
            verilog = self._read_verilog(args)
        else:
            from hwgen.gateware.emit import emit_verilog

            resolved = design.resolve(args)
            cfg, choice = resolved.config, resolved.clock_choice
            verilog = emit_verilog(cfg)
        if args.keep:
            check_output_dir(Path(args.keep), "--keep")
        clock_ns = 1000.0 / args.clock_mhz if args.clock_mhz is not None else None
        try:
            report = synthesize(verilog, top=args.top, liberty=args.liberty, use_cache=not args.no_cache,
                                timeout_s=args.timeout, keep_dir=Path(args.keep) if args.keep else None,
                                clock_ns=clock_ns, power=True)
        except LibertyError as exc:
            raise CommandError(str(exc)) from None
        except SynthError as exc:
            raise CommandError(str(exc).splitlines()[0] + " (see --keep DIR for the log)") from None
        doc = report.to_dict()
        model_note = ""
        if cfg is not None:
            from costmodel import estimate

            doc["config"] = cfg.to_dict()
            try:
                predicted = estimate(cfg)
            except ConfigError as exc:  # a design the unit-cost table cannot price (e.g. mu=7)
                doc["model_area_um2"] = doc["model_error_pct"] = None
                model_note = "; ".join(config_problems(exc, design.FLAGS).lines)
            else:
                doc["model_area_um2"] = predicted.area_um2
                doc["model_error_pct"] = 100 * (predicted.area_um2 - report.area_um2) / report.area_um2
                doc["model_critical_path_ns"] = predicted.critical_path_ns
                doc["model_energy_pj_per_cycle"] = predicted.energy_pj_per_cycle
        if clock_ns is not None:
            doc["clock"] = _synth_clock(args.clock_mhz, choice, report.critical_path_ns)
        if args.json:
            self.print_json(doc)
            return 0
        print(f"{report.top}: synthesised on {Path(report.liberty).name} in {report.seconds:.1f} s"
              + (" (cached)" if report.cached else ""))
        print(f"  area          : {report.area_um2:,.0f} um^2 = {report.area_um2 / 1e6:.3f} mm^2 "
              f"({report.nand2_eq:,.0f} NAND2 eq.), sequential {report.sequential_area_um2:,.0f} um^2")
        if report.memory_bits:
            print(f"  memories      : {report.memory_bits:,} bits kept as macros (not in the area)")
        if choice is not None:
            print(f"  clock target  : {choice.describe()}")
        if report.critical_path_ns:
            print(f"  timing        : critical path {report.critical_path_ns:.2f} ns -> "
                  f"{report.fmax_mhz:.0f} MHz ({report.delay_source})" + _slack_note(doc.get("clock")))
        else:
            print("  timing        : not available (install OpenSTA: apt-get install opensta)")
        power = report.power or {}
        if "unavailable" in power:
            print(f"  power         : unavailable ({power['unavailable']})")
        elif power:
            print(f"  power         : {power['total_mw']:,.2f} mW at a {power['clock_ns']:.2f} ns clock "
                  f"(leakage {1000 * power['leakage_mw']:,.3f} uW), "
                  f"{power['energy_pj_per_cycle']:,.1f} pJ/cycle (OpenSTA, stated activity: "
                  "costmodel.power.Activity)")
        if cfg is not None and doc["model_area_um2"] is not None:
            energy = doc["model_energy_pj_per_cycle"]
            print(f"  cost model    : {doc['model_area_um2']:,.0f} um^2 ({doc['model_error_pct']:+.1f} %), "
                  f"critical path {doc['model_critical_path_ns']:.2f} ns"
                  + (f", {energy:,.1f} pJ/cycle" if energy is not None else ""))
        elif cfg is not None:
            print(f"  cost model    : not available ({model_note})")
        cells = sorted(report.cells.items(), key=lambda kv: -kv[1])
        print("  cells         : " + ", ".join(f"{name} {count}" for name, count in cells))
        return 0


def _synth_clock(clock_mhz: float, choice, critical_path_ns: float | None) -> dict[str, object]:
    """The ``clock`` object of ``hwgen synth --json``: the model's choice (:meth:`ClockChoice.to_dict`;
    only the target for a Verilog file) and the synthesised slack and verdict (``None`` without OpenSTA)."""
    target_ns = 1000.0 / clock_mhz
    clock = choice.to_dict() if choice is not None else {"target_mhz": clock_mhz, "target_ns": target_ns}
    known = critical_path_ns is not None
    clock["synth_critical_path_ns"] = critical_path_ns
    clock["synth_slack_ns"] = round(target_ns - critical_path_ns, 3) if known else None
    clock["synth_met"] = critical_path_ns <= target_ns if known else None
    return clock


def _slack_note(clock: dict[str, object] | None) -> str:
    """``; slack +0.40 ns at 100 MHz: met (model +1.29 ns)`` for the timing line, or ``""``."""
    if not clock or clock["synth_slack_ns"] is None:
        return ""
    model = (f" (model {clock['predicted_slack_ns']:+.2f} ns)" if "predicted_slack_ns" in clock else "")
    verdict = "met" if clock["synth_met"] else "missed"
    return f"; slack {clock['synth_slack_ns']:+.2f} ns at {clock['target_mhz']:g} MHz: {verdict}{model}"


#: The registered commands, in help order.
COMMANDS = (EmitCommand(), CostCommand(), SynthCommand())

main = make_main(PROG, DESCRIPTION, COMMANDS)


def cli_config(argv: list[str]) -> CoreConfig:
    """The core ``hwgen emit <argv>`` would generate (including the cost model's choice of ``mu``).

    Raises
    ------
    CommandError
        For options ``hwgen emit`` refuses (the lines it would print).
    """
    args = make_parser(PROG, DESCRIPTION, COMMANDS).parse_args(["emit", *argv])
    return design.resolve(args).config


if __name__ == "__main__":
    sys.exit(main())
