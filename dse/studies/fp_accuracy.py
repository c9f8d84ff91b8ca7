"""How far are a floating-point LUT core's GEMV results from an fp64 dot product?

Users choosing an activation / accumulator format need this number. The core's results come
from :class:`sim.reference.ReferenceModel`, which is bit-exact with the RTL (verified by the
cocotb regression), so no RTL simulation is needed here. The data is BitNet-like:

* activations: Gaussian hidden states with a few outlier channels (x10), absmax-scaled to
  ``[-absmax, absmax]`` (127 by default, the range BitNet b1.58 quantises to), then rounded to
  the activation format;
* weights: Gaussian latent weights quantised by absmean, ``clip(round(W / mean|W|), -1, 1)``.

The exact result is the fp64 dot product of the *rounded* activations with the ternary weights,
so the error measured is the core's arithmetic alone (LUT build, tree and accumulation
roundings), not the activation quantisation. Errors are reported relative to
``sum_n |a_n * w_nm|`` (the natural scale of a rounding error of a sum), as median, 99th
percentile and maximum over output columns, plus the count of non-finite outputs.

Run ``python -m dse.studies.fp_accuracy`` (``--help`` for options). Prints a table, writes
``fp_accuracy.csv`` and ``fp_accuracy.png`` to ``--out`` (default ``out/studies``).
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hwgen.description.config import core_config
from sim.fp_reference import from_bits
from sim.reference import ReferenceModel

from ._common import StudyParser

__all__ = ["bitnet_like", "measure", "main"]

#: BitNet b1.58 2B4T GEMV input lengths: hidden size (attention, up/gate) and FFN size (down).
SHAPES = (2560, 6912)


def bitnet_like(n: int, m: int, *, seed: int, absmax: float = 127.0) -> tuple[np.ndarray, np.ndarray]:
    """Activations (fp64, absmax-scaled, with outlier channels) and absmean-ternarised weights."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    outliers = rng.choice(n, size=max(1, n // 200), replace=False)
    x[outliers] *= 10.0
    x *= absmax / np.abs(x).max()
    latent = rng.standard_normal((n, m))
    w = np.clip(np.round(latent / np.abs(latent).mean()), -1, 1).astype(np.int8)
    return x, w


def measure(act: str, acc: str, n: int, m: int, *, core: int, mu: int, seed: int, absmax: float) -> dict:
    """Relative errors of one (format, shape) against fp64."""
    cfg = core_config(core=core, mu=mu, act=act, acc=acc, max_n=max(n, core), max_m=max(m, core))
    model = ReferenceModel(cfg)
    x, w = bitnet_like(n, m, seed=seed, absmax=absmax)
    bits = model.encode_activations(torch.from_numpy(x))
    a = from_bits(bits, cfg.act_type.fmt, dtype=torch.float64)  # the rounded activations, exactly
    wt = torch.from_numpy(w).double()
    exact = a @ wt
    scale = a.abs() @ wt.abs()
    y = model.decode_outputs(model.gemv(bits, torch.from_numpy(w)))
    finite = torch.isfinite(y)
    rel = ((y - exact).abs() / scale.clamp_min(1e-300))[finite]
    return {
        "act": act,
        "acc": acc,
        "n": n,
        "m": m,
        "median_rel_err": float(rel.median()) if rel.numel() else float("nan"),
        "p99_rel_err": float(torch.quantile(rel, 0.99)) if rel.numel() else float("nan"),
        "max_rel_err": float(rel.max()) if rel.numel() else float("nan"),
        "nonfinite": int((~finite).sum()),
        "unit_roundoff_acc": 2.0 ** -(cfg.acc_type.fmt.man_bits + 1),
    }


def plot(table: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{r.act}/{r.acc}\nN={r.n}" for r in table.itertuples()]
    xs = np.arange(len(table))
    ax.bar(xs - 0.2, table["median_rel_err"], width=0.4, label="median")
    ax.bar(xs + 0.2, table["max_rel_err"], width=0.4, label="max")
    ax.set_yscale("log")
    ax.set_xticks(xs, labels, fontsize=8)
    ax.set_ylabel("|y - y_fp64| / sum|a w|")
    ax.set_title("LUT-core GEMV error vs fp64 on BitNet-like data (act / acc format)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = StudyParser(prog="python -m dse.studies.fp_accuracy", description=__doc__.split("\n")[0])
    p.add_argument("--acts", default="fp16,bf16", help="activation formats (default: %(default)s)")
    p.add_argument("--accs", default="same,fp32",
                   help="accumulator formats, 'same' = act (default: %(default)s)")
    p.add_argument("--n", default=",".join(map(str, SHAPES)),
                   help="GEMV input lengths (default: %(default)s)")
    p.add_argument("--m", type=int, default=512,
                   help="output columns sampled per shape (default: %(default)s)")
    p.add_argument("--core", type=int, default=64, help="core size (default: %(default)s)")
    p.add_argument("--mu", type=int, default=4, help="LUT group size (default: %(default)s)")
    p.add_argument("--absmax", type=float, default=127.0,
                   help="activation absmax after scaling (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    p.add_argument("--out", default="out/studies",
                   help="folder for CSV and PNG (default: %(default)s)")
    args = p.parse_args(argv)

    rows = []
    combos = list(itertools.product(args.acts.split(","), args.accs.split(","), map(int, args.n.split(","))))
    for i, (act, acc, n) in enumerate(combos, 1):
        acc_name = act if acc == "same" else acc
        print(f"[{i}/{len(combos)}] act={act} acc={acc_name} N={n}", file=sys.stderr)
        rows.append(measure(act, acc_name, n, args.m, core=args.core, mu=args.mu, seed=args.seed,
                            absmax=args.absmax))
    table = pd.DataFrame(rows)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "fp_accuracy.csv", index=False)
    plot(table, out / "fp_accuracy.png")
    with pd.option_context("display.width", 160, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))
    best = table[table.nonfinite == 0].groupby(["act", "acc"])["max_rel_err"].max()
    print("\nworst-case relative error per format (over shapes):")
    for (act, acc), err in best.items():
        print(f"  act {act:5s} acc {acc:5s}: {err:.3g}")
    print(f"\nwrote {out / 'fp_accuracy.csv'} and {out / 'fp_accuracy.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
