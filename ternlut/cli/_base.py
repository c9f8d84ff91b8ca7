"""The one command-line skeleton of ``hwgen``, ``costmodel`` and ``dse``.

A program is a tuple of :class:`Command` objects handed to :func:`make_main`, which builds the
parser (one sub-command per command, ``--json`` added to each, the command's ``example`` shown
at the end of its ``--help``) and returns the program's ``main(argv) -> int``. A user error is a
:class:`CommandError` (or a bad option value, which argparse reports): printed as
``<prog> <command>: error: <line>`` per problem on stderr, exit status 1, no traceback. With
``--json`` the command prints exactly one JSON document on stdout (:meth:`Command.print_json`:
the command name, its results and :func:`versions`); an error then also prints one, with
``"errors"``. Output files are checked before any work (:func:`check_writable`,
:func:`check_output_dir`) and written atomically (:func:`atomic_write`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

import ternlut

__all__ = ["Command", "CommandError", "UsageError", "make_main", "make_parser", "versions", "json_document",
           "config_problems", "int_range", "positive_float", "check_writable", "check_output_dir",
           "atomic_write"]

#: Set this environment variable to see the traceback of an unexpected error instead of one line.
TRACEBACK_ENV = "TERNLUT_TRACEBACK"


def versions() -> dict[str, str | None]:
    """Versions of ternlut, Amaranth (``None`` when not installed; read without importing it) and Python."""
    try:
        amaranth = version("amaranth")
    except PackageNotFoundError:
        amaranth = None
    return {"ternlut": ternlut.__version__, "amaranth": amaranth, "python": platform.python_version()}


class CommandError(Exception):
    """A user error: printed as ``<prog> <command>: error: <line>`` per line, exit status 1.

    Each line names the option, its value and what is allowed, e.g.
    ``--jobs: must be an integer in [1, inf), got 0``.
    """

    @property
    def lines(self) -> list[str]:
        """The problems, one per line."""
        return str(self).splitlines() or ["unknown error"]


class UsageError(CommandError):
    """An option argparse refused (unknown option, missing or malformed value), with the parser's ``prog``."""

    def __init__(self, prog: str, message: str):
        self.prog = prog
        super().__init__(message)


def config_problems(exc: Exception, flags: Mapping[str, str]) -> CommandError:
    """A :class:`CommandError` from a ``ConfigError``: each problem that starts with a backquoted
    parameter in ``flags`` gets the option that sets it as prefix (``--mu: `mu` must be ...``)."""
    problems = getattr(exc, "problems", None) or str(exc).splitlines()
    lines = []
    for problem in problems:
        match = re.match(r"`(\w+)`", problem)
        lines.append(f"{flags[match.group(1)]}: {problem}" if match and match.group(1) in flags else problem)
    return CommandError("\n".join(lines))


def json_document(command: str, doc: Mapping[str, object]) -> dict[str, object]:
    """The JSON document of a command: ``{"command": ..., **doc, "versions": versions()}``."""
    return {"command": command, **doc, "versions": versions()}


def _dumps(doc: Mapping[str, object]) -> str:
    """JSON text; NaN and infinities (which JSON lacks) become ``null``."""

    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(doc), indent=2, default=str)


