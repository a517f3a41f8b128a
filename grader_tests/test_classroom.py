"""The instructor's grading run end to end, on a made-up class of 24 (dlcourse.grader.democlass):
an LMS zip in Moodle's layout with Colab's file names, correct, partial, broken and
adversarial submissions, graded by ``dlcourse grade`` in a scratch course."""

from __future__ import annotations

import csv
import json
import shutil

import nbformat
import pytest

from dlcourse.grader import classroom
from dlcourse.grader import nbgrading as g
from attacks import first_attacked_test
from dlcourse.grader.democlass import write_class

AID = "a05"  # the quickest assignment to grade (about 4 s per submission)
CORRECT = ["ada_byron", "alan_turing", "grace_hopper", "claude_shannon"]
REPAIRED = ["colab_stripped", "deleted_test", "renamed_id"]  # full marks only because intake repaired them
MISNAMED = ["wrong_name", "two_notebooks"]
UNREADABLE = ["broken_json", "empty_file"]
ATTACKS = ["mallory_rebind_checks", "mallory_patch_numpy_through_alias", "mallory_forged_answers",
           "mallory_search_disk_for_solutions", "mallory_skip_execution_tag"]


def demo_class_job(base):
    """The heavy part, run by the grading pool of conftest.py next to the assignment batches."""
    course = g.new_course(base / "classroom" / "course", [AID])
    shutil.copytree(g.course_root() / "grader_tests" / "cases", course / "grader_tests" / "cases")
    shutil.copy(g.course_root() / "grader_tests" / "attacks.py", course / "grader_tests" / "attacks.py")
    # as on a fresh clone: the committed release, no gradebook (dlcourse grade must register it)
    shutil.copytree(g.course_root() / "assignments" / AID, course / "assignments" / AID)
    zip_path = course.parent / "class.zip"
    names = write_class(AID, zip_path, root=course)
    summary = classroom.grade(AID, zip_path, root=course)
    return course, names, summary


@pytest.fixture(scope="module")
def graded_class(pool):
    return pool.job("demo-class")


def _first_test(course):
    return first_attacked_test(nbformat.read(course / "solutions" / AID / f"{AID}.ipynb", as_version=4))


@pytest.mark.slow
def test_demo_class_is_big_and_mixed(graded_class):
    _, names, summary = graded_class
    assert len(names) >= 20 and len(summary["students"]) == len(names)


@pytest.mark.slow
def test_correct_and_repaired_submissions_get_full_marks(graded_class):
    _, _, summary = graded_class
    top = summary["max_points"]
    for student in CORRECT + REPAIRED + MISNAMED:
        assert summary["students"][student]["total"] == top, (student, summary["students"][student])
    for student in REPAIRED:
        intake = summary["students"][student]["intake"]
        assert intake["problems"] and intake["repairs"], (student, intake)
    for student in MISNAMED:
        assert summary["students"][student]["intake"]["problems"], student


@pytest.mark.slow
def test_unreadable_submissions_get_zero_and_say_why(graded_class):
    course, _, summary = graded_class
    for student in UNREADABLE:
        info = summary["students"][student]
        assert info["total"] == 0 and info["intake"]["fatal"], info
        assert any("unreadable" in n for n in info["notes"]), info["notes"]
        feedback = (course / "feedback" / student / AID / f"{AID}.html").read_text()
        assert "could not be read" in feedback


@pytest.mark.slow
def test_attacks_lose_the_attacked_cells_and_are_reported(graded_class):
    course, _, summary = graded_class
    students = summary["students"]
    first = _first_test(course)
    for student in ATTACKS:
        assert students[student]["scores"][first] == 0, (student, students[student])
        assert students[student]["total"] == students["mallory_rebind_checks"]["total"] < summary["max_points"]
    killed = students["mallory_kernel_killed"]
    assert any(n.startswith("kernel died") for n in killed["notes"]) and 0 < killed["total"] < summary["max_points"]


@pytest.mark.slow
def test_outputs_csv_feedback_and_figure(graded_class):
    course, names, summary = graded_class
    with open(course / "reports" / f"grades-{AID}.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["assignment"] == AID]
    assert len(rows) == len(summary["students"])
    by_student = {r["student_id"]: float(r["score"]) for r in rows}
    assert by_student == {s: v["total"] for s, v in summary["students"].items()}
    for student in summary["students"]:
        assert (course / "feedback" / student / AID / f"{AID}.html").exists(), student
    assert (course / "reports" / f"grades-{AID}.png").stat().st_size > 10_000
    saved = json.loads((course / "reports" / f"grades-{AID}.json").read_text())
    assert saved["pass_rate"][_first_test(course)] < 1
