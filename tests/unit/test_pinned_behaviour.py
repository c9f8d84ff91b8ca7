"""Behaviour pinned across refactors: Verilog and cost-model figures (``tests/data/*.json``; each
file's ``note`` says which code made them: the cost figures come from before the description
layer was split out, commit 768be7d; the Verilog was last regenerated when the emitted structure
changed on purpose, with the cocotb regression passing on it).

The Verilog of the two CLI headlines (``hwgen emit --act int8|fp16 --core 64``) and of small
configs of every kind must stay byte-identical; the cost model must return identical figures for
the 30 validation designs (``dse.validation.draw_designs(30, seed=2, max_area_um2=4e6)``) and a
few more. A change that means to alter either regenerates the pins and says so.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from costmodel import estimate, estimate_table
from hwgen.description import CoreConfig

DATA = Path(__file__).resolve().parent.parent / "data"
VERILOG = json.loads((DATA / "pinned_verilog.json").read_text())["designs"]
COSTS = json.loads((DATA / "pinned_cost_model.json").read_text())
PRICED = [d for d in COSTS["designs"] if d["report"] is not None]
#: Config fields added after the pins were made, at the values that leave a design as it was.
ADDED_FIELDS = {"fp_reduce": "ieee", "fp_width": 0, "fp_round": "rne", "fp_sticky": False}


def _pinned_config(config: dict) -> dict:
    """A pinned config as ``CoreConfig.to_dict`` writes it today."""
    return {**config, **ADDED_FIELDS}


@pytest.mark.parametrize("name", sorted(VERILOG))
def test_verilog_is_byte_identical(name):
    from hwgen.gateware import emit_verilog

    pin = VERILOG[name]
    text = emit_verilog(CoreConfig(**pin["config"]))
    got = (len(text.splitlines()), hashlib.sha256(text.encode()).hexdigest())
    assert got == (pin["lines"], pin["sha256"])


def test_headline_pins_are_what_the_cli_builds():
    from ternlut.cli.hwgen import cli_config

    for name, argv in (("headline_int8", ["--act", "int8", "--core", "64"]),
                       ("headline_fp16", ["--act", "fp16", "--core", "64"])):
        assert cli_config(argv).to_dict() == _pinned_config(VERILOG[name]["config"])


@pytest.mark.parametrize("i", range(len(PRICED)))
def test_estimate_is_unchanged(i):
    pin = PRICED[i]
    gemvs = [tuple(g) for g in COSTS["gemvs"]]
    report = {**pin["report"], "config": _pinned_config(pin["report"]["config"])}
    assert estimate(CoreConfig(**pin["config"]), gemvs=gemvs).to_dict() == report


def test_estimate_table_is_unchanged():
    table = estimate_table(pd.DataFrame([d["config"] for d in PRICED]), n=2560, m=6912)
    for pin, (_, row) in zip(PRICED, table.iterrows(), strict=True):
        for column, value in pin["table"].items():
            if isinstance(value, float):
                expected = pytest.approx(value, rel=1e-12, abs=1e-9)
                assert row[column] == expected, (pin["config"]["name"], column)
            else:
                assert row[column] == value, (pin["config"]["name"], column)


def test_unpriceable_designs_are_refused_in_one_line():
    """The pins' mu = 7 and 8 designs are valid configs the unit-cost table cannot price (it has
    fetchers up to mu = 6): one ConfigError line naming `mu`, not a KeyError."""
    from hwgen.description import ConfigError

    unpriced = [d for d in COSTS["designs"] if d["report"] is None]
    assert [d["config"]["mu"] for d in unpriced] == [7, 8]
    for pin in unpriced:
        with pytest.raises(ConfigError,
                           match=r"^`mu` must be in \[1, 6\] for the cost model \(.*\), got mu=[78]$"):
            estimate(CoreConfig(**pin["config"]))
