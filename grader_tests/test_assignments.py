"""Prove the grader for every assignment in solutions/.

For each assignment one scratch course is graded in a single nbgrader batch: the reference
solution, the blank release, every known-wrong case of grader_tests/cases/<id>.toml and the
adversarial submissions of grader_tests/attacks.py. Then the solution is graded once more,
alone, to prove the scores repeat.
"""

from __future__ import annotations

import fcntl
import json
import os
import statistics
from pathlib import Path

import nbformat
import pytest

from dlcourse.grader import nbgrading as g
from dlcourse.tools import reports

from attacks import Attack, attacks, control, expected_when_dying

ROOT = g.course_root()
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
CASES_DIR = Path(__file__).parent / "cases"
GRADE_BUDGET_S = 45  # per submission, quick grading budget (see README, "Grading")
# The infinite-loop attack waits for the per-cell timeout; 60 s instead of the course's 120 s
# keeps the suite short and still leaves a01's training cell (about 15 s) a wide margin.
CELL_TIMEOUT_S = "60"


def notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


class Graded:
    """The graded batch of one assignment: computed once per test session, shared by workers.

    pytest-xdist may send tests of one assignment to both workers; the first one to need the
    batch grades it under a file lock and saves the scores, the other one reads them.
    """

    def __init__(self, aid: str, shared: Path):
        self.aid = aid
        self.course = shared / f"course-{aid}"
        self.source = notebooks(ROOT / "solutions" / aid)
        self.cases = g.load_cases(CASES_DIR / f"{aid}.toml")
        self.attacks = {a.case.name: a for a in attacks(self.source[f"{aid}.ipynb"], aid)}
        self.points = {k: v for nb in self.source.values() for k, v in g.points_by_test(nb).items()}
        with open(shared / f"{aid}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            result = self.course / "result.json"
            if not result.exists():
                result.write_text(json.dumps(self._grade()))
        saved = json.loads(result.read_text())
        self.scores, self.regrade, self.seconds = saved["scores"], saved["regrade"], saved["seconds"]
        self.release = notebooks(self.course / "assignments" / aid)

    def _grade(self) -> dict:
        aid = self.aid
        g.new_course(self.course, [aid])
        release = notebooks(g.generate(self.course, aid))
        main = f"{aid}.ipynb"
        students: dict[str, g.Case | None] = {"solution": g.Case("solution", "", {}), "blank": None}
        students.update({f"wrong-{c.name}": c for c in self.cases})
        students["control"] = control(self.source[main], aid)
        students.update({f"attack-{name}": a.case for name, a in self.attacks.items()})
        for student, case in students.items():
            subs = release if case is None else {
                name: (case.apply(release[name], self.source[name]) if name == main else
                       g.make_submission(release[name], self.source[name], self._for(name, case.replace)))
                for name in release
            }
            g.submit(self.course, aid, student, subs)
        os.environ.setdefault("DLCOURSE_CELL_TIMEOUT", CELL_TIMEOUT_S)
        seconds = g.autograde(self.course, aid)
        scores = {s: g.scores(self.course, aid, s) for s in students}
        seconds["solution (regrade)"] = g.autograde(self.course, aid, "solution")["solution"]
        per = list(seconds.values())
        reports.record("grading", aid, {
            "submissions": len(students),
            "seconds_per_submission_median": round(statistics.median(per), 2),
            "seconds_per_submission_max": round(max(per), 2),
            "budget_s": GRADE_BUDGET_S,
            "seconds": seconds,
        })
        return {"scores": scores, "regrade": g.scores(self.course, aid, "solution"), "seconds": seconds}

    def _for(self, name: str, replace: dict[str, str]) -> dict[str, str]:
        ids = {g.grade_id(c) for c in self.source[name].cells if g.is_solution(c)}
        return {k: v for k, v in replace.items() if k in ids}


_GRADED: dict[str, Graded] = {}


@pytest.fixture
def graded(request, tmp_path_factory, worker_id):
    aid = request.node.callspec.params["aid"]
    if aid not in _GRADED:
        base = tmp_path_factory.getbasetemp()
        shared = base.parent if worker_id != "master" else base  # xdist workers share the parent
        _GRADED[aid] = Graded(aid, shared)
    return _GRADED[aid]


def _dump(nb) -> str:
    return json.dumps(nbformat.from_dict(nb), sort_keys=True, indent=1)


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_committed_release_is_what_nbgrader_generates(aid, graded):
    committed = notebooks(ROOT / "assignments" / aid)
    assert sorted(committed) == sorted(graded.release), f"assignments/{aid} holds other notebooks than nbgrader makes: run `make release`"
    for name, nb in graded.release.items():
        assert _dump(committed[name]) == _dump(nb), f"assignments/{aid}/{name} is stale: run `make release` and commit it"


def _secret_lines(nb) -> set[str]:
    """Lines that appear only inside solution or hidden-test regions of the source."""
    inside, outside = set(), set()
    for cell in nb.cells:
        region = None
        for line in cell.source.splitlines():
            text = line.strip()
            if text in (g.BEGIN_SOLUTION, "### BEGIN HIDDEN TESTS"):
                region = text
                continue
            if text in (g.END_SOLUTION, "### END HIDDEN TESTS"):
                region = None
                continue
            (inside if region else outside).add(text)
    return {t for t in inside - outside if len(t) >= 12 and not t.startswith("#")}


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_release_contains_no_answer_or_hidden_test(aid, graded):
    for name, nb in notebooks(ROOT / "assignments" / aid).items():
        text = "\n".join(c.source for c in nb.cells)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, f"assignments/{aid}/{name} contains '{marker}'"
        released = {line.strip() for line in text.splitlines()}
        leaked = _secret_lines(graded.source[name]) & released
        assert not leaked, f"assignments/{aid}/{name} leaks lines of the answer or hidden tests: {sorted(leaked)[:5]}"


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_reference_solution_gets_full_marks(aid, graded):
    assert graded.scores["solution"] == graded.points


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_blank_release_scores_zero(aid, graded):
    assert set(graded.scores["blank"]) == set(graded.points), "every graded cell must be graded, even for a blank notebook"
    assert sum(graded.scores["blank"].values()) == 0, graded.scores["blank"]


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_grading_twice_gives_the_same_scores(aid, graded):
    assert graded.regrade == graded.scores["solution"]


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_grading_fits_the_time_budget(aid, graded):
    """Every submission within budget; the endless loop within the cell timeout plus the rest."""
    limit = {s: GRADE_BUDGET_S + (int(CELL_TIMEOUT_S) if s == "attack-infinite_loop" else 0) for s in graded.seconds}
    slow = {s: t for s, t in graded.seconds.items() if t > limit[s]}
    assert not slow, f"{aid}: submissions over {GRADE_BUDGET_S} s: {slow}"


@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_each_assignment_has_enough_known_wrong_cases(aid):
    wrong = [c for c in g.load_cases(CASES_DIR / f"{aid}.toml") if c.expected]
    assert len(wrong) >= 3, f"grader_tests/cases/{aid}.toml needs at least 3 known-wrong submissions"


CASES = [(a, c.name) for a in ASSIGNMENTS for c in g.load_cases(CASES_DIR / f"{a}.toml")]


@pytest.mark.slow
@pytest.mark.parametrize("aid,case", CASES)
def test_known_submission_gets_exactly_its_expected_points(aid, case, graded):
    spec = next(c for c in graded.cases if c.name == case)
    unknown = set(spec.expected) - set(graded.points)
    assert not unknown, f"{case}: expected scores name cells that are not test cells: {unknown}"
    expected = {**graded.points, **spec.expected}
    assert graded.scores[f"wrong-{case}"] == expected, f"{case} ({spec.why})"
    if spec.expected:  # a case without expected scores is a correct variant: full marks
        assert sum(expected.values()) < sum(graded.points.values()), f"{case} must lose points"


@pytest.mark.slow
@pytest.mark.parametrize("aid,case", CASES)
def test_failed_cells_tell_the_student_what_was_expected(aid, case, graded):
    """A check that fails says what it expected and what the submission produced."""
    spec = next(c for c in graded.cases if c.name == case)
    failed = {cell for cell, points in spec.expected.items() if points < graded.points[cell]}
    for path in (graded.course / "autograded" / f"wrong-{case}" / aid).glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if g.grade_id(cell) in failed:
                errors = [o for o in cell.outputs if o.output_type == "error"]
                assert errors, f"{case}: cell {g.grade_id(cell)} lost points without an error"
                if errors[0].get("ename") != "AssertionError":
                    continue  # the student's own code raised: its traceback points at their line
                message = errors[0].get("evalue", "")
                assert "expected" in message and ("got" in message or "produced" in message), (
                    f"{case}: the message of cell {g.grade_id(cell)} does not say what was expected and what "
                    f"was produced: {errors[0].get('ename')}: {message[:300]}"
                )


ATTACKS = [(a, name) for a in ASSIGNMENTS
           for name in (x.case.name for x in attacks(notebooks(ROOT / "solutions" / a)[f"{a}.ipynb"], a))]


@pytest.mark.slow
@pytest.mark.parametrize("aid,attack", ATTACKS)
def test_attack_gets_nothing_for_the_cells_it_attacks(aid, attack, graded):
    """An attack scores exactly what leaving the attacked answer blank scores; a kernel killer
    keeps the cells before it. Every other student in the same batch keeps their scores (the
    solution's full marks and the known-wrong cases are asserted by the tests above)."""
    spec: Attack = graded.attacks[attack]
    got = graded.scores[f"attack-{attack}"]
    if spec.kind == "dies-at":
        expected = expected_when_dying(graded.source[f"{aid}.ipynb"], spec.target, graded.points)
    else:
        expected = graded.scores["control"]
    assert sum(expected.values()) < sum(graded.points.values()), "the attacked answer must be worth points"
    assert got == expected, f"{attack} ({spec.case.why}): expected {expected}, got {got}"


@pytest.mark.slow
@pytest.mark.parametrize("aid", ASSIGNMENTS)
def test_attacks_leave_no_trace_in_the_grader_output(aid, graded):
    """The print bomb is cut, and the disk-reading attack found nothing: the kernel ran in the
    sandbox, saw an empty solutions/ and an empty gradebook."""
    folder = graded.course / "autograded"
    bomb = folder / "attack-huge_output" / aid / f"{aid}.ipynb"
    assert bomb.stat().st_size < 1_000_000, f"print bomb kept {bomb.stat().st_size:,} bytes in the autograded notebook"
    thief = nbformat.read(folder / "attack-read_solutions" / aid / f"{aid}.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in thief.cells for o in c.get("outputs", []))
    assert "sandboxed: 1" in text, text[:2000]
    assert "exists: True" not in text, f"the kernel could see a source notebook:\n{text[:2000]}"
    assert "gradebook bytes: 0" in text, text[:2000]
    feedback_free = [c for c in thief.cells if g.grade_id(c) == graded.attacks["read_solutions"].target]
    assert feedback_free and "RuntimeError" not in str(feedback_free[0].outputs), "the thief was stopped by the sandbox, not the guard"
