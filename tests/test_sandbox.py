"""The grading kernel's whitelist sandbox (dlcourse.grader.sandbox).

The slow tests start real kernels through the grading kernelspec (bubblewrap, policy
``required``) in a scratch course and look at the machine from inside the kernel."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from dlcourse.grader import sandbox

REPO = Path(__file__).resolve().parents[1]
BWRAP = sandbox.bwrap_problem()
needs_bwrap = pytest.mark.skipif(BWRAP is not None, reason=f"bubblewrap unusable here: {BWRAP}")


@pytest.fixture
def fresh_probes():
    """Forget the cached probes before and after a test that fakes them."""
    probes = (sandbox.bwrap_problem, sandbox.unshare_works)
    for probe in probes:
        probe.cache_clear()
    yield
    for probe in probes:
        probe.cache_clear()


# ------------------------------------------------------------------ fast: argv and policy
def _pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv[:-2]) if a == option]


@needs_bwrap
def test_wrap_builds_a_whitelist_command(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    work = tmp_path / "course" / "autograded" / "s1" / "a01"
    work.mkdir(parents=True)
    monkeypatch.delenv(sandbox.READ_ENV, raising=False)
    argv = sandbox.wrap([sys.executable, "-c", "pass"], cwd=work, extra_read=[data])

    assert Path(argv[0]).name == "bwrap"
    options = argv[:argv.index("--")]
    for flag in ("--unshare-all", "--die-with-parent"):
        assert flag in options
    assert "--new-session" not in argv and "--share-net" not in argv
    assert ("--cap-drop", "ALL") in zip(options, options[1:])
    assert ("/proc", "/dev") == (options[options.index("--proc") + 1], options[options.index("--dev") + 1])
    # /tmp (size-limited), then the read-only whitelist, then the private copy of cwd
    tmp_at, work_at = options.index("/tmp"), len(options) - 1 - options[::-1].index(str(work))
    assert options[tmp_at - 1] == "--tmpfs" and options[tmp_at - 3] == "--size"
    assert options[work_at - 1] == "--tmpfs" and tmp_at < options.index(sys.prefix) < work_at
    ro = dict(_pairs(options, "--ro-bind"))
    for path in (sys.prefix, sys.base_prefix, str(REPO / "src"), str(data.resolve()), "/etc"):
        assert ro.get(str(Path(path).resolve())) == str(Path(path).resolve()), path
    assert str(REPO) not in ro and str(Path.home()) not in ro and "/" not in ro and "/work" not in ro
    assert ro[str(work)] == sandbox.INSIDE_ORIG
    assert options[work_at - 3:work_at - 1] == ["--size", str(sandbox.WORK_TMPFS_BYTES)]
    assert ("DLCOURSE_SANDBOXED", "bwrap") in _pairs(options, "--setenv")
    assert ("HOME", sandbox.HOME_INSIDE) in _pairs(options, "--setenv")
    assert argv[-3:] == [sys.executable, "-c", "pass"]
    assert argv[argv.index("--") + 1:argv.index("--") + 3] == ["/bin/sh", "-c"]

    plain = sandbox.wrap(["true"], cwd=work, copy_cwd=False)
    assert dict(_pairs(plain, "--ro-bind"))[str(work)] == str(work)
    assert sandbox.INSIDE_ORIG not in plain and plain[-2:] == ["--", "true"]


@needs_bwrap
def test_wrap_refuses_broad_folders_and_keeps_tmp_private(tmp_path):
    for folder in (REPO, Path.home(), Path("/")):
        with pytest.raises(RuntimeError, match="refusing"):
            sandbox.wrap(["true"], cwd=folder)
    (tmp_path / "nbgrader_config.py").write_text("")
    with pytest.raises(RuntimeError, match="refusing"):
        sandbox.wrap(["true"], cwd=tmp_path, copy_cwd=False)
    # the temp folder itself is never bound: the command gets an empty private one
    marker = Path("/tmp") / f"dlcourse-test-{os.getpid()}"
    marker.write_text("other run")
    try:
        code = "import json, os, sys; print(json.dumps([os.getcwd(), sorted(os.listdir('.')), sys.stdin.read()]))"
        argv = sandbox.wrap([sys.executable, "-c", code], cwd=Path("/tmp"), copy_cwd=False)
        assert ("/tmp", "/tmp") not in _pairs(argv, "--ro-bind")
        proc = subprocess.run(argv, input="hello", capture_output=True, text=True, timeout=60)
    finally:
        marker.unlink()
    assert proc.returncode == 0, proc.stderr
    # only home and the empty folders leading to read-only mounts under /tmp (a clone there)
    room = ["home", *{p.relative_to("/tmp").parts[0] for p in sandbox.read_paths(Path("/tmp")) if p.is_relative_to("/tmp")}]
    cwd, listing, given = json.loads(proc.stdout)
    assert (cwd, given) == ("/tmp", "hello") and "home" in listing and set(listing) <= set(room), listing
    assert marker.name not in listing


def test_wrap_refuses_without_bwrap_and_isolation_says_why(monkeypatch, fresh_probes):
    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    with pytest.raises(RuntimeError, match="bwrap is not installed"):
        sandbox.wrap(["true"], cwd=Path.cwd())
    assert sandbox.kind("required") is None
    assert sandbox.isolation("required").startswith("REFUSED")
    assert sandbox.isolation("off").startswith("NONE")
    monkeypatch.setattr(sandbox, "unshare_works", lambda: True)
    assert sandbox.isolation("auto").startswith("unshare blacklist fallback")
    monkeypatch.setattr(sandbox, "unshare_works", lambda: False)
    assert sandbox.isolation("auto").startswith("NONE")
    with pytest.raises(ValueError):
        sandbox.isolation("sometimes")


def test_required_policy_refuses_to_start_a_kernel(monkeypatch, fresh_probes, capsys):
    monkeypatch.setattr(sandbox, "_bwrap", lambda: None)
    monkeypatch.setenv(sandbox.POLICY_ENV, "required")
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(SystemExit) as exit_:
        sandbox.main(["-f", "/nonexistent/kernel.json"])
    assert "Refusing to start" in str(exit_.value.code) and "bwrap is not installed" in str(exit_.value.code)
    assert signal.getsignal(signal.SIGINT) == before


@needs_bwrap
def test_isolation_reports_bubblewrap_and_is_cached():
    assert sandbox.isolation() == sandbox.BWRAP_DESCRIPTION
    assert sandbox.isolation("auto") == sandbox.BWRAP_DESCRIPTION
    assert sandbox.isolation("off").startswith("NONE")
    hits = sandbox.bwrap_problem.cache_info().hits
    sandbox.isolation()
    assert sandbox.bwrap_problem.cache_info().hits > hits


# ------------------------------------------------------------------ slow: real kernels
@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("sbx") / "course"
    work = root / "autograded" / "s1" / "a01"
    (work / ".grader").mkdir(parents=True)
    (work / ".grader" / "inputs.json").write_text('{"seed": 7}')
    nbformat.write(nbformat.v4.new_notebook(), work / "a01.ipynb")
    (root / "autograded" / "s2" / "a01").mkdir(parents=True)
    (root / "autograded" / "s2" / "a01" / "a01.ipynb").write_text("{}")
    (root / "solutions" / "a01").mkdir(parents=True)
    (root / "solutions" / "a01" / "a01.ipynb").write_text("{}")
    (root / "gradebook.db").write_bytes(b"SQLite format 3\0" + b"x" * 1000)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    kernels = sandbox.install_kernelspec(root.parent / "kernels")
    return {"root": root, "work": work, "kernels": kernels}


def run_cells(course, cells: list[str], timeout: int = 60) -> nbformat.NotebookNode:
    """Execute ``cells`` in a kernel started like nbgrader starts it (kernel python3, cwd the
    submission folder) through the grading kernelspec, DLCOURSE_SANDBOX=required."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(course["kernels"]))
        mp.setenv(sandbox.POLICY_ENV, "required")
        client = NotebookClient(nb, kernel_name="python3", timeout=timeout, interrupt_on_timeout=True,
                                allow_errors=True, resources={"metadata": {"path": str(course["work"])}})
        client.execute()
    return nb


