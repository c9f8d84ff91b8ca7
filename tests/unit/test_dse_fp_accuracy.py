"""The FP accuracy study runs end to end on a small problem and its numbers make sense."""

import numpy as np
import pandas as pd

from dse.studies import fp_accuracy


def test_bitnet_like_data():
    x, w = fp_accuracy.bitnet_like(300, 7, seed=1, absmax=127.0)
    assert np.isclose(np.abs(x).max(), 127.0)
    assert set(np.unique(w)) <= {-1, 0, 1}
    assert 0.2 < np.mean(w == 0) < 0.5  # absmean ternarisation of a Gaussian: about a third zeros


def test_study_writes_table_and_plot(tmp_path, capsys):
    assert fp_accuracy.main(["--acts", "fp16", "--accs", "same,fp32", "--n", "200", "--m", "16",
                             "--core", "8", "--mu", "2", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "fp_accuracy.csv")
    assert list(table["acc"]) == ["fp16", "fp32"]
    assert (table["nonfinite"] == 0).all()
    # errors are rounding-sized: non-zero, below a few fp16 unit roundoffs, and fp32 accumulation helps
    assert (table["max_rel_err"] > 0).all() and (table["max_rel_err"] < 4 * 2.0**-11).all()
    assert table["median_rel_err"][1] <= table["median_rel_err"][0]
    assert (tmp_path / "fp_accuracy.png").stat().st_size > 1000
    assert "worst-case relative error per format" in capsys.readouterr().out


def test_fp_reduce_study_writes_table_plot_and_headline(tmp_path, capsys):
    from dse.studies import fp_reduce

    assert fp_reduce.main(["--acts", "fp16", "--cores", "8", "--widths", "8,20", "--guards", "4",
                           "--n", "300", "--m", "8", "--out", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "fp_reduce.csv")
    assert list(table["mode"]) == ["ieee acc=fp16", "ieee", *["blockfp rne", "blockfp rtz"] * 2, "fused"]
    assert list(table["fp_width"]) == [0, 0, 8, 8, 20, 20, 16]
    assert (table["nonfinite"] == 0).all() and (table["max_rel_err"][:4] > 0).all()  # (20 bits: exact here)
    wide, ieee = table[table.fp_width == 20].iloc[0], table[table["mode"] == "ieee"].iloc[0]
    narrow = table[table.fp_width == 8].iloc[0]
    # integer tile sums: 20-bit lanes are far more accurate than IEEE fp16 adds, 8-bit lanes less so
    assert wide.max_rel_err < ieee.max_rel_err / 10 and narrow.max_rel_err > wide.max_rel_err * 100
    assert narrow.area_per_mac_um2 < wide.area_per_mac_um2 < ieee.area_per_mac_um2
    assert not table[table["mode"] == "ieee"]["pareto"].any()  # 20-bit block FP beats it in both
    assert (tmp_path / "fp_reduce.png").stat().st_size > 1000
    assert "smallest design of each mode no less accurate" in capsys.readouterr().out
    best = fp_reduce.headline(table)
    assert list(best["mode"]) == ["blockfp", "fused"] and (best["area_ratio"] > 1).all()
