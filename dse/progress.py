"""Progress bars of the long-running DSE jobs (calibration, validation): tqdm on stderr."""

from __future__ import annotations

__all__ = ["progress_bar"]


def progress_bar(total: int, desc: str, *, enabled: bool = True, unit: str = "synth"):
    """A tqdm progress bar over ``total`` steps of ``unit``; tqdm's own ``disable`` silences it
    when not ``enabled`` (``update``/``close`` still work)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled)
