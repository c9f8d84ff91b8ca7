"""The ``hwgen`` command line: ``emit`` (Verilog of a core), ``cost`` (the cost model), ``synth`` (synthesis).

Commands are classes with ``add_arguments(parser)`` and ``run(args) -> int``, registered in
:func:`commands` (the one place to add a command). Every command has ``--json``: one JSON
document on stdout; the human summary and errors go to stderr / stdout as usual.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import tempfile
from pathlib import Path

from hwgen.description.config import (
    DEFAULT_MAX_M,
    DEFAULT_MAX_N,
    UNIT_KINDS,
    ConfigError,
    CoreConfig,
    UnitConfig,
    core_config,
    load_design,
)

__all__ = ["main", "commands", "cli_config"]

VERSION = "0.1.0"


class CommandError(Exception):
    """A user error: printed as ``hwgen <command>: error: <line>`` per line, exit status 1."""


def _versions() -> dict[str, str]:
    import amaranth

    return {"ternlut": VERSION, "amaranth": amaranth.__version__, "python": platform.python_version()}


def _flag_for(problem: str, flags: dict[str, str]) -> str:
    """Prefix a config problem with the command-line option that sets the parameter it names."""
    match = re.match(r"`(\w+)`", problem)
    if match and match.group(1) in flags:
        return f"{flags[match.group(1)]}: {problem}"
    return problem


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder: never a partial file."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise CommandError(f"-o: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CommandError(f"-o: cannot write {str(path)!r}: {exc.strerror or exc}") from None


def _check_writable(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CommandError(f"-o: {str(path)!r} is a directory, expected a file path")
    if not folder.is_dir():
        raise CommandError(f"-o: cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError(f"-o: cannot write {str(path)!r}: permission denied")


def _write_and_report(args: argparse.Namespace, path: Path, text: str, module: str, doc: dict) -> bool:
    """Write the Verilog; with ``--json`` print ``doc`` as the command's JSON document and return
    True, else print the ``wrote ...`` line and return False (the caller prints its summary)."""
    _write_atomic(path, text)
    if args.json:
        print(json.dumps({"command": "emit", "output": str(path), **doc, "versions": _versions()}, indent=2))
        return True
    print(f"wrote {path} ({len(text.splitlines())} lines of Verilog, module {module})")
    return False


def _print_ports(ports: list[dict[str, object]]) -> None:
    print("  ports:")
    for port in ports:
        print(f"    {port['direction']:<6} {port['name']:<16} {port['width']:>6} bits  {port['doc']}")


#: One line per ``--arch`` baseline for the emit summary.
_ARCH_DOCS = {
    "signflip": "no LUT reuse: each weight selects +a, -a or 0; the LUT core at mu=1",
    "mac": "a multiplier per weight and output; full-width weight operands on the keys stream",
}


class EmitCommand:
    """``hwgen emit``: write the Verilog of a LUT core and print its summary."""

    name = "emit"
    help = "write the Verilog of a ternary LUT core"
    flags = {
        "arch": "--arch", "act": "--act", "acc": "--acc", "adder_stages": "--adder-stages", "core": "--core", "mu": "--mu", "luts": "--luts", "keys": "--keys",
        "max_n": "--max-n", "max_m": "--max-m", "reuse": "--reuse", "pipeline": "--pipeline", "name": "--name",
    }

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        self.add_design_arguments(p)
        p.add_argument("--unit", default=None, choices=UNIT_KINDS,
                       help="emit a single floating-point unit (ports a, b, o) of the --act format "
                            "instead of a core")
        p.add_argument("-o", "--output", default=None, metavar="PATH",
                       help="Verilog file to write (default: ./NAME.v)")

    def add_design_arguments(self, p: argparse.ArgumentParser) -> None:
        """The options that describe a core (shared by ``emit``, ``cost`` and ``synth``)."""
        p.add_argument("--design", default=None, metavar="FILE",
                       help="start from the [core] table of a TOML design file (e.g. designs/cores/*.toml); "
                            "options given on the command line override it")
        p.add_argument("--arch", default=None, metavar="{lut,signflip,mac}",
                       help="datapath architecture: lut = ternary LUT core (LUTs of MU activations, weight "
                            "keys); signflip = baseline without LUT reuse, each weight selects +a, -a or 0 "
                            "(the LUT core at MU=1); mac = baseline with a multiplier per weight and output, "
                            "weights sent as full-width operands in the --act format; signflip and mac "
                            "require MU=1, so --luts (or --core) is the activations per cycle "
                            "(default: lut)")
        p.add_argument("--act", default=None, metavar="TYPE",
                       help="activation type: int2..int16 (signed), fp16, bf16, fp32, fp8e4m3 or fp8e5m2 "
                            "(default: int8)")
        p.add_argument("--acc", default=None, metavar="FMT",
                       help="accumulator/output format of a floating-point core, e.g. fp32 (default: the --act "
                            "format); integer accumulators are sized from --max-n")
        p.add_argument("--adder-stages", type=int, default=None, metavar="S",
                       help="pipeline registers inside every floating-point adder (and multiplier of "
                            "--arch mac), 0..8; also the latency of --unit (default: 0)")
        p.add_argument("--core", type=int, default=None, metavar="C",
                       help="tile edge: C activations in and C outputs per cycle, i.e. keys=C and "
                            "luts=ceil(C/mu) (default: 64)")
        p.add_argument("--mu", type=int, default=None, metavar="MU",
                       help="activations per LUT, 1..8; each LUT stores (3^MU-1)/2 entries (default: the "
                            "cost model's best of 1..6 for the activation type and tile, see `hwgen cost`; "
                            "1, the only value allowed, for --arch signflip/mac)")
        p.add_argument("--luts", type=int, default=None, metavar="L",
                       help="LUTs in parallel, overrides the one derived from --core")
        p.add_argument("--keys", type=int, default=None, metavar="K",
                       help="fetchers per LUT (output lanes), overrides --core")
        p.add_argument("--max-n", type=int, default=None, metavar="N",
                       help="largest GEMV input length in activations; sizes the activation buffer "
                            f"and the accumulator width (default: {DEFAULT_MAX_N})")
        p.add_argument("--max-m", type=int, default=None, metavar="M",
                       help=f"largest GEMV output length in outputs (default: {DEFAULT_MAX_M})")
        p.add_argument("--reuse", type=int, default=None, metavar="R",
                       help="output tiles sharing one LUT build; the core holds R*K accumulators "
                            "(default: 1)")
        p.add_argument("--pipeline", type=int, default=None, metavar="P",
                       help="extra register stages between LUT registers and accumulators, "
                            "0..1+ceil(log2(L)) (default: 0)")
        p.add_argument("--name", default=None, metavar="NAME",
                       help="Verilog module name (default: lut_<act>_mu<MU>_<rows>x<cols>, or "
                            "<arch>_<act>_<rows>x<cols> for --arch signflip/mac)")

    def config(self, args: argparse.Namespace) -> CoreConfig:
        """Design file values, overridden by the options given; ``--core 64`` fills in a missing L or K."""
        try:
            params = load_design(args.design) if args.design else {}
            given = {key: getattr(args, key) for key in self.flags if getattr(args, key) is not None}
            if "core" in given:  # a core size on the command line replaces the file's L and K
                params.pop("luts", None)
                params.pop("keys", None)
            params.update(given)
            if "core" not in params and not {"luts", "keys"} <= params.keys():
                params["core"] = 64
            args.mu_choice = None
            if params.get("mu") is None and params.get("arch", "lut") == "lut" and not getattr(args, "unit", None):
                from costmodel.choose import choose_mu

                choice = choose_mu({k: v for k, v in params.items() if k != "mu"})
                params["mu"] = choice.mu
                args.mu_choice = choice.describe()
            return core_config(**params)
        except ConfigError as exc:
            raise CommandError("\n".join(_flag_for(p, self.flags) for p in exc.problems)) from None

    def unit_config(self, args: argparse.Namespace) -> UnitConfig:
        """The stand-alone unit of ``--unit``; core options are refused, not ignored."""
        core_only = [flag for key, flag in self.flags.items()
                     if key not in ("act", "adder_stages", "name") and getattr(args, key) is not None]
        if args.design:
            core_only.insert(0, "--design")
        if core_only:
            raise CommandError(f"--unit: {', '.join(core_only)} do(es) not apply to a single unit "
                               f"(allowed: --act, --adder-stages, --name, -o)")
        try:
            return UnitConfig(unit=args.unit, act=args.act or "fp16", adder_stages=args.adder_stages or 0,
                              name=args.name or "")
        except ConfigError as exc:
            raise CommandError("\n".join(_flag_for(p, {**self.flags, "unit": "--unit"}) for p in exc.problems)) from None

    def run_unit(self, args: argparse.Namespace) -> int:
        from hwgen.gateware.emit import build_unit, to_verilog
        from hwgen.gateware.ports import port_table

        ucfg = self.unit_config(args)
        path = Path(args.output) if args.output else Path(f"{ucfg.name}.v")
        _check_writable(path)
        unit = build_unit(ucfg)
        op = "a + b" if ucfg.unit == "fp-add" else "a * b"
        ports = port_table(unit, clocked=ucfg.adder_stages > 0,
                           docs={"a": f"operand a, {ucfg.act} bit pattern", "b": f"operand b, {ucfg.act} bit pattern",
                                 "o": f"{op}, {ucfg.act} bit pattern, {ucfg.adder_stages} cycles later"})
        unit_doc = {"unit": ucfg.unit, "act": ucfg.act, "adder_stages": ucfg.adder_stages, "name": ucfg.name,
                    "latency_cycles": ucfg.adder_stages}
        if _write_and_report(args, path, to_verilog(unit, ucfg.name), ucfg.name, {"unit": unit_doc, "ports": ports}):
            return 0
        print(f"  unit          : {ucfg.unit} on {ucfg.act} (IEEE-754 style, round to nearest even, "
              f"subnormals kept, canonical NaN)")
        print(f"  latency       : {ucfg.adder_stages} cycles ({ucfg.adder_stages} pipeline registers)")
        _print_ports(ports)
        return 0

    def run(self, args: argparse.Namespace) -> int:
        from hwgen.gateware.emit import build, core_verilog
        from hwgen.gateware.ports import port_table

        if args.unit:
            return self.run_unit(args)
        cfg = self.config(args)
        path = Path(args.output) if args.output else Path(f"{cfg.name}.v")
        _check_writable(path)
        try:
            core = build(cfg, shared_units=True)
        except ValueError as exc:  # e.g. the weight words of a wide --arch mac core
            raise CommandError(str(exc)) from None
        ports = port_table(core)
        text = core_verilog(core)
        summary = cfg.summary()
        if args.mu is not None:
            summary["mu_source"] = "--mu"
        elif cfg.arch != "lut":
            summary["mu_source"] = f"fixed at 1 for --arch {cfg.arch}"
        elif args.mu_choice is None:
            summary["mu_source"] = f"design file {args.design}"
        else:
            summary["mu_source"] = args.mu_choice
        if _write_and_report(args, path, text, cfg.name,
                             {"config": cfg.to_dict(), "summary": summary, "ports": ports}):
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
            print(f"  mu            : {cfg.mu} ({summary['mu_source']})")
            print(f"  LUT           : {cfg.plan.entries} entries, {cfg.plan.adders} adders per LUT "
                  f"({cfg.plan.adders * cfg.luts} in all), build depth {cfg.plan.depth}")
        print(f"  activations   : {cfg.act}, buffer {cfg.max_tiles_n} rows x {cfg.tile_n} (max_n={cfg.max_n})")
        if cfg.is_fp and cfg.is_mac:
            print(f"  FP units      : {cfg.adder_stages} pipeline registers per adder and multiplier; "
                  f"accumulate in {cfg.acc_type}")
        elif cfg.is_fp:
            print(f"  FP adders     : {cfg.adder_stages} pipeline registers each; accumulate in {cfg.acc_type}")
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
        _print_ports(ports)
        return 0


def commands() -> tuple:
    """The registered commands, in help order (imported here: they build on :class:`EmitCommand`)."""
    from .costmodel import CostCommand, SynthCommand

    return (EmitCommand(), CostCommand(), SynthCommand())


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwgen",
        description="Generate ternary-weight LUT accelerator cores (Verilog via Amaranth).",
    )
    parser.add_argument("--version", action="version", version=f"hwgen {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.add_argument("--json", action="store_true", help="print one JSON document on stdout")
        p.set_defaults(handler=command)
    return parser


def cli_config(argv: list[str]) -> CoreConfig:
    """The core ``hwgen emit <argv>`` would generate (including the cost model's choice of ``mu``)."""
    args = make_parser().parse_args(["emit", *argv])
    return args.handler.config(args)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler.run(args)
    except CommandError as exc:
        for line in str(exc).splitlines():
            print(f"hwgen {args.command}: error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
