"""The instructor's grading run: collect, check, autograde, feed back, export, summarize.

``dlcourse grade a01 submissions.zip`` (or ``make grade ASSIGNMENT=a01 SUBMISSIONS=...``):

1. the zip (LMS download) or folder goes to ``downloaded/a01/archive`` and nbgrader's
   ``zip_collect`` files each student's notebook under ``submitted/`` (``dlcourse.grader.collect``);
2. intake checks (``dlcourse.grader.intake``) report per student what would make nbgrader give a
   silent 0 and, unless ``--no-restore``, repair it from the release; an unreadable notebook is
   replaced by the blank release with a note on top, so it is graded 0 *and* says why;
3. nbgrader autogrades: one batch, or ``--workers N`` processes sharing a PostgreSQL gradebook
   (``--db-url``); a progress line per student;
4. nbgrader's generate_feedback (HTML) and export (CSV);
5. a summary: per student score, time and notes (intake, refused cells, timeouts, dead kernel),
   per test cell the pass rate, and a figure of both (``reports/grades-a01.png``).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from . import collect, intake, sandbox
from . import nbgrading as g


@dataclass
class Student:
    student: str
    files: list[str]
    intake: intake.IntakeReport | None = None
    seconds: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def stage(source: Path, root: Path, aid: str) -> Path:
    """Put the submissions where zip_collect looks: ``downloaded/<aid>/archive/``."""
    if not source.exists():
        raise SystemExit(f"no such file or folder: {source}")
    downloaded = root / "downloaded" / aid
    shutil.rmtree(downloaded, ignore_errors=True)
    archive = downloaded / "archive"
    archive.mkdir(parents=True)
    if source.is_dir():
        shutil.make_archive(str(archive / "submissions"), "zip", source)
    elif source.suffix.lower() == ".zip":
        shutil.copy(source, archive / "submissions.zip")
    else:
        raise SystemExit(f"{source}: give a .zip (LMS download) or a folder of notebooks")
    return downloaded


def collect_submissions(root: Path, aid: str, source: Path) -> dict[str, Student]:
    downloaded = stage(source, root, aid)
    for old in (root / "submitted").glob(f"*/{aid}"):
        shutil.rmtree(old)  # a regrade starts from this download only
    g.nbgrader(["zip_collect", aid, "--force", "--collector=dlcourse.grader.collect.CourseCollector"], root)
    extracted = downloaded / "extracted" / "submissions"
    people = collect.plan(extracted, aid)
    if not people:
        raise SystemExit(f"no notebooks found in {source}")
    return {s: Student(s, [e.original for e in entries]) for s, entries in sorted(people.items())}


def run_intake(root: Path, aid: str, students: dict[str, Student], restore: bool) -> None:
    release_path = root / "assignments" / aid / f"{aid}.ipynb"
    release = nbformat.read(release_path, as_version=4)
    for s in students.values():
        path = root / "submitted" / s.student / aid / f"{aid}.ipynb"
        nb, report = intake.check_submission(path, release, restore=restore)
        s.intake = report
        if not collect.mentions(s.files[0], aid):
            report.problems.append(f"file name '{s.files[0]}' does not mention {aid} (graded anyway)")
        if len(s.files) > 1:
            report.problems.append(f"{len(s.files)} notebooks submitted, graded '{s.files[0]}', ignored {s.files[1:]}")
        if report.fatal:
            blank = nbformat.read(release_path, as_version=4)
            reason = "; ".join(report.problems) or "unreadable notebook"
            blank.cells.insert(0, nbformat.v4.new_markdown_cell(
                f"**Your submission could not be read: {reason}.** The grader graded the blank release "
                "in its place (0 points). Download the notebook again (File > Download > .ipynb) and resubmit."))
            nbformat.write(blank, path)
            s.notes.append("unreadable notebook: graded as blank")
        elif restore and report.repairs:
            nbformat.write(nb, path)


def autograde_serial(root: Path, aid: str, total: int) -> dict[str, float]:
    """One nbgrader batch; a progress line as each student starts; per-student seconds."""
    start, done = time.time(), []

    def progress(student: str) -> None:
        done.append(student)
        print(f"  [{len(done):>3}/{total}] {student}  ({time.time() - start:.0f} s elapsed)", flush=True)

    return g.autograde(root, aid, on_start=progress, check=False)


def autograde_workers(root: Path, aid: str, students: list[str], db_url: str, workers: int) -> dict[str, float]:
    from .parallel import autograde_parallel, prepare_gradebook

    prepare_gradebook(root, aid, db_url)
    done = []

    def progress(run) -> None:
        done.append(run)
        state = "" if run.ok else "  FAILED"
        print(f"  [{len(done):>3}/{len(students)}] {run.student}  {run.seconds:.1f} s{state}", flush=True)

    runs = autograde_parallel(root, aid, students, db_url, workers=workers, on_done=progress)
    return {s: r.seconds for s, r in runs.items()}


def notes_from_autograded(root: Path, aid: str, student: str) -> list[str]:
    path = root / "autograded" / student / aid / f"{aid}.ipynb"
    if not path.exists():
        return ["grading failed: no autograded notebook"]
    notes = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error" and out.get("ename") in ("CellTimeoutError", "DeadKernelError"):
                kind = "timed out" if out["ename"] == "CellTimeoutError" else "kernel died"
                notes.append(f"{kind} in {g.grade_id(cell) or 'a cell'}")
                break
        if notes and notes[-1].startswith("kernel died"):
            break  # every later cell says the same
    return notes


def tidy_autograded(root: Path, aid: str, student: str) -> list[str]:
    """Remove from the student's autograded folder every file that is not in their submission.

    In the bubblewrap sandbox the kernel writes into a private copy that vanishes, so nothing is
    found; under a weaker fallback this keeps a kernel's extra (possibly invalid) notebooks out of
    feedback generation and out of the next grading run."""
    graded = root / "autograded" / student / aid
    submitted = root / "submitted" / student / aid
    if not graded.is_dir():
        return []
    keep = {p.relative_to(submitted) for p in submitted.rglob("*")} if submitted.is_dir() else set()
    removed = []
    for path in sorted(graded.rglob("*"), reverse=True):
        rel = path.relative_to(graded)
        if rel in keep and not path.is_symlink():
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
            removed.append(str(rel))
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return [f"removed {len(removed)} file(s) the kernel wrote: {', '.join(removed[:5])}"] if removed else []


def summarize(root: Path, aid: str, students: dict[str, Student], points: dict[str, float]) -> dict:
    top = sum(points.values())
    print(f"\n{'student':24s} {'score':>11s} {'sec':>6s}  notes")
    for s in students.values():
        notes = list(s.notes)
        if s.intake and s.intake.problems:
            notes.append(f"intake: {len(s.intake.problems)} problem(s), {len(s.intake.repairs)} repaired")
        print(f"{s.student:24s} {s.total:5.1f} / {top:<4.0f} {s.seconds:6.1f}  {'; '.join(notes)}")
    n = len(students)
    pass_rate = {cell: sum(s.scores.get(cell, 0) >= p for s in students.values()) / n for cell, p in points.items()}
    print(f"\n{'test cell':28s} {'points':>6s} {'pass rate':>9s}")
    for cell, rate in sorted(pass_rate.items(), key=lambda kv: kv[1]):
        print(f"{cell:28s} {points[cell]:6.0f} {rate:9.0%}")
    totals = [s.total for s in students.values()]
    seconds = sorted(s.seconds for s in students.values())
    print(f"\n{n} students, mean {sum(totals) / n:.1f} / {top:.0f}, full marks {sum(t == top for t in totals)}, "
          f"zero {sum(t == 0 for t in totals)}; grading {seconds[len(seconds) // 2]:.1f} s median, "
          f"{seconds[-1]:.1f} s max per submission")
    return {"assignment": aid, "max_points": top, "pass_rate": pass_rate,
            "students": {s.student: {"total": s.total, "seconds": s.seconds, "scores": s.scores, "notes": s.notes,
                                     "intake": asdict(s.intake) if s.intake else None} for s in students.values()}}


def plot(summary: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    totals = [v["total"] for v in summary["students"].values()]
    fails = sorted(((1 - r, c) for c, r in summary["pass_rate"].items()), reverse=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.hist(totals, bins=min(20, int(summary["max_points"]) + 1), range=(0, summary["max_points"]), color="#4c72b0")
    left.set(title=f"{summary['assignment']}: score distribution", xlabel="points", ylabel="students")
    right.barh([c for _, c in fails][::-1], [100 * f for f, _ in fails][::-1], color="#dd8452")
    right.set(title="test cells students fail most", xlabel="% of students without full points")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def grade(aid: str, source: Path, *, restore: bool = True, workers: int = 1, db_url: str | None = None,
          root: Path | None = None) -> dict:
    root = root or g.course_root()
    release = root / "assignments" / aid / f"{aid}.ipynb"
    if not release.exists():
        raise SystemExit(f"unknown assignment {aid}: {release} does not exist (run `make release`)")
    points = g.points_by_test(nbformat.read(release, as_version=4))
    print(f"grading kernels: {sandbox.isolation()}", flush=True)
    if not db_url:
        # autograde needs the assignment in the gradebook; on a fresh clone it is not there yet
        print(f"registering {aid} in the gradebook (nbgrader generate_assignment) ...", flush=True)
        g.nbgrader(["generate_assignment", aid, "--force"], root)
    students = collect_submissions(root, aid, source)
    print(f"collected {len(students)} submission(s) of {aid} from {source}")
    run_intake(root, aid, students, restore)
    for s in students.values():
        if s.intake and s.intake.problems:
            print(intake.format_report(s.student, s.intake))
    print(f"autograding ({'%d workers, %s' % (workers, db_url.split('@')[-1]) if db_url else 'one nbgrader batch'}) ...")
    if db_url:
        seconds = autograde_workers(root, aid, list(students), db_url, workers)
    else:
        seconds = autograde_serial(root, aid, len(students))
    for s in students.values():
        s.seconds = seconds.get(s.student, 0.0)
        try:
            s.scores = g.scores(root, aid, s.student, db_url)
        except Exception as error:  # noqa: BLE001 - one broken submission never stops the batch
            s.scores = {cell: 0.0 for cell in points}
            s.notes.append(f"grading failed ({type(error).__name__}): scored 0, see nbgrader's log")
        s.notes += notes_from_autograded(root, aid, s.student)
        s.notes += tidy_autograded(root, aid, s.student)
    db = ["--db", db_url] if db_url else []
    g.nbgrader(["generate_feedback", aid, "--force", *db], root)
    reports = root / "reports"
    reports.mkdir(exist_ok=True)
    g.nbgrader(["export", "--to", str(reports / f"grades-{aid}.csv"), *db], root)
    summary = summarize(root, aid, students, points)
    (reports / f"grades-{aid}.json").write_text(json.dumps(summary, indent=1))
    plot(summary, reports / f"grades-{aid}.png")
    print(f"\nfeedback: {root / 'feedback'}/<student>/{aid}/{aid}.html\n"
          f"grades:   {reports / f'grades-{aid}.csv'}\nsummary:  {reports / f'grades-{aid}.json'}, "
          f"{reports / f'grades-{aid}.png'}")
    return summary
