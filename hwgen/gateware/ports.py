"""The Verilog port list of a generated component, as Amaranth flattens it."""

from __future__ import annotations

from amaranth.hdl import Value
from amaranth.lib import wiring

__all__ = ["port_table"]

_DOCS = {
    "valid": "stream valid",
    "ready": "stream ready",
    "payload": "stream payload",
}


def port_table(component: wiring.Component, *, clocked: bool = True,
               docs: dict[str, str] | None = None) -> list[dict[str, object]]:
    """``[{name, direction, width, doc}]`` for ``clk`` and ``rst`` (if ``clocked``) and every
    signature member; ``docs`` overrides the description of a port by name.

    Names are member paths joined by ``__`` (``keys__payload``), as in the emitted Verilog.
    """
    docs = docs or {}
    rows = [
        {"name": "clk", "direction": "input", "width": 1, "doc": "clock, rising edge"},
        {"name": "rst", "direction": "input", "width": 1, "doc": "synchronous reset, active high"},
    ] if clocked else []
    for path, member, value in component.signature.flatten(component):
        name = "__".join(str(part) for part in path)
        direction = "input" if member.flow == wiring.In else "output"
        rows.append({"name": name, "direction": direction, "width": Value.cast(value).shape().width,
                     "doc": docs.get(name, f"{path[0]} {_DOCS.get(str(path[-1]), str(path[-1]))}")})
    return rows
