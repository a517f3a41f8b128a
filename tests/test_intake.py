"""Intake checks on submissions made from the real release notebooks (no execution, no nbgrader)."""

import copy
import json
from pathlib import Path

import nbformat
import pytest

from dlcourse.grader.intake import IntakeReport, check_submission, format_report

ROOT = Path(__file__).resolve().parents[1]


def _load(path):
    return nbformat.read(ROOT / path, as_version=4)


@pytest.fixture(scope="module")
def release():
    return _load("assignments/a05/a05.ipynb")


@pytest.fixture(scope="module")
def filled(release):
    """The release with every answer cell holding the reference answer, as a student would hand in."""
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in _load("solutions/a05/a05.ipynb").cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "\n".join(line for line in answers[gid(cell)].splitlines() if "### " not in line)
    return nb


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def gids(nb):
    return [gid(c) for c in nb.cells]


def index(nb, grade_id):
    return gids(nb).index(grade_id)


def submit(tmp_path, nb, release, restore=True, name="a05.ipynb"):
    path = tmp_path / name
    nbformat.write(nb, path)
    return check_submission(path, release, restore=restore)


def test_untouched_release_and_filled_submission_are_ok(tmp_path, release, filled):
    for nb in (release, filled):
        out, report = submit(tmp_path, copy.deepcopy(nb), release)
        assert report == IntakeReport("a05.ipynb", [], [], False) and report.ok
        assert out == nb


