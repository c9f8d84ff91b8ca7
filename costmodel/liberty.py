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
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["DEFAULT_LIBERTY_NAME", "LibertyError", "cache_root", "default_liberty", "resolve_liberty",
           "cell_areas", "nand2_area_um2", "liberty_digest", "LibertyPin", "LibertyCell", "liberty_cells",
           "TimingEnvironment", "timing_environment"]

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


@dataclass(frozen=True)
class LibertyPin:
    """One pin of a liberty cell: ``direction`` (``input``/``output``/...), the output's boolean
    ``function`` as written in the liberty (``""`` when none) and the input ``capacitance_pf``."""

    direction: str
    function: str
    capacitance_pf: float


@dataclass(frozen=True)
class LibertyCell:
    """A liberty cell: area (liberty area unit), pins by name, and the state it holds
    (``storage``: ``"ff"`` for a flip-flop, ``"latch"``, ``""`` for combinational logic)."""

    name: str
    area: float
    pins: dict[str, LibertyPin]
    storage: str


def _block(text: str, open_brace: int) -> str:
    """The text between the brace at ``open_brace`` and its matching closing brace."""
    depth = 0
    for i in range(open_brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[open_brace + 1:i]
    raise LibertyError("unbalanced braces in the liberty")


def _attribute(block: str, name: str) -> str | None:
    """A simple attribute of a group, ignoring nested groups (``name : value ;``)."""
    flat, depth = [], 0
    for ch in block:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0:
            flat.append(ch)
    m = re.search(rf"\b{name}\s*:\s*\"?([^;\"]*)\"?\s*;", "".join(flat))
    return m.group(1).strip() if m else None


def _storage(cell_body: str) -> str:
    m = re.search(r"\b(ff|latch)\s*\(", cell_body)
    return m.group(1) if m else ""


@lru_cache(maxsize=16)
def _cells(path: str, digest: str) -> dict[str, LibertyCell]:
    text = re.sub(r"/\*.*?\*/", "", Path(path).read_text(errors="replace"), flags=re.S)
    cells = {}
    for match in re.finditer(r"\bcell\s*\(\s*\"?([\w$]+)\"?\s*\)\s*\{", text):
        body = _block(text, match.end() - 1)
        pins = {}
        for pin in re.finditer(r"\bpin\s*\(\s*\"?([\w$\[\]]+)\"?\s*\)\s*\{", body):
            pin_body = _block(body, pin.end() - 1)
            cap = _attribute(pin_body, "capacitance")
            pins[pin.group(1)] = LibertyPin(direction=_attribute(pin_body, "direction") or "",
                                            function=_attribute(pin_body, "function") or "",
                                            capacitance_pf=float(cap) if cap else 0.0)
        area = _attribute(body, "area")
        cells[match.group(1)] = LibertyCell(name=match.group(1), area=float(area) if area else 0.0, pins=pins,
                                            storage=_storage(body))
    if not cells:
        raise LibertyError(f"{path}: no cells found; is it a liberty file?")
    return cells


def liberty_cells(path: str | Path) -> dict[str, LibertyCell]:
    """Every cell of the liberty by name, with its pins (parsed once per file content)."""
    return _cells(str(path), liberty_digest(path))


@dataclass(frozen=True)
class TimingEnvironment:
    """What the mapper and static timing assume around the logic they see.

    ABC sees the combinational logic between flip-flops and ports; left alone it treats every
    flip-flop output and input port as an ideal driver and never buffers their fanout. Flip-flops
    are not cells ABC can drive with, so both sides assume the smallest inverter
    (``driving_cell``, output pin ``driving_pin``), about the drive of a X1 flip-flop's Q, and
    every register input or output port loaded by ``load_pf`` (the D pin of the smallest
    flip-flop). Clock buffers (``dont_use``) are kept for the clock tree.
    """

    driving_cell: str
    driving_pin: str
    load_pf: float
    dont_use: tuple[str, ...]


def timing_environment(path: str | Path) -> TimingEnvironment:
    """The :class:`TimingEnvironment` of a liberty.

    Raises :class:`LibertyError` when the liberty has no inverter or no D flip-flop.
    """
    cells = liberty_cells(path)
    inverters = [c for c in cells.values() if not c.storage
                 and sum(p.direction == "input" for p in c.pins.values()) == 1
                 and any(p.direction == "output" and re.fullmatch(r"\(?\s*!\s*\w+\s*\)?|\w+\s*'", p.function)
                         for p in c.pins.values())]
    if not inverters:
        raise LibertyError(f"{path}: no inverter cell (an output function !A) to drive ports and registers "
                           "with")
    inverter = min(inverters, key=lambda c: (c.area, c.name))
    flops = [c for c in cells.values()
             if c.storage == "ff" and "D" in c.pins and c.pins["D"].direction == "input"]
    if not flops:
        raise LibertyError(f"{path}: no D flip-flop (a sequential cell with pin D) to load outputs with")
    flop = min(flops, key=lambda c: (c.area, c.name))
    return TimingEnvironment(
        driving_cell=inverter.name,
        driving_pin=next(n for n, p in inverter.pins.items() if p.direction == "output"),
        load_pf=flop.pins["D"].capacitance_pf,
        dont_use=tuple(sorted(n for n in cells if n.lower().startswith("clkbuf"))),
    )
