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
