"""The generated parts of ``docs/interface.md``: port and payload-field tables of example cores and
the worked key-order example, computed from the generator's own port list and stream layouts.

``python scripts/interface_tables.py --write`` rewrites the blocks between the markers
``<!-- BEGIN GENERATED: NAME ... -->`` and ``<!-- END GENERATED: NAME -->`` of the document;
``tests/unit/test_interface_doc.py`` fails when the document differs from :func:`render_blocks`.
"""

from __future__ import annotations

import gc
import re
import warnings

from amaranth import Shape
from amaranth.hdl import UnusedElaboratable
from amaranth.lib import data

from hwgen.description.config import CoreConfig
from hwgen.description.schedule import issue_cycles, job_cycles, job_interval, steps, tiles

from .core import act_layout, job_layout, keys_layout, out_layout
from .emit import build
from .ports import port_table

__all__ = ["EXAMPLES", "KEY_ORDER_EXAMPLE", "render_blocks", "replace_blocks", "read_blocks"]

#: The example cores of the port and field tables: (title, constructor arguments).
EXAMPLES: tuple[tuple[str, dict[str, object]], ...] = (
    ("int8 headline", {"act": "int8", "mu": 2, "luts": 32, "keys": 64}),
    ("small fp16 core, fp32 accumulators, reuse 2",
     {"act": "fp16", "acc": "fp32", "adder_stages": 1, "mu": 3, "luts": 2, "keys": 4, "max_n": 64,
      "max_m": 64, "reuse": 2}),
)
#: The worked key-order example: the second example core and a job of ``(n, m)``.
KEY_ORDER_EXAMPLE: tuple[dict[str, object], tuple[int, int]] = (EXAMPLES[1][1], (13, 10))

_MEANING = {
    "job.n": "N, activations of the job, in [1, max_n]",
    "job.m": "M, outputs of the job, in [1, max_m]",
    "act": "activation `t*tile_n + i` of row `t`, {act}",
    "keys": "key of LUT `l` for output lane `k` (sign bit + index)",
    "keys.mac": "weight operand of activation lane `l` for output lane `k`, {act}",
    "out.data": "`y[o*keys + k]` of output tile `o`, {acc}",
    "out.last": "1 on the job's last output tile",
}
#: The index names of each stream's array dimensions, outermost first.
_INDICES = {"job": "", "act": "i", "keys": "lk", "out": "k"}


def _number_format(cfg: CoreConfig, name: str) -> str:
    """How a lane of format ``name`` is coded: an FP bit pattern or a two's complement integer."""
    return f"{name} bit pattern" if cfg.is_fp else "two's complement"


def _call(kwargs: dict[str, object]) -> str:
    """``CoreConfig(act="int8", mu=2, ...)`` as one writes it."""
    args = (f'{k}="{v}"' if isinstance(v, str) else f"{k}={v}" for k, v in kwargs.items())
    return f"CoreConfig({', '.join(args)})"


def _bits(terms: list[tuple[int, str]], base: int, width: int) -> str:
    """``[lo, hi)`` of a field at bit ``base + sum(stride * index)``."""
    if not terms:
        return f"[{base}, {base + width})"
    lo = " + ".join([f"{stride}*{index}" for stride, index in terms] + ([str(base)] if base else []))
    return f"[{lo}, {lo} + {width})"


def _fields(layout, indices: str) -> list[tuple[str, str, str, str]]:
    """``(field, index range, bits, shape)`` rows of a payload layout, read from the layout."""
    rows = []

    def walk(name: str, layout, base: int, terms: list[tuple[int, str]], ranges: list[str]) -> None:
        if isinstance(layout, data.StructLayout):
            for member, field in layout:
                walk(f"{name}.{member}" if name else member, field.shape, base + field.offset, terms, ranges)
        elif isinstance(layout, data.ArrayLayout):
            index = indices[len(terms)]
            elem = layout.elem_shape
            stride = elem.size if isinstance(elem, data.Layout) else elem.width
            walk(f"{name}[{index}]", elem, base, [*terms, (stride, index)],
                 [*ranges, f"{index} < {layout.length}"])
        else:
            shape = Shape.cast(layout)
            rows.append((name, ", ".join(ranges) or "-", _bits(terms, base, shape.width), repr(shape)))

    walk("", layout, 0, [], [])
    return rows


