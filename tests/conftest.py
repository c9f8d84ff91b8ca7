"""Shared pytest options and fixtures.

``--sim {verilator,icarus}`` picks the HDL simulator of the cocotb tests (default: verilator,
or ``$TERNLUT_SIM``); ``--cocotb-seed N`` their stimulus seed. Tests that need a simulator
that is not installed are skipped, not failed. Tests marked ``slow`` (the busiest scenarios of
the 64 x 64 presets in Amaranth's simulator) run only with ``--run-slow``;
``pytest.mark.slow(reason=...)`` puts its reason into the skip message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SIMULATORS = ("verilator", "icarus")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ternlut")
    group.addoption("--sim", choices=SIMULATORS, default=os.environ.get("TERNLUT_SIM", "verilator"),
                    help="run the cocotb tests on SIM (default: %(default)s)")
    group.addoption("--cocotb-seed", type=int, default=int(os.environ.get("TERNLUT_SEED", "1")),
                    metavar="N", help="seed the cocotb stimulus with N (default: %(default)s)")
    group.addoption("--run-slow", action="store_true",
                    help="also run the tests marked `slow` (the busiest scenarios of the 64 x 64 presets "
                         "in Amaranth's simulator)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    for item in items:
        marker = item.get_closest_marker("slow")
        if marker is not None:
            why = marker.kwargs.get("reason")
            item.add_marker(pytest.mark.skip(reason=f"slow{f' ({why})' if why else ''}: run with --run-slow"))


@pytest.fixture(scope="session")
def hdl_sim(request: pytest.FixtureRequest) -> str:
    """The simulator chosen with ``--sim``; skips the test if it (or cocotb) is not installed."""
    from sim.runner import simulator_available

    sim = request.config.getoption("--sim")
    if not simulator_available(sim):
        pytest.skip(f"simulator {sim!r} (or cocotb) is not installed")
    return sim


@pytest.fixture(scope="session")
def cocotb_seed(request: pytest.FixtureRequest) -> int:
    return request.config.getoption("--cocotb-seed")


@pytest.fixture(scope="session")
def cocotb_build_root(request: pytest.FixtureRequest) -> Path:
    """``build/cocotb`` under the repository root (git-ignored); one subdirectory per simulator and config."""
    return request.config.rootpath / "build" / "cocotb"


@pytest.fixture(scope="session")
def emitted_verilog():
    """``emitted_verilog(cfg) -> str``: :func:`hwgen.gateware.emit.emit_verilog`, cached for the session
    (the 64x64 core takes about a minute to convert; the lint and cocotb tests share it)."""
    cache: dict = {}

    def get(cfg) -> str:
        if cfg not in cache:
            from hwgen.gateware.emit import emit_verilog

            cache[cfg] = emit_verilog(cfg)
        return cache[cfg]

    return get
