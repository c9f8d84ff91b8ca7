"""Every preset design file loads into a valid configuration."""

from pathlib import Path

import pytest

from hwgen.description.config import core_config, load_design

DESIGNS = sorted((Path(__file__).parents[2] / "designs" / "cores").glob("*.toml"))


def test_there_are_presets():
    assert DESIGNS


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.stem)
def test_preset_is_valid(path):
    cfg = core_config(**load_design(path))
    assert cfg.tile_n >= 1 and cfg.acc_width >= cfg.act_width


@pytest.mark.parametrize("stem,act", [("int8_core64", "int8"), ("fp16_core64", "fp16")])
def test_headline_presets_are_what_the_cli_builds(stem, act):
    from ternlut.cli.hwgen import cli_config

    cfg = core_config(**load_design(DESIGNS[0].parent / f"{stem}.toml"))
    assert cfg == cli_config(["--act", act, "--core", "64"])


@pytest.mark.parametrize("stem,arch", [("int8_mac64", "mac"), ("int8_signflip64", "signflip")])
def test_baseline_presets_match_cli(stem, arch):
    cfg = core_config(**load_design(DESIGNS[0].parent / f"{stem}.toml"))
    assert cfg == core_config(core=64, act="int8", arch=arch)
