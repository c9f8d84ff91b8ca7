"""Benchmark: designs per second of the vectorised cost model (:func:`costmodel.estimate_table`).

Draws random valid designs over the whole space (all activation types, mu 1..6, L and K up to
128, pipeline, adder stages, reuse, buffer sizes), then times one cold evaluation (every distinct
term priced for the first time), warm evaluations of the same designs in another order (terms
cached, as in a long search over one space) and one fresh random draw, on one core. Prints the
figures; no pass/fail.

    python scripts/bench_costmodel.py [--designs 200000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from costmodel import estimate_table, load_unit_costs  # noqa: E402
from hwgen.description.tree_plan import tree_depth  # noqa: E402


def random_designs(count: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    acts = np.array(["int4", "int8", "int16", "fp16", "bf16", "fp8e4m3"])
    act = acts[rng.integers(len(acts), size=count)]
    fp = ~np.char.startswith(act.astype(str), "int")
    mu = rng.integers(1, 7, size=count)
    luts = rng.integers(1, 129, size=count)
    keys = rng.integers(1, 129, size=count)
    depth = np.array([tree_depth(int(x)) for x in range(129)])[luts]
    pipeline = (rng.random(count) * (depth + 2)).astype(int)
    stages = np.where(fp, rng.integers(0, 4, size=count), 0)
    acc = np.where(fp & (rng.random(count) < 0.5), "fp32", "")
    reuse = rng.integers(1, 5, size=count)
    max_n = np.maximum(rng.choice([2048, 4096, 8192, 16384], size=count), luts * mu)
    return pd.DataFrame({"act": act, "acc": acc, "mu": mu, "luts": luts, "keys": keys, "adder_stages": stages,
                         "pipeline": pipeline, "reuse": reuse, "max_n": max_n, "max_m": 8192})


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", type=int, default=200_000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    costs = load_unit_costs()
    table = random_designs(a.designs)
    t0 = time.perf_counter()
    estimate_table(table, costs=costs, n=2560, m=6912)
    cold = time.perf_counter() - t0
    warm = []
    for i in range(a.repeat):  # the same space revisited (a search's steady state): rows shuffled
        shuffled = table.sample(frac=1.0, random_state=i).reset_index(drop=True)
        t0 = time.perf_counter()
        estimate_table(shuffled, costs=costs, n=2560, m=6912)
        warm.append(time.perf_counter() - t0)
    fresh = random_designs(a.designs, seed=a.repeat + 1)
    t0 = time.perf_counter()
    estimate_table(fresh, costs=costs, n=2560, m=6912)
    new = time.perf_counter() - t0
    best = min(warm)
    print(f"designs per call      : {a.designs:,}")
    print(f"cold (terms uncached) : {cold:.2f} s  -> {a.designs / cold:,.0f} designs/s")
    print(f"warm (terms cached)   : {best:.2f} s  -> {a.designs / best:,.0f} designs/s (best of {a.repeat})")
    print(f"fresh draw, half warm : {new:.2f} s  -> {a.designs / new:,.0f} designs/s (new random designs; "
          "terms of the huge random space partly cached)")


if __name__ == "__main__":
    main()
