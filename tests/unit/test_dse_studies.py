"""The model-based architecture studies (``dse.studies.best_mu``, ``tile_shape``, ``core_size``,
``published``) and the ``dse study`` dispatcher: each ``--quick`` run writes a CSV with the
expected columns and a PNG, and its numbers keep the invariants the study claims."""

import math
import re

import numpy as np
import pandas as pd
import pytest

import dse.studies as studies
from costmodel import estimate
from dse.studies import _common, best_mu, core_size, published, tile_shape
from hwgen.description.config import CoreConfig, core_config, load_design
from ternlut.cli import dse as cli


def run_quick(module, tmp_path, capsys, stem):
    assert module.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "conclusion: " in out
    table = pd.read_csv(tmp_path / f"{stem}.csv", keep_default_na=False)
    assert len(table) > 0
    assert (tmp_path / f"{stem}.png").stat().st_size > 1000
    return table, out


def test_tile_grid_counts_idle_lanes():
    t = _common.price(_common.tile_grid(["int8", "fp16"], [(64, 64)], mus=(3, 4)))
    assert list(t.luts) == [22, 16, 22, 16]
    assert list(t.idle_lanes) == [2, 0, 2, 0]
    assert list(t.acc) == ["", "", "fp32", "fp32"]
    # area per *useful* MAC/cycle: the idle lanes are paid for but not counted
    assert np.allclose(t.area_per_mac_um2, t.area_um2 / 4096)
    # the vectorised pricing agrees with the scalar model on a grid row
    r = t.iloc[2]
    cfg = CoreConfig(act="fp16", acc="fp32", mu=3, luts=22, keys=64)
    assert math.isclose(estimate(cfg).area_um2, r.area_um2, rel_tol=1e-6)


def test_best_mu(tmp_path, capsys):
    table, out = run_quick(best_mu, tmp_path, capsys, "best_mu")
    assert {"act", "acc", "size", "mu", "luts", "keys", "tile_n", "idle_lanes", "area_um2", "useful_macs",
            "area_per_mac_um2", "fmax_mhz", "area_delay_um2_ns", "is_best"} <= set(table.columns)
    assert set(table.act) == set(_common.ACTS)
    assert (table.useful_macs == table["size"] ** 2).all()
    assert (table.luts == np.ceil(table["size"] / table.mu)).all()
    assert (table[table.act.str.startswith(("fp", "bf"))].acc == "fp32").all()
    # exactly one best mu per (act, size), and it minimises the column it claims to
    for _, g in table.groupby(["act", "size"]):
        assert g.is_best.sum() == 1
        assert g[g.is_best].area_per_mac_um2.iloc[0] == g.area_per_mac_um2.min()
    assert "At 64x64, the best mu is" in out


def test_tile_shape(tmp_path, capsys):
    table, _ = run_quick(tile_shape, tmp_path, capsys, "tile_shape")
    assert {"weights_per_cycle", "format", "act", "acc", "n", "keys", "log2_k_over_n", "mu", "luts",
            "area_um2", "area_per_mac_um2", "best_mu", "best_shape"} <= set(table.columns)
    # every row has the same useful weights per cycle, and the tile reaches them
    assert table.weights_per_cycle.nunique() == 1
    assert (table.n * table["keys"] == table.weights_per_cycle).all()
    assert (table.luts * table.mu >= table.n).all()
    assert (2.0 ** table.log2_k_over_n == table["keys"] / table.n).all()
    for (_, _, _), g in table.groupby(["weights_per_cycle", "format", "n"]):
        assert g.best_mu.sum() == 1 and g[g.best_mu].area_per_mac_um2.iloc[0] == g.area_per_mac_um2.min()
    for _, g in table.groupby(["weights_per_cycle", "format"]):
        assert g.best_shape.sum() == 1
        assert g[g.best_shape].area_per_mac_um2.iloc[0] == g.area_per_mac_um2.min()
    assert {"fp16/fp32", "fp16/fp16", "int8"} <= set(table.format)


def test_tile_shape_shapes():
    assert tile_shape.shapes(1024) == [(256, 4), (128, 8), (64, 16), (32, 32), (16, 64), (8, 128), (4, 256)]
    with pytest.raises(ValueError, match=r"^`weights` must be a power of two, got weights=1000$"):
        tile_shape.shapes(1000)


def test_core_size(tmp_path, capsys):
    dens, _ = run_quick(core_size, tmp_path, capsys, "core_size")
    assert {"act", "size", "mu", "area_mm2", "density_macs_per_cycle_mm2", "fmax_mhz", "control_share"} \
        <= set(dens.columns)
    assert dens.groupby("act").size().eq(dens["size"].nunique()).all()  # one best-mu row per act and size
    tiles = pd.read_csv(tmp_path / "core_size_tiling.csv")
    assert (tiles.cores * tiles.core_size ** 2 == tiles.target_size ** 2).all()
    # k cores replicate everything: total = k * area(small), and one core is the reference
    single = tiles[tiles.cores == 1]
    assert np.allclose(single.area_vs_single, 1.0)
    d = dens.set_index(["act", "size"])
    for r in tiles.itertuples():
        assert math.isclose(r.total_area_mm2, r.cores * d.loc[(r.act, r.core_size), "area_mm2"], rel_tol=1e-9)


