"""Shared pytest options and fixtures.

``--sim {verilator,icarus}`` picks the HDL simulator of the cocotb tests (default: verilator,
or ``$TERNLUT_SIM``); ``--cocotb-seed N`` their stimulus seed. Tests that need a simulator
that is not installed are skipped, not failed. Tests marked ``slow`` (the busiest scenarios of
the 64 x 64 presets in Amaranth's simulator) run only with ``--run-slow``;
``pytest.mark.slow(reason=...)`` puts its reason into the skip message.
The session fixture ``postgres_url`` starts a real PostgreSQL server on 127.0.0.1
(:mod:`tests.postgres_server`) and yields its SQLAlchemy URL; without PostgreSQL it skips the test,
or fails it when ``TERNLUT_REQUIRE_POSTGRES=1`` (as CI sets).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
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


# --- PostgreSQL (distributed studies) ------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLAlchemy URL (``postgresql+psycopg://ternlut@127.0.0.1:PORT/ternlut``) of a throwaway PostgreSQL
    server for the session (:func:`tests.postgres_server.postgres_server`). Skips the test if PostgreSQL
    or psycopg is not installed; fails it instead when ``TERNLUT_REQUIRE_POSTGRES=1``."""
    from tests.postgres_server import postgres_available, postgres_server

    reason = postgres_available()
    if reason is not None:
        if os.environ.get("TERNLUT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"TERNLUT_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    with postgres_server(tmp_path_factory.mktemp("postgres")) as url:
        yield url


@pytest.fixture()
def synth_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private synthesis cache for one test (``$TERNLUT_CACHE``), with the default liberty copied
    in from the shared cache (fetching it is slow)."""
    import shutil

    from costmodel.liberty import resolve_liberty

    lib = resolve_liberty(None)
    monkeypatch.setenv("TERNLUT_CACHE", str(tmp_path))
    (tmp_path / "liberty").mkdir()
    shutil.copyfile(lib, tmp_path / "liberty" / lib.name)
    return tmp_path
