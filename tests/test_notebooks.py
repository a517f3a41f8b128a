"""Run every lecture and solution notebook top to bottom (quick mode, offline) within its budget."""

from pathlib import Path

import pytest

from dlcourse.tools import reports
from dlcourse.grader.nbgrading import course_root
from dlcourse.tools.runner import run_notebook

ROOT = course_root()
NOTEBOOKS = sorted(
    p.relative_to(ROOT).as_posix()
    for folder in ("lectures", "solutions")
    for p in (ROOT / folder).glob("**/*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_within_budget(name):
    seconds, budget = run_notebook(ROOT / name)
    reports.record("notebooks", name, {"seconds": round(seconds, 1), "budget_s": budget, "passed": seconds <= budget})
    assert seconds <= budget, f"{name} took {seconds:.1f} s, over its quick-mode budget of {budget} s"


def test_there_are_notebooks_to_run():
    assert NOTEBOOKS, "no notebooks found in lectures/ or solutions/"
