"""Intake checks for submitted notebooks, run before ``nbgrader autograde``.

nbgrader ties each graded cell of a submission to the gradebook by ``metadata.nbgrader.grade_id``
and says nothing when that tie is broken: a deleted test cell, metadata stripped by Colab or an
old JupyterLab, a grade_id changed by a copy-paste, a copied test cell. The student then gets 0
for work they did, and nobody notices. This module compares a submission with the release
notebook, reports per student what is broken and, optionally, repairs it so that nbgrader
grades what the student wrote.

Only nbformat is used (no nbgrader import): the check runs anywhere, before any grading set-up.
Things nbgrader repairs by itself are reported but not repaired here: the source of an edited
locked cell (OverwriteCells) and the kernelspec (OverwriteKernelspec, so its absence is fine).
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

_DEF = re.compile(r"^(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)", re.MULTILINE)
_CHECKED_KEYS = ("grade", "solution", "locked", "points")  # flags that decide how a cell is graded


@dataclass
class IntakeReport:
    file: str  # the submitted file name
    problems: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)
    fatal: bool = False  # cannot be graded at all

    @property
    def ok(self) -> bool:
        return not self.problems


# ------------------------------------------------------------------ cells
# Student metadata can be anything a student or a tool wrote: read it defensively.
def _nbg(cell) -> dict:
    meta = cell.metadata.get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _gid(cell) -> str | None:
    gid = _nbg(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def _norm(source: str) -> str:
    """Source compared whitespace-insensitively (editors strip trailing spaces, add newlines)."""
    return " ".join(source.split())


def _names(source: str) -> set[str]:
    """Top-level functions and classes a cell defines: what identifies an answer cell."""
    return set(_DEF.findall(source))


def _kind(cell) -> str:
    meta = _nbg(cell)
    if meta.get("solution"):
        return "answer"
    return "test" if meta.get("grade") else "locked"


# ------------------------------------------------------------------ reading
def _read(path: Path, report: IntakeReport):
    """The notebook as nbformat v4, or None with the reason in the report (never raises)."""
    try:
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            reason = "the file is empty"
        else:
            data = json.loads(text)
            if not isinstance(data, dict) or "nbformat" not in data:
                reason = "valid JSON but not a notebook (no 'nbformat' key)"
            else:
                return nbformat.reads(text, as_version=4)  # upgrades nbformat 3
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON (truncated or corrupted file?): {exc}"
    except Exception as exc:  # OSError, UnicodeDecodeError, nbformat's validation/conversion errors
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        reason = f"not a readable notebook: {type(exc).__name__}: {first_line}"
    report.fatal = True
    report.problems.append(reason)
    return None


# ------------------------------------------------------------------ matching
def _window(gid, order, claimed, n) -> tuple[int, int]:
    """Student positions of the nearest matched release neighbours of ``gid`` (exclusive bounds)."""
    rank = order.index(gid)
    lo = next((claimed[g] for g in reversed(order[:rank]) if g in claimed), -1)
    hi = next((claimed[g] for g in order[rank + 1:] if g in claimed), n)
    return (lo, hi) if lo <= hi else (hi, lo)  # a reordered notebook: search between them anyway


def _match(cells, release: dict, release_nb):
    """Student cell index per release grade_id, plus the cells whose grade_id is a second copy."""
    order = list(release)
    n = len(cells)
    claimed: dict[str, int] = {}
    copies: dict[str, list[int]] = {}
    for i, cell in enumerate(cells):
        if _gid(cell) in release:
            copies.setdefault(_gid(cell), []).append(i)

    # a) by grade_id. Unique ones first, so that a duplicated cell keeps the copy at the release
    #    position (a test cell copied above its answer cell would fail there), else the first.
    for gid, idx in copies.items():
        if len(idx) == 1:
            claimed[gid] = idx[0]
    duplicates: dict[int, str] = {}
    for gid, idx in copies.items():
        if len(idx) > 1:
            lo, hi = _window(gid, order, claimed, n)
            claimed[gid] = next((i for i in idx if lo < i < hi), idx[0])
            duplicates.update({i: gid for i in idx if i != claimed[gid]})

    # Cells that may still match: no grade_id (stripped) or one the release does not know (changed).
    free = [i for i, cell in enumerate(cells) if _gid(cell) not in release]

    def unclaimed(i):
        return i not in claimed.values()

    # b) a cell that lost its metadata but still has the release source: an untouched locked cell
    #    (or an untouched answer stub).
    for gid in order:
        if gid not in claimed:
            want, kind = _norm(release[gid].source), release[gid].cell_type
            hit = next((i for i in free if unclaimed(i) and cells[i].cell_type == kind
                        and _norm(cells[i].source) == want), None)
            if hit is not None:
                claimed[gid] = hit

    # c) an answer cell is what the student edits, so its source never equals the stub: take the
    #    cell between the matched neighbours that defines the stub's functions (anywhere in the
    #    notebook if it moved); for a stub that defines nothing, the first cell there. The
    #    release's own instruction cells (no nbgrader metadata) are never answers.
    instructions = {_norm(c.source) for c in release_nb.cells if not _gid(c)}
    for gid in order:
        stub = release[gid]
        if gid in claimed or not _nbg(stub).get("solution"):
            continue
        cands = [i for i in free if unclaimed(i) and cells[i].cell_type == stub.cell_type
                 and _norm(cells[i].source) not in instructions]
        lo, hi = _window(gid, order, claimed, n)
        inside = [i for i in cands if lo < i < hi]
        names = _names(stub.source)
        if names:
            score = {i: len(names & _names(cells[i].source)) for i in cands}
            hits = [i for i in inside if score[i]] or [i for i in cands if score[i]]
            best = max(hits, key=score.get, default=None)  # max keeps the first of equals
        else:
            best = inside[0] if inside else None
        if best is not None:
            claimed[gid] = best
    return claimed, duplicates


def _out_of_order(claimed: dict[str, int], order: list[str]) -> list[tuple[str, str]]:
    """(cell, cell it should not precede/follow) for matched cells outside the longest run that
    keeps the release order: those run in another order than the tests expect."""
    seq = sorted(claimed, key=claimed.get)  # grade_ids in student order
    rank = [order.index(g) for g in seq]
    best, prev = [1] * len(seq), [-1] * len(seq)
    for k in range(len(seq)):
        for j in range(k):
            if rank[j] < rank[k] and best[j] + 1 > best[k]:
                best[k], prev[k] = best[j] + 1, j
    keep, k = set(), max(range(len(seq)), key=best.__getitem__, default=-1)
    while k != -1:
        keep.add(k)
        k = prev[k]
    moved = []
    for k in sorted(set(range(len(seq))) - keep):
        crossed = [j for j in keep if (j < k) != (rank[j] < rank[k])]
        other = min(crossed, key=lambda j: abs(j - k))
        moved.append((seq[k], seq[other]))
    return moved


# ------------------------------------------------------------------ the check
def check_submission(path: Path, release_nb, restore: bool = True):
    """Check one submitted notebook against the release; repair it if ``restore``.

    Returns ``(notebook, report)``; the notebook is None when the report is fatal. With
    ``restore=False`` the notebook is the parsed submission, unchanged.
    """
    path = Path(path)
    if isinstance(release_nb, (str, Path)):
        release_nb = nbformat.read(release_nb, as_version=4)
    report = IntakeReport(file=path.name)
    nb = _read(path, report)
    if nb is None:
        return None, report
    cells = nb.cells
    release = {_gid(c): c for c in release_nb.cells if _gid(c)}
    order = list(release)
    claimed, duplicates = _match(cells, release, release_nb)

    answers = [g for g in order if _nbg(release[g]).get("solution")]
    if answers and not any(g in claimed for g in answers):
        report.fatal = True
        report.problems.append("no answer cell of the release found (the wrong notebook?)")
        return None, report

    # ---- report
    problems = report.problems
    stripped = [g for g in order if g in claimed and _gid(cells[claimed[g]]) is None]
    if stripped:
        problems.append(f"nbgrader metadata stripped from {len(stripped)} cell(s): {', '.join(map(repr, stripped))}")
    for gid in order:
        if gid not in claimed:
            continue
        cell, want = cells[claimed[gid]], release[gid]
        old = _gid(cell)
        if old is not None and old != gid:
            problems.append(f"grade_id changed: {old!r} -> expected {gid!r}")
        elif old == gid:
            changed = [k for k in _CHECKED_KEYS if _nbg(cell).get(k) != _nbg(want).get(k)]
            if changed:
                problems.append(f"nbgrader metadata of {gid!r} altered: {', '.join(changed)}")
        if _nbg(want).get("locked") and _norm(cell.source) != _norm(want.source):
            problems.append(f"locked cell {gid!r} was edited (nbgrader restores it)")
    for i, gid in duplicates.items():
        problems.append(f"duplicate grade_id {gid!r} in cell {i + 1} (a copy of cell {claimed[gid] + 1})")
    unknown = [i for i, c in enumerate(cells) if _nbg(c) and i not in claimed.values() and i not in duplicates]
    for i in unknown:
        problems.append(f"cell {i + 1} has grade_id {_gid(cells[i])!r}, unknown to the release"
                        if _gid(cells[i]) else f"cell {i + 1} has nbgrader metadata without a grade_id")
    missing = [g for g in order if g not in claimed]
    defined = set().union(*(_names(c.source) for c in cells if c.cell_type == "code"))
    for gid in list(missing):
        problems.append(f"{_kind(release[gid])} cell {gid!r} is missing")
        shadowed = _names(release[gid].source) & defined
        if _kind(release[gid]) == "answer" and shadowed:
            # The student moved the function into another cell: a stub would redefine and break it.
            problems.append(f"no stub inserted for {gid!r}: {', '.join(sorted(shadowed))} is defined in another cell")
            missing.remove(gid)
    for gid, other in _out_of_order(claimed, order):
        where = "before" if order.index(gid) > order.index(other) else "after"
        problems.append(f"cell {gid!r} runs {where} {other!r}, unlike the release (not moved)")

    if restore:
        _repair(nb, release_nb, release, claimed, duplicates, unknown, missing, report)
    return nb, report


def _repair(nb, release_nb, release, claimed, duplicates, unknown, missing, report) -> None:
    cells = nb.cells
    repairs = report.repairs
    reattached = []
    for gid, i in claimed.items():
        if cells[i].metadata.get("nbgrader") != release[gid].metadata["nbgrader"]:
            if _gid(cells[i]) not in (None, gid):
                repairs.append(f"reset grade_id {_gid(cells[i])!r} -> {gid!r}")
            cells[i].metadata["nbgrader"] = copy.deepcopy(release[gid].metadata["nbgrader"])
            reattached.append(gid)
    if reattached:
        repairs.append(f"re-attached the release's nbgrader metadata to {len(reattached)} cell(s)")
    # nbgrader's DeduplicateIds would keep the last copy, silently; a cell with a grade_id it
    # does not know loses only the grade_id, and a graded cell without one fails validation.
    for i in sorted([*duplicates, *unknown]):
        repairs.append(f"removed the nbgrader metadata (grade_id {_gid(cells[i])!r}) of cell {i + 1}")
        del cells[i].metadata["nbgrader"]

    # Insert a missing cell after the student's copy of the release cell before it, in release
    # order (so consecutive missing cells keep their order). Instruction cells without metadata
    # count too, found by their source: a stub then lands below its task, not above the heading.
    # Cells are found by identity, not index, as insertions shift indices.
    present = {id(release[gid]): cells[i] for gid, i in claimed.items()}
    used = set(claimed.values())
    for r in release_nb.cells:
        if not _gid(r):
            hit = next((i for i, c in enumerate(cells) if i not in used and _norm(c.source) == _norm(r.source)), None)
            if hit is not None:
                present[id(r)] = cells[hit]
                used.add(hit)
    ids = {c.get("id") for c in cells}
    for gid in missing:
        want = release[gid]
        new = copy.deepcopy(want)
        if nb.nbformat_minor < 5:
            new.pop("id", None)  # cell ids exist from nbformat 4.5 on
        elif new.get("id") in ids:
            new["id"] = uuid.uuid4().hex[:8]
        ids.add(new.get("id"))
        before = release_nb.cells[:next(k for k, r in enumerate(release_nb.cells) if r is want)]
        anchor = next((present[id(r)] for r in reversed(before) if id(r) in present), None)
        at = 0 if anchor is None else next(k for k, c in enumerate(cells) if c is anchor) + 1
        cells.insert(at, new)
        present[id(want)] = new
        if _kind(want) == "answer":
            repairs.append(f"inserted the release stub for answer cell {gid!r} (its tests fail with NotImplementedError)")
        else:
            repairs.append(f"restored locked cell {gid!r} from the release")


def format_report(student: str, report: IntakeReport) -> str:
    """A few lines per submission: a header, then '-' for each problem and '+' for each repair."""
    if report.fatal:
        head = "FATAL, cannot be graded"
    elif report.ok:
        head = "ok"
    else:
        head = f"{len(report.problems)} problem(s), {len(report.repairs)} repair(s)"
    lines = [f"{student} / {report.file}: {head}"]
    lines += [f"  - {p}" for p in report.problems]
    lines += [f"  + {r}" for r in report.repairs]
    return "\n".join(lines)
