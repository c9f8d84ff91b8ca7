"""Verilog emission through Amaranth's backend."""

from __future__ import annotations

from amaranth.back import verilog

from .arith import FPAdd, FPMul
from .config import CoreConfig, UnitConfig
from .core import LutCore

__all__ = ["build", "build_unit", "to_verilog", "emit_verilog"]


def build(cfg: CoreConfig) -> LutCore:
    """The Amaranth component for ``cfg``."""
    return LutCore(cfg)


def build_unit(ucfg: UnitConfig) -> FPAdd | FPMul:
    """The stand-alone floating-point unit for ``ucfg`` (ports ``a``, ``b``, ``o``)."""
    unit = {"fp-add": FPAdd, "fp-mul": FPMul}[ucfg.unit]
    return unit(ucfg.act_type.fmt, ucfg.adder_stages)


def to_verilog(component, name: str) -> str:
    """Verilog source of an Amaranth component, top module ``name`` (no source-location attributes)."""
    return verilog.convert(component, name=name, emit_src=False)


def emit_verilog(cfg: CoreConfig) -> str:
    """Verilog source of the core for ``cfg``, top module named ``cfg.name``."""
    return to_verilog(build(cfg), cfg.name)
