"""Ternary-weight LUT accelerator cores: the design description and the Amaranth generator.

Two sub-packages, one layer each: :mod:`hwgen.description` (pure Python + numpy: configs, plans,
schedule, key encoding) and :mod:`hwgen.gateware` (Amaranth: the core and its units). The names of
both are re-exported here; the gateware's are imported on first use, so that
``import hwgen.description`` (and the cost model, which reads only the description) never needs
Amaranth.

>>> from hwgen import core_config, emit_verilog
>>> verilog = emit_verilog(core_config(core=4, act="int8", mu=2))
"""

from __future__ import annotations

import importlib

from . import description

_GATEWARE = ("LutCore", "build", "build_unit", "emit_verilog", "to_verilog", "FPAdd", "FPMul", "FPConvert")

__all__ = [*description.__all__, *_GATEWARE]


def __getattr__(name: str):
    if name in description.__all__:
        return getattr(description, name)
    if name in _GATEWARE:
        return getattr(importlib.import_module("hwgen.gateware"), name)
    raise AttributeError(f"module 'hwgen' has no attribute {name!r}")
