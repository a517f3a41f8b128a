"""Cheats against the grading pipeline score exactly what a blank answer scores.

Run on the representative assignments of batches.ATTACKED, in the same pool as the known cases
(so the solution and the other students of those batches are graded next to the attacks and
keep their scores: test_assignments asserts them).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from attacks import expected_when_dying
from batches import ASSIGNMENTS, plan, points
from batches import ATTACKED as _ATTACKED

ATTACKED = [aid for aid in _ATTACKED if aid in ASSIGNMENTS]
ATTACKS = [(aid, name) for aid in ATTACKED for name in plan(aid).attacks]



def _autograded(result, student, aid) -> Path:
    return Path(result["courses"][student]) / "autograded" / student / aid


@pytest.mark.slow
@pytest.mark.parametrize("aid,attack", ATTACKS)
def test_attack_gets_nothing_for_the_cells_it_attacks(aid, attack, pool):
    """An attack scores exactly what leaving the attacked answer blank scores; a kernel killer
    keeps the cells before it."""
    spec = pool.plans[aid].attacks[attack]
    result = pool.result(aid)
    got = result["scores"][f"attack-{attack}"]
    top = points(aid)
    if spec.kind == "dies-at":
        expected = expected_when_dying(pool.plans[aid].source[f"{aid}.ipynb"], spec.target, top)
    else:
        expected = result["scores"]["control"]
    assert sum(expected.values()) < sum(top.values()), "the attacked answer must be worth points"
    assert got == expected, f"{attack} ({spec.case.why}): expected {expected}, got {got}"


@pytest.mark.slow
@pytest.mark.parametrize("aid", ATTACKED)
def test_the_kernel_saw_nothing_outside_its_sandbox(aid, pool):
    """The disk search found no solution or judge, and no gradebook: the kernel ran in the sandbox."""
    result = pool.result(aid)
    thief = nbformat.read(_autograded(result, "attack-search_disk_for_solutions", aid) / f"{aid}.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in thief.cells for o in c.get("outputs", []))
    assert "sandboxed: bwrap" in text, text[:2000]
    assert "found: none" in text, f"the kernel found instructor files:\n{text[:2000]}"
    assert "gradebook visible: False" in text, text[:2000]


@pytest.mark.slow
@pytest.mark.parametrize("aid", ATTACKED)
def test_nothing_a_kernel_writes_survives_and_output_bombs_are_cut(aid, pool):
    result = pool.result(aid)
    junk = _autograded(result, "attack-junk_in_submission_folder", aid)
    assert sorted(p.name for p in junk.iterdir()) == [f"{aid}.ipynb"], sorted(p.name for p in junk.iterdir())
    bomb = _autograded(result, "attack-huge_output", aid) / f"{aid}.ipynb"
    assert bomb.stat().st_size < 1_000_000, f"print bomb kept {bomb.stat().st_size:,} bytes in the autograded notebook"
    for student in result["courses"]:
        leftovers = list(_autograded(result, student, aid).glob(".grader*"))
        assert not leftovers, f"{student}: the grader's inputs stayed behind: {leftovers}"
