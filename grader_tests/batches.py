"""The grading work of the grader tests, planned as units and run by a pool, once per session.

A unit is one scratch nbgrader course graded in one ``nbgrader autograde`` batch: part of an
assignment's submissions (the reference solution, the blank release, the known-wrong and
must-keep-full-marks cases of cases/<aid>.toml, and, for the representative assignments in
ATTACKED, the control and the attacks of attacks.py). Every unit also grades the solution, so
the solution is graded at least twice, in separate batches: the determinism check. Units are
sized to about CHUNK submissions and run longest first by JOBS worker threads, each driving its
own nbgrader processes, so no core waits on another's lock; the tests only read the results.

Known cases that cannot see each other are packed into one submission (``bundle``): each answer
cell of the notebook is replaced at most once per submission, so one submission can carry a
wrong pooling function, a correct alternative MLP and a wrong CNN at the same time. Every test
cell is judged on its own, so each case's cells still get exactly the points that case states.
Two cases share a submission only when they replace different answer cells, state scores for
different test cells, touch no test cell of the other's answers, and neither one's code names a
function the other one defines (so one fault cannot cause, or hide, the other's lost points).
Cases that edit, delete, tag or insert cells always go alone. A submission's kernel start and
imports cost most of its grading time, so packing cuts the suite several times over.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import statistics
import time
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from attacks import Attack, attacks, control
from dlcourse.grader import nbgrading as g
from dlcourse.tools import reports

ROOT = g.course_root()
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and any(p.glob("*.ipynb")))
if os.environ.get("DLCOURSE_ONLY"):  # a developer's shortcut: DLCOURSE_ONLY=a05 make grader-tests
    ASSIGNMENTS = [a for a in ASSIGNMENTS if a in os.environ["DLCOURSE_ONLY"].split(",")]
CASES_DIR = Path(__file__).parent / "cases"
# The pipeline attacks run on one NumPy-only assignment (its kernel imports no TensorFlow, so 23
# attacked submissions cost little); Keras-model attacks (a model class from the notebook
# overriding fit/evaluate) are known-wrong cases of a01, the assignment that trains a model.
ATTACKED = ("a05",)
CHUNK = 9  # submissions per unit besides the solution
GRADE_BUDGET_S = 45  # per submission, quick grading budget (README, "Grading")
# The endless-loop attack waits for the per-cell timeout; 30 s instead of the course's 120 s keeps
# the suite short: with trusted judging no kernel cell trains a graded model.
CELL_TIMEOUT_S = "30"
JOBS = int(os.environ.get("JOBS", "2"))
SECONDS_PER_SUBMISSION = {"a00": 15, "a01": 20, "a02": 20, "a05": 7, "a05b": 12, "a06": 10, "a03": 25, "a04b": 25}  # measured (reports/ci.json); for ordering only


def notebooks(folder: Path) -> dict[str, nbformat.NotebookNode]:
    return {p.name: nbformat.read(p, as_version=4) for p in sorted(folder.glob("*.ipynb"))}


def points(aid: str) -> dict[str, float]:
    """Points of every test cell of the assignment's source notebooks."""
    return {k: v for nb in notebooks(ROOT / "solutions" / aid).values() for k, v in g.points_by_test(nb).items()}


@dataclass
class Unit:
    aid: str
    name: str
    students: dict[str, g.Case | None]  # None: the blank release
    feedback: bool = False

    @property
    def cost(self) -> float:
        """Rough seconds, to start the longest units first."""
        per = SECONDS_PER_SUBMISSION.get(self.aid, 15)
        return per * len(self.students) + (int(CELL_TIMEOUT_S) if "attack-infinite_loop" in self.students else 0)


@dataclass
class Plan:
    aid: str
    source: dict[str, nbformat.NotebookNode]
    cases: list[g.Case]
    attacks: dict[str, Attack]
    units: list[Unit] = field(default_factory=list)
    student_of: dict[str, str] = field(default_factory=dict)  # case name -> submission carrying it
    bundles: dict[str, list[g.Case]] = field(default_factory=dict)  # submission -> its cases


