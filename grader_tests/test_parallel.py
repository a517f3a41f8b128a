"""Parallel autograding on a shared PostgreSQL gradebook gives exactly the serial scores.

One scratch a05 course (quick to grade) with four submissions: the reference solution, the blank
release and two known-wrong cases. It is graded twice, in two copies of the course directory:
serially (one `nbgrader autograde a05` batch on the course's SQLite gradebook, as
nbgrading.autograde does) and by dlcourse.grader.parallel with two workers on a throwaway PostgreSQL
server. Needs PostgreSQL's server binaries: skipped without them, unless
DLCOURSE_REQUIRE_POSTGRES=1 (CI) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import nbformat
import pytest

from dlcourse.grader import nbgrading as g
from dlcourse.tools import reports

ROOT = g.course_root()
AID = "a05"
WRONG_CASES = 2
WORKERS = 2


def _notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


def _answers_of(nb, replace: dict[str, str]) -> dict[str, str]:
    ids = {g.grade_id(c) for c in nb.cells if g.is_solution(c)}
    return {k: v for k, v in replace.items() if k in ids}


def _unavailable(reason: str):
    if os.environ.get("DLCOURSE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"DLCOURSE_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL unavailable: {reason}")


@pytest.fixture(scope="module")
def postgres_url():
    try:
        import psycopg2  # noqa: F401 - nbgrader's Gradebook connects through it
    except ImportError as exc:
        _unavailable(f"psycopg2 is not installed ({exc}); make env installs it")
    from dlcourse.grader.pgserver import PostgresUnavailable, temporary_server

    try:
        server = temporary_server()
        url = server.__enter__()
    except PostgresUnavailable as exc:
        _unavailable(str(exc))
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.mark.slow
def test_parallel_grading_on_postgres_equals_serial_grading(tmp_path, postgres_url):
    from dlcourse.grader import parallel

    source = _notebooks(ROOT / "solutions" / AID)
    points = {k: v for nb in source.values() for k, v in g.points_by_test(nb).items()}
    cases = [c for c in g.load_cases(Path(__file__).parent / "cases" / f"{AID}.toml") if c.expected][:WRONG_CASES]
    assert len(cases) == WRONG_CASES, f"grader_tests/cases/{AID}.toml has fewer than {WRONG_CASES} known-wrong cases"

    serial = g.new_course(tmp_path / "serial", [AID])
    release = _notebooks(g.generate(serial, AID))
    students: dict[str, dict | None] = {"solution": {}, "blank": None}
    students.update({f"wrong-{c.name}": c.replace for c in cases})
    for student, replace in students.items():
        subs = release if replace is None else {
            name: g.make_submission(release[name], source[name], _answers_of(source[name], replace)) for name in release
        }
        g.submit(serial, AID, student, subs)
    # the same course and submissions, before any grading, without the SQLite gradebook
    par = tmp_path / "parallel"
    shutil.copytree(serial, par, ignore=shutil.ignore_patterns("gradebook.db*"))

    start = time.time()
    g.autograde(serial, AID)
    serial_s = time.time() - start
    serial_scores = {s: g.scores(serial, AID, s) for s in students}

    start = time.time()
    parallel.prepare_gradebook(par, AID, postgres_url)
    prepare_s = time.time() - start
    done: list[str] = []
    start = time.time()
    runs = parallel.autograde_parallel(par, AID, list(students), postgres_url, workers=WORKERS,
                                       on_done=lambda run: done.append(run.student))
    parallel_s = time.time() - start

    failed = {s: r.log_tail for s, r in runs.items() if not r.ok}
    assert not failed, f"parallel autograde failed for {sorted(failed)}:\n" + "\n\n".join(
        f"--- {s} ---\n{tail}" for s, tail in failed.items())
    assert sorted(done) == sorted(students), "on_done must be called once per student"
    assert not (par / "gradebook.db").exists(), "the parallel run wrote to SQLite instead of PostgreSQL"
    parallel_scores = {s: g.scores(par, AID, s, db_url=postgres_url) for s in students}

    assert parallel_scores == serial_scores
    for label, scores in (("serial", serial_scores), ("parallel", parallel_scores)):
        assert scores["solution"] == points, f"{label}: the reference solution must get full marks"
        assert set(scores["blank"]) == set(points) and sum(scores["blank"].values()) == 0, f"{label}: blank {scores['blank']}"
        for case in cases:
            got = sum(scores[f"wrong-{case.name}"].values())
            assert got < sum(points.values()), f"{label}: wrong-{case.name} must lose points"
    overlaps = parallel.overlapping(runs.values())
    assert overlaps, "no two autograde runs were in progress at the same time: " + ", ".join(
        f"{r.student} {r.started:.2f}-{r.ended:.2f}" for r in runs.values())

    per = [r.seconds for r in runs.values()]
    reports.record("grading", f"parallel-{AID}", {
        "backend": "postgresql",
        "submissions": len(students),
        "workers": WORKERS,
        "cpus": os.cpu_count(),
        "serial_wall_s": round(serial_s, 2),
        "parallel_wall_s": round(parallel_s, 2),
        "prepare_gradebook_s": round(prepare_s, 2),
        "speedup": round(serial_s / parallel_s, 2),
        "overlapping_pairs": len(overlaps),
        "seconds_per_submission_max": round(max(per), 2),
        "seconds": {s: round(r.seconds, 2) for s, r in runs.items()},
    })


def test_one_failing_student_does_not_stop_the_others(tmp_path, monkeypatch):
    """No nbgrader, no database: a stand-in command fails for one student, hangs for another."""
    import sys

    from dlcourse.grader import parallel

    script = (
        "import sys, time\n"
        "student = next(a.split('=', 1)[1] for a in sys.argv if a.startswith('--student='))\n"
        "print('grading', student)\n"
        "if student == 'broken': sys.exit('no notebook')\n"
        "if student == 'stuck': time.sleep(60)\n"
    )
    monkeypatch.setattr(parallel, "_nbgrader_cmd", lambda *args: [sys.executable, "-c", script, *args])
    done = []
    runs = parallel.autograde_parallel(tmp_path, "a05", ["ok1", "broken", "stuck", "ok2"], "sqlite://",
                                       workers=2, on_done=lambda r: done.append(r.student), timeout=3)
    assert list(runs) == ["ok1", "broken", "stuck", "ok2"]
    assert sorted(done) == sorted(runs)
    assert runs["ok1"].ok and runs["ok2"].ok and "grading ok2" in runs["ok2"].log_tail
    assert not runs["broken"].ok and runs["broken"].returncode == 1 and "no notebook" in runs["broken"].log_tail
    assert not runs["stuck"].ok and runs["stuck"].returncode is None and "ran past" in runs["stuck"].log_tail
    assert all(r.ended >= r.started for r in runs.values())
    with pytest.raises(ValueError):
        parallel.autograde_parallel(tmp_path, "a05", ["x", "x"], "sqlite://")
