"""Every preset design file loads into a valid configuration, and a preset whose comment names a
``hwgen emit`` command is exactly what that command builds."""

import re
import shlex
from pathlib import Path

import pytest

from costmodel import resolve_design
from hwgen.description.config import core_config, load_design

DESIGNS = sorted((Path(__file__).parents[2] / "designs" / "cores").glob("*.toml"))


def named_command(path: Path) -> list[str] | None:
    """The arguments of the `hwgen emit ...` command named in the preset's leading comment."""
    comment = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        comment.append(line.lstrip("#").strip())
    match = re.search(r"`hwgen emit ([^`]*)`", " ".join(comment))
    return shlex.split(match.group(1)) if match else None


def test_there_are_presets():
    assert DESIGNS


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.stem)
def test_preset_is_valid(path):
    cfg = core_config(**load_design(path))
    assert cfg.tile_n >= 1 and cfg.acc_width >= cfg.act_width


@pytest.mark.parametrize("path", DESIGNS, ids=lambda p: p.stem)
def test_preset_is_what_its_command_builds(path):
    from ternlut.cli.hwgen import cli_config

    cfg = core_config(**load_design(path))
    argv = named_command(path)
    if argv is None:  # no command named: the design file alone builds it
        assert resolve_design({}, design_file=path).config == cfg
    else:
        assert cli_config(argv) == cfg


def test_headline_presets_name_their_command():
    named = {p.stem: named_command(p) for p in DESIGNS}
    assert named["int8_core64"] == ["--act", "int8", "--core", "64"]
    assert named["fp16_core64"] == ["--act", "fp16", "--core", "64"]
    assert named["int8_mac64"] == ["--arch", "mac", "--act", "int8", "--core", "64"]


@pytest.mark.parametrize("stem,act", [("int8_core64", "int8"), ("fp16_core64", "fp16")])
def test_headline_presets_are_what_the_cli_builds(stem, act):
    from ternlut.cli.hwgen import cli_config

    cfg = core_config(**load_design(DESIGNS[0].parent / f"{stem}.toml"))
    assert cfg == cli_config(["--act", act, "--core", "64"])
    assert cfg == resolve_design({"act": act, "core": 64}).config


@pytest.mark.parametrize("stem,arch", [("int8_mac64", "mac"), ("int8_signflip64", "signflip")])
def test_baseline_presets_match_cli(stem, arch):
    cfg = core_config(**load_design(DESIGNS[0].parent / f"{stem}.toml"))
    assert cfg == core_config(core=64, act="int8", arch=arch)
