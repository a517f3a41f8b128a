"""Measured numbers of a test run: reports/notebooks.json and reports/grading.json.

Each test writes a small part file (safe under pytest-xdist); the controller merges the parts
written in this session into the report, keeping entries of items this run did not touch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..grader.nbgrading import course_root

REPORTS = course_root() / "reports"


def _parts(kind: str) -> Path:
    return REPORTS / ".parts" / kind


def record(kind: str, name: str, entry: dict) -> None:
    folder = _parts(kind)
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    (folder / f"{safe}.json").write_text(json.dumps({"name": name, **entry}, indent=1))


def merge(kind: str, since: float) -> dict:
    """Fold part files newer than ``since`` into reports/<kind>.json; return the whole report."""
    path = REPORTS / f"{kind}.json"
    report = json.loads(path.read_text()) if path.exists() else {"items": {}}
    fresh = [p for p in sorted(_parts(kind).glob("*.json")) if p.stat().st_mtime >= since] if _parts(kind).exists() else []
    for part in fresh:
        entry = json.loads(part.read_text())
        report["items"][entry.pop("name")] = entry
    if fresh:
        report["updated"] = time.strftime("%Y-%m-%d %H:%M:%S")
        REPORTS.mkdir(exist_ok=True)
        path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report


def slowest_table(report: dict, key: str, limit: int = 10) -> str:
    rows = sorted(report.get("items", {}).items(), key=lambda kv: -kv[1].get(key, 0))[:limit]
    lines = [f"{'seconds':>8}  {'budget':>6}  item"]
    lines += [f"{entry.get(key, 0):8.1f}  {entry.get('budget_s', ''):>6}  {name}" for name, entry in rows]
    return "\n".join(lines)
