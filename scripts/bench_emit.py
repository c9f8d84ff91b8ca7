"""Wall-clock time of ``hwgen emit`` for the two headline cores, on one CPU core.

Runs ``hwgen emit --act fp16 --core 64`` and ``hwgen emit --act int8 --core 64`` as a new user
would (a fresh interpreter each time: imports, the cost model's choice of mu, elaboration,
Amaranth's netlist and RTLIL, Yosys' Verilog backend), pinned to one CPU core, best of
``--repeat`` runs. With ``--baseline REV`` the same commands also run on a checkout of git
revision ``REV`` (a temporary ``git worktree``), interleaved with the current tree, so that the
before and after figures come from the same machine in the same run. Prints seconds per run and
the size of the Verilog written.

Usage::

    python scripts/bench_emit.py
    python scripts/bench_emit.py --baseline e085862 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADLINES = {"fp16": ["--act", "fp16", "--core", "64"], "int8": ["--act", "int8", "--core", "64"]}


def _one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def emit_seconds(tree: Path, args: list[str], out: Path) -> tuple[float, int]:
    """Seconds of one ``hwgen emit`` from the source tree ``tree``, and the bytes it wrote."""
    command = [sys.executable, "-c", "from ternlut.cli.hwgen import main; main()", "emit", *args,
               "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, preexec_fn=_one_core)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench_emit: error: hwgen emit {' '.join(args)} failed in {tree}:\n"
                         f"{done.stderr[-2000:]}")
    return seconds, out.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", metavar="REV", help="also time git revision REV (before/after)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per command; the best counts (default 2)")
    opts = parser.parse_args(argv)
    if opts.repeat < 1:
        parser.error(f"--repeat: {opts.repeat} is not at least 1")

    with tempfile.TemporaryDirectory(prefix="bench_emit_") as scratch:
        trees = {"current": ROOT}
        if opts.baseline:
            base = Path(scratch) / "baseline"
            added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base),
                                    opts.baseline], capture_output=True, text=True)
            if added.returncode != 0:
                parser.error(f"--baseline: cannot check out {opts.baseline!r}: "
                             f"{(added.stderr.strip().splitlines() or ['git failed'])[-1]}")
            trees = {opts.baseline: base, **trees}
        try:
            best: dict[tuple[str, str], tuple[float, int]] = {}
            for _ in range(opts.repeat):
                for headline, args in HEADLINES.items():
                    for label, tree in trees.items():
                        got = emit_seconds(tree, args, Path(scratch) / f"{label}_{headline}.v")
                        key = (label, headline)
                        best[key] = min(best.get(key, got), got)
        finally:
            if opts.baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                               capture_output=True)
                shutil.rmtree(base, ignore_errors=True)
    print(f"hwgen emit, one CPU core, best of {opts.repeat} (fresh interpreter each run)")
    print(f"{'tree':>10}  {'design':>24}  {'seconds':>8}  {'Verilog':>10}")
    for (label, headline), (seconds, size) in best.items():
        print(f"{label:>10}  {' '.join(HEADLINES[headline]):>24}  {seconds:8.2f}  {size / 1e6:8.2f} MB")


if __name__ == "__main__":
    main()
