import nbformat
import pytest

from dlcourse.grader import nbgrading as g
from dlcourse.tools import nbtools

ROOT = g.course_root()


def _source():
    return nbtools.new_notebook([
        nbtools.md("# intro"),
        nbtools.solution("f", "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        nbtools.tests("test_f", 2, "assert f(2) == 4"),
    ])


def test_answer_of_strips_markers_only():
    assert g.answer_of("def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION") == "def f(x):\n    return 2 * x"


def test_make_submission_fills_release_and_applies_replacements():
    source = _source()
    release = nbtools.new_notebook([c.copy() for c in source.cells])
    release.cells[1].source = "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    filled = g.make_submission(release, source)
    assert filled.cells[1].source == "def f(x):\n    return 2 * x"
    wrong = g.make_submission(release, source, {"f": "def f(x):\n    return x"})
    assert wrong.cells[1].source == "def f(x):\n    return x"
    assert release.cells[1].source.endswith("NotImplementedError()"), "the release itself is not modified"
    with pytest.raises(KeyError, match="no answer cell with grade_id \\['g'\\]"):
        g.make_submission(release, source, {"g": ""})


def test_points_and_cell_kinds():
    nb = _source()
    assert g.points_by_test(nb) == {"test_f": 2.0}
    assert g.is_solution(nb.cells[1]) and not g.is_test(nb.cells[1]) and g.is_test(nb.cells[2])


def test_strip_skip_tags_preprocessor():
    cell = nbformat.v4.new_code_cell("assert False", metadata={"tags": ["skip-execution", "keep"]})
    cell, _ = g.StripSkipTags().preprocess_cell(cell, {}, 0)
    assert cell.metadata["tags"] == ["keep"]


def test_per_student_seconds_splits_the_batch_log():
    log = "\n".join([
        "100.0 Creating/updating student with ID 'ann': {}",
        "101.0 Autograding /x/autograded/ann/a00/a00.ipynb",
        "112.5 Creating/updating student with ID 'bob': {}",
        "120.0 Writing 10 bytes",
    ])
    assert g.per_student_seconds(log, end=130.0) == {"ann": 12.5, "bob": 17.5}


def test_load_cases_rejects_duplicate_names(tmp_path):
    path = tmp_path / "x.toml"
    path.write_text('[[case]]\nname = "a"\n[[case]]\nname = "a"\n')
    with pytest.raises(ValueError, match="case names must be unique"):
        g.load_cases(path)


def test_colab_cells_are_rewritten_from_the_setting(tmp_path):
    (tmp_path / "course.toml").write_text('[course]\nrepo = "https://github.com/someone/course"\nbranch = "dev"\n')
    nb_path = tmp_path / "solutions" / "a09" / "a09.ipynb"
    nbtools.write_notebook(nb_path, list(_source().cells))
    nb = nbformat.read(nb_path, as_version=4)
    assert "github/someone/course/blob/dev/solutions/a09/a09.ipynb" in nb.cells[0].source
    assert "git+https://github.com/someone/course@dev" in nb.cells[1].source
    assert nb.cells[0].metadata["nbgrader"]["locked"], "badge and setup are locked in nbgrader notebooks"
    (tmp_path / "course.toml").write_text('[course]\npublished = true\nrepo = "https://github.com/other/repo"\nbranch = "main"\n')
    assert nbtools.rewrite_colab_cells(tmp_path) == [nb_path]
    nb = nbformat.read(nb_path, as_version=4)
    assert "github/other/repo/blob/main/assignments/a09/a09.ipynb" in nb.cells[0].source
    assert len(nb.cells) == 5, "cells are replaced, not added"
    assert nbtools.rewrite_colab_cells(tmp_path) == [], "a second rewrite changes nothing"


def test_committed_notebooks_have_no_outputs_and_colab_cells():
    paths = [p for folder in ("lectures", "solutions", "assignments") for p in (ROOT / folder).glob("**/*.ipynb")]
    assert paths
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
        assert not dirty, f"{path.relative_to(ROOT)} was committed with outputs in cells {dirty}: run `make strip`"
        tags = [t for c in nb.cells[:2] for t in c.metadata.get("tags", [])]
        assert tags == [nbtools.BADGE_TAG, nbtools.SETUP_TAG], f"{path.relative_to(ROOT)} lacks the Colab badge/setup cells"


def test_colab_cells_match_course_settings():
    assert nbtools.rewrite_colab_cells.__doc__
    settings = nbtools.course_settings(ROOT)
    for path in (ROOT / "lectures").glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        assert nb.cells[0].source == nbtools.badge_cell(nbtools.colab_path_for(path, ROOT), settings).source, f"{path.name}: run `make colab`"


def test_grade_collects_a_folder_of_downloads_with_zip_collect(tmp_path):
    """A folder with a per-student folder and Canvas-named files goes through nbgrader's
    zip_collect into submitted/<student>/a00/a00.ipynb; junk and empty input are handled."""
    from dlcourse.grader import classroom

    course = g.new_course(tmp_path / "course", [])
    release = course / "assignments" / "a00"
    release.mkdir(parents=True)
    (release / "a00.ipynb").write_text("{}")
    downloads = tmp_path / "downloads"
    (downloads / "Bob Ray").mkdir(parents=True)
    (downloads / "Bob Ray" / "whatever.ipynb").write_text('{"bob": 1}')
    (downloads / "annlee_1234_5678_Copy of a00.ipynb").write_text('{"ann": 1}')
    (downloads / "notes.txt").write_text("not a notebook")
    students = classroom.collect_submissions(course, "a00", downloads)
    assert sorted(students) == ["annlee", "bob_ray"]
    assert students["annlee"].files == ["Copy of a00.ipynb"]
    assert (course / "submitted" / "bob_ray" / "a00" / "a00.ipynb").read_text() == '{"bob": 1}'
    assert (course / "submitted" / "annlee" / "a00" / "a00.ipynb").read_text() == '{"ann": 1}'
    (downloads / "empty").mkdir()
    with pytest.raises(SystemExit, match="no notebooks found"):
        classroom.collect_submissions(course, "a00", downloads / "empty")
    with pytest.raises(SystemExit, match="no such file"):
        classroom.collect_submissions(course, "a00", tmp_path / "missing.zip")


def test_autograde_grades_a_failed_student_once_more_and_keeps_the_log(monkeypatch, tmp_path):
    """nbgrader reports a student it could not process; that student is graded again alone."""
    calls = []
    first = ("100.0 Creating/updating student with ID 'ann'\n101.0 Creating/updating student with ID 'bob'\n"
             "[AutogradeApp | ERROR] There was an error processing assignment 'a00' for student 'bob'\n")

    def fake_run(course, aid, student, on_start):
        calls.append(student)
        if student is None:
            return 1, first
        return 0, f"{200.0} Creating/updating student with ID '{student}'\n"

    monkeypatch.setattr(g, "_autograde_run", fake_run)
    failures = {}
    seconds = g.autograde(tmp_path, "a00", failures=failures)  # check=True: must not raise after the retry
    assert calls == [None, "bob"]
    assert set(failures) == {"bob"} and "error processing" in failures["bob"]
    assert set(seconds) == {"ann", "bob"}

    def always_failing(course, aid, student, on_start):
        return 1, first if student is None else "[AutogradeApp | ERROR] There was an error processing assignment 'a00' for student 'bob'\n"

    monkeypatch.setattr(g, "_autograde_run", always_failing)
    with pytest.raises(RuntimeError, match="autograde of a00 failed"):
        g.autograde(tmp_path, "a00")
