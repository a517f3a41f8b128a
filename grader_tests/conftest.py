"""The grading pool of the grader tests: started by the first test that needs it, shared by all."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import batches  # noqa: E402


def pytest_collection_modifyitems(session, config, items):
    config._dlcourse_classroom = any(item.path.name == "test_classroom.py" for item in items)


@pytest.fixture(scope="session")
def pool(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("grading")
    extra = {}
    if getattr(request.config, "_dlcourse_classroom", False):
        from test_classroom import demo_class_job

        extra["demo-class"] = (150, lambda: demo_class_job(base))
    running = batches.Pool(base, extra_jobs=extra)
    yield running
    running.shutdown()
