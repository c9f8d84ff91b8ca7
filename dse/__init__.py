"""Design-space exploration: architecture studies, and the cost model's calibration and validation.

The search side (:mod:`dse.studies`) reads only the description and the cost model, so it imports
without Amaranth or torch. The calibration and validation flows emit Verilog and synthesise it:
their names below are imported on first use.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "STUDIES": "dse.studies",
    "study_module": "dse.studies",
    "study_summary": "dse.studies",
    "progress_bar": "dse.progress",
    "calibrate": "dse.calibration",
    "table_text": "dse.calibration",
    "CALIBRATION_CORES": "dse.calibration",
    "draw_designs": "dse.validation",
    "validate": "dse.validation",
    "summarise": "dse.validation",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dse' has no attribute {name!r}")
