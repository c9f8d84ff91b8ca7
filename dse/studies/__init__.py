"""The design-space studies, one module each, and their registry.

A study is registered in :data:`STUDIES` by its command-line name (with dashes); its module is
``dse.studies.<name with underscores>`` (:func:`study_module`) and has ``main(argv) -> int``.
:func:`study_summary` reads the first line of a study's docstring without importing it, so the
registry can be listed without the studies' dependencies (this package imports neither
Amaranth nor torch).

>>> study_module("best-mu")
'dse.studies.best_mu'
"""

from __future__ import annotations

import ast
import importlib.util

__all__ = ["STUDIES", "study_module", "study_summary"]

#: Registered studies, by command-line name, in listing order (the one place to add a study).
STUDIES = ("lut-vs-baselines", "best-mu", "tile-shape", "core-size", "published", "fp-accuracy", "fp-reduce",
           "adapter-overhead")


def study_module(name: str) -> str:
    """The module of study ``name``: ``best-mu`` -> ``dse.studies.best_mu``."""
    return f"{__name__}.{name.replace('-', '_')}"


def study_summary(name: str) -> str | None:
    """The first line of study ``name``'s module docstring, read without importing the module;
    ``None`` when the module is missing, ``""`` when it cannot be read."""
    try:
        spec = importlib.util.find_spec(study_module(name))
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.origin:
        return None
    try:
        with open(spec.origin, encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ""
    except (OSError, SyntaxError, ValueError):
        return ""
    return doc.strip().split("\n")[0]
