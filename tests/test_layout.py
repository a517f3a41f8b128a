"""The package layout's one rule: imports go one way.

Notebook helpers (the modules at the top of ``dlcourse``) are what a student's kernel imports,
on Colab too, where the grading stack is not installed. ``dlcourse.grader`` and
``dlcourse.tools`` may import the helpers; the helpers never import them.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "dlcourse"
HELPERS = sorted(PACKAGE.glob("*.py"))
FORBIDDEN = ("dlcourse.grader", "dlcourse.tools")
GRADING_STACK = ("nbgrader", "nbformat", "nbclient", "psycopg2")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in a top-level module of ``dlcourse``,
    wherever it stands (top, function body, ``if TYPE_CHECKING``, ``try``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
            else:
                # A module directly in src/dlcourse is in package "dlcourse": level 1 is
                # dlcourse itself, and a level above it leaves the package.
                if node.level > 1:
                    found.append((node.lineno, "." * node.level + (node.module or "")))
                    continue
                base = "dlcourse" + (f".{node.module}" if node.module else "")
            found.append((node.lineno, base))
            # `from dlcourse import grader` / `from . import tools` name a subpackage.
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def forbidden(name: str) -> bool:
    """An import of the grading system or the tools, or one that climbs out of the package."""
    return name.startswith("..") or any(name == f or name.startswith(f + ".") for f in FORBIDDEN)


def test_helpers_exist():
    names = {p.stem for p in HELPERS}
    assert {"__init__", "checks", "data", "download", "modes", "text"} <= names


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: p.name)
def test_helpers_never_import_grader_or_tools(path):
    bad = [
        f"{path.name}:{line} imports {name}"
        for line, name in imported_modules(path)
        if forbidden(name)
    ]
    assert not bad, "notebook helpers must not import the grading system or maintenance tools:\n" + "\n".join(bad)


def test_the_rule_catches_every_import_form(tmp_path):
    """The parser above sees absolute, relative, `from package import subpackage` and nested
    imports (a check that sees nothing would pass every module)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import dlcourse.grader.sandbox\n"
        "from dlcourse.tools import nbtools\n"
        "from dlcourse import grader\n"
        "from . import tools\n"
        "from .grader.cli import main\n"
        "def f():\n    from .tools.runner import run\n"
        "from ..elsewhere import x\n"
        "from . import modes\n"
        "import numpy\n"
    )
    flagged_lines = {line for line, name in imported_modules(sample) if forbidden(name)}
    assert flagged_lines == {1, 2, 3, 4, 5, 7, 8}


def test_student_imports_leave_the_grading_stack_unloaded():
    """What a student's notebook imports loads none of the grading stack (it is not even
    installed on Colab): every helper module, in a fresh interpreter."""
    modules = ["dlcourse"] + [f"dlcourse.{p.stem}" for p in HELPERS if p.stem != "__init__"]
    code = (
        "import sys, json\n"
        f"import {', '.join(modules)}\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {GRADING_STACK!r} "
        f"or m.startswith({FORBIDDEN!r}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    loaded = result.stdout.strip().splitlines()[-1]
    assert loaded == "[]", f"importing the notebook helpers loaded {loaded}"
