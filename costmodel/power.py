"""Power of a mapped netlist: OpenSTA's ``report_power`` under a stated, vectorless activity.

The Debian OpenSTA (2.0.17) has ``report_power`` and ``set_power_activity`` but reads neither
VCD nor SAIF, so no simulated activity is used. The flow states one :class:`Activity` for the
design's input ports and lets OpenSTA propagate it (checked on small netlists with one report
per OpenSTA process):

- through combinational cells by their boolean function (transition densities: linear in the
  input activity; an AND gate passes the toggles of one input weighted by the probability, from
  the duties, that the other is 1);
- through flip-flops: a Q output toggles as often as its D input;
- the clock toggles twice per period, from ``create_clock``; clock nets are ideal (no clock tree,
  and no switching power is counted on them), so clock power is the flip-flops' internal power
  on their clock pins.

Input activities are per clock cycle only for ports that have an input delay on the clock
(without one OpenSTA reads them per second), so the script constrains the inputs as static
timing does. OpenSTA computes the activities once per session: a second ``report_power`` after a
new ``set_power_activity`` can reuse stale values, so every figure comes from a fresh process.
``set_power_activity -pins`` is broken in this build (it calls an undefined ``get_pins_error``)
and ``-global`` gives every pin its value instead of propagating; neither is used.

OpenSTA's Verilog reader rejects two things Yosys writes into a mapped netlist, and drops them
with a syntax error: assignments to a concatenation (``assign { a[3], b } = { c, d[0] };``),
whose connections would be lost, and the behavioural text of a memory kept as a macro, whose read
data would be undriven nets (undriven nets have no activity: the logic a memory feeds would look
idle). :func:`sta_netlist` rewrites the first as one ``assign`` per bit and replaces a memory by
its read registers made input ports, which then toggle as the data inputs do. The power is that
of the standard cells only: memories (``SynthReport.memory_bits``) are not counted.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path

from .liberty import TimingEnvironment

__all__ = ["GEMV_PORTS", "Activity", "PowerReport", "liberty_has_power", "netlist_input_ports",
           "parse_power_report", "power_tcl", "sta_netlist"]


def liberty_has_power(path: str | Path) -> bool:
    """Whether the liberty has power data: ``internal_power`` groups or cell leakage
    (``cell_leakage_power`` or ``leakage_power`` groups). Without any, OpenSTA would still report
    the switching power of the net loads, and zero internal and leakage power."""
    text = re.sub(r"/\*.*?\*/", "", Path(path).read_text(errors="replace"), flags=re.S)
    return bool(re.search(r"\b(internal_power|leakage_power)\s*\(|\bcell_leakage_power\s*:", text))


#: Stream-port activity of an emitted core in the steady state of a decode GEMV (name, toggles per
#: cycle, duty): a new random key word every cycle (0.5 toggles per bit), activations only while a
#: row loads (BitNet b1.58 2B4T's 2560 x 6912 GEMV on a 64-wide core loads 40 rows in about 4,400
#: cycles: 0.5 x 40 / 4,400 ~ 0.005, stated as 0.01), one job descriptor per job (0), and every
#: stream valid and ready all the time (duty 1, no stalls). Every other input (the activation
#: buffer's read registers, made ports by :func:`sta_netlist`; the ports of other designs) takes
#: ``input_toggle``.
GEMV_PORTS: tuple[tuple[str, float, float], ...] = (
    ("keys__payload", 0.5, 0.5),
    ("act__payload", 0.01, 0.5),
    ("job__payload", 0.0, 0.5),
    ("keys__valid", 0.0, 1.0),
    ("act__valid", 0.0, 1.0),
    ("job__valid", 0.0, 1.0),
    ("out__ready", 0.0, 1.0),
)


@dataclass(frozen=True, kw_only=True)
class Activity:
    """The switching activity stated for a power figure (OpenSTA propagates it from the inputs).

    Parameters
    ----------
    input_toggle : float
        Toggles per clock cycle of every other data input port (all inputs but the clock,
        ``reset_ports`` and ``ports``), in [0, 2]. Default 0.1: OpenSTA's own default and the usual vectorless
        convention, so a figure compares with a bare ``report_power``. Independent random bits
        toggle 0.5 times per cycle; the data part of the dynamic power is linear in this value
        (the clock part is not), so it scales to other assumptions.
    input_duty : float
        Fraction of the time those inputs are 1, in [0, 1] (default 0.5).
    reset_ports : tuple of str
        Input ports held at 0 (an inactive reset: 0 toggles, duty 0); ports the design lacks are
        ignored. Default ``("rst",)``, the synchronous reset of every emitted core: left at the
        data activity it would put the design in reset half the time.
    ports : tuple of (name, toggles, duty)
        Per-port activity of named input ports (ports the design lacks are ignored), applied
        after ``input_toggle``. Default :data:`GEMV_PORTS`: the stream ports of an emitted core
        in the steady state of a decode GEMV.

    Raises
    ------
    ValueError
        Listing every value out of range.
    """

    input_toggle: float = 0.1
    input_duty: float = 0.5
    reset_ports: tuple[str, ...] = ("rst",)
    ports: tuple[tuple[str, float, float], ...] = GEMV_PORTS

    def __post_init__(self):
        problems = []
        for name, toggle, duty in self.ports:
            if not (0 <= toggle <= 2 and 0 <= duty <= 1):
                problems.append(f"`ports`: {name} needs toggles in [0, 2] and duty in [0, 1], got "
                                f"({toggle!r}, {duty!r})")
        if not 0 <= self.input_toggle <= 2:
            problems.append(f"`input_toggle` must be in [0, 2] toggles per cycle, got "
                            f"input_toggle={self.input_toggle!r}")
        if not 0 <= self.input_duty <= 1:
            problems.append(f"`input_duty` must be in [0, 1], got input_duty={self.input_duty!r}")
        if isinstance(self.reset_ports, str):
            problems.append(f"`reset_ports` must be a tuple of port names, got "
                            f"reset_ports={self.reset_ports!r}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass(frozen=True, kw_only=True)
class PowerReport:
    """Power of a mapped netlist at one clock period, under one :class:`Activity`.

    Powers in mW (``internal_mw``: cells' internal energy per transition, clock pins included;
    ``switching_mw``: charging net and pin loads; ``leakage_mw``: static), ``clock_ns``: the
    period they were computed at, in ns. Energies in pJ (mW x ns = pJ).
    """

    internal_mw: float
    switching_mw: float
    leakage_mw: float
    total_mw: float
    clock_ns: float
    activity: Activity

    @property
    def dynamic_mw(self) -> float:
        """Internal plus switching power, in mW."""
        return self.internal_mw + self.switching_mw

    @property
    def dynamic_energy_pj_per_cycle(self) -> float:
        """Dynamic energy of one clock cycle, in pJ (dynamic power x period)."""
        return self.dynamic_mw * self.clock_ns

    @property
    def energy_pj_per_cycle(self) -> float:
        """Energy of one clock cycle, in pJ: dynamic power x period + leakage power x period."""
        return (self.dynamic_mw + self.leakage_mw) * self.clock_ns

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["activity"]["reset_ports"] = list(self.activity.reset_ports)
        d["activity"]["ports"] = [list(p) for p in self.activity.ports]
        d["dynamic_mw"] = self.dynamic_mw
        d["energy_pj_per_cycle"] = self.energy_pj_per_cycle
        d["dynamic_energy_pj_per_cycle"] = self.dynamic_energy_pj_per_cycle
        return d


def netlist_input_ports(netlist: str) -> tuple[str, ...]:
    """Names of the input ports declared in a ``write_verilog`` netlist (``input [7:0] a;``)."""
    return tuple(re.findall(r"^\s*input\s+(?:wire\s+)?(?:\[[^\]]*\]\s*)?\\?([\w$]+)\s*;", netlist, re.M))


_NAME = r"(?:\\\S+|[A-Za-z_][\w$]*)"
_DECL = re.compile(rf"^\s*(?:wire|input|output|inout|reg)\s+(?:signed\s+)?(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?"
                   rf"({_NAME})\s*;", re.M)
_ITEM = re.compile(rf"\s*(?:(\d+)'([bhod])([0-9a-fA-FxXzZ_]+)|({_NAME}))"
                   r"\s*(?:\[\s*(\d+)\s*(?::\s*(\d+)\s*)?\])?\s*(,|$)")


def _bits(items: str, widths: dict[str, tuple[int, int] | None]) -> list[str] | None:
    """The single-bit references of a concatenation's items (``a[3:1], \\b , 2'h1``), MSB first;
    ``None`` when an item is not understood."""
    out, pos = [], 0
    while pos < len(items):
        m = _ITEM.match(items, pos)
        if not m or m.end() == pos:
            return None
        size, base, digits, name, hi, lo, _ = m.groups()
        if size:
            if base == "d":
                if not digits.isdigit():
                    return None
                digits, base = f"{int(digits):b}", "b"
            per = {"b": 1, "o": 3, "h": 4}[base]
            bits = "".join(c * per if c in "xXzZ" else f"{int(c, 16 if per == 4 else 2 ** per):0{per}b}"
                           for c in digits.replace("_", ""))
            bits = bits.rjust(int(size), "0")[-int(size):]
            out += [f"1'b{b.lower()}" for b in bits]
        else:
            sep = " " if name.startswith("\\") else ""
            if hi is None:
                if name not in widths:
                    return None
                if widths[name] is None:  # a 1-bit net
                    out.append(name + sep)
                    pos = m.end()
                    continue
                hi, lo = widths[name]
            hi, lo = int(hi), int(hi if lo is None else lo)
            step = -1 if hi >= lo else 1
            out += [f"{name}{sep}[{i}]" for i in range(hi, lo + step, step)]
        pos = m.end()
    return out


def sta_netlist(netlist: str) -> tuple[str, tuple[str, ...]]:
    """A ``write_verilog -noattr -noexpr`` netlist rewritten so that OpenSTA 2.0.17 reads all of it.

    Assignments with a concatenation become one ``assign`` per bit; memories (their declaration,
    ``initial`` and ``always`` blocks) are removed and every register their ``always`` blocks
    load (a synchronous read port) becomes an input port of the module. Returns the netlist and
    the names of those new input ports.
    """
    widths = {name: (int(hi), int(lo)) if hi else None for hi, lo, name in _DECL.findall(netlist)}
    memories = set(re.findall(rf"^\s*reg\s+(?:\[[^\]]*\]\s*)?({_NAME})\s*\[[^\]]*\]\s*;", netlist, re.M))
    lines = netlist.split("\n")
    out, read_regs, depth, block = [], [], 0, []
    for line in lines:
        stripped = line.strip()
        if depth or re.match(r"^(initial|always)\b", stripped):
            block.append(stripped)
            depth += len(re.findall(r"\bbegin\b", stripped)) - len(re.findall(r"\bend\b", stripped))
            if depth <= 0:  # end of the block (or a block of one statement)
                depth = 0
                for target in re.findall(rf"({_NAME})\s*<=", " ".join(block)):
                    if target not in memories and target not in read_regs:
                        read_regs.append(target)
                block = []
            continue
        if any(re.match(rf"^reg\s+(?:\[[^\]]*\]\s*)?{re.escape(m)}\s*\[", stripped) for m in memories):
            continue
        m = re.match(r"^(\s*)assign\s+(.*?)\s*=\s*(.*?)\s*;\s*$", line)
        if m and "{" in line:
            lhs, rhs = (_bits(side.strip()[1:-1] if side.strip().startswith("{") else side, widths)
                        for side in m.groups()[1:])
            if lhs is not None and rhs is not None and len(lhs) == len(rhs):
                out += [f"{m.group(1)}assign {a} = {b};" for a, b in zip(lhs, rhs, strict=True)]
                continue
        out.append(line)
    text = "\n".join(out)
    for reg in read_regs:
        decl = re.compile(rf"^(\s*)reg(\s+(?:\[[^\]]*\]\s*)?{re.escape(reg)}\s*;)", re.M)
        text = decl.sub(r"\1input\2", text, count=1)
        text = re.sub(r"^(\s*module\s+" + _NAME + r"\s*\()", lambda h, r=reg: h.group(1) + r + ", ", text,
                      count=1, flags=re.M)
    return text, tuple(read_regs)


def power_tcl(top: str, *, liberty_name: str, env: TimingEnvironment, clock_ns: float, activity: Activity,
              input_ports: Collection[str], netlist_name: str = "netlist.v") -> str:
    """The OpenSTA script: the timing constraints of the flow (clock ``clk``, or a virtual one for a
    design without it; the same driving cell and load), the activity, then ``report_power``.

    ``input_ports``: the design's input port names (:func:`netlist_input_ports`), to tell the
    clock and the reset ports that exist.
    """
    has_clock = "clk" in input_ports
    clock = (f"create_clock -name clk -period {clock_ns:.6g} [get_ports clk]" if has_clock
             else f"create_clock -name clk -period {clock_ns:.6g}")
    inputs = "[delete_from_list [all_inputs] [get_ports clk]]" if has_clock else "[all_inputs]"
    resets = [p for p in activity.reset_ports if p in input_ports and p != "clk"]
    lines = [
        f"read_liberty {liberty_name}",
        f"read_verilog {netlist_name}",
        f"link_design {top}",
        clock,
        f"set_input_delay 0 -clock clk {inputs}",  # makes the input activity per clock cycle
        f"set_driving_cell -lib_cell {env.driving_cell} -pin {env.driving_pin} {inputs}",
        "set_output_delay 0 -clock clk [all_outputs]",
        f"set_load {env.load_pf} [all_outputs]",
        f"set_power_activity -input -activity {activity.input_toggle!r} -duty {activity.input_duty!r}",
    ]
    for name, toggle, duty in activity.ports:
        if name in input_ports and name != "clk":
            lines.append(f"set_power_activity -input_ports [get_ports {{{name}}}] -activity {toggle!r} "
                         f"-duty {duty!r}")
    if resets:
        ports = " ".join(resets)
        lines.append(f"set_power_activity -input_ports [get_ports {{{ports}}}] -activity 0 -duty 0")
    lines += ["report_power -digits 6", "exit"]
    return "\n".join(lines) + "\n"


_NUMBER = r"([-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?)"


def parse_power_report(text: str, *, clock_ns: float, activity: Activity) -> PowerReport:
    """The ``Total`` row of OpenSTA's ``report_power`` table (Internal, Switching, Leakage, Total,
    in W) as a :class:`PowerReport` in mW.

    Raises
    ------
    ValueError
        When the text has no such row.
    """
    rows = re.findall(rf"^Total\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}\s+{_NUMBER}", text, re.M)
    if not rows:
        raise ValueError("no `Total` row of a report_power table in the OpenSTA output")
    internal, switching, leakage, total = (float(f"{float(v) * 1e3:.7g}") for v in rows[-1])  # W -> mW
    return PowerReport(internal_mw=internal, switching_mw=switching, leakage_mw=leakage, total_mw=total,
                       clock_ns=clock_ns, activity=activity)
