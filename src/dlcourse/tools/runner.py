"""Execute a notebook top to bottom in a fresh kernel, offline and in quick mode, and time it.

Used by ``tests/test_notebooks.py`` (``make notebooks``); also a command:
``python -m dlcourse.tools.runner lectures/01_images.ipynb``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import nbformat

DEFAULT_BUDGET_S = 90
RUN_ENV = {"DLCOURSE_MODE": "quick", "DLCOURSE_OFFLINE": "1", "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}


class NotebookFailed(AssertionError):
    pass


def budget_of(nb) -> int:
    """Seconds a notebook may take in quick mode: its metadata ``dlcourse.time_budget_s`` or 90."""
    return int(nb.metadata.get("dlcourse", {}).get("time_budget_s") or DEFAULT_BUDGET_S)


def run_notebook(path: str | Path) -> tuple[float, int]:
    """Run ``path`` in its own folder; return (wall seconds, budget). Raises NotebookFailed."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    budget = budget_of(nb)
    os.environ.update(RUN_ENV)  # the kernel inherits this process's environment
    client = NotebookClient(
        nb,
        timeout=budget,  # no single cell may take the whole budget and more
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as exc:
        raise NotebookFailed(f"{path} failed after {time.perf_counter() - start:.1f} s:\n{exc}") from None
    return time.perf_counter() - start, budget


def main(argv: list[str] | None = None) -> int:
    status = 0
    for name in (sys.argv[1:] if argv is None else argv):
        try:
            seconds, budget = run_notebook(name)
        except NotebookFailed as exc:
            print(exc, file=sys.stderr)
            status = 1
            continue
        verdict = "ok" if seconds <= budget else "OVER BUDGET"
        status |= seconds > budget
        print(f"{seconds:7.1f} s / {budget} s  {verdict}  {name}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
