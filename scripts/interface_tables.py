"""Print, write or check the generated blocks of ``docs/interface.md`` (port and payload tables of the
example cores, the worked key-order example), made by :mod:`hwgen.gateware.interface_doc`.

Usage::

    python scripts/interface_tables.py           # print the blocks
    python scripts/interface_tables.py --write   # rewrite them in docs/interface.md
    python scripts/interface_tables.py --check   # exit 1 if docs/interface.md differs
"""

import argparse
import sys
from pathlib import Path

from hwgen.gateware.interface_doc import read_blocks, render_blocks, replace_blocks

DOC = Path(__file__).resolve().parent.parent / "docs" / "interface.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true",
                      help="rewrite the generated blocks of docs/interface.md")
    mode.add_argument("--check", action="store_true", help="exit 1 if docs/interface.md is out of date")
    args = parser.parse_args(argv)
    blocks = render_blocks()
    if args.write:
        DOC.write_text(replace_blocks(DOC.read_text(), blocks))
        return 0
    if args.check:
        found = read_blocks(DOC.read_text())
        stale = sorted(name for name, body in blocks.items() if found.get(name) != body)
        for name in stale:
            print(f"{DOC}: generated block {name!r} is out of date (run scripts/interface_tables.py --write)",
                  file=sys.stderr)
        return 1 if stale else 0
    for name, body in blocks.items():
        print(f"<!-- {name} -->\n{body}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
