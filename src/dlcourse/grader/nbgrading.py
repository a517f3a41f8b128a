"""nbgrader glue: a sanitizing preprocessor, test submissions, batch autograding, scores.

nbgrader does the grading; this module only prepares course directories and reads results,
for ``grader_tests`` and for the instructor's ``make`` targets.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
HIDDEN_BEGIN, HIDDEN_END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
SKIP_TAGS = frozenset({"skip-execution", "dlcourse-internal-never-used"})
GRADING_ENV = {
    "DLCOURSE_MODE": "quick",
    "DLCOURSE_OFFLINE": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "MPLBACKEND": "Agg",
    "PYTHONHASHSEED": "0",
}

MAX_OUTPUT_CHARS = 20_000  # per output in an autograded notebook; the rest is cut


def _cut(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit // 2] + f"\n... [dlcourse grader: {len(text) - limit:,} characters cut] ...\n" + text[-limit // 2:]


try:  # the preprocessors are only importable where nbgrader is installed
    from nbclient.exceptions import DeadKernelError
    from nbformat import NotebookNode
    from nbgrader.preprocessors import Execute, NbGraderPreprocessor

    class StripSkipTags(NbGraderPreprocessor):
        """Remove tags that would make the executor skip a cell (a student could tag a test cell)."""

        def preprocess_cell(self, cell, resources, cell_index):
            tags = cell.metadata.get("tags")
            if tags and SKIP_TAGS & set(tags):
                cell.metadata["tags"] = [t for t in tags if t not in SKIP_TAGS]
            return cell, resources

    class HideHiddenTests(NbGraderPreprocessor):
        """For feedback: drop the hidden region of every cell's source (the grader's line and
        anything else between the markers); the verdict and its messages stay in the outputs."""

        def preprocess_cell(self, cell, resources, cell_index):
            if cell.cell_type == "code" and HIDDEN_BEGIN in cell.source:
                cell.source = hide_hidden(cell.source)
            return cell, resources

    class ResilientExecute(Execute):
        """nbgrader's Execute, except that a kernel that dies (``os._exit``, a crash, running out
        of memory) costs only the cells it did not run: those get an error output and score 0,
        and the cells that ran before keep their results. Plain Execute aborts the notebook."""

        def preprocess(self, nb, resources, km=None):
            try:
                return super().preprocess(nb, resources, km=km)
            except DeadKernelError as error:
                self.log.warning("kernel died: %s", error)
                ran = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
                last = max(ran, default=-1)
                for cell in nb.cells[last + 1:]:
                    if cell.cell_type == "code":
                        cell.outputs = [NotebookNode(
                            output_type="error", ename="DeadKernelError",
                            evalue="the kernel died while or before running this cell (a cell ended the Python process)",
                            traceback=["DeadKernelError: the kernel died while or before running this cell"])]
                return nb, resources

    class LimitOutputSize(NbGraderPreprocessor):
        """Cut any output longer than MAX_OUTPUT_CHARS (nbgrader's LimitOutput counts lines, so a
        single 100 MB line would reach the gradebook and the feedback)."""

        def preprocess_cell(self, cell, resources, cell_index):
            for output in cell.get("outputs", []):
                if "text" in output:
                    output.text = _cut(output.text)
                for key, value in output.get("data", {}).items():
                    if isinstance(value, str) and len(value) > MAX_OUTPUT_CHARS:
                        output.data[key] = _cut(value) if key.startswith("text/") else "[cut: too large]"
                if output.get("output_type") == "error":
                    output.evalue = _cut(output.get("evalue", ""))
            return cell, resources

except ImportError:  # pragma: no cover - nbgrader is part of the grading extra
    StripSkipTags = HideHiddenTests = ResilientExecute = LimitOutputSize = None  # type: ignore[assignment,misc]


def hide_hidden(source: str) -> str:
    """The source with each hidden-test region replaced by one comment line."""
    out, inside = [], False
    for line in source.splitlines():
        text = line.strip()
        if text == HIDDEN_BEGIN:
            inside = True
            out.append("# (hidden checks, run by the grader: their results are below)")
        elif text == HIDDEN_END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


# ------------------------------------------------------------------ notebooks and cells
def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_solution(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def points_by_test(nb) -> dict[str, float]:
    return {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in nb.cells if is_test(c)}


def answer_of(source: str) -> str:
    """The reference answer as a student would type it: the solution markers removed."""
    return "\n".join(
        line for line in source.splitlines() if line.strip() not in (BEGIN_SOLUTION, END_SOLUTION)
    )


def make_submission(release_nb, source_nb, replace: dict[str, str] | None = None):
    """A filled-in release: every answer cell gets the reference answer unless ``replace`` has it."""
    replace = dict(replace or {})
    answers = {grade_id(c): answer_of(c.source) for c in source_nb.cells if is_solution(c)}
    unknown = set(replace) - set(answers)
    if unknown:
        raise KeyError(f"no answer cell with grade_id {sorted(unknown)}; answer cells: {sorted(answers)}")
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if is_solution(cell):
            gid = grade_id(cell)
            cell.source = replace.get(gid, answers[gid])
    return nb


# ------------------------------------------------------------------ known-wrong cases
@dataclass
class Case:
    """A made-up submission: answer cells replaced, and optionally a student's edits of the
    notebook itself (edited, deleted or tagged cells, cells of their own)."""

    name: str
    why: str
    replace: dict[str, str]
    expected: dict[str, float] = field(default_factory=dict)
    edit: dict[str, str] = field(default_factory=dict)  # grade_id -> new source (locked cells too)
    delete: list[str] = field(default_factory=list)  # grade_ids of cells removed
    tags: dict[str, list[str]] = field(default_factory=dict)  # grade_id -> tags added
    insert_after: dict[str, str] = field(default_factory=dict)  # grade_id -> source of a new cell

    def apply(self, release_nb, source_nb):
        nb = make_submission(release_nb, source_nb, self.replace)
        by_id = {grade_id(c): c for c in nb.cells if grade_id(c)}
        unknown = (set(self.edit) | set(self.delete) | set(self.tags) | set(self.insert_after)) - set(by_id)
        if unknown:
            raise KeyError(f"case {self.name}: no cell with grade_id {sorted(unknown)}")
        for gid, source in self.edit.items():
            by_id[gid].source = source
        for gid, tags in self.tags.items():
            by_id[gid].metadata["tags"] = [*by_id[gid].metadata.get("tags", []), *tags]
        for gid, source in self.insert_after.items():
            nb.cells.insert(nb.cells.index(by_id[gid]) + 1, nbformat.v4.new_code_cell(source))
        nb.cells = [c for c in nb.cells if grade_id(c) not in self.delete]
        return nb


def load_cases(path: Path) -> list[Case]:
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        raw = tomllib.load(handle).get("case", [])
    cases = [Case(c["name"], c.get("why", ""), dict(c.get("replace", {})), dict(c.get("expected", {})),
                  dict(c.get("edit", {})), list(c.get("delete", [])), dict(c.get("tags", {})),
                  dict(c.get("insert_after", {}))) for c in raw]
    names = [c.name for c in cases]
    if len(names) != len(set(names)):
        raise ValueError(f"{path}: case names must be unique, got {names}")
    return cases


# ------------------------------------------------------------------ running nbgrader
def course_root() -> Path:
    return Path(__file__).resolve().parents[3]


def nbgrader_env() -> dict[str, str]:
    """Environment for nbgrader: the venv's bin on PATH (nbgrader calls alembic); quick offline
    mode unless the caller's environment says otherwise (an instructor grading in full mode);
    kernels named python3 start through the grading sandbox (dlcourse.grader.sandbox)."""
    from ..download import cache_dir
    from .sandbox import install_kernelspec

    env = {**GRADING_ENV, "DLCOURSE_SANDBOX": "required", **os.environ}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    kernels = install_kernelspec(cache_dir() / "grading-kernels")
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(kernels), env.get("JUPYTER_PATH", "")) if p)
    return env


def nbgrader_command(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "nbgrader"), *args]


def nbgrader(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    cmd = nbgrader_command(*args)
    proc = subprocess.run(cmd, cwd=cwd, env=nbgrader_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def new_course(workdir: Path, assignments: list[str], root: Path | None = None) -> Path:
    """A scratch course directory (config + chosen sources) so tests never touch the real one."""
    root = root or course_root()
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy(root / "nbgrader_config.py", workdir / "nbgrader_config.py")
    for aid in assignments:
        shutil.copytree(root / "solutions" / aid, workdir / "solutions" / aid, dirs_exist_ok=True)
    return workdir


def generate(course: Path, aid: str) -> Path:
    nbgrader(["generate_assignment", aid, "--force"], course)
    return course / "assignments" / aid


def submit(course: Path, aid: str, student: str, notebooks: dict[str, object]) -> None:
    folder = course / "submitted" / student / aid
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / name)


_STUDENT_START = re.compile(r"^(\d+\.\d+) Creating/updating student with ID '([^']+)'")


_STUDENT_FAILED = re.compile(r"There was an error processing assignment '[^']*' for student '([^']+)'")


def autograde(course: Path, aid: str, student: str | None = None, on_start=None, check: bool = True,
              failures: dict[str, str] | None = None) -> dict[str, float]:
    """Autograde in one nbgrader run (all submissions, or one student); return seconds per student.

    ``on_start(student)`` is called as nbgrader starts each student (a progress display).
    A student whose autograde nbgrader reports as failed (the notebook was not produced: a
    kernel that could not start, say; a kernel that dies mid-way is handled inside) is graded
    once more on their own; ``failures`` (a dict, if given) receives the failed run's log per
    student.
    nbgrader exits non-zero when any student failed; ``check=False`` leaves that to the caller
    (the grading run reports such students itself), otherwise it raises.
    """
    returncode, text = _autograde_run(course, aid, student, on_start)
    seconds = per_student_seconds(text, end=time.time())
    failed = sorted(set(_STUDENT_FAILED.findall(text)) - ({student} if student else set()))
    if student is None and failed:
        still_failing = []
        for name in failed:
            if failures is not None:
                failures[name] = text[-8000:]
            print(f"[dlcourse] autograde of {name} failed; grading it once more on its own", file=sys.stderr)
            retry_code, retry_text = _autograde_run(course, aid, name, on_start)
            seconds[name] = round(seconds.get(name, 0.0) + per_student_seconds(retry_text, end=time.time()).get(name, 0.0), 2)
            text += retry_text
            if retry_code != 0:
                still_failing.append(name)
        returncode = 1 if still_failing else 0
    if check and returncode != 0:
        raise RuntimeError(f"autograde of {aid} failed ({returncode}):\n{text[-6000:]}")
    return seconds


def _autograde_run(course: Path, aid: str, student: str | None, on_start) -> tuple[int, str]:
    cmd = nbgrader_command("autograde", aid, "--force", "--Application.log_format=%(created)f %(message)s",
                           "--log-level=INFO", *([f"--student={student}"] if student else []))
    proc = subprocess.Popen(cmd, cwd=course, env=nbgrader_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log = []
    for line in proc.stdout:
        log.append(line)
        match = _STUDENT_START.match(line)
        if match and on_start:
            on_start(match.group(2))
    proc.wait()
    return proc.returncode, "".join(log)


def per_student_seconds(log: str, end: float) -> dict[str, float]:
    """Split a batch's wall time at each student's first log line; the last one ends at ``end``."""
    marks = [(float(m.group(1)), m.group(2)) for m in map(_STUDENT_START.match, log.splitlines()) if m]
    bounds = [t for t, _ in marks[1:]] + [end]
    return {student: round(stop - t, 2) for (t, student), stop in zip(marks, bounds)}


def scores(course: Path, aid: str, student: str, db_url: str | None = None) -> dict[str, float]:
    """Points per graded cell of one student's notebooks, from the gradebook (the course's
    SQLite file unless ``db_url`` names another database, PostgreSQL say)."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url or f"sqlite:///{course / 'gradebook.db'}") as gb:
        submission = gb.find_submission(aid, student)
        result: dict[str, float] = {}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                result[grade.name] = float(grade.score)
        return result
