"""``dlcourse`` command line: the instructor's grading run and a demo class to try it on.

    dlcourse grade a01 submissions.zip        # LMS zip or folder; see dlcourse.grader.classroom
    dlcourse grade a01 subs/ --workers 4 --db-url postgresql+psycopg2://...@127.0.0.1/grades
    dlcourse demo-class a05 class.zip         # 24 made-up students: correct, partial, broken, cheating
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlcourse")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("grade", help="collect, check, autograde, feed back and export one assignment")
    p.add_argument("assignment")
    p.add_argument("submissions", type=Path, help="an LMS zip or a folder of downloaded notebooks")
    p.add_argument("--no-restore", action="store_true",
                   help="report intake problems (deleted test cells, stripped metadata) without repairing them")
    p.add_argument("--workers", type=int, default=1, help="parallel grading processes (needs --db-url)")
    p.add_argument("--db-url", help="shared nbgrader gradebook, e.g. postgresql+psycopg2://user@127.0.0.1/db")
    d = sub.add_parser("demo-class", help="write a zip of made-up submissions to try `grade` on")
    d.add_argument("assignment")
    d.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "grade":
        if args.workers > 1 and not args.db_url:
            parser.error("--workers > 1 needs --db-url (SQLite cannot take parallel writers)")
        from .classroom import grade

        grade(args.assignment, args.submissions, restore=not args.no_restore, workers=args.workers,
              db_url=args.db_url)
        return 0
    if args.command == "demo-class":
        from .democlass import write_class

        students = write_class(args.assignment, args.out)
        print(f"wrote {len(students)} submissions to {args.out}: {', '.join(students)}")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
