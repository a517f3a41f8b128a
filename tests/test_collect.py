"""The collector reads LMS layouts (Moodle folders, Canvas file names, Colab copies)."""

from __future__ import annotations

import os
import time
from pathlib import PurePath

import pytest

from dlcourse.grader import collect


@pytest.mark.parametrize("rel,student,original", [
    ("Ann Lee_123456_assignsubmission_file_/Copy of a01.ipynb", "ann_lee", "Copy of a01.ipynb"),
    ("leeann_123456_7890123_Copy of a01.ipynb", "leeann", "Copy of a01.ipynb"),
    ("leeann_LATE_123456_7890123_a01.ipynb", "leeann", "a01.ipynb"),
    ("Ann.Lee/homework.ipynb", "ann.lee", "homework.ipynb"),
    ("ann.lee.ipynb", "ann.lee", "ann.lee.ipynb"),
])
def test_collector_reads_lms_layouts(rel, student, original):
    entry = collect.parse(PurePath(rel))
    assert (entry.student, entry.original) == (student, original)


@pytest.mark.parametrize("rel", ["__MACOSX/Ann/._a01.ipynb", "Ann/.ipynb_checkpoints/a01-checkpoint.ipynb", "Ann/notes.txt"])
def test_collector_skips_junk(rel):
    assert collect.parse(PurePath(rel)) is None


def test_plan_prefers_the_notebook_named_after_the_assignment_then_the_newest(tmp_path):
    folder = tmp_path / "Ann Lee_1_assignsubmission_file_"
    folder.mkdir()
    for name in ("scratch.ipynb", "Copy of a01.ipynb", "Copy of a01 (1).ipynb"):
        (folder / name).write_text("{}")
    old = time.time() - 3600
    os.utime(folder / "Copy of a01.ipynb", (old, old))
    chosen = collect.plan(tmp_path, "a01")["ann_lee"]
    assert [e.original for e in chosen] == ["Copy of a01 (1).ipynb", "Copy of a01.ipynb", "scratch.ipynb"]
    assert collect.mentions("Copy of a01 (1).ipynb", "a01") and not collect.mentions("a012.ipynb", "a01")
