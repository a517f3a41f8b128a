"""Who submitted what: student ids and notebooks from an LMS zip or a folder of downloads.

``nbgrader zip_collect`` calls :class:`CourseCollector` for every file it extracted; the same
pure function :func:`parse` also builds the intake report, so what is reported is what was
collected. Layouts understood (the first folder level under the archive decides):

- Moodle "Download all submissions": ``Ann Lee_123456_assignsubmission_file_/Copy of a01.ipynb``
- Canvas: ``leeann_123456_7890123_Copy of a01.ipynb`` (also ``leeann_LATE_123456_...``)
- a folder per student: ``ann.lee/a01.ipynb`` (any file name)
- one notebook per student, named after them: ``ann.lee.ipynb``

Every student's notebook is collected as the assignment's notebook name (Colab downloads are
"Copy of a01.ipynb", browsers add " (1)"); a file name that does not mention the assignment is
collected too and reported. When a student has several notebooks, the one whose name mentions
the assignment wins, then the newest; the others are reported, never silently merged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePath

MOODLE = re.compile(r"^(?P<name>.+?)_(?P<uid>\d+)_assignsubmission_\w*?_?$")
CANVAS = re.compile(r"^(?P<name>[a-z0-9]+)_(?:LATE_)?(?P<uid>\d+)_(?P<sid>\d+)_(?P<file>.+)$")
IGNORED = ("__MACOSX", ".ipynb_checkpoints", ".DS_Store")


@dataclass(frozen=True)
class Entry:
    student: str
    original: str  # the file name as submitted
    path: str  # relative to the archive's root


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "_", text.strip().lower()).strip("_.") or "student"


def parse(rel: PurePath) -> Entry | None:
    """Student and original file name of one extracted file (path relative to the archive root)."""
    if rel.suffix != ".ipynb" or any(part in IGNORED or part.startswith("._") for part in rel.parts):
        return None
    if len(rel.parts) >= 2:
        folder = rel.parts[0]
        moodle = MOODLE.match(folder)
        return Entry(slug(moodle.group("name") if moodle else folder), rel.name, str(rel))
    canvas = CANVAS.match(rel.name)
    if canvas:
        return Entry(slug(canvas.group("name")), canvas.group("file"), str(rel))
    return Entry(slug(rel.stem), rel.name, str(rel))


def mentions(name: str, aid: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(aid.lower())}(?![0-9])", name.lower()) is not None


def plan(root: Path, aid: str) -> dict[str, list[Entry]]:
    """Student -> their notebooks under ``root``, the one to grade first."""
    by_student: dict[str, list[Entry]] = {}
    for path in sorted(p for p in root.rglob("*.ipynb") if p.is_file()):
        entry = parse(path.relative_to(root))
        if entry:
            by_student.setdefault(entry.student, []).append(entry)
    for entries in by_student.values():
        entries.sort(key=lambda e: (not mentions(e.original, aid), -(root / e.path).stat().st_mtime, e.path))
    return by_student


def archive_root(path: Path) -> tuple[Path, PurePath] | None:
    """(extracted/<archive>, path inside it) for a file nbgrader extracted."""
    parts = path.parts
    if "extracted" not in parts:
        return None
    i = len(parts) - 1 - parts[::-1].index("extracted")
    if len(parts) < i + 3:
        return None
    return Path(*parts[: i + 2]), PurePath(*parts[i + 2:])


try:
    from nbgrader.plugins import FileNameCollectorPlugin

    class CourseCollector(FileNameCollectorPlugin):
        """nbgrader collector plugin: ``nbgrader zip_collect --collector=dlcourse.grader.collect.CourseCollector``."""

        def collect(self, submitted_file: str):
            located = archive_root(Path(submitted_file))
            if located is None:
                return None
            root, rel = located
            entry = parse(rel)
            if entry is None:
                return None
            aid = self.parent.coursedir.assignment_id
            chosen = plan(root, aid)[entry.student][0]
            if chosen.path != entry.path:
                self.log.warning("%s: skipping %s, grading %s", entry.student, entry.path, chosen.path)
                return None
            return {"student_id": entry.student, "file_id": f"{aid}.ipynb"}

except ImportError:  # pragma: no cover
    CourseCollector = None  # type: ignore[assignment,misc]
