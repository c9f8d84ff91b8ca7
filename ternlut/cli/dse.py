"""The ``dse`` command line: ``dse study NAME [ARGS...]`` runs one of the studies in
:mod:`dse.studies`; ``dse study --list`` lists them.

Commands are classes with ``add_arguments(parser)`` and ``run(args) -> int``, registered in
:data:`COMMANDS` (the one place to add a command), as in :mod:`ternlut.cli.hwgen`. Studies are
registered in :data:`STUDIES`: the command-line name (with dashes) maps to the module
``dse.studies.<name with underscores>``, whose ``main(argv) -> int`` gets the remaining
arguments. A registered study whose module is not there (yet) is listed as missing and
refused with a clear error, not a traceback.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import json
import platform
import sys

__all__ = ["main", "COMMANDS", "STUDIES", "study_module"]

VERSION = "0.1.0"

#: Registered studies, by command-line name, in listing order.
STUDIES = ("lut-vs-baselines", "best-mu", "tile-shape", "core-size", "published", "fp-accuracy")


class CommandError(Exception):
    """A user error: printed as ``dse <command>: error: <line>`` per line, exit status 1."""


def study_module(name: str) -> str:
    """The module of study ``name``: ``best-mu`` -> ``dse.studies.best_mu``."""
    return f"dse.studies.{name.replace('-', '_')}"


def _summary(name: str) -> str | None:
    """The first line of the study's module docstring, read without importing it; ``None`` when the
    module is missing."""
    try:
        spec = importlib.util.find_spec(study_module(name))
    except ModuleNotFoundError:
        return None
    if spec is None or not spec.origin:
        return None
    try:
        with open(spec.origin, encoding="utf-8") as f:
            doc = ast.get_docstring(ast.parse(f.read())) or ""
    except (OSError, SyntaxError):
        return ""
    return doc.strip().split("\n")[0]


class StudyCommand:
    """``dse study``: run a model-based study (its own options follow its name)."""

    name = "study"
    help = "run a design-space study and write its table and plot"

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("study", nargs="?", metavar="NAME",
                       help=f"the study to run, one of: {', '.join(STUDIES)}")
        p.add_argument("study_args", nargs=argparse.REMAINDER, metavar="ARGS",
                       help="options of the study (see `dse study NAME --help`)")
        p.add_argument("--list", action="store_true", help="list the studies and whether each is available")

    def run(self, args: argparse.Namespace) -> int:
        if args.list:
            return self.list(args)
        if args.study is None:
            raise CommandError("give a study NAME or --list")
        if args.study not in STUDIES:
            raise CommandError(f"unknown study {args.study!r} (try one of: {', '.join(STUDIES)}; "
                               f"`dse study --list` shows them)")
        module_name = study_module(args.study)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                raise CommandError(f"study {args.study!r} is registered but not available: module "
                                   f"{module_name} is missing from this installation") from None
            raise CommandError(f"study {args.study!r} needs the package {exc.name!r}, which is not "
                               f"installed") from None
        return int(module.main(list(args.study_args)) or 0)

    def list(self, args: argparse.Namespace) -> int:
        rows = [{"name": name, "module": study_module(name), "available": (s := _summary(name)) is not None,
                 "summary": s or ""} for name in STUDIES]
        if args.json:
            versions = {"ternlut": VERSION, "python": platform.python_version()}
            print(json.dumps({"command": "study --list", "versions": versions, "studies": rows}, indent=2))
            return 0
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            text = r["summary"] if r["available"] else f"(missing: {r['module']} is not installed)"
            print(f"{r['name']:<{width}}  {text}")
        return 0


#: The registered commands, in help order.
COMMANDS = (StudyCommand(),)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dse", description="Explore the design space of ternary LUT cores.")
    parser.add_argument("--version", action="version", version=f"dse {VERSION}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(p)
        p.add_argument("--json", action="store_true",
                       help="print one JSON document on stdout (study --list only; studies write CSV files)")
        p.set_defaults(handler=command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler.run(args)
    except CommandError as exc:
        for line in str(exc).splitlines():
            print(f"dse {args.command}: error: {line}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
