"""Benchmark: designs per second of the vectorised cost model (:func:`costmodel.estimate_table`) and
rows per second of the table validity check (:func:`hwgen.description.validity.check_table`).

Draws random valid designs over the whole space (all activation types, mu 1..6, L and K up to
128, pipeline, adder stages, reuse, buffer sizes) and times, on one core:

* cold: a fresh unit-cost table object (nothing computed from it yet) pricing a new draw;
* warm: the same designs again, rows shuffled (a search revisiting one space);
* fresh draw: a new random draw with the warm unit-cost table;
* validity: :func:`check_table` on the drawn table, and on one where 5 % of the rows are invalid.

Each figure is the best of ``--repeat`` runs. Prints the figures; no pass/fail.

    python scripts/bench_costmodel.py [--designs 100000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def random_designs(count: int, seed: int = 0):
    """``count`` random valid designs (a DataFrame of config columns)."""
    import numpy as np
    import pandas as pd

    from hwgen.description.tree_plan import tree_depth

    rng = np.random.default_rng(seed)
    acts = np.array(["int4", "int8", "int16", "fp16", "bf16", "fp8e4m3"])
    act = acts[rng.integers(len(acts), size=count)]
    fp = ~np.char.startswith(act.astype(str), "int")
    mu = rng.integers(1, 7, size=count)
    luts = rng.integers(1, 129, size=count)
    keys = rng.integers(1, 129, size=count)
    depth = tree_depth(luts)
    pipeline = (rng.random(count) * (depth + 2)).astype(int)
    stages = np.where(fp, rng.integers(0, 4, size=count), 0)
    acc = np.where(fp & (rng.random(count) < 0.5), "fp32", "")
    reuse = rng.integers(1, 5, size=count)
    max_n = np.maximum(rng.choice([2048, 4096, 8192, 16384], size=count), luts * mu)
    return pd.DataFrame({"act": act, "acc": acc, "mu": mu, "luts": luts, "keys": keys, "adder_stages": stages,
                         "pipeline": pipeline, "reuse": reuse, "max_n": max_n, "max_m": 8192})


def _best(fn, repeat: int) -> float:
    """Shortest wall time (s) of ``repeat`` calls of ``fn(i)``."""
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    from costmodel import UnitCosts, estimate_table, load_unit_costs
    from hwgen.description.validity import check_table

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--designs", type=int, default=100_000, help="designs per call (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=2, help="runs per figure, best taken (default: %(default)s)")
    a = p.parse_args()
    table = load_unit_costs()
    n = a.designs

    def fresh_costs() -> UnitCosts:  # the same table, as a new object: nothing computed from it yet
        return UnitCosts(liberty=table.liberty, flow_version=table.flow_version,
                         nand2_area_um2=table.nand2_area_um2, samples=table.samples)

    draws = [random_designs(n, seed=100 + i) for i in range(a.repeat)]
    cold = _best(lambda i: estimate_table(draws[i], costs=fresh_costs(), n=2560, m=6912), a.repeat)
    costs = fresh_costs()
    designs = random_designs(n)
    estimate_table(designs, costs=costs, n=2560, m=6912)
    warm = _best(lambda i: estimate_table(designs.sample(frac=1.0, random_state=i).reset_index(drop=True),
                                          costs=costs, n=2560, m=6912), a.repeat)
    new = [random_designs(n, seed=200 + i) for i in range(a.repeat)]
    fresh = _best(lambda i: estimate_table(new[i], costs=costs, n=2560, m=6912), a.repeat)
    check = _best(lambda i: check_table(designs), a.repeat)
    broken = designs.copy()
    broken.loc[broken.index % 20 == 0, "mu"] = 0
    check_bad = _best(lambda i: check_table(broken), a.repeat)
    print(f"designs per call        : {n:,} (best of {a.repeat} runs per figure)")
    print(f"cold (new cost table)   : {cold:.3f} s  -> {n / cold:,.0f} designs/s")
    print(f"warm (same designs)     : {warm:.3f} s  -> {n / warm:,.0f} designs/s")
    print(f"fresh draw (warm table) : {fresh:.3f} s  -> {n / fresh:,.0f} designs/s")
    print(f"check_table, all valid  : {check:.3f} s  -> {n / check:,.0f} rows/s")
    print(f"check_table, 5% invalid : {check_bad:.3f} s  -> {n / check_bad:,.0f} rows/s")


if __name__ == "__main__":
    main()