def test_deleted_test_cell_is_restored_in_place(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    at = index(nb, "test_idf")
    del nb.cells[at]
    out, report = submit(tmp_path, nb, release)
    assert report.problems == ["test cell 'test_idf' is missing"]
    assert report.repairs == ["restored locked cell 'test_idf' from the release"]
    assert gids(out) == gids(release)
    restored = out.cells[at]
    assert restored.source == release.cells[at].source
    assert restored.metadata["nbgrader"] == release.cells[at].metadata["nbgrader"]
    assert out.cells[at - 1].source == filled.cells[at - 1].source, "the student's answer is kept"
    nbformat.validate(out)

    same, report = submit(tmp_path, nb, release, restore=False)
    assert same == nb and report.problems == ["test cell 'test_idf' is missing"] and not report.repairs


def test_consecutive_missing_cells_and_a_missing_first_cell(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    nb.cells = [c for c in nb.cells if gid(c) not in {"colab_badge", "idf", "test_idf", "tf_idf"}]
    out, report = submit(tmp_path, nb, release)
    assert gids(out) == gids(release)
    assert out.cells[0].source == release.cells[0].source
    assert out.cells[index(out, "idf")].source == release.cells[index(release, "idf")].source
    assert "answer cell 'tf_idf' is missing" in report.problems


def test_deleted_answer_cell_gets_the_release_stub(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    at = index(nb, "idf")
    del nb.cells[at]
    out, report = submit(tmp_path, nb, release)
    assert report.problems == ["answer cell 'idf' is missing"]
    assert report.repairs == ["inserted the release stub for answer cell 'idf' (its tests fail with NotImplementedError)"]
    assert gids(out) == gids(release)
    assert out.cells[at].source == release.cells[at].source and "NotImplementedError" in out.cells[at].source
    assert out.cells[at].metadata["nbgrader"] == release.cells[at].metadata["nbgrader"]


def test_no_stub_over_a_function_the_student_moved_into_another_answer(tmp_path, release, filled):
    """idf's answer cell deleted but idf defined in the tf_idf cell: a stub would break it."""
    nb = copy.deepcopy(filled)
    idf_source = nb.cells[index(nb, "idf")].source
    nb.cells[index(nb, "tf_idf")].source = idf_source + "\n\n" + nb.cells[index(nb, "tf_idf")].source
    del nb.cells[index(nb, "idf")]
    out, report = submit(tmp_path, nb, release)
    assert "answer cell 'idf' is missing" in report.problems
    assert "no stub inserted for 'idf': idf is defined in another cell" in report.problems
    assert "idf" not in gids(out) and len(out.cells) == len(nb.cells) and not report.repairs


def test_colab_stripped_metadata_is_rematched(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    for cell in nb.cells:
        cell.metadata = {}  # Colab: all cell metadata gone
    out, report = submit(tmp_path, nb, release)
    graded = [g for g in gids(release) if g]
    assert report.problems == [f"nbgrader metadata stripped from {len(graded)} cell(s): {', '.join(map(repr, graded))}"]
    assert report.repairs == [f"re-attached the release's nbgrader metadata to {len(graded)} cell(s)"]
    assert gids(out) == gids(release)
    for mine, theirs, answered in zip(out.cells, release.cells, filled.cells):
        assert mine.source == answered.source, "answers kept"
        assert mine.metadata.get("nbgrader") == theirs.metadata.get("nbgrader")

    same, report = submit(tmp_path, nb, release, restore=False)
    assert same == nb and not report.repairs and not report.ok


def test_stripped_and_edited_test_cell_is_restored_next_to_the_edit(tmp_path, release, filled):
    """Without metadata an edited test cell cannot be recognised: the release's copy is restored
    (after the answer) and the edited one stays an ordinary cell that nbgrader does not grade."""
    nb = copy.deepcopy(filled)
    for cell in nb.cells:
        cell.metadata = {}
    at = index(filled, "test_idf")
    nb.cells[at].source = "print('my own check')"
    out, report = submit(tmp_path, nb, release)
    assert report.problems[-1] == "test cell 'test_idf' is missing"
    assert gids(out)[at - 1:at + 2] == ["idf", "test_idf", None]
    assert out.cells[at].source == release.cells[at].source and out.cells[at + 1].source == "print('my own check')"


def test_stripped_and_reordered_cells_match_by_content(tmp_path, release, filled):
    """Colab-stripped, plus a student's own cells and a moved instruction cell: answers are found
    by the functions they define, untouched locked cells by their source."""
    nb = copy.deepcopy(filled)
    for cell in nb.cells:
        cell.metadata = {}
    section5 = next(i for i, c in enumerate(nb.cells) if c.source.startswith("## 5."))
    nb.cells.insert(section5 + 1, nb.cells.pop(section5))  # the header now sits after the idf answer
    nb.cells.insert(section5 + 1, nbformat.v4.new_code_cell("print(idf([['a']]))"))  # a try-out cell
    nb.cells.insert(section5, nbformat.v4.new_code_cell("def helper(x):\n    return x"))
    out, report = submit(tmp_path, nb, release)
    by_id = {gid(c): c.source for c in out.cells if gid(c)}
    assert by_id == {gid(c): f.source for c, f in zip(release.cells, filled.cells) if gid(c)}
    assert [g for g in gids(out) if g] == [g for g in gids(release) if g]
    assert len(out.cells) == len(nb.cells) and len(report.problems) == 1


def test_cells_out_of_release_order_are_reported_not_moved(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    at = index(nb, "idf")
    nb.cells[at], nb.cells[at + 1] = nb.cells[at + 1], nb.cells[at]  # test_idf now runs first
    out, report = submit(tmp_path, nb, release)
    assert len(report.problems) == 1 and "'test_idf'" in report.problems[0] and "'idf'" in report.problems[0]
    assert "runs before" in report.problems[0] or "runs after" in report.problems[0]
    assert out == nb and not report.repairs


def test_changed_grade_ids_are_reset(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    nb.cells[index(nb, "test_idf")].metadata["nbgrader"]["grade_id"] = "cell-8f3a"  # locked: same source
    nb.cells[index(nb, "tf_idf")].metadata["nbgrader"]["grade_id"] = "tf_idf_copy"  # answer: same functions
    out, report = submit(tmp_path, nb, release)
    assert report.problems == ["grade_id changed: 'cell-8f3a' -> expected 'test_idf'",
                               "grade_id changed: 'tf_idf_copy' -> expected 'tf_idf'"]
    assert gids(out) == gids(release)
    assert out.cells[index(out, "tf_idf")].source == filled.cells[index(filled, "tf_idf")].source


def test_duplicated_test_cell_keeps_the_one_in_place(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    at = index(nb, "test_idf")
    nb.cells.insert(3, copy.deepcopy(nb.cells[at]))  # copied to the top, before idf exists
    nb.cells.insert(at + 2, copy.deepcopy(nb.cells[at + 1]))  # and pasted again right below
    nb.cells[3].id, nb.cells[at + 2].id = "copy1", "copy2"  # Jupyter gives a pasted cell a new id
    out, report = submit(tmp_path, nb, release)
    assert report.problems == ["duplicate grade_id 'test_idf' in cell 4 (a copy of cell 29)",
                               "duplicate grade_id 'test_idf' in cell 30 (a copy of cell 29)"]
    assert gids(out).count("test_idf") == 1 and index(out, "test_idf") == at + 1
    assert "nbgrader" not in out.cells[3].metadata and "nbgrader" not in out.cells[at + 2].metadata
    assert report.repairs == ["removed the nbgrader metadata (grade_id 'test_idf') of cell 4",
                              "removed the nbgrader metadata (grade_id 'test_idf') of cell 30"]
    assert len(out.cells) == len(nb.cells)


def test_edited_locked_cell_and_altered_metadata_are_reported(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    test = nb.cells[index(nb, "test_idf")]
    test.source = "pass  # the tests were too hard"
    test.metadata["nbgrader"]["points"] = 20
    del nb.metadata["kernelspec"]  # nbgrader's OverwriteKernelspec puts it back: not a problem
    out, report = submit(tmp_path, nb, release)
    assert report.problems == ["nbgrader metadata of 'test_idf' altered: points",
                               "locked cell 'test_idf' was edited (nbgrader restores it)"]
    assert out.cells[index(out, "test_idf")].metadata["nbgrader"]["points"] == 2
    assert out.cells[index(out, "test_idf")].source == test.source, "nbgrader, not intake, restores the source"


def test_unknown_grade_id_pasted_from_another_assignment_is_removed(tmp_path, release, filled):
    a01 = _load("assignments/a01/a01.ipynb")
    nb = copy.deepcopy(filled)
    nb.cells.append(copy.deepcopy(a01.cells[index(a01, "test_pool2d")]))
    out, report = submit(tmp_path, nb, release)
    assert report.problems == [f"cell {len(nb.cells)} has grade_id 'test_pool2d', unknown to the release"]
    assert "nbgrader" not in out.cells[-1].metadata and gids(out)[:-1] == gids(release)


@pytest.mark.parametrize("content, reason", [
    ("", "the file is empty"),
    ("{\"cells\": [", "invalid JSON"),
    ("not json at all", "invalid JSON"),
    ("[1, 2]", "not a notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "not a readable notebook"),
    ('{"nbformat": 9, "nbformat_minor": 0, "metadata": {}, "cells": []}', "not a readable notebook"),
])
def test_unreadable_submissions_are_fatal(tmp_path, release, content, reason):
    path = tmp_path / "a05.ipynb"
    path.write_text(content)
    nb, report = check_submission(path, release)
    assert nb is None and report.fatal and not report.ok and reason in report.problems[0]


def test_truncated_and_binary_files_are_fatal(tmp_path, release, filled):
    path = tmp_path / "a05.ipynb"
    text = nbformat.writes(filled)
    path.write_text(text[: len(text) // 2])
    assert check_submission(path, release)[0] is None
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    nb, report = check_submission(path, release)
    assert nb is None and report.fatal and "UnicodeDecodeError" in report.problems[0]
    nb, report = check_submission(tmp_path / "absent.ipynb", release)
    assert nb is None and report.fatal


def test_wrong_notebook_is_fatal(tmp_path, release):
    a01 = _load("assignments/a01/a01.ipynb")  # shares colab_badge, colab_setup, setup with a05
    nb, report = submit(tmp_path, a01, release)
    assert nb is None and report.fatal and "no answer cell" in report.problems[-1]


def test_nbformat3_submission_is_upgraded(tmp_path, release, filled):
    path = tmp_path / "a05.ipynb"
    path.write_text(nbformat.writes(nbformat.convert(copy.deepcopy(filled), 3)))
    out, report = check_submission(path, release)
    assert report.ok and out.nbformat == 4
    assert gids(out) == gids(release) and [c.source for c in out.cells] == [c.source for c in filled.cells]


def test_nbformat44_without_cell_ids_stays_valid(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    nb.nbformat_minor = 4
    for cell in nb.cells:
        cell.pop("id")
    del nb.cells[index(nb, "test_sigmoid")]
    path = tmp_path / "a05.ipynb"
    path.write_text(json.dumps(nb))
    out, report = check_submission(path, release)
    assert gids(out) == gids(release) and "id" not in out.cells[index(out, "test_sigmoid")]
    nbformat.validate(out)


def test_a01_stripped_with_a_deleted_test(tmp_path):
    release = _load("assignments/a01/a01.ipynb")
    nb = copy.deepcopy(release)
    nb.cells[index(nb, "build_cnn")].source = "PARAM_CAP = 40_000\n\ndef build_cnn():\n    return None"
    at = index(nb, "test_cnn_builds")
    del nb.cells[at]
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    out, report = submit(tmp_path, nb, release, name="a01.ipynb")
    assert gids(out) == gids(release)
    assert out.cells[at - 1].source.endswith("return None")
    assert out.cells[at].source == release.cells[at].source
    assert report.problems[-1] == "test cell 'test_cnn_builds' is missing"


def test_format_report(tmp_path, release, filled):
    nb = copy.deepcopy(filled)
    del nb.cells[index(nb, "test_idf")]
    text = format_report("ann", submit(tmp_path, nb, release)[1])
    assert text.splitlines() == [
        "ann / a05.ipynb: 1 problem(s), 1 repair(s)",
        "  - test cell 'test_idf' is missing",
        "  + restored locked cell 'test_idf' from the release",
    ]
    assert format_report("bob", IntakeReport("a05.ipynb", [], [])) == "bob / a05.ipynb: ok"
    assert format_report("eve", IntakeReport("a05.ipynb", ["the file is empty"], [], True)).startswith(
        "eve / a05.ipynb: FATAL")
