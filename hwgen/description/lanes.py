"""Packing of lane vectors into the flat bit vectors of stream payloads.

Lane ``i`` of a ``width``-bit lane vector occupies bits ``[i*width, (i+1)*width)`` (lane 0
in the least significant bits), as Amaranth's ``data.ArrayLayout`` lays out its elements.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["pack_lanes", "unpack_lanes"]


def pack_lanes(values: Iterable[int], width: int) -> int:
    """Pack integers (two's complement if negative) into one ``len(values) * width``-bit word."""
    mask = (1 << width) - 1
    word = 0
    for i, v in enumerate(values):
        v = int(v)
        if not -(1 << (width - 1)) <= v <= mask:
            raise ValueError(f"lane {i} value {v} does not fit in {width} bits")
        word |= (v & mask) << (i * width)
    return word


def unpack_lanes(word: int, lanes: int, width: int, *, signed: bool) -> list[int]:
    """Split a word into ``lanes`` integers of ``width`` bits (sign-extended if ``signed``)."""
    mask = (1 << width) - 1
    out = []
    for i in range(lanes):
        v = (word >> (i * width)) & mask
        if signed and v >> (width - 1):
            v -= 1 << width
        out.append(v)
    return out
