"""The layout the docs describe is the layout there is: every `cotmix.x.y` that a docstring, comment
or doc page names exists, and each pipeline stage imports only the stages above it."""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "cotmix"
STAGES = ("tasks", "model", "eval", "train", "rl", "loops", "experiments", "cli")  # cotmix/__init__.py's order


def named_modules() -> set[str]:
    """Every dotted cotmix name in the sources and the docs, less the entry-point groups (names a
    plugin's package declares, not modules here)."""
    from cotmix import registry

    groups = {r.group for r in vars(registry).values() if isinstance(r, registry.Registry) and r.group}
    files = [*SRC.rglob("*.py"), *ROOT.glob("*.md"), *(ROOT / "docs").glob("*.md")]
    names = {m for f in files for m in re.findall(r"\bcotmix(?:\.[a-z_]+)+", f.read_text())}
    return {n for n in names if n not in groups}


def resolves(name: str) -> bool:
    """`name` is a module, or an attribute path inside one."""
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attribute in parts[cut:]:
            if not hasattr(obj, attribute):
                return False
            obj = getattr(obj, attribute)
        return True
    return False


def test_every_module_a_docstring_names_exists():
    names = named_modules()
    assert len(names) > 40  # the scan found the references
    assert [n for n in sorted(names) if not resolves(n)] == []


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_imports_only_the_stages_above_it(stage):
    below = set(STAGES[STAGES.index(stage) + 1:])
    found = set()
    for path in (SRC / stage).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cotmix."):
                found.add((path.name, node.module.split(".")[1]))
            elif isinstance(node, ast.Import):
                found |= {(path.name, a.name.split(".")[1]) for a in node.names if a.name.startswith("cotmix.")}
    assert [(f, m) for f, m in sorted(found) if m in below] == []
