"""The grading pool of the grader tests: started as soon as collection shows a test needs it (so
the graders work while the static tests run), shared by all tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import batches  # noqa: E402


def pytest_collection_finish(session):
    """After selection (-k, -m): start grading only if a selected test reads the pool."""
    items = session.items
    if not any("pool" in getattr(item, "fixturenames", ()) for item in items):
        return
    base = session.config._tmp_path_factory.mktemp("grading")
    extra = {}
    if any(item.path.name == "test_classroom.py" for item in items):
        from test_classroom import demo_class_job

        extra["demo-class"] = (150, lambda: demo_class_job(base))
    session.config._dlcourse_pool = batches.Pool(base, extra_jobs=extra)


@pytest.fixture(scope="session")
def pool(request):
    running = getattr(request.config, "_dlcourse_pool", None)
    if running is None:
        pytest.fail("the grading pool was not started at collection (pytest_collection_finish)")
    yield running
    running.shutdown()


def pytest_sessionfinish(session):
    running = getattr(session.config, "_dlcourse_pool", None)
    if running is not None:
        running.shutdown()