class Command:
    """One sub-command of a program.

    Subclasses set :attr:`name`, :attr:`help` (a lower-case verb phrase) and :attr:`example` (a
    full command line, shown at the end of ``--help``), add their options in
    :meth:`add_arguments` and do their work in :meth:`run`. ``--json`` is added by
    :func:`make_parser`; a command honours it by calling :meth:`print_json` instead of printing
    its text summary. User errors are raised as :class:`CommandError`.
    """

    name: ClassVar[str]
    help: ClassVar[str]
    example: ClassVar[str]
    #: Help of ``--json`` for this command.
    json_help: ClassVar[str] = ("print one JSON document on stdout (command, results, versions) instead of "
                                "the text")

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add the command's options to ``parser``."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work; return the exit status (0 on success)."""
        raise NotImplementedError

    def print_json(self, doc: Mapping[str, object], *, command: str | None = None) -> None:
        """Print the command's one JSON document (:func:`json_document`) on stdout."""
        print(_dumps(json_document(command or self.name, doc)))


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are :class:`UsageError` (one line, exit status 1) instead
    of a usage message and exit status 2."""

    def error(self, message: str):
        message = re.sub(r"^argument ([^:]+): ", r"\1: ", message)
        raise UsageError(self.prog, message)


def make_parser(prog: str, description: str, commands: Sequence[Command]) -> argparse.ArgumentParser:
    """The parser of program ``prog``: ``--version`` and one sub-command per command, each with
    ``--json`` and its example in the epilog."""
    parser = _Parser(prog=prog, description=description)
    parser.add_argument("--version", action="version", version=f"{prog} {ternlut.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in commands:
        examples = command.example.strip().splitlines()
        heading = "example:" if len(examples) == 1 else "examples:"
        epilog = heading + "\n" + "\n".join(f"  {e}" for e in examples)
        p = sub.add_parser(command.name, help=command.help, description=command.help, epilog=epilog,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_arguments(p)
        p.add_argument("--json", action="store_true", help=command.json_help)
        p.set_defaults(handler=command)
    return parser


def _report(where: str, lines: list[str], as_json: bool, command: str | None) -> None:
    for line in lines:
        print(f"{where}: error: {line}", file=sys.stderr)
    if as_json:
        print(_dumps(json_document(command or "", {"errors": lines})))


def make_main(prog: str, description: str,
              commands: Sequence[Command]) -> Callable[[Sequence[str] | None], int]:
    """The ``main(argv=None) -> int`` of program ``prog`` with sub-commands ``commands``.

    ``main`` parses ``argv`` (default: ``sys.argv[1:]``), runs the command and returns its exit
    status; a :class:`CommandError` or a refused option prints one ``<prog> <command>: error:``
    line per problem on stderr and returns 1. Any other exception is reported in one line too
    (set ``TERNLUT_TRACEBACK=1`` to see its traceback).
    """

    def main(argv: Sequence[str] | None = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        try:
            args, extra = make_parser(prog, description, commands).parse_known_args(argv)
            if extra:  # reported by the command they were given to
                raise UsageError(f"{prog} {args.command}", f"unrecognized arguments: {' '.join(extra)}")
        except UsageError as exc:
            command = exc.prog.removeprefix(prog).strip() or None
            _report(exc.prog, exc.lines, "--json" in argv, command)
            return 1
        where = f"{prog} {args.command}"
        try:
            return int(args.handler.run(args) or 0)
        except CommandError as exc:
            _report(where, exc.lines, args.json, args.command)
        except KeyboardInterrupt:
            print(f"{where}: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # the reader of stdout went away (``| head``): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except Exception as exc:  # the last resort: one line, not a traceback
            if os.environ.get(TRACEBACK_ENV):
                raise
            first = (str(exc).splitlines() or [""])[0]
            _report(where, [(f"unexpected {type(exc).__name__}: {first} (set {TRACEBACK_ENV}=1 for the "
                             f"traceback, and please report it)")], args.json, args.command)
        return 1

    main.__doc__ = f"The ``{prog}`` command line: {description}"
    return main


def int_range(low: int | None = None, high: int | None = None, what: str = "") -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``[low, high]`` (``None``: no bound; the config checks
    the range of a design option); ``what`` (e.g. ``"designs"``) follows the range in the message."""
    lo = "(-inf" if low is None else f"[{low}"
    hi = "inf)" if high is None else f"{high}]"
    span = f"{lo}, {hi}" + (f" {what}" if what else "")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            kind = "an integer" if low is None and high is None else f"an integer in {span}"
            raise argparse.ArgumentTypeError(f"must be {kind}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be in {span}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def positive_float(unit: str) -> Callable[[str], float]:
    """An argparse ``type``: a finite number above 0, in ``unit`` (named in the message)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise argparse.ArgumentTypeError(f"must be a positive number of {unit}, got {text!r}")
        return value

    parse.__name__ = "float"
    return parse


def _nearest_existing(path: Path) -> Path:
    folder = path.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_writable(path: Path, option: str, *, make_parents: bool = False) -> None:
    """Refuse (:class:`CommandError` naming ``option``) a file path that cannot be written: a
    folder, a missing folder (unless ``make_parents``), no permission. Call before any work."""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CommandError(f"{option}: {str(path)!r} is a directory, expected a file path")
    if make_parents:
        folder = _nearest_existing(folder)
        if not folder.is_dir():
            raise CommandError(f"{option}: cannot write {str(path)!r}: {str(folder)!r} is not a folder")
    elif not folder.is_dir():
        raise CommandError(f"{option}: cannot write {str(path)!r}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CommandError(f"{option}: cannot write {str(path)!r}: permission denied")


def check_output_dir(path: Path, option: str) -> None:
    """Refuse (:class:`CommandError` naming ``option``) an output folder that cannot be created or
    written: a file, or no permission. Call before any work."""
    if path.exists() and not path.is_dir():
        raise CommandError(f"{option}: {str(path)!r} is a file, expected a folder")
    folder = _nearest_existing(path)
    if not folder.is_dir():
        raise CommandError(f"{option}: cannot create {str(path)!r}: {str(folder)!r} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CommandError(f"{option}: cannot write into {str(path)!r}: permission denied")


def atomic_write(path: Path, text: str, option: str, *, make_parents: bool = False) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, renamed over it:
    never a partial file. The file gets the usual permissions (``0o666`` less the umask, or the
    old file's). Failures are a :class:`CommandError` naming ``option``."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        if make_parents:
            folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise CommandError(f"{option}: cannot write {str(path)!r}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if path.exists():
            mode = path.stat().st_mode & 0o7777
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CommandError(f"{option}: cannot write {str(path)!r}: {exc.strerror or exc}") from None
