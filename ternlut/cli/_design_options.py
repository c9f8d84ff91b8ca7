"""The options that describe a core, shared by ``hwgen emit``, ``hwgen cost`` and ``hwgen synth``,
and their resolution into a config by :func:`costmodel.resolve_design` (no state kept in ``args``),
with the clock target ``--clock-mhz`` that lets the cost model choose the parameters not given.
"""

from __future__ import annotations

import argparse

from costmodel import ResolvedDesign, UnitCosts, resolve_design
from hwgen.description.config import DEFAULT_CORE, DEFAULT_MAX_M, DEFAULT_MAX_N, ConfigError

from ._base import CommandError, config_problems, int_range, positive_float

__all__ = ["FLAGS", "CLOCK_FLAG", "add_design_arguments", "add_clock_argument", "given_options",
           "given_params", "resolve", "config_error"]

#: The option that sets each :class:`~hwgen.description.config.CoreConfig` parameter.
FLAGS = {
    "arch": "--arch", "act": "--act", "acc": "--acc", "adder_stages": "--adder-stages", "core": "--core",
    "mu": "--mu", "luts": "--luts", "keys": "--keys", "max_n": "--max-n", "max_m": "--max-m",
    "reuse": "--reuse", "pipeline": "--pipeline", "fp_reduce": "--fp-reduce", "fp_width": "--fp-width",
    "fp_round": "--fp-round", "fp_sticky": "--fp-sticky", "name": "--name",
}


def add_design_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--design`` and one option per core parameter (:data:`FLAGS`) to ``p``."""
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
    p.add_argument("--adder-stages", type=int_range(), default=None, metavar="S",
                   help="pipeline registers inside every floating-point adder (and multiplier of "
                        "--arch mac), 0..8; also the latency of --unit (default: 0)")
    p.add_argument("--core", type=int_range(), default=None, metavar="C",
                   help="tile edge: C activations in and C outputs per cycle, i.e. keys=C and "
                        f"luts=ceil(C/mu) (default: {DEFAULT_CORE})")
    p.add_argument("--mu", type=int_range(), default=None, metavar="MU",
                   help="activations per LUT, 1..8; each LUT stores (3^MU-1)/2 entries (default: the "
                        "cost model's best of the mu its unit-cost table prices, 1..6, for the activation "
                        "type and tile, see `hwgen cost`; 1, the only value allowed, for --arch "
                        "signflip/mac)")
    p.add_argument("--luts", type=int_range(), default=None, metavar="L",
                   help="LUTs in parallel, overrides the one derived from --core")
    p.add_argument("--keys", type=int_range(), default=None, metavar="K",
                   help="fetchers per LUT (output lanes), overrides --core")
    p.add_argument("--max-n", type=int_range(), default=None, metavar="N",
                   help="largest GEMV input length in activations; sizes the activation buffer "
                        f"and the accumulator width (default: {DEFAULT_MAX_N})")
    p.add_argument("--max-m", type=int_range(), default=None, metavar="M",
                   help=f"largest GEMV output length in outputs (default: {DEFAULT_MAX_M})")
    p.add_argument("--reuse", type=int_range(), default=None, metavar="R",
                   help="output tiles sharing one LUT build; the core holds R*K accumulators "
                        "(default: 1)")
    p.add_argument("--pipeline", type=int_range(), default=None, metavar="P",
                   help="extra register stages between LUT registers and accumulators, "
                        "0..1+ceil(log2(L)) (default: 0)")
    p.add_argument("--fp-reduce", default=None, metavar="{ieee,blockfp,fused}",
                   help="reduction of a floating-point LUT core: ieee = every LUT entry and tree node one "
                        "rounded IEEE add in the --act format; blockfp = each activation row aligned once "
                        "to its largest exponent into --fp-width-bit integers, integer LUTs and tree, one "
                        "rounding per tile sum into --acc; fused = IEEE LUTs, the L fetched values of an "
                        "output summed by one fused adder (aligned to --fp-width bits, one rounding into "
                        "--acc; at most 64 LUTs, --pipeline 0) (default: ieee)")
    p.add_argument("--fp-width", type=int_range(), default=None, metavar="W",
                   help="--fp-reduce blockfp/fused: bits of an aligned value, sign included: blockfp 2..32, "
                        "fused mantissa bits + 2..18 (guard bits) (default: mantissa bits + 6, e.g. 16 for "
                        "fp16, 13 for bf16)")
    p.add_argument("--fp-round", default=None, metavar="{rne,rtz}",
                   help="--fp-reduce blockfp/fused: rounding into --acc, to nearest even or toward zero "
                        "(default: rne)")
    p.add_argument("--fp-sticky", action="store_true", default=None,
                   help="--fp-reduce fused: jam the bits shifted out of each aligned value into a sticky bit "
                        "(default: truncate them)")
    p.add_argument("--name", default=None, metavar="NAME",
                   help="Verilog module name (default: lut_<act>_mu<MU>_<rows>x<cols>, or "
                        "<arch>_<act>_<rows>x<cols> for --arch signflip/mac)")


#: The option of the clock target (:func:`costmodel.choose_for_clock`); not a config field.
CLOCK_FLAG = "--clock-mhz"


def add_clock_argument(p: argparse.ArgumentParser, also: str = "") -> None:
    """Add ``--clock-mhz F`` to ``p`` (a clock target; :func:`resolve` hands it to the cost model);
    ``also``: what else the command does with it, for the help."""
    p.add_argument(CLOCK_FLAG, type=positive_float("MHz"), default=None, metavar="F",
                   help="close timing at F MHz with the cost model: the parameters not given (--adder-stages "
                        "0..8 of a floating-point core, --pipeline, --reuse 1..4, --mu) get the values with "
                        "the least area per useful MAC/s among the designs predicted to meet 1000/F ns; "
                        f"given ones are kept{also} (default: no clock target)")


def given_params(args: argparse.Namespace) -> dict[str, object]:
    """The core parameters given on the command line (options left out are not in the dict)."""
    return {key: getattr(args, key) for key in FLAGS if getattr(args, key, None) is not None}


def given_options(args: argparse.Namespace) -> list[str]:
    """The design options given on the command line, ``--design`` first."""
    return (["--design"] if args.design else []) + [FLAGS[key] for key in given_params(args)]


def resolve(args: argparse.Namespace, *, costs: UnitCosts | None = None) -> ResolvedDesign:
    """The core of ``--design`` and the design options (:func:`costmodel.resolve_design`), closing
    timing at ``--clock-mhz`` when given; an invalid one (or a clock no candidate meets) is a
    :class:`CommandError` with one line per problem, prefixed by its option."""
    names = {**FLAGS, "clock_mhz": CLOCK_FLAG}
    try:
        return resolve_design(given_params(args), design_file=args.design, costs=costs, option_names=names,
                              clock_mhz=getattr(args, "clock_mhz", None))
    except ConfigError as exc:
        raise config_problems(exc, names) from None


def config_error(exc: ConfigError, extra: dict[str, str] | None = None) -> CommandError:
    """``exc`` as a :class:`CommandError` whose lines name the options (:data:`FLAGS` and ``extra``)."""
    return config_problems(exc, {**FLAGS, **(extra or {})})
