"""The options that describe an adapter unit (``--adapter`` and its parameters), shared by the
commands that take a core, and their resolution into an
:class:`~hwgen.description.adapter.AdapterConfig` (the design file's ``[adapter]`` table, then the
options given)."""

from __future__ import annotations

import argparse

from hwgen.description.adapter import (
    ADAPTER_FORMATS,
    ADAPTER_STORAGE,
    ADAPTER_VARIANTS,
    AdapterConfig,
    load_adapter,
)
from hwgen.description.config import ConfigError, CoreConfig
from hwgen.description.workload import PROJECTIONS

from ._base import CommandError, config_problems, int_range

__all__ = ["ADAPTER_FLAGS", "add_adapter_arguments", "resolve_adapter", "adapter_targets"]

#: The option that sets each adapter parameter (the names its problems start with).
ADAPTER_FLAGS = {
    "adapter": "--adapter", "rank": "--rank", "lanes": "--lanes", "chunk": "--chunk",
    "adapter_fmt": "--adapter-fmt", "resident": "--resident", "adapter_storage": "--adapter-storage",
    "share": "--share", "hold": "--hold", "seed": "--seed",
}
#: Adapter parameter of each option's ``args`` attribute.
_FIELDS = {"adapter": "variant", "rank": "max_rank", "lanes": "lanes", "chunk": "chunk",
           "adapter_fmt": "fmt", "resident": "resident", "adapter_storage": "storage", "share": "share",
           "hold": "hold", "seed": "seed"}


def _lanes(text: str) -> int | str:
    if text == "auto":
        return text
    return int_range()(text)


def add_adapter_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``--adapter`` and its parameters to ``p``."""
    g = p.add_argument_group("adapter unit (LoRA-family side path beside the core)")
    g.add_argument("--adapter", default=None, metavar="{" + ",".join(ADAPTER_VARIANTS) + "}",
                   help="add an adapter unit: lora (dense A, B), vera (A, B regenerated on chip from --seed; "
                        "only the vectors d, b per layer), ternary-a (A in {-1,0,+1} fetched from the core's "
                        "LUTs) (default: none, or the design file's [adapter] table)")
    g.add_argument("--rank", type=int_range(), default=None, metavar="R",
                   help="the largest adapter rank, 1..256 (default 16); a workload without its own "
                        "[adapter] rank runs at R")
    g.add_argument("--lanes", type=_lanes, default=None, metavar="P|auto",
                   help="multiply-accumulate lanes (lora, vera: a multiple of --chunk, default the chunk; "
                        "ternary-a: 1..keys, default keys); auto: the fewest that hide the adapter on the "
                        "workload (with the best --chunk unless given)")
    g.add_argument("--chunk", type=int_range(), default=None, metavar="C",
                   help="lora, vera: activations each down-projection tree reads per step, a divisor or "
                        "multiple of the core's tile_n (default tile_n); sets the order of its adds")
    g.add_argument("--adapter-fmt", default=None, metavar="{" + ",".join(ADAPTER_FORMATS) + "}",
                   help="number format of A, B (default: the core's act for fp16/bf16 cores, int8 for "
                        "integer "
                        "cores)")
    g.add_argument("--resident", type=int_range(), default=None, metavar="K",
                   help="adapters to switch between, named by each job (default 1)")
    g.add_argument("--adapter-storage", default=None, metavar="{" + ",".join(ADAPTER_STORAGE) + "}",
                   help="stream: A and B read with every job (default); onchip: held in on-chip SRAM")
    g.add_argument("--share", type=int_range(), default=None, metavar="S",
                   help="projections sharing one down-projection pass, 1..4 (default 3: q, k, v)")
    g.add_argument("--hold", type=int_range(), default=None, metavar="T",
                   help="output tiles the hold buffer keeps (default ceil(max_m / keys))")
    g.add_argument("--seed", type=int_range(), default=None, metavar="S",
                   help="vera: seed of the shared A and B (default 0)")
    g.add_argument("--targets", default=None, metavar="LIST",
                   help=f"projections to adapt, comma-separated among {','.join(PROJECTIONS)} (default: the "
                        "workload's [adapter] targets, else every GEMV)")


def _given(args: argparse.Namespace) -> dict[str, object]:
    return {_FIELDS[key]: getattr(args, key) for key in ADAPTER_FLAGS if getattr(args, key, None) is not None}


def resolve_adapter(args: argparse.Namespace, core: CoreConfig) -> AdapterConfig | None:
    """The adapter of ``--design``'s ``[adapter]`` table overridden by the options given, or
    ``None`` when neither names one. ``--lanes auto`` is left as 0 (the caller picks the lanes)."""
    params: dict[str, object] = {}
    if getattr(args, "design", None):
        try:
            params = load_adapter(args.design) or {}
        except ConfigError as exc:
            raise CommandError("\n".join(f"--design: {p}" for p in exc.problems)) from None
    given = _given(args)
    if not params and "variant" not in given:
        extra = sorted(ADAPTER_FLAGS[k] for k in ADAPTER_FLAGS if k != "adapter"
                       and getattr(args, k, None) is not None)
        if extra or getattr(args, "targets", None):
            raise CommandError(f"{', '.join(extra or ['--targets'])}: adapter options need --adapter "
                               f"({', '.join(ADAPTER_VARIANTS)}) or a design file with an [adapter] table")
        return None
    params.update(given)
    if params.get("lanes") == "auto":
        params["lanes"] = 0
    try:
        return AdapterConfig(core=core, **params)
    except ConfigError as exc:
        raise config_problems(exc, ADAPTER_FLAGS) from None
    except TypeError as exc:
        raise CommandError(f"--design: [adapter]: {exc}") from None


def adapter_targets(args: argparse.Namespace) -> tuple[str, ...] | None:
    """``--targets`` as a tuple of projections (``None`` when not given)."""
    text = getattr(args, "targets", None)
    if text is None:
        return None
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    bad = [t for t in names if t not in PROJECTIONS]
    if bad or not names:
        raise CommandError(f"--targets: must be a comma-separated list among {','.join(PROJECTIONS)}, got "
                           f"{text!r}")
    return names