def _tests_of_answers(source: dict[str, nbformat.NotebookNode]) -> dict[str, set[str]]:
    """Answer cell -> the test cells that follow it, up to the next answer cell."""
    out: dict[str, set[str]] = {}
    for nb in source.values():
        current = None
        for cell in nb.cells:
            if g.is_solution(cell):
                current = g.grade_id(cell)
                out[current] = set()
            elif g.is_test(cell) and current:
                out[current].add(g.grade_id(cell))
    return out


def _names(source: str) -> tuple[set[str], set[str]]:
    """(functions and classes the code defines, names it uses)."""
    tree = ast.parse(source)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in tree.body if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return defined, used


def bundle(cases: list[g.Case], source: dict[str, nbformat.NotebookNode]) -> list[list[g.Case]]:
    """Pack cases into as few submissions as the rules of the module docstring allow (first fit)."""
    tests = _tests_of_answers(source)

    def footprint(case: g.Case) -> tuple[set[str], set[str], set[str], set[str]]:
        cells = set(case.replace)
        judged = set(case.expected) | {t for gid in case.replace for t in tests.get(gid, ())}
        defined, used = set(), set()
        for code in case.replace.values():
            d, u = _names(code)
            defined |= d
            used |= u
        return cells, judged, defined, used

    def compatible(a, b) -> bool:
        return (not a[0] & b[0] and not a[1] & b[1]
                and not (a[2] - {"_"}) & b[3] and not (b[2] - {"_"}) & a[3])

    bins: list[tuple[list[g.Case], list[tuple]]] = []
    for case in cases:
        structural = case.edit or case.delete or case.tags or case.insert_after
        fp = footprint(case)
        home = None if structural else next(
            (b for b in bins if b[1] and all(compatible(fp, other) for other in b[1])), None)
        if home is None:
            bins.append(([case], [] if structural else [fp]))
        else:
            home[0].append(case)
            home[1].append(fp)
    return [members for members, _ in bins]


def _merged_case(name: str, members: list[g.Case]) -> g.Case:
    if len(members) == 1:
        return members[0]
    replace: dict[str, str] = {}
    expected: dict[str, float] = {}
    for case in members:
        replace.update(case.replace)
        expected.update(case.expected)
    return g.Case(name, "; ".join(c.name for c in members), replace, expected)


def plan(aid: str) -> Plan:
    source = notebooks(ROOT / "solutions" / aid)
    main = source[f"{aid}.ipynb"]
    cases = g.load_cases(CASES_DIR / f"{aid}.toml")
    found = {a.case.name: a for a in attacks(main, aid)} if aid in ATTACKED else {}
    others: dict[str, g.Case | None] = {"blank": None}
    bundles: dict[str, list[g.Case]] = {}
    for members in bundle(cases, source):
        student = f"wrong-{members[0].name}" if len(members) == 1 else f"cases-{len(bundles)}"
        bundles[student] = members
        others[student] = _merged_case(student, members)
    if found:
        others["control"] = control(main, aid)
        others.update({f"attack-{name}": a.case for name, a in found.items()})
    names = list(others)
    chunks = [names[i:i + CHUNK] for i in range(0, len(names), CHUNK)] or [[]]
    if len(chunks) == 1:
        chunks.append([])  # a second batch with the solution alone: grading twice
    units = []
    for i, chunk in enumerate(chunks):
        students = {"solution": g.Case("solution", "", {})} | {s: others[s] for s in chunk}
        units.append(Unit(aid, f"{aid}-{i}", students, feedback=any(s.startswith("attack-") for s in chunk) or i == 0))
    student_of = {c.name: student for student, members in bundles.items() for c in members}
    return Plan(aid, source, cases, found, units, student_of, bundles)


def _submission(plan_: Plan, release: dict, case: g.Case | None) -> dict:
    main = f"{plan_.aid}.ipynb"
    if case is None:
        return release
    subs = {}
    for name in release:
        if name == main:
            subs[name] = case.apply(release[name], plan_.source[name])
        else:
            ids = {g.grade_id(c) for c in plan_.source[name].cells if g.is_solution(c)}
            subs[name] = g.make_submission(release[name], plan_.source[name],
                                           {k: v for k, v in case.replace.items() if k in ids})
    return subs


