"""Verilog emission through Amaranth's backend."""

from __future__ import annotations

from amaranth.back import verilog

from .config import CoreConfig
from .core import LutCore

__all__ = ["build", "emit_verilog"]


def build(cfg: CoreConfig) -> LutCore:
    """The Amaranth component for ``cfg``."""
    return LutCore(cfg)


def emit_verilog(cfg: CoreConfig) -> str:
    """Verilog source of the core, top module named ``cfg.name``."""
    core = build(cfg)
    return verilog.convert(core, name=cfg.name, emit_src=False)
