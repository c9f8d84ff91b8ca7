"""The ``dse`` command line: ``dse run STUDY.toml``, ``dse worker``, ``dse show`` and ``dse export``
drive the explorer (:mod:`dse.explore`, commands in :mod:`ternlut.cli._dse_explore`);
``dse study NAME [ARGS...]`` runs one of the studies registered in :mod:`dse.studies`;
``dse study --list`` lists them.

Commands are :class:`~ternlut.cli._base.Command` classes registered in :data:`COMMANDS`. The
studies are registered in :data:`dse.studies.STUDIES` (read at run time): the command-line name
(with dashes) maps to the module ``dse.studies.<name with underscores>``, whose
``main(argv) -> int`` gets the remaining arguments. A registered study whose module is not there
(yet) is listed as missing and refused with a clear error, not a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys

import dse.studies as studies

from ._base import Command, CommandError, make_main
from ._dse_explore import EXPLORE_COMMANDS

__all__ = ["main", "COMMANDS", "StudyCommand"]


class StudyCommand(Command):
    """``dse study``: run a model-based study (its own options follow its name)."""

    name = "study"
    help = "run a design-space study and write its table and plot"
    example = "dse study best-mu --quick --out build/studies/best_mu\ndse study --list"
    json_help = ("print one JSON document on stdout: the study list with --list, else the study run (its "
                 "text output then goes to stderr); give it before NAME")

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("study", nargs="?", metavar="NAME",
                       help=f"the study to run, one of: {', '.join(studies.STUDIES)}")
        p.add_argument("study_args", nargs=argparse.REMAINDER, metavar="ARGS",
                       help="options of the study (see `dse study NAME --help`)")
        p.add_argument("--list", action="store_true", help="list the studies and whether each is available")

    def run(self, args: argparse.Namespace) -> int:
        if args.list:
            return self.list(args)
        if args.study is None:
            raise CommandError("give a study NAME or --list")
        registered = studies.STUDIES
        if args.study not in registered:
            raise CommandError(f"unknown study {args.study!r} (try one of: {', '.join(registered)}; "
                               f"`dse study --list` shows them)")
        module_name = studies.study_module(args.study)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                raise CommandError(f"study {args.study!r} is registered but not available: module "
                                   f"{module_name} is missing from this installation") from None
            raise CommandError(f"study {args.study!r} needs the package {exc.name!r}, which is not "
                               f"installed") from None
        study_args = list(args.study_args)
        if not args.json:
            return _run_study(module, study_args)
        with contextlib.redirect_stdout(sys.stderr):
            status = _run_study(module, study_args)
        self.print_json({"study": args.study, "module": module_name, "argv": study_args,
                         "exit_status": status})
        return status

    def list(self, args: argparse.Namespace) -> int:
        rows = [{"name": name, "module": studies.study_module(name),
                 "available": (s := studies.study_summary(name)) is not None, "summary": s or ""}
                for name in studies.STUDIES]
        if args.json:
            self.print_json({"studies": rows}, command="study --list")
            return 0
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            text = r["summary"] if r["available"] else f"(missing: {r['module']} is not installed)"
            print(f"{r['name']:<{width}}  {text}")
        return 0


#: The registered commands, in help order.
COMMANDS = (*EXPLORE_COMMANDS, StudyCommand())

main = make_main("dse", "Explore the design space of ternary LUT cores.", COMMANDS)


def _run_study(module, argv: list[str]) -> int:
    """Exit status of a study's ``main(argv)``; its parser's refusal (``SystemExit``, one line already
    printed) becomes that status instead of leaving the program."""
    try:
        return int(module.main(argv) or 0)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


if __name__ == "__main__":
    sys.exit(main())