def grade_unit(plan_: Plan, unit: Unit, base: Path) -> dict:
    """Grade one unit in its own scratch course; everything the tests need, as plain data."""
    course = base / unit.name
    shutil.rmtree(course, ignore_errors=True)
    g.new_course(course, [unit.aid])
    release = notebooks(g.generate(course, unit.aid))
    for student, case in unit.students.items():
        g.submit(course, unit.aid, student, _submission(plan_, release, case))
    started = time.time()
    failures: dict[str, str] = {}
    seconds = g.autograde(course, unit.aid, check=False, failures=failures)
    scores = {}
    for student in unit.students:
        try:
            scores[student] = g.scores(course, unit.aid, student)
        except Exception as error:  # noqa: BLE001 - reported by the tests, not here
            scores[student] = {"__error__": repr(error)}
    result = {"unit": unit.name, "course": str(course), "scores": scores, "seconds": seconds,
              "wall_s": round(time.time() - started, 2), "feedback_error": None,
              "retried": {student: log[-4000:] for student, log in failures.items()}}
    if unit.feedback:
        try:
            g.nbgrader(["generate_feedback", unit.aid, "--force"], course)
        except RuntimeError as error:
            result["feedback_error"] = str(error)[-3000:]
    (course / "result.json").write_text(json.dumps(result, indent=1))
    reports.record("grading-units", unit.name, {"assignment": unit.aid, "submissions": len(unit.students),
                                                 "wall_s": result["wall_s"], "retried": sorted(failures)})
    return result


class Pool:
    """Runs every unit of every assignment once; ``result(aid)`` merges an assignment's units."""

    def __init__(self, base: Path, assignments=ASSIGNMENTS, extra_jobs: dict | None = None):
        os.environ.setdefault("DLCOURSE_CELL_TIMEOUT", CELL_TIMEOUT_S)
        self.base = base
        self.plans = {aid: plan(aid) for aid in assignments}
        self.executor = ThreadPoolExecutor(max_workers=JOBS, thread_name_prefix="grading")
        jobs = [(unit.cost, unit.name, (lambda p=p, u=unit: grade_unit(p, u, base)))
                for p in self.plans.values() for unit in p.units]
        jobs += [(cost, name, fn) for name, (cost, fn) in (extra_jobs or {}).items()]
        self.futures: dict[str, Future] = {}
        for _, name, fn in sorted(jobs, key=lambda j: -j[0]):
            self.futures[name] = self.executor.submit(_traced, fn)

    def job(self, name: str):
        outcome = self.futures[name].result()
        if isinstance(outcome, str):
            raise RuntimeError(f"grading job {name} failed:\n{outcome}")
        return outcome

    def result(self, aid: str) -> dict:
        units = [self.job(u.name) for u in self.plans[aid].units]
        merged = {"scores": {}, "seconds": {}, "courses": {}, "solution_runs": [], "feedback_errors": {}, "retried": {}}
        for r in units:
            merged["retried"].update({f"{r['unit']}/{student}": log for student, log in r.get("retried", {}).items()})
            for student, score in r["scores"].items():
                if student == "solution":
                    merged["solution_runs"].append(score)
                merged["scores"].setdefault(student, score)
                merged["courses"].setdefault(student, r["course"])
            for student, s in r["seconds"].items():
                merged["seconds"][student if student != "solution" else f"solution@{r['unit']}"] = s
            if r["feedback_error"]:
                merged["feedback_errors"][r["unit"]] = r["feedback_error"]
        return merged

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _traced(fn):
    try:
        return fn()
    except Exception:  # noqa: BLE001 - the tests report it
        return traceback.format_exc()


def timing_entry(aid: str, merged: dict) -> dict:
    per = list(merged["seconds"].values())
    return {"submissions": len(per), "seconds_per_submission_median": round(statistics.median(per), 2),
            "seconds_per_submission_max": round(max(per), 2), "budget_s": GRADE_BUDGET_S,
            "seconds": merged["seconds"]}
