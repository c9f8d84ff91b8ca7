"""Every preset design file loads into a valid configuration."""

from pathlib import Path

import pytest

from hwgen.config import core_config, load_design

DESIGNS = sorted((Path(__file__).parents[2] / "designs" / "cores").glob("*.toml"))


def test_there_are_presets():
    assert DESIGNS


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.stem)
def test_preset_is_valid(path):
    cfg = core_config(**load_design(path))
    assert cfg.tile_n >= 1 and cfg.acc_width > cfg.act_width


def test_headline_preset_matches_cli_default():
    cfg = core_config(**load_design(DESIGNS[0].parent / "int8_core64.toml"))
    assert cfg == core_config(core=64, act="int8")
