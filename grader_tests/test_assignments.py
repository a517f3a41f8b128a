"""Prove the grader of every assignment in solutions/.

Per assignment (graded by the pool of batches.py, shared by all tests): the reference solution
gets full marks, the blank release 0, every known-wrong case loses exactly its cells, every
must-keep-full-marks case keeps them, grading twice gives the same scores, every submission fits
the time budget, and failing cells say what was expected and what was produced. Statically: the
committed release is what nbgrader generates, leaks no answer, hidden test or judge, and every
test cell is judged by the grader's process (a judge function per test cell, the answers line
first in the cell).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import nbformat
import pytest

import batches
from batches import ASSIGNMENTS, CASES_DIR, GRADE_BUDGET_S, ROOT, notebooks, points
from dlcourse.grader import judge as J
from dlcourse.grader import nbgrading as g
from dlcourse.tools import reports

CASES = [(a, c.name) for a in ASSIGNMENTS for c in g.load_cases(CASES_DIR / f"{a}.toml")]


def _dump(nb) -> str:
    return json.dumps(nbformat.from_dict(nb), sort_keys=True, indent=1)



@pytest.fixture(scope="module")
def merged(pool):
    cache: dict[str, dict] = {}

    def get(aid: str) -> dict:
        if aid not in cache:
            cache[aid] = pool.result(aid)
            reports.record("grading", aid, batches.timing_entry(aid, cache[aid]))
            for where, log in cache[aid]["retried"].items():  # graded again on its own (nbgrading.autograde)
                warnings.warn(f"{where}: nbgrader failed on the first try and the submission was graded again; "
                              f"the failed run's log ends:\n{log[-2500:]}", stacklevel=2)
        return cache[aid]

    return get


# ------------------------------------------------------------------ static: release and judges
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_committed_release_is_what_nbgrader_generates(aid, tmp_path):
    course = g.new_course(tmp_path / "course", [aid])
    generated = notebooks(g.generate(course, aid))
    committed = notebooks(ROOT / "assignments" / aid)
    assert sorted(committed) == sorted(generated), f"assignments/{aid} holds other notebooks than nbgrader makes: run `make release`"
    for name, nb in generated.items():
        assert _dump(committed[name]) == _dump(nb), f"assignments/{aid}/{name} is stale: run `make release` and commit it"
    released = {p.name for p in (course / "assignments" / aid).iterdir()} | {p.name for p in (ROOT / "assignments" / aid).iterdir()}
    assert "judge.py" not in released, f"the judge of {aid} must never be released"


def _secret_lines(nb) -> set[str]:
    """Lines that appear only inside solution or hidden-test regions of the source."""
    inside, outside = set(), set()
    for cell in nb.cells:
        region = None
        for line in cell.source.splitlines():
            text = line.strip()
            if text in (g.BEGIN_SOLUTION, g.HIDDEN_BEGIN):
                region = text
                continue
            if text in (g.END_SOLUTION, g.HIDDEN_END):
                region = None
                continue
            (inside if region else outside).add(text)
    return {t for t in inside - outside if len(t) >= 12 and not t.startswith("#")}


INSTRUCTOR_ONLY = ("for instructors", "calibration", "instructor")


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_contains_no_answer_hidden_test_or_instructor_note(aid):
    source = notebooks(ROOT / "solutions" / aid)
    for name, nb in notebooks(ROOT / "assignments" / aid).items():
        text = "\n".join(c.source for c in nb.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "submit_answers"):
            assert marker not in text, f"assignments/{aid}/{name} contains '{marker}'"
        released = {line.strip() for line in text.splitlines()}
        leaked = _secret_lines(source[name]) & released
        assert not leaked, f"assignments/{aid}/{name} leaks lines of the answer or hidden tests: {sorted(leaked)[:5]}"
        headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("#")]
        notes = [h for h in headings if any(word in h.lower() for word in INSTRUCTOR_ONLY)]
        assert not notes, f"assignments/{aid}/{name} has instructor-only sections: {notes}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_every_test_cell_is_judged_outside_the_kernel(aid):
    """Each test cell begins with the hidden answers line for its own grade_id, and the judge
    module has a function for it whose calls are plain data the kernel can read."""
    judge = J.load_judge(ROOT, aid)
    ctx = J.Context(ROOT, aid)
    for name, nb in notebooks(ROOT / "solutions" / aid).items():
        for cell in nb.cells:
            if not g.is_test(cell):
                continue
            gid = g.grade_id(cell)
            lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
            assert lines[0] == g.HIDDEN_BEGIN, f"{aid}/{name}: test cell {gid} must start with the hidden answers region"
            region = lines[1:lines.index(g.HIDDEN_END)]
            assert any(line.startswith(f'submit_answers("{gid}"') for line in region), (
                f"{aid}/{name}: test cell {gid} must record its answers with submit_answers(\"{gid}\", ...)")
            cases = J.cases_for(judge, gid, ctx)
            assert cases, f"judge {gid}(ctx) returns no cases"
            json.dumps([c.call for c in cases])  # plain data only
            assert len({c.name for c in cases}) == len(cases), f"{gid}: case names must be unique (they are the messages)"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_each_assignment_has_enough_known_wrong_and_alternative_cases(aid):
    cases = g.load_cases(CASES_DIR / f"{aid}.toml")
    assert len([c for c in cases if c.expected]) >= 3, f"grader_tests/cases/{aid}.toml needs at least 3 known-wrong submissions"
    assert len([c for c in cases if not c.expected]) >= 1, f"grader_tests/cases/{aid}.toml needs a correct variant that keeps full marks"


# ------------------------------------------------------------------ graded
@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(aid, merged):
    assert merged(aid)["scores"]["solution"] == points(aid)


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_blank_release_scores_zero(aid, merged):
    blank = merged(aid)["scores"]["blank"]
    assert set(blank) == set(points(aid)), "every graded cell must be graded, even for a blank notebook"
    assert sum(blank.values()) == 0, blank


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_grading_twice_gives_the_same_scores(aid, merged):
    runs = merged(aid)["solution_runs"]
    assert len(runs) >= 2 and all(run == runs[0] for run in runs), runs


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_grading_fits_the_time_budget(aid, merged):
    """Every submission within budget; the endless loop within the cell timeout plus the rest."""
    seconds = merged(aid)["seconds"]
    limit = {s: GRADE_BUDGET_S + (int(batches.CELL_TIMEOUT_S) if s == "attack-infinite_loop" else 0) for s in seconds}
    slow = {s: t for s, t in seconds.items() if t > limit[s]}
    assert not slow, f"{aid}: submissions over {GRADE_BUDGET_S} s: {slow}"


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_feedback_is_generated_and_hides_the_hidden_region(aid, merged):
    result = merged(aid)
    assert not result["feedback_errors"], result["feedback_errors"]
    course = Path(result["courses"]["solution"])
    pages = list((course / "feedback").glob(f"*/{aid}/*.html"))
    assert pages, "no feedback was generated"
    for page in pages:
        text = page.read_text()
        assert "submit_answers" not in text and "BEGIN HIDDEN" not in text, f"{page} shows the hidden region"
        assert "checks passed" in text, f"{page} does not show the grader's verdicts"


def _spec(aid: str, case: str) -> g.Case:
    return next(c for c in g.load_cases(CASES_DIR / f"{aid}.toml") if c.name == case)


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_cases_are_packed_only_with_cases_they_cannot_affect(aid):
    """Each case is graded exactly once, and cases sharing a submission replace different answer
    cells and state scores for different test cells (batches.bundle)."""
    grading = batches.plan(aid)
    assert sorted(grading.student_of) == sorted(c.name for c in grading.cases)
    for student, members in grading.bundles.items():
        replaced = [gid for c in members for gid in c.replace]
        stated = [gid for c in members for gid in c.expected]
        assert len(replaced) == len(set(replaced)), f"{student} replaces a cell twice: {[c.name for c in members]}"
        assert len(stated) == len(set(stated)), f"{student} states a cell's score twice: {[c.name for c in members]}"


@pytest.mark.slow
@pytest.mark.parametrize("aid,case", CASES)
def test_known_submission_gets_exactly_its_expected_points(aid, case, merged, pool):
    spec = _spec(aid, case)
    top = points(aid)
    unknown = set(spec.expected) - set(top)
    assert not unknown, f"{case}: expected scores name cells that are not test cells: {unknown}"
    student = pool.plans[aid].student_of[case]
    bundle = pool.plans[aid].bundles[student]
    expected = {**top, **{k: v for c in bundle for k, v in c.expected.items()}}
    got = merged(aid)["scores"][student]
    mine = {k: got.get(k) for k in spec.expected}
    assert mine == spec.expected, f"{case} ({spec.why}): expected {spec.expected}, got {mine}"
    assert got == expected, (f"{case} shares submission {student} with {[c.name for c in bundle]}; "
                             f"expected {expected}, got {got}")
    if spec.expected:  # a case without expected scores is a correct variant: full marks
        assert sum({**top, **spec.expected}.values()) < sum(top.values()), f"{case} must lose points"


@pytest.mark.slow
@pytest.mark.parametrize("aid,case", CASES)
def test_failed_cells_tell_the_student_what_was_expected(aid, case, merged, pool):
    """A check that fails says what it expected and what the submission produced."""
    spec = _spec(aid, case)
    top = points(aid)
    failed = {cell for cell, p in spec.expected.items() if p < top[cell]}
    student = pool.plans[aid].student_of[case]
    course = Path(merged(aid)["courses"][student])
    for path in (course / "autograded" / student / aid).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if g.grade_id(cell) in failed:
                errors = [o for o in cell.outputs if o.output_type == "error"]
                assert errors, f"{case}: cell {g.grade_id(cell)} lost points without an error"
                message = errors[0].get("evalue", "")
                if "your code raised" in message:
                    continue  # the student's own error, named with its type and message
                assert "expected" in message and ("got" in message or "produced" in message), (
                    f"{case}: the message of cell {g.grade_id(cell)} does not say what was expected and what "
                    f"was produced: {message[:300]}")
