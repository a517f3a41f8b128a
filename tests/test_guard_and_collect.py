"""The static guard refuses attacks and nothing a real answer does; the collector reads LMS layouts."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path, PurePath

import nbformat
import pytest

from dlcourse.grader import collect, guard
from dlcourse.grader import nbgrading as g

ROOT = g.course_root()
SOURCES = {p.parent.name: nbformat.read(p, as_version=4) for p in sorted(ROOT.glob("solutions/*/*.ipynb"))}
sys.path.insert(0, str(ROOT / "grader_tests"))
from attacks import IN_ANSWER  # noqa: E402


def _context(nb):
    code = [c for c in nb.cells if c.cell_type == "code"]
    return (guard.imported_names([c.source for c in code]),
            guard.protected_names([c.source for c in code if not guard.is_student_editable(c)]))


@pytest.mark.parametrize("aid", sorted(SOURCES))
def test_reference_answers_are_not_refused(aid):
    imported, protected = _context(SOURCES[aid])
    for cell in SOURCES[aid].cells:
        if g.is_solution(cell):
            assert guard.inspect_source(g.answer_of(cell.source), imported, protected) == [], g.grade_id(cell)


STATIC = [n for n in IN_ANSWER if n not in ("infinite_loop", "huge_output", "read_solutions")]


@pytest.mark.parametrize("attack", STATIC)
def test_attack_templates_are_refused(attack):
    imported, protected = _context(SOURCES["a05"])
    source = IN_ANSWER[attack][1].format(fn="idf", aid="a05", gid="idf")
    assert guard.inspect_source(source, imported, protected), attack


@pytest.mark.parametrize("source,refused", [
    ("plt.rcParams['figure.figsize'] = (4, 3)", False),  # style, not tampering
    ("model = keras.Sequential()\nmodel.trainable = False", False),  # the student's own object
    ("import numpy as np\nx = np.zeros(3)\nx[0] = 1", False),
    ("import numpy as np", False),  # the same binding as the setup cell
    ("import math as np", True),  # rebinds a name the tests use
    ("def check_close(*a, **k):\n    pass", True),
    ("CNN_MIN_ACCURACY = 0.0", True),
    ("os.environ['DLCOURSE_MODE'] = 'full'", True),
    ("setattr(np, 'allclose', lambda *a: True)", True),
    ("f = eval('1 + 1')", True),
    ("(lambda: 0).__code__", True),
    ("from os import _exit", True),
    ("def f():\n    global check_equal\n    check_equal = print", True),
    ("this is not python", False),  # left to fail with its own SyntaxError
])
def test_guard_rules(source, refused):
    imported = {"np": "numpy", "plt": "matplotlib.pyplot", "keras": "keras", "os": "os"}
    protected = {"np": "numpy", "check_close": "", "check_equal": "", "CNN_MIN_ACCURACY": ""}
    assert bool(guard.inspect_source(source, imported, protected)) == refused


def test_neutralized_cell_raises_and_keeps_the_code_as_comments():
    findings = guard.inspect_source("import builtins\nbuiltins.print = None", {}, {})
    text = guard.neutralized("import builtins\nbuiltins.print = None", findings)
    assert text.startswith(guard.MARK) and "# builtins.print = None" in text
    with pytest.raises(RuntimeError, match="line 1"):
        exec(text, {})


@pytest.mark.parametrize("rel,student,original", [
    ("Ann Lee_123456_assignsubmission_file_/Copy of a01.ipynb", "ann_lee", "Copy of a01.ipynb"),
    ("leeann_123456_7890123_Copy of a01.ipynb", "leeann", "Copy of a01.ipynb"),
    ("leeann_LATE_123456_7890123_a01.ipynb", "leeann", "a01.ipynb"),
    ("Ann.Lee/homework.ipynb", "ann.lee", "homework.ipynb"),
    ("ann.lee.ipynb", "ann.lee", "ann.lee.ipynb"),
])
def test_collector_reads_lms_layouts(rel, student, original):
    entry = collect.parse(PurePath(rel))
    assert (entry.student, entry.original) == (student, original)


@pytest.mark.parametrize("rel", ["__MACOSX/Ann/._a01.ipynb", "Ann/.ipynb_checkpoints/a01-checkpoint.ipynb", "Ann/notes.txt"])
def test_collector_skips_junk(rel):
    assert collect.parse(PurePath(rel)) is None


def test_plan_prefers_the_notebook_named_after_the_assignment_then_the_newest(tmp_path):
    folder = tmp_path / "Ann Lee_1_assignsubmission_file_"
    folder.mkdir()
    for name in ("scratch.ipynb", "Copy of a01.ipynb", "Copy of a01 (1).ipynb"):
        (folder / name).write_text("{}")
    old = time.time() - 3600
    os.utime(folder / "Copy of a01.ipynb", (old, old))
    chosen = collect.plan(tmp_path, "a01")["ann_lee"]
    assert [e.original for e in chosen] == ["Copy of a01 (1).ipynb", "Copy of a01.ipynb", "scratch.ipynb"]
    assert collect.mentions("Copy of a01 (1).ipynb", "a01") and not collect.mentions("a012.ipynb", "a01")
