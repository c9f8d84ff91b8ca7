"""The layers import one way: description <- gateware, reference, cost model <- dse <- CLIs.

Two checks. One imports the description, the cost model and the search side of ``dse`` in a fresh
interpreter where Amaranth and torch cannot be imported at all. The other reads every module's
imports (module level and inside functions alike) and asserts that no import points to a higher
layer or to a sibling it must not know, and that the module-level imports form no cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hwgen", "sim", "costmodel", "dse", "ternlut")

#: Layer of each part; a module may import its own part, and lower layers only. The reference model
#: (``sim.reference`` and the modules it reads) stands beside the gateware and the cost model; the
#: rest of ``sim`` (the benches, which build cores and compare them with the reference) above them.
REFERENCE = ("sim.reference", "sim.fp_reference", "sim.key_encoding", "sim.stimulus")
LAYERS = {
    "hwgen.description": 0,
    "hwgen.gateware": 1,
    **dict.fromkeys(REFERENCE, 1),
    "costmodel": 1,
    "sim": 2,
    "dse": 3,
    "ternlut": 4,
}
#: Pairs on one floor that must not know each other: the generator, the reference model and the
#: cost model each read only the description.
_FLOOR_ONE = ("hwgen.gateware", "costmodel", *REFERENCE)
FORBIDDEN = {(a, b) for a in _FLOOR_ONE for b in _FLOOR_ONE
             if a != b and not (a in REFERENCE and b in REFERENCE)}


def _part(module: str) -> str | None:
    """The layer key of a project module (``hwgen.description.config`` -> ``hwgen.description``). The
    root ``hwgen`` counts as the description: it imports the gateware only on first use of a name."""
    if module == "hwgen":
        return "hwgen.description"
    for key in sorted(LAYERS, key=len, reverse=True):
        if module == key or module.startswith(key + "."):
            return key
    return None


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """``(imported module, at module level)`` for every import statement of the module."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in top) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, id(node) in top))
            # ``from package import module``: the module itself is imported too
            found += [(f"{target}.{alias.name}", id(node) in top) for alias in node.names]
    return found


MODULES = _modules()


def test_no_import_points_up_or_sideways():
    bad = []
    for name, path in MODULES.items():
        here = _part(name)
        if name == "hwgen":
            continue
        for target, _ in _imports(name, path):
            there = _part(target)
            if there is None or there == here or name.startswith(target + "."):  # its own package
                continue
            if LAYERS[there] > LAYERS[here] or (here, there) in FORBIDDEN:
                bad.append(f"{name} imports {target}")
    assert not bad, "\n".join(bad)


def test_module_level_imports_have_no_cycle():
    # a package's own ancestors are always imported first, so an edge to one is no cycle
    graph = {name: sorted({t for t, top in _imports(name, path)
                           if top and t in MODULES and t != name and not name.startswith(t + ".")})
             for name, path in MODULES.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name)


def test_the_checker_sees_an_upward_import(tmp_path):
    """The layer map is not vacuous: an import of the gateware from the description is flagged."""
    fake = tmp_path / "probe.py"
    fake.write_text("from hwgen.gateware.core import LutCore\nimport costmodel\n")
    found = [t for t, _ in _imports("hwgen.description.probe", fake)]
    assert "hwgen.gateware.core" in found and "costmodel" in found
    assert LAYERS[_part("hwgen.gateware.core")] > LAYERS[_part("hwgen.description.probe")]


#: What must import with neither Amaranth nor torch installed.
PURE = (
    "hwgen", "hwgen.description", "hwgen.description.config", "hwgen.description.schedule",
    "hwgen.description.key_encoding", "hwgen.description.workload", "costmodel", "costmodel.choose",
    "dse", "dse.studies", "dse.studies.best_mu", "dse.studies.tile_shape", "dse.studies.core_size",
    "dse.studies.published",
)


@pytest.mark.parametrize("blocked", [("amaranth", "torch")])
def test_description_cost_model_and_search_import_without_amaranth_and_torch(blocked):
    script = textwrap.dedent(f"""
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {blocked!r}:
                    raise ImportError(f"{{name}} is blocked in this test")
                return None

        sys.meta_path.insert(0, Block())
        import importlib
        for name in {PURE!r}:
            importlib.import_module(name)
        from costmodel import estimate
        from hwgen import core_config
        report = estimate(core_config(core=16, act="fp16", mu=3))
        assert report.area_um2 > 0
        leaked = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
        assert not leaked, leaked
        try:
            import amaranth
        except ImportError:
            print("blocked ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("blocked ok")


def test_reference_model_imports_without_amaranth():
    script = textwrap.dedent("""
        import importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "amaranth":
                    raise ImportError(f"{name} is blocked in this test")
                return None

        sys.meta_path.insert(0, Block())
        import torch
        from hwgen import core_config
        from sim.reference import ReferenceModel
        y = ReferenceModel(core_config(core=4, act="fp16", mu=2)).gemv(torch.tensor([0x3C00] * 3),
                                                                      torch.tensor([[1], [1], [-1]]))
        assert y.tolist() == [0x3C00], y
        assert not [m for m in sys.modules if m.startswith("amaranth")]
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
