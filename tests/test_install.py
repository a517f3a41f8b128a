"""The Colab setup cell's install keeps Colab's own TensorFlow, Keras and NumPy.

The setup cell of every notebook runs ``pip install "dlcourse[text] @ git+URL"`` in an
environment where TensorFlow, Keras and NumPy are already installed. This test rebuilds that
situation and runs the same install:

- "preinstalled": a folder of links to everything installed in this interpreter's
  site-packages (TensorFlow, Keras, NumPy and the rest of requirements.txt) except the
  grading stack's nbgrader and dlcourse itself;
- a fresh virtual environment on the base interpreter that sees that folder as a site
  directory (a ``.pth`` file), so pip counts those packages as installed. Pip installs into the
  new environment only: if it upgraded or downgraded a package, the new copy would shadow the
  preinstalled one (and the check below would see it), the links' targets are never touched;
- ``pip install "dlcourse[text] @ file://<copy of the package source>"``, the setup cell's
  requirement with a local copy of the working tree instead of the repository URL (pip may use
  the package index, as on Colab; with everything satisfied it only fetches the build backend).

Then TensorFlow, Keras, NumPy and every package they depend on have the versions they had, the
helper modules import from the installed copy, and nbgrader is not installed.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import time
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
KEPT = ("tensorflow", "keras", "numpy")  # what Colab preinstalls and the install must keep
NOT_PREINSTALLED = ("dlcourse", "nbgrader")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names) -> dict[str, str]:
    """Canonical name -> version of ``names`` and every distribution they require (no extras)."""
    todo, seen = [_canonical(n) for n in names], {}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[name] = dist.version
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_canonical(req.name))
    return seen


def _preinstalled(folder: Path) -> Path:
    """Links to every entry of this interpreter's site-packages except those that belong only
    to the distributions in NOT_PREINSTALLED."""
    site = Path(sysconfig.get_paths()["purelib"])
    owned: dict[str, set[str]] = {}
    for dist in metadata.distributions(path=[str(site)]):
        for file in dist.files or []:
            if file.parts and file.parts[0] != "..":
                owned.setdefault(file.parts[0], set()).add(_canonical(dist.metadata["Name"]))
    folder.mkdir()
    for entry in site.iterdir():
        owners = owned.get(entry.name, set())
        if owners and owners <= set(NOT_PREINSTALLED):
            continue
        if entry.name == "__pycache__":
            continue
        (folder / entry.name).symlink_to(entry)
    return folder


def _package_source(folder: Path) -> Path:
    """What `git+URL` would check out of the package: pyproject, README, src/dlcourse."""
    folder.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, folder / name)
    shutil.copytree(ROOT / "src" / "dlcourse", folder / "src" / "dlcourse",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return folder


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _setup_cell_requirement() -> str:
    """The requirement the committed setup cell installs (checked against its actual text)."""
    nb = json.loads((ROOT / "solutions" / "a01" / "a01.ipynb").read_text())
    setup = next(c for c in nb["cells"] if "colab-setup" in c["metadata"].get("tags", []))
    match = re.search(r'"(dlcourse\[[\w,]+\]) @ git\+[^"]+"', "".join(setup["source"]))
    assert match, "the setup cell no longer installs dlcourse[...] @ git+URL: update this test"
    return match.group(1)


def test_colab_style_install_keeps_tensorflow_keras_numpy(tmp_path):
    started = time.monotonic()
    before = _closure(KEPT)
    assert set(KEPT) <= set(before), f"this interpreter lacks {set(KEPT) - set(before)}"

    preinstalled = _preinstalled(tmp_path / "preinstalled")
    venv = tmp_path / "colab"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    Path(purelib, "_colab_preinstalled.pth").write_text(f"import site; site.addsitedir({str(preinstalled)!r})\n")

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    requirement = f"{_setup_cell_requirement()} @ {_package_source(tmp_path / 'repo').as_uri()}"
    pip = [python, "-m", "pip", "install", "--progress-bar", "off"]

    # First ask pip what it would do; only then install (the report names every change).
    report_path = tmp_path / "report.json"
    _run([*pip, "--dry-run", "--report", report_path, requirement], env=env, cwd=tmp_path, timeout=600)
    planned = {_canonical(item["metadata"]["name"]): item["metadata"]["version"]
               for item in json.loads(report_path.read_text())["install"]}
    touched = {name: (before[name], planned[name]) for name in planned if name in before}
    assert not touched, f"pip would replace preinstalled packages (before, after): {touched}"
    assert "nbgrader" not in planned and "dlcourse" in planned

    _run([*pip, requirement], env=env, cwd=tmp_path, timeout=600)
    probe = (
        "import importlib.metadata as m, importlib.util, json, re\n"
        "import dlcourse, dlcourse.data, dlcourse.checks, dlcourse.text\n"
        "import numpy, keras, tensorflow\n"
        "names = json.loads(input())\n"
        "print(json.dumps({'versions': {n: m.version(n) for n in names},\n"
        "  'imported': {'numpy': numpy.__version__, 'keras': keras.__version__, 'tensorflow': tensorflow.__version__},\n"
        "  'dlcourse': dlcourse.__file__, 'nbgrader': importlib.util.find_spec('nbgrader') is not None,\n"
        "  'text': dlcourse.text.process_tweet('Loving the #course :) http://x.y @bob')}))\n"
    )
    out = _run([python, "-c", probe], env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=tmp_path,
               input=json.dumps(sorted(before)), timeout=300).stdout
    after = json.loads(out.strip().splitlines()[-1])

    changed = {n: (v, after["versions"][n]) for n, v in before.items() if after["versions"][n] != v}
    assert not changed, f"the install changed preinstalled packages (before, after): {changed}"
    assert after["imported"] == {n: before[n] for n in KEPT}, after["imported"]
    assert Path(after["dlcourse"]).is_relative_to(Path(purelib)), f"dlcourse imported from {after['dlcourse']}"
    assert after["text"], "dlcourse.text works after the install"
    assert not after["nbgrader"], "the Colab install must not bring the grading stack"
    _run([python, "-m", "pip", "check"], env=env, cwd=tmp_path)
    print(f"Colab-style install checked in {time.monotonic() - started:.0f} s; kept {', '.join(f'{n} {before[n]}' for n in KEPT)}")