def _ports(cfg: CoreConfig) -> list[dict[str, object]]:
    """:func:`port_table` of the core of ``cfg``, built only for its signature: dropped at once,
    without the warning Amaranth gives for a component that is never elaborated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        core = build(cfg)
        rows = port_table(core)
        del core
        gc.collect()  # the core's reference cycles
    return rows


def _example_block(title: str, kwargs: dict[str, object]) -> str:
    cfg = CoreConfig(**kwargs)
    lines = [
        f"#### {title}",
        "",
        f"`{_call(kwargs)}`:",
        (f"module `{cfg.name}`, tile_n = {cfg.tile_n}, tile_m = keys = {cfg.tile_m}, "
         f"key_bits = {cfg.key_bits},"),
        (f"acc_width = {cfg.acc_width}, activation buffer {cfg.max_tiles_n} rows, "
         f"pipeline_latency = {cfg.pipeline_latency} cycles."),
        "",
        "| port | direction | width | description |",
        "| --- | --- | --- | --- |",
    ]
    for port in _ports(cfg):
        lines.append(f"| `{port['name']}` | {port['direction']} | {port['width']} | {port['doc']} |")
    lines += ["", "| stream | field | indices | bits | shape | meaning |",
              "| --- | --- | --- | --- | --- | --- |"]
    layouts = {"job": job_layout(cfg), "act": act_layout(cfg), "keys": keys_layout(cfg),
               "out": out_layout(cfg)}
    for stream, layout in layouts.items():
        for field, ranges, bits, shape in _fields(layout, _INDICES[stream]):
            key = stream if field.startswith("[") else f"{stream}.{field.split('[')[0]}"
            meaning = _MEANING["keys.mac" if key == "keys" and cfg.is_mac else key].format(
                act=_number_format(cfg, cfg.act), acc=_number_format(cfg, cfg.acc))
            lines.append(f"| `{stream}` | `{field}` | {ranges} | `{bits}` | `{shape}` | {meaning} |")
    return "\n".join(lines)


def _key_order_block() -> str:
    kwargs, (n, m) = KEY_ORDER_EXAMPLE
    cfg = CoreConfig(**kwargs)
    t_count, o_count = tiles(cfg, n, m)
    lines = [
        f"`{_call(kwargs)}`",
        (f"(tile_n = {cfg.tile_n}, keys = {cfg.keys}, R = {cfg.reuse}, acc_latency = {cfg.acc_latency}) "
         f"and a job n = {n}, m = {m}:"),
        (f"T = {t_count} activation rows, O = {o_count} output tiles, T*O = {t_count * o_count} key words, "
         f"issue_cycles = {issue_cycles(cfg, n, m)},"),
        f"job_cycles = {job_cycles(cfg, n, m)}, job_interval = {job_interval(cfg, n, m)}.",
        "",
        "| word | t | o | activations (rows) | outputs (columns) | LUTs rebuilt | then leaves |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s, (t, o) in enumerate(steps(cfg, n, m).tolist()):
        rows = f"{t * cfg.tile_n}..{min((t + 1) * cfg.tile_n, n) - 1}"
        cols = f"{o * cfg.keys}..{min((o + 1) * cfg.keys, m) - 1}"
        rebuilt = "yes" if o % cfg.reuse == 0 else "no"
        leaves = "-" if t < t_count - 1 else f"out tile {o}" + (" (`last`)" if o == o_count - 1 else "")
        lines.append(f"| {s} | {t} | {o} | {rows} | {cols} | {rebuilt} | {leaves} |")
    return "\n".join(lines)


def render_blocks() -> dict[str, str]:
    """The generated blocks of ``docs/interface.md`` by name."""
    examples = "\n\n".join(_example_block(title, kwargs) for title, kwargs in EXAMPLES)
    return {"key-order": _key_order_block(), "examples": examples}


_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+)[^\n]*-->\n)(?P<body>.*?)"
                    r"(<!-- END GENERATED: (?P=name) -->)", re.DOTALL)


def read_blocks(text: str) -> dict[str, str]:
    """The generated blocks found in ``text`` by name."""
    return {match["name"]: match["body"].strip("\n") for match in _BLOCK.finditer(text)}


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with the body of each named generated block replaced by ``blocks[name]``.

    Raises ``ValueError`` if a block of ``blocks`` has no markers in ``text``.
    """
    missing = sorted(set(blocks) - set(read_blocks(text)))
    if missing:
        raise ValueError(f"no generated block named {', '.join(missing)} in the document")
    return _BLOCK.sub(lambda match: f"{match[1]}\n{blocks[match['name']]}\n\n{match[4]}"
                      if match["name"] in blocks else match[0], text)
