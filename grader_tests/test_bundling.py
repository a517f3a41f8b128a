"""The packing rule of batches.bundle on a made-up notebook: cases share a submission only when
neither can change or hide the other's points."""

from __future__ import annotations

import nbformat

from batches import bundle
from dlcourse.grader import nbgrading as g


def _cell(gid: str, solution: bool, source: str = ""):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade_id": gid, "solution": solution, "grade": not solution, "points": 1}
    return cell


NB = nbformat.v4.new_notebook(cells=[
    _cell("f", True), _cell("test_f", False),
    _cell("g", True), _cell("test_g", False),
    _cell("h", True), _cell("test_h", False),
])
SOURCE = {"x.ipynb": NB}


def _names(packed):
    return sorted(sorted(c.name for c in members) for members in packed)


def test_independent_cases_share_one_submission():
    cases = [g.Case("f1", "", {"f": "def f():\n    return 1\n"}, {"test_f": 0}),
             g.Case("g1", "", {"g": "def g():\n    return 2\n"}, {"test_g": 0}),
             g.Case("h_ok", "", {"h": "def h():\n    return 3\n"})]
    assert _names(bundle(cases, SOURCE)) == [["f1", "g1", "h_ok"]]


def test_cases_on_the_same_cell_or_test_go_apart():
    same_cell = [g.Case("f1", "", {"f": "def f():\n    return 1\n"}, {"test_f": 0}),
                 g.Case("f2", "", {"f": "def f():\n    return 2\n"}, {"test_f": 0})]
    assert _names(bundle(same_cell, SOURCE)) == [["f1"], ["f2"]]
    # g1 states a score for f's test (its g breaks f's test through shared state): not with f's case
    same_test = [g.Case("f1", "", {"f": "def f():\n    return 1\n"}, {"test_f": 0}),
                 g.Case("g1", "", {"g": "def g():\n    return 2\n"}, {"test_f": 0, "test_g": 0})]
    assert _names(bundle(same_test, SOURCE)) == [["f1"], ["g1"]]


def test_a_case_that_calls_what_another_defines_goes_apart():
    cases = [g.Case("f_wrong", "", {"f": "def f():\n    return 1\n"}, {"test_f": 0}),
             g.Case("g_calls_f", "", {"g": "def g():\n    return f() + 1\n"}, {"test_g": 0}),
             g.Case("h_uses_constant", "", {"h": "def h():\n    return LIMIT\n"}, {"test_h": 0}),
             g.Case("f_sets_constant", "", {"f": "LIMIT = 3\ndef f():\n    return 1\n"})]
    packed = _names(bundle(cases, SOURCE))
    assert ["f_wrong", "g_calls_f"] not in packed and all(
        not {"f_wrong", "g_calls_f"} <= set(m) for m in packed), packed
    assert all(not {"h_uses_constant", "f_sets_constant"} <= set(m) for m in packed), packed


def test_cases_that_edit_the_notebook_go_alone():
    cases = [g.Case("f1", "", {"f": "def f():\n    return 1\n"}, {"test_f": 0}),
             g.Case("edit", "", {}, {"test_g": 0}, edit={"test_g": "pass"}),
             g.Case("h1", "", {"h": "def h():\n    return 1\n"}, {"test_h": 0})]
    assert _names(bundle(cases, SOURCE)) == [["edit"], ["f1", "h1"]]
