"""``dlcourse grade ASSIGNMENT FOLDER``: autograde a folder of downloaded notebooks with nbgrader.

Each ``<student>.ipynb`` (or ``<student>/<anything>.ipynb``) in FOLDER becomes that student's
submission; grading runs nbgrader's autograde, generate_feedback and export in the course root
and prints every student's score. (Zip intake and integrity checks: see the instructor guide.)
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from . import nbgrading as g


def _student_id(path: Path, folder: Path) -> str:
    raw = path.parent.name if path.parent != folder else path.stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw).strip("_") or "student"


def collect(aid: str, folder: Path, root: Path) -> list[str]:
    release = sorted((root / "assignments" / aid).glob("*.ipynb"))
    if len(release) != 1:
        raise SystemExit(f"assignments/{aid} must hold exactly one notebook, found {len(release)}")
    students = []
    for path in sorted(folder.glob("**/*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        student = _student_id(path, folder)
        target = root / "submitted" / student / aid / release[0].name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
        students.append(student)
    if not students:
        raise SystemExit(f"no .ipynb files in {folder}")
    return students


def grade(aid: str, folder: Path) -> int:
    root = g.course_root()
    students = collect(aid, folder, root)
    print(f"grading {len(students)} submission(s) of {aid} ...")
    seconds = g.autograde(root, aid)
    g.nbgrader(["generate_feedback", aid, "--force"], root)
    g.nbgrader(["export", "--to", str(root / "reports" / f"grades-{aid}.csv")], root)
    for student in students:
        scores = g.scores(root, aid, student)
        print(f"{student:30s} {sum(scores.values()):5.1f} points  ({seconds.get(student, 0):.1f} s)")
    print(f"feedback: {root / 'feedback'}\ngrades:   {root / 'reports' / f'grades-{aid}.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlcourse")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grade", help="autograde a folder of submitted notebooks")
    p.add_argument("assignment")
    p.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    if args.command == "grade":
        return grade(args.assignment, args.folder)
    return 2


if __name__ == "__main__":
    sys.exit(main())
