"""Verilog emission through Amaranth's backend."""

from __future__ import annotations

from amaranth.back import verilog

from hwgen.description.config import CoreConfig, UnitConfig

from .arith import FPAdd, FPMul
from .core import LutCore

__all__ = ["build", "build_unit", "to_verilog", "emit_verilog"]


def build(cfg: CoreConfig, *, shared_units: bool = False) -> LutCore:
    """The Amaranth component for ``cfg`` (``shared_units``: FP units as instances, for Verilog).

    Raises :class:`hwgen.description.ConfigError` if its streams are too wide for an Amaranth
    netlist (:meth:`hwgen.description.CoreConfig.emit_problems`)."""
    return LutCore(cfg, shared_units=shared_units)


def build_unit(ucfg: UnitConfig) -> FPAdd | FPMul:
    """The stand-alone floating-point unit for ``ucfg`` (ports ``a``, ``b``, ``o``)."""
    unit = {"fp-add": FPAdd, "fp-mul": FPMul}[ucfg.unit]
    return unit(ucfg.act_type.fmt, ucfg.adder_stages)


def to_verilog(component, name: str) -> str:
    """Verilog source of an Amaranth component, top module ``name`` (no source-location attributes)."""
    return verilog.convert(component, name=name, emit_src=False)


def core_verilog(core: LutCore) -> str:
    """Verilog of a core and, after it, of each shared FP unit module it instantiates."""
    text = to_verilog(core, core.cfg.name)
    units = core.shared_units.modules if core.shared_units is not None else {}
    return "".join([text, *(to_verilog(unit, name) for name, unit in sorted(units.items()))])


def emit_verilog(cfg: CoreConfig) -> str:
    """Verilog source of the core for ``cfg``, top module named ``cfg.name``; floating-point
    units are written once each and instantiated (see
    :class:`hwgen.gateware.components.lane_arith.SharedUnits`)."""
    return core_verilog(build(cfg, shared_units=True))
