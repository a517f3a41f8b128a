"""Build and maintain the course notebooks: cells with nbgrader metadata, Colab badge and setup.

Authoring::

    from dlcourse.tools.nbtools import md, code, solution, tests, write_notebook
    write_notebook("solutions/a00/a00.ipynb", [
        md("# A00 ..."),
        solution("conv2d", "def conv2d(...):\\n    ### BEGIN SOLUTION\\n    ...\\n    ### END SOLUTION"),
        tests("test_conv2d", 2, "check_close(conv2d(...), ...)"),
    ], colab_path="assignments/a00/a00.ipynb")

The Colab badge and setup cell are inserted first and rewritten from ``course.toml`` by
``make colab`` (``python -m dlcourse.tools.nbtools colab``), so the repository URL is one setting.
Until the course is published (``published = false`` in ``course.toml``) that URL is a
placeholder and ``make colab`` refuses to run.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import nbformat

ROOT_MARKER = "course.toml"
BADGE_TAG = "colab-badge"
SETUP_TAG = "colab-setup"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def md(text: str, **metadata) -> nbformat.NotebookNode:
    return nbformat.v4.new_markdown_cell(text.strip("\n"), metadata=metadata)


def code(source: str, **metadata) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source.strip("\n"), metadata=metadata)


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked, "schema_version": 3}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def solution(grade_id: str, source: str) -> nbformat.NotebookNode:
    """An autograded answer cell: the student writes code between the SOLUTION markers."""
    if "### BEGIN SOLUTION" not in source:
        raise ValueError(f"solution cell {grade_id} has no '### BEGIN SOLUTION' marker")
    return code(source, **_nbgrader(grade_id, solution=True, grade=False, locked=False))


def tests(grade_id: str, points: float, source: str) -> nbformat.NotebookNode:
    """A locked, graded test cell; hidden parts go between BEGIN/END HIDDEN TESTS."""
    return code(source, **_nbgrader(grade_id, solution=False, grade=True, locked=True, points=points))


def locked(grade_id: str, source: str, *, markdown: bool = False) -> nbformat.NotebookNode:
    """A read-only cell (setup or instructions) that autograding restores from the source."""
    meta = _nbgrader(grade_id, solution=False, grade=False, locked=True)
    return md(source, **meta) if markdown else code(source, **meta)


# ----------------------------------------------------------------- Colab badge and setup cell
def find_root(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ROOT_MARKER).exists():
            return folder
    raise FileNotFoundError(f"no {ROOT_MARKER} above {here}: run this inside the course repository")


def course_settings(root: Path | None = None) -> dict:
    root = root or find_root()
    with open(root / ROOT_MARKER, "rb") as handle:
        return tomllib.load(handle)["course"]


class NotPublished(RuntimeError):
    """``course.toml`` does not name a published repository: Colab links would not work."""


def published_settings(root: Path | None = None) -> dict:
    """The course settings, if they name a published GitHub repository; else ``NotPublished``."""
    root = root or find_root()
    settings = course_settings(root)
    where = root / ROOT_MARKER
    repo = str(settings.get("repo", "")).strip()
    if settings.get("published") is not True:
        raise NotPublished(
            f"{where}: the course is not published yet (published = {str(settings.get('published', 'missing')).lower()}), "
            f"so repo = {repo!r} is a placeholder and Colab badges and setup cells written from it would 404.\n"
            "Once the repository is public: set repo and branch to it and published = true in course.toml, "
            "then run `make colab` again. Nothing was changed."
        )
    if not repo.startswith("https://github.com/") or _github_slug(repo).count("/") != 1:
        raise NotPublished(f"{where}: repo = {repo!r} is not a GitHub repository URL (https://github.com/OWNER/NAME). Nothing was changed.")
    if not str(settings.get("branch", "")).strip():
        raise NotPublished(f"{where}: branch is empty. Nothing was changed.")
    return settings


def _github_slug(repo_url: str) -> str:
    return repo_url.rstrip("/").removesuffix(".git").split("github.com/", 1)[-1]


def badge_cell(colab_path: str, settings: dict) -> nbformat.NotebookNode:
    url = f"https://colab.research.google.com/github/{_github_slug(settings['repo'])}/blob/{settings['branch']}/{colab_path}"
    text = f'<a href="{url}" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" alt="Open In Colab"/></a>'
    return md(text, tags=[BADGE_TAG])


def setup_cell(settings: dict) -> nbformat.NotebookNode:
    spec = f"dlcourse[{settings.get('extras', 'text')}] @ git+{settings['repo']}@{settings['branch']}"
    source = f'''# On Colab, install the course helpers; locally `make lab` has installed them already.
# Colab keeps its own TensorFlow/Keras: the helpers' version ranges are loose on purpose.
import sys

if "google.colab" in sys.modules:
    import subprocess

    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{spec}"], check=True)'''
    return code(source, tags=[SETUP_TAG])


def apply_colab_cells(nb: nbformat.NotebookNode, colab_path: str, settings: dict) -> nbformat.NotebookNode:
    """Put (or replace) the badge and setup cells at the top of the notebook."""
    old = {t: c for c in nb.cells for t in c.metadata.get("tags", []) if t in (BADGE_TAG, SETUP_TAG)}
    kept = [c for c in nb.cells if not {BADGE_TAG, SETUP_TAG} & set(c.metadata.get("tags", []))]
    badge, setup = badge_cell(colab_path, settings), setup_cell(settings)
    for tag, cell in ((BADGE_TAG, badge), (SETUP_TAG, setup)):
        if tag in old and "id" in old[tag]:
            cell.id = old[tag].id  # stable ids keep a rewrite idempotent
    if any("nbgrader" in c.metadata for c in kept):
        # In nbgrader notebooks the two cells are locked, so a release restores them too.
        badge.metadata["nbgrader"] = _nbgrader("colab_badge", solution=False, grade=False, locked=True)["nbgrader"]
        setup.metadata["nbgrader"] = _nbgrader("colab_setup", solution=False, grade=False, locked=True)["nbgrader"]
    nb.cells = [badge, setup, *kept]
    return nb


def new_notebook(cells: list, **metadata) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata.update(metadata)
    nb.cells = list(cells)
    return nb


def write_notebook(path: str | Path, cells: list, *, colab_path: str | None = None, time_budget_s: int | None = None) -> Path:
    """Write a notebook without outputs, with the Colab cells on top.

    ``colab_path`` is the path Colab opens (for a solution notebook: its release in
    ``assignments/``); ``time_budget_s`` overrides the runner's default quick-mode budget.
    """
    path = Path(path)
    existing = next(folder for folder in path.resolve().parents if folder.exists())
    root = find_root(existing)
    meta = {"dlcourse": {"time_budget_s": time_budget_s}} if time_budget_s else {}
    nb = new_notebook(cells, **meta)
    rel = colab_path or path.resolve().relative_to(root).as_posix()
    apply_colab_cells(nb, rel, course_settings(root))
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return path


def colab_path_for(path: Path, root: Path) -> str:
    """Solutions open in Colab as their student release; lectures as themselves."""
    rel = path.resolve().relative_to(root)
    if rel.parts[0] == "solutions":
        return Path("assignments", *rel.parts[1:]).as_posix()
    return rel.as_posix()


def rewrite_colab_cells(root: Path | None = None) -> list[Path]:
    """Rewrite badge and setup cells of every lecture and solution notebook from course.toml.

    Refuses (``NotPublished``, before touching any notebook) while course.toml does not mark
    the course as published.
    """
    root = root or find_root()
    settings = published_settings(root)
    changed = []
    for path in sorted([*root.glob("lectures/**/*.ipynb"), *root.glob("solutions/**/*.ipynb")]):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        apply_colab_cells(nb, colab_path_for(path, root), settings)
        if nbformat.writes(nb) != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def strip_outputs(path: Path) -> bool:
    nb = nbformat.read(path, as_version=4)
    dirty = False
    for cell in nb.cells:
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count):
            cell.outputs, cell.execution_count, dirty = [], None, True
    if dirty:
        nbformat.write(nb, path)
    return dirty


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["colab"]:
        try:
            changed = rewrite_colab_cells()
        except NotPublished as refusal:
            print(f"make colab: {refusal}", file=sys.stderr)
            return 1
        for path in changed:
            print(f"rewrote Colab cells in {path}")
        return 0
    if args[:1] == ["strip"]:
        for name in args[1:]:
            if strip_outputs(Path(name)):
                print(f"stripped outputs from {name}")
        return 0
    print("usage: python -m dlcourse.tools.nbtools colab | strip NOTEBOOK...", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
