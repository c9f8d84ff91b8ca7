"""The command lines ``hwgen`` (:mod:`.hwgen`), ``costmodel`` (:mod:`.costmodel`) and ``dse``
(:mod:`.dse`), built on one skeleton (:mod:`._base`): a :class:`Command` per sub-command, one
:class:`CommandError`, ``--json`` on every command and :func:`make_main`.

The programs import :mod:`._base` (and ``hwgen`` :mod:`._design_options`), never each other.
"""

from ._base import Command, CommandError, make_main, versions

__all__ = ["Command", "CommandError", "make_main", "versions"]
