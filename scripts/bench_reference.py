"""Speed of the bit-exact reference model (:class:`sim.reference.ReferenceModel`) on the headline cores.

Prints, per core (fp16 mu=3 and int8 mu=2, 64 x 64 tiles) and device (CPU, and CUDA when available):

* seconds per 2560 x 6912 GEMV from a ternary matrix (``gemv(a, w)``: check, encode, run),
* seconds per prepared 2560 x 6912 GEMV (``gemv(a, prepare(w))``: the datapath only),
* seconds per BitNet b1.58 2B4T decode token: the 7 GEMV shapes of
  ``designs/workloads/bitnet_b158_2b4t.toml``, each ``count`` (30) times, on prepared random ternary
  weights (one matrix per shape, reused by every layer) and fresh activations from :mod:`sim.stimulus`
  for every GEMV. ``--layers L`` runs L layers and scales the time to all of them.

Timings are the best of ``--repeat`` runs (seconds, wall clock, ``torch.set_num_threads(--threads)``).
``--reference MODULE`` benchmarks another module with a ``ReferenceModel`` (e.g. an older copy of
``sim.reference`` on ``PYTHONPATH``); without ``prepare`` the prepared run is ``gemv_keys`` on
pre-encoded keys.

Usage::

    python scripts/bench_reference.py
    python scripts/bench_reference.py --layers 2 --reference oldsim.reference
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from hwgen.description import core_config
from hwgen.description.workload import load_workload
from sim.key_encoding import encode_weights
from sim.stimulus import random_gemv

ROOT = Path(__file__).resolve().parent.parent
WORKLOAD = ROOT / "designs" / "workloads" / "bitnet_b158_2b4t.toml"
HEADLINES = [("fp16", 3), ("int8", 2)]


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_of(fn: Callable[[], object], repeat: int, device: str) -> float:
    """Best wall-clock time of ``repeat`` calls of ``fn`` after one warm-up call (seconds)."""
    fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return min(times)


def bench_core(module, act: str, mu: int, device: str, layers: int, repeat: int) -> dict[str, float]:
    """Timings (seconds) of one headline core on ``device``; see the module docstring."""
    cfg = core_config(core=64, act=act, mu=mu, max_n=8192, max_m=8192)
    model = module.ReferenceModel(cfg)
    gen = np.random.default_rng(0)
    has_prepare = hasattr(model, "prepare")

    def prepare(w: torch.Tensor):
        return model.prepare(w) if has_prepare else encode_weights(w, cfg.mu)

    def run(a: torch.Tensor, p) -> torch.Tensor:
        return model.gemv(a, p) if has_prepare else model.gemv_keys(a, p)

    a_np, w_np = random_gemv(cfg, gen, 2560, 6912)
    a, w = torch.from_numpy(a_np).to(device), torch.from_numpy(w_np).to(device)
    prepared = prepare(w)
    out = {
        "gemv": best_of(lambda: model.gemv(a, w), repeat, device),
        "prepare": best_of(lambda: prepare(w), 1, device),
        "prepared_gemv": best_of(lambda: run(a, prepared), repeat, device),
    }
    workload = load_workload(WORKLOAD)
    jobs = []
    for g in workload.gemvs:
        acts, weights = zip(*(random_gemv(cfg, gen, g.n, g.m) for _ in range(layers)), strict=True)
        p = prepare(torch.from_numpy(weights[0]).to(device))
        jobs.append((p, [torch.from_numpy(x).to(device) for x in acts], g.count))

    def token() -> None:
        for p, acts, _ in jobs:
            for x in acts:
                run(x, p)

    scale = max(count for _, _, count in jobs) / layers
    out["token"] = best_of(token, max(1, repeat // 2), device) * scale
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", default="sim.reference", help="module with ReferenceModel")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--layers", type=int, default=30, help="layers run per token (time scaled to 30)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is shown)")
    parser.add_argument("--device", action="append", help="device(s); default cpu (+ cuda if available)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    module = importlib.import_module(args.reference)
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    print(f"reference: {args.reference}; threads: {args.threads}; layers run per token: {args.layers}")
    print(f"{'core':<22}{'device':<8}{'gemv(a,w) s':>13}{'prepare s':>11}{'prepared s':>12}{'token s':>10}")
    for device in devices:
        for act, mu in HEADLINES:
            r = bench_core(module, act, mu, device, args.layers, args.repeat)
            name = f"{act} mu={mu} 64x64"
            print(f"{name:<22}{device:<8}{r['gemv']:>13.3f}{r['prepare']:>11.3f}{r['prepared_gemv']:>12.4f}"
                  f"{r['token']:>10.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