def text_of(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


def errors_of(cell) -> list[str]:
    return [o["ename"] for o in cell.outputs if o.get("output_type") == "error"]


PROBE = r"""
import json, os, socket
def gone(p):
    return not os.path.exists(p) or (os.path.isdir(p) and not os.listdir(p))
r = {"sandboxed": os.environ.get("DLCOURSE_SANDBOXED"), "cwd": os.getcwd(), "home": os.environ["HOME"],
     "own": sorted(os.listdir(".")), "inputs": open(".grader/inputs.json").read(),
     "notebook": json.load(open("a01.ipynb"))["nbformat"],
     "root": sorted(os.listdir("/root")) if os.path.isdir("/root") else [],
     "tmp": sorted(os.listdir("/tmp")),
     "gone": {p: gone(p) for p in PATHS}}
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    r["tcp"] = "connected"
except OSError as err:
    r["tcp"] = type(err).__name__
import numpy, dlcourse
r["dlcourse"] = dlcourse.__file__
open("written_by_kernel.txt", "w").write("x" * 1000)
open("a01.ipynb", "w").write("not json")
os.symlink("/etc/hostname", "link_by_kernel")
os.makedirs(".grader/out", exist_ok=True)
print(json.dumps(r))
"""


@pytest.fixture(scope="module")
def probed(course):
    c = course
    paths = [str(REPO / "solutions"), str(REPO / ".git"), str(REPO / "grader_tests"), "/work/main/.git",
             str(c["root"] / "gradebook.db"), str(c["root"] / "solutions"), str(c["root"] / "autograded" / "s2"),
             str(c["root"] / "nbgrader_config.py")]
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    try:
        code = PROBE.replace("PATHS", repr(paths)).replace("PORT", str(server.getsockname()[1]))
        start = time.monotonic()
        nb = run_cells(course, [code])
        seconds = time.monotonic() - start
        try:
            server.accept()
            accepted = True
        except BlockingIOError:
            accepted = False
    finally:
        server.close()
    assert not errors_of(nb.cells[0]), nb.cells[0].outputs
    return {**json.loads(text_of(nb.cells[0]).strip().splitlines()[-1]), "accepted": accepted, "seconds": seconds}


@needs_bwrap
@pytest.mark.slow
def test_kernel_runs_in_bwrap_in_its_own_folder(probed, course):
    assert probed["sandboxed"] == "bwrap"
    assert probed["cwd"] == str(course["work"].resolve())
    assert probed["home"].startswith("/tmp/")
    assert probed["own"] == [".grader", "a01.ipynb"]
    assert probed["inputs"] == '{"seed": 7}' and probed["notebook"] == 4
    assert probed["dlcourse"] == str(REPO / "src" / "dlcourse" / "__init__.py")
    work = course["work"].resolve()
    room = {Path(sandbox.HOME_INSIDE).name}
    # bwrap makes the (empty) folders leading to each mount point: the private copy, and the
    # read-only Python environment when the clone lives under /tmp (as CI's may)
    for path in [work, *sandbox.read_paths(work)]:
        if path.is_relative_to("/tmp"):
            room.add(path.relative_to("/tmp").parts[0])
    assert set(probed["tmp"]) <= room, f"/tmp must be private, shows {probed['tmp']}"


@needs_bwrap
@pytest.mark.slow
def test_kernel_sees_no_course_secrets_home_or_repository(probed, course):
    assert all(probed["gone"].values()), {p: g for p, g in probed["gone"].items() if not g}
    home = Path.home().resolve()
    allowed = {p.relative_to(home).parts[0] for p in sandbox.read_paths(course["work"]) if p.is_relative_to(home)}
    if str(home) == "/root":
        assert set(probed["root"]) <= allowed, f"/root shows {probed['root']}, only {allowed} are whitelisted"


@needs_bwrap
@pytest.mark.slow
def test_kernel_has_no_network(probed):
    assert probed["tcp"] != "connected" and not probed["accepted"]


@needs_bwrap
@pytest.mark.slow
def test_kernel_writes_vanish_with_the_sandbox(probed, course):
    work = course["work"]
    assert sorted(os.listdir(work)) == [".grader", "a01.ipynb"]
    assert not (work / ".grader" / "out").exists()
    assert nbformat.read(work / "a01.ipynb", as_version=4).nbformat == 4


@needs_bwrap
@pytest.mark.slow
def test_cell_timeout_interrupts_and_the_kernel_survives(course):
    start = time.monotonic()
    nb = run_cells(course, ["x = 41", "while True:\n    pass", "print('alive', x + 1)"], timeout=5)
    assert errors_of(nb.cells[1]) == ["KeyboardInterrupt"], nb.cells[1].outputs
    assert text_of(nb.cells[2]).strip() == "alive 42", nb.cells[2].outputs
    assert time.monotonic() - start < 30


@needs_bwrap
@pytest.mark.slow
def test_tensorflow_imports_in_the_sandbox(course):
    cell = "import os, tensorflow as tf\nprint(os.environ['DLCOURSE_SANDBOXED'], int(tf.constant(6) * 7))"
    nb = run_cells(course, [cell], timeout=120)
    assert not errors_of(nb.cells[0]), nb.cells[0].outputs
    assert text_of(nb.cells[0]).strip().splitlines()[-1] == "bwrap 42"
