"""Verilog emission through Amaranth's backend."""

from __future__ import annotations

import re

from amaranth.back import verilog

from hwgen.description.config import CoreConfig, UnitConfig

from .arith import FPAdd, FPMul
from .core import LutCore

__all__ = ["build", "build_unit", "to_verilog", "emit_verilog", "adapted_verilog", "evaluate_at_time_zero"]


def build(cfg: CoreConfig, *, shared_units: bool = False) -> LutCore:
    """The Amaranth component for ``cfg`` (``shared_units``: FP units as instances, for Verilog).

    Raises :class:`hwgen.description.ConfigError` if its streams are too wide for an Amaranth
    netlist (:meth:`hwgen.description.CoreConfig.emit_problems`)."""
    return LutCore(cfg, shared_units=shared_units)


def build_unit(ucfg: UnitConfig) -> FPAdd | FPMul:
    """The stand-alone floating-point unit for ``ucfg`` (ports ``a``, ``b``, ``o``)."""
    unit = {"fp-add": FPAdd, "fp-mul": FPMul}[ucfg.unit]
    return unit(ucfg.act_type.fmt, ucfg.adder_stages)


#: The register that Yosys' Verilog backend declares, initialised, in every module with ``always @*``
#: blocks, and that each such block reads so that it runs once at time zero.
_TIME_ZERO_TRIGGER = re.compile(r"^(?P<indent>\s*)reg (?P<name>\\\$auto\$verilog_backend\S*) += 0;$",
                                re.MULTILINE)


def evaluate_at_time_zero(verilog_text: str) -> str:
    """Make every ``always @*`` block of ``verilog_text`` run at time zero, on every event-driven simulator.

    Yosys triggers them with a register declared with an initial value (``reg \\$auto$... = 0;``).
    A Verilog-2005 simulator initialises it by an event at time zero, but SystemVerilog initialises
    variables before any process starts, without an event (Icarus with ``-g2012``, cocotb's
    default): no block ever runs until one of its inputs changes, and outputs that depend only
    on registers that reset to their initial values (a core's ``job__ready``) read X forever.
    Here the register is set by a nonblocking assignment in an ``initial`` block instead: its
    update comes after every process has started and waits (the NBA region), in both language
    modes and without a delay, which Verilator would build only with ``--timing``."""
    return _TIME_ZERO_TRIGGER.sub(
        r"\g<indent>reg \g<name> ;\n"  # (an escaped identifier ends at white space)
        r"\g<indent>/* verilator lint_off INITIALDLY */\n"
        r"\g<indent>initial \g<name>  <= 1'h0;\n"
        r"\g<indent>/* verilator lint_on INITIALDLY */",
        verilog_text,
    )


def to_verilog(component, name: str) -> str:
    """Verilog source of an Amaranth component, top module ``name`` (no source-location
    attributes; combinational blocks evaluated at time zero: :func:`evaluate_at_time_zero`)."""
    return evaluate_at_time_zero(verilog.convert(component, name=name, emit_src=False))


def core_verilog(core: LutCore) -> str:
    """Verilog of a core and, after it, of each shared module it instantiates (in name order;
    a shared module may itself instantiate others, e.g. the tree lane its FP adders)."""
    texts = [to_verilog(core, core.cfg.name)]
    modules = core.shared_units.modules if core.shared_units is not None else {}
    written: dict[str, str] = {}
    while len(written) < len(modules):
        for name in sorted(modules.keys() - written.keys()):
            written[name] = to_verilog(modules[name], name)
    return "".join(texts + [written[name] for name in sorted(written)])


def adapted_verilog(adapted) -> str:
    """Verilog of an :class:`~hwgen.gateware.adapter.AdaptedCore` (built with ``shared_units``), top
    module :func:`~hwgen.gateware.adapter.adapted_name`, and of each shared module of its core."""
    from .adapter import adapted_name

    texts = [to_verilog(adapted, adapted_name(adapted.adapter))]
    modules = adapted.core.shared_units.modules if adapted.core.shared_units is not None else {}
    written: dict[str, str] = {}
    while len(written) < len(modules):
        for name in sorted(modules.keys() - written.keys()):
            written[name] = to_verilog(modules[name], name)
    return "".join(texts + [written[name] for name in sorted(written)])


def emit_verilog(cfg: CoreConfig) -> str:
    """Verilog source of the core for ``cfg``, top module named ``cfg.name``; floating-point
    units, the fetch stage of a LUT and the reduction tree of an output lane are written once
    each and instantiated (see
    :class:`hwgen.gateware.components.lane_arith.SharedUnits`)."""
    return core_verilog(build(cfg, shared_units=True))
