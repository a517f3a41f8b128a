"""Start the grading kernel where the course's secrets are out of its sight.

nbgrader runs a submission in ``<course>/autograded/<student>/<assignment>/``, two levels below
``solutions/`` (the answers), ``gradebook.db`` (hidden tests and everyone's grades), the other
students' submissions and the repository's history. Any student cell could read them
(``open('../../../solutions/a01/a01.ipynb')``) or write to the gradebook. During grading the
kernel is started by this launcher instead: it enters a private mount namespace
(``unshare --mount``, as a user namespace when not root) and lays an empty tmpfs over each
sensitive path of the course root and of the repository this package comes from, then mounts
the student's own folder back and starts ipykernel there. The grader's own process, outside
the namespace, still sees everything.

``DLCOURSE_SANDBOX`` picks the policy: ``required`` (the kernel refuses to start without the
sandbox; the default of ``dlcourse grade`` and the grader tests), ``auto`` (fall back to a plain
kernel with a warning on stderr) or ``off``. The kernel's environment gets
``DLCOURSE_SANDBOXED=1`` when the sandbox is on, so a test can prove it.

Limits: only the course tree and this package's repository are hidden; files elsewhere on the
machine stay readable, and the network is not cut. Grade on a machine that holds nothing else
secret, or in a container.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

SENSITIVE = ("solutions", "source", "gradebook.db", "submitted", "autograded", "feedback", "downloaded",
             "release_archive", "reports", "grader_tests", ".git", ".nbgrader.log")
KERNEL_DIR_ENV = "DLCOURSE_KERNELS"


def course_root_of(cwd: Path) -> Path | None:
    """The nearest folder above ``cwd`` that holds an nbgrader course (its config file)."""
    for folder in [cwd, *cwd.parents]:
        if (folder / "nbgrader_config.py").exists():
            return folder
    return None


def hidden_paths(cwd: Path) -> list[Path]:
    roots = {r for r in (course_root_of(cwd), _repo_root()) if r is not None}
    return sorted({root / name for root in roots for name in SENSITIVE if (root / name).exists()})


def _repo_root() -> Path | None:
    root = Path(__file__).resolve().parents[3]
    return root if (root / "solutions").is_dir() else None


def mount_script(cwd: Path, hide: list[Path]) -> str:
    """Shell commands run inside the new mount namespace before the kernel starts."""
    q = shlex.quote
    lines = ["set -e", "hold=$(mktemp -d)", f"mount --bind {q(str(cwd))} \"$hold\""]
    for path in hide:
        if path.is_dir():
            lines.append(f"mount -t tmpfs -o size=1m,mode=0755 tmpfs {q(str(path))}")
        else:
            lines.append(f"mount --bind /dev/null {q(str(path))}")
    # the student's folder lives under autograded/, which is now empty: mount it back
    lines += [f"mkdir -p {q(str(cwd))}", f"mount --bind \"$hold\" {q(str(cwd))}", f"cd {q(str(cwd))}",
              "export DLCOURSE_SANDBOXED=1", 'exec "$@"']
    return "\n".join(lines)


def unshare_command(script: str, kernel: list[str]) -> list[str]:
    user_ns = ["--map-root-user"] if os.geteuid() != 0 else []
    return ["unshare", "--mount", "--propagation", "private", *user_ns, "--", "sh", "-c", script, "sandbox", *kernel]


def sandbox_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = unshare_command("mount -t tmpfs tmpfs \"$(mktemp -d)\" && exec \"$@\"", ["true"])
    return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0


def main(argv: list[str] | None = None) -> None:
    """``python -m dlcourse.grader.sandbox <ipykernel arguments>``: the grading kernelspec's argv."""
    args = list(sys.argv[1:] if argv is None else argv)
    kernel = [sys.executable, "-m", "ipykernel_launcher", *args]
    policy = os.environ.get("DLCOURSE_SANDBOX", "required")
    if policy == "off":
        os.execv(kernel[0], kernel)
    if not sandbox_works():
        message = ("dlcourse sandbox: cannot create a mount namespace (unshare missing, or user namespaces "
                   "disabled); the kernel could read the course's solutions and gradebook.")
        if policy == "required":
            sys.exit(message + " Refusing to start (DLCOURSE_SANDBOX=required); see docs/instructor_guide.md.")
        print(message + " Running unsandboxed (DLCOURSE_SANDBOX=auto).", file=sys.stderr)
        os.execv(kernel[0], kernel)
    cwd = Path.cwd()
    command = unshare_command(mount_script(cwd, hidden_paths(cwd)), kernel)
    os.execvp(command[0], command)


def install_kernelspec(folder: Path) -> Path:
    """Write a ``python3`` kernelspec that starts kernels through this launcher; put ``folder``
    first on JUPYTER_PATH and nbgrader's kernels (kernel name python3) go through it."""
    spec_dir = folder / "kernels" / "python3"
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "dlcourse.grader.sandbox", "-f", "{connection_file}"],
        "display_name": "Python 3 (dlcourse grading sandbox)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    path = spec_dir / "kernel.json"
    text = json.dumps(spec, indent=1)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return folder


if __name__ == "__main__":
    main()
