"""Check FPFusedAdd on every input vector of a small space against the torch reference fp_fused_sum.

The combinational unit (``stages=0``) is emitted to Verilog and compiled with Verilator into a shared library
with a small batch harness (``scripts/fp_harness/eval_range.cpp``: ``eval_range(start, n, o)`` evaluates the
packed inputs ``start .. start + n - 1``). Every packed input of ``terms * fmt.width`` bits (at most 36) is
checked, in chunks of ``2**chunk_bits`` consecutive inputs: each chunk is also computed with
:func:`sim.fp_reference.fp_fused_sum` and compared bit for bit. Chunks are spread over ``--jobs``
processes. Progress goes to stderr, the summary to stdout; the exit status is 1 if any input mismatches.

Usage::

    python scripts/verify_fp_fused_exhaustive.py --fmt fp8e5m2 --terms 3              # 16.7 M vectors
    python scripts/verify_fp_fused_exhaustive.py --fmt fp8e4m3 --terms 3 --guard 0 --sticky --rounding rtz
    python scripts/verify_fp_fused_exhaustive.py --fmt fp16 --terms 2 --out-fmt fp32   # 4.3 G vectors
    python scripts/verify_fp_fused_exhaustive.py --fmt fp16 --terms 2 --chunks 0:64    # a slice only
"""

import argparse
import ctypes
import multiprocessing
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from verify_fp_exhaustive import _parse_chunks, add_run_arguments, verilate_unit  # (this script's folder)

ROOT = Path(__file__).resolve().parent.parent
MAX_INPUT_BITS = 36
FORMATS = ("fp16", "bf16", "fp32", "fp8e4m3", "fp8e5m2")

HARNESS = Path(__file__).resolve().parent / "fp_harness" / "eval_range.cpp"


def build_library(unit, build_dir):
    """Emit the combinational ``unit``, Verilate it, link ``build_dir/libfpfused.so``, return its path."""
    return verilate_unit(unit, HARNESS, build_dir, "libfpfused.so")


_worker = {}


def _init_worker(lib_path, ref_args):
    import torch

    torch.set_num_threads(1)
    lib = ctypes.CDLL(str(lib_path))
    lib.eval_range.argtypes = [ctypes.c_uint64, ctypes.c_size_t, ctypes.c_void_p]
    lib.eval_range.restype = None
    _worker.update(lib=lib, ref_args=ref_args)


def _unpack(start, n, fmt, terms):
    """Bit patterns (n, terms) of the packed inputs start .. start + n - 1 (term k at bits k*w ..)."""
    import torch

    w = fmt.width
    idx = torch.arange(start, start + n, dtype=torch.int64)
    return (idx[:, None] >> (torch.arange(terms, dtype=torch.int64) * w)) & ((1 << w) - 1)


def _check_chunk(args):
    from sim.fp_reference import fp_fused_sum

    chunk, chunk_bits = args
    n = 1 << chunk_bits
    start = chunk * n
    o = np.empty(n, dtype=np.uint32)
    _worker["lib"].eval_range(start, n, o.ctypes.data)
    ra = _worker["ref_args"]
    bits = _unpack(start, n, ra["fmt"], ra["terms"])
    expected = fp_fused_sum(bits, ra["fmt"], ra["out_fmt"], ra["guard"], ra["sticky"], ra["rounding"]).numpy()
    bad = np.nonzero(expected != o.astype(np.int64))[0]
    examples = [(bits[i].tolist(), int(o[i]), int(expected[i])) for i in bad[:5]]
    return chunk, len(bad), examples


