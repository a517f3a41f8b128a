"""A made-up class for trying the grading run: an LMS zip of correct, partial, broken and
adversarial submissions, in Moodle's layout with Colab's file names.

The partial ones are the known-wrong cases of ``grader_tests/cases/<aid>.toml``; the
adversarial ones come from ``grader_tests/attacks.py``; the broken ones are what students
really hand in: invalid JSON, a truncated download, Colab-stripped metadata, a deleted test
cell, a changed grade_id, a wrong file name, two notebooks in one submission.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import nbformat

from . import nbgrading as g

ATTACKS = ("rebind_checks", "patch_numpy_through_alias", "skip_execution_tag", "forged_answers",
           "search_disk_for_solutions", "kernel_killed")


def _folder(i: int, name: str) -> str:
    return f"{name}_{100200 + i}_assignsubmission_file_"


def submissions(aid: str, root: Path | None = None) -> dict[str, dict[str, bytes]]:
    """Student name -> {file name in their folder: bytes}."""
    root = root or g.course_root()
    release = nbformat.read(root / "assignments" / aid / f"{aid}.ipynb", as_version=4)
    source = nbformat.read(root / "solutions" / aid / f"{aid}.ipynb", as_version=4)
    sys.path.insert(0, str(root / "grader_tests"))
    from attacks import attacks  # noqa: E402 - lives with the grader tests

    def dump(nb) -> bytes:
        return nbformat.writes(nb).encode()

    solution = g.make_submission(release, source)
    first_test = next(g.grade_id(c) for c in release.cells if g.is_test(c))
    out: dict[str, dict[str, bytes]] = {}
    for name in ("Ada Byron", "Alan Turing", "Grace Hopper", "Claude Shannon"):
        out[name] = {f"Copy of {aid}.ipynb": dump(solution)}
    for case in g.load_cases(root / "grader_tests" / "cases" / f"{aid}.toml")[:6]:
        out[f"Partial {case.name.replace('_', ' ').title()}"] = {f"{aid}.ipynb": dump(case.apply(release, source))}
    out["Blank Page"] = {f"{aid}.ipynb": dump(release)}
    out["Broken Json"] = {f"Copy of {aid}.ipynb": dump(solution)[:-200]}
    out["Empty File"] = {f"{aid}.ipynb": b""}
    stripped = json.loads(dump(solution))
    for cell in stripped["cells"]:
        cell["metadata"] = {}
    out["Colab Stripped"] = {f"Copy of {aid}.ipynb": json.dumps(stripped).encode()}
    out["Deleted Test"] = {f"{aid}.ipynb": dump(g.Case("d", "", {}, delete=[first_test]).apply(release, source))}
    renamed = g.make_submission(release, source)
    next(c for c in renamed.cells if g.grade_id(c) == first_test).metadata["nbgrader"]["grade_id"] = "cell-1a2b3c"
    out["Renamed Id"] = {f"{aid}.ipynb": dump(renamed)}
    out["Wrong Name"] = {"homework final.ipynb": dump(solution)}
    out["Two Notebooks"] = {"scratch.ipynb": dump(release), f"Copy of {aid} (1).ipynb": dump(solution)}
    for attack in attacks(source, aid):
        if attack.case.name in ATTACKS:
            out[f"Mallory {attack.case.name.replace('_', ' ').title()}"] = {
                f"{aid}.ipynb": dump(attack.case.apply(release, source))}
    return out


def write_class(aid: str, path: Path, root: Path | None = None) -> list[str]:
    subs = submissions(aid, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, files) in enumerate(subs.items()):
            for filename, data in files.items():
                zf.writestr(f"{_folder(i, name)}/{filename}", data)
    return list(subs)
