"""Parallel autograding: one ``nbgrader autograde --student=S`` process per student, a few at a
time, all writing into one shared gradebook (PostgreSQL; SQLite does not take concurrent writers).

    prepare_gradebook(course, "a05", url)            # once, before any worker starts
    runs = autograde_parallel(course, "a05", students, url, workers=2)

Which rows the workers share: every nbgrader process opens the gradebook with
``Gradebook(db_url[, course_id])``, which creates the tables (and alembic's version row) when the
database is empty, and inserts the course row (``dlcourse`` from nbgrader_config.py, and
``default_course`` for the preprocessors that open it without a course id) when it is missing.
Processes opening a fresh database at the same moment race on those (seen here: PostgreSQL's
``UniqueViolation`` on ``pg_type_typname_nsp_index`` from concurrent CREATE TABLE), so
``prepare_gradebook`` creates all of them serially, together with the assignment, its notebooks
and source cells (hidden tests included, which autograde's OverwriteCells puts back). After
that a worker writes only rows of its own student: the student row, the submission, its
notebooks, grades and comments; distinct students never touch the same row (checked with 6
workers at once on 6 a05 submissions: no database error, scores equal to serial grading).
Students may also be pre-created there; it is not needed.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from . import nbgrading

LOG_TAIL_CHARS = 2000
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class StudentRun:
    """One student's ``nbgrader autograde`` process."""

    student: str
    seconds: float
    ok: bool  # the process exited with status 0
    started: float  # time.time()
    ended: float
    returncode: int | None = None  # None: it could not start, or ran past the timeout
    log_tail: str = ""  # the end of its stderr + stdout


_nbgrader_cmd = nbgrading.nbgrader_command  # a module attribute, so tests can stand in a fake nbgrader


def prepare_gradebook(course: Path, aid: str, db_url: str, students: Iterable[str] = ()) -> None:
    """Make the assignment (and the given students) exist in the gradebook at ``db_url``.

    ``nbgrader generate_assignment`` saves the assignment, its notebooks and source cells into
    that database (and regenerates the release in ``course``, identical to the committed one).
    Serially, before the workers start: see the module docstring for the rows this pre-creates.
    """
    nbgrading.nbgrader(["generate_assignment", aid, "--force", f"--db={db_url}"], course)
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:  # the 'default_course' row that nbgrader's preprocessors use
        for student in students:
            gb.update_or_create_student(student)


def worker_env(workers: int) -> dict[str, str]:
    """nbgrader's environment, with each kernel's BLAS/OpenMP threads limited to its share of the
    cores (unless the caller set them): ``workers`` kernels each spawning one thread per core
    would oversubscribe the machine."""
    env = nbgrading.nbgrader_env()
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for var in THREAD_VARS:
        env.setdefault(var, share)
    return env


def _grade_one(course: Path, aid: str, student: str, db_url: str, env: dict[str, str],
               timeout: float | None) -> StudentRun:
    cmd = _nbgrader_cmd("autograde", aid, f"--student={student}", "--force", f"--db={db_url}")
    started = time.time()
    returncode: int | None = None
    try:
        proc = subprocess.run(
            cmd, cwd=course, env=env, capture_output=True, text=True,
            stdin=subprocess.DEVNULL, timeout=timeout,
        )
        returncode, log = proc.returncode, (proc.stderr or "") + (proc.stdout or "")
    except subprocess.TimeoutExpired as exc:
        out = [x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (exc.stderr, exc.output)]
        log = "".join(out) + f"\n[dlcourse] autograde of {student} ran past {timeout} s and was stopped"
    except Exception as exc:  # noqa: BLE001 - one student's failure must not stop the others
        log = f"[dlcourse] could not run {' '.join(cmd)}: {type(exc).__name__}: {exc}"
    ended = time.time()
    return StudentRun(
        student=student, seconds=round(ended - started, 3), ok=returncode == 0, started=started,
        ended=ended, returncode=returncode, log_tail=log[-LOG_TAIL_CHARS:],
    )


def autograde_parallel(
    course: Path,
    aid: str,
    students: list[str],
    db_url: str,
    workers: int = 2,
    on_done: Callable[[StudentRun], None] | None = None,
    timeout: float | None = None,
) -> dict[str, StudentRun]:
    """Autograde each student's submission in its own nbgrader process, ``workers`` at a time.

    The gradebook at ``db_url`` must already hold the assignment (``prepare_gradebook``).
    A student whose run fails (or runs past ``timeout`` seconds) gets ``ok=False`` and the
    others go on. ``on_done(run)`` is called in this thread as each run ends, in end order.
    Returns the runs by student, in the order of ``students``.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    duplicates = sorted({s for s in students if students.count(s) > 1})
    if duplicates:
        raise ValueError(f"students listed more than once: {duplicates}")
    course = Path(course)
    env = worker_env(workers)
    runs: dict[str, StudentRun] = {}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="autograde") as pool:
        futures = {pool.submit(_grade_one, course, aid, s, db_url, env, timeout): s for s in students}
        for future in as_completed(futures):
            run = future.result()  # _grade_one catches everything a subprocess can raise
            runs[run.student] = run
            if on_done is not None:
                on_done(run)
    return {s: runs[s] for s in students}


def overlapping(runs: Iterable[StudentRun]) -> list[tuple[str, str]]:
    """Pairs of runs that were in progress at the same moment (proof that they ran concurrently)."""
    items = sorted(runs, key=lambda r: r.started)
    return [
        (a.student, b.student)
        for i, a in enumerate(items)
        for b in items[i + 1:]
        if b.started < a.ended and a.started < b.ended
    ]