def main(argv=None):
    parser = argparse.ArgumentParser(description="check FPFusedAdd on all input vectors against fp_fused_sum")
    parser.add_argument("--fmt", choices=FORMATS, required=True, help="set the format of the terms to FMT")
    parser.add_argument("--terms", type=int, required=True, help="sum N terms")
    parser.add_argument(
        "--out-fmt", choices=FORMATS, default=None, help="set the result format to FMT (default: --fmt)"
    )
    parser.add_argument("--guard", type=int, default=3, help="keep N guard bits (default: %(default)s)")
    parser.add_argument("--sticky", action="store_true", help="jam shifted-out bits into a sticky bit")
    parser.add_argument(
        "--rounding", choices=("rne", "rtz"), default="rne", help="round with MODE (default: %(default)s)"
    )
    add_run_arguments(parser, 20, "vectors")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))  # allow running as a plain script from a checkout
    from hwgen.gateware.arith import FPFormat

    fmt = FPFormat.parse(args.fmt)
    out_fmt = FPFormat.parse(args.out_fmt) if args.out_fmt else fmt
    total_bits = args.terms * fmt.width
    if not 1 <= args.terms or total_bits > MAX_INPUT_BITS:
        parser.error(
            f"--terms must be >= 1 with terms * width <= {MAX_INPUT_BITS} bits, "
            f"got {args.terms} * {fmt.width}"
        )
    if not 8 <= args.chunk_bits <= 26:
        parser.error(f"--chunk-bits must be in [8, 26], got {args.chunk_bits}")
    if args.jobs < 1:
        parser.error(f"--jobs must be >= 1, got {args.jobs}")
    chunk_bits = min(args.chunk_bits, total_bits)
    n_chunks = 1 << (total_bits - chunk_bits)
    try:
        chunks = _parse_chunks(args.chunks, n_chunks)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    unit_args = dict(
        fmt=fmt, terms=args.terms, out_fmt=out_fmt, guard=args.guard, sticky=args.sticky,
        rounding=args.rounding,
    )
    from hwgen.gateware.arith import FPFusedAdd

    try:
        unit = FPFusedAdd(**unit_args, stages=0)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    desc = (
        f"fmt={fmt.name} out_fmt={out_fmt.name} terms={args.terms} guard={args.guard} sticky={args.sticky} "
        f"rounding={args.rounding}"
    )

    tmp = None
    build_dir = args.build_dir
    if build_dir is None:
        tmp = tempfile.mkdtemp(prefix=f"fp_fused_{fmt.name}_{args.terms}_")
        build_dir = Path(tmp)
    try:
        t0 = time.monotonic()
        lib = build_library(unit, build_dir)
        t_build = time.monotonic() - t0
        print(f"built {lib} in {t_build:.1f} s", file=sys.stderr)

        t1 = time.monotonic()
        mismatches = 0
        examples = []
        done = 0
        last_pct = -1
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.jobs, initializer=_init_worker, initargs=(lib, unit_args)) as pool:
            for _chunk, bad, ex in pool.imap_unordered(_check_chunk, [(c, chunk_bits) for c in chunks]):
                done += 1
                mismatches += bad
                examples.extend(ex)
                pct = 100 * done // len(chunks)
                if pct != last_pct:
                    last_pct = pct
                    rate = done * (1 << chunk_bits) / (time.monotonic() - t1)
                    print(
                        f"{pct:3d}% ({done}/{len(chunks)} chunks, {mismatches} mismatches, "
                        f"{rate / 1e6:.2f} M vectors/s)",
                        file=sys.stderr,
                        flush=True,
                    )
        t_check = time.monotonic() - t1
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    vectors = len(chunks) << chunk_bits
    print(
        f"{desc} vectors={vectors} (chunks {chunks.start}..{chunks.stop - 1} of {n_chunks}, "
        f"all {1 << total_bits} inputs: {vectors == 1 << total_bits}) mismatches={mismatches} "
        f"build_s={t_build:.1f} check_s={t_check:.1f} jobs={args.jobs}"
    )
    for terms, o, r in examples[:10]:
        print(f"  terms={[hex(t) for t in terms]} hw=0x{o:x} ref=0x{r:x}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