def test_published(tmp_path, capsys):
    table, out = run_quick(published, tmp_path, capsys, "published")
    assert {"preset", "title", "url", "assumed", "macs_per_cycle", "preset_area_um2", "best_area_um2",
            "best_ratio", "best_changed", "best_clk_area_um2", "preset_decode_cycles", "best_decode_cycles",
            "preset_in_space"} <= set(table.columns)
    assert set(table.preset) == {p.stem for p in published.PUBLISHED.glob("*.toml")}
    # the preset is one of the swept designs, so the optimum can only be smaller or equal
    assert table.preset_in_space.astype(str).eq("True").all()
    assert (table.best_area_um2 <= table.preset_area_um2).all()
    assert (table.best_clk_area_um2 <= table.preset_area_um2).all()
    assert (table.best_area_um2 <= table.best_clk_area_um2).all()
    assert (table.best_macs_per_cycle >= table.macs_per_cycle).all()
    assert (table.best_clk_fmax_mhz >= table.preset_fmax_mhz * (1 - 1e-3)).all()
    for r in table.itertuples():
        assert r.url.startswith("https://") and r.title
        preset = core_config(**load_design(published.PUBLISHED / f"{r.preset}.toml"))
        assert math.isclose(r.preset_area_um2, estimate(preset).area_um2)
    assert "assumed:" in out


def test_published_candidates_hold_the_preset():
    preset = CoreConfig(act="int8", mu=3, luts=2, keys=32, max_n=8192, max_m=8192)
    grid = published.candidates(preset, quick=True)
    assert ((grid.mu == 3) & (grid.luts == 2) & (grid["keys"] == 32) & (grid.pipeline == 0)).any()
    assert (grid.luts * grid.mu * grid["keys"] >= 192).all()
    for r in grid.sample(20, random_state=0).itertuples():  # every row is a valid config
        CoreConfig(act=r.act, mu=r.mu, luts=r.luts, keys=r.keys, pipeline=r.pipeline, max_n=r.max_n,
                   max_m=r.max_m)


def test_cli_lists_and_dispatches(tmp_path, capsys, monkeypatch):
    assert cli.main(["study", "--list"]) == 0
    listing = capsys.readouterr().out
    for name in ("best-mu", "tile-shape", "core-size", "published", "fp-accuracy"):
        assert name in listing
    calls = []
    monkeypatch.setattr(best_mu, "main", lambda argv: calls.append(argv) or 0)
    assert cli.main(["study", "best-mu", "--quick", "--out", str(tmp_path)]) == 0
    assert calls == [["--quick", "--out", str(tmp_path)]]


def test_cli_errors(capsys, monkeypatch):
    assert cli.main(["study", "no-such-study"]) == 1
    assert "dse study: error: unknown study 'no-such-study'" in capsys.readouterr().err
    # a registered study whose module is missing is refused with a clear error, not a traceback
    monkeypatch.setattr(studies, "STUDIES", studies.STUDIES + ("not-written-yet",))
    assert cli.main(["study", "not-written-yet"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("dse study: error: study 'not-written-yet' is registered but not available: "
                           "module dse.studies.not_written_yet is missing from this installation")
    assert cli.main(["study", "--list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^not-written-yet +\(missing: dse\.studies\.not_written_yet ", listing, re.M)


def test_lut_vs_baselines_quick(tmp_path):
    from dse.studies import lut_vs_baselines

    assert lut_vs_baselines.main(["--quick", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "lut_vs_baselines.csv")
    assert set(table.arch) == {"lut", "signflip", "mac"} and len(table) == 6
    for _, part in table.groupby("act"):
        area = part.set_index("arch").model_area_um2
        assert area["lut"] <= area["signflip"] < area["mac"]
    assert (tmp_path / "lut_vs_baselines.png").stat().st_size > 1000
    # signflip is the LUT core at mu = 1: the same description, the same cost
    for act in ("int8", "fp16"):
        flip = CoreConfig(arch="signflip", act=act, luts=8, keys=8)
        lut1 = CoreConfig(arch="lut", act=act, mu=1, luts=8, keys=8)
        assert estimate(flip).area_breakdown_um2 == estimate(lut1).area_breakdown_um2


@pytest.mark.parametrize("study", ["best-mu", "fp-accuracy"])
def test_bad_study_option_is_one_line_exit_1(study, capsys):
    """A study's own options are refused as the CLIs refuse theirs: one line, exit status 1."""
    assert cli.main(["study", study, "--no-such-option"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(r"^python -m dse\.studies\.\w+: error: unrecognized arguments: "
                                      r"--no-such-option$", err[0]), err
