"""Standard-cell libraries: the default OSU 0.18 um liberty, and cell areas read from any liberty.

The default library is ``osu018_stdcells.lib`` from Debian's ``qflow-tech-osu018`` package (GPL,
so it is fetched, not shipped): ``apt-get download`` the package into a cache folder and unpack
it with ``dpkg -x`` -- qflow itself is not installed. Any other liberty is used as given
(``--liberty PATH``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

__all__ = ["DEFAULT_LIBERTY_NAME", "LibertyError", "cache_root", "default_liberty", "resolve_liberty",
           "cell_areas", "nand2_area_um2", "liberty_digest"]

#: Name of the default library (the unit-cost table for it is committed under ``designs/costs/``).
DEFAULT_LIBERTY_NAME = "osu018"
_PACKAGE = "qflow-tech-osu018"
_MEMBER = "usr/share/qflow/tech/osu018/osu018_stdcells.lib"


class LibertyError(RuntimeError):
    """The liberty file cannot be found, fetched or read."""


def cache_root() -> Path:
    """Cache folder of ternlut (``$TERNLUT_CACHE`` or ``~/.cache/ternlut``)."""
    root = os.environ.get("TERNLUT_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "ternlut"


def default_liberty() -> Path:
    """Path of the OSU 0.18 um liberty, fetched into the cache on first use.

    Raises :class:`LibertyError` with what to do when ``apt-get``/``dpkg`` are unavailable.
    """
    target = cache_root() / "liberty" / "osu018_stdcells.lib"
    if target.is_file():
        return target
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise LibertyError(f"the default liberty needs `{tool}` to fetch Debian's {_PACKAGE}; "
                               "pass --liberty PATH to use another library")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fetch = subprocess.run(["apt-get", "download", _PACKAGE], cwd=tmp, capture_output=True, text=True)
        debs = list(Path(tmp).glob(f"{_PACKAGE}_*.deb"))
        if fetch.returncode or not debs:
            raise LibertyError(f"`apt-get download {_PACKAGE}` failed ({fetch.stderr.strip()[-300:]}); "
                               "run `apt-get update` first, or pass --liberty PATH")
        unpack = subprocess.run(["dpkg", "-x", str(debs[0]), "x"], cwd=tmp, capture_output=True, text=True)
        source = Path(tmp) / "x" / _MEMBER
        if unpack.returncode or not source.is_file():
            raise LibertyError(f"unpacking {debs[0].name} gave no {_MEMBER}: {unpack.stderr.strip()[-300:]}")
        partial = target.with_suffix(".partial")
        shutil.copyfile(source, partial)
        os.replace(partial, target)  # atomic: a killed fetch leaves no half file under the final name
    return target


def resolve_liberty(path: str | Path | None) -> Path:
    """``path`` checked to be a readable file, or the default liberty when ``None``."""
    if path is None:
        return default_liberty()
    p = Path(path)
    if not p.is_file():
        raise LibertyError(f"--liberty: no such file: {str(p)!r}")
    return p


@lru_cache(maxsize=16)
def _areas(path: str, digest: str) -> dict[str, float]:
    text = Path(path).read_text(errors="replace")
    areas = {}
    for match in re.finditer(r"\bcell\s*\(\s*\"?([\w$]+)\"?\s*\)\s*\{", text):
        area = re.search(r"\barea\s*:\s*([0-9.eE+-]+)\s*;", text[match.end():match.end() + 4000])
        if area:
            areas[match.group(1)] = float(area.group(1))
    if not areas:
        raise LibertyError(f"{path}: no cells with an area found; is it a liberty file?")
    return areas


def liberty_digest(path: str | Path) -> str:
    """SHA-256 of the liberty file's bytes (part of every synthesis cache key)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def cell_areas(path: str | Path) -> dict[str, float]:
    """Cell name -> area (liberty area unit, um^2 for the usual libraries)."""
    return _areas(str(path), liberty_digest(path))


def nand2_area_um2(path: str | Path) -> float:
    """Area of the smallest 2-input NAND cell: the unit of NAND2-equivalent gate counts (GE)."""
    areas = cell_areas(path)
    nands = {name: a for name, a in areas.items()
             if re.match(r"(?i)^(sky130_fd_sc_\w+__)?nand2(x|_|$)", name)}
    if not nands:
        nands = {name: a for name, a in areas.items() if "nand2" in name.lower()}
    if not nands:
        raise LibertyError(f"{path}: no NAND2 cell found for NAND2 equivalents")
    return min(nands.values())
